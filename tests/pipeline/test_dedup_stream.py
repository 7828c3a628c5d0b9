"""DedupVersions under streaming: duplicates, out-of-order and late items, TTL expiry."""

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from pipeline.runners import STREAMING_RUNNER
from transforms.identity.dofns import DedupVersions, unit_key
from transforms.model import Unit

HOUR = 3600


def _row(aid, h):
    return Unit(f"{aid}-{h}", raw_item={}, dead_letter=None,
                article={"article_id": aid, "content_hash": h, "version": 1})


def _assert_dedup(stream, ttl_seconds, expected, project) -> None:
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    with TestPipeline(runner=STREAMING_RUNNER, options=opts) as p:
        out = (p | stream
               | beam.Map(lambda u: (unit_key(u), u)).with_output_types(tuple[str, Unit])
               | DedupVersions(ttl_seconds, streaming=True)
               | beam.FlatMap(lambda u: [u.article] if u.article else [])
               | beam.Map(project))
        assert_that(out, equal_to(expected))


def test_redelivered_duplicates_and_corrections():
    stream = (TestStream()
              .advance_watermark_to(0)
              .add_elements([TimestampedValue(_row("a", "h1"), 10), TimestampedValue(_row("b", "x1"), 11)])
              .add_elements([TimestampedValue(_row("a", "h1"), 12)])  # redelivery
              .add_elements([TimestampedValue(_row("a", "h2"), 20)])  # correction
              .add_elements([TimestampedValue(_row("a", "h1"), 5)])   # late, out of order, seen content
              .advance_watermark_to_infinity())
    _assert_dedup(stream, 24 * HOUR, [("a", "h1", 1), ("b", "x1", 1), ("a", "h2", 2)],
                  lambda r: (r["article_id"], r["content_hash"], r["version"]))


def test_state_expires_after_ttl_of_event_time():
    stream = (TestStream()
              .advance_watermark_to(0)
              .add_elements([TimestampedValue(_row("a", "h1"), 10)])
              .advance_watermark_to(10 + 2 * HOUR)  # past the 1 h TTL: state cleared
              .add_elements([TimestampedValue(_row("a", "h1"), 10 + 2 * HOUR + 1)])
              .advance_watermark_to_infinity())
    # Forgotten after the TTL, so it is emitted again; the warehouse sink drops the repeat.
    _assert_dedup(stream, HOUR, [("a", 1), ("a", 1)], lambda r: (r["article_id"], r["version"]))
