"""Pure parts of page fetching: decoding, outcome reports, page_html in the message, robots.txt
caching rules (on a hand-driven clock, with an in-process robots.txt source)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import orjson
import pytest

from pollers import (
    FailureKind,
    FeedConfig,
    PageOutcome,
    PageRefused,
    PageReport,
    PageSettings,
    PageSkip,
    PollError,
    RobotsCache,
    build_items,
    decode_html,
    with_page_html,
)
from transforms.cleaning import parse_raw_item

UA = "newswire/1.0 (feed poller)"


def test_decode_html_charset_order():
    text = "Café Güler – «Grüße»"
    assert decode_html(text.encode("utf-8")) == text  # default UTF-8
    assert decode_html(b"\xef\xbb\xbf" + text.encode("utf-8"), "text/html; charset=iso-8859-1") == text  # BOM first
    latin = "<p>Café Güler</p>".encode("cp1252")
    assert decode_html(latin, "text/html; charset=windows-1252") == "<p>Café Güler</p>"
    assert decode_html(latin, 'text/html; charset="ISO-8859-1"') == "<p>Café Güler</p>"
    meta = b'<html><head><meta charset="windows-1252"></head><body>' + "Güler".encode("cp1252")
    assert decode_html(meta, "text/html").endswith("Güler")
    http_equiv = (b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
                  + "Москва".encode("koi8-r"))
    assert decode_html(http_equiv).endswith("Москва")
    # An unknown label falls back to UTF-8; undecodable bytes never fail the page.
    assert decode_html(b"ok \xff", "text/html; charset=x-nonsense") == "ok \ufffd"


def test_page_report_counts_reasons_most_frequent_first():
    outcomes = [PageOutcome("<html>"), PageOutcome(None, "budget"), PageOutcome(None, "robots-disallowed"),
                PageOutcome(None, "budget"), PageOutcome("<html>")]
    report = PageReport.of(outcomes)
    assert report.fetched == 2 and report.failed == 3
    assert report.failures == (("budget", 2), ("robots-disallowed", 1))


def test_page_settings_refuse_nonsense():
    with pytest.raises(ValueError):
        PageSettings(poll_budget=0)
    with pytest.raises(ValueError):
        PageSettings(min_interval=-1)


def test_with_page_html_changes_only_page_html():
    feed = FeedConfig("summaries", "https://wire.example/rss.xml", fetch_full_text=True)
    entry = {"id": "a-1", "link": "https://wire.example/a-1", "title": "Harbour reopens", "summary": "Teaser."}
    [item] = build_items(feed, [entry], fetched_at=datetime(2024, 3, 1, tzinfo=timezone.utc), http={})
    assert item.link == "https://wire.example/a-1"
    assert orjson.loads(item.data)["page_html"] is None
    paged = with_page_html(item, "<html><body><p>Full story.</p></body></html>")
    assert (paged.item_key, paged.content_hash, paged.attributes, paged.link) == \
        (item.item_key, item.content_hash, item.attributes, item.link)
    raw = parse_raw_item(paged.data, paged.attributes, "m")
    assert raw.page_html == "<html><body><p>Full story.</p></body></html>"
    before, after = orjson.loads(item.data), orjson.loads(paged.data)
    assert {k: v for k, v in after.items() if k != "page_html"} == {k: v for k, v in before.items() if k != "page_html"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RobotsSource:
    """robots.txt answers by site, in order (the last repeats), counting the requests."""

    def __init__(self, answers):
        self.answers = {k: list(v) for k, v in answers.items()}
        self.asked: list[str] = []

    def __call__(self, url, deadline):
        self.asked.append(url)
        site = url.removesuffix("/robots.txt")
        queue = self.answers[site]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


ROBOTS = b"User-agent: *\nDisallow: /private/\n\nUser-agent: newswire\nDisallow: /members/\nCrawl-delay: 3\n"


def test_robots_rules_are_read_once_per_site_and_ttl():
    clock = Clock()
    source = RobotsSource({"https://a.example": [(200, ROBOTS), (200, b"User-agent: *\nDisallow: /\n")],
                           "https://b.example": [(404, None)]})
    cache = RobotsCache(source, ttl=3600, error_ttl=300, clock=clock)
    rules = cache.rules("https://a.example/news/1", deadline=clock.now + 10)
    # Our own group applies (not "*"): /members/ is out, /private/ is not ours to avoid.
    assert not rules.can_fetch(UA, "https://a.example/members/story")
    assert rules.can_fetch(UA, "https://a.example/private/story")
    assert rules.can_fetch(UA, "https://a.example/news/1")
    assert rules.crawl_delay(UA) == 3.0
    for path in ("/news/2", "/news/3"):
        cache.rules("https://a.example" + path, deadline=clock.now + 10)
    assert source.asked == ["https://a.example/robots.txt"]
    # Another port or scheme is another site.
    assert cache.rules("https://b.example/x", deadline=clock.now + 10).can_fetch(UA, "https://b.example/x")
    clock.now += 3601
    assert not cache.rules("https://a.example/news/1", deadline=clock.now + 10).can_fetch(UA, "https://a.example/news/1")
    assert source.asked.count("https://a.example/robots.txt") == 2


@pytest.mark.parametrize("answer, allowed, ttl", [
    ((404, None), True, 3600), ((410, None), True, 3600), ((401, None), True, 3600),
    ((429, None), False, 300), ((500, None), False, 300), ((503, None), False, 300),
    (PollError(FailureKind.TIMEOUT, "read timed out"), False, 300),
    (PollError(FailureKind.TOO_LARGE, "over the limit"), False, 300),
    (PageRefused(PageSkip.PRIVATE_ADDRESS, "redirected to 10.0.0.1"), False, 300),
])
def test_robots_without_rules_to_read(answer, allowed, ttl):
    clock = Clock()
    source = RobotsSource({"https://c.example": [answer, (200, b"User-agent: *\nAllow: /\n")]})
    cache = RobotsCache(source, ttl=3600, error_ttl=300, clock=clock)
    url = "https://c.example/story"
    assert cache.rules(url, deadline=clock.now + 10).can_fetch(UA, url) is allowed
    clock.now += ttl - 1
    assert cache.rules(url, deadline=clock.now + 10).can_fetch(UA, url) is allowed  # still cached
    clock.now += 2
    assert cache.rules(url, deadline=clock.now + 10).can_fetch(UA, url)  # asked again, now readable
    assert len(source.asked) == 2


def test_concurrent_askers_share_one_request():
    release = threading.Event()
    asked = []

    def slow_source(url, deadline):
        asked.append(url)
        release.wait(5)
        return 200, b"User-agent: *\nDisallow: /x/\n"

    cache = RobotsCache(slow_source)
    results = []
    deadline = time.monotonic() + 30
    threads = [threading.Thread(target=lambda: results.append(cache.rules("https://d.example/a", deadline=deadline)))
               for _ in range(5)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert asked == ["https://d.example/robots.txt"]
    assert len(results) == 5 and len({id(r) for r in results}) == 1


def test_a_waiter_gives_up_at_its_deadline():
    started, release = threading.Event(), threading.Event()

    def slow_source(url, deadline):
        started.set()
        release.wait(5)
        return 404, None

    cache = RobotsCache(slow_source)
    first = threading.Thread(target=cache.rules, args=("https://e.example/a", time.monotonic() + 30))
    first.start()
    started.wait(5)
    try:
        with pytest.raises(PageRefused) as err:
            cache.rules("https://e.example/b", deadline=time.monotonic())  # no time left to wait
        assert err.value.skip is PageSkip.BUDGET
    finally:
        release.set()
        first.join()


def test_the_cache_stays_bounded():
    clock = Clock()
    asked = []
    cache = RobotsCache(lambda url, deadline: asked.append(url) or (404, None), max_sites=8, clock=clock)
    for i in range(50):
        cache.rules(f"https://site{i}.example/x", deadline=clock.now + 1)
        clock.now += 1
    assert len(cache) <= 8
    cache.rules("https://site0.example/x", deadline=clock.now + 1)  # long evicted: asked again
    assert asked.count("https://site0.example/robots.txt") == 2
