"""The ``Cluster`` stage: gives every article unit its ``cluster_id`` and the story rows it changes.

Streaming (stateful steps, all with event-time TTLs)::

    units ─ Route ─┬─ no article / withdrawal notice ─────────────────────────────────┐
                   ├─ band entries ─ BandBuckets ─ verdicts ─┐                       │
                   └─ request (the unit) / later version ────┴─ CollectVerdicts ─    │
                          ─ AssignClusters (one key: the story graph) ─ units ───────┴─ Flatten

- ``Route`` fingerprints the first version of an article and fans it out to its LSH band keys;
  the unit itself goes to ``CollectVerdicts`` keyed by article id.
- ``BandBuckets`` (keyed by band) holds the fingerprints of the latest articles sharing that band,
  verifies the newcomer against those within the TTL (:func:`~transforms.syndication.verify_many`)
  and answers every entry with one verdict: the held articles it matched, maybe none.
- ``CollectVerdicts`` (keyed by article) waits for the unit and one verdict per band, then sends
  the unit with all its verified matches on. A later version of the article waits there behind a
  pending first version, so the graph always sees the first version first.
- ``AssignClusters`` (a single key) holds the story graph
  (:class:`~transforms.syndication.StoryTracker`) and sets ``cluster_id`` and the unit's story rows.
  One key, because a merge joins two clusters that no partitioning of articles could keep on one
  shard; the work per article there is a dict update and a few story rows (tens of microseconds),
  and the steps before it, keyed by band and by article, carry the fan-out (42 elements per
  article) so the single key sees one element per article. Its state is written as a log of
  decisions plus periodic snapshots, and the live graph is cached in the worker's memory (see
  ``_AssignClusters``), so a decision costs a small state append instead of re-serialising the
  whole graph.

Batch: the same decisions through grouping. Every article's
:class:`~transforms.syndication.ClusterInput` (with its body) goes to one key;
:func:`~transforms.syndication.cluster_batch` fingerprints them together, finds the matches the
streaming steps would find and builds the stories; the units pick their assignment up from a side
input: per-element state would cost a state write per element on the batch engine.
"""

from __future__ import annotations

import gc
import pickle
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import apache_beam as beam
from apache_beam.coders import BytesCoder, PickleCoder, StrUtf8Coder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsSingleton, TaggedOutput
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    BagStateSpec,
    CombiningValueStateSpec,
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.utils.timestamp import Duration, Timestamp

from transforms import coders  # noqa: F401 - registers the unit's coder
from transforms.model import Unit

from .fingerprint import Fingerprint, FingerprintStack, band_keys, fingerprint_body, verify_many
from .stories import (
    Assignment,
    ClusterConfig,
    ClusterInput,
    StoryTracker,
    cluster_batch,
    cluster_input,
    story_article,
    with_cluster,
)

__all__ = ["Cluster"]

GRAPH_KEY = "stories"
_REQUEST, _VERDICT, _VERSION, _ASSIGN = "request", "verdict", "version", "assign"
_BANDS, _COLLECT, _DONE = "bands", "collect", "done"
_MICROS = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_BAND_KEYED = beam.typehints.Tuple[bytes, beam.typehints.Any]
_ID_KEYED = beam.typehints.Tuple[str, beam.typehints.Any]


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _seconds(delta) -> int:
    return int(delta.total_seconds())


# -- streaming -------------------------------------------------------------------------------------

class _Route(beam.DoFn):
    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.notices = Metrics.counter("clustering", "notices_not_clustered")

    def process(self, unit: Unit):
        row = unit.article
        if row is None:
            yield unit
            return
        if row["version"] > 1:
            yield TaggedOutput(_COLLECT, (row["article_id"], (_VERSION, unit)))
            return
        if row["withdrawn"]:
            self.notices.inc()
            yield with_cluster(unit, Assignment(None))
            return
        fingerprint = fingerprint_body(row["body"])
        keys = band_keys(fingerprint, self.config.lsh)
        article = story_article(row, unit.feed_agency)
        yield TaggedOutput(_COLLECT, (article.article_id, (_REQUEST, unit, article, len(keys))))
        entry = (article.article_id, _micros(article.first_seen), fingerprint.to_bytes())
        for band, key in enumerate(keys):
            yield TaggedOutput(_BANDS, (key, (band, entry)))


