"""Shortcuts taken for speed give exactly the answers of the plain path they stand in for.

Each fast path (a cache, a prefilter, an ASCII-only formula) is compared with the general code it
replaces, on tricky strings made to hit its edges and on the texts of the golden corpus.
"""

from __future__ import annotations

import itertools
import random
import re

import orjson
import pytest

from tests.quality.check_cleaning import load_corpus
from transforms.cleaning import (
    clean_item,
    default_rules,
    html_to_blocks,
    load_rules,
    normalize,
    normalize_text,
    parse_raw_item,
    pick_body,
    rulepacks,
)
from transforms.cleaning.simplehtml import CONTAINERS, INLINE, PARAGRAPHS, simple_runs
from transforms.model import _WORD, word_count


def _regex_word_count(text: str) -> int:
    return len(_WORD.findall(text))


@pytest.fixture(scope="module")
def golden_texts() -> list[str]:
    """Every body paragraph, title and summary of the golden corpus, as the chain sees them."""
    texts: list[str] = []
    for item in load_corpus():
        raw = parse_raw_item(orjson.dumps(item.raw), {}, item.id)
        texts += html_to_blocks(pick_body(raw.entry)[0]).paragraphs
        texts += html_to_blocks(raw.entry.summary).paragraphs
        texts.append(raw.entry.title or "")
        texts.append("\n".join(clean_item(raw).body))
    return texts


# --- word count ---------------------------------------------------------------------------------

def test_ascii_word_count_equals_the_regex_on_every_short_string_of_its_alphabet():
    # Letters, digits, every joiner, "_" (a word character that is not a letter) and separators:
    # all strings up to five characters, so every way joiners sit between runs is covered.
    alphabet = "a1_'-.,: \n!"
    for n in range(6):
        for chars in itertools.product(alphabet, repeat=n):
            text = "".join(chars)
            assert word_count(text) == _regex_word_count(text), repr(text)


def test_ascii_word_count_equals_the_regex_on_random_and_real_text(golden_texts):
    rng = random.Random(11)
    samples = ["".join(rng.choice("ab9Z_'-.,:;!? \t\n\"()") for _ in range(rng.randint(0, 60)))
               for _ in range(5000)]
    samples += ["U.S. forces", "3,000.50 yuan", "a-b-c", "a--b", "'quoted'", "rock'n'roll", "end.", ".start"]
    for text in samples + golden_texts:
        assert word_count(text) == _regex_word_count(text), repr(text)
    assert sum(t.isascii() for t in golden_texts) > 100  # the fast path was really taken
    assert any(not t.isascii() for t in golden_texts)  # and the regex path too


def test_non_ascii_text_keeps_the_regex_count():
    assert word_count("İki kıyı devletinin bakanları") == 4
    assert word_count("两个沿海国家") == 6
    assert word_count("l’équipe a gagné") == 3


# --- simple HTML without a document tree --------------------------------------------------------

def _tree_blocks(markup: str, monkeypatch) -> object:
    """html_to_blocks by the document tree alone (the simple reader declining everything)."""
    with monkeypatch.context() as m:
        m.setattr(normalize, "simple_runs", lambda _markup: None)
        return html_to_blocks(markup)


_TEXTS = ["Port Alden opened", " the terminal ", "said &amp; did", "a &amp b", "&nbsp;x&nbsp;", "&#39;q&#39;",
          "&#x2019;", "&#8212;", "&#0;", "&#128;", "&#xFFFE;", "&#13;", "&notit;", "&copy 2024", "&hellip;",
          "&Eacute;cole", "&", "& more", "&#", "&#x;", "a < b", "<3", "x > y", "\r\n", "\n\n", "\t", "\x00",
          "\xa0", "\u200b", "Ankara’da", "İzmir", "两个", "l\u200d", "\ud800", "R&D", "&amp;amp;", "&lt;p&gt;"]
