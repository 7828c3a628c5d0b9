"""The emulator's durable state: one SQLite file in the data directory.

Write-through: the broker keeps serving from its in-memory structures and records here every
change a restart must keep (topics, subscriptions, messages, acknowledgement state, the id
sequence). Changes gather while the broker's lock is held and go to disk in one transaction
before the lock is released, so a request that returned has been committed. Leases and
delivery counts are not kept: after a restart every unacked message is ready again.

The file is opened in exclusive locking mode and held until ``close``: a second emulator on
the same directory fails at once with ``StoreLocked`` instead of sharing the file.
"""

import base64
import dataclasses
import enum
import itertools
import json
import logging
import os
import sqlite3
import threading
import types
import typing
from collections.abc import Mapping as AbcMapping
from collections.abc import Sequence as AbcSequence
from collections.abc import Set as AbcSet
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Sequence

from emulator.model import Message, SubscriptionConfig, TopicConfig, make_message

_LOG = logging.getLogger(__name__)

FILE_NAME = "pubsub.sqlite"
# Bump when the tables change shape; a file from a newer emulator is refused, not guessed at.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE topics (name TEXT PRIMARY KEY, config TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE subscriptions (name TEXT PRIMARY KEY, config TEXT NOT NULL) WITHOUT ROWID;
-- One row per published message, shared by the subscriptions that hold it.
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY,
    data BLOB NOT NULL,
    attributes TEXT NOT NULL,
    ordering_key TEXT NOT NULL,
    publish_time_us INTEGER NOT NULL
);
-- What each subscription still holds: unacked messages, and acked ones it retains.
CREATE TABLE entries (
    subscription TEXT NOT NULL,
    seq INTEGER NOT NULL,
    acked INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subscription, seq)
) WITHOUT ROWID;
-- For dropping a message once the last subscription holding it lets go.
CREATE INDEX entries_by_seq ON entries (seq);
"""

_PUT_TOPIC = "INSERT OR REPLACE INTO topics (name, config) VALUES (?, ?)"
_DELETE_TOPIC = "DELETE FROM topics WHERE name = ?"
_PUT_SUBSCRIPTION = "INSERT OR REPLACE INTO subscriptions (name, config) VALUES (?, ?)"
_DELETE_SUBSCRIPTION = "DELETE FROM subscriptions WHERE name = ?"
_DELETE_ENTRIES = "DELETE FROM entries WHERE subscription = ?"
_INSERT_MESSAGE = (
    "INSERT INTO messages (seq, data, attributes, ordering_key, publish_time_us) "
    "VALUES (?, ?, ?, ?, ?)"
)
_INSERT_ENTRY = "INSERT INTO entries (subscription, seq) VALUES (?, ?)"
_SET_ACKED = "UPDATE entries SET acked = ? WHERE subscription = ? AND seq = ?"
_DROP_ENTRY = "DELETE FROM entries WHERE subscription = ? AND seq = ?"
_FORGET_MESSAGE = (
    "DELETE FROM messages WHERE seq = ?1 AND NOT EXISTS (SELECT 1 FROM entries WHERE seq = ?1)"
)
_FORGET_UNHELD = (
    "DELETE FROM messages WHERE NOT EXISTS (SELECT 1 FROM entries WHERE entries.seq = messages.seq)"
)
_PUT_META = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"

# Durability per transaction. WAL with synchronous=NORMAL survives the process being killed
# (SIGKILL, OOM): a commit is in the WAL file before COMMIT returns, and the OS keeps it.
# Surviving power loss as well needs FULL, an fsync of the WAL on every commit. Publishes,
# admin changes and seeks use FULL: a lost confirmed publish or a lost seek back loses
# messages. Acks, nacks, retention pruning and dead-letter moves use NORMAL: losing one only
# brings messages back (redelivery, which subscribers handle anyway), and since the WAL is
# written in order, the next FULL commit makes them durable too. Measured (python -m
# benchmarks emulator, 1 KB messages through the client library): FULL and NORMAL publish
# rates differ by less than run-to-run noise, both about 3/4 of the in-memory rate.
_SYNC_DURABLE = "FULL"
_SYNC_RECOVERABLE = "NORMAL"


class StoreLocked(OSError):
    """Another emulator already has the data directory open."""


@dataclass
class Snapshot:
    """Everything a store holds, as the broker loads it on start."""

    topics: list[TopicConfig]
    subscriptions: list[SubscriptionConfig]
    # Per subscription, in publish order: each message and whether it is acked.
    entries: dict[str, list[tuple[Message, bool]]] = field(default_factory=dict)
    next_seq: int = 1
    last_publish_us: int = 0


class Store:
    """The SQLite file of one data directory; thread-safe, one writer at a time."""

    def __init__(self, data_dir: str | os.PathLike) -> None:
        directory = Path(data_dir)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()
        # The pending transaction: (sql, params) in the order the changes happened, messages
        # that may have lost their last holder, and meta values to write.
        self._ops: list[tuple[str, tuple]] = []
        self._released: set[int] = set()
        self._forget_unheld = False
        self._meta: dict[str, int] = {}
        self._sync: str | None = None
        self._conn = _connect(self.path)

    # -- reading -----------------------------------------------------------------------------

    def load(self) -> Snapshot:
        with self._lock:
            conn = self._conn
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            snapshot = Snapshot(
                topics=[
                    decode_config(TopicConfig, text)
                    for (text,) in conn.execute("SELECT config FROM topics ORDER BY name")
                ],
                subscriptions=[
                    decode_config(SubscriptionConfig, text)
                    for (text,) in conn.execute("SELECT config FROM subscriptions ORDER BY name")
                ],
                next_seq=meta.get("next_seq", 1),
                last_publish_us=meta.get("last_publish_us", 0),
            )
            messages: dict[int, Message] = {}
            rows = conn.execute(
                "SELECT e.subscription, e.acked, m.seq, m.data, m.attributes, m.ordering_key, "
                "m.publish_time_us FROM entries e JOIN messages m ON m.seq = e.seq "
                "ORDER BY e.subscription, e.seq"
            )
            for sub, acked, seq, data, attributes, key, publish_time_us in rows:
                message = messages.get(seq)
                if message is None:
                    message = make_message(seq, data, json.loads(attributes), key, publish_time_us)
                    messages[seq] = message
                snapshot.entries.setdefault(sub, []).append((message, bool(acked)))
        _LOG.info(
            "Loaded %d topics, %d subscriptions and %d messages from %s",
            len(snapshot.topics),
            len(snapshot.subscriptions),
            len(messages),
            self.path,
        )
        return snapshot

    # -- recording changes (committed by ``commit``) -----------------------------------------

    @property
    def pending(self) -> bool:
        return bool(self._ops or self._meta or self._forget_unheld)

    def put_topic(self, config: TopicConfig) -> None:
        self._ops.append((_PUT_TOPIC, (config.name, encode_config(config))))

    def delete_topic(self, name: str) -> None:
        self._ops.append((_DELETE_TOPIC, (name,)))

    def put_subscription(self, config: SubscriptionConfig) -> None:
        self._ops.append((_PUT_SUBSCRIPTION, (config.name, encode_config(config))))

    def delete_subscription(self, name: str) -> None:
        self._ops.append((_DELETE_SUBSCRIPTION, (name,)))
        self._ops.append((_DELETE_ENTRIES, (name,)))
        self._forget_unheld = True

    def publish(
        self, messages: Sequence[Message], subscriptions: Sequence[str], next_seq: int
    ) -> None:
        """Record published messages for the subscriptions holding them, and the id sequence.

        The sequence is recorded even when no subscription holds the messages, so their ids
        are never handed out again.
        """
        if subscriptions:
            for m in messages:
                attributes = json.dumps(dict(m.attributes), separators=(",", ":"))
                self._ops.append(
                    (_INSERT_MESSAGE, (m.seq, m.data, attributes, m.ordering_key, m.publish_time_us))
                )
            for sub in subscriptions:
                for m in messages:
                    self._ops.append((_INSERT_ENTRY, (sub, m.seq)))
        self._meta["next_seq"] = next_seq
        self._meta["last_publish_us"] = messages[-1].publish_time_us

    def set_acked(self, subscription: str, seq: int, acked: bool) -> None:
        self._ops.append((_SET_ACKED, (int(acked), subscription, seq)))

    def drop(self, subscription: str, seq: int) -> None:
        self._ops.append((_DROP_ENTRY, (subscription, seq)))
        self._released.add(seq)

    # -- committing --------------------------------------------------------------------------

    def commit(self, durable: bool) -> None:
        """Write the recorded changes in one transaction; ``durable``: survive power loss too.

        The recorded changes are consumed even when the write fails: the caller must treat
        the store as out of step with memory from then on.
        """
        with self._lock:
            ops, self._ops = self._ops, []
            released, self._released = self._released, set()
            forget_unheld, self._forget_unheld = self._forget_unheld, False
            meta, self._meta = self._meta, {}
            if not (ops or meta or forget_unheld):
                return
            conn = self._conn
            sync = _SYNC_DURABLE if durable else _SYNC_RECOVERABLE
            if sync != self._sync:
                conn.execute(f"PRAGMA synchronous = {sync}")
                self._sync = sync
            conn.execute("BEGIN")
            try:
                # Consecutive changes of one kind go in one executemany; order is kept.
                for sql, group in itertools.groupby(ops, key=itemgetter(0)):
                    conn.executemany(sql, [params for _, params in group])
                if forget_unheld:
                    conn.execute(_FORGET_UNHELD)
                elif released:
                    conn.executemany(_FORGET_MESSAGE, [(seq,) for seq in released])
                if meta:
                    conn.executemany(_PUT_META, meta.items())
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise

    def close(self) -> None:
        """Release the file (and its lock); later commits fail."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _connect(path: Path) -> sqlite3.Connection:
    # timeout=0: a locked file is another emulator's, and waiting for it would only hang.
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        # Exclusive before WAL: the lock is then held for the connection's life and the WAL
        # index lives in this process's memory (no -shm file another process could map).
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            raise OSError(f"Cannot use {path}: SQLite refused WAL mode there (got {mode!r})")
        conn.execute("BEGIN EXCLUSIVE")  # take the lock now, not at the first publish
        (has_meta,) = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'meta'"
        ).fetchone()
        if not has_meta:
            # Statement by statement: executescript would commit first and lose atomicity.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(_PUT_META, ("schema_version", SCHEMA_VERSION))
        else:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = row[0] if row else None
            if version != SCHEMA_VERSION:
                raise OSError(
                    f"Cannot use {path}: it has schema version {version}, this emulator "
                    f"reads version {SCHEMA_VERSION}"
                )
        conn.execute("COMMIT")
    except sqlite3.OperationalError as e:
        conn.close()
        if "locked" in str(e):
            raise StoreLocked(
                f"Cannot use {path}: another Pub/Sub emulator has it open ({e})"
            ) from e
        raise OSError(f"Cannot open {path}: {e}") from e
    except sqlite3.DatabaseError as e:
        conn.close()
        raise OSError(f"Cannot open {path}: {e}") from e
    except BaseException:
        conn.close()
        raise
    return conn


