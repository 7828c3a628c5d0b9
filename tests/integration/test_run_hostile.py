"""``newswire run`` beside a feed server that trickles its answer one byte at a time: the run still
ends (the fetch has a deadline), and Ctrl-C ends it at once (fetches in progress are interrupted)."""

from __future__ import annotations

import signal
import time

import duckdb
import pytest

from tests.integration.feedserver import FeedServer, Reply, fixture
from tests.integration.service_support import finish, kill_group, newswire, wait_for_articles

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    site = tmp_path / "site"
    site.mkdir()
    (site / "good.xml").write_bytes(fixture("rss20_wire.xml"))
    with FeedServer() as slow:
        url = slow.route("/slow.xml", Reply(body=fixture("atom10_outlet.xml"), trickle=0.5, trickle_headers=True))
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text("feeds:\n"
                         "  - id: good\n    url: '{serve}/good.xml'\n"
                         f"  - id: slow\n    url: {url}\n    allow_private: true\n", encoding="utf-8")
        yield feeds, site, tmp_path / "wh.duckdb", slow


def test_until_idle_ends_beside_a_trickling_feed(setup):
    feeds, site, wh, slow = setup
    started = time.monotonic()
    proc = newswire("run", "--feeds", str(feeds), "--serve", str(site), "--warehouse", str(wh), "--until-idle",
                    "--fetch-deadline", "2")
    code, out = finish(proc, timeout=180)
    assert code == 0, out[-3000:]
    assert time.monotonic() - started < 120
    assert "unhealthy feed slow" in out and "timeout" in out
    with duckdb.connect(str(wh), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM articles WHERE feed_id = 'good'").fetchone()[0] == 3


def test_ctrl_c_interrupts_a_fetch_that_would_take_minutes(setup):
    feeds, site, wh, slow = setup
    proc = newswire("run", "--feeds", str(feeds), "--serve", str(site), "--warehouse", str(wh), "--until-idle")
    try:
        wait_for_articles(wh, 3, timeout=120, proc=proc)  # the good feed is in; the slow one trickles on
        assert slow.hits("/slow.xml")
        kill_group(proc, signal.SIGINT)
        sent = time.monotonic()
        code, out = finish(proc, timeout=60)
        took = time.monotonic() - sent
    finally:
        kill_group(proc)
    assert code == 130, out[-3000:]
    # Well inside the 25 s after which the run would exit anyway: the trickle did not hold it.
    assert took < 10, f"stopping took {took:.1f} s:\n{out[-2000:]}"
    assert "exiting" not in out and "stopping at once" not in out
