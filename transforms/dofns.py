"""Beam wrappers around the pure transforms. They only wire; the logic lives in the pure modules."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone

import apache_beam as beam
import orjson
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration

from . import coders  # noqa: F401 - registers the unit's coder
from .clean import clean_item
from .errors import ItemError, dead_letter_row
from .identity import article_row, replay_key
from .model import CleanArticle, Message, RawItem, Unit
from .parse import parse_raw_item
from .withdrawal import withdrawal_notice

_LOG = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ItemSteps:
    """The per-message chain, one step at a time, for the DoFns that run it.

    Each step returns its result, or the message's finished unit when it failed: every failure
    becomes the unit's dead-letter row, naming its step (parse, clean or identify).
    """

    def __init__(self) -> None:
        self.read = Metrics.counter("newswire", "items_read")
        self.dead = Metrics.counter("newswire", "dead_letters")
        self.withdrawals = Metrics.counter("newswire", "withdrawal_notices")
        self._rule_counters: dict[str, object] = {}

    def _count_rules(self, rules) -> None:
        for rule in rules:
            c = self._rule_counters.get(rule)
            if c is None:
                c = self._rule_counters[rule] = Metrics.counter("boilerplate", rule)
            c.inc()

    def parse(self, msg: Message) -> tuple[RawItem | None, Unit | None]:
        self.read.inc()
        try:
            return parse_raw_item(msg.data, msg.attributes, msg.message_id), None
        except Exception as exc:  # noqa: BLE001 - one bad item must not kill the bundle
            return None, self.failed(msg, None, "parse", exc)

    def clean(self, msg: Message, raw: RawItem,
              learned: Collection[str] = ()) -> tuple[CleanArticle | None, Unit | None]:
        try:
            clean = clean_item(raw, learned=learned)
            self._count_rules(clean.removed_rules)
            if withdrawal_notice(clean.title, clean.body_text, clean.tags) is not None:
                # The notice is the article's next version, marked withdrawn (see transforms.withdrawal).
                clean.withdrawn = True
                self.withdrawals.inc()
            return clean, None
        except Exception as exc:  # noqa: BLE001
            return None, self.failed(msg, raw, "clean", exc)

    def identify(self, msg: Message, raw: RawItem, clean: CleanArticle) -> Unit:
        try:
            article = article_row(raw, clean, processed_at=_now())
        except Exception as exc:  # noqa: BLE001
            return self.failed(msg, raw, "identify", exc)
        return make_unit(msg, raw, article=article)

    def failed(self, msg: Message, raw: RawItem | None, step: str, exc: Exception) -> Unit:
        if not isinstance(exc, ItemError):
            # A bug, not bad input: logged loudly, and the item is still kept with its class.
            _LOG.exception("unexpected error in step %s for message %s", step, msg.message_id)
        self.dead.inc()
        feed_id = raw.feed_id if raw is not None else msg.attributes.get("feed_id")
        dead = dead_letter_row(step=step, error=exc, payload=msg.data, message_id=msg.message_id,
                               feed_id=feed_id, attributes=msg.attributes)
        return make_unit(msg, raw, dead=dead)


def make_unit(msg: Message, raw: RawItem | None, *, article: dict | None = None, dead: dict | None = None) -> Unit:
    """Everything one message produces, travelling together to the sink."""
    return Unit(msg.message_id, raw_item_row(msg, raw), article, dead,
                raw.agency_hint if raw is not None else None)


def stamped(unit: Unit, raw: RawItem | None):
    """The unit with its item's fetch time as event time (files carry no event time of their own)."""
    return beam.window.TimestampedValue(unit, raw.fetched_at.timestamp()) if raw is not None else unit


class ParseCleanIdentify(beam.DoFn):
    """Message → one *unit*: its raw_items row plus its article row or its dead-letter row.

    Everything one message produces travels together to the sink, which writes it in one
    transaction: a message is then either wholly in the warehouse or not at all, which is what
    crash recovery relies on (pipeline/recovery.py). Parse, clean and identify run in one DoFn
    because they are one pure chain per element; each failure still names its own step. With
    learned boilerplate on, the same chain runs keyed by feed instead (``transforms.learned_dofns``).
    """

    def __init__(self, stamp_event_time: bool = False) -> None:
        # Files carry no event time of their own; Pub/Sub reads already stamp fetched_at.
        self.stamp_event_time = stamp_event_time
        self.steps = ItemSteps()

    def process(self, msg: Message):
        raw, unit = self.steps.parse(msg)
        if unit is None:
            clean, unit = self.steps.clean(msg, raw)
            if unit is None:
                unit = self.steps.identify(msg, raw, clean)
        yield stamped(unit, raw) if self.stamp_event_time else unit


def unit_key(unit: Unit) -> str:
    """Dedup key: the article's id, or the message id for a unit without an article."""
    article = unit.article
    return article["article_id"] if article else "message:" + unit.message_id


def raw_item_row(msg: Message, raw: RawItem | None) -> dict:
    """The raw_items row: the message as received, whether or not it parsed."""
    attrs = msg.attributes
    fetched = raw.fetched_at if raw else None
    return {
        "replay_key": replay_key(attrs, msg.data),
        "message_id": msg.message_id,
        "feed_id": raw.feed_id if raw else attrs.get("feed_id"),
        "item_key": attrs.get("item_key"),
        "fetched_at": fetched,
        "received_at": _now(),
        "attributes": orjson.dumps(attrs, option=orjson.OPT_SORT_KEYS).decode(),
        "payload": msg.data.decode("utf-8", errors="replace"),
    }


# How many distinct content hashes one article keeps: corrections past this many are rare, and the
# sink still rejects a repeat of an evicted hash, so the bound only costs a re-check there.
_MAX_HASHES = 32


@dataclass
class VersionState:
    """What the pipeline remembers of one article: its latest version and recent content hashes."""

    version: int = 0
    hashes: list[str] = field(default_factory=list)


def next_version(state: VersionState, unit: Unit) -> Unit | None:
    """Apply one unit to an article's state (mutated). Returns the unit to emit, with its version,
    or the unit without its article when the content is a repeat (None only if there was no article).
    """
    row = unit.article
    if row is None:
        return None
    if row["content_hash"] in state.hashes:
        # The raw row still goes on: the message itself must be recorded as received.
        return unit._replace(article=None)
    state.version += 1
    state.hashes = (state.hashes + [row["content_hash"]])[-_MAX_HASHES:]
    return unit._replace(article={**row, "version": state.version})


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


class _DedupGroup(beam.DoFn):
    """Batch: the same rule over one article's whole group, in fetch order."""

    def __init__(self) -> None:
        self.counters = _VersionCounters()

    def process(self, element):
        _, units = element
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

    Streaming uses a stateful DoFn with a TTL timer. A batch job sees all of an article's items at
    once, so it groups them instead: the same rule (``next_version``), without per-element state
    writes, which the batch engine's state cache makes expensive (it sizes every value it caches).
    """

    def __init__(self, ttl_seconds: int, *, streaming: bool) -> None:
        super().__init__()
        self.ttl_seconds = ttl_seconds
        self.streaming = streaming

    def expand(self, keyed):
        if self.streaming:
            return keyed | "Stateful" >> beam.ParDo(DedupVersionsStateful(self.ttl_seconds))
        return keyed | "Group" >> beam.GroupByKey() | "Versions" >> beam.ParDo(_DedupGroup())
