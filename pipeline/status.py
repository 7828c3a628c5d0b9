"""Feed health you can see: ``newswire status``.

Two sources, read without disturbing a job that runs:

- the pollers' state file (``WAREHOUSE.pollers.sqlite``, ``pollers.state``), opened read-only: per
  feed its last success, last error and its class, consecutive failures, next poll, guid problems;
- the running ``newswire run``, when there is one, through its query port (``GET /status``, see
  ``pipeline.query_server``): what it published this run, per feed, and what is still in flight.

The warehouse adds what arrived from each feed (``raw_items``) and how much of it failed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pollers.errors import FailureKind
from pollers.state import FeedHealth


def state_path_for(warehouse: str | Path) -> Path:
    """Where ``newswire run`` keeps the pollers' state for a warehouse."""
    return Path(f"{warehouse}.pollers.sqlite")


_COLUMNS = ("feed_id", "url", "consecutive_failures", "last_attempt", "last_success", "next_poll_at",
            "last_status", "last_error_kind", "last_error", "bozo_reason", "guid_problem")


def read_feed_health(state_path: str | Path) -> list[FeedHealth]:
    """Every feed's health from a pollers' state file, opened read-only (a live run keeps writing)."""
    path = Path(state_path)
    if not path.exists():
        raise FileNotFoundError(f"no pollers' state at {path}: 'newswire run' writes it beside the warehouse "
                                "(or give --state)")
    try:
        db = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise FileNotFoundError(f"cannot open the pollers' state {path}: {exc}") from exc
    try:
        have = {r[1] for r in db.execute("PRAGMA table_info(feeds)")}
        if not have:
            raise FileNotFoundError(f"{path} is not a pollers' state file (it has no feeds table)")
        # A file of an older poller lacks the later columns: read them as NULL.
        cols = ", ".join(c if c in have else f"NULL AS {c}" for c in _COLUMNS)
        rows = db.execute(f"SELECT {cols} FROM feeds ORDER BY feed_id").fetchall()
    except sqlite3.DatabaseError as exc:
        raise FileNotFoundError(f"{path} is not a pollers' state file ({exc})") from exc
    finally:
        db.close()
    return [FeedHealth(feed_id=r[0], url=r[1], healthy=r[2] == 0, consecutive_failures=r[2], last_attempt=r[3],
                       last_success=r[4], next_poll_at=r[5], last_status=r[6], last_error_kind=r[7],
                       last_error=r[8], bozo_reason=r[9], guid_problem=r[10]) for r in rows]


def error_class(kind: str | None) -> str | None:
    """'transient' or 'permanent' for a failure slug (``pollers.errors.FailureKind``)."""
    if not kind:
        return None
    for member in FailureKind:
        if member.slug == kind:
            return "transient" if member.transient else "permanent"
    return None


def _iso(ts: float | None) -> str | None:
    if not ts:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- what a running job knows ---------------------------------------------------------------------


@dataclass
class FeedRunCounts:
    polls: int = 0
    published: int = 0
    failed_polls: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


class RunState:
    """What this run did, per feed: fed by the pollers' ``on_result`` callback, read by the query
    port's ``/status`` and by the metrics. Thread-safe."""

    def __init__(self) -> None:
        self.started = time.time()
        self._lock = threading.Lock()
        self._feeds: dict[str, FeedRunCounts] = {}
        self._listeners: list = []

    def add_listener(self, fn) -> None:
        """fn(FeedResult) after every poll (metrics)."""
        self._listeners.append(fn)

    def on_result(self, result) -> None:
        with self._lock:
            counts = self._feeds.setdefault(result.feed_id, FeedRunCounts())
            counts.polls += 1
            counts.published += result.published
            counts.failed_polls += not result.ok
            status = str(result.status) if result.status else "none"
            counts.statuses[status] = counts.statuses.get(status, 0) + 1
        for fn in self._listeners:
            fn(result)

    def feeds(self) -> dict[str, FeedRunCounts]:
        with self._lock:
            return {k: FeedRunCounts(v.polls, v.published, v.failed_polls, dict(v.statuses))
                    for k, v in self._feeds.items()}

    def snapshot(self, pending: int | None = None, health: list[FeedHealth] | None = None) -> dict:
        return {
            "pid": os.getpid(),
            "started_at": _iso(self.started),
            "uptime_s": round(time.time() - self.started, 1),
            "pending": pending,
            "feeds": {k: v.__dict__ for k, v in self.feeds().items()},
            "health": [feed_health_dict(h) for h in health or ()],
        }


# -- the status report ----------------------------------------------------------------------------


