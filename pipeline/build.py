"""``build_pipeline(options) -> Pipeline``: the whole job graph, never run here."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from schemas import ARTICLES, DEAD_LETTER, RAW_ITEMS
from transforms.dofns import ARTICLE, DEAD, RAW, DedupVersions, ParseCleanIdentify, unit_key

from .options import NewswireOptions
from .sinks.beam_duckdb import WriteUnitsToDuckDB
from .sources import read_input
from .specs import InputSpec, OptionError, WarehouseSpec, parse_input, parse_warehouse


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


def write_warehouse(units, spec: WarehouseSpec) -> None:
    if spec.kind == "duckdb":
        units | "WriteDuckDB" >> WriteUnitsToDuckDB(spec.path)
        return
    from .sinks.bigquery import WriteToBigQueryTable  # noqa: PLC0415 - cloud-only dependency

    tables = units | "SplitTables" >> SplitTables()
    for table in (ARTICLES, RAW_ITEMS, DEAD_LETTER):
        tables[table.name] | f"Write_{table.name}" >> WriteToBigQueryTable(spec, table)


def build_pipeline(options: PipelineOptions) -> beam.Pipeline:
    opts = options.view_as(NewswireOptions)
    if not opts.input or not opts.warehouse:
        raise OptionError("both --input and --warehouse are required (see newswire process --help)")
    input_spec: InputSpec = parse_input(opts.input)
    warehouse: WarehouseSpec = parse_warehouse(opts.warehouse)
    if input_spec.streaming:
        options.view_as(StandardOptions).streaming = True
    p = beam.Pipeline(options=options)
    messages = p | "ReadInput" >> read_input(input_spec)
    units = messages | "CleanArticles" >> CleanArticles(
        streaming=input_spec.streaming,
        dedup_ttl_seconds=int(opts.dedup_ttl_hours * 3600))
    write_warehouse(units, warehouse)
    return p
