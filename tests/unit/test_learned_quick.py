"""The quick tier of learned boilerplate (short edge lines learned from a few unrelated stories) and
the aggregator's headline form ("Headline - Source Name"): pure calls, state bounds, round trips and
the replay of logs written before either existed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.cleaning_support import parse
from tests.factories import raw_item
from transforms.cleaning import clean_item, paragraph_key
from transforms.learning import (
    FeedLearner,
    LearnConfig,
    QuickLines,
    carries,
    edge_lines,
    headline_words,
    related,
)
from transforms.learning.dofns import _Feeds, _FeedsJournal
from transforms.learning.learned import TitleForm, title_suffix

CONFIG = LearnConfig()
T0 = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)
PROMPT = "The Tidewater Courier is printed at the quay office and read along the coast."
LEDE = "The Velmora council approved a new ferry schedule on Monday after months of debate among residents."


def _head(title: str, n: int = 0) -> tuple[str, ...]:
    return headline_words(title, f"item-{n}")


def test_headlines_of_one_story_are_related_and_unrelated_ones_are_not():
    a = _head("Storm keeps the Port Alden harbour shut for a third day")
    b = _head("Port Alden harbour stays shut as the storm strengthens")
    c = _head("Velmora library reopens after its roof is repaired")
    assert related(a, b, 0.5) and not related(a, c, 0.5)
    # A headline without words stands for its item: unrelated to everything but itself.
    empty = headline_words("", "guid-1")
    assert not related(empty, headline_words(None, "guid-2"), 0.5) and related(empty, empty, 0.5)


def test_edge_lines_are_the_short_first_and_last_paragraphs():
    body = ["first", "second", "middle one", "middle two", "next to last", "x" * 300]
    assert edge_lines(body, LearnConfig(quick_edge=2)) == ["first", "second", "next to last"]
    assert edge_lines(body[:3], LearnConfig(quick_edge=2)) == body[:3]


def test_a_line_is_learned_from_two_unrelated_stories_never_from_one_story_repeated():
    quick = QuickLines()
    key = paragraph_key(PROMPT)
    storm = [f"Storm update {k}: Port Alden harbour stays shut as winds reach {60 + k} km/h" for k in range(5)]
    for n, title in enumerate(storm):
        assert quick.observe([PROMPT], _head(title, n), at=T0 + timedelta(minutes=n), config=CONFIG) == []
    assert quick.learned(CONFIG) == frozenset()
    became = quick.observe([PROMPT], _head("Velmora library reopens after its roof is repaired"),
                           at=T0 + timedelta(hours=1), config=CONFIG)
    assert became == [key] and quick.learned(CONFIG) == {key} == quick.learned_keys
    # Stricter thresholds on restart re-decide the line; the tier off learns nothing.
    assert QuickLines.from_dict(quick.to_dict(), LearnConfig(quick_min_items=3)).learned_keys == set()
    assert QuickLines().observe([PROMPT], _head("x y z"), at=T0, config=LearnConfig(quick_min_items=0)) == []


def test_quick_state_is_bounded_and_forgets_unseen_lines():
    config = LearnConfig(quick_max_lines=16, window_days=3)
    quick = QuickLines()
    for n in range(200):
        quick.observe([f"Chrome line number {n} of the site"], _head(f"Story {n} about place {n}", n),
                      at=T0 + timedelta(minutes=n), config=config)
        assert len(quick.lines) <= config.quick_max_lines
    for line in quick.lines.values():
        assert len(line.heads) <= config.quick_min_items
    quick.forget(T0 + timedelta(days=5), config)
    assert quick.lines == {} and quick.learned_keys == set()


def test_title_suffix_is_a_source_name_after_a_spaced_dash():
    assert title_suffix("Port strike leaves dozens of ships waiting - Le Courrier de l'Atlantique") == (
        "Port strike leaves dozens of ships waiting", "Le Courrier de l'Atlantique")
    assert title_suffix("Wheat support price approved by cabinet | The Valley Ledger")[1] == "The Valley Ledger"
    for not_a_name in ("Ceasefire talks resume - what we know so far",   # lowercase: the headline's own words
                       "Markets fall - Dow down 300 points",              # digits
                       "Who pays for the bridge - And why?",              # sentence punctuation
                       "Short - The Valley Ledger",                       # headline of one word
                       "A well-known bakery in Velmora closes",            # no spaced separator
                       None, ""):
        assert title_suffix(not_a_name) is None, not_a_name


def test_the_headline_form_is_learned_from_two_unrelated_stories_and_stripped():
    # Title-case headlines and names without a newspaper word: only the learned form tells them apart.
    learner = FeedLearner.new("aggregator", CONFIG)
    titles = ["Port Strike Leaves Dozens of Ships Waiting - La Voile de l'Atlantique",
              "Port Strike Enters Its Second Week, Ships Still Waiting - La Voile de l'Atlantique",
              "Cabinet Approves a Wheat Support Price - The Valley Lantern",
              "Velmora Library Reopens After Its Roof Is Repaired - Ossara Evening Lamp"]
    out = []
    for n, title in enumerate(titles):
        raw = parse(raw_item(feed_id="aggregator", guid=f"g-{n}", title=title, paragraphs=(f"{LEDE} ({n})",)))
        clean = clean_item(raw, learned=learner.learned())
        learner.observe(raw, clean, now=T0)
        out.append(learner.strip_title(clean))
    # The second item is the same story as the first; the third, another story, makes the form learned.
    assert [a.title for a in out] == [titles[0], titles[1], "Cabinet Approves a Wheat Support Price",
                                      "Velmora Library Reopens After Its Roof Is Repaired"]
    assert "learned.title_suffix" in out[3].removed_rules and "learned.title_suffix" not in out[1].removed_rules
    restored = FeedLearner.from_dict(learner.to_dict(), CONFIG)
    assert restored.title_form.learned(CONFIG)
    assert not FeedLearner.new("x", CONFIG).title_form.learned(CONFIG)
    assert TitleForm.from_dict(None).heads == []


def test_carries_tells_an_item_that_still_holds_a_line_just_learned():
    clean = clean_item(parse(raw_item(paragraphs=(LEDE, PROMPT))))
    assert carries(clean, {paragraph_key(PROMPT)}) and not carries(clean, {"someotherline"})
    assert not carries(clean, set())
    assert not carries(clean_item(parse(raw_item(paragraphs=(LEDE, PROMPT))), learned={paragraph_key(PROMPT)}),
                       {paragraph_key(PROMPT)})


def test_logs_and_snapshots_written_before_the_quick_tier_still_replay():
    learner = FeedLearner.new("site", CONFIG)
    learner.observe_lines([PROMPT], at=T0, story="title:a", now=T0)  # an old log entry: no quick part
    old = learner.to_dict()
    old.pop("quick")
    old.pop("title_form")
    restored = FeedLearner.from_dict(old, CONFIG)
    assert restored.quick.lines == {} and restored.lines.items_seen == 1
    journal = _FeedsJournal(CONFIG, min_log=4)
    feeds = _Feeds()
    journal.apply(feeds, ("observe", "site", [PROMPT], T0, "title:a", T0, 123))  # the old 7 values
    journal.apply(feeds, ("observe", "site", [PROMPT], T0, "title:b", T0, 124,
                          ([PROMPT], _head("Velmora library reopens"), False)))
    journal.apply(feeds, ("observe", "site", [PROMPT], T0, "title:c", T0, 125,
                          ([PROMPT], _head("Cabinet approves a wheat price"), False)))
    assert feeds.learners["site"].learned() == {paragraph_key(PROMPT)} and feeds.expiry["site"] == 125


@pytest.mark.parametrize("kwargs", [{"quick_min_items": 1}, {"quick_min_items": -1}, {"quick_edge": 0},
                                    {"quick_max_lines": 0}, {"quick_related": 0}, {"quick_related": 1.5}])
def test_quick_settings_out_of_range_are_refused(kwargs):
    with pytest.raises(ValueError, match="quick"):
        LearnConfig(**kwargs)
