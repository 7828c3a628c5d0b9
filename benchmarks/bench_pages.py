"""Throughput of the cleaning chain on items that carry their full article page, one core.

Pages come from ``benchmarks.pages_corpus``: fictional wire stories in four site templates, 50–150 KB
each (inline CSS and scripts, mega menus, cookie banner, share bar, related cards, comments, sidebar,
footer, app-state JSON). Each item is a summary-only feed entry with ``page_html`` set, and the chain
is the pipeline's: parse → clean (pre-trim, trafilatura in fast mode, the feed rules) → identity.
Prints pages per CPU-second of this process (= per core) as the median of several runs, the share
of time in each stage, and how well the text came out (every story paragraph kept, no chrome left).

    PYTHONPATH=. python -m benchmarks.bench_pages [--pages 200] [--runs 5] [--stages] [--profile]

With ``--scrapinghub DIR`` and/or ``--fundus DIR`` (local checkouts of
scrapinghub/article-extraction-benchmark and flairNLP/fundus) it measures real pages instead: see
``benchmarks.bench_real_pages``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import orjson

from benchmarks.timing import time_stages
from benchmarks.pages_corpus import Page, make_pages
from benchmarks.real_pages import SPLITS
from transforms.cleaning import clean_item, paragraph_key, parse_raw_item
from transforms.identity import article_row

FLOOR_PAGES_PER_S = 250


def item_bytes(page: Page, i: int) -> bytes:
    return orjson.dumps({
        "schema_version": 1, "feed_id": f"pages-{i % 5}", "feed_url": "https://feeds.example.org/world.xml",
        "agency_hint": None, "fetched_at": "2024-03-04T10:00:00Z", "http": {},
        "entry": {"id": f"page-{i}", "link": page.link, "title": f"{page.title} - Site News",
                  "summary": page.summary, "content": [], "published": "Mon, 04 Mar 2024 09:30:00 GMT",
                  "updated": None, "author": "Staff Reporter", "tags": ["world"], "media": []},
        "page_html": page.html,
    })


def _chain(data: bytes) -> dict:
    raw = parse_raw_item(data, {}, "bench")
    return article_row(raw, clean_item(raw))


def measure(items: list[bytes], runs: int) -> list[float]:
    for data in items:  # warm: rule buckets are built on first use, imports, caches
        _chain(data)
    rates = []
    for _ in range(runs):
        # CPU time of this process, so waiting for a core on a shared machine is not counted.
        t0 = time.process_time()
        for data in items:
            _chain(data)
        rates.append(len(items) / (time.process_time() - t0))
    return rates


def quality(pages: list[Page], items: list[bytes]) -> dict:
    """Story paragraphs recovered exactly, and output paragraphs that are not story text."""
    expected = kept = leaked = out = agency_ok = from_page = 0
    for page, data in zip(pages, items):
        raw = parse_raw_item(data, {}, "bench")
        clean = clean_item(raw)
        keys = [paragraph_key(p) for p in page.body]
        got = [paragraph_key(p) for p in clean.body]
        expected += len(keys)
        kept += sum(k in got for k in keys)
        out += len(got)
        leaked += sum(g not in keys for g in got)
        agency_ok += clean.agency == page.agency
        from_page += clean.body_source == "page"
    return {"recall": kept / expected, "leak": leaked / out, "agency": agency_ok / len(pages),
            "from_page": from_page / len(pages)}


def stage_times(items: list[bytes]) -> dict[str, float]:
    """Median CPU µs per page of each stage, each timed alone over every page."""
    from selectolax.lexbor import LexborHTMLParser

    from transforms.cleaning import page as pg

    import trafilatura

    raws = [parse_raw_item(d, {}, "bench") for d in items]
    stages = {
        "parse (orjson + contract)": lambda: [parse_raw_item(d, {}, "bench") for d in items],
        "lexbor parse of the page": lambda: [LexborHTMLParser(r.page_html) for r in raws],
        "extract_page (trim + trafilatura)": lambda: [pg.extract_page(r.page_html, base_url=r.entry.link)
                                                      for r in raws],
        "clean_item (all)": lambda: [clean_item(r) for r in raws],
        # For comparison, what the pre-trim saves: trafilatura alone on the whole page.
        "trafilatura fast, untrimmed page": lambda: [
            trafilatura.bare_extraction(r.page_html, options=pg.TRAFILATURA_OPTIONS) for r in raws],
        "trafilatura default, untrimmed": lambda: [
            trafilatura.bare_extraction(r.page_html, include_comments=False, include_tables=False) for r in raws],
    }
    return time_stages(stages, len(items))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--runs", type=int, default=None, help="timed runs (5; 3 on real pages)")
    ap.add_argument("--stages", action="store_true", help="print the time of each stage instead")
    ap.add_argument("--profile", action="store_true", help="print the top functions of one run instead")
    ap.add_argument("--scrapinghub", metavar="DIR", help="real pages: a checkout of article-extraction-benchmark")
    ap.add_argument("--fundus", metavar="DIR", help="real pages: a checkout of flairNLP/fundus")
    ap.add_argument("--details", metavar="FILE", help="real pages: write each page's outputs and scores")
    ap.add_argument("--split", choices=SPLITS, default="page",
                    help="real pages: halves by page (even/odd ids) or by publisher (even/odd publishers)")
    args = ap.parse_args(argv)
    if args.scrapinghub or args.fundus:
        from benchmarks.bench_real_pages import run_real

        return run_real(args.scrapinghub, args.fundus, runs=args.runs or 3, details=args.details,
                        split=args.split)
    args.runs = args.runs or 5
    pages = make_pages(args.pages)
    items = [item_bytes(p, i) for i, p in enumerate(pages)]
    if args.stages:
        for name, us in stage_times(items).items():
            print(f"{name:>36}: {us:8.1f} µs/page")
        return 0
    if args.profile:
        import cProfile
        import pstats

        measure(items, 0)
        prof = cProfile.Profile()
        prof.runcall(measure, items, 1)
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
        return 0
    rates = measure(items, args.runs)
    q = quality(pages, items)
    sizes = [len(p.html) / 1024 for p in pages]
    median = statistics.median(rates)
    print(f"full pages (parse → clean from page_html → identity), one core, {len(pages)} pages of "
          f"{min(sizes):.0f}–{max(sizes):.0f} KB (mean {statistics.mean(sizes):.0f} KB), {args.runs} runs: "
          f"median {median:,.0f} pages/s (min {min(rates):,.0f}, max {max(rates):,.0f}); "
          f"floor {FLOOR_PAGES_PER_S}/s")
    print(f"text: body from the page {q['from_page']:.1%}, story paragraphs kept {q['recall']:.2%}, "
          f"non-story paragraphs in the body {q['leak']:.2%}, agency right {q['agency']:.1%}")
    return 0 if median >= FLOOR_PAGES_PER_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