_OPEN = ["<p>", "<P>", "<p class=\"lead\">", "<p data-x='a>b'>", "<p id=x>", "<p\xa0class=x>", "<p/>", "<h2>",
         "<H3 class=t>", "<div>", "<div class=\"a<b\">", "<section>", "<blockquote>", "<em>", "<EM>", "<a href=\"/x?a=1&amp;b=2\">",
         "<a>", "<span style='x'>", "<b>", "<i>", "<strong>", "<font color=red>", "<q>", "<li>", "<ul>", "<td>",
         "<img src=\"https://x.example/a.jpg\">", "<figure>", "<br>", "<br/>", "<br />", "</br>", "<!-- c -->",
         "<script>var a = '<p>';</script>", "<foo>", "<p =x>", "<p a=\"1\"b=2>", "<p\n>", "</ p>", "<p a=`x`>"]
_CLOSE = {"<p": "</p>", "<P": "</P>", "<h2": "</h2>", "<H3": "</h3>", "<div": "</div>", "<section": "</section>",
          "<blockquote": "</blockquote>", "<em": "</em>", "<EM": "</em>", "<a": "</a>", "<span": "</span>",
          "<b>": "</b>", "<i>": "</i>", "<strong": "</strong>", "<font": "</font>", "<q": "</q>", "<li": "</li>",
          "<ul": "</ul>", "<td": "</td>", "<figure": "</figure>", "<foo": "</foo>"}


def _close_of(tag: str) -> str | None:
    return next((c for o, c in _CLOSE.items() if tag.startswith(o) and (o[-1] == ">" or not tag[len(o)].isalpha())), None)


def _random_markup(rng: random.Random) -> str:
    """Markup built mostly well formed (so the simple reader accepts much of it), with mistakes."""
    out, stack = [], []
    for _ in range(rng.randint(1, 14)):
        r = rng.random()
        if r < 0.4:
            out.append(rng.choice(_TEXTS[:4]) if rng.random() < 0.6 else rng.choice(_TEXTS))
        elif r < 0.7:
            tag = rng.choice(_OPEN[:6] + _OPEN[13:20]) if rng.random() < 0.7 else rng.choice(_OPEN)
            out.append(tag)
            close = _close_of(tag)
            if close and not tag.endswith("/>"):
                stack.append(close)
        elif stack:
            # Mostly the right end tag; sometimes another one (misnesting) or none at all.
            out.append(stack.pop() if rng.random() < 0.9 else rng.choice(list(_CLOSE.values())))
    while stack and rng.random() < 0.95:
        out.append(stack.pop())
    return "".join(out)


def test_simple_html_reader_agrees_with_the_document_tree(monkeypatch):
    rng = random.Random(5)
    accepted = 0
    for _ in range(6000):
        markup = _random_markup(rng)
        if simple_runs(markup) is None:
            continue
        accepted += 1
        assert html_to_blocks(markup) == _tree_blocks(markup, monkeypatch), repr(markup)
    assert accepted > 1000  # the generator reaches the simple reader, not only the fallback


@pytest.mark.parametrize("markup", [
    "<p>a <em>b</em> &amp; c</p><p>d&nbsp;e</p>",
    "\n<p>One.</p>\n\n<p>Two &#8212; three.</p>\n",
    "Lead text <b>bold</b><p>Para</p> tail",
    "<div><h2>Head</h2><p>Body<br>next line</p></div>",
    "<p>Spending &gt; 5% &amp;amp; more & less</p>",
    "<P CLASS=\"x\">Upper<BR/>case</P>",
])
def test_simple_html_reader_takes_common_feed_markup(markup, monkeypatch):
    assert simple_runs(markup) is not None
    assert html_to_blocks(markup) == _tree_blocks(markup, monkeypatch)


