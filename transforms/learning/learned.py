"""Learned boilerplate: lines that one source repeats across many of its items.

Rule packs catch chrome that is known in advance. A site's own furniture ("Harbour Blog: island
news since 2009", a donation appeal, a fixed disclaimer) is learned instead: per source (feed),
count the normalized lines (``paragraph_key``) of its cleaned items; a line that clears every
threshold in :class:`LearnConfig` is that source's boilerplate, and ``clean_item(raw,
learned=state.learned())`` drops it (reported as rule ``learned.line``).

A line is learned only when it appears in

- at least ``min_items`` items, and
- on at least ``min_days`` distinct UTC days, and
- in at least ``min_stories`` distinct stories (the story/cluster key the caller passes), and
- in at least ``min_share`` of the source's items since the line was first seen.

Why all four: when one story breaks, a source runs many items that quote the same statement or
repeat the same background paragraph on the same day. Those items belong to one story cluster and
one day, so ``min_days`` and ``min_stories`` keep such a line from being learned however often it
repeats. A background paragraph that survives for weeks across different stories ("The conflict
has killed …") still appears in only a fraction of the source's items, while chrome appears in
nearly all of them: ``min_share`` tells them apart. Paragraphs longer than ``max_line_chars`` are
body text and are never candidates.

State is bounded: at most ``max_lines`` candidate lines per source (the weakest unlearned lines are
evicted first), at most ``min_days`` day stamps and ``min_stories`` story keys per line (only "at
least N" is ever asked), and a line not seen for ``window_days`` is forgotten — so a learned line
that disappears from the site is unlearned again. Everything here is pure and deterministic: the
pipeline keeps one :class:`SourceLines` per source in keyed state (``to_dict``/``from_dict``) and
calls :meth:`SourceLines.observe` after cleaning each item.

The quick tier
--------------
Those thresholds need weeks of a source before anything is learned, and most sources are read
for far fewer items than ``min_items``. Chrome sits at an item's edges ("Follow us on WhatsApp",
"This report is auto-generated from …", a comment-form prompt), so :class:`QuickLines` learns a
short line (at most ``quick_max_chars``) among an item's first or last ``quick_edge`` paragraphs
once it has appeared in ``quick_min_items`` items of *unrelated* stories: items whose headlines
share under ``quick_related`` of their words. The updates of one developing story share their
headline's words, so the background paragraph they all repeat never counts twice; a repeated
item (same headline) never counts twice either. State is bounded as above: at most
``quick_max_lines`` lines per source, ``quick_min_items`` headlines per line, and a line unseen for
``window_days`` is forgotten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from transforms.cleaning import paragraph_key

@dataclass(frozen=True)
class LearnConfig:
    min_items: int = 20
    min_days: int = 3
    min_stories: int = 5
    min_share: float = 0.4
    max_lines: int = 2000
    window_days: int = 14
    max_line_chars: int = 400
    min_key_chars: int = 4
    # The quick tier (QuickLines); quick_min_items = 0 turns it off.
    quick_min_items: int = 2
    quick_edge: int = 2
    quick_max_chars: int = 200
    quick_max_lines: int = 256
    quick_related: float = 0.5

    def __post_init__(self) -> None:
        if self.quick_min_items == 1 or self.quick_min_items < 0:
            raise ValueError("quick_min_items must be 0 (off) or at least 2")
        if self.quick_edge < 1 or self.quick_max_chars < 1 or self.quick_max_lines < 1:
            raise ValueError("quick_edge, quick_max_chars and quick_max_lines must be positive")
        if not 0 < self.quick_related <= 1:
            raise ValueError("quick_related must be in (0, 1]")
        if self.min_items < 2 or self.min_days < 1 or self.min_stories < 1:
            raise ValueError("min_items must be >= 2, min_days and min_stories >= 1")
        if not 0 < self.min_share <= 1:
            raise ValueError("min_share must be in (0, 1]")
        if self.max_lines < 1 or self.window_days < 1:
            raise ValueError("max_lines and window_days must be positive")


@dataclass
class LineStat:
    text: str                      # one spelling of the line, for exports
    items: int = 0
    days: list[str] = field(default_factory=list)      # distinct ISO dates, at most min_days
    stories: list[str] = field(default_factory=list)   # distinct story keys, at most min_stories
    source_items_before: int = 0   # items the source had seen before this line first appeared
    first_seen: datetime | None = None
    last_seen: datetime | None = None


def _utc(at: datetime) -> datetime:
    if at.tzinfo is timezone.utc:  # nearly always: parsed times are UTC
        return at
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def distinct_keys(texts: Iterable[str], tracked: Mapping[str, object], config: LearnConfig) -> Iterator[tuple[str, str]]:
    """``(text, key)`` for each distinct line key among ``texts`` long enough to count; a text that is
    itself a tracked key (a replayed log holds keys) is its own key."""
    seen: set[str] = set()
    for text in texts:
        key = text if text in tracked else paragraph_key(text)
        if len(key) < config.min_key_chars or key in seen:
            continue
        seen.add(key)
        yield text, key


@dataclass
class SourceLines:
    """Line statistics of one source (feed)."""

    source: str
    items_seen: int = 0
    lines: dict[str, LineStat] = field(default_factory=dict)
    # No line was last seen before this (None: unknown), so :meth:`forget` scans the lines only
    # once one may be stale: last_seen only grows, and a line added earlier lowers it.
    _floor: datetime | None = field(default=None, compare=False, repr=False)

    # --- learning -------------------------------------------------------------------------------

    def observe(self, paragraphs: Iterable[str], *, at: datetime, story: str,
                config: LearnConfig = LearnConfig()) -> list[str]:
        """Count one cleaned item: its paragraphs (text), when it was seen, and its story key.

        Pass the paragraphs before learned lines were removed (``body`` plus the item's
        ``learned_lines`` keys are accepted too: a key that is already tracked counts as its line).
        Returns the keys of the lines counted, the only ones whose statistics changed.
        """
        at = _utc(at)
        day = at.date().isoformat()
        self.items_seen += 1
        counted: list[str] = []
        lines = self.lines
        for text, key in distinct_keys((t for t in paragraphs if len(t) <= config.max_line_chars),
                                       lines, config):
            stat = lines.get(key)
            if stat is None:  # (most lines: a story's sentences, seen once)
                if len(lines) >= config.max_lines and not self._evict(at, config):
                    continue
                lines[key] = LineStat(text, 1, [day][-config.min_days:], [story][-config.min_stories:],
                                      self.items_seen - 1, at, at)
                if self._floor is not None and at < self._floor:
                    self._floor = at
                counted.append(key)
                continue
            counted.append(key)
            stat.items += 1
            stat.last_seen = at if stat.last_seen is None or at > stat.last_seen else stat.last_seen
            if day not in stat.days:
                stat.days = (stat.days + [day])[-config.min_days:]
            if story not in stat.stories:
                stat.stories = (stat.stories + [story])[-config.min_stories:]
        return counted

    def _evict(self, now: datetime, config: LearnConfig) -> bool:
        """Make room for new lines: forget stale lines, else drop the weakest lines not yet learned.

        A source at its bound meets a new line with almost every item (body sentences short enough
        to be candidates), and every eviction scans all lines; so one pass frees an eighth of the
        bound, weakest first (fewest items, then least recently seen), instead of one line per pass.
        """
        self.forget(now, config)
        if len(self.lines) < config.max_lines:
            return True
        excess = len(self.lines) - config.max_lines + max(1, config.max_lines // 8)
        # A line seen fewer than min_items times is not learned, and sorts before every line seen
        # more often: when there are enough of those (body sentences, nearly always), they are the
        # weakest, found without asking each line whether it is learned.
        weak = [(s.items, s.last_seen or now, k) for k, s in self.lines.items() if s.items < config.min_items]
        if len(weak) >= excess:
            candidates = sorted(weak)
        else:
            candidates = sorted((s.items, s.last_seen or now, k) for k, s in self.lines.items()
                                if not self.is_learned(k, config))
        if not candidates:
            return False
        for _items, _seen, key in candidates[:excess]:
            del self.lines[key]
        return True

    def forget(self, now: datetime, config: LearnConfig = LearnConfig()) -> int:
        """Drop lines unseen for ``window_days``; returns how many were dropped."""
        cutoff = _utc(now) - timedelta(days=config.window_days)
        if self._floor is not None and self._floor >= cutoff:
            return 0  # no line was last seen before the floor: none is stale (no scan)
        stale = [k for k, s in self.lines.items() if s.last_seen is not None and s.last_seen < cutoff]
        for k in stale:
            del self.lines[k]
        seen = [s.last_seen for s in self.lines.values()]
        # (a line with no last_seen, from an old state, keeps the scan on)
        self._floor = min(seen, default=cutoff) if None not in seen else None
        return len(stale)

    # --- using ----------------------------------------------------------------------------------

    def share(self, key: str) -> float:
        stat = self.lines[key]
        return stat.items / max(1, self.items_seen - stat.source_items_before)

    def is_learned(self, key: str, config: LearnConfig = LearnConfig()) -> bool:
        stat = self.lines.get(key)
        return (stat is not None and stat.items >= config.min_items
                and len(stat.days) >= config.min_days and len(stat.stories) >= config.min_stories
                and self.share(key) >= config.min_share)

    def learned(self, config: LearnConfig = LearnConfig()) -> frozenset[str]:
        """Keys (``paragraph_key``) of this source's learned boilerplate lines."""
        return frozenset(k for k in self.lines if self.is_learned(k, config))

    def export(self, config: LearnConfig = LearnConfig(), *, only_learned: bool = True) -> list[dict]:
        """Rows describing what was learned (for a table or a report), most frequent first."""
        rows = []
        for key, s in self.lines.items():
            learned = self.is_learned(key, config)
            if only_learned and not learned:
                continue
            rows.append({
                "source": self.source, "line": s.text, "line_key": key, "items": s.items,
                "share": round(self.share(key), 4), "days": len(s.days), "stories": len(s.stories),
                "first_seen": s.first_seen, "last_seen": s.last_seen, "learned": learned,
            })
        return sorted(rows, key=lambda r: (-r["items"], r["line_key"]))

    # --- state ----------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "source": self.source, "items_seen": self.items_seen,
            "lines": {k: {"text": s.text, "items": s.items, "days": list(s.days), "stories": list(s.stories),
                          "source_items_before": s.source_items_before,
                          "first_seen": s.first_seen.isoformat() if s.first_seen else None,
                          "last_seen": s.last_seen.isoformat() if s.last_seen else None}
                      for k, s in self.lines.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> SourceLines:
        def ts(v: str | None) -> datetime | None:
            return datetime.fromisoformat(v) if v else None

        lines = {k: LineStat(text=v["text"], items=v["items"], days=list(v["days"]), stories=list(v["stories"]),
                             source_items_before=v["source_items_before"], first_seen=ts(v["first_seen"]),
                             last_seen=ts(v["last_seen"]))
                 for k, v in (data.get("lines") or {}).items()}
        return cls(source=data["source"], items_seen=int(data.get("items_seen", 0)), lines=lines)


def observe_article(state: SourceLines, body: Sequence[str], learned_lines: Sequence[str], *, at: datetime,
                    story: str, config: LearnConfig = LearnConfig()) -> list[str]:
    """Observe a cleaned article: its body plus the learned lines cleaning removed from it, so a
    learned line keeps being counted (and is not forgotten) while it is being removed."""
    return state.observe([*body, *learned_lines], at=at, story=story, config=config)


# -- the quick tier ----------------------------------------------------------------------------------

_HEADLINE_WORD = re.compile(r"\w{3,}")
# Words kept of a headline: enough to compare two, and a bound on the state.
_HEADLINE_WORDS = 24


def headline_words(title: str | None, fallback: str) -> tuple[str, ...]:
    """A headline's words for :func:`related` (three letters or more, lowercase, sorted, distinct);
    an item without a usable headline stands for itself (``fallback``, its identity)."""
    words = sorted(set(_HEADLINE_WORD.findall((title or "").casefold())))[:_HEADLINE_WORDS]
    return tuple(words) if words else ("\x00" + fallback,)


def related(a: Sequence[str], b: Sequence[str], threshold: float) -> bool:
    """Two headlines of one story: they share at least ``threshold`` of the shorter one's words."""
    shared = len(set(a).intersection(b))
    return shared >= threshold * min(len(a), len(b))


def edge_lines(body: Sequence[str], config: LearnConfig) -> list[str]:
    """The paragraphs of a cleaned body the quick tier counts: the first and last ``quick_edge``,
    when short enough to be chrome."""
    n = config.quick_edge
    picked = body if len(body) <= 2 * n else [*body[:n], *body[-n:]]
    return [p for p in picked if len(p) <= config.quick_max_chars]


@dataclass
class QuickStat:
    text: str
    heads: list[tuple[str, ...]] = field(default_factory=list)  # unrelated headlines, at most quick_min_items
    last_seen: datetime | None = None


@dataclass
class QuickLines:
    """One source's short edge lines and the unrelated stories each appeared in."""

    lines: dict[str, QuickStat] = field(default_factory=dict)
    learned_keys: set[str] = field(default_factory=set)

    def observe(self, edges: Iterable[str], head: tuple[str, ...], *, at: datetime,
                config: LearnConfig) -> list[str]:
        """Count an item's edge lines (text, or keys already tracked) under its headline's words;
        returns the keys that became learned."""
        if not config.quick_min_items:
            return []
        at = _utc(at)
        learned: list[str] = []
        for text, key in distinct_keys(edges, self.lines, config):
            stat = self.lines.get(key)
            if stat is None:
                if len(self.lines) >= config.quick_max_lines:
                    self._evict(at, config)
                stat = self.lines[key] = QuickStat(text=text)
            stat.last_seen = at if stat.last_seen is None or at > stat.last_seen else stat.last_seen
            if len(stat.heads) >= config.quick_min_items:
                continue
            if any(related(head, other, config.quick_related) for other in stat.heads):
                continue  # the same story again: its repeated background is not chrome
            stat.heads.append(head)
            if len(stat.heads) >= config.quick_min_items:
                self.learned_keys.add(key)
                learned.append(key)
        return learned

    def _evict(self, now: datetime, config: LearnConfig) -> None:
        """Drop the least recently seen quarter of the lines, those not learned first (the bound holds
        whatever the source sends). Nearly every item of a source brings new edge lines (its
        ledes), so one pass frees room for many; stale lines go once a day (:meth:`forget`)."""
        learned = self.learned_keys
        oldest = sorted(self.lines, key=lambda k: (k in learned, self.lines[k].last_seen or now))
        for key in oldest[: max(1, config.quick_max_lines // 4)]:
            del self.lines[key]
            self.learned_keys.discard(key)

    def forget(self, now: datetime, config: LearnConfig) -> int:
        cutoff = _utc(now) - timedelta(days=config.window_days)
        stale = [k for k, s in self.lines.items() if s.last_seen is not None and s.last_seen < cutoff]
        for key in stale:
            del self.lines[key]
            self.learned_keys.discard(key)
        return len(stale)

    def learned(self, config: LearnConfig) -> frozenset[str]:
        """Keys of the lines learned, as ``config`` decides (a restart may change the thresholds)."""
        if not config.quick_min_items:
            return frozenset()
        return frozenset(k for k, s in self.lines.items() if len(s.heads) >= config.quick_min_items)

    def to_dict(self) -> dict:
        return {k: {"text": s.text, "heads": [list(h) for h in s.heads],
                    "last_seen": s.last_seen.isoformat() if s.last_seen else None}
                for k, s in self.lines.items()}

    @classmethod
    def from_dict(cls, data: dict | None, config: LearnConfig) -> QuickLines:
        lines = {k: QuickStat(text=v["text"], heads=[tuple(h) for h in v["heads"]],
                              last_seen=datetime.fromisoformat(v["last_seen"]) if v["last_seen"] else None)
                 for k, v in (data or {}).items()}
        quick = cls(lines=lines)
        quick.learned_keys = set(quick.learned(config))
        return quick


# -- the aggregator's headline form ------------------------------------------------------------------

# "Headline - Source Name": the last separator of a headline, spaced (a hyphenated word is not one).
_SUFFIX_SEPARATOR = re.compile(r"\s+[-\u2013\u2014|]\s+")
_DIGIT = re.compile(r"\d")
_SUFFIX_MAX_WORDS = 6
_SUFFIX_MAX_CHARS = 60
_HEAD_MIN_WORDS = 3


def _capitalized(word: str) -> bool:
    # "l'Atlantique", "d'Italia": a name after an elided article.
    return word[:1].isupper() or (len(word) > 2 and word[1] in "'\u2019" and word[2].isupper())


def title_suffix(title: str | None) -> tuple[str, str] | None:
    """``(headline, suffix)`` when a headline ends in a source's name after a spaced dash or bar
    ("… - El Heraldo del Plata"): a short suffix capitalized like a name (no digits, no sentence
    punctuation, at least half its words capitalized) after a headline of three words or more."""
    if not title or not ("- " in title or "| " in title or "\u2013" in title or "\u2014" in title):
        return None  # most headlines: no separator at all
    seps = list(_SUFFIX_SEPARATOR.finditer(title))
    if not seps:
        return None
    head, suffix = title[: seps[-1].start()].rstrip(), title[seps[-1].end():].strip()
    words = suffix.split()
    if (not words or len(words) > _SUFFIX_MAX_WORDS or len(suffix) > _SUFFIX_MAX_CHARS
            or len(head.split()) < _HEAD_MIN_WORDS or not _capitalized(words[0])
            or _DIGIT.search(suffix) or suffix[-1] in ".?!:;,"
            or 2 * sum(map(_capitalized, words)) < len(words)):
        return None
    return head, suffix


@dataclass
class TitleForm:
    """Whether a source's headlines carry a source name after a dash ("Headline - Source Name"):
    an aggregator relaying many outlets. Learned once ``quick_min_items`` items of unrelated stories
    carried a suffix (:func:`title_suffix`); forgotten when none was seen for ``window_days``.

    The form, not the names: the next item's suffix is whatever outlet it relays."""

    heads: list[tuple[str, ...]] = field(default_factory=list)  # unrelated headlines, at most quick_min_items
    last_seen: datetime | None = None

    def observe(self, suffixed: bool, head: tuple[str, ...], *, at: datetime, config: LearnConfig) -> bool:
        """Count an item (``suffixed``: its headline ends in a name); True when the form became learned."""
        if not suffixed or not config.quick_min_items:
            return False
        at = _utc(at)
        self.last_seen = at if self.last_seen is None or at > self.last_seen else self.last_seen
        if len(self.heads) >= config.quick_min_items:
            return False
        if any(related(head, other, config.quick_related) for other in self.heads):
            return False
        self.heads.append(head)
        return len(self.heads) >= config.quick_min_items

    def learned(self, config: LearnConfig) -> bool:
        return bool(config.quick_min_items) and len(self.heads) >= config.quick_min_items

    def forget(self, now: datetime, config: LearnConfig) -> None:
        if self.last_seen is not None and self.last_seen < _utc(now) - timedelta(days=config.window_days):
            self.heads, self.last_seen = [], None

    def to_dict(self) -> dict:
        return {"heads": [list(h) for h in self.heads],
                "last_seen": self.last_seen.isoformat() if self.last_seen else None}

    @classmethod
    def from_dict(cls, data: dict | None) -> TitleForm:
        if not data:
            return cls()
        return cls(heads=[tuple(h) for h in data["heads"]],
                   last_seen=datetime.fromisoformat(data["last_seen"]) if data["last_seen"] else None)
