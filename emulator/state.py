"""The emulator's state: topics, subscriptions and their message logs, served from memory.

One lock guards everything; each subscription has a condition on that lock so pullers
sleep until something changes for them. Memory stays bounded by each subscription's
retention: every publish and pull prunes what has aged out.

With a Store, every change a restart must keep is also written through to it, committed
before the lock is released (see ``_changing``); on start the broker loads the store back.
"""

import contextlib
import dataclasses
import sqlite3
import threading
import time
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from emulator import names
from emulator.errors import AlreadyExists, InvalidArgument, NotFound, StorageFailed
from emulator.model import (
    Delivery,
    Message,
    SubscriptionConfig,
    TopicConfig,
    make_message,
)
from emulator.store import Snapshot, Store
from emulator.subscription import SubscriptionLog

# Real Pub/Sub accepts ack deadlines of 10-600 s. The emulator accepts down to 1 s so
# tests of deadline expiry finish quickly; clients never send less than 10 on their own.
MIN_ACK_DEADLINE_S = 1
MAX_ACK_DEADLINE_S = 600
# Real subscriptions keep messages 10 minutes to 31 days; the lower bound is relaxed to
# 1 s for the same reason as above.
MIN_RETENTION_S = 1
MAX_RETENTION_S = 31 * 24 * 3600
# Real Pub/Sub's minimum expiration_policy.ttl. Not relaxed: nothing expires here anyway.
MIN_EXPIRATION_TTL_S = 24 * 3600
MIN_DELIVERY_ATTEMPTS = 5
MAX_DELIVERY_ATTEMPTS = 100
# Attribute limits of real Pub/Sub.
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_KEY_BYTES = 256
MAX_ATTRIBUTE_VALUE_BYTES = 1024

# (data, attributes, ordering_key) of one message in a publish request.
Outgoing = tuple[bytes, Mapping[str, str], str]


def _wall_clock_us() -> int:
    return time.time_ns() // 1000


class _Sub:
    __slots__ = ("log", "cond")

    def __init__(self, log: SubscriptionLog, cond: threading.Condition) -> None:
        self.log = log
        self.cond = cond


class Broker:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_us: Callable[[], int] = _wall_clock_us,
        store: Store | None = None,
    ) -> None:
        """A broker in memory only, or (with ``store``) loaded from and written through to it.

        The caller keeps ownership of the store and closes it after the broker's last use.
        """
        self._clock = clock
        self._wall_clock_us = wall_clock_us
        self._lock = threading.RLock()
        self._topics: dict[str, TopicConfig] = {}
        self._topic_subs: dict[str, set[str]] = {}
        self._subs: dict[str, _Sub] = {}
        # Message ids (str(seq)) are never reused; with a store, not even across restarts.
        self._next_seq = 1
        self._last_publish_us = 0
        self._store = store
        # Set when a write to the store failed; from then on memory may be ahead of the
        # disk, so every change is refused rather than hand out what could not be kept.
        self._failure: str | None = None
        self.closed = False
        if store is not None:
            self._load(store.load())

    # -- topics ----------------------------------------------------------------------------

    def create_topic(self, config: TopicConfig) -> TopicConfig:
        names.check_topic(config.name)
        with self._changing(durable=True):
            if config.name in self._topics:
                raise AlreadyExists(f"Topic already exists: {config.name}")
            if self._store is not None:  # first: a config it cannot encode changes nothing
                self._store.put_topic(config)
            self._topics[config.name] = config
            self._topic_subs[config.name] = set()
            return config

    def get_topic(self, name: str) -> TopicConfig:
        names.check_topic(name)
        with self._lock:
            return self._topic(name)

    def list_topics(self, project: str) -> list[TopicConfig]:
        names.check_project(project)
        with self._lock:
            return [t for n, t in sorted(self._topics.items()) if names.project_of(n) == project]

    def delete_topic(self, name: str) -> None:
        """Delete a topic; its subscriptions live on, detached, as in real Pub/Sub."""
        names.check_topic(name)
        with self._changing(durable=True):
            self._topic(name)
            del self._topics[name]
            for sub_name in self._topic_subs.pop(name):
                sub = self._subs[sub_name]
                sub.log.config = dataclasses.replace(sub.log.config, topic=names.DELETED_TOPIC)
                if self._store is not None:
                    self._store.put_subscription(sub.log.config)
            if self._store is not None:
                self._store.delete_topic(name)

    def topic_subscriptions(self, topic: str) -> list[str]:
        names.check_topic(topic)
        with self._lock:
            self._topic(topic)
            return sorted(self._topic_subs[topic])

    def publish(self, topic: str, messages: Sequence[Outgoing]) -> list[Message]:
        """Store messages and fan them out to every subscription of the topic."""
        names.check_topic(topic)
        _check_messages(topic, messages)
        # A confirmed publish must survive power loss too: the commit is a durable one.
        with self._changing(durable=True):
            return self._publish(topic, messages)

    # -- subscriptions ---------------------------------------------------------------------

    def create_subscription(self, config: SubscriptionConfig) -> SubscriptionConfig:
        names.check_subscription(config.name)
        names.check_topic(config.topic)
        _check_subscription_config(config)
        with self._changing(durable=True):
            if config.name in self._subs:
                raise AlreadyExists(f"Subscription already exists: {config.name}")
            self._topic(config.topic)
            if self._store is not None:  # first: a config it cannot encode changes nothing
                self._store.put_subscription(config)
            self._add_sub(config)
            return config

    def get_subscription(self, name: str) -> SubscriptionConfig:
        with self._lock:
            return self._sub(name).log.config

    def list_subscriptions(self, project: str) -> list[SubscriptionConfig]:
        names.check_project(project)
        with self._lock:
            return [
                s.log.config
                for n, s in sorted(self._subs.items())
                if names.project_of(n) == project
            ]

    def delete_subscription(self, name: str) -> None:
        with self._changing(durable=True):
            sub = self._sub(name)
            del self._subs[name]
            self._topic_subs.get(sub.log.config.topic, set()).discard(name)
            sub.log.version += 1
            sub.cond.notify_all()
            if self._store is not None:
                self._store.delete_subscription(name)

    def message_count(self, name: str) -> int:
        """Messages the subscription still holds (unacked, plus retained acked ones)."""
        with self._changing():
            sub = self._sub(name)
            sub.log.prune(self._wall_clock_us())
            return len(sub.log)

    # -- pulling ---------------------------------------------------------------------------

    def pull(
        self,
        name: str,
        max_messages: int,
        deadline_s: float | None = None,
        max_bytes: int = 0,
    ) -> list[Delivery]:
        """Lease up to max_messages ready messages without waiting."""
        if max_messages <= 0:
            raise InvalidArgument(f"max_messages must be positive, got {max_messages}")
        with self._changing():
            sub = self._sub(name)
            sub.log.prune(self._wall_clock_us())
            if deadline_s is None:
                deadline_s = sub.log.config.ack_deadline_seconds
            return sub.log.pull(max_messages, deadline_s, self._clock(), max_bytes)

    def version(self, name: str) -> int:
        with self._lock:
            return self._sub(name).log.version

    def wait(self, name: str, since_version: int, timeout: float) -> int:
        """Sleep until the subscription changes after since_version, or timeout; new version.

        Wakes early when a lease deadline passes, so expired messages go out on time.
        """
        with self._lock:
            sub = self._sub(name)
            if sub.log.version == since_version and not self.closed:
                limit = timeout
                next_deadline = sub.log.next_deadline()
                if next_deadline is not None:
                    limit = min(limit, max(0.0, next_deadline - self._clock()))
                sub.cond.wait(limit)
        # Expiring may dead-letter, a change to commit; the wait above released the lock,
        # so it stays outside the transaction.
        with self._changing():
            if name in self._subs:
                sub.log.expire(self._clock())
            return sub.log.version

    def wake(self, name: str) -> None:
        """Wake the waiters of one subscription (e.g. a stream that is closing)."""
        with self._lock:
            sub = self._subs.get(name)
            if sub is not None:
                sub.cond.notify_all()

    def acknowledge(self, name: str, ack_ids: Iterable[str]) -> None:
        with self._changing():
            sub = self._sub(name)
            if sub.log.acknowledge(ack_ids):
                sub.cond.notify_all()

    def modify_ack_deadline(self, name: str, ack_ids: Iterable[str], seconds: int) -> None:
        if not 0 <= seconds <= MAX_ACK_DEADLINE_S:
            raise InvalidArgument(
                f"ack_deadline_seconds must be between 0 and {MAX_ACK_DEADLINE_S}, got {seconds}"
            )
        with self._changing():
            sub = self._sub(name)
            if sub.log.modify_ack_deadline(ack_ids, seconds, self._clock()):
                sub.cond.notify_all()

    def leased(self, name: str, ack_ids: Iterable[str]) -> set[str]:
        with self._changing():
            sub = self._sub(name)
            sub.log.expire(self._clock())
            return sub.log.leased(ack_ids)

    def seek_to_time(self, name: str, time_us: int) -> None:
        # Durable: a seek back that a power cut undid would silently skip the replay.
        with self._changing(durable=True):
            sub = self._sub(name)
            sub.log.prune(self._wall_clock_us())
            sub.log.seek_to_time(time_us)
            sub.cond.notify_all()

    def sweep(self) -> None:
        """Expire overdue leases and drop aged-out messages on every subscription.

        Pulls do both lazily for their own subscription; the periodic sweep covers idle
        ones, so dead-lettering after a lease expiry and the memory bound do not depend on
        someone pulling.
        """
        if self._failure is not None:
            return  # every request already reports the failure; no need to repeat it here
        with self._changing():
            now, now_us = self._clock(), self._wall_clock_us()
            for sub in list(self._subs.values()):
                before = sub.log.version
                sub.log.expire(now)
                sub.log.prune(now_us)
                if sub.log.version != before:
                    sub.cond.notify_all()

    def close(self) -> None:
        """Wake every waiter so blocked pulls and streams can finish."""
        with self._lock:
            self.closed = True
            for sub in self._subs.values():
                sub.cond.notify_all()

    # -- internals -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _changing(self, durable: bool = False) -> Iterator[None]:
        """Hold the lock; what the block changed is committed to the store before release.

        So a request that returns has been written, and nobody sees a change (a message to
        pull, say) that is not on disk yet. ``durable`` commits survive power loss as well
        as the process being killed (see store.py). Never wait on a condition inside: that
        would release the lock with changes still pending.
        """
        with self._lock:
            if self._failure is not None:
                raise StorageFailed(self._failure)
            try:
                yield
            finally:
                store = self._store
                if store is not None and store.pending:
                    try:
                        store.commit(durable)
                    except sqlite3.Error as e:
                        self._failure = (
                            f"The emulator could not write {store.path} ({e}); it refuses "
                            "every change until restarted, and keeps what was last written"
                        )
                        raise StorageFailed(self._failure) from e

    def _load(self, snapshot: Snapshot) -> None:
        self._next_seq = snapshot.next_seq
        self._last_publish_us = snapshot.last_publish_us
        for topic in snapshot.topics:
            self._topics[topic.name] = topic
            self._topic_subs[topic.name] = set()
        for config in snapshot.subscriptions:
            log = self._add_sub(config).log
            # Leases were not kept: every unacked message is ready again.
            for message, acked in snapshot.entries.get(config.name, ()):
                log.restore(message, acked)

    def _add_sub(self, config: SubscriptionConfig) -> _Sub:
        log = SubscriptionLog(config, dead_letter=self._forward_dead_letter, changes=self._store)
        sub = _Sub(log, threading.Condition(self._lock))
        self._subs[config.name] = sub
        if config.topic in self._topic_subs:  # not for a subscription whose topic was deleted
            self._topic_subs[config.topic].add(config.name)
        return sub

    def _publish(self, topic: str, messages: Sequence[Outgoing]) -> list[Message]:
        """Publish checked messages; the caller holds the lock within ``_changing``."""
        self._topic(topic)
        # Strictly increasing per request, so Seek(time) can split two publishes apart.
        now_us = max(self._wall_clock_us(), self._last_publish_us + 1)
        self._last_publish_us = now_us
        first = self._next_seq
        self._next_seq += len(messages)
        stored = [
            make_message(first + i, data, attrs, key, now_us)
            for i, (data, attrs, key) in enumerate(messages)
        ]
        subs = [self._subs[sub_name] for sub_name in self._topic_subs[topic]]
        for sub in subs:
            sub.log.prune(now_us)
        if self._store is not None:
            self._store.publish(stored, [sub.log.config.name for sub in subs], self._next_seq)
        for sub in subs:
            for message in stored:
                sub.log.add(message)
            sub.cond.notify_all()
        return stored

    def _topic(self, name: str) -> TopicConfig:
        topic = self._topics.get(name)
        if topic is None:
            raise NotFound(f"Topic not found: {name}")
        return topic

    def _sub(self, name: str) -> _Sub:
        names.check_subscription(name)
        sub = self._subs.get(name)
        if sub is None:
            raise NotFound(f"Subscription not found: {name}")
        return sub

    def _forward_dead_letter(
        self, config: SubscriptionConfig, message: Message, attempts: int
    ) -> bool:
        policy = config.dead_letter_policy
        if policy is None or policy.topic not in self._topics:
            # Without its dead-letter topic the message stays put rather than vanish.
            return False
        attributes = dict(message.attributes)
        attributes.update(
            {
                "CloudPubSubDeadLetterSourceDeliveryCount": str(attempts),
                "CloudPubSubDeadLetterSourceSubscription": config.name.rsplit("/", 1)[-1],
                "CloudPubSubDeadLetterSourceSubscriptionProject": config.name.split("/")[1],
                "CloudPubSubDeadLetterSourceTopicPublishTime": str(message.publish_time_us),
            }
        )
        # Called from within a change already under way: part of its transaction.
        forwarded = [(message.data, attributes, message.ordering_key)]
        _check_messages(policy.topic, forwarded)
        self._publish(policy.topic, forwarded)
        return True


