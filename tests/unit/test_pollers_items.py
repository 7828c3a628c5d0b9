"""Feed bytes → raw-item messages that the pipeline's parser accepts."""

from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from pollers import (
    FailureKind,
    FeedConfig,
    PollError,
    build_feed_items,
    build_items,
    entry_fields,
    guids_not_identifying,
    item_key,
    parse_feed,
    rfc3339,
)
from transforms.cleaning import parse_raw_item

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
FETCHED = datetime(2024, 3, 1, 12, 30, 5, 250000, tzinfo=timezone.utc)
HEADERS = {"content-type": "application/xml"}


def _items(name, feed=None):
    feed = feed or FeedConfig("harbour-world", "https://wire.example.test/world/rss.xml", agency="xinhua")
    parsed = parse_feed((FIXTURES / name).read_bytes(), HEADERS)
    return parsed, build_items(feed, parsed.entries, fetched_at=FETCHED,
                               http={"etag": '"v1"', "last_modified": None, "status": 200})


def test_rfc3339_is_utc_with_z():
    assert rfc3339(FETCHED) == "2024-03-01T12:30:05.250Z"
    local = datetime(2024, 3, 1, 14, 30, 5, tzinfo=timezone.utc).astimezone()
    assert rfc3339(local) == "2024-03-01T14:30:05.000Z"


def test_rss20_items_follow_the_contract():
    parsed, items = _items("rss20_wire.xml")
    assert parsed.version == "rss20" and parsed.bozo_reason is None
    assert len(items) == 3
    for it in items:
        raw = parse_raw_item(it.data, it.attributes, message_id="m")
        assert raw.feed_id == "harbour-world" and raw.agency_hint == "xinhua"
        assert raw.fetched_at == FETCHED.replace(microsecond=250000)
        assert it.attributes == {"feed_id": "harbour-world", "item_key": f"{it.item_key}.{it.content_hash[:16]}",
                                 "fetched_at": "2024-03-01T12:30:05.250Z", "schema_version": "1"}
    first = orjson.loads(items[0].data)
    assert first["http"] == {"etag": '"v1"', "last_modified": None, "status": 200}
    assert first["page_html"] is None
    e = first["entry"]
    assert e["id"] == "hw-2024-0301-001"
    assert e["link"] == "https://wire.example.test/world/2024/03/tidal-plant-velmar"
    assert e["published"] == "Fri, 01 Mar 2024 08:15:00 GMT"  # raw, the pipeline parses dates
    assert e["updated"] is None  # not feedparser's fallback to the published date
    assert e["tags"] == ["Energy", "Velmar"]
    assert e["author"] == "desk@wire.example.test (Ines Marlow)"
    assert e["summary"].startswith("<p>PORT ALDER, March 1 (Harbour Wire)")
    assert e["media"] == [{"url": "https://img.wire.example.test/velmar-turbines.jpg", "caption": None,
                           "credit": "Harbour Wire/Oskar Lind"}]
    # The audio enclosure is not an image; the thumbnail is used only when there is no other image.
    assert orjson.loads(items[1].data)["entry"]["media"] == [
        {"url": "https://img.wire.example.test/brennholm-station.png", "caption": None, "credit": None}]
    assert orjson.loads(items[2].data)["entry"]["media"][0]["url"].endswith("skarn-museum-thumb.jpg")


def test_atom_entries_keep_content_and_dates():
    parsed, items = _items("atom10_outlet.xml", FeedConfig("courier", "https://courier.example.test/feed.atom"))
    assert parsed.version == "atom10"
    e = orjson.loads(items[0].data)["entry"]
    assert e["id"] == "tag:courier.example.test,2024:article-5512"
    assert e["summary"] == "The first tidal plant on the Velmar coast is online."
    assert e["content"][0]["type"] == "text/html" and "1 min read" in e["content"][0]["value"]
    assert (e["published"], e["updated"]) == ("2024-03-01T09:02:00Z", "2024-03-01T09:30:00Z")
    assert e["media"][0]["url"] == "https://courier.example.test/media/5512.jpg"
    assert orjson.loads(items[0].data)["agency_hint"] is None