@pytest.mark.parametrize("markup", [
    "<p>a &amp b</p>", "<p>a<img src=x.jpg>b</p>", "<p>a<!-- c -->b</p>", "<p>a<p>b</p>", "<p><em>a</p></em>",
    "<p>x &#0; y</p>", "<p>a < b</p>", "<div>a<p>b</div></p>", "<p>a</p></div>", "<em>a<p>b</p></em>",
    "<p>R&D</p>", "<p>a\x00b</p>", "<p>a\ud800b</p>", "<p>x</br>y</p>", "<span/>x", "<p>a &notit; b</p>",
])
def test_simple_html_reader_leaves_the_rest_to_the_parser(markup, monkeypatch):
    assert simple_runs(markup) is None
    assert html_to_blocks(markup) == _tree_blocks(markup, monkeypatch)


def test_simple_html_reader_agrees_on_the_golden_corpus(monkeypatch):
    markups = []
    for item in load_corpus():
        entry = item.raw["entry"]
        markups += [c["value"] for c in entry.get("content") or ()] + [entry.get("summary") or ""]
    accepted = [m for m in markups if "<" in m and simple_runs(m) is not None]
    assert len(accepted) > 50
    for markup in markups:
        assert html_to_blocks(markup) == _tree_blocks(markup, monkeypatch), repr(markup[:200])


def test_simple_html_tag_sets_match_the_tree_walk():
    # The reader ends a run exactly where the walk flushes: at paragraph-like and container
    # elements (block elements of the walk), never at inline ones, and it drops nothing.
    assert PARAGRAPHS <= normalize._LEAF_BLOCKS and CONTAINERS <= normalize._BLOCK
    assert not INLINE & (normalize._BLOCK | normalize._DROP | {"br", "img", "figure"})



# --- text normalization -------------------------------------------------------------------------

def test_printable_text_never_holds_an_invisible_character():
    # normalize_text skips the invisible-character regex for printable text: exact only if every
    # character that regex removes is unprintable.
    invisible = [c for c in map(chr, range(0x30000)) if normalize._INVISIBLE.match(c)]
    assert invisible and not any(c.isprintable() for c in invisible)
    assert normalize_text("a\u200bb\u00adc") == "abc"
    assert normalize_text("a\ufeff b\x07") == "a b"


# --- rule matching: answers cached per text, agency finder --------------------------------------

