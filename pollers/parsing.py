"""Fetched bytes → feed entries (feedparser), with the failure rules of the poller.

A bozo feed (not well-formed, wrong charset, …) that still yields entries is used, and its bozo
reason recorded; so is a recognisable feed with no entries at all (a quiet channel). A body that
is not recognisably a feed is an error for that feed only.

Damage stays local to the entry:

- a character reference to no character (``&#xD800;``, a lone surrogate, or beyond U+10FFFF) makes
  feedparser raise for the whole document; such references are replaced by U+FFFD first, as HTML
  parsers do, and the repair is noted in the bozo reason;
- if feedparser still fails on the document, each entry is parsed on its own (with the channel
  around it), and the entries it fails on come back in ``ParsedFeed.broken`` with the error and the
  start of their markup, to be recorded; the others go on.

Parsing is pure Python and can be made to take quadratic time (deeply nested markup: 600 kB took
35 s and 150 MiB), so the poller parses in separate processes (``ParserPool``) with a time budget and
an address-space limit: a parse over either is killed, and only that feed fails (PARSE_LIMIT).
"""

from __future__ import annotations

import io
import logging
import multiprocessing.connection
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import feedparser

from .errors import FailureKind, PollError
from .xmlguard import check_entities

log = logging.getLogger(__name__)

# What the poller reads of an entry (pollers.items.entry_fields); the rest is not sent between
# processes.
ENTRY_KEYS = ("id", "link", "title", "summary", "content", "published", "updated", "author", "tags",
              "media_credit", "media_content", "media_thumbnail", "links")


@dataclass(frozen=True)
class BrokenEntry:
    """An entry the parser failed on: where it was, why, and the start of its markup."""

    index: int
    error: str
    raw: str


@dataclass(frozen=True)
class ParsedFeed:
    entries: list[Any]  # one mapping per entry, with the keys of ENTRY_KEYS that it has
    version: str  # 'rss20', 'atom10', 'rss10', … or '' when unknown
    bozo_reason: str | None  # why feedparser flagged the document (or what was repaired), when it did
    link: str | None = None  # the feed's own home page (RSS channel <link>, Atom alternate link)
    broken: list[BrokenEntry] = field(default_factory=list)  # entries the parser failed on


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "malformed document"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


# feedparser's loose parser reads exactly these as character references (feedparser_sgmllib.charref).
_CHARREF = re.compile(rb"&#([0-9]+|[xX][0-9a-fA-F]+);")


def _no_character(m: re.Match[bytes]) -> bool:
    ref = m.group(1)
    if len(ref) > 12:
        return True
    code = int(ref[1:], 16) if ref[:1] in (b"x", b"X") else int(ref)
    return code > 0x10FFFF or 0xD800 <= code <= 0xDFFF


def repair_character_references(body: bytes) -> tuple[bytes, str | None]:
    """``body`` with references to no character replaced by ``&#xFFFD;``, and a note of what was
    replaced (None when nothing was). Bytes in ASCII-compatible encodings; others are left alone."""
    if b"&#" not in body:
        return body, None
    bad: list[bytes] = []

    def fix(m: re.Match[bytes]) -> bytes:
        if not _no_character(m):
            return m.group(0)
        bad.append(m.group(0))
        return b"&#xFFFD;"

    fixed = _CHARREF.sub(fix, body)
    if not bad:
        return body, None
    shown = ", ".join(sorted({b.decode("ascii") for b in bad})[:3])
    return fixed, f"{len(bad)} character reference(s) to no character ({shown}) replaced by U+FFFD"


