"""Row conversion, insert ids and rejected-row dead letters for the BigQuery sink."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.sinks.bigquery_rows import (
    describe_insert_errors,
    insert_id,
    insert_id_fields,
    rejected_row_to_dead_letter,
    rfc3339,
    to_bigquery_row,
)
from schemas import ARTICLES, LEARNED_BOILERPLATE, RAW_ITEMS, STORIES

_T = datetime(2024, 5, 6, 7, 45, 0, 123456, tzinfo=timezone.utc)


def _article(**over) -> dict:
    row = {name: None for name in ARTICLES.field_names()}
    row.update(article_id="a1", version=1, content_hash="h", title="T", body="B", tags=None,
               images=[{"url": "https://img.example/1.jpg", "caption": "A pier", "credit": "Photo desk"}],
               published_at=_T, fetched_at=_T, processed_at=_T, message_id="m1", feed_id="f1")
    row.update(over)
    return row


def test_rfc3339_is_utc_with_microseconds():
    plus_two = timezone(timedelta(hours=2))
    assert rfc3339(datetime(2024, 5, 6, 9, 45, tzinfo=plus_two)) == "2024-05-06T07:45:00.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        rfc3339(datetime(2024, 5, 6, 9, 45))


def test_to_bigquery_row_converts_by_schema():
    row = to_bigquery_row(ARTICLES, _article())
    assert row["published_at"] == "2024-05-06T07:45:00.123456Z"
    assert row["updated_at"] is None
    assert row["tags"] == []  # BigQuery has no NULL arrays
    assert row["images"] == [{"url": "https://img.example/1.jpg", "caption": "A pier", "credit": "Photo desk"}]
    json.dumps(row)  # everything is JSON-serialisable


def test_json_fields_become_json_text_and_unknown_columns_pass_through():
    row = to_bigquery_row(RAW_ITEMS, {"message_id": "m", "attributes": {"b": "2", "a": "1"}, "extra": 5})
    assert row["attributes"] == '{"a":"1","b":"2"}'
    assert row["extra"] == 5  # left for BigQuery to reject visibly


def test_insert_id_depends_only_on_the_primary_key():
    a = to_bigquery_row(ARTICLES, _article())
    same_key = to_bigquery_row(ARTICLES, _article(processed_at=_T + timedelta(hours=1), body="other"))
    next_version = to_bigquery_row(ARTICLES, _article(version=2))
    assert insert_id(ARTICLES, a) == insert_id(ARTICLES, same_key)
    assert insert_id(ARTICLES, a) != insert_id(ARTICLES, next_version)
    assert len(insert_id(ARTICLES, a)) <= 128


def test_insert_id_is_scoped_to_the_table():
    assert insert_id(RAW_ITEMS, {"message_id": "x"}) != insert_id(STORIES, {"cluster_id": "x"})


def test_story_snapshots_get_distinct_insert_ids():
    assert insert_id_fields(STORIES) == ("cluster_id", "updated_at")
    first = {"cluster_id": "c1", "updated_at": "2024-05-06T07:45:00.000000Z"}
    later = {"cluster_id": "c1", "updated_at": "2024-05-06T08:00:00.000000Z"}
    assert insert_id(STORIES, first) != insert_id(STORIES, later)


def test_learned_line_snapshots_get_distinct_insert_ids():
    assert insert_id_fields(LEARNED_BOILERPLATE) == ("feed_id", "line_key", "updated_at")
    first = {"feed_id": "f", "line_key": "sitefooter", "updated_at": "2024-05-06T07:45:00.000000Z"}
    assert insert_id(LEARNED_BOILERPLATE, first) != insert_id(
        LEARNED_BOILERPLATE, {**first, "updated_at": "2024-05-06T08:00:00.000000Z"})
    assert insert_id(LEARNED_BOILERPLATE, first) != insert_id(LEARNED_BOILERPLATE, {**first, "feed_id": "g"})


def test_describe_insert_errors():
    errors = [{"reason": "invalid", "location": "title", "message": "Cannot convert value"},
              {"reason": "stopped", "message": ""}]
    assert describe_insert_errors(errors) == "invalid at title: Cannot convert value; stopped:"
    assert describe_insert_errors("row too large") == "row too large"
    assert "without an error message" in describe_insert_errors([])


def test_rejected_row_becomes_a_replayable_dead_letter():
    row = to_bigquery_row(ARTICLES, _article())
    dead = rejected_row_to_dead_letter("articles", row, [{"reason": "invalid", "location": "title",
                                                          "message": "bad"}])
    assert dead["step"] == "write_articles"
    assert dead["error_class"] == "BigQueryRowRejected"
    assert dead["error_message"] == "invalid at title: bad"
    assert dead["message_id"] == "m1" and dead["feed_id"] == "f1"
    assert json.loads(dead["payload"]) == row
    assert json.loads(dead["attributes"]) == {"table": "articles"}
    assert dead["payload_encoding"] == "utf-8"
