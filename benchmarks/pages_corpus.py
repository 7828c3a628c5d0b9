"""Full article pages for benchmarks: fictional wire stories inside realistic site chrome.

Each page is 50–150 KB, like a real news page: a head with inline CSS, JSON-LD and analytics
scripts; a header with a mega menu and a cookie banner; breadcrumbs; the article (headline, byline,
share buttons, a photo with a credited caption, 8–18 paragraphs with inline links, an ad slot and a
"Read more" link inside the text, tags, an author box); related-story cards; reader comments and a
comment form; a sidebar; a footer with link columns and inline SVG icons; and an app-state JSON
blob. Four templates differ the way sites do:

- ``blog``: WordPress-style ``<article class="post"><div class="entry-content">`` with comments;
- ``portal``: ``<main><article>`` with a ``div.article-body`` interleaved with ad slots and a large
  ``__NEXT_DATA__`` script;
- ``legacy``: no article/main element, a table layout and paragraphs separated by ``<br><br>``;
- ``magazine``: ``<div class="content"><section class="story-body">`` with intertitles and a pull
  quote.

``make_page(i, rng)`` returns (page_html, expected body paragraphs, agency slug, summary).
"""

from __future__ import annotations

import html
import json
import random
from dataclasses import dataclass

TEMPLATES = ("blog", "portal", "legacy", "magazine")

_NOUNS = ("harbour", "council", "ferry", "minister", "coast guard", "port", "fleet", "union", "trader",
          "ministry", "quota", "storm", "budget", "terminal", "island", "court", "company", "plant",
          "reservoir", "delegation", "railway", "province", "summit", "exporter", "cooperative")
_VERBS = ("reopen", "review", "approve", "delay", "expand", "close", "fund", "inspect", "extend", "audit")
_VPS = ("approved", "delayed", "reviewed", "closed", "funded", "inspected", "extended", "audited")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_FRAMES = (
    "The {n1} of the {n2} said on {day} that the {n3} would {v} the {n4} after {k} {n5}s.",
    "Officials from the {n1} told reporters that {k} {n2}s had been {vp} by the {n3}.",
    "The {n1} has {vp} its plan for the {n2}, which {v}s {k} {n3}s in the region.",
    "\"We will {v} the {n1} as soon as the {n2} is {vp},\" the {n3} said in a statement.",
    "It was not clear whether the {n1} could {v} the {n2} before the {n3} meets on {day}.",
    "Analysts said the {n1} had little room to {v} the {n2} while {k} {n3}s remained {vp}.",
    "Residents near the {n1} said the {n2} had been {vp} twice since the {n3} first met.",
)
_PLACES = ("PORT ALDEN", "VELMORA", "KASTRIN", "NORTH BELL", "OSSARA", "LINDQVIST", "MARROW BAY")
_MONTHS = ("Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.")
# (slug, dateline format, photo credit, closing lines that must leave the body)
_AGENCIES = (
    ("xinhua", "{place}, {month} {day} (Xinhua) -- ", "(Xinhua/Li Wen)", ["Enditem"]),
    ("ap", "{place} (AP) — ", "(AP Photo/Lena Ortiz)",
     ["Copyright 2024 The Associated Press. All rights reserved. This material may not be published, "
      "broadcast, rewritten or redistributed without permission."]),
    ("reuters", "{place}, {month} {day} (Reuters) - ", "(Photo: Reuters)",
     ["(Reporting by Ana Perez; Editing by Tom Baird)"]),
    ("afp", "{place} (AFP) - ", "(Photo by Luc Martin/AFP)", []),
    ("anadolu", "{place} (AA) - ", "(Emre Kaya - Anadolu Agency)", ["Anadolu Agency"]),
    ("yonhap", "{place}, {month} {day} (Yonhap) -- ", "(Yonhap)", ["(END)"]),
)
_SITES = ("Baymouth Daily", "Harbour Ledger", "The Velmora Post", "Coastline Times", "Northern Wire Review")
_SECTIONS = ("World", "Business", "Politics", "Asia", "Europe", "Economy", "Science", "Sport", "Culture",
             "Opinion", "Health", "Technology", "Travel", "Weather", "Video", "Podcasts")


