"""The example queries of docs/downstream.md, run against the BigQuery emulator on rows written by
the BigQuery sink (stories included, which the pipeline does not emit yet)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from google.cloud import bigquery

from pipeline.runners import BATCH_RUNNER
from pipeline.sinks.bigquery import WriteToBigQueryTable
from pipeline.specs import WarehouseSpec
from schemas import ARTICLES, DEAD_LETTER, LEARNED_BOILERPLATE, STORIES, WAREHOUSE_TABLES
from schemas.views import unique_view_name, unique_view_sql
from transforms.errors import ParseError, dead_letter_row


pytestmark = [pytest.mark.bigquery, pytest.mark.integration]

DOC = Path(__file__).resolve().parents[2] / "docs" / "downstream.md"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
TODAY = NOW.replace(hour=0, minute=0, second=0)
EARLIER_TODAY = TODAY + (NOW - TODAY) / 2  # today, and not in the future, whenever the test runs


def _doc_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)


def _article(article_id, version, *, agency, feed, published, processed, cluster=None, title=None):
    row = {name: None for name in ARTICLES.field_names()}
    row.update(
        article_id=article_id, version=version, content_hash=f"{article_id}-{version}", id_source="guid",
        cluster_id=cluster, agency=agency, title=title or f"{article_id} v{version}",
        body="A fictional paragraph.", word_count=3, tags=[], images=[], removed_rules=[],
        published_at=published, published_from_fetch=False, withdrawn=False, feed_id=feed,
        message_id=f"m-{article_id}-{version}", fetched_at=published, processed_at=processed,
        schema_version=1, url=f"https://news.example/{article_id}")
    return row


def _story(cluster, outlets, first_seen, updated):
    return {"cluster_id": cluster, "canonical_article_id": f"{cluster}-a", "agency": "xinhua",
            "title": f"Story {cluster}", "first_seen": first_seen, "last_seen": updated,
            "outlet_count": len(outlets), "feed_ids": outlets, "article_ids": [f"{cluster}-{f}" for f in outlets],
            "updated_at": updated, "schema_version": 1}


ARTICLE_ROWS = [
    # Story c1 carried by three feeds today, c2 by one; c3 was yesterday.
    _article("c1-f1", 1, agency="xinhua", feed="f1", published=NOW - timedelta(minutes=10),
             processed=NOW - timedelta(minutes=9), cluster="c1"),
    _article("c1-f2", 1, agency="xinhua", feed="f2", published=EARLIER_TODAY,
             processed=EARLIER_TODAY, cluster="c1"),
    _article("c1-f3", 1, agency="xinhua", feed="f3", published=EARLIER_TODAY,
             processed=EARLIER_TODAY, cluster="c1"),
    _article("c2-f1", 1, agency="ap", feed="f1", published=EARLIER_TODAY, processed=EARLIER_TODAY, cluster="c2"),
    _article("c3-f1", 1, agency="xinhua", feed="f1", published=TODAY - timedelta(hours=5),
             processed=TODAY - timedelta(hours=5), cluster="c3"),
    # A correction of c1-f1, processed a few minutes after the first version.
    _article("c1-f1", 2, agency="xinhua", feed="f1", published=NOW - timedelta(minutes=10),
             processed=NOW - timedelta(minutes=2), cluster="c1", title="c1-f1 corrected"),
]
STORY_ROWS = [
    _story("c1", ["f1", "f2"], EARLIER_TODAY, EARLIER_TODAY),
    _story("c1", ["f1", "f2", "f3"], EARLIER_TODAY, NOW - timedelta(minutes=5)),  # a later snapshot
    _story("c2", ["f1"], EARLIER_TODAY, EARLIER_TODAY),
    _story("c3", ["f1"], TODAY - timedelta(hours=5), TODAY - timedelta(hours=5)),
]
def _learned(feed, line, items, updated, *, learned=True):
    return {"feed_id": feed, "line_key": line.lower().replace(" ", ""), "line": line, "learned": learned,
            "items": items, "share": 0.9, "days": 3, "stories": 5, "first_seen": TODAY - timedelta(days=3),
            "last_seen": updated, "updated_at": updated, "schema_version": 1}


LEARNED_ROWS = [
    _learned("f1", "Support island news", 40, EARLIER_TODAY),
    _learned("f1", "Support island news", 55, NOW - timedelta(minutes=5)),  # a later snapshot
    _learned("f1", "Share this story", 25, EARLIER_TODAY),
    _learned("f2", "Old banner", 30, EARLIER_TODAY, learned=False),  # no longer learned
]
DEAD_ROWS = [
    dead_letter_row(step="parse", error=ParseError("payload is not valid JSON"), payload=b"{", message_id="d1"),
    dead_letter_row(step="parse", error=ParseError("missing required field 'entry'"), payload=b"{}",
                    message_id="d2"),
    dead_letter_row(step="write_articles", error=ValueError("invalid at title"), payload=b"{}", message_id="d3"),
]


@pytest.fixture
def warehouse(bq_dataset, bqemu_client):
    project, dataset = bq_dataset
    spec = WarehouseSpec("bigquery", project=project, dataset=dataset)
    with beam.Pipeline(options=PipelineOptions(runner=BATCH_RUNNER)) as p:
        for table, rows in ((ARTICLES, ARTICLE_ROWS), (STORIES, STORY_ROWS), (DEAD_LETTER, DEAD_ROWS),
                            (LEARNED_BOILERPLATE, LEARNED_ROWS)):
            _ = (p | f"Create_{table.name}" >> beam.Create(rows)
                 | f"Write_{table.name}" >> WriteToBigQueryTable(spec, table))
    for table in WAREHOUSE_TABLES:
        if table.name == "raw_items":
            bqemu_client.create_table(bigquery.Table(f"{project}.{dataset}.raw_items"), exists_ok=True)
        view = bigquery.Table(f"{project}.{dataset}.{unique_view_name(table)}")
        view.view_query = unique_view_sql(table, project, dataset)
        bqemu_client.create_table(view)
    return project, dataset


def _query(client, sql: str, project: str, dataset: str) -> list[dict]:
    sql = sql.replace("my-project.newswire", f"{project}.{dataset}")
    return [dict(r) for r in client.query(sql).result()]


def test_the_guide_has_the_promised_queries():
    assert len(_doc_queries()) == 6


def test_stories_snapshots_are_written_and_the_view_keeps_the_latest(warehouse, bqemu_client):
    project, dataset = warehouse
    raw = _query(bqemu_client, "SELECT cluster_id FROM `my-project.newswire.stories`", project, dataset)
    assert len(raw) == 4  # both snapshots of c1 were written, not de-duplicated away
    latest = _query(bqemu_client, "SELECT cluster_id, outlet_count FROM `my-project.newswire.stories_unique` "
                                  "ORDER BY cluster_id", project, dataset)
    assert [(r["cluster_id"], r["outlet_count"]) for r in latest] == [("c1", 3), ("c2", 1), ("c3", 1)]


def test_todays_top_stories(warehouse, bqemu_client):
    rows = _query(bqemu_client, _doc_queries()[0], *warehouse)
    assert [(r["cluster_id"], r["outlet_count"]) for r in rows] == [("c1", 3), ("c2", 1)]


def test_todays_top_stories_from_articles(warehouse, bqemu_client):
    rows = _query(bqemu_client, _doc_queries()[1], *warehouse)
    assert [(r["cluster_id"], r["outlets"]) for r in rows] == [("c1", 3), ("c2", 1)]


def test_agency_output_per_hour(warehouse, bqemu_client):
    rows = _query(bqemu_client, _doc_queries()[2], *warehouse)
    expected: dict[datetime, int] = {}
    for a in ARTICLE_ROWS:
        if (a["agency"] == "xinhua" and a["version"] == 1
                and a["published_at"] >= NOW - timedelta(days=2)):
            hour = a["published_at"].replace(minute=0, second=0, microsecond=0)
            expected[hour] = expected.get(hour, 0) + 1
    assert {r["hour"]: r["articles"] for r in rows} == expected
    assert sum(expected.values()) == 4


def test_corrections_in_the_last_day(warehouse, bqemu_client):
    rows = _query(bqemu_client, _doc_queries()[3], *warehouse)
    assert [(r["article_id"], r["version"], r["title"], r["previous_title"]) for r in rows] == [
        ("c1-f1", 2, "c1-f1 corrected", "c1-f1 v1")]


def test_failures_by_step(warehouse, bqemu_client):
    rows = _query(bqemu_client, _doc_queries()[4], *warehouse)
    assert [(r["step"], r["error_class"], r["failures"]) for r in rows] == [
        ("parse", "ParseError", 2), ("write_articles", "ValueError", 1)]


def test_learned_boilerplate_per_feed(warehouse, bqemu_client):
    rows = _query(bqemu_client, _doc_queries()[5], *warehouse)
    assert [(r["feed_id"], r["line"], r["items"]) for r in rows] == [
        ("f1", "Support island news", 55), ("f1", "Share this story", 25)]
