"""The set of characters a regex match can start with, as a character class, to speed up ``search``.

``re`` tries an unanchored pattern at every position of the text; with many case-insensitive
alternatives (as rule packs have) each try costs every alternative, and ``re`` only skips positions
cheaply when it can prove what the first character must be, which it cannot under IGNORECASE.
Prefixing ``(?=[first chars])`` gives it that cheap test. The analysis is conservative: anything it
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


def _first(state, seq) -> tuple[list[str], bool]:
    """(first-char classes, sequence can match empty)."""
    out: list[str] = []
    for item in seq:
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
                f, n = _first(state, alt)
                out += f
                nullable |= n
        elif op is _c.SUBPATTERN:
            if av[1] or av[2]:  # scoped flags such as (?i:…) would change what the class means
                raise _Unknown
            f, nullable = _first(state, av[-1])
            out += f
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            f, n = _first(state, av[2])
            out += f
            nullable = n or av[0] == 0
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            f, nullable = _first(state, av)
            out += f
        else:  # ANY, NOT_LITERAL, GROUPREF, conditionals …
            raise _Unknown
        if not nullable:
            return out, False
        if not _nullable(state, item):
            return out, False
    return out, True


def first_char_class(source: str, flags: int = 0) -> str | None:
    """``[...]`` matching every possible first character of a non-empty match, or None."""
    if _p is None:
        return None
    try:
        tree = _p.parse(source, flags)
        classes, nullable = _first(tree.state, tree.data)
    except (_Unknown, re.error, AttributeError, TypeError, IndexError, ValueError):
        return None
    if nullable or not classes:
        return None
    return "[" + "".join(dict.fromkeys(classes)) + "]"
