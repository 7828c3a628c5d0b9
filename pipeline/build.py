"""``build_pipeline(options) -> Pipeline``: the whole job graph, never run here."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from schemas import ARTICLES, DEAD_LETTER, RAW_ITEMS, STORIES
from transforms.dofns import ARTICLE, DEAD, RAW, DedupVersions, ParseCleanIdentify, unit_key

from .options import NewswireOptions
from .runners import is_dataflow
from .sinks.beam_duckdb import WriteUnitsToDuckDB
from .sources import read_input
from .specs import InputSpec, OptionError, WarehouseSpec, parse_input, parse_warehouse


# The poller's stable key for an entry, sent as a message attribute (DESIGN.md).
PUBSUB_ID_LABEL = "item_key"


class CleanArticles(beam.PTransform):
    """Messages → units: each message's raw_items row with its versioned article or dead letter."""

    def __init__(self, *, streaming: bool, dedup_ttl_seconds: int) -> None:
        super().__init__()
        self.streaming = streaming
        self.dedup_ttl_seconds = dedup_ttl_seconds

    def expand(self, messages):
        return (messages
                | "ParseCleanIdentify" >> beam.ParDo(ParseCleanIdentify(
                    stamp_event_time=not self.streaming))
                | "KeyByArticle" >> beam.Map(lambda unit: (unit_key(unit), unit)).with_output_types(
                    tuple[str, dict])
                | "DedupVersions" >> DedupVersions(self.dedup_ttl_seconds, streaming=self.streaming))


class SplitTables(beam.PTransform):
    """Units → one PCollection of rows per table, for sinks that write tables separately."""

    def expand(self, units):
        return {
            name: units | f"Rows_{name}" >> beam.FlatMap(lambda u, n=name: [u[n]] if u[n] is not None else [])
            for name in (ARTICLE, RAW, DEAD)
        }


def write_warehouse(units, spec: WarehouseSpec, stories=None) -> None:
    """Write units (and story rows, once the pipeline produces them) to the warehouse."""
    if spec.kind == "duckdb":
        units | "WriteDuckDB" >> WriteUnitsToDuckDB(spec.path)
        return
    from .sinks.bigquery import WriteToBigQueryTable  # noqa: PLC0415 - cloud-only dependency

    tables = units | "SplitTables" >> SplitTables()
    # Rows BigQuery rejects come back as dead_letter rows and join the pipeline's own dead letters.
    rejected = [tables[name] | f"Write_{name}" >> WriteToBigQueryTable(spec, table)
                for name, table in ((ARTICLE, ARTICLES), (RAW, RAW_ITEMS))]
    if stories is not None:
        rejected.append(stories | f"Write_{STORIES.name}" >> WriteToBigQueryTable(spec, STORIES))
    dead_letters = (tables[DEAD], *rejected) | "AllDeadLetters" >> beam.Flatten()
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
    messages = p | "ReadInput" >> read_input(input_spec, id_label=id_label)
    units = messages | "CleanArticles" >> CleanArticles(
        streaming=input_spec.streaming,
        dedup_ttl_seconds=int(opts.dedup_ttl_hours * 3600))
    write_warehouse(units, warehouse)
    return p
