"""Article metadata computed from clean text: word count and byline."""

from __future__ import annotations

import re

from .normalize import inline_text

# Han, Hiragana, Katakana and compatibility ideographs: no spaces between words, so each character
# counts as one word (the usual convention for CJK word counts). Everything else: runs of letters
# or digits, with inner apostrophes, hyphens and digit separators kept inside the word.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['’\-.,:][^\W_{_CJK}]+)*")


def word_count(text: str) -> int:
    """Words in clean text: space-delimited scripts by word, CJK by character."""
    return len(_WORD.findall(text)) if text else 0


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_BY = re.compile(r"^(?:by|por|par|von|di|oleh)\s+", re.IGNORECASE)


def clean_byline(author: str | None) -> str | None:
    """A feed's author field as a byline: "jdoe@example.org (Jane Doe)" → "Jane Doe", "By X" → "X".

    An author that is only an e-mail address names no one and gives None.
    """
    text = inline_text(author)
    if not text:
        return None
    inner = re.fullmatch(r"\S+@\S+\s*\((.+)\)", text)
    if inner:
        text = inner.group(1)
    text = _EMAIL.sub("", text).strip(" ,;()<>")
    text = _BY.sub("", text).strip()
    return text or None
