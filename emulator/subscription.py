"""One subscription's message log: retention, leases, redelivery and seek.

Not thread-safe on its own: the broker calls it with its lock held. Times are passed in
(``now`` in monotonic seconds for leases, ``now_us`` in wall-clock microseconds for publish
times) so the rules can be exercised without waiting.
"""

import heapq
import itertools
from collections import OrderedDict
from typing import Callable, Iterable, Protocol

from emulator.model import Delivery, Message, SubscriptionConfig

# Called when a message has used up its delivery attempts; returns True when the message
# was forwarded to the dead-letter topic (and may leave this subscription).
DeadLetterSink = Callable[[SubscriptionConfig, Message, int], bool]


class LogChanges(Protocol):
    """Where a log reports the changes a restart must keep (the durable store).

    Only acknowledgement state and removals are reported: leases and delivery counts live in
    memory alone, so after a restart every unacked message is ready again, as in Pub/Sub
    when leases lapse. Additions are the broker's to report, as it publishes.
    """

    def set_acked(self, subscription: str, seq: int, acked: bool) -> None: ...

    def drop(self, subscription: str, seq: int) -> None: ...


class _Entry:
    __slots__ = ("message", "acked", "ack_id", "deadline", "attempts")

    def __init__(self, message: Message) -> None:
        self.message = message
        self.acked = False
        self.ack_id: str | None = None  # set while leased to a subscriber
        self.deadline = 0.0
        self.attempts = 0

    @property
    def ready(self) -> bool:
        return not self.acked and self.ack_id is None