def feed_health_dict(h: FeedHealth) -> dict:
    return {
        "feed_id": h.feed_id, "url": h.url, "healthy": h.healthy,
        "consecutive_failures": h.consecutive_failures,
        "last_attempt": _iso(h.last_attempt), "last_success": _iso(h.last_success),
        "next_poll": _iso(h.next_poll_at), "last_status": h.last_status,
        "last_error_kind": h.last_error_kind, "last_error_class": error_class(h.last_error_kind),
        "last_error": h.last_error, "bozo_reason": h.bozo_reason, "guid_problem": h.guid_problem,
    }


_WAREHOUSE_SQL = (
    "SELECT feed_id, count(*) AS items, max(received_at) AS last_item FROM raw_items GROUP BY feed_id")
_DEAD_SQL = "SELECT feed_id, count(*) AS dead_letters FROM dead_letter GROUP BY feed_id"


def _warehouse_counts(warehouse: str) -> dict[str, dict]:
    from .query_server import query_running  # noqa: PLC0415
    from .sinks.duckdb import query_file  # noqa: PLC0415

    if not Path(warehouse).exists():
        return {}
    out: dict[str, dict] = {}
    for sql in (_WAREHOUSE_SQL, _DEAD_SQL):
        answer = query_running(warehouse, sql)
        cols, rows = answer if answer is not None else query_file(warehouse, sql)
        for r in rows:
            rec = dict(zip(cols, r, strict=True))
            out.setdefault(rec.pop("feed_id") or "", {}).update(
                {k: (str(v) if isinstance(v, datetime) else v) for k, v in rec.items()})
    return out


def running_status(warehouse: str) -> dict | None:
    from .query_server import status_running  # noqa: PLC0415

    return status_running(warehouse)


def collect(warehouse: str, state_path: str | None = None) -> dict:
    """The whole report: job (or None), and one record per feed."""
    state = Path(state_path) if state_path else state_path_for(warehouse)
    job = running_status(warehouse)
    health = read_feed_health(state)
    counts = _warehouse_counts(warehouse)
    run_feeds = (job or {}).get("feeds", {})
    feeds = []
    for h in health:
        rec = feed_health_dict(h)
        wh = counts.get(h.feed_id, {})
        rec["items_in_warehouse"] = wh.get("items", 0)
        rec["dead_letters"] = wh.get("dead_letters", 0)
        rec["last_item_received"] = wh.get("last_item")
        if job is not None:
            rec["published_this_run"] = run_feeds.get(h.feed_id, {}).get("published", 0)
        feeds.append(rec)
    if job is not None:
        job = {k: v for k, v in job.items() if k not in ("feeds", "health")}
    return {"warehouse": str(warehouse), "state": str(state), "job": job, "feeds": feeds}


def _ago(iso: str | None, now: float) -> str:
    if not iso:
        return "never"
    then = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    delta = now - then
    if delta < 0:
        return f"in {_span(-delta)}"
    return f"{_span(delta)} ago"


def _next(iso: str | None, now: float, *, running: bool) -> str:
    """When the next poll is due; one whose time passed while nothing ran is due at the next start."""
    text = _ago(iso, now)
    if text.endswith(" ago") or text == "never":
        return "due" if running else "at the next run"
    return text


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def render(report: dict, now: float | None = None):
    """A Rich renderable of the report (tables; no markup is interpreted in any value)."""
    from rich.console import Group  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    now = time.time() if now is None else now
    job = report["job"]
    head = (Text(f"running: pid {job['pid']}, up {_span(job['uptime_s'])}, "
                 f"{'…' if job.get('pending') is None else job['pending']} item(s) in flight")
            if job else Text("no newswire run is running on this warehouse"))
    t = Table(title=f"feeds in {report['state']}")
    cols = ["feed", "health", "last success", "next poll", "items", *(["this run"] if job else []),
            "dead letters", "last error / guids"]
    for c in cols:
        t.add_column(c, no_wrap=c != "last error / guids", overflow="fold")
    for f in report["feeds"]:
        if f["healthy"]:
            health = Text("ok", style="green")
        else:
            health = Text(f"failing ×{f['consecutive_failures']}", style="red")
        note = f["last_error"] or ""
        if note and f["last_error_class"]:
            note = f"{note} ({f['last_error_class']})"
        if f["guid_problem"]:
            note = (note + "; " if note else "") + f"guids: {f['guid_problem']}"
        t.add_row(Text(f["feed_id"]), health, Text(_ago(f["last_success"], now)),
                  Text(_next(f["next_poll"], now, running=job is not None)), Text(str(f["items_in_warehouse"])),
                  *([Text(str(f.get("published_this_run", 0)))] if job else []),
                  Text(str(f["dead_letters"])), Text(note[:200]))
    return Group(head, t)
