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
from transforms.cleaning import canonical_url, is_home_page_url, parse_date

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


@dataclass(frozen=True)
class FeedItems:
    """The messages of one poll of a feed, and what was wrong with its guids, if anything."""

    items: list[OutgoingItem]
    # For the feed's health: guids that did not identify their entries (keyed otherwise), and
    # entries listed twice in different versions (the latest kept). None when there was neither.
    guid_problem: str | None = None


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


def _key_basis(fields: Mapping[str, Any]) -> str:
    if fields.get("id") and fields.get("guid_is_identity", True):
        return "guid:" + fields["id"].strip()
    if fields.get("link"):
        return "link:" + fields["link"].strip()
    if fields.get("title"):
        return "title:" + fields["title"].strip() + "\x00" + (fields.get("published") or "")
    return "content:" + content_hash(fields)


def item_key(feed_id: str, fields: Mapping[str, Any]) -> str:
    """Stable key of one entry within one feed: guid, else link, else title + published date.

    The guid is skipped when ``guid_is_identity`` is false (see ``guids_not_identifying``). The
    prefix keeps a guid from colliding with a link of the same text. An entry with none of these
    is keyed by its content, so it is still delivered (and re-sent only if it changes).
    """
    return _sha(f"{feed_id}\x00{_key_basis(fields)}".encode())


def message_item_key(key: str, digest: str) -> str:
    """The ``item_key`` attribute: one entry *in one version*.

    A re-publish of unchanged content repeats it, a correction under the same guid does not. That
    is what Dataflow's ``id_label=item_key`` needs: it drops exact repeats only, never corrections.
    """
    return f"{key}.{digest[:16]}"


def content_hash(fields: Mapping[str, Any]) -> str:
    return _sha(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS))


def _same_url(a: str | None, b: str | None) -> bool:
    ca = canonical_url(a)
    return ca is not None and ca == canonical_url(b)


@dataclass(frozen=True)
class GuidFinding:
    """Why one guid of a poll does not identify its entries."""

    entries: int  # entries of the poll with this guid
    shared: bool  # entries with different links share it
    home: str | None  # which home page it is, if it is one

    def describe(self, guid: str) -> str:
        if self.shared:
            text = f"{self.entries} entries share guid {guid} with different links"
            return text + (f" ({self.home})" if self.home else "")
        return f"{_count(self.entries, 'entry has', 'entries have')} guid {guid}, {self.home}"


def guids_not_identifying(fields: Iterable[Mapping[str, Any]], *, feed_url: str,
                          channel_link: str | None = None) -> dict[str, GuidFinding]:
    """The guids of one poll's entries that do not identify an entry, and why.

    A guid is no identity when entries with different links share it (a CMS that gives every
    item the same guid), or when it is the home page: the feed's own URL, the feed's channel link,
    or any URL with an empty or ``/`` path and no query. Links are compared canonically, so a copy
    of one article whose link only adds tracking parameters does not count as a different link.
    """
    links: dict[str, list[str | None]] = {}
    for f in fields:
        guid = (f.get("id") or "").strip()
        if guid:
            link = f.get("link")
            links.setdefault(guid, []).append(canonical_url(link) or (link.strip() if link else None))
    out: dict[str, GuidFinding] = {}
    for guid, seen in links.items():
        if _same_url(guid, feed_url):
            home = "the feed's own URL"
        elif channel_link and _same_url(guid, channel_link):
            home = "the feed's channel link"
        elif is_home_page_url(guid):
            home = "the site's home page"
        else:
            home = None
        shared = len(set(seen)) > 1
        if shared or home:
            out[guid] = GuidFinding(len(seen), shared, home)
    return out


def _entry_time(fields: Mapping[str, Any]) -> float | None:
    dt = parse_date(fields.get("updated")) or parse_date(fields.get("published"))
    return dt.timestamp() if dt is not None else None


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _describe_guids(bad: Mapping[str, GuidFinding], fields: list[dict[str, Any]]) -> str | None:
    if not bad:
        return None
    shown = [finding.describe(guid) for guid, finding in list(bad.items())[:3]]
    if len(bad) > 3:
        shown.append(f"{len(bad) - 3} more guids")
    flagged = [f for f in fields if f.get("guid_is_identity") is False]
    keyed = "link" if all(f.get("link") for f in flagged) else "link, else title and date,"
    return ", ".join(shown) + f"; keyed by {keyed} instead"


