"""A fetched article page → the paragraphs of the article's own text, and its figures.

Used by the cleaning chain when a poller fetched the item's page (``page_html``); the paragraphs then
go through the same rules as feed text. Three steps:

1. **Pre-trim** (selectolax/lexbor, ~0.4 ms for a 100 KB page): drop elements that never hold article
   text (scripts, styles, SVG, navigation, asides, footers …; forms unless one holds most of the
   page's text, as ASP.NET pages wrap everything in one) and keep the article's region: the
   ``<article>`` headed by the page's title, else the one with the most text outside links (a teaser
   card is mostly links), else ``itemprop=articleBody``/``<main>``/``role=main``, else the body;
   within it, blocks whose class or id names them as chrome (related stories, comments, share bars,
   cookie and newsletter prompts, ads) go too, unless the blocks of that class hold most of the text.
   Figures (their captions are kept as images), screen-reader-only text, blocks without text, and
   small forms with the short blocks around them (newsletter and search boxes) go as well.
   Runs of two or more ``<br>`` become paragraph breaks (as readability's "replaceBrs" does), so a
   story written as one ``<div>`` of break-separated text is seen as paragraphs. trafilatura then
   reads a 4–12 KB region instead of a 50–150 KB page, which makes extraction more than twice as fast
   (``benchmarks/bench_pages.py``). A region that yields nothing is retried as the whole body.
2. **trafilatura** in fast mode (no readability/justext fallback), without comments, images or
   metadata (dates and authors come from the feed, never from the page); tables are kept, a row a
   paragraph, as some stories are tables (standings, results). When trafilatura keeps less than half
   of an article region's paragraph text (it reads only the first of several sibling containers),
   the region's own paragraphs and intertitles are used.
3. trafilatura's XML body tree → paragraphs: every block element and every line break ends one, and
   each is normalized like feed text (``normalize.normalize_text``).

The cleaning chain then drops lines that print the headline again (``drop_headline_echoes``), pull
quotes (``drop_echoes``), the short lines under the story (``drop_short_tail``) and a one-word label
above it (``drop_label_head``);
``page_verdict`` decides whether the result is worth more than the feed's own text (see there).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml.etree import _Element
from selectolax.lexbor import LexborHTMLParser, LexborNode
from trafilatura import bare_extraction
from trafilatura.settings import Extractor

from transforms.model import Image

from .normalize import normalize_text, paragraph_key

# trafilatura logs "discarding data" / "empty HTML tree" for every page it finds no text in; each
# such item already carries a page.fallback_* marker, counted as a pipeline metric, and a streaming
# job would otherwise log a line per page.
logging.getLogger("trafilatura.core").setLevel(logging.CRITICAL)

# Larger pages are refused rather than parsed: a real article page is far smaller, and the pollers
# cap what they fetch well below this (pollers.pages.PageSettings.max_page_bytes).
MAX_PAGE_CHARS = 5_000_000
# Elements that never carry article text, dropped with their content before extraction.
_DROP = ("script, style, noscript, template, svg, math, iframe, frame, object, embed, video, audio, "
         "canvas, nav, button, select, textarea, input, aside, footer, dialog")
# Forms are search boxes, comment and newsletter forms, except on sites (ASP.NET) that wrap the whole
# page in one: a form goes unless it holds most of the page's paragraph text.
# Blocks whose class or id names them as chrome: related stories, comments, share bars, cookie and
# newsletter prompts, ads, sidebars, breadcrumbs. The CSS preselects candidates (in lexbor's C code);
# a candidate is dropped only if one of its class/id words, split on "-" and "_", is in _CHROME_WORDS
# ("comment-list" is chrome, "commentary-body" is not), and it does not hold most of the region's
# paragraph text (a site that calls its article container "post social-enabled" keeps it).
_CHROME_SUBSTRINGS = (
    "relat", "comment", "share", "sharing", "social", "newsletter", "cookie", "consent", "gdpr", "promo",
    "advert", "ad", "sponsor", "sidebar", "breadcrumb", "recommend", "outbrain", "taboola", "subscri",
    "popular", "trending", "mostread", "most-read", "popup", "modal", "byline", "whatsapp", "factbox",
    "infobox", "bio", "respond", "disclaimer", "aside", "sns", "paywall", "pullquote", "prose")
_CHROME_CANDIDATES = ", ".join(
    f'[class*="{w}"], [id*="{w}"]' for w in _CHROME_SUBSTRINGS
) + ', [role="complementary"], [role="dialog"], [role="alertdialog"], [role="tabpanel"]'
# The same candidates found in Python (``_chrome_hits``): lexbor runs each of the 65 selectors
# over the whole region (~1 ms a page), while the elements with a class, id or role are one query,
# and their values repeat. Both match as CSS does: the substrings case-sensitively, roles exactly.
_CANDIDATE_ROLES = frozenset({"complementary", "dialog", "alertdialog", "tabpanel"})
_CHROME_WORDS = frozenset({
    "related", "relatedposts", "relatedarticles", "comment", "comments", "share", "sharing", "sharedaddy",
    "social", "newsletter", "cookie", "cookies", "consent", "gdpr", "promo", "promos", "advert",
    "advertisement", "ad", "ads", "adslot", "sponsored", "sidebar", "breadcrumb", "breadcrumbs",
    "recommended", "recommendations", "outbrain", "taboola", "subscribe", "subscription", "popular",
    "mostpopular", "trending", "mostread", "popup", "modal",
    "whatsapp",
    "byline",  # who wrote it: the feed names the author
    # Boxes beside the story: facts, a profile of the author, the comment form (WordPress' #respond).
    "factbox", "infobox", "bio", "authorbio", "biography", "respond",
    # An affiliate or legal notice, a block styled as an aside, a social-network box ("sns", as
    # Japanese and Korean sites name it).
    "disclaimer", "aside", "sns",
    # Tailwind's typography plugin: "not-prose" marks a block inside the article's prose that is
    # not prose (a teaser box, a widget); split on "-" it would be "not" and "prose".
    "not-prose",
})
# Roles that mark a block as beside the story: fact boxes, dialogs (paywall and consent prompts), tab
# panels (another view of the story, such as a bullet-point summary, or tabs of other stories); the
# panel that holds the story holds most of the text, and stays.
_CHROME_ROLES = frozenset({"complementary", "dialog", "alertdialog", "tabpanel"})
_CHROME_SPLIT = re.compile(r"[-_\s]+")
_CHROME_CLASSES = frozenset(w for w in _CHROME_WORDS if "-" in w)  # matched as whole class names
_MAX_CHROME_SHARE = 0.5
_REGIONS = ('[itemprop="articleBody"]', "main", '[role="main"]')
# The chosen <article> must hold at least this share of the page's paragraph text; a smaller one is
# a teaser card or a header, and the whole body (slower, never worse) is used instead.
_MIN_REGION_SHARE = 0.3
_BR_RUN = re.compile(r"(?:<br\s*/?>\s*){2,}", re.IGNORECASE)
_MAX_FIGURES = 10
_MIN_EXTRACTED_SHARE = 0.5

# Fast mode (no readability/justext fallback), nothing but the main text.
TRAFILATURA_OPTIONS = Extractor(output_format="xml", fast=True, comments=False, tables=True, images=False,
                       links=False, formatting=False, with_metadata=False)
# trafilatura's output tree: these elements stay inside a paragraph, everything else is a block.
_INLINE = frozenset({"hi", "ref", "del", "span", "a", "b", "i", "em", "strong", "sub", "sup"})


@dataclass
class PageText:
    paragraphs: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    region: str = "body"  # 'article' | 'main' | 'body': where the text was found
    # All the visible text of the page (its <title> and body, without scripts, styles and other
    # elements that never hold text): where page_verdict looks for the feed's title and lead.
    text: str = ""
    # The page's own names for the story (its <title>, og:title): lines that echo them are headline.
    titles: list[str] = field(default_factory=list)


class PageExtractionError(Exception):
    """trafilatura failed on the page; the item is cleaned from its feed text instead."""


_text = LexborNode.text  # deep by default; mapped over nodes, no generator frame per node


def _paragraph_chars(node: LexborNode) -> int:
    return sum(map(len, map(_text, node.css("p"))))


def _paragraph_chars_within(node: LexborNode, limit: float) -> bool:
    """Whether the node's paragraph text is at most ``limit`` characters: all its text first (one
    read), its paragraphs' (one read each) only when all its text is more."""
    return len(node.text(deep=True)) <= limit or _paragraph_chars(node) <= limit


