import duckdb
import pytest

from schemas import (
    ARTICLES, RAW_ITEM, WAREHOUSE_TABLES, Field, arrow_schema, beam_row_type, bigquery_schema,
    duckdb_ddl,
)


@pytest.mark.parametrize("table", WAREHOUSE_TABLES, ids=lambda t: t.name)
def test_generated_schemas_agree_on_fields_and_modes(table):
    bq = bigquery_schema(table)
    conn = duckdb.connect(":memory:")
    conn.execute(duckdb_ddl(table))
    described = conn.execute(f'DESCRIBE "{table.name}"').fetchall()
    arrow = arrow_schema(table)
    row_type = beam_row_type(table)

    names = table.field_names()
    assert [f["name"] for f in bq] == names
    assert [d[0] for d in described] == names
    assert arrow.names == names
    assert list(row_type._fields) == names
    for f, b, d in zip(table.fields, bq, described):
        assert b["mode"] == f.mode
        assert (d[2] == "NO") == (f.mode == "REQUIRED"), f.name  # DuckDB's null column
        assert arrow.field(f.name).nullable == (f.mode != "REQUIRED")
        assert d[1].endswith("[]") == (f.mode == "REPEATED"), f.name


def test_nested_records_are_generated_everywhere():
    images = ARTICLES.get("images")
    bq = {f["name"]: f for f in bigquery_schema(ARTICLES)}["images"]
    assert bq["type"] == "RECORD" and bq["mode"] == "REPEATED"
    assert [s["name"] for s in bq["fields"]] == [s.name for s in images.fields]
    assert arrow_schema(ARTICLES).field("images").type.value_type.names == ["url", "caption", "credit"]
    assert "STRUCT" in duckdb_ddl(ARTICLES)


def test_primary_keys_name_real_fields():
    for table in WAREHOUSE_TABLES:
        assert set(table.primary_key) <= set(table.field_names())
        assert table.partition_field is None or table.get(table.partition_field).type == "TIMESTAMP"


def test_raw_item_declares_the_message_contract():
    entry = RAW_ITEM.get("entry")
    assert {f.name for f in entry.fields} >= {"id", "link", "title", "summary", "content", "published", "media"}
    assert RAW_ITEM.get("fetched_at").mode == "REQUIRED"
    # Optional, so messages written before it existed stay valid (absent means the guid identifies).
    flag = next(f for f in entry.fields if f.name == "guid_is_identity")
    assert (flag.type, flag.mode) == ("BOOL", "NULLABLE")


def test_record_field_requires_subfields():
    with pytest.raises(ValueError):
        Field("x", "RECORD")
