"""Beam wiring for the DuckDB warehouse: a bundle's units are written in transactions of at most
``MAX_UNITS_PER_WRITE`` units."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas import ARTICLES, DEAD_LETTER, LEARNED_BOILERPLATE, RAW_ITEMS, STORIES
from transforms.model import Unit

from .duckdb import DuckDBWarehouse

_TABLES = (ARTICLES, RAW_ITEMS, DEAD_LETTER, STORIES, LEARNED_BOILERPLATE)

# Units per transaction. A streaming bundle holds at most a pull's worth (500, pipeline.runners)
# and is written whole; a batch bundle can be the whole job, whose rows in one transaction (and
# one Arrow table per table) cost memory in proportion to the job and made DuckDB's per-write work
# grow with it. Each write is idempotent and keeps the order the units came in (a later version of
# an article follows its first), so a bundle written in pieces leaves the same rows.
MAX_UNITS_PER_WRITE = 2000


class _WriteUnits(beam.DoFn):
    def __init__(self, path: str) -> None:
        self.path = path
        self.inserted = {t.name: Metrics.counter("warehouse", f"{t.name}_inserted") for t in _TABLES}
        self.skipped = {t.name: Metrics.counter("warehouse", f"{t.name}_skipped") for t in _TABLES}

    def setup(self) -> None:
        self._warehouse = DuckDBWarehouse.shared(self.path)

    def start_bundle(self) -> None:
        self._units: list[Unit] = []

    def process(self, unit: Unit):
        self._units.append(unit)
        if len(self._units) >= MAX_UNITS_PER_WRITE:
            self._write()

    def finish_bundle(self) -> None:
        self._write()

    def _write(self) -> None:
        # A failure here fails the bundle, which the runner retries: the write is idempotent.
        if not self._units:
            return
        for name, result in self._warehouse.write_units(self._units).items():
            self.inserted[name].inc(result.inserted)
            self.skipped[name].inc(result.skipped)
        self._units = []


class WriteUnitsToDuckDB(beam.PTransform):
    """Writes each message's raw row with its article or dead-letter row and the story and
    learned-line rows it changed, atomically."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def expand(self, units):
        return units | "WriteBundles" >> beam.ParDo(_WriteUnits(self.path))