def _depth(node: LexborNode) -> int:
    depth = 0
    while (node := node.parent) is not None:
        depth += 1
    return depth


def _split_break_runs(region: LexborNode) -> None:
    parents: dict[int, LexborNode] = {}
    # "br + br" (in lexbor's C code) skips any text between the two; only blank text may be there.
    for br in region.css("br + br"):
        prev = br.prev
        while prev is not None and prev.tag == "-text" and not (prev.text_content or "").strip():
            prev = prev.prev
        parent = br.parent
        if prev is not None and prev.tag == "br" and parent is not None:
            parents.setdefault(parent.mem_id, parent)
    # Deepest first: rewriting an element frees its descendants, so none may be visited after.
    for parent in sorted(parents.values(), key=_depth, reverse=True):
        chunks = _BR_RUN.split(parent.inner_html)
        parent.inner_html = "".join(f"<p>{c}</p>" for c in chunks if c.strip())


# A class or id value → how many of _CHROME_SUBSTRINGS it holds, and whether one of its words is in
# _CHROME_WORDS; by value, as a site's pages repeat theirs.
_CHROME_VALUES: dict[str, tuple[int, bool]] = {}
_MAX_CHROME_VALUES = 100_000


def _chrome_value(value: str) -> tuple[int, bool]:
    if len(_CHROME_VALUES) >= _MAX_CHROME_VALUES:
        _CHROME_VALUES.clear()
    low = value.lower()
    out = _CHROME_VALUES[value] = (sum(w in value for w in _CHROME_SUBSTRINGS),
                                   not _CHROME_WORDS.isdisjoint(_CHROME_SPLIT.split(low))
                                   or not _CHROME_CLASSES.isdisjoint(low.split()))
    return out


def _chrome_hits(region: LexborNode) -> tuple[list[LexborNode], list[str]]:
    """The chrome blocks of the region and their classes: the candidates ``region.css(
    _CHROME_CANDIDATES)`` finds (in document order, an element once for each selector of the list
    that it matches, as lexbor lists them) whose class or id holds a chrome word, or whose role is
    a chrome role."""
    hits: list[LexborNode] = []
    classes: list[str] = []
    values = _CHROME_VALUES
    for node in region.css(":is([class], [id], [role])"):
        attrs = node.attributes
        cls = attrs.get("class") or ""
        id_ = attrs.get("id") or ""
        c = values.get(cls) or _chrome_value(cls)
        i = values.get(id_) or _chrome_value(id_)
        role = attrs.get("role")
        count = c[0] + i[0] + (role in _CANDIDATE_ROLES)
        if count and (c[1] or i[1] or (role or "").lower() in _CHROME_ROLES):
            hits.extend([node] * count)
            classes.extend([cls] * count)
    return hits, classes


