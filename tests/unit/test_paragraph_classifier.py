"""The paragraph classifier and the HTML-structure evidence (transforms.cleaning.classifier,
features, structure), through clean_item and on their own."""

from __future__ import annotations

import orjson

from transforms.cleaning import clean_item, default_rules, parse_raw_item
from transforms.cleaning.classifier import MODEL_PATH, ParagraphModel, default_model
from transforms.cleaning.features import FEATURE_NAMES, paragraph_features
from transforms.cleaning.structure import chrome_paragraphs

STORY = [
    "The regional water board said on Tuesday it would raise the northern dike by half a metre over "
    "the next four years, after two winters of record river levels.",
    "The work will cost about 140 million euros and start in the spring, the board said.",
    "Farmers whose land lies behind the dike will be paid for the strips the wider embankment needs.",
]


def _raw(html: str) -> bytes:
    return orjson.dumps({
        "schema_version": 1, "feed_id": "t", "feed_url": "https://t.example.org/rss", "agency_hint": None,
        "fetched_at": "2026-11-05T12:00:00Z", "http": {},
        "entry": {"id": "1", "link": "https://t.example.org/a/1", "title": "Dike to be raised",
                  "summary": None, "content": [{"type": "text/html", "value": html}],
                  "published": "Thu, 05 Nov 2026 09:00:00 GMT", "updated": None, "author": None,
                  "tags": [], "media": []},
        "page_html": None})


def _clean(html: str):
    return clean_item(parse_raw_item(_raw(html), {}, "m1"))


def test_bundled_model_loads_and_matches_the_features():
    model = ParagraphModel.load(MODEL_PATH)
    assert model.weights.shape == (len(FEATURE_NAMES),)
    assert model.kind_coef.shape == (len(model.kinds), len(FEATURE_NAMES))
    assert 0.5 < model.threshold < 1.0


def test_unseen_licence_and_contact_lines_leave_and_name_their_class():
    # Wordings of no rule pack: the form (end of the item, licence stems, an address) decides.
    tail = ["© 2026 Lakeside Courier. Reuse of this page beyond personal reading needs the prior written "
            "consent of the publisher.",
            "Story tips and corrections: newsroom@lakesidecourier.example.com"]
    art = _clean("".join(f"<p>{p}</p>" for p in STORY + tail))
    assert art.body == STORY
    fired = [r for r in art.removed_rules if r.startswith("classifier.")]
    assert len(fired) == 2
    for rid in fired:
        kind, score = rid.removeprefix("classifier.").split("@")
        assert kind in default_model().kinds and 0.5 < float(score) <= 1.0


def test_story_lines_without_marks_stay_however_short():
    short = ["Fares rise", "Tickets: 4 euros", "The ferry runs hourly."]
    art = _clean("".join(f"<p>{p}</p>" for p in STORY + short))
    assert art.body == STORY + short


def test_chrome_wrappers_leave_by_structure():
    html = ("<p>" + "</p><p>".join(STORY) + "</p>"
            '<div class="related-articles"><h3>Mehr aus der Region</h3><ul><li><a href="/x">Deich bricht</a>'
            '</li></ul></div><aside><p>Unsere Zeitung im Abo: jetzt testen</p></aside>'
            '<div role="complementary"><p>Wetter heute: 12 Grad</p></div>')
    found = chrome_paragraphs(html)
    assert set(found) == {"Mehr aus der Region", "Deich bricht", "Unsere Zeitung im Abo: jetzt testen",
                          "Wetter heute: 12 Grad"}
    art = _clean(html)
    assert art.body == STORY
    assert {"structure.class-related", "structure.aside", "structure.role-complementary"} <= set(art.removed_rules)


def test_a_wrapper_holding_the_story_is_layout_not_chrome():
    html = '<div class="article-body share-enabled">' + "".join(f"<p>{p}</p>" for p in STORY) + "</div>"
    assert chrome_paragraphs(html) == {}
    assert _clean(html).body == STORY


def test_features_are_computed_for_the_asked_paragraphs_only():
    rs = default_rules()
    paras = STORY + ["Follow us on Telegram"]
    full = paragraph_features(paras, rs)
    some = paragraph_features(paras, rs, only=[3])
    assert some == [full[3]]
    assert full[3][FEATURE_NAMES.index("cue_cta")] == 1.0
    assert full[0][FEATURE_NAMES.index("cue_cta")] == 0.0


