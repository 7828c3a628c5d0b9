"""Pure tests of transforms.syndication.clustering: cluster ids, merges, arrival order, duplicates,
TTL."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from transforms.syndication import (
    DEFAULT_TTL,
    ClusterGraph,
    Fingerprint,
    Merge,
    StoryArticle,
    StoryClusterer,
    fingerprint_body,
    single_story,
    verify_pair,
)

T0 = datetime(2024, 3, 4, 6, 0, tzinfo=timezone.utc)

_SYLLABLES = ["ka", "lo", "ren", "ta", "vi", "mor", "sel", "an", "dru", "po", "im", "bex", "ul", "sha", "ter", "ov"]
_VOCABULARY = sorted(
    {"".join(random.Random(i).choices(_SYLLABLES, k=random.Random(-i).randint(1, 3))) for i in range(4000)}
)


def paragraphs(seed: int, count: int = 8, words: int = 40) -> list[str]:
    """Distinct fictional paragraphs: different seeds share (almost) no word 3-grams."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(_VOCABULARY, k=words)) + "." for _ in range(count)]


def fp(paras: list[str]) -> Fingerprint:
    return fingerprint_body("\n".join(paras))


def article(article_id: str, hours: float, feed: str | None = None, **kwargs) -> StoryArticle:
    return StoryArticle(
        article_id=article_id,
        first_seen=T0 + timedelta(hours=hours),
        feed_id=feed or f"feed-{article_id}",
        **kwargs,
    )


def test_the_first_article_names_the_story_and_copies_join_it():
    story = paragraphs(1)
    clusterer = StoryClusterer()
    first = clusterer.add(article("a", 0, agency="dpa", is_agency_copy=True, title="Original"), fp(story))
    copy = clusterer.add(article("b", 1, agency="dpa"), fp([*story[:6], "Related: something else entirely here."]))
    other = clusterer.add(article("c", 2), fp(paragraphs(2)))
    assert (first.cluster_id, copy.cluster_id, other.cluster_id) == ("a", "a", "c")
    assert copy.matched == ("a",) and copy.merges == () and not copy.duplicate
    assert other.matched == ()
    story_row = clusterer.story("a")
    assert story_row.article_ids == ("a", "b")
    assert story_row.feed_ids == ("feed-a", "feed-b") and story_row.outlet_count == 2
    assert story_row.canonical_article_id == "a" and story_row.title == "Original"
    assert story_row.agency == "dpa"
    assert (story_row.first_seen, story_row.last_seen) == (T0, T0 + timedelta(hours=1))


def test_the_agency_copy_is_canonical_even_when_an_outlet_was_first():
    story = paragraphs(3)
    clusterer = StoryClusterer()
    clusterer.add(article("outlet", 0, title="Outlet headline"), fp(story))
    clusterer.add(article("agency", 1, agency="afp", is_agency_copy=True, title="Agency headline"), fp(story))
    row = clusterer.story("outlet")
    assert row.cluster_id == "outlet"  # the id stays the earliest article's
    assert row.canonical_article_id == "agency"
    assert (row.agency, row.title) == ("afp", "Agency headline")


def test_a_bridging_article_merges_two_clusters_into_the_earliest():
    full = paragraphs(4, count=9)
    front, back = full[:6], full[3:]  # each shares only a third of its text with the other
    assert not verify_pair(fp(front), fp(back))
    clusterer = StoryClusterer()
    assert clusterer.add(article("front", 0), fp(front)).cluster_id == "front"
    assert clusterer.add(article("back", 1), fp(back)).cluster_id == "back"
    bridge = clusterer.add(article("bridge", 2), fp(full))
    assert bridge.cluster_id == "front"
    assert set(bridge.matched) == {"front", "back"}
    assert bridge.merges == (Merge("front", "back", (), ("back",)),)
    assert {clusterer.cluster_of(a) for a in ("front", "back", "bridge")} == {"front"}
    assert clusterer.story("front").article_ids == ("back", "bridge", "front")
    with pytest.raises(KeyError):
        clusterer.story("back")


