"""The Cluster stage on the batch engine: every unit leaves with its story, whether the stage reads
the items before de-duplication (as newswire process wires it) or the de-duplicated units alone."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.build import CleanArticles
from pipeline.runners import BATCH_RUNNER
from tests.factories import message
from tests.quality.syndication_corpus import feed_item, load_corpus
from transforms.syndication.dofns import Cluster

CORPUS = {i.article_id: i for i in load_corpus()}


def _messages() -> list:
    ferry = [CORPUS[g] for g in ("ferry-dpa", "ferry-harbour-gazette", "ferry-citywire")]
    msgs = [message(feed_item(i), f"m-{i.article_id}") for i in ferry]
    msgs.append(message(feed_item(CORPUS["ferry-reuters"]), "m-reuters"))
    msgs.append(message(feed_item(ferry[1]), "m-repeat"))  # the same item polled again
    correction = feed_item(ferry[2])
    correction["fetched_at"] = "2024-03-04T12:00:00Z"
    correction["entry"]["content"][0]["value"] += "<p>Correction: the stoppage began at 6 am.</p>"
    msgs.append(message(correction, "m-correction"))
    notice = feed_item(ferry[0])
    notice["entry"].update(id="kill-1", link="https://dpa.example.org/kill-1", title="KILL",
                           content=[{"type": "text/html", "value": "<p>This story has been withdrawn.</p>"}])
    msgs.append(message(notice, "m-notice"))
    msgs.append(message(b"{not json", "m-broken"))
    return msgs


EXPECTED = [  # (message, guid, version, guid of the article naming its story)
    ("m-ferry-dpa", "ferry-dpa", 1, "ferry-dpa"),
    ("m-ferry-harbour-gazette", "ferry-harbour-gazette", 1, "ferry-dpa"),
    ("m-ferry-citywire", "ferry-citywire", 1, "ferry-dpa"),
    ("m-correction", "ferry-citywire", 2, "ferry-dpa"),
    ("m-reuters", "ferry-reuters", 1, "ferry-reuters"),
    ("m-notice", "kill-1", 1, None),
]


def _summary(units):
    """(message, guid, version, guid of the story's root) per article; story rows by carrier."""
    articles = [u.article for u in units if u.article]
    guid = {a["article_id"]: a["guid"] for a in articles}
    rows = sorted((u.message_id, guid[r["cluster_id"]], r["outlet_count"])
                  for u in units for r in u.stories)
    return sorted((a["message_id"], a["guid"], a["version"], guid.get(a["cluster_id"])) for a in articles), rows


def _check(units):
    articles, rows = _summary(units)
    assert articles == sorted(EXPECTED), articles
    # One row per story, carried by the unit of its last article; none for versions or notices.
    assert rows == [("m-ferry-citywire", "ferry-dpa", 3), ("m-reuters", "ferry-reuters", 1)], rows
    assert len(units) == 8  # every message leaves the stage, duplicates and dead letters included


def test_batch_clusters_from_the_items_before_deduplication():
    with TestPipeline(runner=BATCH_RUNNER) as p:
        cleaned = p | beam.Create(_messages()) | CleanArticles(streaming=False, dedup_ttl_seconds=3600,
                                                               with_items=True)
        out = cleaned | Cluster(streaming=False) | beam.combiners.ToList()
        assert_that(out | beam.Map(_check) | beam.Map(lambda _: "ok"), equal_to(["ok"]))


def test_batch_clusters_the_deduplicated_units_alone_the_same_way():
    with TestPipeline(runner=BATCH_RUNNER) as p:
        units = p | beam.Create(_messages()) | CleanArticles(streaming=False, dedup_ttl_seconds=3600)
        out = units | Cluster(streaming=False) | beam.combiners.ToList()
        assert_that(out | beam.Map(_check) | beam.Map(lambda _: "ok"), equal_to(["ok"]))
