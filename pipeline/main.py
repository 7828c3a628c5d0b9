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
from .options import NewswireOptions
from .runners import BATCH_RUNNER, STREAMING_RUNNER, local_runner
from .specs import OptionError, parse_input, parse_warehouse
from .streaming import StreamingJob


def run(argv: list[str] | None = None):
    options = PipelineOptions(argv)
    std = options.view_as(StandardOptions)
    nw = options.view_as(NewswireOptions)
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
    except OptionError as exc:
        logging.getLogger("newswire").error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
