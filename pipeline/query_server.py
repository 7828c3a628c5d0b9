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
        if st.type not in _READ_ONLY:
            raise QueryError(f"only read-only queries are allowed while the pipeline writes (got {st.type.name})")


class QueryServer:
    """Serves ``run_query(sql) -> (columns, rows)`` (``DuckDBWarehouse.read_query``) on loopback."""

    def __init__(self, run_query, warehouse: str | Path) -> None:
        self.run_query = run_query
        self.advert = advert_path(warehouse)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                sql = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                try:
                    cols, rows = server.run_query(sql)
                    body, status = orjson.dumps({"columns": cols, "rows": rows},
                                                default=str), 200
                except (QueryError, duckdb.Error) as exc:
                    body, status = orjson.dumps({"error": str(exc)}), 400
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

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


def query_running(warehouse: str | Path, sql: str, timeout: float = 60) -> tuple[list[str], list[tuple]] | None:
    """Ask a running ``newswire run`` for the answer; None when no live server owns the file."""
    advert = advert_path(warehouse)
    try:
        port = json.loads(advert.read_text())["port"]
    except (OSError, ValueError, KeyError):
        return None
    try:
        resp = httpx.post(f"http://127.0.0.1:{port}/", content=sql.encode(), timeout=timeout)
    except httpx.TransportError:
        return None  # stale advert left by a killed process
    data = resp.json()
    if resp.status_code != 200:
        raise QueryError(data.get("error", resp.text))
    return data["columns"], [tuple(r) for r in data["rows"]]