def sentence(rng: random.Random) -> str:
    n = rng.sample(_NOUNS, 5)
    return rng.choice(_FRAMES).format(n1=n[0], n2=n[1], n3=n[2], n4=n[3], n5=n[4], v=rng.choice(_VERBS),
                                      vp=rng.choice(_VPS), day=rng.choice(_DAYS), k=rng.randint(2, 90))


def _headline(rng: random.Random) -> str:
    return (f"{rng.choice(_NOUNS).capitalize()} {rng.choice(_VPS)} after {rng.choice(_NOUNS)} talks "
            f"in {rng.choice(_PLACES).title()}")


def _slug(text: str) -> str:
    return "-".join(text.lower().split())[:60]


@dataclass(frozen=True)
class Page:
    html: str
    body: list[str]  # the article's paragraphs (intertitles included), without dateline and closing lines
    agency: str
    title: str
    summary: str
    template: str
    link: str


# --- chrome -----------------------------------------------------------------------------------

def _css(rng: random.Random, rules: int) -> str:
    props = ("margin:0 auto", "padding:4px 8px", "display:flex", "font-size:1.125rem", "line-height:1.6",
             "color:#1a1a1a", "background:#fff", "border-bottom:1px solid #e5e5e5", "grid-gap:24px",
             "text-transform:uppercase", "letter-spacing:.04em", "max-width:1180px", "position:relative")
    out = []
    for i in range(rules):
        sel = f".c-{rng.choice(('nav', 'card', 'story', 'promo', 'footer', 'ad', 'grid', 'btn'))}-{i}"
        out.append(sel + "{" + ";".join(rng.sample(props, 4)) + "}")
    return "\n".join(out)


def _svg_icon(rng: random.Random) -> str:
    path = " ".join(f"{rng.choice('MLCQ')}{rng.randint(0, 24)}.{rng.randint(0, 99)} {rng.randint(0, 24)}."
                    f"{rng.randint(0, 99)}" for _ in range(rng.randint(20, 40)))
    return f'<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path d="{path}"/></svg>'


def _menu(rng: random.Random, base: str, n_sections: int) -> str:
    items = []
    for s in rng.sample(_SECTIONS, n_sections):
        sub = "".join(f'<li class="menu-item"><a href="{base}/{_slug(s)}/{_slug(_headline(rng))}">'
                      f"{html.escape(_headline(rng))}</a></li>" for _ in range(rng.randint(4, 9)))
        items.append(f'<li class="menu-item has-children"><a href="{base}/{_slug(s)}">{s}</a>'
                     f'<ul class="sub-menu">{sub}</ul></li>')
    return '<ul class="menu" id="primary-menu">' + "".join(items) + "</ul>"


def _head(rng: random.Random, title: str, site: str, summary: str, link: str, css_rules: int) -> str:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
          "description": summary, "mainEntityOfPage": link, "datePublished": "2024-03-04T09:30:00Z",
          "publisher": {"@type": "Organization", "name": site}}
    analytics = ";".join(f"window.dl{i}=window.dl{i}||[];dl{i}.push({{event:'view',slot:{rng.randint(1, 99)}}})"
                         for i in range(rng.randint(30, 80)))
    metas = "".join(f'<meta property="og:{k}" content="{html.escape(v)}">'
                    for k, v in (("title", title), ("description", summary), ("url", link), ("site_name", site)))
    preloads = "".join(f'<link rel="preload" href="/static/font-{i}.woff2" as="font" crossorigin>'
                       for i in range(6))
    return (f'<head><meta charset="utf-8"><title>{html.escape(title)} | {site}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">{metas}{preloads}'
            f"<style>{_css(rng, css_rules)}</style>"
            f'<script type="application/ld+json">{json.dumps(ld)}</script>'
            f"<script>{analytics}</script></head>")


