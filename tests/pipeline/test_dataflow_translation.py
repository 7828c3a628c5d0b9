"""The streaming job as Dataflow would receive it, translated offline.

DataflowRunner with ``--dry_run=True`` builds the full job (runner API pipeline proto and the job
request) and returns just before it would create an API client: no staging upload, no credentials,
no Dataflow service. Nothing is mocked; instead every outbound socket connection is refused during
the test, so any attempt to reach Google (or a metadata server) fails the test.
"""

from __future__ import annotations

import socket

import pytest
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions
from apache_beam.portability.api import beam_runner_api_pb2

from pipeline.build import PUBSUB_ID_LABEL, build_pipeline

pytestmark = pytest.mark.dataflow

PROJECT = "newswire-example"
ARGS = [
    "--runner", "DataflowRunner", "--project", PROJECT, "--region", "europe-west1",
    "--temp_location", f"gs://{PROJECT}-dataflow/tmp",
    "--input", f"pubsub://projects/{PROJECT}/subscriptions/raw-items",
    "--warehouse", f"bigquery://{PROJECT}/newswire",
    "--dry_run=True",
]

# Steps that Dataflow --update maps by name: renaming one needs a --transform_name_mapping.
STABLE_STEPS = {
    "ReadInput/Read/Read",
    "ReadInput/ToMessage",
    "CleanArticles/ParseCleanIdentify/KeyByFeed",
    "CleanArticles/ParseCleanIdentify/CleanLearned",
    "CleanArticles/KeyByArticle",
    "CleanArticles/DedupVersions/Stateful",
    "Cluster/Streaming/Route/ParDo(_Route)",
    "Cluster/Streaming/BandBuckets",
    "Cluster/Streaming/CollectVerdicts",
    "Cluster/Streaming/AssignClusters",
    "SplitTables/Rows_articles",
    "SplitTables/Rows_raw_items",
    "SplitTables/Rows_dead_letter",
    "SplitTables/Rows_learned_boilerplate",
    "Write_learned_boilerplate/ToInsertRows",
    "Write_learned_boilerplate/StreamingInsert/ParDo(BigQueryWriteFn)",
    "Write_learned_boilerplate/RejectedToDeadLetter",
    "Write_articles/ToInsertRows",
    "Write_articles/StreamingInsert/ParDo(BigQueryWriteFn)",
    "Write_articles/RejectedToDeadLetter",
    "Write_raw_items/ToInsertRows",
    "Write_raw_items/StreamingInsert/ParDo(BigQueryWriteFn)",
    "Write_raw_items/RejectedToDeadLetter",
    "SplitTables/Rows_stories",
    "Write_stories/ToInsertRows",
    "Write_stories/StreamingInsert/ParDo(BigQueryWriteFn)",
    "Write_stories/RejectedToDeadLetter",
    "AllDeadLetters",
    "Write_dead_letter/ToInsertRows",
    "Write_dead_letter/StreamingInsert/ParDo(BigQueryWriteFn)",
    "Write_dead_letter/LogRejectedDeadLetters",
}


class NetworkBlocked(AssertionError):
    pass