class _BandBuckets(beam.DoFn):
    """Keyed by one LSH band key: the recent articles whose signatures agree on that band.

    Holds (article id, first seen, fingerprint) of the latest ``max_bucket`` articles until the
    watermark passes first seen plus the TTL; a newcomer is verified against those within the TTL
    of it, which is :class:`~transforms.syndication.StoryClusterer`'s rule. Every entry gets exactly
    one verdict back, so the collector knows when it has heard from all bands of an article.
    """

    HELD = BagStateSpec("held", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, config: ClusterConfig) -> None:
        self.thresholds = config.thresholds
        self.max_bucket = config.max_bucket
        self.ttl_micros = _seconds(config.ttl) * _MICROS
        self.candidates = Metrics.counter("clustering", "band_candidates")

    def process(self, element, held=beam.DoFn.StateParam(HELD), expiry=beam.DoFn.TimerParam(EXPIRY)):
        _key, (band, entry) = element
        article_id, seen_micros, fingerprint_bytes = entry
        entries = list(held.read())  # in arrival order
        matches: list[str] = []
        if all(e[0] != article_id for e in entries):  # a redelivered entry is answered, not re-added
            near = [e for e in entries if abs(e[1] - seen_micros) < self.ttl_micros]
            if near:
                self.candidates.inc(len(near))
                stack = FingerprintStack.of([Fingerprint.from_bytes(e[2]) for e in near])
                verdicts = verify_many(Fingerprint.from_bytes(fingerprint_bytes), stack, self.thresholds)
                matches = [e[0] for e, ok in zip(near, verdicts) if ok]
            entries.append(entry)
            if len(entries) > self.max_bucket:
                entries = entries[-self.max_bucket:]
                held.clear()
                for kept in entries:
                    held.add(kept)
            else:
                held.add(entry)
        # One timer per key: it always points at the oldest entry's expiry.
        expiry.set(Timestamp(micros=min(e[1] for e in entries) + self.ttl_micros))
        yield article_id, (_VERDICT, band, tuple(matches))

    @on_timer(EXPIRY)
    def expire(self, fired=beam.DoFn.TimestampParam, held=beam.DoFn.StateParam(HELD),
               expiry=beam.DoFn.TimerParam(EXPIRY)):
        keep = [e for e in held.read() if e[1] + self.ttl_micros > fired.micros]
        held.clear()
        for entry in keep:
            held.add(entry)
        if keep:
            expiry.set(Timestamp(micros=min(e[1] for e in keep) + self.ttl_micros))


