"""Input sources, chosen by --input. Both yield ``transforms.model.Message``."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io import fileio

from transforms.model import Message

from .specs import InputSpec


def _lines(readable: fileio.ReadableFile):
    path = readable.metadata.path
    with readable.open(compression_type=fileio.CompressionTypes.AUTO) as fh:
        for n, line in enumerate(fh, start=1):
            line = line.rstrip(b"\r\n")
            if line.strip():
                # Deterministic ids make a re-run of the same files idempotent.
                yield Message(message_id=f"file://{path}#L{n}", data=line, attributes={})


class ReadRawFiles(beam.PTransform):
    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.pattern = pattern

    def expand(self, pbegin):
        return (pbegin
                | "Match" >> fileio.MatchFiles(self.pattern)
                | "Open" >> fileio.ReadMatches()
                | "Lines" >> beam.FlatMap(_lines))


def _from_pubsub(msg) -> Message:
    return Message(message_id=msg.message_id, data=msg.data, attributes=dict(msg.attributes or {}))


class ReadRawPubSub(beam.PTransform):
    """Pub/Sub messages with the poller's fetched_at as event time.

    ``id_label`` is only honoured by Dataflow (the DirectRunner rejects it); the pipeline's own
    dedup step makes redelivery harmless everywhere.
    """

    def __init__(self, spec: InputSpec, id_label: str | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.id_label = id_label

    def expand(self, pbegin):
        read = beam.io.ReadFromPubSub(
            subscription=self.spec.subscription, topic=self.spec.topic, with_attributes=True,
            timestamp_attribute="fetched_at", id_label=self.id_label)
        return pbegin | "Read" >> read | "ToMessage" >> beam.Map(_from_pubsub)


def read_input(spec: InputSpec, id_label: str | None = None) -> beam.PTransform:
    if spec.kind == "files":
        return ReadRawFiles(spec.glob)
    return ReadRawPubSub(spec, id_label=id_label)
