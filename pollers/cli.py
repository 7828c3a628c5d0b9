"""``python -m pollers``: run the feed pollers on their own.

    python -m pollers --feeds feeds.yaml --state var/pollers.sqlite --project my-gcp-project
    PUBSUB_EMULATOR_HOST=localhost:8085 python -m pollers --feeds feeds.yaml --state s.sqlite --once
    python -m pollers --feeds examples/feeds/feeds.yaml --serve examples/feeds --state s.sqlite --emulator
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from contextlib import ExitStack
from datetime import datetime

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from .config import FeedsFileError, load_feeds
from .fetch import HttpSettings
from .netpolicy import AddressPolicy
from .pages import PageReport, PageSettings
from .poller import Poller, PollerSettings, PollReport
from .publish import PubSubPublisher
from .state import FeedHealth, StateError, StateStore

LOCAL_PROJECT = "newswire-local"
DEFAULT_TOPIC = "raw-items"


class UsageError(Exception):
    """Bad options; the message says how to fix them."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pollers", description="Poll news feeds and publish raw items "
                                "to Pub/Sub.")
    p.add_argument("--feeds", required=True, help="YAML feeds file (see feeds.example.yaml)")
    p.add_argument("--state", required=True, help="SQLite file for validators, seen items and feed health")
    p.add_argument("--project", help="Google Cloud project of the topic (real Pub/Sub unless "
                   "PUBSUB_EMULATOR_HOST is set)")
    p.add_argument("--topic", default=DEFAULT_TOPIC, help="topic id or full projects/P/topics/T path "
                   f"(default {DEFAULT_TOPIC})")
    p.add_argument("--emulator", action="store_true",
                   help="start the embedded Pub/Sub emulator in this process (local runs)")
    p.add_argument("--serve", metavar="DIR", help="serve DIR over local HTTP and use it for {serve} in feed URLs")
    p.add_argument("--once", action="store_true", help="poll every feed once, print a summary and exit")
    p.add_argument("--max-workers", type=int, default=16, help="feeds polled at once (default 16)")
    p.add_argument("--per-host", type=int, default=4, help="requests at once to one host (default 4)")
    p.add_argument("--max-body-mb", type=float, default=10.0, help="response size limit in MB (default 10)")
    p.add_argument("--page-interval", type=float, default=1.0, metavar="SECONDS",
                   help="article pages (fetch_full_text feeds): seconds between requests to one host (default 1)")
    p.add_argument("--page-budget", type=float, default=60.0, metavar="SECONDS",
                   help="article pages: most seconds one poll spends on them (default 60)")
    p.add_argument("--allow-private-addresses", action="store_true",
                   help="let every request (feeds, pages, redirects) reach private/loopback addresses (local "
                        "test servers only; for one internal feed use allow_private: true in the feeds file)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every poll failure as it happens")
    return p


def _topic(args: argparse.Namespace) -> str:
    if args.topic.startswith("projects/"):
        return args.topic
    project = args.project or (LOCAL_PROJECT if os.environ.get("PUBSUB_EMULATOR_HOST") else None)
    if project is None:
        raise UsageError("no Pub/Sub to publish to: pass --project P for real Pub/Sub, set "
                         "PUBSUB_EMULATOR_HOST for an emulator, or --emulator to start the embedded one")
    return f"projects/{project}/topics/{args.topic}"


def _settings(args: argparse.Namespace) -> PollerSettings:
    if args.max_workers < 1 or args.per_host < 1 or args.max_body_mb <= 0:
        raise UsageError("--max-workers and --per-host must be >= 1 and --max-body-mb > 0")
    if args.page_interval < 0 or args.page_budget <= 0:
        raise UsageError("--page-interval must be >= 0 and --page-budget > 0")
    pages = PageSettings(min_interval=args.page_interval, poll_budget=args.page_budget)
    return PollerSettings(http=HttpSettings(max_body_bytes=int(args.max_body_mb * 1024 * 1024)),
                          max_workers=args.max_workers, per_host=args.per_host, pages=pages,
                          addresses=AddressPolicy(allow_private=args.allow_private_addresses))


def _when(ts: float | None) -> str:
    return "-" if not ts else datetime.fromtimestamp(ts).strftime("%H:%M:%S")


def _note(error: str | None, bozo_reason: str | None, guid_problem: str | None) -> str:
    """The last column of the tables: the error, else what is odd about a feed that works."""
    if error:
        return error
    return "; ".join([*([f"bozo: {bozo_reason}"] if bozo_reason else []),
                      *([f"guids: {guid_problem}"] if guid_problem else [])])


def _health_table(health: list[FeedHealth]) -> Table:
    t = Table(title="feeds")
    for col in ("feed", "health", "last status", "last success", "next poll", "last error / bozo / guids"):
        t.add_column(col)
    for h in health:
        state = "[green]ok[/green]" if h.healthy else f"[red]failing ×{h.consecutive_failures}[/red]"
        note = _note(h.last_error, h.bozo_reason, h.guid_problem)
        t.add_row(h.feed_id, state, str(h.last_status or "-"), _when(h.last_success), _when(h.next_poll_at),
                  note[:160])
    return t