# -- configs as JSON -------------------------------------------------------------------------
# Generic over the config dataclasses, so a field added to TopicConfig or SubscriptionConfig
# (or to a record nested in one) is stored without touching this module. A field missing
# from an older file takes its default; a stored field the code no longer has is ignored.


def encode_config(config: Any) -> str:
    return json.dumps(_encode(config), sort_keys=True, separators=(",", ":"))


def decode_config(cls: type, text: str) -> Any:
    return _decode(cls, json.loads(text))


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return _encode(value.value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, AbcMapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"Cannot store a {type(value).__name__} in a config: {value!r}")


def _decode(tp: Any, raw: Any) -> Any:
    if raw is None:
        return None
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        for option in options:
            try:
                return _decode(option, raw)
            except (TypeError, ValueError, KeyError):
                continue
        raise ValueError(f"Stored value {raw!r} fits none of {tp}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(raw, dict):
            raise TypeError(f"Expected an object for {tp.__name__}, got {raw!r}")
        hints = typing.get_type_hints(tp)
        known = {f.name for f in dataclasses.fields(tp) if f.init}
        return tp(**{k: _decode(hints[k], v) for k, v in raw.items() if k in known})
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(raw)
    if tp in (bytes, bytearray):
        return tp(base64.b64decode(raw))
    args = typing.get_args(tp)
    if isinstance(origin, type) and issubclass(origin, AbcMapping):
        value_type = args[1] if len(args) == 2 else Any
        return {k: _decode(value_type, v) for k, v in raw.items()}
    if isinstance(origin, type) and issubclass(origin, AbcSequence | AbcSet):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return tuple(_decode(a, v) for a, v in zip(args, raw, strict=True))
        items = [_decode(args[0] if args else Any, v) for v in raw]
        if issubclass(origin, (list, set, frozenset)):
            return origin(items)
        return tuple(items)  # tuples and abstract sequences: immutable, as frozen configs want
    if tp is float and isinstance(raw, int):
        return float(raw)
    return raw
