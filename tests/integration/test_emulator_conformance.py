"""The emulator, driven only through Google's client library (and Beam's Pub/Sub source).

Every test gets its own emulator on a free port and points PUBSUB_EMULATOR_HOST at it, which is
exactly how the client library finds Google's emulator too. The Beam test runs on Google's
emulator as well (``pubsub_backend``): the rest is about newswire's emulator itself.
"""

import contextlib
import datetime
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.types import BatchSettings, FlowControl
from google.protobuf import duration_pb2
from google.pubsub_v1 import PublisherClient as GapicPublisherClient
from google.pubsub_v1.types import StreamingPullRequest


from .support import wait_for

pytestmark = [
    pytest.mark.integration,
    # Deprecated in the client, but it is part of the API and the emulator honours it.
    pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated"),
]

PROJECT = "projects/newswire-test"
TOPIC = f"{PROJECT}/topics/raw-items"
SUB = f"{PROJECT}/subscriptions/raw-items-sub"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def publisher(emulator):
    client = pubsub_v1.PublisherClient()
    yield client
    client.transport.close()


@pytest.fixture
def subscriber(emulator):
    client = pubsub_v1.SubscriberClient()
    yield client
    client.close()


@pytest.fixture
def topic(publisher):
    return publisher.create_topic(name=TOPIC).name


def make_sub(subscriber, name=SUB, topic=TOPIC, **fields):
    return subscriber.create_subscription(request={"name": name, "topic": topic, **fields}).name


def pull_n(subscriber, sub: str, n: int, timeout: float = 20.0) -> list:
    """Pull until n messages arrived (long-polling, so no busy loop); do not ack."""
    got: list = []

    def more() -> bool:
        response = subscriber.pull(subscription=sub, max_messages=n - len(got), timeout=10)
        got.extend(response.received_messages)
        return len(got) >= n

    wait_for(more, timeout, f"{n} messages on {sub}")
    return got


def pull_now(subscriber, sub: str, max_messages: int = 100) -> list:
    response = subscriber.pull(
        request={"subscription": sub, "max_messages": max_messages, "return_immediately": True}
    )
    return list(response.received_messages)


def ack(subscriber, sub: str, received: list) -> None:
    subscriber.acknowledge(subscription=sub, ack_ids=[r.ack_id for r in received])


def publish_all(publisher, topic: str, payloads: list[bytes], **attrs) -> list[str]:
    return [publisher.publish(topic, p, **attrs).result(timeout=20) for p in payloads]


# -- admin -------------------------------------------------------------------------------


def test_topic_admin_create_get_list_delete(publisher, subscriber):
    names = [f"{PROJECT}/topics/feed-{i}" for i in range(5)]
    for name in names:
        created = publisher.create_topic(request={"name": name, "labels": {"env": "test"}})
        assert created.name == name
    publisher.create_topic(name="projects/other-project/topics/feed-x")

    assert publisher.get_topic(topic=names[2]).labels["env"] == "test"
    # page_size 2 forces three pages through the client's pager.
    listed = [t.name for t in publisher.list_topics(request={"project": PROJECT, "page_size": 2})]
    assert listed == sorted(names)

    make_sub(subscriber, f"{PROJECT}/subscriptions/sub-a", names[0])
    make_sub(subscriber, f"{PROJECT}/subscriptions/sub-b", names[0])
    assert list(publisher.list_topic_subscriptions(topic=names[0])) == [
        f"{PROJECT}/subscriptions/sub-a",
        f"{PROJECT}/subscriptions/sub-b",
    ]

    publisher.delete_topic(topic=names[0])
    with pytest.raises(exceptions.NotFound, match="Topic not found"):
        publisher.get_topic(topic=names[0])
    with pytest.raises(exceptions.NotFound):
        publisher.delete_topic(topic=names[0])
    # Subscriptions outlive their topic, detached, as in real Pub/Sub.
    orphan = subscriber.get_subscription(subscription=f"{PROJECT}/subscriptions/sub-a")
    assert orphan.topic == "_deleted-topic_"


