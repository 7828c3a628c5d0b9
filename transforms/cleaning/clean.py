"""The pure cleaning chain: one RawItem → one CleanArticle (or a CleanError saying why not).

Order: title → body paragraphs (the fetched article page's main text when the poller fetched the
page and it is worth more than the feed's text, else entry content, else summary) → the standfirst
(summary) kept only if the body does not already say it → boilerplate rules and agency attribution →
images (feed media, HTML figures and captions found in the text or page, merged) → dates → canonical
URL → tags, byline (the body's "By …" line, else the feed's author) and language. The chosen
title, standfirst and paragraphs then take back the publisher's curly quotes
(``transforms.cleaning.typography``).

Page text (``transforms.cleaning.page``) goes through the same normalization and rules as feed HTML.
Which text was used is ``CleanArticle.body_source``, and a ``page.*`` marker in ``removed_rules``
says why (also counted as a pipeline metric). Dates and the byline come from the feed, never from
the page.

An item with a title but no text is a legitimate headline-only item and is kept with an empty body;
an item with neither raises CleanError. An item with text but no title keeps an empty title rather
than an invented one.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from urllib.parse import urlsplit

from transforms.errors import CleanError
from transforms.model import CleanArticle, Content, Entry, Image, RawItem

from .boilerplate import split_caption_credit, strip_boilerplate
from .classifier import default_model
from .dates import parse_date, resolve_published
from .language import detect_language
from .metadata import clean_byline
from .normalize import (
    HtmlBlocks,
    clean_title,
    drop_title_echo,
    html_to_blocks,
    inline_text,
    paragraph_key,
    split_standfirst,
)
from .rulepacks import RuleSet, default_rules
from .structure import chrome_paragraphs
from .typography import has_typeset_quotes, restore_typography, typeset_source
from .urls import canonical_url, guid_identifies

_LOG = logging.getLogger(__name__)

STANDFIRST_ECHO = "clean.standfirst_echo"
TITLE_ECHO = "clean.title_echo"


def pick_body(entry: Entry) -> tuple[str | None, bool]:
    """(markup, from_content): the richest entry content (HTML preferred), else the summary."""
    def usable(c: Content) -> bool:
        return bool(c.value and c.value.strip())

    html = [c for c in entry.content if usable(c) and "html" in (c.type or "").lower()]
    other = [c for c in entry.content if usable(c) and "html" not in (c.type or "").lower()]
    for group in (html, other):
        if group:
            return max(group, key=lambda c: len(c.value)).value, True
    return entry.summary, False


def _page_blocks(raw: RawItem, feed: HtmlBlocks, lead: str | None,
                 title: str | None = None) -> tuple[HtmlBlocks | None, str]:
    """The page's text as blocks when it is worth more than the feed's, and the marker saying so."""
    from . import page  # here, not at the top: trafilatura loads only where pages are cleaned

    try:
        text = page.extract_page(raw.page_html or "", base_url=raw.entry.link)
    except page.PageExtractionError as exc:
        _LOG.warning("message %s: page not usable, cleaning the feed text instead: %s", raw.message_id, exc)
        return None, page.PAGE_ERROR
    paragraphs = page.drop_echoes(page.drop_headline_echoes(text.paragraphs, [t for t in (title, *text.titles) if t]))
    paragraphs = page.drop_label_head(page.drop_short_tail(paragraphs))
    verdict = page.page_verdict(paragraphs, feed.paragraphs, lead, title=title, page_text=text.text)
    if verdict != page.PAGE_USED:
        return None, verdict
    return HtmlBlocks(paragraphs=paragraphs, images=feed.images + text.images), verdict


def _lead(summary_paras: Sequence[str], body_paras: Sequence[str]) -> str | None:
    if summary_paras:
        return " ".join(summary_paras)
    return body_paras[0] if body_paras else None


def _clean_image(img: Image, rules: RuleSet) -> Image:
    caption = inline_text(img.caption) or None
    credit = inline_text(img.credit) or None
    if caption and not credit:
        caption, credit, _ = split_caption_credit(caption, rules)
    url = (img.url or "").strip() or None
    return Image(url=url, caption=caption, credit=credit)


def merge_images(media: Iterable[Image], found: Iterable[Image]) -> list[Image]:
    """Feed media first; then images and captions found in the text, merged into them.

    A found image with a known URL fills that image's missing caption/credit; a caption without a
    URL goes to the first image that has no caption, else stays as an image of its own (so the
    caption and credit are kept even when the feed gave no picture).
    """
    out: list[Image] = []
    for img in media:
        if img.url and any(o.url == img.url for o in out):
            continue
        if img.url or img.caption or img.credit:
            out.append(img)
    for img in found:
        key = paragraph_key(img.caption or "")
        idx = next((i for i, o in enumerate(out) if img.url and o.url == img.url), None)
        if idx is None and key:
            idx = next((i for i, o in enumerate(out) if paragraph_key(o.caption or "") == key), None)
        if idx is None and not img.url:
            idx = next((i for i, o in enumerate(out) if o.url and not o.caption), None)
        if idx is None:
            out.append(img)
            continue
        o = out[idx]
        out[idx] = Image(url=o.url or img.url, caption=o.caption or img.caption, credit=o.credit or img.credit)
    return out


def clean_tags(tags: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for t in tags:
        t = inline_text(t)
        if t and t.casefold() not in seen:
            seen.add(t.casefold())
            out.append(t)
    return out


def clean_item(raw: RawItem, *, rules: RuleSet | None = None, learned: Collection[str] = ()) -> CleanArticle:
    """Clean one raw item. ``learned``: paragraph keys learned as this source's boilerplate."""
    rs = rules or default_rules()
    e = raw.entry
    host = urlsplit(e.link or raw.feed_url or "").hostname
    title = clean_title(e.title, site_names=rs.site_names, host=host)
    fired: list[str] = []

    markup, from_content = pick_body(e)
    blocks = html_to_blocks(markup)
    source = "content" if from_content else "summary"
    summary_paras: list[str] | None = None
    if raw.page_html:
        summary_paras = html_to_blocks(e.summary).paragraphs if e.summary else []
        page_blocks, marker = _page_blocks(raw, blocks, _lead(summary_paras, blocks.paragraphs), title)
        fired.append(marker)
        if page_blocks is not None:
            blocks, from_content, source = page_blocks, True, "page"
    paras = drop_title_echo(title, blocks.paragraphs)
    if len(paras) < len(blocks.paragraphs):
        fired.append(TITLE_ECHO)

    if not from_content or not e.summary:
        summary_paras = []
    elif summary_paras is None:
        summary_paras = html_to_blocks(e.summary).paragraphs
    before = len(paras)
    standfirst, paras = split_standfirst(" ".join(summary_paras) or None, paras)
    if len(paras) < before:
        fired.append(STANDFIRST_ECHO)
    if standfirst:  # a standfirst of its own: clean its chrome ("The post … appeared first on …")
        summary_paras = strip_boilerplate(summary_paras, rules=rs).paragraphs
        standfirst = " ".join(summary_paras) or None

    media = [_clean_image(m, rs) for m in e.media]
    author = clean_byline(e.author)
    # The feed's markup says which paragraphs sat in chrome wrappers; a page's text is already its
    # article region (transforms.cleaning.page).
    structural = chrome_paragraphs(markup) if source != "page" else None
    bp = strip_boilerplate(paras, agency_hint=raw.agency_hint, learned=learned, rules=rs,
                           media_credits=[m.credit for m in media if m.credit],
                           signatures=[author] if author else (), structural=structural,
                           model=default_model())
    body = bp.paragraphs
    if standfirst and split_standfirst(standfirst, body)[0] is None:
        standfirst = None
    if not body and standfirst:
        body, standfirst, source = summary_paras, None, "summary"
    if not title and not body:
        raise CleanError("no usable title and no body text (after removing markup and boilerplate)")

    # A page's text keeps straight quotes: typesetting a whole page to find its paragraphs in costs
    # ~14 ms (its scripts and chrome included), more than extracting the article does.
    if has_typeset_quotes(e.title, markup, e.summary):
        if source != "page" or standfirst:
            sources = [typeset_source(m) for m in dict.fromkeys((markup, e.summary)) if m]
            if source != "page":
                body = restore_typography(body, sources)
            if standfirst:
                standfirst = restore_typography([standfirst], sources)[0]
        if title:
            title = restore_typography([title], [typeset_source(e.title)])[0]
    found = [_clean_image(i, rs) for i in blocks.images] + bp.images
    published = resolve_published(e.published, e.updated, raw.fetched_at)
    return CleanArticle(
        title=title,
        body=body,
        standfirst=standfirst,
        agency=bp.agency,
        dateline=bp.dateline,
        dateline_place=bp.dateline_place,
        # Authors come from the feed: a page's "By …" line leaves the body but names no one.
        byline=author if source == "page" else (bp.byline or author),
        language=detect_language(title, body or ([standfirst] if standfirst else [])),
        images=merge_images(media, found),
        tags=clean_tags(e.tags),
        # Without a link, a guid that is a URL names the article, unless it does not identify it
        # (a home page, or one the poller saw shared by other entries).
        url=canonical_url(e.link) or (canonical_url(e.id) if not e.link and guid_identifies(e.id, raw)
                                      else None),
        link=e.link,
        guid=e.id,
        published_at=published.at,
        published_raw=published.raw,
        published_from_fetch=published.from_fetch,
        updated_at=parse_date(e.updated),
        withdrawn=False,
        removed_rules=fired + bp.fired,
        learned_lines=bp.learned_removed,
        body_source=source if body else "none",
    )
