"""The poll scheduler: per-host shares of the workers, round-robin among hosts, no worker waiting."""

from __future__ import annotations

import threading
import time

import pytest

from pollers import HostScheduler


class Jobs:
    """Jobs that block until released, recording which host ran when."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.started: list[str] = []
        self.running: dict[str, int] = {}
        self.threads: set[int] = set()

    def job(self, host: str):
        def run() -> str:
            with self.lock:
                self.started.append(host)
                self.threads.add(threading.get_ident())
            self.release.wait(10)
            return host
        return run


def wait_until(predicate, timeout: float = 5.0) -> None:
    give_up = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < give_up, "timed out"
        time.sleep(0.01)


def test_a_busy_host_holds_its_share_and_waiting_jobs_hold_no_worker():
    jobs = Jobs()
    sched = HostScheduler(max_workers=5, per_host=4)
    try:
        slow = sched.submit_many([("slow", jobs.job("slow")) for _ in range(16)])
        wait_until(lambda: len(jobs.started) == 4)
        time.sleep(0.1)
        assert jobs.started == ["slow"] * 4  # the other twelve wait in the queue, not in threads
        # A job of another host submitted later still finds the fifth worker free.
        quick = sched.submit("quick", lambda: "done")
        assert quick.result(timeout=2) == "done"
        assert sched.running("slow") == 4
    finally:
        jobs.release.set()
        assert [f.result(timeout=10) for f in slow] == ["slow"] * 16
        sched.close()
    assert sched.most_running == {"slow": 4, "quick": 1}


def test_hosts_queued_together_take_turns_and_share_the_workers():
    jobs = Jobs()
    sched = HostScheduler(max_workers=4, per_host=4)
    try:
        # Four hosts with work and four workers: one each, although host "a" came first with eight.
        futures = sched.submit_many([("a", jobs.job("a")) for _ in range(8)]
                                    + [(h, jobs.job(h)) for h in ("b", "c", "d")])
        wait_until(lambda: len(jobs.started) == 4)
        time.sleep(0.1)
        assert sorted(jobs.started) == ["a", "b", "c", "d"]
        assert sched.share() == 1
    finally:
        jobs.release.set()
        for f in futures:
            f.result(timeout=10)
        sched.close()
    assert sched.most_running["a"] <= 4


def test_alone_a_host_gets_at_most_per_host_workers():
    jobs = Jobs()
    sched = HostScheduler(max_workers=16, per_host=3)
    try:
        futures = sched.submit_many([("a", jobs.job("a")) for _ in range(10)])
        wait_until(lambda: len(jobs.started) == 3)
        time.sleep(0.1)
        assert len(jobs.started) == 3 and sched.share() == 3
    finally:
        jobs.release.set()
        for f in futures:
            f.result(timeout=10)
        sched.close()


def test_close_cancels_what_never_started_and_waits_for_the_rest():
    jobs = Jobs()
    sched = HostScheduler(max_workers=1, per_host=1)
    first, second = sched.submit_many([("a", jobs.job("a")), ("a", jobs.job("a"))])
    wait_until(lambda: jobs.started == ["a"])
    threading.Timer(0.2, jobs.release.set).start()
    sched.close()
    assert first.result() == "a" and second.cancelled()
    with pytest.raises(RuntimeError):
        sched.submit("a", lambda: None)


def test_a_failing_job_frees_its_slot():
    sched = HostScheduler(max_workers=1, per_host=1)
    try:
        def boom():
            raise ValueError("bad feed")
        failed, after = sched.submit_many([("a", boom), ("a", lambda: "next")])
        with pytest.raises(ValueError):
            failed.result(timeout=2)
        assert after.result(timeout=2) == "next"
    finally:
        sched.close()
