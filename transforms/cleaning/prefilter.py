"""One pass of RE2 over a paragraph that rules out every rule of a kind at once.

Most paragraphs are story text that no rule matches, yet ``re`` has to try each rule (or one
alternation of them) at length to say so. RE2 answers "which of these patterns can match" for a
whole set in one linear pass (``RE2::Set``). It has no lookarounds or backreferences, so each rule
is translated to a pattern that matches *at least* what the rule matches (a superset): lookarounds
and word boundaries are dropped, a backreference matches anything, lazy, possessive and atomic
forms become plain ones. A paragraph the set rejects therefore matches no rule, and is answered
without ``re``; one it accepts goes through ``re`` exactly as before, so results never change.

The translation walks the tree of the standard library's own parser (``re._parser``), so it sees
the pattern exactly as ``re`` compiles it. Classes are written in Unicode terms that contain
Python's (``\\w`` as letters, numbers, marks and ``_``; ``\\s`` as every character ``str.isspace``
accepts). A case-insensitive letter becomes the class of every character ``re.IGNORECASE`` takes
for it, computed with ``re``'s own fold (its lowercase and extra equivalents such as ı ~ i).
Anything the translation does not understand leaves that rule
unfiltered (it is tried by ``re`` on every text), so the filter can only be too permissive.

Built once per process per rule kind; the set is checked on the rules' own examples when built and
not used if it misses one (RE2 compiles a set within a memory budget and answers "no match" when
the budget is too small for it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

try:  # private, but stable across 3.11-3.13; only an optimisation depends on it
    from re import _constants as _c
    from re import _parser as _p
except ImportError:  # pragma: no cover
    _p = _c = None

try:
    import re2 as _re2
except ImportError:  # pragma: no cover - the filter is an optimisation; without it re does it all
    _re2 = None

MAX_MEM = 64 << 20  # bytes of RE2 program and DFA cache per set
_MAX_COUNT = 4  # repeat counts kept up to this; larger ones become unbounded

# Python's \s (str.isspace), exactly.
_SPACE = r"\t\n\x{0b}\x{0c}\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
# Python's \w and \d hold at most what these do (RE2's Unicode tables are newer than Python's, and
# \w holds no combining marks in Python): fine for a class, not for its complement, so \W, \D and
# classes negating them become "any character".
_AT_LEAST = {"word": r"\p{L}\p{N}\p{M}_", "digit": r"\p{Nd}", "space": _SPACE}
_CATEGORY = {}
if _c is not None:
    _CATEGORY = {
        _c.CATEGORY_DIGIT: ("digit", False), _c.CATEGORY_NOT_DIGIT: ("digit", True),
        _c.CATEGORY_SPACE: ("space", False), _c.CATEGORY_NOT_SPACE: ("space", True),
        _c.CATEGORY_WORD: ("word", False), _c.CATEGORY_NOT_WORD: ("word", True),
        _c.CATEGORY_UNI_DIGIT: ("digit", False), _c.CATEGORY_UNI_NOT_DIGIT: ("digit", True),
        _c.CATEGORY_UNI_SPACE: ("space", False), _c.CATEGORY_UNI_NOT_SPACE: ("space", True),
        _c.CATEGORY_UNI_WORD: ("word", False), _c.CATEGORY_UNI_NOT_WORD: ("word", True),
    }
_ANY = r"(?s:.)"


class Untranslatable(Exception):
    """A construct the translation does not know: the rule stays unfiltered."""


def _char(code: int) -> str:
    return f"\\x{{{code:x}}}"


@lru_cache(maxsize=1)
def _cased() -> tuple[tuple[int, int], ...]:
    """(code point, its lowercase as ``re`` folds it) for every cased character."""
    import _sre  # noqa: PLC0415  (the fold re itself uses)

    return tuple((cp, _sre.unicode_tolower(cp)) for cp in range(0x110000) if _sre.unicode_iscased(cp))


def _folds(lowers: set[int]) -> set[int]:
    """The characters ``re.IGNORECASE`` takes for a character folding to one of ``lowers``: those
    whose lowercase is one of them or of their extra equivalents (ı ~ i, ſ ~ s, …)."""
    from re._casefix import _EXTRA_CASES  # noqa: PLC0415

    wanted = set(lowers)
    for lo in lowers:
        wanted.update(_EXTRA_CASES.get(lo, ()))
    return {cp for cp, lo in _cased() if lo in wanted} | wanted


@lru_cache(maxsize=4096)
def _fold_literal(code: int) -> str:
    import _sre  # noqa: PLC0415

    if not _sre.unicode_iscased(code):
        return _char(code)
    return "[" + "".join(_char(c) for c in sorted(_folds({_sre.unicode_tolower(code)}))) + "]"


def _class(items, fold: bool) -> str:
    return _class_of(tuple(items), fold)


@lru_cache(maxsize=4096)
def _class_of(items: tuple, fold: bool) -> str:
    """An RE2 class holding at least the characters an ``IN`` item list holds (with IGNORECASE:
    every character whose lowercase it holds, as ``re`` tests it)."""
    negate = False
    codes: list[tuple[int, int]] = []  # literal and range members, as (first, last)
    cats: list[tuple[str, bool]] = []  # categories, as (name, negated)
    for op, av in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            codes.append((av, av))
        elif op is _c.RANGE:
            codes.append(av)
        elif op is _c.CATEGORY:
            cats.append(_CATEGORY[av])
        else:
            raise Untranslatable(op)
    members = [f"{_char(a)}-{_char(b)}" if a != b else _char(a) for a, b in codes]
    if fold and codes:
        lowers = {lo for cp, lo in _cased() if any(a <= cp <= b for a, b in codes)}
        members += [_char(c) for c in sorted(_folds(lowers))]
    if negate:
        # The complement is only as exact as what it complements: \s is exact, \w and \d are not.
        if not members or any(name != "space" or neg for name, neg in cats):
            return _ANY
        return "[^" + "".join(members) + _SPACE * bool(cats) + "]"
    members += [_AT_LEAST[name] for name, neg in cats if not neg]
    alts = [f"[{''.join(members)}]"] if members else []
    for name, neg in cats:
        if neg:
            if name != "space":
                return _ANY  # [\W…], [\D…]: any character
            alts.append(f"[^{_SPACE}]")
    if not alts:
        raise Untranslatable("empty class")
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


def _seq(state, items, fold: bool) -> str:
    return "".join(_item(state, op, av, fold) for op, av in items)


def _item(state, op, av, fold: bool) -> str:
    if op is _c.LITERAL:
        return _fold_literal(av) if fold else _char(av)
    if op is _c.NOT_LITERAL:
        return _class([(_c.NEGATE, None), (_c.LITERAL, av)], fold)
    if op is _c.ANY:
        return _ANY
    if op is _c.IN:
        return _class(av, fold)
    if op is _c.BRANCH:
        return "(?:" + "|".join(_seq(state, alt, fold) for alt in av[1]) + ")"
    if op is _c.SUBPATTERN:
        group, add, delete, sub = av
        if add & re.IGNORECASE:
            fold = True
        if delete & re.IGNORECASE:
            fold = False
        return "(?:" + _seq(state, sub, fold) + ")"
    if op is _c.ATOMIC_GROUP:
        return "(?:" + _seq(state, av, fold) + ")"
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        lo, hi, sub = av
        body = "(?:" + _seq(state, sub, fold) + ")"
        # Counted repeats multiply RE2's program (".{0,160}" is 160 copies of a UTF-8 "."), so
        # beyond a few copies the count is dropped: "x{2,160}" becomes "x{2,}" (a superset).
        if hi is _c.MAXREPEAT or hi > _MAX_COUNT:
            lo = min(lo, _MAX_COUNT)
            return f"{body}{{{lo},}}" if lo > 1 else f"{body}+" if lo == 1 else f"{body}*"
        return f"{body}{{{lo},{hi}}}"
    if op in (_c.ASSERT, _c.ASSERT_NOT):
        return ""  # dropping a condition can only match more
    if op is _c.AT:
        if av is _c.AT_BEGINNING_STRING or (av is _c.AT_BEGINNING and not state.flags & re.MULTILINE):
            return r"\A"
        if av is _c.AT_END_STRING:
            return r"\z"
        if av is _c.AT_END and not state.flags & re.MULTILINE:
            return r"(?:\n?\z)"
        return ""  # word boundaries, line anchors: dropped
    if op is _c.GROUPREF:
        return _ANY + "*"
    if op is _c.GROUPREF_EXISTS:
        _group, yes, no = av
        return "(?:" + _seq(state, yes, fold) + "|" + (_seq(state, no, fold) if no else "") + ")"
    if op is _c.CATEGORY:  # (only inside IN in practice)
        return _class([(op, av)], fold)
    raise Untranslatable(op)


def superset_pattern(source: str, flags: int = 0) -> str:
    """An RE2 pattern matching every text ``re.compile(source, flags)`` matches (and maybe more)."""
    if _p is None:
        raise Untranslatable("no parser")
    try:
        parsed = _p.parse(source, flags)
    except re.error as exc:
        raise Untranslatable(str(exc)) from exc
    state = parsed.state
    fold = bool(state.flags & re.IGNORECASE)
    return _seq(state, parsed.data, fold)


_ANCHORS = {"search": "SearchSet", "match": "MatchSet", "fullmatch": "FullMatchSet"}


class Prefilter:
    """Whether any of a list of rules can match a text (``re`` method ``how``), by one RE2 pass.

    ``sources`` are the rules' patterns with their flags; ``regexes`` the same rules compiled by
    ``re`` (tried one by one for the few a translation cannot express); ``examples`` are (rule
    index, text the rule matches) pairs the set is checked on when built. When RE2 is missing, a
    set cannot be built or it misses an example, the filter is off: every text may match.
    """

    def __init__(self, sources: Sequence[tuple[str, int]], regexes: Sequence[re.Pattern[str]], how: str,
                 examples: Iterable[tuple[int, str]] = ()) -> None:
        self._args = (tuple(sources), tuple(regexes), how, tuple(examples))
        self._match = None  # the set's Match (bytes -> list of indexes), when the filter is on
        self._always: tuple = ()  # (re method of the rules no set pattern stands for)
        if _re2 is None or _p is None or not sources:
            return
        options = _re2.Options()
        options.max_mem = MAX_MEM
        options.log_errors = False
        rset = getattr(_re2.Set, _ANCHORS[how])(options)
        always, unfiltered = [], set()
        for i, ((source, flags), regex) in enumerate(zip(sources, regexes)):
            try:
                rset.Add(superset_pattern(source, flags))
            except (Untranslatable, _re2.error):
                always.append(getattr(regex, how))
                unfiltered.add(i)
        if len(always) == len(sources):
            return
        try:
            rset.Compile()
        except _re2.error:
            return
        match = rset._set.Match
        for i, text in self._args[3]:
            if i in unfiltered:
                continue  # (re answers for that rule, not the set)
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: may_match leaves it to re too
                continue
            if not match(data):
                return  # RE2 could not run the set (or a translation is wrong): stay off
        self._match = match
        self._always = tuple(always)

    def __reduce__(self):  # RE2 sets do not pickle: rebuild from the rules
        return (Prefilter, self._args)

    @property
    def active(self) -> bool:
        return self._match is not None

    def may_match(self, text: str) -> bool:
        """False only if no rule can match ``text``."""
        match = self._match
        if match is None:
            return True
        try:
            if match(text.encode("utf-8")):
                return True
        except UnicodeEncodeError:  # a lone surrogate: RE2 reads UTF-8 only
            return True
        return any(m(text) is not None for m in self._always)
