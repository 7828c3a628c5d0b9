"""The pipeline's per-source learner: story keys, the guard against one day's story, the learned set
kept incrementally, the rows written, forgetting and state round trips."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from tests.cleaning_support import parse
from tests.factories import raw_item
from tests.learned_support import BACKGROUND, FEED, FOOTER, QUOTE, site_items, storm_update
from transforms.cleaning import clean_item, paragraph_key
from transforms.learning import (
    FeedLearner,
    LearnConfig,
    feed_key,
    fetch_order,
    observation_time,
    story_key,
)
from transforms.model import Message

# The main tier alone (the quick tier has tests of its own, in test_learned_quick.py).
CONFIG = LearnConfig(min_items=6, min_days=2, min_stories=3, min_share=0.5, max_lines=200, window_days=10,
                     quick_min_items=0)
NOW = datetime(2026, 4, 1, tzinfo=timezone.utc)
FOOTER_KEY, QUOTE_KEY, BACKGROUND_KEY = map(paragraph_key, (FOOTER, QUOTE, BACKGROUND))


def _run(items: list[dict], learner: FeedLearner | None = None, config: LearnConfig = CONFIG):
    """Clean and observe items in order, as the batch step does; returns the learner, the cleaned
    articles and every row written."""
    learner = learner or FeedLearner.new(FEED, config)
    articles, rows = [], []
    for n, item in enumerate(items):
        raw = parse(item)
        article = clean_item(raw, learned=learner.learned())
        rows += learner.observe(raw, article, now=NOW + timedelta(seconds=n))
        articles.append(article)
    return learner, articles, rows


def test_story_key_is_the_headline_and_short_headlines_stand_alone():
    a = parse(raw_item(title="Storm keeps the harbour shut", guid="a-1"))
    b = parse(raw_item(title="STORM keeps the harbour shut!", guid="b-2"))
    assert story_key(a, clean_item(a)) == story_key(b, clean_item(b))
    short = parse(raw_item(title="Update", guid="c-3"))
    assert story_key(short, clean_item(short)) == "item:c-3"
    # A guid that identifies nothing (the home page, or one the poller flagged) leaves the link.
    home = parse(raw_item(title="Update", guid="https://news.example.org/", link="https://news.example.org/a"))
    assert story_key(home, clean_item(home)) == "item:https://news.example.org/a"
    flagged = parse(raw_item(title="Update", guid="c-3", link="https://news.example.org/b", guid_is_identity=False))
    assert story_key(flagged, clean_item(flagged)) == "item:https://news.example.org/b"


def test_lines_count_when_published_never_after_fetch():
    raw = parse(raw_item(published="Sun, 01 Mar 2026 22:00:00 GMT", fetched_at="2026-03-02T10:00:00Z"))
    assert observation_time(raw, clean_item(raw)) == datetime(2026, 3, 1, 22, tzinfo=timezone.utc)
    future = parse(raw_item(published="Fri, 06 Mar 2026 22:00:00 GMT", fetched_at="2026-03-02T10:00:00Z"))
    assert observation_time(future, clean_item(future)) == datetime(2026, 3, 2, 10, tzinfo=timezone.utc)


def test_fetch_order_compares_line_numbers_as_numbers():
    t = datetime(2026, 3, 2, tzinfo=timezone.utc)
    ids = ["file:///x.jsonl#L10", "file:///x.jsonl#L9", "file:///x.jsonl#L100", "m-2"]
    assert sorted(ids, key=lambda m: fetch_order(t, m)) == [
        "file:///x.jsonl#L9", "file:///x.jsonl#L10", "file:///x.jsonl#L100", "m-2"]
    assert fetch_order(t - timedelta(hours=1), "file:///x.jsonl#L99") < fetch_order(t, "file:///x.jsonl#L1")


def test_feed_key_from_the_attribute_else_the_payload_else_empty():
    payload = b'{"feed_id": "from-payload", "entry": {}}'
    assert feed_key(Message("m", payload, {"feed_id": "from-attribute"})) == "from-attribute"
    assert feed_key(Message("m", payload, {})) == "from-payload"
    for unreadable in (b"{broken", b"[1, 2]", b'{"feed_id": 7}', b"{}"):
        assert feed_key(Message("m", unreadable, {})) == "", unreadable


def test_the_footer_is_learned_and_removed_but_one_days_story_is_not():
    items = site_items()
    learner, articles, rows = _run(items)
    assert learner.learned() == {FOOTER_KEY}
    # Five items on day one, the sixth (day two) makes it: every later item loses the footer.
    with_footer = [FOOTER in a.body for a in articles]
    assert with_footer == [True] * 6 + [False] * (len(items) - 6)
    assert all(a.learned_lines == [FOOTER_KEY] for a in articles[6:])
    # Ten updates of one developing story on one day repeat the quote and the background: counted,
    # clearing every threshold but min_days, and kept in every update.
    for key in (QUOTE_KEY, BACKGROUND_KEY):
        stat = learner.lines.lines[key]
        assert (stat.items, len(stat.days)) == (10, 1) and len(stat.stories) >= CONFIG.min_stories
        assert key not in learner.learned()
    updates = [a for a in articles if a.title.startswith("Storm update")]
    assert len(updates) == 10 and all(QUOTE in a.body and BACKGROUND in a.body for a in updates)
    assert {r["line_key"] for r in rows} == {FOOTER_KEY}


def test_one_story_carried_on_several_days_is_one_story():
    """Re-posts of one story (one headline, new URLs) over days repeat its quote: one story."""
    title, paras = storm_update(1)
    items = [raw_item(feed_id=FEED, guid=f"re-{d}", link=f"https://harbourlights.example.org/re/{d}", title=title,
                      paragraphs=(*paras, FOOTER), fetched_at=f"2026-03-{2 + d:02d}T09:00:00Z",
                      published=f"Mon, {2 + d:02d} Mar 2026 08:00:00 GMT") for d in range(8)]
    learner, _, _ = _run(items)
    assert len(learner.lines.lines[QUOTE_KEY].stories) == 1
    assert learner.learned() == frozenset()  # the footer too: one story is all this feed showed


def test_the_learned_set_always_equals_a_full_recomputation():
    rng = random.Random(5)
    chrome = [f"Site line {c}: subscribe, share and follow the harbour desk" for c in range(4)]
    learner = FeedLearner.new(FEED, CONFIG)
    t = datetime(2026, 3, 1, tzinfo=timezone.utc)
    for i in range(400):
        t += timedelta(hours=rng.choice((1, 3, 9, 30)))
        paras = [f"Unique body line {i} about nothing in particular."]
        paras += [c for c in chrome if rng.random() < (0.9 if i < 200 else 0.1)]  # chrome fades out
        learner.observe_lines(paras, at=t, story=f"s{i % 37}", now=NOW)
        assert learner.learned() == learner.lines.learned(CONFIG), i


def test_rows_on_learning_then_a_few_as_counts_grow_and_a_final_flush():
    items = site_items(days=10, per_day=8, storm_updates=0)
    learner, _, rows = _run(items)
    footer_rows = [r for r in rows if r["line_key"] == FOOTER_KEY]
    # Learned with the first item of day two; from then on, growth by a tenth or a new day writes a
    # row, not every item does.
    assert footer_rows[0]["learned"] and footer_rows[0]["items"] == 9
    assert len(items) - 9 > 3 * len(footer_rows)
    [final] = learner.flush(NOW + timedelta(days=1))
    assert (final["line"], final["items"], final["share"], final["learned"]) == (FOOTER, 80, 1.0, True)
    assert final["first_seen"] < final["last_seen"] and final["updated_at"] == NOW + timedelta(days=1)
    assert learner.flush(NOW + timedelta(days=2)) == []  # nothing changed since


def test_a_line_that_falls_below_its_share_is_unlearned_with_a_row():
    learner, _, _ = _run(site_items(days=3, storm_updates=0))
    assert FOOTER_KEY in learner.learned()
    t = datetime(2026, 3, 6, 8, tzinfo=timezone.utc)
    rows = []
    for i in range(40):  # the site drops its footer
        rows += learner.observe_lines([f"Plain item {i} without any footer line at all."],
                                      at=t + timedelta(hours=i), story=f"p{i}", now=NOW)
    assert FOOTER_KEY not in learner.learned()
    [row] = [r for r in rows if r["line_key"] == FOOTER_KEY]
    assert row["learned"] is False and row["share"] < CONFIG.min_share


def test_a_forgotten_line_gets_a_last_row_and_leaves_no_trace():
    learner, _, _ = _run(site_items(days=3, storm_updates=0))
    later = datetime(2026, 4, 30, tzinfo=timezone.utc)  # past the ten-day window
    rows = learner.observe_lines(["Another day, another story entirely."], at=later, story="x", now=NOW)
    assert [(r["line_key"], r["learned"]) for r in rows] == [(FOOTER_KEY, False)]
    assert FOOTER_KEY not in learner.lines.lines and FOOTER_KEY not in learner.exported
    assert learner.flush(NOW) == []


def test_state_round_trips_and_the_restored_learner_continues_identically():
    items = site_items()
    learner, _, _ = _run(items[:20])
    restored = FeedLearner.from_dict(learner.to_dict(), CONFIG)
    assert restored.learned() == learner.learned() and restored.exported == learner.exported
    _, a, rows_a = _run(items[20:], learner)
    _, b, rows_b = _run(items[20:], restored)
    assert [x.body for x in a] == [x.body for x in b] and rows_a == rows_b
    assert learner.to_dict() == restored.to_dict()


def test_replaying_logged_observations_rebuilds_the_same_learner():
    learner = FeedLearner.new(FEED, CONFIG)
    log = []
    for n, item in enumerate(site_items()):
        raw = parse(item)
        article = clean_item(raw, learned=learner.learned())
        lines, at, story = learner.observation(raw, article)
        log.append((lines, at, story, NOW + timedelta(seconds=n)))
        learner.observe_lines(*log[-1][:1], at=at, story=story, now=log[-1][3])
    replayed = FeedLearner.new(FEED, CONFIG)
    for lines, at, story, now in log:
        replayed.observe_lines(lines, at=at, story=story, now=now)
    assert replayed.to_dict() == learner.to_dict()


def test_state_stays_bounded_with_a_new_line_on_every_item():
    config = LearnConfig(min_items=6, min_days=2, min_stories=3, min_share=0.5, max_lines=64, window_days=30)
    learner = FeedLearner.new(FEED, config)
    t = datetime(2026, 3, 1, tzinfo=timezone.utc)
    for i in range(2000):
        learner.observe_lines([f"Fresh sentence number {i} of the body.", FOOTER], at=t + timedelta(hours=i),
                              story=f"s{i}", now=NOW)
        assert len(learner.lines.lines) <= config.max_lines
    assert learner.learned() == {FOOTER_KEY} and len(learner.exported) == 1
