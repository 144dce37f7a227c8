# Every result as a row (deploy.sh's step "Results in BigQuery"). The Pub/Sub service agent
# writes the rows (the subscription names no other account), so it is the one that needs
# roles/bigquery.dataEditor, on this table only.

locals {
  bigquery = module.config.bigquery
}

resource "google_bigquery_dataset" "results" {
  count = local.bigquery != null && var.create_results_dataset ? 1 : 0

  project     = local.bigquery.project
  dataset_id  = local.bigquery.dataset
  location    = var.region
  description = "Dataproc kill switch results (${var.function_name})"
  depends_on  = [google_project_service.apis]
}

resource "google_bigquery_table" "results" {
  count = local.bigquery == null ? 0 : 1

  project     = local.bigquery.project
  dataset_id  = var.create_results_dataset ? google_bigquery_dataset.results[0].dataset_id : local.bigquery.dataset
  table_id    = local.bigquery.table
  description = "One row per result of ${var.function_name} (schemas/result.proto)"
  # deploy/bigquery_schema.py makes it from schemas/result.proto; a new field adds a column.
  schema              = file("${path.module}/../bigquery/results-schema.json")
  deletion_protection = true # the history of everything stopped

  time_partitioning {
    type  = "DAY"
    field = "publish_time"
  }
}

resource "google_bigquery_table_iam_member" "pubsub_writes_results" {
  count = local.bigquery == null ? 0 : 1

  project    = local.bigquery.project
  dataset_id = google_bigquery_table.results[0].dataset_id
  table_id   = google_bigquery_table.results[0].table_id
  role       = "roles/bigquery.dataEditor"
  member     = local.members.pubsub_agent
}

# On the results topic: the topic's schema as the table's columns, with message metadata.
resource "google_pubsub_subscription" "bigquery" {
  count = local.bigquery == null ? 0 : 1

  project = var.project
  name    = local.names.bigquery_subscription
  topic   = google_pubsub_topic.results.id

  bigquery_config {
    table            = "${local.bigquery.project}.${google_bigquery_table.results[0].dataset_id}.${google_bigquery_table.results[0].table_id}"
    use_topic_schema = true
    write_metadata   = true
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_bigquery_table_iam_member.pubsub_writes_results]
}
