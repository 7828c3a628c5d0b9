"""What crash recovery (pipeline/recovery.py) asks of Pub/Sub, checked on newswire's emulator and on
Google's: the layout's subscription settings, retained acknowledged messages and Seek to a time,
ack deadline expiry, ModifyAckDeadline 0, and recover() itself. Plus what an emulator restart keeps
(nothing) and how it numbers message ids (from 1 again)."""

from __future__ import annotations

import datetime
import time

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1

from pipeline.pubsub_admin import LEDGER_ACK_DEADLINE_S, RETENTION, PubSubLayout, ensure_layout
from pipeline.recovery import reconcile, recover
from transforms.identity import replay_key

from .support import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated"),
]


@pytest.fixture
def clients(pubsub_backend):
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    yield publisher, subscriber
    subscriber.close()
    publisher.transport.close()


@pytest.fixture
def layout(pubsub_backend, clients):
    layout = PubSubLayout(pubsub_backend.project)
    ensure_layout(layout, *clients)
    return layout


def _publish(publisher, topic: str, n: int, prefix: str = "m") -> list[str]:
    # One at a time, so publish times increase (Google's emulator stamps milliseconds).
    ids = []
    for i in range(n):
        ids.append(publisher.publish(topic, f"{prefix}{i}".encode()).result(timeout=20))
        time.sleep(0.005)
    return ids


def _pull_now(subscriber, sub: str) -> list:
    got = []
    while True:
        resp = subscriber.pull(request={"subscription": sub, "max_messages": 100, "return_immediately": True},
                               timeout=20)
        if not resp.received_messages:
            return got
        got += resp.received_messages


def _pull_n(subscriber, sub: str, n: int, timeout: float = 20.0) -> list:
    got: list = []

    def more() -> bool:
        got.extend(_pull_now(subscriber, sub))
        return len(got) >= n

    wait_for(more, timeout, f"{n} message(s) on {sub}")
    return got


def _ack(subscriber, sub: str, received: list) -> None:
    subscriber.acknowledge(request={"subscription": sub, "ack_ids": [r.ack_id for r in received]})


def test_layout_subscriptions_have_the_settings_recovery_needs(layout, clients):
    _, subscriber = clients
    ensure_layout(layout, *clients)  # idempotent: a restarted job finds everything in place
    pipeline = subscriber.get_subscription(request={"subscription": layout.subscription})
    assert pipeline.retain_acked_messages is True
    assert pipeline.message_retention_duration == RETENTION
    assert pipeline.ack_deadline_seconds == 60
    ledger = subscriber.get_subscription(request={"subscription": layout.ledger})
    assert ledger.retain_acked_messages is False
    assert ledger.message_retention_duration == RETENTION
    assert ledger.ack_deadline_seconds == LEDGER_ACK_DEADLINE_S


def test_seek_to_a_time_replays_acknowledged_messages_published_at_or_after_it(layout, clients):
    publisher, subscriber = clients
    _publish(publisher, layout.topic, 5)
    first = sorted(_pull_n(subscriber, layout.subscription, 5), key=lambda r: r.message.publish_time)
    _ack(subscriber, layout.subscription, first)
    assert _pull_now(subscriber, layout.subscription) == []

    t = first[2].message.publish_time
    subscriber.seek(request={"subscription": layout.subscription, "time": t})
    again = _pull_n(subscriber, layout.subscription, 3)
    assert sorted(r.message.data for r in again) == [b"m2", b"m3", b"m4"]
    _ack(subscriber, layout.subscription, again)
    assert _pull_now(subscriber, layout.subscription) == []

    # To before everything: every retained message again; to the future: none.
    subscriber.seek(request={"subscription": layout.subscription,
                             "time": first[0].message.publish_time - datetime.timedelta(seconds=1)})
    _ack(subscriber, layout.subscription, _pull_n(subscriber, layout.subscription, 5))
    subscriber.seek(request={"subscription": layout.subscription,
                             "time": datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)})
    assert _pull_now(subscriber, layout.subscription) == []


