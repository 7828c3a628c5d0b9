"""The Terraform table definitions are generated from schemas/, never edited by hand."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from schemas import WAREHOUSE_TABLES, bigquery_schema, duckdb_ddl
from schemas.export import export, render
from schemas.views import ARTICLES_LATEST, DERIVED_VIEWS, derived_view_sql, unique_view_sql

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
    con.execute("INSERT INTO raw_copy (replay_key, message_id, received_at, payload) VALUES "
                "('k1', 'm1', TIMESTAMPTZ '2024-01-01 00:00:00+00', 'old'), "
                "('k1', 'm7', TIMESTAMPTZ '2024-01-02 00:00:00+00', 'new'), "
                "('k2', 'm1', TIMESTAMPTZ '2024-01-01 00:00:00+00', 'only')")
    sql = unique_view_sql(raw_items, "p", "d").replace("`p.d.raw_items`", "raw_copy")
    rows = sorted(con.execute(f"SELECT replay_key, payload FROM ({sql})").fetchall())
    # Keyed by what names the content: a message id repeated by a restarted emulator is not a replay.
    assert rows == [("k1", "new"), ("k2", "only")]


def _without_keys(con, table) -> str:
    """A copy of ``table`` made from its generated DDL, without the primary key (BigQuery has none)."""
    con.execute(duckdb_ddl(table))
    con.execute(f"CREATE TABLE {table.name}_copy AS SELECT * FROM {table.name}")
    return f"{table.name}_copy"


def test_derived_views_give_the_latest_version_and_one_row_per_story():
    tables = {t.name: t for t in WAREHOUSE_TABLES}
    con = duckdb.connect()
    articles, stories = _without_keys(con, tables["articles"]), _without_keys(con, tables["stories"])
    con.execute(f"INSERT INTO {articles} (article_id, version, cluster_id, title, processed_at) VALUES "
                "('a', 1, 's', 'first', TIMESTAMPTZ '2024-01-01 00:00:00+00'), "
                "('a', 2, NULL, 'corrected', TIMESTAMPTZ '2024-01-02 00:00:00+00'), "
                "('b', 1, 'b', 'only', TIMESTAMPTZ '2024-01-01 00:00:00+00')")
    con.execute(f"INSERT INTO {stories} (cluster_id, outlet_count, merged_into, updated_at) VALUES "
                "('s', 1, NULL, TIMESTAMPTZ '2024-01-01 00:00:00+00'), "
                "('s', 2, NULL, TIMESTAMPTZ '2024-01-02 00:00:00+00'), "
                "('b', 1, NULL, TIMESTAMPTZ '2024-01-01 00:00:00+00'), "
                "('b', 3, 's', TIMESTAMPTZ '2024-01-03 00:00:00+00')")
    sql = {v.name: derived_view_sql(v, "p", "d").replace("`p.d.articles`", articles)
           .replace("`p.d.stories`", stories) for v in DERIVED_VIEWS}
    latest = con.execute(f"SELECT article_id, version, cluster_id, title FROM ({sql['articles_latest']}) "
                         "ORDER BY 1").fetchall()
    assert latest == [("a", 2, "s", "corrected"), ("b", 1, "b", "only")]
    current = con.execute(f"SELECT cluster_id, outlet_count FROM ({sql['stories_current']})").fetchall()
    assert current == [("s", 2)]  # b's latest snapshot says it was merged into s


def test_articles_latest_gives_an_article_without_agency_its_storys():
    tables = {t.name: t for t in WAREHOUSE_TABLES}
    con = duckdb.connect()
    articles, stories = _without_keys(con, tables["articles"]), _without_keys(con, tables["stories"])
    t = "TIMESTAMPTZ '2024-01-01 00:00:00+00'"
    con.execute(f"INSERT INTO {articles} (article_id, version, cluster_id, agency, processed_at) VALUES "
                f"('own', 1, 's', 'dpa', {t}), ('copy', 1, 's', NULL, {t}), ('other', 1, 's', 'afp', {t}), "
                f"('moved', 1, 'm', NULL, {t}), ('alone', 1, 'x', NULL, {t})")
    con.execute(f"INSERT INTO {stories} (cluster_id, agency, merged_into, updated_at) VALUES "
                f"('s', 'dpa', NULL, {t}), ('m', NULL, NULL, {t}), "
                "('m', 'afp', 's', TIMESTAMPTZ '2024-01-02 00:00:00+00'), ('x', NULL, NULL, {t})".format(t=t))
    sql = derived_view_sql(ARTICLES_LATEST, "p", "d").replace("`p.d.articles`", articles) \
        .replace("`p.d.stories`", stories)
    got = dict(con.execute(f"SELECT article_id, agency FROM ({sql})").fetchall())
    # its own agency stays (even when the story's is another); none of its own: its story's, the
    # story it was merged into first; a story with no agency gives none
    assert got == {"own": "dpa", "copy": "dpa", "other": "afp", "moved": "dpa", "alone": None}
    assert dict(con.execute(f"SELECT article_id, agency FROM {articles}").fetchall())["copy"] is None


def test_derived_views_are_created_by_terraform_from_the_generated_files():
    hcl2 = pytest.importorskip("hcl2")
    tf = hcl2.load((ROOT / "deploy" / "terraform" / "bigquery.tf").open())
    assert any("derived_views.json" in str(local) for local in tf["locals"])
    resources = {name.strip('"'): body for block in tf["resource"] for rtype, named in block.items()
                 for name, body in named.items() if rtype.strip('"') == "google_bigquery_table"}
    views = resources["derived_views"]
    assert "local.derived_views" in str(views["for_each"])
    assert "each.value.view_file" in str(views["view"][0]["query"])
    index = json.loads(render()["derived_views.json"])
    assert set(index) == {v.name for v in DERIVED_VIEWS}
