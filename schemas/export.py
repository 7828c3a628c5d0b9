"""Write the BigQuery table definitions that Terraform reads: ``python -m schemas.export DIR``.

Terraform never restates a schema: it reads ``DIR/tables.json`` (one entry per table: description,
partitioning, clustering, schema file and its ``_unique`` view) and the files it names. A test checks
the committed files equal what this module generates.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .definitions import WAREHOUSE_TABLES
from .generate import bigquery_schema
from .views import unique_view_name, unique_view_sql


def _json(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=False) + "\n"


def render() -> dict[str, str]:
    """Relative file name → content, for every file ``export`` writes."""
    files: dict[str, str] = {}
    index: dict[str, dict] = {}
    for table in WAREHOUSE_TABLES:
        schema_file = f"{table.name}.json"
        view_file = f"views/{unique_view_name(table)}.sql"
        files[schema_file] = _json(bigquery_schema(table))
        files[view_file] = unique_view_sql(table)
        index[table.name] = {
            "description": table.description,
            "schema_version": table.schema_version,
            # null: partitioned by ingestion time (the _PARTITIONTIME pseudo-column).
            "partition_field": table.partition_field,
            "clustering": list(table.clustering),
            "schema_file": schema_file,
            "unique_view": unique_view_name(table),
            "unique_view_file": view_file,
        }
    files["tables.json"] = _json(index)
    return files


def export(directory: str | Path) -> list[Path]:
    out = Path(directory)
    written = []
    for name, content in render().items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m schemas.export DIRECTORY", file=sys.stderr)
        return 2
    for path in export(args[0]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