def test_a_line_above_the_dateline_is_no_lede_to_protect():
    lead = "TOKYO, Nov. 4 (Kyodo) -- " + STORY[0]
    # (a wording no rule pack has: the rules' page notices know "originally published by")
    above = "Kyodo News content is distributed to partner outlets under a syndication licence agreement."
    art = _clean("".join(f"<p>{p}</p>" for p in [above, lead, *STORY[1:]]))
    assert art.body == STORY
    assert art.agency == "kyodo" and art.dateline is not None
    assert any(r.startswith("classifier.") for r in art.removed_rules)


def test_the_cheap_mark_test_never_rules_out_a_paragraph_bearing_a_mark():
    # Every labelled paragraph, the story lines above, and lines bearing one mark each: where the
    # full features show a mark, may_bear_mark must say so (it only spares the features).
    from pathlib import Path

    import yaml

    from transforms.cleaning.features import EVIDENCE_COLUMNS, may_bear_mark

    rs = default_rules()
    data = yaml.safe_load((Path(__file__).parents[1] / "quality/labelled/paragraphs.yaml").read_text("utf-8"))
    items = [[t for _, t in it] for it in data["items"]]
    items.append([*STORY, "Read also:", "Dike works elsewhere", "(jm/sst)", "AB12CD", "NFZ ZUL GR",
                  "Write to desk@example.org", "Follow us on the app", "see www.example.com", STORY[1]])
    ruled_out = with_mark = 0
    for paras in items:
        feats = paragraph_features(paras, rs)
        for i, v in enumerate(feats):
            marked = any(v[j] for j in EVIDENCE_COLUMNS)
            with_mark += marked
            if not may_bear_mark(paras, i, rs):
                ruled_out += 1
                assert not marked, paras[i]
    assert with_mark > 20 and ruled_out > 5  # both sides of the test were exercised


def test_the_code_pre_test_lets_every_reference_code_through():
    import random

    from transforms.cleaning.features import _CODE, _YEAR, _may_hold_code, _may_hold_year

    codes = ["xin:202405-0312-123", "240512-0301-1234", "AB12", "KL07BX", "ref AB12 here", "ÉTÉ AB12"]
    assert all(_CODE.search(c) and _may_hold_code(c) for c in codes)
    assert not _may_hold_code("The board met on 12 May 2024 and said so.")
    rng = random.Random(5)
    alphabet = "aAbZ0129-: /xX\u0661\u0662é“"  # Arabic-Indic digits are digits to the pattern too
    for _ in range(20000):
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
        if _CODE.search(t):
            assert _may_hold_code(t), t
        if _YEAR.search(t):
            assert _may_hold_year(t), t


def test_cached_features_equal_fresh_ones_at_every_position():
    from transforms.cleaning import features

    rs = default_rules()
    paras = [*STORY, "Related:", STORY[0], "Copyright 2026 Example News. All rights reserved."]
    cold = []
    for i in range(len(paras)):
        features._FEATURE_CACHES.clear()
        cold.extend(paragraph_features(paras, rs, only=[i]))
    warm = paragraph_features(paras, rs)  # STORY[0] twice: its second vector comes from the cache
    assert warm == cold
    assert warm[0][FEATURE_NAMES.index("is_first")] == 1.0 and warm[4][FEATURE_NAMES.index("is_first")] == 0.0
    assert warm[4][FEATURE_NAMES.index("prev_related")] == 1.0 and warm[0][FEATURE_NAMES.index("prev_related")] == 0.0


def test_character_counts_by_byte_classes_equal_the_unicode_predicates():
    import random

    from transforms.cleaning.features import _char_counts

    rng = random.Random(4)
    alphabet = "aZ09 ,.éÉ“”’«»²\u0661ßİıǅΣσ\x00\x7f\x80ⅷ"  # ASCII, accents, quotes, odd digits and cases
    for _ in range(5000):
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert _char_counts(t) == (sum(map(str.isalpha, t)), sum(map(str.isupper, t)), sum(map(str.isdigit, t)))


def test_words_split_by_byte_tables_equal_the_translate_split():
    import random

    from transforms.cleaning.features import _PUNCT_TO_SPACE, _words_of

    rng = random.Random(2)
    alphabet = "ab ,.;:!?\"()[]{}|/*+=<>#-'x1é«»“”„…·•—–\u00a0\u2003\ud800"  # lone surrogate too
    for _ in range(5000):
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert _words_of(t) == t.translate(_PUNCT_TO_SPACE).split(), repr(t)
