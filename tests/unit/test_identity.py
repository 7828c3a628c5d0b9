from dataclasses import replace
from datetime import datetime, timezone

import pytest

from tests.factories import raw_item, to_bytes
from transforms.cleaning import clean_item, parse_raw_item
from transforms.identity import article_id, article_row, content_hash, replay_key


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


# Ids computed before guids were checked for identity: an old message (no guid_is_identity field)
# of a feed whose guids are fine must keep its article_id, or its next version becomes a new article.
@pytest.mark.parametrize("kw, expected", [
    ({}, ("a465505f78b11a6d8170c8a6", "guid")),
    ({"guid": "https://news.example.org/world/ferry-timetable", "link": None}, ("675548883d7dda6acfc2e534", "url")),
    ({"guid": None}, ("675548883d7dda6acfc2e534", "url")),
    ({"guid": None, "link": None}, ("a9db20f61ccd2fbced9466a8", "content")),
])
def test_old_messages_without_the_field_keep_their_article_ids(kw, expected):
    item = raw_item(**kw)
    assert "guid_is_identity" not in item["entry"]
    assert parse_raw_item(to_bytes(item), {}, "m").entry.guid_is_identity is True
    assert article_id(*_pair(**kw)) == expected
    assert article_id(*_pair(**kw, guid_is_identity=True)) == expected  # explicit true: the same
    assert article_id(*_pair(**kw, guid_is_identity=None)) == expected  # null: the same


def test_a_guid_the_poller_flagged_is_skipped_for_the_link_and_kept_as_lineage():
    flagged = _pair(guid="tw-0001", guid_is_identity=False)
    assert article_id(*flagged) == article_id(*_pair(guid=None)) != article_id(*_pair(guid="tw-0001"))
    raw, clean = flagged
    assert raw.entry.guid_is_identity is False
    assert article_row(raw, clean)["guid"] == "tw-0001"  # the guid is still stored as the feed gave it


def test_five_articles_with_the_home_page_guid_get_five_ids_without_the_poller_saying_so():
    ids = [article_id(*_pair(guid="https://news.example.org/", link=f"https://news.example.org/world/story-{n}",
                             title=f"Story number {n}"))
           for n in range(5)]
    assert len({i for i, _ in ids}) == 5 and {s for _, s in ids} == {"url"}
    # The same id the item has without any guid: by its link.
    assert ids[0] == article_id(*_pair(guid=None, link="https://news.example.org/world/story-0",
                                       title="Story number 0"))


@pytest.mark.parametrize("guid", [
    "https://news.example.org", "https://news.example.org/", "HTTPS://News.Example.org/#top",
    "https://news.example.org/?utm_source=rss", "https://news.example.org/world/rss.xml",  # the feed URL
])
def test_home_page_and_feed_url_guids_are_no_identity(guid):
    assert article_id(*_pair(guid=guid)) == article_id(*_pair(guid=None))


@pytest.mark.parametrize("guid", ["https://news.example.org/?p=4411", "https://news.example.org/#!/story/4411",
                                  "https://news.example.org/world/ferry"])
def test_url_guids_with_a_path_query_or_route_still_identify(guid):
    assert article_id(*_pair(guid=guid)) != article_id(*_pair(guid=None))
    assert article_id(*_pair(guid=guid))[1] == "url"


def test_without_a_link_a_non_identifying_guid_is_not_the_url_and_content_decides():
    a_raw, a = _pair(guid="https://news.example.org/", link=None, title="Ferry timetable approved")
    b_raw, b = _pair(guid="https://news.example.org/", link=None, title="Bridge repairs start")
    assert a.url is None  # not the home page as the article's canonical URL
    assert article_id(a_raw, a)[1] == "content" and article_id(a_raw, a) != article_id(b_raw, b)
    assert article_id(a_raw, a) == article_id(*_pair(guid="https://news.example.org/", link=None,
                                                     title="Ferry timetable approved"))  # stable
    _, flagged = _pair(guid="https://news.example.org/world/ferry", link=None, guid_is_identity=False)
    assert flagged.url is None
    _, good = _pair(guid="https://news.example.org/world/ferry", link=None)
    assert good.url == "https://news.example.org/world/ferry"


def test_guid_is_identity_must_be_a_boolean():
    from transforms.errors import ParseError

    with pytest.raises(ParseError, match="guid_is_identity"):
        parse_raw_item(to_bytes(raw_item(guid_is_identity="false")), {}, "m")
