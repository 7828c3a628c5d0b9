"""Text, HTML, title, date, URL and standfirst normalization."""

from __future__ import annotations

import random
import re
import string
from datetime import datetime, timedelta, timezone

import pytest

from transforms.cleaning import (
    canonical_url,
    clean_title,
    drop_title_echo,
    html_to_blocks,
    html_to_paragraphs,
    normalize_text,
    paragraph_key,
    parse_date,
    resolve_published,
    split_standfirst,
    text_to_paragraphs,
)

UTC = timezone.utc


# --- text ---------------------------------------------------------------------------------------

def test_normalize_text_quotes_spaces_invisibles_and_nfc():
    raw = "\u201cIt\u2019s\u00a0done,\u201d  she\u200b said\u2060.\ufeff\u00ad Cafe\u0301 \u2009ok\u202f!\n"
    assert normalize_text(raw) == "\"It's done,\" she said. Caf\u00e9 ok !"


def test_normalize_text_keeps_guillemets_dashes_and_meaningful_joiners():
    assert normalize_text("\u00abHola\u00bb \u2014 dijo") == "\u00abHola\u00bb \u2014 dijo"
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ inside a Persian word
    assert normalize_text(persian) == persian
    assert normalize_text("a\u200cb \u200dc") == "ab c"  # stray joiners next to ASCII go


def test_control_characters_removed():
    assert normalize_text("bad\x00 \x07byte\x9f") == "bad byte"


# --- HTML ---------------------------------------------------------------------------------------

def test_blocks_and_breaks_make_paragraphs_and_inline_elements_do_not():
    html = "<div>Lead<p>One <b>bold</b> <a href='#'>link</a></p>tail</div><p>x<br>y</p><ul><li>a</li><li>b</li></ul>"
    assert html_to_paragraphs(html) == ["Lead", "One bold link", "tail", "x", "y", "a", "b"]


def test_dropped_elements_and_entities():
    html = ("<p>Hi &amp; bye&nbsp;&#8212;&#x2019;s</p><script>var s='<p>no</p>'</script><style>p{}</style>"
            "<noscript>nojs</noscript><iframe>frame</iframe><form><label>Name</label></form><nav>Menu</nav>"
            "<!-- comment --><template><p>tpl</p></template>")
    assert html_to_paragraphs(html) == ["Hi & bye \u2014's"]


def test_deeply_nested_markup_does_not_hit_recursion_limits():
    html = "<div>" * 5000 + "deep" + "</div>" * 5000
    assert html_to_paragraphs(html) == ["deep"]


def test_images_from_figures_and_img_tags_but_not_pixels():
    blocks = html_to_blocks(
        '<p>Text</p><figure><img src="//cdn.example.org/a.jpg"><figcaption>A boat</figcaption></figure>'
        '<img src="https://cdn.example.org/b.jpg"><img src="https://t.example.org/p.gif" width="1">'
        '<img src="data:image/png;base64,xx">')
    assert blocks.paragraphs == ["Text"]
    assert [(i.url, i.caption) for i in blocks.images] == [
        ("https://cdn.example.org/a.jpg", "A boat"), ("https://cdn.example.org/b.jpg", None)]


def test_plain_text_input():
    assert html_to_paragraphs("First para\nwrapped line\n\nSecond &amp; last") == [
        "First para wrapped line", "Second & last"]
    assert text_to_paragraphs("one\ntwo\r\nthree") == ["one", "two", "three"]
    assert html_to_paragraphs("") == [] and html_to_paragraphs(None) == []


def test_paragraph_key_ignores_case_punctuation_and_quotes():
    assert paragraph_key("It\u2019s DONE, \u201cnow\u201d.") == paragraph_key("its done now")


def test_paragraph_key_of_ascii_text_is_its_letters_and_digits_lowercased():
    """The ASCII fast path keeps exactly what the general rule keeps: word characters but '_'."""
    def by_definition(text: str) -> str:
        return "".join(re.findall(r"[^\W_]+", text.casefold()))

    every_ascii = "".join(map(chr, range(128)))
    assert paragraph_key(every_ascii) == by_definition(every_ascii) == string.digits + 2 * string.ascii_lowercase
    rng = random.Random(3)
    for _ in range(2000):
        text = "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 60)))
        assert paragraph_key(text) == by_definition(text), repr(text)
    assert paragraph_key("Caf\u00e9 Ren\u00e9e, 2024!") == "caf\u00e9ren\u00e9e2024"  # not ASCII: the general rule