def test_rss10_items_are_read():
    parsed, items = _items("rss10_bulletin.rdf", FeedConfig("bulletin", "https://bulletin.example.test/rss"))
    assert parsed.version == "rss10" and len(items) == 2
    e = orjson.loads(items[0].data)["entry"]
    assert e["link"] == "https://bulletin.example.test/2024/03/01/harbour-dredging"
    assert e["author"] == "Bulletin desk" and e["tags"] == ["Transport"]
    # feedparser reports dc:date as the updated date; it is passed through as written.
    assert e["updated"] == "2024-03-01T07:00:00+01:00"


def test_bozo_feed_with_entries_is_used_and_its_reason_kept():
    parsed, items = _items("malformed_but_usable.xml")
    assert parsed.bozo_reason and "not well-formed" in parsed.bozo_reason
    assert [orjson.loads(i.data)["entry"]["id"] for i in items] == ["gazette-8841", "gazette-8842"]


def test_the_feeds_channel_link_is_read():
    parsed, _ = _items("rss20_wire.xml")
    assert parsed.link == "https://wire.example.test/world"
    atom, _ = _items("atom10_outlet.xml")  # no alternate link: feedparser's fallback to <id> is no URL
    assert atom.link is None


def test_a_body_without_entries_is_not_a_feed():
    with pytest.raises(PollError) as err:
        parse_feed((FIXTURES / "not_a_feed.html").read_bytes(), {"content-type": "text/html"})
    assert err.value.kind is FailureKind.NOT_A_FEED


def test_a_body_naming_a_local_file_is_not_read_from_disk():
    local = str(FIXTURES / "rss20_wire.xml").encode()
    with pytest.raises(PollError) as err:  # feedparser would open the file if given these bytes
        parse_feed(local, HEADERS)
    assert err.value.kind is FailureKind.NOT_A_FEED


def test_an_empty_but_valid_feed_is_not_an_error():
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    assert parse_feed(body, HEADERS).entries == []


def test_item_keys_are_stable_and_fall_back_in_order():
    base = {"id": None, "link": None, "title": None, "published": None, "summary": "s"}
    k_guid = item_key("f", {**base, "id": "g1", "link": "https://x.test/a"})
    assert k_guid == item_key("f", {**base, "id": "g1", "link": "https://x.test/other", "title": "changed"})
    assert k_guid != item_key("other-feed", {**base, "id": "g1"})
    k_link = item_key("f", {**base, "link": "https://x.test/a", "title": "t"})
    assert k_link == item_key("f", {**base, "link": "https://x.test/a", "title": "t2"})
    assert k_link != item_key("f", {**base, "id": "https://x.test/a"})  # guid and link do not collide
    k_title = item_key("f", {**base, "title": "t", "published": "Mon"})
    assert k_title != item_key("f", {**base, "title": "t", "published": "Tue"})
    assert item_key("f", {**base, "summary": "a"}) != item_key("f", {**base, "summary": "b"})


def test_changed_content_keeps_the_key_and_changes_the_hash():
    _, before = _items("rss20_wire.xml")
    _, after = _items("rss20_wire_corrected.xml")
    b = {i.item_key: i.content_hash for i in before}
    a = {i.item_key: i.content_hash for i in after}
    common = set(a) & set(b)
    assert len(common) == 2
    changed = {k for k in common if a[k] != b[k]}
    assert len(changed) == 1  # the corrected tidal-plant item; the rail item is unchanged


def _entries(items):
    return [orjson.loads(i.data)["entry"] for i in items]


def _build(entries, feed_url="https://x.test/rss", channel_link=None):
    return build_feed_items(FeedConfig("f", feed_url), entries, fetched_at=FETCHED, http={},
                            channel_link=channel_link)


def test_an_entry_listed_twice_unchanged_is_sent_once_and_not_reported():
    entry = {"id": "same", "title": "A", "link": "https://x.test/a"}
    built = _build([entry, dict(entry)])
    assert len(built.items) == 1 and built.guid_problem is None


