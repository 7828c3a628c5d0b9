"""The BigQuery emulator for tests: bqemulator's own pytest fixtures, made to work offline.

bqemulator starts DuckDB with its ``spatial`` extension (required) and ``avro`` (optional), which it
would otherwise download; the ``duckdb-extension-*`` PyPI packages install them from local files
first. Import the fixtures below into a test module to use them.
"""

from __future__ import annotations

import uuid

import pytest

_LOCAL_EXTENSIONS = ("spatial", "avro")


def install_local_duckdb_extensions() -> None:
    import duckdb_extensions

    for name in _LOCAL_EXTENSIONS:
        duckdb_extensions.import_extension(name)


@pytest.fixture(scope="session")
def bqemu_settings():
    """Overrides bqemulator's fixture: local extensions first, quiet logs, random free ports."""
    from bqemulator.config import PersistenceMode, Settings

    install_local_duckdb_extensions()
    return Settings(persistence_mode=PersistenceMode.EPHEMERAL, rest_host="127.0.0.1", rest_port=0,
                    grpc_host="127.0.0.1", grpc_port=0, log_level="warning", metrics_enabled=False)


@pytest.fixture
def bq_dataset(bqemu_server, bqemu_client):
    """A fresh dataset per test (project, dataset), deleted afterwards."""
    name = f"newswire_{uuid.uuid4().hex[:10]}"
    bqemu_client.create_dataset(name)
    yield bqemu_client.project, name
    bqemu_client.delete_dataset(name, delete_contents=True, not_found_ok=True)
