"""The Makefile's habits: a bare ``make`` lists the targets, and ``make clean`` keeps the data."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(*args: str) -> str:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True,
                          text=True, check=True).stdout


def test_bare_make_is_help_and_lists_every_target():
    out = _make()
    assert out == _make("help")
    for target in ("install", "test", "run", "run-live", "process", "status", "bench", "clean", "clean-data"):
        assert f"make {target} " in out, target


def test_clean_keeps_var_and_clean_data_removes_it():
    clean = _make("-n", "clean")
    assert ".venv" in clean and " var" not in clean
    assert _make("-n", "clean-data").strip() == "rm -rf var"