class _CollectVerdicts(beam.DoFn):
    """Keyed by article id: the unit waits here until every band of its fingerprint has answered.

    A give-up timer (TTL after the unit's event time) releases a unit with the verdicts it has, so
    no unit can be held forever, whatever happens upstream.
    """

    REQUEST = ReadModifyWriteStateSpec("request", PickleCoder())
    VERDICTS = BagStateSpec("verdicts", PickleCoder())
    COUNT = CombiningValueStateSpec("count", VarIntCoder(), beam.combiners.CountCombineFn())
    WAITING = BagStateSpec("waiting", PickleCoder())
    GIVE_UP = TimerSpec("give_up", TimeDomain.WATERMARK)

    def __init__(self, config: ClusterConfig) -> None:
        self.ttl = Duration(seconds=_seconds(config.ttl))
        self.incomplete = Metrics.counter("clustering", "released_incomplete")

    def process(self, element, ts=beam.DoFn.TimestampParam,
                request=beam.DoFn.StateParam(REQUEST), verdicts=beam.DoFn.StateParam(VERDICTS),
                count=beam.DoFn.StateParam(COUNT), waiting=beam.DoFn.StateParam(WAITING),
                give_up=beam.DoFn.TimerParam(GIVE_UP)):
        _article_id, message = element
        kind = message[0]
        pending = request.read()
        if kind == _VERSION:
            if pending is None and not count.read():
                yield GRAPH_KEY, message
                return
            waiting.add(message[1])
        elif kind == _REQUEST:
            pending = message[1:]
            request.write(pending)
        else:
            verdicts.add(message[1:])
            count.add(1)
        if pending is not None and count.read() >= pending[2]:
            yield self._release(pending, verdicts, waiting)
            for state in (request, verdicts, count, waiting):
                state.clear()
            return
        give_up.set(ts + self.ttl)

    @staticmethod
    def _release(pending, verdicts, waiting):
        unit, article, _expected = pending
        matches = tuple(sorted({m for _band, found in verdicts.read() for m in found}))
        return GRAPH_KEY, (_ASSIGN, unit, article, matches, tuple(waiting.read()))

    @on_timer(GIVE_UP)
    def give_up(self, request=beam.DoFn.StateParam(REQUEST), verdicts=beam.DoFn.StateParam(VERDICTS),
                count=beam.DoFn.StateParam(COUNT), waiting=beam.DoFn.StateParam(WAITING)):
        pending = request.read()
        if pending is not None:
            self.incomplete.inc()
            yield self._release(pending, verdicts, waiting)
        else:
            for unit in waiting.read():
                yield GRAPH_KEY, (_VERSION, unit)
        for state in (request, verdicts, count, waiting):
            state.clear()


@dataclass
class _Held:
    """The live story graph of one key, with the state token it matches and its log length."""

    tracker: StoryTracker
    token: str | None
    log_length: int


# Live graphs by DoFn identity. The runner may rebuild the DoFn object for every bundle (the
# DirectRunner does), so the cache lives at module level; a few entries cover every pipeline of a
# process (tests build many).
_LIVE: OrderedDict[str, _Held] = OrderedDict()
_LIVE_MAX = 4
# Decisions logged between two snapshots of the graph: bounds what a rebuild replays.
_SNAPSHOT_EVERY = 256


