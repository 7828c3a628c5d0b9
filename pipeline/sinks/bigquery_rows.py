"""Pure functions behind the BigQuery sink: row conversion, insert ids, rejected rows.

Rows reach the sink as plain dicts keyed by schema field names (TIMESTAMP values are aware UTC
datetimes, JSON fields are JSON strings, REPEATED are lists, RECORD are dicts). The streaming-insert
API takes JSON, so every value is turned into what BigQuery's JSON row format expects.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

import orjson

from schemas import Field, Table
from transforms.errors import dead_letter_row

# BigQuery accepts insertIds up to 128 characters; 40 hex digits of SHA-256 make collisions between
# distinct keys negligible and keep the request small.
_INSERT_ID_HEX = 40

# Rows of these tables are successive snapshots of one key (a story grows as outlets carry it, a
# learned line's counts grow), so the insert id must also name the snapshot, or BigQuery's
# de-duplication would drop a real update.
_SNAPSHOT_FIELDS: dict[str, tuple[str, ...]] = {"stories": ("updated_at",), "learned_boilerplate": ("updated_at",)}


class BigQueryRowRejected(Exception):
    """BigQuery refused a row (error class recorded in dead_letter.error_class)."""


def rfc3339(value: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC with microseconds, e.g. 2023-11-05T14:02:11.000000Z."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: TIMESTAMP values must be timezone-aware")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _scalar(f: Field, value: Any) -> Any:
    if value is None:
        return None
    if f.type == "TIMESTAMP":
        if isinstance(value, datetime):
            return rfc3339(value)
        if hasattr(value, "to_utc_datetime"):  # apache_beam.utils.timestamp.Timestamp
            return rfc3339(value.to_utc_datetime(has_tz=True))
        return value  # already text: BigQuery validates it
    if f.type == "JSON" and not isinstance(value, str):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if f.type == "RECORD":
        return _record(f.fields, value)
    return value


def _value(f: Field, value: Any) -> Any:
    if f.mode == "REPEATED":
        # BigQuery has no NULL arrays: an absent list is an empty one.
        return [_scalar(f, v) for v in (value or ())]
    return _scalar(f, value)


def _record(fields: tuple[Field, ...], row: dict) -> dict:
    known = {f.name: f for f in fields}
    out = {}
    for name, value in row.items():
        f = known.get(name)
        # An unknown column is passed through so BigQuery rejects it into dead_letter, visibly.
        out[name] = _value(f, value) if f else value
    return out


def to_bigquery_row(table: Table, row: dict) -> dict:
    """A warehouse row as the JSON object tabledata.insertAll takes."""
    return _record(table.fields, row)


def insert_id_fields(table: Table) -> tuple[str, ...]:
    if not table.primary_key:
        raise ValueError(f"table {table.name!r} has no primary key to derive insert ids from")
    return table.primary_key + _SNAPSHOT_FIELDS.get(table.name, ())


def insert_id(table: Table, row: dict) -> str:
    """Deterministic insertId: the same logical row always gets the same id.

    A retried insert, a replayed Pub/Sub message or a re-run within BigQuery's de-duplication window
    therefore does not add a second copy. Values are taken from the converted (JSON) row so datetimes
    hash by their RFC 3339 text.
    """
    h = hashlib.sha256(table.name.encode())
    for name in insert_id_fields(table):
        h.update(b"\x1f")
        h.update(orjson.dumps(row.get(name), option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()[:_INSERT_ID_HEX]


def describe_insert_errors(errors: Any) -> str:
    """BigQuery's per-row errors (or Beam's too-large message) as one readable line."""
    if isinstance(errors, str):
        return errors
    parts = []
    for err in errors or ():
        if not isinstance(err, dict):
            parts.append(str(err))
            continue
        reason = err.get("reason") or "error"
        location = f" at {err['location']}" if err.get("location") else ""
        parts.append(f"{reason}{location}: {err.get('message', '')}".strip())
    return "; ".join(parts) or "BigQuery rejected the row without an error message"


def rejected_row_to_dead_letter(table_name: str, row: dict, errors: Any) -> dict:
    """A dead_letter row for a row BigQuery refused: the row itself is the payload, to fix and replay."""
    payload = orjson.dumps(row, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return dead_letter_row(
        step=f"write_{table_name}",
        error=BigQueryRowRejected(describe_insert_errors(errors)),
        payload=payload,
        message_id=row.get("message_id") if isinstance(row.get("message_id"), str) else None,
        feed_id=row.get("feed_id") if isinstance(row.get("feed_id"), str) else None,
        attributes={"table": table_name},
    )
