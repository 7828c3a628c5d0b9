"""Google's own client-library system tests (googleapis/python-pubsub, tests/system.py), run as
a conformance suite against ``python -m emulator``.

Opt-in: set NEWSWIRE_PUBSUB_SYSTEM_TESTS to a python-pubsub checkout. Its tests import pytest,
mock, flaky, psutil and google-cloud-testutils next to google-cloud-pubsub; when this
interpreter lacks them, point NEWSWIRE_PUBSUB_SYSTEM_PYTHON at one that has them, e.g.

    python -m venv /tmp/venv-sys
    /tmp/venv-sys/bin/pip install google-cloud-pubsub==2.44.0 pytest mock flaky psutil \\
        google-cloud-testutils
    NEWSWIRE_PUBSUB_SYSTEM_TESTS=/tmp/python-pubsub \\
    NEWSWIRE_PUBSUB_SYSTEM_PYTHON=/tmp/venv-sys/bin/python \\
        .venv/bin/python -m pytest tests/integration/test_pubsub_system_suite.py

The selection is the gRPC variants of the tests that need no IAM, the same as
``-k "not iam and not rest and not RBAC"`` (RBAC: the Kokoro-only role tests). The suite runs
from outside the checkout with --import-mode=importlib, so it exercises the client library that
is installed, not the copy in the checkout.
"""

import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT_ENV = "NEWSWIRE_PUBSUB_SYSTEM_TESTS"
PYTHON_ENV = "NEWSWIRE_PUBSUB_SYSTEM_PYTHON"

# Publisher and subscriber fixtures are parametrized by transport; [grpc-grpc] is the gRPC one.
SYSTEM_TESTS = (
    "tests/system.py::test_publish_messages[grpc]",
    "tests/system.py::test_publish_large_messages[grpc]",
    "tests/system.py::test_subscribe_to_messages[grpc-grpc]",
    "tests/system.py::test_subscribe_to_messages_async_callbacks[grpc-grpc]",
    "tests/system.py::test_creating_subscriptions_with_non_default_settings[grpc-grpc]",
    "tests/system.py::test_listing_project_topics[grpc]",
    "tests/system.py::test_listing_project_subscriptions[grpc-grpc]",
    "tests/system.py::test_listing_topic_subscriptions[grpc-grpc]",
    "tests/system.py::test_subscriber_not_leaking_open_sockets[grpc-grpc-grpc]",
    "tests/system.py::test_synchronous_pull_no_deadline_error_if_no_messages[grpc-grpc]",
    "tests/system.py::TestStreamingPull::test_streaming_pull_callback_error_propagation[grpc-grpc]",
    "tests/system.py::TestStreamingPull::test_streaming_pull_ack_deadline[grpc-grpc]",
    "tests/system.py::TestStreamingPull::test_streaming_pull_max_messages[grpc-grpc]",
    "tests/system.py::TestStreamingPull::test_streaming_pull_blocking_shutdown[grpc-grpc]",
)
PROJECT = "newswire-system-tests"


@pytest.fixture
def checkout() -> Path:
    value = os.environ.get(CHECKOUT_ENV)
    if not value:
        pytest.skip(f"{CHECKOUT_ENV} is not set (path to a googleapis/python-pubsub checkout)")
    path = Path(value).resolve()
    if not (path / "tests" / "system.py").is_file():
        pytest.fail(f"{CHECKOUT_ENV}={value} has no tests/system.py")
    return path


@pytest.fixture
def emulator_host():
    """`python -m emulator` in its own process, as a user would start it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("export PUBSUB_EMULATOR_HOST="), line
        yield line.strip().split("=", 1)[1]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _suite_env(host_port: str, tmp_path: Path) -> dict[str, str]:
    # system.py asks google.auth.default() for the project. Placeholder user credentials satisfy
    # it and are never sent anywhere: with PUBSUB_EMULATOR_HOST set the clients open an
    # insecure channel to the emulator.
    adc = tmp_path / "placeholder-adc.json"
    adc.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "emulator",
                "client_secret": "emulator",
                "refresh_token": "emulator",
            }
        )
    )
    drop = {"PYTHONPATH", "PYTEST_ADDOPTS", "GOOGLE_APPLICATION_CREDENTIALS"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        PUBSUB_EMULATOR_HOST=host_port,
        GOOGLE_CLOUD_PROJECT=PROJECT,
        GOOGLE_APPLICATION_CREDENTIALS=str(adc),
    )
    return env


def _junit_key(node_id: str) -> tuple[str, str]:
    """A node id as junit XML names it: (dotted module and classes, test name)."""
    path, *scopes, name = node_id.split("::")
    return ".".join([path.removesuffix(".py").replace("/", "."), *scopes]), name


def _outcomes(junit: Path) -> dict[tuple[str, str], str]:
    outcomes: dict[tuple[str, str], str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        key = (case.get("classname"), case.get("name"))
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        # flaky reruns a failed test up to 5 times and writes one testcase per attempt, the
        # earlier ones without their failure: the last attempt is the outcome.
        outcomes[key] = outcome
    return outcomes


@pytest.mark.timeout(1800)
def test_google_pubsub_system_tests_pass_against_the_emulator(checkout, emulator_host, tmp_path):
    python = os.environ.get(PYTHON_ENV, sys.executable)
    env = _suite_env(emulator_host, tmp_path)
    # From tmp_path, so neither the checkout's in-tree library nor newswire's own `tests`
    # package is importable.
    probe = subprocess.run(
        [python, "-c", "import flaky, mock, psutil, pytest, test_utils.system, google.cloud.pubsub_v1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.fail(
            f"{python} cannot run Google's system tests (needs pytest, mock, flaky, psutil, "
            f"google-cloud-testutils, google-cloud-pubsub); set {PYTHON_ENV} to one that can:\n"
            f"{probe.stderr}"
        )

    junit = tmp_path / "system.xml"
    run = subprocess.run(
        [
            python, "-m", "pytest",
            "-c", str(checkout / "pytest.ini"),
            "--rootdir", str(checkout),
            "--import-mode=importlib",
            "-p", "no:cacheprovider",
            "-q", "-rA",
            f"--junitxml={junit}",
            *[str(checkout / node_id) for node_id in SYSTEM_TESTS],
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    report = (run.stdout + run.stderr)[-8000:]
    assert junit.is_file(), report
    outcomes = _outcomes(junit)
    expected = [_junit_key(node_id) for node_id in SYSTEM_TESTS]
    not_passed = {
        f"{cls}::{name}": outcomes.get((cls, name), "not run")
        for cls, name in expected
        if outcomes.get((cls, name)) != "passed"
    }
    unexpected = sorted(f"{cls}::{name}" for cls, name in set(outcomes) - set(expected))
    assert not not_passed and not unexpected, (
        f"not passed: {not_passed}; ran but not selected: {unexpected}\n{report}"
    )
    assert run.returncode == 0, report
