"""deploy/: the Flex Template metadata matches the pipeline's options, Terraform builds the tables
from the generated schema files, and the scripts pass only declared parameters."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import NewswireOptions
from pipeline.specs import OptionError, parse_input, parse_warehouse
from schemas import WAREHOUSE_TABLES, bigquery_schema

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
METADATA = json.loads((DEPLOY / "dataflow" / "metadata.json").read_text())
PARAMS = {p["name"]: p for p in METADATA["parameters"]}


# newswire options that only make sense for local runs, so the template does not offer them.
LOCAL_ONLY_OPTIONS = {"ledger_subscription"}
# Every parameter is optional to the template: the input and the warehouse each have two names
# (Google's inputSubscription / outputTableSpec, and newswire's input / warehouse), one of which the
# job requires (resolve_template_aliases).
REQUIRED_OPTIONS: set[str] = set()
GOOGLE_NAMES = {"inputSubscription", "outputTableSpec", "outputDeadletterTable"}


def _newswire_option_names() -> set[str]:
    parser = argparse.ArgumentParser()
    NewswireOptions._add_argparse_args(parser)  # the hook every PipelineOptions subclass defines
    return {a.dest for a in parser._actions if a.dest != "help"}


def _matches(param: str, value: str) -> bool:
    return all(re.fullmatch(rx, value) for rx in PARAMS[param]["regexes"])


# --- Flex Template metadata ---------------------------------------------------------------------

def test_every_metadata_parameter_is_a_pipeline_option():
    known = PipelineOptions(["--input", "x", "--warehouse", "y"]).get_all_options(drop_default=False)
    for name in PARAMS:
        assert name in known, f"metadata.json parameter {name!r} is not a pipeline option"
    assert _newswire_option_names() - set(PARAMS) == LOCAL_ONLY_OPTIONS, (
        "a new newswire option: add it to metadata.json, or to LOCAL_ONLY_OPTIONS if Dataflow never needs it")


def test_parameters_are_described_and_validated():
    assert METADATA["streaming"] is True
    for name, p in PARAMS.items():
        assert p["label"].strip() and len(p["helpText"]) > 40, name
        assert p["regexes"], f"{name} has no validation regex"
        for rx in p["regexes"]:
            re.compile(rx)
    assert {n for n, p in PARAMS.items() if not p.get("isOptional", False)} == REQUIRED_OPTIONS


@pytest.mark.parametrize("value", [
    "pubsub://projects/my-project/subscriptions/raw-items",
    "pubsub://projects/example.com:newswire-prod/subscriptions/raw_items.v2",
])
def test_input_regex_accepts_what_the_pipeline_accepts(value):
    assert _matches("input", value)
    assert parse_input(value).subscription == value.removeprefix("pubsub://")


@pytest.mark.parametrize("value", [
    "raw/*.jsonl",  # files are for local runs, not the streaming template
    "pubsub://projects/my-project/topics/raw-items",  # a topic read would miss messages between jobs
    "pubsub://projects/my-project/subscriptions/",
    "pubsub://projects/P/subscriptions/raw-items",
    "gs://bucket/raw/*.jsonl",
])
def test_input_regex_rejects(value):
    assert not _matches("input", value)


def test_warehouse_regex_agrees_with_the_option_parser():
    for good in ("bigquery://my-project/newswire", "bigquery://example.com:proj-1/news_wire_2"):
        assert _matches("warehouse", good)
        assert parse_warehouse(good).kind == "bigquery"
    for bad in ("out.duckdb", "bigquery://my-project", "bigquery://my-project/news-wire"):
        assert not _matches("warehouse", bad), bad
    with pytest.raises(OptionError):
        parse_warehouse("bigquery://my-project/news-wire")


def test_dedup_ttl_regex_accepts_numbers_the_option_parses():
    for good in ("168", "0.5", "24.0"):
        assert _matches("dedup_ttl_hours", good)
        opts = PipelineOptions(["--input", "x", "--warehouse", "y", "--dedup_ttl_hours", good])
        assert opts.view_as(NewswireOptions).dedup_ttl_hours == float(good)
    for bad in ("-1", "7d", "", "1e3"):
        assert not _matches("dedup_ttl_hours", bad), bad


def test_flex_template_image_runs_the_pipeline_entry_point():
    dockerfile = (DEPLOY / "dataflow" / "Dockerfile").read_text()
    assert re.search(r"^FROM gcr\.io/dataflow-templates-base/python311-template-launcher-base\b",
                     dockerfile, re.M)
    assert 'FLEX_TEMPLATE_PYTHON_PY_FILE="${WORKDIR}/launch.py"' in dockerfile
    assert "COPY deploy/dataflow/launch.py ./launch.py" in dockerfile
    launch = (DEPLOY / "dataflow" / "launch.py").read_text()
    assert "from pipeline.main import main" in launch
    for copied in re.findall(r"^COPY (\S+) \./\S*$", dockerfile, re.M):
        assert (ROOT / copied).exists(), copied


# --- Terraform ----------------------------------------------------------------------------------

def _unquote(obj):
    if isinstance(obj, dict):
        return {k.strip('"'): _unquote(v) for k, v in obj.items() if not k.startswith("__")}
    if isinstance(obj, list):
        return [_unquote(v) for v in obj]
    return obj


def _resources(tf_file: str) -> dict[str, dict]:
    hcl2 = pytest.importorskip("hcl2")
    doc = _unquote(hcl2.load((DEPLOY / "terraform" / tf_file).open()))
    out = {}
    for block in doc.get("resource", []):
        for rtype, named in block.items():
            for name, body in named.items():
                out[f"{rtype}.{name}"] = body
    return out, doc


def test_terraform_tables_come_from_the_generated_schema_files():
    resources, doc = _resources("bigquery.tf")
    assert doc["locals"][0]["tables"] == '${jsondecode(file("${path.module}/schemas/tables.json"))}'
    tables = resources["google_bigquery_table.tables"]
    assert tables["for_each"] == "${local.tables}"
    assert tables["table_id"] == "${each.key}"
    assert tables["schema"] == '${file("${path.module}/schemas/${each.value.schema_file}")}'
    assert tables["clustering"] == "${each.value.clustering}"
    assert tables["time_partitioning"][0]["field"] == "${each.value.partition_field}"
    views = resources["google_bigquery_table.unique_views"]
    assert "${each.value.unique_view_file}" in views["view"][0]["query"]

    # What Terraform will read equals what schemas/ generates, table by table.
    index = json.loads((DEPLOY / "terraform" / "schemas" / "tables.json").read_text())
    for table in WAREHOUSE_TABLES:
        schema_file = DEPLOY / "terraform" / "schemas" / index[table.name]["schema_file"]
        assert json.loads(schema_file.read_text()) == bigquery_schema(table), table.name
        assert index[table.name]["partition_field"] == table.partition_field
        assert index[table.name]["clustering"] == list(table.clustering)


def test_the_subscription_dataflow_reads_has_no_retry_or_dead_letter_policy():
    """Dataflow acknowledges on its own checkpoint and does not support Pub/Sub dead-letter topics on
    the subscriptions it reads; poison messages go to the pipeline's dead_letter table instead."""
    resources, _ = _resources("pubsub.tf")
    sub = resources["google_pubsub_subscription.raw_items"]
    assert sub["retain_acked_messages"] is True
    assert "dead_letter_policy" not in sub and "retry_policy" not in sub
    assert not [name for name in resources if "dead_letter" in name]


