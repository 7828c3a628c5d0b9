# Tables are defined by schemas/ in the repository: `python -m schemas.export deploy/terraform/schemas/`
# writes tables.json (layout) and one JSON schema per table; nothing here restates a column.
locals {
  tables = jsondecode(file("${path.module}/schemas/tables.json"))
}

resource "google_bigquery_dataset" "newswire" {
  dataset_id  = var.dataset
  location    = var.bigquery_location
  description = "newswire: clean wire-service articles, stories, raw items and dead letters."
}

resource "google_bigquery_table" "tables" {
  for_each = local.tables

  dataset_id          = google_bigquery_dataset.newswire.dataset_id
  table_id            = each.key
  description         = "${each.value.description} (schema_version ${each.value.schema_version})"
  schema              = file("${path.module}/schemas/${each.value.schema_file}")
  clustering          = each.value.clustering
  deletion_protection = true

  time_partitioning {
    type = "DAY"
    # null: ingestion-time partitioning (_PARTITIONTIME), used by raw_items and dead_letter.
    field         = each.value.partition_field
    expiration_ms = each.key == "raw_items" && var.raw_items_partition_expiration_days > 0 ? var.raw_items_partition_expiration_days * 86400000 : null
  }
}

# One row per primary key: streaming inserts de-duplicate only within a short window, so readers of
# replayed data use these views (see docs/downstream.md).
resource "google_bigquery_table" "unique_views" {
  for_each = local.tables

  dataset_id          = google_bigquery_dataset.newswire.dataset_id
  table_id            = each.value.unique_view
  description         = "${each.key}, one row per primary key (the latest write)."
  deletion_protection = false

  view {
    query = templatefile("${path.module}/schemas/${each.value.unique_view_file}", {
      project = var.project
      dataset = google_bigquery_dataset.newswire.dataset_id
    })
    use_legacy_sql = false
  }

  depends_on = [google_bigquery_table.tables]
}
