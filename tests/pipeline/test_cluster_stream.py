"""The Cluster stage under streaming (BundleBasedDirectRunner, TestStream): out-of-order arrival,
a late copy behind the watermark, a bridging article, redelivered duplicates, versions, withdrawal
notices and the TTL. Texts come from the fictional syndication corpus. Every test runs on both
streaming graphs: Dataflow's (keyed by band and by article) and the local one (sharded dedup, one
match index), which must decide the same."""

from __future__ import annotations

import pickle
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue

from pipeline.build import CleanArticles
from pipeline.runners import STREAMING_RUNNER
from tests.factories import message
from tests.quality.syndication_corpus import CorpusItem, feed_item, load_corpus
from transforms.model import Unit
from transforms.sharding import LOCAL_SHARDS
from transforms.syndication import ClusterConfig
from transforms.syndication.dofns import Cluster

CORPUS = {item.article_id: item for item in load_corpus()}
HOUR = 3600
SHARDED = False  # which streaming graph run_stream builds: set by the graph fixture


@pytest.fixture(autouse=True, params=[False, True], ids=["dataflow graph", "local graph"])
def graph(request, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "SHARDED", request.param)
    return request.param


class _Keep(beam.DoFn):
    """Writes every output unit to a file of its own bundle, read back after the run."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def start_bundle(self) -> None:
        self._units = []

    def process(self, unit):
        self._units.append(unit)

    def finish_bundle(self) -> None:
        if self._units:
            (Path(self.directory) / f"{uuid.uuid4().hex}.pkl").write_bytes(pickle.dumps(self._units))


def run_stream(tmp_path: Path, events: list, config: ClusterConfig = ClusterConfig()) -> list[Unit]:
    """events: ("add", [(payload, message_id, event_time)]) or ("watermark", event_time)."""
    stream = TestStream().advance_watermark_to(0)
    for kind, value in events:
        if kind == "add":
            stream = stream.add_elements([TimestampedValue(message(payload, mid), at) for payload, mid, at in value])
        else:
            stream = stream.advance_watermark_to(value)
    stream = stream.advance_watermark_to_infinity()
    out = tmp_path / f"out-{uuid.uuid4().hex}"
    out.mkdir()
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with TestPipeline(runner=STREAMING_RUNNER, options=options) as p:
        _ = (p | stream
             | CleanArticles(streaming=True, dedup_ttl_seconds=7 * 24 * HOUR,
                             shards=LOCAL_SHARDS if SHARDED else None)
             | Cluster(config, streaming=True, sharded=SHARDED)
             | beam.ParDo(_Keep(str(out))))
    return [u for f in sorted(out.iterdir()) for u in pickle.loads(f.read_bytes())]


def arrival(item: CorpusItem, **changes) -> tuple[dict, str, float]:
    payload = feed_item(item)
    payload["entry"].update(changes)
    return payload, f"m-{item.article_id}-{uuid.uuid4().hex[:6]}", item.first_seen.timestamp()


class Result:
    """Output units, by corpus id (the guid), with the stories as the warehouse would hold them."""

    def __init__(self, units: list[Unit]) -> None:
        self.units = units
        self.articles = [u.article for u in units if u.article is not None]
        self.guid = {a["article_id"]: a["guid"] for a in self.articles}
        self.stories: dict[str, dict] = {}
        for u in units:
            for row in u.stories:
                known = self.stories.get(row["cluster_id"])
                if known is None or row["updated_at"] > known["updated_at"]:
                    self.stories[row["cluster_id"]] = row

    def cluster(self, guid: str, version: int = 1) -> str | None:
        return next(a["cluster_id"] for a in self.articles if a["guid"] == guid and a["version"] == version)

    def story(self, guid: str) -> str:
        """The corpus id of the article whose id names the story the article is in now."""
        cluster = self.cluster(guid)
        row = self.stories[cluster]
        return self.guid[row["merged_into"] or cluster]

    def members(self, guid: str) -> set[str]:
        return {self.guid[a] for a in self.stories[self.guid_to_id(self.story(guid))]["article_ids"]}

    def guid_to_id(self, guid: str) -> str:
        return next(a for a, g in self.guid.items() if g == guid)


def test_out_of_order_arrival_ends_in_the_same_stories_named_by_their_earliest_article(tmp_path):
    stories = {"ferry-strike", "ferry-strike-reuters", "port-expansion"}
    items = [i for i in CORPUS.values() if i.story in stories]
    latest_first = sorted(items, key=lambda i: i.first_seen, reverse=True)
    result = Result(run_stream(tmp_path, [("add", [arrival(i)]) for i in latest_first]))
    for item in items:
        earliest = min((i for i in items if i.story == item.story), key=lambda i: (i.first_seen, i.article_id))
        assert result.story(item.article_id) == earliest.article_id, item.article_id
    # The first arrival of each story was given its own id; later, earlier copies took it over.
    assert result.cluster("ferry-morning-post") == result.guid_to_id("ferry-morning-post")
    assert result.stories[result.guid_to_id("ferry-morning-post")]["merged_into"] == result.guid_to_id("ferry-dpa")
    ferry = result.stories[result.guid_to_id("ferry-dpa")]
    assert ferry["merged_into"] is None and ferry["outlet_count"] == 5
    assert result.members("ferry-dpa") == {i.article_id for i in items if i.story == "ferry-strike"}
    assert result.guid[ferry["canonical_article_id"]] == "ferry-dpa"  # the agency's own copy
    # The same event written by another agency stays a story of its own.
    assert result.story("ferry-reuters") != result.story("ferry-dpa")


def test_a_copy_arriving_after_the_watermark_still_joins_its_story(tmp_path):
    dpa, gazette, ledger = CORPUS["ferry-dpa"], CORPUS["ferry-harbour-gazette"], CORPUS["ferry-northern-ledger"]
    late = arrival(ledger)
    result = Result(run_stream(tmp_path, [
        ("add", [arrival(dpa), arrival(gazette)]),
        ("watermark", ledger.first_seen.timestamp() + 2 * HOUR),  # the ledger copy is now late
        ("add", [late]),
    ]))
    assert late[2] < ledger.first_seen.timestamp() + 2 * HOUR
    assert {result.cluster(g) for g in ("ferry-dpa", "ferry-harbour-gazette", "ferry-northern-ledger")} == {
        result.guid_to_id("ferry-dpa")}
    assert result.members("ferry-dpa") == {"ferry-dpa", "ferry-harbour-gazette", "ferry-northern-ledger"}


def _part(item: CorpusItem, guid: str, paragraphs: slice, minutes: int) -> tuple[dict, str, float]:
    payload = feed_item(item)
    text = item.body.split("\n")[paragraphs]
    seen = datetime.fromisoformat("2024-03-04T00:00:00+00:00") + timedelta(minutes=minutes)
    payload.update(feed_id=f"outlet-{guid}", fetched_at=seen.strftime("%Y-%m-%dT%H:%M:%SZ"))
    payload["entry"].update(id=guid, link=f"https://outlet-{guid}.example/{guid}",
                            content=[{"type": "text/html", "value": "".join(f"<p>{p}</p>" for p in text)}])
    return payload, f"m-{guid}", seen.timestamp()


def test_a_bridging_article_merges_two_stories_and_the_retired_one_points_to_the_survivor(tmp_path):
    source = CORPUS["ferry-dpa"]  # eight paragraphs: the halves overlap in two
    events = [("add", [_part(source, "front", slice(0, 5), 0)]),
              ("add", [_part(source, "back", slice(3, 8), 10)]),
              ("add", [_part(source, "bridge", slice(0, 8), 20)])]
    units = run_stream(tmp_path, events)
    result = Result(units)
    front, back = result.guid_to_id("front"), result.guid_to_id("back")
    assert (result.cluster("front"), result.cluster("back"), result.cluster("bridge")) == (front, back, front)
    bridge = next(u for u in units if u.article and u.article["guid"] == "bridge")
    rows = {r["cluster_id"]: r for r in bridge.stories}
    assert set(rows) == {front, back}
    assert rows[back]["merged_into"] == front and rows[front]["merged_into"] is None
    assert {result.guid[a] for a in rows[front]["article_ids"]} == {"front", "back", "bridge"}


def test_redelivered_and_repeated_messages_make_one_article_and_change_no_story(tmp_path):
    item = CORPUS["ferry-dpa"]
    payload, mid, at = arrival(item)
    units = run_stream(tmp_path, [("add", [(payload, mid, at)]),
                                  ("add", [(payload, mid, at + 60)]),  # the same message again
                                  ("add", [(payload, "m-repoll", at + 300)])])  # a re-poll
    assert len(units) == 3
    articles = [u.article for u in units if u.article is not None]
    assert len(articles) == 1 and articles[0]["cluster_id"] == articles[0]["article_id"]
    assert all(not u.stories for u in units if u.article is None)


def test_versions_keep_their_cluster_and_a_kill_notice_withdraws_without_a_story(tmp_path):
    dpa, gazette = CORPUS["ferry-dpa"], CORPUS["ferry-harbour-gazette"]
    corrected = arrival(gazette)
    corrected[0]["entry"]["content"][0]["value"] += "<p>Correction: the strike began at 6 am, not 5 am.</p>"
    corrected[0]["fetched_at"] = (gazette.first_seen + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    kill = arrival(gazette)
    kill[0]["entry"].update(title="KILL: Strike strands islanders",
                            content=[{"type": "text/html", "value": "<p>This story has been withdrawn.</p>"}])
    kill[0]["fetched_at"] = (gazette.first_seen + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    orphan = arrival(CORPUS["ferry-citywire"])
    orphan[0]["entry"].update(id="kill-notice-7", title="Eds: kill", link="https://citywire.example.org/kill-7",
                              content=[{"type": "text/html", "value": "<p>Please kill this story.</p>"}])
    units = run_stream(tmp_path, [
        ("add", [arrival(dpa), arrival(gazette)]),
        ("add", [(corrected[0], corrected[1], corrected[2] + HOUR)]),
        ("add", [(kill[0], kill[1], kill[2] + 2 * HOUR)]),
        ("add", [orphan]),
    ])
    result = Result(units)
    versions = sorted((a["version"], a["cluster_id"], a["withdrawn"]) for a in result.articles
                      if a["guid"] == "ferry-harbour-gazette")
    story = result.guid_to_id("ferry-dpa")
    assert versions == [(1, story, False), (2, story, False), (3, story, True)]
    notice = next(u for u in units if u.article and u.article["guid"] == "kill-notice-7")
    assert notice.article["withdrawn"] and notice.article["cluster_id"] is None
    assert not notice.stories
    assert all(not u.stories for u in units if u.article and u.article["version"] > 1)
    assert result.stories[story]["outlet_count"] == 2


def test_a_copy_later_than_the_ttl_starts_a_story_of_its_own(tmp_path):
    dpa, gazette = CORPUS["ferry-dpa"], CORPUS["ferry-harbour-gazette"]
    much_later = arrival(gazette)
    later = gazette.first_seen + timedelta(hours=3)
    much_later[0]["fetched_at"] = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = Result(run_stream(tmp_path, [
        ("add", [arrival(dpa)]),
        ("watermark", later.timestamp() - 1),  # the dpa copy's 2 h window has closed: state evicted
        ("add", [(much_later[0], much_later[1], later.timestamp())]),
    ], ClusterConfig(ttl=timedelta(hours=2))))
    assert result.cluster("ferry-harbour-gazette") == result.guid_to_id("ferry-harbour-gazette")
    assert result.story("ferry-harbour-gazette") != result.story("ferry-dpa")


def test_a_graph_rebuilt_from_its_state_for_every_element_decides_the_same(tmp_path, monkeypatch):
    # The live graph is only a cache of snapshot + log: with no cache and a snapshot every second
    # decision, every element rebuilds it from state, and nothing may change.
    from transforms import sharding
    from transforms.identity import dofns as identity_dofns
    from transforms.syndication import dofns as cluster_dofns

    stories = {"ferry-strike", "port-expansion", "quake-estmere"}
    items = sorted((i for i in CORPUS.values() if i.story in stories), key=lambda i: i.first_seen, reverse=True)
    events = [("add", [arrival(i)]) for i in items]
    cached = Result(run_stream(tmp_path, events))
    monkeypatch.setattr(cluster_dofns, "_LIVE_MAX", 0)
    monkeypatch.setattr(cluster_dofns, "_SNAPSHOT_EVERY", 2)
    # The local graph's match index and dedup shards too: no live value, a snapshot every few changes.
    monkeypatch.setattr(cluster_dofns._LIVE_INDEXES, "capacity", 0)
    monkeypatch.setattr(identity_dofns._LIVE, "capacity", 0)
    monkeypatch.setattr(sharding, "MIN_LOG", 2)
    rebuilt = Result(run_stream(tmp_path, events))
    assert cluster_dofns._LIVE == {}
    for item in items:
        assert rebuilt.cluster(item.article_id) == cached.cluster(item.article_id)
        assert rebuilt.story(item.article_id) == cached.story(item.article_id)
    strip = ("updated_at",)
    assert ({k: {f: v for f, v in r.items() if f not in strip} for k, r in rebuilt.stories.items()}
            == {k: {f: v for f, v in r.items() if f not in strip} for k, r in cached.stories.items()})
