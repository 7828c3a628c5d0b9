"""Pure tests of transforms.syndication.stories: cluster inputs from units, story rows, the streaming
tracker and the batch decisions (which must be the incremental clusterer's)."""

from __future__ import annotations

import pickle
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from schemas import STORIES
from tests.quality.syndication_corpus import CORPUS_PATH, load_corpus
from transforms.model import Unit
from transforms.syndication import (
    ClusterConfig,
    ClusterInput,
    FingerprintStack,
    StoryArticle,
    StoryClusterer,
    StoryTracker,
    batch_matches,
    cluster_batch,
    cluster_input,
    fingerprint_body,
    story_article,
    story_row,
    with_cluster,
)

T0 = datetime(2024, 3, 4, 6, 0, tzinfo=timezone.utc)
_WORDS = [f"w{n}" for n in range(3000)]


def body(seed: int, words: int = 200) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def row(article_id: str, *, hours: float = 0, feed: str = "feed", agency: str | None = None,
        text: str = "", version: int = 1, withdrawn: bool = False, dateline: str | None = None) -> dict:
    return {"article_id": article_id, "fetched_at": T0 + timedelta(hours=hours), "feed_id": feed,
            "agency": agency, "title": f"Title {article_id}", "dateline": dateline, "body": text,
            "version": version, "withdrawn": withdrawn}


def unit(message_id: str, article: dict | None, feed_agency: str | None = None) -> Unit:
    return Unit(message_id, raw_item={}, article=article, dead_letter=None, feed_agency=feed_agency)


def clock_from(start: datetime):
    ticks = iter(start + timedelta(seconds=n) for n in range(10_000))
    return lambda: next(ticks)


# -- inputs ------------------------------------------------------------------------------------------

def test_the_agency_feed_makes_the_agency_copy_unless_the_item_is_another_agencys():
    own = story_article(row("a", agency="dpa", dateline="PORT ANSELM"), feed_agency="dpa")
    relayed = story_article(row("b", agency="afp"), feed_agency="dpa")
    unattributed = story_article(row("c"), feed_agency="dpa")
    outlet = story_article(row("d", agency="dpa", dateline="PORT ANSELM"), feed_agency=None)
    assert (own.is_agency_copy, own.canonical_rank, own.has_dateline) == (True, 0, True)
    assert (relayed.is_agency_copy, relayed.agency) == (False, "afp")
    assert (unattributed.is_agency_copy, unattributed.agency) == (True, "dpa")
    assert (outlet.is_agency_copy, outlet.canonical_rank) == (False, 1)
    assert story_article(row("e", agency="dpa")).canonical_rank == 2  # no dateline kept


def test_cluster_input_carries_what_each_path_needs():
    text = body(1)
    first = cluster_input(unit("m1", row("a", text=text)))
    assert first.fingerprint == fingerprint_body(text) and first.body is None and first.clusterable
    carried = cluster_input(unit("m1", row("a", text=text)), "body")
    assert carried.fingerprint is None and carried.body == text and carried.clusterable
    looked_up = cluster_input(unit("m2", row("a", text=text, version=2)), "none")
    assert not looked_up.clusterable
    notice = cluster_input(unit("m3", row("k", text="This story has been withdrawn.", withdrawn=True)))
    assert not notice.clusterable
    assert cluster_input(unit("m4", None)) is None
    with pytest.raises(ValueError, match="content"):
        cluster_input(unit("m1", row("a", text=text)), "everything")


@pytest.mark.parametrize("content", ["fingerprint", "body", "none"])
def test_cluster_inputs_survive_their_record_form(content):
    item = cluster_input(unit("m1", row("a", agency="ap", text=body(2), dateline="X"), "ap"), content)
    assert ClusterInput.from_record(item.to_record()) == item


def test_story_rows_have_exactly_the_stories_columns():
    article = StoryArticle("a", T0, "feed-a", "ap", True, "Title", True)
    tracker = StoryTracker(clock=clock_from(T0))
    rows = tracker.assign(article, []).story_rows
    assert len(rows) == 1 and set(rows[0]) == set(STORIES.field_names())
    assert (rows[0]["cluster_id"], rows[0]["outlet_count"], rows[0]["merged_into"]) == ("a", 1, None)


# -- the streaming tracker -----------------------------------------------------------------------------

def _article(article_id: str, hours: float, feed: str | None = None) -> StoryArticle:
    return StoryArticle(article_id, T0 + timedelta(hours=hours), feed or f"feed-{article_id}")


def test_a_bridge_retires_the_later_story_and_its_aliases_into_the_earliest():
    tracker = StoryTracker(clock=clock_from(T0))
    tracker.assign(_article("c", 3), [])
    tracker.assign(_article("b", 2), ["c"])  # a late copy earlier than c: c is retired into b
    tracker.assign(_article("x", 1), [])
    bridge = tracker.assign(_article("z", 4), ["b", "x"])
    assert bridge.cluster_id == "x"
    survivor, *aliases = bridge.story_rows
    assert survivor["cluster_id"] == "x" and survivor["merged_into"] is None
    assert survivor["article_ids"] == ["b", "c", "x", "z"] and survivor["outlet_count"] == 4
    # b is retired now, and c, retired into b before, is re-pointed: one hop from any old id.
    assert sorted((r["cluster_id"], r["merged_into"]) for r in aliases) == [("b", "x"), ("c", "x")]
    assert all(r["updated_at"] == survivor["updated_at"] for r in aliases)


