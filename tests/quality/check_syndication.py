"""Quality check of syndication clustering on the fixture corpus.

Clusters tests/fixtures/syndication/corpus.yaml with :class:`transforms.syndication.StoryClusterer`
and compares the result with the corpus's story labels pair by pair:

- precision: of the item pairs put in one cluster, the share that carry the same story;
- recall: of the item pairs that carry the same story, the share put in one cluster.

It clusters the items in time order and again in a shuffled arrival order; both must give the
same clusters with the same ids. Exits 1 below the floors (precision >= 0.98, recall >= 0.95) or
if arrival order changed anything.

    python -m tests.quality.check_syndication            # the check CI runs
    python -m tests.quality.check_syndication --sweep    # precision/recall across thresholds
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields

from tests.quality.syndication_corpus import CorpusItem, load_corpus
from transforms.syndication import (
    DEFAULT_THRESHOLDS,
    Fingerprint,
    MatchThresholds,
    PairScore,
    StoryArticle,
    StoryClusterer,
    fingerprint_body,
    match_rule,
    score_pair,
    verify_pair,
)

PRECISION_FLOOR = 0.98
RECALL_FLOOR = 0.95


@dataclass(frozen=True)
class QualityReport:
    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int
    false_merges: tuple[tuple[str, str], ...]
    missed: tuple[tuple[str, str], ...]
    clusters: dict[str, str]  # article id -> cluster id
    order_independent: bool

    def passes(self, precision_floor: float = PRECISION_FLOOR, recall_floor: float = RECALL_FLOOR) -> bool:
        return self.precision >= precision_floor and self.recall >= recall_floor and self.order_independent


def cluster_items(
    items: Sequence[CorpusItem],
    fingerprints: dict[str, Fingerprint],
    thresholds: MatchThresholds,
) -> dict[str, str]:
    """Feed ``items`` in the given order; returns each article's final cluster id."""
    clusterer = StoryClusterer(thresholds=thresholds)
    for item in items:
        clusterer.add(
            StoryArticle(
                article_id=item.article_id,
                first_seen=item.first_seen,
                feed_id=item.feed_id,
                agency=item.agency,
                is_agency_copy=item.is_agency_copy,
                title=item.title,
            ),
            fingerprints[item.article_id],
        )
    return {item.article_id: clusterer.cluster_of(item.article_id) for item in items}


def pairwise_scores(items: Sequence[CorpusItem], clusters: dict[str, str]) -> tuple[float, float, list, list, int, int]:
    true_pairs = predicted_pairs = hits = 0
    false_merges, missed = [], []
    for a, b in itertools.combinations(sorted(items, key=lambda i: i.article_id), 2):
        same_story = a.story == b.story
        same_cluster = clusters[a.article_id] == clusters[b.article_id]
        true_pairs += same_story
        predicted_pairs += same_cluster
        hits += same_story and same_cluster
        if same_cluster and not same_story:
            false_merges.append((a.article_id, b.article_id))
        if same_story and not same_cluster:
            missed.append((a.article_id, b.article_id))
    precision = hits / predicted_pairs if predicted_pairs else 1.0
    recall = hits / true_pairs if true_pairs else 1.0
    return precision, recall, false_merges, missed, true_pairs, predicted_pairs


def evaluate(
    items: Sequence[CorpusItem] | None = None,
    thresholds: MatchThresholds = DEFAULT_THRESHOLDS,
    shuffle_seed: int = 7,
) -> QualityReport:
    """Cluster the corpus in time order and in a shuffled order and score the time-ordered run."""
    items = list(load_corpus() if items is None else items)
    fingerprints = {item.article_id: fingerprint_body(item.body) for item in items}
    in_time_order = sorted(items, key=lambda i: (i.first_seen, i.article_id))
    clusters = cluster_items(in_time_order, fingerprints, thresholds)
    shuffled = list(items)
    random.Random(shuffle_seed).shuffle(shuffled)
    order_independent = cluster_items(shuffled, fingerprints, thresholds) == clusters
    precision, recall, false_merges, missed, true_pairs, predicted_pairs = pairwise_scores(items, clusters)
    return QualityReport(
        precision=precision,
        recall=recall,
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        false_merges=tuple(false_merges),
        missed=tuple(missed),
        clusters=clusters,
        order_independent=order_independent,
    )