def _cookie_banner() -> str:
    return ('<div id="cookie-notice" class="cookie-banner" role="dialog"><p>We use cookies to improve your '
            "experience on our site, to personalise content and ads and to analyse our traffic. By "
            'continuing to browse you agree to our use of cookies.</p><button class="accept">Accept all'
            '</button><a href="/privacy">Manage preferences</a></div>')


def _share_buttons(rng: random.Random) -> str:
    nets = ("Facebook", "Twitter", "WhatsApp", "LinkedIn", "Telegram", "Email")
    return ('<div class="share-buttons"><span>Share this:</span><ul>'
            + "".join(f'<li><a class="share-{n.lower()}" href="#share-{n.lower()}">{_svg_icon(rng)}'
                      f"<span>Share on {n}</span></a></li>" for n in nets)
            + "</ul></div>")


def _cards(rng: random.Random, base: str, n: int, heading: str) -> str:
    cards = "".join(
        f'<div class="card"><a href="{base}/world/{_slug(h)}"><img src="{base}/img/{rng.randint(1000, 9999)}.jpg"'
        f' alt="" width="320" height="180"><h3>{html.escape(h)}</h3></a>'
        f'<p class="teaser">{sentence(rng)}</p><span class="time">{rng.randint(1, 23)} hours ago</span></div>'
        for h in (_headline(rng) for _ in range(n)))
    return f'<section class="related"><h2>{heading}</h2><div class="cards">{cards}</div></section>'


def _comments(rng: random.Random, n: int) -> str:
    names = ("Marta K.", "harbourwatcher", "J. Osei", "Pim", "old_sailor_77", "Renata", "Tomasz B.")
    items = "".join(
        f'<li class="comment" id="comment-{i}"><div class="comment-author">{rng.choice(names)}</div>'
        f'<div class="comment-meta">March {rng.randint(1, 28)}, 2024 at {rng.randint(1, 12)}:{rng.randint(10, 59)} pm'
        f'</div><div class="comment-content"><p>{sentence(rng)} {sentence(rng)}</p></div>'
        f'<a class="comment-reply-link" href="#respond">Reply</a></li>' for i in range(n))
    form = ('<div id="respond" class="comment-respond"><h3 id="reply-title">Leave a Reply</h3>'
            '<form action="/wp-comments-post.php" method="post"><p class="comment-notes">Your email address '
            "will not be published. Required fields are marked *</p><textarea name=\"comment\"></textarea>"
            '<input name="author"><input name="email"><input type="submit" value="Post Comment"></form></div>')
    return (f'<div id="comments" class="comments-area"><h2 class="comments-title">{n} Comments</h2>'
            f'<ol class="comment-list">{items}</ol>{form}</div>')


def _sidebar(rng: random.Random, base: str) -> str:
    most = "".join(f'<li><a href="{base}/world/{_slug(h)}">{html.escape(h)}</a></li>'
                   for h in (_headline(rng) for _ in range(10)))
    return ('<aside class="sidebar"><section class="widget most-read"><h2>Most read</h2><ol>' + most
            + '</ol></section><section class="widget newsletter"><h2>Newsletter</h2><p>Sign up for our daily '
            'newsletter to get the news first.</p><form><input type="email"><button>Subscribe</button></form>'
            '</section><div class="ad ad-sidebar">Advertisement</div></aside>')


def _footer(rng: random.Random, base: str, site: str) -> str:
    cols = "".join(
        f'<div class="footer-col"><h4>{s}</h4><ul>'
        + "".join(f'<li><a href="{base}/{_slug(s)}/{i}">{s} {i}</a></li>' for i in range(rng.randint(6, 12)))
        + "</ul></div>" for s in rng.sample(_SECTIONS, 8))
    icons = "".join(f'<a href="#social-{i}">{_svg_icon(rng)}</a>' for i in range(8))
    return (f'<footer class="site-footer">{cols}<div class="social">Follow us on Twitter and Facebook {icons}'
            f'</div><p class="copyright">© 2024 {site}. All rights reserved.</p>'
            '<p><a href="/about">About us</a> | <a href="/contact">Contact</a> | <a href="/privacy">Privacy '
            "policy</a> | <a href=\"/terms\">Terms of use</a></p></footer>")