def test_topic_admin_errors(publisher, topic):
    with pytest.raises(exceptions.AlreadyExists, match="already exists"):
        publisher.create_topic(name=topic)
    with pytest.raises(exceptions.InvalidArgument, match="Invalid topic id"):
        publisher.create_topic(name=f"{PROJECT}/topics/goog-reserved")
    with pytest.raises(exceptions.InvalidArgument, match="expected 'projects/<project>/topics/<id>'"):
        publisher.create_topic(name="raw-items")
    with pytest.raises(exceptions.NotFound):
        publisher.get_topic(topic=f"{PROJECT}/topics/missing")
    with pytest.raises(exceptions.NotFound):
        list(publisher.list_topic_subscriptions(topic=f"{PROJECT}/topics/missing"))


def test_subscription_admin_round_trips_settings(publisher, subscriber, topic):
    dead = publisher.create_topic(name=f"{PROJECT}/topics/dead-letter").name
    make_sub(
        subscriber,
        ack_deadline_seconds=30,
        retain_acked_messages=True,
        message_retention_duration=duration_pb2.Duration(seconds=3600),
        labels={"team": "ingest"},
        dead_letter_policy={"dead_letter_topic": dead, "max_delivery_attempts": 7},
    )
    make_sub(subscriber, f"{PROJECT}/subscriptions/plain-sub")

    got = subscriber.get_subscription(subscription=SUB)
    assert got.topic == topic
    assert got.ack_deadline_seconds == 30
    assert got.retain_acked_messages is True
    assert got.message_retention_duration == datetime.timedelta(hours=1)
    assert got.labels["team"] == "ingest"
    assert got.dead_letter_policy.dead_letter_topic == dead
    assert got.dead_letter_policy.max_delivery_attempts == 7

    plain = subscriber.get_subscription(subscription=f"{PROJECT}/subscriptions/plain-sub")
    assert plain.ack_deadline_seconds == 10  # Pub/Sub's default when unset
    assert plain.message_retention_duration == datetime.timedelta(days=7)

    listed = [s.name for s in subscriber.list_subscriptions(request={"project": PROJECT, "page_size": 1})]
    assert listed == [f"{PROJECT}/subscriptions/plain-sub", SUB]

    subscriber.delete_subscription(subscription=SUB)
    with pytest.raises(exceptions.NotFound, match="Subscription not found"):
        subscriber.get_subscription(subscription=SUB)
    with pytest.raises(exceptions.NotFound):
        subscriber.pull(subscription=SUB, max_messages=1)


def test_subscription_expiration_policy_round_trips_and_is_validated(subscriber, topic):
    # Without an expiration_policy Pub/Sub applies its default: 31 days of inactivity.
    plain = subscriber.get_subscription(subscription=make_sub(subscriber))
    assert plain.expiration_policy.ttl == datetime.timedelta(days=31)

    # The non-default settings of Google's system test, read back alike by create, get and list.
    custom = f"{PROJECT}/subscriptions/custom-sub"
    created = subscriber.create_subscription(
        request={
            "name": custom,
            "topic": topic,
            "ack_deadline_seconds": 30,
            "retain_acked_messages": True,
            "message_retention_duration": {"seconds": 911},
            "expiration_policy": {"ttl": {"seconds": 90210}},
        }
    )
    assert created.expiration_policy.ttl == datetime.timedelta(days=1, seconds=3810)
    assert subscriber.get_subscription(subscription=custom) == created
    assert [s for s in subscriber.list_subscriptions(project=PROJECT) if s.name == custom] == [
        created
    ]

    # A policy without a ttl means "never expires": it comes back present, with no ttl.
    never = subscriber.get_subscription(
        subscription=make_sub(subscriber, f"{PROJECT}/subscriptions/never-sub", expiration_policy={})
    )
    assert "expiration_policy" in never
    assert "ttl" not in never.expiration_policy

    with pytest.raises(exceptions.InvalidArgument, match="at least 1 day"):
        make_sub(
            subscriber,
            f"{PROJECT}/subscriptions/short-sub",
            expiration_policy={"ttl": {"seconds": 3600}},
        )
    # One day is allowed, but not below the (default, 7-day) message retention.
    with pytest.raises(exceptions.InvalidArgument, match="shorter than message_retention"):
        make_sub(
            subscriber,
            f"{PROJECT}/subscriptions/day-sub",
            expiration_policy={"ttl": {"seconds": 86400}},
        )


