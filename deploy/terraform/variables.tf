variable "project" {
  description = "Google Cloud project id that hosts newswire."
  type        = string
}

variable "region" {
  description = "Region for Dataflow, Cloud Run, Artifact Registry and the staging bucket."
  type        = string
  default     = "europe-west1"
}

variable "bigquery_location" {
  description = "BigQuery dataset location (a multi-region such as EU, or a region)."
  type        = string
  default     = "EU"
}

variable "dataset" {
  description = "BigQuery dataset for articles, stories, raw_items and dead_letter."
  type        = string
  default     = "newswire"
}

variable "topic" {
  description = "Pub/Sub topic the pollers publish raw items to."
  type        = string
  default     = "raw-items"
}

variable "message_retention" {
  description = "How long the subscription keeps messages, acknowledged ones included, so a job can seek back and replay (max 7 days)."
  type        = string
  default     = "604800s"
}

variable "poller_image" {
  description = "Container image of the pollers (deploy/Makefile pollers-image prints it). Empty: the Cloud Run job is not created."
  type        = string
  default     = ""
}

variable "poller_schedule" {
  description = "Cron schedule (UTC) that starts the long-running poller job; one execution runs until its task timeout."
  type        = string
  default     = "0 0 * * *"
}

variable "poller_task_timeout" {
  description = "How long one poller execution runs before the next scheduled one replaces it."
  type        = string
  default     = "86100s" # 23 h 55 min: ends before the next daily start
}

variable "raw_items_partition_expiration_days" {
  description = "Days raw_items partitions are kept (replay window). 0 keeps them forever."
  type        = number
  default     = 90
}