def _drop_chrome_blocks(region: LexborNode) -> None:
    hits, classes = _chrome_hits(region)
    if not hits:
        return
    total = _paragraph_chars(region)
    # Blocks of one class share their fate: a story laid out in several "sidebar-grid__container"
    # blocks, each with a part of it, is kept whole. Only repeated classes are summed up front.
    seen: dict[str, int] = {}
    for cls in classes:
        seen[cls] = seen.get(cls, 0) + 1
    limit = _MAX_CHROME_SHARE * total
    # A class's blocks are over the limit when their paragraph text is; all their text (one read a
    # block) bounds it, and when that is within the limit their paragraphs need not be read.
    repeated: dict[str, list[LexborNode]] = {}
    for node, cls in zip(hits, classes):
        if cls and seen[cls] > 1:
            repeated.setdefault(cls, []).append(node)
    over_limit = {cls for cls, nodes in repeated.items()
                  if sum(len(n.text(deep=True)) for n in nodes) > limit and sum(map(_paragraph_chars, nodes)) > limit}
    # Outermost first; a hit inside one already dropped is gone with it (and must not be touched).
    dropped: list[LexborNode] = []
    gone: set[int] = set()
    for node, cls in zip(hits, classes):
        # a repeat of a hit (one per selector it matched) is decided as it was, and dropped once
        if node.mem_id in gone or _inside(node, gone):
            continue
        if total:
            if cls in repeated:
                if cls in over_limit:
                    continue
            elif not _paragraph_chars_within(node, limit):
                continue
        dropped.append(node)
        gone.add(node.mem_id)
    for node in dropped:
        node.decompose()


# A paragraph, list item or heading whose text is (almost) all link text is a teaser of another page
# ("Russian drones: hidden in Germany too?", "Newsblog: all the news on …", a list of sources): the
# story's own intertitles and sentences are not links. So is a link around blocks (a teaser card).
_LINK_LINES = "p, li, h2, h3, h4, h5, h6, a"
_CARD_BLOCKS = ("h2", "h3", "h4", "h5", "h6", "p", "div", "li")
_BLOCKS_IN_LINKS = ", ".join(f"a {b}" for b in _CARD_BLOCKS)
_MIN_LINK_SHARE = 0.9
# A list item that is mostly a link and ends with it is a teaser too, with a label before it
# ("Russian drones: <a>…</a>").
_MIN_LIST_LINK_SHARE = 0.6


def _is_link_line(node: LexborNode, linked: set[int], cards: set[int]) -> bool:
    """``linked``: the mem_ids of the region's elements that hold a link; ``cards``: of its links
    that hold a block."""
    if node.tag == "a":  # a link around blocks is a teaser card: headline, teaser text, picture
        return node.mem_id in cards
    if node.mem_id not in linked:
        return False
    links = node.css("a")
    if not links:
        return False
    full = node.text(deep=True).strip()
    text = len(full)
    link_chars = sum(len(a.text(deep=True).strip()) for a in links)
    if node.tag == "li" and text and link_chars >= _MIN_LIST_LINK_SHARE * text:
        # a label, then the link: the item ends with it (a digest's item goes on after its link)
        last = links[-1].text(deep=True).strip()
        if last and full.rstrip(" .:!?").endswith(last.rstrip(" .:!?")):
            return True
    return bool(text) and link_chars >= _MIN_LINK_SHARE * text


def _drop_link_lines(region: LexborNode) -> None:
    # The elements that hold a link, found once from the links up: most lines hold none, and for
    # those no query is run. (Lines are visited in document order, so nothing dropped before a line
    # is inside it: what it holds is what it held here.)
    linked: set[int] = set()
    for link in region.css("a"):
        parent = link.parent
        while parent is not None and parent.mem_id not in linked:
            linked.add(parent.mem_id)
            parent = parent.parent
    # Likewise the links around a block, found from the blocks inside links up.
    # A climb stops at an element an earlier one passed: the links above it are in already.
    cards: set[int] = set()
    passed: set[int] = set()
    for block in region.css(_BLOCKS_IN_LINKS):
        parent = block.parent
        while parent is not None and (mem_id := parent.mem_id) not in passed:
            passed.add(mem_id)
            if parent.tag == "a":
                cards.add(mem_id)
            parent = parent.parent
    gone: set[int] = set()
    for node in region.css(_LINK_LINES):
        if not _is_link_line(node, linked, cards):
            continue
        if not _inside(node, gone):  # inside one already gone: gone with it
            gone.add(node.mem_id)
            node.decompose()


def _inside(node: LexborNode, ids: set[int]) -> bool:
    """Whether an ancestor of the node is one of ``ids`` (mem_ids)."""
    parent = node.parent
    while parent is not None:
        if parent.mem_id in ids:
            return True
        parent = parent.parent
    return False


def _prose_chars(node: LexborNode) -> int:
    """Characters of text outside links: a story's text, in <p> or not; a teaser card is mostly links."""
    return len(node.text(deep=True)) - sum(map(len, map(_text, node.css("a"))))


def _heads_title(node: LexborNode, title_key: str) -> bool:
    """The node's own headline (its first h1, else h2) is the page's title: the story, not a card."""
    head = node.css_first("h1") or node.css_first("h2")
    key = paragraph_key(head.text(deep=True)) if head is not None else ""
    return len(key) >= 8 and key in title_key


def _region(body: LexborNode, title_key: str = "") -> tuple[LexborNode, str]:
    floor = _MIN_REGION_SHARE * _prose_chars(body)
    articles = [(_prose_chars(a), a) for a in body.css("article")]
    articles = [(c, a) for c, a in articles if c and c >= floor]
    if articles:
        # The story's own <article> carries the page's title as its headline; an article printed
        # under it (the next story of an endless page) may hold more text.
        titled = [s for s in articles if title_key and _heads_title(s[1], title_key)]
        return max(titled or articles, key=lambda s: s[0])[1], "article"
    for selector in _REGIONS:
        node = body.css_first(selector)
        if node is not None and _prose_chars(node) >= floor:
            return node, "main"
    return body, "body"


