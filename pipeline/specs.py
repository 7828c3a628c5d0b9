"""Parsing and validating the --input and --warehouse options (early, with how to fix it)."""

from __future__ import annotations

import glob as globmod
import re
from dataclasses import dataclass

_PUBSUB = re.compile(r"^pubsub://projects/(?P<project>[^/]+)/(?P<kind>subscriptions|topics)/(?P<name>[^/]+)$")
_BIGQUERY = re.compile(r"^bigquery://(?P<project>[^/]+)/(?P<dataset>[A-Za-z0-9_]+)"
                       r"(?:\?dead_letter_table=(?P<dead_letter>[^&]+))?$")
# Google's form of a BigQuery table, as its Dataflow templates take it: PROJECT:DATASET.TABLE (a
# project id may itself hold a colon, example.com:my-project).
_TABLE_SPEC = re.compile(r"^(?P<project>[a-z][-a-z0-9:.]*[a-z0-9]):(?P<dataset>[A-Za-z0-9_]+)\.(?P<table>[A-Za-z0-9_$-]+)$")


class OptionError(ValueError):
    """A bad option value; the message says how to fix it."""


@dataclass(frozen=True)
class InputSpec:
    kind: str  # 'files' | 'pubsub'
    glob: str | None = None
    project: str | None = None
    subscription: str | None = None  # full path projects/P/subscriptions/S
    topic: str | None = None  # full path projects/P/topics/T

    @property
    def streaming(self) -> bool:
        return self.kind == "pubsub"


@dataclass(frozen=True)
class WarehouseSpec:
    kind: str  # 'duckdb' | 'bigquery'
    path: str | None = None
    project: str | None = None
    dataset: str | None = None
    # Where dead letters go when not to the dataset's own dead_letter table: PROJECT:DATASET.TABLE.
    dead_letter_table: str | None = None


@dataclass(frozen=True)
class TableSpec:
    project: str
    dataset: str
    table: str

    def __str__(self) -> str:
        return f"{self.project}:{self.dataset}.{self.table}"


def parse_table_spec(value: str, option: str) -> TableSpec:
    m = _TABLE_SPEC.match(value or "")
    if not m:
        raise OptionError(f"{option} {value!r}: expected PROJECT:DATASET.TABLE (e.g. my-project:newswire.articles)")
    return TableSpec(m["project"], m["dataset"], m["table"])


def parse_input(value: str, *, check_files: bool = True) -> InputSpec:
    if value.startswith("pubsub:"):
        m = _PUBSUB.match(value)
        if not m:
            raise OptionError(
                f"--input {value!r}: expected pubsub://projects/PROJECT/subscriptions/NAME "
                "or pubsub://projects/PROJECT/topics/NAME")
        path = value[len("pubsub://"):]
        if m["kind"] == "subscriptions":
            return InputSpec("pubsub", project=m["project"], subscription=path)
        return InputSpec("pubsub", project=m["project"], topic=path)
    if "://" in value and not value.startswith("file://"):
        raise OptionError(f"--input {value!r}: use a file glob or pubsub://projects/P/subscriptions/S")
    pattern = value.removeprefix("file://")
    if check_files and not globmod.glob(pattern, recursive=True):
        raise OptionError(f"--input {value!r}: no file matches; give a glob of .jsonl raw-item files")
    return InputSpec("files", glob=pattern)


def parse_warehouse(value: str) -> WarehouseSpec:
    if value.startswith("bigquery:"):
        m = _BIGQUERY.match(value)
        if not m:
            raise OptionError(f"--warehouse {value!r}: expected bigquery://PROJECT/DATASET")
        dead = str(parse_table_spec(m["dead_letter"], "dead_letter_table")) if m["dead_letter"] else None
        return WarehouseSpec("bigquery", project=m["project"], dataset=m["dataset"], dead_letter_table=dead)
    if "://" in value:
        raise OptionError(f"--warehouse {value!r}: use a DuckDB file path or bigquery://PROJECT/DATASET")
    return WarehouseSpec("duckdb", path=value)
