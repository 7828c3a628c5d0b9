"""Fixtures shared by the integration tests."""

from .bq_emulator import bq_dataset, bqemu_client, bqemu_server  # noqa: F401 - one emulator per session
