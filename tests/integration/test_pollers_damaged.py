"""Damaged and enormous feeds against the poller, on a real local HTTP server and the Pub/Sub
emulator: the damage stays with the entry it is in, and every feed's cost is bounded."""

from __future__ import annotations

import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from pollers import FailureKind, FeedConfig, HttpSettings, PollerSettings, RetryPolicy
from tests.factories import message
from transforms.cleaning.dofns import ItemSteps
from transforms.cleaning import parse_raw_item

from .feedserver import Reply, fixture
from .test_pollers import make_poller, pubsub, server, state_path  # noqa: F401 - shared fixtures

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated"),
]

T0 = datetime(2024, 3, 1, 6, tzinfo=timezone.utc)


def settings(**kw) -> PollerSettings:
    kw.setdefault("http", HttpSettings(connect_timeout=2.0, read_timeout=5.0, max_body_bytes=8 * 1024 * 1024))
    return PollerSettings(retry=RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.05),
                          publish_attempts=2, publish_initial_wait=0.01, **kw)


def rss(n: int, extra: dict[int, str] | None = None, title_of=lambda i: f"Harbour story {i}") -> bytes:
    """n items, item i published at T0 + i minutes; extra[i] is added to item i's markup."""
    items = "".join(
        f"<item><title>{title_of(i)}</title><link>https://harbour.example.test/{i}</link>"
        f"<guid>harbour-{i}</guid><pubDate>{format_datetime(T0 + timedelta(minutes=i))}</pubDate>"
        f"<description>Story {i} of the harbour desk.</description>{(extra or {}).get(i, '')}</item>"
        for i in range(n))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Harbour</title>'
            f"<link>https://harbour.example.test/</link><description>d</description>{items}</channel></rss>").encode()


def local(server, feed_id, path, *replies, **kw) -> FeedConfig:
    return FeedConfig(feed_id, server.route(path, *replies), allow_private=True, **kw)


def through_pipeline(m) -> tuple[object, dict | None]:
    """The pipeline's first step on a message as received: (raw item, dead-letter row)."""
    raw, unit = ItemSteps().parse(message(m.data, m.message_id, **m.attributes))
    return raw, unit.dead_letter if unit else None


@pytest.mark.parametrize("bad", ["&#xD800;", "&#55296;", "&#99999999999999;", "&#x110000;"])
def test_a_reference_to_no_character_costs_one_character_not_the_feed(server, pubsub, state_path, bad):
    feeds = [local(server, "harbour", "/feed.xml", Reply(body=rss(5, title_of=lambda i: f"Story {i}" + (bad if i == 2 else ""))))]
    with make_poller(feeds, state_path, pubsub.publisher, settings()) as poller:
        result = poller.poll_once().result("harbour")
        health = poller.health()[0]
    assert result.ok and result.published == 5
    titles = sorted(parse_raw_item(m.data).entry.title for m in pubsub.take(5))
    assert titles == ["Story 0", "Story 1", "Story 2\ufffd", "Story 3", "Story 4"]
    assert health.healthy and "replaced by U+FFFD" in health.bozo_reason


def test_an_entry_over_the_message_limit_is_dead_lettered_and_the_others_go_out(server, pubsub, state_path):
    # 300 kB of control characters: JSON writes each as \u00XX, six bytes, so the message would be 1.8 MB.
    junk = "".join(chr(1 + i % 8) for i in range(300_000))
    feeds = [local(server, "harbour", "/feed.xml", Reply(body=rss(5, {3: f"<category>{junk}</category>"}))),
             local(server, "wire", "/wire.xml", Reply(body=fixture("rss20_wire.xml")))]
    with make_poller(feeds, state_path, pubsub.publisher, settings(max_message_bytes=512 * 1024)) as poller:
        started = time.monotonic()
        report = poller.poll_once()
        took = time.monotonic() - started
        result = report.result("harbour")
        assert result.ok and result.published == 5 and result.broken == 1
        assert report.result("wire").published == 3
        assert took < 20  # published once, not retried against a size limit
        messages = [m for m in pubsub.take(8) if m.attributes["feed_id"] == "harbour"]
        assert all(len(m.data) <= 512 * 1024 for m in messages)
        outcomes = [through_pipeline(m) for m in messages]
        dead = [d for _, d in outcomes if d is not None]
        assert len(dead) == 1 and dead[0]["error_class"] == "BrokenEntryError"
        assert "over the limit of 524288" in dead[0]["error_message"]
        broken = orjson.loads(dead[0]["payload"])
        assert broken["entry"]["link"] == "https://harbour.example.test/3" and broken["raw_entry"]
        assert sorted(r.entry.link for r, _ in outcomes if r is not None) == [
            f"https://harbour.example.test/{i}" for i in (0, 1, 2, 4)]
        # Sent once: the next poll has nothing new, the broken entry included.
        assert poller.poll_once(["harbour"]).result("harbour").published == 0
        assert pubsub.pending() == []


