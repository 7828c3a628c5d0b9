"""Withdrawal notices: every example of the rule file fires, every keep stays a story."""

from __future__ import annotations

import pytest

from transforms.cleaning import default_withdrawal_rules, load_withdrawal_rules, withdrawal_notice

RULES = default_withdrawal_rules()
CASES = [(rule.id, text) for rule in RULES.rules for text in rule.examples]
KEEPS = [(rule.id, text) for rule in RULES.rules for text in rule.keeps]


def _split(text: str) -> tuple[str, str]:
    title, _, body = text.partition(" | ")
    return title, body


@pytest.mark.parametrize(("rule_id", "text"), CASES)
def test_every_example_is_a_notice(rule_id, text):
    title, body = _split(text)
    assert withdrawal_notice(title, body) is not None, (rule_id, text)


@pytest.mark.parametrize(("rule_id", "text"), KEEPS)
def test_every_keep_is_a_story(rule_id, text):
    title, body = _split(text)
    assert withdrawal_notice(title, body) is None, (rule_id, text)


def test_every_rule_has_examples_and_keeps():
    assert all(rule.examples and rule.keeps for rule in RULES.rules)


def test_a_long_story_that_quotes_a_notice_is_still_a_story():
    body = ("The agency said the item had been disputed. " * 20) + "This story has been withdrawn."
    assert withdrawal_notice("Dispute over wire report", body) is None
    assert withdrawal_notice("Dispute over wire report", "This story has been withdrawn.") == "story_withdrawn"


def test_a_status_tag_decides_whatever_the_length():
    body = "A full story body. " * 100
    assert withdrawal_notice("Harbour vote", body, tags=["World", "stat:canceled"]) == "tag"
    assert withdrawal_notice("Harbour vote", body, tags=["World"]) is None


def test_the_kill_slug_must_be_in_capitals():
    assert withdrawal_notice("KILL: Harbour vote", "Sent in error.") == "title_kill_slug"
    assert withdrawal_notice("Kill: the week in review", "A short brief about a film called Kill.") is None


def test_a_malformed_rule_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / "withdrawal.yaml"
    path.write_text("version: 1\nmax_words: 10\nrules:\n  - {id: x, pattern: '(', where: body}\n")
    with pytest.raises(ValueError, match=r"withdrawal.yaml: rule #0 \(x\): bad pattern"):
        load_withdrawal_rules(path)
    path.write_text("version: 1\nmax_words: 10\nrules:\n  - {id: x, pattern: 'a', where: head}\n")
    with pytest.raises(ValueError, match="'where' must be one of"):
        load_withdrawal_rules(path)