def _rule_texts(rules) -> list[str]:
    """Every example and keep of every rule, and variants that sit on the edges of prefilters."""
    base = [x for r in rules.rules for x in (*r.examples, *r.keeps)]
    out = []
    for s in base:
        out += [s, s.upper(), s.lower(), s + " (Xinhua/Li Wen)", "İ" + s, s.replace("a", "ı"), s[: len(s) // 2],
                # letters IGNORECASE takes for i and s, which str.lower() keeps as they are
                s.replace("i", "ı"), s.replace("s", "ſ"), s.replace("I", "İ")]
    return out


def test_cached_answers_equal_fresh_ones(golden_texts):
    rules = load_rules()  # a rule set of its own: its caches start empty
    texts = _rule_texts(rules) + golden_texts
    # Each matcher with the re method strip_boilerplate uses it with.
    uses = {"whole": "fullmatch", "caption": "search", "strip": "search", "byline": "fullmatch", "dateline": "match"}
    for kind, how in uses.items():
        matcher = rules.matchers[kind]
        for text in texts + texts:  # the second time round, short texts come from the cache
            got, fresh = matcher.first(text, how), matcher._first(text, how)
            assert (got is None) == (fresh is None), (kind, how, text)
            if got is not None:
                assert got[0] is fresh[0] and got[1].span() == fresh[1].span(), (kind, how, text)
                assert got[1].groupdict() == fresh[1].groupdict()
        assert matcher.answers[how]


def test_answer_cache_stays_bounded(monkeypatch):
    rules = load_rules()
    monkeypatch.setattr(rulepacks, "_CACHE_ENTRIES", 50)
    whole = rules.matchers["whole"]
    for i in range(500):
        whole.first(f"Distinct paragraph number {i} of the test.", "fullmatch")
    assert 0 < len(whole.answers["fullmatch"]) <= 50
    assert whole.first("Leave a Reply", "fullmatch") is not None  # still answers after emptying
    long = "A long paragraph. " * 40
    whole.first(long, "fullmatch")
    assert long not in whole.answers["fullmatch"]  # longer than _CACHED_CHARS: never stored


def test_texts_outside_every_bucket_match_no_rule_and_stay_out_of_the_cache(golden_texts):
    """A text whose edge character (and length) no rule can match is answered None before the
    cache: checked against every rule of the matcher tried one by one, without buckets."""
    rules = load_rules()
    texts = _rule_texts(rules) + golden_texts + ["Plain sentence ending in a full stop.", "x", "9 things."]
    uses = {"whole": "fullmatch", "caption": "search", "byline": "fullmatch", "dateline": "match"}
    skipped = 0
    for kind, how in uses.items():
        matcher = rules.matchers[kind]
        for text in texts:
            if not text or matcher._bucket(text).regex is not None:
                continue
            skipped += 1
            assert matcher.first(text, how) is None, (kind, text)
            assert all(rule.match(text, how) is None for rule in matcher.rules), (kind, text)
            assert text not in matcher.answers.get(how, {})
    assert skipped > 20  # the shortcut is taken on real text


def _agency_groups(rules, rule) -> list[tuple[str, ...]]:
    packs = {p.agency: p for p in rules.packs if p.agency}
    return [(*rulepacks._alternatives(packs[i.agency].names, literal=True),
             *rulepacks._alternatives(packs[i.agency].tags, literal=False)) for i in rule.instances]


def _plain_finds(groups, flags, text: str) -> list[tuple[int, tuple[int, int]]]:
    """What one plain alternation of every agency's names finds: (agency index, span) each."""
    plain = re.compile("|".join(f"(?P<_a{i}>" + "|".join(g) + ")" for i, g in enumerate(groups)), flags)
    return [(int(m.lastgroup[2:]), m.span()) for m in plain.finditer(text)]


def test_agency_finder_finds_what_the_plain_alternation_finds(golden_texts):
    rules = default_rules()
    merged = [r for k in rules.by_kind.values() for r in k if r.finder is not None]
    assert merged
    texts = _rule_texts(rules) + golden_texts + [
        "BEIJING, Nov. 5 (Xinhua) -- ", "UNIAN UNI ANI ANIANSA", "ʙᴇʀɴᴀᴍᴀ ΚΝΑ", "Kyodo Ḱyodo"]
    for rule in {(r.finder.pattern, r.finder.flags): r for r in merged}.values():  # (templates share finders)
        groups = _agency_groups(rules, rule)
        for text in texts:
            got = [(rule.finder_groups[m.lastgroup], m.span()) for m in rule.finder.finditer(text)]
            assert got == _plain_finds(groups, rule.finder.flags, text), text


@pytest.mark.parametrize("flags", [0, re.IGNORECASE])
def test_dispatched_groups_equal_the_plain_alternation_on_random_text(flags):
    """Names that share prefixes, differ in case, repeat, or start with letters IGNORECASE takes for
    others (i/ı/İ, s/ſ, k/K), and one that starts with no known character."""
    from transforms.cleaning.regexfirst import dispatched_groups

    groups = [["Anadolu", "AA", "A"], ["ANSA", "ansa", "An"], ["AA", "Agence"], ["ıha", "İHA", "IHA"],
              ["ſtar", "Kyodo", "KNA"], [r"\bUNI\b", "UNIAN"], ["dpa(?:-AFX)?", "[Dd]pa"], ["Б", "БТА"]]
    source, names = dispatched_groups(groups, flags)
    fast = re.compile(source, flags)
    plain = re.compile("|".join(f"(?P<_a{i}>" + "|".join(g) + ")" for i, g in enumerate(groups)), flags)
    alphabet = "AaNnSsDdPpKkIiUuBbОоЕеТтAdolygencı İſKⅹ-x "
    rng = random.Random(5)
    for _ in range(4000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert [(names[m.lastgroup], m.span()) for m in fast.finditer(text)] == \
            [(int(m.lastgroup[2:]), m.span()) for m in plain.finditer(text)], text


def test_dispatch_keys_stand_for_disjoint_classes_of_characters():
    """Each key's lookahead takes exactly the characters re takes for any member of its class, and
    two keys never share one: so one branch answers for each character."""
    from transforms.cleaning.regexfirst import _literal_keys

    every = "".join(chr(c) for c in range(0x30000) if not 0xD800 <= c < 0xE000)
    owner: dict[str, str] = {}
    for key in {_literal_keys(re.escape(chr(c)), re.IGNORECASE, 1)[0] for c in range(0x250)} - {None}:
        for ch in re.findall(re.escape(key), every, re.IGNORECASE):
            assert owner.setdefault(ch, key) == key, (ch, key, owner[ch])
            assert _literal_keys(re.escape(ch), re.IGNORECASE, 1)[0] == key, (ch, key)


# --- the chrome-wrapper pretest -----------------------------------------------------------------

def test_wrapper_pretest_is_implied_by_the_wrapper_pattern(monkeypatch):
    """structure._may_match says no only where the case-insensitive _MAYBE search finds nothing."""
    from transforms.cleaning import structure

    rng = random.Random(17)
    parts = ["<p>", "</p>", "<aside>", "<ASIDE class=x>", "<figcaption>", "<FigCaption>", " class=", "CLASS =",
             "class\n=", " id=", "ID\u3000=", "id\xa0=", "role=", "Role =", "said=", "valid =", "=", "data-id=",
             "x=", "İd=", "ıd=", "claſs=", "role\t\t=", "rolex=", "<a href=\"/y\">", "</a>", "text ", "ı", "ſ",
             "İ", "é", "“", "<asidex>", "classy", "<figcaptions>"]
    samples = ["".join(rng.choice(parts) for _ in range(rng.randint(0, 8))) for _ in range(20000)]
    samples += [m for m in _golden_markups()]
    found = skipped = 0
    for markup in samples:
        hit = structure._MAYBE.search(markup) is not None
        found += hit
        if not structure._may_match(markup):
            skipped += 1
            assert not hit, repr(markup)
            assert structure.chrome_paragraphs(markup) == {}
    assert found > 1000 and skipped > 1000  # both answers are exercised


def _golden_markups() -> list[str]:
    out = []
    for item in load_corpus():
        raw = parse_raw_item(orjson.dumps(item.raw), {}, item.id)
        out += [pick_body(raw.entry)[0] or "", raw.entry.summary or ""]
    return out


# --- required substrings: a rule's and a matcher's prefilters ---------------------------------

def test_required_substrings_never_skip_a_match(golden_texts):
    rules = load_rules()
    texts = _rule_texts(rules) + golden_texts
    checked = 0
    for rule in rules.rules:
        if not rule.needles:
            continue
        for text in texts:
            for how in ("search", "fullmatch"):
                plain = getattr(rule.regex, how)(text)
                got = rule.match(text, how)
                assert (got is None) == (plain is None), (rule.id, how, text)
                checked += plain is not None
    assert checked > 100


def test_gated_rules_leave_every_answer_as_it_was(golden_texts, monkeypatch):
    """Rules of unknown first character are left out of a text's alternation when it lacks their
    strings: the answers are those of the matchers that always try them."""
    gated = load_rules()
    real_gate = rulepacks._gate
    with monkeypatch.context() as m:
        m.setattr(rulepacks, "_gate", lambda source, flags: None)
        plain = load_rules()
    texts = _rule_texts(gated) + golden_texts
    texts += [t + " Sign up for our newsletter." for t in texts[:200]] + [t + " affiliate links" for t in texts[:200]]
    uses = {"whole": "fullmatch", "caption": "search", "strip": "search", "byline": "fullmatch",
            "dateline": "match", "line": "fullmatch", "attribution": "search"}
    for kind, how in uses.items():
        for text in texts:
            got = gated.matchers[kind]._first(text, how)
            monkeypatch.setattr(rulepacks, "_gate", lambda source, flags: None)  # buckets built now have none
            want = plain.matchers[kind]._first(text, how)
            monkeypatch.setattr(rulepacks, "_gate", real_gate)
            assert (got is None) == (want is None), (kind, how, text)
            if got is not None:
                assert got[0].id == want[0].id and got[1].span() == want[1].span(), (kind, how, text)
    assert any(b.gated for b in gated.matchers["whole"].buckets.values())  # the shortcut was taken
    assert not any(b.gates for m in plain.matchers.values() for b in (m, *m.buckets.values()))


def test_typeset_quote_pretest_answers_as_the_search(golden_texts):
    from transforms.cleaning import typography

    rng = random.Random(23)
    parts = ["a", " ", "&", "#", "quo;", "&lsquo;", "&rdquo;", "&sbquo;", "&bdquo;", "&#8216;", "&#8223;", "&#8224;",
             "&#x201c;", "&#x201F;", "&#X201c;", "&ldquo", "\u2018", "\u201f", "\u2020", "é", "<p>", "&amp;", "dquo;"]
    samples = ["".join(rng.choice(parts) for _ in range(rng.randint(0, 6))) for _ in range(20000)]
    samples += golden_texts + _golden_markups()
    hits = 0
    for text in samples:
        want = bool(typography._TYPESET.search(text))
        hits += want
        assert typography.has_typeset_quotes(text) is want, repr(text)
        assert typography.has_typeset_quotes(None, "", text, "x") is want
    assert hits > 1000


def test_truncation_pretest_is_implied_by_the_pattern(golden_texts):
    rng = random.Random(29)
    parts = ["a", " ", "\xa0", "\n", "\t", ".", "..", "...", "…", "[", "]", "[…]", "[...]", "[+12 chars]", "[+ chars]",
             "+", "1", "chars", "x"]
    samples = ["".join(rng.choice(parts) for _ in range(rng.randint(0, 7))) for _ in range(20000)] + golden_texts
    hits = 0
    for text in samples:
        if normalize._TRUNCATION.search(text):
            hits += 1
            assert text.rstrip().endswith(normalize._TRUNCATION_ENDS), repr(text)
    assert hits > 1000


def test_ascii_language_words_equal_the_regex(golden_texts):
    from transforms.cleaning import language

    rng = random.Random(31)
    alphabet = "aZ9_'-. \t\n\x0b\x1c\x7f,é"
    samples = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(20000)]
    samples += [chr(c) * 3 for c in range(128)] + golden_texts
    ascii_seen = 0
    for text in samples:
        low = text.lower()
        ascii_seen += low.isascii()
        assert language._words(low) == language._WORDS.findall(low), repr(text)
    assert ascii_seen > 1000


def test_fold_quotes_of_ascii_text_is_the_text(golden_texts):
    from transforms.cleaning import typography

    for text in golden_texts + ["a 'b' \"c\"", "", "\u2018x\u2019 \u201cy\u201d"]:
        assert typography.fold_quotes(text) == text.translate(typography._FOLD)


def test_normalize_text_fast_return_equals_the_space_collapse(golden_texts):
    """Text returned as it is (printable, single spaces) is what joining its split gives; checked
    with every character str.split() takes for whitespace."""
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert len(spaces) > 20
    rng = random.Random(37)
    alphabet = ["a", "Z", " ", "  ", "é", "\u2019", "\u200b", "\u00ad", "x\u200dy", "\u0301", *spaces]
    samples = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) for _ in range(30000)]
    samples += spaces + [f"a{c}b" for c in spaces] + golden_texts
    returned_as_is = 0
    for text in samples:
        got = normalize_text(text)
        returned_as_is += got is text
        assert " ".join(got.split()) == got, repr(text)
        # the plain path: the same steps, then always the split and join
        with_split = normalize_text(text + "  ")  # a double space: never the fast return
        assert got == with_split, repr(text)
    assert returned_as_is > 1000
