"""The characters a regex match can start (or end) with, as a character class, to speed up matching.

``re`` tries an unanchored pattern at every position of the text; with many case-insensitive
alternatives (as rule packs have) each try costs every alternative, and ``re`` only skips positions
cheaply when it can prove what the first character must be, which it cannot under IGNORECASE.
Prefixing ``(?=[first chars])`` gives it that cheap test; and knowing the first (or, for patterns
anchored at the end, last) characters lets a caller try only the rules that can match a given text.
The analysis is conservative: anything it
does not understand returns None (no prefix), so at worst a pattern stays as slow as it was.

Uses the standard library's regex parser (``re._parser``, Python 3.11+); should that change, the
analysis fails safe and returns None.
"""

from __future__ import annotations

import re

try:  # private, but stable across 3.11-3.13; only an optimisation depends on it
    from re import _constants as _c
    from re import _parser as _p
except ImportError:  # pragma: no cover
    _p = _c = None

_CATEGORY_CLASS = {}
if _c is not None:
    _CATEGORY_CLASS = {
        _c.CATEGORY_DIGIT: r"\d", _c.CATEGORY_SPACE: r"\s", _c.CATEGORY_WORD: r"\w",
        _c.CATEGORY_NOT_DIGIT: r"\D", _c.CATEGORY_NOT_SPACE: r"\S", _c.CATEGORY_NOT_WORD: r"\W",
    }


class _Unknown(Exception):
    pass


def _esc(code: int) -> str:
    ch = chr(code)
    return "\\" + ch if ch in "\\]^-[" else re.escape(ch) if not ch.isalnum() else ch


def _charset(items) -> list[str]:
    out = []
    for op, av in items:
        if op is _c.LITERAL:
            out.append(_esc(av))
        elif op is _c.RANGE:
            out.append(f"{_esc(av[0])}-{_esc(av[1])}")
        elif op is _c.CATEGORY and av in _CATEGORY_CLASS:
            out.append(_CATEGORY_CLASS[av])
        else:  # NEGATE and anything else
            raise _Unknown
    return out


def _nullable(state, item) -> bool:
    return _p.SubPattern(state, [item]).getwidth()[0] == 0


def _first(state, seq, reverse: bool = False) -> tuple[list[str], bool]:
    """(first-char classes, sequence can match empty); with ``reverse``, the last characters."""
    out: list[str] = []
    for item in (reversed(seq) if reverse else seq):
        op, av = item
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue  # zero-width: the next item decides
        if op is _c.LITERAL:
            return out + [_esc(av)], False
        if op is _c.IN:
            return out + _charset(av), False
        if op is _c.BRANCH:
            nullable = False
            for alt in av[1]:
                f, n = _first(state, alt, reverse)
                out += f
                nullable |= n
        elif op is _c.SUBPATTERN:
            if av[1] or av[2]:  # scoped flags such as (?i:…) would change what the class means
                raise _Unknown
            f, nullable = _first(state, av[-1], reverse)
            out += f
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            f, n = _first(state, av[2], reverse)
            out += f
            nullable = n or av[0] == 0
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            f, nullable = _first(state, av, reverse)
            out += f
        else:  # ANY, NOT_LITERAL, GROUPREF, conditionals …
            raise _Unknown
        if not nullable or not _nullable(state, item):
            return out, False
    return out, True


def _edge_class(source: str, flags: int, reverse: bool) -> str | None:
    if _p is None:
        return None
    try:
        tree = _p.parse(source, flags)
        classes, nullable = _first(tree.state, tree.data, reverse)
    except (_Unknown, re.error, AttributeError, TypeError, IndexError, ValueError):
        return None
    if nullable or not classes:
        return None
    return "[" + "".join(dict.fromkeys(classes)) + "]"


def first_char_class(source: str, flags: int = 0) -> str | None:
    """``[...]`` matching every possible first character of a non-empty match, or None."""
    return _edge_class(source, flags, reverse=False)


