"""``build_pipeline(options) -> Pipeline``: the whole job graph, never run here."""

from __future__ import annotations

from operator import attrgetter

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from schemas import ARTICLES, DEAD_LETTER, LEARNED_BOILERPLATE, RAW_ITEMS, STORIES
from transforms.cleaning.dofns import ParseCleanIdentify
from transforms.identity.dofns import DedupVersions, unit_key
from transforms.learning import LearnConfig
from transforms.learning.dofns import CleanWithLearnedLines
from transforms.model import Unit
from transforms.syndication.dofns import Cluster

from .options import NewswireOptions, cluster_config, learn_config
from .runners import is_dataflow
from .sinks.beam_duckdb import WriteUnitsToDuckDB
from .sources import read_input
from .specs import InputSpec, OptionError, WarehouseSpec, parse_input, parse_warehouse


# The poller's stable key for an entry, sent as a message attribute (DESIGN.md).
PUBSUB_ID_LABEL = "item_key"


class CleanArticles(beam.PTransform):
    """Messages → units: each message's raw_items row with its versioned article or dead letter.

    With ``with_items``, returns ``{"units": units, "items": every unit before de-duplication}``:
    the batch Cluster stage reads the items, which are computed anyway, so that the units after
    de-duplication can take their cluster ids in the same fused step that numbers their versions.

    With ``learn`` (a LearnConfig), each item is cleaned with the boilerplate learned from its
    source's earlier items (``transforms.learning.dofns``); without, in one stateless step.
    """

    def __init__(self, *, streaming: bool, dedup_ttl_seconds: int, with_items: bool = False,
                 learn: LearnConfig | None = None) -> None:
        super().__init__()
        self.streaming = streaming
        self.dedup_ttl_seconds = dedup_ttl_seconds
        self.with_items = with_items
        self.learn = learn

    def expand(self, messages):
        if self.learn is not None:
            items = messages | "ParseCleanIdentify" >> CleanWithLearnedLines(self.learn, streaming=self.streaming)
        else:
            items = messages | "ParseCleanIdentify" >> beam.ParDo(ParseCleanIdentify(
                stamp_event_time=not self.streaming))
        units = (items
                 | "KeyByArticle" >> beam.Map(lambda unit: (unit_key(unit), unit)).with_output_types(
                     tuple[str, Unit])
                 | "DedupVersions" >> DedupVersions(self.dedup_ttl_seconds, streaming=self.streaming))
        return {"units": units, "items": items} if self.with_items else units


# The unit's fields that hold one row (or None), by the table the row goes to.
_ONE_ROW = ((ARTICLES, attrgetter("article")), (RAW_ITEMS, attrgetter("raw_item")),
            (DEAD_LETTER, attrgetter("dead_letter")))


class SplitTables(beam.PTransform):
    """Units → one PCollection of rows per table (by table name), for sinks that write tables
    separately."""

    def expand(self, units):
        tables = {
            table.name: units | f"Rows_{table.name}" >> beam.FlatMap(
                lambda u, row_of=row_of: [row] if (row := row_of(u)) is not None else [])
            for table, row_of in _ONE_ROW
        }
        # A unit carries the story snapshots its article changed (none before the Cluster stage).
        tables[STORIES.name] = units | f"Rows_{STORIES.name}" >> beam.FlatMap(lambda u: u.stories)
        # ... and the learned-boilerplate rows its item changed.
        tables[LEARNED_BOILERPLATE.name] = units | f"Rows_{LEARNED_BOILERPLATE.name}" >> beam.FlatMap(
            lambda u: u.learned)
        return tables


def write_warehouse(units, spec: WarehouseSpec) -> None:
    """Write units (with the story and learned-line rows they carry) to the warehouse."""
    if spec.kind == "duckdb":
        units | "WriteDuckDB" >> WriteUnitsToDuckDB(spec.path)
        return
    from .sinks.bigquery import WriteToBigQueryTable  # noqa: PLC0415 - cloud-only dependency

    tables = units | "SplitTables" >> SplitTables()
    # Rows BigQuery rejects come back as dead_letter rows and join the pipeline's own dead letters.
    rejected = [tables[table.name] | f"Write_{table.name}" >> WriteToBigQueryTable(spec, table)
                for table in (ARTICLES, RAW_ITEMS, STORIES, LEARNED_BOILERPLATE)]
    dead_letters = (tables[DEAD_LETTER.name], *rejected) | "AllDeadLetters" >> beam.Flatten()
    dead_letters | f"Write_{DEAD_LETTER.name}" >> WriteToBigQueryTable(spec, DEAD_LETTER)


def build_pipeline(options: PipelineOptions) -> beam.Pipeline:
    opts = options.view_as(NewswireOptions)
    if not opts.input or not opts.warehouse:
        raise OptionError("both --input and --warehouse are required (see newswire process --help)")
    input_spec: InputSpec = parse_input(opts.input)
    warehouse: WarehouseSpec = parse_warehouse(opts.warehouse)
    if input_spec.streaming:
        options.view_as(StandardOptions).streaming = True
    p = beam.Pipeline(options=options)
    # Dataflow de-duplicates redelivered messages by this attribute before the pipeline sees them;
    # the DirectRunner rejects id_label, and the pipeline's own dedup covers it there.
    id_label = PUBSUB_ID_LABEL if is_dataflow(options.view_as(StandardOptions).runner) else None
    try:
        clustering = cluster_config(opts)
        learning = learn_config(opts)
    except ValueError as exc:
        raise OptionError(str(exc)) from exc
    messages = p | "ReadInput" >> read_input(input_spec, id_label=id_label)
    cleaned = messages | "CleanArticles" >> CleanArticles(
        streaming=input_spec.streaming,
        dedup_ttl_seconds=int(opts.dedup_ttl_hours * 3600),
        with_items=not input_spec.streaming,
        learn=learning)
    clustered = cleaned | "Cluster" >> Cluster(clustering, streaming=input_spec.streaming)
    write_warehouse(clustered, warehouse)
    return p
