"""The local streaming job: recovery, the pipeline on the DirectRunner, the ledger and the query port.

``StreamingJob`` is what ``newswire run`` and a local ``python -m pipeline.main --input pubsub://...``
start. Startup order matters: recover (seek) before the pipeline pulls anything, open the warehouse
before the query server advertises it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from google.cloud import pubsub_v1

from .build import build_pipeline
from .options import NewswireOptions
from .query_server import QueryServer
from .recovery import LedgerKeeper, Reconciliation, durable_in_duckdb, recover
from .runners import STREAMING_RUNNER
from .sinks.duckdb import DuckDBWarehouse
from .specs import OptionError, parse_input, parse_warehouse

_LOG = logging.getLogger(__name__)


@dataclass
class JobStatus:
    pending: int | None  # published, not yet durable (None until the first ledger pass)
    acked: int


class StreamingJob:
    def __init__(self, options: PipelineOptions, *, ledger_interval: float = 0.5) -> None:
        opts = options.view_as(NewswireOptions)
        self.input = parse_input(opts.input or "", check_files=False)
        self.warehouse = parse_warehouse(opts.warehouse or "")
        if not self.input.streaming or self.warehouse.kind != "duckdb":
            raise OptionError("a local streaming job reads pubsub://… and writes a DuckDB file")
        if not self.input.subscription:
            raise OptionError("a local streaming job reads a subscription (pubsub://projects/P/subscriptions/S)")
        self.options = options
        options.view_as(StandardOptions).streaming = True
        options.view_as(StandardOptions).runner = STREAMING_RUNNER
        self.ledger = opts.ledger_subscription
        self.ledger_interval = ledger_interval
        self.subscriber = pubsub_v1.SubscriberClient()
        self.result = None
        self.keeper: LedgerKeeper | None = None
        self.query_server: QueryServer | None = None
        self.recovered: Reconciliation | None = None

    @property
    def _marker(self) -> Path:
        """Exists while a job runs on this warehouse; found at start, it means the last run crashed."""
        return Path(f"{self.warehouse.path}.running")

    def start(self) -> "StreamingJob":
        wh = DuckDBWarehouse.shared(self.warehouse.path)  # takes DuckDB's lock: one job per file
        crashed = self._marker.exists()
        self._marker.write_text(json.dumps({"pid": os.getpid()}))
        if self.ledger:
            durable = durable_in_duckdb(self.warehouse.path)
            self.recovered = recover(self.subscriber, pipeline_subscription=self.input.subscription,
                                     ledger=self.ledger, durable=durable, after_crash=crashed)
        self.query_server = QueryServer(wh.read_query, self.warehouse.path).start()
        self.result = build_pipeline(self.options).run()
        if self.ledger:
            self.keeper = LedgerKeeper(self.subscriber, self.ledger, durable, interval=self.ledger_interval)
            self.keeper.start()
        return self

    def status(self) -> JobStatus:
        latest = self.keeper.latest if self.keeper else None
        return JobStatus(pending=latest.pending if latest else None,
                         acked=self.keeper.acked_total if self.keeper else 0)

    def wait_until_durable(self, timeout: float, stop: threading.Event | None = None, *,
                           idle: bool = False) -> bool:
        """Wait until a ledger pass that began after this call finds nothing pending. Needs the ledger.

        A pass already under way when the call is made may have pulled the ledger before the caller's
        last publish, so its "nothing pending" says nothing about that message: it does not count.
        With ``idle``, ``timeout`` counts from the last pass that found something newly durable: a
        backlog being written never times out, however large; one that stopped moving does.
        """
        if not self.keeper:
            raise OptionError("waiting for durability needs --ledger_subscription")
        deadline = time.monotonic() + timeout
        # The pass in progress (if any) ends at passes + 1; the first to begin after now ends at + 2.
        first_fresh = self.keeper.passes + 2
        passes = self.keeper.passes
        acked = self.keeper.acked_total
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            # Short waits, so a stop asked for meanwhile is noticed.
            passes, latest = self.keeper.wait_for_pass(
                passes, timeout=min(0.5, max(0.0, deadline - time.monotonic())))
            if latest is not None and latest.pending == 0 and passes >= first_fresh:
                return True
            if idle and self.keeper.acked_total != acked:
                acked = self.keeper.acked_total
                deadline = time.monotonic() + timeout
        return False

    def stop(self) -> None:
        if self.keeper:
            self.keeper.stop()
            self.keeper.join(timeout=10)
            self.keeper.reconcile_now()  # acknowledge what became durable at the very end
            self.keeper.release()
        if self.result is not None:
            try:
                self.result.cancel()
            except Exception:  # noqa: BLE001 - shutting down: report, do not mask the caller's exit
                _LOG.warning("pipeline did not cancel cleanly", exc_info=True)
        if self.query_server:
            self.query_server.stop()
        DuckDBWarehouse.close_all()
        self._marker.unlink(missing_ok=True)
        self.subscriber.close()