def last_char_class(source: str, flags: int = 0) -> str | None:
    """``[...]`` matching every possible last character of a non-empty match, or None."""
    return _edge_class(source, flags, reverse=True)


def _literal_runs(state, seq, ascii_only: bool) -> list[tuple[str, ...]]:
    """Requirements of a sequence: each is a tuple of strings, one of which every match contains."""
    reqs: list[tuple[str, ...]] = []
    run: list[str] = []

    def close() -> None:
        if run:
            reqs.append(("".join(run),))
            run.clear()

    for op, av in seq:
        if op is _c.LITERAL and (not ascii_only or av < 128 or not chr(av).isalpha()):
            run.append(chr(av))
            continue
        close()
        if op is _c.BRANCH:
            alts = []
            for alt in av[1]:
                best = _best(_literal_runs(state, alt, ascii_only))
                if best is None:
                    alts = None
                    break
                alts.extend(best)
            if alts:
                reqs.append(tuple(dict.fromkeys(alts)))
        elif op is _c.SUBPATTERN and not (av[1] or av[2]):
            best = _best(_literal_runs(state, av[-1], ascii_only))
            if best:
                reqs.append(best)
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[0] >= 1:
            best = _best(_literal_runs(state, av[2], ascii_only))
            if best:
                reqs.append(best)
    close()
    return reqs


def _best(reqs: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    # The requirement whose shortest alternative is longest: the most selective substring test.
    return max(reqs, key=lambda alts: (min(map(len, alts)), -len(alts)), default=None)


def required_substrings(source: str, flags: int = 0) -> tuple[str, ...] | None:
    """Strings one of which every match of ``source`` contains (lowercased if IGNORECASE), or None.

    A cheap ``any(s in text …)`` test then rules a pattern out before the regex runs, as RE2 and
    Hyperscan do with their literal prefilters. Under IGNORECASE only ASCII letters (and caseless
    characters such as © or —) are used, since ``str.lower`` and the regex engine disagree on a few
    non-ASCII letters (e.g. Turkish ı/I).
    """
    if _p is None:
        return None
    ignore_case = bool(flags & re.IGNORECASE)
    try:
        tree = _p.parse(source, flags)
        best = _best(_literal_runs(tree.state, tree.data, ascii_only=ignore_case))
    except (re.error, AttributeError, TypeError, IndexError, ValueError):
        return None
    if not best or min(map(len, best)) < 1:
        return None
    return tuple(s.lower() for s in best) if ignore_case else best


_INFINITE = float("inf")


def _width(seq) -> float:
    total = 0.0
    for op, av in seq:
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.IN, _c.ANY):
            total += 1
        elif op is _c.SUBPATTERN:
            total += _width(av[-1])
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            total += _width(av)
        elif op is _c.BRANCH:
            total += max(_width(alt) for alt in av[1])
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            lo, hi, item = av
            inner = _width(item)
            if _only_space(item):
                # Normalized text never has two whitespace characters in a row.
                total += min(inner, 1)
            elif hi == _c.MAXREPEAT:
                return _INFINITE if inner else total
            else:
                total += hi * inner
        else:
            return _INFINITE
    return total


def _only_space(seq) -> bool:
    items = list(seq)
    if len(items) != 1:
        return False
    op, av = items[0]
    if op is _c.LITERAL:
        return chr(av).isspace()
    if op is _c.IN:
        return all((o is _c.CATEGORY and a in (_c.CATEGORY_SPACE, _c.CATEGORY_UNI_SPACE))
                   or (o is _c.LITERAL and chr(a).isspace()) for o, a in av)
    return False


def max_width_on_normalized(source: str, flags: int = 0) -> float:
    """Upper bound on the length of a match in normalized text (runs of whitespace are one space).

    ``inf`` when unbounded or not understood; a caller skips the pattern for longer texts.
    """
    if _p is None:
        return _INFINITE
    try:
        return _width(_p.parse(source, flags).data)
    except (re.error, AttributeError, TypeError, IndexError, ValueError):
        return _INFINITE


