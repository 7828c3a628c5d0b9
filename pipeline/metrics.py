"""Prometheus metrics of ``newswire run --metrics-port N`` (the official ``prometheus_client``).

What the pollers do is counted as it happens (their ``on_result`` callback); what reached the
warehouse is sampled from it every second on the writer's own DuckDB instance (a read on its own
cursor, like the query port's), so the counters say what is durable, not what is in flight.

| metric | type | labels | meaning |
| --- | --- | --- | --- |
| ``newswire_polls_total`` | counter | feed, outcome | polls: published, not_modified, failed |
| ``newswire_http_responses_total`` | counter | feed, status | HTTP status of each poll ("none": no answer) |
| ``newswire_items_published_total`` | counter | feed | items the pollers published (Pub/Sub confirmed) |
| ``newswire_rows_written_total`` | counter | table | rows this run added to each warehouse table |
| ``newswire_dead_letters_total`` | counter | step | dead letters this run wrote, by failing step |
| ``newswire_queue_backlog`` | gauge | | items published and not yet in the warehouse |
| ``newswire_publish_to_row_seconds`` | histogram | | from an item's ``fetched_at`` (stamped as the poller publishes it) to its article row's ``processed_at`` |
| ``newswire_feed_healthy`` | gauge | feed | 1 while the feed's last poll worked, else 0 |
| ``newswire_feed_consecutive_failures`` | gauge | feed | failed polls in a row |
| ``newswire_feed_last_success_timestamp_seconds`` | gauge | feed | unix time of the last poll that worked |
| ``newswire_feed_guid_problem`` | gauge | feed | 1 while the feed's guids do not identify its entries |
"""

from __future__ import annotations

import logging
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from schemas import WAREHOUSE_TABLES

_LOG = logging.getLogger(__name__)
# Feed items normally land within seconds; a backlog replay or a stalled job shows in the tail.
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)


class RunMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.polls = Counter("newswire_polls", "Feed polls by outcome (published, not_modified, failed).",
                             ["feed", "outcome"], registry=r)
        self.http = Counter("newswire_http_responses", "HTTP status of each feed poll ('none': no answer: "
                            "connection error, timeout).", ["feed", "status"], registry=r)
        self.published = Counter("newswire_items_published", "Items the pollers published, confirmed by Pub/Sub.",
                                 ["feed"], registry=r)
        self.rows = Counter("newswire_rows_written", "Rows this run added to a warehouse table.", ["table"],
                            registry=r)
        self.dead = Counter("newswire_dead_letters", "Dead letters this run wrote, by the step that failed.",
                            ["step"], registry=r)
        self.backlog = Gauge("newswire_queue_backlog", "Items published and not yet in the warehouse.",
                             registry=r)
        self.latency = Histogram("newswire_publish_to_row_seconds",
                                 "Seconds from an item's fetched_at (stamped as the poller publishes it) to "
                                 "its article row's processed_at.", buckets=LATENCY_BUCKETS, registry=r)
        self.healthy = Gauge("newswire_feed_healthy", "1 while the feed's last poll worked, else 0.", ["feed"],
                             registry=r)
        self.failures = Gauge("newswire_feed_consecutive_failures", "Failed polls of the feed in a row.", ["feed"],
                              registry=r)
        self.last_success = Gauge("newswire_feed_last_success_timestamp_seconds",
                                  "Unix time of the feed's last poll that worked.", ["feed"], registry=r)
        self.guid_problem = Gauge("newswire_feed_guid_problem",
                                  "1 while the feed's guids do not identify its entries, else 0.", ["feed"],
                                  registry=r)
        for table in WAREHOUSE_TABLES:
            self.rows.labels(table.name)  # present at 0 from the start, so rate() has a first point
        self._server = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- pollers ----------------------------------------------------------------------------------

    def on_result(self, result) -> None:
        """pollers.FeedResult of one poll."""
        self.polls.labels(result.feed_id, result.outcome).inc()
        self.http.labels(result.feed_id, str(result.status) if result.status else "none").inc()
        if result.published:
            self.published.labels(result.feed_id).inc(result.published)

    def set_health(self, health) -> None:
        for h in health:
            self.healthy.labels(h.feed_id).set(1 if h.healthy else 0)
            self.failures.labels(h.feed_id).set(h.consecutive_failures)
            if h.last_success:
                self.last_success.labels(h.feed_id).set(h.last_success)
            self.guid_problem.labels(h.feed_id).set(1 if h.guid_problem else 0)

    # -- the warehouse ----------------------------------------------------------------------------

    def start_sampling(self, warehouse, *, backlog=None, health=None, interval: float = 1.0) -> None:
        """Sample ``warehouse`` (a DuckDBWarehouse) every ``interval`` s in a thread; ``backlog()``
        and ``health()`` give the queue's pending count and the feeds' health."""
        sampler = _WarehouseSampler(self, warehouse)

        def loop() -> None:
            while not self._stop.wait(interval):
                self.sample(sampler, backlog, health)

        self._sampler = sampler
        self._backlog_fn, self._health_fn = backlog, health
        self._thread = threading.Thread(target=loop, name="newswire-metrics", daemon=True)
        self._thread.start()

    def sample(self, sampler=None, backlog=None, health=None) -> None:
        sampler = sampler or self._sampler
        backlog = backlog or getattr(self, "_backlog_fn", None)
        health = health or getattr(self, "_health_fn", None)
        with self._lock:
            try:
                sampler.sample()
                if backlog is not None:
                    pending = backlog()
                    if pending is not None:
                        self.backlog.set(pending)
                if health is not None:
                    self.set_health(health())
            except Exception:  # noqa: BLE001 - a metrics read must never stop the job
                _LOG.warning("metrics: sampling failed", exc_info=True)

    def serve(self, port: int, address: str = "127.0.0.1") -> int:
        """Serve /metrics; return the port (the one picked when ``port`` is 0)."""
        self._server, _ = start_http_server(port, addr=address, registry=self.registry)
        return self._server.server_address[1]

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _WarehouseSampler:
    """Turns the warehouse's growth since the run started into counter increments."""

    def __init__(self, metrics: RunMetrics, warehouse) -> None:
        self.metrics = metrics
        self.warehouse = warehouse
        self.started = time.time()
        self.base = self._counts()
        self.dead_seen: dict[str, int] = {}
        # Rows appended since the start have larger rowids than any before (the sink never deletes).
        self.last_rowid = self.warehouse.read_query("SELECT coalesce(max(rowid), -1) FROM articles")[1][0][0]

    def _counts(self) -> dict[str, int]:
        sql = " UNION ALL ".join(f"SELECT '{t.name}', count(*) FROM \"{t.name}\"" for t in WAREHOUSE_TABLES)
        return dict(self.warehouse.read_query(sql)[1])

    def sample(self) -> None:
        m = self.metrics
        now = self._counts()
        for table, n in now.items():
            delta = n - self.base.get(table, 0)
            done = m.rows.labels(table)._value.get()  # noqa: SLF001 - what this counter has counted
            if delta > done:
                m.rows.labels(table).inc(delta - done)
        for step, n in self.warehouse.read_query(
                "SELECT step, count(*) FROM dead_letter WHERE failed_at >= "
                f"to_timestamp({self.started - 1:.3f}) GROUP BY step")[1]:
            if n > self.dead_seen.get(step, 0):
                m.dead.labels(step).inc(n - self.dead_seen.get(step, 0))
                self.dead_seen[step] = n
        rows = self.warehouse.read_query(
            "SELECT rowid, epoch(processed_at) - epoch(fetched_at) FROM articles "
            f"WHERE rowid > {int(self.last_rowid)} ORDER BY rowid")[1]
        for rowid, seconds in rows:
            m.latency.observe(max(0.0, float(seconds)))
            self.last_rowid = max(self.last_rowid, rowid)
