"""Poller throughput in feeds/s against a local HTTP server, publishing to the Pub/Sub emulator.

Two figures, each the median of several runs (on a shared machine only medians and ratios mean
anything):

* 304 polls: every feed answers Not Modified to the stored ETag (floor 200 feeds/s).
* full feeds: 50-entry feeds fetched, parsed, turned into raw items and published, with every
  publish confirmed by Pub/Sub (floor: 70% of feedparser alone on the same bytes).

The file server and the emulator run in their own processes, as they would in production, so
the figure is the poller's own cost.

    PYTHONPATH=$PWD python -m benchmarks.bench_pollers [--feeds-304 400] [--feeds-full 40] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pollers import FeedConfig, Poller, PollerSettings, PubSubPublisher, StateStore  # noqa: E402
from pollers.fetch import headers_for_parser  # noqa: E402

FLOOR_304 = 200.0
FLOOR_RATIO = 0.70
TOPIC = "projects/bench/topics/raw-items"
_WORDS = ("harbour council river accord turbine museum storm ferry grid union wage station valley "
          "glacier minister village coast season quota farmer bridge market school").split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + "."


def feed_xml(feed_no: int, entries: int, seed: int) -> bytes:
    """An RSS 2.0 feed shaped like a wire feed: HTML descriptions of a few paragraphs, a photo."""
    rng = random.Random(seed)
    items = []
    for i in range(entries):
        paras = "".join(f"&lt;p&gt;{_sentence(rng, 25)}&lt;/p&gt;" for _ in range(4))
        items.append(
            f"<item><title>{_sentence(rng, 8)}</title>"
            f"<link>https://bench.example.test/{feed_no}/{seed}/{i}</link>"
            f'<guid isPermaLink="false">bench-{feed_no}-{seed}-{i}</guid>'
            f"<pubDate>Fri, 01 Mar 2024 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate>"
            f"<category>{rng.choice(_WORDS)}</category><description>{paras}</description>"
            f'<media:content url="https://img.bench.example.test/{feed_no}/{i}.jpg" medium="image">'
            f"<media:credit>Bench Wire</media:credit></media:content></item>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            f"<title>Bench feed {feed_no}</title><link>https://bench.example.test/{feed_no}</link>"
            f"<description>benchmark</description>{''.join(items)}</channel></rss>").encode()


@contextlib.contextmanager
def _process(args: list[str], parse) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, text=True)
    try:
        yield parse(proc.stdout.readline().strip())
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def file_server(directory: Path):
    return _process(["-m", "pollers.devserver", str(directory)], lambda line: line)


def emulator():
    return _process(["-m", "emulator", "--port", "0", "--log-level", "WARNING"],
                    lambda line: line.split("=", 1)[1])


def _poll_all(feeds: list[FeedConfig], state_path: Path, publisher: PubSubPublisher,
              settings: PollerSettings) -> tuple[float, int]:
    with StateStore(state_path) as state, Poller(feeds, state, publisher, settings) as poller:
        start = time.perf_counter()
        report = poller.poll_once()
        elapsed = time.perf_counter() - start
    if report.errors:
        raise RuntimeError(f"benchmark feeds failed: {dict(list(report.errors.items())[:3])}")
    return elapsed, report.published


def bench_304(base: str, n: int, runs: int, tmp: Path, publisher: PubSubPublisher,
              settings: PollerSettings) -> list[float]:
    feeds = [FeedConfig(f"nm-{i}", f"{base}nm/{i}.xml") for i in range(n)]
    state = tmp / "state-304.sqlite"
    _poll_all(feeds, state, publisher, settings)  # stores the ETags
    rates = []
    for _ in range(runs):
        elapsed, published = _poll_all(feeds, state, publisher, settings)
        assert published == 0
        rates.append(n / elapsed)
    return rates


def feedparser_alone(bodies: list[bytes]) -> float:
    headers = headers_for_parser({"content-type": "application/xml"}, "http://127.0.0.1/")
    start = time.perf_counter()
    for body in bodies:
        feedparser.parse(io.BytesIO(body), response_headers=headers)
    return len(bodies) / (time.perf_counter() - start)


def bench_full(base: str, bodies: list[bytes], runs: int, tmp: Path, publisher: PubSubPublisher,
               entries: int, settings: PollerSettings) -> tuple[list[float], list[float]]:
    """Poller and feedparser-alone rates, measured in alternation so that both see the same
    machine load (the machine is shared; a load spike must not fall on one side only)."""
    feeds = [FeedConfig(f"full-{i}", f"{base}full/{i}.xml") for i in range(len(bodies))]
    poller_rates, parser_rates = [], []
    for run in range(runs + 1):
        parser_rate = feedparser_alone(bodies)
        elapsed, published = _poll_all(feeds, tmp / f"state-full-{run}.sqlite", publisher, settings)
        assert published == len(bodies) * entries, published
        if run:  # the first run warms connections, caches and the emulator
            poller_rates.append(len(bodies) / elapsed)
            parser_rates.append(parser_rate)
    return poller_rates, parser_rates


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feeds-304", type=int, default=400)
    p.add_argument("--feeds-full", type=int, default=40)
    p.add_argument("--entries", type=int, default=50)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--workers", type=int, default=PollerSettings.max_workers)
    p.add_argument("--per-host", type=int, default=PollerSettings.per_host,
                   help="all benchmark feeds share one host, so this is the effective concurrency")
    args = p.parse_args(argv)
    settings = PollerSettings(max_workers=args.workers, per_host=args.per_host)

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "www" / "nm").mkdir(parents=True)
        (tmp / "www" / "full").mkdir()
        for i in range(args.feeds_304):
            (tmp / "www" / "nm" / f"{i}.xml").write_bytes(feed_xml(i, 5, seed=i))
        bodies = [feed_xml(i, args.entries, seed=1000 + i) for i in range(args.feeds_full)]
        for i, body in enumerate(bodies):
            (tmp / "www" / "full" / f"{i}.xml").write_bytes(body)

        with file_server(tmp / "www") as base, emulator() as host_port:
            settings = settings.allowing_server(base)  # the local server, as --serve allows it
            os.environ["PUBSUB_EMULATOR_HOST"] = host_port
            publisher = PubSubPublisher(TOPIC)
            publisher.ensure_topic()
            try:
                r304 = bench_304(base, args.feeds_304, args.runs, tmp, publisher, settings)
                rfull, rfp = bench_full(base, bodies, args.runs, tmp, publisher, args.entries, settings)
            finally:
                publisher.close()

    m304, mfull, mfp = statistics.median(r304), statistics.median(rfull), statistics.median(rfp)
    ratio = statistics.median(a / b for a, b in zip(rfull, rfp))
    kb = statistics.mean(len(b) for b in bodies) / 1024
    print(f"304 polls:        {m304:8.1f} feeds/s  (median of {args.runs}; {args.feeds_304} feeds; "
          f"floor {FLOOR_304:.0f})")
    print(f"full feeds:       {mfull:8.1f} feeds/s  ({args.entries} entries, {kb:.0f} kB each, "
          f"{mfull * args.entries:.0f} items/s published and confirmed)")
    print(f"feedparser alone: {mfp:8.1f} feeds/s  (same bytes, one thread, alternating with the poller)")
    print(f"full / feedparser: {ratio:7.2f}        (median of per-run ratios; floor {FLOOR_RATIO:.2f})")
    ok = m304 >= FLOOR_304 and ratio >= FLOOR_RATIO
    if not ok:
        print("BELOW FLOOR")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
