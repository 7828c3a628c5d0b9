"""``StreamingJob.wait_until_durable``: a fresh ledger pass must find nothing pending; with ``idle``,
the timeout runs from the last pass that found something newly durable, so a backlog being written
is waited for however long it takes, and one that stopped moving is not."""

from __future__ import annotations

import threading
import time

from pipeline.recovery import Reconciliation
from pipeline.streaming import StreamingJob


class _Keeper:
    """Ledger passes every ``every`` seconds; each acknowledges ``per_pass`` of ``backlog``, and
    none once ``stall_after`` passes have run."""

    def __init__(self, backlog: int, per_pass: int, every: float = 0.01, stall_after: int | None = None) -> None:
        self.pending, self.per_pass, self.every, self.stall_after = backlog, per_pass, every, stall_after
        self.passes = 0
        self.acked_total = 0

    def wait_for_pass(self, after: int, timeout: float):
        time.sleep(min(self.every, timeout))
        self.passes += 1
        if self.stall_after is None or self.passes <= self.stall_after:
            acked = min(self.per_pass, self.pending)
            self.pending -= acked
            self.acked_total += acked
        return self.passes, Reconciliation(acked=0, pending=self.pending, oldest_pending=None)


def _job(keeper: _Keeper) -> StreamingJob:
    job = StreamingJob.__new__(StreamingJob)  # only the keeper matters here
    job.keeper = keeper
    return job


def test_a_backlog_being_written_is_waited_for_past_the_timeout_with_idle():
    started = time.monotonic()
    assert _job(_Keeper(backlog=60, per_pass=1)).wait_until_durable(0.2, idle=True)
    assert time.monotonic() - started > 0.4  # 60 passes of 10 ms: well past the 0.2 s


def test_without_idle_the_timeout_is_the_whole_wait():
    assert not _job(_Keeper(backlog=60, per_pass=1)).wait_until_durable(0.2)


def test_a_backlog_that_stopped_moving_times_out_even_with_idle():
    keeper = _Keeper(backlog=60, per_pass=1, stall_after=5)
    started = time.monotonic()
    assert not _job(keeper).wait_until_durable(0.2, idle=True)
    assert keeper.pending == 55 and time.monotonic() - started < 2


def test_a_stop_ends_the_wait():
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    assert not _job(_Keeper(backlog=10**6, per_pass=1)).wait_until_durable(30, stop=stop, idle=True)