def _counter_table(snap: dict[str, int], title: str) -> Table:
    t = Table(title=title)
    for col in ("polls", "not modified", "items published", "failed polls", "in flight"):
        t.add_column(col, justify="right")
    t.add_row(*(str(snap[k]) for k in ("polls", "not_modified", "published", "failed", "in_flight")))
    return t


def _pages_cell(pages: PageReport | None) -> str:
    if pages is None:
        return "-"
    failed = ", ".join(f"{reason} ×{n}" for reason, n in pages.failures)
    return f"{pages.fetched} fetched" + (f"; {failed}" if failed else "")


def _report_table(report: PollReport) -> Table:
    t = Table(title=f"polled {report.polled} feeds: {report.published} items published, "
                    f"{report.not_modified} not modified, {len(report.errors)} failed")
    with_pages = any(r.pages is not None for r in report.results)
    for col in ("feed", "outcome", "status", "entries", "published", "already seen",
                *(("pages",) if with_pages else ()), "error / bozo / guids"):
        t.add_column(col)
    for r in report.results:
        extra = [*([f"{r.deferred} left for the next poll"] if r.deferred else []),
                 *([f"{r.broken} broken, for dead_letter"] if r.broken else [])]
        note = "; ".join([*extra, *([n] if (n := _note(r.error, r.bozo_reason, r.guid_problem)) else [])])
        t.add_row(r.feed_id, r.outcome, str(r.status or "-"), str(r.entries), str(r.published),
                  str(r.already_seen), *((_pages_cell(r.pages),) if with_pages else ()), note[:160])
    return t


def run(args: argparse.Namespace, console: Console) -> int:
    settings = _settings(args)
    with ExitStack() as stack:
        serve_base = None
        if args.serve:
            from .devserver import serve_directory  # noqa: PLC0415

            server = stack.enter_context(serve_directory(args.serve))
            serve_base = server.url
            settings = settings.allowing_server(server.url)
            console.print(f"serving {args.serve} at {server.url}")
        feeds = load_feeds(args.feeds, serve_base=serve_base)
        if args.emulator:
            if os.environ.get("PUBSUB_EMULATOR_HOST") or args.project:
                raise UsageError("--emulator starts a local Pub/Sub; drop it when PUBSUB_EMULATOR_HOST "
                                 "or --project is set")
            from emulator.server import start_emulator  # noqa: PLC0415

            em = stack.enter_context(start_emulator())
            os.environ["PUBSUB_EMULATOR_HOST"] = em.host_port
            stack.callback(os.environ.pop, "PUBSUB_EMULATOR_HOST", None)
            console.print(f"embedded Pub/Sub emulator on {em.host_port}")
        topic = _topic(args)
        publisher = PubSubPublisher(topic)
        stack.callback(publisher.close)
        if os.environ.get("PUBSUB_EMULATOR_HOST"):
            publisher.ensure_topic()  # an emulator starts empty; real topics are made by Terraform
        state = stack.enter_context(StateStore(args.state))
        poller = stack.enter_context(Poller(feeds, state, publisher, settings))
        console.print(f"{len(feeds)} feeds → {topic}; state in {args.state}")

        if args.once:
            report = poller.poll_once()
            console.print(_report_table(report))
            pages = [r.pages for r in report.results if r.pages is not None]
            if pages:
                failures: dict[str, int] = {}
                for p in pages:
                    for reason, n in p.failures:
                        failures[reason] = failures.get(reason, 0) + n
                console.print(f"article pages: {sum(p.fetched for p in pages)} fetched, "
                              f"{sum(failures.values())} not fetched"
                              + "".join(f"; {reason} ×{n}" for reason, n in failures.items()))
            return 1 if report.errors else 0

        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stack.callback(signal.signal, signal.SIGTERM, previous)
        runner = threading.Thread(target=poller.run_forever, args=(stop,), name="pollers")
        runner.start()

        def view() -> Group:
            return Group(_counter_table(poller.counters.snapshot(), "pollers (Ctrl-C to stop)"),
                         _health_table(poller.health()))
        try:
            with Live(view(), console=console, refresh_per_second=2) as live:
                while not stop.wait(1.0):
                    live.update(view())
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            console.line()
            console.print("stopping: letting polls in flight finish their publishes …")
            started = time.monotonic()
            runner.join()
            console.print(f"stopped in {time.monotonic() - started:.1f} s")
        console.print(_counter_table(poller.counters.snapshot(), "pollers: totals"))
        return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = Console()
    try:
        return run(args, console)
    except (UsageError, FeedsFileError, StateError, NotADirectoryError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
