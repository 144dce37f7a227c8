# dataproc-canceller as deploy.sh deploys it, in Terraform: see README.md for what differs.

data "google_project" "deployment" {
  project_id = var.project
}

module "config" {
  source = "./modules/config"

  project                                = var.project
  project_number                         = data.google_project.deployment.number
  region                                 = var.region
  function_name                          = var.function_name
  trigger_topic                          = var.trigger_topic
  results_topic                          = var.results_topic
  dead_letter_topic                      = var.dead_letter_topic
  target_projects                        = var.target_projects
  verify_timeout                         = var.verify_timeout
  timeout                                = var.timeout
  memory                                 = var.memory
  max_instances                          = var.max_instances
  runtime                                = var.runtime
  max_delivery_attempts                  = var.max_delivery_attempts
  settings                               = var.settings
  sweep_schedule                         = var.sweep_schedule
  billing_account                        = var.billing_account
  billing_account_organization           = var.billing_account_organization
  dataproc_requests_per_minute           = var.dataproc_requests_per_minute
  dataproc_job_cancels_per_minute        = var.dataproc_job_cancels_per_minute
  dataproc_cluster_operations_per_minute = var.dataproc_cluster_operations_per_minute
  budget_ladder                          = var.budget_ladder
  cluster_incident_action                = var.cluster_incident_action
  allow_cluster_delete                   = var.allow_cluster_delete
  notification_channels                  = var.notification_channels
  results_bigquery_table                 = var.results_bigquery_table
  publishers                             = var.publishers
  # The budget the module makes may sweep: its ID joins the allowlist.
  allowed_budgets        = concat(var.allowed_budgets, [for budget in google_billing_budget.trigger : reverse(split("/", budget.name))[0]])
  allowed_alert_policies = var.allowed_alert_policies
  scope_folders          = var.scope_folders
  scope_organizations    = var.scope_organizations
  notify_webhook_secret  = var.notify_webhook_secret
}

locals {
  names   = module.config.names
  members = module.config.members
  # From the accounts themselves, so that a grant waits for the account it names.
  function_member = "serviceAccount:${google_service_account.function.email}"
  invoker_member  = "serviceAccount:${google_service_account.invoker.email}"
}

# APIs stay enabled when this is destroyed, as deploy.sh's teardown leaves them.
resource "google_project_service" "apis" {
  for_each = toset(module.config.apis)

  project            = var.project
  service            = each.value
  disable_on_destroy = false
}
