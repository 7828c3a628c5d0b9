"""Clean each item with the boilerplate learned from its source's earlier items (keyed by feed).

The learned lines of a source (:class:`~transforms.learning.FeedLearner`) must be known when its
next item is cleaned, so the chain runs keyed by ``feed_id``::

    messages ─ KeyByFeed ─ (feed_id, message) ─ parse → clean with learned lines → count → identify ─ units

Every failure still becomes the unit's dead-letter row, with the step that failed (parse, clean or
identify: :class:`~transforms.cleaning.dofns.ItemSteps`); a message whose feed cannot be read goes
under the empty key and fails to parse there. A unit whose item changed what the source has
learned carries the changed ``learned_boilerplate`` rows (``Unit.learned``), written in the unit's
transaction. Messages travel to the keyed step as they came (bytes): cheaper to move than a parsed
item, and parsed once there.

Streaming: a stateful DoFn per feed (:class:`_CleanLearnedStateful`). Its state is the learner's
snapshot plus a log of the observations since, and the live learner is cached in the worker's
memory between elements: writing the whole learner per element (up to ``max_lines`` lines, 1.3 MB
pickled at the default bound) would cost far more than cleaning the item. A feed silent for
``window_days`` of event time has forgotten every line anyway, so its state is then dropped by a
timer. That is what Dataflow runs. The local graph keys the same chain by shard instead
(:class:`_CleanLearnedSharded`, ``shards``): the learners of one shard's feeds in one value, one
timer per shard, because the local engine walks every key it has seen on every bundle.

Batch: the same learner over each feed's items at once (group by feed, sort by fetch time, one
sequential pass), without per-element state, which the batch engine makes expensive; the final
rows of the feed's lines go with its last unit.
"""

from __future__ import annotations

import pickle
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial

import apache_beam as beam
from apache_beam.coders import BytesCoder, PickleCoder, StrUtf8Coder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration, Timestamp

from transforms import coders  # noqa: F401 - registers the unit's coder
from transforms import sharding
from transforms.cleaning.dofns import ItemSteps, stamped
from transforms.model import CleanArticle, Message, RawItem, Unit

from .learned import LearnConfig
from .learner import FeedLearner, feed_key, fetch_order

__all__ = ["LIVE_LEARNERS", "SNAPSHOT_EVERY", "CleanWithLearnedLines"]

_FEED_KEYED = beam.typehints.Tuple[str, Message]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _cleaned(result: tuple[CleanArticle | None, Unit | None]) -> CleanArticle | None:
    """The clean article of ``ItemSteps.clean``'s result, or None when cleaning failed."""
    clean, failed = result
    return clean if failed is None else None


class _Chain:
    """Parse, clean with a learner's lines, count the item, identify: the per-item work of both
    wirings, with its metrics."""

    def __init__(self) -> None:
        self.steps = ItemSteps()
        self.rows = Metrics.counter("learned", "rows_changed")
        self.removed = Metrics.counter("learned", "lines_removed")

    def unit(self, learner: FeedLearner, msg: Message, raw: RawItem, observe) -> Unit:
        """A parsed message's unit; ``observe(raw, clean) -> rows`` counts the cleaned item."""
        before = learner.learned()
        clean, unit = self.steps.clean(msg, raw, before)
        if unit is not None:  # nothing is learned from an item that could not be cleaned
            return unit
        rows = observe(raw, clean)
        # The item whose count made a line learned loses it too (see FeedLearner.settle).
        clean = learner.settle(clean, before, lambda learned: _cleaned(self.steps.clean(msg, raw, learned)))
        if clean.learned_lines:
            self.removed.inc(len(clean.learned_lines))
        unit = self.steps.identify(msg, raw, clean)
        if rows:
            self.rows.inc(len(rows))
            unit = unit._replace(learned=tuple(rows))
        return unit


# -- streaming -------------------------------------------------------------------------------------

@dataclass
class _Held:
    learner: FeedLearner
    token: str | None
    log_length: int


# Live learners by (DoFn identity, feed). The runner may rebuild the DoFn object for every bundle,
# so the cache lives at module level.
_LIVE: OrderedDict[tuple[str, str], _Held] = OrderedDict()
# A learner holds up to max_lines lines (about 1.6 MB at the default bound of 2,000); a worker
# serving more feeds than this rebuilds the coldest from state when their next item comes.
LIVE_LEARNERS = 128
# Observations logged between snapshots: a rebuild replays at most this many, and a snapshot (the
# whole learner) is written once per this many items of the feed.
SNAPSHOT_EVERY = 256


