"""The streaming pipeline against the Pub/Sub emulator: rows arrive, and a crash loses nothing.

Runs the real stack: a Pub/Sub emulator over gRPC (newswire's and Google's, see ``pubsub_backend``),
google-cloud-pubsub, the DirectRunner in streaming mode and a DuckDB file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from google.cloud import pubsub_v1

from pipeline.pubsub_admin import PubSubLayout, ensure_layout
from pipeline.query_server import query_running
from pipeline.streaming import StreamingJob
from tests.factories import raw_item, to_bytes

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pubsub(pubsub_backend):
    layout = PubSubLayout(pubsub_backend.project)
    ensure_layout(layout)
    return pubsub_backend, layout


def _publish(layout: PubSubLayout, n: int, start: int = 0, pace: float = 0.0) -> list[str]:
    publisher = pubsub_v1.PublisherClient()
    ids = []
    for i in range(start, start + n):
        item = raw_item(guid=f"story-{i:04d}", title=f"Fictional story number {i}")
        ids.append(publisher.publish(
            layout.topic, to_bytes(item), feed_id=item["feed_id"], item_key=f"k{i}",
            fetched_at=item["fetched_at"], schema_version="1").result(timeout=30))
        if pace:
            time.sleep(pace)  # a steady publisher, so the kill lands mid-stream
    return ids


def _options(layout, warehouse) -> list[str]:
    return ["--input", f"pubsub://{layout.subscription}", "--warehouse", str(warehouse),
            "--ledger_subscription", layout.ledger]


def test_rows_arrive_and_messages_acked_before_a_crash_are_replayed(pubsub, tmp_path):
    _, layout = pubsub
    published = _publish(layout, 20)
    # What the DirectRunner does before processing: pull and acknowledge. Then "crash".
    sub = pubsub_v1.SubscriberClient()
    got = []
    while len(got) < 20:
        resp = sub.pull(request={"subscription": layout.subscription, "max_messages": 10}, timeout=10)
        got += resp.received_messages
        sub.acknowledge(request={"subscription": layout.subscription,
                                 "ack_ids": [m.ack_id for m in resp.received_messages]})
    job = StreamingJob(PipelineOptions(_options(layout, tmp_path / "wh.duckdb"))).start()
    try:
        assert job.recovered.pending == 20  # the ledger knew none of them was durable
        assert job.wait_until_durable(timeout=120)
        _, rows = job.query_server.run_query("SELECT count(*), count(DISTINCT message_id) FROM raw_items")
        assert rows == [(20, 20)]
        _, rows = job.query_server.run_query("SELECT count(*) FROM articles")
        assert rows == [(20,)]
        _, ids = job.query_server.run_query("SELECT message_id FROM raw_items")
        assert {r[0] for r in ids} == set(published)
    finally:
        job.stop()


def _start_job(em, layout, warehouse) -> subprocess.Popen:
    env = {**os.environ, "PUBSUB_EMULATOR_HOST": em.host_port, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "pipeline.main", *_options(layout, warehouse)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _count(warehouse, sql, deadline) -> int | None:
    while time.monotonic() < deadline:
        try:
            answer = query_running(warehouse, sql, timeout=5)
        except Exception:  # noqa: BLE001 - the server may be starting or dying
            answer = None
        if answer is not None:
            return answer[1][0][0]
        time.sleep(0.2)
    return None


def test_killed_and_restarted_pipeline_loses_and_doubles_nothing(pubsub, tmp_path):
    em, layout = pubsub
    warehouse = tmp_path / "wh.duckdb"
    total = 150
    job = _start_job(em, layout, warehouse)
    publisher = threading.Thread(target=_publish, args=(layout, total), kwargs={"pace": 0.01})
    publisher.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            n = _count(warehouse, "SELECT count(*) FROM raw_items", deadline)
            if n is not None and n >= 30:
                break
        assert n is not None and n >= 30, job.stderr.read().decode()[-3000:] if job.poll() is not None else n
        job.send_signal(signal.SIGKILL)  # no clean shutdown: mid-stream, mid-batch
        job.wait(timeout=30)
        publisher.join(timeout=120)
        job = _start_job(em, layout, warehouse)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            n = _count(warehouse, "SELECT count(*) FROM raw_items", deadline)
            if n == total:
                break
            time.sleep(0.2)
        assert n == total
        assert _count(warehouse, "SELECT count(*) FROM articles", deadline) == total
        assert _count(warehouse, "SELECT count(DISTINCT article_id) FROM articles", deadline) == total
    finally:
        job.send_signal(signal.SIGTERM)
        try:
            job.wait(timeout=30)
        except subprocess.TimeoutExpired:
            job.kill()
