resource "google_pubsub_topic" "raw_items" {
  name = var.topic
  # Pollers publish with attributes feed_id, item_key, fetched_at, schema_version (DESIGN.md).
  message_retention_duration = var.message_retention
}

# The subscription Dataflow reads. No retry policy and no dead-letter policy: Dataflow acknowledges a
# message once it is durably in the job (its own checkpoint), not when Pub/Sub's delivery attempt
# succeeds, so Pub/Sub's delivery-attempt counting means nothing for it (Dataflow does not support
# dead-letter topics on the subscriptions it reads). A message the pipeline cannot process is not
# redelivered forever: the pipeline writes it to its dead_letter table, with the step, the error and
# the raw payload, and acknowledges it.
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
}
