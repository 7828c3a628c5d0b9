"""``newswire query --format`` and ``newswire export`` against a real ``newswire run --until-idle`` on
the bundled feeds, and while a job is writing; the ninjs documents validated by IPTC's schema."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pyarrow.parquet as pq
import pytest
from jsonschema import Draft202012Validator

from pipeline.export import NINJS_SCHEMA_PATH

from .cli_support import LiveRun, cli, sample_site, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHARED_SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "standards" / "ninjs-schema_2.2.json"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    feeds = sample_site(root, broken=False)
    wh = root / "w.duckdb"
    proc = cli("run", "--feeds", str(feeds), "--serve", str(root / "site"), "--warehouse", str(wh), "--until-idle",
               timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return wh


SQL = "SELECT article_id, title, tags, images, published_at, word_count FROM articles ORDER BY article_id"


def test_query_formats(warehouse, tmp_path):
    as_csv = cli("query", "--warehouse", str(warehouse), "--format", "csv", SQL)
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == 11 and rows[0]["published_at"].endswith("Z")
    assert isinstance(json.loads(rows[0]["tags"]), list)  # lists as JSON text

    as_json = json.loads(cli("query", "--warehouse", str(warehouse), "--format", "json", SQL).stdout)
    as_ndjson = [json.loads(ln) for ln in
                 cli("query", "--warehouse", str(warehouse), "--format", "ndjson", SQL).stdout.splitlines()]
    assert as_json == as_ndjson and len(as_json) == 11
    assert [r["article_id"] for r in as_json] == [r["article_id"] for r in rows]

    out = tmp_path / "a.parquet"
    proc = cli("query", "--warehouse", str(warehouse), "--format", "parquet", "--output", str(out), SQL)
    assert proc.returncode == 0 and "11 rows written" in proc.stderr
    table = pq.read_table(out)
    assert table.num_rows == 11 and str(table.schema.field("published_at").type).startswith("timestamp")
    assert str(table.schema.field("tags").type).startswith("list")


def _check_ninjs(docs: list[dict]) -> None:
    schema = json.loads(NINJS_SCHEMA_PATH.read_text())
    if SHARED_SCHEMA.exists():  # the copy in the repository is IPTC's file, unchanged
        assert schema == json.loads(SHARED_SCHEMA.read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for doc in docs:
        errors = sorted(validator.iter_errors(doc), key=str)
        assert not errors, (doc["uri"], [e.message for e in errors])
        # The formats jsonschema checks only with optional packages, checked here directly.
        for key in ("firstcreated", "versioncreated", "contentcreated"):
            datetime.fromisoformat(doc[key].replace("Z", "+00:00"))
        assert urlsplit(doc["uri"]).scheme == "urn"
        for r in doc.get("renditions", []):
            assert urlsplit(r["href"]).scheme in ("http", "https")


def test_export_ninjs_documents_validate_against_iptc_schema(warehouse, tmp_path):
    out = tmp_path / "articles.ninjs.jsonl"
    proc = cli("export", "--warehouse", str(warehouse), "--format", "ninjs", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    docs = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert len(docs) == 11 and "11 documents written" in proc.stderr
    _check_ninjs(docs)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        article_id, title, body, agency = conn.execute(
            "SELECT article_id, title, body, agency FROM articles_latest WHERE agency = 'xinhua' "
            "ORDER BY article_id LIMIT 1").fetchone()
    doc = next(d for d in docs if d["uri"] == f"urn:newswire:article:{article_id}")
    assert doc["headlines"][0]["value"] == title and doc["bodies"][0]["value"] == body and doc["bodies"][0]["contenttype"] == "text/plain"
    assert {"name": agency, "role": "originator"} in doc["infosources"]
    assert doc["standard"]["version"] == "2.2" and doc["type"] == "text" and doc["pubstatus"] == "usable"

    per_file = tmp_path / "docs"
    per_file.mkdir()
    assert cli("export", "--warehouse", str(warehouse), "--format", "ninjs", "--output", str(per_file)).returncode == 0
    files = sorted(per_file.glob("*.json"))
    assert len(files) == 11
    _check_ninjs([json.loads(f.read_text()) for f in files])


def test_export_any_table_as_ndjson_or_parquet(warehouse, tmp_path):
    proc = cli("export", "--warehouse", str(warehouse), "--format", "ndjson", "--table", "stories_current")
    assert proc.returncode == 0, proc.stderr
    stories = [json.loads(ln) for ln in proc.stdout.splitlines()]
    assert stories and all("cluster_id" in s for s in stories)
    out = tmp_path / "raw.parquet"
    assert cli("export", "--warehouse", str(warehouse), "--format", "parquet", "--table", "raw_items",
               "--output", str(out)).returncode == 0
    assert pq.read_table(out).num_rows == 11
    bad = cli("export", "--warehouse", str(warehouse), "--format", "ndjson", "--table", "storys")
    assert bad.returncode == 2 and "did you mean 'stories'?" in bad.stderr


def test_query_and_export_work_while_the_job_runs(tmp_path):
    feeds = sample_site(tmp_path, broken=False)
    wh = tmp_path / "w.duckdb"
    with LiveRun("--feeds", str(feeds), "--serve", str(tmp_path / "site"), "--warehouse", str(wh)) as run:
        def eleven():
            got = cli("query", "--warehouse", str(wh), "--format", "ndjson", "SELECT count(*) AS n FROM articles")
            return got.returncode == 0 and json.loads(got.stdout)["n"] == 11
        wait_for(eleven)
        assert Path(f"{wh}.query.json").exists()  # answered by the job, not the file
        out = tmp_path / "live.parquet"
        proc = cli("query", "--warehouse", str(wh), "--format", "parquet", "--output", str(out), SQL)
        assert proc.returncode == 0, proc.stderr
        table = pq.read_table(out)
        assert table.num_rows == 11 and str(table.schema.field("published_at").type).startswith("timestamp")
        ninjs = cli("export", "--warehouse", str(wh), "--format", "ninjs")
        assert ninjs.returncode == 0, ninjs.stderr
        _check_ninjs([json.loads(ln) for ln in ninjs.stdout.splitlines()])
        copy = cli("query", "--warehouse", str(wh), f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'")
        assert copy.returncode == 2 and "--format" in copy.stderr and "--output" in copy.stderr
    assert run.returncode == 0, run.output[-3000:]
