"""Crash recovery for the streaming pipeline on the DirectRunner: a durability ledger plus Seek.

Beam's DirectRunner acknowledges Pub/Sub messages as soon as it pulls them, before any processing,
so an acknowledgement on the pipeline's subscription means nothing about the warehouse. newswire
therefore gives the topic a second subscription, the *ledger*, that Beam never reads:

* a message is acknowledged on the ledger only once its ``raw_items`` row is durable in the
  warehouse (every message gets exactly one raw_items row, whether it became an article or a dead
  letter, and that row is committed in the same kind of transaction as the others);
* the pipeline's subscription retains acknowledged messages (``retain_acked_messages``), so on
  start the pipeline seeks it back to the publish time of the oldest message the ledger still holds
  unacknowledged. Everything published since is delivered again; the idempotent sink drops what it
  already has. Messages never pulled before the crash were never acknowledged and come anyway.

On Dataflow none of this runs: Dataflow acknowledges only after its own durable commit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from google.cloud import pubsub_v1

from transforms.identity import replay_key

_LOG = logging.getLogger(__name__)

# Pull size for a reconciliation pass; large enough that a pass is a few RPCs.
_PULL_BATCH = 1000


@dataclass(frozen=True)
class Reconciliation:
    acked: int  # durable, acknowledged on the ledger now
    pending: int  # published but not yet durable
    oldest_pending: datetime | None  # publish time of the oldest pending message


# Replay keys (transforms.identity.replay_key) -> those whose raw_items row is durable. Keys, not
# message ids: a message id says nothing about the warehouse once an emulator restarts its ids.
DurableFilter = Callable[[list[str]], set[str]]


def reconcile(subscriber: pubsub_v1.SubscriberClient, ledger: str, durable: DurableFilter) -> Reconciliation:
    """Acknowledge on the ledger every message whose row is durable; report the rest.

    Pending messages are released (deadline 0) at the end of the pass so the next pass sees them
    again at once; within a pass a message seen twice ends the pass.
    """
    seen: set[str] = set()
    pending: dict[str, tuple[str, datetime]] = {}  # message_id -> (ack_id, publish_time)
    acked = 0
    while True:
        resp = subscriber.pull(
            request={"subscription": ledger, "max_messages": _PULL_BATCH, "return_immediately": True},
            timeout=30)
        fresh = [rm for rm in resp.received_messages if rm.message.message_id not in seen]
        if not fresh:
            # Messages redelivered within this pass are already accounted for; release their leases.
            repeat_ids = [rm.ack_id for rm in resp.received_messages]
            if repeat_ids:
                subscriber.modify_ack_deadline(
                    request={"subscription": ledger, "ack_ids": repeat_ids, "ack_deadline_seconds": 0})
            break
        seen.update(rm.message.message_id for rm in fresh)
        keys = {rm.message.message_id: replay_key(rm.message.attributes, rm.message.data) for rm in fresh}
        done = durable(list(set(keys.values())))
        ack_ids = [rm.ack_id for rm in fresh if keys[rm.message.message_id] in done]
        if ack_ids:
            subscriber.acknowledge(request={"subscription": ledger, "ack_ids": ack_ids})
            acked += len(ack_ids)
        for rm in fresh:
            if keys[rm.message.message_id] not in done:
                pending[rm.message.message_id] = (rm.ack_id, _publish_time(rm.message))
    if pending:
        subscriber.modify_ack_deadline(request={
            "subscription": ledger, "ack_ids": [a for a, _ in pending.values()], "ack_deadline_seconds": 0})
    oldest = min((t for _, t in pending.values()), default=None)
    return Reconciliation(acked=acked, pending=len(pending), oldest_pending=oldest)


def _publish_time(message) -> datetime:
    # proto-plus exposes publish_time as a DatetimeWithNanoseconds (an aware datetime).
    return message.publish_time


def recover(subscriber: pubsub_v1.SubscriberClient, *, pipeline_subscription: str, ledger: str,
            durable: DurableFilter, after_crash: bool = False) -> Reconciliation:
    """Before the pipeline starts: seek its subscription back to the oldest non-durable message.

    A reconciliation pass leases the ledger messages it has not yet found durable until the pass
    ends. After a crash, the dead process may still hold such leases, and a message under lease is
    invisible to this pass; so ``after_crash`` first waits out the ledger's ack deadline.
    """
    if after_crash:
        deadline = subscriber.get_subscription(request={"subscription": ledger}).ack_deadline_seconds
        _LOG.info("recovery: previous run did not stop cleanly; waiting %d s for its leases to lapse",
                  deadline + 1)
        time.sleep(deadline + 1)
    state = reconcile(subscriber, ledger, durable)
    if state.oldest_pending is not None:
        _LOG.info("recovery: %d message(s) not yet in the warehouse; seeking %s to %s",
                  state.pending, pipeline_subscription, state.oldest_pending.isoformat())
        subscriber.seek(request={"subscription": pipeline_subscription, "time": state.oldest_pending})
    return state


class LedgerKeeper(threading.Thread):
    """Reconciles the ledger every ``interval`` seconds while the pipeline runs.

    Keeps the ledger short (so recovery and idleness checks are cheap) and publishes the latest
    Reconciliation for progress displays and ``--until-idle``.
    """

    def __init__(self, subscriber, ledger: str, durable: DurableFilter, interval: float = 1.0) -> None:
        super().__init__(name="newswire-ledger", daemon=True)
        self.subscriber, self.ledger, self.durable, self.interval = subscriber, ledger, durable, interval
        self.latest: Reconciliation | None = None
        self.passes = 0
        self.acked_total = 0  # messages confirmed durable since start
        self._stop_event = threading.Event()
        self._changed = threading.Condition()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.reconcile_now()
            self._stop_event.wait(self.interval)

    def reconcile_now(self) -> Reconciliation | None:
        try:
            result = reconcile(self.subscriber, self.ledger, self.durable)
        except Exception:  # noqa: BLE001 - a failed pass is retried next interval; nothing is acked
            _LOG.warning("ledger reconciliation failed; will retry", exc_info=True)
            return None
        with self._changed:
            self.latest = result
            self.passes += 1
            self.acked_total += result.acked
            self._changed.notify_all()
        return result

    def wait_for_pass(self, after: int, timeout: float) -> tuple[int, Reconciliation | None]:
        """Wait until pass number ``after`` + 1 has ended; (passes ended, the latest result)."""
        with self._changed:
            self._changed.wait_for(lambda: self.passes > after, timeout=timeout)
            return self.passes, self.latest

    def stop(self) -> None:
        self._stop_event.set()


def durable_in_duckdb(path: str) -> DurableFilter:
    """A DurableFilter backed by the raw_items table of the process's DuckDB warehouse."""
    from .sinks.duckdb import DuckDBWarehouse  # noqa: PLC0415

    def durable(ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        if not ids:
            return set()
        _, rows = DuckDBWarehouse.shared(path).query_ids(
            "SELECT replay_key FROM raw_items WHERE replay_key IN (SELECT id FROM ids)", ids)
        return {r[0] for r in rows}

    return durable
