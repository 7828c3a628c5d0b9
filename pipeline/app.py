"""``newswire run``: pollers, a queue and the streaming pipeline together on one machine.

Unless another Pub/Sub is configured (``PUBSUB_EMULATOR_HOST``, or ``--project`` for real Pub/Sub),
the embedded emulator starts in this process. The pipeline runs on the DirectRunner with the
durability ledger (pipeline/recovery.py), so stopping at any point loses nothing.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from apache_beam.options.pipeline_options import PipelineOptions
from rich.console import Console
from rich.live import Live
from rich.table import Table as RichTable

from pollers.config import FeedConfig, parse_feeds
from pollers.poller import Poller, PollerSettings, PollReport
from pollers.publish import PubSubPublisher
from pollers.state import StateStore

from .pubsub_admin import PubSubLayout, ensure_layout
from .sinks.duckdb import DuckDBWarehouse
from .specs import OptionError
from .streaming import StreamingJob

LOCAL_PROJECT = "newswire-local"
SERVE_PLACEHOLDER = "{serve}"


@dataclass
class RunConfig:
    feeds_path: str
    warehouse: str
    until_idle: bool = False
    project: str | None = None
    state_path: str | None = None
    serve_dir: str | None = None  # serve this directory over local HTTP for {serve} feed URLs
    idle_timeout: float = 300.0
    refresh: float = 0.5


@dataclass
class Progress:
    feeds_polled: int = 0
    items_published: int = 0
    articles_written: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    pending: int | None = None
    unhealthy: dict[str, str] = field(default_factory=dict)
    guid_problems: dict[str, str] = field(default_factory=dict)  # feed id -> FeedHealth.guid_problem

    def render(self, title: str) -> RichTable:
        t = RichTable(title=title)
        for col in ("feeds polled", "items published", "articles written", "duplicates",
                    "dead letters", "in flight"):
            t.add_column(col, justify="right")
        t.add_row(*(str(v) for v in (self.feeds_polled, self.items_published, self.articles_written,
                                     self.duplicates, self.dead_letters,
                                     "…" if self.pending is None else self.pending)))
        return t


def load_feeds_file(path: str, serve_base: str | None) -> list[FeedConfig]:
    text = Path(path).read_text(encoding="utf-8")
    if SERVE_PLACEHOLDER in text:
        if serve_base is None:
            raise OptionError(f"{path} uses {SERVE_PLACEHOLDER} URLs: pass --serve DIR to serve them locally")
        text = text.replace(SERVE_PLACEHOLDER, serve_base)
    return parse_feeds(yaml.safe_load(text), source=path)


class _Counts:
    """Warehouse row counts relative to the start of this run."""

    _SQL = ("SELECT (SELECT count(*) FROM raw_items), (SELECT count(*) FROM articles), "
            "(SELECT count(*) FROM dead_letter)")

    def __init__(self, warehouse: DuckDBWarehouse) -> None:
        self.warehouse = warehouse
        self.base = self._now()

    def _now(self) -> tuple[int, int, int]:
        return self.warehouse.read_query(self._SQL)[1][0]

    def fill(self, p: Progress) -> None:
        raw, articles, dead = (a - b for a, b in zip(self._now(), self.base))
        p.articles_written, p.dead_letters = articles, dead
        # Every received message becomes an article version, a dead letter or a dropped repeat.
        p.duplicates = max(0, raw - articles - dead)


def run(cfg: RunConfig, console: Console | None = None) -> Progress:
    console = console or Console()
    stop = threading.Event()
    with ExitStack() as stack:
        serve_base = None
        poller_settings = PollerSettings()
        if cfg.serve_dir:
            from pollers.devserver import serve_directory  # noqa: PLC0415

            server = stack.enter_context(serve_directory(cfg.serve_dir))
            serve_base = server.url.rstrip("/")
            poller_settings = poller_settings.allowing_pages_from(server.url)
            console.print(f"serving {cfg.serve_dir} at {serve_base}")
        feeds = load_feeds_file(cfg.feeds_path, serve_base)

        project = cfg.project or LOCAL_PROJECT
        if not os.environ.get("PUBSUB_EMULATOR_HOST") and not cfg.project:
            from emulator.server import start_emulator  # noqa: PLC0415

            em = stack.enter_context(start_emulator())
            os.environ["PUBSUB_EMULATOR_HOST"] = em.host_port
            stack.callback(os.environ.pop, "PUBSUB_EMULATOR_HOST", None)
            console.print(f"Pub/Sub emulator on {em.host_port}")
        layout = PubSubLayout(project)
        ensure_layout(layout)

        job = StreamingJob(PipelineOptions([
            "--input", f"pubsub://{layout.subscription}", "--warehouse", cfg.warehouse,
            "--ledger_subscription", layout.ledger])).start()
        stack.callback(job.stop)
        if job.recovered and job.recovered.pending:
            console.print(f"recovering {job.recovered.pending} message(s) published before the last stop")
        counts = _Counts(DuckDBWarehouse.shared(cfg.warehouse))

        state = stack.enter_context(StateStore(cfg.state_path or f"{cfg.warehouse}.pollers.sqlite"))
        publisher = PubSubPublisher(layout.topic)
        stack.callback(publisher.close)
        poller = stack.enter_context(Poller(feeds, state, publisher, poller_settings))

        progress = Progress()

        def refresh() -> Progress:
            snap = poller.counters.snapshot()
            progress.feeds_polled, progress.items_published = snap["polls"], snap["published"]
            progress.pending = job.status().pending
            counts.fill(progress)
            return progress

        if cfg.until_idle:
            report: PollReport = poller.poll_once()
            progress.unhealthy = report.errors
            progress.guid_problems = {r.feed_id: r.guid_problem for r in report.results if r.guid_problem}
            durable = job.wait_until_durable(cfg.idle_timeout)
            refresh()
            console.print(progress.render(f"newswire run → {cfg.warehouse}"))
            _print_unhealthy(console, progress.unhealthy, progress.guid_problems)
            if not durable:
                raise TimeoutError(f"{progress.pending} published item(s) not in the warehouse after "
                                   f"{cfg.idle_timeout:.0f} s")
            return progress

        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        stack.callback(lambda: [signal.signal(s, h) for s, h in previous.items()])
        poll_thread = threading.Thread(target=poller.run_forever, args=(stop,), name="newswire-pollers")
        poll_thread.start()
        with Live(refresh().render("newswire run (Ctrl-C to stop)"), console=console, transient=False) as live:
            while not stop.wait(cfg.refresh):
                live.update(refresh().render("newswire run (Ctrl-C to stop)"))
        console.print("stopping: finishing polls in flight and waiting for their rows …")
        poll_thread.join()
        job.wait_until_durable(timeout=30)  # what is not durable by then is replayed on the next start
        refresh()
        health = poller.health()
        progress.unhealthy = {h.feed_id: h.last_error or "" for h in health if not h.healthy}
        progress.guid_problems = {h.feed_id: h.guid_problem for h in health if h.guid_problem}
        console.print(progress.render(f"newswire run → {cfg.warehouse}"))
        _print_unhealthy(console, progress.unhealthy, progress.guid_problems)
        return progress


def _print_unhealthy(console: Console, unhealthy: dict[str, str], guid_problems: dict[str, str]) -> None:
    for feed_id, error in sorted(unhealthy.items()):
        console.print(f"[yellow]unhealthy feed[/yellow] {feed_id}: {error}")
    for feed_id, problem in sorted(guid_problems.items()):
        console.print(f"[yellow]feed guids[/yellow] {feed_id}: {problem}", highlight=False)