def test_a_late_earlier_article_takes_over_the_id_and_retires_both_clusters():
    full = paragraphs(5, count=9)
    # Two paragraphs in common: too little of either for a direct match (half of each, one
    # passage, can be a trimmed copy beside a copy without its lede).
    front, back = full[:6], full[4:]
    assert not verify_pair(fp(front), fp(back))
    clusterer = StoryClusterer()
    clusterer.add(article("front", 5), fp(front))
    clusterer.add(article("back", 6), fp(back))
    update = clusterer.add(article("agency", 1), fp(full))
    assert update.cluster_id == "agency"
    assert update.merges == (
        Merge("agency", "front", (), ("front",)),
        Merge("agency", "back", (), ("back",)),
    )


def test_a_merge_reports_ids_retired_before_so_the_alias_map_stays_one_hop():
    story = paragraphs(6)
    clusterer = StoryClusterer()
    clusterer.add(article("c", 20), fp(story))
    second = clusterer.add(article("b", 10), fp(story))
    third = clusterer.add(article("a", 0), fp(story))
    assert second.merges == (Merge("b", "c", (), ("c",)),)
    assert third.merges == (Merge("a", "b", ("c",), ("b", "c")),)
    assert third.merges[0].all_retired == ("b", "c")


def _arrivals() -> list[tuple[StoryArticle, Fingerprint]]:
    """Several stories with copies, a bridged pair, a story without its original and singletons."""
    items = []
    for n, seed in enumerate((10, 11, 12)):
        story = paragraphs(seed)
        items += [
            (article(f"s{n}-agency", n, agency="ap", is_agency_copy=True), fp(story)),
            (article(f"s{n}-trim", n + 1), fp(story[:6])),
            (article(f"s{n}-lede", n + 2), fp(["A rewritten opening paragraph for this copy.", *story[1:]])),
        ]
    full = paragraphs(13, count=9)
    items += [
        (article("bridge-front", 3), fp(full[:6])),
        (article("bridge-back", 4), fp(full[3:])),
        (article("bridge-full", 5), fp(full)),
    ]
    items += [(article(f"single-{i}", i / 2), fp(paragraphs(100 + i))) for i in range(4)]
    return items


def _final_clusters(arrivals) -> dict[str, str]:
    clusterer = StoryClusterer()
    for meta, fingerprint in arrivals:
        clusterer.add(meta, fingerprint)
    return {meta.article_id: clusterer.cluster_of(meta.article_id) for meta, _ in arrivals}


def test_any_arrival_order_gives_the_same_clusters_and_ids():
    arrivals = _arrivals()
    expected = _final_clusters(sorted(arrivals, key=lambda item: item[0].order_key))
    assert expected["s0-trim"] == expected["s0-lede"] == "s0-agency"
    assert expected["bridge-back"] == expected["bridge-full"] == "bridge-front"
    assert len(set(expected.values())) == 3 + 1 + 4
    assert _final_clusters(list(reversed(arrivals))) == expected
    for seed in range(5):
        shuffled = list(arrivals)
        random.Random(seed).shuffle(shuffled)
        assert _final_clusters(shuffled) == expected


def test_redelivery_and_new_versions_keep_their_cluster():
    story = paragraphs(20)
    clusterer = StoryClusterer()
    clusterer.add(article("a", 0), fp(story))
    clusterer.add(article("b", 1), fp(story))
    again = clusterer.add(article("b", 1), fp(story))
    corrected = clusterer.add(article("b", 3), fp(paragraphs(21)))  # same id, changed text
    assert again.duplicate and again.cluster_id == "a" and again.merges == ()
    assert corrected.duplicate and corrected.cluster_id == "a"
    assert len(clusterer) == 2
    assert clusterer.story("a").article_ids == ("a", "b")


