"""The poller end to end: a real local HTTP server, the Pub/Sub emulator over gRPC with Google's
client library, and a real SQLite state file."""

from __future__ import annotations

import threading
import time
import tracemalloc

import pytest
from google.cloud import pubsub_v1

from pollers import (
    FailureKind,
    FeedConfig,
    HttpSettings,
    Poller,
    PollerSettings,
    PubSubPublisher,
    RetryPolicy,
    StateStore,
)
from tests.factories import message
from transforms.cleaning import parse_raw_item
from transforms.cleaning.dofns import ItemSteps

from .feedserver import FeedServer, Reply, fixture
from .support import wait_for

pytestmark = [
    pytest.mark.integration,
    # Deprecated in the client but part of the API; it lets a test see "nothing pending" at once.
    pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated"),
]

PROJECT = "projects/newswire-test"
TOPIC = f"{PROJECT}/topics/raw-items"
SUB = f"{PROJECT}/subscriptions/raw-items-test"

FAST = PollerSettings(
    http=HttpSettings(connect_timeout=2.0, read_timeout=2.0, max_body_bytes=1024 * 1024),
    retry=RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05, max_retry_after=5.0),
    publish_attempts=2, publish_initial_wait=0.01,
)


class PubSub:
    """The emulator with a topic and one subscription that sees everything published."""

    def __init__(self, host_port: str, create_topic: bool = True) -> None:
        self.host_port = host_port
        self.subscriber = pubsub_v1.SubscriberClient()
        self.publisher = PubSubPublisher(TOPIC, timeout=10.0)
        if create_topic:
            self.create()

    def create(self) -> None:
        self.publisher.ensure_topic()
        self.subscriber.create_subscription(request={"name": SUB, "topic": TOPIC})

    def take(self, n: int) -> list:
        """Exactly the n messages published so far (fails on fewer or more), acknowledged."""
        got: list = []

        def more() -> bool:
            resp = self.subscriber.pull(request={"subscription": SUB, "max_messages": 1000,
                                                 "return_immediately": True})
            got.extend(resp.received_messages)
            return len(got) >= n
        wait_for(more, what=f"{n} messages")
        assert self.pending() == []  # nothing beyond the n expected
        if got:
            self.subscriber.acknowledge(subscription=SUB, ack_ids=[r.ack_id for r in got])
        return [r.message for r in got]

    def pending(self) -> list:
        resp = self.subscriber.pull(request={"subscription": SUB, "max_messages": 1000,
                                             "return_immediately": True})
        return list(resp.received_messages)

    def close(self) -> None:
        self.publisher.close()
        self.subscriber.close()


@pytest.fixture
def pubsub(emulator):
    ps = PubSub(emulator.host_port)
    yield ps
    ps.close()


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


@pytest.fixture
def state_path(tmp_path):
    return tmp_path / "state" / "pollers.sqlite"


def make_poller(feeds, state_path, publisher, settings=FAST, **kw):
    return Poller(feeds, StateStore(state_path), publisher, settings, **kw)


def feed(server, feed_id, path, *replies, interval=300.0, agency=None):
    return FeedConfig(feed_id, server.route(path, *replies), agency=agency, interval=interval)


