from dataclasses import replace
from datetime import datetime, timezone

from tests.factories import raw_item, to_bytes
from transforms.clean import clean_item
from transforms.identity import article_id, article_row, content_hash, replay_key
from transforms.parse import parse_raw_item


def _pair(**kw):
    raw = parse_raw_item(to_bytes(raw_item(**kw)), {}, "m1")
    return raw, clean_item(raw)


def test_guid_scoped_to_outlet_host_is_stable_across_feeds():
    a = article_id(*_pair(feed_id="outlet-world", guid="story-123"))
    b = article_id(*_pair(feed_id="outlet-top", guid="story-123"))
    other_host = article_id(*_pair(guid="story-123", link="https://other.example.net/x"))
    assert a == b and a[1] == "guid"
    assert other_host[0] != a[0]


def test_url_guid_and_link_give_the_same_id():
    by_guid = article_id(*_pair(guid="https://news.example.org/world/ferry-timetable", link=None))
    by_link = article_id(*_pair(guid=None, link="https://news.example.org/world/ferry-timetable?utm_source=x"))
    assert by_guid[1] == by_link[1] == "url"
    assert by_guid[0] == by_link[0]


def test_content_id_when_no_guid_or_link_ignores_case_and_spacing():
    a = article_id(*_pair(guid=None, link=None, title="Ferry  timetable approved"))
    b = article_id(*_pair(guid=None, link=None, title="ferry timetable APPROVED"))
    assert a[1] == "content" and a == b


def test_content_hash_changes_with_body_not_with_lineage():
    raw, clean = _pair()
    raw2, clean2 = _pair(fetched_at="2026-03-03T00:00:00Z", feed_id="elsewhere")
    assert content_hash(clean) == content_hash(clean2)
    changed = replace(clean, body=clean.body + ["A correction was appended."])
    assert content_hash(changed) != content_hash(clean)


def test_article_row_has_every_schema_field():
    from schemas import ARTICLES

    raw, clean = _pair()
    row = article_row(raw, clean, processed_at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    assert list(row) == ARTICLES.field_names()
    assert row["version"] == 1 and row["message_id"] == "m1"
    assert row["word_count"] == clean.word_count > 0


def test_replay_key_names_content_not_the_message_id():
    attrs = {"feed_id": "harbour-news", "item_key": "abc.0123"}
    assert replay_key(attrs, b"{}") == replay_key(dict(attrs), b"other bytes") == "item:harbour-news/abc.0123"
    # The same entry key in another feed is another item.
    assert replay_key({**attrs, "feed_id": "other"}, b"{}") != replay_key(attrs, b"{}")
    # Without the poller's key (files, other publishers), the payload names the message.
    assert replay_key({}, b'{"a": 1}') == replay_key({}, b'{"a": 1}')
    assert replay_key({}, b'{"a": 1}') != replay_key({}, b'{"a": 2}')
    assert replay_key({"item_key": ""}, b"x").startswith("data:")