@pytest.fixture
def offline(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        raise NetworkBlocked(f"the Dataflow translation tried to connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: refuse(None, address))
    # A production graph: no emulator endpoint baked into the sinks.
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)


def _translate(*extra: str):
    options = PipelineOptions([*ARGS, *extra])
    result = build_pipeline(options).run()
    return options, result.job


def _leaf_transforms(job) -> dict[str, beam_runner_api_pb2.PTransform]:
    transforms = job.proto_pipeline.components.transforms
    return {t.unique_name: t for t in transforms.values() if not t.subtransforms}


def test_streaming_job_with_stable_step_names(offline):
    options, job = _translate()
    assert job.proto.type == 2  # JOB_TYPE_STREAMING (apitools enum number)
    assert options.view_as(StandardOptions).streaming
    assert options.view_as(GoogleCloudOptions).enable_streaming_engine

    names = set(_leaf_transforms(job))
    missing = STABLE_STEPS - names
    assert not missing, f"steps renamed or gone (breaks --update): {sorted(missing)}"
    # Auto-generated labels carry source positions or object ids and change with unrelated edits.
    unstable = sorted(n for n in names if "<lambda" in n or ".py:" in n or " at 0x" in n)
    assert not unstable, unstable
    _, again = _translate()
    assert set(_leaf_transforms(again)) == names


def test_pubsub_read_has_id_label_and_timestamp_attribute(offline):
    _, job = _translate()
    reads = [t for t in _leaf_transforms(job).values() if t.spec.urn == "beam:transform:pubsub_read:v1"]
    assert len(reads) == 1
    payload = beam_runner_api_pb2.PubSubReadPayload.FromString(reads[0].spec.payload)
    assert payload.subscription == f"projects/{PROJECT}/subscriptions/raw-items"
    assert payload.id_attribute == PUBSUB_ID_LABEL == "item_key"
    assert payload.timestamp_attribute == "fetched_at"
    assert payload.with_attributes


def test_dedup_versions_keeps_state_and_an_expiry_timer(offline):
    _, job = _translate()
    dedup = _leaf_transforms(job)["CleanArticles/DedupVersions/Stateful"]
    payload = beam_runner_api_pb2.ParDoPayload.FromString(dedup.spec.payload)
    assert "seen" in payload.state_specs
    assert any(name.endswith("expiry") for name in payload.timer_family_specs)


@pytest.mark.parametrize(("step", "state", "timer"), [
    ("Cluster/Streaming/BandBuckets", "held", "expiry"),
    ("Cluster/Streaming/CollectVerdicts", "request", "give_up"),
    ("Cluster/Streaming/AssignClusters", "snapshot", "evict"),
])
def test_cluster_steps_keep_state_with_an_expiry_timer(offline, step, state, timer):
    _, job = _translate()
    payload = beam_runner_api_pb2.ParDoPayload.FromString(_leaf_transforms(job)[step].spec.payload)
    assert state in payload.state_specs
    assert any(name.endswith(timer) for name in payload.timer_family_specs)


def test_learned_boilerplate_is_keyed_state_with_an_expiry_timer(offline):
    _, job = _translate()
    step = _leaf_transforms(job)["CleanArticles/ParseCleanIdentify/CleanLearned"]
    payload = beam_runner_api_pb2.ParDoPayload.FromString(step.spec.payload)
    assert {"snapshot", "log", "token"} <= set(payload.state_specs)
    assert any(name.endswith("expiry") for name in payload.timer_family_specs)


def test_learning_off_keeps_the_single_clean_step(offline):
    _, job = _translate("--learn_boilerplate=false")
    names = set(_leaf_transforms(job))
    assert "CleanArticles/ParseCleanIdentify" in names
    assert not any(n.startswith("CleanArticles/ParseCleanIdentify/") for n in names)


def test_sinks_use_the_real_bigquery_clients_on_dataflow(offline):
    _, job = _translate()
    for table in ("articles", "raw_items", "dead_letter", "stories", "learned_boilerplate"):
        step = _leaf_transforms(job)[f"Write_{table}/StreamingInsert/ParDo(BigQueryWriteFn)"]
        payload = beam_runner_api_pb2.ParDoPayload.FromString(step.spec.payload)
        fn = pickler.loads(payload.do_fn.payload)[0]
        assert fn.test_client is None, table
        assert fn.create_disposition == "CREATE_IF_NEEDED"


def test_direct_runner_read_has_no_id_label(monkeypatch):
    """The DirectRunner rejects id_label, so it is only set for Dataflow."""
    argv = [a for a in ARGS if a != "--dry_run=True"]
    argv[argv.index("DataflowRunner")] = "DirectRunner"
    pipeline = build_pipeline(PipelineOptions(argv))
    reads = []

    class Visitor:
        def enter_composite_transform(self, node):
            self.visit_transform(node)

        def leave_composite_transform(self, node):
            pass

        def visit_value(self, value, node):
            pass

        def visit_transform(self, node):
            if type(node.transform).__name__ == "ReadFromPubSub":
                reads.append(node.transform)

    pipeline.visit(Visitor())
    assert len(reads) == 1
    assert reads[0]._source.id_label is None
    assert reads[0]._source.timestamp_attribute == "fetched_at"