def _check_messages(topic: str, messages: Sequence[Outgoing]) -> None:
    if not messages:
        raise InvalidArgument(f"Publish to {topic} contains no messages")
    for i, (data, attributes, _key) in enumerate(messages):
        _check_message(i, data, attributes)


def _check_message(index: int, data: bytes, attributes: Mapping[str, str]) -> None:
    if not data and not attributes:
        raise InvalidArgument(
            f"Message {index} has neither data nor attributes; Pub/Sub requires at least one"
        )
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidArgument(
            f"Message {index} has {len(attributes)} attributes; at most {MAX_ATTRIBUTES} allowed"
        )
    for key, value in attributes.items():
        if not key or len(key.encode()) > MAX_ATTRIBUTE_KEY_BYTES:
            raise InvalidArgument(
                f"Message {index}: attribute keys must be 1-{MAX_ATTRIBUTE_KEY_BYTES} bytes, "
                f"got {key!r}"
            )
        if key.startswith("goog"):
            raise InvalidArgument(
                f"Message {index}: attribute key {key!r} uses the reserved prefix 'goog'"
            )
        if len(value.encode()) > MAX_ATTRIBUTE_VALUE_BYTES:
            raise InvalidArgument(
                f"Message {index}: attribute {key!r} is longer than "
                f"{MAX_ATTRIBUTE_VALUE_BYTES} bytes"
            )


