"""Beam wrappers of identity: units keyed by article (or by shard), repeats dropped and versions
numbered.

Streaming, two keyings of the same rule (``next_version``) that give the same rows:

- by article (:class:`DedupVersionsStateful`): what Dataflow runs, one key per article;
- by shard (:class:`DedupVersionsSharded`): the local graph, the articles of one of a fixed number
  of shards in one value (``transforms.sharding``), because the local engine walks every key it has
  ever seen on every bundle.

Batch groups each article's units (``_DedupGroup``).
"""

from __future__ import annotations

import pickle
import uuid
from datetime import datetime, timedelta, timezone

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration, Timestamp

from transforms import coders  # noqa: F401 - registers the unit's coder
from transforms import sharding
from transforms.model import Unit

from .versions import VersionState, next_version

# Sharded dedup drops the articles due by then once per this much event time: an article's state
# then lives at most this long past its TTL (7 days by default).
EXPIRY_TICK = timedelta(hours=1)
_MICROS = 1_000_000


def unit_key(unit: Unit) -> str:
    """Dedup key: the article's id, or the message id for a unit without an article."""
    article = unit.article
    return article["article_id"] if article else "message:" + unit.message_id


def dedup_key(unit: Unit, shards: int | None) -> str:
    """The key the dedup step is keyed by: ``unit_key``, or its shard when sharded."""
    key = unit_key(unit)
    return key if shards is None else sharding.shard_of(key, shards)


class _VersionCounters:
    def __init__(self) -> None:
        self.duplicates = Metrics.counter("newswire", "duplicates")
        self.versions = Metrics.counter("newswire", "new_versions")

    def count(self, out: Unit) -> None:
        if out.article is None:
            self.duplicates.inc()
        elif out.article["version"] > 1:
            self.versions.inc()


class DedupVersionsStateful(beam.DoFn):
    """Streaming: keyed by ``unit_key``, drop a repeat of seen content and number new content.

    State is kept for ``ttl_seconds`` of event time after the article was last seen (default 7 days:
    feeds keep items for days, and corrections arrive within that window; a repeat after the TTL
    is still caught by the warehouse sink, which checks content hashes before it inserts).
    """

    SEEN = ReadModifyWriteStateSpec("seen", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, ttl_seconds: int) -> None:
        self.ttl = Duration(seconds=ttl_seconds)
        self.counters = _VersionCounters()

    def process(self, element, ts=beam.DoFn.TimestampParam,
                seen=beam.DoFn.StateParam(SEEN), expiry=beam.DoFn.TimerParam(EXPIRY)):
        _, unit = element
        state = seen.read() or VersionState()
        out = next_version(state, unit)
        if out is None:
            yield unit
            return
        self.counters.count(out)
        if out.article is not None:
            seen.write(state)
            expiry.set(ts + self.ttl)
        yield out

    @on_timer(EXPIRY)
    def expire(self, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()


def _change(articles: dict, change) -> None:
    """Apply one logged change to a shard's articles: ("put", id, entry) or ("expire", micros)."""
    if change[0] == "put":
        _, key, entry = change
        articles[key] = entry
    else:
        for key in [k for k, entry in articles.items() if entry[2] <= change[1]]:
            del articles[key]


_JOURNAL = sharding.Journal(dict, _change, len)
# Live shards of every sharded dedup step in the process (a few pipelines' worth).
_LIVE = sharding.LiveShards(capacity=4 * sharding.LOCAL_SHARDS)


class DedupVersionsSharded(beam.DoFn):
    """Keyed by shard (``dedup_key``): drop a repeat of seen content, number new content.

    The rule and the TTL of :class:`DedupVersionsStateful`, per article, with the articles of one
    shard in one dict: article id -> (version, recent content hashes, expiry), an article expiring
    ``ttl_seconds`` of event time after its last new content, as there. A unit without an article
    touches no state.

    Keys: the shards (``transforms.sharding.LOCAL_SHARDS``), whatever the number of articles.
    State: the articles seen within the TTL, a version and at most 32 hashes each, as a snapshot and
    a log (``transforms.sharding.Journal``); one expiry timer per shard, at the earliest expiry
    rounded up to ``EXPIRY_TICK``, which drops every article due by then and moves to the next.
    """

    SNAPSHOT = sharding.snapshot_spec()
    LOG = sharding.log_spec()
    TOKEN = sharding.token_spec()
    EXPIRE_AT = sharding.expire_at_spec()
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, ttl_seconds: int, *, live: bool = True) -> None:
        self.ttl_micros = int(ttl_seconds * _MICROS)
        self.tick_micros = int(EXPIRY_TICK.total_seconds()) * _MICROS
        self.live = live  # False: rebuild the shard from state for every element (tests)
        self._owner = uuid.uuid4().hex  # pickled with the DoFn: the same on every copy of it
        self.counters = _VersionCounters()
        self.rebuilds = Metrics.counter("newswire", "dedup_shard_rebuilds")

    def _load(self, shard: str, snapshot, log, token) -> sharding.Held[dict]:
        return _LIVE.load(self._owner, shard, _JOURNAL, snapshot=snapshot, log=log, token=token,
                          on_rebuild=self.rebuilds.inc, keep=self.live)

    def process(self, element, ts=beam.DoFn.TimestampParam,
                snapshot=beam.DoFn.StateParam(SNAPSHOT), log=beam.DoFn.StateParam(LOG),
                token=beam.DoFn.StateParam(TOKEN), expire_at=beam.DoFn.StateParam(EXPIRE_AT),
                expiry=beam.DoFn.TimerParam(EXPIRY)):
        shard, unit = element
        if unit.article is None:
            yield unit
            return
        held = self._load(shard, snapshot, log, token)
        key = unit_key(unit)
        known = held.value.get(key)
        state = VersionState(known[0], list(known[1])) if known else VersionState()
        out = next_version(state, unit)
        self.counters.count(out)
        if out.article is not None:
            due = ts.micros + self.ttl_micros
            entry = (state.version, tuple(state.hashes), due)
            held.value[key] = entry
            _JOURNAL.record(held, ("put", key, entry), snapshot=snapshot, log=log, token=token)
            sharding.schedule_expiry(due, self.tick_micros, expire_at, expiry)
        yield out

    @on_timer(EXPIRY)
    def expire(self, key=beam.DoFn.KeyParam, fired=beam.DoFn.TimestampParam,
               snapshot=beam.DoFn.StateParam(SNAPSHOT), log=beam.DoFn.StateParam(LOG),
               token=beam.DoFn.StateParam(TOKEN), expire_at=beam.DoFn.StateParam(EXPIRE_AT),
               expiry=beam.DoFn.TimerParam(EXPIRY)):
        held = self._load(key, snapshot, log, token)
        change = ("expire", fired.micros)
        _change(held.value, change)
        if not held.value:
            _JOURNAL.clear(held, snapshot=snapshot, log=log, token=token)
            expire_at.clear()
            return
        _JOURNAL.record(held, change, snapshot=snapshot, log=log, token=token)
        sharding.schedule_expiry(min(entry[2] for entry in held.value.values()), self.tick_micros,
                                 expire_at, expiry, reset=True)


