"""Learned boilerplate: thresholds, the story-cluster guard, bounds, forgetting and state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.cleaning_support import parse, raw_dict
from transforms.cleaning import clean_item, paragraph_key
from transforms.learning import LearnConfig, SourceLines, observe_article

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc)
CHROME = "Island Harbour Blog: independent news from the outer islands since 2009"
CONFIG = LearnConfig(min_items=6, min_days=3, min_stories=4, min_share=0.5, max_lines=50, window_days=10)


def _item(i: int) -> list[str]:
    return [f"Story number {i} opens with its own fictional lead paragraph about the harbour.",
            f"A second paragraph of story {i} with different words in it.", CHROME]


def test_a_line_on_most_items_over_several_days_and_stories_is_learned():
    state = SourceLines("island-blog")
    for i in range(8):
        state.observe(_item(i), at=T0 + timedelta(hours=12 * i), story=f"s{i}", config=CONFIG)
    assert state.learned(CONFIG) == {paragraph_key(CHROME)}
    [row] = state.export(CONFIG)
    assert (row["line"], row["items"], row["days"], row["stories"], row["share"]) == (CHROME, 8, 3, 4, 1.0)


def test_one_days_story_cluster_is_not_learned_however_often_it_repeats():
    quote = "\"We will not reopen the harbour until the storm has passed,\" the minister said."
    state = SourceLines("wire")
    for i in range(40):  # forty items of one story on one day, all quoting the same statement
        state.observe([f"Update {i} on the storm.", quote], at=T0 + timedelta(minutes=10 * i),
                      story="storm-cluster", config=CONFIG)
    assert state.learned(CONFIG) == frozenset()
    # Many stories but one day: still not learned.
    state2 = SourceLines("wire")
    for i in range(40):
        state2.observe([f"Update {i}.", quote], at=T0 + timedelta(minutes=10 * i), story=f"s{i}", config=CONFIG)
    assert state2.learned(CONFIG) == frozenset()


def test_background_paragraph_in_a_minority_of_items_is_not_learned():
    background = "The dispute over the northern shoal has closed the harbour twice in the past decade."
    state = SourceLines("wire")
    for i in range(40):
        paras = [f"Unrelated story {i} about something else entirely."]
        if i % 4 == 0:  # a quarter of the items, over many days and stories
            paras.append(background)
        state.observe(paras, at=T0 + timedelta(hours=8 * i), story=f"s{i}", config=CONFIG)
    stat_key = paragraph_key(background)
    assert state.lines[stat_key].items == 10 and len(state.lines[stat_key].days) == 3
    assert stat_key not in state.learned(CONFIG)


def test_long_paragraphs_are_never_candidates():
    long_para = "word " * 200
    state = SourceLines("x")
    for i in range(10):
        state.observe([long_para], at=T0 + timedelta(days=i), story=f"s{i}", config=CONFIG)
    assert state.lines == {}


def test_state_is_bounded_and_keeps_learned_lines():
    cfg = LearnConfig(min_items=3, min_days=1, min_stories=1, min_share=0.5, max_lines=5, window_days=30)
    state = SourceLines("x")
    for i in range(3):
        state.observe([CHROME], at=T0, story="s", config=cfg)
    for i in range(100):
        state.observe([CHROME, f"unique line number {i}"], at=T0 + timedelta(minutes=i), story="s", config=cfg)
    assert len(state.lines) <= 5
    assert paragraph_key(CHROME) in state.learned(cfg)
    assert all(len(s.days) <= cfg.min_days and len(s.stories) <= cfg.min_stories for s in state.lines.values())


def test_lines_unseen_for_the_window_are_forgotten():
    state = SourceLines("x")
    for i in range(8):
        state.observe(_item(i), at=T0 + timedelta(hours=12 * i), story=f"s{i}", config=CONFIG)
    assert state.learned(CONFIG)
    tracked = len(state.lines)
    assert state.forget(T0 + timedelta(days=30), CONFIG) == tracked
    assert state.lines == {} and state.learned(CONFIG) == frozenset()


def test_state_round_trips():
    state = SourceLines("island-blog")
    for i in range(8):
        state.observe(_item(i), at=T0 + timedelta(hours=12 * i), story=f"s{i}", config=CONFIG)
    again = SourceLines.from_dict(state.to_dict())
    assert again == state and again.learned(CONFIG) == state.learned(CONFIG)


def test_clean_item_drops_learned_lines_and_they_keep_being_counted():
    state = SourceLines("island-blog")
    for i in range(8):
        state.observe(_item(i), at=T0 + timedelta(hours=12 * i), story=f"s{i}", config=CONFIG)
    raw = parse(raw_dict(title="Ferry fares rise", content_html=(
        "<p>The ferry operator raised fares by a tenth on Monday, citing fuel costs.</p>"
        f"<p>{CHROME.upper()}!</p>")))
    article = clean_item(raw, learned=state.learned(CONFIG))
    assert article.body == ["The ferry operator raised fares by a tenth on Monday, citing fuel costs."]
    assert "learned.line" in article.removed_rules
    assert article.learned_lines == [paragraph_key(CHROME)]
    before = state.lines[paragraph_key(CHROME)].items
    observe_article(state, article.body, article.learned_lines, at=T0 + timedelta(days=5), story="s99",
                    config=CONFIG)
    assert state.lines[paragraph_key(CHROME)].items == before + 1


@pytest.mark.parametrize("kwargs", [{"min_items": 1}, {"min_share": 0}, {"min_share": 1.5}, {"max_lines": 0}])
def test_bad_config_is_rejected(kwargs):
    with pytest.raises(ValueError):
        LearnConfig(**kwargs)


def test_forget_finds_stale_lines_however_they_arrived():
    """forget skips its scan while no line can be stale; a line seen out of order, or a state
    restored from a dict, still has its stale lines dropped."""
    config = LearnConfig()
    t0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
    state = SourceLines("feed")
    state.observe(["A line seen early on, in order."], at=t0, story="s1", config=config)
    assert state.forget(t0 + timedelta(days=1), config) == 0
    state.observe(["A line that arrives late but is old."], at=t0 - timedelta(days=config.window_days), story="s2",
                  config=config)
    assert state.forget(t0 + timedelta(days=1), config) == 1
    assert [s.text for s in state.lines.values()] == ["A line seen early on, in order."]
    restored = SourceLines.from_dict(state.to_dict())
    assert restored.forget(t0 + timedelta(days=config.window_days + 1), config) == 1
    assert not restored.lines
