"""Damage stays with its entry: character references to no character, a parser that fails on one
entry, entries that do not encode or are too large, and how many entries one poll takes."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest

import pollers.parsing as parsing
from pollers import FailureKind, FeedConfig, PollError, build_feed_items, parse_feed
from pollers.items import OutgoingItem
from pollers.parsing import repair_character_references
from pollers.poller import newest_first
from transforms.errors import BrokenEntryError
from transforms.cleaning import parse_raw_item

FETCHED = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
HEADERS = {"content-type": "application/xml"}
FEED = FeedConfig("harbour", "https://harbour.example.test/rss")


def rss(titles: list[str]) -> bytes:
    items = "".join(f"<item><title>{t}</title><link>https://harbour.example.test/{n}</link></item>"
                    for n, t in enumerate(titles))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>c</title>{items}</channel></rss>'.encode()


@pytest.mark.parametrize("ref, bad", [("&#xD800;", True), ("&#XDFFF;", True), ("&#56320;", True),
                                      ("&#x110000;", True), ("&#99999999999999999999;", True),
                                      ("&#x2014;", False), ("&#160;", False), ("&#x10FFFF;", False)])
def test_only_references_to_no_character_are_repaired(ref, bad):
    fixed, note = repair_character_references(f"<t>a{ref}b</t>".encode())
    assert (fixed == b"<t>a&#xFFFD;b</t>") is bad and (note is not None) is bad


def test_a_lone_surrogate_reference_costs_one_character():
    parsed = parse_feed(rss(["one", "two &#xD800; two", "three"]), HEADERS)
    assert [e["title"] for e in parsed.entries] == ["one", "two \ufffd two", "three"]
    assert "replaced by U+FFFD" in parsed.bozo_reason and parsed.broken == []


def test_when_the_parser_fails_on_the_document_each_entry_is_parsed_on_its_own(monkeypatch):
    real = parsing._feedparser

    def fails_on_poison(body, headers):
        if b"POISON" in body:
            raise IndexError("list index out of range")  # as feedparser bugs do
        return real(body, headers)
    monkeypatch.setattr(parsing, "_feedparser", fails_on_poison)
    parsed = parse_feed(rss(["one", "POISON", "three", "four"]), HEADERS)
    assert [e["title"] for e in parsed.entries] == ["one", "three", "four"]
    assert len(parsed.broken) == 1
    assert parsed.broken[0].index == 1 and "IndexError" in parsed.broken[0].error
    assert "POISON" in parsed.broken[0].raw
    assert "parsed one by one" in parsed.bozo_reason and parsed.version == "rss20"

    built = build_feed_items(FEED, parsed.entries, fetched_at=FETCHED, http={}, broken_entries=parsed.broken)
    assert len(built.items) == 4 and len(built.broken) == 1
    with pytest.raises(BrokenEntryError) as err:
        parse_raw_item(built.broken[0].data)
    assert "the feed parser failed on this entry: IndexError" in str(err.value)
    assert "POISON" in orjson.loads(built.broken[0].data)["raw_entry"]


def test_a_document_the_parser_fails_on_without_entries_is_unparsable(monkeypatch):
    monkeypatch.setattr(parsing, "_feedparser", lambda body, headers: 1 / 0)
    with pytest.raises(PollError) as err:
        parse_feed(b"<rss><channel><title>x</title></channel></rss>", HEADERS)
    assert err.value.kind is FailureKind.UNPARSABLE and "ZeroDivisionError" in err.value.detail


def test_an_entry_that_does_not_encode_is_a_broken_message_and_the_others_go_out():
    entries = [{"title": "fine", "link": "https://harbour.example.test/1"},
               {"title": "lone \ud800 surrogate", "link": "https://harbour.example.test/2"},
               {"title": "also fine", "link": "https://harbour.example.test/3"}]
    built = build_feed_items(FEED, entries, fetched_at=FETCHED, http={})
    assert len(built.items) == 3 and len(built.broken) == 1
    good = [parse_raw_item(i.data).entry.title for i in built.items if not i.broken]
    assert good == ["fine", "also fine"]
    broken = built.broken[0]
    assert "cannot be encoded" in broken.broken
    with pytest.raises(BrokenEntryError):
        parse_raw_item(broken.data)
    # Keyed by its content: the same damage in the next poll is the same message, sent once.
    again = build_feed_items(FEED, entries, fetched_at=FETCHED, http={}).broken[0]
    assert (again.item_key, again.content_hash) == (broken.item_key, broken.content_hash)


def test_an_entry_over_the_message_limit_keeps_its_key_and_goes_out_small():
    big = {"title": "big", "link": "https://harbour.example.test/big", "summary": "\x01" * 50_000}
    small = {"title": "small", "link": "https://harbour.example.test/small"}
    built = build_feed_items(FEED, [big, small], fetched_at=FETCHED, http={}, max_message_bytes=100_000)
    normal = build_feed_items(FEED, [big], fetched_at=FETCHED, http={})
    assert [i.broken is None for i in built.items] == [False, True]
    broken = built.items[0]
    assert len(broken.data) < 40_000 and "over the limit of 100000" in broken.broken
    # The same key and content hash as the entry would have had: a smaller feed later does not resend.
    assert (broken.item_key, broken.content_hash) == (normal.items[0].item_key, normal.items[0].content_hash)
    assert orjson.loads(broken.data)["entry"]["link"] == "https://harbour.example.test/big"


def _item(n: int, at: float | None) -> OutgoingItem:
    return OutgoingItem(item_key=str(n), content_hash="h", data=b"{}", attributes={}, at=at)


def test_newest_first_keeps_the_newest_in_feed_order():
    items = [_item(0, 10.0), _item(1, None), _item(2, 30.0), _item(3, 20.0), _item(4, None)]
    assert [i.item_key for i in newest_first(items, 2)] == ["2", "3"]
    assert [i.item_key for i in newest_first(items, 4)] == ["0", "1", "2", "3"]  # undated after the dated
    assert newest_first(items, 10) is items
