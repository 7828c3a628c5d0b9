"""Hostile servers against the poller, on a real local HTTP server: a feed that trickles its answer,
many slow feeds on one host, and redirects into private networks. Each case runs beside a good feed,
which must not notice."""

from __future__ import annotations

import threading
import time

import pytest

from pollers import (
    AddressPolicy,
    FailureKind,
    FeedConfig,
    HttpSettings,
    PollError,
    PollerSettings,
    RetryPolicy,
    Validators,
    fetch_once,
)

from .feedserver import FeedServer, Reply, fixture
from .support import wait_for
from .test_pollers import FAST, make_poller, pubsub, server, state_path  # noqa: F401 - shared fixtures

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated"),
]

WIRE = fixture("rss20_wire.xml")  # three entries
LOCAL = AddressPolicy(allow_private=True)


@pytest.fixture
def other_server():
    with FeedServer() as s:
        yield s


def trickle(**kw) -> Reply:
    return Reply(body=WIRE, trickle=0.2, **kw)  # ~5 bytes a second: minutes for the whole feed


def local_feed(server, feed_id, path, *replies, **kw) -> FeedConfig:
    return FeedConfig(feed_id, server.route(path, *replies), allow_private=True, **kw)


def quick(deadline: float, attempts: int = 1) -> PollerSettings:
    return PollerSettings(http=HttpSettings(connect_timeout=2.0, read_timeout=2.0, deadline=deadline),
                          retry=RetryPolicy(attempts=attempts, initial_wait=0.01, max_wait=0.05),
                          publish_attempts=2, publish_initial_wait=0.01)


# --- one deadline per fetch -----------------------------------------------------------------------

@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers-and-body"])
def test_a_trickling_answer_is_cut_at_the_deadline_as_a_transient_timeout(server, headers_too):
    url = server.route("/slow.xml", trickle(trickle_headers=headers_too))
    settings = HttpSettings(connect_timeout=2.0, read_timeout=2.0, deadline=1.5)
    with settings.client() as client:
        started = time.monotonic()
        with pytest.raises(PollError) as err:
            fetch_once(client, url, Validators(), settings, policy=LOCAL)
        took = time.monotonic() - started
    assert err.value.kind is FailureKind.TIMEOUT and err.value.transient
    assert "within 1.5 s" in err.value.detail
    assert 1.4 <= took < 3.0  # every single read arrived within the 2 s read timeout


def test_the_deadline_covers_every_redirect_hop(server):
    final = server.route("/final.xml", trickle())
    server.route("/start.xml", Reply(status=302, location=final, delay=0.5))
    settings = HttpSettings(connect_timeout=2.0, read_timeout=2.0, deadline=1.5)
    with settings.client() as client:
        started = time.monotonic()
        with pytest.raises(PollError) as err:
            fetch_once(client, server.url("/start.xml"), Validators(), settings, policy=LOCAL)
    assert err.value.kind is FailureKind.TIMEOUT and final in str(err.value)
    assert time.monotonic() - started < 3.0


def test_a_trickling_feed_fails_its_poll_in_bounded_time_beside_a_good_one(server, pubsub, state_path):
    feeds = [local_feed(server, "slow", "/slow.xml", trickle()), local_feed(server, "wire", "/wire.xml",
                                                                             Reply(body=WIRE))]
    # Two attempts of 1 s each at most, with the retry's wait between them.
    with make_poller(feeds, state_path, pubsub.publisher, quick(deadline=1.0, attempts=2)) as poller:
        started = time.monotonic()
        report = poller.poll_once()
        assert time.monotonic() - started < 5.0
        assert report.result("wire").published == 3
        assert report.result("slow").error_kind is FailureKind.TIMEOUT
        assert len(server.hits("/slow.xml")) == 2  # transient: retried once within the poll
        health = {h.feed_id: h for h in poller.health()}
        assert not health["slow"].healthy and health["slow"].last_error_kind == "timeout"
    pubsub.take(3)


