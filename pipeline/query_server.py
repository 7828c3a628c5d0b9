"""Read queries against a warehouse that a running ``newswire run`` is writing.

DuckDB lets one process open a database file for writing and no other process open it at all while
it does. ``newswire run`` therefore answers read-only SQL itself, on a loopback HTTP port that it
advertises in ``<warehouse>.query.json``; ``newswire query`` uses that port when the file names a
live server and opens the file directly otherwise. Each query runs on its own DuckDB connection to
the writer's database, so it sees only committed batches, never half of one.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import httpx
import orjson

_READ_ONLY = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN, duckdb.StatementType.PRAGMA}


class QueryError(Exception):
    pass


def advert_path(warehouse: str | Path) -> Path:
    return Path(f"{warehouse}.query.json")


def check_read_only(sql: str) -> None:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from exc
    for st in statements:
        if st.type == duckdb.StatementType.COPY:
            raise QueryError("COPY is not run while the pipeline writes: use newswire query --format "
                             "csv|json|ndjson|parquet --output FILE \"SELECT ...\" (or newswire export)")
        if st.type not in _READ_ONLY:
            raise QueryError(f"only read-only queries are allowed while the pipeline writes (got {st.type.name})")


class QueryServer:
    """Serves ``run_query(sql) -> (columns, rows)`` (``DuckDBWarehouse.read_query``) on loopback.

    ``POST /`` answers the SQL in its body as JSON; ``POST /?format=arrow`` as an Arrow IPC stream,
    with every column's type (``run_arrow(sql) -> pyarrow.Table``, by default the warehouse's
    ``read_arrow``). ``GET /status`` answers ``status()``, set by the job that owns the port (JSON;
    404 when nothing set it).
    """

    def __init__(self, run_query, warehouse: str | Path, run_arrow=None) -> None:
        self.run_query = run_query
        self.run_arrow = run_arrow or _shared_arrow(warehouse)
        self.status = None  # () -> dict, set by the job
        self.advert = advert_path(warehouse)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if self.path != "/status" or server.status is None:
                    self._send(404, orjson.dumps({"error": "not found"}))
                    return
                self._send(200, orjson.dumps(server.status(), default=str))

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                sql = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                arrow = self.path.endswith("format=arrow")
                try:
                    if arrow:
                        body, status, kind = _arrow_bytes(server.run_arrow(sql)), 200, ARROW_STREAM
                    else:
                        cols, rows = server.run_query(sql)
                        body, status, kind = orjson.dumps({"columns": cols, "rows": rows},
                                                          default=str), 200, "application/json"
                except (QueryError, duckdb.Error) as exc:
                    body, status, kind = orjson.dumps({"error": str(exc)}), 400, "application/json"
                self._send(status, body, kind)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="newswire-query", daemon=True)

    def start(self) -> "QueryServer":
        self._thread.start()
        self.advert.write_text(json.dumps({"port": self.port, "pid": os.getpid()}))
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.advert.unlink(missing_ok=True)


ARROW_STREAM = "application/vnd.apache.arrow.stream"


def _shared_arrow(warehouse: str | Path):
    def run_arrow(sql: str):
        from .sinks.duckdb import DuckDBWarehouse  # noqa: PLC0415 - the writer's own instance

        return DuckDBWarehouse.shared(warehouse).read_arrow(sql)
    return run_arrow


def _arrow_bytes(table) -> bytes:
    import pyarrow as pa  # noqa: PLC0415

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _port(warehouse: str | Path) -> int | None:
    try:
        return int(json.loads(advert_path(warehouse).read_text())["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def query_running(warehouse: str | Path, sql: str, timeout: float = 60) -> tuple[list[str], list[tuple]] | None:
    """Ask a running ``newswire run`` for the answer; None when no live server owns the file."""
    port = _port(warehouse)
    if port is None:
        return None
    try:
        resp = httpx.post(f"http://127.0.0.1:{port}/", content=sql.encode(), timeout=timeout)
    except httpx.TransportError:
        return None  # stale advert left by a killed process
    data = resp.json()
    if resp.status_code != 200:
        raise QueryError(data.get("error", resp.text))
    return data["columns"], [tuple(r) for r in data["rows"]]


def query_running_arrow(warehouse: str | Path, sql: str, timeout: float = 300):
    """The answer as a ``pyarrow.Table`` from a running ``newswire run``; None when none runs."""
    import pyarrow as pa  # noqa: PLC0415

    port = _port(warehouse)
    if port is None:
        return None
    try:
        resp = httpx.post(f"http://127.0.0.1:{port}/?format=arrow", content=sql.encode(), timeout=timeout)
    except httpx.TransportError:
        return None
    if resp.status_code != 200:
        try:
            raise QueryError(resp.json().get("error", resp.text))
        except ValueError:
            raise QueryError(resp.text) from None
    return pa.ipc.open_stream(resp.content).read_all()


def status_running(warehouse: str | Path, timeout: float = 10) -> dict | None:
    """What the ``newswire run`` writing this warehouse says about itself; None when none runs."""
    port = _port(warehouse)
    if port is None:
        return None
    try:
        resp = httpx.get(f"http://127.0.0.1:{port}/status", timeout=timeout)
    except httpx.TransportError:
        return None
    return resp.json() if resp.status_code == 200 else None
