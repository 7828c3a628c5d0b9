"""Concrete schemas generated from the declarations in ``schemas.definitions``."""

from __future__ import annotations

import json
import typing
from functools import lru_cache

from .fields import Field, Table

_DUCKDB_SCALAR = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "FLOAT64": "DOUBLE",
    "BOOL": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMPTZ",
    # Stored as text: DuckDB's JSON type needs an extension, and readers parse it with json_* anyway.
    "JSON": "VARCHAR",
}


# --- BigQuery ---------------------------------------------------------------------------------

def _bq_field(f: Field) -> dict:
    out: dict = {"name": f.name, "type": f.type, "mode": f.mode}
    if f.description:
        out["description"] = f.description
    if f.fields:
        out["fields"] = [_bq_field(sub) for sub in f.fields]
    return out


def bigquery_schema(table: Table) -> list[dict]:
    """The BigQuery JSON schema (the ``fields`` list of a TableSchema)."""
    return [_bq_field(f) for f in table.fields]


def bigquery_schema_json(table: Table) -> str:
    return json.dumps(bigquery_schema(table), indent=2)


def bigquery_table_options(table: Table) -> dict:
    """Partitioning and clustering as WriteToBigQuery's ``additional_bq_parameters``."""
    partitioning: dict = {"type": "DAY"}
    if table.partition_field:
        partitioning["field"] = table.partition_field
    return {"timePartitioning": partitioning, "clustering": {"fields": list(table.clustering)}}


# --- DuckDB -----------------------------------------------------------------------------------

def duckdb_type(f: Field) -> str:
    if f.type == "RECORD":
        inner = ", ".join(f'"{sub.name}" {duckdb_type(sub)}' for sub in f.fields)
        base = f"STRUCT({inner})"
    else:
        base = _DUCKDB_SCALAR[f.type]
    return f"{base}[]" if f.mode == "REPEATED" else base


def duckdb_ddl(table: Table) -> str:
    cols = []
    for f in table.fields:
        col = f'  "{f.name}" {duckdb_type(f)}'
        if f.mode == "REQUIRED":
            col += " NOT NULL"
        cols.append(col)
    if table.primary_key:
        cols.append("  PRIMARY KEY (" + ", ".join(f'"{k}"' for k in table.primary_key) + ")")
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" (\n' + ",\n".join(cols) + "\n)"


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_comments(table: Table) -> list[str]:
    """``COMMENT ON`` statements giving the table and each column its description, so a reader of
    the DuckDB file finds them where BigQuery keeps them (``duckdb_columns().comment``)."""
    out = [f'COMMENT ON TABLE "{table.name}" IS {_sql_text(table.description)}']
    out += [f'COMMENT ON COLUMN "{table.name}"."{f.name}" IS {_sql_text(f.description)}'
            for f in table.fields if f.description]
    return out


# --- Beam -------------------------------------------------------------------------------------

def _python_type(f: Field, owner: str):
    from apache_beam.utils.timestamp import Timestamp

    if f.type == "RECORD":
        base = _named_tuple(f"{owner}_{f.name}", f.fields)
    else:
        base = {
            "STRING": str, "INT64": int, "FLOAT64": float, "BOOL": bool,
            "TIMESTAMP": Timestamp, "JSON": str,
        }[f.type]
    if f.mode == "REPEATED":
        return typing.Sequence[base]
    if f.mode == "NULLABLE":
        return typing.Optional[base]
    return base


def _named_tuple(name: str, fields: tuple[Field, ...]):
    from apache_beam import coders

    type_name = "".join(part.capitalize() for part in name.split("_")) + "Row"
    row_type = typing.NamedTuple(type_name, [(f.name, _python_type(f, name)) for f in fields])
    # Pickled by reference on workers: the type must be importable from this module.
    row_type.__module__ = __name__
    globals()[type_name] = row_type
    coders.registry.register_coder(row_type, coders.RowCoder)
    return row_type


@lru_cache(maxsize=None)
def beam_row_type(table: Table):
    """A NamedTuple registered with Beam's RowCoder, one attribute per field."""
    return _named_tuple(table.name, table.fields)


# --- Arrow (the in-memory batch format the DuckDB sink inserts from) ----------------------------

def _arrow_type(f: Field):
    import pyarrow as pa

    if f.type == "RECORD":
        base = pa.struct([pa.field(sub.name, _arrow_type(sub)) for sub in f.fields])
    else:
        base = {
            "STRING": pa.string(), "INT64": pa.int64(), "FLOAT64": pa.float64(), "BOOL": pa.bool_(),
            "TIMESTAMP": pa.timestamp("us", tz="UTC"), "JSON": pa.string(),
        }[f.type]
    return pa.list_(base) if f.mode == "REPEATED" else base


@lru_cache(maxsize=None)
def arrow_schema(table: Table):
    import pyarrow as pa

    return pa.schema([pa.field(f.name, _arrow_type(f), nullable=f.mode != "REQUIRED")
                      for f in table.fields])
