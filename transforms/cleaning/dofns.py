"""Beam wrappers of cleaning: each message through parse → clean → identify, into its unit.

They only wire; the logic lives in the pure modules (and in identity's ``article_row``). The unit
(``transforms.model.Unit``) starts here, with its raw_items row and its article or dead-letter row.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timezone

import apache_beam as beam
import orjson
from apache_beam.metrics import Metrics

from transforms import coders  # noqa: F401 - registers the unit's coder
from transforms.errors import ItemError, dead_letter_row
from transforms.identity import article_row, replay_key
from transforms.model import CleanArticle, Message, RawItem, Unit

from .clean import clean_item
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
            rule = rule.split("@", 1)[0]  # "classifier.<kind>@<score>": one counter per kind
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
                # The notice is the article's next version, marked withdrawn (see .withdrawal).
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
    learned boilerplate on, the same chain runs keyed by feed instead
    (``transforms.learning.dofns``).
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