def test_stop_interrupts_a_fetch_in_progress_and_records_nothing(server, pubsub, state_path):
    feeds = [local_feed(server, "slow", "/slow.xml", trickle())]
    with make_poller(feeds, state_path, pubsub.publisher, quick(deadline=600.0, attempts=4)) as poller:
        box = {}
        runner = threading.Thread(target=lambda: box.setdefault("report", poller.poll_once()))
        runner.start()
        wait_for(lambda: server.hits("/slow.xml"), what="the slow feed's request")
        time.sleep(0.3)  # well into reading the answer
        stopped = time.monotonic()
        poller.stop()
        runner.join(timeout=5)
        assert not runner.is_alive() and time.monotonic() - stopped < 1.5
        result = box["report"].result("slow")
        assert result.error_kind is FailureKind.STOPPED
        assert len(server.hits("/slow.xml")) == 1  # nothing retried once stopping
        assert poller.health() == []  # not the feed's failure: its state is untouched


def test_close_interrupts_a_fetch_in_progress(server, pubsub, state_path):
    feeds = [local_feed(server, "slow", "/slow.xml", trickle())]
    poller = make_poller(feeds, state_path, pubsub.publisher, quick(deadline=600.0))
    runner = threading.Thread(target=poller.poll_once)
    runner.start()
    wait_for(lambda: server.hits("/slow.xml"), what="the slow feed's request")
    started = time.monotonic()
    poller.close()  # what newswire run does on Ctrl-C once the grace for polls is over
    assert time.monotonic() - started < 1.5
    runner.join(timeout=5)
    assert not runner.is_alive()


# --- fair shares of the workers --------------------------------------------------------------------

def test_sixteen_slow_feeds_on_one_host_do_not_starve_a_feed_on_another(server, other_server, pubsub, state_path):
    slow = [local_feed(server, f"slow-{i}", f"/slow-{i}.xml", trickle()) for i in range(16)]
    good = local_feed(other_server, "good", "/good.xml", Reply(body=WIRE))
    done: dict[str, float] = {}
    settings = quick(deadline=600.0)
    settings = PollerSettings(http=settings.http, retry=settings.retry, publish_attempts=2,
                              publish_initial_wait=0.01, max_workers=5, per_host=4)
    with make_poller(slow + [good], state_path, pubsub.publisher, settings,
                     on_result=lambda r: done.setdefault(r.feed_id, time.monotonic())) as poller:
        runner = threading.Thread(target=poller.poll_once)
        started = time.monotonic()
        runner.start()
        try:
            wait_for(lambda: "good" in done, timeout=10, what="the good feed's poll")
            assert done["good"] - started < 3.0
            # The slow host holds its share, no more: four requests at once, four workers.
            wait_for(lambda: server.max_active == 4, timeout=5, what="four slow requests")
            time.sleep(0.5)
            assert server.max_active == 4 and len(server.requests) == 4
            assert poller._scheduler.most_running[server.base.removeprefix("http://")] == 4  # noqa: SLF001
        finally:
            poller.stop()
            runner.join(timeout=10)
        assert not runner.is_alive()
    pubsub.take(3)


# --- one address policy for every request ----------------------------------------------------------

def test_a_feed_on_a_private_address_needs_allow_private(server, pubsub, state_path):
    feeds = [FeedConfig("internal", server.route("/wire.xml", Reply(body=WIRE))),
             FeedConfig("allowed", server.route("/wire2.xml", Reply(body=WIRE)), allow_private=True)]
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        report = poller.poll_once()
    assert report.result("internal").error_kind is FailureKind.ADDRESS_REFUSED
    assert "allow_private" in report.result("internal").error
    assert report.result("allowed").published == 3
    assert [h.path for h in server.requests] == ["/wire2.xml"]  # the refused one never connected
    pubsub.take(3)


