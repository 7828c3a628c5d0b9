"""Teasers (tests/fixtures/syndication/teasers.yaml): copies trimmed to the story's first sentence
or two must join the story, found through the headline or the opening words and joined by the lead
rule; another agency's report under the same headline, a template brief opening alike and the
agency's follow-up must stay apart. The reference clusterer, the batch and the local streaming
index must agree."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from tests.quality.check_syndication import evaluate
from tests.quality.syndication_corpus import CORPUS_PATH, load_corpus
from transforms.syndication import (
    DEFAULT_THRESHOLDS,
    ClusterConfig,
    ClusterInput,
    MatchIndex,
    StoryArticle,
    band_keys,
    cluster_batch,
    fingerprint_body,
    lead_keys,
    lead_match,
    match_rule,
    sample_match,
    score_pair,
    verify_pair,
)
from transforms.syndication.fingerprint import LEAD

TEASERS = CORPUS_PATH.with_name("teasers.yaml")
ITEMS = load_corpus(TEASERS)
BY_ID = {i.article_id: i for i in ITEMS}


def _fingerprint(item):
    return fingerprint_body(item.body).with_agency(item.agency).with_title(item.title)


def test_every_teaser_joins_its_story_and_nothing_joins_a_look_alike():
    report = evaluate(ITEMS)
    assert report.precision == 1.0, report.false_merges
    assert report.recall == 1.0, report.missed
    assert report.order_independent


def test_without_the_lead_rule_the_teasers_stay_apart():
    without = evaluate(ITEMS, replace(DEFAULT_THRESHOLDS, lead_shingles=10_000, lead_titled_shingles=10_000))
    assert without.precision == 1.0 and without.recall < 0.7


@pytest.mark.parametrize("teaser, story", [
    ("ferry-teaser-harbour-news", "ferry-efe"),  # the first sentence, headline kept
    ("ferry-teaser-briefly", "ferry-efe"),  # cut short mid-sentence, headline rewritten
    ("ferry-ap-teaser", "ferry-ap"),  # the story's opening after its dateline
    ("quake-lerin-teaser", "quake-lerin-kyodo"),  # a brief's first sentence
])
def test_a_teaser_joins_by_the_lead_where_no_other_rule_can(teaser, story):
    a, b = _fingerprint(BY_ID[teaser]), _fingerprint(BY_ID[story])
    assert a.word_count < 50 and len(a.sample_values) <= 8
    assert match_rule(score_pair(a, b)) is None and not sample_match(a, b)
    assert lead_match(a, b) and verify_pair(a, b) and verify_pair(b, a)
    # And it meets the story in a bucket: through the headline, or the opening words.
    assert set(band_keys(a)) & set(band_keys(b))


def test_look_alikes_stay_apart_pair_by_pair():
    apart = [{"ferry-strike", "ferry-strike-ap"}, {"ferry-strike", "ferry-strike-followup"},
             {"quake-lerin", "quake-tarsa"}]
    for a, b in itertools.combinations(ITEMS, 2):
        if {a.story, b.story} in apart:
            assert not verify_pair(_fingerprint(a), _fingerprint(b)), (a.article_id, b.article_id)
            # Not even unattributed: they share names and a headline, not ten words in a row.
            assert not verify_pair(fingerprint_body(a.body), fingerprint_body(b.body)), (a.article_id, b.article_id)


def test_eight_words_under_the_story_headline_join_and_without_it_do_not():
    ticker, story = _fingerprint(BY_ID["quake-lerin-ticker"]), _fingerprint(BY_ID["quake-lerin-kyodo"])
    assert ticker.word_count == 9 and ticker.title == story.title
    assert lead_match(ticker, story) and verify_pair(ticker, story)
    assert not lead_match(replace(ticker, title=0), story)  # a template brief's opening alone
    assert not verify_pair(ticker, _fingerprint(BY_ID["quake-tarsa-kyodo"]))


def test_the_teaser_must_open_the_longer_text():
    teaser = BY_ID["ferry-teaser-harbour-news"]
    opening = fingerprint_body(teaser.body)
    # After a dateline it still opens the story; after a sentence of news it is background.
    assert lead_match(opening, fingerprint_body("BRENN, Veloria - " + BY_ID["ferry-efe"].body))
    assert not lead_match(opening, fingerprint_body("Talks between the ferry operator and the union broke up without a deal on Wednesday. " + teaser.body
                                                    + " A mediator is due to meet both sides on Thursday."))


def test_a_teaser_attributed_to_another_agency_is_not_joined():
    teaser, story = BY_ID["ferry-teaser-harbour-news"], _fingerprint(BY_ID["ferry-efe"])
    assert not verify_pair(fingerprint_body(teaser.body).with_agency("ap"), story)


def test_the_same_headline_is_a_candidate_key_only():
    efe, ap = _fingerprint(BY_ID["ferry-efe"]), _fingerprint(BY_ID["ferry-ap"])
    assert lead_keys(efe)[0] == lead_keys(ap)[0]  # one headline, one bucket
    assert not verify_pair(replace(efe, agency=0), replace(ap, agency=0))


def test_the_lead_holds_the_opening_and_no_more():
    story = _fingerprint(BY_ID["ferry-efe"])
    assert len(story.lead_values) == LEAD
    teaser = _fingerprint(BY_ID["ferry-teaser-harbour-news"])
    assert len(teaser.lead_values) == teaser.word_count - 2


def _inputs(with_fingerprints: bool):
    ordered = sorted(ITEMS, key=lambda i: (i.first_seen, i.article_id))
    return [ClusterInput(f"m-{i.article_id}",
                         StoryArticle(i.article_id, i.first_seen, i.feed_id, i.agency, i.is_agency_copy, i.title),
                         fingerprint=_fingerprint(i) if with_fingerprints else None,
                         body=None if with_fingerprints else i.body)
            for i in ordered]


@pytest.mark.parametrize("with_fingerprints", [True, False])
def test_the_batch_makes_the_reference_clusterers_stories(with_fingerprints):
    reference = evaluate(ITEMS).clusters
    batch = cluster_batch(_inputs(with_fingerprints), ClusterConfig())
    got = {m.removeprefix("m-"): a.cluster_id for m, a in batch.items()}
    groups = lambda clusters: sorted(sorted(k for k, v in clusters.items() if v == c) for c in set(clusters.values()))
    assert groups(got) == groups(reference)


def test_the_streaming_index_finds_the_reference_clusterers_matches():
    index = MatchIndex()
    found = set()
    for item in _inputs(True):
        seen = int(item.article.first_seen.timestamp() * 1e6)
        for other in index.matches(item.article.article_id, seen, item.fingerprint):
            found.add(frozenset((item.article.article_id, other)))
        index.insert(item.article.article_id, seen, item.fingerprint)
    same = {frozenset((a.article_id, b.article_id)) for a, b in itertools.combinations(ITEMS, 2)
            if verify_pair(_fingerprint(a), _fingerprint(b))}
    assert found == same and np.any([len(p) for p in found])