def _state_blob(rng: random.Random, kb: int) -> str:
    items = []
    size = 0
    while size < kb * 1024:
        h = _headline(rng)
        item = {"id": rng.randint(10**6, 10**7), "headline": h, "teaser": sentence(rng),
                "url": f"/world/{_slug(h)}", "image": {"src": f"/img/{rng.randint(1000, 9999)}.jpg", "w": 640}}
        size += len(json.dumps(item))
        items.append(item)
    return json.dumps({"props": {"pageProps": {"feed": items}}, "page": "/[section]/[slug]"})


# --- the article --------------------------------------------------------------------------------

def _inline(rng: random.Random, base: str, text: str) -> str:
    """Some words of a paragraph become links or emphasis, as in real article markup."""
    words = text.split(" ")
    if len(words) > 8 and rng.random() < 0.4:
        j = rng.randint(1, len(words) - 4)
        words[j:j + 2] = [f'<a href="{base}/topic/{_slug(words[j])}">{html.escape(" ".join(words[j:j + 2]))}</a>']
        return " ".join(w if w.startswith("<a ") else html.escape(w) for w in words)
    return html.escape(text)


def make_page(i: int, rng: random.Random, template: str | None = None) -> Page:
    template = template or TEMPLATES[i % len(TEMPLATES)]
    slug, dateline_fmt, credit, closing = _AGENCIES[i % len(_AGENCIES)]
    site = _SITES[i % len(_SITES)]
    base = f"https://www.{_slug(site).replace('-', '')}.example"
    title = _headline(rng)
    link = f"{base}/world/2024/03/04/{_slug(title)}-{i}"
    body = [" ".join(sentence(rng) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(8, 18))]
    dateline = dateline_fmt.format(place=rng.choice(_PLACES), month=rng.choice(_MONTHS), day=rng.randint(1, 28))
    summary = body[0][:180].rsplit(" ", 1)[0] + " …"
    caption = f"People gather at the {rng.choice(_NOUNS)} in {rng.choice(_PLACES).title()}, March 3, 2024. {credit}"
    paras_html = [f"<p>{html.escape(dateline)}{_inline(rng, base, body[0])}</p>"]
    for k, p in enumerate(body[1:], 1):
        paras_html.append(f"<p>{_inline(rng, base, p)}</p>")
        if k == 3:
            paras_html.append('<div class="ad ad-inarticle"><span>Advertisement</span></div>')
        if k == 5:
            paras_html.append(f'<p><strong>READ MORE: <a href="{base}/world/x">{html.escape(_headline(rng))}'
                              "</a></strong></p>")
    paras_html += [f"<p>{html.escape(c)}</p>" for c in closing]
    intertitle = _headline(rng)
    figure = (f'<figure class="wp-caption"><img src="{base}/img/{i}.jpg" width="1200" height="675" alt="">'
              f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    byline = f'<div class="byline">By <a href="{base}/staff">Staff Reporter</a> · <time>March 4, 2024</time></div>'
    tags = '<div class="tags">Tags: ' + ", ".join(
        f'<a href="{base}/tag/{n}">{n}</a>' for n in rng.sample(_NOUNS, 4)) + "</div>"
    author_box = (f'<div class="author-box"><h4>About the author</h4><p>Staff Reporter covers shipping and '
                  f"trade for {site}.</p></div>")
    # Bulk of a real page: CSS, menus, state blobs. Spread sizes over the 50–150 KB range.
    css_rules = rng.randint(150, 450)
    blob_kb = rng.randint(10, 55)
    header = (f'<header class="site-header"><a class="logo" href="{base}">{_svg_icon(rng)}{site}</a>'
              f'<nav class="main-nav" aria-label="Main">{_menu(rng, base, rng.randint(8, 14))}</nav>'
              '<form class="search" action="/search"><input name="q" placeholder="Search"></form></header>')
    crumbs = (f'<div class="breadcrumbs"><a href="{base}">Home</a> › <a href="{base}/world">World</a> › '
              f"<span>{html.escape(title)}</span></div>")
    article_parts = {
        "blog": lambda: (
            f'<div id="page" class="site">{header}{_cookie_banner()}<div id="content" class="site-content">'
            f'<div id="primary"><main id="main" class="site-main"><article class="post type-post">'
            f'<header class="entry-header">{crumbs}<h1 class="entry-title">{html.escape(title)}</h1>'
            f'<span class="reading-time">3 min read</span>{byline}</header>{_share_buttons(rng)}'
            f'<div class="entry-content">{figure}{"".join(paras_html)}</div>'
            f'<footer class="entry-footer">{tags}</footer>{author_box}</article>'
            f'{_cards(rng, base, 6, "Related posts")}{_comments(rng, rng.randint(3, 12))}</main></div>'
            f'{_sidebar(rng, base)}</div>{_footer(rng, base, site)}</div>'),
        "portal": lambda: (
            f"{header}{_cookie_banner()}<main id=\"main-content\">{crumbs}<article class=\"story\">"
            f'<h1 class="headline">{html.escape(title)}</h1>{byline}{_share_buttons(rng)}{figure}'
            f'<div class="article-body">{"".join(paras_html)}</div>{tags}</article>'
            f'{_cards(rng, base, 12, "More from World")}{_sidebar(rng, base)}</main>{_footer(rng, base, site)}'
            f'<script id="__NEXT_DATA__" type="application/json">{_state_blob(rng, blob_kb)}</script>'),
        "legacy": lambda: (
            f'{header}{_cookie_banner()}<table width="100%" class="layout"><tr><td class="left-col">'
            f'{_sidebar(rng, base)}</td><td class="main-col"><div id="content">{crumbs}<div class="story">'
            f'<font size="5"><b>{html.escape(title)}</b></font><br>{byline}'
            f'<div class="tools"><a href="#print">Print</a> | <a href="#email">Email</a></div>{figure}'
            f'<div class="story-text">' + "<br><br>".join(p[3:-4] if p.startswith("<p>") else p
                                                          for p in paras_html)
            + f'</div></div>{_cards(rng, base, 8, "Related news")}</div></td></tr></table>'
            f'{_footer(rng, base, site)}<script>window.__STATE__={_state_blob(rng, blob_kb // 2)}</script>'),
        "magazine": lambda: (
            f'{header}{_cookie_banner()}<div class="content"><div class="story-header">{crumbs}'
            f'<h1>{html.escape(title)}</h1>{byline}</div>{_share_buttons(rng)}<section class="story-body">'
            f'{figure}{"".join(paras_html[:4])}<h2>{html.escape(intertitle)}</h2>'
            f'<blockquote class="pull-quote">{html.escape(body[2][:120])}</blockquote>'
            f'{"".join(paras_html[4:])}</section>{tags}{author_box}'
            f'{_cards(rng, base, 8, "You may also like")}{_comments(rng, rng.randint(2, 8))}</div>'
            f'{_footer(rng, base, site)}<script>window.__APP__={_state_blob(rng, blob_kb)}</script>'),
    }
    page = ("<!DOCTYPE html><html lang=\"en\">" + _head(rng, title, site, summary, link, css_rules)
            + f'<body class="single">{article_parts[template]()}</body></html>')
    if template == "magazine":
        body = body[:4] + [intertitle] + body[4:]
    return Page(html=page, body=body, agency=slug, title=title, summary=summary, template=template, link=link)


def make_pages(n: int, seed: int = 11) -> list[Page]:
    rng = random.Random(seed)
    return [make_page(i, rng) for i in range(n)]