def _plain(value: Any) -> Any:
    """feedparser's values as plain dicts and lists: what pickles between processes unchanged
    (FeedParserDict re-maps some keys when rebuilt)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in dict.items(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(dict.__getitem__(entry, k)) for k in ENTRY_KEYS if k in entry.keys()}


def _feedparser(body: bytes, headers: Mapping[str, str]) -> Any:
    # Bytes handed to feedparser directly are first tried as a file name: a server answering
    # "/etc/passwd" would have us parse and publish a local file. A stream is only ever read.
    return feedparser.parse(io.BytesIO(body), response_headers=dict(headers))


_ITEM = re.compile(rb"<(item|entry)(?=[\s>/])[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)


def _one_by_one(body: bytes, headers: Mapping[str, str], first_error: BaseException) -> tuple[Any, list, list]:
    """feedparser failed on the whole document: parse the channel, then each entry with the channel
    around it. Returns (the channel's result, entries, broken entries)."""
    items = list(_ITEM.finditer(body))
    if not items:
        raise PollError(FailureKind.UNPARSABLE, f"the feed parser fails on this document ({_describe(first_error)})")
    prefix, suffix = body[: items[0].start()], body[items[-1].end():]
    try:
        channel = _feedparser(prefix + suffix, headers)
    except Exception as exc:  # noqa: BLE001 - the channel itself is what fails
        raise PollError(FailureKind.UNPARSABLE, f"the feed parser fails on this document ({_describe(exc)})") from exc
    entries: list[dict[str, Any]] = []
    broken: list[BrokenEntry] = []
    for index, m in enumerate(items):
        try:
            parsed = _feedparser(prefix + m.group(0) + suffix, headers)
            entries.extend(_entry(e) for e in parsed.get("entries") or [])
        except Exception as exc:  # noqa: BLE001 - this entry is the damage; the others go on
            broken.append(BrokenEntry(index, _describe(exc), m.group(0)[:4096].decode("utf-8", errors="replace")))
    return channel, entries, broken


def parse_feed(body: bytes, headers: Mapping[str, str]) -> ParsedFeed:
    """Parse a fetched feed body. Raises PollError(ENTITY_DECLARATION | NOT_A_FEED | UNPARSABLE)."""
    check_entities(body, headers)
    body, repaired = repair_character_references(body)
    broken: list[BrokenEntry] = []
    try:
        result = _feedparser(body, headers)
        entries = [_entry(e) for e in result.get("entries") or []]
    except Exception as exc:  # noqa: BLE001 - a feedparser bug on this document
        log.info("feedparser failed on a whole document (%s); parsing its entries one by one", _describe(exc))
        result, entries, broken = _one_by_one(body, headers, exc)
        repaired = "; ".join(p for p in (repaired, f"the feed parser failed on the document ({_describe(exc)}), "
                                                   "so its entries were parsed one by one") if p)
    bozo_reason = _describe(result.get("bozo_exception")) if result.get("bozo") else None
    if repaired:
        bozo_reason = f"{bozo_reason}; {repaired}" if bozo_reason else repaired
    version = result.get("version") or ""
    if not entries and not broken and not version:
        why = bozo_reason or "no RSS/Atom root element"
        raise PollError(FailureKind.NOT_A_FEED, f"no feed could be read ({why})")
    # feedparser falls back to the feed's <id> when an Atom feed has no alternate link: keep URLs only.
    link = (result.get("feed") or {}).get("link")
    link = link.strip() if isinstance(link, str) else ""
    return ParsedFeed(entries=entries, version=version, bozo_reason=bozo_reason,
                      link=link if link.lower().startswith(("http://", "https://")) else None, broken=broken)


# --- parsing in other processes -----------------------------------------------------------------

@dataclass(frozen=True)
class ParseLimits:
    # Seconds of one parse. A 10 MB feed parses in a few seconds; far more is nested markup built to
    # be slow, and it would only be slow again at the next poll.
    budget: float = 20.0
    # Address space of a parser process, in MiB. feedparser needs ~15 bytes per byte of feed; 1 GiB
    # leaves room for the 10 MB size limit and stops a runaway parse long before the machine does.
    memory_mb: int = 1024
    processes: int = 2


def _serve(memory_mb: int) -> None:
    """A parser process: parse what arrives on stdin, answer on stdout, until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the poller, which stops us
    requests = multiprocessing.connection.Connection(os.dup(0), writable=False)
    replies = multiprocessing.connection.Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # anything printed goes to stderr, not into the replies
    try:
        import resource  # noqa: PLC0415 - POSIX only

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not settable here: the time budget still holds
        pass
    replies.send(("ready",))
    while True:
        try:
            body, headers = requests.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple = ("ok", parse_feed(body, headers))
        except PollError as exc:
            reply = ("poll-error", exc.kind.name, exc.detail)
        except MemoryError:
            reply = ("poll-error", FailureKind.PARSE_LIMIT.name,
                     f"parsing needs more than the {memory_mb} MiB a parser may use")
        except Exception as exc:  # noqa: BLE001 - reported to the poller, which logs it
            reply = ("error", f"{type(exc).__name__}: {exc}")
        del body
        try:
            replies.send(reply)
        except MemoryError:
            replies.send(("poll-error", FailureKind.PARSE_LIMIT.name, "the parsed feed is too large to hand back"))


# A parser process is a fresh interpreter that imports this module and what it needs (feedparser),
# not the whole pollers package with its Pub/Sub and HTTP clients, nor the program that runs the
# poller: the package is registered without running its __init__.
_BOOTSTRAP = """
import sys, types
package = types.ModuleType("pollers")
package.__path__ = [sys.argv[1]]
sys.modules["pollers"] = package
from pollers.parsing import _serve
_serve(int(sys.argv[2]))
"""


# Seconds a new parser process may take to start (an interpreter and feedparser: ~0.3 s alone).
_START_TIMEOUT = 60.0


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, str(Path(__file__).resolve().parent), str(memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests = multiprocessing.connection.Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.replies = multiprocessing.connection.Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        # Started before a parse is handed to it, so its start-up is not counted in the budget.
        try:
            ready = self.replies.poll(_START_TIMEOUT) and self.replies.recv() == ("ready",)
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise RuntimeError(f"a parser process did not start within {_START_TIMEOUT:g} s")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5)
        self.requests.close()
        self.replies.close()

    def stop(self) -> None:
        """Close its input: it finishes and exits; killed if it does not within 2 s."""
        self.requests.close()
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.replies.close()


class ParserPool:
    """``parse_feed`` in separate processes, each parse within ``limits.budget`` seconds and
    ``limits.memory_mb`` of address space; a parse over either is killed (PollError PARSE_LIMIT).

    Thread-safe; at most ``limits.processes`` parses run at once, and they run in parallel (no GIL
    between them). Processes start when first needed and are reused.
    """

    def __init__(self, limits: ParseLimits | None = None) -> None:
        self.limits = limits or ParseLimits()
        self._slots = threading.BoundedSemaphore(self.limits.processes)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self.killed = 0  # parses killed for their budget or memory (for tests and logs)

    def parse(self, body: bytes, headers: Mapping[str, str], *, stop: threading.Event | None = None) -> ParsedFeed:
        with self._slots:
            worker = self._take()
            try:
                worker.requests.send((body, dict(headers)))
                reply = self._wait(worker, stop)
            except BaseException:
                self._discard(worker)
                raise
            self._give_back(worker)
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "poll-error":
            raise PollError(FailureKind[reply[1]], reply[2])
        raise RuntimeError(f"parser process: {reply[1]}")

    def _wait(self, worker: _Worker, stop: threading.Event | None) -> tuple:
        give_up = time.monotonic() + self.limits.budget
        while True:
            left = give_up - time.monotonic()
            if left <= 0:
                self.killed += 1
                raise PollError(FailureKind.PARSE_LIMIT, f"parsing took longer than {self.limits.budget:g} s "
                                                         "(deeply nested or enormous markup)")
            if stop is not None and stop.is_set():
                raise PollError(FailureKind.STOPPED, "stopped while parsing")
            try:
                if worker.replies.poll(min(left, 0.2)):
                    return worker.replies.recv()
            except (EOFError, OSError) as exc:
                self.killed += 1
                code = worker.process.poll()
                raise PollError(FailureKind.PARSE_LIMIT, f"the parser process died (exit code {code}); likely over "
                                                         f"its {self.limits.memory_mb} MiB") from exc

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise PollError(FailureKind.STOPPED, "the parser pool is closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return _Worker(self.limits.memory_mb)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        worker.kill()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
