"""Helpers shared by the integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll until predicate() is true; fail after timeout."""
    give_up = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > give_up:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
