"""Which poll runs next: fair shares of the workers per host, and no worker spent waiting.

A poll holds its host's slot from start to end (so at most ``per_host`` requests go to one origin at
once), but it is handed to a worker only when its host has a free slot: polls waiting for a busy host
wait in a queue, not in a thread. Among hosts with work, the next free worker goes round-robin, and
no host may hold more than its share, ``max_workers // hosts with work`` (at least one, at most
``per_host``). Sixteen slow feeds on one host then hold at most ``per_host`` workers while every other
host's feeds proceed, and a slow host cannot take more than a fair part of the pool even when
``per_host`` is large.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class HostScheduler(Generic[T]):
    """Runs jobs keyed by host on a fixed pool of threads, fairly (see the module docstring)."""

    def __init__(self, max_workers: int, per_host: int, *, thread_name_prefix: str = "poll") -> None:
        if max_workers < 1 or per_host < 1:
            raise ValueError("max_workers and per_host must be >= 1")
        self.max_workers = max_workers
        self.per_host = per_host
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._lock = threading.Lock()
        self._pending: dict[str, deque[tuple[Callable[[], T], Future[T]]]] = {}
        self._running: dict[str, int] = {}
        self._turns: deque[str] = deque()  # hosts with pending jobs, in round-robin order
        self._busy = 0
        self._closed = False
        self.most_running: dict[str, int] = {}  # per host, the most jobs it ever had running at once

    def submit_many(self, jobs: Sequence[tuple[str, Callable[[], T]]]) -> list[Future[T]]:
        """Queue jobs (host, fn) together, then start what may start: hosts queued in one call
        take turns from the first free worker on."""
        futures: list[Future[T]] = []
        with self._lock:
            if self._closed:
                raise RuntimeError("scheduler is closed")
            for host, fn in jobs:
                fut: Future[T] = Future()
                if host not in self._pending:
                    self._pending[host] = deque()
                    self._turns.append(host)
                self._pending[host].append((fn, fut))
                futures.append(fut)
            self._dispatch()
        return futures

    def submit(self, host: str, fn: Callable[[], T]) -> Future[T]:
        return self.submit_many([(host, fn)])[0]

    def running(self, host: str) -> int:
        with self._lock:
            return self._running.get(host, 0)

    def share(self) -> int:
        """How many workers one host may hold now."""
        with self._lock:
            return self._share()

    def _share(self) -> int:
        hosts = len(set(self._pending) | {h for h, n in self._running.items() if n})
        return max(1, min(self.per_host, self.max_workers // max(1, hosts)))

    def _dispatch(self) -> None:
        """Start jobs while a worker is free and some host with pending jobs is under its share.
        Called with the lock held."""
        while self._busy < self.max_workers and self._turns:
            share = self._share()
            for _ in range(len(self._turns)):
                host = self._turns[0]
                self._turns.rotate(-1)
                if self._running.get(host, 0) < share:
                    break
            else:
                return  # every host with pending jobs is at its share
            queue = self._pending[host]
            fn, fut = queue.popleft()
            if not queue:
                del self._pending[host]
                self._turns.remove(host)
            if not fut.set_running_or_notify_cancel():
                continue
            self._running[host] = self._running.get(host, 0) + 1
            self.most_running[host] = max(self.most_running.get(host, 0), self._running[host])
            self._busy += 1
            self._executor.submit(self._run, host, fn, fut)

    def _run(self, host: str, fn: Callable[[], T], fut: Future[T]) -> None:
        try:
            fut.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            fut.set_exception(exc)
        finally:
            with self._lock:
                self._busy -= 1
                self._running[host] -= 1
                if not self._running[host]:
                    del self._running[host]
                if not self._closed:
                    self._dispatch()

    def close(self, on_dropped: Callable[[Future[T]], None] | None = None) -> None:
        """Start nothing more; hand each job that never started to ``on_dropped`` (default: cancel
        it), then wait for the running ones."""
        with self._lock:
            self._closed = True
            dropped = [fut for queue in self._pending.values() for _, fut in queue]
            self._pending.clear()
            self._turns.clear()
        for fut in dropped:
            if on_dropped is not None:
                on_dropped(fut)
            else:
                fut.cancel()
        self._executor.shutdown(wait=True)
