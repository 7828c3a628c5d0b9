"""Feed text → clean plain text: HTML to paragraphs, text normalization, titles, standfirsts.

Text normalization (``normalize_text``), applied to every paragraph, title and caption:

- Unicode NFC (not NFKC: compatibility folding would rewrite superscripts, ligatures in names and
  full-width CJK punctuation, i.e. change what the agency wrote);
- curly single and double quotes (‘ ’ ‚ ‛ “ ” „ ‟) become ASCII ``'`` and ``"``: the same wire story
  reaches us typeset by different outlets, and straight quotes make their clean text, content hash,
  boilerplate patterns and clusters agree (the clean output takes the publisher's quotes back at
  the end: ``transforms.cleaning.typography``). Guillemets (« ») and primes are real punctuation
  of Spanish/French copy and measurements, and are kept. Dashes are kept: datelines use them;
- every Unicode space (nbsp, thin, narrow, ideographic …) is a space; runs of whitespace collapse;
- invisible characters are removed: U+200B zero-width space, U+2060 word joiner, U+FEFF BOM, U+00AD
  soft hyphen, C0/C1 control characters. U+200C/U+200D (ZWNJ/ZWJ) are removed too, except between
  two non-ASCII letters, where they are spelling (Persian, Indic scripts) or build an emoji.

HTML (``html_to_blocks``): parsed with selectolax's lexbor parser, which also decodes entities.
Block elements (p, div, li, h1–h6, blockquote, td …) and ``<br>`` end a paragraph; script, style,
noscript, iframe, form, nav and other non-text elements are dropped with their content; ``<figure>``
and ``<img>`` become images (URL and figcaption), not text. Input without tags is plain text and is
split on blank lines (or on newlines when it has no blank lines).
"""

from __future__ import annotations

import html as _html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser, LexborNode

from transforms.model import Image

from .dates import Published, parse_date, resolve_published  # noqa: F401  (re-exported)
from .regexfirst import first_char_class
from .simplehtml import simple_runs
from .urls import canonical_url  # noqa: F401  (re-exported)

__all__ = [
    "HtmlBlocks", "Published", "canonical_url", "clean_title", "html_to_blocks", "html_to_paragraphs",
    "normalize_text", "paragraph_key", "parse_date", "resolve_published", "same_key", "split_standfirst",
    "text_to_paragraphs", "drop_title_echo",
]

# --- text ---------------------------------------------------------------------------------------

_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
           "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'}
_QUOTE = re.compile("[\u2018-\u201f]")
# Invisible characters and control characters that are not whitespace (str.split() already treats
# \t \n \r \v \f \x1c-\x1f \x85 and every Unicode space as whitespace).
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b\u2060\ufeff]")
# ZWNJ/ZWJ next to ASCII, whitespace or a text edge carry no spelling.
_STRAY_JOINER = re.compile(r"[\u200c\u200d](?![^\x00-\x7f\s])|(?<![^\x00-\x7f\s])[\u200c\u200d]")


def _straight(m: re.Match) -> str:
    return _QUOTES.get(m.group(), m.group())


def normalize_text(text: str) -> str:
    """One line of clean text (see the module doc for every rule)."""
    s = text
    # Every invisible character is unprintable (Cc or Cf), and isprintable() is a cheap scan.
    printable = s.isprintable()
    if not printable and _INVISIBLE.search(s):
        s = _INVISIBLE.sub("", s)
    if not s.isascii():
        if _QUOTE.search(s):
            s = _QUOTE.sub(_straight, s)
        if "\u200c" in s or "\u200d" in s:
            s = _STRAY_JOINER.sub("", s)
        if not unicodedata.is_normalized("NFC", s):
            s = unicodedata.normalize("NFC", s)
    if s is not text:
        printable = s.isprintable()
    # Printable text has no whitespace but " " (every other str.split() separator is Cc, Zs, Zl or
    # Zp): without a double, leading or trailing space it is already one line of single spaces.
    if printable and "  " not in s and s[:1] != " " and s[-1:] != " ":
        return s
    return " ".join(s.split())


_WORDISH = re.compile(r"[^\W_]+")
_FIRST_ALNUM = re.compile(r"[^\W_]")


# Every ASCII character that is not a letter or digit: what paragraph_key drops from ASCII text.
_ASCII_NOT_ALNUM = bytes(c for c in range(128) if not chr(c).isalnum())


