"""Record declarations and the schemas generated from them."""

from .definitions import (
    ARTICLES,
    DEAD_LETTER,
    LEARNED_BOILERPLATE,
    RAW_ITEM,
    RAW_ITEMS,
    SCHEMA_VERSION,
    STORIES,
    WAREHOUSE_TABLES,
)
from .fields import Field, Table
from .generate import (
    arrow_schema,
    beam_row_type,
    bigquery_schema,
    bigquery_schema_json,
    bigquery_table_options,
    duckdb_comments,
    duckdb_ddl,
    duckdb_type,
)

__all__ = [
    "ARTICLES", "DEAD_LETTER", "LEARNED_BOILERPLATE", "RAW_ITEM", "RAW_ITEMS", "SCHEMA_VERSION", "STORIES",
    "WAREHOUSE_TABLES", "Field", "Table", "arrow_schema", "beam_row_type", "bigquery_schema",
    "bigquery_schema_json", "bigquery_table_options", "duckdb_comments", "duckdb_ddl", "duckdb_type",
]
