"""DedupVersions under streaming: duplicates, out-of-order and late items, TTL expiry; keyed by article
(Dataflow's graph) and by shard (the local graph), which must give the same rows."""

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from pipeline.runners import STREAMING_RUNNER
from transforms.identity.dofns import DedupVersions, DedupVersionsSharded, dedup_key
from transforms.model import Unit

HOUR = 3600

# None: keyed by article. 2 shards: the few articles of a test share shards. "rebuilt": sharded,
# with the shard rebuilt from its snapshot and log for every element (the live value is a cache).
KEYINGS = [None, 2, "rebuilt"]


def _row(aid, h):
    return Unit(f"{aid}-{h}", raw_item={}, dead_letter=None,
                article={"article_id": aid, "content_hash": h, "version": 1})


def _dedup(keying, ttl_seconds):
    if keying == "rebuilt":
        return beam.ParDo(DedupVersionsSharded(ttl_seconds, live=False))
    return DedupVersions(ttl_seconds, streaming=True, shards=keying)


def _assert_dedup(stream, ttl_seconds, expected, project, keying) -> None:
    shards = 2 if keying == "rebuilt" else keying
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    with TestPipeline(runner=STREAMING_RUNNER, options=opts) as p:
        out = (p | stream
               | beam.Map(lambda u: (dedup_key(u, shards), u)).with_output_types(tuple[str, Unit])
               | _dedup(keying, ttl_seconds)
               | beam.FlatMap(lambda u: [u.article] if u.article else [])
               | beam.Map(project))
        assert_that(out, equal_to(expected))


@pytest.mark.parametrize("keying", KEYINGS)
def test_redelivered_duplicates_and_corrections(keying):
    stream = (TestStream()
              .advance_watermark_to(0)
              .add_elements([TimestampedValue(_row("a", "h1"), 10), TimestampedValue(_row("b", "x1"), 11)])
              .add_elements([TimestampedValue(_row("a", "h1"), 12)])  # redelivery
              .add_elements([TimestampedValue(_row("a", "h2"), 20)])  # correction
              .add_elements([TimestampedValue(_row("a", "h1"), 5)])   # late, out of order, seen content
              .add_elements([TimestampedValue(_row("c", "y1"), 21), TimestampedValue(_row("b", "x2"), 22),
                             TimestampedValue(_row("c", "y1"), 23)])  # more articles than shards
              .advance_watermark_to_infinity())
    _assert_dedup(stream, 24 * HOUR,
                  [("a", "h1", 1), ("b", "x1", 1), ("a", "h2", 2), ("c", "y1", 1), ("b", "x2", 2)],
                  lambda r: (r["article_id"], r["content_hash"], r["version"]), keying)


@pytest.mark.parametrize("keying", KEYINGS)
def test_state_expires_after_ttl_of_event_time(keying):
    stream = (TestStream()
              .advance_watermark_to(0)
              .add_elements([TimestampedValue(_row("a", "h1"), 10)])
              .advance_watermark_to(10 + 2 * HOUR)  # past the 1 h TTL: state cleared
              .add_elements([TimestampedValue(_row("a", "h1"), 10 + 2 * HOUR + 1)])
              .advance_watermark_to_infinity())
    # Forgotten after the TTL, so it is emitted again; the warehouse sink drops the repeat.
    _assert_dedup(stream, HOUR, [("a", 1), ("a", 1)], lambda r: (r["article_id"], r["version"]), keying)


@pytest.mark.parametrize("keying", KEYINGS)
def test_an_article_seen_within_its_ttl_is_remembered_while_others_in_its_shard_expire(keying):
    stream = (TestStream()
              .advance_watermark_to(0)
              .add_elements([TimestampedValue(_row("a", "h1"), 10), TimestampedValue(_row("b", "x1"), 10)])
              .add_elements([TimestampedValue(_row("b", "x2"), 3 * HOUR)])  # b's correction: b lives on
              .advance_watermark_to(3 * HOUR + 1)  # a's 2 h TTL is over, b's runs to 5 h
              .add_elements([TimestampedValue(_row("a", "h1"), 3 * HOUR + 2),
                             TimestampedValue(_row("b", "x1"), 3 * HOUR + 2)])
              .advance_watermark_to_infinity())
    # a was forgotten: its repeat is emitted as new; b's repeat of known content is dropped.
    _assert_dedup(stream, 2 * HOUR, [("a", "h1", 1), ("b", "x1", 1), ("b", "x2", 2), ("a", "h1", 1)],
                  lambda r: (r["article_id"], r["content_hash"], r["version"]), keying)
