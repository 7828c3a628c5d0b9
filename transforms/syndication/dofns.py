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

Local streaming (``Cluster(sharded=True)``: what newswire runs on the DirectRunner, which walks
every key a stateful step has ever seen on every bundle, so keys per band and per article made it
slow down with every article)::

    units ─ Route ─┬─ no article / withdrawal notice ─────────────────────────────────┐
                   └─ request (unit, fingerprint, band keys) / later version          │
                          ─ MatchIndex (one key) ─ AssignClusters (one key) ─ units ──┴─ Flatten

- ``Route`` fingerprints a bundle's first versions together (a fifth of the cost of one at a time,
  the same values) and sends each, with its band keys, to ``MatchIndex``; a later version follows
  on the same key, so it reaches the graph behind its first version, which is what
  ``CollectVerdicts`` ensures on Dataflow.
- ``MatchIndex`` holds a :class:`~transforms.syndication.MatchIndex`: the held fingerprints in
  their band buckets (the latest ``max_bucket`` each) and the verified matches of a newcomer, the
  rule ``BandBuckets`` and ``CollectVerdicts`` apply band by band. One element per article instead
  of 42, and nothing waits: the unit leaves with its matches.
- ``AssignClusters`` is the same step as on Dataflow.

Both graphs make :class:`~transforms.syndication.StoryClusterer`'s decisions, so they write the
same rows; they differ in keying only, and Dataflow keeps its step names and state for ``--update``.

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

from apache_beam.utils.windowed_value import WindowedValue

from transforms import coders  # noqa: F401 - registers the unit's coder
from transforms import sharding
from transforms.model import Unit

from .clustering import MatchIndex
from .fingerprint import Fingerprint, FingerprintStack, band_keys, fingerprint_bodies, fingerprint_body, verify_many
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
_BANDS, _COLLECT, _DONE, _INDEX = "bands", "collect", "done", "index"
INDEX_KEY = "index"
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
        article = story_article(row, unit.feed_agency)
        fingerprint = fingerprint_body(row["body"]).with_agency(article.agency).with_title(article.title)
        keys = band_keys(fingerprint, self.config.lsh)
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
    """The single-key step holding the story graph (both streaming graphs).

    Keys: one. State: the articles held within the cluster TTL and their stories
    (:class:`~transforms.syndication.StoryTracker`), evicted by a timer once per tick of event time.

    State: ``snapshot`` (the pickled tracker), ``log`` (decisions since the snapshot: article,
    matches, time), ``token`` (a fresh id written with every change) and ``evict_at`` (when the
    eviction timer is due). The graph is kept live in memory between elements; it is trusted only
    while its token equals the state's token, which a failed bundle (whose writes are discarded)
    or another worker taking the key over breaks, and then it is rebuilt from snapshot and log.
    A snapshot is written at every eviction tick and once the log is ``snapshot_every`` decisions
    long or as long as the graph holds articles, whichever is more, bounding the replay: a
    snapshot every fixed number of decisions would cost time proportional to the articles held each
    time. Writing the whole graph per element instead costs that per element
    (benchmarks/bench_cluster_stage.py measures both).
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
        held.token = sharding.new_token()
        token.write(held.token)

    def _snapshot(self, held: _Held, snapshot, log) -> None:
        snapshot.write(pickle.dumps(held.tracker, protocol=pickle.HIGHEST_PROTOCOL))
        log.clear()
        held.log_length = 0
        self.snapshots.inc()

    def _schedule(self, due: datetime | None, evict_at, evict, *, reset: bool = False) -> None:
        """Set the eviction timer for ``due`` (rounded up to the tick) if it is earlier than the
        one set; ``reset`` replaces it, by the graph's next expiry after an eviction."""
        if due is None:
            if reset:
                evict_at.clear()
            return
        due_micros = sharding.round_up(_micros(due), _seconds(self.config.tick) * _MICROS)
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
            yield with_cluster(unit, held.tracker.given_assignment(unit.article["article_id"]))
            return
        _, unit, article, matches, waiting = message
        assignment = held.tracker.assign(article, matches)
        updated_at = assignment.story_rows[0]["updated_at"] if assignment.story_rows else None
        if updated_at is not None:
            log.add((article, matches, updated_at))
            held.log_length += 1
            if held.log_length >= max(self.snapshot_every, len(held.tracker)):
                self._snapshot(held, snapshot, log)
            self._commit(held, token)
            # Only the new article can bring the next expiry forward: no need to scan the graph.
            self._schedule(article.first_seen + self.config.ttl, evict_at, evict)
        yield with_cluster(unit, assignment)
        for version in waiting:
            yield with_cluster(version, held.tracker.given_assignment(article.article_id))

    @on_timer(EVICT)
    def evict(self, fired=beam.DoFn.TimestampParam, snapshot=beam.DoFn.StateParam(SNAPSHOT),
              log=beam.DoFn.StateParam(LOG), token=beam.DoFn.StateParam(TOKEN),
              evict_at=beam.DoFn.StateParam(EVICT_AT), evict=beam.DoFn.TimerParam(EVICT)):
        held = self._load(snapshot, log, token)
        gone = held.tracker.expire(fired.to_utc_datetime(has_tz=True))
        self.evicted.inc(len(gone))
        self._snapshot(held, snapshot, log)
        self._commit(held, token)
        self._schedule(held.tracker.next_expiry(), evict_at, evict, reset=True)


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


