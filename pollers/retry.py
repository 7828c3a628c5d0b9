"""Retries within one poll (tenacity) and the back-off between polls of a failing feed."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from .errors import PollError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # per poll, the first try included
    initial_wait: float = 1.0
    max_wait: float = 30.0
    # A longer Retry-After ends the poll instead of holding a worker; the feed's next poll is
    # then scheduled no earlier than the server asked.
    max_retry_after: float = 120.0
    # No new attempt once the poll has spent this long: a server that trickles every answer until
    # the fetch deadline would otherwise hold its worker for attempts x deadline.
    max_elapsed: float = 120.0


@dataclass(frozen=True)
class BackoffPolicy:
    """Delay before the next poll of a feed after ``n`` consecutive failed polls:
    interval * 2**n, capped, with jitter so failing feeds do not retry in lockstep."""

    cap: float = 6 * 3600.0
    jitter: float = 0.1  # ± fraction

    def delay(self, interval: float, failures: int, retry_after: float | None = None,
              rng: random.Random | None = None) -> float:
        r = rng or random
        growth = interval * (2.0 ** min(max(failures, 0), 30))
        base = min(growth, max(self.cap, interval))
        jittered = base * (1.0 + r.uniform(-self.jitter, self.jitter))
        return max(jittered, retry_after or 0.0)


def next_interval(interval: float, jitter: float = 0.1, rng: random.Random | None = None) -> float:
    """Seconds until the next regular poll; jitter spreads feeds that share an interval."""
    r = rng or random
    return interval * (1.0 + r.uniform(-jitter, jitter))


class _WaitRetryAfter(tenacity.wait.wait_base):
    """Exponential backoff with jitter, but never less than the server's Retry-After."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._base = tenacity.wait_exponential_jitter(initial=policy.initial_wait, max=policy.max_wait,
                                                      jitter=policy.initial_wait)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        wait = self._base(retry_state)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, PollError) and exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        return wait


def _retry_after_too_long(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], bool]:
    def stop(retry_state: tenacity.RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return isinstance(exc, PollError) and (exc.retry_after or 0.0) > policy.max_retry_after
    return stop


def call_with_retries(attempt: Callable[[], T], policy: RetryPolicy,
                      stopping: threading.Event | None = None) -> T:
    """Run ``attempt`` until it succeeds, raises a permanent PollError, or the policy gives up
    (the last error is re-raised). Sleeping is interruptible by ``stopping``."""
    stopping = stopping or threading.Event()
    stop = tenacity.stop_any(tenacity.stop_after_attempt(policy.attempts),
                             tenacity.stop_after_delay(policy.max_elapsed),
                             _retry_after_too_long(policy),
                             lambda _state: stopping.is_set())
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda e: isinstance(e, PollError) and e.transient),
        stop=stop,
        wait=_WaitRetryAfter(policy),
        sleep=stopping.wait,
        reraise=True,
    )
    return retrying(attempt)
