"""Builders for raw-item messages used across tests (fictional text only)."""

from __future__ import annotations

import orjson

from transforms.model import Message


def raw_item(
    *,
    feed_id: str = "testwire-world",
    title: str = "Harbour council approves new ferry timetable",
    paragraphs: tuple[str, ...] = (
        "The Port Alden harbour council on Tuesday approved a ferry timetable that adds two evening crossings.",
        "Councillors said the change answers years of complaints from commuters on the outer islands.",
    ),
    guid: str | None = "tw-0001",
    link: str | None = "https://news.example.org/world/ferry-timetable?utm_source=rss",
    fetched_at: str = "2026-03-02T10:00:00Z",
    published: str | None = "Mon, 02 Mar 2026 09:30:00 GMT",
    summary: str | None = None,
    agency_hint: str | None = None,
    **entry_extra,
) -> dict:
    return {
        "schema_version": 1,
        "feed_id": feed_id,
        "feed_url": "https://news.example.org/world/rss.xml",
        "agency_hint": agency_hint,
        "fetched_at": fetched_at,
        "http": {"etag": None, "last_modified": None, "status": 200},
        "entry": {
            "id": guid,
            "link": link,
            "title": title,
            "summary": summary,
            "content": [{"type": "text/html", "value": "".join(f"<p>{p}</p>" for p in paragraphs)}],
            "published": published,
            "updated": None,
            "author": None,
            "tags": [],
            "media": [],
            **entry_extra,
        },
        "page_html": None,
    }


def to_bytes(item: dict) -> bytes:
    return orjson.dumps(item)


def message(item: dict | bytes, message_id: str = "m-1", **attributes) -> Message:
    data = item if isinstance(item, bytes) else to_bytes(item)
    return Message(message_id=message_id, data=data, attributes=attributes)


def write_jsonl(path, items) -> None:
    """Write items (dicts, or raw str/bytes lines for malformed input) one per line."""
    with open(path, "wb") as fh:
        for it in items:
            line = it if isinstance(it, bytes) else it.encode() if isinstance(it, str) else to_bytes(it)
            fh.write(line + b"\n")