def test_subscription_admin_errors(subscriber, topic):
    make_sub(subscriber)
    with pytest.raises(exceptions.AlreadyExists):
        make_sub(subscriber)
    with pytest.raises(exceptions.NotFound, match="Topic not found"):
        make_sub(subscriber, f"{PROJECT}/subscriptions/orphan", f"{PROJECT}/topics/missing")
    with pytest.raises(exceptions.InvalidArgument, match="ack_deadline_seconds"):
        make_sub(subscriber, f"{PROJECT}/subscriptions/slow-sub", ack_deadline_seconds=601)
    with pytest.raises(exceptions.InvalidArgument, match="max_delivery_attempts"):
        make_sub(
            subscriber,
            f"{PROJECT}/subscriptions/dlq-sub",
            dead_letter_policy={"dead_letter_topic": topic, "max_delivery_attempts": 2},
        )
    with pytest.raises(exceptions.MethodNotImplemented, match="push_config"):
        make_sub(
            subscriber,
            f"{PROJECT}/subscriptions/push-sub",
            push_config={"push_endpoint": "https://example.org/push"},
        )
    with pytest.raises(exceptions.InvalidArgument, match="max_messages"):
        subscriber.pull(subscription=SUB, max_messages=0)
    with pytest.raises(exceptions.InvalidArgument, match="between 0 and 600"):
        subscriber.modify_ack_deadline(subscription=SUB, ack_ids=["1-1"], ack_deadline_seconds=601)


def test_publish_errors(publisher, topic):
    future = publisher.publish(f"{PROJECT}/topics/missing", b"lost")
    assert isinstance(future.exception(timeout=20), exceptions.NotFound)
    # The plain Publish RPC, past the batching layer that would hold bad messages back.
    raw_publish = GapicPublisherClient.publish
    with pytest.raises(exceptions.InvalidArgument, match="neither data nor attributes"):
        raw_publish(publisher, topic=topic, messages=[{"data": b""}])
    with pytest.raises(exceptions.InvalidArgument, match="reserved prefix"):
        raw_publish(publisher, topic=topic, messages=[{"data": b"x", "attributes": {"goog-x": "1"}}])


# -- publishing and pulling --------------------------------------------------------------


def test_publisher_batching_delivers_every_message(emulator, subscriber, topic):
    make_sub(subscriber)
    batching = pubsub_v1.PublisherClient(
        batch_settings=BatchSettings(max_messages=25, max_bytes=64 * 1024, max_latency=0.01)
    )
    try:
        futures = [
            batching.publish(topic, f"item {i}".encode(), index=str(i)) for i in range(500)
        ]
        ids = [f.result(timeout=30) for f in futures]
    finally:
        batching.transport.close()
    assert len(set(ids)) == 500

    received = pull_n(subscriber, SUB, 500)
    ack(subscriber, SUB, received)
    assert sorted(r.message.message_id for r in received) == sorted(ids)
    assert {r.message.data for r in received} == {f"item {i}".encode() for i in range(500)}
    assert all(r.message.attributes["index"] == r.message.data.split()[1].decode() for r in received)