# -- streaming, the local graph --------------------------------------------------------------------

class _RouteLocal(beam.DoFn):
    """As ``_Route``, for the local graph: a first version goes to ``MatchIndex`` with its
    fingerprint and band keys, a later version behind it on the same key.

    What goes to the index waits for the end of the bundle, in arrival order: the bundle's bodies
    are then fingerprinted together, a fifth of the cost of one at a time (and the same values).
    """

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.notices = Metrics.counter("clustering", "notices_not_clustered")

    def start_bundle(self) -> None:
        self._held: list[tuple[Unit, Timestamp, object]] = []  # (unit, event time, window), in order

    def process(self, unit: Unit, ts=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        row = unit.article
        if row is None:
            yield unit
        elif row["version"] == 1 and row["withdrawn"]:
            self.notices.inc()
            yield with_cluster(unit, Assignment(None))
        else:
            self._held.append((unit, ts, window))

    def finish_bundle(self):
        held, self._held = self._held, []
        firsts = [unit.article["body"] for unit, _ts, _window in held if unit.article["version"] == 1]
        stack = fingerprint_bodies(firsts) if firsts else None
        row = 0
        for unit, ts, window in held:
            if unit.article["version"] > 1:
                message = (_VERSION, unit)
            else:
                article = story_article(unit.article, unit.feed_agency)
                fingerprint = stack.fingerprint(row).with_agency(article.agency).with_title(article.title)
                row += 1
                message = (_REQUEST, unit, article, fingerprint.to_bytes(), band_keys(fingerprint, self.config.lsh))
            yield TaggedOutput(_INDEX, WindowedValue((INDEX_KEY, message), ts, (window,)))


def _index_change(index: MatchIndex, change) -> None:
    """Apply a logged change: ("add", article id, first seen, fingerprint, band keys) or
    ("expire", watermark micros)."""
    if change[0] == "add":
        _, article_id, seen, fingerprint, keys = change
        index.insert(article_id, seen, Fingerprint.from_bytes(fingerprint), keys)
    else:
        index.remove(index.expired(change[1]))


# Live match indexes of every local cluster stage in the process (one key each).
_LIVE_INDEXES = sharding.LiveShards(capacity=_LIVE_MAX)


class _MatchIndexStep(beam.DoFn):
    """One key: the held fingerprints in their LSH buckets (:class:`~transforms.syndication.MatchIndex`).

    A first version is verified against the held articles it shares a band with within the TTL and
    goes on to ``AssignClusters`` with its matches, as ``CollectVerdicts`` sends it on Dataflow; a
    later version follows it on the same key. Keys: one. State: each article held for ``ttl`` of
    event time past its first seen (first seen, fingerprint, band keys), as a snapshot plus a log
    (``transforms.sharding.Journal``); one timer, at the earliest expiry rounded up to the tick.
    """

    SNAPSHOT = sharding.snapshot_spec()
    LOG = sharding.log_spec()
    TOKEN = sharding.token_spec()
    EXPIRE_AT = sharding.expire_at_spec()
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, config: ClusterConfig, *, live: bool = True) -> None:
        self.config = config
        self.live = live  # False: rebuild the index from state for every element (tests)
        self.tick_micros = _seconds(config.tick) * _MICROS
        self.journal = sharding.Journal(self._new, _index_change, len)
        self._owner = uuid.uuid4().hex  # pickled with the DoFn: the same on every copy of it
        self.rebuilds = Metrics.counter("clustering", "index_rebuilds")
        self.evicted = Metrics.counter("clustering", "index_evicted")

    def _new(self) -> MatchIndex:
        c = self.config
        return MatchIndex(c.thresholds, c.lsh, c.ttl, c.max_bucket)

    def _load(self, key: str, snapshot, log, token) -> sharding.Held[MatchIndex]:
        return _LIVE_INDEXES.load(self._owner, key, self.journal, snapshot=snapshot, log=log, token=token,
                                  on_rebuild=self.rebuilds.inc, keep=self.live)

    def _schedule(self, due: int, expire_at, expiry, *, reset: bool = False) -> None:
        sharding.schedule_expiry(due, self.tick_micros, expire_at, expiry, reset=reset)

    def process(self, element, snapshot=beam.DoFn.StateParam(SNAPSHOT), log=beam.DoFn.StateParam(LOG),
                token=beam.DoFn.StateParam(TOKEN), expire_at=beam.DoFn.StateParam(EXPIRE_AT),
                expiry=beam.DoFn.TimerParam(EXPIRY)):
        key, message = element
        if message[0] == _VERSION:
            yield GRAPH_KEY, message
            return
        _, unit, article, fingerprint_bytes, keys = message
        held = self._load(key, snapshot, log, token)
        seen = _micros(article.first_seen)
        fingerprint = Fingerprint.from_bytes(fingerprint_bytes)
        matches = held.value.matches(article.article_id, seen, fingerprint, keys)
        if held.value.insert(article.article_id, seen, fingerprint, keys):
            self.journal.record(held, ("add", article.article_id, seen, fingerprint_bytes, keys),
                                snapshot=snapshot, log=log, token=token)
            self._schedule(seen + held.value.ttl_micros, expire_at, expiry)
        yield GRAPH_KEY, (_ASSIGN, unit, article, matches, ())

    @on_timer(EXPIRY)
    def expire(self, key=beam.DoFn.KeyParam, fired=beam.DoFn.TimestampParam,
               snapshot=beam.DoFn.StateParam(SNAPSHOT), log=beam.DoFn.StateParam(LOG),
               token=beam.DoFn.StateParam(TOKEN), expire_at=beam.DoFn.StateParam(EXPIRE_AT),
               expiry=beam.DoFn.TimerParam(EXPIRY)):
        held = self._load(key, snapshot, log, token)
        change = ("expire", fired.micros)
        before = len(held.value)
        _index_change(held.value, change)
        self.evicted.inc(before - len(held.value))
        if not len(held.value):
            self.journal.clear(held, snapshot=snapshot, log=log, token=token)
            expire_at.clear()
            return
        self.journal.record(held, change, snapshot=snapshot, log=log, token=token)
        self._schedule(held.value.next_expiry(), expire_at, expiry, reset=True)


