"""The emulator's broker rules, driven directly with hand-turned clocks (no waiting)."""

import contextlib
import dataclasses
import enum
import sqlite3
from typing import Mapping

import pytest

from emulator.errors import AlreadyExists, InvalidArgument, NotFound, StorageFailed
from emulator.model import DeadLetterPolicy, SubscriptionConfig, TopicConfig
from emulator.names import check_subscription, check_topic
from emulator.rpc import paginate
from emulator.state import Broker
from emulator.store import Store, StoreLocked, decode_config, encode_config

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


# -- durable mode: the same broker written through to a data dir ---------------------------


class Durable:
    """A broker on a data dir that can be "restarted": the store closed and loaded again."""

    def __init__(self, data_dir, clocks: Clocks) -> None:
        self.data_dir = data_dir
        self.clocks = clocks
        self.store: Store | None = None
        self.broker = self.reopen()

    def reopen(self) -> Broker:
        if self.store is not None:
            self.store.close()
        self.store = Store(self.data_dir)
        self.broker = Broker(
            clock=lambda: self.clocks.mono,
            wall_clock_us=lambda: self.clocks.wall_us,
            store=self.store,
        )
        return self.broker


@pytest.fixture
def durable(tmp_path, clocks):
    d = Durable(tmp_path / "pubsub", clocks)
    d.broker.create_topic(TopicConfig(TOPIC))
    yield d
    d.store.close()


def test_durable_messages_and_ids_survive_a_restart(durable, clocks):
    sub(durable.broker)
    durable.broker.publish(TOPIC, [(b"a", {"feed_id": "f1"}, "key-1"), (b"b", {}, "")])
    clocks.advance(1)
    [c] = publish(durable.broker, b"c")

    broker = durable.reopen()
    clocks.wall_us -= 10_000_000  # the clock stepped back across the restart
    got = [d.message for d in broker.pull(SUB, 10)]
    assert [(m.seq, m.data, dict(m.attributes), m.ordering_key) for m in got] == [
        (1, b"a", {"feed_id": "f1"}, "key-1"),
        (2, b"b", {}, ""),
        (3, b"c", {}, ""),
    ]
    assert got[2].publish_time_us == c.publish_time_us
    [d] = publish(broker, b"d")
    assert d.seq == 4
    assert d.publish_time_us > c.publish_time_us  # Seek(time) still splits publishes apart


def test_durable_ids_are_not_reused_after_messages_are_gone(durable):
    sub(durable.broker)
    publish(durable.broker, b"a", b"b")
    durable.broker.acknowledge(SUB, [d.ack_id for d in durable.broker.pull(SUB, 10)])
    # A topic nobody subscribes to keeps no messages, but its ids are spent too.
    durable.broker.create_topic(TopicConfig(DLQ))
    durable.broker.publish(DLQ, [(b"unheld", {}, "")])

    broker = durable.reopen()
    assert broker.message_count(SUB) == 0
    assert [m.seq for m in publish(broker, b"c")] == [4]


def test_durable_acks_persist_and_leases_do_not(durable):
    sub(durable.broker)
    publish(durable.broker, b"acked", b"leased", b"ready")
    acked, leased = durable.broker.pull(SUB, 2)
    durable.broker.acknowledge(SUB, [acked.ack_id])

    broker = durable.reopen()
    again = broker.pull(SUB, 10)
    assert [d.message.data for d in again] == [b"leased", b"ready"]
    # Delivery counts are not kept either: the restart starts them over.
    assert [d.delivery_attempt for d in again] == [1, 1]


def test_durable_retained_acks_can_be_replayed_after_a_restart(durable, clocks):
    sub(durable.broker, retain_acked_messages=True)
    [early] = publish(durable.broker, b"early")
    clocks.advance(1)
    publish(durable.broker, b"late")
    broker = durable.broker
    broker.acknowledge(SUB, [d.ack_id for d in broker.pull(SUB, 10)])

    broker = durable.reopen()
    assert broker.pull(SUB, 10) == []
    assert broker.message_count(SUB) == 2
    broker.seek_to_time(SUB, early.publish_time_us)

    # The seek itself is kept: after another restart both are still due again.
    broker = durable.reopen()
    assert [d.message.data for d in broker.pull(SUB, 10)] == [b"early", b"late"]


def test_durable_seek_forward_acks_persist(durable, clocks):
    sub(durable.broker)
    publish(durable.broker, b"old")
    clocks.advance(1)
    [new] = publish(durable.broker, b"new")
    durable.broker.seek_to_time(SUB, new.publish_time_us)

    broker = durable.reopen()
    assert [d.message.data for d in broker.pull(SUB, 10)] == [b"new"]


def test_durable_retention_pruning_persists(durable, clocks):
    sub(durable.broker, message_retention_seconds=60)
    publish(durable.broker, b"aged")
    clocks.advance(61)
    publish(durable.broker, b"fresh")  # publishing prunes what has aged out
    assert durable.broker.message_count(SUB) == 1

    # Turn the clock back: had the prune not been written, "aged" would be held again.
    clocks.wall_us -= 61_000_000
    broker = durable.reopen()
    assert [d.message.data for d in broker.pull(SUB, 10)] == [b"fresh"]


