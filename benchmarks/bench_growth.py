"""A week of growth on one warehouse: ``newswire run --until-idle`` once a "day", seven days running.

Each day every feed gains new entries and keeps its latest 50 (as real feeds do, so most of what a
poll returns was seen the day before), and a few of yesterday's entries are corrected. Every day's
run starts on the warehouse and queue the previous days left, so it measures what a deployment that
only grows pays: the articles, versions and raw items already stored, the poller state, the replay
keys the sink and the ledger check. For each day it prints the entries served, the rows expected
and written, seconds (start-up included), new rows per second, CPU seconds, peak RSS and the
warehouse's size; then the last day's CPU per new row against the first day's that served as many entries.

    python -m benchmarks growth                         # 7 days, 100 feeds, 20 new entries a feed a day
    python -m benchmarks growth --days 3 --feeds 20 --per-day 10

Floor: every expected row written every day (no loss, no doubles), and the last day's CPU per new
row within 1.5x of the first full day's (cost flat in what the warehouse already holds).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import duckdb

from benchmarks.bench_run import run_once
from benchmarks.corpus import _sentence

KEEP_LATEST = 50
CORRECTIONS_PER_DAY = 2
FLOOR_CPU_RATIO = 1.5


def _entry(feed: int, i: int, version: int) -> str:
    rng = random.Random(feed * 1_000_003 + i)  # the same entry reads the same every day it is served
    paras = [f"{_sentence(rng)} {_sentence(rng)}" for _ in range(4)]
    if version > 1:
        paras.append(f"This story was corrected: the figure is {version * 7} cases, not {version * 7 + 3}.")
    body = "".join(f"&lt;p&gt;{p}&lt;/p&gt;" for p in paras)
    return (f"<item><title>Growth {feed}-{i}: {_sentence(rng)[:60]}</title>"
            f"<link>https://grow{feed}.example.test/news/{i}</link>"
            f'<guid isPermaLink="false">growth-{feed}-{i}</guid>'
            f"<pubDate>Mon, 02 Nov 2026 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate>"
            f"<description>{body}</description></item>")


def write_day(root: Path, feeds: int, total: int, versions: dict[tuple[int, int], int]) -> int:
    """Write every feed with its latest entries (of ``total`` so far); return entries served."""
    site = root / "site"
    site.mkdir(parents=True, exist_ok=True)
    served = 0
    for f in range(feeds):
        first = max(0, total - KEEP_LATEST)
        items = "".join(_entry(f, i, versions.get((f, i), 1)) for i in range(total - 1, first - 1, -1))
        served += total - first
        (site / f"g{f}.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>Growth outlet {f}</title><link>https://grow{f}.example.test/</link>"
            f"<description>benchmark</description>{items}</channel></rss>")
    (root / "feeds.yaml").write_text("feeds:\n" + "".join(
        f"  - {{id: grow-{f}, url: '{{serve}}/g{f}.xml'}}\n" for f in range(feeds)))
    return served


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--feeds", type=int, default=100)
    p.add_argument("--per-day", type=int, default=20, help="new entries a feed a day")
    p.add_argument("--timeout", type=float, default=600.0, help="--idle-timeout of each run, seconds")
    args = p.parse_args(argv)
    ok = True
    versions: dict[tuple[int, int], int] = {}
    rng = random.Random(5)
    per_row: list[tuple[int, float]] = []  # (entries served, CPU seconds per new row)
    with tempfile.TemporaryDirectory(prefix="newswire-bench-growth-") as tmp:
        root = Path(tmp)
        expected = 0
        for day in range(1, args.days + 1):
            before_total = (day - 1) * args.per_day
            total = day * args.per_day
            new_rows = args.feeds * args.per_day
            if before_total:  # corrections of entries still served, which become version 2, 3, …
                served_from = max(0, total - KEEP_LATEST)
                corrected = {(rng.randrange(args.feeds), rng.randrange(served_from, before_total))
                             for _ in range(CORRECTIONS_PER_DAY)}
                for key in corrected:
                    versions[key] = versions.get(key, 1) + 1
                new_rows += len(corrected)
            served = write_day(root, args.feeds, total, versions)
            expected += new_rows
            elapsed, written, peak, cpu = run_once(root, args.timeout)
            size_mib = (root / "wh.duckdb").stat().st_size / 2**20
            with duckdb.connect(str(root / "wh.duckdb"), read_only=True) as conn:
                distinct = conn.execute("SELECT count(DISTINCT (article_id, version)) FROM articles").fetchone()[0]
            per_row.append((served, cpu / new_rows))
            print(f"day {day}: {served:,} entries served, {new_rows:,} new rows | {written:,} rows "
                  f"(expected {expected:,}, distinct {distinct:,}) in {elapsed:.1f} s | "
                  f"{new_rows / elapsed:.0f} new rows/s | CPU {cpu:.1f} s ({cpu / new_rows * 1e3:.1f} ms a row) | "
                  f"peak RSS {peak / 2**20:.0f} MiB | warehouse {size_mib:.0f} MiB", flush=True)
            if written != expected or distinct != written:
                print(f"  FAIL: {written:,} rows written, {distinct:,} distinct, expected {expected:,}")
                ok = False
    # Feeds fill up to their latest 50 over the first days, and each poll parses all it serves:
    # compare the last day with the first day that served as many entries.
    base_day = next(d for d, (served, _) in enumerate(per_row) if served == per_row[-1][0])
    ratio = per_row[-1][1] / per_row[base_day][1]
    print(f"CPU per new row, day {args.days} / day {base_day + 1} (the first serving as many entries): "
          f"{ratio:.2f} (floor <= {FLOOR_CPU_RATIO:.1f})")
    return 0 if ok and ratio <= FLOOR_CPU_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
