"""The SQLite state file: bounded seen sets, validators per URL, health, and clear errors."""

import sqlite3

import pytest

from pollers import StateError, StateStore, Validators

pytestmark = pytest.mark.integration


def _deliver(store, keys, now, present=None, feed="f", url="https://a.test/rss"):
    store.record_success(feed, url, delivered=[(k, "h") for k in keys], present=present or keys,
                         validators=Validators('"e"'), status=200, bozo_reason=None,
                         next_poll_at=now + 60, now=now)


def test_seen_keys_are_bounded_per_feed_oldest_first(tmp_path):
    with StateStore(tmp_path / "s.sqlite", max_seen_per_feed=5) as store:
        for t, batch in enumerate([["a", "b", "c"], ["d", "e"], ["f", "g"]]):
            _deliver(store, batch, now=1000.0 + t)
        assert store.seen_count("f") == 5
        assert store.unseen("f", [(k, "h") for k in "abcdefg"]) == {"a", "b"}
        _deliver(store, ["x"], now=2000.0, feed="other")
        assert store.seen_count("f") == 5 and store.seen_count("other") == 1


def test_keys_still_in_the_feed_are_never_evicted(tmp_path):
    with StateStore(tmp_path / "s.sqlite", max_seen_per_feed=2) as store:
        _deliver(store, ["a", "b", "c", "d"], now=1.0)  # the feed lists more than the bound
        assert store.seen_count("f") == 4
        _deliver(store, ["e"], now=2.0, present=["e", "a"])  # a is still listed, b/c/d are gone
        assert store.unseen("f", [("a", "h"), ("e", "h"), ("b", "h")]) == {"b"}


def test_changed_content_is_unseen_again(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as store:
        _deliver(store, ["a"], now=1.0)
        assert store.unseen("f", [("a", "h")]) == set()
        assert store.unseen("f", [("a", "h2")]) == {"a"}


def test_validators_belong_to_a_url(tmp_path):
    path = tmp_path / "s.sqlite"
    with StateStore(path) as store:
        _deliver(store, ["a"], now=1.0)
        assert store.load("f", "https://a.test/rss").validators == Validators('"e"')
        assert store.load("f", "https://moved.test/rss").validators == Validators()
        store.record_failure("f", "https://moved.test/rss", kind="not-found", message="404", status=404,
                             next_poll_at=99.0, now=2.0)
    with StateStore(path) as store:  # reopened: the URL change dropped the old validators for good
        st = store.load("f", "https://a.test/rss")
        assert st.validators == Validators() and st.consecutive_failures == 1 and st.next_poll_at == 99.0
        assert store.seen_count("f") == 1  # seen items survive a URL change
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_health_tracks_failures_and_recovery(tmp_path):
    with StateStore(tmp_path / "s.sqlite") as store:
        for n in (1, 2):
            assert store.record_failure("f", "https://a.test/rss", kind="timeout", message="slow",
                                        status=None, next_poll_at=10.0 * n, now=float(n)) == n
        h = store.health()[0]
        assert (h.healthy, h.consecutive_failures, h.last_error_kind, h.last_success) == (False, 2, "timeout", None)
        _deliver(store, ["a"], now=5.0)
        h = store.health(["f"])[0]
        assert (h.healthy, h.consecutive_failures, h.last_error, h.last_success) == (True, 0, None, 5.0)
        assert store.health(["other"]) == []


def test_unusable_files_are_reported(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="cannot open poller state"):
        StateStore(junk)
    newer = tmp_path / "newer.sqlite"
    sqlite3.connect(newer).execute("PRAGMA user_version=99").connection.commit()
    with pytest.raises(StateError, match="version 99"):
        StateStore(newer)


def test_guid_problem_is_set_by_the_poll_that_found_it_and_cleared_by_one_that_did_not(tmp_path):
    problem = "5 entries share guid https://site.test/ with different links; keyed by link instead"
    with StateStore(tmp_path / "s.sqlite") as store:
        store.record_success("f", "https://a.test/rss", delivered=[("a", "h")], present=["a"],
                             validators=Validators(), status=200, bozo_reason=None, next_poll_at=60.0,
                             now=1.0, guid_problem=problem)
        assert store.health()[0].guid_problem == problem
        assert store.health()[0].healthy  # a warning about the feed, not a failing feed
        # A 304 or a failed fetch saw no entries: what the last full poll found still stands.
        store.record_not_modified("f", "https://a.test/rss", validators=Validators(), next_poll_at=120.0, now=2.0)
        store.record_failure("f", "https://a.test/rss", kind="timeout", message="slow", status=None,
                             next_poll_at=180.0, now=3.0)
        assert store.health()[0].guid_problem == problem
        _deliver(store, ["b"], now=4.0)
        assert store.health()[0].guid_problem is None


def test_a_state_file_from_before_guid_problem_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE feeds (feed_id TEXT PRIMARY KEY, url TEXT NOT NULL, etag TEXT, last_modified TEXT,
            last_attempt REAL, last_success REAL, consecutive_failures INTEGER NOT NULL DEFAULT 0,
            next_poll_at REAL NOT NULL DEFAULT 0, last_status INTEGER, last_error_kind TEXT,
            last_error TEXT, bozo_reason TEXT);
        CREATE TABLE seen (feed_id TEXT NOT NULL, item_key TEXT NOT NULL, content_hash TEXT NOT NULL,
            last_seen REAL NOT NULL, PRIMARY KEY (feed_id, item_key)) WITHOUT ROWID;
        INSERT INTO feeds (feed_id, url, etag, last_success, next_poll_at, last_status)
            VALUES ('f', 'https://a.test/rss', '"e0"', 5.0, 99.0, 200);
        INSERT INTO seen VALUES ('f', 'a', 'h', 5.0);
        PRAGMA user_version=1;
    """)
    old.close()
    with StateStore(path) as store:
        h = store.health()[0]
        assert (h.feed_id, h.last_success, h.guid_problem) == ("f", 5.0, None)
        assert store.load("f", "https://a.test/rss").validators == Validators('"e0"')
        assert store.unseen("f", [("a", "h")]) == set()  # the seen set survived
        store.record_success("f", "https://a.test/rss", delivered=[], present=["a"], validators=None,
                             status=200, bozo_reason=None, next_poll_at=120.0, now=6.0, guid_problem="x")
    with StateStore(path) as store:  # opening a migrated file again changes nothing
        assert store.health()[0].guid_problem == "x"
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1
