"""Runs the syndication quality check (floors: precision >= 0.98, recall >= 0.95) under pytest."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.quality.check_syndication import PRECISION_FLOOR, RECALL_FLOOR, evaluate, main
from tests.quality.syndication_corpus import load_corpus


def test_quality_check_passes_its_floors(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "pairwise precision" in out and "pairwise recall" in out


def test_default_thresholds_meet_the_floors_in_any_arrival_order():
    report = evaluate()
    assert report.precision >= PRECISION_FLOOR, report.false_merges
    assert report.recall >= RECALL_FLOOR, report.missed
    assert report.order_independent


def test_quality_check_fails_when_thresholds_let_look_alikes_merge(capsys):
    # Loose enough that template briefs and follow-ups merge: the check must notice.
    loose = ["--jaccard", "0.2", "--containment", "0.4", "--short-words", "8", "--short-jaccard", "0.2"]
    assert main(loose) == 1
    assert "false merge" in capsys.readouterr().out


def test_corpus_covers_what_the_check_claims():
    items = load_corpus()
    groups = Counter(item.group for item in items)
    assert set(groups) == {
        "syndicated",
        "syndicated_no_original",
        "same_event",
        "follow_up",
        "short_syndicated",
        "short_same_topic",
        "short_distinct",
    }
    syndicated = {item.story for item in items if item.group == "syndicated"}
    copies = Counter(item.story for item in items if item.group == "syndicated" and item.derived_from)
    assert len(syndicated) >= 12 and max(copies.values()) == 5
    long_items = [item for item in items if not item.group.startswith("short")]
    assert all(150 <= item.word_count <= 700 for item in long_items)
    assert all(20 <= item.word_count < 80 for item in items if item.group.startswith("short"))
    trimmed = [item for item in items if "drop_last" in item.edits]
    assert any(item.kept_share is not None and item.kept_share <= 0.72 for item in trimmed)


def test_corpus_loader_refuses_an_edit_that_does_nothing(tmp_path):
    path = tmp_path / "corpus.yaml"
    path.write_text(
        """
epoch: "2024-03-04T00:00:00Z"
groups: {syndicated: copies}
stories:
- story: s
  group: syndicated
  items:
  - {id: a, feed: f, minutes: 0, title: t, body: "One paragraph of text."}
  - {id: b, feed: g, minutes: 1, title: t, from: a, edits: [{replace: {"absent words": ""}}]}
""",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="absent words"):
        load_corpus(path)
