"""Syndication through ``newswire process`` (the Beam batch path) into a real DuckDB file: the
corpus's stories, pairwise quality of ``articles.cluster_id``, the ``stories`` rows, the views,
versions that keep their story, and withdrawal notices."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import duckdb
import orjson
import pytest

from pipeline.cli import process
from tests.quality.check_syndication import PRECISION_FLOOR, RECALL_FLOOR, pairwise_scores
from tests.quality.syndication_corpus import feed_item, load_corpus
from transforms.syndication import story_article

pytestmark = pytest.mark.integration

ITEMS = load_corpus()
BY_ID = {item.article_id: item for item in ITEMS}


def _write(path, payloads) -> None:
    path.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in payloads))


def _rows(wh, sql):
    with duckdb.connect(str(wh), read_only=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def corpus_warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("syndication")
    _write(tmp / "corpus.jsonl", [feed_item(item) for item in ITEMS])
    summary = process(str(tmp / "corpus.jsonl"), str(tmp / "out.duckdb"))
    assert summary.articles_written == len(ITEMS) and summary.dead_letters == 0
    return tmp / "out.duckdb"


def test_cluster_ids_written_by_the_batch_job_meet_the_quality_floors(corpus_warehouse):
    clusters = dict(_rows(corpus_warehouse, "SELECT guid, cluster_id FROM articles"))
    assert set(clusters) == set(BY_ID) and all(clusters.values())
    precision, recall, false_merges, missed, true_pairs, _ = pairwise_scores(ITEMS, clusters)
    print(f"newswire process: pairwise precision {precision:.4f}, recall {recall:.4f} over {true_pairs} pairs")
    assert precision >= PRECISION_FLOOR, false_merges
    assert recall >= RECALL_FLOOR, missed


def test_each_story_is_named_by_its_earliest_article(corpus_warehouse):
    rows = _rows(corpus_warehouse, "SELECT a.guid, a.cluster_id, c.guid FROM articles a "
                                   "JOIN articles c ON c.article_id = a.cluster_id")
    by_label = defaultdict(set)
    for guid, _cluster, root in rows:
        by_label[BY_ID[guid].story].add(root)
    for label, roots in by_label.items():
        members = [i for i in ITEMS if i.story == label]
        earliest = min(members, key=lambda i: (i.first_seen, i.article_id))
        assert roots == {earliest.article_id}, label


def test_one_stories_row_per_story_with_its_outlets_articles_and_canonical_copy(corpus_warehouse):
    articles = _rows(corpus_warehouse, "SELECT article_id, guid, cluster_id, feed_id, agency, title, dateline, "
                                       "fetched_at FROM articles")
    stories = {r[0]: r for r in _rows(corpus_warehouse, "SELECT cluster_id, canonical_article_id, agency, title, "
                                                        "first_seen, last_seen, outlet_count, feed_ids, "
                                                        "article_ids, merged_into FROM stories")}
    members = defaultdict(list)
    for a in articles:
        members[a[2]].append(a)
    assert set(stories) == set(members)  # a batch writes final ids: no retired ids to record
    for cluster_id, group in members.items():
        _, canonical, agency, title, first_seen, last_seen, outlets, feeds, ids, merged_into = stories[cluster_id]
        assert merged_into is None
        assert sorted(ids) == sorted(a[0] for a in group)
        assert sorted(feeds) == sorted({a[3] for a in group}) and outlets == len(feeds)
        assert first_seen == min(a[7] for a in group) and last_seen == max(a[7] for a in group)
        expected = min(group, key=lambda a: (_rank(a), a[7], a[0]))
        assert canonical == expected[0] and title == expected[5]
    ferry = stories[next(a[2] for a in articles if a[1] == "ferry-dpa")]
    assert ferry[1] == next(a[0] for a in articles if a[1] == "ferry-dpa")  # the agency's own copy
    assert (ferry[2], ferry[6]) == ("dpa", 5)


def _rank(article_row) -> int:
    article_id, guid, _cluster, feed, agency, title, dateline, fetched = article_row
    own = BY_ID[guid].agency if BY_ID[guid].is_agency_copy else None
    return story_article({"article_id": article_id, "fetched_at": fetched, "feed_id": feed, "agency": agency,
                          "title": title, "dateline": dateline}, own).canonical_rank


def test_the_views_give_the_latest_versions_and_one_row_per_story(corpus_warehouse):
    assert _rows(corpus_warehouse, "SELECT count(*), count(DISTINCT article_id) FROM articles_latest") == [(85, 85)]
    stories = _rows(corpus_warehouse, "SELECT count(*) FROM stories_current")[0][0]
    assert stories == len({i.story for i in ITEMS})


def test_versions_in_a_later_run_keep_their_story_and_notices_withdraw(tmp_path):
    _write(tmp_path / "day1.jsonl", [feed_item(i) for i in ITEMS if i.story in ("ferry-strike", "port-expansion")])
    wh = tmp_path / "out.duckdb"
    process(str(tmp_path / "day1.jsonl"), str(wh))
    before = dict(_rows(wh, "SELECT guid, cluster_id FROM articles"))
    stories_before = _rows(wh, "SELECT * FROM stories ORDER BY cluster_id")

    later = timedelta(hours=5)
    correction = feed_item(BY_ID["ferry-citywire"])
    correction["fetched_at"] = (BY_ID["ferry-citywire"].first_seen + later).strftime("%Y-%m-%dT%H:%M:%SZ")
    correction["entry"]["content"][0]["value"] += "<p>Correction: the union represents 1,300 staff.</p>"
    kill = feed_item(BY_ID["port-harbour-gazette"])
    kill["fetched_at"] = (BY_ID["port-harbour-gazette"].first_seen + later).strftime("%Y-%m-%dT%H:%M:%SZ")
    kill["entry"].update(title="WITHDRAWN - Port Anselm to double container capacity",
                         content=[{"type": "text/html", "value": "<p>This story has been withdrawn.</p>"}])
    orphan = feed_item(BY_ID["port-citywire"])
    orphan["entry"].update(id="kill-orphan", link="https://citywire-news.example.org/kill-orphan",
                           title="Eds: kill", content=[{"type": "text/html",
                                                        "value": "<p>Eds: Kill the story sent at 0930 GMT.</p>"}])
    _write(tmp_path / "day2.jsonl", [correction, kill, orphan])
    process(str(tmp_path / "day2.jsonl"), str(wh))

    versions = _rows(wh, "SELECT guid, version, cluster_id, withdrawn FROM articles WHERE version > 1 ORDER BY guid")
    assert versions == [("ferry-citywire", 2, before["ferry-citywire"], False),
                        ("port-harbour-gazette", 2, before["port-harbour-gazette"], True)]
    assert _rows(wh, "SELECT withdrawn, cluster_id FROM articles WHERE guid = 'kill-orphan'") == [(True, None)]
    # Neither a version nor a notice changes a story.
    assert _rows(wh, "SELECT * FROM stories ORDER BY cluster_id") == stories_before
    latest = dict(_rows(wh, "SELECT guid, withdrawn FROM articles_latest"))
    assert latest["port-harbour-gazette"] is True and latest["ferry-citywire"] is False


def test_writes_of_a_few_units_at_a_time_leave_the_same_rows(tmp_path, monkeypatch):
    """A batch bundle is written a few thousand units per transaction: cut into transactions of
    three units, with versions, repeats and stories cut apart, the rows are the same."""
    from pipeline.sinks import beam_duckdb

    items = [feed_item(i) for i in ITEMS]
    correction = feed_item(BY_ID["ferry-citywire"])
    correction["fetched_at"] = (BY_ID["ferry-citywire"].first_seen + timedelta(hours=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    correction["entry"]["content"][0]["value"] += "<p>Correction: the union represents 1,300 staff.</p>"
    _write(tmp_path / "in.jsonl", [*items, correction, items[3]])
    stable = ("SELECT article_id, version, cluster_id, content_hash, body FROM articles ORDER BY 1, 2",
              "SELECT cluster_id, canonical_article_id, outlet_count, article_ids, merged_into FROM stories "
              "ORDER BY 1",
              "SELECT replay_key, message_id FROM raw_items ORDER BY 1")
    whole = tmp_path / "whole.duckdb"
    process(str(tmp_path / "in.jsonl"), str(whole))
    monkeypatch.setattr(beam_duckdb, "MAX_UNITS_PER_WRITE", 3)
    pieces = tmp_path / "pieces.duckdb"
    process(str(tmp_path / "in.jsonl"), str(pieces))
    for sql in stable:
        assert _rows(pieces, sql) == _rows(whole, sql), sql
    assert _rows(pieces, "SELECT count(*) FROM articles WHERE version = 2") == [(1,)]
