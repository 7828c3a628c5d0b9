"""Full text end to end: a summary-only feed with ``fetch_full_text`` and its article pages on a real
local HTTP server, polled into the Pub/Sub emulator; the published raw items carry the pages and the
cleaning chain turns them into the full articles, without the sites' chrome."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
import yaml

from pollers import AddressPolicy, FeedConfig, PageSettings, PollerSettings, decode_html
from transforms.cleaning import clean_item, parse_raw_item

from .feedserver import FeedServer, Reply
from .test_pollers import FAST, make_poller, pubsub, server  # noqa: F401 - shared fixtures

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated"),
]

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
SPEC = {p["file"]: p for p in yaml.safe_load((PAGES / "pages.yaml").read_text(encoding="utf-8"))["pages"]}
MAX_PAGE = 256 * 1024


def _item(title: str, link: str, summary: str, published: str) -> str:
    return (f"<item><title>{html.escape(title)}</title><link>{html.escape(link)}</link><guid>{html.escape(link)}</guid>"
            f"<pubDate>{published}</pubDate><description>{html.escape(summary)}</description></item>")


def serve_site(server: FeedServer) -> dict[str, str]:
    """The feed, robots.txt and four article pages; returns the article URLs by name."""
    urls = {}
    items = []
    for name, path in (("blog_xinhua.html", "/2024/03/05/kelderport-tidal-ferry-terminal/"),
                       ("portal_anadolu.html", "/world/2024/03/06/grain-corridor-talks-sarvan")):
        spec = SPEC[name]
        urls[name] = server.route(path, Reply(body=(PAGES / name).read_bytes(), content_type=spec["content_type"]))
        items.append(_item(spec["entry"]["title"], urls[name], spec["entry"]["summary"],
                           "Wed, 06 Mar 2024 08:05:00 GMT"))
    urls["members"] = server.route("/members/2024/03/06/port-fees-analysis",
                                   Reply(body=b"<html><body><p>Subscribers only.</p></body></html>",
                                         content_type="text/html"))
    items.append(_item("Port fees: who pays?", urls["members"],
                       "An analysis of port fees for subscribers.", "Wed, 06 Mar 2024 07:00:00 GMT"))
    huge = b"<html><body>" + b"<div class='gallery-item'><img src='/g.jpg'></div>" * 8000 + b"</body></html>"
    assert len(huge) > MAX_PAGE
    urls["huge"] = server.route("/2024/03/06/harbour-festival-gallery", Reply(body=huge, content_type="text/html"))
    items.append(_item("Harbour festival in pictures", urls["huge"],
                       "Scenes from the first day of the harbour festival.", "Wed, 06 Mar 2024 06:00:00 GMT"))
    server.route("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /members/\n", content_type="text/plain"))
    feed = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Harbour Lights</title>'
            f"<link>{server.base}</link><description>Summaries only</description>{''.join(items)}</channel></rss>")
    server.route("/feed.xml", Reply(body=feed.encode(), etag='"f1"', content_type="application/rss+xml"))
    return urls


def settings(addresses: AddressPolicy) -> PollerSettings:
    return PollerSettings(http=FAST.http, retry=FAST.retry, publish_attempts=FAST.publish_attempts,
                          publish_initial_wait=FAST.publish_initial_wait,
                          pages=PageSettings(min_interval=0.05, max_page_bytes=MAX_PAGE, addresses=addresses,
                                             connect_timeout=2.0, read_timeout=2.0))


def test_summary_only_feed_is_published_with_pages_and_cleans_to_full_articles(server, pubsub, tmp_path):
    urls = serve_site(server)
    feed = FeedConfig("harbour-lights", server.url("/feed.xml"), fetch_full_text=True)
    with make_poller([feed], tmp_path / "state.sqlite", pubsub.publisher,
                     settings(AddressPolicy(allow_private=True))) as poller:
        report = poller.poll_once()
        result = report.result("harbour-lights")
        assert result.ok and result.published == 4
        assert result.pages.fetched == 2
        assert dict(result.pages.failures) == {"robots-disallowed": 1, "too-large": 1}
        assert poller.counters.snapshot()["pages_fetched"] == 2
        assert poller.counters.snapshot()["pages_failed"] == 2

        raws = {r.entry.link: r for r in (parse_raw_item(m.data, m.attributes, m.message_id)
                                          for m in pubsub.take(4))}
        for name in ("blog_xinhua.html", "portal_anadolu.html"):
            raw = raws[urls[name]]
            spec = SPEC[name]
            assert raw.page_html == decode_html((PAGES / name).read_bytes(), spec["content_type"])
            article = clean_item(raw)
            assert article.body_source == "page"
            assert article.body == spec["expect"]["body"]
            assert article.agency == spec["expect"]["agency"]
            text = "\n".join(article.body)
            for snippet in spec["gone"]:
                assert snippet not in text, snippet
        # Pages that were not fetched: the items still went out, and clean from their summaries.
        for name in ("members", "huge"):
            raw = raws[urls[name]]
            assert raw.page_html is None
            assert clean_item(raw).body_source == "summary"
        assert server.hits("/members/2024/03/06/port-fees-analysis") == []
        assert len(server.hits("/robots.txt")) == 1

        # Nothing new on the next poll: no page is fetched again.
        pages_before = len(server.requests)
        again = poller.poll_once().result("harbour-lights")
        assert again.outcome == "not_modified" and again.pages is None
        assert [r.path for r in server.requests[pages_before:]] == ["/feed.xml"]
        assert pubsub.pending() == []


def test_pages_on_private_addresses_are_refused_without_the_flag(server, pubsub, tmp_path):
    serve_site(server)
    feed = FeedConfig("harbour-lights", server.url("/feed.xml"), fetch_full_text=True)
    with make_poller([feed], tmp_path / "state.sqlite", pubsub.publisher, settings(AddressPolicy())) as poller:
        result = poller.poll_once().result("harbour-lights")
    assert result.ok and result.published == 4
    assert dict(result.pages.failures) == {"private-address": 4} and result.pages.fetched == 0
    assert all(parse_raw_item(m.data).page_html is None for m in pubsub.take(4))
    assert [r.path for r in server.requests] == ["/feed.xml"]


def test_feeds_without_fetch_full_text_fetch_no_pages(server, pubsub, tmp_path):
    serve_site(server)
    feed = FeedConfig("harbour-lights", server.url("/feed.xml"))
    with make_poller([feed], tmp_path / "state.sqlite", pubsub.publisher,
                     settings(AddressPolicy(allow_private=True))) as poller:
        result = poller.poll_once().result("harbour-lights")
    assert result.published == 4 and result.pages is None
    assert all(parse_raw_item(m.data).page_html is None for m in pubsub.take(4))
    assert [r.path for r in server.requests] == ["/feed.xml"]
