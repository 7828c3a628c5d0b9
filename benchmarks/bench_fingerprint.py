"""Cost of fingerprinting + LSH per 600-word article on one core, and state held per article.

    python -m benchmarks.bench_fingerprint [--articles 40] [--repeat 25] [--held 20000]

Articles are 600 words assembled from paragraphs of the syndication fixture corpus (shuffled, so
each is different). Timings are medians over many calls on one pinned core; the machine is shared,
so compare ratios between runs rather than absolute values. Exits 1 if the median fingerprint + LSH
cost is above the floor of 1.5 ms.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import numpy as np

from tests.quality.syndication_corpus import load_corpus
from transforms.syndication import (
    DEFAULT_LSH,
    Fingerprint,
    StoryArticle,
    StoryClusterer,
    band_keys,
    fingerprint_bodies,
    fingerprint_body,
    tokenize,
    verify_pair,
    word_shingles,
)

FLOOR_MS = 1.5
ARTICLE_WORDS = 600


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity here)"


def articles_of(words: int, count: int, seed: int = 1) -> list[str]:
    """``count`` distinct bodies of exactly ``words`` tokens built from corpus paragraphs."""
    pool = sorted(
        {p for item in load_corpus() if not item.group.startswith("short") for p in item.body.split("\n")}
    )
    bodies = []
    for n in range(count):
        rng = random.Random(seed * 1000 + n)
        chosen: list[str] = []
        total = 0
        for paragraph in rng.sample(pool, len(pool)):
            size = len(tokenize(paragraph))
            if total + size > words:
                chosen.append(" ".join(paragraph.split()[: words - total]))
                break
            chosen.append(paragraph)
            total += size
        bodies.append("\n".join(chosen))
    return bodies


def median_ms(fn: Callable[[str], object], bodies: Sequence[str], repeat: int) -> float:
    for body in bodies[:5]:
        fn(body)  # warm caches (permutation template, regex)
    samples = []
    for _ in range(repeat):
        for body in bodies:
            start = time.perf_counter_ns()
            fn(body)
            samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1e6


def held_state_bytes(count: int) -> tuple[float, int, float]:
    """Python heap bytes per article held by a StoryClusterer, its LSH bucket count, and the median
    cost of one ``add`` with ``count`` articles held.

    Held articles get distinct random signatures, as unrelated articles have: reusing a few real
    fingerprints would share band buckets and understate the state.
    """
    rng = np.random.default_rng(3)
    fingerprints = [
        Fingerprint(rng.integers(0, 2**32, 128, dtype=np.uint32).astype("<u4").tobytes(), 590, 600)
        for _ in range(count)
    ]
    t0 = datetime(2024, 3, 4, tzinfo=timezone.utc)
    metas = [
        StoryArticle(f"{n:040x}", t0 + timedelta(seconds=n), f"feed-{n % 300}", "ap", False, f"Headline {n}")
        for n in range(count)
    ]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    clusterer = StoryClusterer()
    for meta, fingerprint in zip(metas, fingerprints):
        clusterer.add(meta, fingerprint)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # Objects built before tracing (metadata, fingerprints) are held too; count their share.
    outside = sum(sys.getsizeof(f.signature) + sys.getsizeof(f) for f in fingerprints[:100]) / 100
    outside += sum(sys.getsizeof(m) + sys.getsizeof(m.article_id) + sys.getsizeof(m.title) for m in metas[:100]) / 100
    samples = []
    for n in range(500):
        meta = StoryArticle(f"new-{n}", t0 + timedelta(days=1, seconds=n), "feed-new")
        fingerprint = Fingerprint(rng.integers(0, 2**32, 128, dtype=np.uint32).astype("<u4").tobytes(), 590, 600)
        start = time.perf_counter_ns()
        clusterer.add(meta, fingerprint)
        samples.append(time.perf_counter_ns() - start)
    return (after - before) / count + outside, clusterer.bucket_count(), statistics.median(samples) / 1e3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=40, help="distinct 600-word bodies")
    parser.add_argument("--repeat", type=int, default=25, help="passes over the bodies")
    parser.add_argument("--held", type=int, default=20000, help="articles held for the state measurement")
    args = parser.parse_args(argv)

    print(pin_to_one_core())
    bodies = articles_of(ARTICLE_WORDS, args.articles)
    words = statistics.median(len(tokenize(b)) for b in bodies)
    print(f"{len(bodies)} bodies of {words:.0f} words, {args.repeat} passes, {DEFAULT_LSH.bands} bands x {DEFAULT_LSH.rows} rows")

    shingle_ms = median_ms(word_shingles, bodies, args.repeat)
    fingerprint_ms = median_ms(fingerprint_body, bodies, args.repeat)
    total_ms = median_ms(lambda b: band_keys(fingerprint_body(b)), bodies, args.repeat)
    print(f"tokenize + shingles:            median {shingle_ms:.3f} ms")
    print(f"fingerprint (incl. shingling):  median {fingerprint_ms:.3f} ms")
    print(f"fingerprint + LSH band keys:    median {total_ms:.3f} ms   (floor {FLOOR_MS} ms)")
    batched = []
    for _ in range(args.repeat):
        start = time.perf_counter_ns()
        fingerprint_bodies(bodies)
        batched.append((time.perf_counter_ns() - start) / len(bodies))
    print(f"fingerprint_bodies, {len(bodies)} at once: median {statistics.median(batched) / 1e6:.3f} ms per article "
          "(the batch job's path)")

    a, b = fingerprint_body(bodies[0]), fingerprint_body(bodies[1])
    start = time.perf_counter_ns()
    for _ in range(20000):
        verify_pair(a, b)
    print(f"verify_pair per candidate:      {(time.perf_counter_ns() - start) / 20000 / 1000:.1f} us")

    fp_bytes = len(a.to_bytes())
    id_bytes = 40  # a 40-character article id, e.g. a hex SHA-1
    entry_with_fp = 8 + id_bytes + 8 + fp_bytes  # band key, id, first_seen micros, fingerprint
    entry_id_only = 8 + id_bytes + 8
    bands = len(band_keys(a))  # the LSH bands and the lead's anchor keys
    print(f"serialised fingerprint:         {fp_bytes} bytes ({a.num_perm} x uint32 signature, "
          f"{len(a.sample_values)} x uint32 sample, {fp_bytes - 4 * a.num_perm - len(a.sample)}-byte header)")
    print(f"state per article, band buckets holding the fingerprint:  {bands} x {entry_with_fp} = {bands * entry_with_fp} bytes "
          f"({DEFAULT_LSH.bands} bands + {bands - DEFAULT_LSH.bands} anchors)")
    print(
        f"state per article, band buckets holding ids, fingerprint held once: "
        f"{bands} x {entry_id_only} + {fp_bytes} = {bands * entry_id_only + fp_bytes} bytes"
    )
    per_article, buckets, add_us = held_state_bytes(args.held)
    print(f"StoryClusterer heap per article held ({args.held} held, {buckets} buckets): {per_article:.0f} bytes")
    print(f"StoryClusterer.add with {args.held} held (band keys, lookup, no candidates): median {add_us:.0f} us")

    if total_ms > FLOOR_MS:
        print(f"FAIL: {total_ms:.3f} ms per article is above the {FLOOR_MS} ms floor", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
