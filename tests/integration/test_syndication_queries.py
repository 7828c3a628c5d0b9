"""The queries of docs/syndication.md, run as written on a DuckDB warehouse made by
``newswire process`` and, through the BigQuery sink, on the BigQuery emulator with the derived
views Terraform creates from the generated SQL."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import duckdb
import orjson
import pytest
from google.cloud import bigquery

from pipeline.cli import process
from pipeline.main import run
from schemas.views import DERIVED_VIEWS, derived_view_sql
from tests.quality.syndication_corpus import feed_item, load_corpus

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "syndication.md"
ITEMS = [i for i in load_corpus() if i.story in ("ferry-strike", "ferry-strike-reuters", "port-expansion")]
FERRY = {i.article_id for i in ITEMS if i.story == "ferry-strike"}


def _queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)


def _kill_notice() -> dict:
    dpa = next(i for i in ITEMS if i.article_id == "ferry-dpa")
    notice = feed_item(dpa)
    notice["fetched_at"] = (dpa.first_seen + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    notice["entry"].update(title="KILL: Ferry crews strike in Port Anselm",
                           content=[{"type": "text/html", "value": "<p>This story has been withdrawn.</p>"}])
    return notice


@pytest.fixture(scope="module")
def raw_files(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("syndication-queries")
    first, second = tmp / "day1.jsonl", tmp / "day2.jsonl"
    first.write_bytes(b"".join(orjson.dumps(feed_item(i)) + b"\n" for i in ITEMS))
    second.write_bytes(orjson.dumps(_kill_notice()) + b"\n")
    return first, second


def _check(results: list[list[dict]], ferry_ids: dict[str, str]) -> None:
    latest, stories, copies, withdrawn = results
    assert len(latest) == len(ITEMS) and all(r["cluster_id"] for r in latest)
    assert next(r for r in latest if r["article_id"] == ferry_ids["ferry-dpa"])["withdrawn"]
    assert len(stories) == 3 and stories[0]["outlet_count"] == 5
    assert stories[0]["cluster_id"] == ferry_ids["ferry-dpa"]
    assert len(copies) == len(FERRY)
    assert [r["cluster_id"] for r in withdrawn] == [ferry_ids["ferry-dpa"]]


def test_the_guide_has_the_queries_it_promises():
    assert len(_queries()) == 4


def test_the_queries_on_duckdb(raw_files, tmp_path):
    wh = tmp_path / "w.duckdb"
    process(str(raw_files[0]), str(wh))
    process(str(raw_files[1]), str(wh))
    with duckdb.connect(str(wh), read_only=True) as conn:
        ids = dict(conn.execute("SELECT guid, article_id FROM articles").fetchall())
        results = []
        for sql in _queries():
            cursor = conn.execute(sql.replace("STORY_ID", ids["ferry-dpa"]))
            names = [d[0] for d in cursor.description]
            results.append([dict(zip(names, row)) for row in cursor.fetchall()])
    _check(results, ids)


@pytest.mark.bigquery
def test_the_queries_on_bigquery(raw_files, bq_dataset, bqemu_client):
    project, dataset = bq_dataset
    for path in raw_files:
        run(["--input", str(path), "--warehouse", f"bigquery://{project}/{dataset}",
             "--runner", "DirectRunner"]).wait_until_finish()
    for view in DERIVED_VIEWS:
        table = bigquery.Table(f"{project}.{dataset}.{view.name}")
        table.view_query = derived_view_sql(view, project, dataset)
        bqemu_client.create_table(table)
    config = bigquery.QueryJobConfig(default_dataset=f"{project}.{dataset}")
    ids = {r["guid"]: r["article_id"] for r in bqemu_client.query(
        "SELECT DISTINCT guid, article_id FROM articles", job_config=config).result()}
    results = [[dict(r) for r in bqemu_client.query(sql.replace("STORY_ID", ids["ferry-dpa"]),
                                                     job_config=config).result()]
               for sql in _queries()]
    _check(results, ids)
    # The sink appended one snapshot per story written, and no retired ids (a batch writes final ids).
    stories = list(bqemu_client.query("SELECT cluster_id, merged_into FROM stories", job_config=config).result())
    assert len(stories) == 3 and all(r["merged_into"] is None for r in stories)
