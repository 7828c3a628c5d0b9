"""``newswire run`` the way a service is run: again and again on one warehouse while its feeds grow,
stopped with SIGTERM or Ctrl-C, and killed with SIGKILL (its whole process group) at random moments.

After any mix of these, every entry ever served is exactly one article row per version it had:
none lost, none doubled, no spurious version. Each run is a real ``newswire`` process: the
embedded Pub/Sub emulator, the pollers, the streaming pipeline on the DirectRunner and a DuckDB file.
"""

from __future__ import annotations

import random
import signal
import time

import pytest

from tests.integration.service_support import (
    GrowingSite,
    article_versions,
    check_exactly_once,
    finish,
    kill_group,
    newswire,
    run_until_idle,
    wait_for_articles,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def service(tmp_path, monkeypatch):
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    site = GrowingSite(tmp_path / "site")
    return site, tmp_path / "wh.duckdb"


def test_three_runs_with_new_entries_between_them_write_every_entry_once(service, tmp_path):
    site, wh = service
    feeds = site.feeds_yaml(tmp_path / "feeds.yaml")
    for run in range(3):
        site.grow(5)
        if run == 2:
            site.correct("north", 1)  # published in the first run, corrected in the third
        run_until_idle(feeds, site.root, wh)
        check_exactly_once(site, wh)
    assert len(site.expected()) == 60
    assert article_versions(wh)[("north", "north-story-0001")] == [1, 2]


def test_a_run_after_nothing_changed_adds_nothing(service, tmp_path):
    site, wh = service
    feeds = site.feeds_yaml(tmp_path / "feeds.yaml")
    site.grow(3)
    run_until_idle(feeds, site.root, wh)
    before = article_versions(wh)
    run_until_idle(feeds, site.root, wh)
    assert article_versions(wh) == before


def test_a_feed_whose_items_all_carry_the_home_page_as_guid_keeps_every_article(service, tmp_path):
    site, wh = service
    site.shared_guids["west"] = "https://west.example.org/"
    feeds = site.feeds_yaml(tmp_path / "feeds.yaml")
    site.grow(5)
    out = run_until_idle(feeds, site.root, wh)
    site.grow(2)
    run_until_idle(feeds, site.root, wh)
    check_exactly_once(site, wh)
    assert "west" in out and "keyed by link" in out  # the run says what it found in the feed


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_a_live_run_within_30_s_and_loses_nothing(service, tmp_path, sig):
    site, wh = service
    feeds = site.feeds_yaml(tmp_path / "feeds.yaml", interval=1)
    site.grow(5)
    proc = newswire("run", "--feeds", str(feeds), "--serve", str(site.root), "--warehouse", str(wh))
    try:
        wait_for_articles(wh, 20, timeout=120, proc=proc)
        site.grow(5)  # a poll may be under way when the signal lands
        time.sleep(0.5)
        kill_group(proc, sig)
        sent = time.monotonic()
        code, out = finish(proc, timeout=60)
        took = time.monotonic() - sent
    finally:
        kill_group(proc)
    assert code == 0, out[-3000:]
    assert took < 30, f"stopping took {took:.1f} s"
    assert "stopping" in out
    assert not wh.with_name(wh.name + ".running").exists()  # a clean stop: nothing to recover
    run_until_idle(feeds, site.root, wh)  # picks up what the stopped run had not polled
    check_exactly_once(site, wh)


def test_a_second_ctrl_c_stops_at_once_and_still_loses_nothing(service, tmp_path):
    site, wh = service
    feeds = site.feeds_yaml(tmp_path / "feeds.yaml", interval=1)
    site.grow(5)
    proc = newswire("run", "--feeds", str(feeds), "--serve", str(site.root), "--warehouse", str(wh))
    try:
        wait_for_articles(wh, 5, timeout=120, proc=proc)
        site.grow(10)
        kill_group(proc, signal.SIGINT)
        time.sleep(0.3)
        kill_group(proc, signal.SIGINT)
        sent = time.monotonic()
        code, out = finish(proc, timeout=30)
        took = time.monotonic() - sent
    finally:
        kill_group(proc)
    assert code == 130, out[-3000:]
    assert took < 5, f"the second Ctrl-C took {took:.1f} s"
    run_until_idle(feeds, site.root, wh)
    check_exactly_once(site, wh)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_of_the_process_group_at_random_moments_loses_and_doubles_nothing(service, tmp_path, seed):
    rng = random.Random(seed)
    site, wh = service
    feeds = site.feeds_yaml(tmp_path / "feeds.yaml", interval=1)
    for _ in range(3):
        site.grow(rng.randint(2, 6))
        proc = newswire("run", "--feeds", str(feeds), "--serve", str(site.root), "--warehouse", str(wh))
        try:
            # Let it get somewhere (or not): the kill lands before, during or after the first writes.
            deadline = time.monotonic() + rng.uniform(2.0, 12.0)
            while time.monotonic() < deadline:
                if rng.random() < 0.3:
                    site.grow(1)  # feeds grow while it runs
                time.sleep(0.5)
        finally:
            kill_group(proc, signal.SIGKILL)
            proc.communicate()
    site.grow(2)
    run_until_idle(feeds, site.root, wh, timeout=300)
    check_exactly_once(site, wh)