def test_sync_pull_preserves_data_attributes_and_order_then_ack(publisher, subscriber, topic):
    make_sub(subscriber)
    payloads = [f"story {i}".encode() for i in range(20)]
    ids = [
        publisher.publish(topic, p, feed_id="wire-a", item_key=f"k{i}").result(timeout=20)
        for i, p in enumerate(payloads)
    ]

    received = pull_n(subscriber, SUB, 20)
    assert [r.message.data for r in received] == payloads
    assert [r.message.message_id for r in received] == ids
    assert [dict(r.message.attributes) for r in received] == [
        {"feed_id": "wire-a", "item_key": f"k{i}"} for i in range(20)
    ]
    times = [r.message.publish_time for r in received]
    assert times == sorted(times)
    assert all(r.delivery_attempt == 0 for r in received)  # no dead-letter policy

    ack(subscriber, SUB, received)
    assert pull_now(subscriber, SUB) == []


def test_every_subscription_gets_its_own_copy(publisher, subscriber, topic):
    subs = [make_sub(subscriber, f"{PROJECT}/subscriptions/copy-{i}") for i in range(3)]
    publish_all(publisher, topic, [b"one", b"two"])
    for sub in subs:
        received = pull_n(subscriber, sub, 2)
        assert [r.message.data for r in received] == [b"one", b"two"]
        ack(subscriber, sub, received)


def test_return_immediately_on_empty_subscription(subscriber, topic):
    make_sub(subscriber)
    assert pull_now(subscriber, SUB) == []


def test_streaming_pull_subscriber_receives_everything(publisher, subscriber, topic):
    make_sub(subscriber)
    received: dict[bytes, dict] = {}

    def callback(message) -> None:
        received[message.data] = dict(message.attributes)
        message.ack()

    # A small flow-control window makes the stream wait for acks to free room.
    future = subscriber.subscribe(SUB, callback, flow_control=FlowControl(max_messages=20))
    try:
        expected = {f"streamed {i}".encode() for i in range(300)}
        futures = [publisher.publish(topic, d, source="stream") for d in sorted(expected)]
        for f in futures:
            f.result(timeout=20)
        wait_for(lambda: len(received) == len(expected), what="300 streamed messages")
    finally:
        future.cancel()
        future.result(timeout=20)
    assert set(received) == expected
    assert all(attrs == {"source": "stream"} for attrs in received.values())
    # Acks through the streaming subscriber are real acks: nothing is left to pull.
    assert pull_now(subscriber, SUB) == []


def test_streaming_pull_keeps_order_per_ordering_key(emulator, subscriber, topic):
    make_sub(subscriber, enable_message_ordering=True)
    ordered = pubsub_v1.PublisherClient(
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
    )
    try:
        futures = [
            ordered.publish(topic, f"{key}-{i}".encode(), ordering_key=key)
            for i in range(50)
            for key in ("feed-a", "feed-b")
        ]
        for f in futures:
            f.result(timeout=20)
    finally:
        ordered.transport.close()
    seen: list[tuple[str, bytes]] = []

    def callback(message) -> None:
        seen.append((message.ordering_key, message.data))
        message.ack()

    future = subscriber.subscribe(SUB, callback)
    try:
        wait_for(lambda: len(seen) == 100, what="100 ordered messages")
    finally:
        future.cancel()
        future.result(timeout=20)
    for key in ("feed-a", "feed-b"):
        assert [d for k, d in seen if k == key] == [f"{key}-{i}".encode() for i in range(50)]


def test_streaming_pull_on_missing_subscription_fails_with_not_found(subscriber, topic):
    future = subscriber.subscribe(f"{PROJECT}/subscriptions/missing", lambda m: m.ack())
    with pytest.raises(exceptions.NotFound, match="Subscription not found"):
        future.result(timeout=20)