class _CleanLearnedStateful(beam.DoFn):
    """Keyed by feed: each item cleaned with the feed's learned lines, then counted.

    State: ``snapshot`` (the learner as plain values, pickled), ``log`` (observations since the
    snapshot: candidate lines, time, story, processing time, enough to replay them exactly),
    ``token`` (a fresh id written with every change). The live learner is trusted while its token
    equals the state's, which a failed bundle (its writes are discarded) or another worker taking
    the key over breaks; it is then rebuilt from snapshot and log.
    """

    SNAPSHOT = ReadModifyWriteStateSpec("snapshot", BytesCoder())
    LOG = BagStateSpec("log", PickleCoder())
    TOKEN = ReadModifyWriteStateSpec("token", StrUtf8Coder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, config: LearnConfig, snapshot_every: int, live_learners: int) -> None:
        self.config = config
        self.snapshot_every = snapshot_every
        self.live_learners = live_learners
        # Lines unseen for window_days are forgotten, so a feed silent that long holds nothing.
        self.ttl = Duration(seconds=int(timedelta(days=config.window_days).total_seconds()))
        self._live_id = uuid.uuid4().hex  # pickled with the DoFn: the same on every copy of it
        self.chain = _Chain()
        self.rebuilds = Metrics.counter("learned", "state_rebuilds")
        self.expired = Metrics.counter("learned", "feeds_expired")

    def _load(self, feed_id: str, snapshot, log, token) -> _Held:
        key = (self._live_id, feed_id)
        current = token.read()
        held = _LIVE.get(key)
        if held is not None and current is not None and held.token == current:
            _LIVE.move_to_end(key)
            return held
        self.rebuilds.inc()
        blob = snapshot.read()
        learner = (FeedLearner.from_dict(pickle.loads(blob), self.config) if blob
                   else FeedLearner.new(feed_id, self.config))
        replayed = 0
        for lines, at, story, now, *quick in log.read():  # logs written before the quick tier: 4 values
            learner.observe_lines(lines, at=at, story=story, now=now, quick=quick[0] if quick else None)
            replayed += 1
        held = _Held(learner, current, replayed)
        if self.live_learners > 0:
            _LIVE[key] = held
            _LIVE.move_to_end(key)
            while len(_LIVE) > self.live_learners:
                _LIVE.popitem(last=False)
        return held

    def process(self, element, ts=beam.DoFn.TimestampParam, snapshot=beam.DoFn.StateParam(SNAPSHOT),
                log=beam.DoFn.StateParam(LOG), token=beam.DoFn.StateParam(TOKEN),
                expiry=beam.DoFn.TimerParam(EXPIRY)):
        feed_id, msg = element
        raw, unit = self.chain.steps.parse(msg)
        if unit is not None:
            yield unit
            return
        held = self._load(feed_id, snapshot, log, token)

        def observe(raw, clean):
            lines, at, story = held.learner.observation(raw, clean)
            quick = held.learner.quick_observation(raw, clean)
            now = _now()
            rows = held.learner.observe_lines(lines, at=at, story=story, now=now, quick=quick)
            log.add((lines, at, story, now, quick))
            held.log_length += 1
            if held.log_length >= self.snapshot_every:
                snapshot.write(pickle.dumps(held.learner.to_dict(), protocol=pickle.HIGHEST_PROTOCOL))
                log.clear()
                held.log_length = 0
            held.token = sharding.new_token()
            token.write(held.token)
            expiry.set(ts + self.ttl)
            return rows

        yield self.chain.unit(held.learner, msg, raw, observe)

    @on_timer(EXPIRY)
    def expire(self, key=beam.DoFn.KeyParam, snapshot=beam.DoFn.StateParam(SNAPSHOT),
               log=beam.DoFn.StateParam(LOG), token=beam.DoFn.StateParam(TOKEN)):
        self.expired.inc()
        for state in (snapshot, log, token):
            state.clear()
        _LIVE.pop((self._live_id, key), None)


# -- streaming, sharded (the local graph) ----------------------------------------------------------

# A sharded learner step drops the feeds silent for the window once per this much event time.
EXPIRY_TICK = timedelta(hours=1)
_MICROS = 1_000_000
# Live shards of every sharded learner step in the process (a few pipelines' worth).
_LIVE_SHARDS = sharding.LiveShards(capacity=4 * sharding.LOCAL_SHARDS)


class _Feeds:
    """One shard's feeds: each feed's learner, and when its state expires (event time, micros)."""

    def __init__(self) -> None:
        self.learners: dict[str, FeedLearner] = {}
        self.expiry: dict[str, int] = {}

    def lines(self) -> int:
        return sum(len(learner.lines.lines) for learner in self.learners.values())


