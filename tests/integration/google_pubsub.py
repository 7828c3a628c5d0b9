"""Google's own Pub/Sub emulator (the JAR gcloud ships), started and stopped by the tests.

The JAR is started directly (``java -jar ... --host --port``), never through
``gcloud beta emulators pubsub start``: killing gcloud leaves its Java child running. The JVM runs
in its own process group, which is what ``stop()`` kills.

What the JAR is (0.8.20): an in-memory fake. Its flags are ``--host``, ``--port``, ``--projects``,
``--pull_deadline`` and the IAM ones; it ignores any other flag, ``--data-dir`` included (gcloud
only uses its own ``--data-dir`` to write ``env.yaml``), so a restarted emulator has no topics, no
subscriptions and no messages, and numbers message ids from 1 again. Besides gRPC, its port answers
HTTP: ``GET /`` says ``Ok`` (used here as the readiness probe), ``POST /reset`` drops all state.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

JAR_ENV = "NEWSWIRE_GOOGLE_PUBSUB_EMULATOR_JAR"
DEFAULT_JAR = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-0.8.20-all.jar"
STARTUP_TIMEOUT_S = 60.0


def jar_path() -> Path:
    return Path(os.environ.get(JAR_ENV) or DEFAULT_JAR)


def unavailable_reason() -> str | None:
    """Why Google's emulator cannot run here, or None if it can."""
    if shutil.which("java") is None:
        return "Google's Pub/Sub emulator needs java, which is not on PATH"
    jar = jar_path()
    if not jar.is_file():
        return f"Google's Pub/Sub emulator JAR not found at {jar} (set {JAR_ENV} to its path)"
    return None


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class GoogleEmulator:
    """A running JAR. ``host_port`` is what PUBSUB_EMULATOR_HOST should be set to."""

    host: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the JVM's whole process group: SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:  # the leader may be gone while others of its group live on
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def __enter__(self) -> "GoogleEmulator":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _answers(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_google_emulator(log_dir: Path, host: str = "127.0.0.1", port: int | None = None,
                          timeout: float = STARTUP_TIMEOUT_S) -> GoogleEmulator:
    """Start the JAR on a free port (or ``port``) and return once that port answers."""
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    log_dir.mkdir(parents=True, exist_ok=True)
    attempts = 1 if port else 3  # a free port can be taken between probing and binding
    for attempt in range(attempts):
        chosen = port or _free_port(host)
        log_path = log_dir / f"google-pubsub-{chosen}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                ["java", "-jar", str(jar_path()), f"--host={host}", f"--port={chosen}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)  # its own process group, killed whole by stop()
        em = GoogleEmulator(host, chosen, proc, log_path)
        give_up = time.monotonic() + timeout
        while em.alive() and time.monotonic() < give_up:
            if _answers(host, chosen):
                return em
            time.sleep(0.05)
        em.stop()
        if time.monotonic() >= give_up:
            raise RuntimeError(f"Google's Pub/Sub emulator did not answer on {host}:{chosen} within "
                               f"{timeout:.0f} s:\n{em.log_tail()}")
        if attempt == attempts - 1:
            raise RuntimeError(f"Google's Pub/Sub emulator exited at start:\n{em.log_tail()}")
    raise AssertionError("unreachable")
