"""Views that give one row per primary key, generated from the table declarations.

Streaming inserts are at-least-once: BigQuery drops a repeated insertId only within a short,
best-effort window, so a replay long after the first write can add a second copy of a row. Every
table therefore has a ``<table>_unique`` view keeping the last written row per primary key; for
``stories`` and ``learned_boilerplate``, whose rows are successive snapshots of a cluster or of a
learned line, that is its current state.

Two derived views answer the first questions of every reader, in BigQuery and in DuckDB alike:
``articles_latest`` (the latest version of each article) and ``stories_current`` (one row per story).

DuckDB has the ``_unique`` views too, so a query written for one warehouse runs on the other: there
the primary keys already keep one row per key, and the views return each table as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from .definitions import ARTICLES, DEAD_LETTER, LEARNED_BOILERPLATE, RAW_ITEMS, STORIES
from .fields import Table

# The column that orders copies of one key: the latest write wins.
WRITE_ORDER: dict[str, str] = {
    ARTICLES.name: "processed_at",
    RAW_ITEMS.name: "received_at",
    DEAD_LETTER.name: "failed_at",
    STORIES.name: "updated_at",
    LEARNED_BOILERPLATE.name: "updated_at",
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


def unique_view_description(table: Table) -> str:
    return f"{table.name} with one row per primary key ({', '.join(table.primary_key)}): the last written."


def duckdb_unique_view_sql(table: Table) -> str:
    """The DuckDB statement creating (or replacing) the ``<table>_unique`` view."""
    keys = ", ".join(f'"{k}"' for k in table.primary_key)
    return (f'CREATE OR REPLACE VIEW "{unique_view_name(table)}" AS\nSELECT *\nFROM "{table.name}"\n'
            f'QUALIFY ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY "{WRITE_ORDER[table.name]}" DESC) = 1\n')


def duckdb_view_comment(name: str, description: str) -> str:
    return f'COMMENT ON VIEW "{name}" IS \'' + description.replace("'", "''") + "'"


# -- Derived views: the questions every reader of these tables asks first ----------------------------
#
# Written once as SQL both GoogleSQL and DuckDB run (QUALIFY needs a WHERE in GoogleSQL, hence
# ``WHERE TRUE``); ``{articles}`` / ``{stories}`` name the tables in each warehouse's spelling.


@dataclass(frozen=True)
class DerivedView:
    name: str
    description: str
    sql: str  # a SELECT with {table name} placeholders


# A version written without a cluster id (in BigQuery: one that arrived after its article's
# clustering window, or in a later batch run) belongs to the story its first version was given.
# A copy that carries no evidence of its agency (an aggregator that cut the dateline and the
# signature) takes its story's: the agency of the story it was merged into, else of its own story.
# Clustering already writes the story's agency into a copy that joins a story of several articles;
# the view also covers the copy that arrived before the story had one (``articles`` keeps what was
# known when each version was written).
ARTICLES_LATEST = DerivedView(
    name="articles_latest",
    description="The latest version of each article (corrections and withdrawals applied), "
                "with the story its article was first given; an article with no agency of its own "
                "takes its story's.",
    sql=(
        "WITH latest AS (\n"
        "  SELECT * REPLACE (COALESCE(cluster_id, FIRST_VALUE(cluster_id IGNORE NULLS) OVER (\n"
        "      PARTITION BY article_id ORDER BY version, processed_at\n"
        "      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) AS cluster_id)\n"
        "  FROM {articles}\n"
        "  WHERE TRUE\n"
        "  QUALIFY ROW_NUMBER() OVER (PARTITION BY article_id ORDER BY version DESC, processed_at DESC) = 1\n"
        "), story AS (\n"
        "  SELECT cluster_id, agency, merged_into\n"
        "  FROM {stories}\n"
        "  WHERE TRUE\n"
        "  QUALIFY ROW_NUMBER() OVER (PARTITION BY cluster_id ORDER BY updated_at DESC) = 1\n"
        ")\n"
        "SELECT latest.* REPLACE (COALESCE(latest.agency, merged.agency, story.agency) AS agency)\n"
        "FROM latest\n"
        "LEFT JOIN story ON story.cluster_id = latest.cluster_id\n"
        "LEFT JOIN story AS merged ON merged.cluster_id = story.merged_into\n"
    ),
)

STORIES_CURRENT = DerivedView(
    name="stories_current",
    description="One row per story: its latest snapshot, stories merged into another left out.",
    sql=(
        "SELECT *\n"
        "FROM {stories}\n"
        "WHERE TRUE\n"
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY cluster_id ORDER BY updated_at DESC) = 1\n"
        "  AND merged_into IS NULL\n"
    ),
)

DERIVED_VIEWS: tuple[DerivedView, ...] = (ARTICLES_LATEST, STORIES_CURRENT)
_VIEW_TABLES = (ARTICLES, STORIES)


def derived_view_sql(view: DerivedView, project: str = PROJECT_PLACEHOLDER,
                     dataset: str = DATASET_PLACEHOLDER) -> str:
    """GoogleSQL for a derived view."""
    return view.sql.format(**{t.name: f"`{project}.{dataset}.{t.name}`" for t in _VIEW_TABLES})


def duckdb_view_sql(view: DerivedView) -> str:
    """The DuckDB statement creating (or replacing) a derived view."""
    body = view.sql.format(**{t.name: f'"{t.name}"' for t in _VIEW_TABLES})
    return f'CREATE OR REPLACE VIEW "{view.name}" AS\n{body}'