def test_service_accounts_get_no_broad_roles():
    resources, _ = _resources("iam.tf")
    roles = {name: body["role"] for name, body in resources.items() if "role" in body}
    broad = {"roles/owner", "roles/editor", "roles/bigquery.admin", "roles/pubsub.admin",
             "roles/storage.admin", "roles/dataflow.admin"}
    assert not broad & set(roles.values()), roles
    # Only roles/dataflow.worker is granted project-wide; everything else is on one resource.
    project_wide = [n for n in roles if n.startswith("google_project_iam")]
    assert project_wide == ["google_project_iam_member.dataflow_worker"]


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_is_formatted():
    proc = subprocess.run(["terraform", "fmt", "-check", "-recursive", str(DEPLOY / "terraform")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- scripts ------------------------------------------------------------------------------------

def _template_parameters(**env) -> dict[str, str]:
    script = f"source {DEPLOY / 'scripts' / 'env.sh'}; template_parameters"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "TAG": "test", **env}).stdout
    return dict(kv.split("=", 1) for kv in out.split(","))


def test_scripts_pass_only_declared_parameters_with_valid_values():
    params = _template_parameters(PROJECT="my-project")
    assert set(params) == GOOGLE_NAMES  # named as Google's templates name them
    assert params == {"inputSubscription": "projects/my-project/subscriptions/raw-items",
                      "outputTableSpec": "my-project:newswire.articles",
                      "outputDeadletterTable": "my-project:newswire.dead_letter"}
    params = _template_parameters(PROJECT="my-project", DEDUP_TTL_HOURS="72")
    assert set(params) <= set(PARAMS)
    for name, value in params.items():
        assert _matches(name, value), (name, value)