def _figures(region: LexborNode, base_url: str | None) -> list[Image]:
    out: list[Image] = []
    for fig in region.css("figure")[:_MAX_FIGURES]:
        cap = fig.css_first("figcaption")
        caption = normalize_text(cap.text(deep=True)) if cap is not None else ""
        url = None
        img = fig.css_first("img")
        if img is not None:
            src = next((v for k in ("src", "data-src", "data-original")
                        if (v := (img.attributes.get(k) or "").strip())), "")
            if src and not src.startswith("data:"):
                absolute = urljoin(base_url or "", src)
                url = absolute if absolute.startswith(("http://", "https://")) else None
        if url or caption:
            out.append(Image(url=url, caption=caption or None))
    return out


def _tree_paragraphs(body: _Element) -> list[str]:
    out: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            text = normalize_text("".join(buf))
            if text:
                out.append(text)
            buf.clear()

    def walk(el: _Element) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag == "lb":
            flush()
        elif tag == "cell":
            # A table row is one paragraph, its cells apart: "Team | Played | Points".
            if buf and "".join(buf).strip():
                buf.append(" | ")
            if el.text:
                buf.append(el.text)
            for child in el:
                walk(child)
        else:
            block = tag not in _INLINE
            if block:
                flush()
            if el.text:
                buf.append(el.text)
            for child in el:
                walk(child)
            if block:
                flush()
        if el.tail:
            buf.append(el.tail)

    for child in body:
        walk(child)
    flush()
    return out


def _extract(html: str) -> list[str]:
    doc = bare_extraction(html, options=TRAFILATURA_OPTIONS)
    if doc is None or doc.body is None:
        return []
    return _tree_paragraphs(doc.body)


def _drop_forms(body: LexborNode) -> None:
    forms = body.css("form")
    if not forms:
        return
    total = _paragraph_chars(body)
    boxes: list[LexborNode] = []
    gone: set[int] = set()
    for form in forms:  # never nested: the HTML parser ignores a <form> inside another
        if not total or _paragraph_chars(form) <= _MAX_CHROME_SHARE * total:
            box = _form_box(form)
            if not _inside(box, gone):
                gone.add(box.mem_id)
                boxes.append(box)
    for box in boxes:
        if box.parent is not None:
            box.decompose()


# A form's box: the blocks around it that say what it is for ("Our weekly newsletter", "Every Monday
# the week's top stories": a newsletter, search or comment box), as long as they hold little text
# besides the form. A story paragraph beside a form is longer than that.
_FORM_BOX_LEVELS = 3
_FORM_BOX_CHARS = 300


def _form_box(form: LexborNode) -> LexborNode:
    own = len(form.text(deep=True))
    box = form
    for _ in range(_FORM_BOX_LEVELS):
        parent = box.parent
        if parent is None or parent.tag in ("body", "html", "article", "main"):
            break
        if len(parent.text(deep=True)) - own > _FORM_BOX_CHARS:
            break
        box = parent
    return box


# Text only screen readers get ("Article content", "Opens in a new window", "Advertisement"): chrome
# of the page's interface, never the story's.
_SCREEN_READER_ONLY = ", ".join(f'[class*="{c}"]' for c in (
    "sr-only", "sr_only", "visually-hidden", "visuallyhidden", "screen-reader", "screenreader", "a11y-hidden",
    "u-hidden-visually"))
# Blocks without text (layout wrappers, ad slots, spacers) only cost trafilatura time: a third of a
# region's elements. Inline elements stay: an empty <span> may hold the space between two words.
_EMPTY_CANDIDATES = "div, section, ul, ol, li, p"
_KEEP_INSIDE = "br, hr, table"


def _drop_empty_blocks(region: LexborNode) -> None:
    candidates = region.css(_EMPTY_CANDIDATES)
    # Innermost first: a block around one with text has text too, and its own (a whole story for
    # the outer wrappers) need not be read.
    with_text: set[int] = set()
    empty: set[int] = set()
    for node in reversed(candidates):
        if node.mem_id in with_text:
            continue
        if node.text(deep=True).strip():
            parent = node.parent
            while parent is not None and parent.mem_id not in with_text:
                with_text.add(parent.mem_id)
                parent = parent.parent
        elif node.css_first(_KEEP_INSIDE) is None:
            empty.add(node.mem_id)
    if not empty:
        return
    gone: set[int] = set()
    dropped = []
    for node in candidates:  # outermost first: one inside a block already dropped goes with it
        if node.mem_id in empty and not _inside(node, gone):
            gone.add(node.mem_id)
            dropped.append(node)
    for node in dropped:
        node.decompose()


# Images never reach the text (images=False), and a figure's caption and credit are image metadata
# (kept as PageText.images); removed from the region before extraction, they cost trafilatura nothing
# and cannot leak into the body. A figure holding most of the region's text (a site that wraps its
# story in one) stays.
_IMAGE_ELEMENTS = "img, picture, source"


# A caption outside a <figure> (a "caption" block beside an <img> in a <div>, a "wp-caption-text"):
# what is left of it once the figures are gone is image metadata too.
_CAPTION_CANDIDATES = '[class*="caption"], figcaption'
_CAPTION_WORDS = frozenset({"caption", "captions", "figcaption", "imagecaption", "photocaption"})


def _is_caption(node: LexborNode) -> bool:
    return node.tag == "figcaption" or not _CAPTION_WORDS.isdisjoint(
        _CHROME_SPLIT.split((node.attributes.get("class") or "").lower()))


# A caption in no <figure> and no "caption" class is still the image's: the block around an <img>
# whose text is the image's alt (or title) text ("Jarrad Branthwaite (FC Everton) jubelt …" beside
# an image of that alt). The block is widened from the image while its text stays within the alt's.
_MIN_ALT_KEY = 20
_ALT_BOX_LEVELS = 5