def test_ids_given_stay_with_the_article_and_a_duplicate_changes_nothing():
    tracker = StoryTracker(clock=clock_from(T0))
    tracker.assign(_article("b", 2), [])
    tracker.assign(_article("a", 1), ["b"])
    assert tracker.given("b") == "b"  # written with b; the story is a's now, via merged_into
    assert tracker.graph.cluster_of("b") == "a"
    again = tracker.assign(_article("b", 2), [])
    assert again.cluster_id == "b" and again.story_rows == ()
    assert tracker.given("unknown") is None


def test_an_article_naming_no_agency_takes_the_agency_of_the_syndicated_story_it_joins():
    tracker = StoryTracker(clock=clock_from(T0))
    wire = StoryArticle("wire", T0, "agency-feed", agency="kyodo", is_agency_copy=True)
    alone = tracker.assign(StoryArticle("alone", T0, "blog"), [])
    assert alone.agency is None  # a story of one article lends no agency
    tracker.assign(wire, [])
    teaser = tracker.assign(StoryArticle("teaser", T0 + timedelta(hours=1), "aggregator"), ["wire"])
    assert teaser.agency == "kyodo"
    joined = with_cluster(unit("m-teaser", row("teaser")), teaser)
    assert joined.article["agency"] == "kyodo" and joined.article["cluster_id"] == "wire"
    # An article that names its agency keeps it; a later version of the teaser gets the same agency.
    named = with_cluster(unit("m-named", row("named", agency="ap")), teaser)
    assert named.article["agency"] == "ap"
    assert tracker.given_assignment("teaser") == type(teaser)("wire", agency="kyodo")
    assert with_cluster(unit("m-solo", row("alone")), alone).article["agency"] is None


def test_batch_gives_the_syndicated_storys_agency_to_every_copy_naming_none():
    story = body(12)
    rows = [
        ("m-wire", "wire", row("wire", hours=0, text=story, agency="antara")),
        ("m-copy", "copy", row("copy", hours=1, text=" ".join(story.split()[:150]))),
        ("m-other", "other", row("other", hours=1, text=body(13))),
    ]
    out = cluster_batch(_inputs(rows), clock=lambda: T0)
    assert out["m-copy"].cluster_id == "wire" and out["m-copy"].agency == "antara"
    assert out["m-other"].agency is None


def test_snapshots_are_strictly_ordered_even_with_a_stuck_clock():
    stuck = StoryTracker(clock=lambda: T0)
    first = stuck.assign(_article("a", 0), []).story_rows[0]["updated_at"]
    second = stuck.assign(_article("b", 0), ["a"]).story_rows[0]["updated_at"]
    assert second > first


def test_replaying_decisions_rebuilds_the_same_tracker():
    live = StoryTracker(clock=clock_from(T0))
    log = []
    for article, matches in [(_article("a", 0), []), (_article("b", 1), ["a"]), (_article("c", 2), [])]:
        result = live.assign(article, matches)
        log.append((article, matches, result.story_rows[0]["updated_at"]))
    rebuilt = pickle.loads(pickle.dumps(StoryTracker()))
    for article, matches, at in log:
        rebuilt.assign(article, matches, at=at)
    assert [rebuilt.given(a) for a in "abc"] == [live.given(a) for a in "abc"]
    assert rebuilt.graph.stories() == live.graph.stories()
    assert rebuilt.assign(_article("d", 3), []).story_rows[0]["updated_at"] > log[-1][2]


def test_expiry_forgets_articles_and_their_given_ids():
    tracker = StoryTracker(ttl=timedelta(hours=2), clock=clock_from(T0))
    tracker.assign(_article("a", 0), [])
    tracker.assign(_article("b", 1), [])
    assert tracker.next_expiry() == T0 + timedelta(hours=2)
    assert tracker.expire(T0 + timedelta(hours=2)) == ("a",)
    assert tracker.given("a") is None and tracker.given("b") == "b"
    assert tracker.next_expiry() == T0 + timedelta(hours=3)


# -- batch -------------------------------------------------------------------------------------------

def _inputs(rows: list[tuple[str, str, dict]]) -> list[ClusterInput]:
    return [cluster_input(unit(m, r), "body") for m, _, r in rows]


