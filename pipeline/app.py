"""``newswire run``: pollers, a queue and the streaming pipeline together on one machine.

Unless another Pub/Sub is configured (``PUBSUB_EMULATOR_HOST``, or ``--project`` for real Pub/Sub),
the embedded emulator starts in this process. The pipeline runs on the DirectRunner with the
durability ledger (pipeline/recovery.py), so stopping at any point loses nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions
from rich.console import Console
from rich.live import Live
from rich.table import Table as RichTable
from rich.text import Text

from pollers.config import FeedConfig, load_feeds
from pollers.poller import Poller, PollerSettings
from pollers.publish import PubSubPublisher
from pollers.state import StateStore

from .logs import ProgressLog, log_progress
from .preflight import check_pubsub, emulator_project
from .pubsub_admin import PubSubLayout, ensure_layout
from .sinks.duckdb import DuckDBWarehouse
from .status import RunState
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
    idle_timeout: float = 300.0  # --until-idle gives up once nothing was written for this long
    refresh: float = 0.5
    fetch_deadline: float | None = None  # seconds one feed request may take in all (pollers' default)
    # Pipeline options (--learn_*, --match_*, --dedup_ttl_hours, ...) as flags for PipelineOptions.
    pipeline_args: list[str] = field(default_factory=list)
    metrics_port: int | None = None  # serve Prometheus metrics on this port (0: any free one)
    metrics_address: str = "127.0.0.1"
    # Seconds between progress log lines (when stdout is not a terminal, and while --until-idle waits).
    progress_every: float = 10.0


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
    # Why there are dead letters: (step, error class, count, one message), most frequent first.
    dead_letter_causes: list[tuple[str, str, int, str]] = field(default_factory=list)

    def fields(self) -> dict:
        return {"feeds_polled": self.feeds_polled, "items_published": self.items_published,
                "articles_written": self.articles_written, "duplicates": self.duplicates,
                "dead_letters": self.dead_letters, "in_flight": self.pending}

    def render(self, title: str) -> RichTable:
        t = RichTable(title=title)
        for col in ("feeds polled", "items published", "articles written", "duplicates",
                    "dead letters", "in flight"):
            t.add_column(col, justify="right")
        t.add_row(*(str(v) for v in (self.feeds_polled, self.items_published, self.articles_written,
                                     self.duplicates, self.dead_letters,
                                     "…" if self.pending is None else self.pending)))
        return t


def queue_dir(warehouse: str) -> Path:
    """Where the embedded Pub/Sub emulator keeps its topics, subscriptions and messages."""
    return Path(f"{warehouse}.pubsub")


def load_feeds_file(path: str, serve_base: str | None) -> list[FeedConfig]:
    """The feeds file, validated; FeedsFileError names the file and line of every problem."""
    return load_feeds(path, serve_base=serve_base)


class AllFeedsFailed(Exception):
    """An --until-idle run in which no feed could be polled (exit 1): nothing new can have arrived."""


class _Counts:
    """Warehouse row counts relative to the start of this run."""

    _SQL = ("SELECT (SELECT count(*) FROM raw_items), (SELECT count(*) FROM articles), "
            "(SELECT count(*) FROM dead_letter)")

    def __init__(self, warehouse: DuckDBWarehouse) -> None:
        self.warehouse = warehouse
        self.started = time.time()
        self.base = self._now()

    def dead_letter_causes(self, limit: int = 5) -> list[tuple[str, str, int, str]]:
        """The steps and errors of this run's dead letters, most frequent first."""
        return [tuple(r) for r in self.warehouse.read_query(
            "SELECT step, error_class, count(*) AS n, min(error_message) FROM dead_letter "
            f"WHERE failed_at >= to_timestamp({self.started - 1:.3f}) GROUP BY step, error_class "
            f"ORDER BY n DESC, step LIMIT {int(limit)}")[1]]

    def _now(self) -> tuple[int, int, int]:
        return self.warehouse.read_query(self._SQL)[1][0]

    def fill(self, p: Progress) -> None:
        raw, articles, dead = (a - b for a, b in zip(self._now(), self.base))
        p.articles_written, p.dead_letters = articles, dead
        # Every received message becomes an article version, a dead letter or a dropped repeat.
        p.duplicates = max(0, raw - articles - dead)


# What Cloud Run, Kubernetes and systemd allow between SIGTERM and SIGKILL is 10-30 s; a clean stop
# finishes well inside it, and past it the process exits anyway: nothing is lost either way, since
# what is not yet in the warehouse stays in the durable queue and is delivered on the next start.
STOP_GRACE_S = 25.0
# Of the grace, what the pollers in flight get before their rows are waited for.
_POLLS_GRACE_S = 10.0
EXIT_INTERRUPTED = 130


