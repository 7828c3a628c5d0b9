"""The vocabulary that record definitions are written in.

A record is declared once as a :class:`Table` of :class:`Field` objects; every concrete schema
(Beam row type, BigQuery JSON schema, DuckDB DDL) is generated from that declaration by
``schemas.generate``, so no schema is ever restated by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldType = Literal["STRING", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "JSON", "RECORD"]
Mode = Literal["NULLABLE", "REQUIRED", "REPEATED"]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    mode: Mode = "NULLABLE"
    description: str = ""
    fields: tuple["Field", ...] = ()

    def __post_init__(self) -> None:
        if (self.type == "RECORD") != bool(self.fields):
            raise ValueError(f"field {self.name!r}: RECORD fields need sub-fields, others must have none")


@dataclass(frozen=True)
class Table:
    """A warehouse table (or message) declaration.

    ``primary_key`` makes writes idempotent in DuckDB; ``partition_field`` / ``clustering`` are the
    BigQuery layout (``partition_field=None`` means ingestion-time partitioning).
    """

    name: str
    description: str
    fields: tuple[Field, ...]
    schema_version: int = 1
    primary_key: tuple[str, ...] = ()
    partition_field: str | None = None
    clustering: tuple[str, ...] = ()

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def get(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)
