"""State of a stateful step sharded over a fixed number of keys, for the local streaming engine.

Beam's BundleBasedDirectRunner keeps an entry for every key a stateful step has ever seen, and on
every bundle its watermark manager walks all of them looking for due timers
(``_TransformWatermarks.extract_transform_timers``): keyed by article, by LSH band or by feed, a
local job slowed down with every article it had processed. The local graph therefore keys such a
step by one of a fixed number of shards (:func:`shard_of`), with the per-article (or per-feed)
values of a shard in one value, and one timer per shard. Dataflow keeps the per-article keys: it
spreads keys over workers, and ``--update`` maps state by them.

A shard's value may hold thousands of entries, so it is not read and written per element. It is
kept live in the worker's memory (:class:`LiveShards`, by DoFn identity and shard) and persisted as
a snapshot plus a log of the changes since (:class:`Journal`):

- a change is one small log append and a fresh token; the live value is trusted while its token
  equals the state's, which a failed bundle (its writes are discarded) or another worker taking the
  shard over breaks, and it is then rebuilt from the snapshot and the log;
- the log is folded into a new snapshot once it is as long as the value is big (and at least
  ``min_log`` changes), so a change costs O(1) amortised, written and replayed, however big the
  shard grows: a fold every fixed number of changes would cost O(shard) each time.
"""

from __future__ import annotations

import itertools
import os
import pickle
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from apache_beam.coders import BytesCoder, PickleCoder, StrUtf8Coder, VarIntCoder
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec
from apache_beam.utils.timestamp import Timestamp

__all__ = [
    "LOCAL_SHARDS",
    "MIN_LOG",
    "Held",
    "Journal",
    "LiveShards",
    "expire_at_spec",
    "log_spec",
    "new_token",
    "round_up",
    "shard_of",
    "snapshot_spec",
    "token_spec",
]

T = TypeVar("T")

# Shards of a sharded step in the local graph. The DirectRunner runs one bundle at a time, so more
# shards only make more keys to walk; a few keep each snapshot a fraction of the state.
LOCAL_SHARDS = 16
# Fold the log into a snapshot no sooner than this many changes, so that a small value is not
# snapshotted on every change.
MIN_LOG = 256

# Tokens only need to differ from every other token the state could hold: a random prefix per
# process and a counter (a uuid4 per change read the system's random source, a tenth of a step).
_TOKEN_PREFIX = os.urandom(8).hex()
_TOKENS = itertools.count()


def new_token() -> str:
    return f"{_TOKEN_PREFIX}-{next(_TOKENS)}"


def shard_of(key: str | bytes, shards: int) -> str:
    """The shard of a key: a stable hash (the same in every process and run), as a short key."""
    data = key.encode("utf-8") if isinstance(key, str) else key
    return f"shard-{zlib.crc32(data) % shards:03d}"


def round_up(micros: int, tick: int) -> int:
    """``micros`` rounded up to a multiple of ``tick``: a timer per tick rather than per entry."""
    return -(-micros // tick) * tick


def schedule_expiry(due: int, tick: int, expire_at, expiry, *, reset: bool = False) -> None:
    """Set a shard's expiry timer at ``due`` rounded up to ``tick`` when that is earlier than the one
    set (``expire_at`` remembers it); ``reset`` replaces it, after an expiry pass."""
    wanted = round_up(due, tick)
    current = None if reset else expire_at.read()
    if current is None or wanted < current:
        expiry.set(Timestamp(micros=wanted))
        expire_at.write(wanted)


def snapshot_spec() -> ReadModifyWriteStateSpec:
    return ReadModifyWriteStateSpec("snapshot", BytesCoder())


def log_spec() -> BagStateSpec:
    return BagStateSpec("log", PickleCoder())


def token_spec() -> ReadModifyWriteStateSpec:
    return ReadModifyWriteStateSpec("token", StrUtf8Coder())


def expire_at_spec() -> ReadModifyWriteStateSpec:
    """When the shard's one expiry timer is set for (micros), so it is moved only when earlier."""
    return ReadModifyWriteStateSpec("expire_at", VarIntCoder())


@dataclass
class Held(Generic[T]):
    """A shard's live value, the state token it matches and the length of the log since its snapshot."""

    value: T
    token: str | None
    log_length: int


class Journal(Generic[T]):
    """How a step's shard value is made (``new``), changed by a logged change (``apply``), measured
    (``size``: what a snapshot costs, in log entries' worth) and pickled.

    ``apply(value, change)`` must be deterministic: a rebuild replays the log through it.
    """

    def __init__(self, new: Callable[[], T], apply: Callable[[T, Any], None], size: Callable[[T], int],
                 *, min_log: int | None = None, dumps: Callable[[T], bytes] | None = None,
                 loads: Callable[[bytes], T] | None = None) -> None:
        min_log = MIN_LOG if min_log is None else min_log
        if min_log < 1:
            raise ValueError(f"min_log must be positive, got {min_log}")
        self.new = new
        self.apply = apply
        self.size = size
        self.min_log = min_log
        self.dumps = dumps or _dumps
        self.loads = loads or pickle.loads

    def rebuild(self, snapshot, log) -> tuple[T, int]:
        """The value from state: its snapshot with the logged changes replayed; and their number."""
        blob = snapshot.read()
        value = self.loads(blob) if blob else self.new()
        replayed = 0
        for change in log.read():
            self.apply(value, change)
            replayed += 1
        return value, replayed

    def record(self, held: Held[T], change, *, snapshot, log, token) -> None:
        """Log a change already made to ``held.value``; fold the log into a snapshot when due."""
        log.add(change)
        held.log_length += 1
        if held.log_length >= max(self.min_log, self.size(held.value)):
            snapshot.write(self.dumps(held.value))
            log.clear()
            held.log_length = 0
        held.token = new_token()
        token.write(held.token)

    def clear(self, held: Held[T], *, snapshot, log, token) -> None:
        """Drop the shard's state (nothing left in it); the live value starts empty again."""
        for state in (snapshot, log, token):
            state.clear()
        held.value, held.token, held.log_length = self.new(), None, 0


def _dumps(value) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


class LiveShards:
    """Live shard values by (DoFn identity, shard). The runner may rebuild a DoFn object for every
    bundle (the DirectRunner does), so a module-level instance holds them; ``capacity`` bounds how
    many stay live across all of a process's pipelines (tests build many)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._held: OrderedDict[tuple[str, str], Held] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def load(self, owner: str, shard: str, journal: Journal[T], *, snapshot, log, token,
             on_rebuild: Callable[[], None] | None = None, keep: bool = True) -> Held[T]:
        """The shard's live value, rebuilt from state unless the one held matches the state's
        token. ``keep=False`` neither uses nor keeps a live value: every element rebuilds it."""
        key = (owner, shard)
        current = token.read()
        held = self._held.get(key) if keep else None
        if held is not None and current is not None and held.token == current:
            self._held.move_to_end(key)
            return held
        if on_rebuild is not None:
            on_rebuild()
        value, replayed = journal.rebuild(snapshot, log)
        held = Held(value, current, replayed)
        if keep and self.capacity > 0:
            self._held[key] = held
            self._held.move_to_end(key)
            while len(self._held) > self.capacity:
                self._held.popitem(last=False)
        return held
