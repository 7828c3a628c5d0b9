"""Fixtures shared by the integration tests."""

from .bq_emulator import bq_dataset, bqemu_client, bqemu_server  # noqa: F401 - one emulator per session

import itertools  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from emulator.server import EmulatorHandle, start_emulator  # noqa: E402

from .google_pubsub import GoogleEmulator, start_google_emulator, unavailable_reason  # noqa: E402


@pytest.fixture
def emulator(monkeypatch):
    """newswire's Pub/Sub emulator, with PUBSUB_EMULATOR_HOST pointing every client at it."""
    with start_emulator() as handle:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", handle.host_port)
        yield handle


@pytest.fixture(scope="session")
def google_pubsub_emulator(tmp_path_factory):
    """Google's Pub/Sub emulator (the JAR), one JVM per session; skips where java or the JAR is
    missing. Tests share it, so each uses project ids of its own (``pubsub_backend.project``)."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    em = start_google_emulator(tmp_path_factory.mktemp("google-pubsub"))
    yield em
    em.stop()


_projects = itertools.count(1)


@dataclass
class PubSubBackend:
    """The Pub/Sub emulator one test runs against; PUBSUB_EMULATOR_HOST already points at it.

    ``name`` is "newswire" (our emulator, in this process), "google" (Google's JAR) or "embedded"
    (nothing started: ``newswire run`` starts its own in-process emulator; host_port and project
    are None). ``project`` is a project id no other test uses: the Google JAR is shared by the
    session, so tests must not share topic or subscription names.
    """

    name: str
    host_port: str | None
    project: str | None
    _monkeypatch: pytest.MonkeyPatch = field(repr=False)
    _log_dir: Path | None = field(repr=False, default=None)
    _own: EmulatorHandle | GoogleEmulator | None = field(repr=False, default=None)

    def restart(self) -> None:
        """Replace the emulator with a new process of the same kind, as if it had been restarted:
        no topics, subscriptions or messages, and message ids numbered from 1 again. (For "google"
        the shared JAR keeps running; this test moves to a JAR of its own.)"""
        if self.name == "embedded":
            raise ValueError("the embedded emulator lives inside 'newswire run'; restart that instead")
        self.stop_own()
        if self.name == "newswire":
            self._own = start_emulator()
        else:
            self._own = start_google_emulator(self._log_dir)
        self.host_port = self._own.host_port
        self._monkeypatch.setenv("PUBSUB_EMULATOR_HOST", self.host_port)

    def stop_own(self) -> None:
        if self._own is not None:
            self._own.stop()
            self._own = None


@pytest.fixture(params=["newswire", pytest.param("google", marks=pytest.mark.slow)])
def pubsub_backend(request, monkeypatch, tmp_path):
    """Runs the test once per Pub/Sub emulator: newswire's and Google's.

    Use it in place of ``emulator`` in a test that needs only the Pub/Sub API. To pick backends,
    parametrize indirectly, e.g. ``@pytest.mark.parametrize("pubsub_backend", ["embedded",
    "google"], indirect=True)``.
    """
    name = request.param
    project = f"newswire-test-{next(_projects)}"
    if name == "embedded":
        monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
        yield PubSubBackend(name, None, None, monkeypatch)
        return
    if name == "newswire":
        own = start_emulator()
        backend = PubSubBackend(name, own.host_port, project, monkeypatch, _own=own)
    elif name == "google":
        shared: GoogleEmulator = request.getfixturevalue("google_pubsub_emulator")
        if not shared.alive():
            pytest.fail(f"Google's Pub/Sub emulator has exited:\n{shared.log_tail()}")
        backend = PubSubBackend(name, shared.host_port, project, monkeypatch, _log_dir=tmp_path)
    else:
        raise ValueError(f"unknown Pub/Sub backend {name!r}")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", backend.host_port)
    try:
        yield backend
    finally:
        backend.stop_own()
