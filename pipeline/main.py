"""Job entry point: ``python -m pipeline.main --input ... --warehouse ... [--runner ...]``.

This is what a Dataflow launch (or Flex Template) runs; locally it picks the DirectRunner's engines
(see ``pipeline.runners``) and waits for the job, while a Dataflow launch returns once submitted.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TestOptions

from .build import build_pipeline
from .cliparse import StrictParser, UsageError, option_declarations, suggest, unknown_arguments_message
from .cliparse import beam_option_names, unknown_beam_arguments
from .options import NewswireOptions, resolve_template_aliases
from .runners import BATCH_RUNNER, STREAMING_RUNNER, local_runner
from .specs import OptionError, parse_input, parse_warehouse
from .streaming import StreamingJob


PROG = "python -m pipeline.main"


def help_parser() -> StrictParser:
    """The pipeline's own options with their help (Beam's parser has no --help)."""
    parser = StrictParser(
        prog=PROG, description="The newswire job: raw items from files or Pub/Sub, through cleaning, "
                               "de-duplication and clustering, into DuckDB or BigQuery.",
        epilog="Beam's own options are taken too: --runner (DirectRunner, DataflowRunner, ...), "
               "--project, --region, --temp_location, --staging_location, --streaming, "
               "--num_workers, --max_num_workers, --setup_file and the others of Beam's pipeline "
               "options. Any other option is an error.")
    for args, kwargs in option_declarations(NewswireOptions):
        parser.add_argument(*args, **kwargs)
    return parser


def check_arguments(argv: list[str]) -> None:
    """Refuse options no Beam options class knows (Beam itself only logs and drops them).

    On Dataflow the launcher may add options of its own, so there an unknown option is refused only
    when it is close to a known one (a typo); the others are left to Beam, which logs them.
    """
    if any(a in ("-h", "--help") for a in argv):
        help_parser().print_help()
        raise SystemExit(0)
    help_parser().parse_known_args(argv)  # a bad value of a newswire option: one line, not Beam's usage
    unknown = [a for a in unknown_beam_arguments(argv) if a.startswith("-")]
    if not unknown:
        return
    known = beam_option_names()
    runner = PipelineOptions(argv).view_as(StandardOptions).runner or ""
    if "dataflow" in str(runner).lower():
        unknown = [a for a in unknown if suggest(a.split("=", 1)[0], known)]
        if not unknown:
            return
    raise UsageError(f"{PROG}: {unknown_arguments_message(unknown, known)} (see {PROG} --help)")


def run(argv: list[str] | None = None):
    check_arguments(list(argv or []))
    options = PipelineOptions(argv)
    std = options.view_as(StandardOptions)
    nw = options.view_as(NewswireOptions)
    resolve_template_aliases(nw)
    streaming = parse_input(nw.input or "", check_files=False).streaming
    std.runner = local_runner(std.runner, streaming=streaming)
    warehouse = parse_warehouse(nw.warehouse or "")
    if warehouse.kind == "bigquery" and not options.view_as(TestOptions).dry_run:
        from .sinks.bigquery_client import check_dataset  # noqa: PLC0415 - cloud-only dependency

        check_dataset(warehouse.project, warehouse.dataset)
    if std.runner == STREAMING_RUNNER and warehouse.kind == "duckdb":
        return _run_local_streaming(options)
    result = build_pipeline(options).run()
    if std.runner == BATCH_RUNNER:
        result.wait_until_finish()
    return result


def _run_local_streaming(options: PipelineOptions):
    """Run until SIGINT/SIGTERM; recovery makes a kill at any point safe."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    job = StreamingJob(options).start()
    try:
        stop.wait()
    finally:
        job.stop()
    return job.result


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    try:
        run(sys.argv[1:])
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except OptionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
