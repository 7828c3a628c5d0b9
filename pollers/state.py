"""Per-feed poller state in SQLite: validators, seen items, health.

State only saves traffic and work: losing it makes the next poll fetch in full and re-publish,
which the pipeline deduplicates. That is why ``synchronous=NORMAL`` is enough (in WAL mode a power
cut can lose the last commits, never corrupt the file).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .fetch import Validators

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    feed_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_attempt REAL,
    last_success REAL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_poll_at REAL NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error_kind TEXT,
    last_error TEXT,
    bozo_reason TEXT,
    guid_problem TEXT
);
CREATE TABLE IF NOT EXISTS seen (
    feed_id TEXT NOT NULL,
    item_key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (feed_id, item_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_age ON seen (feed_id, last_seen);
"""
# Columns added since version 1 files were first written: (table, column, declaration). Nullable,
# so a poller without them still reads and writes the file (no user_version bump, no lock-out).
_ADDED_COLUMNS = (
    ("feeds", "guid_problem", "TEXT"),
)


class StateError(RuntimeError):
    """The state file cannot be used (wrong version, not a database)."""


@dataclass(frozen=True)
class FeedState:
    feed_id: str
    validators: Validators
    next_poll_at: float  # unix seconds; 0 = due now
    consecutive_failures: int


@dataclass(frozen=True)
class FeedHealth:
    feed_id: str
    url: str
    healthy: bool
    consecutive_failures: int
    last_attempt: float | None
    last_success: float | None
    next_poll_at: float
    last_status: int | None
    last_error_kind: str | None
    last_error: str | None
    bozo_reason: str | None
    # What the last full poll found wrong with the feed's guids (entries keyed by link instead,
    # versions listed twice); None when it found nothing. See ``pollers.items.build_feed_items``.
    guid_problem: str | None = None


