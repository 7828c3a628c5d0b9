"""Errors that send an input to the dead-letter table, and the dead-letter row itself."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone

import orjson

from schemas import SCHEMA_VERSION


class ItemError(Exception):
    """An input that cannot be processed; it goes to dead_letter, never kills a bundle."""


class ParseError(ItemError):
    """The message is not a valid raw item (bad JSON, wrong shape, missing required field)."""


class BrokenEntryError(ParseError):
    """The poller could not send the entry as it is (``entry.broken`` says why)."""


class CleanError(ItemError):
    """The item parsed but yields no usable article (e.g. no title and no text)."""


def dead_letter_row(
    *,
    step: str,
    error: BaseException,
    payload: bytes | str,
    message_id: str | None,
    feed_id: str | None = None,
    attributes: dict | None = None,
    failed_at: datetime | None = None,
) -> dict:
    """A row for the dead_letter table that keeps everything needed to fix and replay the input."""
    raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(raw).decode("ascii"), "base64"
    digest = hashlib.sha256(f"{message_id}\x00{step}\x00".encode() + raw).hexdigest()
    return {
        "dead_letter_id": digest[:32],
        "message_id": message_id,
        "feed_id": feed_id,
        "step": step,
        "error_class": type(error).__name__,
        "error_message": str(error) or repr(error),
        "payload": text,
        "payload_encoding": encoding,
        "attributes": orjson.dumps(attributes or {}, option=orjson.OPT_SORT_KEYS).decode(),
        "failed_at": failed_at or datetime.now(timezone.utc),
        "schema_version": SCHEMA_VERSION,
    }
