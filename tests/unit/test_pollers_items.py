"""Feed bytes → raw-item messages that the pipeline's parser accepts."""

from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from pollers import FailureKind, FeedConfig, PollError, build_items, entry_fields, item_key, parse_feed, rfc3339
from transforms.parse import parse_raw_item

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


def test_duplicate_entries_in_one_feed_are_sent_once():
    entry = {"id": "same", "title": "A", "link": "https://x.test/a"}
    items = build_items(FeedConfig("f", "https://x.test/rss"), [entry, dict(entry, title="B")],
                        fetched_at=FETCHED, http={})
    assert len(items) == 1 and orjson.loads(items[0].data)["entry"]["title"] == "A"


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
