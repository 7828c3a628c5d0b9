"""The RE2 prefilter of the rule matchers: it may only say "no rule can match" when none can.

Each rule's RE2 translation must match every text the rule matches (checked on the rules'
examples, on the classes and case folding it relies on, character by character), and cleaning
with the filter must give exactly what cleaning without it gives, on every corpus in the
repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

re2 = pytest.importorskip("re2", reason="google-re2 is a runtime dependency (requirements.txt)")

from transforms.cleaning import clean_item, parse_raw_item  # noqa: E402
from transforms.cleaning.boilerplate import TAIL_WINDOW  # noqa: E402
from transforms.cleaning.prefilter import Prefilter, Untranslatable, superset_pattern  # noqa: E402
from transforms.cleaning.rulepacks import default_rules, load_rules  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"whole": "fullmatch", "line": "fullmatch", "block": "fullmatch", "byline": "fullmatch",
           "caption": "search", "strip": "search", "dateline": "match", "attribution": "search"}


def _flags(rule) -> int:
    return 0 if rule.case_sensitive else re.IGNORECASE


def _re2_method(pattern: str, how: str):
    options = re2.Options()
    options.max_mem = 256 << 20
    options.log_errors = False
    return getattr(re2.compile(pattern, options), how)


def test_every_rule_translates_and_matches_its_examples():
    rs = default_rules()
    checked = 0
    for kind, how in METHODS.items():
        for rule in rs.by_kind.get(kind, ()) if kind != "whole" else ():
            pattern = superset_pattern(rule.raw_source, _flags(rule))  # raises if it cannot
            test = _re2_method(pattern, how)
            for inst in rule.instances or (rule,):
                for text in inst.examples:
                    if getattr(inst.regex, how)(text) is not None:
                        assert test(text) is not None, (rule.id, text)
                        checked += 1
    assert checked > 500


@pytest.mark.parametrize("pattern, flags, texts", [
    (r"(?<=\s)foo(?!bar)\b", 0, ["foo", "foobar"]),        # lookarounds and boundaries dropped
    (r"(a|b)x\1", 0, ["axa", "axb"]),                       # a backreference matches anything
    (r"ab{2,300}c", 0, ["abbc", "a" + "b" * 400 + "c"]),  # large counts become unbounded
    (r"x*+y", 0, ["xxy"]),                                  # possessive repeats
    (r"(?>ab|a)b", 0, ["ab", "abb"]),                       # atomic groups
    (r"end$", 0, ["end", "end\n"]),                         # $ before a final newline
    (r"(?i:straße)", 0, ["STRAẞE"]),                     # case folding beyond ASCII
    (r"[^()]+", 0, ["ab"]),
])
def test_translation_is_a_superset(pattern, flags, texts):
    test = _re2_method(superset_pattern(pattern, flags), "search")
    for text in texts:
        assert test(text) is not None, (pattern, text)


def test_conditional_and_unknown_constructs():
    assert _re2_method(superset_pattern(r"(a)?(?(1)b|c)"), "fullmatch")("c")
    with pytest.raises(Untranslatable):
        superset_pattern("(unclosed")


@pytest.mark.parametrize("cls", [r"\w", r"\W", r"\d", r"\D", r"\s", r"\S", r"[^\w]", r"[\w.-]", r"[^\s,]",
                                 r"(?i)[a-zà-ÿ]", r"(?i)[^a-z]", r"(?i)[\w.-]", r"(?i)[^()i]", r"(?i)\S"])
def test_classes_hold_every_character_python_puts_in_them(cls):
    py = re.compile(cls)
    test = _re2_method(superset_pattern(cls), "fullmatch")
    missed = [cp for cp in range(0x30000)
              if not 0xD800 <= cp <= 0xDFFF and py.fullmatch(chr(cp)) and test(chr(cp)) is None]
    assert not missed, [hex(c) for c in missed[:10]]


def test_case_folding_holds_what_ignorecase_matches():
    """Every letter in the rules, under IGNORECASE, alone and negated: each character ``re`` takes
    for it is taken by its translation too (ı for i, ſ for s, K for k …)."""
    rs = default_rules()
    letters = {c for r in rs.rules for c in r.raw_source if c.isalpha()}
    cased = [chr(cp) for cp in range(0x30000) if not 0xD800 <= cp <= 0xDFFF
             and (chr(cp).lower() != chr(cp) or chr(cp).upper() != chr(cp))]
    for letter in sorted(letters):
        py = re.compile(re.escape(letter), re.IGNORECASE)
        test = _re2_method(superset_pattern(re.escape(letter), re.IGNORECASE), "fullmatch")
        for x in cased:
            if py.fullmatch(x):
                assert test(x) is not None, (letter, x, hex(ord(x)))
        neg = _re2_method(superset_pattern(f"[^{re.escape(letter)}]", re.IGNORECASE), "fullmatch")
        negpy = re.compile(f"[^{re.escape(letter)}]", re.IGNORECASE)
        for x in cased:
            if negpy.fullmatch(x):
                assert neg(x) is not None, (letter, x)


def test_a_set_that_cannot_run_leaves_the_filter_off(monkeypatch):
    import transforms.cleaning.prefilter as pf

    rs = default_rules()
    whole = rs.matchers["whole"]
    examples = [(i, e) for i, r in enumerate(whole.rules) for inst in (r.instances or (r,))
                for e in inst.examples if inst.regex.fullmatch(e)]
    monkeypatch.setattr(pf, "MAX_MEM", 1 << 10)  # far too small for the program
    off = Prefilter([(r.raw_source, _flags(r)) for r in whole.rules], [r.regex for r in whole.rules],
                    "fullmatch", examples)
    assert not off.active
    assert off.may_match("any story paragraph at all.")
    monkeypatch.undo()
    on = Prefilter([(r.raw_source, _flags(r)) for r in whole.rules], [r.regex for r in whole.rules],
                   "fullmatch", examples)
    assert on.active
    assert not on.may_match("The council said on Monday that the ferry would resume next week.")


def test_untranslatable_rules_are_tried_by_re():
    pf = Prefilter([("abc", 0), ("(unclosed", 0)], [re.compile("abc"), re.compile("zz+")], "search")
    assert pf.active
    assert pf.may_match("xxabc") and pf.may_match("a zzz b") and not pf.may_match("nothing here")


def test_a_prefilter_pickles():
    import pickle

    pf = default_rules().matchers["caption"]._prefilter("search")
    back = pickle.loads(pickle.dumps(pf))
    assert back.active == pf.active
    assert back.may_match("A man walks. (Xinhua/Li Wen)") == pf.may_match("A man walks. (Xinhua/Li Wen)")


def _corpus_raws() -> list[bytes]:
    """Raw items of the labelled and tuned-on feed corpora, the golden corpus and the benchmark."""
    import feedparser

    from benchmarks.bench_clean import make_items
    from pollers.items import entry_fields
    from tests.quality.check_cleaning import load_corpus

    out = [orjson.dumps(item.raw) for item in load_corpus()]
    dirs = [d for d in (ROOT / "tests/quality/labelled").iterdir() if (d / "labels.jsonl").exists()]
    dirs.append(ROOT / "tests/quality/blind/dev")
    for directory in dirs:
        for path in sorted((directory / "feeds").glob("*.xml")):
            for entry in feedparser.parse(path.read_bytes()).entries:
                out.append(orjson.dumps({"schema_version": 1, "feed_id": path.stem, "feed_url": f"file://{path}",
                                         "agency_hint": None, "fetched_at": "2026-11-05T12:00:00Z", "http": {},
                                         "entry": entry_fields(entry), "page_html": None}))
    return out + make_items(300)


def test_cleaning_is_the_same_with_and_without_the_filter():
    filtered, plain = load_rules(), load_rules(prefilter=False)
    raws = _corpus_raws()
    assert len(raws) > 600
    for data in raws:
        a = clean_item(parse_raw_item(data, {}, "t"), rules=filtered)
        b = clean_item(parse_raw_item(data, {}, "t"), rules=plain)
        assert a == b, orjson.loads(data)["entry"].get("link")
    assert filtered.matchers["whole"]._prefilter("fullmatch").active


def test_every_kind_answers_the_same_on_every_paragraph():
    from transforms.cleaning import html_to_blocks, pick_body

    filtered, plain = load_rules(), load_rules(prefilter=False)
    paras = []
    for data in _corpus_raws():
        raw = parse_raw_item(data, {}, "t")
        paras += html_to_blocks(pick_body(raw.entry)[0]).paragraphs
        paras += html_to_blocks(raw.entry.summary).paragraphs
    paras += [e for r in filtered.rules for e in (*r.examples, *r.keeps)]
    texts = set(paras) | {p[-TAIL_WINDOW:] for p in paras}
    for kind, how in METHODS.items():
        f, p = filtered.matchers[kind], plain.matchers[kind]
        for text in texts:
            a, b = f.first(text, how), p.first(text, how)
            assert (a and (a[0].id, a[1].span())) == (b and (b[0].id, b[1].span())), (kind, text)


def test_an_untranslatable_rules_examples_do_not_turn_the_filter_off():
    pf = Prefilter([("abc", 0), ("(unclosed", 0)], [re.compile("abc"), re.compile("zz+")], "search",
                   examples=[(0, "xabc"), (1, "zzz")])
    assert pf.active and pf.may_match("zzz") and not pf.may_match("nothing")