def _drop_alt_captions(region: LexborNode, imgs: Sequence[LexborNode]) -> bool:
    """Drops the alt captions of ``imgs``; whether it dropped any."""
    boxes: list[LexborNode] = []
    gone: set[int] = set()
    for img in imgs:
        attrs = img.attributes
        alt = paragraph_key(f"{attrs.get('alt') or ''} {attrs.get('title') or ''}")
        if len(alt) < _MIN_ALT_KEY:
            continue
        box = None
        node = img
        for _ in range(_ALT_BOX_LEVELS):
            node = node.parent
            if node is None or node.mem_id == region.mem_id or node.tag in ("body", "p", "li", "a", "td"):
                break
            text = node.text(deep=True)
            if len(text) > 4 * len(alt) + 400:  # far longer than a caption, whatever its spacing
                break
            key = paragraph_key(text)
            if key:
                if len(key) < _MIN_ALT_KEY or key not in alt:
                    break
                box = node
        if box is not None and box.mem_id not in gone and not _inside(box, gone):
            gone.add(box.mem_id)
            boxes.append(box)
    for box in boxes:
        if not _inside(box, gone):
            box.decompose()
    return bool(boxes)


def _drop_figures_and_hidden(region: LexborNode, captions: bool = True) -> None:
    images = region.css(_IMAGE_ELEMENTS)
    # Before the images go (an alt caption's box may hold one: it goes with it, and is not touched).
    if _drop_alt_captions(region, [n for n in images if n.tag == "img"]):
        images = region.css(_IMAGE_ELEMENTS)
    # An <img> or <source> of a <picture> goes with it (and must not be touched once it is gone).
    for node in [n for n in images if n.tag == "picture" or (n.parent is None or n.parent.tag != "picture")]:
        node.decompose()
    figures = region.css("figure")
    total = None  # the region's paragraph text, while no figure went
    if figures:
        total = _paragraph_chars(region)
        for fig in figures:
            if fig.parent is not None and (not total or _paragraph_chars_within(fig, _MAX_CHROME_SHARE * total)):
                fig.decompose()
                total = None
    captions = [n for n in region.css(_CAPTION_CANDIDATES) if _is_caption(n)] if captions else []
    if captions:
        if total is None:
            total = _paragraph_chars(region)
        gone: set[int] = set()
        dropped = []
        for node in captions:  # outermost first: one inside a caption already dropped goes with it
            if not _inside(node, gone) and (not total or _paragraph_chars_within(node, _MAX_CHROME_SHARE * total)):
                gone.add(node.mem_id)
                dropped.append(node)
        for node in dropped:
            node.decompose()
    for node in region.css(_SCREEN_READER_ONLY):
        node.decompose()
    _drop_empty_blocks(region)


# Notices that are a box of the page's chrome, with the lines around them: a members-only wall
# ("この記事は会員限定です。" with what registering brings), an app prompt ("E-Paper und News in einer
# App … Kostenlos herunterladen"). The box is the innermost element of at most _NOTICE_CHARS that
# holds the notice, widened while its parent holds no more than that (as a form's box); a list item
# is one item of its list, never widened to the list.
_MEMBERS_ONLY = (r"この記事は(?:有料)?会員限定(?:記事)?です|(?:有料)?会員限定記事|유료\s?(?:회원|구독자)\s?전용"
                 r"|this (?:article|story|content) is (?:only )?(?:available )?(?:for|to) (?:paid )?"
                 r"(?:subscribers|members)|dieser (?:artikel|beitrag) ist (?:nur|exklusiv) für (?:abonnent|abonnement)")
# An app prompt names an app (not the "App Store") and asks for it to be fetched; a story about an
# app says where it is available, not "hier geht es zur …-App".
_APP = r"\bapp\b(?!\s?store)"
_APP_GET = (r"\b(?:download (?:the|our)|get (?:the|our)|install (?:the|our)|(?:kostenlos|jetzt) herunterladen|"
            r"laden sie (?:sich )?(?:jetzt )?(?:die|unsere)|hier geht es zu[rm]?|holen sie sich|hol dir)\b")
# Matched against lowercased text (faster than IGNORECASE).
_APP_NOTICE = (re.compile(_APP), re.compile(_APP_GET))
_MEMBERS_NOTICE = re.compile(_MEMBERS_ONLY)
_NOTICE_CHARS = 400
_NOTICE_CANDIDATES = "div, section, p, li, dt, dd, span, h2, h3, h4, h5, h6"


# Cheap tests first, on the region's text lowercased (most pages hold no notice): literals that every
# notice above contains one of.
_MEMBERS_HINTS = ("会員限定", "회원 전용", "회원전용", "구독자 전용", "구독자전용", "for subscribers", "to subscribers",
                  "paid subscribers", "for members", "to members", "paid members", "für abonnent")
_APP_HINTS = ("download the", "download our", "get the", "get our", "install the", "install our", "herunterladen",
              "laden sie", "hier geht es zu", "holen sie sich", "hol dir")


def _may_hold_notice(low: str) -> bool:
    return any(h in low for h in _MEMBERS_HINTS) or ("app" in low and any(h in low for h in _APP_HINTS))


def _is_notice(text: str) -> bool:
    text = text.lower()
    if _MEMBERS_NOTICE.search(text):
        return True
    return all(r.search(text) for r in _APP_NOTICE)


def _drop_notice_boxes(region: LexborNode) -> None:
    low = region.text(deep=True, separator=" ").lower()
    if not _may_hold_notice(low) or not _is_notice(low):
        return
    hits = []
    for node in region.css(_NOTICE_CANDIDATES):
        text = node.text(deep=True, separator=" ")
        if len(text.strip()) <= _NOTICE_CHARS and _is_notice(text):
            hits.append(node)
    # Innermost: a hit holding another hit is that one's box, found by widening it.
    held = {id_ for n in hits for id_ in _ancestor_ids(n)}
    boxes: list[LexborNode] = []
    gone: set[int] = set()
    for node in hits:
        if node.mem_id in held:
            continue
        box = node
        while box.tag != "li":
            parent = box.parent
            if parent is None or parent.mem_id == region.mem_id or parent.tag in ("body", "html", "article", "main"):
                break
            if len(parent.text(deep=True).strip()) > _NOTICE_CHARS:
                break
            box = parent
        if box.mem_id not in gone and not _inside(box, gone):
            gone.add(box.mem_id)
            boxes.append(box)
    # A box may hold one found before it (widened around it): drop the outer ones only.
    for box in boxes:
        if not _inside(box, gone):
            box.decompose()