def test_rss_atom_and_rdf_are_published_then_conditional_get_publishes_nothing(server, pubsub, state_path):
    feeds = [
        feed(server, "wire", "/wire.xml", Reply(body=fixture("rss20_wire.xml"), etag='"w1"'), agency="xinhua"),
        feed(server, "courier", "/courier.atom",
             Reply(body=fixture("atom10_outlet.xml"), last_modified="Fri, 01 Mar 2024 12:00:00 GMT")),
        feed(server, "bulletin", "/bulletin.rdf", Reply(body=fixture("rss10_bulletin.rdf"), etag='"b1"')),
    ]
    seen_results = []
    with make_poller(feeds, state_path, pubsub.publisher, on_result=seen_results.append) as poller:
        first = poller.poll_once()
        assert (first.polled, first.published, first.not_modified, first.errors) == (3, 7, 0, {})
        messages = pubsub.take(7)
        by_feed: dict[str, int] = {}
        for m in messages:
            raw = parse_raw_item(m.data, m.attributes, m.message_id)
            assert dict(m.attributes) == {"feed_id": raw.feed_id, "item_key": m.attributes["item_key"],
                                          "fetched_at": m.attributes["fetched_at"], "schema_version": "1"}
            assert m.attributes["fetched_at"].endswith("Z")
            by_feed[raw.feed_id] = by_feed.get(raw.feed_id, 0) + 1
            assert raw.agency_hint == ("xinhua" if raw.feed_id == "wire" else None)
        assert by_feed == {"wire": 3, "courier": 2, "bulletin": 2}
        assert len({m.attributes["item_key"] for m in messages}) == 7

        second = poller.poll_once()
        assert (second.polled, second.published, second.not_modified) == (3, 0, 3)
        assert pubsub.pending() == []
        assert [h.status for h in server.hits("/wire.xml")] == [200, 304]
        assert [h.status for h in server.hits("/courier.atom")] == [200, 304]
        assert poller.counters.snapshot() == {"polls": 6, "not_modified": 3, "published": 7, "failed": 0,
                                              "in_flight": 0, "pages_fetched": 0, "pages_failed": 0}
        assert sorted(r.outcome for r in seen_results) == ["not_modified"] * 3 + ["published"] * 3
        assert all(h.healthy and h.last_status == 304 for h in poller.health())


def test_server_error_then_success_within_one_poll(server, pubsub, state_path):
    feeds = [feed(server, "flaky", "/flaky.xml", Reply(status=500), Reply(body=fixture("rss20_wire.xml")))]
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        report = poller.poll_once()
        assert report.errors == {} and report.published == 3
        assert [h.status for h in server.hits("/flaky.xml")] == [500, 200]
        assert poller.health()[0].healthy
    pubsub.take(3)


def test_rate_limit_retry_after_is_honoured(server, pubsub, state_path):
    feeds = [feed(server, "limited", "/limited.xml", Reply(status=429, headers={"Retry-After": "1"}),
                  Reply(body=fixture("atom10_outlet.xml")))]
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        assert poller.poll_once().published == 2
    first, second = server.hits("/limited.xml")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0  # the server's clock, not ours


def test_a_long_retry_after_ends_the_poll_and_delays_the_next(server, pubsub, state_path):
    feeds = [feed(server, "busy", "/busy.xml", Reply(status=429, headers={"Retry-After": "3600"}), interval=60)]
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        started = time.time()
        result = poller.poll_once().result("busy")
        assert result.error_kind is FailureKind.RATE_LIMITED
        assert len(server.hits("/busy.xml")) == 1
        assert result.next_poll_at >= started + 3600


def test_timeouts_fail_the_poll_and_the_feed_recovers(server, pubsub, state_path):
    settings = PollerSettings(http=HttpSettings(connect_timeout=1.0, read_timeout=0.3), retry=FAST.retry)
    slow = Reply(body=fixture("rss20_wire.xml"), delay=5.0)
    feeds = [feed(server, "slow", "/slow.xml", slow, slow, slow, Reply(body=fixture("rss20_wire.xml")))]
    with make_poller(feeds, state_path, pubsub.publisher, settings) as poller:
        failed = poller.poll_once()
        assert failed.result("slow").error_kind is FailureKind.TIMEOUT
        assert len(server.hits("/slow.xml")) == settings.retry.attempts
        health = poller.health()[0]
        assert not health.healthy and health.last_error_kind == "timeout"
        assert poller.poll_once().published == 3
        assert poller.health()[0].healthy
    pubsub.take(3)


def test_a_malformed_feed_does_not_stop_the_others(server, pubsub, state_path):
    feeds = [
        feed(server, "wire", "/wire.xml", Reply(body=fixture("rss20_wire.xml"))),
        feed(server, "html", "/html", Reply(body=fixture("not_a_feed.html"), content_type="text/html")),
        feed(server, "bozo", "/bozo.xml", Reply(body=fixture("malformed_but_usable.xml"))),
        feed(server, "garbage", "/garbage", Reply(body=b"\x00\x01\x02 not xml at all \xff")),
        feed(server, "courier", "/courier.atom", Reply(body=fixture("atom10_outlet.xml"))),
    ]
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        report = poller.poll_once()
        assert report.published == 3 + 2 + 2
        assert set(report.errors) == {"html", "garbage"}
        health = {h.feed_id: h for h in poller.health()}
        for bad in ("html", "garbage"):
            assert not health[bad].healthy and health[bad].last_error_kind == "not-a-feed"
            assert "no feed entries" in health[bad].last_error
        assert health["bozo"].healthy and "not well-formed" in health["bozo"].bozo_reason
        assert report.result("bozo").bozo_reason == health["bozo"].bozo_reason
        assert health["wire"].healthy and health["wire"].bozo_reason is None
    pubsub.take(7)


