"""Real article pages: our text beside trafilatura's, scored the scrapinghub benchmark's way.

    PYTHONPATH=. python -m benchmarks pages --scrapinghub DIR --fundus DIR [--runs 3] [--details FILE]
        [--split page|publisher]

DIR is a local checkout of scrapinghub/article-extraction-benchmark and of flairNLP/fundus (kept
outside this repository; see ``benchmarks.real_pages``). On the same pages, in the same run:

- **full path**: each page as a summary-only feed item, ``page_html`` set, the page's own
  og:description as the feed's summary and its og:title as the title, through ``parse_raw_item`` and
  ``clean_item``; the text is the clean body (the standfirst is a field of its own);
- **extractor**: ``transforms.cleaning.page.extract_page`` alone;
- **trafilatura** default (as the scrapinghub benchmark runs it: ``extract(html,
  include_comments=False)``) and fast (``fast=True``).

For each corpus: F1/precision/recall (``real_pages.score``, checked in the run against the
benchmark's ``evaluate.py`` when the scrapinghub checkout has one), on the tuning half, the held
half and all; the share of output lines that are not story text (on each half and all) and of story
paragraphs lost; pages per CPU-second, the median of ``--runs`` timed passes. The halves
(``real_pages.halves``) are, with ``--split page`` (the default), the even and odd positions of the
pages sorted by id; with ``--split publisher``, of the publishers sorted by key (fundus'
``<country>/<Publisher>``, else the URL's host), so that the held half is sites never tuned on. How the full path chose its text (``page.*`` markers) is counted too.

Floors (exit 1 under any): full-path F1 ≥ 0.96 on scrapinghub and ≥ 0.95 on fundus; leaked lines on
fundus under half of the lower of trafilatura's two shares; full-path pages/s ≥ 2x the faster
trafilatura's on every corpus.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import trafilatura

from benchmarks.real_pages import RealPage, halves, line_shares, load_fundus, load_scrapinghub, score
from transforms.cleaning import clean_item, parse_raw_item
from transforms.cleaning.page import extract_page

FLOOR_F1 = {"scrapinghub": 0.96, "fundus": 0.95}
FLOOR_LEAK_RATIO = 0.5   # of trafilatura's leaked-line share
FLOOR_SPEED_RATIO = 2.0  # of trafilatura's pages/s

Output = tuple[list[str], str]  # (lines, how the text was chosen)


def item_bytes(page: RealPage) -> bytes:
    return orjson.dumps({
        "schema_version": 1, "feed_id": "real-pages", "feed_url": "https://feeds.example.org/rss.xml",
        "agency_hint": None, "fetched_at": "2024-03-04T10:00:00Z", "http": {},
        "entry": {"id": page.url or page.id, "link": page.url or None, "title": page.title,
                  "summary": page.summary or None, "content": [], "published": None, "updated": None,
                  "author": None, "tags": [], "media": []},
        "page_html": page.html,
    })


def _full(data: bytes) -> Output:
    article = clean_item(parse_raw_item(data, {}, "bench"))
    marker = next((r for r in article.removed_rules if r.startswith("page.")), "")
    return list(article.body), marker


def _lines(text: str | None) -> list[str]:
    return [ln for ln in (text or "").splitlines() if ln.strip()]


def systems(pages: Sequence[RealPage]) -> dict[str, tuple[list, Callable[[object], Output]]]:
    """name → (inputs, function of one input); inputs are prepared outside the timed loop."""
    htmls = [p.html for p in pages]
    return {
        "newswire full path": ([item_bytes(p) for p in pages], _full),
        "newswire extractor": (list(zip(htmls, [p.url for p in pages])),
                               lambda a: (extract_page(a[0], base_url=a[1] or None).paragraphs, "")),
        "trafilatura default": (htmls, lambda h: (_lines(trafilatura.extract(h, include_comments=False)), "")),
        "trafilatura fast": (htmls, lambda h: (_lines(trafilatura.extract(h, include_comments=False, fast=True)), "")),
    }


def run_system(inputs: list, fn: Callable[[object], Output], runs: int) -> tuple[list[Output], float]:
    """Outputs of one pass, and the median pages per CPU-second over ``runs`` passes."""
    outputs = [fn(x) for x in inputs]  # also warms imports and rule caches
    # As ``newswire process`` does (pipeline/cli.py): what is imported and loaded lives as long as
    # the process, and frozen it is not re-scanned by every collection the pages' many short-lived
    # objects trigger. The same for every system measured.
    gc.freeze()
    rates = []
    try:
        for _ in range(runs):
            t0 = time.process_time()
            for x in inputs:
                fn(x)
            rates.append(len(inputs) / (time.process_time() - t0))
    finally:
        gc.unfreeze()
    return outputs, statistics.median(rates)


def _evaluate_py(root: Path | None):
    path = root / "evaluate.py" if root else None
    if path is None or not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("scrapinghub_evaluate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evaluate_py_f1(module, pages: Sequence[RealPage], outputs: Sequence[Output]) -> float:
    truth = {p.id: {"articleBody": p.truth_text} for p in pages}
    pred = {p.id: {"articleBody": "\n".join(o[0])} for p, o in zip(pages, outputs)}
    return module.evaluate(truth, pred, n_bootstrap=0)["f1"]


def _leaked(counts: Sequence[tuple[int, int, int, int]]) -> float:
    return sum(c[0] for c in counts) / max(1, sum(c[1] for c in counts))


def run_real(scrapinghub: str | None, fundus: str | None, *, runs: int = 3, details: str | None = None,
             split: str = "page") -> int:
    corpora: dict[str, list[RealPage]] = {}
    if scrapinghub:
        corpora["scrapinghub"] = load_scrapinghub(Path(scrapinghub))
    if fundus:
        corpora["fundus"] = load_fundus(Path(fundus))
    evaluate = _evaluate_py(Path(scrapinghub) if scrapinghub else None)
    failures: list[str] = []
    dump: dict = {}
    for corpus, pages in corpora.items():
        tune, held = halves(pages, by=split)
        tune_ids = {p.id for p in tune}
        print(f"\n{corpus}: {len(pages)} pages (split by {split}: tuning half {len(tune)}, held half {len(held)}), "
              f"{statistics.mean(len(p.html) for p in pages) / 1024:.0f} KB mean; CPU time, median of {runs} runs")
        print(f"{'system':<22} {'F1 tune':>8} {'F1 held':>8} {'F1 all':>7} {'prec':>6} {'recall':>6} "
              f"{'leaked':>7} {'lk tune':>7} {'lk held':>7} {'lost':>6} {'pages/s':>8}")
        results = {}
        for name, (inputs, fn) in systems(pages).items():
            outputs, rate = run_system(inputs, fn, runs)
            pairs = [(p.truth_text, "\n".join(o[0])) for p, o in zip(pages, outputs)]
            s_all = score(pairs)
            s_tune = score(pr for pr, p in zip(pairs, pages) if p.id in tune_ids)
            s_held = score(pr for pr, p in zip(pairs, pages) if p.id not in tune_ids)
            counts = [line_shares(p.truth, o[0]) for p, o in zip(pages, outputs)]
            leaked = _leaked(counts)
            leak_tune = _leaked([c for c, p in zip(counts, pages) if p.id in tune_ids])
            leak_held = _leaked([c for c, p in zip(counts, pages) if p.id not in tune_ids])
            lost = sum(c[2] for c in counts) / max(1, sum(c[3] for c in counts))
            results[name] = (s_all, leaked, rate)
            print(f"{name:<22} {s_tune.f1:8.3f} {s_held.f1:8.3f} {s_all.f1:7.3f} {s_all.precision:6.3f} "
                  f"{s_all.recall:6.3f} {leaked:7.1%} {leak_tune:7.1%} {leak_held:7.1%} {lost:6.1%} {rate:8.1f}")
            if evaluate is not None:
                theirs = evaluate_py_f1(evaluate, pages, outputs)
                if abs(theirs - s_all.f1) > 1e-9:
                    failures.append(f"{corpus} {name}: our F1 {s_all.f1:.6f} but evaluate.py's {theirs:.6f}")
            markers = Counter(o[1] for o in outputs if o[1])
            if markers:
                print(f"{'':<22} text chosen: " + ", ".join(f"{k} {v}" for k, v in markers.most_common()))
            if details:
                for p, o, (t, pr) in zip(pages, outputs, pairs):
                    dump.setdefault(f"{corpus}:{p.id}", {"truth": p.truth, "summary": p.summary,
                                                         "half": "tune" if p.id in tune_ids else "held"})[name] = {
                        "f1": score([(t, pr)]).f1, "marker": o[1], "lines": o[0]}
        if evaluate is not None:
            print("F1 checked against the benchmark's evaluate.py on every system: "
                  + ("same" if not any(f.startswith(corpus) for f in failures) else "DIFFERENT"))
        full_f1, full_leak, full_rate = results["newswire full path"]
        traf = [results["trafilatura default"], results["trafilatura fast"]]
        if full_f1.f1 < FLOOR_F1[corpus]:
            failures.append(f"{corpus}: full-path F1 {full_f1.f1:.3f} under {FLOOR_F1[corpus]}")
        fastest = max(r[2] for r in traf)
        if full_rate < FLOOR_SPEED_RATIO * fastest:
            failures.append(f"{corpus}: full path {full_rate:.1f} pages/s, under {FLOOR_SPEED_RATIO}x "
                            f"trafilatura's {fastest:.1f}")
        if corpus == "fundus":
            least = min(r[1] for r in traf)
            if full_leak >= FLOOR_LEAK_RATIO * least:
                failures.append(f"fundus: {full_leak:.1%} of lines leaked, not under half of trafilatura's {least:.1%}")
    if details:
        Path(details).write_text(json.dumps(dump, ensure_ascii=False, indent=1), encoding="utf-8")
    print("\nfloors: F1 ≥ " + ", ".join(f"{k} {v}" for k, v in FLOOR_F1.items() if k in corpora)
          + f"; fundus leaked lines < {FLOOR_LEAK_RATIO:.0%} of trafilatura's; full path ≥ "
          f"{FLOOR_SPEED_RATIO:.0f}x trafilatura's pages/s")
    for f in failures:
        print(f"  below floor: {f}")
    return 1 if failures else 0
