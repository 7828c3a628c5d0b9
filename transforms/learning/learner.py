"""Learned boilerplate as the pipeline runs it: one source's learner, its story key, its table rows.

:mod:`transforms.learning.learned` counts the lines of one source; a :class:`FeedLearner` is what
the keyed clean step holds per feed around it:

- the learned set, kept up to date incrementally (recomputing it walks every tracked line, which
  would cost more than cleaning the item);
- forgetting, run once per new day of observation time rather than per item;
- the ``learned_boilerplate`` rows that changed, for the unit to carry to the warehouse.

When an item counts
-------------------
Lines are counted on the day the item was published (:func:`observation_time`), never later than
it was fetched: a feed's first poll carries days of items, and the items that quote one statement
were all published on the day it was made.

Why a quote repeated by one day's story is not learned
------------------------------------------------------
When a story breaks, one source runs many items that quote the same statement or repeat the same
background paragraph. Three of :class:`~transforms.learning.LearnConfig`'s thresholds each stop it:

1. ``min_days``: the items of one day never suffice, however many there are (the default asks for
   three distinct publication days);
2. ``min_stories`` counts stories, not items: the story key (:func:`story_key`) is the item's
   headline, so the copies of one story a source carries several times (re-posts under a new URL,
   the same copy in several sections, a re-filed update) count once, before clustering has run;
3. ``min_share``: a story's quote is in a minority of the source's items over the window, where
   site furniture is in nearly all of them.

Rows
----
A line's row is emitted when it becomes learned or stops being learned (its share fell, or it was
forgotten), and while it stays learned each time its item count has grown by a tenth or a new day
has passed since the last row, so a line on every item writes a few rows a day rather than one per
item. :meth:`FeedLearner.flush` gives the final state of every line written so far, for the end of
a batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import orjson

from schemas import SCHEMA_VERSION

from transforms.cleaning import guid_identifies, paragraph_key
from transforms.model import CleanArticle, Message, RawItem

from .learned import LearnConfig, QuickLines, SourceLines, TitleForm, edge_lines, headline_words, title_suffix

__all__ = [
    "TITLE_SUFFIX_RULE_ID",
    "FeedLearner",
    "carries",
    "feed_key",
    "fetch_order",
    "observation_time",
    "story_key",
]

# A learned line's row is written again once its item count has grown by this factor: a handful of
# rows over a line's life instead of one per item.
_EXPORT_GROWTH = 1.1
# A headline key shorter than this ("Update", "News") names no story; the item counts on its own.
_MIN_TITLE_KEY = 12
_TITLE_KEY_CHARS = 120
_LINE_NUMBER = re.compile(r"^(.*#L)(\d+)$")
# Rule id reported when a learned headline form lost its source-name suffix.
TITLE_SUFFIX_RULE_ID = "learned.title_suffix"


def observation_time(raw: RawItem, clean: CleanArticle) -> datetime:
    """When the item's lines count: its publication time, but never after it was fetched."""
    return min(clean.published_at, raw.fetched_at)


def story_key(raw: RawItem, clean: CleanArticle) -> str:
    """The story an item belongs to, as far as is known before clustering: its headline.

    A headline too short to name a story makes the item a story of its own (its guid or link).
    """
    key = paragraph_key(clean.title)
    if len(key) >= _MIN_TITLE_KEY:
        return "title:" + key[:_TITLE_KEY_CHARS]
    guid = raw.entry.id if guid_identifies(raw.entry.id, raw) else None
    return "item:" + (guid or raw.entry.link or raw.message_id)


def carries(clean: CleanArticle, keys: Collection[str]) -> bool:
    """Whether a cleaned item still holds a paragraph of ``keys`` (lines its own count made learned)."""
    return bool(keys) and any(paragraph_key(p) in keys for p in clean.body)


def feed_key(msg: Message) -> str:
    """The feed a message belongs to: its ``feed_id`` attribute (pollers set it), else the payload's
    ``feed_id``; empty when neither can be read (the message then fails to parse, as a dead letter)."""
    feed = msg.attributes.get("feed_id")
    if isinstance(feed, str) and feed:
        return feed
    try:
        obj = orjson.loads(msg.data)
    except orjson.JSONDecodeError:
        return ""
    feed = obj.get("feed_id") if isinstance(obj, dict) else None
    return feed if isinstance(feed, str) else ""


def fetch_order(fetched_at: datetime, message_id: str) -> tuple:
    """Sort key of a source's items in a batch: fetch time, then the order within the poll.

    Items of one poll share ``fetched_at``; read from files, a message id ends in its line number,
    compared as a number so line 10 follows line 9.
    """
    m = _LINE_NUMBER.match(message_id)
    return (fetched_at, m.group(1), int(m.group(2))) if m else (fetched_at, message_id, 0)


