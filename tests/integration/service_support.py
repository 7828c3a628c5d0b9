"""``newswire run`` as a service is run: a site whose feeds grow, and the command in its own process
group, started, stopped and killed from outside.

``GrowingSite`` writes RSS files into a directory that ``newswire run --serve`` serves; every entry
it ever wrote is remembered, so a test can say exactly which articles the warehouse must hold.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape

import duckdb

ROOT = Path(__file__).resolve().parents[2]
_T0 = datetime(2026, 11, 2, 6, tzinfo=timezone.utc)
_WORDS = ("harbour", "council", "ferry", "orchard", "bridge", "lantern", "meadow", "quarry", "signal",
          "granary", "tramway", "canal", "beacon", "foundry", "terrace", "viaduct", "archive", "pasture")


def _words(seed: int, n: int) -> str:
    return " ".join(_WORDS[(seed * 7 + k * 5 + k * k) % len(_WORDS)] for k in range(n))


@dataclass
class Entry:
    feed_id: str
    n: int
    revision: int = 0

    @property
    def guid(self) -> str:
        return f"{self.feed_id}-story-{self.n:04d}"

    @property
    def title(self) -> str:
        return f"Fictional {self.feed_id} report number {self.n}"

    def body_html(self) -> str:
        paragraphs = [
            f"The {self.feed_id} desk reports item {self.n}: {_words(self.n, 14)}.",
            f"Officials of the fictional district said {_words(self.n + 3, 18)} on the record.",
            f"Residents described {_words(self.n + 11, 16)} before the meeting closed.",
        ]
        if self.revision:
            paragraphs.append(f"Correction {self.revision}: an earlier version misstated the figure.")
        return "".join(f"<p>{escape(p)}</p>" for p in paragraphs)

    def item_xml(self, guid: str | None = None) -> str:
        when = format_datetime(_T0 + timedelta(minutes=self.n))
        return (f"<item><title>{escape(self.title)}</title>"
                f"<link>https://{self.feed_id}.example.org/news/{self.n}</link>"
                f"<guid isPermaLink=\"false\">{escape(guid or self.guid)}</guid><pubDate>{when}</pubDate>"
                f"<description>{escape(self.body_html())}</description></item>")


@dataclass
class GrowingSite:
    """Feeds that gain entries over time. Each feed file lists its newest ``window`` entries, as real
    feeds do, so an entry missed while it was listed is missed for good."""

    root: Path
    feed_ids: tuple[str, ...] = ("north", "south", "east", "west")
    window: int = 50
    entries: dict[str, list[Entry]] = field(default_factory=dict)
    # Feeds whose every item carries this one guid (a CMS that puts its home page there).
    shared_guids: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for f in self.feed_ids:
            self.entries.setdefault(f, [])
            self._write(f)

    def feeds_yaml(self, path: Path, interval: float = 300) -> Path:
        lines = ["feeds:"] + [f"  - {{id: {f}, url: '{{serve}}/{f}.xml', interval: {interval}}}"
                              for f in self.feed_ids]
        path.write_text("\n".join(lines) + "\n")
        return path

    def grow(self, per_feed: int) -> None:
        for f in self.feed_ids:
            start = len(self.entries[f])
            self.entries[f] += [Entry(f, start + k) for k in range(per_feed)]
            self._write(f)

    def correct(self, feed_id: str, n: int) -> Entry:
        entry = self.entries[feed_id][n]
        entry.revision += 1
        self._write(feed_id)
        return entry

    def _write(self, feed_id: str) -> None:
        items = "".join(e.item_xml(self.shared_guids.get(feed_id))
                        for e in reversed(self.entries[feed_id][-self.window:]))
        xml = (f"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
               f"<title>{feed_id}</title><link>https://{feed_id}.example.org/</link>"
               f"<description>Fictional feed {feed_id}</description>{items}</channel></rss>")
        tmp = self.root / f".{feed_id}.xml.tmp"
        tmp.write_text(xml, encoding="utf-8")
        os.replace(tmp, self.root / f"{feed_id}.xml")  # a poll never reads half a file

    def expected(self) -> dict[tuple[str, str], int]:
        """(feed_id, guid) -> the number of versions the warehouse must hold."""
        return {(e.feed_id, e.guid): e.revision + 1 for es in self.entries.values() for e in es}


def newswire(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    """``newswire ARGS`` in its own session (so its whole process group can be signalled)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, **kw)


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, _ = proc.communicate()
        raise AssertionError(f"newswire did not finish within {timeout} s:\n{out.decode()[-3000:]}") from None
    finally:
        kill_group(proc)  # nothing of the group outlives the test
    return proc.returncode, out.decode(errors="replace")


def run_until_idle(feeds: Path, site: Path, warehouse: Path, timeout: float = 240,
                   env: dict | None = None) -> str:
    proc = newswire("run", "--feeds", str(feeds), "--serve", str(site), "--warehouse", str(warehouse),
                    "--until-idle", env=env)
    code, out = finish(proc, timeout)
    assert code == 0, out[-3000:]
    return out


def article_versions(warehouse: Path) -> dict[tuple[str, str], list[int]]:
    """(feed_id, the entry's own guid) -> versions in the warehouse. The entry is named by its link's
    number, so feeds whose guids are all the same are counted right too."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute("SELECT feed_id, regexp_extract(link, '/news/([0-9]+)$', 1)::INT, "
                            "list(version ORDER BY version) FROM articles GROUP BY ALL").fetchall()
    return {(f, Entry(f, n).guid): v for f, n, v in rows}


def check_exactly_once(site: GrowingSite, warehouse: Path) -> None:
    """Every entry ever served is in the warehouse once per version it had, and nothing else is."""
    got = article_versions(warehouse)
    want = {k: list(range(1, n + 1)) for k, n in site.expected().items()}
    lost = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = sorted(k for k in set(want) & set(got) if got[k] != want[k])
    versions = sum(len(v) for v in want.values())
    print(f"{len(want)} entries served ({versions} versions): {len(lost)} lost, {len(extra)} unexpected, "
          f"{len(wrong)} with wrong versions")
    assert not (lost or extra or wrong), (
        f"{len(want)} entries served: {len(lost)} lost {lost[:5]}, {len(extra)} unexpected {extra[:5]}, "
        f"{len(wrong)} with wrong versions {[(k, got[k], want[k]) for k in wrong[:5]]}")


def wait_for_articles(warehouse: Path, at_least: int, timeout: float, proc: subprocess.Popen) -> int:
    """Poll the running job's query port until the warehouse holds at_least articles."""
    from pipeline.query_server import query_running

    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"newswire exited early ({proc.returncode}):\n"
                                 f"{proc.stdout.read().decode(errors='replace')[-3000:]}")
        try:
            answer = query_running(warehouse, "SELECT count(*) FROM articles", timeout=5)
        except Exception:  # noqa: BLE001 - not serving yet, or between restarts
            answer = None
        count = answer[1][0][0] if answer else 0
        if count >= at_least:
            return count
        time.sleep(0.1)
    raise AssertionError(f"only {count} of {at_least} articles after {timeout} s")
