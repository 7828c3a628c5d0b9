"""Typed values passed between the pure transforms.

These are the in-memory shapes of the records in ``schemas.definitions``; the warehouse rows are
plain dicts keyed by schema field names (see ``transforms.identity.article_row``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

# The word count of a clean text (``CleanArticle.word_count``; the articles row carries it).
# Han, Hiragana, Katakana and compatibility ideographs: no spaces between words, so each character
# counts as one word (the usual convention for CJK word counts). Everything else: runs of letters
# or digits, with inner apostrophes, hyphens and digit separators kept inside the word.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['’\-.,:][^\W_{_CJK}]+)*")


def word_count(text: str) -> int:
    """Words in clean text: space-delimited scripts by word, CJK by character."""
    return len(_WORD.findall(text)) if text else 0


@dataclass(frozen=True)
class Image:
    url: str | None = None
    caption: str | None = None
    credit: str | None = None


@dataclass(frozen=True)
class Content:
    type: str
    value: str


@dataclass(frozen=True)
class Entry:
    id: str | None
    link: str | None
    title: str | None
    summary: str | None
    content: tuple[Content, ...] = ()
    published: str | None = None
    updated: str | None = None
    author: str | None = None
    tags: tuple[str, ...] = ()
    media: tuple[Image, ...] = ()
    # False when the poller saw that the guid (``id``) does not identify this entry (shared by entries
    # with other links, or the site's home page); ``transforms.identity`` then ignores it.
    guid_is_identity: bool = True


@dataclass(frozen=True)
class RawItem:
    """One feed entry as published by a poller, plus where the pipeline got it from."""

    schema_version: int
    feed_id: str
    feed_url: str
    agency_hint: str | None
    fetched_at: datetime  # UTC
    entry: Entry
    page_html: str | None = None
    http: dict = field(default_factory=dict, hash=False, compare=False)
    message_id: str = ""
    attributes: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass
class CleanArticle:
    """The output of the pure cleaning chain, before identity and versioning."""

    title: str
    body: list[str]  # paragraphs
    standfirst: str | None
    agency: str | None
    dateline: str | None
    dateline_place: str | None
    byline: str | None
    language: str | None
    images: list[Image]
    tags: list[str]
    url: str | None  # canonical
    link: str | None
    guid: str | None
    published_at: datetime
    published_raw: str | None
    published_from_fetch: bool
    updated_at: datetime | None
    withdrawn: bool = False
    removed_rules: list[str] = field(default_factory=list)
    # Keys of paragraphs removed as the source's learned boilerplate (for transforms.learned).
    learned_lines: list[str] = field(default_factory=list)
    # Where the body came from: 'page' (the fetched article page), 'content' or 'summary' (the feed
    # entry), or 'none' (a headline-only item).
    body_source: str = "content"

    @property
    def body_text(self) -> str:
        return "\n".join(self.body)

    @property
    def word_count(self) -> int:
        """Words of the body (CJK characters count one each): ``word_count``."""
        return word_count(self.body_text)


@dataclass(frozen=True)
class Message:
    """A message as any source delivers it: Pub/Sub, or one line of a replay file."""

    message_id: str
    data: bytes
    attributes: dict = field(default_factory=dict, hash=False, compare=False)
