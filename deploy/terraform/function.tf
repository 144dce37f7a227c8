# The function and its source (deploy.sh's steps "Function" and "Invoker").

# What `gcloud functions deploy --source .` uploads: the repository's files .gcloudignore lets
# through (canceller.json's source_files), byte for byte. A new name in the archive changes
# its digest, and so the function.
data "archive_file" "source" {
  type        = "zip"
  output_path = "${path.module}/build/${var.function_name}-source.zip"

  dynamic "source" {
    for_each = module.config.source_files
    content {
      filename = source.value
      content  = file("${local.repository}/${source.value}")
    }
  }
}

resource "google_storage_bucket" "source" {
  count = var.source_bucket == "" ? 1 : 0

  project                     = var.project
  name                        = "${var.project}-${var.function_name}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  depends_on                  = [google_project_service.apis]
}

resource "google_storage_bucket_object" "source" {
  bucket = var.source_bucket != "" ? var.source_bucket : google_storage_bucket.source[0].name
  name   = "${var.function_name}/source-${data.archive_file.source.output_md5}.zip"
  source = data.archive_file.source.output_path
}

# Cloud Run functions (2nd gen), invoked only by the trigger's push subscription: no
# unauthenticated calls (no public invoker), internal ingress only.
resource "google_cloudfunctions2_function" "canceller" {
  project  = var.project
  name     = var.function_name
  location = var.region

  build_config {
    runtime     = var.runtime
    entry_point = module.config.entry_point
    source {
      storage_source {
        bucket = google_storage_bucket_object.source.bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory               = var.memory
    max_instance_count             = var.max_instances
    timeout_seconds                = module.config.function_timeout
    environment_variables          = module.config.function_env
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.function.email

    # The webhook URL is its own credential: read from Secret Manager when an instance
    # starts, never a plain setting that anyone who may read the function would see.
    dynamic "secret_environment_variables" {
      for_each = module.config.secret == null ? [] : [module.config.secret]
      content {
        key        = module.config.notify_variable
        project_id = secret_environment_variables.value.project
        secret     = secret_environment_variables.value.id
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.webhook,
  ]
}

# Only the invoker may invoke the function: anyone else holding roles/run.invoker on its
# Cloud Run service could hand it a message directly, past the trigger topic's publishers.
# With remove_other_invokers the binding is authoritative and removes them.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  count = var.remove_other_invokers ? 0 : 1

  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.canceller.service_config[0].service
  role     = "roles/run.invoker"
  member   = local.invoker_member
}

resource "google_cloud_run_v2_service_iam_binding" "invoker" {
  count = var.remove_other_invokers ? 1 : 0

  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.canceller.service_config[0].service
  role     = "roles/run.invoker"
  members  = [local.invoker_member]
}
