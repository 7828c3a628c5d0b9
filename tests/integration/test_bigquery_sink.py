"""The batch pipeline against the BigQuery emulator (bqemulator's REST API), rows read back with
google-cloud-bigquery.

What bqemulator 1.4.0 cannot do, and what is tested instead:
- it ignores insertIds (no de-duplication), so a re-run doubles the base tables there; the tests
  check that a re-run sends exactly the same insertIds (through a recording proxy) and that the
  ``<table>_unique`` views give the rows of one run;
- it does not enforce REQUIRED columns on insertAll, so rejected rows are produced by values the
  column type cannot hold (a table whose schema drifted from the pipeline's).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import orjson
import pytest
from apache_beam.metrics.metric import MetricsFilter
from google.cloud import bigquery

from pipeline.main import run
from pipeline.specs import OptionError
from pipeline.sinks.bigquery_rows import insert_id, to_bigquery_row
from schemas import ARTICLES, DEAD_LETTER, LEARNED_BOILERPLATE, RAW_ITEMS, WAREHOUSE_TABLES, bigquery_schema
from schemas.views import unique_view_name, unique_view_sql
from tests.factories import write_jsonl
from tests.learned_support import FEED, FOOTER, site_items

from .recording_proxy import RecordingProxy

pytestmark = [pytest.mark.bigquery, pytest.mark.integration]

_STORIES = [
    ("harbour", "Harbour authority opens a second ferry terminal",
     ["The new terminal in the fictional port of Calder Bay will handle four ferries a day.",
      "Officials said the first crossings are planned for the spring."]),
    ("orchard", "Growers report an early apple harvest in the valley",
     ["Farmers in the imaginary Lindvale valley began picking two weeks ahead of schedule.",
      "A cooperative spokesperson credited a mild, dry summer."]),
    ("library", "City library extends its evening hours",
     ["The central library of Westmere, a made-up town, will stay open until ten at night.",
      "The change follows a survey of more than three thousand readers."]),
]


def _raw_item(slug: str, title: str, paragraphs: list[str]) -> bytes:
    return orjson.dumps({
        "schema_version": 1,
        "feed_id": "calder-news",
        "feed_url": "https://news.calder.example/rss.xml",
        "agency_hint": "xinhua",
        "fetched_at": "2024-05-06T08:30:00Z",
        "http": {"etag": None, "last_modified": None, "status": 200},
        "entry": {
            "id": f"calder-{slug}-2024",
            "link": f"https://news.calder.example/{slug}?utm_source=rss",
            "title": title,
            "summary": paragraphs[0],
            "content": [{"type": "text/html", "value": "".join(f"<p>{p}</p>" for p in paragraphs)}],
            "published": "Mon, 06 May 2024 07:45:00 +0000",
            "updated": None, "author": None, "tags": ["regional"], "media": [],
        },
        "page_html": None,
    })


@pytest.fixture
def raw_file(tmp_path: Path) -> Path:
    lines = [_raw_item(*s) for s in _STORIES]
    lines.append(_raw_item(*_STORIES[0]))  # exact duplicate: dropped by the pipeline
    lines.append(b'{"schema_version": 1, "feed_id": "calder-news", "entry": ')  # malformed
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _run(raw_file: Path, project: str, dataset: str):
    result = run(["--input", str(raw_file), "--warehouse", f"bigquery://{project}/{dataset}",
                  "--runner", "DirectRunner"])
    result.wait_until_finish()
    return result


def _rows(client: bigquery.Client, sql: str) -> list[dict]:
    return [dict(r) for r in client.query(sql).result()]


def _counter(result, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_name(name))["counters"]
    return sum(c.committed or 0 for c in found)


def test_batch_pipeline_writes_articles_raw_items_and_dead_letter(bq_dataset, bqemu_client, raw_file):
    project, dataset = bq_dataset
    _run(raw_file, project, dataset)

    articles = _rows(bqemu_client, f"SELECT * FROM `{project}.{dataset}.articles` ORDER BY title")
    assert [a["title"] for a in articles] == sorted(s[1] for s in _STORIES)
    first = articles[0]
    assert first["version"] == 1 and first["agency"] == "xinhua"
    assert first["body"].split("\n") == _STORIES[2][2]  # "City library ..." sorts first
    assert first["published_at"].isoformat() == "2024-05-06T07:45:00+00:00"
    assert first["tags"] == ["regional"]
    assert first["url"] == "https://news.calder.example/library"

    raw = _rows(bqemu_client, f"SELECT message_id, feed_id, fetched_at FROM `{project}.{dataset}.raw_items`")
    assert len(raw) == 5  # every message, duplicate and malformed included
    assert {r["message_id"] for r in raw} == {f"file://{raw_file}#L{n}" for n in range(1, 6)}

    dead = _rows(bqemu_client, f"SELECT * FROM `{project}.{dataset}.dead_letter`")
    assert len(dead) == 1
    assert dead[0]["step"] == "parse" and dead[0]["error_class"] == "ParseError"
    assert dead[0]["message_id"] == f"file://{raw_file}#L5"
    assert dead[0]["payload"].startswith('{"schema_version": 1')


def test_tables_are_created_from_generated_schemas(bq_dataset, bqemu_client, raw_file):
    project, dataset = bq_dataset
    _run(raw_file, project, dataset)
    for table in (ARTICLES, RAW_ITEMS, DEAD_LETTER):
        created = bqemu_client.get_table(f"{project}.{dataset}.{table.name}")
        got = [(f.name, f.field_type, f.mode) for f in created.schema]
        want = [(f["name"], f["type"], f["mode"]) for f in bigquery_schema(table)]
        # The REST API may report legacy type names for the standard ones.
        aliases = {"INTEGER": "INT64", "BOOLEAN": "BOOL", "FLOAT": "FLOAT64"}
        assert [(n, aliases.get(t, t), m) for n, t, m in got] == want, table.name
        assert created.time_partitioning.type_ == "DAY"
        assert created.time_partitioning.field == table.partition_field
        assert created.clustering_fields == list(table.clustering)


def test_rerun_sends_the_same_insert_ids_and_unique_views_hold_one_copy(
        bq_dataset, bqemu_client, bqemu_server, raw_file, monkeypatch):
    project, dataset = bq_dataset
    with RecordingProxy(f"127.0.0.1:{bqemu_server.rest_port}") as proxy:
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.address)
        _run(raw_file, project, dataset)
        first = {t.name: proxy.insert_ids(t.name) for t in (ARTICLES, RAW_ITEMS, DEAD_LETTER)}
        proxy.clear()
        _run(raw_file, project, dataset)
        second = {t.name: proxy.insert_ids(t.name) for t in (ARTICLES, RAW_ITEMS, DEAD_LETTER)}

    assert {k: len(v) for k, v in first.items()} == {"articles": 3, "raw_items": 5, "dead_letter": 1}
    for name, ids in first.items():
        # The file's exact duplicate line names the same content, so it repeats its raw_items id.
        repeats = 1 if name == "raw_items" else 0
        assert len(set(ids)) == len(ids) - repeats, f"{name}: insert ids must name distinct rows"
        assert sorted(second[name]) == sorted(ids), f"{name}: a re-run must send the same insert ids"

    # The ids are the ones derived from each row's primary key.
    stored = _rows(bqemu_client, f"SELECT * FROM `{project}.{dataset}.articles`")
    expected = {insert_id(ARTICLES, to_bigquery_row(ARTICLES, row)) for row in stored}
    assert expected == set(first["articles"])

    for table in (ARTICLES, RAW_ITEMS, DEAD_LETTER):
        view = bigquery.Table(f"{project}.{dataset}.{unique_view_name(table)}")
        view.view_query = unique_view_sql(table, project, dataset)
        bqemu_client.create_table(view)
        unique = _rows(bqemu_client, f"SELECT COUNT(*) AS n FROM `{project}.{dataset}.{view.table_id}`")
        assert unique[0]["n"] == len(set(first[table.name])), table.name


def test_rows_the_table_rejects_land_in_dead_letter_with_the_error(bq_dataset, bqemu_client, raw_file):
    project, dataset = bq_dataset
    # A table whose schema drifted from the pipeline's: `title` became INT64, so every article is refused.
    drifted = [bigquery.SchemaField.from_api_repr({**f, "type": "INT64"} if f["name"] == "title" else f)
               for f in bigquery_schema(ARTICLES)]
    bqemu_client.create_table(bigquery.Table(f"{project}.{dataset}.articles", schema=drifted))

    result = _run(raw_file, project, dataset)

    assert _rows(bqemu_client, f"SELECT * FROM `{project}.{dataset}.articles`") == []
    dead = _rows(bqemu_client, f"SELECT * FROM `{project}.{dataset}.dead_letter` WHERE step = 'write_articles'")
    assert len(dead) == 3
    assert {d["error_class"] for d in dead} == {"BigQueryRowRejected"}
    assert all(d["error_message"].startswith("invalid") for d in dead), dead[0]["error_message"]
    assert all(json.loads(d["attributes"] if isinstance(d["attributes"], str) else json.dumps(d["attributes"]))
               == {"table": "articles"} for d in dead)
    # The payload is the refused row itself, ready to fix and replay.
    titles = sorted(json.loads(d["payload"])["title"] for d in dead)
    assert titles == sorted(s[1] for s in _STORIES)
    assert {d["message_id"] for d in dead} == {f"file://{raw_file}#L{n}" for n in (1, 2, 3)}
    assert _counter(result, "articles_rejected") == 3
    # The pipeline's own dead letter still arrives next to them.
    assert len(_rows(bqemu_client, f"SELECT 1 FROM `{project}.{dataset}.dead_letter` WHERE step = 'parse'")) == 1


def test_rejected_dead_letters_are_logged_and_counted_not_looped(bq_dataset, bqemu_client, raw_file, caplog):
    project, dataset = bq_dataset
    drifted = [bigquery.SchemaField.from_api_repr({**f, "type": "INT64"} if f["name"] == "payload" else f)
               for f in bigquery_schema(DEAD_LETTER)]
    bqemu_client.create_table(bigquery.Table(f"{project}.{dataset}.dead_letter", schema=drifted))

    with caplog.at_level(logging.ERROR, logger="pipeline.sinks.bigquery"):
        result = _run(raw_file, project, dataset)

    assert _counter(result, "dead_letter_rejected") == 1
    assert _rows(bqemu_client, f"SELECT * FROM `{project}.{dataset}.dead_letter`") == []
    logged = [r.getMessage() for r in caplog.records if "dead_letter row rejected" in r.getMessage()]
    assert len(logged) == 1 and '"schema_version": 1, "feed_id": "calder-news"' in logged[0]
    # The rest of the job was unaffected.
    assert len(_rows(bqemu_client, f"SELECT 1 FROM `{project}.{dataset}.articles`")) == 3


def test_every_warehouse_table_has_a_primary_key_for_insert_ids():
    for table in WAREHOUSE_TABLES:
        assert table.primary_key, table.name


def test_a_missing_dataset_is_refused_before_the_job_starts(bqemu_server, raw_file):
    with pytest.raises(OptionError, match=r"dataset not found.*deploy/terraform"):
        _run(raw_file, "test-project", "no_such_dataset")


def test_learned_boilerplate_snapshots_stream_in_and_the_unique_view_holds_the_latest(
        bq_dataset, bqemu_client, tmp_path):
    project, dataset = bq_dataset
    write_jsonl(tmp_path / "site.jsonl", site_items())
    result = run(["--input", str(tmp_path / "site.jsonl"), "--warehouse", f"bigquery://{project}/{dataset}",
                  "--runner", "DirectRunner", "--learn_min_items=6", "--learn_min_days=2",
                  "--learn_min_stories=3", "--learn_min_share=0.5", "--learn_quick_min_items=0"])
    result.wait_until_finish()

    snapshots = _rows(bqemu_client, f"SELECT * FROM `{project}.{dataset}.learned_boilerplate`")
    assert len(snapshots) > 1 and {(r["feed_id"], r["line"]) for r in snapshots} == {(FEED, FOOTER)}
    view = bigquery.Table(f"{project}.{dataset}.{unique_view_name(LEARNED_BOILERPLATE)}")
    view.view_query = unique_view_sql(LEARNED_BOILERPLATE, project, dataset)
    bqemu_client.create_table(view)
    [current] = _rows(bqemu_client, f"SELECT * FROM `{project}.{dataset}.{view.table_id}`")
    assert (current["items"], current["learned"], current["share"]) == (30, True, 1.0)
    articles = _rows(bqemu_client, f"SELECT body FROM `{project}.{dataset}.articles`")
    # The main tier alone: five items teach the footer, the sixth makes it learned and loses it too.
    assert sum(FOOTER in a["body"].split("\n") for a in articles) == 5 and len(articles) == 30