def _ancestor_ids(node: LexborNode) -> list[int]:
    out = []
    parent = node.parent
    while parent is not None:
        out.append(parent.mem_id)
        parent = parent.parent
    return out


# Lines that are the page's chrome in any markup, dropped from the extracted text:
# - a bare date or time (the date of a teaser card whose linked headline went, a page's timestamp):
#   "19.03.2024", "1月13日", "2025年1月14日 01時28分 (1月14日 01時40分更新)", "05.08.2024, 20:59 Uhr";
# - labels of lists of other stories and of a members-only wall, in Japanese and Korean, whose words
#   are not spaced ("関連記事", "社会の新着", "記事一覧", "관련기사", "많이 본 뉴스");
# - credits of other reporting ("Additional reporting by …", "With reports from …");
# - reCAPTCHA notices of sign-up boxes; comment-form lines ("Leave a Reply", "Kommentar abgeben").
_MONTHS = ("jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|"
           "august|september|october|november|december|januar|februar|märz|mai|juni|juli|oktober|dezember")
_WEEKDAYS = ("mon|tue|wed|thu|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday|montag|"
             "dienstag|mittwoch|donnerstag|freitag|samstag|sonntag")
_DATE = (r"(?:\d{1,2}[./-]\s?\d{1,2}[./-]\s?\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2}"
         r"|(?:\d{4}\s?年\s?)?\d{1,2}\s?月\s?\d{1,2}\s?日(?:\s?[(（][月火水木金土日][)）])?"
         r"|\d{4}\s?년\s?\d{1,2}\s?월\s?\d{1,2}\s?일"
         rf"|\d{{1,2}}\.?\s(?:{_MONTHS})\.?(?:\s\d{{4}})?|(?:{_MONTHS})\.?\s\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s\d{{4}})?)")
_TIME = r"(?:\d{1,2}\s?[:.時]\s?\d{2}(?:\s?分)?(?:\s?(?:uhr|h|am|pm|a\.m\.|p\.m\.))?)"
_DATE_LINE = (rf"(?:(?:updated|published|posted|aktualisiert|veröffentlicht|stand)(?:\s(?:on|am))?:?\s)?"
              rf"(?:(?:{_WEEKDAYS})\.?,?\s)?{_DATE}(?:[,\s|·•/–-]+(?:um\s)?{_TIME})?"
              r"(?:\s?[(（][^()（）]{0,30}(?:更新|updated|aktualisiert)[)）])?")
_CJK_LABELS = (r"[■▶▷●◆]?\s?(?:関連(?:記事|キーワード|ニュース|リンク|情報)|おすすめ(?:情報|記事)?|記事一覧|人気記事|"
               r"(?:最新|[^\s]{1,8}の新着)(?:記事|ニュース)?|最新の[^\s]{1,8}記事|カテゴリーをフォローする|"
               r"この記事は(?:有料)?会員限定(?:記事)?です。?|会員限定記事|続きを読む|"
               r"관련\s?(?:기사|뉴스)|많이\s?본\s?(?:뉴스|기사)|인기\s?(?:기사|뉴스)|추천\s?기사|최신\s?(?:기사|뉴스)|"
               r"이\s?기사를\s?추천합니다|유료\s?(?:회원|구독자)\s?전용\s?기사입니다\.?)")
_CREDIT = (r"[-–—(\s]*(?:with\s)?additional\s(?:reporting|contributions?)\s(?:by|from)\s.{1,100}"
           r"|[-–—(\s]*with\s(?:reports?|reporting)\sfrom\s.{1,80}")
_RECAPTCHA = r".{0,80}\brecaptcha\b.{0,160}"
_COMMENT_FORM = (r"leave a (?:reply|comment)|post a comment|cancel reply|you must be logged in to post a comment\.?|"
                 r"kommentar (?:abgeben|schreiben|verfassen)|schreibe einen kommentar|antwort abbrechen|"
                 r"du musst dich einloggen,? um einen kommentar abzugeben\.?|"
                 r"sie müssen (?:sich )?(?:angemeldet|eingeloggt) sein,? um einen kommentar (?:abzugeben|zu schreiben)\.?")
_CHROME_LINE = re.compile(
    f"(?:{_DATE_LINE}|{_CJK_LABELS}|{_CREDIT}|{_RECAPTCHA}|{_COMMENT_FORM})[\\s.)]*", re.IGNORECASE)
# Any such line is short; longer ones are not looked at.
_MAX_CHROME_LINE = 240


def drop_chrome_lines(paragraphs: Sequence[str]) -> list[str]:
    """Remove the lines that are the page's chrome whatever its markup (see ``_CHROME_LINE``)."""
    return [p for p in paragraphs if len(p) > _MAX_CHROME_LINE or not _CHROME_LINE.fullmatch(p.strip())]


