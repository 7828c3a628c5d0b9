"""Article pages → clean text: extraction (pre-trim + trafilatura), the page-or-feed verdict, and the
whole cleaning chain on items that carry ``page_html``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from pollers import decode_html
from tests.cleaning_support import parse, raw_dict
from transforms.cleaning import clean_item
from transforms.cleaning.page import (
    MAX_PAGE_CHARS,
    PAGE_EMPTY,
    PAGE_ERROR,
    PAGE_NOT_LONGER,
    PAGE_UNRELATED,
    PAGE_USED,
    PageExtractionError,
    drop_echoes,
    drop_headline_echoes,
    drop_label_head,
    drop_chrome_lines,
    drop_short_tail,
    extract_page,
    page_verdict,
)
from transforms.model import Image

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
SPEC = yaml.safe_load((PAGES / "pages.yaml").read_text(encoding="utf-8"))
assert SPEC["description"]

STORY = [
    "HARLOW FEN, May 3 (Xinhua) -- Volunteers planted four thousand willow cuttings along the eroded "
    "banks of the Harlow river on Saturday, the county's water board said.",
    "The cuttings are meant to hold the soil together before the autumn floods, which washed away "
    "almost a metre of the bank in some places last year.",
    "\"Willow is cheap, it grows fast and it does not mind getting its feet wet,\" said board engineer "
    "Petra Lindqvist, who organised the planting.",
    "The board plans a second planting further downstream in October if the cuttings take root.",
]


def page_item(spec: dict):
    html = decode_html((PAGES / spec["file"]).read_bytes(), spec["content_type"])
    e = spec["entry"]
    item = raw_dict(title=e["title"], summary=e["summary"], link=e["link"], author=e["author"],
                    published=e["published"], guid=e["link"], fetched_at="2024-03-07T00:00:00Z")
    item["page_html"] = html
    return parse(item)


def _paragraphs_html(paras: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paras)


# --- the fixture pages, through the whole chain -----------------------------------------------

@pytest.mark.parametrize("spec", SPEC["pages"], ids=[p["file"] for p in SPEC["pages"]])
def test_fixture_page_yields_the_article_without_chrome(spec):
    article = clean_item(page_item(spec))
    exp = spec["expect"]
    assert article.body_source == "page"
    assert article.body == exp["body"]
    assert article.title == exp["title"]
    assert article.standfirst == exp["standfirst"]
    assert article.agency == exp["agency"]
    assert article.dateline == exp["dateline"]
    assert article.byline == exp["byline"]
    assert article.published_at == datetime.fromisoformat(exp["published_at"])
    assert article.images == [Image(**img) for img in exp["images"]]
    assert "page.body" in article.removed_rules
    text = "\n".join([article.title, article.standfirst or "", *article.body,
                      *(f"{i.caption} {i.credit}" for i in article.images)])
    for snippet in spec["gone"]:
        assert snippet not in text, snippet


def test_the_region_and_figures_of_the_fixture_pages():
    blog, portal = (page_item(s) for s in SPEC["pages"])
    found = extract_page(blog.page_html, base_url=blog.entry.link)
    assert found.region == "article"
    # Relative image URLs are made absolute against the item's link; the caption keeps its credit
    # here (the rules split it later).
    assert found.images == [Image(url="https://harbourlights.example/wp-content/uploads/2024/03/kelderport-terminal.jpg",
                                  caption="The first ferry berths at the new terminal in Kelderport, "
                                          "March 5, 2024. (Xinhua/Wen Lio)")]
    assert extract_page(portal.page_html).region == "main"  # the itemprop=articleBody block


# --- extraction --------------------------------------------------------------------------------

def test_break_separated_story_becomes_paragraphs():
    page = (f"<html><body><div id='content'><font size=5><b>Willow planting</b></font><br>"
            f"<div class='story-text'>{'<br><br>'.join(STORY)}</div></div></body></html>")
    # The headline is page text too; cleaning drops it as an echo of the feed's title.
    assert extract_page(page).paragraphs == ["Willow planting", *STORY]


def test_teaser_cards_in_article_elements_do_not_hide_the_story():
    cards = "".join(f"<article class='card'><h3>Other story {i}</h3><p>A short teaser of another story "
                    f"number {i}.</p></article>" for i in range(4))
    page = f"<html><body><div class='story'>{_paragraphs_html(STORY)}</div><section>{cards}</section></body></html>"
    found = extract_page(page)
    assert found.region == "body"
    assert STORY[0] in found.paragraphs and STORY[-1] in found.paragraphs


def test_chrome_blocks_go_but_a_container_named_like_chrome_that_holds_the_story_stays():
    related = ("<div class='related-posts'><p>Council votes to keep the ferry running through the winter "
               "months after a long debate.</p></div>")
    comments = ("<ol class='comment-list'><li><p>I walked past the river on Sunday and the cuttings look "
                "very healthy already, well done.</p></li></ol>")
    page = (f"<html><body><article><div class='post-content social-enabled'>{_paragraphs_html(STORY)}</div>"
            f"{related}{comments}</article></body></html>")
    paragraphs = extract_page(page).paragraphs
    assert paragraphs == STORY


@pytest.mark.parametrize("attrs", ["class='metro-factbox'", "class='article-body-infobox'", "class='author-bio'",
                                   "id='slice-container-authorBio-x1'", "class='author__biography'", "id='respond'"])
def test_fact_boxes_author_profiles_and_the_comment_form_are_chrome(attrs):
    box = (f"<div {attrs}><h4>Leave your thoughts</h4><p>A veteran reporter who has covered the river board "
           f"for twenty years and lives in the valley.</p></div>")
    page = f"<html><body><article>{_paragraphs_html(STORY)}{box}</article></body></html>"
    assert extract_page(page).paragraphs == STORY


@pytest.mark.parametrize("box", [
    # an affiliate notice
    "<div class='article-content__content-group' id='disclaimer'><p>We independently select the products "
    "we write about. Buying through our links may earn us a commission.</p></div>",
    # a block styled as an aside
    "<div class='aside d-flex col-lg-4'><div class='row'>More news</div><p>Ferry timetable changes for the "
    "winter months announced by the harbour office.</p></div>",
    # a social-network box of a Japanese site
    "<div class='mt10 sns-lead-block'><p class='sns-list-lead'>Follow the Fen Courier on every network "
    "for the latest news from the valley!</p></div>",
    # a teaser box that Tailwind's typography marks as not prose
    "<div class='not-prose font-sans pt-4 bg-gray-100'><h3>Toxic smoke: fire brigade warns residents</h3>"
    "<p>Another story of the same site, printed inside this one.</p></div>",
])
def test_disclaimers_asides_sns_boxes_and_not_prose_blocks_are_chrome(box):
    page = f"<html><body><article>{_paragraphs_html(STORY[:2])}{box}{_paragraphs_html(STORY[2:])}</article></body></html>"
    assert extract_page(page).paragraphs == STORY


def test_a_prose_block_is_not_taken_for_a_not_prose_one():
    page = f"<html><body><article><div class='prose lg:prose-xl'>{_paragraphs_html(STORY)}</div></article></body></html>"
    assert extract_page(page).paragraphs == STORY


def test_a_tab_panel_beside_the_story_goes_but_the_panel_holding_the_story_stays():
    summary = ("<div class='tab-pane' id='summary' role='tabpanel'><h3>Summary</h3><ul>"
               "<li>Volunteers planted willow cuttings to hold the river bank before the autumn floods.</li>"
               "<li>A second planting is planned further downstream in October.</li></ul></div>")
    story = f"<div class='tab-pane active' id='full' role='tabpanel'>{_paragraphs_html(STORY)}</div>"
    page = f"<html><body><article><div class='tab-content'>{summary}{story}</div></article></body></html>"
    assert extract_page(page).paragraphs == STORY
    alone = f"<html><body><article><div role='tabpanel'>{_paragraphs_html(STORY)}</div></article></body></html>"
    assert extract_page(alone).paragraphs == STORY


def test_a_caption_outside_a_figure_goes_and_a_figures_caption_is_kept_as_the_image():
    loose = ("<div class='editor-img-box'><div class='img-box'><img src='/a.jpg' alt='x'></div>"
             "<div class='caption'><p>Volunteers plant willow cuttings on the Harlow river bank on Saturday.</p></div></div>")
    wp = "<p class='wp-caption-text'>The eroded bank near the old mill, photographed last winter.</p>"
    figure = "<figure><img src='/b.jpg'><figcaption class='caption'>The board's engineer Petra Lindqvist</figcaption></figure>"
    page = (f"<html><body><article>{_paragraphs_html(STORY[:2])}{loose}{figure}{_paragraphs_html(STORY[2:])}{wp}"
            f"</article></body></html>")
    found = extract_page(page, base_url="https://news.example.org/story")
    assert found.paragraphs == STORY
    assert Image(url="https://news.example.org/b.jpg", caption="The board's engineer Petra Lindqvist") in found.images


def test_a_caption_in_no_figure_and_no_caption_class_goes_when_it_is_the_images_alt_text():
    alt = "Volunteers plant willow cuttings on the Harlow river bank"
    block = (f"<div class='absatzbild'><div class='media'><picture><img src='/a.jpg' alt='{alt}' "
             f"title='{alt} | Photo Desk'></picture></div><div class='info'><p class='info-text'>{alt}</p></div></div>")
    # An image whose alt repeats a story sentence does not take the sentence with it.
    inline = f"<div class='story-part'><img src='/b.jpg' alt='{STORY[2][:60]}'><p>{STORY[2]}</p></div>"
    page = (f"<html><body><article>{_paragraphs_html(STORY[:2])}{block}{inline}{_paragraphs_html(STORY[3:])}"
            f"</article></body></html>")
    assert extract_page(page).paragraphs == STORY


def test_bare_date_and_time_lines_go_but_sentences_and_table_rows_with_dates_stay():
    dates = ["19.03.2024", "1月13日", "2025年1月14日 01時28分 (1月14日 01時40分更新)", "05.08.2024, 20:59 Uhr",
             "2024년 5월 15일", "March 5, 2024", "Monday, 5 August 2024", "Updated: 2024-03-05 10:30"]
    kept = ["The council met on 19.03.2024 to vote.", "2002 | Vladimír Špidla | 30", "1997", "May"]
    assert drop_chrome_lines([*dates, *kept]) == kept
    # A teaser card whose linked headline went leaves its date behind.
    cards = "".join(f"<li><p><a href='/s{i}'>Other story number {i} about the river</a></p><p>1{i}.03.2024</p></li>"
                    for i in range(3))
    page = f"<html><body><article>{_paragraphs_html(STORY)}<ul class='list'>{cards}</ul></article></body></html>"
    assert extract_page(page).paragraphs == STORY


def test_japanese_and_korean_labels_of_related_lists_and_members_only_walls_go():
    labels = ["■関連記事", "関連キーワード", "おすすめ情報", "社会の新着", "記事一覧", "最新のスポーツ記事",
              "カテゴリーをフォローする", "この記事は会員限定です。", "관련기사", "많이 본 뉴스"]
    kept = ["気象庁は調査終了を受けた記者会見で「地震はいつ起きてもおかしくない」と呼びかけた。", "新着"]
    assert drop_chrome_lines([*labels, *kept]) == kept


def test_the_members_only_wall_goes_with_its_pitch():
    wall = ("<div class='cmp-misc021'><div class='container'><p><span>この記事は会員限定です。</span><br>"
            "紙の新聞の定期購読者の方は、無料で会員登録できます。</p><dl><dt>中日プラスに登録すると</dt>"
            "<dd>中日新聞電子版が利用できる</dd><dd>会員向け記事が読み放題</dd></dl></div></div>")
    page = f"<html><body><article>{_paragraphs_html(STORY)}{wall}</article></body></html>"
    assert extract_page(page).paragraphs == STORY


def test_credits_of_other_reporting_go():
    credits = ["– additional reporting by Donald Matthys", "Additional reporting from PA",
               "With reports from Reforma and El Economista", "(Additional reporting by Anna Berg in Oslo)"]
    kept = ["Reporting by the board found that the cuttings had taken root along the whole bank."]
    assert drop_chrome_lines([*credits, *kept]) == kept


def test_recaptcha_notices_go():
    notice = "This site is protected by reCAPTCHA and the Google Privacy Policy and Terms of Service apply."
    page = (f"<html><body><article>{_paragraphs_html(STORY)}<span class='email-signup-text'>{notice}</span>"
            f"</article></body></html>")
    assert extract_page(page).paragraphs == STORY


def test_app_prompts_go_with_their_box_but_a_story_about_an_app_stays():
    box = ("<div id='appBottomRgt'><p>Sie lesen gerade auf die zweitbeste Art!</p><ul><li>Mehr Lesekomfort auch "
           "für unterwegs</li><li>E-Paper und News in einer App</li></ul><a href='/app'>Kostenlos herunterladen</a></div>")
    item = "<ul><li>Aktuelle Nachrichten aufs Handy? Hier geht es zur neuen WAZ-News-App – für Android und iOS.</li></ul>"
    page = f"<html><body><article>{_paragraphs_html(STORY)}{box}{item}</article></body></html>"
    assert extract_page(page).paragraphs == STORY
    about = "The board's flood app, available on iOS and Android, warns residents when the river rises."
    page = f"<html><body><article>{_paragraphs_html([*STORY, about])}</article></body></html>"
    assert extract_page(page).paragraphs == [*STORY, about]


def test_comment_form_lines_go():
    lines = ["Leave a Reply", "Kommentar abgeben", "Du musst dich EINLOGGEN um einen Kommentar abzugeben.",
             "You must be logged in to post a comment."]
    kept = ["Comment on the plan was invited until the end of May, the board said."]
    assert drop_chrome_lines([*lines, *kept]) == kept


def test_nothing_to_extract_gives_no_paragraphs():
    assert extract_page("").paragraphs == []
    assert extract_page("<html><body><nav><a href='/'>Home</a></nav><script>x=1</script></body></html>").paragraphs == []


def test_an_oversized_page_is_refused():
    with pytest.raises(PageExtractionError, match="over the"):
        extract_page("<p>" + "x" * MAX_PAGE_CHARS + "</p>")


def test_pull_quotes_and_repeated_highlights_are_dropped_but_short_repeats_stay():
    pull = STORY[1][:70]
    paras = [STORY[0], STORY[1], pull, "Read more", STORY[2], "Read more"]
    assert drop_echoes(paras) == [STORY[0], STORY[1], "Read more", STORY[2], "Read more"]


# --- page or feed ------------------------------------------------------------------------------

def test_verdict_uses_the_page_when_it_is_longer_and_about_the_same_story():
    feed = [STORY[0][:120]]
    assert page_verdict(STORY, feed, lead=STORY[0][:120] + " …") == PAGE_USED
    # A teaser written apart from the story still shares most of its words.
    teaser = "Volunteers planted willow cuttings to protect the eroded banks of the Harlow river"
    assert page_verdict(STORY, [teaser], lead=teaser) == PAGE_USED
    assert page_verdict(STORY, [], lead=None) == PAGE_USED


def test_verdict_falls_back_to_the_feed():
    assert page_verdict([], ["anything"], lead="anything") == PAGE_EMPTY
    assert page_verdict(STORY[:1], STORY, lead=STORY[0]) == PAGE_NOT_LONGER
    other = "Shipyard workers in Velmora agreed a new wage deal after three weeks of negotiations with management"
    assert page_verdict(STORY, [other], lead=other) == PAGE_UNRELATED


def test_clean_item_falls_back_to_the_feed_and_says_why():
    summary = ("Volunteers planted four thousand willow cuttings along the eroded banks of the Harlow "
               "river on Saturday.")

    def item(page_html, content_html=None):
        raw = raw_dict(title="Volunteers plant willows on Harlow river", summary=summary, content_html=content_html)
        raw["page_html"] = page_html
        return parse(raw)

    unrelated = _paragraphs_html(["Shipyard workers in Velmora agreed a new wage deal on Monday after three "
                                  "weeks of talks with the management of the yard.",
                                  "The deal raises pay by four percent this year and by three next year."] * 3)
    cases = {
        f"<html><body><article>{unrelated}</article></body></html>": ("page.fallback_unrelated", "summary"),
        "<html><body><nav><a href='/'>Home</a></nav></body></html>": ("page.fallback_empty", "summary"),
        "<p>" + "y" * (MAX_PAGE_CHARS + 1) + "</p>": (PAGE_ERROR, "summary"),
    }
    for page_html, (marker, source) in cases.items():
        article = clean_item(item(page_html))
        assert marker in article.removed_rules
        assert article.body_source == source
        assert article.body == [summary]
    # A feed that already carries the whole story: the page adds nothing.
    full = clean_item(item(f"<html><body><article>{_paragraphs_html(STORY[:2])}</article></body></html>",
                           content_html=_paragraphs_html(STORY)))
    assert PAGE_NOT_LONGER in full.removed_rules and full.body_source == "content"
    assert full.body[0].startswith("Volunteers planted")


def test_items_without_a_page_are_cleaned_as_before():
    content = clean_item(parse(raw_dict(content_html=_paragraphs_html(STORY))))
    summary_only = clean_item(parse(raw_dict(summary=STORY[1])))
    headline_only = clean_item(parse(raw_dict(title="Willows planted")))
    assert (content.body_source, summary_only.body_source, headline_only.body_source) == ("content", "summary", "none")
    for article in (content, summary_only, headline_only):
        assert not any(r.startswith("page.") for r in article.removed_rules)


# --- the verdict judges by the feed's text anywhere on the page ----------------------------------

DEK = "Why a county bet on cheap, thirsty trees to keep its floodplain in place"


def test_a_dek_written_apart_from_the_story_keeps_the_page_text():
    # The dek shares few words with the story, but the page carries the feed's title (its headline)
    # and the dek itself: it is the story's page, and its text wins over the teaser.
    title = "Willows against the floods"
    page = (f"<html><head><title>{title} | Fen Courier</title></head><body><header><h1>{title}</h1>"
            f"<p class='dek'>{DEK}</p></header><div class='story'>{_paragraphs_html(STORY)}</div></body></html>")
    raw = raw_dict(title=title, summary=DEK)
    raw["page_html"] = page
    article = clean_item(parse(raw))
    assert article.body_source == "page" and PAGE_USED in article.removed_rules
    assert STORY[1] in article.body and STORY[-1] in article.body
    # Judged on the extracted text alone, the same dek would not have been enough.
    assert page_verdict(STORY, [DEK], DEK) == PAGE_UNRELATED
    assert page_verdict(STORY, [DEK], DEK, title=title, page_text=f"{title} {DEK} {' '.join(STORY)}") == PAGE_USED


def test_a_page_that_is_not_the_story_s_still_falls_back():
    other = ["Shipyard workers in Velmora agreed a new wage deal on Monday after three weeks of talks.",
             "The deal raises pay by four percent this year and by three next year, the union said."]
    page_text = "Velmora Times " + " ".join(other)
    assert page_verdict(other * 3, [DEK], DEK, title="Willows against the floods", page_text=page_text) == PAGE_UNRELATED
    # The story's page, but the extractor took a block that shares none of the feed's words.
    assert page_verdict(other * 3, [DEK], DEK, title="Willows against the floods",
                        page_text=f"Willows against the floods {DEK} {page_text}") == PAGE_UNRELATED


def test_unspaced_scripts_are_compared_by_character_pairs():
    story = ["柳树志愿者周六在哈洛河被侵蚀的河岸种植了四千根柳条，县水务局表示。",
             "这些柳条旨在秋季洪水到来之前固定土壤，去年洪水在一些地方冲走了近一米的河岸。"]
    lead = "志愿者在哈洛河岸种植四千根柳条"
    assert page_verdict(story, [lead], lead) == PAGE_USED
    assert page_verdict(story, [lead], "造船厂工人经过三周谈判后与管理层达成新的工资协议") == PAGE_UNRELATED


def test_a_page_wrapped_in_one_form_keeps_its_story_but_small_forms_go():
    # ASP.NET pages put the whole body in one <form>; the search and newsletter forms still go.
    search = "<form action='/search'><p>Search the Fen Courier archive by keyword or date</p><input name='q'></form>"
    page = (f"<html><body>{search}<form id='aspnetForm' method='post'><div class='page'>"
            f"<div class='story'>{_paragraphs_html(STORY)}</div></div></form>"
            f"<form class='signup'><p>Get the morning briefing in your inbox every day</p></form></body></html>")
    found = extract_page(page)
    assert found.paragraphs == STORY
    assert "archive by keyword" not in found.text and "morning briefing" not in found.text


# --- region, tables, chrome ---------------------------------------------------------------------

def test_a_story_outside_p_tags_is_not_lost_to_teaser_cards():
    # The story's paragraphs are <div>s; the teaser cards are <article>s with <p>s, mostly links.
    cards = "".join(f"<article class='card'><h3><a href='/s{i}'>Other story {i} about the coast</a></h3>"
                    f"<p><a href='/s{i}'>A teaser of another story, number {i}, with its own link</a></p></article>"
                    for i in range(3))
    story = "".join(f"<div class='para'>{p}</div>" for p in STORY)
    page = f"<html><body><div class='story'>{story}</div><section class='more'>{cards}</section></body></html>"
    found = extract_page(page)
    assert found.region != "article"
    assert STORY[0] in found.paragraphs and STORY[-1] in found.paragraphs


def test_the_article_headed_by_the_page_title_wins_over_a_longer_next_story():
    title = "Volunteers plant willows on the Harlow"
    nxt = [f"The ferry between Kelderport and Ossara ran its last winter crossing on Sunday, trip {i}, "
           f"with three hundred passengers and a brass band on the quay." for i in range(8)]
    page = (f"<html><head><title>{title} | Fen Courier</title></head><body><main>"
            f"<article id='story'><h1>{title}</h1>{_paragraphs_html(STORY)}</article>"
            f"<div class='next'><article id='second'><h1>Last winter ferry</h1>{_paragraphs_html(nxt)}</article></div>"
            f"</main></body></html>")
    found = extract_page(page)
    assert found.region == "article"
    assert STORY[1] in found.paragraphs and nxt[0] not in found.paragraphs


def test_a_table_that_is_the_story_is_kept_one_row_a_paragraph():
    page = ("<html><body><article><h1>Standings</h1><p>The table after the fourth round of the regional "
            "league, with two rounds left to play this season.</p><table><tr><th>Team</th><th>Points</th></tr>"
            "<tr><td>Harlow United</td><td>12</td></tr><tr><td>Fen Rovers</td><td>9</td></tr></table></article>"
            "</body></html>")
    assert extract_page(page).paragraphs[-3:] == ["Team | Points", "Harlow United | 12", "Fen Rovers | 9"]


def test_a_story_split_over_blocks_named_like_chrome_is_kept_whole():
    # A layout grid called "sidebar-grid": each of its blocks holds part of the story, none most of it.
    parts = "".join(f"<div class='sidebar-grid__container'><div class='sidebar-grid__content'><p>{p}</p></div></div>"
                    for p in STORY)
    page = (f"<html><body><article>{parts}<div class='sidebar'><p>Most read this week on the Fen Courier "
            f"site and elsewhere</p></div></article></body></html>")
    found = extract_page(page)
    assert found.paragraphs == STORY


def test_lines_that_are_all_link_are_teasers_of_other_pages():
    teasers = ("<h3><a href='/ferry'>Ferry returns to Kelderport after the winter</a></h3>"
               "<ul><li><a href='/a'>Council backs the harbour plan</a></li><li><a href='/b'>Storm closes the "
               "coast road for a second day</a></li></ul><p><a href='/blog'>Live blog: all the news from the fen</a></p>")
    linked = STORY[2].replace("Petra Lindqvist", "<a href='/people/lindqvist'>Petra Lindqvist</a>")
    page = f"<html><body><article>{_paragraphs_html([STORY[0], STORY[1], linked, STORY[3]])}{teasers}</article></body></html>"
    assert extract_page(page).paragraphs == STORY  # a sentence with a link in it stays


def test_a_link_around_blocks_is_a_teaser_card():
    card = ("<a href='/ferry' class='teaser'><div class='kicker'>Transport</div><h4>Ferry returns to "
            "Kelderport</h4><p>The winter timetable ends on Monday, the operator said in a statement.</p></a>")
    page = f"<html><body><article>{_paragraphs_html(STORY)}{card}</article></body></html>"
    assert extract_page(page).paragraphs == STORY


# --- headline echoes, figures, hidden text, boxes, teasers, the tail ------------------------------

def test_lines_that_print_the_headline_again_go_but_the_lead_and_intertitles_stay():
    title = "Volunteers plant four thousand willows on the Harlow banks"
    lines = ["River works: Volunteers plant four thousand willows on the Harlow banks",  # kicker + title
             "Volunteers plant four thousand willows on the Harlow",  # most of "title | site"
             "Willows planted on Harlow banks by four thousand volunteers",  # reworded, same words
             STORY[0], "Second planting", "A headline about the autumn floods on the coast"]
    kept = drop_headline_echoes(lines, [title, f"{title} | Fen Courier"])
    assert kept == [STORY[0], "Second planting", "A headline about the autumn floods on the coast"]
    assert drop_headline_echoes(lines, []) == lines


def test_figures_hidden_text_and_form_boxes_stay_out_of_the_text():
    figure = ("<figure><img src='/w.jpg'><figcaption>Volunteers at work on the bank. Photo: Fen Courier"
              "</figcaption></figure>")
    hidden = "<h2 class='visually-hidden'>Article content</h2><span class='sr-only'>Opens in a new window</span>"
    box = ("<div class='box'><h3>The Fen Weekly</h3><p>Every Sunday, the week on the river in your inbox.</p>"
           "<form action='/signup'><input type='email'></form></div>")
    facts = "<div role='complementary'><h3>Willow facts</h3><p>Willows root in water within days.</p></div>"
    page = (f"<html><body><article>{hidden}<p>{STORY[0]}</p>{figure}{_paragraphs_html(STORY[1:3])}{box}{facts}"
            f"<p>{STORY[3]}</p></article></body></html>")
    found = extract_page(page, base_url="https://fen.example/story")
    assert found.paragraphs == STORY
    assert found.images == [Image(url="https://fen.example/w.jpg",
                                  caption="Volunteers at work on the bank. Photo: Fen Courier")]


def test_a_list_item_that_is_a_label_then_a_link_is_a_teaser_but_a_digest_item_stays():
    teasers = ("<ul><li><strong>Ferries:</strong> <a href='/f'>Kelderport crossing returns after winter</a></li>"
               "<li><strong>Storms:</strong> <a href='/s'>Coast road shut for a second day</a></li></ul>")
    digest = ("<ul><li><a href='/d'>The harbour board approved its budget</a>. The vote was close, with "
              "three members against it.</li></ul>")
    page = f"<html><body><article>{_paragraphs_html(STORY)}{teasers}{digest}</article></body></html>"
    found = extract_page(page).paragraphs
    assert found[:4] == STORY
    assert not any("Kelderport" in p or "Coast road" in p for p in found)
    assert any(p.startswith("The harbour board approved its budget") for p in found)


def test_short_lines_after_the_story_go_unless_they_carry_figures():
    story = STORY[:3]  # ends with a paragraph of more than 20 words
    assert drop_short_tail([*story, "Related topics", "Share", "Bookmark"]) == story
    facts = [*story, "Tickets: 12 euros", "Phone 0123 456"]
    assert drop_short_tail(facts) == facts
    assert drop_short_tail([*story, "Related topics"]) == [*story, "Related topics"]  # one line is not a run
    # after a short last paragraph, or with no long paragraph at all, short lines are the text itself
    assert drop_short_tail([*STORY, "Related topics", "Share"]) == [*STORY, "Related topics", "Share"]
    assert drop_short_tail(["Standings", "Harlow United", "Fen Rovers"]) == ["Standings", "Harlow United", "Fen Rovers"]


def test_blocks_without_text_go_but_blocks_with_text_a_break_or_a_table_stay():
    from selectolax.lexbor import LexborHTMLParser

    from transforms.cleaning.page import _drop_empty_blocks

    body = LexborHTMLParser(
        '<div id="story"><div id="outer"><div id="inner"> <p id="e1"> </p></div></div>'
        '<div id="wrap"><section><p id="t">Text of the story.</p><p id="e2"></p></section></div>'
        '<div id="br"><br></div><div id="tbl"><table><tr><td></td></tr></table></div>'
        '<ul id="list"><li id="e3"> </li><li>An item</li></ul></div>').body
    _drop_empty_blocks(body)
    left = {n.attributes.get("id") for n in body.css("[id]")}
    assert left == {"story", "wrap", "t", "br", "tbl", "list"}
    assert body.css_first("#t").text() == "Text of the story."
    assert len(body.css("li")) == 1


def test_a_one_word_label_before_the_story_goes_but_a_sentence_or_unspaced_text_stays():
    for label in ("Článek", "Headline", "Kortversjonen", "Politik:"):
        assert drop_label_head([label, *STORY]) == STORY
    assert drop_label_head(["Politik"]) == ["Politik"]  # nothing follows: the page's only line
    kept = [["Leben und Arbeiten", *STORY], ["2024", *STORY], ["関連記事の一覧", *STORY],
            ["Extraordinarilylongwordthatisnolabel", *STORY]]
    for paragraphs in kept:
        assert drop_label_head(paragraphs) == paragraphs
    assert drop_label_head(STORY) == STORY


def test_clean_item_drops_a_label_and_pointer_lines_from_a_page():
    page = ("<html><head><title>Willow cuttings to hold the Harlow bank</title></head><body><article>"
            "<span class='kicker'>Článek</span>" + _paragraphs_html(STORY) +
            "<p>&gt;&gt; Hier finden Sie alle Termine der Stadtwerke im Überblick</p>"
            "<p>MORE : The Fen Courier daily cartoon</p></article></body></html>")
    item = raw_dict(title="Willow cuttings to hold the Harlow bank", summary=STORY[0], link="https://news.example.org/a")
    item["page_html"] = page
    body = clean_item(parse(item)).body
    assert "Článek" not in body and not any(p.startswith((">>", "MORE")) for p in body)
    assert STORY[1] in body and STORY[-1] in body
