"""The DuckDB sink's side of syndication: story snapshots merged in the units' transaction,
versions keeping their story, the derived views, and a warehouse file from an older release."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from pipeline.sinks.duckdb import DuckDBWarehouse
from schemas import SCHEMA_VERSION, STORIES, duckdb_ddl
from transforms.model import Unit

T0 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)

pytestmark = pytest.mark.integration


@pytest.fixture
def warehouse(tmp_path):
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    yield wh
    wh._conn.close()


def _article(article_id: str, *, cluster: str | None, content: str = "v1", minutes: int = 0,
             withdrawn: bool = False) -> dict:
    return {
        "article_id": article_id, "version": 1, "content_hash": f"{article_id}-{content}", "id_source": "guid",
        "cluster_id": cluster, "agency": "ap", "title": f"{article_id} {content}", "standfirst": None,
        "body": f"Body of {article_id}, {content}.", "dateline": None, "dateline_place": None, "byline": None,
        "language": "en", "word_count": 4, "url": None, "link": None, "guid": article_id, "tags": [],
        "images": [], "published_at": T0, "published_raw": None, "published_from_fetch": False,
        "updated_at": None, "withdrawn": withdrawn, "removed_rules": [], "feed_id": f"feed-{article_id}",
        "message_id": f"m-{article_id}-{content}", "fetched_at": T0 + timedelta(minutes=minutes),
        "processed_at": T0, "schema_version": SCHEMA_VERSION,
    }


def _story(cluster: str, articles: list[str], *, at: int, canonical: str | None = None,
           merged_into: str | None = None) -> dict:
    return {"cluster_id": cluster, "canonical_article_id": canonical or articles[0], "agency": "ap",
            "title": f"Title of {canonical or articles[0]}", "first_seen": T0, "last_seen": T0 + timedelta(minutes=at),
            "outlet_count": len(articles), "feed_ids": [f"feed-{a}" for a in articles],
            "article_ids": articles, "updated_at": T0 + timedelta(seconds=at), "schema_version": SCHEMA_VERSION,
            "merged_into": merged_into, "outlets": [f"site-{a}.example" for a in articles]}


def _unit(article: dict, stories: list[dict] = ()) -> Unit:
    raw = {"replay_key": "data:" + article["message_id"], "message_id": article["message_id"],
           "feed_id": article["feed_id"], "item_key": None,
           "fetched_at": article["fetched_at"], "received_at": T0, "attributes": "{}", "payload": "{}"}
    return Unit(article["message_id"], raw_item=raw, article=article, dead_letter=None, stories=tuple(stories))


def _stories(wh) -> dict[str, tuple]:
    _, rows = wh.query("SELECT cluster_id, canonical_article_id, outlet_count, article_ids, merged_into, "
                       "updated_at FROM stories")
    return {r[0]: r[1:] for r in rows}


def test_stories_are_written_with_their_units_and_only_grow(warehouse):
    result = warehouse.write_units([_unit(_article("a", cluster="a"), [_story("a", ["a"], at=1)]),
                                    _unit(_article("b", cluster="a"), [_story("a", ["a", "b"], at=2)])])
    assert result["stories"].inserted == 1 and result["stories"].skipped == 1  # the older snapshot
    assert _stories(warehouse)["a"][:3] == ("a", 2, ["a", "b"])
    # An older snapshot written late (bundles out of order) adds what it knows and changes nothing else.
    warehouse.write_units([_unit(_article("c", cluster="a"), [_story("a", ["a", "c"], at=0, canonical="c")])])
    canonical, outlets, ids, merged_into, updated_at = _stories(warehouse)["a"]
    assert (canonical, outlets, ids, merged_into) == ("a", 3, ["a", "b", "c"], None)
    assert updated_at == T0 + timedelta(seconds=2)


def test_a_merge_is_recorded_on_the_retired_id_and_stays(warehouse):
    warehouse.write_units([_unit(_article("x", cluster="x"), [_story("x", ["x"], at=1)]),
                           _unit(_article("y", cluster="y"), [_story("y", ["y"], at=2)])])
    warehouse.write_units([_unit(_article("z", cluster="x"), [
        _story("x", ["x", "y", "z"], at=3), _story("y", ["x", "y", "z"], at=3, canonical="x", merged_into="x")])])
    assert _stories(warehouse)["y"][3] == "x"
    # A job restarted without its state may later call y a story of its own again: still merged.
    warehouse.write_units([_unit(_article("w", cluster="y"), [_story("y", ["y", "w"], at=9)])])
    assert _stories(warehouse)["y"][3] == "x"
    _, current = warehouse.query("SELECT cluster_id FROM stories_current ORDER BY 1")
    assert current == [("x",)]


def test_a_new_version_keeps_the_story_its_article_was_first_written_with(warehouse):
    warehouse.write_units([_unit(_article("a", cluster="s1"), [_story("s1", ["a"], at=1)])])
    # A later run that does not know article a clusters its correction afresh: neither its cluster
    # id nor the story it computed is taken.
    fresh_story = _story("a", ["a"], at=5)
    warehouse.write_units([_unit(_article("a", cluster="a", content="v2", minutes=30), [fresh_story])])
    _, rows = warehouse.query("SELECT version, cluster_id FROM articles ORDER BY version")
    assert rows == [(1, "s1"), (2, "s1")]
    assert set(_stories(warehouse)) == {"s1"}
    _, latest = warehouse.query("SELECT version, title FROM articles_latest")
    assert latest == [(2, "a v2")]


def test_a_replayed_message_writes_no_story(warehouse):
    unit = _unit(_article("a", cluster="a"), [_story("a", ["a"], at=1)])
    warehouse.write_units([unit])
    replay = unit._replace(stories=(_story("a", ["a", "ghost"], at=7),))
    assert warehouse.write_units([replay])["stories"].inserted == 0
    assert _stories(warehouse)["a"][2] == ["a"]


def test_a_file_from_an_older_release_gets_the_new_optional_columns(tmp_path):
    path = tmp_path / "old.duckdb"
    old_stories = replace(STORIES, fields=tuple(f for f in STORIES.fields if f.name != "merged_into"))
    with duckdb.connect(str(path)) as conn:
        conn.execute(duckdb_ddl(old_stories))
    wh = DuckDBWarehouse(path)
    try:
        _, cols = wh.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'stories'")
        assert ("merged_into",) in cols
        wh.write_units([_unit(_article("a", cluster="a"), [_story("a", ["a"], at=1)])])
        assert _stories(wh)["a"][3] is None
    finally:
        wh._conn.close()


def test_a_file_lacking_a_required_column_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "other.duckdb"
    odd = replace(STORIES, fields=tuple(f for f in STORIES.fields if f.name != "outlet_count"))
    with duckdb.connect(str(path)) as conn:
        conn.execute(duckdb_ddl(odd))
    with pytest.raises(RuntimeError, match="lacks the required column 'outlet_count'.*new file"):
        DuckDBWarehouse(path)


def test_a_file_from_before_outlets_gets_them_from_its_urls_and_its_stories_count_outlets(tmp_path):
    from schemas import ARTICLES, RAW_ITEMS

    path = tmp_path / "before-outlets.duckdb"
    old_articles = replace(ARTICLES, fields=tuple(f for f in ARTICLES.fields if f.name != "outlet"))
    old_stories = replace(STORIES, fields=tuple(f for f in STORIES.fields if f.name != "outlets"))
    links = {"a": "https://www.gazette.example.co.uk/world/1", "b": "https://sport.gazette.example.co.uk/2",
             "c": None}
    with duckdb.connect(str(path)) as conn:
        for table in (old_articles, old_stories, RAW_ITEMS):
            conn.execute(duckdb_ddl(table))
        for aid, link in links.items():
            row = _article(aid, cluster="a")
            conn.execute("INSERT INTO articles (article_id, version, content_hash, id_source, title, body, "
                         "word_count, link, published_at, published_from_fetch, withdrawn, feed_id, message_id, "
                         "fetched_at, processed_at, schema_version) VALUES (?, 1, ?, 'guid', ?, ?, 4, ?, ?, "
                         "false, false, ?, ?, ?, ?, 1)",
                         [aid, row["content_hash"], row["title"], row["body"], link, T0, row["feed_id"],
                          row["message_id"], T0, T0])
        # c has no link: its outlet comes from the feed URL in its raw message.
        conn.execute("INSERT INTO raw_items (replay_key, message_id, received_at, payload) VALUES "
                     "('data:c', 'm-c-v1', ?, '{\"feed_url\": \"https://feeds.citywire.example/rss\"}')", [T0])
        conn.execute("INSERT INTO stories (cluster_id, canonical_article_id, first_seen, last_seen, outlet_count, "
                     "feed_ids, article_ids, updated_at, schema_version) VALUES ('a', 'a', ?, ?, 3, "
                     "['feed-a', 'feed-b', 'feed-c'], ['a', 'b', 'c'], ?, 1)", [T0, T0, T0])
    wh = DuckDBWarehouse(path)
    try:
        _, outlets = wh.query("SELECT article_id, outlet FROM articles ORDER BY article_id")
        assert outlets == [("a", "example.co.uk"), ("b", "example.co.uk"), ("c", "citywire.example")]
        _, story = wh.query("SELECT outlets, outlet_count, feed_ids FROM stories")
        assert story == [(["citywire.example", "example.co.uk"], 2, ["feed-a", "feed-b", "feed-c"])]
        # A new copy from a third site joins the migrated story: the outlets are united, not replaced.
        d = {**_article("d", cluster="a", minutes=5), "outlet": "harbour.example"}
        row = {**_story("a", ["d"], at=9), "outlets": ["harbour.example"], "outlet_count": 1}
        wh.write_units([_unit(d, [row])])
        _, story = wh.query("SELECT outlets, outlet_count, article_ids FROM stories")
        assert story == [(["citywire.example", "example.co.uk", "harbour.example"], 3, ["a", "b", "c", "d"])]
    finally:
        wh._conn.close()
    again = DuckDBWarehouse(path)  # a second start finds nothing left to migrate and changes nothing
    try:
        _, story = again.query("SELECT outlets, outlet_count FROM stories")
        assert story == [(["citywire.example", "example.co.uk", "harbour.example"], 3)]
    finally:
        again._conn.close()
