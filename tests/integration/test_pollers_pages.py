"""Fetching article pages from a real local HTTP server: the address policy, robots.txt, the per-host
rate limit (request gaps measured on the server's side), time budget, size limits and content checks."""

from __future__ import annotations

import gzip
import threading

import pytest

from pollers import AddressPolicy, PageFetcher, PageSettings

from .feedserver import FeedServer, Reply

pytestmark = pytest.mark.integration

LOCAL = AddressPolicy(allow_private=True)  # the test server is on 127.0.0.1
PAGE = b"<html><head><title>Story</title></head><body><article><p>A fictional story.</p></article></body></html>"


def html(body: bytes = PAGE, **kw) -> Reply:
    return Reply(body=body, content_type="text/html; charset=utf-8", **kw)


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


@pytest.fixture
def other_server():
    with FeedServer() as s:
        yield s


@pytest.fixture
def make_fetcher():
    made = []

    def make(addresses=LOCAL, **kw) -> PageFetcher:
        kw.setdefault("min_interval", 0.0)
        kw.setdefault("connect_timeout", 2.0)
        kw.setdefault("read_timeout", 2.0)
        f = PageFetcher(PageSettings(**kw), addresses=addresses)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()


def arrivals(server, *paths):
    return sorted(r.at for r in server.requests if not paths or r.path in paths)


def gaps(times):
    return [b - a for a, b in zip(times, times[1:])]


def reasons(outcomes):
    return [o.reason for o in outcomes]


def test_loopback_is_refused_without_the_flag(server, make_fetcher):
    url = server.route("/story", html())
    for policy in (AddressPolicy(), AddressPolicy(allowed_networks=("10.0.0.0/8",))):
        outcomes = make_fetcher(addresses=policy).fetch_many([url, url.replace("127.0.0.1", "localhost")])
        assert reasons(outcomes) == ["private-address", "private-address"]
    assert server.requests == []  # not even robots.txt was asked


def test_a_page_is_fetched_with_our_user_agent_and_its_own_host_header(server, make_fetcher):
    url = server.route("/story", html())
    by_name = url.replace("127.0.0.1", "localhost")  # resolved, checked, pinned to the address
    outcomes = make_fetcher().fetch_many([url, by_name])
    assert [o.html for o in outcomes] == [PAGE.decode()] * 2
    hits = server.hits("/story")
    assert len(hits) == 2
    assert all(h.headers["user-agent"].startswith("newswire/") for h in hits)
    # The two hosts are fetched in parallel, so the order of arrival is not fixed.
    assert sorted(h.headers["host"] for h in hits) == sorted(
        [f"127.0.0.1:{server.port}", f"localhost:{server.port}"])


def test_redirects_are_checked_at_every_hop(server, make_fetcher):
    only_this = AddressPolicy(allowed_networks=("127.0.0.1/32",))
    server.route("/moved", Reply(status=301, location="/story"))
    server.route("/story", html())
    server.route("/to-private", Reply(status=302, location=f"http://127.0.0.2:{server.port}/story"))
    server.route("/to-metadata", Reply(status=302, location="http://169.254.169.254/latest/meta-data/"))
    server.route("/to-file", Reply(status=302, location="file:///etc/passwd"))
    server.route("/loop", Reply(status=302, location="/loop"))
    urls = [server.url(p) for p in ("/moved", "/to-private", "/to-metadata", "/to-file", "/loop")]
    outcomes = make_fetcher(addresses=only_this).fetch_many(urls)
    assert outcomes[0].html == PAGE.decode()
    assert reasons(outcomes) == [None, "private-address", "private-address", "not-http", "too-many-redirects"]


def test_robots_txt_is_read_once_and_honoured(server, make_fetcher):
    server.route("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /members/\n", content_type="text/plain"))
    urls = [server.route(p, html()) for p in ("/news/1", "/members/2", "/news/3")]
    fetcher = make_fetcher()
    assert reasons(fetcher.fetch_many(urls)) == [None, "robots-disallowed", None]
    assert reasons(fetcher.fetch_many(urls[:2])) == [None, "robots-disallowed"]
    assert server.hits("/members/2") == []
    assert len(server.hits("/robots.txt")) == 1
    assert server.requests[0].path == "/robots.txt"  # asked before any page


def test_missing_robots_txt_allows_and_a_failing_one_disallows(server, other_server, make_fetcher):
    ok = server.route("/story", html())  # this server has no /robots.txt: 404
    other_server.route("/robots.txt", Reply(status=503))
    blocked = other_server.route("/story", html())
    fetcher = make_fetcher()
    assert reasons(fetcher.fetch_many([ok, blocked])) == [None, "robots-disallowed"]
    assert reasons(fetcher.fetch_many([blocked])) == ["robots-disallowed"]
    assert other_server.hits("/story") == []
    assert len(other_server.hits("/robots.txt")) == 1  # the failure is cached too (for error_ttl)


