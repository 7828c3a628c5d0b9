"""Feeds file loading and validation."""

import re
from pathlib import Path

import pytest

from pollers import DEFAULT_INTERVAL, FeedConfig, FeedsFileError, load_feeds, parse_feeds

ROOT = Path(__file__).resolve().parents[2]


def test_loads_feeds_with_defaults(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n"
        "  - id: harbour-world\n"
        "    url: https://wire.example.test/world/rss.xml\n"
        "    agency: xinhua\n"
        "    interval: 120\n"
        "  - id: courier\n"
        "    url: http://courier.example.test:8080/feed.atom\n"
    )
    feeds = load_feeds(path)
    assert feeds == [
        FeedConfig("harbour-world", "https://wire.example.test/world/rss.xml", "xinhua", 120.0, False),
        FeedConfig("courier", "http://courier.example.test:8080/feed.atom", None, DEFAULT_INTERVAL, False),
    ]
    assert feeds[1].host == "courier.example.test:8080"


def test_every_problem_is_reported_at_once():
    doc = {"feeds": [
        {"id": "Bad Id", "url": "ftp://x.test/feed"},
        {"id": "ok-1", "url": "https://a.test/rss", "interval": 0},
        {"id": "ok-2", "url": "https://b.test/rss", "agency": "Xinhua", "fetch_full_text": "yes"},
        {"id": "ok-3", "url": "https://c.test/rss", "intervall": 60},
        "just a string",
    ]}
    with pytest.raises(FeedsFileError) as err:
        parse_feeds(doc, "feeds.yaml")
    text = str(err.value)
    assert text.startswith("feeds.yaml:")
    for expected in ("id 'Bad Id'", "must start with http:// or https://", "interval 0",
                     "agency 'Xinhua'", "fetch_full_text 'yes'", "unknown key(s) ['intervall']",
                     "feeds[4]: each feed must be a mapping"):
        assert expected in text
    assert len(err.value.problems) == 7


def test_duplicate_ids_and_urls_are_refused():
    doc = {"feeds": [{"id": "a", "url": "https://x.test/rss"}, {"id": "a", "url": "https://y.test/rss"},
                     {"id": "b", "url": "https://x.test/rss"}]}
    with pytest.raises(FeedsFileError) as err:
        parse_feeds(doc)
    assert "feed id 'a' is used more than once" in str(err.value)
    assert "same url 'https://x.test/rss'" in str(err.value)


@pytest.mark.parametrize("text, message", [
    ("feeds: [\n", "not valid YAML"),
    ("- id: a\n", "top-level 'feeds:' list"),
    ("feeds: []\n", "non-empty list"),
    ("feeds:\n  - {id: a, url: 'https://a.test/'}\nextra: 1\n", "unknown top-level key(s) ['extra']"),
])
def test_bad_files_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    with pytest.raises(FeedsFileError, match=re.escape(message)):
        load_feeds(path)


def test_missing_file_points_to_the_example(tmp_path):
    with pytest.raises(FeedsFileError, match="file not found.*feeds.example.yaml"):
        load_feeds(tmp_path / "nope.yaml")


def test_serve_placeholder_needs_a_server(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - {id: a, url: '{serve}/a.xml'}\n")
    with pytest.raises(FeedsFileError, match="--serve DIR"):
        load_feeds(path)
    assert load_feeds(path, serve_base="http://127.0.0.1:8001/")[0].url == "http://127.0.0.1:8001/a.xml"


def test_repository_example_files_are_valid():
    real = load_feeds(ROOT / "feeds.example.yaml")
    assert len(real) >= 6 and all(f.url.startswith("https://") and f.agency for f in real)
    samples = load_feeds(ROOT / "examples" / "feeds" / "feeds.yaml", serve_base="http://127.0.0.1:8001")
    assert len(samples) >= 3
    for f in samples:  # every sample URL names a bundled file
        assert (ROOT / "examples" / "feeds" / f.url.rsplit("/", 1)[1]).is_file()


def test_allow_private_is_a_per_feed_boolean():
    feeds = parse_feeds({"feeds": [
        {"id": "intranet", "url": "http://news.intranet.test:8080/rss", "allow_private": True},
        {"id": "public", "url": "https://wire.example.test/rss"},
    ]})
    assert [f.allow_private for f in feeds] == [True, False]
    assert feeds[0].endpoint == "news.intranet.test:8080" and feeds[1].endpoint == "wire.example.test:443"
    with pytest.raises(FeedsFileError) as err:
        parse_feeds({"feeds": [{"id": "x", "url": "http://10.0.0.5/rss", "allow_private": "yes"}]})
    assert "allow_private 'yes' must be true or false" in str(err.value)
