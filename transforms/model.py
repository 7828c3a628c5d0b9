"""Typed values passed between the pure transforms, and the unit that travels to the sinks.

These are the in-memory shapes of the records in ``schemas.definitions``; the warehouse rows are
plain dicts keyed by schema field names (see ``transforms.identity.article_row``). Beam encodes a
:class:`Unit` with the coder that ``transforms.coders`` registers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

# The word count of a clean text (``CleanArticle.word_count``; the articles row carries it).
# Han, Hiragana, Katakana and compatibility ideographs: no spaces between words, so each character
# counts as one word (the usual convention for CJK word counts). Everything else: runs of letters
# or digits, with inner apostrophes, hyphens and digit separators kept inside the word.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['’\-.,:][^\W_{_CJK}]+)*")


# For ASCII text, the same count without the regex (which costs ~60 ns a character): map each
# byte to "a" (letter or digit), "j" (a character that may join two runs of them) or " ". A run of
# "a" starts a word unless a lone "j" ties it to the run before, so (with a " " put in front) words
# start at every " a", and at every "ja" whose "j" follows " " or another "j".
_JOINERS = "'-.,:"
_ASCII_CLASSES = bytes(ord("a") if chr(c).isalnum() else ord("j") if chr(c) in _JOINERS else ord(" ")
                       for c in range(256))


def word_count(text: str) -> int:
    """Words in clean text: space-delimited scripts by word, CJK by character."""
    if not text:
        return 0
    if text.isascii():
        c = b" " + text.encode("ascii").translate(_ASCII_CLASSES)
        return c.count(b" a") + c.count(b" ja") + c.count(b"jja")
    return len(_WORD.findall(text))


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
    # Keys of paragraphs removed as the source's learned boilerplate (for transforms.learning).
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


class Unit(NamedTuple):
    """Everything one message produces, travelling together from cleaning to the sink.

    The sink writes a unit in one transaction: a message is then either wholly in the warehouse or
    not at all, which crash recovery relies on (pipeline/recovery.py). Cleaning makes it (with its
    article row or its dead-letter row), identity numbers the article's version or drops a repeat's
    article, learning and syndication add the rows they changed; each stage changes it with
    ``_replace``. A tuple, so that it pickles as the class and its values only.
    """

    message_id: str
    raw_item: dict  # the raw_items row: the message as received, whether or not it parsed
    article: dict | None = None  # the articles row; None for a dead letter or a repeat of seen content
    dead_letter: dict | None = None  # the dead_letter row of the step that failed
    feed_agency: str | None = None  # the feed's agency (the poller's hint): is a copy the agency's own?
    stories: tuple[dict, ...] = ()  # stories rows the article changed (syndication)
    learned: tuple[dict, ...] = ()  # learned_boilerplate rows the item changed (learning)