def test_entity_text_in_cdata_and_harmless_entities_are_accepted(server, pubsub, state_path):
    cdata = rss(2, {0: '<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/"><![CDATA['
                       '<p>A guide: <!ENTITY lol "lol"> and <!ENTITY % pe SYSTEM "x"> in a DTD.</p>]]>'
                       "</content:encoded>"})
    harmless = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY desk "Harbour Desk">\n<!ENTITY nbsp "&#160;">\n]>\n'
                b'<rss version="2.0"><channel><title>Harbour</title><item><title>From the &desk;</title>'
                b"<link>https://harbour.example.test/a</link><description>A&nbsp;story</description></item>"
                b"</channel></rss>")
    feeds = [local(server, "cdata", "/cdata.xml", Reply(body=cdata)),
             local(server, "harmless", "/harmless.xml", Reply(body=harmless))]
    with make_poller(feeds, state_path, pubsub.publisher, settings()) as poller:
        report = poller.poll_once()
    assert report.errors == {}
    assert report.result("cdata").published == 2 and report.result("harmless").published == 1
    titles = {parse_raw_item(m.data).entry.title for m in pubsub.take(3)}
    assert "From the Harbour Desk" in titles


def test_a_long_feed_is_taken_newest_first_a_bounded_number_per_poll(server, pubsub, state_path):
    feeds = [local(server, "archive", "/archive.xml", Reply(body=rss(25), etag='"a1"'))]
    with make_poller(feeds, state_path, pubsub.publisher, settings(max_entries_per_poll=10)) as poller:
        got = []
        for expected, deferred in ((10, 15), (10, 5), (5, 0)):
            result = poller.poll_once().result("archive")
            assert (result.published, result.deferred) == (expected, deferred)
            got.append(sorted(int(parse_raw_item(m.data).entry.link.rsplit("/", 1)[1])
                              for m in pubsub.take(expected)))
        assert got == [list(range(15, 25)), list(range(5, 15)), list(range(5))]
        # With a backlog the validators were not kept (each poll fetched in full); then they are.
        assert [h.headers.get("if-none-match") for h in server.hits("/archive.xml")] == [None, None, None]
        assert poller.poll_once().result("archive").outcome == "not_modified"
        health = poller.health()[0]
        assert health.healthy


def test_a_backlog_brings_the_next_poll_forward(server, pubsub, state_path):
    feeds = [local(server, "archive", "/archive.xml", Reply(body=rss(5)), interval=3600.0)]
    with make_poller(feeds, state_path, pubsub.publisher,
                     settings(max_entries_per_poll=2, backlog_interval=30.0)) as poller:
        started = time.time()
        result = poller.poll_once().result("archive")
    assert result.deferred == 3 and result.next_poll_at < started + 40
    pubsub.take(2)


def test_a_feed_that_is_slow_to_parse_fails_alone_within_the_budget(server, pubsub, state_path):
    nested = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>x</title>'
              b"<description>" + b"<b>" * 60_000 + b"</description></item></channel></rss>")
    feeds = [local(server, "nested", "/nested.xml", Reply(body=nested)),
             local(server, "wire", "/wire.xml", Reply(body=fixture("rss20_wire.xml")))]
    with make_poller(feeds, state_path, pubsub.publisher, settings(parse_budget=1.5)) as poller:
        started = time.monotonic()
        report = poller.poll_once()
        took = time.monotonic() - started
        assert report.result("nested").error_kind is FailureKind.PARSE_LIMIT
        assert "longer than 1.5 s" in report.result("nested").error
        assert report.result("wire").published == 3
        assert took < 10  # unbounded, this document takes feedparser minutes
        assert poller._parser.killed == 1  # noqa: SLF001
    pubsub.take(3)


def test_a_parser_over_its_memory_fails_alone(server, pubsub, state_path):
    # 6 MB of feed; a parser process starts at about 30 MB of address space and is given 45 here.
    body = rss(3000, {i: "<content>" + "word " * 400 + "</content>" for i in range(3000)})
    feeds = [local(server, "huge", "/huge.xml", Reply(body=body)),
             local(server, "wire", "/wire.xml", Reply(body=fixture("rss20_wire.xml")))]
    with make_poller(feeds, state_path, pubsub.publisher, settings(parse_memory_mb=45)) as poller:
        report = poller.poll_once()
    assert report.result("huge").error_kind is FailureKind.PARSE_LIMIT
    assert report.result("wire").published == 3
    pubsub.take(3)


@pytest.mark.parametrize("body, content_type", [
    # A quiet channel with a bozo flag: not well-formed (a stray ampersand) ...
    (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet & calm</title></channel></rss>',
     "application/xml"),
    # ... or served as text/plain (feedparser flags the media type).
    (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Quiet</title></feed>', "text/plain"),
])
def test_a_feed_with_no_entries_and_a_bozo_flag_is_healthy(server, pubsub, state_path, body, content_type):
    feeds = [local(server, "quiet", "/quiet.xml", Reply(body=body, content_type=content_type))]
    with make_poller(feeds, state_path, pubsub.publisher, settings()) as poller:
        result = poller.poll_once().result("quiet")
        health = poller.health()[0]
    assert result.ok and result.entries == 0 and result.bozo_reason
    assert health.healthy and health.consecutive_failures == 0
    assert pubsub.pending() == []