def test_nack_redelivers_immediately(publisher, subscriber, topic):
    make_sub(subscriber, ack_deadline_seconds=600)
    [message_id] = publish_all(publisher, topic, [b"retry me"])

    [first] = pull_n(subscriber, SUB, 1)
    subscriber.modify_ack_deadline(subscription=SUB, ack_ids=[first.ack_id], ack_deadline_seconds=0)
    # With a 600 s deadline only the nack can explain a redelivery within the poll.
    [second] = pull_n(subscriber, SUB, 1)
    assert second.message.message_id == message_id
    assert second.ack_id != first.ack_id
    ack(subscriber, SUB, [second])
    assert pull_now(subscriber, SUB) == []


def test_streaming_nack_redelivers(publisher, subscriber, topic):
    make_sub(subscriber, ack_deadline_seconds=600)
    deliveries: list[bytes] = []

    def callback(message) -> None:
        deliveries.append(message.data)
        if deliveries.count(message.data) == 1:
            message.nack()
        else:
            message.ack()

    future = subscriber.subscribe(SUB, callback)
    try:
        publish_all(publisher, topic, [b"alpha", b"beta"])
        wait_for(lambda: len(deliveries) == 4, what="two deliveries of each message")
    finally:
        future.cancel()
        future.result(timeout=20)
    assert sorted(deliveries) == [b"alpha", b"alpha", b"beta", b"beta"]


class RawStream:
    """One StreamingPull call through the client's plain RPC: requests go in as sent, messages
    come out one by one (what the high-level subscriber does, without its lease management)."""

    def __init__(self, subscriber, subscription: str, **first) -> None:
        self._requests: queue.Queue = queue.Queue()
        self._requests.put(StreamingPullRequest(subscription=subscription, **first))
        self._received: queue.Queue = queue.Queue()
        responses = subscriber.streaming_pull(requests=iter(self._requests.get, None))
        self._reader = threading.Thread(target=self._read, args=(responses,), daemon=True)
        self._reader.start()

    def _read(self, responses) -> None:
        try:
            for response in responses:
                for received in response.received_messages:
                    self._received.put(received)
        except Exception as e:  # the call's error, e.g. InvalidArgument, for next() to raise
            self._received.put(e)

    def send(self, **fields) -> None:
        self._requests.put(StreamingPullRequest(**fields))

    def next(self, timeout: float = 20.0):
        item = self._received.get(timeout=timeout)
        if isinstance(item, Exception):
            raise item
        return item

    def assert_quiet(self, seconds: float) -> None:
        with pytest.raises(queue.Empty):
            self.next(timeout=seconds)

    def close(self) -> None:
        self._requests.put(None)  # ends the request stream; the server then ends the call
        self._reader.join(timeout=20)


def test_streaming_pull_leases_follow_the_stream_ack_deadline(publisher, subscriber, topic):
    # The subscription's own deadline is 600 s, so only the stream's deadline (2 s, below real
    # Pub/Sub's 10 s minimum; the emulator allows it for fast tests) can expire a lease.
    make_sub(subscriber, ack_deadline_seconds=600)
    publish_all(publisher, topic, [b"first", b"second"])
    stream = RawStream(subscriber, SUB, stream_ack_deadline_seconds=2, max_outstanding_messages=1)
    try:
        lease_1 = stream.next()
        assert lease_1.message.data == b"first"
        # Neither acked nor extended: once the stream deadline passes the message is outstanding
        # no more, and it comes back (before "second": redeliveries keep publish order).
        lease_2 = stream.next(timeout=10)
        assert (lease_2.message.data, lease_2.ack_id != lease_1.ack_id) == (b"first", True)
        # A modack sent on the stream overrides the stream deadline for that message.
        stream.send(modify_deadline_ack_ids=[lease_2.ack_id], modify_deadline_seconds=[600])
        stream.assert_quiet(4)
        # A later stream_ack_deadline_seconds applies to what the stream delivers from then on.
        stream.send(stream_ack_deadline_seconds=600, ack_ids=[lease_2.ack_id])
        lease_3 = stream.next()
        assert lease_3.message.data == b"second"
        stream.assert_quiet(4)
        stream.send(ack_ids=[lease_3.ack_id])
    finally:
        stream.close()
    assert pull_now(subscriber, SUB) == []


