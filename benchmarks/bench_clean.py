"""Throughput of the pure cleaning chain (parse → clean [→ identity]) on feed-sized items, one core.

Items are generated (fictional text, fixed seed) to look like republished wire copy: about 1.5 KB of
HTML content with a dateline, a caption with a credit, inline markup, entities and a few lines of
site chrome, so every stage does its real work; run with rules only, with a source's learned lines
on, and with learning on as the pipeline runs it (each item cleaned with its source's learned lines,
then counted by the source's learner). Each run cleans items of its own (a stream brings no story
twice; warmed first on others). Prints the median items per CPU-second of this process (= per core,
unaffected by other processes competing for the cores) over several runs; then, in the same run and
on the same items, the rate of trafilatura.extract (fast and default) on their HTML,
the median time of each stage, and whether the floor is met (by every variant's median).

    PYTHONPATH=. python -m benchmarks.bench_clean [--items 2000] [--runs 5] [--reference-items 500]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import datetime, timedelta, timezone

import orjson

from transforms.cleaning import clean_item, paragraph_key, parse_raw_item

try:  # identity joins the chain when it is part of the checkout
    from transforms.identity import article_row
except ImportError:  # pragma: no cover - depends on the checkout
    article_row = None

FLOOR_ITEMS_PER_S = 2000
# Sentence frames with the function-word mix of real English news copy.
_FRAMES = (
    "The {n1} of the {n2} said on {day} that the {n3} would {v} the {n4} after {k} {n5}s.",
    "Officials from the {n1} told reporters that {k} {n2}s had been {vp} by the {n3}.",
    "The {n1} has {vp} its plan for the {n2}, which {v}s {k} {n3}s in the region.",
    "\"We will {v} the {n1} as soon as the {n2} is {vp},\" the {n3} said in a statement.",
    "It was not clear whether the {n1} could {v} the {n2} before the {n3} meets on {day}.",
)
_NOUNS = ("harbour", "council", "ferry", "minister", "coast guard", "port", "fleet", "union", "trader",
          "ministry", "quota", "storm", "budget", "terminal", "island", "court", "company", "plant")
_VERBS = ("reopen", "review", "approve", "delay", "expand", "close", "fund", "inspect")
_VPS = ("approved", "delayed", "reviewed", "closed", "funded", "inspected")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_AGENCIES = [("BEIJING, Nov. 5 (Xinhua) -- ", "(Xinhua/Li Wen)", "Xinhua News Agency"),
             ("WASHINGTON (AP) — ", "(AP Photo/Lena Ortiz)", "Copyright 2024 The Associated Press. All rights reserved."),
             ("LONDON, May 2 (Reuters) - ", "(Photo: Reuters)", "(Reporting by Ana Perez; Editing by Tom Baird)"),
             ("PARIS (AFP) - ", "(Photo by Luc Martin/AFP)", "bur-sst/jm"),
             ("ANKARA (AA) - ", "(Emre Kaya - Anadolu Agency)", "Anadolu Agency")]
_CHROME = ["1 min read", "Share this:", "Advertisement", "Leave a Reply",
           "Your email address will not be published.", "Latest from Blog"]


def _sentence(rng: random.Random) -> str:
    n = rng.sample(_NOUNS, 5)
    return rng.choice(_FRAMES).format(n1=n[0], n2=n[1], n3=n[2], n4=n[3], n5=n[4], v=rng.choice(_VERBS),
                                      vp=rng.choice(_VPS), day=rng.choice(_DAYS), k=rng.randint(2, 90))


def make_items(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        dateline, credit, signature = _AGENCIES[i % len(_AGENCIES)]
        paras = [dateline + _sentence(rng) + " " + _sentence(rng)]
        paras += [f"{_sentence(rng)} The <em>{rng.choice(_NOUNS)}</em> &amp; {_sentence(rng)}" for _ in range(5)]
        paras.insert(1, f"{_sentence(rng)} {credit}")
        html = "".join(f"<p>{p}</p>" for p in [rng.choice(_CHROME), *paras, signature, LEARNED_LINE, *_CHROME[3:]])
        item = {
            "schema_version": 1, "feed_id": f"bench-{i % 7}", "feed_url": "https://bench.example.org/rss",
            "agency_hint": None, "fetched_at": "2024-03-04T10:00:00Z", "http": {},
            "entry": {"id": f"bench-{i}", "link": f"https://bench.example.org/a/{i}?utm_source=rss",
                      "title": f"{rng.choice(_NOUNS).capitalize()} {rng.choice(_VPS)} after {rng.choice(_NOUNS)} talks - Bench News", "summary": paras[2][:200],
                      "content": [{"type": "text/html", "value": html}],
                      "published": "Mon, 04 Mar 2024 09:30:00 GMT", "updated": None, "author": None,
                      "tags": ["world"], "media": []},
            "page_html": None,
        }
        out.append(orjson.dumps(item))
    return out


# A source's learned boilerplate, as transforms.learning would hold it: 60 lines, one of which every
# bench item carries (so learned removal really runs).
LEARNED_LINE = "Bench News: independent harbour and shipping news since 2009"
LEARNED = frozenset({paragraph_key(LEARNED_LINE)} | {paragraph_key(f"Bench learned line {i}") for i in range(59)})


def _chain(data: bytes, learned: frozenset[str] = frozenset()) -> object:
    raw = parse_raw_item(data, {}, "bench")
    clean = clean_item(raw, learned=learned)
    return article_row(raw, clean) if article_row is not None else clean


def _warm_items(items: list[bytes]) -> list[bytes]:
    """Items of the same kinds but other texts (another seed), as many as are timed: the rule
    matchers compile their per-character buckets and rule subsets on first use, and a process
    that has cleaned a few thousand items has built the ones its sources need. Warming on other
    items leaves no answer cached for the timed texts."""
    return make_items(len(items), seed=8)


def run_items(items: list[bytes], runs: int) -> list[list[bytes]]:
    """The items of each timed run: ``items`` first, then as many new ones per run (other seeds).
    A stream never brings the same story text twice, and the matchers remember their answers per
    text: timing a run on items already cleaned would time those memories, not the cleaning."""
    return [items] + [make_items(len(items), seed=100 + k) for k in range(1, runs)]


def measure(items: list[bytes], runs: int, learned: frozenset[str] = frozenset()) -> list[float]:
    for data in _warm_items(items):  # warm: imports, rule compilation, buckets
        _chain(data, learned)
    rates = []
    for batch in run_items(items, runs):
        # CPU time of this process: on a shared machine, time spent waiting for a core is not
        # the chain's cost. Items per CPU-second is the per-core throughput.
        t0 = time.process_time()
        for data in batch:
            _chain(data, learned)
        rates.append(len(batch) / (time.process_time() - t0))
    return rates


def _learners(items: list[bytes]) -> dict:
    """One learner per bench feed, as the pipeline holds them, each having learned LEARNED_LINE
    already (seen on every item of thirty stories over six days)."""
    from transforms.learning import FeedLearner, LearnConfig

    config = LearnConfig()
    t0 = datetime(2024, 2, 20, tzinfo=timezone.utc)
    learners = {}
    for feed in sorted({orjson.loads(d)["feed_id"] for d in items}):
        learner = learners[feed] = FeedLearner.new(feed, config)
        for i in range(30):
            learner.observe_lines([LEARNED_LINE, f"Warm-up story {i} of {feed}."], at=t0 + timedelta(hours=5 * i),
                                  story=f"warm-{i}", now=t0)
        assert learner.learned() == {paragraph_key(LEARNED_LINE)}
    return learners


def measure_learning(items: list[bytes], runs: int) -> list[float]:
    """The chain as the pipeline runs it with learning on: each item cleaned with its source's
    learned lines, then counted by the source's learner (which keeps its state bounded)."""
    learners = _learners(items)
    now = datetime.now(timezone.utc)
    def chain(data: bytes, learners: dict = learners) -> None:
        raw = parse_raw_item(data, {}, "bench")
        learner = learners[raw.feed_id]
        before = learner.learned()
        clean = clean_item(raw, learned=before)
        learner.observe(raw, clean, now=now)
        if hasattr(learner, "settle"):  # the quick tier's steps, when part of the checkout
            clean = learner.settle(clean, before, lambda learned: clean_item(raw, learned=learned))
        if article_row is not None:
            article_row(raw, clean)

    warm = _learners(items)  # (learners of their own: the timed ones start as they were)
    for data in _warm_items(items):
        chain(data, warm)
    rates = []
    for batch in run_items(items, runs):
        t0 = time.process_time()
        for data in batch:
            chain(data)
        rates.append(len(batch) / (time.process_time() - t0))
    return rates


