"""The Beam Cluster stage: state held per article in the TTL window, the cost of the story-graph
step's state strategy, and the batch clustering step per article.

    python -m benchmarks.bench_cluster_stage [--held 10000] [--stream 120]

- State per article: what each stateful step holds for an article while it is in the TTL window,
  in the bytes its state coder writes (PickleCoder, as the steps use).
- Story graph (single key): a decision as the stage makes it (live graph, one small log entry)
  against re-writing the whole graph per element, which is what a plain ReadModifyWrite state of
  the graph would cost, and the size the SDK's state cache would measure (objsize) on each write.
- Batch: ``cluster_batch`` per article (fingerprints, LSH, verification, graph) on the feed-sized
  items of benchmarks/corpus.py; ``python -m benchmarks process`` measures the whole
  ``newswire process`` job, clustering included, against its floor.
- Streaming: articles per second through the stage on the local streaming runner.

No floor here: the figures size the state of a deployment. Timings are medians on one pinned core.
"""

from __future__ import annotations

import argparse
import pickle
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import objsize

from benchmarks.bench_fingerprint import articles_of, pin_to_one_core
from benchmarks.corpus import make_lines
from transforms.syndication import (
    DEFAULT_LSH,
    ClusterInput,
    StoryArticle,
    StoryTracker,
    band_keys,
    cluster_batch,
    cluster_input,
    fingerprint_bodies,
)

from transforms.syndication.fingerprint import ANCHORS

T0 = datetime(2024, 3, 4, tzinfo=timezone.utc)


def _article(n: int) -> StoryArticle:
    return StoryArticle(f"{n:024x}", T0 + timedelta(seconds=30 * n), f"feed-{n % 300}", "ap", n % 7 == 0,
                        f"A headline of about sixty characters for the story number {n}", n % 3 == 0)


def tracker_with(held: int, copies: int = 3) -> tuple[StoryTracker, list[tuple]]:
    """A tracker holding ``held`` articles in stories of ``copies``; the log of its decisions."""
    tracker = StoryTracker()
    log = []
    for n in range(held):
        matches = [f"{n - 1:024x}"] if n % copies else []
        result = tracker.assign(_article(n), matches)
        log.append((_article(n), matches, result.story_rows[0]["updated_at"]))
    return tracker, log


def state_per_article(held: int) -> None:
    body = articles_of(600, 1)[0]
    fingerprint = fingerprint_bodies([body]).fingerprint(0)
    entry = (f"{7:024x}", 1_709_510_400_000_000, fingerprint.to_bytes())
    band_entry = len(pickle.dumps(entry))
    keys = len(band_keys(fingerprint))  # the LSH bands and the lead's anchor keys
    tracker, log = tracker_with(held)
    snapshot = len(pickle.dumps(tracker, protocol=pickle.HIGHEST_PROTOCOL))
    log_entry = statistics.median(len(pickle.dumps(e)) for e in log[:200])
    print(f"fingerprint: {len(fingerprint.to_bytes())} bytes")
    print(f"BandBuckets: {keys} entries x {band_entry} bytes = {keys * band_entry:,} bytes "
          f"per article (one per band and anchor key; a bucket keeps at most its latest 8)")
    print("CollectVerdicts: nothing once an article's verdicts are in (the unit waits there for them only)")
    print(f"AssignClusters snapshot: {snapshot / held:,.0f} bytes per article ({held:,} held, stories of 3); "
          f"log: {log_entry:.0f} bytes per decision until the next snapshot")
    total = keys * band_entry + snapshot / held
    print(f"total per article held: {total:,.0f} bytes; 72 h of 20,000 articles a day: "
          f"{total * 60_000 / 1e9:.2f} GB of keyed state")


