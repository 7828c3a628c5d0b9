"""``newswire run --until-idle`` on a burst far larger than the local engine used to manage: 40 feeds
of 50 entries (2,000 items) published at once, then corrections and new entries in a second run.
Every entry must be in the warehouse exactly once per version, with one raw row per message, no
dead letter, and every article in a story; the run must end on its own.

The local graph keeps state under a fixed number of keys and reads Pub/Sub in large pulls
(pipeline/runners.py, transforms/sharding.py); keyed by article as before, this burst took minutes.
"""

from __future__ import annotations

import random
import signal
import time

import duckdb
import pytest

from tests.integration.service_support import (
    GrowingSite,
    article_versions,
    check_exactly_once,
    kill_group,
    newswire,
    run_until_idle,
    wait_for_articles,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FEEDS = tuple(f"outlet{n:02d}" for n in range(40))


def test_a_burst_of_2000_items_is_written_exactly_once_and_a_second_run_adds_its_versions(tmp_path, monkeypatch):
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    site = GrowingSite(tmp_path / "site", feed_ids=FEEDS, window=60)
    wh = tmp_path / "wh.duckdb"
    feeds = site.feeds_yaml(tmp_path / "feeds.yaml")
    site.grow(50)
    started = time.monotonic()
    run_until_idle(feeds, site.root, wh, timeout=400)
    took = time.monotonic() - started
    check_exactly_once(site, wh)
    assert len(site.expected()) == 2000
    with duckdb.connect(str(wh), read_only=True) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT replay_key) FROM raw_items").fetchone() == (2000, 2000)
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM articles WHERE cluster_id IS NULL").fetchone() == (0,)
    print(f"2,000 items written in {took:.0f} s")

    # A second run: three corrections of entries from the burst, and ten new entries per feed.
    for feed_id, n in (("outlet00", 3), ("outlet17", 0), ("outlet39", 49)):
        site.correct(feed_id, n)
    site.grow(10)
    run_until_idle(feeds, site.root, wh, timeout=400)
    check_exactly_once(site, wh)
    versions = article_versions(wh)
    assert versions[("outlet17", "outlet17-story-0000")] == [1, 2]
    with duckdb.connect(str(wh), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM raw_items").fetchone() == (2000 + 3 + 400,)
        # A correction keeps the story its first version was given.
        assert conn.execute("SELECT count(*) FROM (SELECT article_id FROM articles GROUP BY article_id "
                            "HAVING count(DISTINCT cluster_id) > 1)").fetchone() == (0,)


def test_a_burst_of_10000_items_killed_mid_write_is_finished_by_the_next_run_exactly_once(tmp_path, monkeypatch):
    """200 feeds of 50 entries at once; the whole process group is SIGKILLed once a few thousand
    rows are in, while the rest are queued or in a bundle, and a second run finishes the burst."""
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    site = GrowingSite(tmp_path / "site", feed_ids=tuple(f"wire{n:03d}" for n in range(200)), window=60)
    wh = tmp_path / "wh.duckdb"
    feeds = site.feeds_yaml(tmp_path / "feeds.yaml")
    site.grow(50)
    assert len(site.expected()) == 10_000
    proc = newswire("run", "--feeds", str(feeds), "--serve", str(site.root), "--warehouse", str(wh))
    try:
        seen = wait_for_articles(wh, at_least=random.Random(10).randint(1500, 4000), timeout=600, proc=proc)
    finally:
        kill_group(proc, signal.SIGKILL)
        proc.communicate()
    assert seen < 10_000, "the burst was written before the kill; the test proves nothing"
    run_until_idle(feeds, site.root, wh, timeout=900)
    check_exactly_once(site, wh)
    with duckdb.connect(str(wh), read_only=True) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT replay_key) FROM raw_items").fetchone() == (10_000, 10_000)
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone() == (0,)