def _extract_page(page_html: str, base_url: str | None) -> PageText:
    tree = LexborHTMLParser(page_html)
    body = tree.body
    if body is None:
        return PageText()
    for node in body.css(_DROP):
        node.decompose()
    if "<form" in page_html or "<FORM" in page_html:
        _drop_forms(body)
    head_title = tree.css_first("head title")
    title = head_title.text(deep=True) if head_title is not None else ""
    og_title = tree.css_first('meta[property="og:title"]')
    og = (og_title.attributes.get("content") or "").strip() if og_title is not None else ""
    titles = [t for t in (title.strip(), og) if t]
    title_key = paragraph_key(" ".join(titles))
    text = f"{title}\n{body.text(deep=True, separator=' ')}"
    if "<br" in page_html or "<BR" in page_html:
        _split_break_runs(body)  # first: region choice and chrome shares count paragraph text
    region, name = _region(body, title_key)
    _drop_chrome_blocks(region)
    if "<a" in page_html:
        _drop_link_lines(region)
    _drop_notice_boxes(region)
    images = _figures(region, base_url)
    captions = "caption" in page_html
    _drop_figures_and_hidden(region, captions)
    paragraphs = _extract(f"<html><body>{region.html}</body></html>")
    if not paragraphs and region is not body:
        region, name = body, "body"
        images = images or _figures(body, base_url)
        _drop_figures_and_hidden(body, captions)
        paragraphs = _extract(f"<html><body>{body.html}</body></html>")
    # Only inside an article region: the body's own paragraphs are every block of the page.
    region_chars = _paragraph_chars(region) if region is not body else 0
    if region_chars and sum(map(len, paragraphs)) < _MIN_EXTRACTED_SHARE * region_chars:
        own = [t for n in region.css("p, h2, h3") if (t := normalize_text(n.text(deep=True)))]
        if sum(map(len, own)) > sum(map(len, paragraphs)):
            paragraphs = own
    return PageText(paragraphs=drop_chrome_lines(paragraphs), images=images, region=name, text=text, titles=titles)


def extract_page(page_html: str, *, base_url: str | None = None) -> PageText:
    """The article's paragraphs and figures from a full page (empty when nothing was found).

    ``base_url`` (the item's link) makes relative image URLs absolute. Raises PageExtractionError
    when the page is too large or the parsers fail on it.
    """
    if len(page_html) > MAX_PAGE_CHARS:
        raise PageExtractionError(f"page is {len(page_html)} characters, over the {MAX_PAGE_CHARS} limit")
    if not page_html.strip():
        return PageText()
    try:
        return _extract_page(page_html, base_url)
    except Exception as exc:  # noqa: BLE001 - HTML parsers on hostile pages; the caller records it
        # The item is still cleaned from its feed text, with a page.fallback_error marker.
        raise PageExtractionError(f"{type(exc).__name__}: {exc}") from exc


# --- is the page worth more than the feed? ------------------------------------------------------

# Words of four letters or more, compared by their first five letters so that inflected forms of a
# word meet ("Islamisten"/"Islamist", "российский"/"российская"); runs of Han, kana and Hangul, which
# are not spaced into such words, are compared as character pairs.
_WORD = re.compile(r"[^\W\d_]{4,}")
_DENSE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]{2,}")
_STEM = 5
_TRUNCATED = re.compile(r"\s*(?:\[(?:…|\.\.\.)\]|…|\.\.\.|\[\+\d+ chars\])\s*$")
# How much of the feed's text (title and lead) the extracted text must contain to be taken as the
# story without further ado.
MIN_LEAD_OVERLAP = 0.6
# A page that carries the feed's text somewhere (its headline, a dek, the lead) is the story's page;
# its extracted text is then used unless it shares almost none of the feed's words, which means the
# extractor took another block (a list of other stories, comments). An editorial summary (a dek
# written apart from the story) shares a third to a half of its words with the story; the text of
# another story on the same site as much as half too, so the words alone cannot tell a dek from
# another story: where the page is the story's, it wins.
MIN_TEXT_OVERLAP = 0.2
_MIN_LEAD_WORDS = 5
_LEAD_KEY_CHARS = 80

PAGE_USED = "page.body"
PAGE_EMPTY = "page.fallback_empty"
PAGE_NOT_LONGER = "page.fallback_not_longer"
PAGE_UNRELATED = "page.fallback_unrelated"
PAGE_ERROR = "page.fallback_error"