def paragraph_key(text: str) -> str:
    """A comparison key: case-, punctuation- and space-insensitive."""
    if text.isascii():
        # The same key as below for ASCII text, a dozen times faster: it is computed for every
        # paragraph of every item, several times over (learned lines count each of them).
        return text.encode("ascii").lower().translate(None, _ASCII_NOT_ALNUM).decode("ascii")
    return "".join(_WORDISH.findall(text.casefold()))


# --- HTML ---------------------------------------------------------------------------------------

_BLOCK = frozenset({
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "blockquote",
    "section", "article", "header", "footer", "aside", "main", "table", "tr", "td", "th", "thead",
    "tbody", "tfoot", "caption", "pre", "address", "hr", "figcaption", "details", "summary", "center",
    "body", "html",
})
# Dropped with everything inside: code, embeds, forms and navigation are never article text.
_DROP = frozenset({
    "script", "style", "noscript", "iframe", "form", "template", "svg", "math", "button", "select",
    "textarea", "input", "object", "embed", "video", "audio", "canvas", "head", "title", "meta",
    "link", "nav", "-comment", "picture", "source",
})
_TAGGY = re.compile(r"<[A-Za-z/!?]")
_LEAF_BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6"})
_SPECIAL_TAG = re.compile(
    r"<(?:!|br|img|figure|picture|"
    + "|".join(sorted(t for t in _DROP if t[0] != "-" and t not in ("picture",))) + r")\b",
    re.IGNORECASE,
)


@dataclass
class HtmlBlocks:
    paragraphs: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)


def _img_url(node: LexborNode) -> str | None:
    attrs = node.attributes
    for dim in ("width", "height"):
        if (attrs.get(dim) or "").strip() in ("0", "1"):
            return None  # tracking pixel
    for key in ("src", "data-src", "data-original"):
        url = (attrs.get(key) or "").strip()
        if url.startswith(("http://", "https://", "//")):
            return "https:" + url if url.startswith("//") else url
    return None


class _Collector:
    __slots__ = ("blocks", "buf")

    def __init__(self) -> None:
        self.blocks = HtmlBlocks()
        self.buf: list[str] = []

    def flush(self) -> None:
        if self.buf:
            text = normalize_text("".join(self.buf))
            if text:
                self.blocks.paragraphs.append(text)
            self.buf = []

    def figure(self, node: LexborNode) -> None:
        cap_node = node.css_first("figcaption")
        caption = normalize_text(cap_node.text(deep=True)) if cap_node is not None else ""
        urls = [u for u in (_img_url(img) for img in node.css("img")) if u]
        if not urls and caption:
            urls = [None]
        for url in urls:
            self.blocks.images.append(Image(url=url, caption=caption or None))


def html_to_blocks(markup: str | None) -> HtmlBlocks:
    """Paragraphs of clean text and the images found in an HTML fragment (or plain text)."""
    if not markup or not markup.strip():
        return HtmlBlocks()
    if not _TAGGY.search(markup):
        return HtmlBlocks(paragraphs=text_to_paragraphs(_html.unescape(markup)))
    runs = simple_runs(markup)  # the common simple shapes, without a document tree
    if runs is not None:
        # About half the runs are the empty text between "</p>" and "<p>": skipped before
        # normalizing (normalize_text("") is "", dropped anyway).
        return HtmlBlocks(paragraphs=[p for p in map(normalize_text, filter(None, runs)) if p])
    root = LexborHTMLParser(markup).body
    out = _Collector()
    if root is None:
        return out.blocks
    # Without any tag that needs special handling inside a paragraph (breaks, images, embeds,
    # comments …), a <p> or heading is one paragraph: take its text in one call instead of walking
    # its inline children (the HTML parser never lets such an element contain a block).
    leaf_blocks = _LEAF_BLOCKS if not _SPECIAL_TAG.search(markup) else frozenset()
    # Iterative walk with explicit exit events: nesting depth in scraped HTML is unbounded, and a
    # block element must end its paragraph both when it opens and when it closes.
    stack: list[tuple[LexborNode, bool]] = []
    node = root.child
    while node is not None or stack:
        if node is None:
            parent, is_block = stack.pop()
            if is_block:
                out.flush()
            node = parent.next
            continue
        tag = node.tag
        if tag == "-text":
            out.buf.append(node.text_content or "")
        elif tag in _DROP:
            pass
        elif tag == "br":
            out.flush()
        elif tag == "figure":
            out.flush()
            out.figure(node)
        elif tag == "img":
            url = _img_url(node)
            if url:
                out.blocks.images.append(Image(url=url))
        elif tag in leaf_blocks:
            out.flush()
            out.buf.append(node.text(deep=True))
            out.flush()
        else:
            is_block = tag in _BLOCK
            if is_block:
                out.flush()
            first = node.child
            if first is not None:
                stack.append((node, is_block))
                node = first
                continue
        node = node.next
    out.flush()
    return out.blocks