class _ClusterLocal(beam.PTransform):
    def __init__(self, config: ClusterConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, units):
        routed = units | "Route" >> beam.ParDo(_RouteLocal(self.config)).with_outputs(_INDEX, main=_DONE)
        routed[_INDEX].element_type = _ID_KEYED  # the stateful step's key coder comes from its type
        assigned = (routed[_INDEX]
                    | "MatchIndex" >> beam.ParDo(_MatchIndexStep(self.config)).with_output_types(_ID_KEYED)
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
            assignments = {message_id: (a.cluster_id, a.story_rows, a.agency)
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
        cluster_id, rows, agency = self._assignments.get(unit.message_id, (None, (), None))
        yield with_cluster(unit, Assignment(cluster_id, rows, agency))


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
    which costs a fifth of the job's time. Streaming clusters the units: keyed by band and by
    article, or with ``sharded`` on two single-key steps (the local graph; the same rows).
    """

    def __init__(self, config: ClusterConfig = ClusterConfig(), *, streaming: bool, sharded: bool = False) -> None:
        super().__init__()
        self.config = config
        self.streaming = streaming
        self.sharded = sharded

    def expand(self, pcolls):
        units = pcolls["units"] if isinstance(pcolls, dict) else pcolls
        if self.streaming and self.sharded:
            return units | "Streaming" >> _ClusterLocal(self.config)
        if self.streaming:
            return units | "Streaming" >> _ClusterStreaming(self.config)
        items = pcolls.get("items", units) if isinstance(pcolls, dict) else units
        return (units, items) | "Batch" >> _ClusterBatchJob(self.config)