def graph_step_cost(held: int) -> None:
    tracker, _log = tracker_with(held)
    samples_live, samples_rmw = [], []
    for n in range(held, held + 200):
        article = _article(n)
        start = time.perf_counter_ns()
        result = tracker.assign(article, [f"{n - 1:024x}"] if n % 3 else [])
        pickle.dumps((article, [], result.story_rows[0]["updated_at"]))  # the log entry written
        samples_live.append(time.perf_counter_ns() - start)
        if n % 20 == 0:
            start = time.perf_counter_ns()
            pickle.dumps(tracker, protocol=pickle.HIGHEST_PROTOCOL)
            samples_rmw.append(time.perf_counter_ns() - start)
    start = time.perf_counter_ns()
    size = objsize.get_deep_size(tracker)
    sizing = (time.perf_counter_ns() - start) / 1e6
    blob = pickle.dumps(tracker, protocol=pickle.HIGHEST_PROTOCOL)
    start = time.perf_counter_ns()
    pickle.loads(blob)
    rebuild = (time.perf_counter_ns() - start) / 1e6
    print(f"story graph with {held:,} articles held:")
    print(f"  decision with the live graph + log entry: median {statistics.median(samples_live) / 1e3:.0f} us")
    print(f"  whole graph re-written per element instead: median {statistics.median(samples_rmw) / 1e6:.1f} ms "
          f"({len(blob) / 1e6:.1f} MB), plus {sizing:.0f} ms for the SDK state cache to size it "
          f"({size / 1e6:.0f} MB in memory)")
    print(f"  rebuild after the key moves (snapshot load, then at most 256 logged decisions): {rebuild:.0f} ms")


def batch_cost(count: int) -> None:
    from transforms.cleaning.dofns import ParseCleanIdentify
    from transforms.model import Message

    parse = ParseCleanIdentify()
    units = [next(iter(parse.process(Message(f"m{i}", line, {})))) for i, line in enumerate(make_lines(count))]
    records = [cluster_input(u, "body").to_record() for u in units]
    samples = []
    for _ in range(3):
        start = time.process_time()
        cluster_batch([ClusterInput.from_record(r) for r in records])
        samples.append((time.process_time() - start) / count * 1e6)
    print(f"batch clustering (cluster_batch) on {count:,} feed items of benchmarks/corpus.py: "
          f"median {statistics.median(samples):.0f} us per article, fingerprints included")


def streaming_rate(count: int) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
    from apache_beam.testing.test_stream import TestStream
    from apache_beam.transforms.window import TimestampedValue

    from pipeline.runners import STREAMING_RUNNER
    from transforms.model import Unit
    from transforms.syndication.dofns import Cluster

    rng = random.Random(3)
    bodies = articles_of(300, count // 2, seed=4)
    units = []
    for n in range(count):
        text = bodies[n // 2] if n % 2 == 0 else bodies[n // 2] + " Related: another story."
        row = {"article_id": f"a{n}", "version": 1, "withdrawn": False, "body": text, "fetched_at": T0,
               "feed_id": f"feed-{rng.randrange(40)}", "agency": "ap", "title": f"Story {n}", "dateline": None}
        units.append(TimestampedValue(Unit(f"m{n}", raw_item={}, article=row, dead_letter=None), T0.timestamp()))
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    stream = TestStream().advance_watermark_to(0).add_elements(units).advance_watermark_to_infinity()
    start = time.perf_counter()
    with beam.Pipeline(runner=STREAMING_RUNNER, options=options) as p:
        _ = p | stream | Cluster(streaming=True) | beam.Map(lambda u: None)
    elapsed = time.perf_counter() - start
    print(f"streaming stage on the local runner: {count / elapsed:.0f} articles/s ({count} articles, "
          f"{DEFAULT_LSH.bands} band elements and up to {ANCHORS} anchor elements each)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held", type=int, default=10000, help="articles held for the state figures")
    parser.add_argument("--batch", type=int, default=3000, help="feed items for the batch figure")
    parser.add_argument("--stream", type=int, default=120, help="articles through the streaming stage")
    args = parser.parse_args(argv)
    print(pin_to_one_core())
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp).mkdir(exist_ok=True)
        state_per_article(args.held)
        graph_step_cost(args.held)
        batch_cost(args.batch)
        streaming_rate(args.stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