class Stopper:
    """SIGINT/SIGTERM: the first asks for a clean stop, a second one (or the grace running out)
    exits at once. Either way nothing is lost: a message is acknowledged on the ledger only once its
    rows are in the warehouse, and the queue keeps the others for the next start."""

    def __init__(self, console: Console, grace_s: float = STOP_GRACE_S) -> None:
        self.event = threading.Event()
        self.console = console
        self.grace_s = grace_s
        self.signals = 0

    def install(self, stack: ExitStack) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only; an embedding caller stops via .event
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        stack.callback(lambda: [signal.signal(s, h) for s, h in previous.items()])

    def _on_signal(self, signum, frame) -> None:
        self.signals += 1
        if self.signals > 1:
            self._exit_now("stopping at once")
        self.console.print(f"stopping ({signal.Signals(signum).name}): finishing polls in flight and waiting "
                           "for their rows; signal again to stop at once")
        self.event.set()
        threading.Thread(target=self._watchdog, name="newswire-stop-watchdog", daemon=True).start()

    def _watchdog(self) -> None:
        time.sleep(self.grace_s)
        self._exit_now(f"not stopped after {self.grace_s:.0f} s; exiting")

    def _exit_now(self, why: str) -> None:
        self.console.print(f"{why}: what is not yet written is delivered again on the next start")
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)


def run(cfg: RunConfig, console: Console | None = None) -> Progress:
    # No markup: paths, feed ids and error texts may hold [brackets], which must print as they are.
    console = console or Console(markup=False)
    stopper = Stopper(console)
    stop = stopper.event
    with ExitStack() as stack:
        stopper.install(stack)
        serve_base = None
        poller_settings = PollerSettings()
        if cfg.fetch_deadline is not None:
            if cfg.fetch_deadline <= 0:
                raise OptionError(f"--fetch-deadline {cfg.fetch_deadline:g} must be a number of seconds > 0")
            poller_settings = replace(poller_settings,
                                      http=replace(poller_settings.http, deadline=cfg.fetch_deadline))
        if cfg.serve_dir:
            from pollers.devserver import serve_directory  # noqa: PLC0415

            server = stack.enter_context(serve_directory(cfg.serve_dir))
            serve_base = server.url.rstrip("/")
            poller_settings = poller_settings.allowing_server(server.url)
            console.print(f"serving {cfg.serve_dir} at {serve_base}")
        feeds = load_feeds_file(cfg.feeds_path, serve_base)

        project = cfg.project or LOCAL_PROJECT
        if os.environ.get("PUBSUB_EMULATOR_HOST"):
            project = cfg.project or emulator_project(LOCAL_PROJECT)
            check_pubsub(project)  # a stopped emulator is an error now, not a silent hang
        elif cfg.project:
            check_pubsub(project)
        else:
            from emulator.server import start_emulator  # noqa: PLC0415

            # Beside the warehouse, like the pollers' state: a publish the pollers saw confirmed is on
            # disk, so a kill of this process loses nothing that the next start does not deliver.
            em = stack.enter_context(start_emulator(data_dir=queue_dir(cfg.warehouse)))
            os.environ["PUBSUB_EMULATOR_HOST"] = em.host_port
            stack.callback(os.environ.pop, "PUBSUB_EMULATOR_HOST", None)
            console.print(f"Pub/Sub emulator on {em.host_port} (queue kept in {em.data_dir})")
        layout = PubSubLayout(project)
        ensure_layout(layout)

        job = StreamingJob(PipelineOptions([
            *cfg.pipeline_args,
            "--input", f"pubsub://{layout.subscription}", "--warehouse", cfg.warehouse,
            "--ledger_subscription", layout.ledger])).start()
        stack.callback(job.stop)
        if job.recovered and job.recovered.pending:
            console.print(f"recovering {job.recovered.pending} message(s) published before the last stop")
        counts = _Counts(DuckDBWarehouse.shared(cfg.warehouse))

        state = stack.enter_context(StateStore(cfg.state_path or f"{cfg.warehouse}.pollers.sqlite"))
        publisher = PubSubPublisher(layout.topic)
        stack.callback(publisher.close)
        run_state = RunState()
        poller = stack.enter_context(Poller(feeds, state, publisher, poller_settings,
                                            on_result=run_state.on_result))
        if job.query_server is not None:  # newswire status asks the running job through its port
            job.query_server.status = lambda: run_state.snapshot(job.status().pending, poller.health())
        if cfg.metrics_port is not None:
            from .metrics import RunMetrics  # noqa: PLC0415

            metrics = RunMetrics()
            run_state.add_listener(metrics.on_result)
            metrics.start_sampling(DuckDBWarehouse.shared(cfg.warehouse), backlog=lambda: job.status().pending,
                                   health=poller.health)
            stack.callback(metrics.stop)
            port = metrics.serve(cfg.metrics_port, cfg.metrics_address)
            console.print(f"metrics on http://{cfg.metrics_address}:{port}/metrics", soft_wrap=True)

        progress = Progress()

        def refresh() -> Progress:
            snap = poller.counters.snapshot()
            progress.feeds_polled, progress.items_published = snap["polls"], snap["published"]
            progress.pending = job.status().pending
            counts.fill(progress)
            return progress

        if cfg.until_idle:
            with ProgressLog("progress", lambda: refresh().fields(), cfg.progress_every):
                report = _interruptible(poller.poll_once, stop)
                if report is None:
                    poller.stop()  # fetches in progress give up now, not at their deadline
                    return _stopped(console, job, stop, refresh, cfg)
                progress.unhealthy = report.errors
                progress.guid_problems = {r.feed_id: r.guid_problem for r in report.results if r.guid_problem}
                # However large the burst, it is waited for while it is being written.
                durable = job.wait_until_durable(cfg.idle_timeout, stop=stop, idle=True)
            if stop.is_set():
                return _stopped(console, job, stop, refresh, cfg)
            refresh()
            progress.dead_letter_causes = counts.dead_letter_causes() if progress.dead_letters else []
            console.print(progress.render(f"newswire run → {cfg.warehouse}"))
            _print_unhealthy(console, progress.unhealthy, progress.guid_problems)
            _print_dead_letters(console, progress.dead_letter_causes)
            if not durable:
                raise TimeoutError(f"{progress.pending} published item(s) not in the warehouse, and none "
                                   f"written for {cfg.idle_timeout:.0f} s")
            if report.results and all(not r.ok for r in report.results):
                raise AllFeedsFailed(f"every feed failed ({len(report.results)} of {len(report.results)}): "
                                     f"see above, or newswire status --warehouse {cfg.warehouse}")
            return progress

        poll_thread = threading.Thread(target=poller.run_forever, args=(stop,), name="newswire-pollers",
                                       daemon=True)
        poll_thread.start()
        if console.is_terminal:
            with Live(refresh().render("newswire run (Ctrl-C to stop)"), console=console, transient=False) as live:
                while not stop.wait(cfg.refresh):
                    live.update(refresh().render("newswire run (Ctrl-C to stop)"))
        else:  # a service manager, a container, a pipe: a line every progress_every seconds
            log_progress("progress", refresh().fields())
            while not stop.wait(cfg.progress_every if cfg.progress_every > 0 else 3600):
                log_progress("progress", refresh().fields())
        console.print("stopping: finishing polls in flight and waiting for their rows …")
        started = time.monotonic()
        poll_thread.join(_POLLS_GRACE_S)  # a poll still hanging then is abandoned: its items stay unseen
        # What is not durable by then is delivered again on the next start.
        job.wait_until_durable(timeout=max(1.0, STOP_GRACE_S - 5.0 - (time.monotonic() - started)))
        refresh()
        health = poller.health()
        progress.unhealthy = {h.feed_id: h.last_error or "" for h in health if not h.healthy}
        progress.guid_problems = {h.feed_id: h.guid_problem for h in health if h.guid_problem}
        progress.dead_letter_causes = counts.dead_letter_causes() if progress.dead_letters else []
        console.print(progress.render(f"newswire run → {cfg.warehouse}"))
        _print_unhealthy(console, progress.unhealthy, progress.guid_problems)
        _print_dead_letters(console, progress.dead_letter_causes)
        return progress


