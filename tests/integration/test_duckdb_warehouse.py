import hashlib
import json
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from pipeline.sinks.duckdb import DuckDBWarehouse, query_file
from schemas import ARTICLES, DEAD_LETTER, RAW_ITEMS
from tests.factories import raw_item, to_bytes
from transforms.cleaning import clean_item, parse_raw_item
from transforms.errors import ParseError, dead_letter_row
from transforms.identity import article_row
from transforms.model import Unit

T0 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)


def _article(body_extra: str = "", fetched_at: str = "2026-03-02T10:00:00Z") -> dict:
    item = raw_item(fetched_at=fetched_at)
    if body_extra:
        item["entry"]["content"][0]["value"] += f"<p>{body_extra}</p>"
    raw = parse_raw_item(to_bytes(item), {}, f"m-{fetched_at}-{len(body_extra)}")
    return article_row(raw, clean_item(raw), processed_at=T0)


@pytest.fixture
def warehouse(tmp_path):
    wh = DuckDBWarehouse(tmp_path / "wh" / "test.duckdb")
    yield wh
    wh._conn.close()


def test_tables_are_created_in_a_new_directory(warehouse):
    cols, rows = warehouse.query("SELECT table_name FROM information_schema.tables ORDER BY 1")
    assert {r[0] for r in rows} >= {"articles", "raw_items", "dead_letter", "stories"}


def test_same_content_twice_is_one_row_and_a_change_is_version_two(warehouse):
    first = _article()
    assert warehouse.write(ARTICLES, [first, dict(first)]).inserted == 1
    assert warehouse.write(ARTICLES, [first]).skipped == 1
    corrected = _article("The council later corrected the number of crossings.", "2026-03-02T12:00:00Z")
    assert corrected["article_id"] == first["article_id"]
    result = warehouse.write(ARTICLES, [corrected])
    assert result.inserted == 1
    _, rows = warehouse.query("SELECT version, content_hash FROM articles ORDER BY version")
    assert [r[0] for r in rows] == [1, 2]
    assert rows[0][1] != rows[1][1]


def test_versions_within_one_batch_follow_fetch_order(warehouse):
    late = _article("Second edit.", "2026-03-02T14:00:00Z")
    early = _article("First edit.", "2026-03-02T11:00:00Z")
    warehouse.write(ARTICLES, [late, early])
    _, rows = warehouse.query("SELECT version, fetched_at FROM articles ORDER BY version")
    assert rows[0][1] < rows[1][1]


def test_raw_items_and_dead_letters_are_idempotent(warehouse):
    raw_row = {"replay_key": "item:f/k", "message_id": "m1", "feed_id": "f", "item_key": "k", "fetched_at": T0,
               "received_at": T0, "attributes": "{}", "payload": "{}"}
    assert warehouse.write(RAW_ITEMS, [raw_row]).inserted == 1
    assert warehouse.write(RAW_ITEMS, [raw_row]).inserted == 0
    dl = dead_letter_row(step="parse", error=ParseError("bad"), payload=b"\xff\xfe", message_id="m2",
                         failed_at=T0)
    assert dl["payload_encoding"] == "base64"
    assert warehouse.write(DEAD_LETTER, [dl, dict(dl)]).inserted == 1


def test_failed_batch_leaves_nothing_behind(warehouse):
    good = _article()
    bad = {**_article("x", "2026-03-03T00:00:00Z"), "article_id": "other", "title": None}  # NOT NULL
    with pytest.raises(duckdb.ConstraintException):
        warehouse.write(ARTICLES, [good, bad])
    _, rows = warehouse.query("SELECT count(*) FROM articles")
    assert rows[0][0] == 0


def test_query_file_reads_a_closed_warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    wh = DuckDBWarehouse(path)
    wh.write(ARTICLES, [_article()])
    wh._conn.close()
    cols, rows = query_file(path, "SELECT count(*) AS n FROM articles")
    assert cols == ["n"] and rows == [(1,)]
    with pytest.raises(FileNotFoundError):
        query_file(tmp_path / "missing.duckdb", "SELECT 1")


def test_a_replayed_message_is_skipped_whole_even_if_it_now_cleans_differently(warehouse):
    article = _article()
    raw_row = {"replay_key": "item:f/k", "message_id": article["message_id"], "feed_id": "f", "item_key": "k", "fetched_at": T0,
               "received_at": T0, "attributes": "{}", "payload": "{}"}
    unit = Unit(article["message_id"], raw_item=raw_row, article=article, dead_letter=None)
    first = warehouse.write_units([unit])
    assert first["articles"].inserted == 1 and first["raw_items"].inserted == 1
    # The same message again, but its derived article differs (say, a rule learned meanwhile).
    replay = unit._replace(article={**article, "content_hash": "different", "body": "trimmed"})
    again = warehouse.write_units([replay])
    assert again["articles"].inserted == 0 and again["articles"].skipped == 1
    _, rows = warehouse.query("SELECT count(*) FROM articles")
    assert rows == [(1,)]


