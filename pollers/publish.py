"""Where raw items go: a Pub/Sub topic.

The poller depends only on the ``Publisher`` protocol; ``PubSubPublisher`` is the implementation,
on google-cloud-pubsub's PublisherClient, which talks to an emulator when PUBSUB_EMULATOR_HOST is set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.cloud import pubsub_v1

_TOPIC = re.compile(r"^projects/[^/]+/topics/[^/]+$")


class PublishFuture(Protocol):
    def result(self, timeout: float | None = None) -> str:
        """Block until the publish is confirmed; return the message id or raise."""


class Publisher(Protocol):
    def publish(self, data: bytes, attributes: Mapping[str, str]) -> PublishFuture:
        """Start publishing one message; confirmation comes through the returned future."""


class PubSubPublisher:
    """Publishes to one topic, batching as the Pub/Sub client does.

    ``timeout`` bounds the client's own retries of transient gRPC errors, so a Pub/Sub outage
    fails a poll in bounded time (the items stay unseen and the next poll resends them) instead
    of holding a worker for the client's 10-minute default.
    """

    def __init__(self, topic: str, *, client: pubsub_v1.PublisherClient | None = None,
                 timeout: float = 60.0) -> None:
        if not _TOPIC.match(topic):
            raise ValueError(f"topic {topic!r} must look like projects/PROJECT/topics/NAME")
        self.topic = topic
        self._own_client = client is None
        self._client = client or pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_messages=500, max_latency=0.01))
        self._retry = gretry.Retry(
            predicate=gretry.if_exception_type(
                gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError,
                gexc.Aborted, gexc.ResourceExhausted, gexc.Unknown, gexc.Cancelled),
            initial=0.1, maximum=5.0, multiplier=2.0, timeout=timeout)
        self._timeout = timeout

    def ensure_topic(self) -> None:
        """Create the topic if it does not exist (local emulator runs)."""
        try:
            self._client.create_topic(name=self.topic)
        except gexc.AlreadyExists:
            pass

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> PublishFuture:
        return self._client.publish(self.topic, data, retry=self._retry, timeout=self._timeout,
                                    **dict(attributes))

    def close(self) -> None:
        """Flush outstanding batches; the client is unusable afterwards."""
        if self._own_client:
            self._client.stop()