def test_unacknowledged_message_comes_back_after_its_ack_deadline(pubsub_backend, clients):
    publisher, subscriber = clients
    topic = publisher.create_topic(name=f"projects/{pubsub_backend.project}/topics/raw-items").name
    # 1 s is below real Pub/Sub's 10 s minimum; both emulators allow it, which keeps this fast.
    sub = subscriber.create_subscription(request={
        "name": f"projects/{pubsub_backend.project}/subscriptions/short-lease", "topic": topic,
        "ack_deadline_seconds": 1}).name
    [message_id] = _publish(publisher, topic, 1)
    [first] = _pull_n(subscriber, sub, 1)
    assert _pull_now(subscriber, sub) == []  # leased
    [second] = _pull_n(subscriber, sub, 1, timeout=15)
    assert second.message.message_id == message_id and second.ack_id != first.ack_id
    _ack(subscriber, sub, [first])  # a lapsed lease: acknowledging it changes nothing
    [third] = _pull_n(subscriber, sub, 1, timeout=15)
    assert third.message.message_id == message_id
    _ack(subscriber, sub, [third])
    assert _pull_now(subscriber, sub) == []


def test_modify_ack_deadline_zero_releases_a_message_at_once(layout, clients):
    publisher, subscriber = clients
    [message_id] = _publish(publisher, layout.topic, 1)
    [leased] = _pull_n(subscriber, layout.ledger, 1)
    subscriber.modify_ack_deadline(request={"subscription": layout.ledger, "ack_ids": [leased.ack_id],
                                            "ack_deadline_seconds": 0})
    # The ledger's deadline is 10 s: only the release explains getting it back on this pull.
    [again] = _pull_now(subscriber, layout.ledger)
    assert again.message.message_id == message_id


def test_recover_seeks_the_pipeline_back_to_the_oldest_message_not_yet_durable(layout, clients):
    publisher, subscriber = clients
    ids = _publish(publisher, layout.topic, 6)
    # What the DirectRunner does: pull and acknowledge everything at once; three were written.
    pulled = _pull_n(subscriber, layout.subscription, 6)
    _ack(subscriber, layout.subscription, pulled)
    # The ledger asks about replay keys (what names each message's content), not message ids.
    key_of = {rm.message.message_id: replay_key(rm.message.attributes, rm.message.data) for rm in pulled}
    durable = {key_of[i] for i in ids[:3]}

    state = recover(subscriber, pipeline_subscription=layout.subscription, ledger=layout.ledger,
                    durable=lambda batch: {i for i in batch if i in durable})
    assert (state.acked, state.pending) == (3, 3)
    replayed = _pull_n(subscriber, layout.subscription, 3)
    assert sorted(r.message.message_id for r in replayed) == sorted(ids[3:])
    assert state.oldest_pending == min(r.message.publish_time for r in replayed)
    assert _pull_now(subscriber, layout.subscription) == []

    durable.update(key_of.values())
    after = reconcile(subscriber, layout.ledger, lambda batch: {i for i in batch if i in durable})
    assert (after.acked, after.pending, after.oldest_pending) == (3, 0, None)
    assert _pull_now(subscriber, layout.ledger) == []


def test_a_restarted_emulator_keeps_nothing_and_numbers_message_ids_from_1_again(pubsub_backend):
    """Neither emulator persists anything (Google's JAR has no data directory: it ignores
    --data-dir), and both count message ids per process. Real Pub/Sub ids never repeat."""
    pubsub_backend.restart()  # a fresh process of this test's own
    topic = f"projects/{pubsub_backend.project}/topics/raw-items"
    publisher = pubsub_v1.PublisherClient()
    publisher.create_topic(name=topic)
    before = [publisher.publish(topic, f"before {i}".encode()).result(timeout=20) for i in range(3)]
    publisher.transport.close()

    pubsub_backend.restart()
    publisher = pubsub_v1.PublisherClient()
    try:
        with pytest.raises(exceptions.NotFound):
            publisher.get_topic(topic=topic)
        publisher.create_topic(name=topic)
        after = [publisher.publish(topic, f"after {i}".encode()).result(timeout=20) for i in range(3)]
    finally:
        publisher.transport.close()
    assert before == after == ["1", "2", "3"]
