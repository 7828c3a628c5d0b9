"""``build_pipeline(options) -> Pipeline``: the whole job graph, never run here."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from schemas import ARTICLES, DEAD_LETTER, RAW_ITEMS, STORIES
from transforms.dofns import DEAD, RAW, DedupVersions, ParseCleanIdentify

from .options import NewswireOptions
from .runners import is_dataflow
from .sinks.beam_duckdb import WriteToDuckDB
from .sources import read_input
from .specs import InputSpec, WarehouseSpec, parse_input, parse_warehouse


# The poller's stable key for an entry, sent as a message attribute (DESIGN.md).
PUBSUB_ID_LABEL = "item_key"


class CleanArticles(beam.PTransform):
    """Messages → versioned article rows, plus raw_items and dead_letter rows."""

    def __init__(self, *, stamp_event_time: bool, dedup_ttl_seconds: int) -> None:
        super().__init__()
        self.stamp_event_time = stamp_event_time
        self.dedup_ttl_seconds = dedup_ttl_seconds

    def expand(self, messages):
        parsed = messages | "ParseCleanIdentify" >> beam.ParDo(
            ParseCleanIdentify(stamp_event_time=self.stamp_event_time)).with_outputs(DEAD, RAW, main="articles")
        articles = (parsed.articles
                    | "KeyByArticle" >> beam.Map(lambda row: (row["article_id"], row)).with_output_types(
                        tuple[str, dict])
                    | "DedupVersions" >> beam.ParDo(DedupVersions(self.dedup_ttl_seconds)))
        return {"articles": articles, "raw_items": parsed[RAW], "dead_letter": parsed[DEAD]}


def write_warehouse(outputs: dict, spec: WarehouseSpec) -> None:
    if spec.kind == "duckdb":
        tables = {"articles": ARTICLES, "raw_items": RAW_ITEMS, "dead_letter": DEAD_LETTER}
        for name, table in tables.items():
            outputs[name] | f"Write_{name}" >> WriteToDuckDB(spec.path, table)
        return
    from .sinks.bigquery import WriteToBigQueryTable  # noqa: PLC0415 - cloud-only dependency

    # Rows BigQuery rejects come back as dead_letter rows and join the pipeline's own dead letters.
    rejected = [outputs[name] | f"Write_{name}" >> WriteToBigQueryTable(spec, table)
                for name, table in (("articles", ARTICLES), ("raw_items", RAW_ITEMS), ("stories", STORIES))
                if name in outputs]
    dead_letters = (outputs["dead_letter"], *rejected) | "AllDeadLetters" >> beam.Flatten()
    dead_letters | "Write_dead_letter" >> WriteToBigQueryTable(spec, DEAD_LETTER)


def build_pipeline(options: PipelineOptions) -> beam.Pipeline:
    opts = options.view_as(NewswireOptions)
    input_spec: InputSpec = parse_input(opts.input)
    warehouse: WarehouseSpec = parse_warehouse(opts.warehouse)
    if input_spec.streaming:
        options.view_as(StandardOptions).streaming = True
    p = beam.Pipeline(options=options)
    # Dataflow de-duplicates redelivered messages by this attribute before the pipeline sees them;
    # the DirectRunner rejects id_label, and the pipeline's own dedup covers it there.
    id_label = PUBSUB_ID_LABEL if is_dataflow(options.view_as(StandardOptions).runner) else None
    messages = p | "ReadInput" >> read_input(input_spec, id_label=id_label)
    outputs = messages | "CleanArticles" >> CleanArticles(
        stamp_event_time=not input_spec.streaming,
        dedup_ttl_seconds=int(opts.dedup_ttl_hours * 3600))
    write_warehouse(outputs, warehouse)
    return p