def test_requests_to_one_host_are_spaced_by_the_interval(server, make_fetcher):
    urls = [server.route(f"/news/{i}", html()) for i in range(4)]
    outcomes = make_fetcher(min_interval=0.2).fetch_many(urls)
    assert all(o.ok for o in outcomes)
    times = arrivals(server)
    assert len(times) == 5  # robots.txt and four pages, all spaced
    assert min(gaps(times)) >= 0.2


def test_different_hosts_are_fetched_in_parallel_each_at_its_own_pace(server, other_server, make_fetcher):
    urls = []
    for i in range(3):
        urls += [server.route(f"/a/{i}", html()), other_server.route(f"/b/{i}", html())]
    outcomes = make_fetcher(min_interval=0.5).fetch_many(urls)
    assert all(o.ok for o in outcomes)
    a, b = arrivals(server), arrivals(other_server)
    assert min(gaps(a)) >= 0.5 and min(gaps(b)) >= 0.5
    # Sequential fetching would finish one host before starting the other.
    assert b[0] < a[-1] and a[0] < b[-1]


def test_crawl_delay_of_robots_txt_is_honoured(server, make_fetcher):
    server.route("/robots.txt", Reply(body=b"User-agent: *\nCrawl-delay: 1\n", content_type="text/plain"))
    urls = [server.route(f"/news/{i}", html()) for i in range(2)]
    assert all(o.ok for o in make_fetcher(min_interval=0.05).fetch_many(urls))
    assert gaps(arrivals(server, "/news/0", "/news/1")) [0] >= 1.0


def test_retry_after_pushes_the_host_back(server, make_fetcher):
    limited = server.route("/a", Reply(status=429, headers={"Retry-After": "1"}))
    fine = server.route("/b", html())
    outcomes = make_fetcher(min_interval=0.05).fetch_many([limited, fine])
    assert reasons(outcomes) == ["rate-limited", None]
    assert server.hits("/b")[0].at - server.hits("/a")[0].at >= 1.0
    assert len(server.hits("/a")) == 1  # pages are not retried within a poll


def test_the_poll_budget_bounds_the_time_spent(server, make_fetcher):
    urls = [server.route(f"/news/{i}", html()) for i in range(6)]
    # robots.txt at 0 s, pages due at 0.4 s and 0.8 s fit the budget; the one due at 1.2 s does not.
    outcomes = make_fetcher(min_interval=0.4, poll_budget=1.0).fetch_many(urls)
    assert len(outcomes) == 6
    fetched = [u for u, o in zip(urls, outcomes) if o.ok]
    assert 1 <= len(fetched) < 6
    assert set(reasons(outcomes)) == {None, "budget"}
    assert len(server.requests) == 1 + len(fetched)  # robots.txt, then only the pages that fit


def test_stopping_interrupts_the_wait_for_the_next_request(server, make_fetcher):
    urls = [server.route(f"/news/{i}", html()) for i in range(3)]
    stop = threading.Event()
    fetcher = make_fetcher(min_interval=30.0)
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    try:
        outcomes = fetcher.fetch_many(urls, stop=stop)
    finally:
        timer.cancel()
    assert reasons(outcomes)[-1] == "stopping"
    assert len([r for r in server.requests if r.path.startswith("/news/")]) <= 1


def test_size_limits_refuse_oversized_pages(server, make_fetcher):
    big = b"<html><body>" + b"<p>padding paragraph</p>" * 5000 + b"</body></html>"  # ~120 KB
    urls = [server.route("/declared", html(big)), server.route("/chunked", html(big, chunked=True)),
            server.route("/gzip", html(big, gzip=True)), server.route("/small", html())]
    outcomes = make_fetcher(max_page_bytes=64 * 1024).fetch_many(urls)
    assert reasons(outcomes) == ["too-large", "too-large", "too-large", None]


def test_only_html_is_kept_and_errors_are_classified(server, make_fetcher):
    urls = [server.route("/report.pdf", Reply(body=b"%PDF-1.7", content_type="application/pdf")),
            server.route("/gone", Reply(status=404)), server.route("/broken", Reply(status=500)),
            server.route("/xhtml", Reply(body=PAGE, content_type="application/xhtml+xml")),
            server.route("/empty", Reply(body=b"", content_type="text/html"))]
    outcomes = make_fetcher().fetch_many(urls + [None, "ftp://files.example/a.html", "javascript:void(0)"])
    assert reasons(outcomes) == ["not-html", "not-found", "server-error", None, "not-html",
                                 "no-link", "not-http", "not-http"]
    assert len(server.hits("/broken")) == 1


def test_the_page_charset_is_honoured(server, make_fetcher):
    body = "<html><body><p>Port director Emel Güler said «no».</p></body></html>".encode("cp1252")
    url = server.route("/latin", Reply(body=body, content_type="text/html; charset=windows-1252"))
    [outcome] = make_fetcher().fetch_many([url])
    assert "Emel Güler said «no»" in outcome.html