def _learned_row(items: int, updated: datetime, *, learned: bool = True, first_seen: datetime = T0) -> dict:
    return {"feed_id": "site", "line_key": "sitefooter", "line": "Site footer.", "learned": learned,
            "items": items, "share": 0.9, "days": 3, "stories": 5, "first_seen": first_seen,
            "last_seen": updated, "updated_at": updated, "schema_version": 1}


def _unit(message_id: str, learned_rows: list[dict]) -> Unit:
    raw_row = {"replay_key": f"data:{message_id}", "message_id": message_id, "feed_id": "site", "item_key": None, "fetched_at": T0,
               "received_at": T0, "attributes": "{}", "payload": "{}"}
    return Unit(message_id, raw_item=raw_row, article=None, dead_letter=None, learned=tuple(learned_rows))


def test_learned_rows_are_upserted_latest_snapshot_first_seen_earliest(warehouse):
    later, latest = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    # Bundles can arrive out of order: the newest snapshot wins whichever is written last.
    result = warehouse.write_units([_unit("m2", [_learned_row(30, latest)]),
                                    _unit("m1", [_learned_row(20, later, first_seen=T0 - timedelta(days=1))])])
    assert result["learned_boilerplate"].inserted == 1
    warehouse.write_units([_unit("m0", [_learned_row(10, T0, first_seen=T0 - timedelta(days=2))])])
    _, rows = warehouse.query("SELECT items, learned, updated_at, first_seen FROM learned_boilerplate")
    assert rows == [(30, True, latest, T0 - timedelta(days=2))]
    warehouse.write_units([_unit("m3", [_learned_row(31, latest + timedelta(hours=1), learned=False)])])
    _, rows = warehouse.query("SELECT items, learned FROM learned_boilerplate")
    assert rows == [(31, False)]


def test_a_replayed_message_writes_no_learned_rows(warehouse):
    warehouse.write_units([_unit("m1", [_learned_row(20, T0)])])
    again = warehouse.write_units([_unit("m1", [_learned_row(99, T0 + timedelta(hours=5))])])
    assert again["learned_boilerplate"].inserted == 0
    _, rows = warehouse.query("SELECT items FROM learned_boilerplate")
    assert rows == [(20,)]


def test_a_raw_items_table_keyed_by_message_id_is_rekeyed_by_content(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as conn:  # the table as an older release created it
        conn.execute("CREATE TABLE raw_items (message_id VARCHAR NOT NULL, feed_id VARCHAR, item_key VARCHAR, "
                     "fetched_at TIMESTAMPTZ, received_at TIMESTAMPTZ NOT NULL, attributes VARCHAR, "
                     "payload VARCHAR NOT NULL, PRIMARY KEY (message_id))")
        conn.execute("INSERT INTO raw_items VALUES "
                     "('1', 'f', 'k.1', NULL, TIMESTAMPTZ '2026-03-02 10:00:00+00', '{\"feed_id\":\"f\",\"item_key\":\"k.1\"}', '{}'),"
                     "('2', 'f', 'k.1', NULL, TIMESTAMPTZ '2026-03-02 11:00:00+00', '{\"feed_id\":\"f\",\"item_key\":\"k.1\"}', '{}'),"
                     "('file://a#L1', NULL, NULL, NULL, TIMESTAMPTZ '2026-03-02 10:00:00+00', '{}', 'line')")
    wh = DuckDBWarehouse(path)
    try:
        _, rows = wh.query("SELECT replay_key, message_id FROM raw_items ORDER BY 1")
        assert rows == [("data:" + hashlib.sha256(b"line").hexdigest(), "file://a#L1"), ("item:f/k.1", "1")]
        # And the new key is the table's primary key now.
        row = {"replay_key": "item:f/k.1", "message_id": "9", "feed_id": "f", "item_key": "k.1", "fetched_at": T0,
               "received_at": T0, "attributes": "{}", "payload": "{}"}
        assert wh.write(RAW_ITEMS, [row]).inserted == 0
    finally:
        wh._conn.close()


def test_tables_columns_and_views_carry_their_descriptions_and_match_bigquery(tmp_path):
    """DuckDB has the views BigQuery has (as Terraform makes them), and the descriptions of schemas/."""
    from schemas import WAREHOUSE_TABLES
    from schemas.export import render

    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    tables = dict(wh.query("SELECT table_name, comment FROM duckdb_tables()")[1])
    columns = {(t, c): comment for t, c, comment in wh.query(
        "SELECT table_name, column_name, comment FROM duckdb_columns()")[1]}
    views = dict(wh.query("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal")[1])
    for table in WAREHOUSE_TABLES:
        assert tables[table.name] == table.description
        for f in table.fields:
            assert f.description and columns[(table.name, f.name)] == f.description, (table.name, f.name)
    files = render()
    bigquery_views = ({t["unique_view"] for t in json.loads(files["tables.json"]).values()}
                      | set(json.loads(files["derived_views.json"])))
    assert set(views) == bigquery_views
    assert all(views.values())
    for table in WAREHOUSE_TABLES:  # each _unique view has its table's columns
        cols = wh.query(f'SELECT * FROM "{table.name}_unique" LIMIT 0')[0]
        assert cols == table.field_names()