# --- titles -------------------------------------------------------------------------------------

@pytest.mark.parametrize("title,host,expected", [
    ("Harbour reopens after storm - Xinhua", None, "Harbour reopens after storm"),
    ("Harbour reopens after storm | Reuters", None, "Harbour reopens after storm"),
    ("Harbour reopens after storm \u2013 The Island Times", None, "Harbour reopens after storm"),
    ("Harbour reopens after storm - Baymouth Gazette", None, "Harbour reopens after storm"),
    ("Harbour reopens | World | Daily Sabah", "www.dailysabah.com", "Harbour reopens"),
    ("Harbour reopens after storm - Portalden", "www.portalden.net", "Harbour reopens after storm"),
    ("Harbour reopens after storm | Island Blog", None, "Harbour reopens after storm"),
    ("Harbour &amp; port reopen \u2014 islandpost.com", None, "Harbour & port reopen"),
])
def test_site_suffix_removed(title, host, expected):
    assert clean_title(title, site_names=("Xinhua", "Reuters"), host=host) == expected


@pytest.mark.parametrize("title", [
    "Ukraine-Russia talks - what we know so far",
    "Storm hits coast - daily life disrupted",
    "Nigeria - Attack kills 10",
    "Minister: harbour fees will rise - but not this year",
    "Xinhua",
    "Ferry Fares To Rise In March - What We Know So Far",
    "Fares rise - Alden Reacts",
    "Trade war will hurt everyone - Janet Yellen",
    "We will not back down on taxes - Keir Starmer",
])
def test_headline_parts_are_not_site_suffixes(title):
    assert clean_title(title, site_names=("Xinhua",)) == title


@pytest.mark.parametrize("title,expected", [
    ("Ferry talks resume in Port Alden - The Alden Ledger", "Ferry talks resume in Port Alden"),
    ("La huelga portuaria termina tras cinco días - El Correo del Sur", "La huelga portuaria termina tras cinco días"),
    ("Les dockers reprennent le travail - Le Quotidien de l'Estuaire", "Les dockers reprennent le travail"),
    ("Fähre fährt wieder nach Fenholm - Fenholmer Kurier", "Fähre fährt wieder nach Fenholm"),
    ("Ferry fares to rise in March, council says - The Alden Beacon", "Ferry fares to rise in March, council says"),
])
def test_outlet_names_of_newspapers_are_site_suffixes(title, expected):
    assert clean_title(title) == expected


@pytest.mark.parametrize("title,expected", [
    ("(LEAD) Ferry fares to rise 4 pct in March", "Ferry fares to rise 4 pct in March"),
    ("(2nd LD) Ferry fares to rise in March", "Ferry fares to rise in March"),
    ("(3rd LD, with minister's remarks) Ferry fares to rise", "Ferry fares to rise"),
    ("UPDATE 2-Harbour shares slide on strike fears", "Harbour shares slide on strike fears"),
    ("URGENT: Quake shakes the northern coast", "Quake shakes the northern coast"),
    ("REFILE-UPDATE 1-Port Alden ferry sale delayed", "Port Alden ferry sale delayed"),
    ("Ferry fares to rise in March (LEAD)", "Ferry fares to rise in March"),
    ("EILMELDUNG: Fähre in Fenholm auf Grund gelaufen", "Fähre in Fenholm auf Grund gelaufen"),
    ("(LEAD) Ferry fares rise - Alden Daily News", "Ferry fares rise"),
])
def test_desk_labels_leave_the_headline(title, expected):
    assert clean_title(title) == expected


@pytest.mark.parametrize("title", [
    "Update on the ferry talks: what we know",
    "Urgent repairs close the harbour bridge",
    "(LEAD)",
    "Lead levels in harbour water fall (study)",
    "Breaking the deadlock - ministers agree on fares",
])
def test_headline_words_are_not_desk_labels(title):
    assert clean_title(title) == title