def html_to_paragraphs(markup: str | None) -> list[str]:
    return html_to_blocks(markup).paragraphs


_BLANK_LINE = re.compile(r"\n[ \t\u00a0]*\n")


def text_to_paragraphs(text: str) -> list[str]:
    """Plain text → paragraphs: split on blank lines if there are any, else on every newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    chunks = _BLANK_LINE.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    return [p for p in (normalize_text(c) for c in chunks) if p]


def inline_text(markup: str | None) -> str:
    """One line of clean text from a possibly tagged or entity-escaped string (titles, captions)."""
    if not markup:
        return ""
    if _TAGGY.search(markup):
        root = LexborHTMLParser(markup).body
        markup = root.text(deep=True, separator=" ") if root is not None else ""
    elif "&" in markup:
        markup = _html.unescape(markup)
    return normalize_text(markup)


# --- titles -------------------------------------------------------------------------------------

# Separators between a headline and a site name, tried from the right.
_TITLE_SEP = re.compile(r"\s+(?:\||-|–|—|::|·|•|«|»)\s+")
_SITE_WORDS = re.compile(
    r"\b(?:news|times|post|agency|daily|herald|tribune|blog|online|press|journal|gazette|mail|tv|"
    r"network|media|observer|review|today|wire|standard|chronicle|telegraph|express|monitor|insider|"
    r"radio|magazine|digest|courier|dispatch|sun|star|globe|reporter|bulletin|agencia|agence|ajans[ıi]|"
    r"nachrichten|notizie|noticias|ledger|heraldo|courrier|correo|diario|peri[oó]dico|zeitung|kurier|"
    r"rundschau|anzeiger|tageblatt|presse|corriere|gazzetta|gazeta|gazete|jornal|folha|harian|kabar|"
    r"berita|warta|haber|sentinel|register|inquirer|mirror|[eé]cho|voz|quotidien|stampa|"
    r"новости|вести|известия|газета)\b|\.(?:com|org|net|info|news|co|cn|in|pk|my|id|kr|jp|ru|tr|ae|ir|kw|de|es|it|fr)\b",
    re.IGNORECASE,
)
_SECTION_WORDS = frozenset({
    "world", "business", "politics", "sport", "sports", "tech", "technology", "science", "health",
    "opinion", "asia", "africa", "europe", "americas", "middle east", "china", "nation", "national",
    "international", "local", "entertainment", "culture", "economy", "news", "latest news",
    "breaking news", "top news", "top stories", "world news", "home",
})
_MINOR_WORDS = frozenset({"of", "the", "and", "for", "in", "on", "de", "la", "el", "al", "&", "del", "du",
                          "des", "di", "da", "do", "dos", "der", "die", "das", "y", "e", "et", "und"})
_NAME_ARTICLES = frozenset({"the", "la", "le", "les", "el", "los", "las", "il", "lo", "der", "die", "das",
                            "o", "os", "a", "as"})
# An elided article before a name: "l'Atlantique", "d'Italia", "dell'Est".
_ELIDED = re.compile(r"(?:[ldLD]|dell|nell|all|sull)['’](?=[A-ZÀ-Þ])")
_MAX_SITE_WORDS = 6
_MAX_SITE_CHARS = 50


def _compact(s: str) -> str:
    return "".join(_WORDISH.findall(s.casefold()))


def _title_cased(s: str) -> bool:
    words = [_ELIDED.sub("", w, count=1) for w in s.split()]
    return all(w[0].isupper() or w[0].isdigit() or w.casefold() in _MINOR_WORDS
               for w in words if w and (w[0].isalpha() or w[0].isdigit()))


def _is_site_suffix(tail: str, sep: str, site_keys: frozenset[str], host_key: str, head: str = "") -> bool:
    words = tail.split()
    if not words or len(words) > _MAX_SITE_WORDS or len(tail) > _MAX_SITE_CHARS:
        return False
    key = _compact(tail)
    if not key:
        return False
    if key in site_keys or (host_key and (key in host_key or host_key in key) and len(key) >= 3):
        return True
    if not _title_cased(tail) and "." not in tail:
        return False
    if _SITE_WORDS.search(tail):
        return True
    # A pipe rarely appears inside a headline; a short capitalized name after one is site chrome.
    if sep == "|" and len(words) <= 4:
        return True
    # A name of two or more words in title case that begins with an article, after a headline written
    # in sentence case, is the outlet's name ("Ferry fares rise in March - The Alden Beacon"), not more
    # of the headline. Without the article it may be the speaker of a quoted headline ("We will not
    # back down - Janet Yellen"), which stays.
    return (len(words) >= 2 and words[0].casefold() in _NAME_ARTICLES and len(head.split()) >= 4
            and _sentence_cased(head))


def _sentence_cased(s: str) -> bool:
    """At least two words after the first begin in lower case (minor words aside): not title case."""
    low = sum(1 for w in s.split()[1:] if w[0].islower() and w.casefold() not in _MINOR_WORDS)
    return low >= 2


@lru_cache(maxsize=64)
def _site_keys(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(k for k in (_compact(n) for n in names) if k)


def _host_key(host: str | None) -> str:
    if not host:
        return ""
    labels = [lb for lb in host.lower().split(".") if lb not in ("www", "m", "amp", "english", "en", "news", "rss", "feeds")]
    # The registrable label, e.g. "dailysabah" of www.dailysabah.com.
    return _compact(labels[-2]) if len(labels) >= 2 else (_compact(labels[0]) if labels else "")


# Desk labels that wire services print before or after a headline: "(LEAD)", "(2nd LD)", "(3rd LD,
# with details)", "UPDATE 2-", "URGENT:", "REFILE-", "(UPDATED)", "EILMELDUNG:". Upper case as the
# desks write them, so a headline that starts with a word ("Update on the talks: …") keeps it.
_DESK_LABEL = (
    r"(?:\((?:\d{1,2}(?:st|nd|rd|th)\s+)?(?:LEAD|LD|URGENT|UPDATE(?:\s*\d{1,2})?|UPDATED|CORRECTED|"
    r"CORRECTION|BREAKING|FLASH|ALERT|RECAST|REFILE|URGENTE|EILMELDUNG|СРОЧНО)(?:\s*,[^()]{1,60})?\)"
    r"|(?:UPDATE|WRAPUP|REFILE|RPT|CORRECTED|BREAKING|URGENT|FLASH|ALERT|UPDATED|EXCLUSIVE|URGENTE|"
    r"ÚLTIMA HORA|DERNIÈRE MINUTE|EILMELDUNG|SON DAKİKA|СРОЧНО|ULTIM'ORA|BREAKING NEWS)(?:\s*\d{1,2})?"
    r"\s*(?:-|:|—|–))"
)
_DESK_HEAD = re.compile(rf"(?:{_DESK_LABEL}\s*)+")
# The characters a desk label can begin with (derived from the pattern): a cheap test first.
_DESK_FIRST = re.compile(first_char_class(_DESK_HEAD.pattern))
_DESK_TAIL = re.compile(r"\s*(?:[-—–]\s*)?\((?:\d{1,2}(?:st|nd|rd|th)\s+)?(?:LEAD|LD|UPDATE(?:\s*\d{1,2})?|"
                        r"UPDATED|CORRECTED|URGENT)\)$")


def strip_desk_labels(title: str) -> str:
    """A headline without the desk labels before or after it (it always keeps two words)."""
    if not title:
        return title
    out = title
    if _DESK_FIRST.match(out):
        m = _DESK_HEAD.match(out)
        if m and len(out[m.end():].split()) >= 2:
            out = out[m.end():].lstrip()
    if out.endswith(")"):
        m = _DESK_TAIL.search(out)
        if m and len(out[: m.start()].split()) >= 2:
            out = out[: m.start()].rstrip()
    return out


def clean_title(title: str | None, *, site_names: Iterable[str] = (), host: str | None = None) -> str:
    """Clean a headline and remove a trailing site name (`` - Site``, `` | Site``, `` – Site`` …).

    A suffix is removed only when it looks like a site, not like part of the headline: it is short,
    and it is one of ``site_names`` (agency names, the outlet's name), or matches the feed's host, or
    is capitalized like a name and contains a word such as News/Times/Agency or a domain; after a
    ``|`` any short capitalized name counts. One section name before the site (``| World | Site``)
    goes too. Desk labels before or after the headline ("(LEAD)", "UPDATE 2-", "URGENT:") go first
    (see ``strip_desk_labels``). The headline itself always keeps at least two words.
    """
    text = strip_desk_labels(inline_text(title))
    site_keys = _site_keys(tuple(site_names))
    host_key = _host_key(host)
    removed_site = False
    for _ in range(2):
        seps = list(_TITLE_SEP.finditer(text))
        if not seps:
            break
        m = seps[-1]
        head, tail, sep = text[: m.start()], text[m.end():], m.group().strip()
        if len(head.split()) < 2:
            break
        if removed_site:
            if tail.casefold() not in _SECTION_WORDS:
                break
        elif not _is_site_suffix(tail, sep, site_keys, host_key, head):
            break
        text, removed_site = head.rstrip(), True
    return text


# --- standfirst and echoes ----------------------------------------------------------------------

_TRUNCATION = re.compile(r"\s*(?:\[(?:…|\.\.\.)\]|…|\.\.\.|\[\+\d+ chars\])\s*$")
# What a text _TRUNCATION matches ends with, but for whitespace: tested first (a search tries every
# position of the text).
_TRUNCATION_ENDS = ("]", "…", "...")


def split_standfirst(standfirst: str | None, paragraphs: Sequence[str]) -> tuple[str | None, list[str]]:
    """Keep a standfirst only when the body does not already say it.

    Returns (standfirst or None, paragraphs). When the standfirst is also a body paragraph, the body
    keeps the paragraph and the standfirst is dropped. When it appears twice (a site that prints the
    standfirst above the article that contains it), its first copy leaves the body. A summary that is
    just the start of the body (``…`` truncated teaser) is dropped as well.
    """
    paras = list(paragraphs)
    if not standfirst:
        return None, paras
    key = paragraph_key(standfirst)
    if not key:
        return None, paras
    hits = [i for i, p in enumerate(paras) if same_key(p, key)]
    if len(hits) >= 2:
        del paras[hits[0]]
        return None, paras
    if hits:
        return None, paras
    truncated = standfirst.rstrip().endswith(_TRUNCATION_ENDS) and _TRUNCATION.search(standfirst)
    teaser = paragraph_key(_TRUNCATION.sub("", standfirst)) if truncated else key
    if len(teaser) >= 20 and paras:
        span = 2 * len(standfirst) + 40  # characters of body text that can hold the teaser's key
        head = " ".join(paras[:3])[:span]
        if _starts_with_key(head, teaser):
            return None, paras
        # A summary cut from a later paragraph ("the first 200 characters" of the one the feed
        # chose), with or without a mark of truncation: the body says it.
        if len(teaser) >= _ECHO_CHARS and any(
                _starts_with_key(p[:span], teaser) for p in paras[1:]):
            return None, paras
    return standfirst, paras


# A summary at least this long (key characters) that starts a later body paragraph echoes it.
_ECHO_CHARS = 60


def _first_letter_differs(text: str, key: str) -> bool:
    """True when ``paragraph_key(text)`` certainly does not start with ``key``'s first character
    (told from the first word character among ``text``'s first 12)."""
    first = _FIRST_ALNUM.search(text, 0, 12)
    return first is not None and first.group().casefold()[:1] != key[0]


def _starts_with_key(text: str, key: str) -> bool:
    """Whether ``paragraph_key(text)`` starts with ``key``, rejecting most texts by their first letter."""
    if _first_letter_differs(text, key):
        return False
    return paragraph_key(text).startswith(key)


def same_key(text: str, key: str) -> bool:
    """``paragraph_key(text) == key``, rejecting most non-matches from the first 40 characters."""
    if len(text) < len(key) or not key or _first_letter_differs(text, key):
        return False
    head = paragraph_key(text[:40])
    if not key.startswith(head[: len(key)]):
        return False
    return paragraph_key(text) == key


# The headline's echo may stand below a few short lines of chrome ("3 min read", an "Updated …"
# stamp): it is looked for among this many first paragraphs, each above it at most this long.
_ECHO_AT = 3
_ECHO_ABOVE_WORDS = 16


def drop_title_echo(title: str, paragraphs: Sequence[str]) -> list[str]:
    """Remove a leading paragraph that only repeats the headline (content that starts with <h1>),
    also below a few short lines (a reading time, a stamp) printed above it."""
    paras = list(paragraphs)
    if not paras or not title:
        return paras
    key = paragraph_key(title)
    for i, p in enumerate(paras[:_ECHO_AT]):
        if same_key(p, key):
            del paras[i]
            break
        if p.count(" ") >= _ECHO_ABOVE_WORDS:
            break
    return paras
