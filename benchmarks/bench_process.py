"""Throughput of the pure cleaning chain and of ``newswire process`` on the same items, one core;
then ``newswire process`` at growing sizes.

Floors (issue: core pipeline): pure chain >= 2,000 items/s per core; the DirectRunner batch job
>= 40% of the pure chain. Both are pinned to one CPU and timed in CPU seconds of this process (all
its threads), so other load on a shared machine neither flatters nor penalises either figure.

Scaling (issue: cost per item flat in the number of items): ``newswire process`` as its own
process on 10,000 and 100,000 items (``--sizes``), each timed in CPU seconds with its peak RSS; the
CPU per item beyond a 10-item job's (the fixed start-up) at the largest size must stay within 1.2x
of that at the smallest. Each size runs ``--runs`` times (3), the sizes interleaved, and the ratio
is of the medians: one run of each swings from 0.9 to 1.3 on a shared machine.

    python -m benchmarks process                              # both parts
    python -m benchmarks process --sizes 10000 50000 --no-chain --runs 1
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.corpus import make_item, make_lines

PURE_FLOOR = 2000.0
RATIO_FLOOR = 0.40
SCALING_FLOOR = 1.2
ROOT = Path(__file__).resolve().parents[1]


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


def process_command(lines_path: Path, workdir: Path) -> dict:
    """One ``newswire process`` in a process of its own: wall and CPU seconds, peak RSS."""
    wh = workdir / f"bench-{time.monotonic_ns()}.duckdb"
    cmd = [sys.executable, "-m", "pipeline.cli", "process", "--input", str(lines_path), "--warehouse", str(wh)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"newswire process failed: {err[-2000:]}")
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(wh), read_only=True) as conn:
        written = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
            "written": written}


def write_lines(path: Path, n: int) -> None:
    """``make_lines(n)``, written as it is made (100,000 items are 260 MB)."""
    rng = random.Random(7)
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps(make_item(i, rng)) + b"\n")


def scaling(sizes: list[int], runs: int = 3) -> bool:
    """Each size ``runs`` times, the sizes interleaved (10k, 100k, 10k, 100k, ...) so that a busy
    spell of the shared machine falls on both alike; the ratio is of the medians."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        small = work / "items-10.jsonl"
        write_lines(small, 10)
        fixed = statistics.median(process_command(small, work)["cpu"] for _ in range(3))
        print(f"newswire process, one process per size: fixed start-up {fixed:.1f} CPU s (a 10-item job); "
              f"{runs} runs of each size, interleaved", flush=True)
        sources = {}
        for n in sorted(sizes):
            sources[n] = work / f"items-{n}.jsonl"
            write_lines(sources[n], n)
        per_item: dict[int, list[float]] = {n: [] for n in sources}
        peak: dict[int, list[float]] = {n: [] for n in sources}
        for run in range(runs):
            for n, src in sources.items():
                r = process_command(src, work)
                per_item[n].append((r["cpu"] - fixed) / n)
                peak[n].append(r["peak_mib"])
                ok_written = r["written"] == n
                print(f"run {run + 1}: {n:>7} items: {r['written']} written in {r['wall']:.1f} s "
                      f"({n / r['wall']:,.0f} items/s end to end), {r['cpu']:.1f} CPU s "
                      f"({1 / per_item[n][-1]:,.0f} items/s per CPU second without start-up, "
                      f"{per_item[n][-1] * 1e3:.2f} ms/item) | peak RSS {r['peak_mib']:,.0f} MiB"
                      + ("" if ok_written else "  FAIL: not every item written"), flush=True)
                if not ok_written:
                    return False
    median = {n: statistics.median(v) for n, v in per_item.items()}
    for n in median:
        print(f"{n:>7} items: median {median[n] * 1e3:.2f} ms/item ({1 / median[n]:,.0f} items/s per CPU "
              f"second), peak RSS {max(peak[n]):,.0f} MiB")
    lo, hi = min(median), max(median)
    ratio = median[hi] / median[lo]
    print(f"CPU per item at {hi:,} / at {lo:,} (medians of {runs}): {ratio:.2f}  floor <= {SCALING_FLOOR:.1f}")
    return ratio <= SCALING_FLOOR


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                   help="items per newswire process run of the scaling part (default 10000 100000)")
    p.add_argument("--runs", type=int, default=3, help="runs of each size, interleaved (default 3)")
    p.add_argument("--no-chain", action="store_true", help="skip the pure chain / process comparison")
    p.add_argument("--no-scaling", action="store_true", help="skip the runs at growing sizes")
    args = p.parse_args(argv)
    ok = True
    if not args.no_chain:
        ok = chain_and_job()
    if not args.no_scaling:
        ok = scaling(args.sizes, args.runs) and ok
    return 0 if ok else 1


def chain_and_job() -> bool:
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_setaffinity") else None
    if affinity:
        os.sched_setaffinity(0, {sorted(affinity)[0]})
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
    print(f"ratio process / pure: {ratio:.0%}  floor {RATIO_FLOOR:.0%}", flush=True)
    if affinity:
        os.sched_setaffinity(0, affinity)  # the scaling runs are processes of their own
    return pure >= PURE_FLOOR and ratio >= RATIO_FLOOR


if __name__ == "__main__":
    sys.exit(main())
