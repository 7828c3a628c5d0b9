"""The publisher's typography back in the clean text: curly quotes and apostrophes as they wrote them.

Cleaning compares text with straight quotes (``normalize_text``): the same wire story reaches us
typeset by different outlets, and rules, echoes and learned lines must agree on it. What a reader
sees is the outlet's own text, so once the title and paragraphs are chosen, every one that has a
straight quote is looked up in the source text it came from and takes that text's characters back.

Folding a curly quote is one character for one, so a clean paragraph found at offset ``i`` of the
folded source is the span ``i:i+len`` of the typeset source. A paragraph the rules rewrote (a
dateline cut off its first sentence is still a substring; anything else is not) that cannot be found
keeps its straight quotes: nothing is ever invented. A body taken from the article page keeps
straight quotes (its title and standfirst, from the feed, do not): typesetting a whole page to look
paragraphs up in costs more than extracting it. Keys, hashes and fingerprints stay quote-insensitive
(``fold_quotes``), so a stored article read again is not a new version.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from .normalize import _QUOTES, normalize_text

__all__ = ["fold_quotes", "has_typeset_quotes", "restore_typography", "typeset_source"]

# The very quotes normalize_text straightens, so the two can never disagree.
_CURLY = "".join(_QUOTES)
_FOLD = str.maketrans(_QUOTES)
# Private-use stand-ins: normalize_text leaves them alone (not spaces, not invisible, NFC-stable),
# so they carry each curly quote through it to its place in the normalized text.
_HIDE = str.maketrans(_CURLY, "".join(chr(0xE000 + i) for i in range(len(_CURLY))))
_SHOW = str.maketrans("".join(chr(0xE000 + i) for i in range(len(_CURLY))), _CURLY)
# A curly quote written out, or as a named or numeric character reference.
_TYPESET = re.compile(r"[\u2018-\u201f]|&(?:[lr]squo|[lr]dquo|[sb]dquo|#82(?:1[6-9]|2[0-3])|#x201[89a-fA-F]);")
_TAG = re.compile(r"<[^>]*>")


def fold_quotes(text: str) -> str:
    """Text with straight quotes for curly ones (the form cleaning compares)."""
    if text.isascii():  # no curly quote (str.translate looks each character up in a dict)
        return text
    return text.translate(_FOLD)


def has_typeset_quotes(*texts: str | None) -> bool:
    for t in texts:
        # Every match is a non-ASCII quote or a reference holding "quo;" or "&#": ASCII text
        # without either is answered by two substring tests instead of a search.
        if t and (not t.isascii() or "quo;" in t or "&#" in t) and _TYPESET.search(t):
            return True
    return False


def typeset_source(markup: str | None) -> str:
    """The markup's text, normalized as cleaning normalizes it but with its curly quotes kept.

    Tags are removed without a space: a paragraph's text is contiguous in it however it was marked
    up inside, which is all a substring lookup needs."""
    if not markup:
        return ""
    text = html.unescape(_TAG.sub("", markup)) if "<" in markup or "&" in markup else markup
    return normalize_text(text.translate(_HIDE)).translate(_SHOW)


def restore_typography(texts: Sequence[str], sources: Iterable[str]) -> list[str]:
    """Each text with the quotes of the first source it is found in (straight where none has it)."""
    typeset = [s for s in sources if s]
    if not typeset:
        return list(texts)
    folded = [fold_quotes(s) for s in typeset]
    out = []
    for text in texts:
        if "'" in text or '"' in text:
            for plain, original in zip(folded, typeset):
                at = plain.find(text)
                if at >= 0:
                    text = original[at:at + len(text)]
                    break
        out.append(text)
    return out
