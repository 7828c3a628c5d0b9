"""The Pub/Sub layout newswire uses: one topic, the pipeline's subscription and the ledger.

Every client here is google-cloud-pubsub, which talks to ``PUBSUB_EMULATOR_HOST`` when it is set
(newswire's embedded emulator or Google's) and to real Pub/Sub otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2

# Acknowledged messages stay seekable this long: recovery can replay anything the pipeline pulled
# but did not write within this window (Pub/Sub's maximum is 7 days).
RETENTION = timedelta(days=7)
# The ledger's lease only needs to outlast one reconciliation pass; it is short (Pub/Sub's minimum)
# because a restart after a crash waits this long for the dead process's leases to lapse.
LEDGER_ACK_DEADLINE_S = 10


@dataclass(frozen=True)
class PubSubLayout:
    project: str
    topic_id: str = "raw-items"
    subscription_id: str = "newswire-pipeline"
    ledger_id: str = "newswire-ledger"

    @property
    def topic(self) -> str:
        return f"projects/{self.project}/topics/{self.topic_id}"

    @property
    def subscription(self) -> str:
        return f"projects/{self.project}/subscriptions/{self.subscription_id}"

    @property
    def ledger(self) -> str:
        return f"projects/{self.project}/subscriptions/{self.ledger_id}"


def _duration(td: timedelta) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=int(td.total_seconds()))


def ensure_layout(layout: PubSubLayout, publisher: pubsub_v1.PublisherClient | None = None,
                  subscriber: pubsub_v1.SubscriberClient | None = None) -> None:
    """Create the topic and both subscriptions if they do not exist (idempotent)."""
    publisher = publisher or pubsub_v1.PublisherClient()
    subscriber = subscriber or pubsub_v1.SubscriberClient()
    try:
        publisher.create_topic(request={"name": layout.topic})
    except gexc.AlreadyExists:
        pass
    for name, extra in (
        (layout.subscription, {"retain_acked_messages": True, "ack_deadline_seconds": 60}),
        (layout.ledger, {"ack_deadline_seconds": LEDGER_ACK_DEADLINE_S}),
    ):
        try:
            subscriber.create_subscription(request={
                "name": name, "topic": layout.topic,
                "message_retention_duration": _duration(RETENTION), **extra})
        except gexc.AlreadyExists:
            pass