@pytest.mark.parametrize("target", [
    "http://10.0.0.1/feed.xml",                          # a private network
    "http://169.254.169.254/latest/meta-data/",          # the cloud metadata endpoint
    "http://[::1]:9/feed.xml",                           # loopback, IPv6
    "http://[::ffff:127.0.0.1]:9/feed.xml",              # loopback inside an IPv4-mapped address
])
def test_a_redirect_into_a_private_network_is_refused_before_connecting_and_not_retried(
        server, pubsub, state_path, target):
    feeds = [local_feed(server, "moved", "/moved.xml", Reply(status=302, location=target)),
             local_feed(server, "wire", "/wire.xml", Reply(body=WIRE))]
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        started = time.monotonic()
        report = poller.poll_once()
    assert time.monotonic() - started < 2.0  # no connect timeout to sit out
    result = report.result("moved")
    assert result.error_kind is FailureKind.ADDRESS_REFUSED and not result.error_kind.transient
    assert target.split("/")[2].strip("[]").split("]")[0] in result.error
    assert len(server.hits("/moved.xml")) == 1  # permanent: the redirect was asked for once
    assert report.result("wire").published == 3
    pubsub.take(3)


def test_an_internal_feed_may_not_redirect_to_another_port_of_its_host(server, other_server, pubsub, state_path):
    secret = other_server.route("/internal-only.xml", Reply(body=fixture("atom10_outlet.xml")))
    feeds = [local_feed(server, "internal", "/feed.xml", Reply(status=302, location=secret))]
    with make_poller(feeds, state_path, pubsub.publisher) as poller:
        result = poller.poll_once().result("internal")
    assert result.error_kind is FailureKind.ADDRESS_REFUSED and f":{other_server.port}" in result.error
    assert other_server.requests == []  # refused before connecting: nothing internal was read
    assert pubsub.pending() == []


def test_a_kept_alive_connection_is_checked_for_each_request(server, other_server, pubsub, state_path):
    # "internal" keeps a connection to its server open; "public" (no allowance) is redirected there.
    # The pooled connection must not carry a request its policy does not allow.
    internal = local_feed(server, "internal", "/feed.xml", Reply(body=WIRE))
    public = FeedConfig("public", other_server.route("/feed.xml", Reply(status=302, location=internal.url)))
    settings = PollerSettings(http=FAST.http, retry=FAST.retry, publish_attempts=2, publish_initial_wait=0.01,
                              addresses=AddressPolicy(allowed_endpoints=(
                                  f"127.0.0.1:{other_server.port}",)))  # public's own server is reachable
    with make_poller([internal, public], state_path, pubsub.publisher, settings) as poller:
        assert poller.poll_once(["internal"]).result("internal").published == 3
        result = poller.poll_once(["public"]).result("public")
    assert result.error_kind is FailureKind.ADDRESS_REFUSED
    assert len(server.hits("/feed.xml")) == 1 and len(other_server.hits("/feed.xml")) == 1
    pubsub.take(3)


def test_serving_locally_allows_exactly_the_served_host_and_port(server, other_server, pubsub, state_path):
    settings = PollerSettings(http=FAST.http, retry=FAST.retry).allowing_server(server.base + "/")
    port = server.port
    feeds = [FeedConfig("served", server.route("/wire.xml", Reply(body=WIRE)))]
    for i, spelled in enumerate((f"http://localhost:{port}", f"http://2130706433:{port}",
                                 f"http://127.0.0.1:{other_server.port}")):
        other_server.route(f"/r{i}.xml", Reply(body=WIRE))
        feeds.append(FeedConfig(f"hop-{i}", server.route(f"/hop-{i}.xml",
                                                         Reply(status=302, location=f"{spelled}/r{i}.xml"))))
    with make_poller(feeds, state_path, pubsub.publisher, settings) as poller:
        report = poller.poll_once()
    assert report.result("served").published == 3
    for i in range(3):
        assert report.result(f"hop-{i}").error_kind is FailureKind.ADDRESS_REFUSED, i
    assert other_server.requests == [] and not any(h.path.startswith("/r") for h in server.requests)
    pubsub.take(3)
