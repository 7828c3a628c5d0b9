"""The whole pure cleaning chain on raw items, including the sample-shaped acceptance item."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.cleaning_support import (
    FIXTURES,
    SAMPLE,
    content_lines,
    item_from_lines,
    load_yaml_fixture,
    parse,
    raw_dict,
)
from transforms.cleaning import clean_item, merge_images
from transforms.errors import CleanError
from transforms.model import Image

ITEMS = load_yaml_fixture("items.yaml")["items"]

# Every boilerplate line of the sample shape; none may survive anywhere in the clean text.
SAMPLE_CHROME = ("1 min read", "Xinhua News Agency", "Founded in 1931", "Leave a Reply",
                 "Your email address will not be published", "Latest from Blog", "Handout via Xinhua")


def _text_of(article) -> str:
    return "\n".join([article.title, article.standfirst or "", *article.body])


def test_sample_shaped_fixture_keeps_exactly_six_paragraphs():
    lines = content_lines(FIXTURES / "xinhua_blog_repost.txt")
    article = clean_item(item_from_lines(lines))
    real = lines[4:10]  # the six real paragraphs, in order
    assert article.body == real
    assert article.agency == "xinhua"
    assert article.standfirst is None  # it repeats body paragraph 5, which stays in place
    assert article.title == lines[0]
    assert article.images == [Image(
        url=None,
        caption="Fisheries Minister Lena Varo (L) greets visiting envoy Tomas Reed at the harbour "
                "office in Port Alden, on March 4, 2024.",
        credit="Coastal Ministry Office/Handout via Xinhua")]
    text = _text_of(article)
    for chrome in SAMPLE_CHROME:
        assert chrome not in text
    assert {"clean.standfirst_echo", "generic.read_time", "xinhua.caption", "xinhua.signature",
            "xinhua.about", "generic.comment_form", "generic.latest_from"} <= set(article.removed_rules)


@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"reference sample not present at {SAMPLE}")
def test_reference_sample_acceptance():
    """The issue's acceptance, on the shared sample read at test time (never copied into the repo)."""
    lines = content_lines(SAMPLE)
    article = clean_item(item_from_lines(lines))
    chrome_keys = ("1 min read", "Xinhua News Agency", "Founded in 1931", "Leave a Reply",
                   "Your email address", "Latest from", "(Palestinian President Office")
    expected = [ln for ln in lines[2:] if not any(k in ln for k in chrome_keys)]
    assert len(expected) == 6
    # The paragraphs are the sample's, in order, with its own typography (curly quotes kept).
    assert article.body == expected
    assert article.agency == "xinhua"
    assert len(article.images) == 1
    assert article.images[0].credit == "Palestinian President Office/Handout via Xinhua"
    assert article.images[0].caption.startswith("Palestinian President Mahmoud Abbas (R) shakes hands")
    body = "\n".join(article.body)
    for chrome in chrome_keys:
        assert chrome not in body


def _build(raw: dict):
    raw = dict(raw)
    paragraphs = raw.pop("paragraphs", None)
    if paragraphs is not None:
        raw["content_html"] = "".join(f"<p>{p}</p>" for p in paragraphs)
    return parse(raw_dict(**raw))


@pytest.mark.parametrize("case", ITEMS, ids=[c["name"] for c in ITEMS])
def test_fixture_items(case):
    article = clean_item(_build(case["raw"]))
    exp = case["expect"]
    for key in ("title", "body", "agency", "dateline", "dateline_place", "standfirst"):
        if key in exp:
            assert getattr(article, key) == exp[key], key
    if "images" in exp:
        assert [(i.caption, i.credit) for i in article.images] == [
            (i["caption"], i["credit"]) for i in exp["images"]]
    text = _text_of(article)
    for snippet in exp.get("gone", ()):
        assert snippet not in text
    assert set(exp.get("rules", ())) <= set(article.removed_rules)


def test_no_title_and_no_text_is_a_clean_error():
    raw = parse(raw_dict(title="  ", content_html="<p>Advertisement</p><p>1 min read</p>"))
    with pytest.raises(CleanError, match="no usable title and no body text"):
        clean_item(raw)


def test_dates_url_tags_and_byline():
    raw = parse(raw_dict(
        content_html="<p>Text of the item.</p>", published="Mon, 04 Mar 2024 18:30:00 KST",
        updated="2024-03-04T12:00:00+01:00", tags=["Harbour", " harbour ", "Fisheries", ""],
        author="  Mara Quinn ", link="HTTPS://Blog.Example.org:443/2024/03/story?utm_medium=rss&b=2&a=1#top"))
    article = clean_item(raw)
    assert article.published_at == datetime(2024, 3, 4, 9, 30, tzinfo=timezone.utc)
    assert article.published_raw == "Mon, 04 Mar 2024 18:30:00 KST"
    assert article.published_from_fetch is False
    assert article.updated_at == datetime(2024, 3, 4, 11, 0, tzinfo=timezone.utc)
    assert article.url == "https://blog.example.org/2024/03/story?a=1&b=2"
    assert article.link == "HTTPS://Blog.Example.org:443/2024/03/story?utm_medium=rss&b=2&a=1#top"
    assert article.tags == ["Harbour", "Fisheries"]
    assert article.byline == "Mara Quinn"


