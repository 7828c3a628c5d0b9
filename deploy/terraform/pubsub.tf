resource "google_pubsub_topic" "raw_items" {
  name = var.topic
  # Pollers publish with attributes feed_id, item_key, fetched_at, schema_version (DESIGN.md).
  message_retention_duration = var.message_retention
}

# Messages the pipeline never acknowledges after max_delivery_attempts end up here, to inspect and
# replay (republish to raw-items) once the cause is fixed.
resource "google_pubsub_topic" "raw_items_dead_letter" {
  name                       = "${var.topic}-dead-letter"
  message_retention_duration = var.message_retention
}

resource "google_pubsub_subscription" "raw_items" {
  name  = var.topic
  topic = google_pubsub_topic.raw_items.id

  ack_deadline_seconds = 60
  # Acknowledged messages stay for message_retention so a job can `gcloud pubsub subscriptions seek`
  # to a time before an incident and replay; the pipeline's idempotent writes absorb the repeats.
  retain_acked_messages      = true
  message_retention_duration = var.message_retention
  expiration_policy {
    ttl = "" # never expire, even while no job is attached
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.raw_items_dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# Keeps dead-lettered messages until someone looks at them.
resource "google_pubsub_subscription" "raw_items_dead_letter" {
  name                       = "${var.topic}-dead-letter"
  topic                      = google_pubsub_topic.raw_items_dead_letter.id
  retain_acked_messages      = true
  message_retention_duration = var.message_retention
  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent forwards undeliverable messages: it must publish to the dead-letter topic
# and acknowledge on the source subscription.
data "google_project" "this" {}

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.raw_items_dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  subscription = google_pubsub_subscription.raw_items.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