@dataclass
class FeedLearner:
    """The learned boilerplate of one source (feed), with what has been written of it."""

    feed_id: str
    config: LearnConfig
    lines: SourceLines
    learned_keys: frozenset[str] = frozenset()
    # The last row written per line: to tell whether a line's row changed, and to write a line's
    # final row (learned = false) once it is forgotten. Only lines written while learned are kept.
    exported: dict[str, dict] = field(default_factory=dict)
    forgot_on: date | None = None
    # The quick tier: short edge lines learned from a few items of unrelated stories.
    quick: QuickLines = field(default_factory=QuickLines)
    # The aggregator's headline form ("Headline - Source Name"), learned like a quick line.
    title_form: TitleForm = field(default_factory=TitleForm)

    @classmethod
    def new(cls, feed_id: str, config: LearnConfig) -> FeedLearner:
        return cls(feed_id=feed_id, config=config, lines=SourceLines(feed_id))

    def learned(self) -> frozenset[str]:
        """Keys of the lines to remove from this source's next item (``clean_item(learned=...)``)."""
        return self.learned_keys

    def observe(self, raw: RawItem, clean: CleanArticle, *, now: datetime) -> list[dict]:
        """Count a cleaned item of this source; returns the ``learned_boilerplate`` rows it changed."""
        lines, at, story = self.observation(raw, clean)
        return self.observe_lines(lines, at=at, story=story, now=now, quick=self.quick_observation(raw, clean))

    def quick_observation(self, raw: RawItem, clean: CleanArticle) -> tuple[list[str], tuple[str, ...], bool]:
        """What the quick tier counts of an item: its short edge lines (plus the learned lines removed
        from it that the tier tracks, so they stay remembered), its headline's words (without a
        source-name suffix) and whether the headline had one."""
        edges = edge_lines(clean.body, self.config)
        edges.extend(k for k in clean.learned_lines if k in self.quick.lines)
        split = title_suffix(clean.title)
        head = headline_words(split[0] if split else clean.title, raw.entry.id or raw.entry.link or raw.message_id)
        # A suffix cleaning already removed (a known agency's or site's name) shows the form too.
        suffixed = split is not None or (clean.title != raw.entry.title and title_suffix(raw.entry.title) is not None)
        return edges, head, suffixed

    def settle(self, clean: CleanArticle, before: frozenset[str],
               clean_again: Callable[[frozenset[str]], CleanArticle | None]) -> CleanArticle:
        """The item as it leaves the learner once counted (``before``: the learned set it was cleaned
        with). When its own count made a line it still holds learned, it is cleaned again with that
        line learned (``clean_again(learned)``, None when that fails), as a redelivery will be, so
        both give the same content; then a learned headline form loses its source-name suffix."""
        learned = self.learned_keys
        if learned is not before and carries(clean, learned - before):
            again = clean_again(learned)
            if again is not None:
                clean = again
        return self.strip_title(clean)

    def strip_title(self, clean: CleanArticle) -> CleanArticle:
        """The item with its headline's source-name suffix removed, once the form is learned."""
        if not self.title_form.learned(self.config):
            return clean
        split = title_suffix(clean.title)
        if split is None:
            return clean
        return replace(clean, title=split[0], removed_rules=[*clean.removed_rules, TITLE_SUFFIX_RULE_ID])

    def observation(self, raw: RawItem, clean: CleanArticle) -> tuple[list[str], datetime, str]:
        """What counting an item takes: its paragraphs that can be boilerplate plus the learned
        lines removed from it, its observation time and its story key."""
        limit = self.config.max_line_chars
        lines = [p for p in clean.body if len(p) <= limit] + list(clean.learned_lines)
        return lines, observation_time(raw, clean), story_key(raw, clean)

    def observe_lines(self, paragraphs: list[str], *, at: datetime, story: str, now: datetime,
                      quick: tuple[list[str], tuple[str, ...], bool] | None = None) -> list[dict]:
        """:meth:`observe` from its parts (what a state log records, to replay it). ``quick`` is
        :meth:`quick_observation`'s; None (a log written before the quick tier) counts nothing there."""
        before = self.learned_keys
        self._forget(at)
        counted = self.lines.observe(paragraphs, at=at, story=story, config=self.config)
        if quick is not None:
            edges, head, suffixed = quick
            self.quick.observe(edges, tuple(head), at=at, config=self.config)
            self.title_form.observe(bool(suffixed), tuple(head), at=at, config=self.config)
        self._refresh(counted)
        touched = dict.fromkeys(counted)
        touched.update(dict.fromkeys(before ^ self.learned_keys))
        return self._rows(touched, now=now, at=at)

    def flush(self, now: datetime) -> list[dict]:
        """The current row of every line written so far whose counts changed since."""
        out = []
        for key, last in list(self.exported.items()):
            row = self._row(key, now) if key in self.lines.lines else {**last, "learned": False, "updated_at": now}
            if _differs(row, last):
                out.append(self._written(key, row))
        return out

    # -- internals ---------------------------------------------------------------------------------

    def _forget(self, at: datetime) -> None:
        day = at.date()
        if self.forgot_on is None or day > self.forgot_on:
            self.forgot_on = day
            self.lines.forget(at, self.config)
            self.quick.forget(at, self.config)
            self.title_form.forget(at, self.config)
            # Rows of lines gone and no longer learned have been written for the last time.
            for key in [k for k, row in self.exported.items() if not row["learned"] and k not in self.lines.lines]:
                del self.exported[key]

    def _refresh(self, counted: list[str]) -> None:
        """Only counted lines can become learned; any learned line can stop being learned (its share
        falls with every item that lacks it, and forgetting drops it)."""
        is_learned = self.lines.is_learned
        keep = {k for k in self.learned_keys if is_learned(k, self.config)}
        keep.update(k for k in counted if is_learned(k, self.config))
        keep.update(self.quick.learned_keys)
        if keep != self.learned_keys:
            self.learned_keys = frozenset(keep)

    def _rows(self, keys: dict[str, None], *, now: datetime, at: datetime) -> list[dict]:
        out = []
        for key in keys:
            last = self.exported.get(key)
            if key not in self.lines.lines:
                if last is not None and last["learned"]:
                    out.append(self._written(key, {**last, "learned": False, "updated_at": now}))
                continue
            learned = key in self.learned_keys
            if last is None:
                if learned:
                    out.append(self._written(key, self._row(key, now)))
            elif learned != last["learned"] or (learned and _grown(self.lines.lines[key], last, at)):
                out.append(self._written(key, self._row(key, now)))
        return out

    def _written(self, key: str, row: dict) -> dict:
        if row["learned"] or key in self.lines.lines:
            self.exported[key] = row
        else:  # forgotten and no longer learned: nothing more will be written of it
            self.exported.pop(key, None)
        return row

    def _row(self, key: str, now: datetime) -> dict:
        stat = self.lines.lines[key]
        return {
            "feed_id": self.feed_id,
            "line_key": key,
            "line": stat.text,
            "learned": key in self.learned_keys,
            "items": stat.items,
            "share": round(self.lines.share(key), 4),
            "days": len(stat.days),
            "stories": len(stat.stories),
            "first_seen": stat.first_seen,
            "last_seen": stat.last_seen,
            "updated_at": now,
            "schema_version": SCHEMA_VERSION,
        }

    # -- state -------------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Plain values only (no classes), so the snapshot in pipeline state survives code changes."""
        return {"feed_id": self.feed_id, "lines": self.lines.to_dict(), "learned": sorted(self.learned_keys),
                "exported": self.exported, "forgot_on": self.forgot_on.isoformat() if self.forgot_on else None,
                "quick": self.quick.to_dict(), "title_form": self.title_form.to_dict()}

    @classmethod
    def from_dict(cls, data: dict, config: LearnConfig) -> FeedLearner:
        learner = cls(feed_id=data["feed_id"], config=config, lines=SourceLines.from_dict(data["lines"]),
                      exported=dict(data.get("exported") or {}),
                      forgot_on=date.fromisoformat(data["forgot_on"]) if data.get("forgot_on") else None,
                      # Both absent from a snapshot written before the quick tier.
                      quick=QuickLines.from_dict(data.get("quick"), config),
                      title_form=TitleForm.from_dict(data.get("title_form")))
        # Thresholds are options: a job restarted with other thresholds re-decides every line.
        learner.learned_keys = learner.lines.learned(config) | learner.quick.learned(config)
        return learner


_COMPARED = ("learned", "items", "share", "days", "stories", "first_seen", "last_seen", "line")


def _differs(row: dict, last: dict) -> bool:
    return any(row[c] != last[c] for c in _COMPARED)


def _grown(stat, last: dict, at: datetime) -> bool:
    if stat.items >= last["items"] * _EXPORT_GROWTH:
        return True
    last_seen = last["last_seen"]
    return last_seen is not None and at.date() > last_seen.date()
