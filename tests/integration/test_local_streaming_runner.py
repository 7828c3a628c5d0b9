"""The local streaming engine (pipeline.runners.LocalStreamingRunner) reads Pub/Sub in large pulls:
every message once, stamped with its timestamp attribute, in bundles of up to PULL_MAX_MESSAGES
instead of Beam's 10; Beam's own runner is left as it was."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct import transform_evaluator
from apache_beam.runners.direct.direct_runner import _DirectReadFromPubSub
from google.cloud import pubsub_v1
from google.pubsub_v1.types import PubsubMessage as PubsubMessageProto

from pipeline.runners import PULL_MAX_MESSAGES, STREAMING_RUNNER, LocalStreamingRunner, _element

from .support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:The return_immediately flag")]


class _RecordBundles(beam.DoFn):
    """Writes each bundle's (message id, event time) pairs to a file of its own."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def start_bundle(self) -> None:
        self._seen = []

    def process(self, message, ts=beam.DoFn.TimestampParam):
        self._seen.append((message.attributes["n"], ts.micros))

    def finish_bundle(self) -> None:
        if self._seen:  # written under a temporary name, then renamed: a reader never sees half a file
            name = uuid.uuid4().hex
            tmp = Path(self.directory) / f".{name}.tmp"
            tmp.write_text(json.dumps(self._seen))
            tmp.rename(tmp.with_name(f"{name}.json"))


def _bundles(directory: Path) -> list[list]:
    return [json.loads(f.read_text()) for f in directory.glob("*.json")]


def test_a_backlog_is_read_once_in_bundles_of_hundreds(emulator, tmp_path):
    project = "runner-test"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.create_topic(name=f"projects/{project}/topics/raw-items").name
    sub = subscriber.create_subscription(request={"name": f"projects/{project}/subscriptions/pipeline",
                                                  "topic": topic}).name
    n = 1200
    futures = [publisher.publish(topic, b"x", n=str(i), fetched_at=f"2026-03-02T10:{i // 60 % 60:02d}:{i % 60:02d}Z")
               for i in range(n)]
    for f in futures:
        f.result(timeout=30)

    out = tmp_path / "bundles"
    out.mkdir()
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    p = beam.Pipeline(runner=STREAMING_RUNNER, options=options)
    _ = (p | beam.io.ReadFromPubSub(subscription=sub, with_attributes=True, timestamp_attribute="fetched_at")
         | beam.ParDo(_RecordBundles(str(out))))
    result = p.run()
    try:
        wait_for(lambda: sum(map(len, _bundles(out))) >= n, 120, f"{n} messages read")
    finally:
        result.cancel()
    bundles = _bundles(out)
    seen = [item for bundle in bundles for item in bundle]
    assert sorted(int(i) for i, _ in seen) == list(range(n))  # each once
    assert max(map(len, bundles)) > 10 and max(map(len, bundles)) <= PULL_MAX_MESSAGES
    assert len(bundles) < n / 10
    for i, micros in seen:
        i = int(i)
        expected = datetime(2026, 3, 2, 10, i // 60 % 60, i % 60, tzinfo=timezone.utc)
        assert micros == int(expected.timestamp()) * 1_000_000
    # Everything was acknowledged: nothing is left on the subscription.
    resp = subscriber.pull(request={"subscription": sub, "max_messages": 10, "return_immediately": True})
    assert not resp.received_messages
    subscriber.close()


def test_the_evaluator_is_registered_for_this_runner_only():
    overrides = transform_evaluator.TransformEvaluatorRegistry._test_evaluators_overrides
    assert _DirectReadFromPubSub not in overrides
    assert STREAMING_RUNNER == f"{LocalStreamingRunner.__module__}.{LocalStreamingRunner.__name__}"


def test_message_timestamps_follow_beams_rules():
    published = PubsubMessageProto.pb(PubsubMessageProto(data=b"d", message_id="7", attributes={"k": "v"}))
    published.publish_time.FromDatetime(datetime(2026, 1, 2, 3, 4, 5, 678000))
    ts, msg = _element(published, None)  # no attribute asked for: the publish time
    assert ts.micros == int(datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc).timestamp() * 1e6)
    assert (msg.data, msg.attributes, msg.message_id) == (b"d", {"k": "v"}, "7")
    published.attributes["at"] = "1767323045000"  # milliseconds since the epoch
    assert _element(published, "at")[0].micros == 1767323045000 * 1000
    published.attributes["at"] = "2026-01-02T03:04:05.123456789Z"  # RFC 3339, cut to microseconds
    assert _element(published, "at")[0].micros == int(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
                                                      .timestamp()) * 1_000_000 + 123456
    published.attributes["at"] = "yesterday"
    with pytest.raises(ValueError, match="Bad timestamp value"):
        _element(published, "at")