@pytest.mark.parametrize("seconds", [0, 601])
def test_streaming_pull_needs_a_stream_ack_deadline_in_range(subscriber, topic, seconds):
    make_sub(subscriber)
    stream = RawStream(subscriber, SUB, stream_ack_deadline_seconds=seconds)
    try:
        with pytest.raises(exceptions.InvalidArgument, match="stream_ack_deadline_seconds"):
            stream.next()
    finally:
        stream.close()


def test_ack_deadline_expiry_redelivers_and_counts_attempts(publisher, subscriber, topic):
    dead = publisher.create_topic(name=f"{PROJECT}/topics/dead-letter").name
    # 1 s is below real Pub/Sub's 10 s minimum; the emulator allows it for fast tests. The
    # dead-letter policy makes Pub/Sub report delivery_attempt at all.
    make_sub(
        subscriber,
        ack_deadline_seconds=1,
        dead_letter_policy={"dead_letter_topic": dead, "max_delivery_attempts": 10},
    )
    [message_id] = publish_all(publisher, topic, [b"slow consumer"])

    [first] = pull_n(subscriber, SUB, 1)
    assert first.delivery_attempt == 1
    # Not acked: after the deadline the same message comes back on a later pull.
    [second] = pull_n(subscriber, SUB, 1)
    assert second.message.message_id == message_id
    assert second.delivery_attempt == 2
    # The first lease is gone; acking with its id changes nothing.
    ack(subscriber, SUB, [first])
    [third] = pull_n(subscriber, SUB, 1)
    assert third.delivery_attempt == 3
    ack(subscriber, SUB, [third])
    assert pull_now(subscriber, SUB) == []


def test_dead_letter_after_max_delivery_attempts(publisher, subscriber, topic):
    dead = publisher.create_topic(name=f"{PROJECT}/topics/dead-letter").name
    dead_sub = make_sub(subscriber, f"{PROJECT}/subscriptions/dead-letter-sub", dead)
    make_sub(
        subscriber,
        ack_deadline_seconds=600,
        dead_letter_policy={"dead_letter_topic": dead, "max_delivery_attempts": 5},
    )
    publish_all(publisher, topic, [b"poison"], feed_id="bad-feed")

    for attempt in range(1, 6):
        [r] = pull_n(subscriber, SUB, 1)
        assert r.delivery_attempt == attempt
        subscriber.modify_ack_deadline(subscription=SUB, ack_ids=[r.ack_id], ack_deadline_seconds=0)

    [dead_letter] = pull_n(subscriber, dead_sub, 1)
    assert dead_letter.message.data == b"poison"
    assert dead_letter.message.attributes["feed_id"] == "bad-feed"
    assert dead_letter.message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert dead_letter.message.attributes["CloudPubSubDeadLetterSourceSubscription"] == "raw-items-sub"
    assert pull_now(subscriber, SUB) == []


# -- seek --------------------------------------------------------------------------------


def test_seek_to_time_redelivers_acked_messages_published_at_or_after_it(
    publisher, subscriber, topic
):
    make_sub(subscriber, retain_acked_messages=True)
    publish_all(publisher, topic, [b"a1", b"a2"])
    before = pull_n(subscriber, SUB, 2)
    ack(subscriber, SUB, before)
    publish_all(publisher, topic, [b"b1", b"b2", b"b3"])
    after = pull_n(subscriber, SUB, 3)
    ack(subscriber, SUB, after)
    assert pull_now(subscriber, SUB) == []

    # T is exactly the first "after" message's publish time: "at or after" includes it.
    t = after[0].message.publish_time
    assert before[-1].message.publish_time < t
    subscriber.seek(request={"subscription": SUB, "time": t})
    again = pull_n(subscriber, SUB, 3)
    assert [r.message.data for r in again] == [b"b1", b"b2", b"b3"]
    ack(subscriber, SUB, again)
    assert pull_now(subscriber, SUB) == []

    # Seeking to before everything replays everything that is retained.
    subscriber.seek(request={"subscription": SUB, "time": before[0].message.publish_time})
    replay = pull_n(subscriber, SUB, 5)
    assert [r.message.data for r in replay] == [b"a1", b"a2", b"b1", b"b2", b"b3"]