def test_scripts_are_valid_bash():
    for script in sorted((DEPLOY / "scripts").glob("*.sh")):
        proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{script.name}: {proc.stderr}"


# --- Google's parameter names -------------------------------------------------------------------

def _resolved(*flags: str) -> NewswireOptions:
    from pipeline.options import resolve_template_aliases

    opts = PipelineOptions(list(flags)).view_as(NewswireOptions)
    resolve_template_aliases(opts)
    return opts


def test_google_parameter_names_mean_the_same_as_newswires():
    for name in GOOGLE_NAMES | {"input", "warehouse"}:
        assert PARAMS[name].get("isOptional") is True, name
    opts = _resolved("--inputSubscription=projects/my-project/subscriptions/raw-items",
                     "--outputTableSpec=my-project:newswire.articles",
                     "--outputDeadletterTable=my-project:ops.failed_items")
    assert opts.input == "pubsub://projects/my-project/subscriptions/raw-items"
    spec = parse_warehouse(opts.warehouse)
    assert (spec.project, spec.dataset, spec.dead_letter_table) == ("my-project", "newswire", "my-project:ops.failed_items")
    from pipeline.sinks.bigquery import table_spec
    from schemas import ARTICLES, DEAD_LETTER

    assert table_spec(spec, DEAD_LETTER) == "my-project:ops.failed_items"
    assert table_spec(spec, ARTICLES) == "my-project:newswire.articles"
    old = _resolved("--input=pubsub://projects/my-project/subscriptions/raw-items",
                    "--warehouse=bigquery://my-project/newswire")  # the old names still work
    assert parse_warehouse(old.warehouse).dead_letter_table is None
    for good in ("projects/my-project/subscriptions/raw-items",):
        assert _matches("inputSubscription", good)
    assert _matches("outputTableSpec", "example.com:proj-1:news_wire.articles")
    assert not _matches("outputTableSpec", "my-project:newswire.stories")
    assert _matches("outputDeadletterTable", "my-project:newswire.dead_letter")


@pytest.mark.parametrize("flags, message", [
    (["--inputSubscription=projects/a-project/subscriptions/s", "--input=pubsub://projects/b-project/subscriptions/s"],
     "disagree"),
    (["--outputTableSpec=my-project:newswire.stories"], "name the articles table"),
    (["--outputTableSpec=my-project.newswire.articles"], "expected PROJECT:DATASET.TABLE"),
    (["--warehouse=out.duckdb", "--outputDeadletterTable=p-project:d.t"], "for a BigQuery warehouse"),
])
def test_google_parameter_mistakes_are_option_errors(flags, message):
    with pytest.raises(OptionError, match=message):
        _resolved(*flags)
