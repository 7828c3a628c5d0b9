"""Query results in the formats people take them away in: a table on the terminal, CSV, JSON,
JSON lines, Parquet.

Every answer travels as a ``pyarrow.Table``, with its column types, whether it comes from the file
or from a running job's query port (Arrow IPC), so Parquet keeps timestamps as timestamps and lists
as lists, and the same query gives the same file either way.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import IO

import orjson

FORMATS = ("table", "csv", "json", "ndjson", "parquet")
BINARY = {"parquet"}


def fetch(warehouse: str, sql: str):
    """The answer as a ``pyarrow.Table``: from the running job's port when one writes the file,
    else from the file opened read-only."""
    from .query_server import query_running_arrow  # noqa: PLC0415
    from .sinks.duckdb import query_file_arrow  # noqa: PLC0415

    table = query_running_arrow(warehouse, sql)
    return table if table is not None else query_file_arrow(warehouse, sql)


def _default(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return str(value)


def _json_ready(value):
    """Timestamps as RFC 3339 in UTC with 'Z'; everything else as orjson writes it."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
            return value.replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def records(table) -> Iterator[dict]:
    for batch in table.to_batches(max_chunksize=2048):
        for row in batch.to_pylist():
            yield {k: _json_ready(v) for k, v in row.items()}


def _dumps(obj) -> bytes:
    return orjson.dumps(obj, default=_default)


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return _dumps(value).decode()  # nested values as JSON text: CSV has no lists
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_ndjson(rows: Iterable[dict], out: IO[bytes]) -> int:
    n = 0
    for row in rows:
        out.write(_dumps(row) + b"\n")
        n += 1
    return n


def write(table, fmt: str, out: IO[bytes]) -> int:
    """Write ``table`` to a binary stream in ``fmt`` (not 'table'); return the rows written."""
    if fmt == "ndjson":
        return write_ndjson(records(table), out)
    if fmt == "json":
        rows = list(records(table))
        out.write(orjson.dumps(rows, default=_default, option=orjson.OPT_INDENT_2) + b"\n")
        return len(rows)
    if fmt == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text)
        writer.writerow(table.column_names)
        n = 0
        for row in records(table):
            writer.writerow([_csv_cell(v) for v in row.values()])
            n += 1
        text.flush()
        text.detach()
        return n
    if fmt == "parquet":
        import pyarrow.parquet as pq  # noqa: PLC0415

        pq.write_table(table, out)
        return table.num_rows
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def write_to(table, fmt: str, output: str | None) -> int:
    """Write to the file ``output`` (replaced whole, only once complete), or to stdout."""
    if output in (None, "-"):
        if fmt in BINARY and sys.stdout.isatty():
            from .cliparse import UsageError  # noqa: PLC0415

            raise UsageError(f"--format {fmt} is binary: give --output FILE")
        n = write(table, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return n
    path = Path(output)
    if path.is_dir():
        raise IsADirectoryError(f"--output {output} is a directory: give a file name")
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with tmp.open("wb") as fh:
            n = write(table, fmt, fh)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return n