def _pickled(element: tuple[str, Unit]) -> tuple[str, bytes]:
    key, unit = element
    return key, pickle.dumps(unit, protocol=pickle.HIGHEST_PROTOCOL)


class _DedupGroup(beam.DoFn):
    """Batch: the same rule over one article's whole group (pickled units), in fetch order."""

    def __init__(self) -> None:
        self.counters = _VersionCounters()

    def process(self, element):
        _, pickled = element
        units = [pickle.loads(blob) for blob in pickled]
        state = VersionState()
        order = sorted(units, key=lambda u: (u.article["fetched_at"] if u.article else _EPOCH, u.message_id))
        for unit in order:
            out = next_version(state, unit)
            if out is None:
                yield unit
                continue
            self.counters.count(out)
            yield out


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class DedupVersions(beam.PTransform):
    """Keyed units → units with repeats dropped and versions numbered.

    Streaming uses a stateful DoFn with a TTL timer: keyed by article (``shards=None``), or by
    shard (``shards``: the units keyed by ``dedup_key(unit, shards)``), the same rows either way. A
    batch job sees all of an article's items at once, so it groups them instead: the same rule
    (``next_version``), without per-element state writes, which the batch engine's state cache
    makes expensive (it sizes every value it caches). The units are grouped as their pickled
    bytes: the batch engine's grouping table holds every value of the job decoded until the group
    is read, and a unit as Python objects is several times its pickle (the job's peak memory).
    """

    def __init__(self, ttl_seconds: int, *, streaming: bool, shards: int | None = None) -> None:
        super().__init__()
        self.ttl_seconds = ttl_seconds
        self.streaming = streaming
        self.shards = shards

    def expand(self, keyed):
        if self.streaming and self.shards is not None:
            return keyed | "Stateful" >> beam.ParDo(DedupVersionsSharded(self.ttl_seconds))
        if self.streaming:
            return keyed | "Stateful" >> beam.ParDo(DedupVersionsStateful(self.ttl_seconds))
        return (keyed
                | "Pickle" >> beam.Map(_pickled).with_output_types(tuple[str, bytes])
                | "Group" >> beam.GroupByKey()
                | "Versions" >> beam.ParDo(_DedupGroup()))
