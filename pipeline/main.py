"""Job entry point: ``python -m pipeline.main --input ... --warehouse ... [--runner ...]``.

This is what a Dataflow launch (or Flex Template) runs; locally it picks the DirectRunner's engines
(see ``pipeline.runners``) and waits for the job, while a Dataflow launch returns once submitted.
"""

from __future__ import annotations

import logging
import sys

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TestOptions

from .build import build_pipeline
from .options import NewswireOptions
from .runners import BATCH_RUNNER, STREAMING_RUNNER, local_runner
from .specs import OptionError, parse_input, parse_warehouse


def run(argv: list[str] | None = None):
    options = PipelineOptions(argv)
    std = options.view_as(StandardOptions)
    streaming = parse_input(options.view_as(NewswireOptions).input, check_files=False).streaming
    std.runner = local_runner(std.runner, streaming=streaming)
    warehouse = parse_warehouse(options.view_as(NewswireOptions).warehouse)
    if warehouse.kind == "bigquery" and not options.view_as(TestOptions).dry_run:
        from .sinks.bigquery_client import check_dataset  # noqa: PLC0415 - cloud-only dependency

        check_dataset(warehouse.project, warehouse.dataset)
    result = build_pipeline(options).run()
    if std.runner in (BATCH_RUNNER, STREAMING_RUNNER):
        result.wait_until_finish()
    return result


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
