"""Syndication matching alone, as the number of held articles grows: CPU per item of the
:class:`~transforms.syndication.MatchIndex` the local streaming graph holds.

    python -m benchmarks match_growth                     # 5,000 and 20,000 articles, median of 5 runs
    python -m benchmarks match_growth --sizes 5000 20000 --runs 9

The articles are the bodies ``python -m benchmarks run`` serves (benchmarks/bench_run.py: eight
generated sentences each, distinct stories, the same random sequence), fingerprinted and given
their band keys before timing, since the pipeline does that in the step before the index. A run
starts an empty index per size and, for every article in arrival order (first seen a second
apart, all within the TTL, as in a burst), does what ``MatchIndex``'s step does: ``matches`` then
``insert``; the sizes advance together, article by article, so a busy spell of the shared machine
falls on all of them alike. It prints process CPU microseconds per item (median of the runs; each
article timed alone), candidates per item (held articles sharing a bucket with the newcomer within
the TTL) and matches per item, then the largest size against the smallest.

Floor (issue: local streaming that scales): CPU per item at the largest size within 1/0.9 of that
at the smallest, i.e. matching alone does not take the end-to-end rate under 90%.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from benchmarks.corpus import _sentence
from transforms.syndication import DEFAULT_LSH, Fingerprint, MatchIndex, band_keys, fingerprint_bodies

FLOOR_RATIO = 1 / 0.90
T0_MICROS = 1_793_620_800_000_000  # 2026-11-02T12:00:00Z
SECOND = 1_000_000


def run_bodies(n: int, seed: int = 11) -> list[str]:
    """The first ``n`` bodies ``bench_run.write_site`` writes: per entry four paragraphs of two
    sentences, then the title's sentence, from one random sequence."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(n):
        paras = [f"{_sentence(rng)} {_sentence(rng)}" for _ in range(4)]
        _sentence(rng)  # the title
        bodies.append("\n\n".join(paras))
    return bodies


def prepared(bodies: list[str]) -> list[tuple[str, int, Fingerprint, tuple[bytes, ...]]]:
    """(article id, first seen, fingerprint as the step decodes it, band keys) per body."""
    stack = fingerprint_bodies(bodies)
    out = []
    for i in range(len(bodies)):
        fingerprint = Fingerprint.from_bytes(stack.fingerprint(i).with_agency(None).to_bytes())
        out.append((f"bench-{i:06d}", T0_MICROS + i * SECOND, fingerprint, band_keys(fingerprint, DEFAULT_LSH)))
    return out


def feed(articles, index: MatchIndex) -> list[tuple[str, ...]]:
    """What the step does per article: its matches, then hold it."""
    out = []
    for article_id, seen, fingerprint, keys in articles:
        out.append(index.matches(article_id, seen, fingerprint, keys))
        index.insert(article_id, seen, fingerprint, keys)
    return out


def feed_together(articles, sizes: list[int]) -> tuple[dict[int, float], dict[int, list]]:
    """One run of every size, each into its own index, advanced together: after each article of
    the largest, the others take theirs so that all end together. Each article's ``matches`` and
    ``insert`` are timed alone (process CPU time), so every size is measured over the same spell
    of a shared machine. Returns CPU seconds and the matches per size."""
    largest = max(sizes)
    indexes = {size: MatchIndex() for size in sizes}
    spent = dict.fromkeys(sizes, 0.0)
    found: dict[int, list] = {size: [] for size in sizes}
    done = dict.fromkeys(sizes, 0)
    clock = time.process_time
    for k in range(1, largest + 1):
        for size in sizes:
            index, out = indexes[size], found[size]
            while done[size] < k * size // largest:
                article_id, seen, fingerprint, keys = articles[done[size]]
                start = clock()
                matches = index.matches(article_id, seen, fingerprint, keys)
                index.insert(article_id, seen, fingerprint, keys)
                spent[size] += clock() - start
                out.append(matches)
                done[size] += 1
    return spent, found


def candidate_counts(articles) -> list[int]:
    """Candidates per article (bucket-mates within the TTL), in an untimed pass of its own."""
    index = MatchIndex()
    counts = []
    for article_id, seen, fingerprint, keys in articles:
        counts.append(len(index.candidates(seen, keys)))
        index.insert(article_id, seen, fingerprint, keys)
    return counts


def measure(articles, sizes: list[int], runs: int) -> dict[int, dict]:
    """Per size: median CPU us/item over ``runs`` runs of :func:`feed_together`."""
    times: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(runs):
        spent, matches = feed_together(articles, sizes)
        for size in sizes:
            times[size].append(spent[size] / size * 1e6)
    counts = candidate_counts(articles[:max(sizes)])
    out = {}
    for size in sizes:
        mine, found = counts[:size], matches[size]
        out[size] = {"us": statistics.median(times[size]), "spread": (min(times[size]), max(times[size])),
                     "candidates": sum(mine) / size, "last_candidates": sum(mine[-1000:]) / len(mine[-1000:]),
                     "matches": sum(map(len, found)) / size}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[5_000, 20_000])
    p.add_argument("--runs", type=int, default=5, help="timed runs per size; the median is the figure")
    args = p.parse_args(argv)
    everything = prepared(run_bodies(max(args.sizes)))
    results = measure(everything, args.sizes, args.runs)
    for size, r in results.items():
        print(f"{size:>6} articles: {r['us']:.1f} us CPU/item (runs {r['spread'][0]:.1f}-{r['spread'][1]:.1f}) | "
              f"{r['candidates']:.1f} candidates/item ({r['last_candidates']:.1f} over the last 1,000) | "
              f"{r['matches']:.3f} matches/item", flush=True)
    small, large = min(results), max(results)
    if large == small:
        return 0
    ratio = results[large]["us"] / results[small]["us"]
    cand = results[large]["candidates"] / max(results[small]["candidates"], 1e-9)
    print(f"{large:,} / {small:,}: CPU/item x{ratio:.2f} (floor <= {FLOOR_RATIO:.2f}), "
          f"candidates/item x{cand:.2f}")
    return 0 if ratio <= FLOOR_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
