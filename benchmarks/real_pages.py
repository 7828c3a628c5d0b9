"""Real article pages with ground truth, and the token F1 that scores extractors on them.

Two public benchmarks, read from local checkouts (nothing is downloaded here):

- ``scrapinghub/article-extraction-benchmark``: ``html/<id>.html.gz`` and ``ground-truth.json``
  (``{id: {"articleBody": …, "url": …}}``), 181 pages;
- ``flairNLP/fundus``: ``tests/resources/parser/test_data/<country>/<Publisher>_<date>.html.gz``,
  ``meta.info`` (url per file) and ``<Publisher>.json`` (one expected extraction per parser version).
  The expected text is fundus's article body: its ``summary`` (the dek printed above the story), then
  each section's intertitles and paragraphs.

The score is the scrapinghub benchmark's own (its ``evaluate.py``): word tokens (``\\w+``), 4-token
shingles counted with multiplicity, per page tp/fp/fn normalised to sum to 1; precision is the mean
over pages that predicted something, recall the mean over pages that have truth, F1 their harmonic
mean (not a mean of per-page F1s).
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

_TOKEN = re.compile(r"\w+", re.UNICODE)
SHINGLE = 4


@dataclass(frozen=True)
class RealPage:
    id: str                  # stable, sorts the corpus (halves are drawn from this order)
    html: str
    url: str
    truth: list[str]         # expected paragraphs
    title: str               # og:title, else <title>: what a feed entry would carry
    summary: str             # og:description, else meta description: the feed's summary

    @property
    def truth_text(self) -> str:
        return "\n".join(self.truth)


# --- the score -----------------------------------------------------------------------------------

def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text or "")


def shingles(text: str, n: int = SHINGLE) -> Counter:
    toks = tokens(text)
    # A text shorter than n tokens is one shingle of all of them (as evaluate.py does); none is none.
    return Counter(tuple(toks[i:i + n]) for i in range(max(1, len(toks) - n + 1)) if toks[i:i + n])


def tp_fp_fn(true: str, pred: str, n: int = SHINGLE) -> tuple[float, float, float]:
    t, p = shingles(true, n), shingles(pred, n)
    tp = float(sum((t & p).values()))
    fp = float(sum((p - t).values()))
    fn = float(sum((t - p).values()))
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


@dataclass(frozen=True)
class Score:
    f1: float
    precision: float
    recall: float
    pages: int


def score(pairs: Iterable[tuple[str, str]]) -> Score:
    """(truth, prediction) pairs → the benchmark's F1, precision and recall."""
    counts = [tp_fp_fn(t, p) for t, p in pairs]
    ps = [_precision(*c) for c in counts if c[0] + c[1] > 0]
    rs = [_recall(*c) for c in counts if c[0] + c[2] > 0]
    precision = sum(ps) / len(ps) if ps else 0.0
    recall = sum(rs) / len(rs) if rs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(f1=f1, precision=precision, recall=recall, pages=len(counts))


# --- lines: what was kept that is not the story, what of the story was lost ------------------------

# A line counts as story text when at least this share of its shingles is in the truth; a truth
# paragraph counts as kept when this share of its shingles is in the output. A line of fewer than
# SHINGLE tokens (an intertitle: "How We Tested", "Next steps") is one shingle of all its tokens,
# which no text's 4-token shingles can hold: it counts as covered when its tokens are a run of
# consecutive tokens of one line of the other text (an intertitle of the truth is a whole line).
LINE_MATCH = 0.5


def _runs(lines: Sequence[str]) -> set[tuple[str, ...]]:
    """Every run of 1 to SHINGLE - 1 consecutive tokens within one line."""
    out: set[tuple[str, ...]] = set()
    for line in lines:
        toks = tokens(line)
        out.update(tuple(toks[i:i + n]) for n in range(1, SHINGLE) for i in range(len(toks) - n + 1))
    return out


def _covered(line: str, other: Counter, other_runs: set[tuple[str, ...]]) -> bool:
    toks = tokens(line)
    if 0 < len(toks) < SHINGLE:
        return tuple(toks) in other_runs
    mine = shingles(line)
    total = sum(mine.values())
    return total > 0 and sum((mine & other).values()) >= LINE_MATCH * total


def line_shares(truth: Sequence[str], output: Sequence[str]) -> tuple[int, int, int, int]:
    """(leaked lines, output lines, lost truth paragraphs, truth paragraphs) of one page."""
    out = [ln for ln in output if tokens(ln)]
    truth = [t for t in truth if tokens(t)]
    t_all, o_all = shingles("\n".join(truth)), shingles("\n".join(out))
    t_runs, o_runs = _runs(truth), _runs(out)
    leaked = sum(not _covered(ln, t_all, t_runs) for ln in out)
    lost = sum(not _covered(t, o_all, o_runs) for t in truth)
    return leaked, len(out), lost, len(truth)