@dataclass(frozen=True)
class PairDiagnostics:
    """How same-story pairs are accepted directly, and how close different stories come."""

    accepted_by: dict[str, int]  # rule name (or "none": joined only through other copies) -> pairs
    closest_long: tuple[PairScore, str, str] | None  # highest-Jaccard different-story pair, long texts
    closest_short: tuple[PairScore, str, str] | None  # same among pairs with a short text


def pair_diagnostics(items: Sequence[CorpusItem], thresholds: MatchThresholds = DEFAULT_THRESHOLDS) -> PairDiagnostics:
    fingerprints = {item.article_id: fingerprint_body(item.body) for item in items}
    accepted_by: dict[str, int] = {}
    closest: dict[bool, tuple[PairScore, str, str]] = {}
    for a, b in itertools.combinations(items, 2):
        score = score_pair(fingerprints[a.article_id], fingerprints[b.article_id])
        if a.story == b.story:
            rule = match_rule(score, thresholds) or (
                "sample" if verify_pair(fingerprints[a.article_id], fingerprints[b.article_id], thresholds)
                else "none")
            accepted_by[rule] = accepted_by.get(rule, 0) + 1
            continue
        short = score.shorter_words < thresholds.short_words
        if short not in closest or score.jaccard > closest[short][0].jaccard:
            closest[short] = (score, a.article_id, b.article_id)
    return PairDiagnostics(accepted_by, closest.get(False), closest.get(True))


def _print_report(report: QualityReport, items: Sequence[CorpusItem], thresholds: MatchThresholds) -> None:
    stories = {i.story for i in items}
    print(f"corpus: {len(items)} items, {len(stories)} stories, {report.true_pairs} same-story pairs")
    print(f"thresholds: {thresholds}")
    print(f"clusters found: {len(set(report.clusters.values()))}")
    print(f"pairwise precision: {report.precision:.4f}  (floor {PRECISION_FLOOR})")
    print(f"pairwise recall:    {report.recall:.4f}  (floor {RECALL_FLOOR})")
    print(f"same clusters in shuffled arrival order: {'yes' if report.order_independent else 'NO'}")
    diagnostics = pair_diagnostics(items, thresholds)
    accepted = ", ".join(f"{rule} {n}" for rule, n in sorted(diagnostics.accepted_by.items()))
    print(f"same-story pairs by the rule accepting them directly: {accepted}")
    for label, closest in (("long", diagnostics.closest_long), ("short", diagnostics.closest_short)):
        if closest is not None:
            score, a, b = closest
            print(
                f"closest different-story pair ({label}): {a} ~ {b}: "
                f"jaccard {score.jaccard:.2f}, containment {score.containment:.2f}"
            )
    group = {i.article_id: i.group for i in items}
    for a, b in report.false_merges:
        print(f"  false merge: {a} ({group[a]}) ~ {b} ({group[b]})")
    for a, b in report.missed:
        print(f"  missed:      {a} ({group[a]}) ~ {b} ({group[b]})")


def _sweep(items: Sequence[CorpusItem]) -> None:
    """Vary one threshold at a time around the defaults, to show the margins on this corpus."""
    grid = {
        "jaccard": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
        "containment": [0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0],
        "short_jaccard": [0.2, 0.3, 0.4, 0.5, 0.7, 0.9],
        "short_words": [8, 40, 60, 80, 120, 200],
    }
    base = {f.name: getattr(DEFAULT_THRESHOLDS, f.name) for f in fields(MatchThresholds)}
    print(f"{'parameter':>14} {'value':>6} {'precision':>10} {'recall':>8}")
    for name, values in grid.items():
        for value in values:
            thresholds = MatchThresholds(**{**base, name: value})
            report = evaluate(items, thresholds)
            mark = " <- default" if value == base[name] else ""
            print(f"{name:>14} {value:>6} {report.precision:>10.3f} {report.recall:>8.3f}{mark}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in fields(MatchThresholds):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    parser.add_argument("--sweep", action="store_true", help="print precision/recall across thresholds")
    args = parser.parse_args(argv)
    items = load_corpus()
    if args.sweep:
        _sweep(items)
        return 0
    thresholds = MatchThresholds(**{f.name: getattr(args, f.name) for f in fields(MatchThresholds)})
    report = evaluate(items, thresholds)
    _print_report(report, items, thresholds)
    if not report.passes():
        print("FAIL: below the floors or dependent on arrival order", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
