# Topics, the results schema, who may publish, and the trigger's push subscription (deploy.sh's
# steps "Results schema", "Topics", "Publishers" and "Trigger subscription").

locals {
  repository = "${path.module}/../.."
}

resource "google_pubsub_schema" "results" {
  project    = var.project
  name       = local.names.schema
  type       = "PROTOCOL_BUFFER"
  definition = file("${local.repository}/schemas/result.proto")
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "trigger" {
  project    = var.project
  name       = var.trigger_topic
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  project    = var.project
  name       = local.names.dead_letter_topic
  depends_on = [google_project_service.apis]
}

# Bound to the schema with JSON encoding, so a malformed result is refused at publish time.
resource "google_pubsub_topic" "results" {
  project = var.project
  name    = var.results_topic

  schema_settings {
    schema   = google_pubsub_schema.results.id
    encoding = "JSON"
  }
}

# The dead letters wait here: 7 days' retention, never expires.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project
  name                       = local.names.dead_letter_subscription
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "results_publisher" {
  project = var.project
  topic   = google_pubsub_topic.results.name
  role    = "roles/pubsub.publisher"
  member  = local.function_member
}

# Authoritative: whoever else holds roles/pubsub.publisher on the trigger topic loses it, as
# deploy.sh removes them. Broader roles, and project-level ones, are left to their owners.
resource "google_pubsub_topic_iam_binding" "trigger_publishers" {
  project = var.project
  topic   = google_pubsub_topic.trigger.name
  role    = "roles/pubsub.publisher"
  members = module.config.trigger_publishers
  # The function is one of them, by name: its account must exist first.
  depends_on = [google_service_account.function]
}

# The trigger's push subscription, which the module makes rather than Eventarc (README): the
# ack deadline is the function timeout plus a margin, since for a push subscription it is
# also the push request's timeout; failing messages go to the dead-letter topic. The body
# is Pub/Sub's own push, which functions-framework turns into the CloudEvent the function
# takes, reading the topic from the path (as local_stack delivers it in the tests).
resource "google_pubsub_subscription" "trigger" {
  project              = var.project
  name                 = local.names.trigger_subscription
  topic                = google_pubsub_topic.trigger.id
  ack_deadline_seconds = module.config.ack_deadline

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.canceller.service_config[0].uri}/projects/${var.project}/topics/${var.trigger_topic}"

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.canceller.service_config[0].uri
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  # Redelivery backs off from 10 s to 600 s, Pub/Sub's own bounds, rather than at once.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_service_account_iam_member.pubsub_mints_invoker_tokens,
    google_cloud_run_v2_service_iam_member.invoker,
    google_cloud_run_v2_service_iam_binding.invoker,
  ]
}

# Dead-lettering needs the Pub/Sub service agent to publish to the dead-letter topic and to
# acknowledge on the trigger subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.members.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "trigger_subscriber" {
  project      = var.project
  subscription = google_pubsub_subscription.trigger.name
  role         = "roles/pubsub.subscriber"
  member       = local.members.pubsub_agent
}