# --- dates --------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,expected", [
    ("Sun, 05 Nov 2023 14:02:11 GMT", datetime(2023, 11, 5, 14, 2, 11, tzinfo=UTC)),
    ("Sun, 05 Nov 2023 14:02:11 +0800", datetime(2023, 11, 5, 6, 2, 11, tzinfo=UTC)),
    ("Sun, 5 Nov 23 14:02:11 -0330", datetime(2023, 11, 5, 17, 32, 11, tzinfo=UTC)),
    ("Sun, 05 Nov 2023 14:02:11 EST", datetime(2023, 11, 5, 19, 2, 11, tzinfo=UTC)),
    ("Sun, 05 Nov 2023 14:02:11 EDT", datetime(2023, 11, 5, 18, 2, 11, tzinfo=UTC)),
    ("Sun, 05 Nov 2023 14:02:11 PST", datetime(2023, 11, 5, 22, 2, 11, tzinfo=UTC)),
    ("Sun, 05 Nov 2023 14:02:11 CET", datetime(2023, 11, 5, 13, 2, 11, tzinfo=UTC)),
    ("Sun, 05 Nov 2023 14:02:11 JST", datetime(2023, 11, 5, 5, 2, 11, tzinfo=UTC)),
    ("Sun, 05 Nov 2023 14:02:11 KST", datetime(2023, 11, 5, 5, 2, 11, tzinfo=UTC)),
    ("Sun, 05 Nov 2023 14:02:11 IST", datetime(2023, 11, 5, 8, 32, 11, tzinfo=UTC)),
    ("Sun, 05 Nov 2023 14:02 UT", datetime(2023, 11, 5, 14, 2, tzinfo=UTC)),
    ("2023-11-05T14:02:11Z", datetime(2023, 11, 5, 14, 2, 11, tzinfo=UTC)),
    ("2023-11-05T14:02:11.250+08:00", datetime(2023, 11, 5, 6, 2, 11, 250000, tzinfo=UTC)),
    ("2023-11-05 14:02", datetime(2023, 11, 5, 14, 2, tzinfo=UTC)),
    ("2023-11-05", datetime(2023, 11, 5, tzinfo=UTC)),
    ("November 5, 2023 2:02 PM EST", datetime(2023, 11, 5, 19, 2, tzinfo=UTC)),
    ("2023-11-05 14:02 GMT+8", datetime(2023, 11, 5, 6, 2, tzinfo=UTC)),
    ("05 Nov 2023 14:02:00 UTC-03:00", datetime(2023, 11, 5, 17, 2, tzinfo=UTC)),
    ("Sunday, 05-Nov-23 14:02:11 GMT", datetime(2023, 11, 5, 14, 2, 11, tzinfo=UTC)),
])
def test_parse_date(raw, expected):
    got = parse_date(raw)
    assert got == expected and got.tzinfo is not None and got.utcoffset() == timedelta(0)


@pytest.mark.parametrize("raw", [None, "", "   ", "not a date", "Sun, 99 Nov 2023 14:02:11 GMT"])
def test_unreadable_dates(raw):
    assert parse_date(raw) is None


def test_resolve_published_fallbacks():
    fetched = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    ok = resolve_published("Mon, 04 Mar 2024 09:30:00 GMT", None, fetched)
    assert (ok.at, ok.raw, ok.from_fetch) == (datetime(2024, 3, 4, 9, 30, tzinfo=UTC),
                                              "Mon, 04 Mar 2024 09:30:00 GMT", False)
    upd = resolve_published(None, "2024-03-04T08:00:00Z", fetched)
    assert upd.at == datetime(2024, 3, 4, 8, tzinfo=UTC) and not upd.from_fetch
    future = resolve_published("2031-01-01T00:00:00Z", None, fetched)
    assert (future.at, future.raw, future.from_fetch) == (fetched, "2031-01-01T00:00:00Z", True)
    epoch = resolve_published("Thu, 01 Jan 1970 00:00:00 GMT", None, fetched)
    assert epoch.from_fetch and epoch.at == fetched
    none = resolve_published(None, None, fetched)
    assert (none.at, none.raw, none.from_fetch) == (fetched, None, True)


