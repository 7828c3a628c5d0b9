# The pollers run as a Cloud Run job: a long-running process with no HTTP endpoint, one task, started
# daily by Cloud Scheduler and stopped by its task timeout just before the next start. Poller state
# (SQLite) lives on an in-memory volume: losing it on restart only costs one unconditional fetch per
# feed, because the pipeline de-duplicates re-published items (DESIGN.md).

locals {
  pollers_enabled = var.poller_image != ""
}

resource "google_cloud_run_v2_job" "pollers" {
  count    = local.pollers_enabled ? 1 : 0
  name     = "newswire-pollers"
  location = var.region

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.pollers.email
      timeout         = var.poller_task_timeout
      max_retries     = 3

      containers {
        image = var.poller_image
        args = [
          "--feeds", "/config/feeds.yaml",
          "--state", "/state/pollers.sqlite",
          "--topic", google_pubsub_topic.raw_items.id,
        ]
        env {
          name  = "GOOGLE_CLOUD_PROJECT"
          value = var.project
        }
        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }
        volume_mounts {
          name       = "config"
          mount_path = "/config"
        }
        volume_mounts {
          name       = "state"
          mount_path = "/state"
        }
      }

      volumes {
        name = "config"
        gcs {
          bucket    = google_storage_bucket.config.name
          read_only = true
        }
      }
      volumes {
        name = "state"
        empty_dir {
          medium     = "MEMORY"
          size_limit = "64Mi"
        }
      }
    }
  }
}

resource "google_cloud_run_v2_job_iam_member" "scheduler_invoker" {
  count    = local.pollers_enabled ? 1 : 0
  name     = google_cloud_run_v2_job.pollers[0].name
  location = var.region
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "pollers" {
  count     = local.pollers_enabled ? 1 : 0
  name      = "newswire-pollers"
  region    = var.region
  schedule  = var.poller_schedule
  time_zone = "Etc/UTC"

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project}/locations/${var.region}/jobs/${google_cloud_run_v2_job.pollers[0].name}:run"
    oauth_token {
      service_account_email = google_service_account.scheduler.email
    }
  }
}