# --- the corpora ------------------------------------------------------------------------------------

def _meta(html: str) -> tuple[str, str]:
    tree = LexborHTMLParser(html)

    def content(*selectors: str) -> str:
        for sel in selectors:
            node = tree.css_first(sel)
            if node is not None and (v := (node.attributes.get("content") or "").strip()):
                return v
        return ""

    title = content('meta[property="og:title"]', 'meta[name="twitter:title"]')
    if not title and (t := tree.css_first("title")) is not None:
        title = t.text(deep=True).strip()
    summary = content('meta[property="og:description"]', 'meta[name="description"]',
                      'meta[name="twitter:description"]')
    return title, summary


def _paragraphs(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def load_scrapinghub(root: Path) -> list[RealPage]:
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        with gzip.open(root / "html" / f"{key}.html.gz", "rt", encoding="utf8") as f:
            html = f.read()
        title, summary = _meta(html)
        pages.append(RealPage(id=key, html=html, url=truth[key].get("url") or "",
                              truth=_paragraphs(truth[key].get("articleBody") or ""),
                              title=title, summary=summary))
    return pages


def _fundus_data(root: Path) -> Path:
    for cand in (root / "tests" / "resources" / "parser" / "test_data", root):
        if any(cand.glob("*/meta.info")):
            return cand
    raise FileNotFoundError(f"no fundus test data (…/tests/resources/parser/test_data/*/meta.info) under {root}")


def _version_order(name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", name))


def _fundus_truth(version: dict) -> list[str]:
    body = version.get("body") or {}
    out: list[str] = [s for s in body.get("summary") or [] if s.strip()]
    for section in body.get("sections") or []:
        out += [h for h in section.get("headline") or [] if h.strip()]
        out += [p for p in section.get("paragraphs") or [] if p.strip()]
    return out


def load_fundus(root: Path) -> list[RealPage]:
    """Each page paired with the expected extraction of its parser version.

    A publisher with several test pages has one expected record per parser version; fundus picks the
    version by crawl date. The versions, in their numeric order, are matched to the pages in crawl-date
    order, and the pairing is checked: the expected title must be in the page.
    """
    data = _fundus_data(root)
    pages = []
    for meta_path in sorted(data.glob("*/meta.info")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        by_publisher: dict[str, list[str]] = {}
        for name in meta:  # meta.info may still list pages that were since removed
            if not (meta_path.parent / name).exists():
                continue
            by_publisher.setdefault(name.split("_", 1)[0], []).append(name)
        for publisher, names in sorted(by_publisher.items()):
            expected = json.loads((meta_path.parent / f"{publisher}.json").read_text(encoding="utf-8"))
            versions = sorted(expected, key=_version_order)
            if len(versions) != len(names):
                raise ValueError(f"{publisher}: {len(names)} pages but {len(versions)} expected records")
            for name, version in zip(sorted(names, key=lambda n: meta[n]["crawl_date"]), versions):
                html = gzip.decompress((meta_path.parent / name).read_bytes()).decode("utf-8")
                title, summary = _meta(html)
                pages.append(RealPage(id=f"{meta_path.parent.name}/{name}", html=html, url=meta[name]["url"],
                                      truth=_fundus_truth(expected[version]), title=title, summary=summary))
    return sorted(pages, key=lambda p: p.id)


SPLITS = ("page", "publisher")


def publisher(page: RealPage) -> str:
    """The site a page comes from: ``<country>/<Publisher>`` of a fundus page's id (its file is
    ``<Publisher>_<date>.html.gz``), else the host of its URL (without ``www.``), else its id."""
    folder, sep, name = page.id.rpartition("/")
    if sep and name.endswith(".html.gz"):
        return f"{folder}/{name.split('_', 1)[0]}"
    host = urlsplit(page.url).hostname or ""
    return host.removeprefix("www.") or page.id


def halves(pages: Sequence[RealPage], by: str = "page") -> tuple[list[RealPage], list[RealPage]]:
    """(tuning half, held half).

    ``by="page"``: even and odd positions of the pages sorted by id. ``by="publisher"``: the same of
    the publishers (``publisher``) sorted by key, each publisher's pages all in its half, so that what
    is tuned on one site's pages is measured on sites never looked at. Both are stable: they depend
    only on the ids (and URLs) of the pages.
    """
    ordered = sorted(pages, key=lambda p: p.id)
    if by == "page":
        return ordered[0::2], ordered[1::2]
    if by != "publisher":
        raise ValueError(f"unknown split {by!r} (one of {', '.join(SPLITS)})")
    keys = sorted({publisher(p) for p in ordered})
    tuning = set(keys[0::2])
    return [p for p in ordered if publisher(p) in tuning], [p for p in ordered if publisher(p) not in tuning]
