"""Parse → clean with the source's learned boilerplate (keyed by feed) → identify.

The learned lines of a source (:class:`~transforms.learner.FeedLearner`) must be known when its
next item is cleaned, so cleaning runs keyed by ``feed_id``::

    messages ─ Parse ─┬─ parse failures (finished units) ────────────────────────┐
                      └─ (feed_id, item) ─ clean with learned lines ─ Identify ──┴─ Units

Every failure still becomes the unit's dead-letter row, with the step that failed (parse, clean or
identify: :class:`~transforms.dofns.ItemSteps`). A unit whose item changed what the source has
learned carries the changed rows under ``learned_boilerplate``, written in the unit's transaction.

Streaming: a stateful DoFn per feed (:class:`_CleanLearnedStateful`). Its state is the learner's
snapshot plus a log of the observations since, and the live learner is cached in the worker's
memory between elements: writing the whole learner per element (up to ``max_lines`` lines, 1.3 MB
pickled at the default bound) would cost far more than cleaning the item. A feed silent for ``window_days`` of event
time has forgotten every line anyway, so its state is then dropped by a timer.

Batch: the same learner over each feed's items at once (group by feed, sort by fetch time, one
sequential pass), without per-element state, which the batch engine makes expensive; the final
rows of the feed's lines go with its last unit.
"""

from __future__ import annotations

import pickle
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import apache_beam as beam
from apache_beam import coders
from apache_beam.coders import BytesCoder, PickleCoder, StrUtf8Coder
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration

from .dofns import ItemSteps, stamped
from .learned import LearnConfig
from .learner import LEARNED, FeedLearner, fetch_order
from .model import CleanArticle, Message, RawItem

__all__ = ["LIVE_LEARNERS", "SNAPSHOT_EVERY", "CleanWithLearnedLines", "CleanedItem", "ParsedItem"]

_FAILED = "failed"
_PARSED = "parsed"


@dataclass(frozen=True)
class ParsedItem:
    """A parsed message on its way to the feed's clean step (one pickle per element, see ``Unit``)."""

    message: Message
    raw: RawItem


coders.registry.register_coder(ParsedItem, PickleCoder)
_FEED_KEYED = beam.typehints.Tuple[str, ParsedItem]


@dataclass
class CleanedItem:
    """A cleaned item (or its finished dead-letter unit) and the learned rows it changed."""

    message: Message
    raw: RawItem
    clean: CleanArticle | None
    failed: dict | None = None
    learned_rows: list[dict] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _Parse(beam.DoFn):
    def __init__(self) -> None:
        self.steps = ItemSteps()

    def process(self, msg: Message):
        raw, unit = self.steps.parse(msg)
        if unit is not None:
            yield TaggedOutput(_FAILED, unit)
        else:
            yield raw.feed_id, ParsedItem(msg, raw)


class _LearnerCounters:
    def __init__(self) -> None:
        self.rows = Metrics.counter("learned", "rows_changed")
        self.removed = Metrics.counter("learned", "lines_removed")

    def count(self, item: CleanedItem) -> None:
        self.rows.inc(len(item.learned_rows))
        if item.clean is not None and item.clean.learned_lines:
            self.removed.inc(len(item.clean.learned_lines))


