"""Streaming on the DirectRunner: publish → row latency, and sustained articles/s.

Runs the real stack in one process: newswire's Pub/Sub emulator, the local streaming job
(StreamingJob: DirectRunner, ledger, DuckDB). Latency is measured from the publish call to the
moment a reader of the warehouse first sees the message's raw_items row (polled every 10 ms), for
messages published one at a time at a steady pace. Floor (streaming issue): p50 under 2 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.corpus import make_lines

P50_FLOOR_S = 2.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    from apache_beam.options.pipeline_options import PipelineOptions
    from google.cloud import pubsub_v1

    from emulator import start_emulator
    from pipeline.pubsub_admin import PubSubLayout, ensure_layout
    from pipeline.streaming import StreamingJob

    lines = make_lines(3200)
    with start_emulator() as em, tempfile.TemporaryDirectory() as tmp:
        os.environ["PUBSUB_EMULATOR_HOST"] = em.host_port
        layout = PubSubLayout("newswire-bench")
        ensure_layout(layout)
        job = StreamingJob(PipelineOptions([
            "--input", f"pubsub://{layout.subscription}", "--warehouse", str(Path(tmp) / "b.duckdb"),
            "--ledger_subscription", layout.ledger])).start()
        publisher = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_messages=500, max_latency=0.005))
        attrs = {"feed_id": "bench", "fetched_at": "2026-03-02T10:00:00Z", "schema_version": "1"}
        try:
            # 1. Latency: 200 messages, one every 50 ms.
            sent: dict[str, float] = {}
            seen: dict[str, float] = {}
            done = threading.Event()

            def watch() -> None:
                while not done.is_set():
                    _, rows = job.query_server.run_query("SELECT message_id FROM raw_items")
                    now = time.perf_counter()
                    for (mid,) in rows:
                        seen.setdefault(mid, now)
                    time.sleep(0.01)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            for line in lines[:200]:
                t = time.perf_counter()
                mid = publisher.publish(layout.topic, line, **attrs).result()
                sent[mid] = t
                time.sleep(0.05)
            deadline = time.monotonic() + 120
            while len(set(sent) & set(seen)) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.05)
            done.set()
            watcher.join()
            lat = [seen[m] - sent[m] for m in sent if m in seen]
            p50, p99 = statistics.median(lat), _percentile(lat, 0.99)

            # 2. Sustained: 3,000 messages published at once; time until all are durable.
            t = time.perf_counter()
            futures = [publisher.publish(layout.topic, line, **attrs) for line in lines[200:]]
            for f in futures:
                f.result()
            ok = job.wait_until_durable(timeout=600)
            rate = len(futures) / (time.perf_counter() - t)
            _, rows = job.query_server.run_query("SELECT count(*) FROM articles")
        finally:
            job.stop()
    print(f"latency publish → row (200 msgs, 20/s): p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
          f"(seen {len(lat)}/200)  floor p50 < {P50_FLOOR_S:.0f} s")
    print(f"sustained: {rate:,.0f} articles/s over 3,000 messages (all durable: {ok}); "
          f"articles in warehouse: {rows[0][0]}")
    return 0 if p50 < P50_FLOOR_S and ok and len(lat) == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