def test_an_entry_listed_twice_in_two_versions_keeps_the_later_in_the_document_without_dates():
    entry = {"id": "same", "title": "A", "link": "https://x.test/a"}
    built = _build([entry, dict(entry, title="B")])
    assert [e["title"] for e in _entries(built.items)] == ["B"]
    assert built.guid_problem == ("entries listed more than once with different content: 2 versions of "
                                  "guid same; kept the latest of each")


def test_an_entry_listed_twice_in_two_versions_keeps_the_later_by_date():
    entry = {"id": "same", "link": "https://x.test/a"}
    newer = dict(entry, title="corrected", updated="2024-03-01T10:00:00Z", published="2024-03-01T08:00:00Z")
    older = dict(entry, title="first", published="2024-03-01T08:00:00Z")
    assert [e["title"] for e in _entries(_build([newer, older]).items)] == ["corrected"]
    assert [e["title"] for e in _entries(_build([older, newer]).items)] == ["corrected"]
    # Only one of them dated: nothing to compare, the later in the document wins.
    assert [e["title"] for e in _entries(_build([newer, dict(entry, title="undated")]).items)] == ["undated"]


def test_a_guid_shared_by_entries_with_different_links_is_no_identity():
    entries = [{"id": "story", "title": f"T{n}", "link": f"https://x.test/news/{n}"} for n in range(3)]
    entries.append({"id": "fine-1", "title": "own guid", "link": "https://x.test/news/fine"})
    built = _build(entries)
    assert len(built.items) == 4 and len({i.item_key for i in built.items}) == 4
    sent = _entries(built.items)
    assert [e["id"] for e in sent] == ["story", "story", "story", "fine-1"]  # kept as the feed gave it
    assert [e.get("guid_is_identity") for e in sent] == [False, False, False, None]
    # Keyed by link: the key a guid-less entry with that link has, so the seen set follows the link.
    no_guid = {k: v for k, v in sent[0].items() if k not in ("id", "guid_is_identity")}
    assert built.items[0].item_key == item_key("f", {**no_guid, "id": None})
    assert built.items[3].item_key == item_key("f", sent[3])
    assert built.guid_problem == "3 entries share guid story with different links; keyed by link instead"


def test_links_that_differ_only_by_tracking_parameters_are_one_link():
    entries = [{"id": "g-9", "title": "A", "link": "https://x.test/a?utm_source=rss"},
               {"id": "g-9", "title": "A, updated", "link": "https://x.test/a"}]
    built = _build(entries)
    assert guids_not_identifying([entry_fields(e) for e in entries], feed_url="https://x.test/rss") == {}
    assert [e["title"] for e in _entries(built.items)] == ["A, updated"]  # one article, two versions


def test_five_articles_sharing_the_home_page_guid_become_five_items():
    home = "https://site.example.test/"
    entries = [{"id": home, "title": f"Story {n}", "link": f"https://site.example.test/2024/story-{n}",
                "published": f"Fri, 01 Mar 2024 0{n}:00:00 GMT"} for n in range(5)]
    built = _build(entries, feed_url="https://site.example.test/feed/", channel_link=home)
    assert len(built.items) == 5 and len({i.item_key for i in built.items}) == 5
    assert all(e["id"] == home and e["guid_is_identity"] is False for e in _entries(built.items))
    assert built.guid_problem == (f"5 entries share guid {home} with different links (the feed's channel "
                                  "link); keyed by link instead")
    for item in built.items:  # the pipeline accepts the field
        assert parse_raw_item(item.data, item.attributes, "m").entry.guid_is_identity is False


@pytest.mark.parametrize("guid, channel_link, reason", [
    ("https://site.example.test", None, "the site's home page"),
    ("https://site.example.test/?utm_source=rss", None, "the site's home page"),
    ("https://site.example.test/feed/", None, "the feed's own URL"),
    ("https://site.example.test/world/", "https://site.example.test/world/", "the feed's channel link"),
])
def test_a_home_page_guid_is_no_identity_even_on_one_entry(guid, channel_link, reason):
    entry = {"id": guid, "title": "Only story", "link": "https://site.example.test/2024/only-story"}
    built = _build([entry], feed_url="https://site.example.test/feed/", channel_link=channel_link)
    [sent] = _entries(built.items)
    assert sent["guid_is_identity"] is False and sent["id"] == guid
    assert built.guid_problem == f"1 entry has guid {guid}, {reason}; keyed by link instead"