def test_oversized_responses_and_entity_bombs_are_refused_with_bounded_memory(server, pubsub, state_path):
    limit = FAST.http.max_body_bytes
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "x" * 50_000 + '">\n]>\n'
            '<rss version="2.0"><channel><title>t</title><item><title>x</title><description>'
            + "&a;" * 2_000 + "</description></item></channel></rss>").encode()
    feeds = [
        feed(server, "huge", "/huge.xml", Reply(body=b"<rss>" + b"x" * (16 * limit) + b"</rss>", chunked=True)),
        feed(server, "laughs", "/laughs.xml", Reply(body=fixture("billion_laughs.xml"))),
        feed(server, "blowup", "/blowup.xml", Reply(body=bomb)),
        feed(server, "wire", "/wire.xml", Reply(body=fixture("rss20_wire.xml"))),
    ]
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        tracemalloc.start()
        try:
            report = poller.poll_once()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    kinds = {fid: report.result(fid).error_kind for fid in ("huge", "laughs", "blowup")}
    assert kinds == {"huge": FailureKind.TOO_LARGE, "laughs": FailureKind.ENTITY_DECLARATION,
                     "blowup": FailureKind.ENTITY_DECLARATION}
    assert report.result("wire").published == 3
    # Unguarded, the blow-up alone makes feedparser allocate ~300 MB; the huge body is 16 MB.
    assert peak < 8 * limit
    pubsub.take(3)


def test_not_found_backs_off_and_recovers_by_itself(server, pubsub, state_path):
    feeds = [feed(server, "moved", "/moved.xml", Reply(status=404), interval=60.0)]
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        delays = []
        for n in (1, 2, 3):
            result = poller.poll_once().result("moved")
            assert result.error_kind is FailureKind.NOT_FOUND
            h = poller.health()[0]
            assert not h.healthy and h.consecutive_failures == n and h.last_status == 404
            delays.append(h.next_poll_at - h.last_attempt)
        assert len(server.hits("/moved.xml")) == 3  # permanent: never retried within a poll
        assert 60 * 0.9 <= delays[0] and delays[0] < delays[1] < delays[2]

        server.route("/moved.xml", Reply(body=fixture("rss20_wire.xml")))
        assert poller.poll_once().published == 3
        h = poller.health()[0]
        assert h.healthy and h.consecutive_failures == 0 and h.last_error is None
        assert 60 * 0.85 <= h.next_poll_at - h.last_attempt <= 60 * 1.15
    pubsub.take(3)


def test_restart_with_the_same_state_file(server, pubsub, state_path):
    feeds = [
        feed(server, "wire", "/wire.xml", Reply(body=fixture("rss20_wire.xml"), etag='"w1"')),
        # No validators at all: only the seen-item keys can prevent a re-publish.
        feed(server, "plain", "/plain.atom", Reply(body=fixture("atom10_outlet.xml"))),
    ]
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        assert poller.poll_once().published == 5
    pubsub.take(5)

    server.route("/wire.xml", Reply(body=fixture("rss20_wire_corrected.xml"), etag='"w2"'))
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        report = poller.poll_once()
    assert server.hits("/wire.xml")[-1].headers["if-none-match"] == '"w1"'  # validators reused
    assert report.result("plain").published == 0 and report.result("plain").already_seen == 2
    # The corrected wire feed: one new item and one correction are sent, the unchanged one is not.
    assert report.result("wire").published == 2 and report.result("wire").already_seen == 1
    sent = {m.attributes["item_key"]: parse_raw_item(m.data).entry for m in pubsub.take(2)}
    assert sorted(e.id for e in sent.values()) == ["hw-2024-0301-001", "hw-2024-0301-004"]
    assert any("forty-five thousand" in (e.summary or "") for e in sent.values())


