"""Views that give one row per primary key, generated from the table declarations.

Streaming inserts are at-least-once: BigQuery drops a repeated insertId only within a short,
best-effort window, so a replay long after the first write can add a second copy of a row. Every
table therefore has a ``<table>_unique`` view keeping the last written row per primary key; for
``stories``, whose rows are successive snapshots of a cluster, that is the story's current state.
"""

from __future__ import annotations

from .definitions import ARTICLES, DEAD_LETTER, RAW_ITEMS, STORIES
from .fields import Table

# The column that orders copies of one key: the latest write wins.
WRITE_ORDER: dict[str, str] = {
    ARTICLES.name: "processed_at",
    RAW_ITEMS.name: "received_at",
    DEAD_LETTER.name: "failed_at",
    STORIES.name: "updated_at",
}

# Placeholders filled by Terraform's templatefile() (or by str.replace in tests).
PROJECT_PLACEHOLDER = "${project}"
DATASET_PLACEHOLDER = "${dataset}"


def unique_view_name(table: Table) -> str:
    return f"{table.name}_unique"


def unique_view_sql(table: Table, project: str = PROJECT_PLACEHOLDER, dataset: str = DATASET_PLACEHOLDER) -> str:
    """GoogleSQL for the ``<table>_unique`` view."""
    if not table.primary_key:
        raise ValueError(f"table {table.name!r} has no primary key")
    keys = ", ".join(table.primary_key)
    order = WRITE_ORDER[table.name]
    return (
        f"SELECT *\nFROM `{project}.{dataset}.{table.name}`\nWHERE TRUE\n"
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY {order} DESC) = 1\n"
    )
