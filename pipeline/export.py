"""``newswire export``: articles as IPTC ninjs 2.2 documents, or any table as JSON lines or Parquet.

ninjs (News in JSON, https://iptc.org/standards/ninjs/) is the IPTC's JSON format for news items.
Each article's latest version (``articles_latest``) becomes one ninjs document; every document is
validated against the IPTC's published JSON Schema (``pipeline/data/ninjs-schema_2.2.json``) before
it is written, so what leaves newswire is valid ninjs or nothing.

The mapping, column by column:

| articles | ninjs |
| --- | --- |
| article_id | ``uri`` ``urn:newswire:article:<article_id>``, and ``altids`` role ``newswire`` |
| version | ``version`` (as text) |
| published_at / updated_at / processed_at | ``firstcreated`` and ``contentcreated`` / ``versioncreated`` (the update time, else the publication time) |
| withdrawn | ``pubstatus`` ``canceled`` (else ``usable``) |
| title, standfirst, body | ``headlines`` role ``main``; ``descriptions`` role ``summary``; ``bodies`` role ``main``, text/plain, with ``wordcount`` and ``charcount`` |
| byline, dateline_place, language | ``by``, ``located``, ``language`` |
| agency, outlet, feed_id | ``infosources``: the agency with role ``originator``; the outlet with role ``publisher`` (its ``uri`` the outlet's site, the feed id as its ``literal``), or the feed when the row has no outlet |
| tags | ``subjects`` (``name``) |
| url, guid, cluster_id | ``renditions`` ``web`` (text/html, the canonical URL); ``altids`` roles ``guid`` and ``story`` |
| images | ``associations`` of type ``picture``: caption as a description, credit as ``by``, the URL as a rendition |
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

NINJS_SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "ninjs-schema_2.2.json"
NINJS_VERSION = "2.2"
NINJS_SCHEMA_URI = "http://www.iptc.org/std/ninjs/ninjs-schema_2.2.json"


class ExportError(ValueError):
    """A document did not validate, or the export was asked for something it cannot do."""


def _when(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _is_url(value) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def article_uri(article_id: str) -> str:
    return f"urn:newswire:article:{article_id}"


def ninjs_document(row: dict) -> dict:
    """One article row (the articles table's columns) as a ninjs 2.2 news item."""
    doc: dict = {
        "uri": article_uri(row["article_id"]),
        "standard": {"name": "ninjs", "version": NINJS_VERSION, "schema": NINJS_SCHEMA_URI},
        "type": "text",
        "representationtype": "full",
        "version": str(row["version"]),
        "firstcreated": _when(row["published_at"]),
        "contentcreated": _when(row["published_at"]),
        "versioncreated": _when(row.get("updated_at") or row["published_at"]),
        "pubstatus": "canceled" if row.get("withdrawn") else "usable",
        "headlines": [{"role": "main", "value": row["title"]}],
        "bodies": [{"role": "main", "contenttype": "text/plain", "value": row["body"],
                    "wordcount": row.get("word_count") or 0, "charcount": len(row["body"])}],
    }
    if row.get("standfirst"):
        doc["descriptions"] = [{"role": "summary", "contenttype": "text/plain", "value": row["standfirst"]}]
    for column, key in (("byline", "by"), ("dateline_place", "located"), ("language", "language")):
        if row.get(column):
            doc[key] = row[column]
    sources = []
    if row.get("agency"):
        sources.append({"name": row["agency"], "role": "originator"})
    if row.get("outlet"):
        # The site that published the copy: what a ninjs reader means by its publisher. The feed
        # it came through stays as the identifier newswire knows it by.
        publisher = {"name": row["outlet"], "role": "publisher"}
        if _is_url(site := f"https://{row['outlet']}/"):
            publisher["uri"] = site
        if row.get("feed_id"):
            publisher["literal"] = row["feed_id"]
        sources.append(publisher)
    elif row.get("feed_id"):
        sources.append({"name": row["feed_id"], "role": "publisher"})
    if sources:
        doc["infosources"] = sources
    if row.get("tags"):
        doc["subjects"] = [{"name": t} for t in row["tags"] if t]
    altids = [{"role": "newswire", "value": row["article_id"]}]
    if row.get("guid"):
        altids.append({"role": "guid", "value": row["guid"]})
    if row.get("cluster_id"):
        altids.append({"role": "story", "value": row["cluster_id"]})
    doc["altids"] = altids
    if _is_url(row.get("url")):
        doc["renditions"] = [{"name": "web", "href": row["url"], "contenttype": "text/html"}]
    pictures = []
    for n, image in enumerate(row.get("images") or (), start=1):
        if not _is_url(image.get("url")):
            continue  # a caption without an image names nothing to associate
        picture = {"name": f"image{n}", "uri": image["url"], "type": "picture",
                   "renditions": [{"name": "original", "href": image["url"]}]}
        if image.get("caption"):
            picture["descriptions"] = [{"role": "caption", "value": image["caption"]}]
        if image.get("credit"):
            picture["by"] = image["credit"]
        pictures.append(picture)
    if pictures:
        doc["associations"] = pictures
    return doc


@lru_cache(maxsize=1)
def ninjs_validator():
    from jsonschema import Draft202012Validator  # noqa: PLC0415

    schema = json.loads(NINJS_SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def validate_ninjs(doc: dict) -> None:
    """Raise ExportError naming the first way ``doc`` is not valid ninjs 2.2."""
    error = next(iter(ninjs_validator().iter_errors(doc)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(document)"
        raise ExportError(f"article {doc.get('uri')}: not valid ninjs at {where}: {error.message}")


def ninjs_documents(rows: Iterable[dict]) -> Iterator[dict]:
    for row in rows:
        doc = ninjs_document(row)
        validate_ninjs(doc)
        yield doc


def articles_sql(where: str | None = None, *, all_versions: bool = False, limit: int | None = None) -> str:
    source = "articles" if all_versions else "articles_latest"
    sql = f"SELECT * FROM {source}"
    if where:
        sql += f" WHERE {where}"
    sql += " ORDER BY published_at, article_id, version"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql


def table_sql(table: str, where: str | None = None, limit: int | None = None) -> str:
    from schemas import WAREHOUSE_TABLES  # noqa: PLC0415
    from schemas.views import DERIVED_VIEWS, unique_view_name  # noqa: PLC0415

    names = {t.name for t in WAREHOUSE_TABLES} | {v.name for v in DERIVED_VIEWS} | {
        unique_view_name(t) for t in WAREHOUSE_TABLES}
    if table not in names:
        from .cliparse import suggest  # noqa: PLC0415

        close = suggest(table, sorted(names))
        raise ExportError(f"no table or view {table!r}" + (f"; did you mean {close!r}?" if close else "")
                          + f" (tables and views: {', '.join(sorted(names))})")
    sql = f'SELECT * FROM "{table}"'
    if where:
        sql += f" WHERE {where}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql
