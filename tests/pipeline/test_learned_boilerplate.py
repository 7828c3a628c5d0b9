"""CleanArticles with learned boilerplate: batch (grouped by feed) and streaming (TestStream through
the stateful step), dead letters unchanged, rows for the learned_boilerplate table."""

from __future__ import annotations

from datetime import datetime

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from pipeline.build import CleanArticles, SplitTables
from pipeline.runners import BATCH_RUNNER, STREAMING_RUNNER
from tests.factories import message, raw_item
from tests.learned_support import FEED, FOOTER, QUOTE, site_items
from transforms.cleaning import paragraph_key
from transforms.learning import LearnConfig
from transforms.learning.dofns import CleanWithLearnedLines

# The main tier alone; the quick tier's tests are at the end.
CONFIG = LearnConfig(min_items=6, min_days=2, min_stories=3, min_share=0.5, max_lines=200, window_days=10,
                     quick_min_items=0)
QUICK = LearnConfig(min_items=6, min_days=2, min_stories=3, min_share=0.5, max_lines=200, window_days=10)
FOOTER_KEY = paragraph_key(FOOTER)
DAY = 24 * 3600


def _fetched(item: dict) -> float:
    return datetime.fromisoformat(item["fetched_at"].replace("Z", "+00:00")).timestamp()


def _titles_with_footer(items: list[dict], learned_from: int) -> list[tuple[str, bool]]:
    """(title, footer still in the body) expected when the footer is learned from item ``learned_from``
    on (that item's count makes it learned, and it loses the footer too)."""
    return [(it["entry"]["title"], n < learned_from) for n, it in enumerate(items)]


def _footer_kept(tables):
    return tables["articles"] | "FooterKept" >> beam.Map(lambda r: (r["title"], FOOTER in r["body"].split("\n")))


def test_batch_learns_per_feed_in_fetch_order_and_keeps_dead_letters():
    items = site_items()
    other = raw_item(feed_id="other-feed", guid="o-1", paragraphs=("An unrelated story.", FOOTER))
    msgs = [message(it, f"m{n:02d}") for n, it in enumerate(items)]
    msgs.reverse()  # arrival order does not matter: each feed is cleaned in fetch order
    msgs += [message(other, "o1"), message(b"{broken", "bad", feed_id="bad-feed"), message(b"[1]", "nofeed"),
             message({**raw_item(feed_id=FEED), "entry": {"title": None, "content": []}}, "empty")]
    with TestPipeline(runner=BATCH_RUNNER) as p:
        tables = (p | beam.Create(msgs)
                  | CleanArticles(streaming=False, dedup_ttl_seconds=3600, learn=CONFIG) | SplitTables())
        expected = _titles_with_footer(items, 5) + [("Harbour council approves new ferry timetable", True)]
        assert_that(_footer_kept(tables), equal_to(expected), label="footer removed after learning")
        assert_that(tables["dead_letter"] | "DL" >> beam.Map(lambda r: (r["message_id"], r["step"], r["feed_id"])),
                    equal_to([("bad", "parse", "bad-feed"), ("nofeed", "parse", None), ("empty", "clean", FEED)]),
                    label="dead letters")
        assert_that(tables["raw_items"] | "Raw" >> beam.Map(lambda r: r["message_id"]),
                    equal_to([m.message_id for m in msgs]), label="every message kept raw")
        # Only the footer was learned; the feed's last unit carries its final row.
        final = (tables["learned_boilerplate"]
                 | "Keyed" >> beam.Map(lambda r: ((r["feed_id"], r["line_key"]), r))
                 | "Latest" >> beam.CombinePerKey(lambda rows: max(rows, key=lambda r: r["updated_at"]))
                 | "Project" >> beam.Map(lambda kv: (kv[0], kv[1]["items"], kv[1]["learned"], kv[1]["line"])))
        assert_that(final, equal_to([((FEED, FOOTER_KEY), len(items), True, FOOTER)]), label="learned rows")


def _distinct_equal(expected: set):
    def check(actual):
        if set(actual) != expected or not actual:
            raise BeamAssertException(f"distinct values {set(actual)!r}, expected {expected!r}")
    return check


def _stream(events) -> TestStream:
    stream = TestStream()
    for event in events:
        stream = event(stream)
    return stream.advance_watermark_to_infinity()


def _run_stream(stream: TestStream, config: LearnConfig = CONFIG, **learn_kw):
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    p = TestPipeline(runner=STREAMING_RUNNER, options=opts)
    tables = p | stream | CleanWithLearnedLines(config, streaming=True, **learn_kw) | SplitTables()
    return p, tables