class SubscriptionLog:
    def __init__(
        self,
        config: SubscriptionConfig,
        dead_letter: DeadLetterSink | None = None,
        changes: LogChanges | None = None,
    ) -> None:
        self.config = config
        self._dead_letter = dead_letter
        self._changes = changes
        # Publish order, so retention pruning only ever looks at the front.
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        # Heaps with lazy deletion: stale items are skipped when they surface.
        # Ready messages go out oldest first, redeliveries included, which keeps the
        # publish order wherever nothing was nacked.
        self._ready: list[int] = []
        self._deadlines: list[tuple[float, str]] = []
        self._leases: dict[str, _Entry] = {}
        self._ack_counter = itertools.count(1)
        # Bumped on every change a waiting puller may care about.
        self.version = 0

    # -- publishing and retention ------------------------------------------------------

    def add(self, message: Message) -> None:
        self._entries[message.seq] = _Entry(message)
        heapq.heappush(self._ready, message.seq)
        self.version += 1

    def restore(self, message: Message, acked: bool) -> None:
        """Put back a message loaded from the store, in publish order, without reporting it."""
        entry = _Entry(message)
        entry.acked = acked
        self._entries[message.seq] = entry
        if not acked:
            heapq.heappush(self._ready, message.seq)
        self.version += 1

    def prune(self, now_us: int) -> int:
        """Drop messages older than the retention duration, acked or not; return how many."""
        cutoff = now_us - int(self.config.message_retention_seconds * 1_000_000)
        dropped = 0
        while self._entries:
            seq, entry = next(iter(self._entries.items()))
            if entry.message.publish_time_us >= cutoff:
                break
            del self._entries[seq]
            if entry.ack_id is not None:
                self._leases.pop(entry.ack_id, None)
            if self._changes is not None:
                self._changes.drop(self.config.name, seq)
            dropped += 1
        if dropped:
            self.version += 1
        return dropped

    def __len__(self) -> int:
        """Messages still held: unacked ones, plus acked ones kept by retain_acked_messages."""
        return len(self._entries)

    # -- delivery --------------------------------------------------------------------------

    def has_ready(self) -> bool:
        while self._ready:
            entry = self._entries.get(self._ready[0])
            if entry is not None and entry.ready:
                return True
            heapq.heappop(self._ready)
        return False

    def pull(
        self, max_messages: int, deadline_s: float, now: float, max_bytes: int = 0
    ) -> list[Delivery]:
        """Lease up to max_messages ready messages (and at most max_bytes, if set).

        At least one message goes out even when it alone exceeds max_bytes, so a large
        message cannot stall a subscriber forever.
        """
        self.expire(now)
        out: list[Delivery] = []
        size = 0
        while len(out) < max_messages and self.has_ready():
            entry = self._entries[self._ready[0]]
            if max_bytes and out and size + entry.message.size > max_bytes:
                break
            heapq.heappop(self._ready)
            size += entry.message.size
            entry.attempts += 1
            ack_id = f"{entry.message.seq}-{next(self._ack_counter)}"
            entry.ack_id = ack_id
            entry.deadline = now + deadline_s
            self._leases[ack_id] = entry
            heapq.heappush(self._deadlines, (entry.deadline, ack_id))
            out.append(Delivery(ack_id, entry.message, entry.attempts))
        if out:
            self.version += 1
        return out

    def next_deadline(self) -> float | None:
        """The earliest time a lease may expire (possibly stale, never late)."""
        return self._deadlines[0][0] if self._deadlines else None

    def expire(self, now: float) -> int:
        """Return leases whose deadline has passed to the ready set; return how many."""
        expired = 0
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, ack_id = heapq.heappop(self._deadlines)
            entry = self._leases.get(ack_id)
            if entry is not None and entry.deadline == deadline:
                self._release(entry)
                expired += 1
        if expired:
            self.version += 1
        return expired

    def leased(self, ack_ids: Iterable[str]) -> set[str]:
        """The subset of ack_ids whose lease is still held."""
        return {a for a in ack_ids if a in self._leases}

    # -- acknowledgement -------------------------------------------------------------------

    def acknowledge(self, ack_ids: Iterable[str]) -> int:
        """Ack the leases named; unknown or expired ack ids are ignored, as Pub/Sub does."""
        acked = 0
        for ack_id in ack_ids:
            entry = self._leases.pop(ack_id, None)
            if entry is None:
                continue
            entry.ack_id = None
            self._mark_acked(entry)
            acked += 1
        if acked:
            self.version += 1
        return acked

    def modify_ack_deadline(self, ack_ids: Iterable[str], seconds: int, now: float) -> int:
        """Extend leases to now+seconds; seconds == 0 is a nack (immediate redelivery)."""
        changed = 0
        for ack_id in ack_ids:
            entry = self._leases.get(ack_id)
            if entry is None:
                continue
            if seconds == 0:
                self._release(entry)
            else:
                entry.deadline = now + seconds
                heapq.heappush(self._deadlines, (entry.deadline, ack_id))
            changed += 1
        if changed:
            self.version += 1
        return changed

    def seek_to_time(self, time_us: int) -> None:
        """Messages published at or after time_us become unacked; earlier ones acked.

        Only what is still retained can come back: acked messages survive only with
        retain_acked_messages, and nothing outlives message_retention_duration.
        """
        for entry in list(self._entries.values()):
            if entry.ack_id is not None:
                del self._leases[entry.ack_id]
                entry.ack_id = None
            if entry.message.publish_time_us >= time_us:
                if entry.acked and self._changes is not None:
                    self._changes.set_acked(self.config.name, entry.message.seq, False)
                entry.acked = False
                heapq.heappush(self._ready, entry.message.seq)
            else:
                self._mark_acked(entry)
        self.version += 1

    # -- internals -------------------------------------------------------------------------

    def _mark_acked(self, entry: _Entry) -> None:
        if self.config.retain_acked_messages:
            if not entry.acked and self._changes is not None:
                self._changes.set_acked(self.config.name, entry.message.seq, True)
            entry.acked = True
        else:
            self._remove(entry)

    def _remove(self, entry: _Entry) -> None:
        if self._entries.pop(entry.message.seq, None) is not None and self._changes is not None:
            self._changes.drop(self.config.name, entry.message.seq)

    def _release(self, entry: _Entry) -> None:
        """End a lease without an ack: redeliver, or dead-letter after too many attempts."""
        if entry.ack_id is not None:
            self._leases.pop(entry.ack_id, None)
            entry.ack_id = None
        policy = self.config.dead_letter_policy
        if (
            policy is not None
            and self._dead_letter is not None
            and entry.attempts >= policy.max_delivery_attempts
            and self._dead_letter(self.config, entry.message, entry.attempts)
        ):
            self._remove(entry)
            return
        heapq.heappush(self._ready, entry.message.seq)
