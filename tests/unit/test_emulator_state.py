"""The emulator's broker rules, driven directly with hand-turned clocks (no waiting)."""

import pytest

from emulator.errors import AlreadyExists, InvalidArgument, NotFound
from emulator.model import DeadLetterPolicy, SubscriptionConfig, TopicConfig
from emulator.names import check_subscription, check_topic
from emulator.rpc import paginate
from emulator.state import Broker

TOPIC = "projects/p/topics/raw-items"
DLQ = "projects/p/topics/raw-items-dead"
SUB = "projects/p/subscriptions/raw-items-sub"
DEAD_SUB = "projects/p/subscriptions/dead-sub"


class Clocks:
    """Monotonic seconds for leases and wall-clock microseconds for publish times."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall_us = 1_700_000_000_000_000

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall_us += int(seconds * 1_000_000)


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def broker(clocks: Clocks) -> Broker:
    b = Broker(clock=lambda: clocks.mono, wall_clock_us=lambda: clocks.wall_us)
    b.create_topic(TopicConfig(TOPIC))
    return b


def sub(broker: Broker, **fields) -> str:
    broker.create_subscription(SubscriptionConfig(name=SUB, topic=TOPIC, **fields))
    return SUB


def publish(broker: Broker, *payloads: bytes):
    return broker.publish(TOPIC, [(p, {}, "") for p in payloads])


def test_unacked_lease_expires_and_redelivers_with_attempt_count(broker, clocks):
    sub(broker, ack_deadline_seconds=10)
    publish(broker, b"x")
    [first] = broker.pull(SUB, 10)
    clocks.advance(9.9)
    assert broker.pull(SUB, 10) == []
    clocks.advance(0.2)
    [second] = broker.pull(SUB, 10)
    assert (second.message.seq, second.delivery_attempt) == (first.message.seq, 2)
    # The expired lease's ack id no longer acks anything.
    broker.acknowledge(SUB, [first.ack_id])
    assert broker.leased(SUB, [second.ack_id]) == {second.ack_id}


def test_modify_ack_deadline_extends_lease(broker, clocks):
    sub(broker, ack_deadline_seconds=10)
    publish(broker, b"x")
    [d] = broker.pull(SUB, 1)
    clocks.advance(8)
    broker.modify_ack_deadline(SUB, [d.ack_id], 30)
    clocks.advance(25)
    assert broker.pull(SUB, 1) == []
    clocks.advance(10)
    assert len(broker.pull(SUB, 1)) == 1


def test_retention_bounds_what_a_subscription_holds(broker, clocks):
    sub(broker, retain_acked_messages=True, message_retention_seconds=60)
    publish(broker, b"old-acked", b"old-unacked")
    [acked, _] = broker.pull(SUB, 2)
    broker.acknowledge(SUB, [acked.ack_id])
    clocks.advance(30)
    publish(broker, b"recent")
    assert broker.message_count(SUB) == 3  # acked one retained too
    clocks.advance(31)
    broker.sweep()
    assert broker.message_count(SUB) == 1
    broker.seek_to_time(SUB, 0)
    assert [d.message.data for d in broker.pull(SUB, 10)] == [b"recent"]


def test_sweep_dead_letters_after_max_attempts_without_a_pull(broker, clocks):
    broker.create_topic(TopicConfig(DLQ))
    broker.create_subscription(SubscriptionConfig(name=DEAD_SUB, topic=DLQ))
    sub(broker, ack_deadline_seconds=5, dead_letter_policy=DeadLetterPolicy(DLQ, 5))
    publish(broker, b"poison")
    for _ in range(4):
        broker.pull(SUB, 1)
        clocks.advance(6)
    [last] = broker.pull(SUB, 1)
    assert last.delivery_attempt == 5
    clocks.advance(6)
    broker.sweep()
    [dead] = broker.pull(DEAD_SUB, 1)
    assert dead.message.data == b"poison"
    assert dead.message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert broker.message_count(SUB) == 0


def test_missing_dead_letter_topic_keeps_the_message(broker, clocks):
    sub(broker, ack_deadline_seconds=5, dead_letter_policy=DeadLetterPolicy(DLQ, 5))
    publish(broker, b"kept")
    for _ in range(6):
        [d] = broker.pull(SUB, 1)
        broker.modify_ack_deadline(SUB, [d.ack_id], 0)
    assert d.delivery_attempt == 6
    assert broker.message_count(SUB) == 1


def test_publish_times_strictly_increase_between_requests(broker, clocks):
    first = publish(broker, b"a", b"b")
    second = publish(broker, b"c")  # same wall-clock reading
    assert first[0].publish_time_us == first[1].publish_time_us
    assert second[0].publish_time_us > first[1].publish_time_us


def test_seek_splits_at_publish_time(broker, clocks):
    sub(broker, retain_acked_messages=True)
    early = publish(broker, b"early")
    late = publish(broker, b"late")
    broker.acknowledge(SUB, [d.ack_id for d in broker.pull(SUB, 10)])
    broker.seek_to_time(SUB, late[0].publish_time_us)
    assert [d.message.data for d in broker.pull(SUB, 10)] == [b"late"]
    broker.seek_to_time(SUB, early[0].publish_time_us)
    assert [d.message.data for d in broker.pull(SUB, 10)] == [b"early", b"late"]


def test_pull_respects_byte_budget_but_always_sends_one(broker):
    sub(broker)
    publish(broker, b"x" * 100, b"y" * 100, b"z" * 100)
    assert len(broker.pull(SUB, 10, max_bytes=50)) == 1
    assert len(broker.pull(SUB, 10, max_bytes=250)) == 2


def test_errors_name_the_problem(broker):
    with pytest.raises(AlreadyExists):
        broker.create_topic(TopicConfig(TOPIC))
    with pytest.raises(NotFound, match="Subscription not found"):
        broker.pull(SUB, 1)
    with pytest.raises(InvalidArgument, match="no messages"):
        broker.publish(TOPIC, [])
    with pytest.raises(InvalidArgument, match="ack_deadline_seconds"):
        sub(broker, ack_deadline_seconds=0)
    with pytest.raises(InvalidArgument, match="message_retention_duration"):
        sub(broker, message_retention_seconds=40 * 86400)
    with pytest.raises(InvalidArgument, match="expiration_policy.ttl must be at least 1 day"):
        sub(broker, expiration_ttl_seconds=3600)
    with pytest.raises(InvalidArgument, match="shorter than message_retention_duration"):
        sub(broker, message_retention_seconds=3 * 86400, expiration_ttl_seconds=2 * 86400)


def test_expiration_policy_accepts_never_and_ttls_covering_retention(broker):
    broker.create_subscription(
        SubscriptionConfig(name=SUB, topic=TOPIC, expiration_ttl_seconds=None)
    )
    broker.create_subscription(
        SubscriptionConfig(
            name=DEAD_SUB, topic=TOPIC, message_retention_seconds=86400, expiration_ttl_seconds=86400
        )
    )
    assert broker.get_subscription(SUB).expiration_ttl_seconds is None
    assert broker.get_subscription(DEAD_SUB).expiration_ttl_seconds == 86400


@pytest.mark.parametrize(
    "name", ["projects/p/topics/ab", "projects/p/topics/1abc", "projects//topics/abc", "topics/abc"]
)
def test_bad_topic_names_are_refused(name):
    with pytest.raises(InvalidArgument):
        check_topic(name)


def test_good_names_pass():
    assert check_topic("projects/my-proj/topics/raw-items.v1") == "projects/my-proj/topics/raw-items.v1"
    assert check_subscription("projects/p/subscriptions/a~b+c%d") == "projects/p/subscriptions/a~b+c%d"


def test_paginate_walks_every_item_once():
    items = [f"n{i:02d}" for i in range(7)]
    seen, token = [], ""
    while True:
        page, token = paginate(items, str, 3, token)
        seen.extend(page)
        if not token:
            break
    assert seen == items