def _add(items, first_id=0):
    def add(stream):
        for n, it in enumerate(items):
            ts = _fetched(it)
            stream = stream.advance_watermark_to(ts - 1).add_elements(
                [TimestampedValue(message(it, f"m{first_id + n:03d}"), ts)])
        return stream
    return add


@pytest.mark.parametrize("learn_kw", [{}, {"snapshot_every": 3, "live_learners": 0}, {"shards": 2},
                                      {"shards": 2, "snapshot_every": 3, "live_learners": 0}],
                         ids=["live learner", "rebuilt from snapshot and log every item", "sharded",
                              "sharded, rebuilt from snapshot and log every item"])
def test_streaming_learns_item_by_item_and_drops_a_silent_feeds_state(learn_kw):
    items = site_items()
    # After a silence longer than the window the feed's state has been dropped: its footer has to
    # be learned again, so the next item keeps it.
    last = _fetched(items[-1])
    late = raw_item(feed_id=FEED, guid="hl-late", title="Velmora orchard reopens after the winter",
                    paragraphs=("The orchard in Velmora reopened to visitors on a mild morning.", FOOTER),
                    fetched_at=datetime.utcfromtimestamp(last + 12 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    published=None)
    stream = _stream([_add(items), lambda s: s.advance_watermark_to(last + 11 * DAY), _add([late], 900)])
    p, tables = _run_stream(stream, **learn_kw)
    expected = _titles_with_footer(items, 5) + [(late["entry"]["title"], True)]
    assert_that(_footer_kept(tables), equal_to(expected), label="footer removed after learning")
    rows = tables["learned_boilerplate"] | "Lines" >> beam.Map(lambda r: (r["line_key"], r["learned"]))
    # Learned once and written as learned; the quote of the storm day never appears. Had the state
    # outlived the silence, the late item would have found the footer stale and written it as
    # unlearned (learned = false): no such row, so the timer dropped the state.
    assert_that(rows, _distinct_equal({(FOOTER_KEY, True)}), label="rows")
    p.run().wait_until_finish()


@pytest.mark.parametrize("shards", [None, 2], ids=["keyed by feed", "sharded"])
def test_streaming_quote_of_one_days_story_stays_in_every_update(shards):
    items = site_items(days=2, per_day=3, storm_day=1, storm_updates=12)
    broken = lambda s: s.add_elements([TimestampedValue(message(b"{broken", "bad", feed_id=FEED), _fetched(items[0]))])  # noqa: E731
    p, tables = _run_stream(_stream([_add(items), broken]), shards=shards)
    assert_that(tables["dead_letter"] | "DL" >> beam.Map(lambda r: (r["message_id"], r["step"], r["feed_id"])),
                equal_to([("bad", "parse", FEED)]), label="dead letter")
    quoted = tables["articles"] | beam.Filter(lambda r: r["title"].startswith("Storm update")) \
        | beam.Map(lambda r: QUOTE in r["body"].split("\n"))
    assert_that(quoted, equal_to([True] * 12), label="quote kept")
    assert_that(tables["learned_boilerplate"] | "Keys" >> beam.Map(lambda r: r["line_key"]),
                _distinct_equal({FOOTER_KEY}), label="only the footer learned")
    p.run().wait_until_finish()


def _east(item: dict, n: int) -> dict:
    """The item as another feed of the same site carries it (its own guid, link and headline)."""
    entry = {**item["entry"], "id": f"east-{n:03d}", "link": f"https://east.harbourlights.example.org/{n}",
             "title": "East: " + item["entry"]["title"]}
    return {**item, "feed_id": "harbour-lights-east", "entry": entry}


@pytest.mark.parametrize("shards", [None, 1], ids=["keyed by feed", "both feeds in one shard"])
def test_streaming_a_silent_feed_is_forgotten_while_a_feed_beside_it_keeps_learning(shards):
    items = site_items()
    east = [_east(it, n) for n, it in enumerate(items)]
    last = _fetched(items[-1])

    def day(d: int) -> str:
        return datetime.utcfromtimestamp(last + d * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")

    # East keeps publishing, a day apart, while the first feed is silent for 12 days.
    east_later = [raw_item(feed_id="harbour-lights-east", guid=f"east-late-{d}", title=f"East: Tarn Ferry tide gauge day {d}",
                           link=f"https://east.harbourlights.example.org/late/{d}", fetched_at=day(d), published=None,
                           paragraphs=(f"The tide gauge at Tarn Ferry read a new high on day {d} of the month.", FOOTER))
                  for d in range(1, 13)]
    late = raw_item(feed_id=FEED, guid="hl-late", title="Velmora orchard reopens after the winter",
                    paragraphs=("The orchard in Velmora reopened to visitors on a mild morning.", FOOTER),
                    fetched_at=day(12), published=None)
    def together(groups, first_id):
        def add(stream):
            for n, group in enumerate(groups):
                ts = _fetched(group[0])
                stream = stream.advance_watermark_to(ts - 1).add_elements(
                    [TimestampedValue(message(it, f"m{first_id + n:03d}-{k}"), ts) for k, it in enumerate(group)])
            return stream
        return add

    stream = _stream([together(list(zip(items, east)), 0), _add(east_later[:-1], 500),
                      together([(late, east_later[-1])], 900)])
    p, tables = _run_stream(stream, shards=shards)
    expected = (_titles_with_footer(items, 5) + _titles_with_footer(east, 5)
                + [(it["entry"]["title"], False) for it in east_later] + [(late["entry"]["title"], True)])
    assert_that(_footer_kept(tables), equal_to(expected), label="each feed learns and forgets on its own")
    # As above: had the first feed's state outlived its silence, its late item would have written
    # the footer as unlearned. (Had the east feed's state gone with it, its next items would have
    # kept the footer: the titles above.)
    rows = tables["learned_boilerplate"] | "Lines" >> beam.Map(lambda r: (r["feed_id"], r["line_key"], r["learned"]))
    assert_that(rows, _distinct_equal({(FEED, FOOTER_KEY, True), ("harbour-lights-east", FOOTER_KEY, True)}),
                label="rows")
    p.run().wait_until_finish()


def test_bad_state_tuning_is_refused():
    with pytest.raises(ValueError, match="snapshot_every"):
        CleanWithLearnedLines(CONFIG, streaming=True, snapshot_every=0)
    with pytest.raises(ValueError, match="shards"):
        CleanWithLearnedLines(CONFIG, streaming=True, shards=0)


# -- the quick tier ----------------------------------------------------------------------------------

@pytest.mark.parametrize("learn_kw", [{}, {"snapshot_every": 2, "live_learners": 0}, {"shards": 2},
                                      {"shards": 2, "snapshot_every": 2, "live_learners": 0}],
                         ids=["live learner", "rebuilt from snapshot and log every item", "sharded",
                              "sharded, rebuilt from snapshot and log every item"])
def test_streaming_quick_tier_learns_the_footer_from_two_unrelated_stories(learn_kw):
    items = site_items()
    p, tables = _run_stream(_stream([_add(items)]), QUICK, **learn_kw)
    # The second item (another story) makes the footer learned and loses it; only the first keeps it.
    assert_that(_footer_kept(tables), equal_to(_titles_with_footer(items, 1)), label="footer")
    storm = (tables["articles"] | beam.Filter(lambda r: r["title"].startswith("Storm update"))
             | beam.Map(lambda r: QUOTE in r["body"].split("\n")))
    # The developing story's updates share their headline's words: its quote counts once, and stays.
    assert_that(storm, equal_to([True] * 10), label="quote kept")
    assert_that(tables["learned_boilerplate"] | "Lines" >> beam.Map(lambda r: (r["line_key"], r["learned"])),
                _distinct_equal({(FOOTER_KEY, True)}), label="rows")
    p.run().wait_until_finish()


def test_batch_quick_tier_gives_the_same_articles_as_streaming():
    items = site_items()
    with TestPipeline(runner=BATCH_RUNNER) as p:
        tables = (p | beam.Create([message(it, f"m{n:02d}") for n, it in enumerate(items)])
                  | CleanArticles(streaming=False, dedup_ttl_seconds=3600, learn=QUICK) | SplitTables())
        assert_that(_footer_kept(tables), equal_to(_titles_with_footer(items, 1)), label="footer")


@pytest.mark.parametrize("shards", [None, 2], ids=["keyed by feed", "sharded"])
def test_streaming_a_redelivered_teaching_item_is_the_same_content(shards):
    items = site_items()[:3]
    again = lambda s: s.add_elements([TimestampedValue(message(items[1], "m001-again"), _fetched(items[1]) + 1)])  # noqa: E731
    p, tables = _run_stream(_stream([_add(items), again]), QUICK, shards=shards)
    # The second item made the footer learned and lost it; delivered again, with the footer learned
    # before it is cleaned, it gives the same content, which dedup then drops as a repeat.
    hashes = (tables["articles"] | beam.Filter(lambda r: r["guid"] == items[1]["entry"]["id"])
              | beam.Map(lambda r: (r["content_hash"], FOOTER in r["body"].split("\n"))))
    assert_that(hashes, _one_value_twice(False), label="same content")
    p.run().wait_until_finish()


def _one_value_twice(footer: bool):
    def check(actual):
        if len(actual) != 2 or len(set(actual)) != 1 or actual[0][1] is not footer:
            raise BeamAssertException(f"expected one content twice, without the footer: {actual!r}")
    return check