class _FeedsJournal(sharding.Journal):
    """A shard's feeds as a snapshot (every learner as plain values) plus logged changes:
    ``("observe", feed, lines, at, story, now, expiry, quick)``, the observation ``_CleanLearnedStateful``
    logs with its feed and expiry, and ``("forget", feeds)``."""

    def __init__(self, config: LearnConfig, min_log: int) -> None:
        self.config = config
        super().__init__(_Feeds, self._apply, self._size, min_log=min_log, dumps=self._dumps, loads=self._loads)

    def _apply(self, feeds: _Feeds, change) -> None:
        if change[0] == "observe":
            # A change logged before the quick tier has no quick observation.
            _, feed_id, lines, at, story, now, due, *quick = change
            learner = feeds.learners.get(feed_id)
            if learner is None:
                learner = feeds.learners[feed_id] = FeedLearner.new(feed_id, self.config)
            learner.observe_lines(lines, at=at, story=story, now=now, quick=quick[0] if quick else None)
            feeds.expiry[feed_id] = due
        else:
            for feed_id in change[1]:
                feeds.learners.pop(feed_id, None)
                feeds.expiry.pop(feed_id, None)

    @staticmethod
    def _size(feeds: _Feeds) -> int:
        # A snapshot writes every tracked line; a logged observation carries a handful of lines.
        # Folding once the log holds a tenth as many observations as the shard tracks lines keeps
        # the snapshots' cost per observation constant.
        return feeds.lines() // 10

    def _dumps(self, feeds: _Feeds) -> bytes:
        return pickle.dumps({"learners": {f: learner.to_dict() for f, learner in feeds.learners.items()},
                             "expiry": feeds.expiry}, protocol=pickle.HIGHEST_PROTOCOL)

    def _loads(self, blob: bytes) -> _Feeds:
        data = pickle.loads(blob)
        feeds = _Feeds()
        feeds.learners = {f: FeedLearner.from_dict(d, self.config) for f, d in data["learners"].items()}
        feeds.expiry = dict(data["expiry"])
        return feeds


class _CleanLearnedSharded(beam.DoFn):
    """Keyed by shard (``shard_of(feed_key)``): each item cleaned with its feed's learned lines,
    then counted; the chain, the learner and its log of :class:`_CleanLearnedStateful`, with the
    feeds of one shard in one value.

    Keys: the shards (``transforms.sharding.LOCAL_SHARDS``), whatever the number of feeds. State:
    each feed's learner (up to ``max_lines`` lines) as a snapshot plus a log of observations
    (``transforms.sharding.Journal``); a feed silent for ``window_days`` of event time has
    forgotten every line, so its learner is dropped then, by one timer per shard at the earliest
    such time rounded up to ``EXPIRY_TICK``. Every learner of the live shards is in memory.
    """

    SNAPSHOT = sharding.snapshot_spec()
    LOG = sharding.log_spec()
    TOKEN = sharding.token_spec()
    EXPIRE_AT = sharding.expire_at_spec()
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, config: LearnConfig, snapshot_every: int, live_learners: int) -> None:
        self.config = config
        self.live = live_learners > 0  # 0: rebuild the shard from state for every item (tests)
        self.journal = _FeedsJournal(config, snapshot_every)
        self.ttl_micros = int(timedelta(days=config.window_days).total_seconds()) * _MICROS
        self.tick_micros = int(EXPIRY_TICK.total_seconds()) * _MICROS
        self._owner = uuid.uuid4().hex  # pickled with the DoFn: the same on every copy of it
        self.chain = _Chain()
        self.rebuilds = Metrics.counter("learned", "state_rebuilds")
        self.expired = Metrics.counter("learned", "feeds_expired")

    def _load(self, shard: str, snapshot, log, token) -> sharding.Held[_Feeds]:
        return _LIVE_SHARDS.load(self._owner, shard, self.journal, snapshot=snapshot, log=log, token=token,
                                 on_rebuild=self.rebuilds.inc, keep=self.live)

    def process(self, element, ts=beam.DoFn.TimestampParam, snapshot=beam.DoFn.StateParam(SNAPSHOT),
                log=beam.DoFn.StateParam(LOG), token=beam.DoFn.StateParam(TOKEN),
                expire_at=beam.DoFn.StateParam(EXPIRE_AT), expiry=beam.DoFn.TimerParam(EXPIRY)):
        shard, msg = element
        raw, unit = self.chain.steps.parse(msg)
        if unit is not None:
            yield unit
            return
        feed_id = feed_key(msg)
        held = self._load(shard, snapshot, log, token)
        learner = held.value.learners.get(feed_id) or FeedLearner.new(feed_id, self.config)

        def observe(raw, clean):
            lines, at, story = learner.observation(raw, clean)
            quick = learner.quick_observation(raw, clean)
            now = _now()
            held.value.learners[feed_id] = learner
            rows = learner.observe_lines(lines, at=at, story=story, now=now, quick=quick)
            due = ts.micros + self.ttl_micros
            held.value.expiry[feed_id] = due
            self.journal.record(held, ("observe", feed_id, lines, at, story, now, due, quick),
                                snapshot=snapshot, log=log, token=token)
            sharding.schedule_expiry(due, self.tick_micros, expire_at, expiry)
            return rows

        yield self.chain.unit(learner, msg, raw, observe)

    @on_timer(EXPIRY)
    def expire(self, key=beam.DoFn.KeyParam, fired=beam.DoFn.TimestampParam,
               snapshot=beam.DoFn.StateParam(SNAPSHOT), log=beam.DoFn.StateParam(LOG),
               token=beam.DoFn.StateParam(TOKEN), expire_at=beam.DoFn.StateParam(EXPIRE_AT),
               expiry=beam.DoFn.TimerParam(EXPIRY)):
        held = self._load(key, snapshot, log, token)
        gone = tuple(sorted(f for f, due in held.value.expiry.items() if due <= fired.micros))
        self.expired.inc(len(gone))
        self.journal.apply(held.value, ("forget", gone))
        if not held.value.expiry:
            self.journal.clear(held, snapshot=snapshot, log=log, token=token)
            expire_at.clear()
            return
        if gone:
            self.journal.record(held, ("forget", gone), snapshot=snapshot, log=log, token=token)
        sharding.schedule_expiry(min(held.value.expiry.values()), self.tick_micros, expire_at, expiry,
                                 reset=True)


