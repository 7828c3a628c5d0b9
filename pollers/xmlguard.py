"""Refuse XML whose entity declarations could expand without bound, before any parser sees it.

feedparser removes the classic billion-laughs declarations (values containing ``&``), but keeps
"safe" ones: any literal value without ``&``. One 50 kB literal entity referenced 2,000 times in a
56 kB document expands to 100 MB: expat stops at its amplification limit, feedparser then falls
back to its loose parser, which expands the entity anyway (measured: 300 MB peak). So the only
declarations allowed through are those that cannot amplify: a value of one character or one
numeric character reference (``<!ENTITY nbsp "&#160;">``, the one real use in feeds).

The check runs on the raw bytes, for every encoding an XML parser might detect (ASCII-compatible,
UTF-16, UTF-32, EBCDIC), so an encoding switch cannot hide a declaration from it.
"""

from __future__ import annotations

import re

from .errors import FailureKind, PollError

_MARKER = "<!ENTITY"
# Encodings in which "<!ENTITY" is not the ASCII byte string. A 2- or 4-byte encoding's marker
# can only start at an aligned offset, but searching everywhere costs nothing and misses nothing.
_CODECS = ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037", "cp500")
_SAFE = re.compile(
    r"""<!ENTITY\s+[A-Za-z_][\w.\-]*\s+(?P<q>["'])(?:&\#[0-9]{1,7};|&\#x[0-9A-Fa-f]{1,6};|[^&%<"'])(?P=q)\s*>""",
)
# Long enough for any declaration _SAFE accepts (name up to 64 chars).
_DECL_WINDOW = 160


def _char_pattern(codec: str) -> re.Pattern[bytes]:
    """Case-insensitive byte pattern for the marker in one codec (the loose parser ignores case)."""
    parts = []
    for ch in _MARKER:
        variants = {ch.upper().encode(codec), ch.lower().encode(codec)}
        parts.append(b"(?:" + b"|".join(re.escape(v) for v in sorted(variants)) + b")")
    return re.compile(b"".join(parts))


_PATTERNS = tuple((codec, _char_pattern(codec)) for codec in _CODECS)


def check_entities(data: bytes) -> None:
    """Raise PollError(ENTITY_DECLARATION) if the document declares an entity that can amplify."""
    for codec, pattern in _PATTERNS:
        for m in pattern.finditer(data):
            window = data[m.start(): m.start() + _DECL_WINDOW * _width(codec)]
            text = window.decode(codec, errors="replace")
            end = text.find(">")
            decl = text[: end + 1] if end >= 0 else text
            if end < 0 or not _SAFE.fullmatch(decl):
                shown = decl[:80].replace("\n", " ")
                raise PollError(
                    FailureKind.ENTITY_DECLARATION,
                    f"document declares an XML entity that could expand without bound ({codec}: {shown!r}); "
                    "only one-character entities are accepted",
                )


def _width(codec: str) -> int:
    return 4 if "32" in codec else 2 if "16" in codec else 1
