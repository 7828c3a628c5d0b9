"""The main job end to end: ``newswire run --until-idle`` on a burst of generated feeds.

Feeds of distinct stories (about 1.5 KB of HTML per item) are written to a directory that the run
serves over local HTTP (``--serve``); each size is a fresh warehouse. For each burst it prints
items/s end to end (start-up included, and excluded by subtracting the start-up of a run whose feeds
have no entries), the ratio to feedparser alone parsing the same bytes, and the peak RSS of the
process tree. Then the rate at the largest size against the smallest.

    python -m benchmarks run                       # 10,000 items (200 feeds x 50), then 5,000 and 20,000
    python -m benchmarks run --sizes 1000 --feeds-per-1000 20
    python -m benchmarks run --sizes 5000 --repeat 3  # the median of three runs per size

Floors (issue: local streaming that scales): every item written, 150 items/s end to end with
start-up at 10,000 items; the rate at 20,000 at least 90% of that at 5,000 and peak memory under 2x.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import feedparser

from benchmarks.corpus import _sentence

ROOT = Path(__file__).resolve().parents[1]
FLOOR_RATE_10K = 150.0
FLOOR_SCALING = 0.90
FLOOR_MEMORY = 2.0
ENTRIES_PER_FEED = 50


def feed_xml(feed_no: int, entries: int, rng: random.Random) -> bytes:
    items = []
    for i in range(entries):
        paras = "".join(f"&lt;p&gt;{_sentence(rng)} {_sentence(rng)}&lt;/p&gt;" for _ in range(4))
        items.append(
            f"<item><title>Story {feed_no}-{i}: {_sentence(rng)[:60]}</title>"
            f"<link>https://outlet{feed_no}.example.test/news/{i}</link>"
            f'<guid isPermaLink="false">bench-{feed_no}-{i}</guid>'
            f"<pubDate>Mon, 02 Nov 2026 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate>"
            f"<description>{paras}</description></item>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>Outlet {feed_no}</title><link>https://outlet{feed_no}.example.test/</link>"
            f"<description>benchmark</description>{''.join(items)}</channel></rss>").encode()


def write_site(root: Path, feeds: int, entries: int, seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    site = root / "site"
    site.mkdir(parents=True)
    bodies = []
    for f in range(feeds):
        body = feed_xml(f, entries, rng)
        (site / f"f{f}.xml").write_bytes(body)
        bodies.append(body)
    (root / "feeds.yaml").write_text("feeds:\n" + "".join(
        f"  - {{id: outlet-{f}, url: '{{serve}}/f{f}.xml'}}\n" for f in range(feeds)))
    return bodies


def feedparser_rate(bodies: list[bytes]) -> float:
    """Items/s of feedparser alone on the same feed bytes."""
    start = time.perf_counter()
    n = sum(len(feedparser.parse(io.BytesIO(b)).entries) for b in bodies)
    return n / (time.perf_counter() - start)


def _tree_rss(pid: int) -> int:
    """Resident bytes of pid and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def run_once(root: Path, timeout: float) -> tuple[float, int, int, float]:
    """(seconds, articles written, peak RSS bytes, CPU seconds) of one ``newswire run --until-idle``."""
    wh = root / "wh.duckdb"
    cmd = [sys.executable, "-m", "pipeline.cli", "run", "--feeds", str(root / "feeds.yaml"),
           "--serve", str(root / "site"), "--warehouse", str(wh), "--until-idle",
           "--idle-timeout", str(timeout)]
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.25):
            peak = max(peak, _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    done.set()
    sampler.join()
    if proc.returncode != 0:
        print(out.decode(errors="replace")[-1500:], file=sys.stderr)
    with duckdb.connect(str(wh), read_only=True) as conn:
        written = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    return elapsed, written, peak, cpu


def _children_cpu() -> float:
    """User plus system CPU seconds of the children waited for so far (on a shared machine, CPU
    time says what the run cost when wall time also says how busy the machine was)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(items: int, feeds_per_1000: int, timeout: float) -> dict:
    feeds = max(1, items * feeds_per_1000 // 1000)
    entries = items // feeds
    with tempfile.TemporaryDirectory(prefix="newswire-bench-run-") as tmp:
        empty = Path(tmp) / "empty"
        write_site(empty, feeds, 0)
        startup, _, _, _ = run_once(empty, timeout)
        full = Path(tmp) / "full"
        bodies = write_site(full, feeds, entries)
        parser = feedparser_rate(bodies)
        elapsed, written, peak, cpu = run_once(full, timeout)
    n = feeds * entries
    busy = max(elapsed - startup, 1e-9)
    return {"items": n, "feeds": feeds, "written": written, "seconds": elapsed, "startup": startup,
            "rate": written / elapsed, "rate_excl": written / busy, "feedparser": parser,
            "peak_mib": peak / 2**20, "cpu": cpu, "load": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 5_000, 20_000])
    p.add_argument("--feeds-per-1000", type=int, default=1000 // ENTRIES_PER_FEED,
                   help="feeds per 1,000 items (default 20: 50 entries a feed)")
    p.add_argument("--timeout", type=float, default=900.0, help="--idle-timeout of each run, seconds")
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per size; the run with the median rate end to end is the size's figure")
    args = p.parse_args(argv)
    results = {}
    ok = True
    for size in args.sizes:
        runs = []
        for _ in range(args.repeat):
            r = measure(size, args.feeds_per_1000, args.timeout)
            runs.append(r)
            print(f"{r['items']:>6} items ({r['feeds']} feeds): {r['written']} written in {r['seconds']:.1f} s "
                  f"(start-up {r['startup']:.1f} s) | {r['rate']:.0f} items/s end to end, "
                  f"{r['rate_excl']:.0f} without start-up | feedparser alone {r['feedparser']:.0f} items/s "
                  f"(ratio {r['rate'] / r['feedparser']:.1%}) | peak RSS {r['peak_mib']:.0f} MiB | "
                  f"CPU {r['cpu']:.1f} s, load average {r['load']:.1f}", flush=True)
            if r["written"] != r["items"]:
                print(f"  FAIL: {r['items'] - r['written']} item(s) not written")
                ok = False
        results[size] = sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]
    if 10_000 in results and results[10_000]["rate"] < FLOOR_RATE_10K:
        print(f"  FAIL: 10,000-item burst at {results[10_000]['rate']:.0f} items/s (floor {FLOOR_RATE_10K:.0f})")
        ok = False
    small, large = min(results), max(results)
    if large > small:
        scaling = results[large]["rate_excl"] / results[small]["rate_excl"]
        memory = results[large]["peak_mib"] / max(results[small]["peak_mib"], 1e-9)
        print(f"rate at {large:,} / rate at {small:,} (start-up excluded): {scaling:.2f} "
              f"(floor {FLOOR_SCALING:.2f}); peak memory ratio {memory:.2f} (floor < {FLOOR_MEMORY:.1f})")
        ok = ok and scaling >= FLOOR_SCALING and memory < FLOOR_MEMORY
    print("median items/s end to end:", f"{statistics.median(r['rate'] for r in results.values()):.0f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
