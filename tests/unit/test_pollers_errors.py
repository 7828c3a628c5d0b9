"""Failure classification, Retry-After, retries within a poll and back-off between polls."""

import random
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from pollers import (
    BackoffPolicy,
    FailureKind,
    PollError,
    RetryPolicy,
    call_with_retries,
    classify_status,
    parse_retry_after,
)


def test_every_failure_kind_has_a_reason_and_a_unique_slug():
    slugs = [k.slug for k in FailureKind]
    assert len(slugs) == len(set(slugs))
    for kind in FailureKind:
        assert isinstance(kind.transient, bool)
        assert len(kind.reason) > 20


@pytest.mark.parametrize("status, kind", [
    (200, None), (203, None), (304, None),
    (429, FailureKind.RATE_LIMITED), (500, FailureKind.SERVER_ERROR), (503, FailureKind.SERVER_ERROR),
    (404, FailureKind.NOT_FOUND), (410, FailureKind.GONE), (403, FailureKind.CLIENT_ERROR),
    (400, FailureKind.CLIENT_ERROR),
])
def test_status_classification(status, kind):
    assert classify_status(status) is kind


def test_transient_and_permanent_sets_match_the_contract():
    transient = {k for k in FailureKind if k.transient}
    assert {FailureKind.TIMEOUT, FailureKind.CONNECTION, FailureKind.SERVER_ERROR,
            FailureKind.RATE_LIMITED} <= transient
    assert not {FailureKind.NOT_FOUND, FailureKind.GONE, FailureKind.CLIENT_ERROR, FailureKind.NOT_A_FEED,
                FailureKind.TOO_LARGE, FailureKind.ENTITY_DECLARATION} & transient


def test_retry_after_seconds_and_dates():
    now = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after("Fri, 01 Mar 2024 11:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("-5", now) == 0.0
    for bad in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(bad, now) is None


FAST = RetryPolicy(attempts=4, initial_wait=0.001, max_wait=0.002, max_retry_after=5.0)


def _script(*outcomes):
    calls = []
    queue = list(outcomes)

    def attempt():
        calls.append(1)
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    return attempt, calls


def test_transient_errors_are_retried_until_success():
    attempt, calls = _script(PollError(FailureKind.SERVER_ERROR, "500"), PollError(FailureKind.TIMEOUT, "t"), "ok")
    assert call_with_retries(attempt, FAST) == "ok"
    assert len(calls) == 3


def test_permanent_errors_are_not_retried():
    attempt, calls = _script(PollError(FailureKind.NOT_FOUND, "404"), "never")
    with pytest.raises(PollError) as err:
        call_with_retries(attempt, FAST)
    assert err.value.kind is FailureKind.NOT_FOUND and len(calls) == 1


def test_attempts_are_bounded_and_the_last_error_is_raised():
    attempt, calls = _script(*[PollError(FailureKind.CONNECTION, f"refused {i}") for i in range(10)])
    with pytest.raises(PollError, match="refused 3"):
        call_with_retries(attempt, FAST)
    assert len(calls) == FAST.attempts


def test_a_retry_after_longer_than_the_policy_ends_the_poll_at_once():
    attempt, calls = _script(PollError(FailureKind.RATE_LIMITED, "429", retry_after=3600), "never")
    with pytest.raises(PollError) as err:
        call_with_retries(attempt, FAST)
    assert len(calls) == 1 and err.value.retry_after == 3600


def test_stopping_ends_retries():
    stopping = threading.Event()
    stopping.set()
    attempt, calls = _script(PollError(FailureKind.TIMEOUT, "t"), "ok")
    with pytest.raises(PollError):
        call_with_retries(attempt, FAST, stopping)
    assert len(calls) == 1


def test_backoff_grows_is_capped_and_respects_retry_after():
    policy = BackoffPolicy(cap=1000.0, jitter=0.1)
    rng = random.Random(7)
    delays = [policy.delay(60.0, n, rng=rng) for n in range(8)]
    for n, d in enumerate(delays):
        expected = min(60.0 * 2 ** n, 1000.0)
        assert expected * 0.9 <= d <= expected * 1.1
    assert delays[3] > delays[1] > delays[0]
    assert policy.delay(60.0, 0, retry_after=500.0, rng=rng) == 500.0
    # A cap below the interval never makes a failing feed poll more often than a healthy one.
    assert BackoffPolicy(cap=10.0, jitter=0.0).delay(300.0, 5) == 300.0
