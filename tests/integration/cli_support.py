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


EMPTY_FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Empty</title>
<link>https://empty.example.org/</link><description>Fictional feed whose items carry no text</description>
<item><link>https://empty.example.org/1</link><guid>https://empty.example.org/1</guid></item>
<item><link>https://empty.example.org/2</link><guid>https://empty.example.org/2</guid><title> </title></item>
</channel></rss>
"""


def sample_site(root: Path, *, broken: bool = True) -> Path:
    """The bundled sample feeds, and (``broken``) a feed whose two items have no text (dead letters)
    and one whose URL answers 404. Returns the feeds file."""
    import shutil  # noqa: PLC0415

    site = root / "site"
    site.mkdir(parents=True, exist_ok=True)
    for f in EXAMPLE_FEEDS.iterdir():
        if f.suffix in (".xml", ".atom"):
            shutil.copy(f, site / f.name)
    feeds = [ln for ln in (EXAMPLE_FEEDS / "feeds.yaml").read_text().splitlines() if not ln.startswith("#")]
    if broken:
        (site / "empty.xml").write_text(EMPTY_FEED)
        feeds += ["  - id: empty-feed", "    url: '{serve}/empty.xml'", "  - id: gone", "    url: '{serve}/gone.xml'"]
    (root / "feeds.yaml").write_text("\n".join(feeds) + "\n")
    return root / "feeds.yaml"


class LiveRun:
    """``newswire run`` (no --until-idle) in its own process group, stopped with SIGINT on exit."""

    def __init__(self, *args: str, env: dict | None = None) -> None:
        import signal  # noqa: PLC0415

        self._signal = signal
        base = {k: v for k, v in os.environ.items() if k not in ("PUBSUB_EMULATOR_HOST", "PUBSUB_PROJECT_ID")}
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", *args], cwd=ROOT,
                                     env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.output = ""
        self.returncode: int | None = None

    def __enter__(self) -> "LiveRun":
        return self

    def stop(self, timeout: float = 60) -> int:
        if self.returncode is None:
            try:
                os.killpg(self.proc.pid, self._signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                out, _ = self.proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, self._signal.SIGKILL)
                out, _ = self.proc.communicate()
            self.output = out.decode(errors="replace")
            self.returncode = self.proc.returncode
        return self.returncode

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for(predicate, timeout: float = 180, interval: float = 0.5):
    """Poll ``predicate()`` until it returns something true; that value, or AssertionError."""
    import time  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s (last: {last!r})")
