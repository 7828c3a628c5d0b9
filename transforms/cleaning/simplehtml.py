"""The text runs of simple HTML, read without building a document tree.

Most feed content is a row of ``<p>`` elements with a little inline markup (``<em>``, ``<a>``,
``&amp;``). Building a lexbor document for it costs more than everything else done with the text
(a fixed ~30 µs per document, created and destroyed twice per item), so ``html_to_blocks`` first
asks :func:`simple_runs` for the text, and parses only what it declines.

The shape accepted is one where the HTML parsing algorithm has no choice to make, so the text
found here is exactly the tree's:

- paragraph elements (``p``, ``h1``–``h6``) and containers (``div``, ``section`` …) opened and
  closed explicitly, properly nested, never a paragraph inside a paragraph;
- inline elements (``em``, ``a``, ``span`` …) balanced inside the paragraph or container they
  open in; ``<br>`` anywhere;
- text with no ``<`` that does not start one of those tags, and character references that are
  ``&name;`` of the HTML5 table, ``&#…;`` of a character that needs no repair, or a bare ``&``
  followed by a character that cannot start a reference;
- no NUL character and no lone surrogate (the parser's input handling would change them).

Anything else (comments, images, scripts, unknown tags, a misnested or unclosed element, an
unusual reference) gives None, and the caller parses the markup. ``tests/unit/test_fast_paths.py``
checks that both paths agree on generated and real markup.
"""

from __future__ import annotations

import re
from html.entities import html5

# Elements whose text ends a run where they open and close (paragraph-like elements contain only
# text and inline elements here; containers may also contain paragraphs and containers).
PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6"})
CONTAINERS = frozenset({"div", "section", "article", "blockquote", "header", "footer", "main", "aside"})
# Elements that only carry text: the parser may reshuffle formatting elements, never their text.
INLINE = frozenset({
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "dfn", "em", "font", "i", "kbd", "mark",
    "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var",
})

# A start or end tag: the HTML tokenizer's whitespace only (not Python's \s, which also takes
# U+00A0 and others that belong to a tag name), attribute names without "<", and values quoted or
# unquoted as the tokenizer reads them.
_WS = "[ \t\n\f\r]"
_TAG = re.compile(
    rf"<(/?)([A-Za-z][A-Za-z0-9]*)((?:{_WS}+[^ \t\n\f\r\"'<>/=]+(?:{_WS}*={_WS}*"
    rf"(?:\"[^\"]*\"|'[^']*'|[^ \t\n\f\r\"'=<>`]+))?)*){_WS}*(/?)>"
)
_REF = re.compile(r"&(?:([A-Za-z][A-Za-z0-9]*);|#([0-9]{1,7});|#[xX]([0-9A-Fa-f]{1,6});|(?![A-Za-z0-9#]))")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _plain_code_point(cp: int) -> bool:
    """A numeric reference the parser decodes to this very character (no parse error to repair)."""
    return (0x20 <= cp < 0x7F or 0xA0 <= cp < 0xD800 or 0xE000 <= cp <= 0xFDCF or 0xFDF0 <= cp <= 0xFFFD
            or (0x10000 <= cp <= 0x10FFFF and cp & 0xFFFE != 0xFFFE))


def _decode(text: str) -> str | None:
    """``text`` with its character references decoded, or None for one the parser might read otherwise."""
    refs = list(_REF.finditer(text))
    if len(refs) != text.count("&"):
        return None  # an "&" the pattern does not read, e.g. "&amp" without ";" (still decoded)
    out: list[str] = []
    pos = 0
    for m in refs:
        out.append(text[pos:m.start()])
        name, dec, hexa = m.groups()
        if name is not None:
            value = html5.get(name + ";")
            if value is None:
                return None
            out.append(value)
        elif dec is not None or hexa is not None:
            cp = int(dec) if dec is not None else int(hexa, 16)
            if not _plain_code_point(cp):
                return None
            out.append(chr(cp))
        else:
            out.append("&")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


_PARAGRAPH, _CONTAINER, _INLINE, _BR = range(4)
_KIND = {**dict.fromkeys(PARAGRAPHS, _PARAGRAPH), **dict.fromkeys(CONTAINERS, _CONTAINER),
         **dict.fromkeys(INLINE, _INLINE), "br": _BR}


def simple_runs(markup: str) -> list[str] | None:
    """The text of each run between paragraph boundaries (not yet normalized), or None.

    A boundary is where a paragraph element or container opens or closes, and every ``<br>``:
    the places where ``html_to_blocks`` ends a paragraph. Runs may be empty or blank.
    """
    if "\x00" in markup or (not markup.isascii() and _SURROGATE.search(markup)):
        return None
    # One C call splits the markup into [text, closing, name, attributes, self-closing, text, …].
    parts = _TAG.split(markup)
    n_tags = len(parts) // 5
    if markup.count("<") != n_tags:
        return None  # a "<" outside the tags read here (text, a comment, a quoted "<")
    texts = parts[::5]
    if "&" in markup:
        for i, text in enumerate(texts):
            if "&" in text:
                decoded = _decode(text)
                if decoded is None:
                    return None
                texts[i] = decoded
    runs: list[str] = []
    start = 0                      # first text of the current run
    paragraph: str | None = None   # the open paragraph element
    containers: list[str] = []
    inline: list[str] = []
    for i in range(n_tags):
        closing, name, self_closing = parts[5 * i + 1], parts[5 * i + 2], parts[5 * i + 4]
        kind = _KIND.get(name)
        if kind is None:
            name = name.lower()
            kind = _KIND.get(name)
            if kind is None:
                return None
        if kind == _BR:
            if closing:
                return None  # "</br>" is a parse error the tree builder repairs
        elif self_closing:
            return None  # "/" does not close a non-void element: leave that to the parser
        elif kind == _INLINE:
            if closing:
                if not inline or inline.pop() != name:
                    return None
            else:
                inline.append(name)
            continue
        elif inline:
            return None  # a block inside an inline element: the parser restructures it
        elif kind == _PARAGRAPH:
            if closing:
                if paragraph != name:
                    return None
                paragraph = None
            elif paragraph is not None:
                return None
            else:
                paragraph = name
        else:
            if paragraph is not None:
                return None  # a container start closes an open <p>; its end tag then stands alone
            if closing:
                if not containers or containers.pop() != name:
                    return None
            else:
                containers.append(name)
        runs.append("".join(texts[start:i + 1]))
        start = i + 1
    if paragraph is not None or containers or inline:
        return None
    runs.append("".join(texts[start:]))
    return runs