def stage_times(items: list[bytes], runs: int = 3) -> dict[str, float]:
    """Median CPU µs per item of each stage, each timed alone over every item of a batch, a new
    batch per run (as ``measure``), to find hot spots."""
    from transforms.cleaning import (
        clean_title,
        detect_language,
        html_to_blocks,
        pick_body,
        split_standfirst,
        strip_boilerplate,
    )

    def prepared(batch: list[bytes], cleaned: bool) -> dict:
        """A batch parsed and split into paragraphs; ``cleaned``: also cleaned, for the stages that
        come after cleaning (the others must meet text their caches have not seen)."""
        raws = [parse_raw_item(d, {}, "bench") for d in batch]
        bodies = [html_to_blocks(pick_body(r.entry)[0]).paragraphs for r in raws]
        b = {"batch": batch, "raws": raws, "bodies": bodies}
        if cleaned:
            b["cleans"] = [clean_item(r) for r in raws]
            b["cleaned"] = [strip_boilerplate(p).paragraphs for p in bodies]
        return b

    stages = {
        "parse": lambda b: [parse_raw_item(d, {}, "bench") for d in b["batch"]],
        "html → paragraphs": lambda b: [html_to_blocks(pick_body(r.entry)[0]) for r in b["raws"]],
        "summary → paragraphs": lambda b: [html_to_blocks(r.entry.summary) for r in b["raws"]],
        "title": lambda b: [clean_title(r.entry.title, host="bench.example.org") for r in b["raws"]],
        "standfirst": lambda b: [split_standfirst(r.entry.summary, p) for r, p in zip(b["raws"], b["bodies"])],
        "boilerplate": lambda b: [strip_boilerplate(p) for p in b["bodies"]],
        "language": lambda b: [detect_language("", p) for p in b["cleaned"]],
        "clean_item (all)": lambda b: [clean_item(r) for r in b["raws"]],
    }
    if article_row is not None:
        stages["identity (article_row)"] = lambda b: [article_row(r, c) for r, c in zip(b["raws"], b["cleans"])]
    stages["whole chain"] = lambda b: [_chain(d) for d in b["batch"]]
    after_cleaning = {"language", "identity (article_row)"}
    for data in _warm_items(items):
        _chain(data)
    out = {}
    seed = 1000
    for name, stage in stages.items():
        times = []
        for _ in range(runs):  # a new batch per run, nothing has seen it
            seed += 1
            b = prepared(make_items(len(items), seed=seed), cleaned=name in after_cleaning)
            times.append(_stage_time(stage, b, len(items)))
        out[name] = statistics.median(times)
    return out


