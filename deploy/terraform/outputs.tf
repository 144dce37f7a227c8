output "function" {
  description = "The function's resource name."
  value       = google_cloudfunctions2_function.canceller.id
}

output "function_uri" {
  description = "The function's URL (internal ingress, authenticated calls only)."
  value       = google_cloudfunctions2_function.canceller.service_config[0].uri
}

output "function_service_account" {
  description = "The function's identity: the only member of the custom roles."
  value       = google_service_account.function.email
}

output "invoker_service_account" {
  description = "The identity the trigger's push subscription invokes the function as."
  value       = google_service_account.invoker.email
}

output "trigger_topic" {
  description = "Publish {\"operation\": \"projects/P/regions/R/operations/ID\"} (or a sweep, a budget notification, an incident) here to stop work."
  value       = google_pubsub_topic.trigger.id
}

output "results_topic" {
  description = "Where every result is published (schemas/result.proto, JSON)."
  value       = google_pubsub_topic.results.id
}

output "dead_letter_topic" {
  description = "Where trigger messages go after max_delivery_attempts failed deliveries."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription" {
  description = "The subscription the dead letters wait on."
  value       = google_pubsub_subscription.dead_letter.id
}

output "trigger_subscription" {
  description = "The push subscription that delivers trigger messages to the function."
  value       = google_pubsub_subscription.trigger.id
}

output "custom_roles" {
  description = "The custom roles granted to the function, by where they are defined."
  value = merge(
    { for project, role in google_project_iam_custom_role.canceller : "projects/${project}" => role.id },
    { for organization, role in google_organization_iam_custom_role.scope : "organizations/${organization}" => role.id },
    { for role in google_organization_iam_custom_role.billing : "billing" => role.id },
  )
}

output "function_timeout" {
  description = "The function timeout, in seconds."
  value       = google_cloudfunctions2_function.canceller.service_config[0].timeout_seconds
}

output "ack_deadline" {
  description = "The trigger subscription's ack deadline, in seconds."
  value       = google_pubsub_subscription.trigger.ack_deadline_seconds
}

output "sweep_job" {
  description = "The Cloud Scheduler job that publishes sweeps, or null."
  value       = one(google_cloud_scheduler_job.sweep[*].id)
}

output "dashboard" {
  description = "The Monitoring dashboard."
  value       = google_monitoring_dashboard.canceller.id
}

output "alert_policies" {
  description = "The alert policies, by the deploy/monitoring file they come from."
  value       = { for name, policy in google_monitoring_alert_policy.canceller : name => policy.name }
}

output "results_table" {
  description = "The BigQuery table every result is written to, or null."
  value       = one(google_bigquery_table.results[*].id)
}

output "budget" {
  description = "The budget made with budget_amount, or null."
  value       = one(google_billing_budget.trigger[*].name)
}

output "notification_channel" {
  description = "The Monitoring notification channel on the trigger topic, or null."
  value       = one(google_monitoring_notification_channel.trigger[*].name)
}
