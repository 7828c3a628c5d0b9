"""Throughput of the Pub/Sub emulator through Google's client library, in messages/s.

Three phases per run, each on a fresh emulator: publish N messages (default batching), drain
them with synchronous Pull + Acknowledge, and drain them again (second subscription) with the
streaming-pull subscriber. Each run is done twice, with the state in memory and on disk (a
data dir in a fresh temporary directory), alternating so both see the same machine load.
Prints the median of several runs per storage and the ratio disk/memory; on a shared machine
only medians and ratios mean anything.

    PYTHONPATH=$PWD python benchmarks/bench_emulator.py [--messages 5000] [--runs 5] [--subprocess]
        [--storage both|memory|disk]

By default the emulator runs in-process, as the pipeline embeds it (client and server then
share one interpreter); --subprocess serves it from `python -m emulator` instead.
"""

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

from google.cloud import pubsub_v1

from emulator.server import start_emulator

TOPIC = "projects/bench/topics/bench-topic"
SUBS = ("projects/bench/subscriptions/pull-sub", "projects/bench/subscriptions/stream-sub")


STORAGES = ("memory", "disk")


@contextlib.contextmanager
def emulator(subprocess_mode: bool, data_dir: str | None) -> Iterator[str]:
    if not subprocess_mode:
        with start_emulator(data_dir=data_dir) as handle:
            yield handle.host_port
        return
    root = Path(__file__).resolve().parents[1]
    store_args = [] if data_dir is None else ["--data-dir", data_dir]
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--log-level", "WARNING", *store_args],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc.stdout.readline().strip().split("=", 1)[1]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def one_run(n: int, size: int, subprocess_mode: bool, storage: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        data_dir = None if storage == "memory" else str(Path(tmp) / "pubsub")
        return _measure(n, size, subprocess_mode, data_dir)


def _measure(n: int, size: int, subprocess_mode: bool, data_dir: str | None) -> dict[str, float]:
    payload = b"x" * size
    with emulator(subprocess_mode, data_dir) as host_port:
        os.environ["PUBSUB_EMULATOR_HOST"] = host_port
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        publisher.create_topic(name=TOPIC)
        for sub in SUBS:
            subscriber.create_subscription(name=sub, topic=TOPIC)

        start = time.perf_counter()
        futures = [publisher.publish(TOPIC, payload, index=str(i)) for i in range(n)]
        for f in futures:
            f.result()
        publish_s = time.perf_counter() - start

        start = time.perf_counter()
        pulled = 0
        while pulled < n:
            response = subscriber.pull(subscription=SUBS[0], max_messages=1000)
            ack_ids = [r.ack_id for r in response.received_messages]
            if ack_ids:
                subscriber.acknowledge(subscription=SUBS[0], ack_ids=ack_ids)
            pulled += len(ack_ids)
        pull_s = time.perf_counter() - start

        done = threading.Event()
        count = 0
        lock = threading.Lock()

        def callback(message) -> None:
            nonlocal count
            message.ack()
            with lock:
                count += 1
                if count == n:
                    done.set()

        start = time.perf_counter()
        future = subscriber.subscribe(SUBS[1], callback)
        if not done.wait(timeout=300):
            raise RuntimeError(f"streaming pull received {count} of {n} messages")
        stream_s = time.perf_counter() - start
        future.cancel()
        future.result()
        subscriber.close()
        publisher.transport.close()
    return {"publish": n / publish_s, "pull+ack": n / pull_s, "streaming pull": n / stream_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--size", type=int, default=1024, help="payload bytes per message")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--subprocess", action="store_true", help="serve from python -m emulator")
    parser.add_argument(
        "--storage", choices=("both", *STORAGES), default="both", help="default %(default)s"
    )
    args = parser.parse_args(argv)

    storages = STORAGES if args.storage == "both" else (args.storage,)
    runs: dict[str, list[dict[str, float]]] = {s: [] for s in storages}
    for _ in range(args.runs):
        for storage in storages:
            runs[storage].append(one_run(args.messages, args.size, args.subprocess, storage))
    mode = "subprocess" if args.subprocess else "in-process"
    print(f"emulator ({mode}), {args.messages} messages of {args.size} B, {args.runs} runs")
    medians: dict[str, dict[str, float]] = {}
    for storage in storages:
        print(f"  state {'in memory' if storage == 'memory' else 'on disk (data dir)'}:")
        medians[storage] = {}
        for phase in runs[storage][0]:
            rates = [r[phase] for r in runs[storage]]
            medians[storage][phase] = statistics.median(rates)
            print(
                f"    {phase:<15} median {medians[storage][phase]:9,.0f} msg/s"
                f"   (min {min(rates):,.0f}, max {max(rates):,.0f})"
            )
    if len(storages) == 2:
        print("  disk / memory (median rates):")
        for phase, rate in medians["memory"].items():
            print(f"    {phase:<15} {medians['disk'][phase] / rate:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
