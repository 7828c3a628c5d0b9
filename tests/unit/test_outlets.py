"""articles.outlet (the publishing site) and stories that count outlets, not feeds."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.export import ninjs_document, validate_ninjs
from tests.factories import raw_item, to_bytes
from transforms.cleaning import clean_item, outlet_of, parse_raw_item
from transforms.identity import article_row
from transforms.syndication import ClusterGraph, ClusterInput, StoryArticle, single_story, story_article, story_row

T0 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("url, outlet", [
    ("https://www.Example.co.uk/news/1", "example.co.uk"),
    ("https://news.example.co.uk/world/2?utm_source=rss", "example.co.uk"),
    ("http://sport.example.com.au:8080/x", "example.com.au"),
    ("https://harbour-gazette.blogspot.com/2026/03/x.html", "harbour-gazette.blogspot.com"),  # a private suffix
    ("https://WWW.citywire.example/a", "citywire.example"),  # an unlisted TLD is a suffix of its own
    ("https://bücher.example.de/x", "example.de"),
    ("https://nachrichten.bücher.de/x", "xn--bcher-kva.de"),
    ("http://127.0.0.1:8000/feed", "127.0.0.1"),
    ("http://[::1]/x", "::1"),
    ("http://localhost:8000/x", "localhost"),
])
def test_the_outlet_is_the_registrable_domain_of_the_host(url, outlet):
    assert outlet_of(url) == outlet


def test_the_first_usable_url_names_the_outlet():
    assert outlet_of(None, "", "file:///tmp/x", "not a url", "https://feeds.example.net/rss") == "example.net"
    assert outlet_of(None, "mailto:desk@example.org") is None


def test_two_feeds_of_one_site_give_their_articles_one_outlet():
    rows = []
    for feed_id, link in (("gazette-world", "https://www.gazette.example.org/world/1"),
                          ("gazette-sport", "https://sport.gazette.example.org/2")):
        raw = parse_raw_item(to_bytes(raw_item(feed_id=feed_id, link=link)), {}, "m-" + feed_id)
        rows.append(article_row(raw, clean_item(raw)))
    assert [r["outlet"] for r in rows] == ["example.org", "example.org"]
    without_link = parse_raw_item(to_bytes(raw_item(link=None, guid=None)), {}, "m-x")
    assert article_row(without_link, clean_item(without_link))["outlet"] == "example.org"  # the feed's URL


def _article(article_id: str, feed_id: str, outlet: str | None, minutes: int = 0) -> StoryArticle:
    return StoryArticle(article_id, T0 + timedelta(minutes=minutes), feed_id, outlet=outlet)


def test_a_story_counts_distinct_outlets_and_still_lists_every_feed():
    graph = ClusterGraph()
    graph.assign(_article("a", "gazette-world", "gazette.example"), ())
    graph.assign(_article("b", "gazette-sport", "gazette.example", 1), ["a"])
    update = graph.assign(_article("c", "citywire", "citywire.example", 2), ["b"])
    story = graph.story(update.cluster_id)
    assert story.feed_ids == ("citywire", "gazette-sport", "gazette-world")
    assert story.outlets == ("citywire.example", "gazette.example") and story.outlet_count == 2
    row = story_row(story, T0)
    assert row["outlets"] == ["citywire.example", "gazette.example"] and row["outlet_count"] == 2


def test_an_article_without_an_outlet_counts_as_its_feed():
    story = single_story(_article("a", "plain-feed", None))
    assert story.outlets == ("plain-feed",) and story.outlet_count == 1


def test_cluster_inputs_carry_the_outlet_and_read_records_written_before_it():
    row = {"article_id": "a", "fetched_at": T0, "feed_id": "f", "agency": None, "title": "T",
           "dateline": None, "outlet": "gazette.example"}
    item = ClusterInput("m-a", story_article(row), body="Some body text.")
    assert ClusterInput.from_record(item.to_record()).article.outlet == "gazette.example"
    old = item.to_record()[:-1]  # a record of the release before outlets
    assert ClusterInput.from_record(old).article.outlet is None


def test_a_story_graph_pickled_before_outlets_counts_its_feeds_as_outlets():
    graph = ClusterGraph()
    graph.assign(_article("a", "north", None), ())
    graph.assign(_article("b", "south", None, 1), ["a"])
    cluster = graph._clusters["a"]
    del cluster.__dict__["outlets"]  # what a graph of the release before outlets holds
    restored = pickle.loads(pickle.dumps(graph))
    restored.assign(_article("c", "east", "east.example", 2), ["b"])
    assert restored.story("a").outlets == ("east.example", "north", "south")


def test_ninjs_names_the_outlet_as_publisher_with_the_feed_as_its_identifier():
    row = {"article_id": "a1", "version": 1, "title": "Harbour reopens", "body": "The harbour reopened.",
           "published_at": T0, "feed_id": "gazette-world", "outlet": "gazette.example.co.uk", "agency": "ap"}
    doc = ninjs_document(row)
    validate_ninjs(doc)
    assert doc["infosources"] == [
        {"name": "ap", "role": "originator"},
        {"name": "gazette.example.co.uk", "role": "publisher", "uri": "https://gazette.example.co.uk/",
         "literal": "gazette-world"},
    ]
    old = ninjs_document({**row, "outlet": None})
    validate_ninjs(old)
    assert old["infosources"][1] == {"name": "gazette-world", "role": "publisher"}
