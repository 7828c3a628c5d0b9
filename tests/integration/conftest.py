"""Fixtures shared by the integration tests."""

from .bq_emulator import bq_dataset, bqemu_client, bqemu_server  # noqa: F401 - one emulator per session

import pytest  # noqa: E402

from emulator.server import start_emulator  # noqa: E402


@pytest.fixture
def emulator(monkeypatch):
    """newswire's Pub/Sub emulator, with PUBSUB_EMULATOR_HOST pointing every client at it."""
    with start_emulator() as handle:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", handle.host_port)
        yield handle
