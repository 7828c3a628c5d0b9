"""The BigQuery emulator for tests: bqemulator's public ``EmulatorServer`` on a background thread.

bqemulator's own pytest plugin is disabled in pytest.ini, so these fixtures start the server
themselves. It opens DuckDB with its ``spatial`` extension (required) and ``avro`` (optional), which
it would otherwise download; the ``duckdb-extension-*`` PyPI packages install them from local files
first. Import the fixtures below into a test module to use them.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator

import pytest

_REQUIRED_EXTENSIONS = ("spatial",)
_OPTIONAL_EXTENSIONS = ("avro",)  # without it the emulator only lacks Avro load/extract
_STARTUP_TIMEOUT_S = 120  # a bound on a hung start on a loaded machine, not a wait: start() signals
PROJECT = "test-project"


def install_local_duckdb_extensions() -> None:
    import importlib.util

    import duckdb_extensions

    for name in _REQUIRED_EXTENSIONS:
        duckdb_extensions.import_extension(name)
    for name in _OPTIONAL_EXTENSIONS:
        if importlib.util.find_spec(f"duckdb_extension_{name}") is not None:
            duckdb_extensions.import_extension(name)


class BigQueryEmulator:
    """An in-process bqemulator REST server on a free port, with its own event loop thread."""

    def __init__(self) -> None:
        from bqemulator.config import PersistenceMode, Settings
        from bqemulator.server import EmulatorServer

        install_local_duckdb_extensions()
        settings = Settings(persistence_mode=PersistenceMode.EPHEMERAL, rest_host="127.0.0.1", rest_port=0,
                            grpc_host="127.0.0.1", grpc_port=0, log_level="warning", metrics_enabled=False,
                            default_project_id=PROJECT)
        self.server = EmulatorServer(settings)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="bigquery-emulator", daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # noqa: BLE001 - surfaced by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> "BigQueryEmulator":
        self._thread.start()
        if not self._ready.wait(_STARTUP_TIMEOUT_S):
            raise RuntimeError("the BigQuery emulator did not start")
        if self._error is not None:
            raise RuntimeError(f"the BigQuery emulator failed to start: {self._error}") from self._error
        return self

    @property
    def host(self) -> str:
        """HOST:PORT, the BIGQUERY_EMULATOR_HOST form."""
        return f"127.0.0.1:{self.server.rest_port}"

    @property
    def rest_port(self) -> int:
        return self.server.rest_port

    def stop(self) -> None:
        if self._error is None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)


@pytest.fixture(scope="session")
def bqemu_server() -> Iterator[BigQueryEmulator]:
    """The emulator for the session; BIGQUERY_EMULATOR_HOST points the sink at it meanwhile."""
    emulator = BigQueryEmulator().start()
    previous = os.environ.get("BIGQUERY_EMULATOR_HOST")
    os.environ["BIGQUERY_EMULATOR_HOST"] = emulator.host
    try:
        yield emulator
    finally:
        if previous is None:
            os.environ.pop("BIGQUERY_EMULATOR_HOST", None)
        else:
            os.environ["BIGQUERY_EMULATOR_HOST"] = previous
        emulator.stop()


@pytest.fixture
def bqemu_client(bqemu_server):
    """google-cloud-bigquery on the emulator, anonymous, as a reader of the warehouse would use it."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                           client_options={"api_endpoint": f"http://{bqemu_server.host}"})


@pytest.fixture
def bq_dataset(bqemu_client):
    """A fresh dataset per test (project, dataset), deleted afterwards."""
    name = f"newswire_{uuid.uuid4().hex[:10]}"
    bqemu_client.create_dataset(name)
    yield bqemu_client.project, name
    bqemu_client.delete_dataset(name, delete_contents=True, not_found_ok=True)
