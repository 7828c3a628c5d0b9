"""The ``newswire`` command line."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from pollers.config import FeedsFileError
from pollers.state import StateError

from .build import build_pipeline
from .cliparse import StrictParser, UsageError, add_pipeline_options, pipeline_flags
from .preflight import PubSubUnreachable
from .query_server import QueryError
from .runners import local_runner
from .sinks.duckdb import WarehouseError
from .specs import OptionError, parse_input, parse_warehouse
from .version import version

# No markup anywhere: SQL, paths, feed ids and error texts hold [brackets] that must print as they are.
console = Console(markup=False)
# Errors go to stderr unwrapped, so a path or a command in them stays whole.
errors = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)

# Exit statuses: 0 done; 1 ran, but did not do what was asked (every feed failed, a timeout);
# 2 a mistake in the command, its options or its files; 130 stopped by a signal.
EXIT_FAILED = 1
EXIT_USAGE = 2
# What the pipeline options of `run` and `process` leave out: the commands' own options say these.
_NOT_FOR_COMMANDS = ("input", "warehouse", "ledger_subscription", "inputSubscription", "outputTableSpec",
                     "outputDeadletterTable")


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
    """Run the pipeline in batch over files; return what it did. ``extra``: pipeline options as
    flags (``--dedup_ttl_hours=24``)."""
    parse_input(input_glob)
    if parse_warehouse(warehouse).kind != "duckdb":
        raise OptionError("'newswire process' writes a DuckDB file; use python -m pipeline.main for BigQuery")
    from .sinks.duckdb import DuckDBWarehouse  # noqa: PLC0415

    # Opened here, not first in a worker, so a file that cannot be used is one clear error.
    DuckDBWarehouse.shared(warehouse)
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
    DuckDBWarehouse.close_all()  # release the file so readers can open it
    return Summary.from_metrics(result)


def _print_rows(cols: list[str], rows: list[tuple]) -> None:
    t = RichTable()
    for c in cols:
        t.add_column(Text(c))
    for r in rows:
        t.add_row(*(Text("" if v is None else str(v)) for v in r))
    console.print(t)


def _cmd_process(args, extra) -> int:
    from .logs import ProgressLog  # noqa: PLC0415

    with ProgressLog("progress", lambda: _rows_so_far(args.warehouse), args.progress_every):
        summary = process(args.input, args.warehouse, pipeline_flags(args, args.pipeline_dests))
    console.print(summary.render(f"newswire process → {args.warehouse}"))
    return 0


def _rows_so_far(warehouse: str) -> dict:
    """What a batch run has written so far (its writer is this process)."""
    from .sinks.duckdb import DuckDBWarehouse  # noqa: PLC0415

    sql = ("SELECT (SELECT count(*) FROM raw_items), (SELECT count(*) FROM articles), "
           "(SELECT count(*) FROM dead_letter)")
    raw, articles, dead = DuckDBWarehouse.shared(warehouse).read_query(sql)[1][0]
    return {"raw_items": raw, "articles": articles, "dead_letters": dead}


def _cmd_query(args, extra) -> int:
    from .output import fetch, write_to  # noqa: PLC0415

    table = fetch(args.warehouse, args.sql)
    if args.format == "table":
        if args.output:
            raise UsageError("newswire query: --output needs a file format: --format csv, json, ndjson or parquet")
        from .output import records  # noqa: PLC0415

        _print_rows(table.column_names, [tuple(r.values()) for r in records(table)])
        return 0
    n = write_to(table, args.format, args.output)
    if args.output:
        errors.print(f"{n} row{'s' * (n != 1)} written to {args.output} ({args.format})")
    return 0


def _cmd_export(args, extra) -> int:
    from .export import articles_sql, ninjs_documents, table_sql  # noqa: PLC0415
    from .output import fetch, records, write_ndjson, write_to  # noqa: PLC0415

    if args.format == "ninjs":
        if args.table not in (None, "articles"):
            raise UsageError("newswire export: --format ninjs exports articles; --table is for ndjson and parquet")
        table = fetch(args.warehouse, articles_sql(args.where, all_versions=args.all_versions, limit=args.limit))
        docs = ninjs_documents(records(table))
        if args.output and Path(args.output).is_dir():
            n = 0
            for doc in docs:
                name = "".join(c if c.isalnum() or c in "-_." else "_" for c in doc["uri"].rsplit(":", 1)[-1])
                (Path(args.output) / f"{name}-v{doc['version']}.json").write_bytes(_json_bytes(doc))
                n += 1
        elif args.output:
            tmp = Path(args.output).with_name(f".{Path(args.output).name}.partial")
            try:
                with tmp.open("wb") as fh:
                    n = write_ndjson(docs, fh)
            except BaseException:
                tmp.unlink(missing_ok=True)  # an invalid document leaves no half file behind
                raise
            tmp.replace(args.output)
        else:
            n = write_ndjson(docs, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    else:
        table = fetch(args.warehouse, table_sql(args.table or "articles", args.where, args.limit))
        n = write_to(table, args.format, args.output)
    if args.output:
        errors.print(f"{n} {'document' if args.format == 'ninjs' else 'row'}{'s' * (n != 1)} written to "
                     f"{args.output} ({args.format})")
    return 0


def _json_bytes(doc: dict) -> bytes:
    import orjson  # noqa: PLC0415

    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


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
    from .app import EXIT_INTERRUPTED, AllFeedsFailed, Interrupted, RunConfig, run  # noqa: PLC0415

    try:
        run(RunConfig(feeds_path=args.feeds, warehouse=args.warehouse, until_idle=args.until_idle,
                      project=args.project, state_path=args.state, serve_dir=args.serve,
                      idle_timeout=args.idle_timeout, fetch_deadline=args.fetch_deadline,
                      pipeline_args=pipeline_flags(args, args.pipeline_dests),
                      metrics_port=args.metrics_port, metrics_address=args.metrics_address,
                      progress_every=args.progress_every), console)
    except (TimeoutError, AllFeedsFailed) as exc:
        _error(str(exc))
        return EXIT_FAILED
    except Interrupted as exc:
        errors.print(f"stopped: {exc}")
        return EXIT_INTERRUPTED
    console.print(f"query it: newswire query --warehouse {args.warehouse} "
                  "\"SELECT agency, title FROM articles ORDER BY published_at DESC LIMIT 10\"",
                  soft_wrap=True, markup=False)
    return 0


def _cmd_status(args, extra) -> int:
    from .status import collect, render  # noqa: PLC0415

    report = collect(args.warehouse, args.state)
    if args.json:
        import orjson  # noqa: PLC0415

        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    else:
        console.print(render(report))
    failing = [f for f in report["feeds"] if not f["healthy"]]
    return EXIT_FAILED if args.fail_unhealthy and failing else 0


def _cmd_emulator(args, extra) -> int:
    from emulator.server import main as emulator_main  # noqa: PLC0415

    argv = ["--host", args.host, "--port", str(args.port)]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    return emulator_main(argv)


def _cmd_check(args, extra) -> int:
    from contextlib import ExitStack  # noqa: PLC0415

    from pollers.config import load_feeds  # noqa: PLC0415

    with ExitStack() as stack:
        serve_base = None
        if args.serve:
            from pollers.devserver import serve_directory  # noqa: PLC0415

            served = stack.enter_context(serve_directory(args.serve))
            serve_base = served.url.rstrip("/")
        feeds = load_feeds(args.feeds, serve_base=serve_base)
        if not args.fetch:
            console.print(f"{args.feeds}: {len(feeds)} feed{'s' * (len(feeds) != 1)}, no problems "
                          "(--fetch also fetches each one)", soft_wrap=True)
            return 0
        from .check import fetch_feeds  # noqa: PLC0415

        results = fetch_feeds(feeds, serve_url=serve_base)
    failed = [r for r in results if not r.ok]
    for r in results:
        if r.ok:
            note = f"; malformed but usable ({r.bozo_reason})" if r.bozo_reason else ""
            console.print(Text.assemble(("ok  ", "green"), f" {r.feed_id}: HTTP {r.status}, {r.entries} "
                                        f"entries in {r.seconds:.1f} s{note}"), soft_wrap=True)
        else:
            console.print(Text.assemble(("FAIL", "red"), f" {r.feed_id}: {r.error} ({r.url})"), soft_wrap=True)
    console.print(f"{args.feeds}: {len(results) - len(failed)} of {len(results)} feeds answered with a feed",
                  soft_wrap=True)
    return EXIT_FAILED if failed else 0


_RUN_HINTS = {
    "--interval": "a feed's poll interval is set in the feeds file: interval: SECONDS",
    "--input": "newswire run reads the feeds it polls; newswire process reads files",
    "--runner": "newswire run always runs locally; python -m pipeline.main takes --runner",
}


def _add_logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="logs and progress lines as text or as JSON lines (stderr)")
    parser.add_argument("--progress-every", type=float, default=10.0, metavar="SECONDS",
                        help="a progress line every SECONDS when stdout is not a terminal, and while "
                             "--until-idle or process wait (0: none; default 10)")


def make_parser() -> argparse.ArgumentParser:
    parser = StrictParser(prog="newswire", description="Wire-service news ingestion.")
    parser.add_argument("--version", action="version", version=f"newswire {version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error, not just its message")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("process", help="clean a file glob of raw items into a DuckDB warehouse (batch)",
                       description="Raw items from JSON-lines files (replay, backfill) through the same "
                                   "transforms as the streaming job.")
    p.add_argument("--input", required=True, help="glob of raw-item JSON-lines files")
    p.add_argument("--warehouse", required=True, help="DuckDB file to write (created if missing)")
    _add_logging_options(p)
    p.set_defaults(func=_cmd_process, pipeline_dests=add_pipeline_options(p, skip=_NOT_FOR_COMMANDS))

    c = sub.add_parser("check", help="validate a feeds file (and with --fetch, that every feed answers)")
    c.add_argument("--feeds", required=True, help="feeds YAML file (see feeds.example.yaml)")
    c.add_argument("--fetch", action="store_true",
                   help="also fetch and parse every feed once (nothing is published or recorded)")
    c.add_argument("--serve", default=None, metavar="DIR",
                   help="serve DIR over local HTTP and substitute its address for {serve} in feed URLs")
    c.set_defaults(func=_cmd_check)

    r = sub.add_parser("run", help="poll feeds into Pub/Sub and stream them into the warehouse",
                       hints=_RUN_HINTS)
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
    r.add_argument("--metrics-port", type=int, default=None, metavar="N",
                   help="serve Prometheus metrics on http://ADDRESS:N/metrics (0: any free port)")
    r.add_argument("--metrics-address", default="127.0.0.1", metavar="ADDRESS",
                   help="address the metrics port listens on (default 127.0.0.1; 0.0.0.0 in a container)")
    _add_logging_options(r)
    r.set_defaults(func=_cmd_run, pipeline_dests=add_pipeline_options(r, skip=_NOT_FOR_COMMANDS))

    st = sub.add_parser("status", help="feed health: last success, last error, failures, next poll, items",
                        description="Per feed: last success, last error and its class, consecutive "
                                    "failures, next poll, items received, dead letters and guid "
                                    "problems; from the pollers' state file, and from the running "
                                    "newswire run when there is one.")
    st.add_argument("--warehouse", required=True, help="DuckDB file of the run")
    st.add_argument("--state", default=None, help="poller state file (default: WAREHOUSE.pollers.sqlite)")
    st.add_argument("--json", action="store_true", help="print the report as JSON")
    st.add_argument("--fail-unhealthy", action="store_true",
                    help="exit 1 when a feed is failing (for health checks)")
    st.set_defaults(func=_cmd_status)

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

    q = sub.add_parser("query", help="run SQL against a warehouse file",
                       hints={"": "quote the SQL as one argument"})
    q.add_argument("--warehouse", required=True, help="DuckDB file")
    q.add_argument("sql", help="SQL to run (read-only); quote it as one argument")
    q.add_argument("--format", choices=("table", "csv", "json", "ndjson", "parquet"), default="table",
                   help="table (default, for the terminal), csv, json (one array), ndjson (one object "
                        "a line) or parquet (needs --output)")
    q.add_argument("--output", "-o", default=None, metavar="FILE",
                   help="write to FILE (replaced whole once complete) instead of stdout")
    q.set_defaults(func=_cmd_query)

    x = sub.add_parser("export", help="write articles as IPTC ninjs documents, or any table as ndjson/parquet",
                       description="--format ninjs: the latest version of each article as an IPTC ninjs "
                                   "2.2 document (validated against IPTC's JSON Schema), one a line, or "
                                   "one file each when --output is a directory. --format ndjson|parquet: "
                                   "the rows of --table. Works while newswire run is writing.")
    x.add_argument("--warehouse", required=True, help="DuckDB file")
    x.add_argument("--format", choices=("ninjs", "ndjson", "parquet"), required=True)
    x.add_argument("--table", default=None,
                   help="table or view for ndjson/parquet (default articles): articles, stories, raw_items, "
                        "dead_letter, learned_boilerplate, articles_latest, stories_current, *_unique")
    x.add_argument("--where", default=None, metavar="SQL", help="only rows for which this SQL condition holds")
    x.add_argument("--limit", type=int, default=None, help="at most this many rows")
    x.add_argument("--all-versions", action="store_true",
                   help="ninjs: every version of each article, not only the latest")
    x.add_argument("--output", "-o", default=None, metavar="FILE|DIR",
                   help="file to write (ninjs: or a directory for one file per document); default stdout")
    x.set_defaults(func=_cmd_export)
    return parser


# Mistakes a user can fix: they get their message on one line and exit status 2, no traceback.
from .export import ExportError  # noqa: E402 - light, and named here with the other user errors

USER_ERRORS = (UsageError, OptionError, ExportError, FeedsFileError, StateError, WarehouseError, PubSubUnreachable,
               QueryError, duckdb.Error, FileNotFoundError, IsADirectoryError, NotADirectoryError,
               PermissionError)


def _one_line(text: str) -> str:
    """A message's first paragraph on one line (DuckDB adds the SQL with a caret after a blank line)."""
    lines = []
    for line in str(text).strip().splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    return " ".join(lines)


def _error(message: str) -> None:
    errors.print(Text.assemble(("error:", "red"), " ", message))


def _report(exc: BaseException) -> None:
    if isinstance(exc, FeedsFileError):
        for line in exc.located():
            _error(line)
    elif isinstance(exc, UsageError):
        errors.print(str(exc))
    else:
        _error(_one_line(str(exc)) or type(exc).__name__)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = make_parser().parse_args(argv)
        from .logs import configure  # noqa: PLC0415

        configure(verbose=args.verbose, fmt=getattr(args, "log_format", "text"))
        return args.func(args, [])
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except USER_ERRORS as exc:
        if debug:
            raise
        _report(exc)
        return EXIT_USAGE


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
