"""The ledger keeper's passes (pipeline.recovery.LedgerLeases), on newswire's emulator and Google's:
messages not yet durable stay leased between passes and are not read again, their leases are
extended before they lapse, a lapsed one that comes back is acknowledged with its new ack id, and a
release gives them all back at once."""

from __future__ import annotations

import time

import pytest
from google.cloud import pubsub_v1

from pipeline.pubsub_admin import LEDGER_ACK_DEADLINE_S, PubSubLayout, ensure_layout
from pipeline.recovery import LedgerKeeper, LedgerLeases

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:The return_immediately flag")]


class _Spy:
    """A subscriber client that counts the messages its pulls return and records lease changes."""

    def __init__(self, client) -> None:
        self._client = client
        self.pulled = 0
        self.deadlines: list[tuple[int, int]] = []  # (ack ids, seconds) per ModifyAckDeadline

    def pull(self, *args, **kwargs):
        resp = self._client.pull(*args, **kwargs)
        self.pulled += len(resp.received_messages)
        return resp

    def modify_ack_deadline(self, request):
        self.deadlines.append((len(request["ack_ids"]), request["ack_deadline_seconds"]))
        return self._client.modify_ack_deadline(request=request)

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.fixture
def ledger(pubsub_backend):
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    layout = PubSubLayout(pubsub_backend.project)
    ensure_layout(layout, publisher, subscriber)
    yield layout, publisher, subscriber
    subscriber.close()
    publisher.transport.close()


def _publish(publisher, topic: str, n: int) -> list[str]:
    for i in range(n):
        publisher.publish(topic, f"m{i}".encode(), feed_id="f", item_key=f"k{i}").result(timeout=20)
    return [f"item:f/k{i}" for i in range(n)]


def _pull_now(subscriber, sub: str) -> list:
    resp = subscriber.pull(request={"subscription": sub, "max_messages": 100, "return_immediately": True},
                           timeout=20)
    return list(resp.received_messages)


def test_pending_messages_stay_leased_and_are_not_read_again(ledger):
    layout, publisher, subscriber = ledger
    keys = _publish(publisher, layout.topic, 5)
    durable: set[str] = set()
    spy = _Spy(subscriber)
    leases = LedgerLeases(spy, layout.ledger, lambda batch: {k for k in batch if k in durable},
                          deadline_s=LEDGER_ACK_DEADLINE_S)
    first = leases.reconcile()
    assert (first.acked, first.pending, spy.pulled) == (0, 5, 5)
    second = leases.reconcile()
    assert (second.acked, second.pending, spy.pulled) == (0, 5, 5)  # held: nothing read again
    assert second.oldest_pending == first.oldest_pending
    durable.update(keys[:2])
    third = leases.reconcile()
    assert (third.acked, third.pending) == (2, 3)
    leases.release()
    assert sorted(r.message.data for r in _pull_now(subscriber, layout.ledger)) == [b"m2", b"m3", b"m4"]


def test_leases_are_extended_before_they_lapse(ledger):
    layout, publisher, subscriber = ledger
    _publish(publisher, layout.topic, 3)
    spy = _Spy(subscriber)
    leases = LedgerLeases(spy, layout.ledger, lambda batch: set(), deadline_s=LEDGER_ACK_DEADLINE_S)
    leases.reconcile()
    assert spy.deadlines == []  # just leased
    for lease in leases._held.values():
        lease.renewed -= LEDGER_ACK_DEADLINE_S / 2  # half the deadline has gone by
    leases.reconcile()
    assert spy.deadlines == [(3, LEDGER_ACK_DEADLINE_S)]
    time.sleep(0.5)
    leases.reconcile()
    assert spy.deadlines == [(3, LEDGER_ACK_DEADLINE_S)]  # renewed recently: left alone
    leases.release()
    assert spy.deadlines[-1] == (3, 0)


def test_a_lease_that_lapsed_is_acknowledged_with_its_new_ack_id(pubsub_backend):
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.create_topic(name=f"projects/{pubsub_backend.project}/topics/raw-items").name
    # 1 s leases (below real Pub/Sub's minimum; both emulators allow it) and no extensions.
    sub = subscriber.create_subscription(request={
        "name": f"projects/{pubsub_backend.project}/subscriptions/short-ledger", "topic": topic,
        "ack_deadline_seconds": 1}).name
    [key] = _publish(publisher, topic, 1)
    durable: set[str] = set()
    leases = LedgerLeases(subscriber, sub, lambda batch: {k for k in batch if k in durable}, deadline_s=None)
    assert leases.reconcile().pending == 1
    [lease] = leases._held.values()
    old_ack_id = lease.ack_id
    deadline = time.monotonic() + 15
    while lease.ack_id == old_ack_id and time.monotonic() < deadline:
        time.sleep(0.3)
        assert leases.reconcile().pending == 1  # the same message, held once
    assert lease.ack_id != old_ack_id
    durable.add(key)
    assert leases.reconcile().acked == 1
    time.sleep(1.5)  # an acknowledged message does not come back when its old lease would lapse
    assert _pull_now(subscriber, sub) == []
    subscriber.close()
    publisher.transport.close()


def test_the_keeper_releases_what_it_holds_when_it_stops(ledger):
    layout, publisher, subscriber = ledger
    _publish(publisher, layout.topic, 4)
    keeper = LedgerKeeper(subscriber, layout.ledger, lambda batch: set(), interval=0.05)
    keeper.start()
    passes, latest = keeper.wait_for_pass(0, timeout=20)
    assert latest is not None and latest.pending == 4
    keeper.stop()
    keeper.join(timeout=10)
    keeper.release()
    assert len(_pull_now(subscriber, layout.ledger)) == 4
