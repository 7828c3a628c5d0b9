"""bytes → RawItem, validated against the raw-item contract (``schemas.RAW_ITEM``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import orjson

from schemas import RAW_ITEM, SCHEMA_VERSION, Field

from transforms.errors import ParseError
from transforms.model import Content, Entry, Image, RawItem

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "STRING": (str,), "INT64": (int,), "FLOAT64": (int, float), "BOOL": (bool,),
    "TIMESTAMP": (str,), "JSON": (object,), "RECORD": (dict,),
}


def _check(value: Any, f: Field, path: str) -> None:
    """Validate one value against its declared field; raise ParseError naming the path."""
    where = f"{path}{f.name}"
    if value is None:
        if f.mode == "REQUIRED":
            raise ParseError(f"missing required field {where!r}")
        return
    if f.mode == "REPEATED":
        if not isinstance(value, list):
            raise ParseError(f"field {where!r} must be a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            _check_scalar(item, f, f"{where}[{i}]")
        return
    _check_scalar(value, f, where)


def _check_scalar(value: Any, f: Field, where: str) -> None:
    expected = _PY_TYPES[f.type]
    if not isinstance(value, expected) or (f.type == "INT64" and isinstance(value, bool)):
        raise ParseError(f"field {where!r} must be {f.type}, got {type(value).__name__}")
    if f.type == "RECORD":
        for sub in f.fields:
            _check(value.get(sub.name), sub, where + ".")


def parse_timestamp(raw: str) -> datetime:
    """RFC 3339 → aware UTC datetime."""
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ParseError(f"fetched_at {raw!r} is not an RFC 3339 timestamp") from exc
    if dt.tzinfo is None:
        raise ParseError(f"fetched_at {raw!r} has no timezone offset")
    return dt.astimezone(timezone.utc)


def parse_raw_item(data: bytes, attributes: Mapping[str, str] | None = None, message_id: str = "") -> RawItem:
    """Decode and validate one raw-item message. Raises ParseError with the reason."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"payload is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ParseError(f"payload must be a JSON object, got {type(obj).__name__}")
    for f in RAW_ITEM.fields:
        _check(obj.get(f.name), f, "")
    if obj["schema_version"] > SCHEMA_VERSION:
        raise ParseError(
            f"schema_version {obj['schema_version']} is newer than this pipeline's {SCHEMA_VERSION}; "
            "upgrade the pipeline before the pollers"
        )
    e = obj["entry"]
    entry = Entry(
        id=e.get("id"),
        link=e.get("link"),
        title=e.get("title"),
        summary=e.get("summary"),
        content=tuple(Content(type=c.get("type") or "text/html", value=c.get("value") or "")
                      for c in e.get("content") or ()),
        published=e.get("published"),
        updated=e.get("updated"),
        author=e.get("author"),
        tags=tuple(e.get("tags") or ()),
        media=tuple(Image(url=m.get("url"), caption=m.get("caption"), credit=m.get("credit"))
                    for m in e.get("media") or ()),
        # Absent (every message before the field existed, and every good guid) means true.
        guid_is_identity=e.get("guid_is_identity") is not False,
    )
    return RawItem(
        schema_version=obj["schema_version"],
        feed_id=obj["feed_id"],
        feed_url=obj["feed_url"],
        agency_hint=(obj.get("agency_hint") or None),
        fetched_at=parse_timestamp(obj["fetched_at"]),
        entry=entry,
        page_html=obj.get("page_html"),
        http=obj.get("http") or {},
        message_id=message_id,
        attributes=dict(attributes or {}),
    )
