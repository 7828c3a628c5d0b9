"""The emulator's in-memory state: topics, subscriptions and their message logs.

One lock guards everything; each subscription has a condition on that lock so pullers
sleep until something changes for them. Memory stays bounded by each subscription's
retention: every publish and pull prunes what has aged out.
"""

import dataclasses
import itertools
import threading
import time
from typing import Callable, Iterable, Mapping, Sequence

from emulator import names
from emulator.errors import AlreadyExists, InvalidArgument, NotFound
from emulator.model import (
    Delivery,
    Message,
    SubscriptionConfig,
    TopicConfig,
    make_message,
)
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
    ) -> None:
        self._clock = clock
        self._wall_clock_us = wall_clock_us
        self._lock = threading.RLock()
        self._topics: dict[str, TopicConfig] = {}
        self._topic_subs: dict[str, set[str]] = {}
        self._subs: dict[str, _Sub] = {}
        self._seq = itertools.count(1)
        self._last_publish_us = 0
        self.closed = False

    # -- topics ----------------------------------------------------------------------------

    def create_topic(self, config: TopicConfig) -> TopicConfig:
        names.check_topic(config.name)
        with self._lock:
            if config.name in self._topics:
                raise AlreadyExists(f"Topic already exists: {config.name}")
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
        with self._lock:
            self._topic(name)
            del self._topics[name]
            for sub_name in self._topic_subs.pop(name):
                sub = self._subs[sub_name]
                sub.log.config = dataclasses.replace(sub.log.config, topic=names.DELETED_TOPIC)

    def topic_subscriptions(self, topic: str) -> list[str]:
        names.check_topic(topic)
        with self._lock:
            self._topic(topic)
            return sorted(self._topic_subs[topic])

    def publish(self, topic: str, messages: Sequence[Outgoing]) -> list[Message]:
        """Store messages and fan them out to every subscription of the topic."""
        names.check_topic(topic)
        if not messages:
            raise InvalidArgument(f"Publish to {topic} contains no messages")
        for i, (data, attributes, _key) in enumerate(messages):
            _check_message(i, data, attributes)
        with self._lock:
            self._topic(topic)
            # Strictly increasing per request, so Seek(time) can split two publishes apart.
            now_us = max(self._wall_clock_us(), self._last_publish_us + 1)
            self._last_publish_us = now_us
            stored = [
                make_message(next(self._seq), data, attrs, key, now_us)
                for data, attrs, key in messages
            ]
            for sub_name in self._topic_subs[topic]:
                sub = self._subs[sub_name]
                sub.log.prune(now_us)
                for message in stored:
                    sub.log.add(message)
                sub.cond.notify_all()
            return stored

    # -- subscriptions ---------------------------------------------------------------------

    def create_subscription(self, config: SubscriptionConfig) -> SubscriptionConfig:
        names.check_subscription(config.name)
        names.check_topic(config.topic)
        _check_subscription_config(config)
        with self._lock:
            if config.name in self._subs:
                raise AlreadyExists(f"Subscription already exists: {config.name}")
            self._topic(config.topic)
            log = SubscriptionLog(config, dead_letter=self._forward_dead_letter)
            self._subs[config.name] = _Sub(log, threading.Condition(self._lock))
            self._topic_subs[config.topic].add(config.name)
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
        with self._lock:
            sub = self._sub(name)
            del self._subs[name]
            self._topic_subs.get(sub.log.config.topic, set()).discard(name)
            sub.log.version += 1
            sub.cond.notify_all()

    def message_count(self, name: str) -> int:
        """Messages the subscription still holds (unacked, plus retained acked ones)."""
        with self._lock:
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
        with self._lock:
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
        with self._lock:
            sub = self._sub(name)
            if sub.log.acknowledge(ack_ids):
                sub.cond.notify_all()

    def modify_ack_deadline(self, name: str, ack_ids: Iterable[str], seconds: int) -> None:
        if not 0 <= seconds <= MAX_ACK_DEADLINE_S:
            raise InvalidArgument(
                f"ack_deadline_seconds must be between 0 and {MAX_ACK_DEADLINE_S}, got {seconds}"
            )
        with self._lock:
            sub = self._sub(name)
            if sub.log.modify_ack_deadline(ack_ids, seconds, self._clock()):
                sub.cond.notify_all()

    def leased(self, name: str, ack_ids: Iterable[str]) -> set[str]:
        with self._lock:
            sub = self._sub(name)
            sub.log.expire(self._clock())
            return sub.log.leased(ack_ids)

    def seek_to_time(self, name: str, time_us: int) -> None:
        with self._lock:
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
        with self._lock:
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
        self.publish(policy.topic, [(message.data, attributes, message.ordering_key)])
        return True


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
