"""The Terraform table definitions are generated from schemas/, never edited by hand."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from schemas import WAREHOUSE_TABLES, bigquery_schema, duckdb_ddl
from schemas.export import export, render
from schemas.views import unique_view_sql

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "deploy" / "terraform" / "schemas"


@pytest.mark.parametrize("name", sorted(render()))
def test_committed_terraform_schema_files_equal_the_generated(name):
    path = COMMITTED / name
    assert path.exists(), f"{path} missing: run python -m schemas.export deploy/terraform/schemas/"
    assert path.read_text(encoding="utf-8") == render()[name], (
        f"{path} is stale: run python -m schemas.export deploy/terraform/schemas/")


def test_no_stray_files_in_the_terraform_schema_directory():
    on_disk = {str(p.relative_to(COMMITTED)) for p in COMMITTED.rglob("*") if p.is_file()}
    assert on_disk == set(render())


def test_index_names_every_table_with_its_layout():
    index = json.loads(render()["tables.json"])
    assert set(index) == {t.name for t in WAREHOUSE_TABLES}
    for table in WAREHOUSE_TABLES:
        entry = index[table.name]
        assert json.loads(render()[entry["schema_file"]]) == bigquery_schema(table)
        assert entry["partition_field"] == table.partition_field
        assert entry["clustering"] == list(table.clustering)


def test_export_writes_files(tmp_path):
    written = export(tmp_path)
    assert {str(p.relative_to(tmp_path)) for p in written} == set(render())


def test_unique_views_keep_the_last_row_per_key():
    # DuckDB speaks QUALIFY too, so the generated SQL runs here on a table made from the generated
    # DDL (copied without its primary key, to hold the duplicates a replay leaves in BigQuery).
    raw_items = next(t for t in WAREHOUSE_TABLES if t.name == "raw_items")
    con = duckdb.connect()
    con.execute(duckdb_ddl(raw_items))
    con.execute("CREATE TABLE raw_copy AS SELECT * FROM raw_items")
    con.execute("INSERT INTO raw_copy (message_id, received_at, payload) VALUES "
                "('m1', TIMESTAMPTZ '2024-01-01 00:00:00+00', 'old'), "
                "('m1', TIMESTAMPTZ '2024-01-02 00:00:00+00', 'new'), "
                "('m2', TIMESTAMPTZ '2024-01-01 00:00:00+00', 'only')")
    sql = unique_view_sql(raw_items, "p", "d").replace("`p.d.raw_items`", "raw_copy")
    rows = sorted(con.execute(f"SELECT message_id, payload FROM ({sql})").fetchall())
    assert rows == [("m1", "new"), ("m2", "only")]
