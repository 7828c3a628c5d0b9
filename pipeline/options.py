"""Pipeline options: every IO choice is an option, so the whole job runs from files in tests."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

DEFAULT_DEDUP_TTL_HOURS = 7 * 24


class NewswireOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--input", default=None,
            help="Where raw items come from: a file glob of JSON lines ('raw/*.jsonl'), or "
                 "pubsub://projects/P/subscriptions/S (or .../topics/T) for streaming.")
        parser.add_argument(
            "--warehouse", default=None,
            help="Where rows go: a DuckDB file path (out.duckdb), or bigquery://PROJECT/DATASET.")
        parser.add_argument(
            "--dedup_ttl_hours", type=float, default=DEFAULT_DEDUP_TTL_HOURS,
            help="How long (event time) the pipeline remembers an article's content hashes to drop "
                 "repeats and number corrections. Default 168 (7 days).")
        parser.add_argument(
            "--ledger_subscription", default=None,
            help="Local streaming only: projects/P/subscriptions/S of the durability ledger (see "
                 "pipeline/recovery.py). With it, a restarted pipeline replays what it had pulled "
                 "but not yet written. 'newswire run' sets it.")
