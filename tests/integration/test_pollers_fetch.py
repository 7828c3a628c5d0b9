"""One feed fetch against a real local HTTP server: conditional GET, limits, redirects, retries."""

import gzip
import threading

import pytest

from pollers import (
    DEFAULT_USER_AGENT,
    AddressPolicy,
    FailureKind,
    HttpSettings,
    PollError,
    RetryPolicy,
    Validators,
    call_with_retries,
)
from pollers import fetch_once as _fetch_once

from .feedserver import FeedServer, Reply, fixture

pytestmark = pytest.mark.integration

SETTINGS = HttpSettings(connect_timeout=2.0, read_timeout=2.0, max_body_bytes=256 * 1024, max_redirects=3)
LOCAL = AddressPolicy(allow_private=True)  # the test server is on loopback


def fetch_once(client, url, validators, settings, **kw):
    """pollers.fetch_once, allowed to reach the loopback test server unless told otherwise."""
    kw.setdefault("policy", LOCAL)
    return _fetch_once(client, url, validators, settings, **kw)


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


@pytest.fixture
def client():
    with SETTINGS.client() as c:
        yield c


def _fail(client, url, settings=SETTINGS, validators=Validators()) -> PollError:
    with pytest.raises(PollError) as err:
        fetch_once(client, url, validators, settings)
    return err.value


def test_conditional_get_uses_stored_validators(server, client):
    url = server.route("/rss", Reply(body=fixture("rss20_wire.xml"), etag='"v1"',
                                     last_modified="Fri, 01 Mar 2024 12:00:00 GMT"))
    first = fetch_once(client, url, Validators(), SETTINGS)
    assert first.status == 200 and first.body == fixture("rss20_wire.xml")
    assert first.validators == Validators('"v1"', "Fri, 01 Mar 2024 12:00:00 GMT")
    second = fetch_once(client, url, first.validators, SETTINGS)
    assert second.not_modified and second.body is None and second.validators == first.validators
    hits = server.hits("/rss")
    assert "if-none-match" not in hits[0].headers
    assert hits[1].headers["if-none-match"] == '"v1"'
    assert hits[1].headers["if-modified-since"] == "Fri, 01 Mar 2024 12:00:00 GMT"
    assert [h.status for h in hits] == [200, 304]


def test_descriptive_user_agent_and_gzip(server, client):
    url = server.route("/gz", Reply(body=fixture("atom10_outlet.xml"), gzip=True))
    result = fetch_once(client, url, Validators(), SETTINGS)
    assert result.body == fixture("atom10_outlet.xml")
    seen = server.hits("/gz")[0].headers
    assert seen["user-agent"] == DEFAULT_USER_AGENT and DEFAULT_USER_AGENT.startswith("newswire/")
    assert "gzip" in seen["accept-encoding"]


@pytest.mark.parametrize("status, kind", [(404, FailureKind.NOT_FOUND), (410, FailureKind.GONE),
                                          (403, FailureKind.CLIENT_ERROR), (502, FailureKind.SERVER_ERROR)])
def test_statuses_are_classified(server, client, status, kind):
    err = _fail(client, server.route("/x", Reply(status=status, body=b"nope")))
    assert err.kind is kind and err.status == status


def test_oversized_body_with_content_length_is_refused_before_reading(server, client):
    big = b"<rss>" + b" " * (SETTINGS.max_body_bytes + 1) + b"</rss>"
    err = _fail(client, server.route("/big", Reply(body=big)))
    assert err.kind is FailureKind.TOO_LARGE and "Content-Length" in err.detail


def test_oversized_chunked_body_stops_reading_at_the_limit(server, client):
    big = b"<rss>" + b"x" * (4 * SETTINGS.max_body_bytes) + b"</rss>"
    err = _fail(client, server.route("/chunked", Reply(body=big, chunked=True)))
    assert err.kind is FailureKind.TOO_LARGE and "stopped reading" in err.detail


def test_gzip_bomb_is_stopped_while_decompressing(server, client):
    # 64 MB of zeros compress to ~64 kB: under the limit on the wire, far over it decoded.
    bomb = b"\0" * (64 * 1024 * 1024)
    assert len(gzip.compress(bomb)) < SETTINGS.max_body_bytes
    err = _fail(client, server.route("/bomb", Reply(body=bomb, gzip=True, chunked=True)))
    assert err.kind is FailureKind.TOO_LARGE and "decompresses" in err.detail


def test_unrequested_content_encoding_is_refused(server, client):
    url = server.route("/br", Reply(body=b"\x0b\x02\x80hello\x03", headers={"Content-Encoding": "br"}))
    assert _fail(client, url).kind is FailureKind.UNSUPPORTED_ENCODING


def test_redirects_are_followed_up_to_the_limit(server, client):
    target = server.route("/final", Reply(body=fixture("rss10_bulletin.rdf")))
    server.route("/r1", Reply(status=301, location="/r2"))
    server.route("/r2", Reply(status=302, location=target))
    result = fetch_once(client, server.url("/r1"), Validators('"e"'), SETTINGS)
    assert result.url == target and result.body == fixture("rss10_bulletin.rdf")
    assert server.hits("/final")[0].headers["if-none-match"] == '"e"'  # still conditional

    server.route("/loop", Reply(status=302, location="/loop"))
    err = _fail(client, server.url("/loop"))
    assert err.kind is FailureKind.TOO_MANY_REDIRECTS
    assert len(server.hits("/loop")) == SETTINGS.max_redirects + 1


def test_timeout_is_transient_and_retried(server, client):
    settings = HttpSettings(connect_timeout=1.0, read_timeout=0.3)
    slow = Reply(body=b"late", delay=5.0)
    url = server.route("/slow", slow, slow, Reply(body=fixture("rss20_wire.xml")))
    err = _fail(client, url, settings)
    assert err.kind is FailureKind.TIMEOUT and err.transient
    result = call_with_retries(lambda: fetch_once(client, url, Validators(), settings),
                               RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05))
    assert result.status == 200 and len(server.hits("/slow")) == 3


def test_connection_refused_is_transient(client):
    with FeedServer() as gone:
        url = gone.url("/rss")
    err = _fail(client, url)
    assert err.kind is FailureKind.CONNECTION and err.transient


def test_server_error_then_success_is_retried(server, client):
    url = server.route("/flaky", Reply(status=500), Reply(status=503), Reply(body=fixture("rss20_wire.xml")))
    result = call_with_retries(lambda: fetch_once(client, url, Validators(), SETTINGS),
                               RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05))
    assert result.status == 200
    assert [h.status for h in server.hits("/flaky")] == [500, 503, 200]


def test_retry_after_is_honoured_measured_on_the_server(server, client):
    url = server.route("/limited", Reply(status=429, headers={"Retry-After": "1"}),
                       Reply(body=fixture("rss20_wire.xml")))
    result = call_with_retries(lambda: fetch_once(client, url, Validators(), SETTINGS),
                               RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05))
    assert result.status == 200
    first, second = server.hits("/limited")
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 1.0


def test_concurrent_fetches_share_one_client(server, client):
    url = server.route("/rss", Reply(body=fixture("rss20_wire.xml")))
    results, errors = [], []

    def worker():
        try:
            results.append(fetch_once(client, url, Validators(), SETTINGS).status)
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)
    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results == [200] * 16
