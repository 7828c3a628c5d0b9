"""The local streaming graph's stateful steps carry state under a fixed number of keys, however many
articles and feeds go through: what the DirectRunner keeps (and walks on every bundle) is looked up
in the runner itself after a run. Keyed by article and feed, as on Dataflow, the keys grow with
them."""

from __future__ import annotations

import pickle
import uuid
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue

from pipeline.build import CleanArticles
from pipeline.runners import STREAMING_RUNNER
from tests.factories import message, raw_item
from transforms.learning import LearnConfig
from transforms.sharding import LOCAL_SHARDS, shard_of
from transforms.syndication.dofns import Cluster
from transforms.syndication.stories import ClusterConfig

FEEDS = 12
ARTICLES = 240


class _Keep(beam.DoFn):
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def start_bundle(self) -> None:
        self._units = []

    def process(self, unit):
        self._units.append(unit)

    def finish_bundle(self) -> None:
        if self._units:
            (Path(self.directory) / f"{uuid.uuid4().hex}.pkl").write_bytes(pickle.dumps(self._units))


def _run(tmp_path: Path, shards: int | None):
    stream = TestStream().advance_watermark_to(0)
    for start in range(0, ARTICLES, 40):
        stream = stream.add_elements([
            TimestampedValue(message(raw_item(
                feed_id=f"feed-{n % FEEDS}", guid=f"story-{n:04d}", link=f"https://news.example.org/world/story-{n}",
                title=f"Story number {n} of the day",
                paragraphs=(f"Paragraph one of story {n} tells what happened in town number {n}.",
                            f"Paragraph two of story {n} adds what the mayor of town {n} said.")),
                f"m-{n}"), 1_000 + n)
            for n in range(start, start + 40)])
    stream = stream.advance_watermark_to_infinity()
    out = tmp_path / f"out-{shards}"
    out.mkdir()
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    p = beam.Pipeline(runner=STREAMING_RUNNER, options=options)
    _ = (p | stream
         | CleanArticles(streaming=True, dedup_ttl_seconds=7 * 24 * 3600, learn=LearnConfig(), shards=shards)
         | Cluster(ClusterConfig(), streaming=True, sharded=shards is not None)
         | beam.ParDo(_Keep(str(out))))
    result = p.run()
    result.wait_until_finish()
    keys = {applied.full_label: len(states)
            for applied, states in result._evaluation_context._transform_keyed_states.items() if states}
    units = [u for f in out.iterdir() for u in pickle.loads(f.read_bytes())]
    return keys, units


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keys")
    return {"local": _run(tmp, LOCAL_SHARDS), "dataflow": _run(tmp, None)}


def test_the_local_graph_keeps_state_under_a_fixed_number_of_keys(runs):
    keys, units = runs["local"]
    assert len([u for u in units if u.article is not None]) == ARTICLES
    assert keys, "the runner kept no keyed state at all"
    # Dedup and learned boilerplate: one key per shard at most; the cluster stage: one key per step.
    assert max(keys.values()) <= LOCAL_SHARDS, keys
    assert {label for label, n in keys.items() if n > 1} <= {
        "CleanArticles/ParseCleanIdentify/CleanLearned", "CleanArticles/DedupVersions/Stateful"}


def test_keyed_by_article_band_and_feed_the_keys_grow_with_them(runs):
    keys, units = runs["dataflow"]
    assert len({u.article["article_id"] for u in units if u.article}) == ARTICLES
    assert keys["CleanArticles/DedupVersions/Stateful"] == ARTICLES
    assert keys["CleanArticles/ParseCleanIdentify/CleanLearned"] == FEEDS
    assert keys["Cluster/Streaming/BandBuckets"] > ARTICLES


def test_both_graphs_write_the_same_articles_and_stories(runs):
    def rows(units):
        articles = sorted((u.article["article_id"], u.article["version"], u.article["cluster_id"],
                           u.article["content_hash"], u.article["body"]) for u in units if u.article)
        stories = {}
        for u in units:
            for row in u.stories:
                if row["cluster_id"] not in stories or row["updated_at"] > stories[row["cluster_id"]]["updated_at"]:
                    stories[row["cluster_id"]] = row
        return articles, sorted((s["cluster_id"], tuple(s["article_ids"]), s["merged_into"]) for s in stories.values())

    assert rows(runs["local"][1]) == rows(runs["dataflow"][1])


def test_shards_are_stable_and_spread():
    keys = [f"article-{n}" for n in range(2000)]
    assert shard_of("article-1", 16) == "shard-" + f"{__import__('zlib').crc32(b'article-1') % 16:03d}"
    assert len({shard_of(k, 16) for k in keys}) == 16
    assert len({shard_of(k, 4) for k in keys}) == 4