def _stage_time(stage, batch: dict, n: int) -> float:
    t0 = time.process_time()
    stage(batch)
    return (time.process_time() - t0) / n * 1e6


def trafilatura_rates(items: list[bytes], runs: int) -> dict[str, list[float]]:
    """Items per CPU-second of ``trafilatura.extract`` on the same items' content HTML: a reference
    for what a general-purpose extractor costs on the same bytes (it does less: no rules, agency,
    dateline, images, dates or identity)."""
    import trafilatura

    batches = [[orjson.loads(d)["entry"]["content"][0]["value"] for d in b] for b in run_items(items, runs)]
    out: dict[str, list[float]] = {}
    for label, kwargs in (("trafilatura.extract(fast=True)", {"fast": True}), ("trafilatura.extract", {})):
        for markup in batches[0][:20]:
            trafilatura.extract(markup, **kwargs)
        rates = []
        for markups in batches:
            t0 = time.process_time()
            for markup in markups:
                trafilatura.extract(markup, **kwargs)
            rates.append(len(markups) / (time.process_time() - t0))
        out[label] = rates
    return out


def run(n_items: int = 2000, runs: int = 5, learned: frozenset[str] = frozenset(), *, learning: bool = False) -> dict:
    items = make_items(n_items)
    rates = measure_learning(items, runs) if learning else measure(items, runs, learned)
    content = [len(orjson.loads(d)["entry"]["content"][0]["value"]) for d in items]
    return {"items": n_items, "runs": runs, "median_items_per_s": statistics.median(rates),
            "min_items_per_s": min(rates), "max_items_per_s": max(rates),
            "mean_content_bytes": statistics.mean(content), "with_identity": article_row is not None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--reference-items", type=int, default=500,
                    help="how many of the same items trafilatura extracts (it is ~10x slower)")
    ap.add_argument("--profile", action="store_true", help="print the top functions of one run instead")
    ap.add_argument("--stages", action="store_true", help="print only the time of each stage")
    args = ap.parse_args(argv)
    if args.stages:
        for name, us in stage_times(make_items(args.items)).items():
            print(f"{name:>24}: {us:7.1f} µs/item")
        return 0
    if args.profile:
        import cProfile
        import pstats

        items = make_items(args.items)
        measure(items[:100], 1)
        prof = cProfile.Profile()
        prof.runcall(measure, items, 1)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        return 0
    ok = True
    floor_rate = None
    for label, learned, learning in (("rules only", frozenset(), False),
                                     (f"+ {len(LEARNED)} learned lines", LEARNED, False),
                                     ("+ learning: the source's learned lines, each item counted", None, True)):
        r = run(args.items, args.runs, learned, learning=learning)
        chain = "parse → clean → identity" if r["with_identity"] else "parse → clean"
        print(f"pure chain ({chain}, {label}), one core, {r['items']} items of ~{r['mean_content_bytes']:.0f} B "
              f"HTML, {r['runs']} runs: median {r['median_items_per_s']:,.0f} items/s "
              f"(min {r['min_items_per_s']:,.0f}, max {r['max_items_per_s']:,.0f}); floor {FLOOR_ITEMS_PER_S:,}/s", flush=True)
        ok = ok and r["median_items_per_s"] >= FLOOR_ITEMS_PER_S
        floor_rate = r["median_items_per_s"] if floor_rate is None else min(floor_rate, r["median_items_per_s"])
    # The same items (the first --reference-items of them) through trafilatura, in this process.
    items = make_items(args.items)
    ours = statistics.median(measure(items[: args.reference_items], args.runs))
    print(f"reference, same run, the same {min(args.reference_items, len(items))} items per run, median of "
          f"{args.runs} runs:")
    print(f"{'this chain (rules only)':>34}: {ours:8,.0f} items/s")
    for label, rates in trafilatura_rates(items[: args.reference_items], args.runs).items():
        rate = statistics.median(rates)
        print(f"{label:>34}: {rate:8,.0f} items/s  (this chain: {ours / rate:.1f}x)")
    print(f"per stage (median CPU µs per item, each stage timed alone over {len(items)} items):")
    for name, us in stage_times(items).items():
        print(f"{name:>34}: {us:8.1f}")
    print(f"cleaning floor {FLOOR_ITEMS_PER_S:,} items/s per core: "
          f"{'met' if ok else 'NOT met'} (slowest variant's median {floor_rate:,.0f} items/s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