def test_durable_dead_letter_forwarding_persists(durable, clocks):
    broker = durable.broker
    broker.create_topic(TopicConfig(DLQ))
    broker.create_subscription(SubscriptionConfig(name=DEAD_SUB, topic=DLQ))
    sub(broker, ack_deadline_seconds=600, dead_letter_policy=DeadLetterPolicy(DLQ, 5))
    publish(broker, b"poison")
    for _ in range(5):
        [d] = broker.pull(SUB, 1)
        broker.modify_ack_deadline(SUB, [d.ack_id], 0)

    broker = durable.reopen()
    assert broker.message_count(SUB) == 0
    [dead] = broker.pull(DEAD_SUB, 10)
    assert dead.message.data == b"poison"
    assert dead.message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"


def test_durable_config_round_trips(durable):
    broker = durable.broker
    topic = TopicConfig("projects/p/topics/labelled", labels={"env": "test", "team": "ingest"})
    broker.create_topic(topic)
    broker.create_topic(TopicConfig(DLQ))
    config = SubscriptionConfig(
        name=SUB,
        topic=TOPIC,
        ack_deadline_seconds=42,
        retain_acked_messages=True,
        message_retention_seconds=3600.5,
        labels={"team": "ingest"},
        enable_message_ordering=True,
        dead_letter_policy=DeadLetterPolicy(DLQ, 7),
    )
    broker.create_subscription(config)

    broker = durable.reopen()
    assert broker.get_topic(topic.name) == topic
    assert broker.get_subscription(SUB) == config
    assert broker.topic_subscriptions(TOPIC) == [SUB]
    assert [t.name for t in broker.list_topics("projects/p")] == sorted([topic.name, TOPIC, DLQ])


class _Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass(frozen=True)
class _Nested:
    seconds: float
    codes: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class _FutureConfig:
    """Field types a later SubscriptionConfig may well grow."""

    name: str
    nested: _Nested | None = None
    colour: _Colour = _Colour.RED
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    payload: bytes = b""


def test_config_codec_keeps_fields_generically():
    config = _FutureConfig("x", _Nested(1.5, (1, 2)), _Colour.RED, {"a": "b"}, b"\x00\xff")
    assert decode_config(_FutureConfig, encode_config(config)) == config
    # A field missing from an older file takes its default; one the code dropped is ignored.
    assert decode_config(_FutureConfig, '{"name": "y", "gone": 1}') == _FutureConfig("y")


def test_durable_deletes_persist(durable):
    broker = durable.broker
    sub(broker)
    other = "projects/p/subscriptions/other-sub"
    broker.create_subscription(SubscriptionConfig(name=other, topic=TOPIC))
    publish(broker, b"x")
    broker.delete_subscription(SUB)
    broker.delete_topic(TOPIC)

    broker = durable.reopen()
    with pytest.raises(NotFound):
        broker.get_subscription(SUB)
    with pytest.raises(NotFound):
        broker.get_topic(TOPIC)
    # The other subscription lives on detached, with what it held.
    assert broker.get_subscription(other).topic == "_deleted-topic_"
    assert [d.message.data for d in broker.pull(other, 10)] == [b"x"]
    # A new topic of the same name does not feed the detached subscription.
    broker.create_topic(TopicConfig(TOPIC))
    publish(broker, b"y")
    assert broker.message_count(other) == 1


def stored_messages(durable: Durable) -> int:
    """Message rows in the data dir's file (the broker is restarted to read it)."""
    durable.store.close()
    with contextlib.closing(sqlite3.connect(durable.store.path)) as db:
        (count,) = db.execute("SELECT count(*) FROM messages").fetchone()
    durable.reopen()
    return count


def test_durable_store_forgets_messages_no_subscription_holds(durable):
    other = "projects/p/subscriptions/other-sub"
    sub(durable.broker)
    durable.broker.create_subscription(SubscriptionConfig(name=other, topic=TOPIC))
    publish(durable.broker, b"x", b"y")
    durable.broker.acknowledge(SUB, [d.ack_id for d in durable.broker.pull(SUB, 10)])
    assert stored_messages(durable) == 2  # still held by the other subscription

    broker = durable.broker
    broker.acknowledge(other, [d.ack_id for d in broker.pull(other, 10)])
    assert stored_messages(durable) == 0
    publish(durable.broker, b"z")
    durable.broker.delete_subscription(SUB)
    durable.broker.delete_subscription(other)
    assert stored_messages(durable) == 0


def test_a_second_store_on_the_same_dir_is_refused(durable):
    with pytest.raises(StoreLocked, match="another Pub/Sub emulator has it open"):
        Store(durable.data_dir)
    durable.store.close()
    Store(durable.data_dir).close()  # free again once the first one is closed


def test_a_failed_write_refuses_every_later_change(durable):
    sub(durable.broker)
    publish(durable.broker, b"kept")
    durable.store.close()  # every later commit fails, as on a vanished or full disk
    with pytest.raises(StorageFailed, match="could not write"):
        publish(durable.broker, b"not kept")
    # Memory is now ahead of the disk: nothing more goes out, not even what it already had.
    with pytest.raises(StorageFailed):
        durable.broker.pull(SUB, 10)
    durable.broker.sweep()  # quiet, so the sweeper does not log the failure twice a second

    broker = durable.reopen()
    assert [d.message.data for d in broker.pull(SUB, 10)] == [b"kept"]
