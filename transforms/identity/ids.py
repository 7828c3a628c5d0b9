"""Stable identity of an article and a hash of its content.

``article_id`` names one outlet's article across polls and feeds. It comes from the first stable key
among: the guid, the canonical URL, and a hash of the normalized title and body (DESIGN.md). A guid
that does not identify the entry (see ``transforms.cleaning.guid_identifies``) is skipped.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import urlsplit

from schemas import SCHEMA_VERSION

from transforms.cleaning import canonical_url, guid_identifies, outlet_of
from transforms.cleaning.typography import fold_quotes
from transforms.model import CleanArticle, RawItem

# A guid that is only digits/date-like is stable only within one feed system, so it is scoped to the
# outlet's host; one shorter than this carries too little to identify anything.
_MIN_GUID_LEN = 4
_WS = re.compile(r"\s+")
_URLISH = re.compile(r"^https?://", re.I)


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def _fold(text: str) -> str:
    """Case-, space-, width- and quote-insensitive form of text for content keys."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", fold_quotes(text))).strip().casefold()


def identity_key(raw: RawItem, clean: CleanArticle) -> tuple[str, str]:
    """(id_source, key) for the article: 'guid', 'url' or 'content'.

    A guid that is itself a URL is treated as the URL it names, so an outlet whose guid is its
    permalink gets the same id whether or not a feed publishes the guid. Other guids are scoped to the
    outlet's host: two feeds of one outlet share guids, two outlets may not. A guid that does not
    identify the entry (``guid_identifies``) is ignored: the id comes from the URL, else the content.
    """
    guid = (clean.guid or "").strip()
    if not guid_identifies(guid, raw):
        guid = ""
    if guid and _URLISH.match(guid):
        return "url", canonical_url(guid) or guid
    if len(guid) >= _MIN_GUID_LEN:
        host = urlsplit(clean.url or raw.feed_url or "").hostname or raw.feed_id
        return "guid", f"{host.lower()}|{guid}"
    if clean.url:
        return "url", clean.url
    return "content", _fold(clean.title) + "\n" + _fold(clean.body_text)


def article_id(raw: RawItem, clean: CleanArticle) -> tuple[str, str]:
    """(article_id, id_source). The id is a short hex digest of the identity key."""
    source, key = identity_key(raw, clean)
    return _digest(source, key)[:24], source


def content_hash(clean: CleanArticle) -> str:
    """SHA-256 over what a reader sees: a change here is a correction (a new version). Quotes are
    folded: an outlet re-typesetting its quotes has not corrected anything, and rows stored when
    the body itself was kept with straight quotes keep their hash."""
    return _digest(
        fold_quotes(clean.title), fold_quotes(clean.standfirst or ""), fold_quotes(clean.body_text),
        "withdrawn" if clean.withdrawn else "",
    )


def _image_row(img) -> dict:
    return {"url": img.url, "caption": img.caption, "credit": img.credit}


def article_row(raw: RawItem, clean: CleanArticle, *, processed_at: datetime | None = None) -> dict:
    """The warehouse row (``schemas.ARTICLES`` fields) for one cleaned item, version 1.

    The dedup step and the sink assign the real version; cluster_id is set by clustering.
    """
    aid, source = article_id(raw, clean)
    body = clean.body_text
    return {
        "article_id": aid,
        "version": 1,
        "content_hash": content_hash(clean),
        "id_source": source,
        "cluster_id": None,
        "agency": clean.agency,
        "title": clean.title,
        "standfirst": clean.standfirst,
        "body": body,
        "dateline": clean.dateline,
        "dateline_place": clean.dateline_place,
        "byline": clean.byline,
        "language": clean.language,
        "word_count": clean.word_count,
        "url": clean.url,
        "link": clean.link,
        "guid": clean.guid,
        "tags": list(clean.tags),
        "images": [_image_row(i) for i in clean.images],
        "published_at": clean.published_at,
        "published_raw": clean.published_raw,
        "published_from_fetch": clean.published_from_fetch,
        "updated_at": clean.updated_at,
        "withdrawn": clean.withdrawn,
        "removed_rules": list(clean.removed_rules),
        "feed_id": raw.feed_id,
        "message_id": raw.message_id,
        "fetched_at": raw.fetched_at,
        "processed_at": processed_at or datetime.now(timezone.utc),
        "schema_version": SCHEMA_VERSION,
        # The host that published it: the canonical URL's, else the link's, else the feed's, so
        # that two feeds of one site are one outlet (stories count outlets by it).
        "outlet": outlet_of(clean.url, clean.link, raw.feed_url),
    }


def replay_key(attributes: Mapping[str, str], data: bytes) -> str:
    """What names a message's content, whichever source delivered it: the warehouse's replay check.

    A poller's message carries ``item_key`` (one entry of one feed in one version), so a re-publish
    of unchanged content repeats it and a correction does not. Anything else (a replay file, another
    publisher) is named by its payload: a line fixed and replayed in place is new content and lands,
    the same line read again under another spelling of the glob is not. Never the message id: ids
    restart with an emulator's process (ours before it kept them on disk, Google's still), and a file
    line's id names a place in a file, not what is there.
    """
    item = attributes.get("item_key")
    if item:
        return f"item:{attributes.get('feed_id') or ''}/{item}"
    return "data:" + hashlib.sha256(data).hexdigest()
