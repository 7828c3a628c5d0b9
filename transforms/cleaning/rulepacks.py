"""Boilerplate rule packs: versioned YAML data files → one compiled, validated :class:`RuleSet`.

Files (in ``transforms/cleaning/rules/``):

- ``generic.yaml``: site chrome of republishing sites, no agency;
- ``templates.yaml``: rules every agency gets, written once with placeholders, plus shared regex
  ``fragments`` (``{place}``, ``{date}``, ``{dash}``) usable in every file;
- ``agency_<slug>.yaml``: one pack per agency: ``agency`` (the slug), ``names``, ``tags`` and its own
  ``rules``. Adding an agency is adding a file: nothing in code names an agency.

Every file has a ``version`` and a ``description``. Every rule has an ``id`` (unique in its file;
reported as ``<pack>.<id>``), a ``kind`` and a ``pattern``; optional keys: ``case: sensitive``,
``evidence`` (which kind of agency evidence a firing is), ``scope`` (head/tail/any for strip and
attribution rules), ``max_words`` and ``takes`` (block rules: ``short`` paragraphs after the marker, or
only ``headlines``, short lines that end in no sentence mark), ``examples`` (paragraphs the rule must fire on) and
``keeps`` (paragraphs it must leave alone) — the tests run every example of every pack.

Patterns are compiled once per process (``default_rules`` is cached); each kind also gets one
combined :class:`Matcher`, so a paragraph costs one regex call per kind whether it is boilerplate or
not; and a template is compiled once for all agencies, so adding packs barely adds matching time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from bisect import bisect_left
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import yaml

from .regexfirst import (
    dispatched_groups,
    first_char_class,
    last_char_class,
    max_width_on_normalized,
    required_substrings,
)
from .prefilter import Prefilter

RULES_DIR = Path(__file__).with_name("rules")

Kind = Literal["line", "block", "caption", "strip", "byline", "dateline", "attribution"]
KINDS: tuple[str, ...] = ("line", "block", "caption", "strip", "byline", "dateline", "attribution")
Evidence = Literal["dateline", "attribution", "signature", "copyright", "about", "credit"]
EVIDENCE_KINDS: tuple[str, ...] = ("dateline", "attribution", "signature", "copyright", "about", "credit")
SCOPES = ("head", "tail", "any")

_FILE_KEYS = {"version", "description", "agency", "names", "tags", "rules", "fragments", "skip_templates",
              "template_examples"}
_RULE_KEYS = {"id", "kind", "pattern", "case", "evidence", "scope", "max_words", "takes", "examples", "keeps",
              "description"}
TAKES = ("short", "headlines")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_DEFAULT_BLOCK_WORDS = 16
_SEARCHED = ("caption", "strip", "attribution")  # kinds matched with search(), not at position 0
TAIL_WINDOW = 400
_MAX_BUCKETS = 1024
_LENGTH_TIERS = (16, 32, 64, 128, 256, 512)  # upper bounds of paragraph-length tiers
_MAX_SEQUENTIAL = 12
# Matcher answers cached per text: texts up to this long (chrome and agency lines are short; long
# paragraphs are unique and not worth the memory), at most this many per matcher.
_CACHED_CHARS = 400
_CACHE_ENTRIES = 4096
_MISS = object()
# Letters IGNORECASE matches to an ASCII letter that str.lower() does not make one (ı, ſ), and İ,
# which lowers to two characters: a text holding one is not tested by substrings of the lowercase.
CASE_FOLDS = ("\u0131", "\u017f", "\u0130")
# A matcher tries rules of unknown first character (in every bucket) only when the text holds one
# of their required substrings; at most this many of those subsets are compiled per matcher.
_MAX_GATED = 64
_END_ANCHOR = re.compile(r"(?<!\\)\$\s*$")
_SLUG = re.compile(r"[a-z][a-z0-9_-]*")


class RuleError(ValueError):
    """A rule file is malformed; the message names the file and rule and says what to fix."""


class _LazyPattern:
    """A pattern compiled on first use: a template's per-agency copy is only searched when the
    merged template has matched, so most of the eighty-odd copies of each template are never
    compiled in a worker (the merged template already checked the filled pattern's syntax)."""

    __slots__ = ("_source", "_flags", "_pattern")

    def __init__(self, source: str, flags: int) -> None:
        self._source, self._flags, self._pattern = source, flags, None

    def __getattr__(self, name: str):
        if self._pattern is None:
            self._pattern = re.compile(self._source, self._flags)
        return getattr(self._pattern, name)

    def __reduce__(self):
        return _LazyPattern, (self._source, self._flags)


@dataclass(frozen=True)
class Rule:
    id: str                      # "<pack>.<local id>"
    pack: str                    # "generic" or an agency slug
    kind: str
    regex: re.Pattern[str]
    source: str                  # the compiled pattern (placeholders filled, first-char hint added)
    raw_source: str = ""         # the pattern with placeholders filled, as written
    case_sensitive: bool = False
    agency: str | None = None
    evidence: str | None = None
    scope: str = "any"
    max_words: int = _DEFAULT_BLOCK_WORDS
    # Block rules: what the block takes after its marker: every "short" paragraph, or only
    # "headlines" (short lines that end in no sentence mark: the linked story's headline, not the
    # next sentence of this one).
    takes: str = "short"
    examples: tuple[str, ...] = ()
    keeps: tuple[str, ...] = ()
    end_anchored: bool = False   # the pattern ends in "$": only a paragraph's tail needs searching
    # A template compiled once for every agency: its per-agency rules, tried on a hit to say which
    # agency fired (so matching costs the same with 5 or 50 packs).
    instances: tuple["Rule", ...] = ()
    # For a merged template: finds the agency names in a match; group ``finder_groups[lastgroup]``
    # is that of instances[i].
    finder: re.Pattern[str] | None = None
    finder_groups: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    # Searched rules: strings one of which every match contains (lowercase unless case-sensitive).
    needles: tuple[str, ...] = ()

    def match(self, text: str, how: str) -> tuple["Rule", re.Match[str]] | None:
        """(the concrete rule, its match) if this rule matches ``text``; ``how`` is the re method."""
        if self.needles:
            hay = text if self.case_sensitive else text.lower()
            # (a text with a letter whose lowercase is no ASCII letter IGNORECASE takes for one,
            # e.g. "ı" or "İ", skips this shortcut)
            for n in self.needles:
                if n in hay:
                    break
            else:
                if self.case_sensitive or text.isascii() or not has_case_folds(text):
                    return None
        m = getattr(self.regex, how)(text)
        if m is None:
            return None
        if not self.instances:
            return self, m
        # Which agency's copy fired: only the agencies named inside the match are candidates.
        groups = self.finder_groups
        named = {groups[f.lastgroup] for f in self.finder.finditer(m.group(0))} if self.finder else set()
        # (named first; then the rest, since a name found may be a prefix of the one that fired:
        # "UNI" inside "UNIAN")
        order = [i for i in range(len(self.instances)) if i in named]
        order += [i for i in range(len(self.instances)) if i not in named]
        for i in order:
            inst = self.instances[i]
            found = getattr(inst.regex, how)(text)
            if found is not None:
                return inst, found
        return None


def has_case_folds(text: str) -> bool:
    """Whether ``text`` holds a letter IGNORECASE matches to an ASCII letter its lowercase is not."""
    return any(c in text for c in CASE_FOLDS)


@dataclass(frozen=True)
class Matcher:
    """The rules of one kind compiled into one alternation, in rule order.

    One regex call rejects a paragraph for every rule at once; on a hit, the alternative that
    matched (``lastgroup``) names the rule, so no rule is tried in turn. A small bucket of searched
    rules is tried rule by rule instead (first rule in order wins). Kinds whose rules all end in ``$`` are ``windowed``: only
    the last ``TAIL_WINDOW`` characters of a paragraph can hold their match.

    With an ``edge`` ("first" for rules matched at position 0, "last" for rules anchored at the
    end), the rules are also bucketed by the character a match can start/end with: a paragraph
    starting with "T" is only tried against the rules that can start with "T" (buckets are built on
    first use, at most ``_MAX_BUCKETS``; rules whose edge is unknown are in every bucket).
    """

    rules: tuple[Rule, ...]
    regex: re.Pattern[str] | None
    windowed: bool = False
    edge: str | None = None
    edge_tests: tuple[re.Pattern[str] | None, ...] = ()
    # For whole-paragraph kinds: the longest (normalized) text each rule can match, so a long body
    # paragraph is only tried against the few rules that can match something that long.
    widths: tuple[float, ...] = ()
    buckets: dict[tuple[str, int], "Matcher"] = field(default_factory=dict, compare=False, repr=False)
    # Rules whose first character is unknown (a pattern starting ".{0,200}…" is tried at length by
    # every text of every bucket), each with strings one of which its matches contain: (index in
    # rules, strings, case-sensitive). A text holding none of a rule's strings is matched by the
    # same alternation without that rule (``gated``, by the indexes left out).
    gates: tuple[tuple[int, tuple[str, ...], bool], ...] = ()
    gated: dict[tuple[int, ...], "Matcher"] = field(default_factory=dict, compare=False, repr=False)
    # Answers of ``first`` by re method, then text (see ``first``).
    answers: dict[str, dict[str, tuple[Rule, re.Match[str]] | None]] = field(
        default_factory=dict, compare=False, repr=False)
    # A kind's matcher (not its buckets): one RE2 pass per text that says when no rule can match
    # it (see :mod:`transforms.cleaning.prefilter`), built per re method on first use.
    filtered: bool = False
    prefilters: dict[str, Prefilter] = field(default_factory=dict, compare=False, repr=False)
    # When every rule has needles (strings one of which each of its matches holds): all of them,
    # case-sensitive ones and lowercase ones. A text holding none matches no rule (each rule's
    # ``match`` would say so), answered before the cache and the regex.
    needles: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    def _may_hold_needle(self, text: str) -> bool:
        sensitive, lower = self.needles
        for n in sensitive:
            if n in text:
                return True
        if lower:
            low = text.lower()
            for n in lower:
                if n in low:
                    return True
            # (as Rule.match: a letter IGNORECASE takes for an ASCII one defeats the lowercase test)
            return not text.isascii() and has_case_folds(text)
        return False

    def _prefilter(self, how: str) -> Prefilter:
        pf = self.prefilters.get(how)
        if pf is None:
            # (a merged template matches whatever one of its agencies' copies matches: its own
            # regex checks their examples without compiling every copy)
            examples = [(i, e) for i, r in enumerate(self.rules) for inst in (r.instances or (r,))
                        for e in inst.examples if getattr(r.regex, how)(e) is not None]
            pf = self.prefilters[how] = Prefilter(
                [(r.raw_source, 0 if r.case_sensitive else re.IGNORECASE) for r in self.rules],
                [r.regex for r in self.rules], how, examples)
        return pf

    def _bucket(self, text: str) -> "Matcher":
        if self.edge is None or not text:
            return self
        ch = text[0] if self.edge == "first" else text[-1]
        tier = bisect_left(_LENGTH_TIERS, len(text)) if self.widths else 0
        sub = self.buckets.get((ch, tier))
        if sub is None:
            if len(self.buckets) >= _MAX_BUCKETS:
                return self
            shortest = _LENGTH_TIERS[tier - 1] + 1 if tier else 0  # the shortest text in this tier
            subset = tuple(r for i, (r, t) in enumerate(zip(self.rules, self.edge_tests))
                           if (t is None or t.fullmatch(ch)) and (not self.widths or self.widths[i] >= shortest))
            sub = self.buckets[(ch, tier)] = _matcher(subset)
        return sub

    def first(self, text: str, how: str) -> tuple[Rule, re.Match[str]] | None:
        """The first rule (in rule order) matching ``text`` with the ``re`` method ``how``, and its match."""
        # Boilerplate repeats: the same chrome, signature and about-lines arrive with every item of
        # a source, and the answer for a text never changes (rules are immutable), so texts up to
        # _CACHED_CHARS are answered from a cache. A plain dict emptied when full costs a fraction
        # of an LRU's bookkeeping on the many misses (body paragraphs are nearly all unique), and
        # the lines that repeat are back in it after a few items.
        m = self._bucket(text)
        if m.regex is None or (m.needles is not None and not m._may_hold_needle(text)):
            # No rule can start (or end) with this text's edge character, or hold none of the
            # strings every match of a rule holds: most body paragraphs, answered without the
            # cache (they would only push the repeating lines out of it).
            return None
        if len(text) > _CACHED_CHARS:
            return self._answer(text, how, m)
        cache = self.answers.get(how)
        if cache is None:
            cache = self.answers.setdefault(how, {})
        hit = cache.get(text, _MISS)
        if hit is _MISS:
            hit = self._answer(text, how, m)
            if len(cache) >= _CACHE_ENTRIES:
                cache.clear()
            cache[text] = hit
        return hit

    def _answer(self, text: str, how: str, m: "Matcher") -> tuple[Rule, re.Match[str]] | None:
        """``_first``, unless the kind's RE2 set says no rule can match ``text``."""
        if self.filtered and not self._prefilter(how).may_match(text):
            return None
        return self._first(text, how, m)

    def _without_absent(self, text: str) -> "Matcher":
        """This matcher without the gated rules none of whose strings ``text`` holds."""
        low = None
        off = []
        for i, needles, case_sensitive in self.gates:
            if case_sensitive:
                hay = text
            else:
                if low is None:
                    if not text.isascii() and has_case_folds(text):
                        return self
                    low = text.lower()
                hay = low
            for n in needles:  # (a loop, not any() over a generator: several times cheaper here)
                if n in hay:
                    break
            else:
                off.append(i)
        if not off:
            return self
        key = tuple(off)
        sub = self.gated.get(key)
        if sub is None:
            if len(self.gated) >= _MAX_GATED:
                return self
            sub = self.gated[key] = _matcher(tuple(r for i, r in enumerate(self.rules) if i not in key),
                                             gate=False)
        return sub

    def _first(self, text: str, how: str, m: "Matcher | None" = None) -> tuple[Rule, re.Match[str]] | None:
        if m is None:
            m = self._bucket(text)
        if m.regex is None:
            return None
        if how == "search" and m.edge is None and len(m.rules) <= _MAX_SEQUENTIAL:
            # Unanchored: each rule's own first-character hint beats one alternation of all of
            # them, which re must try at every position the union of hints lets through.
            for rule in m.rules:
                found = rule.match(text, how)
                if found is not None:
                    return found
            return None
        if m.gates:  # (after the choice above: a rule left out matches nowhere in the text)
            m = m._without_absent(text)
            if m.regex is None:
                return None
        hit = getattr(m.regex, how)(text)
        if hit is None:
            return None
        start = int(hit.lastgroup[2:]) if hit.lastgroup else 0
        for rule in m.rules[start:]:
            found = rule.match(text, how)
            if found is not None:
                return found
        return None


@dataclass(frozen=True)
class Pack:
    name: str
    version: int
    description: str
    agency: str | None = None
    names: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    """All rules, grouped by kind in matching order: agency packs' own rules, then the templates
    (one merged rule each), then generic."""

    packs: tuple[Pack, ...]
    by_kind: Mapping[str, tuple[Rule, ...]]
    # One per kind, plus "whole" (line and block rules: both fullmatch a paragraph).
    matchers: Mapping[str, Matcher]
    # Per agency: a word-boundary pattern of its names and tags, for photo credits given by the feed.
    credit_names: Mapping[str, re.Pattern[str]] = field(default_factory=dict)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every concrete rule (template rules once per agency), each with its examples."""
        return tuple(i for k in KINDS for r in self.by_kind.get(k, ()) for i in (r.instances or (r,)))

    @cached_property
    def agencies(self) -> tuple[str, ...]:
        # Asked once per article (attribution); the packs never change, so it is built once.
        return tuple(p.agency for p in self.packs if p.agency)

    @property
    def versions(self) -> dict[str, int]:
        return {p.name: p.version for p in self.packs}

    @property
    def version(self) -> str:
        """One string naming every pack version, e.g. for logs and learned-rule exports."""
        return ",".join(f"{k}@{v}" for k, v in sorted(self.versions.items()))

    @cached_property
    def site_names(self) -> tuple[str, ...]:
        """Every agency name (and plain tag): site suffixes a headline may carry."""
        return tuple(n for p in self.packs for n in (*p.names, *p.tags) if re.fullmatch(r"[\w .&'-]+", n))


# libyaml's safe loader where PyYAML was built with it (the same documents, a seventh of the time).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path) -> dict:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise RuleError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RuleError(f"{path.name}: top level must be a mapping")
    unknown = set(data) - _FILE_KEYS
    if unknown:
        raise RuleError(f"{path.name}: unknown keys {sorted(unknown)}; allowed: {sorted(_FILE_KEYS)}")
    for key in ("version", "description"):
        if not data.get(key):
            raise RuleError(f"{path.name}: missing {key!r} (every rule file is versioned and described)")
    if not isinstance(data["version"], int):
        raise RuleError(f"{path.name}: version must be an integer")
    return data


def _alternatives(items: tuple[str, ...], literal: bool) -> list[str]:
    """The alternatives of ``items`` (escaped if ``literal``), longest first, once each."""
    return sorted({re.escape(i) if literal else i for i in items}, key=len, reverse=True)


def _alternation(items: tuple[str, ...], literal: bool) -> str:
    return "|".join(_alternatives(items, literal))


def agency_finder(groups: list[tuple[str, ...]], flags: int) -> tuple[re.Pattern[str], dict[str, int]]:
    """A pattern whose ``finditer`` finds what ``(?P<_a0>…)|(?P<_a1>…)|…`` of each agency's
    alternatives (``groups[i]``, in order) finds, and the map from its group names to ``i``.

    re tries every agency's alternatives at every position: the class of the characters a name
    can start with lets it skip most positions with one test, and sorting the alternatives by their
    first character (:func:`dispatched_groups`) leaves a few to try where a name may start."""
    dispatched = dispatched_groups([list(g) for g in groups], flags)
    if dispatched is None:
        source = "|".join(f"(?P<_a{i}>" + "|".join(g) + ")" for i, g in enumerate(groups))
        names = {f"_a{i}": i for i in range(len(groups))}
    else:
        source, names = dispatched
    first = first_char_class(source, flags)
    if first:
        source = f"(?={first})(?:{source})"
    return re.compile(source, flags), names


def _agency_values(names: tuple[str, ...], tags: tuple[str, ...]) -> dict[str, str]:
    tag_alt, name_alt = _alternation(tags, literal=False), _alternation(names, literal=True)
    return {"tags": tag_alt, "names": name_alt, "agency": f"{name_alt}|{tag_alt}"}


def _fill(pattern: str, values: Mapping[str, str], where: str) -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name not in values:
            # Not a known placeholder: could be a regex quantifier such as {2}; leave it alone.
            if name.isidentifier():
                raise RuleError(f"{where}: unknown placeholder {{{name}}}; known: {sorted(values)}")
            return m.group(0)
        return values[name]

    return _PLACEHOLDER.sub(sub, pattern)


def _compile_rule(raw: dict, *, pack: str, agency: str | None, values: Mapping[str, str],
                  where: str, instances: tuple[Rule, ...] = (), lazy: bool = False) -> Rule:
    """One rule, checked and compiled; ``lazy``: a template's per-agency copy, whose pattern is
    compiled on first use (its merged template is compiled and checked at once)."""
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: each rule must be a mapping")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise RuleError(f"{where}: unknown rule keys {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
    rid, kind, pattern = raw.get("id"), raw.get("kind"), raw.get("pattern")
    if not rid or not isinstance(rid, str) or not _SLUG.fullmatch(rid):
        raise RuleError(f"{where}: rule id {rid!r} must be a lowercase identifier")
    where = f"{where} rule {rid!r}"
    if kind not in KINDS:
        raise RuleError(f"{where}: kind {kind!r} must be one of {KINDS}")
    if not pattern or not isinstance(pattern, str):
        raise RuleError(f"{where}: missing pattern")
    evidence = raw.get("evidence")
    if evidence is not None and evidence not in EVIDENCE_KINDS:
        raise RuleError(f"{where}: evidence {evidence!r} must be one of {EVIDENCE_KINDS}")
    if evidence is not None and agency is None and not instances and pack != "generic":
        raise RuleError(f"{where}: only agency packs and generic rules can give agency evidence")
    if kind == "attribution" and evidence is None:
        raise RuleError(f"{where}: an attribution rule without evidence does nothing")
    scope = raw.get("scope", "head" if kind == "attribution" else "any")
    if scope not in SCOPES:
        raise RuleError(f"{where}: scope {scope!r} must be one of {SCOPES}")
    takes = raw.get("takes", "short")
    if takes not in TAKES:
        raise RuleError(f"{where}: takes {takes!r} must be one of {TAKES}")
    if takes != "short" and kind != "block":
        raise RuleError(f"{where}: only block rules take the paragraphs after them")
    case = raw.get("case", "insensitive")
    if case not in ("sensitive", "insensitive"):
        raise RuleError(f"{where}: case must be 'sensitive' or 'insensitive'")
    source = _fill(pattern, values, where)
    if "(?P=" in source:
        raise RuleError(f"{where}: back-references are not allowed (patterns are combined)")
    flags = 0 if case == "sensitive" else re.IGNORECASE
    end_anchored = bool(_END_ANCHOR.search(source))
    examples = tuple(raw.get("examples") or ())
    keeps = tuple(raw.get("keeps") or ())
    if not all(isinstance(x, str) for x in (*examples, *keeps)):
        raise RuleError(f"{where}: examples and keeps must be strings")
    if lazy:
        return Rule(
            id=f"{pack}.{rid}", pack=pack, kind=kind, regex=_LazyPattern(source, flags), source=source,
            raw_source=source, case_sensitive=case == "sensitive", agency=agency, evidence=evidence,
            scope=scope, max_words=int(raw.get("max_words", _DEFAULT_BLOCK_WORDS)), takes=takes,
            examples=examples, keeps=keeps, end_anchored=end_anchored)
    try:
        re.compile(source, flags)
    except re.error as exc:
        raise RuleError(f"{where}: bad pattern: {exc}") from exc
    raw_source = source
    needles: tuple[str, ...] = ()
    if kind in _SEARCHED:
        needles = required_substrings(source, flags) or ()
        first = first_char_class(source, flags)
        if first:
            source = f"(?={first})(?:{source})"
    regex = re.compile(source, flags)
    if kind == "caption" and not end_anchored:
        raise RuleError(f"{where}: a caption rule matches the credit at the end: end the pattern with $")
    groups = set(regex.groupindex)
    required = {"caption": {"credit"}, "dateline": {"place"}, "byline": {"byline"}}.get(kind, set())
    if not required <= groups:
        raise RuleError(f"{where}: a {kind} rule needs the named group(s) {sorted(required)}")
    return Rule(
        id=f"{pack}.{rid}", pack=pack, kind=kind, regex=regex, source=source, raw_source=raw_source,
        case_sensitive=case == "sensitive", agency=agency, evidence=evidence, scope=scope,
        max_words=int(raw.get("max_words", _DEFAULT_BLOCK_WORDS)), takes=takes, examples=examples, keeps=keeps,
        end_anchored=end_anchored, instances=instances, needles=needles,
    )


def _edge_test(rule: Rule, edge: str) -> re.Pattern[str] | None:
    flags = 0 if rule.case_sensitive else re.IGNORECASE
    cls = (first_char_class if edge == "first" else last_char_class)(rule.raw_source, flags)
    return re.compile(cls, flags) if cls else None


@lru_cache(maxsize=4096)
def _gate(source: str, flags: int) -> tuple[str, ...] | None:
    """Required substrings of a pattern whose first character is unknown, else None."""
    if first_char_class(source, flags) is not None:
        return None
    return required_substrings(source, flags)


def _matcher(rules: tuple[Rule, ...], edge: str | None = None, tiered: bool = False,
             gate: bool = True) -> Matcher:
    """The rules as one alternation ``(?P<_r0>…)|(?P<_r1>…)``, rule names removed from inside.

    For searched kinds a single leading ``(?=[…])`` with the union of the rules' first characters
    lets ``re`` reject most positions with one class test instead of trying every alternative.
    """
    if not rules:
        return Matcher(rules=(), regex=None)
    parts, firsts = [], []
    for i, r in enumerate(rules):
        body = _NAMED_GROUP.sub("(?:", r.raw_source)
        parts.append(f"(?P<_r{i}>{body})" if r.case_sensitive else f"(?P<_r{i}>(?i:{body}))")
        firsts.append(first_char_class(r.raw_source, 0 if r.case_sensitive else re.IGNORECASE)
                      if r.kind in _SEARCHED else None)
    combined = "|".join(parts)
    if all(firsts):
        sensitive = "".join(dict.fromkeys(f[1:-1] for f, r in zip(firsts, rules) if r.case_sensitive))
        insensitive = "".join(dict.fromkeys(f[1:-1] for f, r in zip(firsts, rules) if not r.case_sensitive))
        look = "|".join(([f"(?i:[{insensitive}])"] if insensitive else []) + ([f"[{sensitive}]"] if sensitive else []))
        combined = f"(?=(?:{look}))(?:{combined})"
    try:
        regex = re.compile(combined)
    except re.error as exc:  # e.g. a pattern with global inline flags
        raise RuleError(f"rules {[r.id for r in rules]} cannot be combined: {exc}") from exc
    windowed = all(r.end_anchored for r in rules)
    if edge == "last" and not windowed:
        edge = None  # only an end-anchored match is known to end at the text's last character
    tests = tuple(_edge_test(r, edge) for r in rules) if edge else ()
    widths = tuple(max_width_on_normalized(r.raw_source, 0 if r.case_sensitive else re.IGNORECASE)
                   for r in rules) if tiered and edge else ()
    gates = ()
    if gate and not edge:  # a matcher with an edge is only used through its buckets
        gates = tuple((i, needles, r.case_sensitive) for i, r in enumerate(rules)
                      if (needles := _gate(r.raw_source, 0 if r.case_sensitive else re.IGNORECASE)))
    needles = None
    if all(r.needles for r in rules):
        needles = (tuple(dict.fromkeys(n for r in rules if r.case_sensitive for n in r.needles)),
                   tuple(dict.fromkeys(n for r in rules if not r.case_sensitive for n in r.needles)))
    return Matcher(rules=rules, regex=regex, windowed=windowed, edge=edge, edge_tests=tests, widths=widths,
                   gates=gates, needles=needles)


def load_rules(directory: Path | str | None = None, *, prefilter: bool = True) -> RuleSet:
    """Read, validate and compile every rule file in ``directory`` (default: the bundled rules).

    ``prefilter``: each kind's matcher first asks RE2 whether any of its rules can match a text
    (:mod:`transforms.cleaning.prefilter`); off, every text is tried by ``re`` alone (same answers).
    """
    root = Path(directory) if directory is not None else RULES_DIR
    generic_path, templates_path = root / "generic.yaml", root / "templates.yaml"
    for p in (generic_path, templates_path):
        if not p.is_file():
            raise RuleError(f"{p}: missing rule file")
    templates = _read(templates_path)
    fragments = {k: str(v) for k, v in (templates.get("fragments") or {}).items()}
    generic = _read(generic_path)
    packs: list[Pack] = []
    compiled: list[Rule] = []    # agency packs' own rules, then merged templates, then generic
    template_rules = list(templates.get("rules") or ())
    template_ids = {r.get("id") for r in template_rules}
    instances: dict[str, list[Rule]] = {str(r.get("id")): [] for r in template_rules}
    seen_ids: set[str] = set()

    def add(rule: Rule, where: str, into: list[Rule]) -> None:
        if rule.id in seen_ids:
            raise RuleError(f"{where}: duplicate rule id {rule.id!r}")
        seen_ids.add(rule.id)
        into.append(rule)

    for path in sorted(root.glob("agency_*.yaml")):
        data = _read(path)
        slug = data.get("agency")
        if not slug or not _SLUG.fullmatch(str(slug)) or path.stem != f"agency_{slug}":
            raise RuleError(f"{path.name}: 'agency' must be the lowercase slug in the file name")
        names = tuple(str(n) for n in data.get("names") or ())
        tags = tuple(str(t) for t in data.get("tags") or ())
        if not names or not tags:
            raise RuleError(f"{path.name}: an agency pack needs 'names' and 'tags'")
        packs.append(Pack(name=slug, version=data["version"], description=data["description"],
                          agency=slug, names=names, tags=tags))
        values = {**fragments, **_agency_values(names, tags)}
        skip = set(data.get("skip_templates") or ())
        # Each pack shows the shared templates firing on its own copy: {template id: {examples, keeps}}.
        tex = data.get("template_examples") or {}
        if not isinstance(tex, dict) or not set(tex) <= template_ids - skip:
            raise RuleError(f"{path.name}: template_examples must map template ids {sorted(template_ids - skip)} "
                            "to {examples: [...], keeps: [...]}")
        for i, raw in enumerate(data.get("rules") or ()):
            add(_compile_rule(raw, pack=slug, agency=slug, values=values, where=f"{path.name}#{i}"),
                path.name, compiled)
        for i, raw in enumerate(template_rules):
            if raw.get("id") in skip:
                continue
            own = tex.get(raw.get("id")) or {}
            raw = {**raw, "examples": own.get("examples") or (), "keeps": own.get("keeps") or ()}
            add(_compile_rule(raw, pack=slug, agency=slug, values=values,
                              where=f"templates.yaml#{i} for {slug}", lazy=True),
                path.name, instances[str(raw["id"])])
    longest_name = {p.agency: max(len(n) for n in p.names) for p in packs}
    for i, raw in enumerate(template_rules):
        # When two agencies' copies match the same text, the longer name is the more specific one
        # ("Associated Press of Pakistan" is APP, not AP): try packs with longer names first.
        inst = tuple(sorted(instances[str(raw.get("id"))], key=lambda r: -longest_name[r.agency]))
        if not inst:
            continue
        agency_packs = [p for p in packs if p.agency in {r.agency for r in inst}]
        values = {**fragments, **_agency_values(tuple(n for p in agency_packs for n in p.names),
                                                tuple(t for p in agency_packs for t in p.tags))}
        merged = _compile_rule({k: v for k, v in raw.items() if k not in ("examples", "keeps")},
                               pack="templates", agency=None, values=values,
                               where=f"templates.yaml#{i}", instances=inst)
        by_slug = {p.agency: p for p in agency_packs}
        finder, finder_groups = agency_finder(
            [(*_alternatives(by_slug[r.agency].names, literal=True),
              *_alternatives(by_slug[r.agency].tags, literal=False)) for r in inst],
            0 if merged.case_sensitive else re.IGNORECASE)
        compiled.append(replace(merged, finder=finder, finder_groups=finder_groups))
    packs.append(Pack(name="templates", version=templates["version"], description=templates["description"]))
    packs.append(Pack(name="generic", version=generic["version"], description=generic["description"]))
    for i, raw in enumerate(generic.get("rules") or ()):
        add(_compile_rule(raw, pack="generic", agency=None, values=fragments, where=f"generic.yaml#{i}"),
            "generic.yaml", compiled)

    by_kind = {k: tuple(r for r in compiled if r.kind == k) for k in KINDS}
    credit_names = {
        p.agency: re.compile(r"\b(?:" + _alternation((*p.names, *p.tags), literal=True) + r")\b")
        for p in packs if p.agency
    }
    edges = {"caption": "last", "strip": "last", "byline": "first", "dateline": "first"}
    matchers = {k: replace(_matcher(v, edges.get(k)), filtered=prefilter) for k, v in by_kind.items()}
    matchers["whole"] = replace(_matcher(by_kind["line"] + by_kind["block"], "first", tiered=True),
                                filtered=prefilter)
    return RuleSet(packs=tuple(packs), by_kind=by_kind, matchers=matchers, credit_names=credit_names)


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The bundled rules, compiled once per process."""
    return load_rules()