def test_batch_gives_final_ids_to_every_version_and_one_row_per_story():
    story = body(10)
    front, back = story.split()[:120], story.split()[80:]
    rows = [
        ("m-back", "back", row("back", hours=1, text=" ".join(back))),
        ("m-front", "front", row("front", hours=0, text=" ".join(front))),
        ("m-bridge", "bridge", row("bridge", hours=2, text=story)),
        ("m-back-2", "back", row("back", hours=3, text=" ".join(back) + " corrected", version=2)),
        ("m-other", "other", row("other", hours=1, text=body(11))),
        ("m-notice", "notice", row("notice", hours=1, text="KILL", withdrawn=True)),
    ]
    out = cluster_batch(_inputs(rows), clock=lambda: T0)
    assert {m: a.cluster_id for m, a in out.items()} == {
        "m-back": "front", "m-front": "front", "m-bridge": "front", "m-back-2": "front",
        "m-other": "other", "m-notice": None}
    stories = {r["cluster_id"]: (m, r) for m, a in out.items() for r in a.story_rows}
    assert set(stories) == {"front", "other"}  # no row for the retired id, none for the notice
    carrier, front_row = stories["front"]
    assert carrier == "m-bridge"  # the unit whose article last changed the story
    assert front_row["article_ids"] == ["back", "bridge", "front"] and front_row["merged_into"] is None


def _incremental_matches(items: list[ClusterInput], config: ClusterConfig) -> list[set[str]]:
    clusterer = StoryClusterer(config.thresholds, config.lsh, config.ttl, config.max_bucket)
    found = []
    for n, item in enumerate(items):
        found.append(set(clusterer.add(item.article, item.fingerprint).matched))
        if n % 7 == 0:  # evictions only free memory: the decisions must not depend on when
            clusterer.expire(item.article.first_seen)
    return found


def _hot_bucket_items(count: int) -> list[ClusterInput]:
    """Bodies of 8 sentences picked from the same 14: any two share about half their text, so
    every band bucket is shared by many of them, and many pairs match."""
    rng = random.Random(5)
    sentences = [" ".join(rng.choice(_WORDS) for _ in range(12)) for _ in range(14)]
    items = []
    for n in range(count):
        text = " ".join(rng.sample(sentences, 8))
        article = StoryArticle(f"h{n:04d}", T0 + timedelta(minutes=20 * n), "feed")
        items.append(ClusterInput(f"m{n}", article, fingerprint=fingerprint_body(text)))
    return items


@pytest.mark.parametrize(("label", "config"), [
    ("defaults", ClusterConfig()),
    ("short ttl, tiny buckets", ClusterConfig(ttl=timedelta(hours=2), max_bucket=2)),
])
def test_batch_matches_are_the_incremental_clusterers(label, config):
    corpus = [ClusterInput(f"m-{i.article_id}", StoryArticle(i.article_id, i.first_seen, i.feed_id),
                           fingerprint=fingerprint_body(i.body)) for i in load_corpus()]
    # Trimmed copies, found through the lead's anchor keys and joined by the sample rule, with the
    # agencies that rule checks.
    hard = [ClusterInput(f"m-{i.article_id}", StoryArticle(i.article_id, i.first_seen, i.feed_id, i.agency),
                         fingerprint=fingerprint_body(i.body).with_agency(i.agency))
            for i in load_corpus(CORPUS_PATH.with_name("hard_copies.yaml"))]
    in_order = (lambda items: sorted(items, key=lambda i: (i.article.first_seen, i.message_id)))
    for items in (in_order(corpus), in_order(hard), _hot_bucket_items(300)):
        stack = FingerprintStack.of([i.fingerprint for i in items])
        times = np.array([int(i.article.first_seen.timestamp() * 1e6) for i in items])
        batch = [{items[m].article.article_id for m in found} for found in batch_matches(stack, times, config)]
        assert batch == _incremental_matches(items, config), label
        assert any(batch)


@pytest.mark.parametrize("chunk", [1, 8, 100])
def test_batch_matches_verified_in_chunks_are_the_same(monkeypatch, chunk):
    """Candidates made and verified a few at a time (as at 100,000 articles): the same matches."""
    import transforms.syndication.stories as stories_module

    items = _hot_bucket_items(300)
    stack = FingerprintStack.of([i.fingerprint for i in items])
    times = np.array([int(i.article.first_seen.timestamp() * 1e6) for i in items])
    whole = batch_matches(stack, times)
    monkeypatch.setattr(stories_module, "_PAIRS_PER_CHUNK", chunk)
    chunked = batch_matches(stack, times)
    assert sum(map(len, whole)) > 300
    assert [m.tolist() for m in chunked] == [m.tolist() for m in whole]
    assert [set(map(int, m)) for m in chunked] == [
        {next(k for k, it in enumerate(items) if it.article.article_id == a) for a in found}
        for found in _incremental_matches(items, ClusterConfig())]


def test_hot_buckets_bound_the_candidates_each_article_is_checked_against():
    items = _hot_bucket_items(300)
    stack = FingerprintStack.of([i.fingerprint for i in items])
    times = np.array([int(i.article.first_seen.timestamp() * 1e6) for i in items])
    # Everything is alike here, so bigger buckets find more: the bound is what caps the work.
    small = sum(map(len, batch_matches(stack, times, ClusterConfig(max_bucket=2))))
    large = sum(map(len, batch_matches(stack, times, ClusterConfig(max_bucket=64))))
    assert small < large


def test_cluster_config_refuses_nonsense():
    with pytest.raises(ValueError, match="ttl"):
        ClusterConfig(ttl=timedelta(0))
    with pytest.raises(ValueError, match="max_bucket"):
        ClusterConfig(max_bucket=0)
