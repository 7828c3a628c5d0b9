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
  description = "Pass to the job as --input pubsub://<this>."
  value       = google_pubsub_subscription.raw_items.id
}

output "warehouse" {
  description = "Pass to the job as --warehouse."
  value       = "bigquery://${var.project}/${google_bigquery_dataset.newswire.dataset_id}"
}

output "config_bucket" {
  description = "Upload the pollers' feeds file here as feeds.yaml."
  value       = google_storage_bucket.config.name
}
