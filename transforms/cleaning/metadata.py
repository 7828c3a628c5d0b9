"""Article metadata computed from clean text: word count and byline."""

from __future__ import annotations

import re

from transforms.model import word_count  # noqa: F401  (re-exported: the count is CleanArticle's)

from .normalize import inline_text

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
