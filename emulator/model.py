"""Plain records the emulator keeps: topics, subscriptions, messages, deliveries."""

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

# Real Pub/Sub defaults, used when a request leaves the field unset.
DEFAULT_ACK_DEADLINE_S = 10
DEFAULT_RETENTION_S = 7 * 24 * 3600
DEFAULT_MAX_DELIVERY_ATTEMPTS = 5
# A subscription without an expiration_policy expires after 31 days without activity.
DEFAULT_EXPIRATION_TTL_S = 31 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Message:
    """One published message, shared by every subscription of its topic."""

    seq: int
    data: bytes
    attributes: Mapping[str, str]
    ordering_key: str
    publish_time_us: int
    # What flow control counts: payload plus attributes, as Pub/Sub meters it.
    size: int

    @property
    def message_id(self) -> str:
        return str(self.seq)


def make_message(
    seq: int, data: bytes, attributes: Mapping[str, str], ordering_key: str, publish_time_us: int
) -> Message:
    attrs = MappingProxyType(dict(attributes))
    size = len(data) + len(ordering_key.encode()) + sum(
        len(k.encode()) + len(v.encode()) for k, v in attrs.items()
    )
    return Message(seq, bytes(data), attrs, ordering_key, publish_time_us, size)


@dataclass(frozen=True, slots=True)
class TopicConfig:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeadLetterPolicy:
    topic: str
    max_delivery_attempts: int = DEFAULT_MAX_DELIVERY_ATTEMPTS


@dataclass(frozen=True, slots=True)
class SubscriptionConfig:
    name: str
    topic: str
    ack_deadline_seconds: int = DEFAULT_ACK_DEADLINE_S
    retain_acked_messages: bool = False
    message_retention_seconds: float = DEFAULT_RETENTION_S
    labels: Mapping[str, str] = field(default_factory=dict)
    enable_message_ordering: bool = False
    dead_letter_policy: DeadLetterPolicy | None = None
    # expiration_policy.ttl: inactivity after which Pub/Sub deletes the subscription.
    # None is a policy without a ttl: the subscription never expires.
    expiration_ttl_seconds: float | None = DEFAULT_EXPIRATION_TTL_S


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message handed to a subscriber under a lease identified by ack_id."""

    ack_id: str
    message: Message
    # Counted on every delivery; reported to clients only when the subscription has a
    # dead-letter policy, as real Pub/Sub does.
    delivery_attempt: int
