output "staging_bucket" {
  value = google_storage_bucket.staging.name
}

output "image_repository" {
  value = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.images.repository_id}"
}

output "dataflow_service_account" {
  value = google_service_account.dataflow.email
}

output "subscription" {
  description = "Pass to the job as inputSubscription (or --input pubsub://<this>)."
  value       = google_pubsub_subscription.raw_items.id
}

output "output_table_spec" {
  description = "Pass to the job as outputTableSpec: the articles table; the other tables are beside it."
  value       = "${var.project}:${google_bigquery_dataset.newswire.dataset_id}.articles"
}

output "deadletter_table_spec" {
  description = "Pass to the job as outputDeadletterTable."
  value       = "${var.project}:${google_bigquery_dataset.newswire.dataset_id}.dead_letter"
}

output "warehouse" {
  description = "The same dataset in newswire's own form, for --warehouse."
  value       = "bigquery://${var.project}/${google_bigquery_dataset.newswire.dataset_id}"
}

output "config_bucket" {
  description = "Upload the pollers' feeds file here as feeds.yaml."
  value       = google_storage_bucket.config.name
}
