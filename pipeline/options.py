"""Pipeline options: every IO choice is an option, so the whole job runs from files in tests."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.learning import LearnConfig
from transforms.syndication import DEFAULT_THRESHOLDS, ClusterConfig, MatchThresholds

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
    "sample_containment": "share of the shorter body's shingle sample found in the longer one's at which "
                          "a copy joins whatever the length ratio (trimmed copies, new ledes, inserted lines)",
    "sample_order": "share of the shared sample that must come in the same order in both bodies",
    "sample_gate": "estimated containment from which a pair gets the exact sample check",
    "min_shared_shingles": "shingles the two bodies must share (estimated from the sample) for the "
                           "sample rule",
    "teaser_words": "a body this long but shorter than short_words (a teaser) can join a long body "
                    "by the sample rule with the teaser_* thresholds",
    "teaser_containment": "share of a teaser's sample that must be inside the long body's",
    "teaser_shingles": "shingles a teaser must share with the long body",
    "brief_containment": "share of the shorter body's sample that must be inside the longer one's when "
                         "both are shorter than short_words (a brief and its trimmed copy)",
    "brief_gate": "estimated containment two bodies shorter than short_words need for brief_containment "
                  "to join them",
    "passage_share": "share of the shorter body's sample that one passage shared word for word by both "
                     "bodies must cover to join them (rewritten ledes, chrome left in one copy)",
    "passage_shingles": "shingles that passage must hold (estimated from the sample)",
    "lead_containment": "share of a teaser's 3-grams (a body of one or two sentences, all of it in its lead) "
                        "that must be inside the longer body's opening, in order, to join it",
    "lead_shingles": "3-grams a teaser must share with the longer body's opening for the lead rule",
    "lead_titled_shingles": "3-grams that suffice for the lead rule when both copies have the same headline",
}

# --learn_<name> for the LearnConfig fields a user tunes, with their meaning (transforms.learning).
_LEARN_HELP = {
    "min_items": "items of a source that must carry a line before it is learned",
    "min_days": "distinct publication days a line must be seen on (one day's story never suffices)",
    "min_stories": "distinct stories (headlines) a line must be seen in; copies of one story count once",
    "min_share": "share of the source's items since the line first appeared that must carry it "
                 "(site furniture is on nearly every item, a story's quote on few)",
    "max_lines": "lines tracked per source at most (the state bound; about 0.7 KB of state per line)",
    "window_days": "a line unseen for this many days is forgotten (and unlearned); a source silent "
                   "that long has its state dropped",
    "max_line_chars": "paragraphs longer than this are body text, never boilerplate candidates",
    "quick_min_items": "quick tier: items of unrelated stories that must carry a short edge line before it "
                       "is learned (0 turns the tier off)",
    "quick_edge": "quick tier: paragraphs at each end of an item (first and last) that it counts",
    "quick_max_chars": "quick tier: edge paragraphs longer than this are never its candidates",
    "quick_max_lines": "quick tier: edge lines tracked per source at most (its state bound)",
    "quick_related": "quick tier: two headlines sharing at least this share of the shorter one's words are one "
                     "story, whose items count once (a developing story's repeated background stays)",
}
_LEARN_DEFAULTS = LearnConfig()


def _flag(value: str) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


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
        # The names Google's Pub/Sub-to-BigQuery templates give these, for a Flex Template launch.
        parser.add_argument(
            "--inputSubscription", default=None,
            help="The Pub/Sub subscription to read, as Google's templates name it: "
                 "projects/PROJECT/subscriptions/NAME. The same as --input pubsub://projects/...")
        parser.add_argument(
            "--outputTableSpec", default=None,
            help="The articles table, as Google's templates name a table: PROJECT:DATASET.articles. "
                 "The other tables (stories, raw_items, learned_boilerplate, dead_letter) are written "
                 "beside it in DATASET. The same as --warehouse bigquery://PROJECT/DATASET.")
        parser.add_argument(
            "--outputDeadletterTable", default=None,
            help="Where dead letters (inputs that failed, and rows BigQuery refused) go: "
                 "PROJECT:DATASET.TABLE, created if missing. Default: the dead_letter table of the "
                 "output dataset.")
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
            "--learn_boilerplate", type=_flag, default=True,
            help="Learn lines that repeat across many items of one source as that source's "
                 "boilerplate and remove them (true/false). Default true. What was learned is in "
                 "the learned_boilerplate table ('newswire learned').")
        for name, text in _LEARN_HELP.items():
            default = getattr(_LEARN_DEFAULTS, name)
            parser.add_argument(
                f"--learn_{name}", type=type(default), default=default,
                help=f"Learned boilerplate: {text}. Default {default}.")
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


def learn_config(opts: NewswireOptions) -> LearnConfig | None:
    """The learned-boilerplate configuration, or None when learning is off; ValueError says which
    option is out of range."""
    if not opts.learn_boilerplate:
        return None
    try:
        return LearnConfig(**{name: getattr(opts, f"learn_{name}") for name in _LEARN_HELP})
    except ValueError as exc:
        raise ValueError(f"--learn_* options: {exc}") from exc


# Google's template parameter names, which newswire takes beside its own --input and --warehouse.
TEMPLATE_ALIASES = ("inputSubscription", "outputTableSpec", "outputDeadletterTable")


def resolve_template_aliases(opts: NewswireOptions) -> None:
    """Fill --input and --warehouse from Google's parameter names (``inputSubscription``,
    ``outputTableSpec``, ``outputDeadletterTable``); OptionError when the two spellings disagree."""
    from .specs import OptionError, parse_table_spec  # noqa: PLC0415

    if opts.inputSubscription:
        value = f"pubsub://{opts.inputSubscription.removeprefix('pubsub://')}"
        if opts.input and opts.input != value:
            raise OptionError(f"--inputSubscription {opts.inputSubscription!r} and --input {opts.input!r} "
                              "disagree: give one of them")
        opts.input = value
    warehouse = opts.warehouse
    if opts.outputTableSpec:
        table = parse_table_spec(opts.outputTableSpec, "--outputTableSpec")
        if table.table != "articles":
            raise OptionError(f"--outputTableSpec {opts.outputTableSpec!r}: name the articles table "
                              f"({table.project}:{table.dataset}.articles); newswire writes its other "
                              "tables beside it")
        value = f"bigquery://{table.project}/{table.dataset}"
        if warehouse and warehouse.split("?", 1)[0] != value:
            raise OptionError(f"--outputTableSpec {opts.outputTableSpec!r} and --warehouse {warehouse!r} "
                              "disagree: give one of them")
        warehouse = warehouse or value
    if opts.outputDeadletterTable:
        table = parse_table_spec(opts.outputDeadletterTable, "--outputDeadletterTable")
        if not warehouse or not warehouse.startswith("bigquery://"):
            raise OptionError("--outputDeadletterTable is for a BigQuery warehouse (--outputTableSpec or "
                              "--warehouse bigquery://...)")
        warehouse = f"{warehouse.split('?', 1)[0]}?dead_letter_table={table}"
    opts.warehouse = warehouse
