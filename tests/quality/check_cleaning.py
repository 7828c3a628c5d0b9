"""Cleaning quality on the golden corpus: boilerplate leak rate, content recall, agency accuracy.

    python -m tests.quality.check_cleaning [--corpus DIR] [--verbose] [--blind]

``--blind`` then scores the blind corpora of ``tests/quality/blind/`` (written apart from the rules;
``dev`` tuned on, the others only scored) through ``newswire run``, as CI's quality gate does.

The corpus (``tests/quality/golden/``) holds fictional wire stories for every agency, each placed
in a site template (``templates.yaml``): the agency's own feed, a blog repost, a news portal, an
aggregator teaser, scraped markup, non-English portals. For every item the check knows the
sentences that must stay (the story) and the snippets that must go (dateline, agency signature,
about and copyright lines, captions, trailers, and every chrome line of its template). It builds
the raw-item message, runs the real chain (``parse_raw_item`` → ``clean_item``) and measures:

- leak rate: must-go snippets still found in the title, standfirst or body / all must-go snippets;
- recall: must-stay sentences found in the body / all must-stay sentences;
- agency accuracy: items whose ``agency`` is the expected one (``null`` included) / all items.

It exits non-zero when a figure misses its floor (leak ≤ 1%, recall ≥ 99%, agency ≥ 98%).
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import yaml

from transforms.cleaning import RuleSet, clean_item, normalize_text, parse_raw_item
from transforms.cleaning.typography import fold_quotes

GOLDEN = Path(__file__).with_name("golden")
BLIND = Path(__file__).with_name("blind")
FLOORS = {"leak_rate": 0.01, "recall": 0.99, "agency_accuracy": 0.98}
_SENTENCE_END = re.compile(r"(?<=[.!?\"»])\s+(?=[\"«¿¡A-ZÀ-ÞА-Я0-9])")


@dataclass
class GoldenItem:
    id: str
    raw: dict
    keep: list[str]
    gone: list[str]
    agency: str | None
    language: str | None
    template: str


@dataclass
class ItemResult:
    item: GoldenItem
    lost: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    agency: str | None = None
    language: str | None = None
    error: str | None = None


@dataclass
class Report:
    results: list[ItemResult]

    def _ratio(self, num: int, den: int) -> float:
        return num / den if den else 0.0

    @property
    def gone_total(self) -> int:
        return sum(len(r.item.gone) for r in self.results)

    @property
    def keep_total(self) -> int:
        return sum(len(r.item.keep) for r in self.results)

    @property
    def leak_rate(self) -> float:
        return self._ratio(sum(len(r.leaked) for r in self.results), self.gone_total)

    @property
    def recall(self) -> float:
        return self._ratio(self.keep_total - sum(len(r.lost) for r in self.results), self.keep_total)

    @property
    def agency_accuracy(self) -> float:
        return self._ratio(sum(r.agency == r.item.agency and r.error is None for r in self.results),
                           len(self.results))

    @property
    def language_accuracy(self) -> float:
        judged = [r for r in self.results if r.item.language]
        return self._ratio(sum(r.language == r.item.language for r in judged), len(judged))

    def failures(self) -> list[str]:
        out = []
        if self.leak_rate > FLOORS["leak_rate"]:
            out.append(f"leak rate {self.leak_rate:.2%} > {FLOORS['leak_rate']:.0%}")
        if self.recall < FLOORS["recall"]:
            out.append(f"recall {self.recall:.2%} < {FLOORS['recall']:.0%}")
        if self.agency_accuracy < FLOORS["agency_accuracy"]:
            out.append(f"agency accuracy {self.agency_accuracy:.2%} < {FLOORS['agency_accuracy']:.0%}")
        return out


# --- building raw items -------------------------------------------------------------------------

def _smart(text: str) -> str:
    """Typeset straight quotes as a CMS would (the clean text keeps them: the check folds them)."""
    text = re.sub(r"(\w)'(\w)", "\\1\u2019\\2", text)
    text = re.sub(r'"([^"]*)"', "\u201c\\1\u201d", text)
    return text


def _sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(paragraph) if s.strip()]


def _pick(variants: list[str], n: int) -> str:
    return variants[n % len(variants)]


# Text inside the scraped markup's script, style, navigation and form: must never reach the body.
_HTML_NOISE = ("dataLayer.push", "margin: 0", "HomeWorldBusiness", "Search")


def _html_heavy(paras: list[str], caption: str | None, title: str) -> str:
    """Scraped markup around the paragraphs: the noise the HTML normalizer must take apart."""
    lead, rest = paras[0], paras[1:]
    parts = [
        "<nav><ul><li>Home</li><li>World</li><li>Business</li></ul></nav>",
        "<script>window.dataLayer = window.dataLayer || []; dataLayer.push({'page': 'article'});</script>",
        "<style>.entry p { margin: 0 }</style>",
        f"<div class=\"entry\"><h1>{html.escape(title)}</h1>",
        f"<div>{html.escape(lead)}</div>",
    ]
    if caption:
        parts.append('<figure><img src="https://img.example.org/golden.jpg" alt="">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if rest:
        parts.append("<p>" + "<br><br>".join(html.escape(p) for p in rest) + "</p>")
    parts += ['<iframe src="https://video.example.org/embed/1"></iframe>',
              "<form><label>Search</label><input name=\"q\"><button>Go</button></form>", "</div>"]
    return "".join(parts)


def build_item(spec: dict, templates: dict, index: int) -> GoldenItem:
    """The raw-item message for one corpus entry, with what must stay and what must go."""
    t = templates[spec["template"]]
    story = [normalize_text(p) for p in spec["story"]]
    first = f"{spec['dateline']} {story[0]}" if spec.get("dateline") else story[0]
    body_paras = [first, *story[1:]]
    if spec.get("trailer"):
        body_paras[-1] = f"{body_paras[-1]} {spec['trailer']}"
    extras = list(spec.get("extras") or ())
    caption = spec.get("caption")
    gone = [*extras]
    if spec.get("dateline"):
        gone.append(spec["dateline"].rstrip(" -—–:|."))
    if spec.get("trailer"):
        gone.append(spec["trailer"])
    if caption:
        gone.append(caption)

    before = [_pick(v, index) for v in t.get("before") or ()]
    middle = [_pick(v, index) for v in t.get("middle") or ()]
    after = [_pick(v, index + i) for i, v in enumerate(t.get("after") or ())]
    gone += before + middle + after

    paras = [*before]
    if caption:
        paras.append(caption)
    split = min(2, len(body_paras))
    paras += body_paras[:split] + middle + body_paras[split:] + extras + after
    if t.get("smart_quotes"):
        paras = [_smart(p) for p in paras]

    summary = None
    mode = t.get("summary", "none")
    if mode == "echo":
        summary = _smart(story[-1]) if t.get("smart_quotes") else story[-1]
        paras.insert(0, summary)  # printed above the article, as the reference sample does
    elif mode == "standfirst":
        summary = spec.get("standfirst") or f"{story[0].split('. ')[0]}."
    content = None
    if mode == "teaser":
        teaser = _pick(t["teasers"], index).format(title=spec["title"])
        summary = f"<p>{html.escape(first)}{html.escape(teaser)}</p>"
        gone.append(teaser.strip())
        keep = _sentences(story[0])
        gone = [g for g in gone if g not in extras and g != caption and g != spec.get("trailer")]
    else:
        if t.get("html"):
            content = _html_heavy([p for p in paras if p != caption], caption, spec["title"])
            gone += list(_HTML_NOISE)
        else:
            content = "".join(f"<p>{html.escape(p)}</p>" for p in paras)
        keep = [s for p in story for s in _sentences(p)]

    raw = {
        "schema_version": 1,
        "feed_id": f"golden-{spec['template']}",
        "feed_url": "https://golden.example.org/feed.xml",
        "agency_hint": spec.get("agency") if t.get("agency_hint") else None,
        "fetched_at": "2024-03-04T12:00:00Z",
        "http": {},
        "entry": {
            "id": spec["id"], "link": f"https://golden.example.org/{spec['id']}", "title": spec["title"],
            "summary": summary,
            "content": [] if content is None else [{"type": "text/html", "value": content}],
            "published": "Mon, 04 Mar 2024 10:00:00 GMT", "updated": None,
            "author": spec.get("author"), "tags": [], "media": [],
        },
        "page_html": None,
    }
    return GoldenItem(id=spec["id"], raw=raw, keep=keep, gone=[normalize_text(g) for g in gone if g.strip()],
                      agency=spec.get("agency"), language=spec.get("language"), template=spec["template"])


def load_corpus(directory: Path = GOLDEN) -> list[GoldenItem]:
    templates = yaml.safe_load((directory / "templates.yaml").read_text(encoding="utf-8"))["templates"]
    items: list[GoldenItem] = []
    ids: set[str] = set()
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "templates.yaml":
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not data.get("description"):
            raise ValueError(f"{path.name}: a golden file describes itself (description: …)")
        for spec in data["items"]:
            if spec["id"] in ids:
                raise ValueError(f"{path.name}: duplicate item id {spec['id']}")
            ids.add(spec["id"])
            items.append(build_item(spec, templates, len(items)))
    return items


# --- checking -----------------------------------------------------------------------------------

def check_item(item: GoldenItem, rules: RuleSet | None = None) -> ItemResult:
    result = ItemResult(item=item)
    try:
        article = clean_item(parse_raw_item(orjson.dumps(item.raw), {}, item.id), rules=rules)
    except Exception as exc:  # noqa: BLE001 - a failing item is a finding, not a crash of the check
        result.error = f"{type(exc).__name__}: {exc}"
        result.lost = list(item.keep)
        return result
    # The corpus writes its sentences with straight quotes and its templates typeset them; the clean
    # text keeps the publisher's typography, so both sides are compared with quotes folded.
    body = fold_quotes("\n".join(article.body))
    visible = fold_quotes("\n".join([article.title, article.standfirst or "", body]))
    result.lost = [s for s in item.keep if s not in body]
    result.leaked = [g for g in item.gone if g in visible]
    result.agency, result.language = article.agency, article.language
    return result


def run(directory: Path = GOLDEN, rules: RuleSet | None = None) -> Report:
    return Report([check_item(item, rules) for item in load_corpus(directory)])


def render(report: Report, verbose: bool = False) -> str:
    items = report.results
    agencies = sorted({r.item.agency for r in items if r.item.agency})
    templates = sorted({r.item.template for r in items})
    lines = [
        f"golden corpus: {len(items)} items, {len(agencies)} agencies (+ none), "
        f"{len(templates)} site templates ({', '.join(templates)})",
        f"  boilerplate leak rate {report.leak_rate:7.2%}  "
        f"({sum(len(r.leaked) for r in items)}/{report.gone_total} snippets)   floor <= {FLOORS['leak_rate']:.0%}",
        f"  content recall        {report.recall:7.2%}  "
        f"({report.keep_total - sum(len(r.lost) for r in items)}/{report.keep_total} sentences)   "
        f"floor >= {FLOORS['recall']:.0%}",
        f"  agency accuracy       {report.agency_accuracy:7.2%}  "
        f"({sum(r.agency == r.item.agency for r in items)}/{len(items)} items)   floor >= {FLOORS['agency_accuracy']:.0%}",
        f"  language accuracy     {report.language_accuracy:7.2%}  (reported, no floor)",
    ]
    for r in items:
        problems = []
        if r.error:
            problems.append(f"error: {r.error}")
        if r.agency != r.item.agency:
            problems.append(f"agency {r.agency!r}, expected {r.item.agency!r}")
        if r.item.language and r.language != r.item.language:
            problems.append(f"language {r.language!r}, expected {r.item.language!r}")
        problems += [f"leaked: {g[:80]!r}" for g in r.leaked]
        problems += [f"lost: {s[:80]!r}" for s in r.lost]
        if problems and (verbose or r.error or r.leaked or r.lost or r.agency != r.item.agency):
            lines.append(f"  {r.item.id} [{r.item.template}]: " + "; ".join(problems))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Cleaning quality on the golden corpus.")
    ap.add_argument("--corpus", type=Path, default=GOLDEN)
    ap.add_argument("--verbose", action="store_true", help="also list items with only language misses")
    ap.add_argument("--blind", action="store_true",
                    help="then score the blind corpora (tests/quality/blind/: dev is tuned on, the others "
                         "only scored) through newswire run, as the CI gate does")
    args = ap.parse_args(argv)
    report = run(args.corpus)
    print(render(report, args.verbose))
    if args.blind:
        from benchmarks.bench_quality import evaluate, format_report  # noqa: PLC0415

        for part in sorted(p for p in BLIND.iterdir() if (p / "labels.jsonl").exists()):
            role = "tuned on" if part.name == "dev" else "scored only"
            print(f"\nblind corpus {part.name} ({role}):")
            print(format_report(evaluate(part), args.verbose))
    failures = report.failures()
    if failures:
        print("BELOW FLOOR: " + "; ".join(failures))
        return 1
    print("all floors met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
