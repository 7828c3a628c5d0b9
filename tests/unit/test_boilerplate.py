"""Boilerplate rules as data: every rule fires on its examples, leaves its keeps, and attributes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from transforms.cleaning import (
    LEARNED_RULE_ID,
    RULES_DIR,
    Evidence,
    RuleError,
    choose_agency,
    default_rules,
    load_rules,
    paragraph_key,
    split_caption_credit,
    strip_boilerplate,
)

RULES = default_rules()
ALL = RULES.rules
_HOW = {"line": "fullmatch", "block": "fullmatch", "caption": "search", "strip": "search",
        "dateline": "match", "attribution": "search", "byline": "fullmatch"}


def _fires(rule, text: str) -> bool:
    return getattr(rule.regex, _HOW[rule.kind])(text) is not None


def test_rule_files_are_versioned_and_described():
    names = {p.name for p in RULES.packs}
    assert {"generic", "templates", "xinhua", "ap", "reuters", "afp", "anadolu"} <= names
    for pack in RULES.packs:
        assert isinstance(pack.version, int) and pack.description
    assert "xinhua@" in RULES.version and default_rules() is RULES  # compiled once


@pytest.mark.parametrize("rule", ALL, ids=[r.id for r in ALL])
def test_every_rule_has_an_example(rule):
    assert rule.examples, f"{rule.id} needs at least one example showing it fire"


@pytest.mark.parametrize("rule", ALL, ids=[r.id for r in ALL])
def test_rule_fires_on_its_examples(rule):
    for example in rule.examples:
        assert _fires(rule, example), f"{rule.id} does not fire on {example!r}"
        res = strip_boilerplate([example])
        if rule.kind != "attribution":  # attribution is evidence only; the text stays
            assert res.paragraphs != [example] or res.images, f"{example!r} survived cleaning"
        if rule.agency and rule.evidence:
            assert res.agency == rule.agency, f"{example!r} attributed to {res.agency}"


@pytest.mark.parametrize("rule", [r for r in ALL if r.keeps], ids=[r.id for r in ALL if r.keeps])
def test_rule_leaves_its_keeps(rule):
    for keep in rule.keeps:
        assert not _fires(rule, keep), f"{rule.id} fires on {keep!r}"
        res = strip_boilerplate(["An opening paragraph long enough to be a real lead of an article.", keep])
        assert rule.id not in res.fired and all(ev.rule_id != rule.id for ev in res.evidence)
        # It may still go, but only because another rule is about it (e.g. "(END)" of another pack).
        assert keep in res.paragraphs or len(res.fired) > 0


# --- attribution --------------------------------------------------------------------------------

def test_dateline_outweighs_every_weaker_kind_together():
    weak = [Evidence("xinhua", k, "x") for k in ("signature", "copyright", "about", "credit")]
    assert choose_agency([Evidence("ap", "dateline", "ap.dateline"), *weak], hint="xinhua") == "ap"


def test_signature_beats_credit_and_hint_only_decides_alone_or_ties():
    assert choose_agency([Evidence("xinhua", "signature", "s"), Evidence("ap", "credit", "c")]) == "xinhua"
    assert choose_agency([], hint="afp") == "afp"
    assert choose_agency([], hint="not-a-known-agency", known=RULES.agencies) is None
    tie = [Evidence("ap", "credit", "a"), Evidence("afp", "credit", "b")]
    assert choose_agency(tie) is None
    assert choose_agency(tie, hint="afp") == "afp"


def test_distinct_kinds_count_once():
    many_credits = [Evidence("ap", "credit", f"c{i}") for i in range(10)]
    assert choose_agency([*many_credits, Evidence("reuters", "signature", "s")]) == "reuters"


def test_passing_mentions_are_not_attribution():
    res = strip_boilerplate([
        "The council met on Monday, Reuters reported, and the AP and AFP said talks would go on.",
        "Xinhua quoted the mayor as saying the port would reopen, according to Anadolu.",
    ])
    assert res.agency is None and res.fired == [] and len(res.paragraphs) == 2


def test_media_credit_is_evidence():
    res = strip_boilerplate(["Some text of the story."], media_credits=["AP Photo/Lena Ortiz"])
    assert res.agency == "ap"


# --- engine -------------------------------------------------------------------------------------

def test_block_cut_stops_at_the_first_long_paragraph():
    long_para = ("This paragraph is long enough to be article text and must survive the cut because it "
                 "has far more than sixteen words in it.")
    res = strip_boilerplate(["Lead paragraph of the story, long enough to stay in the body.",
                             "Related posts", "Short headline one", "Short headline two", long_para])
    assert res.paragraphs == ["Lead paragraph of the story, long enough to stay in the body.", long_para]
    assert res.fired == ["generic.related"]


def test_dateline_only_in_the_lead():
    lead = "An opening paragraph that is long enough to be the lead of this story."
    res = strip_boilerplate([lead, "LONDON, May 2 (Reuters) - this is not where datelines live, so it stays."])
    assert res.dateline is None and len(res.paragraphs) == 2


def test_dateline_after_a_short_kicker():
    res = strip_boilerplate(["Exclusive", "SEOUL, May 2 (Reuters) - Text of the story."])
    assert res.paragraphs == ["Exclusive", "Text of the story."]
    assert (res.dateline, res.dateline_place, res.agency) == ("SEOUL, May 2 (Reuters)", "SEOUL", "reuters")


def test_strip_rule_cuts_only_its_span():
    res = strip_boilerplate(["BEIJING, May 2 (Xinhua) -- Lead text.", "Talks resume on Friday. Enditem"])
    assert res.paragraphs == ["Lead text.", "Talks resume on Friday."]
    assert "xinhua.enditem_strip" in res.fired


def test_learned_lines_are_removed_and_counted():
    res = strip_boilerplate(["Real text of the story stays.", "Harbour Blog: news from the islands"],
                            learned={paragraph_key("Harbour Blog - news from the islands!")})
    assert res.paragraphs == ["Real text of the story stays."]
    assert res.fired == [LEARNED_RULE_ID]


def test_split_caption_credit():
    assert split_caption_credit("A boat at sea. (AP Photo/Ana Ruiz)")[:2] == ("A boat at sea.", "AP Photo/Ana Ruiz")
    assert split_caption_credit("A boat at sea.")[:2] == ("A boat at sea.", None)


# --- loading ------------------------------------------------------------------------------------

def _rules_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "rules"
    shutil.copytree(RULES_DIR, dst)
    return dst


def test_new_agency_is_data_only(tmp_path):
    root = _rules_copy(tmp_path)
    (root / "agency_zna.yaml").write_text(
        "version: 1\nagency: zna\ndescription: Zedland News Agency, a fictional agency.\n"
        "names: [Zedland News Agency]\ntags: [ZNA]\n", encoding="utf-8")
    rs = load_rules(root)
    res = strip_boilerplate(["ZED CITY, May 2 (ZNA) -- The harbour reopened.", "Zedland News Agency"], rules=rs)
    assert (res.agency, res.dateline_place, res.paragraphs) == ("zna", "ZED CITY", ["The harbour reopened."])
    assert {"zna.dateline", "zna.signature"} <= set(res.fired)


@pytest.mark.parametrize("content,message", [
    ("version: 1\nagency: zna\ndescription: d\nnames: [Z]\ntags: [Z]\ncolour: red\n", "unknown keys"),
    ("agency: zna\ndescription: d\nnames: [Z]\ntags: [Z]\n", "missing 'version'"),
    ("version: 1\nagency: other\ndescription: d\nnames: [Z]\ntags: [Z]\n", "slug in the file name"),
    ("version: 1\nagency: zna\ndescription: d\nnames: [Z]\ntags: [Z]\nrules:\n- {id: a, kind: line, pattern: '(('}\n",
     "bad pattern"),
    ("version: 1\nagency: zna\ndescription: d\nnames: [Z]\ntags: [Z]\nrules:\n- {id: a, kind: line, pattern: '{nowhere}'}\n",
     "unknown placeholder"),
    ("version: 1\nagency: zna\ndescription: d\nnames: [Z]\ntags: [Z]\nrules:\n- {id: a, kind: caption, pattern: 'x$'}\n",
     "named group"),
    ("version: 1\nagency: zna\ndescription: d\nnames: [Z]\ntags: [Z]\nrules:\n- {id: a, kind: line, pattern: x}\n"
     "- {id: a, kind: line, pattern: y}\n", "duplicate rule id"),
    ("version: 1\nagency: zna\ndescription: d\nnames: [Z]\ntags: [Z]\nrules:\n- {id: a, kind: shout, pattern: x}\n",
     "kind"),
    ("version: [1\n", "not valid YAML"),
])
def test_malformed_rule_files_are_rejected_with_a_reason(tmp_path, content, message):
    root = _rules_copy(tmp_path)
    (root / "agency_zna.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(RuleError, match=message):
        load_rules(root)


def test_a_byline_at_the_end_signs_the_story_and_a_last_sentence_stays():
    story = ["Die neue Brücke über die Fen ist nach zwei Jahren Bauzeit freigegeben worden.",
             "Sie ersetzt einen Steg aus den 1960er Jahren, der gesperrt werden musste.",
             "Zur Eröffnung kamen viele Anwohner mit dem Fahrrad.",
             "Die Stadt rechnet mit bis zu 3000 Querungen pro Tag."]
    res = strip_boilerplate([*story, "Von Jana Stern"])
    assert res.paragraphs == story and res.byline == "Jana Stern"
    res = strip_boilerplate([*story, "By Monday, the bridge had carried 3,000 cyclists."])
    assert res.paragraphs[-1] == "By Monday, the bridge had carried 3,000 cyclists." and res.byline is None


def test_a_read_also_marker_takes_the_linked_headline_not_the_next_sentence():
    lead = "Die Inflation in Deutschland hat sich im Oktober deutlich abgeschwächt, wie das Amt mitteilte."
    res = strip_boilerplate([lead, "Lesen Sie auch:", "Fähre nach Fenholm fährt ab März wieder",
                             "Die Kerninflation sank leicht auf 2,4 Prozent."])
    assert res.paragraphs == [lead, "Die Kerninflation sank leicht auf 2,4 Prozent."]
    assert "generic.read_also_marker" in res.fired


def test_an_agency_dateline_below_a_teaser_is_found_a_plain_one_is_not():
    teaser = "Ferry fares will rise by four percent from March, the harbour council decided on Monday night."
    res = strip_boilerplate([teaser, "PORT ALDEN (Reuters) - The harbour council voted 7-2 for the rise.",
                             "Unions said they would appeal the decision."])
    assert res.agency == "reuters" and res.dateline == "PORT ALDEN (Reuters)"
    assert res.paragraphs[1] == "The harbour council voted 7-2 for the rise."
    plain = strip_boilerplate([teaser, "PORT ALDEN, May 2 - The harbour council voted 7-2 for the rise."])
    assert plain.dateline is None and plain.paragraphs[1].startswith("PORT ALDEN, May 2 - ")
