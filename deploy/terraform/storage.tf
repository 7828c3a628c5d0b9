# Staging and temp files of Dataflow and the Flex Template spec files.
resource "google_storage_bucket" "staging" {
  name                        = "${var.project}-newswire-staging"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  lifecycle_rule {
    condition {
      age            = 14
      matches_prefix = ["tmp/", "staging/"]
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_artifact_registry_repository" "images" {
  location      = var.region
  repository_id = "newswire"
  description   = "Flex Template launcher/worker image and the pollers image."
  format        = "DOCKER"
}

# The pollers' feeds.yaml, in a bucket of its own so the pollers can read nothing else.
resource "google_storage_bucket" "config" {
  name                        = "${var.project}-newswire-config"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
}
