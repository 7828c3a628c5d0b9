"""Logging for services: plain lines or JSON lines (``--log-format json``), and progress lines.

When stdout is not a terminal (a service manager, a container, a pipe) a live table is useless;
``newswire run`` then logs its progress every N seconds instead, on the ``newswire.progress``
logger, one record with the figures as fields (in JSON lines, each is a key of the object).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

import orjson

PROGRESS = logging.getLogger("newswire.progress")
PROGRESS.setLevel(logging.INFO)  # progress is shown whatever the level of the other logs


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (RFC 3339 UTC), level, logger, message, and the record's
    ``fields`` (``logger.info(..., extra={"fields": {...}})``)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure(*, verbose: bool = False, fmt: str = "text") -> None:
    """Root logging to stderr, as text or JSON lines."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def log_progress(what: str, fields: dict) -> None:
    text = ", ".join(f"{k.replace('_', ' ')} {'…' if v is None else v}" for k, v in fields.items())
    PROGRESS.info("%s: %s", what, text, extra={"fields": {"event": what, **fields}})


class ProgressLog:
    """Logs ``fields()`` every ``every`` seconds in a thread, until stopped."""

    def __init__(self, what: str, fields, every: float) -> None:
        self.what, self.fields, self.every = what, fields, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="newswire-progress", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                log_progress(self.what, self.fields())
            except Exception:  # noqa: BLE001 - a progress line must never stop the job
                logging.getLogger(__name__).debug("progress line failed", exc_info=True)

    def __enter__(self) -> "ProgressLog":
        if self.every and self.every > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