try:  # the letters IGNORECASE takes for one another beyond lowercase (i/ı, s/ſ, …), 3.11+
    from _sre import unicode_tolower as _tolower
    from re._casefix import _EXTRA_CASES
except ImportError:  # pragma: no cover
    _tolower = _EXTRA_CASES = None


def _literal_keys(source: str, flags: int, depth: int) -> tuple[str | None, ...]:
    """The characters every match of ``source`` starts with (up to ``depth`` of them, None past the
    last one known), each as the representative of the characters ``re`` takes for it under
    ``flags`` (under IGNORECASE, every character it equates with it)."""
    if _p is None or _tolower is None:
        return (None,) * depth
    try:
        data = _p.parse(source, flags).data
    except (re.error, AttributeError, TypeError, ValueError):
        return (None,) * depth
    keys: list[str | None] = []
    for op, code in data[:depth]:
        if op is not _c.LITERAL:
            break
        if flags & re.IGNORECASE:
            low = _tolower(code)
            code = min((low, *_EXTRA_CASES.get(low, ())))
        keys.append(chr(code))
    return (*keys, *(None,) * (depth - len(keys)))


# How many leading characters the branches of :func:`dispatched_groups` are sorted by, and the
# fewest alternatives worth sorting into branches.
_DISPATCH_DEPTH = 2
_DISPATCH_MIN = 4


def dispatched_groups(groups: list[list[str]], flags: int = 0) -> tuple[str, dict[str, int]] | None:
    """An alternation that finds what ``(?P<g0>a|b)|(?P<g1>c|d)|…`` finds (``groups`` lists each
    group's alternatives in order), with each match's group told by ``names[lastgroup]``, but
    tried only against the alternatives that can start with the characters at hand.

    ``re`` tries the alternatives of an alternation one after the other at every position (under
    IGNORECASE it cannot skip one by its first letter), so hundreds of names cost hundreds of tries
    per position. Here the alternatives are sorted into branches by their first character, each
    behind a lookahead for that character, in their original order, with the alternatives whose
    first character is unknown in every branch and in a last one of their own; each branch again
    by the second character. The lookaheads' classes are disjoint (one representative per class of
    characters ``re`` takes for one another), so at any position the first alternative that matches
    is the same as in the plain alternation: the same matches, found in a fraction of the tries.
    (An alternative equal to an earlier one never matches first, and is left out.) None when no
    alternative's first character is known."""
    seen: set[str] = set()
    flat = []
    for g, alts in enumerate(groups):
        for alt in alts:
            if alt not in seen:
                seen.add(alt)
                flat.append((g, alt, _literal_keys(alt, flags, _DISPATCH_DEPTH)))
    if all(keys[0] is None for _, _, keys in flat):
        return None
    names: dict[str, int] = {}

    def runs(members) -> str:
        out: list[tuple[int, list[str]]] = []
        for g, alt, _ in members:  # consecutive alternatives of one group share its named group
            if out and out[-1][0] == g:
                out[-1][1].append(alt)
            else:
                out.append((g, [alt]))
        parts = []
        for g, alts in out:
            name = f"_g{len(names)}"
            names[name] = g
            parts.append(f"(?P<{name}>" + "|".join(alts) + ")")
        return "|".join(parts)

    def branches(members, depth: int, prefix: str) -> str:
        order = list(dict.fromkeys(k[depth] for _, _, k in members if k[depth] is not None)) \
            if depth < _DISPATCH_DEPTH and len(members) >= _DISPATCH_MIN else []
        if not order:
            return runs(members)
        parts = []
        for key in order:
            sub = [m for m in members if m[2][depth] in (key, None)]
            head = prefix + re.escape(key)
            parts.append(f"(?={head})(?:" + branches(sub, depth + 1, head) + ")")
        rest = [m for m in members if m[2][depth] is None]
        if rest:
            parts.append("(?:" + runs(rest) + ")")
        return "|".join(parts)

    return branches(flat, 0, ""), names
