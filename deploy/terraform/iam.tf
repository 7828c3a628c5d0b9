# Least privilege: each identity gets only what its component does, on the narrowest resource.

resource "google_service_account" "dataflow" {
  account_id   = "newswire-dataflow"
  display_name = "newswire Dataflow job (launcher and workers)"
}

resource "google_service_account" "pollers" {
  account_id   = "newswire-pollers"
  display_name = "newswire feed pollers (Cloud Run job)"
}

resource "google_service_account" "scheduler" {
  account_id   = "newswire-scheduler"
  display_name = "Starts the pollers job on schedule"
}

locals {
  dataflow_sa = "serviceAccount:${google_service_account.dataflow.email}"
  pollers_sa  = "serviceAccount:${google_service_account.pollers.email}"
}

# Run Dataflow work items (project-level by nature of the role).
resource "google_project_iam_member" "dataflow_worker" {
  project = var.project
  role    = "roles/dataflow.worker"
  member  = local.dataflow_sa
}

# Read raw items: pull/ack on the subscription, and `get` on it (viewer) which Dataflow's reader checks.
resource "google_pubsub_subscription_iam_member" "dataflow_subscriber" {
  subscription = google_pubsub_subscription.raw_items.id
  role         = "roles/pubsub.subscriber"
  member       = local.dataflow_sa
}

resource "google_pubsub_subscription_iam_member" "dataflow_viewer" {
  subscription = google_pubsub_subscription.raw_items.id
  role         = "roles/pubsub.viewer"
  member       = local.dataflow_sa
}

# Streaming inserts and table get/create, on this dataset only (no query jobs are run).
resource "google_bigquery_dataset_iam_member" "dataflow_editor" {
  dataset_id = google_bigquery_dataset.newswire.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.dataflow_sa
}

# Staging, temp files and the template spec.
resource "google_storage_bucket_iam_member" "dataflow_staging" {
  bucket = google_storage_bucket.staging.name
  role   = "roles/storage.objectAdmin"
  member = local.dataflow_sa
}

# Pull the template image (launcher and SDK workers).
resource "google_artifact_registry_repository_iam_member" "dataflow_reader" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = local.dataflow_sa
}

# Pollers publish to the raw-items topic and nothing else.
resource "google_pubsub_topic_iam_member" "pollers_publisher" {
  topic  = google_pubsub_topic.raw_items.id
  role   = "roles/pubsub.publisher"
  member = local.pollers_sa
}

# Pollers read their feeds file, mounted read-only from the config bucket.
resource "google_storage_bucket_iam_member" "pollers_config" {
  bucket = google_storage_bucket.config.name
  role   = "roles/storage.objectViewer"
  member = local.pollers_sa
}