class StateStore:
    """Thread-safe: one connection guarded by a lock; every write is one short transaction."""

    def __init__(self, path: str | Path, *, max_seen_per_feed: int = 5000) -> None:
        self.path = str(path)
        # Bounded per feed; a feed listing more entries than this keeps them all (see mark_delivered).
        self.max_seen_per_feed = max_seen_per_feed
        self._lock = threading.Lock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                raise StateError(f"{self.path}: poller state version {version}, this poller reads "
                                 f"{_SCHEMA_VERSION}; move the file away to start afresh (items are "
                                 "re-published once, the pipeline deduplicates them)")
            self._db.executescript(_SCHEMA)
            self._add_missing_columns()
            self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.path}: cannot open poller state: {exc}") from exc

    def _add_missing_columns(self) -> None:
        """Migrate a file written before a column existed (CREATE TABLE IF NOT EXISTS keeps it)."""
        for table, column, decl in _ADDED_COLUMNS:
            have = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                try:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
                except sqlite3.OperationalError as exc:  # another process added it meanwhile
                    if "duplicate column" not in str(exc):
                        raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self, feed_id: str, url: str) -> FeedState:
        """State of one feed; validators are dropped when the feed's URL changed."""
        with self._lock:
            row = self._db.execute(
                "SELECT url, etag, last_modified, next_poll_at, consecutive_failures FROM feeds "
                "WHERE feed_id = ?", (feed_id,)).fetchone()
        if row is None:
            return FeedState(feed_id, Validators(), 0.0, 0)
        validators = Validators(row[1], row[2]) if row[0] == url else Validators()
        return FeedState(feed_id, validators, row[3], row[4])

    def unseen(self, feed_id: str, items: Sequence[tuple[str, str]]) -> set[str]:
        """Keys among (item_key, content_hash) that are new, or whose content changed."""
        if not items:
            return set()
        known: dict[str, str] = {}
        keys = [k for k, _ in items]
        with self._lock:
            for i in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
                chunk = keys[i:i + 500]
                known.update(self._db.execute(
                    f"SELECT item_key, content_hash FROM seen WHERE feed_id = ? AND item_key IN "
                    f"({','.join('?' * len(chunk))})", (feed_id, *chunk)).fetchall())
        return {k for k, h in items if known.get(k) != h}

    def record_success(
        self,
        feed_id: str,
        url: str,
        *,
        delivered: Iterable[tuple[str, str]],
        present: Iterable[str],
        validators: Validators | None,
        status: int,
        bozo_reason: str | None,
        next_poll_at: float,
        now: float | None = None,
        error: tuple[str, str] | None = None,
        guid_problem: str | None = None,
    ) -> None:
        """One transaction for a poll that fetched and published.

        ``delivered`` are confirmed publishes; ``present`` all keys in the feed now (kept fresh so
        they are not evicted while the feed still lists them). ``validators`` is None when some
        publish failed: keeping the old ones makes the next poll fetch in full and resend. A
        non-None ``error`` records such a partial failure. ``guid_problem`` is what this poll found
        wrong with the feed's guids; None clears what an earlier poll found.
        """
        now = time.time() if now is None else now
        delivered = list(delivered)
        present = list(present)
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO seen (feed_id, item_key, content_hash, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (feed_id, item_key) DO UPDATE SET content_hash = excluded.content_hash, "
                "last_seen = excluded.last_seen",
                [(feed_id, k, h, now) for k, h in delivered])
            self._db.executemany("UPDATE seen SET last_seen = ? WHERE feed_id = ? AND item_key = ?",
                                 [(now, feed_id, k) for k in present])
            self._evict(feed_id, keep=max(self.max_seen_per_feed, len(present)))
            self._upsert_feed(feed_id, url, now)
            failures_sql = "consecutive_failures + 1" if error else "0"
            # A partial failure keeps the feed's previous last_success.
            self._db.execute(
                f"UPDATE feeds SET last_attempt = ?, last_success = COALESCE(?, last_success), "
                f"last_status = ?, consecutive_failures = {failures_sql}, next_poll_at = ?, "
                f"bozo_reason = ?, last_error_kind = ?, last_error = ?, guid_problem = ? WHERE feed_id = ?",
                (now, None if error else now, status, next_poll_at, bozo_reason,
                 error[0] if error else None, error[1] if error else None, guid_problem, feed_id))
            if validators is not None:
                self._db.execute("UPDATE feeds SET etag = ?, last_modified = ? WHERE feed_id = ?",
                                 (validators.etag, validators.last_modified, feed_id))

    def record_not_modified(self, feed_id: str, url: str, *, validators: Validators,
                            next_poll_at: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._upsert_feed(feed_id, url, now)
            self._db.execute(
                "UPDATE feeds SET last_attempt = ?, last_success = ?, last_status = 304, "
                "consecutive_failures = 0, next_poll_at = ?, last_error_kind = NULL, last_error = NULL, "
                "etag = ?, last_modified = ? WHERE feed_id = ?",
                (now, now, next_poll_at, validators.etag, validators.last_modified, feed_id))

    def record_failure(self, feed_id: str, url: str, *, kind: str, message: str, status: int | None,
                       next_poll_at: float, now: float | None = None) -> int:
        """Record a failed poll; return the feed's consecutive failure count."""
        now = time.time() if now is None else now
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._upsert_feed(feed_id, url, now)
            self._db.execute(
                "UPDATE feeds SET last_attempt = ?, last_status = ?, consecutive_failures = "
                "consecutive_failures + 1, next_poll_at = ?, last_error_kind = ?, last_error = ? "
                "WHERE feed_id = ?", (now, status, next_poll_at, kind, message, feed_id))
            return self._db.execute("SELECT consecutive_failures FROM feeds WHERE feed_id = ?",
                                    (feed_id,)).fetchone()[0]

    def failures(self, feed_id: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT consecutive_failures FROM feeds WHERE feed_id = ?",
                                   (feed_id,)).fetchone()
        return row[0] if row else 0

    def seen_count(self, feed_id: str) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM seen WHERE feed_id = ?", (feed_id,)).fetchone()[0]

    def health(self, feed_ids: Iterable[str] | None = None) -> list[FeedHealth]:
        with self._lock:
            rows = self._db.execute(
                "SELECT feed_id, url, consecutive_failures, last_attempt, last_success, next_poll_at, "
                "last_status, last_error_kind, last_error, bozo_reason, guid_problem FROM feeds "
                "ORDER BY feed_id").fetchall()
        wanted = set(feed_ids) if feed_ids is not None else None
        return [FeedHealth(feed_id=r[0], url=r[1], healthy=r[2] == 0, consecutive_failures=r[2],
                           last_attempt=r[3], last_success=r[4], next_poll_at=r[5], last_status=r[6],
                           last_error_kind=r[7], last_error=r[8], bozo_reason=r[9], guid_problem=r[10])
                for r in rows if wanted is None or r[0] in wanted]

    def _upsert_feed(self, feed_id: str, url: str, now: float) -> None:
        # A changed URL invalidates the validators, which belong to the old URL.
        self._db.execute(
            "INSERT INTO feeds (feed_id, url, last_attempt) VALUES (?, ?, ?) ON CONFLICT (feed_id) DO UPDATE "
            "SET etag = CASE WHEN url = excluded.url THEN etag END, "
            "last_modified = CASE WHEN url = excluded.url THEN last_modified END, url = excluded.url",
            (feed_id, url, now))

    def _evict(self, feed_id: str, keep: int) -> None:
        count = self._db.execute("SELECT count(*) FROM seen WHERE feed_id = ?", (feed_id,)).fetchone()[0]
        if count > keep:
            self._db.execute(
                "DELETE FROM seen WHERE feed_id = ? AND item_key IN (SELECT item_key FROM seen WHERE feed_id = ? "
                "ORDER BY last_seen ASC LIMIT ?)", (feed_id, feed_id, count - keep))