def test_ttl_evicts_old_articles_so_a_much_later_copy_starts_a_new_story():
    story = paragraphs(30)
    clusterer = StoryClusterer()
    clusterer.add(article("old", 0), fp(story))
    assert clusterer.expire(T0 + timedelta(hours=71)) == ()
    assert clusterer.expire(T0 + timedelta(hours=72)) == ("old",)
    assert "old" not in clusterer and len(clusterer) == 0 and clusterer.bucket_count() == 0
    assert clusterer.stories() == []
    late = clusterer.add(article("late", 73), fp(story))
    assert late.cluster_id == "late" and late.matched == ()


def test_a_story_keeps_its_id_while_any_member_is_held():
    story = paragraphs(31)
    clusterer = StoryClusterer()
    clusterer.add(article("first", 0), fp(story))
    clusterer.add(article("second", 60), fp(story))
    assert clusterer.expire(T0 + timedelta(hours=80)) == ("first",)
    third = clusterer.add(article("third", 81), fp(story))
    assert third.cluster_id == "first"
    assert third.matched == ("second",)
    assert clusterer.story("first").first_seen == T0


def test_ttl_is_configurable_and_defaults_to_72_hours():
    assert DEFAULT_TTL == timedelta(hours=72)
    clusterer = StoryClusterer(ttl=timedelta(hours=1))
    clusterer.add(article("a", 0), fp(paragraphs(32)))
    assert clusterer.expire(T0 + timedelta(hours=1)) == ("a",)
    with pytest.raises(ValueError):
        StoryClusterer(ttl=timedelta(0))


def test_empty_bodies_stay_apart():
    clusterer = StoryClusterer()
    clusterer.add(article("e1", 0), fingerprint_body(""))
    assert clusterer.add(article("e2", 1), fingerprint_body(" ")).cluster_id == "e2"


def test_pairwise_links_for_a_sharded_pipeline():
    graph = ClusterGraph()
    assert graph.add(article("b", 1)) == ("b", True)
    assert graph.add(article("a", 0)) == ("a", True)
    assert graph.add(article("a", 0)) == ("a", False)
    assert graph.link("b", "a") == Merge("a", "b", (), ("b",))
    assert graph.link("a", "b") is None  # already one story
    assert graph.link("a", "gone") is None  # evicted between candidate and verdict
    assert graph.members("a") == frozenset({"a", "b"})
    assert graph.evict(["a"]) == ()
    assert graph.cluster_of("b") == "a"
    assert graph.evict(["b"]) == ("a",)


def test_article_metadata_is_validated():
    with pytest.raises(ValueError, match="timezone-aware"):
        StoryArticle("a", datetime(2024, 3, 4, 6, 0), "feed")
    with pytest.raises(ValueError, match="article_id"):
        StoryArticle("", T0, "feed")


def test_the_story_of_a_lone_article_is_what_a_cluster_of_one_reports():
    graph = ClusterGraph()
    lone = article("lone", 3, agency="ap", is_agency_copy=True, title="Lone story")
    graph.add(lone)
    assert single_story(lone) == graph.story("lone")


def test_a_bucket_remembers_only_its_latest_articles():
    # Three copies of one brief share every band; with room for one article per bucket, the third
    # copy still joins through the second, and the first is no longer a candidate.
    story = paragraphs(40)
    clusterer = StoryClusterer(max_bucket=1)
    clusterer.add(article("one", 0), fp(story))
    clusterer.add(article("two", 1), fp(story))
    third = clusterer.add(article("three", 2), fp(story))
    assert third.matched == ("two",) and third.cluster_id == "one"
    with pytest.raises(ValueError, match="max_bucket"):
        StoryClusterer(max_bucket=0)


def test_articles_further_apart_than_the_ttl_never_match_even_before_an_eviction():
    story = paragraphs(41)
    clusterer = StoryClusterer(ttl=timedelta(hours=1))
    clusterer.add(article("early", 0), fp(story))
    late = clusterer.add(article("late", 1), fp(story))  # exactly one TTL later: too late
    assert late.matched == () and "early" in clusterer  # held until expire() frees it
