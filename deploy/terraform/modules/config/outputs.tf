output "names" {
  description = "What deploy.sh names after the function and the topics."
  value       = local.names
}

output "targets" {
  description = "The projects whose Dataproc work may be stopped (ALLOWED_PROJECTS)."
  value       = local.targets
}

output "scope_folders" {
  description = "The folders the function may act in, by number."
  value       = local.scope_folders
}

output "scope_organizations" {
  description = "The organisations the function may act in, by number."
  value       = local.scope_organizations
}

output "billing_account" {
  description = "The billing account whose budgets the function reads, as an ID; \"\" for none."
  value       = local.billing_account
}

output "organisation_scale" {
  description = "Whether the function reads budgets, folders or whole projects besides Dataproc."
  value       = local.organisation_scale
}

output "function_env" {
  description = "The function's environment (its settings)."
  value       = local.function_env
}

output "entry_point" {
  description = "The function main.py decorates as a CloudEvent function."
  value       = local.canceller.entry_point
}

output "source_files" {
  description = "The repository's files a deployment ships, relative to its root."
  value       = local.canceller.source_files
}

output "longest_message" {
  description = "Seconds one message may keep its request open."
  value       = local.longest_message
}

output "function_timeout" {
  description = "The function timeout, in seconds."
  value       = local.function_timeout
  precondition {
    condition     = local.longest_message <= local.deploy_sh.max_event_function_timeout
    error_message = "one message may take up to ${local.longest_message} s (${local.longest_sum}), more than the ${local.deploy_sh.max_event_function_timeout} s an event-driven function may run: lower verify_timeout, or the RETRY_DEADLINE_SECONDS or PUBLISH_TIMEOUT_SECONDS setting."
  }
}

output "ack_deadline" {
  description = "The trigger subscription's ack deadline, in seconds."
  value       = local.ack_deadline
}

output "roles" {
  description = "Each custom role's title, description and permissions: project (each target project's), scope (each scope's organisation's), billing (the billing account's organisation's)."
  value = {
    for role, spec in local.roles : role => merge(spec, { description = local.role_descriptions[role] })
  }
}

output "members" {
  description = "The IAM members the module grants to."
  value = {
    function         = local.function_member
    invoker          = local.invoker_member
    pubsub_agent     = local.pubsub_agent
    monitoring_agent = local.monitoring_agent
    budget_publisher = local.deploy_sh.budget_publisher
  }
}

output "trigger_publishers" {
  description = "Exactly who may publish to the trigger topic."
  value       = local.trigger_publishers
}

output "billing_viewer_role" {
  description = "The predefined role the billing account grants when it is in no organisation."
  value       = local.deploy_sh.billing_viewer_role
}

output "secret_accessor_role" {
  description = "The role that lets the function read its webhook secret."
  value       = local.deploy_sh.secret_accessor
}

output "notify_variable" {
  description = "The variable the webhook secret is mounted as."
  value       = local.deploy_sh.notify_variable
}

output "apis" {
  description = "The APIs the deployment project needs."
  value       = local.apis
}

output "secret" {
  description = "The webhook secret's project and ID, or null."
  value       = local.secret
}

output "bigquery" {
  description = "The results table's project, dataset and table, or null."
  value       = local.bigquery
}

output "log_metrics" {
  description = "Each log-based metric's configuration, by name."
  value       = local.log_metric_configs
}

output "silence_seconds" {
  description = "Seconds without an execution after which the sweeps have surely stopped; null for no such alert."
  value       = local.silence_seconds
}

output "dashboard_json" {
  description = "deploy/monitoring/dashboard.json, filled in."
  value       = local.rendered.dashboard
}

output "alert_policies" {
  description = "The alert policies of deploy/monitoring/alert-*.json to create, filled in and decoded, by name."
  value       = { for name in local.alert_names : name => jsondecode(local.rendered[name]) }
}