def build_feed_items(
    feed: FeedConfig,
    entries: Iterable[Mapping[str, Any]],
    *,
    fetched_at: datetime,
    http: Mapping[str, Any],
    channel_link: str | None = None,
) -> FeedItems:
    """Raw-item messages for a feed's entries, one per distinct item key.

    ``channel_link`` is the feed's own home page (RSS channel ``<link>``, feedparser's
    ``feed.link``): a guid equal to it names the site, not an entry. Entries whose guid does not
    identify them (``guids_not_identifying``) get ``"guid_is_identity": false`` in their entry
    object, so the pipeline skips the guid too, and are keyed by link instead. Good guids add
    nothing to the entry: its content hash, and so the seen set, stay what they were.

    Two entries with one item key are one article listed twice: the same guid (or, without one,
    the same link or title and date). If their content differs they are two versions of it, and
    the later one is kept: the one with the later updated (else published) date, else, when the
    dates are equal or missing, the one later in the document. Publishing both would only have
    the pipeline number them as versions in whichever order they arrive.
    """
    stamp = rfc3339(fetched_at)
    http_obj = {"etag": http.get("etag"), "last_modified": http.get("last_modified"),
                "status": http.get("status")}
    all_fields = [entry_fields(entry) for entry in entries]
    bad = guids_not_identifying(all_fields, feed_url=feed.url, channel_link=channel_link)
    for fields in all_fields:
        if fields["id"] and fields["id"].strip() in bad:
            fields["guid_is_identity"] = False
    # item key -> (fields, content hash) kept, in order of first appearance
    chosen: dict[str, tuple[dict[str, Any], str]] = {}
    digests: dict[str, set[str]] = {}  # item key -> the distinct contents listed under it
    for fields in all_fields:
        key = item_key(feed.id, fields)
        digest = content_hash(fields)
        digests.setdefault(key, set()).add(digest)
        kept = chosen.get(key)
        if kept is None:
            chosen[key] = (fields, digest)
            continue
        new_at, kept_at = _entry_time(fields), _entry_time(kept[0])
        if new_at is None or kept_at is None or new_at >= kept_at:
            chosen[key] = (fields, digest)
    versions = {k: len(d) for k, d in digests.items() if len(d) > 1}  # keys listed in several versions

    out: list[OutgoingItem] = []
    for key, (fields, digest) in chosen.items():
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
        out.append(OutgoingItem(
            item_key=key,
            content_hash=digest,
            data=orjson.dumps(payload),
            attributes={"feed_id": feed.id, "item_key": message_item_key(key, digest), "fetched_at": stamp,
                        "schema_version": str(SCHEMA_VERSION)},
            link=fields["link"],
        ))
    problems = [p for p in (_describe_guids(bad, all_fields), _describe_versions(versions, chosen)) if p]
    return FeedItems(out, ". ".join(problems)[:1000] if problems else None)


def _describe_versions(versions: Mapping[str, int],
                       chosen: Mapping[str, tuple[Mapping[str, Any], str]]) -> str | None:
    if not versions:
        return None
    named = []
    for key in list(versions)[:3]:
        f = chosen[key][0]
        what = (f"guid {f['id'].strip()}" if f.get("id") and f.get("guid_is_identity", True)
                else f"link {f['link'].strip()}" if f.get("link") else f"title {f.get('title')!r}")
        named.append(f"{versions[key]} versions of {what}")
    more = f", {len(versions) - 3} more" if len(versions) > 3 else ""
    return (f"entries listed more than once with different content: {', '.join(named)}{more}; "
            "kept the latest of each")


def build_items(
    feed: FeedConfig,
    entries: Iterable[Mapping[str, Any]],
    *,
    fetched_at: datetime,
    http: Mapping[str, Any],
    channel_link: str | None = None,
) -> list[OutgoingItem]:
    """The messages of ``build_feed_items``, without the report."""
    return build_feed_items(feed, entries, fetched_at=fetched_at, http=http, channel_link=channel_link).items


def with_page_html(item: OutgoingItem, page_html: str) -> OutgoingItem:
    """The same message with the article page's HTML in ``page_html``.

    The item key and content hash stay those of the feed entry: a page that changes while its entry
    does not (ads, comment counts) is not a correction and is not published again.
    """
    payload = orjson.loads(item.data)
    payload["page_html"] = page_html
    return replace(item, data=orjson.dumps(payload))
