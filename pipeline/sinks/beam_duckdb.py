"""Beam wiring for the DuckDB warehouse: rows are buffered per bundle and written in one transaction."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas import Table

from .duckdb import DuckDBWarehouse


class _WriteBundle(beam.DoFn):
    def __init__(self, path: str, table: Table) -> None:
        self.path = path
        self.table = table
        self.inserted = Metrics.counter("warehouse", f"{table.name}_inserted")
        self.skipped = Metrics.counter("warehouse", f"{table.name}_skipped")

    def setup(self) -> None:
        self._warehouse = DuckDBWarehouse.shared(self.path)

    def start_bundle(self) -> None:
        self._rows: list[dict] = []

    def process(self, row: dict):
        self._rows.append(row)

    def finish_bundle(self) -> None:
        # A failure here fails the bundle, which the runner retries: the write is idempotent.
        result = self._warehouse.write(self.table, self._rows)
        self.inserted.inc(result.inserted)
        self.skipped.inc(result.skipped)
        self._rows = []


class WriteToDuckDB(beam.PTransform):
    def __init__(self, path: str, table: Table) -> None:
        super().__init__()
        self.path = path
        self.table = table

    def expand(self, rows):
        return rows | "WriteBundles" >> beam.ParDo(_WriteBundle(self.path, self.table))
