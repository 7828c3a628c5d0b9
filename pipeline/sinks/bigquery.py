"""The BigQuery warehouse: one streaming-insert sink per table, rejected rows into dead_letter.

Writes use BigQuery's streaming inserts (``tabledata.insertAll``) through Beam's own
``BigQueryWriteFn``, the DoFn behind ``WriteToBigQuery(method=STREAMING_INSERTS)``: table creation
from the generated schema with partitioning and clustering, batching, retries of transient errors,
and the failed-rows output all come from Beam. ``WriteToBigQuery`` itself is not used because it
stamps every row with a random insertId per bundle and has no parameter to supply one; newswire
needs ids derived from each row's primary key, so that a retried or replayed row is de-duplicated
by BigQuery. The Storage Write API is deliberately not used: in Python it runs through a Java
expansion service.
"""

from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.io.gcp.bigquery import BigQueryDisposition, BigQueryWriteFn
from apache_beam.io.gcp.bigquery_tools import RetryStrategy
from apache_beam.metrics import Metrics

from schemas import DEAD_LETTER, Table, bigquery_schema, bigquery_table_options

from ..specs import WarehouseSpec
from .bigquery_client import EndpointBigQueryClient, endpoint_from_env
from .bigquery_rows import insert_id, rejected_row_to_dead_letter, to_bigquery_row

_LOG = logging.getLogger(__name__)

# Rows per insertAll request: BigQuery recommends about 500 for streaming inserts.
_BATCH_SIZE = 500


def table_spec(spec: WarehouseSpec, table: Table) -> str:
    """``PROJECT:DATASET.TABLE``, the destination form Beam's BigQuery IO parses. Dead letters go
    to the warehouse's ``dead_letter_table`` when one is given (``outputDeadletterTable``)."""
    if table.name == DEAD_LETTER.name and spec.dead_letter_table:
        return spec.dead_letter_table
    return f"{spec.project}:{spec.dataset}.{table.name}"


class _ToInsertRow(beam.DoFn):
    def __init__(self, table: Table, destination: str) -> None:
        self.table = table
        self.destination = destination

    def process(self, row: dict):
        converted = to_bigquery_row(self.table, row)
        yield self.destination, (converted, insert_id(self.table, converted))


class _RejectedToDeadLetter(beam.DoFn):
    def __init__(self, table: Table) -> None:
        self.table = table
        self.rejected = Metrics.counter("warehouse", f"{table.name}_rejected")

    def process(self, failed):
        _destination, row, errors = failed
        self.rejected.inc()
        yield rejected_row_to_dead_letter(self.table.name, row, errors)


class _LogLostDeadLetter(beam.DoFn):
    """A dead_letter row that dead_letter itself refused: logged with its payload and counted.

    Sending it back to dead_letter could loop forever on a row that can never be written.
    """

    def __init__(self) -> None:
        self.lost = Metrics.counter("warehouse", "dead_letter_rejected")

    def process(self, failed):
        destination, row, errors = failed
        self.lost.inc()
        _LOG.error("dead_letter row rejected by BigQuery table %s: %s; row=%r", destination, errors, row)
        yield row


class WriteToBigQueryTable(beam.PTransform):
    """Stream rows of one warehouse ``table`` into ``spec``'s dataset.

    Returns a PCollection of dead_letter rows for the rows BigQuery rejected (to be written to
    dead_letter), or, for the dead_letter table itself, the rejected rows after they were logged.
    ``endpoint`` (default: ``BIGQUERY_EMULATOR_HOST``) points both BigQuery clients at an emulator.
    """

    def __init__(self, spec: WarehouseSpec, table: Table, *, endpoint: str | None = None) -> None:
        super().__init__()
        if spec.kind != "bigquery" or not spec.project or not spec.dataset:
            raise ValueError(f"WriteToBigQueryTable needs a bigquery://PROJECT/DATASET warehouse, got {spec!r}")
        self.spec = spec
        self.table = table
        self.endpoint = endpoint if endpoint is not None else endpoint_from_env()

    def _write_fn(self) -> BigQueryWriteFn:
        client = EndpointBigQueryClient(self.endpoint, self.spec.project) if self.endpoint else None
        return BigQueryWriteFn(
            batch_size=_BATCH_SIZE,
            schema={"fields": bigquery_schema(self.table)},
            create_disposition=BigQueryDisposition.CREATE_IF_NEEDED,
            write_disposition=BigQueryDisposition.WRITE_APPEND,
            additional_bq_parameters=bigquery_table_options(self.table),
            # Invalid rows are permanent: retrying them would stall the job, so they go to dead_letter.
            # Transient failures (BigQuery unavailable, quota) are retried with backoff for as long
            # as they last (Beam's default, 10,000 attempts): the job falls behind and Pub/Sub keeps
            # the backlog, where giving up would push good rows into dead_letter, itself unwritable.
            retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
            test_client=client,
        )

    def expand(self, rows):
        destination = table_spec(self.spec, self.table)
        result = (
            rows
            | "ToInsertRows" >> beam.ParDo(_ToInsertRow(self.table, destination))
            # Checkpoints rows between the pipeline and the inserts, and spreads inserts over workers.
            | "Reshuffle" >> beam.Reshuffle()
            | "StreamingInsert" >> beam.ParDo(self._write_fn()).with_outputs(
                BigQueryWriteFn.FAILED_ROWS, BigQueryWriteFn.FAILED_ROWS_WITH_ERRORS, main="inserted"))
        failed = result[BigQueryWriteFn.FAILED_ROWS_WITH_ERRORS]
        if self.table.name == DEAD_LETTER.name:
            return failed | "LogRejectedDeadLetters" >> beam.ParDo(_LogLostDeadLetter())
        return failed | "RejectedToDeadLetter" >> beam.ParDo(_RejectedToDeadLetter(self.table))