class _AssignClusters(beam.DoFn):
    """The single-key step holding the story graph.

    State: ``snapshot`` (the pickled tracker), ``log`` (decisions since the snapshot: article,
    matches, time), ``token`` (a fresh id written with every change) and ``evict_at`` (when the
    eviction timer is due). The graph is kept live in memory between elements; it is trusted only
    while its token equals the state's token, which a failed bundle (whose writes are discarded)
    or another worker taking the key over breaks, and then it is rebuilt from snapshot and log.
    A snapshot is written at every eviction tick and every ``snapshot_every`` decisions, bounding
    the replay. Writing the whole graph per element instead costs time and bytes proportional to
    the articles held (benchmarks/bench_cluster_stage.py measures both).
    """

    SNAPSHOT = ReadModifyWriteStateSpec("snapshot", BytesCoder())
    LOG = BagStateSpec("log", PickleCoder())
    TOKEN = ReadModifyWriteStateSpec("token", StrUtf8Coder())
    EVICT_AT = ReadModifyWriteStateSpec("evict_at", VarIntCoder())
    EVICT = TimerSpec("evict", TimeDomain.WATERMARK)

    def __init__(self, config: ClusterConfig, snapshot_every: int | None = None) -> None:
        self.config = config
        self.snapshot_every = snapshot_every or _SNAPSHOT_EVERY
        self._live_id = uuid.uuid4().hex  # pickled with the DoFn: the same on every copy of it
        self.rebuilds = Metrics.counter("clustering", "graph_rebuilds")
        self.snapshots = Metrics.counter("clustering", "graph_snapshots")
        self.evicted = Metrics.counter("clustering", "articles_evicted")

    def _load(self, snapshot, log, token) -> _Held:
        current = token.read()
        held = _LIVE.get(self._live_id)
        if held is not None and current is not None and held.token == current:
            _LIVE.move_to_end(self._live_id)
            return held
        self.rebuilds.inc()
        blob = snapshot.read()
        tracker = pickle.loads(blob) if blob else StoryTracker(self.config.ttl)
        replayed = 0
        for article, matches, at in log.read():
            tracker.assign(article, matches, at=at)
            replayed += 1
        return self._keep(_Held(tracker, current, replayed))

    def _keep(self, held: _Held) -> _Held:
        _LIVE[self._live_id] = held
        _LIVE.move_to_end(self._live_id)
        while len(_LIVE) > _LIVE_MAX:
            _LIVE.popitem(last=False)
        return held

    def _commit(self, held: _Held, token) -> None:
        held.token = uuid.uuid4().hex
        token.write(held.token)

    def _snapshot(self, held: _Held, snapshot, log) -> None:
        snapshot.write(pickle.dumps(held.tracker, protocol=pickle.HIGHEST_PROTOCOL))
        log.clear()
        held.log_length = 0
        self.snapshots.inc()

    def _schedule(self, held: _Held, evict_at, evict, *, reset: bool = False) -> None:
        due = held.tracker.next_expiry()
        if due is None:
            if reset:
                evict_at.clear()
            return
        tick = _seconds(self.config.tick) * _MICROS
        due_micros = -(-_micros(due) // tick) * tick  # rounded up to the tick
        current = None if reset else evict_at.read()
        if current is None or due_micros < current:
            evict.set(Timestamp(micros=due_micros))
            evict_at.write(due_micros)

    def process(self, element, snapshot=beam.DoFn.StateParam(SNAPSHOT), log=beam.DoFn.StateParam(LOG),
                token=beam.DoFn.StateParam(TOKEN), evict_at=beam.DoFn.StateParam(EVICT_AT),
                evict=beam.DoFn.TimerParam(EVICT)):
        _key, message = element
        held = self._load(snapshot, log, token)
        if message[0] == _VERSION:
            unit = message[1]
            yield with_cluster(unit, Assignment(held.tracker.given(unit.article["article_id"])))
            return
        _, unit, article, matches, waiting = message
        assignment = held.tracker.assign(article, matches)
        updated_at = assignment.story_rows[0]["updated_at"] if assignment.story_rows else None
        if updated_at is not None:
            log.add((article, matches, updated_at))
            held.log_length += 1
            if held.log_length >= self.snapshot_every:
                self._snapshot(held, snapshot, log)
            self._commit(held, token)
            self._schedule(held, evict_at, evict)
        yield with_cluster(unit, assignment)
        for version in waiting:
            yield with_cluster(version, Assignment(held.tracker.given(article.article_id)))

    @on_timer(EVICT)
    def evict(self, fired=beam.DoFn.TimestampParam, snapshot=beam.DoFn.StateParam(SNAPSHOT),
              log=beam.DoFn.StateParam(LOG), token=beam.DoFn.StateParam(TOKEN),
              evict_at=beam.DoFn.StateParam(EVICT_AT), evict=beam.DoFn.TimerParam(EVICT)):
        held = self._load(snapshot, log, token)
        gone = held.tracker.expire(fired.to_utc_datetime(has_tz=True))
        self.evicted.inc(len(gone))
        self._snapshot(held, snapshot, log)
        self._commit(held, token)
        self._schedule(held, evict_at, evict, reset=True)


class _ClusterStreaming(beam.PTransform):
    def __init__(self, config: ClusterConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, units):
        routed = units | "Route" >> beam.ParDo(_Route(self.config)).with_outputs(_BANDS, _COLLECT, main=_DONE)
        # Stateful steps take their key coder from the input's type, and it must be deterministic:
        # Python has no per-tag output hints, so the tagged outputs are typed here.
        routed[_BANDS].element_type = _BAND_KEYED
        routed[_COLLECT].element_type = _ID_KEYED
        verdicts = routed[_BANDS] | "BandBuckets" >> beam.ParDo(_BandBuckets(self.config)).with_output_types(
            _ID_KEYED)
        assigned = ((routed[_COLLECT], verdicts)
                    | "ToCollector" >> beam.Flatten().with_output_types(_ID_KEYED)
                    | "CollectVerdicts" >> beam.ParDo(_CollectVerdicts(self.config)).with_output_types(_ID_KEYED)
                    | "AssignClusters" >> beam.ParDo(_AssignClusters(self.config)))
        return (routed[_DONE], assigned) | "Clustered" >> beam.Flatten()


# -- batch -----------------------------------------------------------------------------------------

def _batch_input(unit: Unit):
    row = unit.article
    if row is None:
        return
    # The single clustering step fingerprints every first version's body at once (a few array
    # operations for the whole batch); later versions are only looked up.
    yield GRAPH_KEY, cluster_input(unit, "body" if row["version"] == 1 else "none").to_record()


class _ClusterBatch(beam.DoFn):
    """All articles of the batch at once; emits one element: every assignment, pickled.

    One pickled value, not a keyed collection: the batch engine sizes every side-input value it
    caches object by object (objsize), which for thousands of story rows cost more than the
    clustering itself; a single bytes value costs nothing to size.
    """

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config

    def process(self, element):
        _key, records = element
        # The batch engine holds every unit of the job in memory: each full collection that this
        # step's allocations trigger would walk all of them (a third of the step's time). Frozen,
        # they are skipped until the step is done.
        gc.freeze()
        try:
            inputs = (ClusterInput.from_record(r) for r in records)
            assignments = {message_id: (a.cluster_id, a.story_rows)
                           for message_id, a in cluster_batch(inputs, self.config).items()}
            blob = pickle.dumps(assignments, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            gc.unfreeze()
        yield blob


class _Attach(beam.DoFn):
    def __init__(self) -> None:
        self._blob: bytes | None = None
        self._assignments: dict = {}

    def process(self, unit: Unit, blob: bytes | None):
        if unit.article is None:
            yield unit
            return
        if blob is not self._blob:  # the runner hands the same object to every element
            self._blob, self._assignments = blob, pickle.loads(blob) if blob else {}
        cluster_id, rows = self._assignments.get(unit.message_id, (None, ()))
        yield with_cluster(unit, Assignment(cluster_id, rows))


class _ClusterBatchJob(beam.PTransform):
    def __init__(self, config: ClusterConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, pcolls):
        units, items = pcolls
        assignments = (items
                       | "Inputs" >> beam.FlatMap(_batch_input)
                       | "AllArticles" >> beam.GroupByKey()
                       | "ClusterBatch" >> beam.ParDo(_ClusterBatch(self.config)))
        return units | "Attach" >> beam.ParDo(_Attach(), AsSingleton(assignments, default_value=None))


class Cluster(beam.PTransform):
    """Units → units whose article carries its ``cluster_id`` and whose ``stories`` hold the
    story rows to write in the same transaction.

    Input: the de-duplicated units, or ``{"units": ..., "items": ...}`` with the units before
    de-duplication as well (see ``pipeline.build.CleanArticles``). A batch job clusters the items
    when it has them: the units then are not materialised once more to wait for the side input,
    which costs a fifth of the job's time. Streaming clusters the units.
    """

    def __init__(self, config: ClusterConfig = ClusterConfig(), *, streaming: bool) -> None:
        super().__init__()
        self.config = config
        self.streaming = streaming

    def expand(self, pcolls):
        units = pcolls["units"] if isinstance(pcolls, dict) else pcolls
        if self.streaming:
            return units | "Streaming" >> _ClusterStreaming(self.config)
        items = pcolls.get("items", units) if isinstance(pcolls, dict) else units
        return (units, items) | "Batch" >> _ClusterBatchJob(self.config)