def _clean_one(steps: ItemSteps, learner: FeedLearner, parsed: ParsedItem) -> CleanedItem:
    msg, raw = parsed.message, parsed.raw
    clean, failed = steps.clean(msg, raw, learner.learned())
    if failed is not None:  # nothing is learned from an item that could not be cleaned
        return CleanedItem(msg, raw, None, failed)
    return CleanedItem(msg, raw, clean, learned_rows=learner.observe(raw, clean, now=_now()))


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
    """Keyed by feed: clean each item with the feed's learned lines, then count it.

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
        self.steps = ItemSteps()
        self.counters = _LearnerCounters()
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
        for lines, at, story, now in log.read():
            learner.observe_lines(lines, at=at, story=story, now=now)
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
        feed_id, parsed = element
        held = self._load(feed_id, snapshot, log, token)
        learner = held.learner
        msg, raw = parsed.message, parsed.raw
        clean, failed = self.steps.clean(msg, raw, learner.learned())
        if failed is not None:
            yield CleanedItem(msg, raw, None, failed)
            return
        lines, at, story = learner.observation(raw, clean)
        now = _now()
        rows = learner.observe_lines(lines, at=at, story=story, now=now)
        log.add((lines, at, story, now))
        held.log_length += 1
        if held.log_length >= self.snapshot_every:
            snapshot.write(pickle.dumps(learner.to_dict(), protocol=pickle.HIGHEST_PROTOCOL))
            log.clear()
            held.log_length = 0
        held.token = uuid.uuid4().hex
        token.write(held.token)
        expiry.set(ts + self.ttl)
        item = CleanedItem(msg, raw, clean, learned_rows=rows)
        self.counters.count(item)
        yield item

    @on_timer(EXPIRY)
    def expire(self, key=beam.DoFn.KeyParam, snapshot=beam.DoFn.StateParam(SNAPSHOT),
               log=beam.DoFn.StateParam(LOG), token=beam.DoFn.StateParam(TOKEN)):
        self.expired.inc()
        for state in (snapshot, log, token):
            state.clear()
        _LIVE.pop((self._live_id, key), None)


# -- batch -----------------------------------------------------------------------------------------

class _CleanFeedInOrder(beam.DoFn):
    """One feed's items at once, in fetch order, through one learner."""

    def __init__(self, config: LearnConfig) -> None:
        self.config = config
        self.steps = ItemSteps()
        self.counters = _LearnerCounters()

    def process(self, element):
        feed_id, items = element
        learner = FeedLearner.new(feed_id, self.config)
        last: CleanedItem | None = None
        for parsed in sorted(items, key=lambda p: fetch_order(p.raw.fetched_at, p.message.message_id)):
            if last is not None:
                yield last
            last = _clean_one(self.steps, learner, parsed)
            self.counters.count(last)
        if last is not None:
            final = learner.flush(_now())
            last.learned_rows = _latest(last.learned_rows + final)
            self.counters.rows.inc(len(final))
            yield last


def _latest(rows: list[dict]) -> list[dict]:
    """One row per line, the last one."""
    return list({r["line_key"]: r for r in rows}.values())


# -- identify and the composite --------------------------------------------------------------------

class _Identify(beam.DoFn):
    def __init__(self, stamp_event_time: bool) -> None:
        self.stamp_event_time = stamp_event_time
        self.steps = ItemSteps()

    def process(self, item: CleanedItem):
        unit = item.failed if item.failed is not None else self.steps.identify(item.message, item.raw, item.clean)
        if item.learned_rows:
            unit[LEARNED] = item.learned_rows
        yield stamped(unit, item.raw) if self.stamp_event_time else unit


class CleanWithLearnedLines(beam.PTransform):
    """Messages → units, each item cleaned with the learned boilerplate of its source.

    ``snapshot_every`` and ``live_learners`` tune the streaming state (see ``SNAPSHOT_EVERY`` and
    ``LIVE_LEARNERS``); ``live_learners=0`` rebuilds the learner from state for every item.
    """

    def __init__(self, config: LearnConfig, *, streaming: bool, snapshot_every: int = SNAPSHOT_EVERY,
                 live_learners: int = LIVE_LEARNERS) -> None:
        super().__init__()
        if snapshot_every < 1 or live_learners < 0:
            raise ValueError("snapshot_every must be positive and live_learners not negative")
        self.config = config
        self.streaming = streaming
        self.snapshot_every = snapshot_every
        self.live_learners = live_learners

    def expand(self, messages):
        parsed = messages | "Parse" >> beam.ParDo(_Parse()).with_outputs(_FAILED, main=_PARSED)
        # Stateful steps and grouping take their key coder from the input's type; Python has no
        # per-tag output hints, so the keyed output is typed here.
        keyed = parsed[_PARSED]
        keyed.element_type = _FEED_KEYED
        if self.streaming:
            cleaned = keyed | "CleanLearned" >> beam.ParDo(
                _CleanLearnedStateful(self.config, self.snapshot_every, self.live_learners))
        else:
            cleaned = (keyed
                       | "GroupByFeed" >> beam.GroupByKey()
                       | "CleanInFetchOrder" >> beam.ParDo(_CleanFeedInOrder(self.config)))
        units = cleaned | "Identify" >> beam.ParDo(_Identify(stamp_event_time=not self.streaming))
        return (parsed[_FAILED], units) | "Units" >> beam.Flatten()
