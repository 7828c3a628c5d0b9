"""Which local Beam engine runs a job.

Beam's DirectRunner first looks for the Prism runner, which it downloads; offline that lookup fails
slowly before falling back. newswire names the local engines directly instead: the FnApiRunner for
batch (fast, supports state and timers) and, for streaming, :class:`LocalStreamingRunner`: Beam's
BundleBasedDirectRunner (the one that reads Pub/Sub) with larger pulls. Any other --runner
(DataflowRunner, PrismRunner, ...) is passed through untouched.

Why larger pulls
----------------
The BundleBasedDirectRunner reads Pub/Sub only when every other step is idle, and Beam's reader
pulls at most 10 messages each time: every 10 messages then pay the whole graph's per-bundle cost
(each step re-pickles and re-inspects its DoFn, the sink commits a DuckDB transaction, the
watermark manager refreshes every step and looks for due timers) whatever the queue holds. With
``PULL_MAX_MESSAGES`` per pull those costs are paid once per that many messages; a trickle is
unaffected, since a pull returns whatever has arrived. Delivery stays at least once: Beam still
acknowledges what it pulled before processing it, and the ledger and Seek of
``pipeline.recovery`` bring back anything pulled but not yet written when the process dies, however
many messages one pull held.
"""

from __future__ import annotations

import threading
from datetime import timezone

from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.runners.direct import transform_evaluator
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner, _DirectReadFromPubSub
from apache_beam.utils.timestamp import Timestamp
from google.api_core import exceptions as gexc
from google.pubsub_v1.types import PullResponse

BATCH_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
STREAMING_RUNNER = "pipeline.runners.LocalStreamingRunner"

# How long a pull may wait for messages. An empty queue holds a pull until shortly before its
# deadline (Google's emulator and real Pub/Sub; newswire's answers within a second), and the
# runner's one worker can neither fire timers nor stop meanwhile: Beam's 30 s made a stop wait out
# the pull. A short one keeps the wait bounded without polling in a busy loop.
PULL_TIMEOUT_S = 2.0
# Messages per pull (Pub/Sub's limit is 1,000). 500 amortises the per-bundle costs (at 10 they were
# most of the time) while a bundle of units stays a few megabytes; benchmarks/bench_run.py.
PULL_MAX_MESSAGES = 500


def local_runner(requested: str | None, *, streaming: bool) -> str:
    if requested in (None, "", "DirectRunner", "directrunner"):
        return STREAMING_RUNNER if streaming else BATCH_RUNNER
    return requested


def is_dataflow(runner) -> bool:
    """True for the Dataflow runner, named or given as an instance/class."""
    name = runner if isinstance(runner, str) else getattr(runner, "__name__", type(runner).__name__)
    return (name or "").rsplit(".", 1)[-1].lower() in ("dataflowrunner", "testdataflowrunner")


class LargerPullsPubSubReadEvaluator(transform_evaluator._PubSubReadEvaluator):
    """Beam's Pub/Sub read evaluator, pulling ``PULL_MAX_MESSAGES`` at a time instead of 10.

    As Beam's: one pull per bundle, acknowledged at once, each message stamped with its timestamp
    attribute (milliseconds or RFC 3339) or else its publish time. Unlike Beam's, a pull waits at
    most ``PULL_TIMEOUT_S`` and one that times out reads nothing (rather than failing the job), and
    the response is read as raw protobuf: the client's wrappers cost more per message than the rest
    of the read.
    """

    max_messages = PULL_MAX_MESSAGES

    def _read_from_pubsub(self, timestamp_attribute) -> list[tuple[Timestamp, PubsubMessage]]:
        client = self._get_subscriber_client(self._applied_ptransform)
        try:
            response = PullResponse.pb(client.pull(
                subscription=self._sub_name, max_messages=self.max_messages, timeout=PULL_TIMEOUT_S))
        except gexc.DeadlineExceeded:
            return []  # nothing came in time; whatever the server leased comes again after its deadline
        results = [_element(rm.message, timestamp_attribute) for rm in response.received_messages]
        ack_ids = [rm.ack_id for rm in response.received_messages]
        if ack_ids:
            client.acknowledge(subscription=self._sub_name, ack_ids=ack_ids)
        return results


def _element(message, timestamp_attribute: str | None) -> tuple[Timestamp, PubsubMessage]:
    published = message.publish_time.ToDatetime(tzinfo=timezone.utc) if message.HasField("publish_time") else None
    parsed = PubsubMessage(message.data, dict(message.attributes), message_id=message.message_id or None,
                           publish_time=published, ordering_key=message.ordering_key)
    if timestamp_attribute and timestamp_attribute in parsed.attributes:
        value = parsed.attributes[timestamp_attribute]
        try:
            timestamp = Timestamp(micros=int(value) * 1000)
        except ValueError:
            try:
                timestamp = Timestamp.from_rfc3339(value)
            except ValueError as exc:
                raise ValueError(f"Bad timestamp value: {exc}") from exc
        if timestamp.precision() > Timestamp.MICROS_PRECISION:
            timestamp = timestamp.to_precision(Timestamp.MICROS_PRECISION, allow_lossy_conversion=True)
        return timestamp, parsed
    if published is None:
        raise ValueError(f"No publish time present in message: {message}")
    return Timestamp.from_utc_datetime(published), parsed


# The registry copies its overrides when a run builds it; the lock keeps two runs starting at once
# in one process (tests) from seeing each other's half-done registration.
_REGISTRY_LOCK = threading.Lock()


class LocalStreamingRunner(BundleBasedDirectRunner):
    """The BundleBasedDirectRunner with :class:`LargerPullsPubSubReadEvaluator` for Pub/Sub reads."""

    def run_pipeline(self, pipeline, options):
        overrides = transform_evaluator.TransformEvaluatorRegistry._test_evaluators_overrides
        with _REGISTRY_LOCK:
            previous = overrides.get(_DirectReadFromPubSub)
            overrides[_DirectReadFromPubSub] = LargerPullsPubSubReadEvaluator
            try:
                return super().run_pipeline(pipeline, options)
            finally:
                if previous is None:
                    overrides.pop(_DirectReadFromPubSub, None)
                else:
                    overrides[_DirectReadFromPubSub] = previous