def _interruptible(fn, stop: threading.Event):
    """fn() in a worker thread; its result, or None as soon as a stop is asked for."""
    box: dict = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="newswire-poll-once", daemon=True).start()
    while not done.wait(0.1):
        if stop.is_set():
            return None
    if "error" in box:
        raise box["error"]
    return box["result"]


def _stopped(console: Console, job: StreamingJob, stop: threading.Event, refresh, cfg: RunConfig) -> Progress:
    """An --until-idle run stopped by a signal: let what is in flight land, within the grace."""
    job.wait_until_durable(timeout=STOP_GRACE_S - _POLLS_GRACE_S)
    progress = refresh()
    console.print(progress.render(f"newswire run → {cfg.warehouse} (stopped)"))
    raise Interrupted("stopped before every feed was polled and written; run again to continue")


class Interrupted(Exception):
    """The run was stopped by SIGINT/SIGTERM before it finished (exit 130, nothing lost)."""


def _print_unhealthy(console: Console, unhealthy: dict[str, str], guid_problems: dict[str, str]) -> None:
    for feed_id, error in sorted(unhealthy.items()):
        console.print(Text.assemble(("unhealthy feed", "yellow"), f" {feed_id}: {error}"), highlight=False)
    for feed_id, problem in sorted(guid_problems.items()):
        console.print(Text.assemble(("feed guids", "yellow"), f" {feed_id}: {problem}"), highlight=False)



def _print_dead_letters(console: Console, causes: list[tuple[str, str, int, str]]) -> None:
    for step, error_class, n, message in causes:
        console.print(Text.assemble(("dead letters", "yellow"), f" ×{n} at step {step}: {error_class}: "
                                    f"{' '.join(str(message).split())[:200]}"), highlight=False, soft_wrap=True)
    if causes:
        console.print("  (the dead_letter table has each payload; fix and replay it with newswire process)",
                      soft_wrap=True)
