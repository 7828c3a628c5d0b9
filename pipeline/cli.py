"""The ``newswire`` command line."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from rich.console import Console
from rich.table import Table as RichTable

from .build import build_pipeline
from .query_server import QueryError
from .runners import local_runner
from .specs import OptionError, parse_input, parse_warehouse

console = Console()
# Errors go to stderr unwrapped, so a path or a command in them stays whole.
errors = Console(stderr=True, soft_wrap=True)


@dataclass
class Summary:
    items_read: int = 0
    articles_written: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    raw_items_written: int = 0

    @classmethod
    def from_metrics(cls, result) -> "Summary":
        counters = {}
        for c in result.metrics().query()["counters"]:
            key = f"{c.key.metric.namespace}/{c.key.metric.name}"
            counters[key] = counters.get(key, 0) + (c.committed or 0)
        return cls(
            items_read=counters.get("newswire/items_read", 0),
            articles_written=counters.get("warehouse/articles_inserted", 0),
            # In-flight repeats plus repeats of content the warehouse already had.
            duplicates=counters.get("newswire/duplicates", 0) + counters.get("warehouse/articles_skipped", 0),
            dead_letters=counters.get("newswire/dead_letters", 0),
            raw_items_written=counters.get("warehouse/raw_items_inserted", 0),
        )

    def render(self, title: str) -> RichTable:
        t = RichTable(title=title)
        t.add_column("items read", justify="right")
        t.add_column("articles written", justify="right")
        t.add_column("duplicates", justify="right")
        t.add_column("dead letters", justify="right")
        t.add_row(str(self.items_read), str(self.articles_written), str(self.duplicates), str(self.dead_letters))
        return t


def process(input_glob: str, warehouse: str, extra: list[str] | None = None) -> Summary:
    """Run the pipeline in batch over files; return what it did."""
    parse_input(input_glob)
    if parse_warehouse(warehouse).kind != "duckdb":
        raise OptionError("'newswire process' writes a DuckDB file; use python -m pipeline.main for BigQuery")
    options = PipelineOptions(["--input", input_glob, "--warehouse", warehouse, *(extra or [])])
    std = options.view_as(StandardOptions)
    std.runner = local_runner(std.runner, streaming=False)
    # Everything imported so far (Beam, the rule packs) lives as long as the process: freezing it
    # keeps the garbage collector from re-scanning it on every collection of the job's many objects.
    gc.freeze()
    try:
        result = build_pipeline(options).run()
        result.wait_until_finish()
    finally:
        gc.unfreeze()
    from .sinks.duckdb import DuckDBWarehouse  # noqa: PLC0415

    DuckDBWarehouse.close_all()  # release the file so readers can open it
    return Summary.from_metrics(result)


def _print_rows(cols: list[str], rows: list[tuple]) -> None:
    t = RichTable(*cols)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    console.print(t)


def _cmd_process(args, extra) -> int:
    summary = process(args.input, args.warehouse, extra)
    console.print(summary.render(f"newswire process → {args.warehouse}"))
    return 0


def _cmd_query(args, extra) -> int:
    from .query_server import query_running  # noqa: PLC0415
    from .sinks.duckdb import query_file  # noqa: PLC0415

    answer = query_running(args.warehouse, args.sql)
    cols, rows = answer if answer is not None else query_file(args.warehouse, args.sql)
    _print_rows(cols, rows)
    return 0


def learned_sql(feed: str | None = None, *, include_unlearned: bool = False) -> str:
    """The query behind ``newswire learned``: lines per source, most frequent first."""
    where = [] if include_unlearned else ["learned"]
    if feed is not None:
        where.append("feed_id = '" + feed.replace("'", "''") + "'")
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    return ("SELECT feed_id, learned, items, share, days, stories, first_seen, last_seen, line "
            f"FROM learned_boilerplate {clause}ORDER BY feed_id, learned DESC, items DESC, line_key")


def _when(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
    return str(value)[:16].replace("T", " ")  # text from a running pipeline's query server


def _cmd_learned(args, extra) -> int:
    from .query_server import query_running  # noqa: PLC0415
    from .sinks.duckdb import query_file  # noqa: PLC0415

    sql = learned_sql(args.feed, include_unlearned=args.all)
    answer = query_running(args.warehouse, sql)
    cols, rows = answer if answer is not None else query_file(args.warehouse, sql)
    if not rows:
        scope = f"feed {args.feed}" if args.feed else "any feed"
        console.print(f"nothing learned for {scope} in {args.warehouse}", soft_wrap=True)
        return 0
    records = [dict(zip(cols, r, strict=True)) for r in rows]
    # One block per line, the line in full: a table would cut long lines at terminal width.
    out = [f"learned boilerplate in {args.warehouse} (days and stories count up to the thresholds)"]
    for feed in dict.fromkeys(r["feed_id"] for r in records):
        lines = [r for r in records if r["feed_id"] == feed]
        learned = sum(1 for r in lines if r["learned"])
        out.append(f"\n{feed}: {learned} line{'s' * (learned != 1)} learned")
        for r in lines:
            state = "learned" if r["learned"] else "no longer learned"
            out.append(f"  {state}: items {r['items']}, share {float(r['share']):.0%}, days {r['days']}, "
                       f"stories {r['stories']}, seen {_when(r['first_seen'])} to {_when(r['last_seen'])}")
            out.append(f"    {r['line']}")
    console.print("\n".join(out), soft_wrap=True, markup=False, highlight=False)
    return 0


def _cmd_run(args, extra) -> int:
    from .app import EXIT_INTERRUPTED, Interrupted, RunConfig, run  # noqa: PLC0415 - pollers, emulator

    try:
        run(RunConfig(feeds_path=args.feeds, warehouse=args.warehouse, until_idle=args.until_idle,
                      project=args.project, state_path=args.state, serve_dir=args.serve,
                      idle_timeout=args.idle_timeout, fetch_deadline=args.fetch_deadline), console)
    except TimeoutError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        return 1
    except Interrupted as exc:
        errors.print(f"stopped: {exc}", markup=False)
        return EXIT_INTERRUPTED
    console.print(f"query it: newswire query --warehouse {args.warehouse} "
                  "\"SELECT agency, title FROM articles ORDER BY published_at DESC LIMIT 10\"",
                  soft_wrap=True, markup=False)
    return 0


def _cmd_emulator(args, extra) -> int:
    from emulator.server import main as emulator_main  # noqa: PLC0415

    argv = ["--host", args.host, "--port", str(args.port)]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    return emulator_main(argv)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newswire", description="Wire-service news ingestion.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("process", help="clean a file glob of raw items into a DuckDB warehouse (batch)",
                       description="Any further --options are passed to Beam (e.g. --dedup_ttl_hours).")
    p.add_argument("--input", required=True, help="glob of raw-item JSON-lines files")
    p.add_argument("--warehouse", required=True, help="DuckDB file to write (created if missing)")
    p.set_defaults(func=_cmd_process)

    r = sub.add_parser("run", help="poll feeds into Pub/Sub and stream them into the warehouse")
    r.add_argument("--feeds", required=True, help="feeds YAML file (see feeds.example.yaml)")
    r.add_argument("--warehouse", required=True, help="DuckDB file to write (created if missing)")
    r.add_argument("--until-idle", action="store_true",
                   help="poll each feed once, wait until everything published is written, then exit")
    r.add_argument("--project", default=None,
                   help="Google Cloud project for real Pub/Sub (default: the embedded emulator, or "
                        "PUBSUB_EMULATOR_HOST when set)")
    r.add_argument("--state", default=None, help="poller state file (default: WAREHOUSE.pollers.sqlite)")
    r.add_argument("--serve", default=None, metavar="DIR",
                   help="serve DIR over local HTTP and substitute its address for {serve} in feed URLs")
    r.add_argument("--idle-timeout", type=float, default=300.0,
                   help="with --until-idle: give up once nothing more has been written for this long, "
                        "with items still unwritten (s); a large burst is waited for while it is written")
    r.add_argument("--fetch-deadline", type=float, default=None, metavar="SECONDS",
                   help="most seconds one feed request may take in all, however slowly a server sends "
                        "(default 60)")
    r.set_defaults(func=_cmd_run)

    e = sub.add_parser("emulator", help="run the Pub/Sub emulator on its own")
    e.add_argument("--host", default="127.0.0.1")
    e.add_argument("--port", type=int, default=8085)
    e.add_argument("--data-dir", default=None, metavar="DIR",
                   help="keep topics, subscriptions and messages in DIR across restarts "
                        "(default: in memory only)")
    e.set_defaults(func=_cmd_emulator)

    lb = sub.add_parser("learned", help="show the boilerplate learned per source, with counts",
                        description="Lines removed from a source's items because they repeat across "
                                    "many of them (the learned_boilerplate table).")
    lb.add_argument("--warehouse", required=True, help="DuckDB file")
    lb.add_argument("--feed", default=None, metavar="ID", help="only this feed (feeds.yaml id)")
    lb.add_argument("--all", action="store_true",
                    help="also lines no longer learned (below a threshold, or forgotten)")
    lb.set_defaults(func=_cmd_learned)

    q = sub.add_parser("query", help="run SQL against a warehouse file")
    q.add_argument("--warehouse", required=True, help="DuckDB file")
    q.add_argument("sql", help="SQL to run (read-only)")
    q.set_defaults(func=_cmd_query)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args, extra)
    except (OptionError, FileNotFoundError, QueryError, duckdb.Error) as exc:
        errors.print(f"[red]error:[/red] {exc}")
        return 2


def entry() -> None:
    """The ``newswire`` console command: ``main`` without the interpreter's teardown.

    Every command has closed what it wrote (the warehouse, the queue's store, the pollers' state)
    before it returns, so only memory is left to free; after a large run, freeing it object by
    object (the garbage collector's last pass, then every module) took seconds (4 s after a
    5,000-item burst), which is skipped.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