@pytest.mark.parametrize("guid", [
    "https://site.example.test/?p=4411",  # WordPress: the home page with a post id names the post
    "https://site.example.test/#!/story/4411",  # a hash-bang route is the article's address
    "https://site.example.test/world/",  # a section page, but not the feed's channel link
    "tag:site.example.test,2024:4411",
])
def test_guids_that_only_look_like_home_pages_still_identify(guid):
    entry = {"id": guid, "title": "A story", "link": "https://site.example.test/2024/a-story"}
    built = _build([entry], feed_url="https://site.example.test/feed/", channel_link="https://site.example.test/")
    assert "guid_is_identity" not in _entries(built.items)[0] and built.guid_problem is None


def test_good_guids_keep_their_keys_hashes_and_payload():
    # Values from before guids were checked: a changed key or hash would make every poller re-publish
    # everything once, and a changed entry object would change what the pipeline stores.
    _, items = _items("rss20_wire.xml")
    assert [(i.item_key, i.content_hash) for i in items] == [
        ("8f0b86d1133998b9f8d7f0bef057159c", "831cbf909c0fbd8550a915a96790ddb3"),
        ("3d910b33a49e35652dccb6e35b9e8c0a", "4729fb9bbfd22060e73e15f8f031264a"),
        ("2f648df420b2391949e4af4112b6b1da", "477cf8a4a0a0e05c42abd81c0873ab49")]
    assert all("guid_is_identity" not in e for e in _entries(items))


def test_entries_without_a_usable_guid_or_link_get_distinct_stable_keys():
    home = "https://site.example.test/"
    entries = [{"id": home, "title": "Storm closes harbour", "published": "Fri, 01 Mar 2024 08:00:00 GMT"},
               {"id": home, "title": "Storm closes harbour", "published": "Fri, 01 Mar 2024 09:00:00 GMT"},
               {"id": home, "summary": "no title, no link: keyed by content"},
               {"id": home, "summary": "another entry keyed by content"}]
    built = _build(entries)
    assert len({i.item_key for i in built.items}) == 4
    assert [i.item_key for i in _build(entries).items] == [i.item_key for i in built.items]
    assert built.guid_problem == ("4 entries have guid https://site.example.test/, the site's home page; "
                                  "keyed by link, else title and date, instead")


def test_blank_values_become_null():
    fields = entry_fields({"id": "  ", "title": "", "summary": None, "tags": [{"term": " "}]})
    assert fields["id"] is None and fields["title"] is None and fields["tags"] == []


def test_publish_batches_respect_count_and_size_limits():
    from pollers import batches
    msgs = [(b"x" * 100, {"k": "v"}) for _ in range(25)]
    by_count = list(batches(msgs, max_messages=10, max_bytes=10**9))
    assert [len(b) for b in by_count] == [10, 10, 5]
    by_size = list(batches(msgs, max_messages=1000, max_bytes=350))  # 102 bytes per message
    assert [len(b) for b in by_size] == [3] * 8 + [1]
    assert [m for b in by_size for m in b] == msgs  # order kept, nothing lost
    huge = [(b"x" * 1000, {})]
    assert list(batches(huge, max_bytes=10)) == [huge]  # one oversized message still goes alone
    assert list(batches([])) == []


def test_item_key_attribute_changes_with_content_but_not_on_a_repeat():
    _, first = _items("rss20_wire.xml")
    _, again = _items("rss20_wire.xml")
    _, corrected = _items("rss20_wire_corrected.xml")
    assert [i.attributes["item_key"] for i in first] == [i.attributes["item_key"] for i in again]
    by_entry = {i.item_key: i.attributes["item_key"] for i in first}
    changed = [i for i in corrected if i.item_key in by_entry and i.attributes["item_key"] != by_entry[i.item_key]]
    assert changed, "a correction under the same guid must carry a new item_key attribute"
