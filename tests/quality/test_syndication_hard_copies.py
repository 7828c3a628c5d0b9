"""The hard cases of syndication (tests/fixtures/syndication/hard_copies.yaml): copies trimmed to
their first paragraphs, with a rewritten headline and first sentence, outlet chrome or an inserted
line, must join; two agencies' reports of one event must stay apart."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from tests.quality.check_syndication import evaluate
from tests.quality.syndication_corpus import CORPUS_PATH, load_corpus
from transforms.syndication import (
    DEFAULT_THRESHOLDS,
    MatchThresholds,
    fingerprint_body,
    match_rule,
    score_pair,
    verify_pair,
)

HARD = CORPUS_PATH.with_name("hard_copies.yaml")
ITEMS = load_corpus(HARD)
BY_ID = {i.article_id: i for i in ITEMS}


def _fingerprint(item):
    return fingerprint_body(item.body).with_agency(item.agency)


def test_every_copy_joins_its_story_and_no_report_joins_another_agencys():
    report = evaluate(ITEMS)
    assert report.precision == 1.0, report.false_merges
    assert report.recall == 1.0, report.missed
    assert report.order_independent


def test_the_signature_rules_alone_miss_copies_that_the_sample_rule_joins():
    # Without the sample rule (a gate nothing reaches), the trimmed copies of a story no polled feed
    # carries and the re-leded ones stay apart: that is the recall the rule adds.
    without = evaluate(ITEMS, replace(DEFAULT_THRESHOLDS, sample_gate=1.0, sample_containment=1.0))
    assert without.precision == 1.0 and without.recall < 0.9


@pytest.mark.parametrize("copy, original", [
    ("dam-valley-post", "dam-afp"),  # the first three of ten paragraphs
    ("rate-arden-ledger", "rate-efe"),  # three paragraphs, headline and first sentence rewritten
    ("rate-portside", "rate-efe"),  # three paragraphs less one, a licence line appended
    ("rate-arden-ledger", "rate-money-weekly"),  # two trimmed copies, one re-leded, one with chrome
    ("mine-daily-lamp", "mine-west-star"),  # copies of an unpolled original, one re-leded
    ("mine-hill-times", "mine-daily-lamp"),  # three paragraphs with a "Follow" line inside
    ("dam-newsloop", "dam-afp"),  # an aggregator's teaser: the first paragraph alone
])
def test_a_trimmed_copy_joins_directly_where_the_signature_rules_cannot(copy, original):
    a, b = _fingerprint(BY_ID[copy]), _fingerprint(BY_ID[original])
    assert match_rule(score_pair(a, b)) is None  # neither Jaccard nor the estimated containment
    assert verify_pair(a, b) and verify_pair(b, a)


def test_independent_reports_of_one_event_stay_apart_pair_by_pair():
    # Same names, places and figures, other wording: never a match, attributed or not.
    for a, b in itertools.combinations(ITEMS, 2):
        if {a.story, b.story} in ({"karsa-dam", "karsa-dam-anadolu"}, {"rate-decision", "rate-decision-dpa"}):
            fa, fb = _fingerprint(a), _fingerprint(b)
            assert not verify_pair(fa, fb), (a.article_id, b.article_id)
            assert not verify_pair(fingerprint_body(a.body), fingerprint_body(b.body)), (a.article_id, b.article_id)


def test_a_copy_attributed_to_another_agency_is_not_joined_by_containment():
    trimmed, original = BY_ID["dam-valley-post"], BY_ID["dam-afp"]
    assert verify_pair(_fingerprint(trimmed), _fingerprint(original))
    relabelled = fingerprint_body(trimmed.body).with_agency("anadolu")
    assert not verify_pair(relabelled, _fingerprint(original))


def test_the_hard_corpus_covers_what_it_claims():
    groups = {i.group for i in ITEMS}
    assert groups == {"trimmed", "trimmed_no_original", "independent"}
    trimmed = [i for i in ITEMS if i.kept_share is not None and "drop_last" in i.edits]
    assert sum(i.kept_share <= 0.45 for i in trimmed) >= 5  # trimmed to a few paragraphs
    assert any("replace" in i.edits and "drop_last" in i.edits for i in trimmed)  # and re-leded
    assert sum("insert" in i.edits for i in ITEMS) >= 4
    teasers = [i for i in ITEMS if i.word_count < MatchThresholds().short_words]
    assert {i.article_id for i in teasers} == {"dam-newsloop", "rate-dpa-newsloop"}  # first paragraphs
