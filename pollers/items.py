"""feedparser entry → the raw-item message of DESIGN.md (data + attributes)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import orjson

from schemas import SCHEMA_VERSION

from .config import FeedConfig

_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
_NOT_IMAGE_MEDIUM = {"video", "audio", "document", "executable"}


@dataclass(frozen=True)
class OutgoingItem:
    """One message ready to publish, with what the state store needs to remember it."""

    item_key: str
    content_hash: str  # changes when the entry's content changes (a correction is republished)
    data: bytes
    attributes: dict[str, str]
    link: str | None = None  # the entry's link: the article page, for feeds that fetch full text


def rfc3339(dt: datetime) -> str:
    """UTC with a Z suffix and milliseconds, e.g. 2023-11-05T14:02:11.250Z."""
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value)
    return value if value.strip() else None


def _url_path(url: str) -> str:
    try:
        return urlsplit(url).path.lower()
    except ValueError:
        return ""


def _is_image(medium: str | None, mime: str | None, url: str) -> bool:
    if medium:
        return medium.lower() == "image" or medium.lower() not in _NOT_IMAGE_MEDIUM
    if mime:
        return mime.lower().startswith("image/")
    return _url_path(url).endswith(_IMAGE_EXT)


def _media(entry: Mapping[str, Any]) -> list[dict[str, str | None]]:
    credits = [c.get("content") for c in dict.get(entry, "media_credit") or () if _text(c.get("content"))]
    credit = credits[0].strip() if credits else None
    urls: list[str] = []
    for m in dict.get(entry, "media_content") or ():
        url = _text(m.get("url"))
        # media:content without medium or type is nearly always the story's photo.
        if url and (not (m.get("medium") or m.get("type")) or _is_image(m.get("medium"), m.get("type"), url)):
            urls.append(url.strip())
    for link in dict.get(entry, "links") or ():
        url = _text(link.get("href"))
        if link.get("rel") == "enclosure" and url and _is_image(None, link.get("type"), url):
            urls.append(url.strip())
    if not urls:  # a thumbnail is a smaller copy of the main image: use it only when there is none
        urls = [t["url"].strip() for t in dict.get(entry, "media_thumbnail") or () if _text(t.get("url"))]
    out, seen = [], set()
    for url in urls:
        if url not in seen:
            seen.add(url)
            out.append({"url": url, "caption": None, "credit": credit})
    return out


def _tags(entry: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for tag in dict.get(entry, "tags") or ():
        term = _text(tag.get("term"))
        if term and term.strip() not in out:
            out.append(term.strip())
    return out


def entry_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The ``entry`` object of the raw item, from one feedparser entry.

    Dates stay the raw strings the feed gave: the pipeline parses them, so a bad date is its
    dead letter to record, not ours to guess. Keys are read with ``dict.get`` because
    FeedParserDict maps a missing ``updated`` to ``published``, which would invent an update.
    """
    get = dict.get
    return {
        "id": _text(get(entry, "id")),
        "link": _text(get(entry, "link")),
        "title": _text(get(entry, "title")),
        "summary": _text(get(entry, "summary")),
        "content": [{"type": c.get("type") or "text/html", "value": c.get("value") or ""}
                    for c in get(entry, "content") or ()],
        "published": _text(get(entry, "published")),
        "updated": _text(get(entry, "updated")),
        "author": _text(get(entry, "author")),
        "tags": _tags(entry),
        "media": _media(entry),
    }


def _sha(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()[:32]


def item_key(feed_id: str, fields: Mapping[str, Any]) -> str:
    """Stable key of one entry within one feed: guid, else link, else title + published date.

    The prefix keeps a guid from colliding with a link of the same text. An entry with none of
    these is keyed by its content, so it is still delivered (and re-sent only if it changes).
    """
    if fields.get("id"):
        basis = "guid:" + fields["id"].strip()
    elif fields.get("link"):
        basis = "link:" + fields["link"].strip()
    elif fields.get("title"):
        basis = "title:" + fields["title"].strip() + "\x00" + (fields.get("published") or "")
    else:
        basis = "content:" + content_hash(fields)
    return _sha(f"{feed_id}\x00{basis}".encode())


def message_item_key(key: str, digest: str) -> str:
    """The ``item_key`` attribute: one entry *in one version*.

    A re-publish of unchanged content repeats it, a correction under the same guid does not. That
    is what Dataflow's ``id_label=item_key`` needs: it drops exact repeats only, never corrections.
    """
    return f"{key}.{digest[:16]}"


def content_hash(fields: Mapping[str, Any]) -> str:
    return _sha(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS))


def build_items(
    feed: FeedConfig,
    entries: Iterable[Mapping[str, Any]],
    *,
    fetched_at: datetime,
    http: Mapping[str, Any],
) -> list[OutgoingItem]:
    """Raw-item messages for a feed's entries, one per distinct item key (first one wins)."""
    stamp = rfc3339(fetched_at)
    http_obj = {"etag": http.get("etag"), "last_modified": http.get("last_modified"),
                "status": http.get("status")}
    out: list[OutgoingItem] = []
    keys: set[str] = set()
    for entry in entries:
        fields = entry_fields(entry)
        key = item_key(feed.id, fields)
        if key in keys:
            continue
        keys.add(key)
        payload = {
            "schema_version": SCHEMA_VERSION,
            "feed_id": feed.id,
            "feed_url": feed.url,
            "agency_hint": feed.agency,
            "fetched_at": stamp,
            "http": http_obj,
            "entry": fields,
            "page_html": None,
        }
        digest = content_hash(fields)
        out.append(OutgoingItem(
            item_key=key,
            content_hash=digest,
            data=orjson.dumps(payload),
            attributes={"feed_id": feed.id, "item_key": message_item_key(key, digest), "fetched_at": stamp,
                        "schema_version": str(SCHEMA_VERSION)},
            link=fields["link"],
        ))
    return out


def with_page_html(item: OutgoingItem, page_html: str) -> OutgoingItem:
    """The same message with the article page's HTML in ``page_html``.

    The item key and content hash stay those of the feed entry: a page that changes while its entry
    does not (ads, comment counts) is not a correction and is not published again.
    """
    payload = orjson.loads(item.data)
    payload["page_html"] = page_html
    return replace(item, data=orjson.dumps(payload))
