"""Throughput of the pure cleaning chain and of ``newswire process`` on the same items, one core.

Floors (issue: core pipeline): pure chain >= 2,000 items/s per core; the DirectRunner batch job
>= 40% of the pure chain. Both are pinned to one CPU and timed in CPU seconds of this process (all
its threads), so other load on a shared machine neither flatters nor penalises either figure.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import make_lines

PURE_FLOOR = 2000.0
RATIO_FLOOR = 0.40


def pure_chain(lines: list[bytes]) -> float:
    from transforms.cleaning import clean_item, parse_raw_item
    from transforms.identity import article_row

    t = time.process_time()
    for i, line in enumerate(lines):
        raw = parse_raw_item(line, {}, f"m{i}")
        article_row(raw, clean_item(raw))
    return len(lines) / (time.process_time() - t)


def process_job(lines: list[bytes], workdir: Path) -> float:
    from pipeline.cli import process

    src = workdir / "items.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    wh = workdir / f"bench-{time.monotonic_ns()}.duckdb"
    t = time.process_time()
    summary = process(str(src), str(wh))
    elapsed = time.process_time() - t
    assert summary.articles_written == len(lines), summary
    return len(lines) / elapsed


def main() -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    # A day of a few dozen feeds: enough that the job's fixed start-up cost (building the graph,
    # starting the engine, opening and checkpointing DuckDB; printed below) does not dominate.
    lines = make_lines(10000)
    pure_chain(lines[:200])  # warm caches (compiled rules, imports)
    pure = statistics.median(pure_chain(lines) for _ in range(5))
    with tempfile.TemporaryDirectory() as tmp:
        process_job(lines[:200], Path(tmp))  # warm Beam imports
        startup = statistics.median(10 / process_job(lines[:10], Path(tmp)) for _ in range(3))
        job = statistics.median(process_job(lines, Path(tmp)) for _ in range(3))
    ratio = job / pure
    print(f"items: {len(lines)} feed items, ~1.5 KB HTML content each, 1 core, CPU time")
    print(f"pure chain (parse → clean → identity): {pure:,.0f} items/s (median of 5)  floor {PURE_FLOOR:,.0f}")
    print(f"newswire process (DirectRunner batch → DuckDB): {job:,.0f} items/s (median of 3); "
          f"fixed start-up per run {startup:.2f} CPU s (a 10-item job)")
    print(f"ratio process / pure: {ratio:.0%}  floor {RATIO_FLOOR:.0%}")
    return 0 if pure >= PURE_FLOOR and ratio >= RATIO_FLOOR else 1


if __name__ == "__main__":
    sys.exit(main())
