"""Syndication: the copies of one wire story across outlets, grouped into clusters and stories.

``fingerprint_body`` turns a clean body into a MinHash fingerprint whose ``band_keys`` find
candidates and whose pairs are verified (``verify_pair``, ``verify_many``) by ``MatchThresholds``;
``StoryClusterer`` finds the verified matches (its ``MatchIndex``) and groups them into stories
(its ``ClusterGraph``); ``StoryTracker`` (a streaming job's story graph) and ``cluster_batch`` (a
whole batch) decide each article's cluster and the ``stories`` rows it changes; ``with_cluster``
puts a decision on its unit.

The Beam wrapper is in ``transforms.syndication.dofns``: ``Cluster`` (streaming on Dataflow: steps
keyed by band, by article and one key for the story graph; the local graph: one key for the match
index and one for the story graph; batch: all articles at once).
"""

from .clustering import (
    DEFAULT_MAX_BUCKET,
    DEFAULT_TTL,
    ClusterGraph,
    ClusterUpdate,
    MatchIndex,
    Merge,
    Story,
    StoryArticle,
    StoryClusterer,
    single_story,
)
from .fingerprint import (
    DEFAULT_LSH,
    DEFAULT_THRESHOLDS,
    Fingerprint,
    FingerprintStack,
    LSHParams,
    MatchThresholds,
    PairScore,
    agency_code,
    anchor_keys,
    lead_keys,
    lead_match,
    title_code,
    band_keys,
    estimate_containment,
    estimate_jaccard,
    fingerprint_bodies,
    fingerprint_body,
    match_rule,
    score_pair,
    signature_bound,
    tokenize,
    verify_many,
    sample_match,
    verify_pair,
    verify_rows,
    word_shingles,
)
from .stories import (
    DEFAULT_TICK,
    Assignment,
    ClusterConfig,
    ClusterInput,
    StoryTracker,
    batch_matches,
    cluster_batch,
    cluster_input,
    story_article,
    story_row,
    with_cluster,
)

__all__ = [
    "DEFAULT_LSH",
    "DEFAULT_MAX_BUCKET",
    "DEFAULT_THRESHOLDS",
    "DEFAULT_TICK",
    "DEFAULT_TTL",
    "Assignment",
    "ClusterConfig",
    "ClusterGraph",
    "ClusterInput",
    "ClusterUpdate",
    "MatchIndex",
    "Fingerprint",
    "FingerprintStack",
    "LSHParams",
    "MatchThresholds",
    "Merge",
    "PairScore",
    "Story",
    "StoryArticle",
    "StoryClusterer",
    "StoryTracker",
    "agency_code",
    "anchor_keys",
    "lead_keys",
    "lead_match",
    "title_code",
    "band_keys",
    "batch_matches",
    "cluster_batch",
    "cluster_input",
    "estimate_containment",
    "estimate_jaccard",
    "fingerprint_bodies",
    "fingerprint_body",
    "match_rule",
    "sample_match",
    "score_pair",
    "signature_bound",
    "single_story",
    "story_article",
    "story_row",
    "tokenize",
    "verify_many",
    "verify_pair",
    "verify_rows",
    "with_cluster",
    "word_shingles",
]