def test_seek_forward_acks_unacked_messages_before_it(publisher, subscriber, topic):
    make_sub(subscriber)
    publish_all(publisher, topic, [b"old"])
    [old] = pull_n(subscriber, SUB, 1)
    publish_all(publisher, topic, [b"new"])
    [new] = pull_n(subscriber, SUB, 1)
    subscriber.modify_ack_deadline(
        subscription=SUB, ack_ids=[old.ack_id, new.ack_id], ack_deadline_seconds=0
    )

    subscriber.seek(request={"subscription": SUB, "time": new.message.publish_time})
    [left] = pull_n(subscriber, SUB, 1)
    assert left.message.data == b"new"
    ack(subscriber, SUB, [left])
    assert pull_now(subscriber, SUB) == []


def test_seek_without_retained_acks_cannot_bring_them_back(publisher, subscriber, topic):
    make_sub(subscriber, retain_acked_messages=False)
    publish_all(publisher, topic, [b"gone"])
    received = pull_n(subscriber, SUB, 1)
    ack(subscriber, SUB, received)
    subscriber.seek(request={"subscription": SUB, "time": received[0].message.publish_time})
    assert pull_now(subscriber, SUB) == []


def test_seek_to_snapshot_is_refused_clearly(subscriber, topic):
    make_sub(subscriber)
    with pytest.raises(exceptions.MethodNotImplemented, match="snapshot is not supported"):
        subscriber.seek(request={"subscription": SUB, "snapshot": f"{PROJECT}/snapshots/snap"})


# -- command line ------------------------------------------------------------------------


def _module_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "emulator", "--port", "0", "--log-level", "WARNING", *args]