def _words(paragraphs: Sequence[str]) -> int:
    # Text without spaces between words (Chinese, Japanese) counts one word per two characters.
    return sum(len(p.split()) + (0 if p.isascii() else sum(len(m) for m in _DENSE.findall(p)) // 2)
               for p in paragraphs)


def feed_words(text: str) -> set[str]:
    """The comparison words of a text (see ``_WORD``): stems of its longer words and dense pairs."""
    text = text.casefold()
    runs = _DENSE.findall(text) if not text.isascii() else ()
    if not runs:
        return {w[:_STEM] for w in _WORD.findall(text)}
    out = {w[:_STEM] for w in _WORD.findall(text) if not _DENSE.fullmatch(w)}
    for run in runs:
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


def _share(words: set[str], text_words: set[str]) -> float:
    return len(words & text_words) / len(words) if words else 0.0


def page_verdict(page: Sequence[str], feed: Sequence[str], lead: str | None, *,
                 title: str | None = None, page_text: str | None = None) -> str:
    """Which text to use: PAGE_USED, or the PAGE_* fallback marker that says why the feed's.

    The page is used when it has text, more words than the feed's own body (otherwise it adds
    nothing, or the extractor found only a fragment), and it is about the same story. That is judged
    from the feed's text (``title`` and ``lead``: the summary, else the first paragraph) against the
    extracted text and against ``page_text``, all the text of the page (``PageText.text``; the
    extracted text when not given):

    - the lead (or the title) appears in the extracted text, or most of their words do: used;
    - the feed's text is on the page (the title or lead verbatim, or most of their words): this is
      the story's page, and its extracted text wins over a teaser summary unless it shares almost
      none of the feed's words (``MIN_TEXT_OVERLAP``: the extractor took another block);
    - otherwise the page is not the story's (a consent wall, a home page, another article).
    """
    if not page:
        return PAGE_EMPTY
    if _words(page) <= _words(feed):
        return PAGE_NOT_LONGER
    lead = _TRUNCATED.sub("", lead) if lead else ""
    keys = [k for k in (paragraph_key(lead)[:_LEAD_KEY_CHARS], paragraph_key(title or "")) if k]
    words = feed_words(f"{title or ''} {lead}")
    if not keys and not words:
        return PAGE_USED
    text = " ".join(page)
    text_key = paragraph_key(text)
    if any(k in text_key for k in keys):
        return PAGE_USED
    if len(words) < _MIN_LEAD_WORDS:
        return PAGE_USED  # too few words to judge by
    in_text = _share(words, feed_words(text))
    if in_text >= MIN_LEAD_OVERLAP:
        return PAGE_USED
    if page_text is not None:
        page_key = paragraph_key(page_text) if keys else ""
        on_page = (any(k in page_key for k in keys)
                   or _share(words, feed_words(page_text)) >= MIN_LEAD_OVERLAP)
        if on_page and in_text >= MIN_TEXT_OVERLAP:
            return PAGE_USED
    return PAGE_UNRELATED


# Echoes shorter than this (in key characters) are left alone: short lines repeat legitimately.
_MIN_ECHO_KEY = 40


def drop_echoes(paragraphs: Sequence[str]) -> list[str]:
    """Remove paragraphs that only repeat part of a longer paragraph of the same page.

    Pages print pull quotes, highlights and standfirsts that repeat the story's own sentences; in a
    feed's content they are rare, on a full page common. A paragraph goes when its key (see
    ``normalize.paragraph_key``) is at least 40 characters and contained in a longer paragraph's key.
    """
    keys = [paragraph_key(p) for p in paragraphs]
    # All keys in one string (NUL never occurs in a key, so no match spans two): a key is inside a
    # longer one when it occurs more often than the keys equal to it, each of which holds it once.
    joined = "\0".join(keys)
    equal: dict[str, int] = {}
    for k in keys:
        equal[k] = equal.get(k, 0) + 1
    return [p for p, k in zip(paragraphs, keys) if len(k) < _MIN_ECHO_KEY or joined.count(k) <= equal[k]]


# A headline is short: a line longer than this is story text even when it restates the title.
_MAX_HEADLINE_WORDS = 30
_MIN_HEADLINE_KEY = 20
# A line that shares this share of its words with a title, and covers as much of the title's, is
# the headline printed again (with a kicker, or worded a little apart from the og:title).
_HEADLINE_WORD_SHARE = 0.7


def _echoes_headline(paragraph: str, titles: Sequence[tuple[str, set[str]]]) -> bool:
    # The word count first: it is cheaper than the key, and rules out most of a story's paragraphs.
    if len(paragraph.split()) > _MAX_HEADLINE_WORDS:
        return False
    key = paragraph_key(paragraph)
    if len(key) < _MIN_HEADLINE_KEY:
        return False
    words: set[str] | None = None
    for tkey, twords in titles:
        if (key in tkey and 2 * len(key) >= len(tkey)) or (tkey in key and len(key) <= 2 * len(tkey)):
            return True
        if words is None:
            words = feed_words(paragraph)
        common = len(words & twords)
        if words and twords and common >= _HEADLINE_WORD_SHARE * max(len(words), len(twords)):
            return True
    return False


def drop_headline_echoes(paragraphs: Sequence[str], titles: Sequence[str]) -> list[str]:
    """Remove lines that print the headline again: a page's text starts with its headline, often
    with a kicker ("Bank collapse: …") or worded a little apart from the og:title, and carries it
    again in share boxes and teasers of itself. The title is a field of its own.

    A line goes when, with at least 20 key characters and at most 30 words, its key is most of a
    title's key (a title ends with "| Site"), holds a title's key within twice its length, or shares
    70% of its words with a title both ways. A lead that restates the headline is longer.
    """
    keyed = [(k, feed_words(t)) for t in titles if len(k := paragraph_key(t)) >= _MIN_HEADLINE_KEY]
    if not keyed:
        return list(paragraphs)
    return [p for p in paragraphs if not _echoes_headline(p, keyed)]


# The story ends with a sentence; a run of short lines after its last long paragraph is the page's
# chrome below it ("Related", "Share", "Tags:", "Post", "Bookmark"), which no class names. A line
# with a figure in it is the story's (prices, dates, a phone number of a box of facts).
_DIGIT = re.compile(r"\d")
_TAIL_LINE_WORDS = 5
_MIN_TAIL_RUN = 2
_MIN_STORY_PARAGRAPH_WORDS = 20


def drop_short_tail(paragraphs: Sequence[str]) -> list[str]:
    """Remove the run of at least two short lines (five words or fewer) that ends the text, after a
    paragraph of 20 words or more."""
    words = [_words([p]) for p in paragraphs]
    end = len(paragraphs)
    while end > 0 and words[end - 1] <= _TAIL_LINE_WORDS and not _DIGIT.search(paragraphs[end - 1]):
        end -= 1
    if len(paragraphs) - end >= _MIN_TAIL_RUN and end > 0 and words[end - 1] >= _MIN_STORY_PARAGRAPH_WORDS:
        return list(paragraphs[:end])
    return list(paragraphs)


# A page's text starts with the story's first sentence; a single word before it is a label of the
# page's chrome: the section ("Politik"), what the block is ("Article", "Headline", "Summary" in the
# site's language). Words of scripts without spaces are sentences, and longer than a label.
_MAX_LABEL_CHARS = 20
_LABEL = re.compile(r"[^\W\d_]+\.?:?")


def drop_label_head(paragraphs: Sequence[str]) -> list[str]:
    """Remove a first line that is one word of letters (at most 20 characters), when more follows."""
    if len(paragraphs) > 1:
        first = paragraphs[0].strip()
        if len(first) <= _MAX_LABEL_CHARS and _LABEL.fullmatch(first) and not _DENSE.search(first):
            return list(paragraphs[1:])
    return list(paragraphs)
