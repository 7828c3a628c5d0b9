"""Running the ``newswire`` command (and ``python -m pipeline.main``) as a user does: a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_FEEDS = ROOT / "examples" / "feeds"


def cli(*args: str, module: str = "pipeline.cli", env: dict | None = None, timeout: float = 120,
        drop_env: tuple[str, ...] = ("PUBSUB_EMULATOR_HOST", "PUBSUB_PROJECT_ID"),
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m MODULE ARGS``, stdout and stderr apart, as text."""
    base = {k: v for k, v in os.environ.items() if k not in drop_env}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd or ROOT,
                          env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