# --- URLs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("url,expected", [
    ("HTTPS://Example.COM:443/World/Story.html?utm_source=x&b=2&a=1&fbclid=z&gclid=1#frag",
     "https://example.com/World/Story.html?a=1&b=2"),
    ("http://example.com:80", "http://example.com/"),
    ("http://example.com:8080/a?id=3&mc_cid=1&mc_eid=2&ocid=4&cmpid=5&utm_medium=rss",
     "http://example.com:8080/a?id=3"),
    ("https://user:pw@example.com/a?x=%20y&cid=7", "https://example.com/a?cid=7&x=%20y"),
    ("https://example.com/a?tag=b&tag=a&page=2", "https://example.com/a?page=2&tag=b&tag=a"),
    ("https://example.com/#!/story/42", "https://example.com/#!/story/42"),
    ("https://\u4f8b\u3048.jp/news", "https://xn--r8jz45g.jp/news"),
    ("  https://example.com/a?  ", "https://example.com/a"),
])
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize("url", [None, "", "ftp://example.com/a", "urn:uuid:1234", "https://", "http://x:99999/"])
def test_canonical_url_rejects_non_http(url):
    assert canonical_url(url) is None


# --- standfirst ---------------------------------------------------------------------------------

def test_standfirst_printed_above_and_inside_body():
    paras = ["Sums it up.", "Para one.", "Sums it up.", "Para three."]
    assert split_standfirst("Sums it \u201cup\u201d", paras) == (None, ["Para one.", "Sums it up.", "Para three."])


def test_standfirst_that_is_a_body_paragraph_is_dropped_and_body_kept():
    assert split_standfirst("Para one.", ["Para one.", "Two."]) == (None, ["Para one.", "Two."])


def test_truncated_teaser_is_dropped():
    body = ["The council approved the harbour budget on Tuesday by nine votes to four after a long debate."]
    assert split_standfirst("The council approved the harbour budget on Tuesday [\u2026]", body)[0] is None


def test_summary_cut_from_a_later_paragraph_is_dropped():
    body = ["LONDON (Reuters) - The port reopened on Monday.",
            "Officials from the ferry union told reporters that 25 crossings had been cancelled by the coast guard"
            " over the weekend, and that more would follow."]
    # the feed's summary: the first 120 characters of the second paragraph, cut mid-word, no ellipsis
    assert split_standfirst(body[1][:120], body) == (None, body)
    assert split_standfirst(body[1][:120] + "\u2026", body) == (None, body)
    # a summary of its own that happens to share the paragraph's first words is kept
    own = "Officials from the ferry union told reporters on Sunday that the strike would go ahead as planned."
    assert split_standfirst(own, body) == (own, body)


def test_distinct_standfirst_is_kept():
    assert split_standfirst("A different summary.", ["Body."]) == ("A different summary.", ["Body."])


def test_title_echo():
    assert drop_title_echo("Harbour reopens", ["Harbour Reopens!", "Text."]) == ["Text."]
    assert drop_title_echo("Harbour reopens", ["Text."]) == ["Text."]


def test_title_echo_below_short_chrome_lines():
    assert drop_title_echo("Harbour reopens", ["2 min read", "Harbour reopens", "Text."]) == ["2 min read", "Text."]
    assert drop_title_echo("Harbour reopens", ["Updated: May 2", "Photo: staff", "Harbour reopens", "T."]) == [
        "Updated: May 2", "Photo: staff", "T."]
    # Not below a story paragraph, and not further down than the first three.
    lede = "The harbour of the island reopened on Monday after a storm had closed it for nearly two weeks."
    assert drop_title_echo("Harbour reopens", [lede, "Harbour reopens"]) == [lede, "Harbour reopens"]
    assert drop_title_echo("Harbour reopens", ["a", "b", "c", "Harbour reopens"]) == ["a", "b", "c", "Harbour reopens"]