_MODULE_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@contextlib.contextmanager
def module_emulator(monkeypatch, *args: str) -> Iterator[subprocess.Popen]:
    """``python -m emulator`` on a free port, in its own process group, with
    PUBSUB_EMULATOR_HOST pointing at it; killed (the whole group) if still running at the end."""
    proc = subprocess.Popen(
        _module_command(*args),
        cwd=ROOT,
        env=_MODULE_ENV,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("export PUBSUB_EMULATOR_HOST=127.0.0.1:"), line
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", line.strip().split("=", 1)[1])
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()


def test_module_entry_point_serves_until_sigterm(monkeypatch):
    with module_emulator(monkeypatch) as proc:
        client = pubsub_v1.PublisherClient()
        assert client.create_topic(name=TOPIC).name == TOPIC
        client.transport.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_data_dir_keeps_confirmed_messages_through_sigkill(monkeypatch, tmp_path):
    data_dir = tmp_path / "pubsub"
    payloads = [f"story {i}".encode() for i in range(50)]
    with module_emulator(monkeypatch, "--data-dir", str(data_dir)) as proc:
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        try:
            publisher.create_topic(name=TOPIC)
            make_sub(subscriber)
            ids = publish_all(publisher, TOPIC, payloads, feed_id="wire-a")
            ack(subscriber, SUB, pull_n(subscriber, SUB, 5))  # the first five are done
            pull_n(subscriber, SUB, 5)  # leased, never acked: due again after the restart

            # A second emulator on the same directory is refused, and says why.
            second = subprocess.run(
                _module_command("--data-dir", str(data_dir)),
                cwd=ROOT,
                env=_MODULE_ENV,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 1
            assert "another Pub/Sub emulator has it open" in second.stderr

            os.killpg(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            subscriber.close()
            publisher.transport.close()

    with module_emulator(monkeypatch, "--data-dir", str(data_dir)):
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        try:
            assert subscriber.get_subscription(subscription=SUB).topic == TOPIC
            received = pull_n(subscriber, SUB, 45)
            assert [r.message.message_id for r in received] == ids[5:]
            assert [r.message.data for r in received] == payloads[5:]
            assert all(r.message.attributes["feed_id"] == "wire-a" for r in received)
            ack(subscriber, SUB, received)
            assert pull_now(subscriber, SUB) == []

            [new_id] = publish_all(publisher, TOPIC, [b"after the restart"])
            assert new_id not in ids
            assert int(new_id) > max(int(i) for i in ids)
        finally:
            subscriber.close()
            publisher.transport.close()


def test_newswire_emulator_passes_data_dir_on(monkeypatch, tmp_path):
    import emulator.server
    from pipeline.cli import main as cli_main

    seen: list[list[str]] = []
    monkeypatch.setattr(emulator.server, "main", lambda argv: seen.append(argv) or 0)
    assert cli_main(["emulator", "--port", "0", "--data-dir", str(tmp_path)]) == 0
    assert cli_main(["emulator", "--port", "0"]) == 0
    assert seen == [
        ["--host", "127.0.0.1", "--port", "0", "--data-dir", str(tmp_path)],
        ["--host", "127.0.0.1", "--port", "0"],
    ]


# -- Beam --------------------------------------------------------------------------------


def _append_json(element, path: str) -> None:
    # Several bundles may write at once; one short append per line keeps lines whole.
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(element) + "\n")


@pytest.fixture
def backend_clients(pubsub_backend):
    """Publisher and subscriber on the test's backend, and names in the backend's own project."""
    project = f"projects/{pubsub_backend.project}"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    yield publisher, subscriber, f"{project}/topics/raw-items", f"{project}/subscriptions/raw-items-sub"
    subscriber.close()
    publisher.transport.close()


def test_beam_read_from_pubsub_direct_runner_streaming(pubsub_backend, backend_clients, tmp_path):
    """Beam's own ReadFromPubSub, on the local Python DirectRunner in streaming mode, reads
    messages (data and attributes) published before and while it runs; on newswire's emulator and
    on Google's."""
    import apache_beam as beam
    from apache_beam.io.gcp.pubsub import ReadFromPubSub
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
    from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner

    publisher, subscriber, topic, sub = backend_clients
    publisher.create_topic(name=topic)
    make_sub(subscriber, sub, topic)
    out = tmp_path / "out.jsonl"
    out.touch()
    publish_all(publisher, topic, [f"early {i}".encode() for i in range(5)], feed_id="f1")

    options = PipelineOptions(project=pubsub_backend.project)
    options.view_as(StandardOptions).streaming = True
    # BundleBasedDirectRunner: the local Python runner that implements Pub/Sub reads,
    # never the Prism download.
    pipeline = beam.Pipeline(runner=BundleBasedDirectRunner(), options=options)
    (
        pipeline
        | ReadFromPubSub(subscription=sub, with_attributes=True)
        | beam.Map(lambda m: {"data": m.data.decode(), "feed_id": m.attributes["feed_id"]})
        | beam.Map(_append_json, str(out))
    )
    result = pipeline.run()
    try:
        publish_all(publisher, topic, [f"late {i}".encode() for i in range(5)], feed_id="f2")

        def rows() -> list[dict]:
            return [json.loads(line) for line in out.read_text().splitlines()]

        wait_for(lambda: len(rows()) >= 10, timeout=60, what="Beam to read 10 messages")
    finally:
        # On Google's emulator this waits out Beam's pending 30 s pull: it answers an empty pull
        # only at the caller's deadline.
        result.cancel()
    assert sorted((r["data"], r["feed_id"]) for r in rows()) == sorted(
        [(f"early {i}", "f1") for i in range(5)] + [(f"late {i}", "f2") for i in range(5)]
    )
    # ReadFromPubSub acks what it read.
    assert pull_now(subscriber, sub) == []
