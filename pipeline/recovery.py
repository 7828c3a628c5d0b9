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
from datetime import datetime, timezone

from google.cloud import pubsub_v1
from google.pubsub_v1.types import PullResponse

from transforms.identity import replay_key

_LOG = logging.getLogger(__name__)

# Pull size for a reconciliation pass; large enough that a pass is a few RPCs.
_PULL_BATCH = 1000
# The keeper waits at least this many times as long as its last pass took (at most half of
# the time reconciling, however long the backlog).
_PACE = 1.0


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

    One pass that holds nothing afterwards: the pending messages are released (deadline 0) at its
    end, so whoever reads the ledger next sees them at once.
    """
    leases = LedgerLeases(subscriber, ledger, durable, deadline_s=None)
    try:
        return leases.reconcile()
    finally:
        leases.release()


@dataclass
class _Lease:
    ack_id: str
    key: str  # replay key
    published: object  # protobuf Timestamp
    renewed: float  # time.monotonic() when the lease was taken or last extended


# Ack ids per acknowledge or modify_ack_deadline request (Pub/Sub caps a request's size).
_ACK_BATCH = 1000


class LedgerLeases:
    """The ledger messages this process has read and found not yet durable, kept leased.

    A pass pulls what is not leased (new messages, and any whose lease lapsed), checks every held
    message against the warehouse, acknowledges the durable ones and extends the leases of the rest
    before they lapse. So a pass costs the new messages plus one lookup of the held keys, not a
    re-read of the whole backlog: re-reading it every pass made the ledger cost grow with the
    backlog times the run's length. Held leases are released by :meth:`release` (a clean stop);
    after a crash they lapse within the ledger's ack deadline, which :func:`recover` waits out.

    Responses are read as raw protobuf: the client's wrappers cost more per field read than the
    rest of a pass together.
    """

    def __init__(self, subscriber, ledger: str, durable: DurableFilter, *, deadline_s: float | None) -> None:
        self.subscriber, self.ledger, self.durable = subscriber, ledger, durable
        self.deadline_s = deadline_s  # the ledger's ack deadline; None: never extend (one pass only)
        self._held: dict[str, _Lease] = {}  # message id -> lease

    def __len__(self) -> int:
        return len(self._held)

    def reconcile(self) -> Reconciliation:
        self._pull_new()
        acked = self._acknowledge_durable()
        self._renew()
        oldest = min((lease.published for lease in self._held.values()),
                     key=lambda t: (t.seconds, t.nanos), default=None)
        return Reconciliation(acked=acked, pending=len(self._held),
                              oldest_pending=None if oldest is None else _publish_time(oldest))

    def _pull_new(self) -> None:
        # Within a pass a message seen twice ends it: its lease lapsed while the pass ran.
        seen: set[str] = set()
        while True:
            resp = PullResponse.pb(self.subscriber.pull(
                request={"subscription": self.ledger, "max_messages": _PULL_BATCH, "return_immediately": True},
                timeout=30))
            now = time.monotonic()
            again = False
            for rm in resp.received_messages:
                message = rm.message
                again = again or message.message_id in seen
                seen.add(message.message_id)
                lease = self._held.get(message.message_id)
                if lease is not None:  # its lease lapsed and it came again: only the new ack id works
                    lease.ack_id, lease.renewed = rm.ack_id, now
                else:
                    self._held[message.message_id] = _Lease(
                        rm.ack_id, replay_key(message.attributes, message.data), message.publish_time, now)
            if again or not resp.received_messages:
                return

    def _acknowledge_durable(self) -> int:
        if not self._held:
            return 0
        done = self.durable(list({lease.key for lease in self._held.values()}))
        gone = [mid for mid, lease in self._held.items() if lease.key in done]
        ack_ids = [self._held.pop(mid).ack_id for mid in gone]
        for i in range(0, len(ack_ids), _ACK_BATCH):
            self.subscriber.acknowledge(request={"subscription": self.ledger, "ack_ids": ack_ids[i:i + _ACK_BATCH]})
        return len(ack_ids)

    def _renew(self) -> None:
        if self.deadline_s is None or not self._held:
            return
        now = time.monotonic()
        due = [lease for lease in self._held.values() if now - lease.renewed >= self.deadline_s / 2]
        for i in range(0, len(due), _ACK_BATCH):
            chunk = due[i:i + _ACK_BATCH]
            self.subscriber.modify_ack_deadline(request={
                "subscription": self.ledger, "ack_ids": [lease.ack_id for lease in chunk],
                "ack_deadline_seconds": int(self.deadline_s)})
            for lease in chunk:
                lease.renewed = now

    def release(self) -> None:
        """Give the held messages back (deadline 0), so the next reader sees them at once."""
        ack_ids = [lease.ack_id for lease in self._held.values()]
        self._held.clear()
        for i in range(0, len(ack_ids), _ACK_BATCH):
            self.subscriber.modify_ack_deadline(request={
                "subscription": self.ledger, "ack_ids": ack_ids[i:i + _ACK_BATCH], "ack_deadline_seconds": 0})


def _publish_time(timestamp) -> datetime:
    """A protobuf Timestamp as an aware datetime (to the microsecond, rounded down: a Seek there
    still replays the message)."""
    return timestamp.ToDatetime(tzinfo=timezone.utc)


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
    Reconciliation for progress displays and ``--until-idle``. The messages it finds not yet
    durable stay leased to it between passes (:class:`LedgerLeases`) until :meth:`release`.
    """

    def __init__(self, subscriber, ledger: str, durable: DurableFilter, interval: float = 1.0) -> None:
        super().__init__(name="newswire-ledger", daemon=True)
        self.subscriber, self.ledger, self.durable, self.interval = subscriber, ledger, durable, interval
        deadline = subscriber.get_subscription(request={"subscription": ledger}).ack_deadline_seconds
        self.leases = LedgerLeases(subscriber, ledger, durable, deadline_s=deadline)
        self.latest: Reconciliation | None = None
        self.passes = 0
        self.acked_total = 0  # messages confirmed durable since start
        self._stop_event = threading.Event()
        self._changed = threading.Condition()
        self._pass_lock = threading.Lock()  # the thread's passes and reconcile_now() share the leases

    def run(self) -> None:
        while not self._stop_event.is_set():
            started = time.monotonic()
            self.reconcile_now()
            # The keeper shares the process (and its interpreter lock) with the pipeline: waiting a
            # multiple of a pass's length keeps it to a bounded share of the time.
            took = time.monotonic() - started
            self._stop_event.wait(max(self.interval, _PACE * took))

    def reconcile_now(self) -> Reconciliation | None:
        try:
            with self._pass_lock:
                result = self.leases.reconcile()
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

    def release(self) -> None:
        """Release the leases still held (after the last pass): the next start sees them at once."""
        try:
            with self._pass_lock:
                self.leases.release()
        except Exception:  # noqa: BLE001 - they lapse within the ledger's ack deadline anyway
            _LOG.warning("could not release the ledger's leases; they lapse on their own", exc_info=True)


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
