"""Conversions between the raw google.pubsub.v1 protobuf messages and the emulator's records.

The raw protobuf classes (not the proto-plus wrappers) go over the wire: they come from
``google.pubsub_v1.types`` via ``.pb()``, so the emulator speaks exactly the API version the
installed client library was generated from.
"""

from google.protobuf import duration_pb2, empty_pb2, timestamp_pb2
from google.pubsub_v1.types import pubsub as _types

from emulator.errors import Unimplemented
from emulator.model import (
    DEFAULT_ACK_DEADLINE_S,
    DEFAULT_EXPIRATION_TTL_S,
    DEFAULT_MAX_DELIVERY_ATTEMPTS,
    DEFAULT_RETENTION_S,
    DeadLetterPolicy,
    Delivery,
    Message,
    SubscriptionConfig,
    TopicConfig,
)

Empty = empty_pb2.Empty
Topic = _types.Topic.pb()
Subscription = _types.Subscription.pb()
PubsubMessage = _types.PubsubMessage.pb()
ReceivedMessage = _types.ReceivedMessage.pb()
PublishRequest = _types.PublishRequest.pb()
PublishResponse = _types.PublishResponse.pb()
GetTopicRequest = _types.GetTopicRequest.pb()
ListTopicsRequest = _types.ListTopicsRequest.pb()
ListTopicsResponse = _types.ListTopicsResponse.pb()
ListTopicSubscriptionsRequest = _types.ListTopicSubscriptionsRequest.pb()
ListTopicSubscriptionsResponse = _types.ListTopicSubscriptionsResponse.pb()
DeleteTopicRequest = _types.DeleteTopicRequest.pb()
GetSubscriptionRequest = _types.GetSubscriptionRequest.pb()
ListSubscriptionsRequest = _types.ListSubscriptionsRequest.pb()
ListSubscriptionsResponse = _types.ListSubscriptionsResponse.pb()
DeleteSubscriptionRequest = _types.DeleteSubscriptionRequest.pb()
PullRequest = _types.PullRequest.pb()
PullResponse = _types.PullResponse.pb()
StreamingPullRequest = _types.StreamingPullRequest.pb()
StreamingPullResponse = _types.StreamingPullResponse.pb()
AcknowledgeRequest = _types.AcknowledgeRequest.pb()
ModifyAckDeadlineRequest = _types.ModifyAckDeadlineRequest.pb()
SeekRequest = _types.SeekRequest.pb()
SeekResponse = _types.SeekResponse.pb()


def timestamp_us(ts: timestamp_pb2.Timestamp) -> int:
    return ts.seconds * 1_000_000 + ts.nanos // 1000


def _timestamp(us: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=us // 1_000_000, nanos=(us % 1_000_000) * 1000)


def _seconds(d: duration_pb2.Duration) -> float:
    return d.seconds + d.nanos / 1e9


def _duration(seconds: float) -> duration_pb2.Duration:
    whole = int(seconds)
    return duration_pb2.Duration(seconds=whole, nanos=int(round((seconds - whole) * 1e9)))


def topic_config(topic) -> TopicConfig:
    return TopicConfig(name=topic.name, labels=dict(topic.labels))


def topic_pb(config: TopicConfig):
    return Topic(name=config.name, labels=dict(config.labels))


def subscription_config(sub) -> SubscriptionConfig:
    """Read a Subscription request, refusing features the emulator does not provide."""
    unsupported = [
        ("push_config.push_endpoint", sub.push_config.push_endpoint),
        ("bigquery_config", sub.HasField("bigquery_config")),
        ("cloud_storage_config", sub.HasField("cloud_storage_config")),
        ("bigtable_config", sub.HasField("bigtable_config")),
        ("filter", sub.filter),
        ("enable_exactly_once_delivery", sub.enable_exactly_once_delivery),
        ("message_transforms", len(sub.message_transforms)),
    ]
    for field, value in unsupported:
        if value:
            raise Unimplemented(
                f"{field} is not supported by this Pub/Sub emulator; create a plain pull "
                "subscription instead"
            )
    retention = DEFAULT_RETENTION_S
    if sub.HasField("message_retention_duration"):
        retention = _seconds(sub.message_retention_duration)
    # Unset: Pub/Sub's default policy. Set without a ttl: the subscription never expires.
    expiration_ttl = DEFAULT_EXPIRATION_TTL_S
    if sub.HasField("expiration_policy"):
        expiration = sub.expiration_policy
        expiration_ttl = _seconds(expiration.ttl) if expiration.HasField("ttl") else None
    policy = None
    if sub.HasField("dead_letter_policy") and sub.dead_letter_policy.dead_letter_topic:
        policy = DeadLetterPolicy(
            topic=sub.dead_letter_policy.dead_letter_topic,
            max_delivery_attempts=(
                sub.dead_letter_policy.max_delivery_attempts or DEFAULT_MAX_DELIVERY_ATTEMPTS
            ),
        )
    return SubscriptionConfig(
        name=sub.name,
        topic=sub.topic,
        ack_deadline_seconds=sub.ack_deadline_seconds or DEFAULT_ACK_DEADLINE_S,
        retain_acked_messages=sub.retain_acked_messages,
        message_retention_seconds=retention,
        labels=dict(sub.labels),
        enable_message_ordering=sub.enable_message_ordering,
        dead_letter_policy=policy,
        expiration_ttl_seconds=expiration_ttl,
    )


def subscription_pb(config: SubscriptionConfig):
    sub = Subscription(
        name=config.name,
        topic=config.topic,
        ack_deadline_seconds=config.ack_deadline_seconds,
        retain_acked_messages=config.retain_acked_messages,
        message_retention_duration=_duration(config.message_retention_seconds),
        labels=dict(config.labels),
        enable_message_ordering=config.enable_message_ordering,
        state=Subscription.State.ACTIVE,
    )
    if config.dead_letter_policy is not None:
        sub.dead_letter_policy.dead_letter_topic = config.dead_letter_policy.topic
        sub.dead_letter_policy.max_delivery_attempts = (
            config.dead_letter_policy.max_delivery_attempts
        )
    if config.expiration_ttl_seconds is None:
        sub.expiration_policy.SetInParent()  # present but without a ttl: never expires
    else:
        sub.expiration_policy.ttl.CopyFrom(_duration(config.expiration_ttl_seconds))
    return sub


def outgoing(messages) -> list[tuple[bytes, dict[str, str], str]]:
    return [(m.data, dict(m.attributes), m.ordering_key) for m in messages]


def message_pb(message: Message):
    return PubsubMessage(
        data=message.data,
        attributes=message.attributes,
        message_id=message.message_id,
        publish_time=_timestamp(message.publish_time_us),
        ordering_key=message.ordering_key,
    )


def received_pb(delivery: Delivery, report_attempts: bool):
    return ReceivedMessage(
        ack_id=delivery.ack_id,
        message=message_pb(delivery.message),
        delivery_attempt=delivery.delivery_attempt if report_attempts else 0,
    )
