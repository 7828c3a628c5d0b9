"""``build_pipeline(options) -> Pipeline``: the whole job graph, never run here."""

from __future__ import annotations

from operator import attrgetter

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from schemas import ARTICLES, DEAD_LETTER, LEARNED_BOILERPLATE, RAW_ITEMS, STORIES
from transforms.cleaning.dofns import ParseCleanIdentify
from transforms.identity.dofns import DedupVersions, dedup_key
from transforms.learning import LearnConfig
from transforms.learning.dofns import CleanWithLearnedLines
from transforms.model import Unit
from transforms.sharding import LOCAL_SHARDS
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

    With ``shards``, streaming keys the stateful steps (learned boilerplate by feed, dedup by
    article) by that many shards instead (``transforms.sharding``): the same rows, with a number of
    keys that does not grow with the articles and feeds seen.
    """

    def __init__(self, *, streaming: bool, dedup_ttl_seconds: int, with_items: bool = False,
                 learn: LearnConfig | None = None, shards: int | None = None) -> None:
        super().__init__()
        self.streaming = streaming
        self.dedup_ttl_seconds = dedup_ttl_seconds
        self.with_items = with_items
        self.learn = learn
        self.shards = shards if streaming else None

    def expand(self, messages):
        if self.learn is not None:
            items = messages | "ParseCleanIdentify" >> CleanWithLearnedLines(
                self.learn, streaming=self.streaming, shards=self.shards)
        else:
            items = messages | "ParseCleanIdentify" >> beam.ParDo(ParseCleanIdentify(
                stamp_event_time=not self.streaming))
        shards = self.shards
        units = (items
                 | "KeyByArticle" >> beam.Map(lambda unit: (dedup_key(unit, shards), unit)).with_output_types(
                     tuple[str, Unit])
                 | "DedupVersions" >> DedupVersions(self.dedup_ttl_seconds, streaming=self.streaming,
                                                    shards=shards))
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
    dataflow = is_dataflow(options.view_as(StandardOptions).runner)
    id_label = PUBSUB_ID_LABEL if dataflow else None
    # Dataflow keys state by article, band and feed (it spreads keys over workers, and --update
    # maps state by them); every other runner gets the sharded graph, whose keys do not grow with
    # what the job has seen. Both write the same rows.
    shards = None if dataflow else LOCAL_SHARDS
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
        learn=learning,
        shards=shards)
    clustered = cleaned | "Cluster" >> Cluster(clustering, streaming=input_spec.streaming,
                                               sharded=shards is not None)
    write_warehouse(clustered, warehouse)
    return p