def test_unreadable_date_falls_back_to_fetch_time_with_flag():
    raw = parse(raw_dict(content_html="<p>Text.</p>", published="sometime last week"))
    article = clean_item(raw)
    assert article.published_at == datetime(2024, 3, 4, 10, 0, tzinfo=timezone.utc)
    assert article.published_from_fetch is True
    assert article.published_raw == "sometime last week"


def test_feed_media_merge_with_found_captions_and_credit_evidence():
    raw = parse(raw_dict(
        title="Quay collapses after storm",
        content_html="<p>A section of the old quay collapsed overnight after the storm, the harbour master said.</p>"
                     "<p>The damaged quay in Port Alden on March 5, 2024. (Xinhua/Li Wen)</p>",
        media=[{"url": "https://img.example.org/quay.jpg", "caption": None, "credit": None},
               {"url": "https://img.example.org/quay.jpg", "caption": "dup", "credit": None}]))
    article = clean_item(raw)
    assert article.images == [Image(url="https://img.example.org/quay.jpg",
                                    caption="The damaged quay in Port Alden on March 5, 2024.",
                                    credit="Xinhua/Li Wen")]
    assert article.agency == "xinhua"  # a photo credit is weak evidence, but the only evidence here


def test_html_figures_become_images():
    raw = parse(raw_dict(content_html=(
        '<p>First paragraph of the story about the harbour.</p><figure><img src="https://img.example.org/a.jpg">'
        '<figcaption>Boats in the harbour. (Photo: Island Post)</figcaption></figure>'
        '<img src="https://px.example.org/p.gif" width="1" height="1">')))
    article = clean_item(raw)
    assert article.body == ["First paragraph of the story about the harbour."]
    assert article.images == [Image(url="https://img.example.org/a.jpg", caption="Boats in the harbour.",
                                    credit="Photo: Island Post")]


def test_merge_images_keeps_unmatched_captions():
    merged = merge_images([Image(url="https://x/1.jpg", caption="One")],
                          [Image(caption="Two", credit="AP Photo/A")])
    assert merged == [Image(url="https://x/1.jpg", caption="One"), Image(caption="Two", credit="AP Photo/A")]


def test_title_repeated_as_first_paragraph_is_dropped():
    raw = parse(raw_dict(title="Harbour reopens", content_html="<h1>Harbour reopens</h1><p>The harbour reopened.</p>"))
    article = clean_item(raw)
    assert article.body == ["The harbour reopened."]
    assert "clean.title_echo" in article.removed_rules


def test_byline_language_and_word_count():
    raw = parse(raw_dict(
        title="Port workers end strike",
        author="desk@example.org",
        content_html="<p>By Lena Ortiz and Tom Feld, Associated Press</p>"
                     "<p>OLDPORT, Maine (AP) \u2014 Dock workers returned to work on Friday after the union accepted a new contract.</p>"))
    article = clean_item(raw)
    assert article.byline == "Lena Ortiz and Tom Feld"
    assert article.body == ["Dock workers returned to work on Friday after the union accepted a new contract."]
    assert article.language == "en"
    assert article.word_count == 14
    assert article.agency == "ap"


def test_feed_author_is_byline_and_names_the_agency():
    raw = parse(raw_dict(title="Harbour fees rise", author="Reuters",
                         content_html="<p>The harbour board raised mooring fees by six percent on Monday.</p>"))
    article = clean_item(raw)
    assert (article.byline, article.agency) == ("Reuters", "reuters")


def test_spanish_item():
    raw = parse(raw_dict(
        title="El puerto de Alden reabre tras el temporal",
        content_html="<p>Madrid, 4 mar (EFE).- El puerto de Alden reabrió este lunes tras tres días cerrado "
                     "por el temporal, informaron las autoridades portuarias.</p><p>Lee también: El temporal deja "
                     "sin luz a miles de hogares</p><p>Los pescadores podrán volver a faenar desde el martes.</p>"))
    article = clean_item(raw)
    assert article.language == "es"
    assert article.body == [
        "El puerto de Alden reabrió este lunes tras tres días cerrado por el temporal, informaron las autoridades portuarias.",
        "Los pescadores podrán volver a faenar desde el martes."]
    assert (article.dateline, article.dateline_place) == ("Madrid, 4 mar (EFE)", "Madrid")