# -- batch -----------------------------------------------------------------------------------------

class _CleanFeedInOrder(beam.DoFn):
    """One feed's items at once, in fetch order, through one learner."""

    def __init__(self, config: LearnConfig) -> None:
        self.config = config
        self.chain = _Chain()

    def process(self, element):
        feed_id, messages = element
        parsed = []
        for msg in messages:
            raw, unit = self.chain.steps.parse(msg)
            if unit is not None:
                yield unit  # no event time of its own: it did not parse
            else:
                parsed.append((fetch_order(raw.fetched_at, msg.message_id), msg, raw))
        parsed.sort(key=lambda p: p[0])
        learner = FeedLearner.new(feed_id, self.config)
        observe = partial(_observe_now, learner)
        last = None
        for _order, msg, raw in parsed:
            if last is not None:
                yield stamped(*last)
            last = self.chain.unit(learner, msg, raw, observe), raw
        if last is not None:
            final = learner.flush(_now())
            if final:
                self.chain.rows.inc(len(final))
                unit, raw = last
                # One row per line, the latest: the final row supersedes the item's own.
                rows = {r["line_key"]: r for r in (*unit.learned, *final)}
                last = unit._replace(learned=tuple(rows.values())), raw
            yield stamped(*last)


def _observe_now(learner: FeedLearner, raw: RawItem, clean) -> list[dict]:
    return learner.observe(raw, clean, now=_now())


# -- the composite ---------------------------------------------------------------------------------

class CleanWithLearnedLines(beam.PTransform):
    """Messages → units, each item cleaned with the learned boilerplate of its source.

    ``snapshot_every`` and ``live_learners`` tune the streaming state (see ``SNAPSHOT_EVERY`` and
    ``LIVE_LEARNERS``); ``live_learners=0`` rebuilds the learner from state for every item. With
    ``shards``, streaming keys the feeds by that many shards (the local graph): ``snapshot_every``
    is then the fewest observations between two snapshots of a shard, and any ``live_learners``
    above 0 keeps every shard live.
    """

    def __init__(self, config: LearnConfig, *, streaming: bool, snapshot_every: int = SNAPSHOT_EVERY,
                 live_learners: int = LIVE_LEARNERS, shards: int | None = None) -> None:
        super().__init__()
        if snapshot_every < 1 or live_learners < 0:
            raise ValueError("snapshot_every must be positive and live_learners not negative")
        if shards is not None and shards < 1:
            raise ValueError(f"shards must be positive, got {shards}")
        self.config = config
        self.streaming = streaming
        self.snapshot_every = snapshot_every
        self.live_learners = live_learners
        self.shards = shards if streaming else None

    def expand(self, messages):
        # Stateful steps and grouping take their key coder from the input's type.
        shards = self.shards
        keyed = messages | "KeyByFeed" >> beam.Map(
            lambda msg: (feed_key(msg) if shards is None else sharding.shard_of(feed_key(msg), shards), msg)
        ).with_output_types(_FEED_KEYED)
        if shards is not None:
            return keyed | "CleanLearned" >> beam.ParDo(
                _CleanLearnedSharded(self.config, self.snapshot_every, self.live_learners))
        if self.streaming:
            return keyed | "CleanLearned" >> beam.ParDo(
                _CleanLearnedStateful(self.config, self.snapshot_every, self.live_learners))
        return (keyed
                | "GroupByFeed" >> beam.GroupByKey()
                | "CleanInFetchOrder" >> beam.ParDo(_CleanFeedInOrder(self.config)))
