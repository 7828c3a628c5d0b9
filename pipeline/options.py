"""Pipeline options: every IO choice is an option, so the whole job runs from files in tests."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.fingerprint import DEFAULT_THRESHOLDS, MatchThresholds
from transforms.stories import ClusterConfig

DEFAULT_DEDUP_TTL_HOURS = 7 * 24
DEFAULT_CLUSTER_TTL_HOURS = 72

# --match_<name> for every MatchThresholds field, with its meaning.
_THRESHOLD_HELP = {
    "jaccard": "estimated Jaccard similarity at which two bodies are copies of one story",
    "containment": "share of the shorter body found in the longer one at which a trimmed copy joins",
    "min_length_ratio": "the containment rule applies only if the shorter body has at least this "
                        "share of the longer one's shingles",
    "short_words": "bodies shorter than this many words need the stricter short_jaccard",
    "short_jaccard": "Jaccard needed when the shorter body is short (briefs written from templates)",
    "min_words": "bodies shorter than this never join a story",
}


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
            "--cluster_ttl_hours", type=float, default=DEFAULT_CLUSTER_TTL_HOURS,
            help="How long (event time after an article was fetched) it can still be matched by a "
                 "later copy. Default 72: outlets republish a wire story within hours, weekend "
                 "editions and aggregators within two to three days; later matches are more often "
                 "follow-ups reusing background than copies, and state grows with the window.")
        for f in fields(MatchThresholds):
            default = getattr(DEFAULT_THRESHOLDS, f.name)
            parser.add_argument(
                f"--match_{f.name}", type=type(default), default=default,
                help=f"Clustering: {_THRESHOLD_HELP[f.name]}. Default {default}.")
        parser.add_argument(
            "--ledger_subscription", default=None,
            help="Local streaming only: projects/P/subscriptions/S of the durability ledger (see "
                 "pipeline/recovery.py). With it, a restarted pipeline replays what it had pulled "
                 "but not yet written. 'newswire run' sets it.")


def cluster_config(opts: NewswireOptions) -> ClusterConfig:
    """The cluster stage's configuration; ValueError says which option is out of range."""
    try:
        thresholds = MatchThresholds(**{f.name: getattr(opts, f"match_{f.name}") for f in fields(MatchThresholds)})
    except ValueError as exc:
        raise ValueError(f"--match_* options: {exc}") from exc
    if not opts.cluster_ttl_hours or opts.cluster_ttl_hours <= 0:
        raise ValueError(f"--cluster_ttl_hours must be positive, got {opts.cluster_ttl_hours}")
    return ClusterConfig(thresholds=thresholds, ttl=timedelta(hours=opts.cluster_ttl_hours))