def _check_subscription_config(config: SubscriptionConfig) -> None:
    if not MIN_ACK_DEADLINE_S <= config.ack_deadline_seconds <= MAX_ACK_DEADLINE_S:
        raise InvalidArgument(
            f"ack_deadline_seconds must be between {MIN_ACK_DEADLINE_S} and "
            f"{MAX_ACK_DEADLINE_S}, got {config.ack_deadline_seconds}"
        )
    if not MIN_RETENTION_S <= config.message_retention_seconds <= MAX_RETENTION_S:
        raise InvalidArgument(
            f"message_retention_duration must be between {MIN_RETENTION_S} s and "
            f"{MAX_RETENTION_S // 86400} days, got {config.message_retention_seconds} s"
        )
    ttl = config.expiration_ttl_seconds
    if ttl is not None and ttl < MIN_EXPIRATION_TTL_S:
        raise InvalidArgument(
            f"expiration_policy.ttl must be at least {MIN_EXPIRATION_TTL_S // 86400} day, "
            f"got {ttl:g} s; an expiration_policy without a ttl never expires"
        )
    if ttl is not None and ttl < config.message_retention_seconds:
        raise InvalidArgument(
            f"expiration_policy.ttl ({ttl:g} s) must not be shorter than "
            f"message_retention_duration ({config.message_retention_seconds:g} s)"
        )
    policy = config.dead_letter_policy
    if policy is not None:
        names.check_topic(policy.topic)
        if not MIN_DELIVERY_ATTEMPTS <= policy.max_delivery_attempts <= MAX_DELIVERY_ATTEMPTS:
            raise InvalidArgument(
                f"dead_letter_policy.max_delivery_attempts must be between "
                f"{MIN_DELIVERY_ATTEMPTS} and {MAX_DELIVERY_ATTEMPTS}, "
                f"got {policy.max_delivery_attempts}"
            )