def test_a_failed_publish_is_retried_later_and_never_marked_seen(server, emulator, state_path):
    pubsub = PubSub(emulator.host_port, create_topic=False)  # the topic does not exist yet
    try:
        feeds = [feed(server, "wire", "/wire.xml", Reply(body=fixture("rss20_wire.xml"), etag='"w1"'))]
        with make_poller(feeds, state_path, pubsub.publisher) as poller:
            result = poller.poll_once().result("wire")
            assert result.error_kind is FailureKind.PUBLISH_FAILED and result.published == 0
            assert "3 of 3 items not confirmed" in result.error and "NotFound" in result.error
            assert poller.state.seen_count("wire") == 0
            assert not poller.health()[0].healthy

            pubsub.create()
            assert poller.poll_once().published == 3
            # The failed poll stored no validators, so the retry fetched the feed in full.
            assert "if-none-match" not in server.hits("/wire.xml")[1].headers
            assert poller.state.seen_count("wire") == 3 and poller.health()[0].healthy
        pubsub.take(3)
    finally:
        pubsub.close()


def test_per_host_limit(server, pubsub, state_path):
    slow = Reply(body=fixture("rss10_bulletin.rdf"), delay=0.2)
    other_host = server.base.replace("127.0.0.1", "localhost")
    feeds = [feed(server, f"a{i}", f"/a{i}.rdf", slow) for i in range(6)]
    settings = PollerSettings(http=FAST.http, retry=FAST.retry, per_host=2, max_workers=8)
    with make_poller(feeds, state_path, pubsub.publisher, settings) as poller:
        report = poller.poll_once()
        assert report.errors == {} and report.published == 12
        assert server.max_active == 2
        # A second host proceeds in parallel with the first.
        feeds_b = [FeedConfig(f"b{i}", other_host + server.route(f"/b{i}.rdf", slow)[len(server.base):])
                   for i in range(4)]
    server.max_active = 0
    with make_poller(feeds + feeds_b, state_path, pubsub.publisher, settings) as poller:
        report = poller.poll_once([f.id for f in feeds_b] + ["a0", "a1", "a2"])
        assert report.errors == {}
        assert server.max_active == 4
    pubsub.take(12 + 8)


def test_run_forever_follows_the_schedule_kept_in_state(server, pubsub, state_path):
    known = feed(server, "known", "/known.xml", Reply(body=fixture("rss20_wire.xml"), etag='"k"'), interval=300)
    shortened = feed(server, "short", "/short.rdf", Reply(body=fixture("rss10_bulletin.rdf"), etag='"s"'),
                     interval=3600)
    with make_poller([known, shortened], state_path, pubsub.publisher) as poller:
        poller.poll_once()
    fresh = feed(server, "fresh", "/fresh.atom", Reply(body=fixture("atom10_outlet.xml"), etag='"f"'),
                 interval=1.0)
    shortened = FeedConfig("short", shortened.url, interval=1.0)  # the feeds file now asks for 1 s
    stop = threading.Event()
    with make_poller([known, fresh, shortened], state_path, pubsub.publisher) as poller:
        runner = threading.Thread(target=poller.run_forever, args=(stop,))
        runner.start()
        try:
            # "fresh" has no state (due now) and a 1 s interval: it is polled, then polled again.
            wait_for(lambda: len(server.hits("/fresh.atom")) >= 2, what="two polls of the fresh feed")
            # "short" was due in an hour, but its interval is now 1 s: it does not wait an hour.
            wait_for(lambda: len(server.hits("/short.rdf")) >= 2, what="a second poll of the shortened feed")
        finally:
            stop.set()
            runner.join(timeout=30)
        assert not runner.is_alive()
        # "known" was polled a moment ago with a 300 s interval: the restart did not refetch it.
        assert len(server.hits("/known.xml")) == 1
        assert [h.status for h in server.hits("/fresh.atom")][:2] == [200, 304]
        assert server.hits("/short.rdf")[1].status == 304
        assert poller.counters.snapshot()["in_flight"] == 0
    pubsub.take(3 + 2 + 2)


