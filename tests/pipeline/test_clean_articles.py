"""CleanArticles on the batch engine: main output, dead letters and raw items."""

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.build import CleanArticles, SplitTables
from pipeline.runners import BATCH_RUNNER
from tests.factories import message, raw_item


def test_articles_dead_letters_and_raw_items():
    good = raw_item()
    other = raw_item(guid="tw-0002", title="Second story", paragraphs=("Another fictional paragraph.",))
    correction = raw_item(paragraphs=("The council approved three evening crossings, not two.",),
                          fetched_at="2026-03-02T11:00:00Z")
    msgs = [message(good, "m1"), message(good, "m2"), message(other, "m3"),
            message(b"{broken", "m4", feed_id="bad-feed"), message(correction, "m5"),
            message({**raw_item(), "entry": {"title": None, "content": []}}, "m6")]
    with TestPipeline(runner=BATCH_RUNNER) as p:
        out = p | beam.Create(msgs) | CleanArticles(streaming=False, dedup_ttl_seconds=3600) | SplitTables()
        assert_that(out["articles"] | "Key" >> beam.Map(lambda r: (r["title"], r["version"])),
                    equal_to([("Harbour council approves new ferry timetable", 1),
                              ("Harbour council approves new ferry timetable", 2),
                              ("Second story", 1)]),
                    label="versioned articles")
        assert_that(out["dead_letter"] | "DL" >> beam.Map(lambda r: (r["message_id"], r["step"], r["feed_id"])),
                    equal_to([("m4", "parse", "bad-feed"), ("m6", "clean", "testwire-world")]),
                    label="dead letters")
        assert_that(out["raw_items"] | "Raw" >> beam.Map(lambda r: r["message_id"]),
                    equal_to(["m1", "m2", "m3", "m4", "m5", "m6"]), label="every message kept raw")


def test_dead_letter_keeps_payload_and_reason():
    with TestPipeline(runner=BATCH_RUNNER) as p:
        out = p | beam.Create([message(b'{"schema_version": 1}', "m9")]) | CleanArticles(
            streaming=False, dedup_ttl_seconds=3600) | SplitTables()
        assert_that(
            out["dead_letter"] | beam.Map(lambda r: (r["payload"], r["error_class"], r["step"], r["error_message"])),
            equal_to([('{"schema_version": 1}', "ParseError", "parse", "missing required field 'feed_id'")]))
