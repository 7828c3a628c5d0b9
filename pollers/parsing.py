"""Fetched bytes → feed entries (feedparser), with the failure rules of the poller.

A bozo feed (not well-formed, wrong charset, …) that still yields entries is used, and its bozo
reason recorded; a body that yields no entries and is bozo, or is not recognisably a feed, is an
error for that feed only.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import feedparser

from .errors import FailureKind, PollError
from .xmlguard import check_entities


@dataclass(frozen=True)
class ParsedFeed:
    entries: list[Any]  # feedparser.FeedParserDict entries
    version: str  # 'rss20', 'atom10', 'rss10', … or '' when unknown
    bozo_reason: str | None  # why feedparser flagged the document, when it did
    link: str | None = None  # the feed's own home page (RSS channel <link>, Atom alternate link)


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "malformed document"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


def parse_feed(body: bytes, headers: Mapping[str, str]) -> ParsedFeed:
    """Parse a fetched feed body. Raises PollError(ENTITY_DECLARATION | NOT_A_FEED)."""
    check_entities(body)
    # Bytes handed to feedparser directly are first tried as a file name: a server answering
    # "/etc/passwd" would have us parse and publish a local file. A stream is only ever read.
    result = feedparser.parse(io.BytesIO(body), response_headers=dict(headers))
    bozo_reason = _describe(result.get("bozo_exception")) if result.get("bozo") else None
    entries = list(result.get("entries") or [])
    version = result.get("version") or ""
    if not entries and (bozo_reason or not version):
        why = bozo_reason or "no RSS/Atom root element"
        raise PollError(FailureKind.NOT_A_FEED, f"no feed entries could be read ({why})")
    # feedparser falls back to the feed's <id> when an Atom feed has no alternate link: keep URLs only.
    link = (result.get("feed") or {}).get("link")
    link = link.strip() if isinstance(link, str) else ""
    return ParsedFeed(entries=entries, version=version, bozo_reason=bozo_reason,
                      link=link if link.lower().startswith(("http://", "https://")) else None)