def test_an_unusable_state_file_fails_polls_without_stopping_anything(server, pubsub, state_path):
    feeds = [feed(server, "wire", "/wire.xml", Reply(body=fixture("rss20_wire.xml")))]
    calls = []

    def broken_display(result):
        calls.append(result)
        raise RuntimeError("display crashed")
    with make_poller(feeds, state_path, pubsub.publisher, on_result=broken_display) as poller:
        assert poller.poll_once().published == 3  # a crashing progress callback changes nothing
        poller.state.close()  # e.g. the disk went away
        report = poller.poll_once()
        assert report.result("wire").error_kind is FailureKind.INTERNAL
        assert "ProgrammingError" in report.result("wire").error
        assert len(calls) == 2
    pubsub.take(3)


SITE = "https://cms-site.example.test/"
_STORIES = ("Harbour council approves the ferry timetable", "Storm closes the northern bridge",
            "Grain terminal opens at Port Alden", "Rail union accepts the wage offer",
            "Museum reopens after two years of repairs")


def cms_feed(guid_of) -> bytes:
    """Five different articles; guid_of(n, link) is what the CMS writes in each item's guid."""
    items = "".join(
        f"<item><title>{title}</title><link>{SITE}2024/03/story-{n}</link>"
        f"<guid>{guid_of(n, f'{SITE}2024/03/story-{n}')}</guid>"
        f"<pubDate>Fri, 01 Mar 2024 0{n}:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;{title}, officials said on Friday in story number {n}.&lt;/p&gt;"
        f"&lt;p&gt;Paragraph two of story {n} gives the details.&lt;/p&gt;</description></item>"
        for n, title in enumerate(_STORIES))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>CMS site</title><link>{SITE}</link>'
            f"<description>d</description>{items}</channel></rss>").encode()


def _article_ids(messages) -> list[str]:
    """The pipeline's per-message chain (parse, clean, identify) on the messages as received."""
    steps, ids = ItemSteps(), []
    for m in messages:
        msg = message(m.data, m.message_id, **m.attributes)
        raw, dead = steps.parse(msg)
        assert dead is None
        clean, dead = steps.clean(msg, raw)
        assert dead is None
        unit = steps.identify(msg, raw, clean)
        assert unit.dead_letter is None
        ids.append(unit.article["article_id"])
    return ids


def test_five_articles_sharing_the_home_page_guid_arrive_as_five_articles(server, pubsub, state_path):
    broken, fixed = cms_feed(lambda n, link: SITE), cms_feed(lambda n, link: link)
    feeds = [feed(server, "cms", "/feed.xml", Reply(body=broken), Reply(body=broken), Reply(body=fixed)),
             feed(server, "wire", "/wire.xml", Reply(body=fixture("rss20_wire.xml")))]
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        first = poller.poll_once()
        assert first.result("cms").published == 5 and first.result("wire").published == 3
        messages = [m for m in pubsub.take(8) if m.attributes["feed_id"] == "cms"]
        assert len({m.attributes["item_key"] for m in messages}) == 5
        raws = [parse_raw_item(m.data, m.attributes, m.message_id) for m in messages]
        assert {r.entry.id for r in raws} == {SITE}  # lineage: the guid as the feed gave it
        assert all(r.entry.guid_is_identity is False for r in raws)
        ids = dict(zip((r.entry.link for r in raws), _article_ids(messages)))
        assert len(set(ids.values())) == 5

        problem = f"5 entries share guid {SITE} with different links"
        assert problem in first.result("cms").guid_problem
        health = {h.feed_id: h for h in poller.health()}
        assert problem in health["cms"].guid_problem and health["cms"].healthy
        assert health["wire"].guid_problem is None

        # The seen set follows the link keys: the same broken feed again publishes nothing.
        assert poller.poll_once(["cms"]).result("cms").published == 0
        assert pubsub.pending() == []

        # The site fixes its guids (permalinks): new keys, so the five are sent again, but they keep
        # their article ids (a permalink guid is the URL) and the problem is cleared.
        again = poller.poll_once(["cms"]).result("cms")
        assert again.published == 5 and again.guid_problem is None
        refixed = pubsub.take(5)
        assert all(parse_raw_item(m.data).entry.guid_is_identity for m in refixed)
        relinked = dict(zip((parse_raw_item(m.data).entry.link for m in refixed), _article_ids(refixed)))
        assert relinked == ids
        assert {h.feed_id: h.guid_problem for h in poller.health()} == {"cms": None, "wire": None}
