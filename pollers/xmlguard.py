"""Refuse XML whose entity declarations could expand without bound, before any parser sees it.

Which declarations matter is decided the way feedparser decides which ones it uses: after its own
encoding detection (so an encoding switch cannot hide one), only those in the document's prolog
(before the first element) are declarations; ``<!ENTITY`` anywhere else, e.g. in a CDATA section
or an entry's text, is text. Of those, feedparser keeps plain internal string entities (a literal
without ``&``, or one character reference) and drops the rest; its parsers then expand what it kept.

So the guard allows the kept ones as long as they cannot amplify: every reference to them,
expanded, adds at most ``max(MIN_EXPANSION, document size)`` bytes. Of the declarations feedparser
drops, parameter entities (``<!ENTITY % HTMLlat1 PUBLIC ...>``, how some feeds pull in the XHTML
entity sets) are let through, since only a DTD would use them and none is read; the others are
the shapes of attacks, and no legitimate feed needs them, so the document is refused: nested
references (billion laughs), external general entities (``SYSTEM "file:///etc/passwd"``) and
malformed declarations. One 50 kB literal referenced 2,000 times in a
56 kB document would expand to 100 MB (measured unguarded: 300 MB peak), and is refused;
``<!ENTITY nbsp "&#160;">`` or ``<!ENTITY site "Harbour Daily News">`` used a few hundred times is fine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from feedparser.encodings import convert_to_utf8

from .errors import FailureKind, PollError

_MARKER = "<!ENTITY"
# Encodings in which "<!ENTITY" is not the ASCII byte string: a quick look for the marker in each,
# so the common document without any declaration skips the exact check.
_CODECS = ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037", "cp500")
# feedparser.sanitizer.RE_SAFE_ENTITY_PATTERN, as one whole declaration.
_KEPT = re.compile(rb'<!ENTITY\s+(\w+)\s+"(&#\w+;|[^&"]*)"\s*>')
_ANY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_PARAMETER = re.compile(rb"<!ENTITY\s+%\s", re.IGNORECASE)
# Where feedparser's prolog ends (feedparser.sanitizer.replace_doctype).
_FIRST_ELEMENT = re.compile(rb"<\w")
MIN_EXPANSION = 1024 * 1024


def _char_pattern(codec: str) -> re.Pattern[bytes]:
    """Case-insensitive byte pattern for the marker in one codec (the loose parser ignores case)."""
    parts = []
    for ch in _MARKER:
        variants = {ch.upper().encode(codec), ch.lower().encode(codec)}
        parts.append(b"(?:" + b"|".join(re.escape(v) for v in sorted(variants)) + b")")
    return re.compile(b"".join(parts))


_PATTERNS = tuple(_char_pattern(codec) for codec in _CODECS)


def _refuse(why: str) -> PollError:
    return PollError(FailureKind.ENTITY_DECLARATION,
                     f"document declares an XML entity that could expand without bound: {why}")


def check_entities(data: bytes, headers: Mapping[str, str] | None = None) -> None:
    """Raise PollError(ENTITY_DECLARATION) if the document declares an entity that can amplify.

    ``headers`` are the response headers given to feedparser (their charset decides the encoding).
    """
    if not any(p.search(data) for p in _PATTERNS):
        return
    utf8 = convert_to_utf8({k.lower(): v for k, v in (headers or {}).items()}, data, {})
    first = _FIRST_ELEMENT.search(utf8)
    head = utf8[: first.start() + 1] if first else utf8
    kept: dict[bytes, int] = {}
    for m in _ANY_DECL.finditer(head):
        end = head.find(b">", m.start())
        decl = head[m.start(): end + 1] if end >= 0 else head[m.start():]
        found = _KEPT.fullmatch(decl)
        if found is None and _PARAMETER.match(decl) and end >= 0:
            continue
        if found is None:
            shown = decl[:80].decode("utf-8", errors="replace").replace("\n", " ")
            raise _refuse(f"{shown!r}; only internal string entities are accepted")
        name, value = found.groups()
        kept[name] = 4 if value.startswith(b"&#") else len(value)  # a reference is one character
    budget = max(MIN_EXPANSION, len(data))
    expansion = 0
    for name, size in kept.items():
        # Both parsers: expat wants "&name;", feedparser's loose parser ends a name at any other
        # character; counted over the whole document, so a reference in a CDATA section counts too.
        refs = sum(1 for _ in re.finditer(rb"&" + re.escape(name) + rb"(?![-.A-Za-z0-9])", utf8))
        expansion += refs * size
        if expansion > budget:
            raise _refuse(f"&{name.decode()}; ({size} bytes) referenced {refs} times expands by more than "
                          f"{budget} bytes")
