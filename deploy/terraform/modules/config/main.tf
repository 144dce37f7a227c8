# Everything deploy.sh works out before its first gcloud call (its configure, build_function_env,
# step_project and role_description), from the parent module's inputs and canceller.json. It
# uses no provider, so tests/deploy/test_terraform_module.py runs it offline and holds its
# outputs against a deploy.sh --dry-run with the same flags.

terraform {
  required_version = ">= 1.9"
}

locals {
  # Written by dev/terraform_files.py from main.py, canceller/, .gcloudignore and deploy.sh.
  canceller = jsondecode(file("${path.module}/../../canceller.json"))
  deploy_sh = local.canceller.deploy_sh

  project_id_re = "^[a-z][a-z0-9-]{4,28}[a-z0-9]$"
  topic_re      = "^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$"
  rung_re       = "([0-9]+(\\.[0-9]*)?|\\.[0-9]+):(report|work|clusters)"
  # An IAM principal that names someone: not allUsers or allAuthenticatedUsers.
  member_re = "^((user|group|serviceAccount):[^@[:space:],;]+@[^@[:space:],;]+|domain:[A-Za-z0-9.-]+|principal(Set)?://[^[:space:],;]+)$"

  # The settings deploy.sh sets from a flag (its SETTING_FLAGS), by the variable that sets them here.
  setting_variables = {
    ALLOWED_ALERT_POLICIES                 = "allowed_alert_policies"
    ALLOWED_ANCESTORS                      = "scope_folders or scope_organizations"
    ALLOWED_BUDGETS                        = "allowed_budgets"
    BUDGET_LADDER                          = "budget_ladder"
    CLUSTER_DELETE_ALLOWED                 = "allow_cluster_delete"
    CLUSTER_INCIDENT_ACTION                = "cluster_incident_action"
    DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE = "dataproc_cluster_operations_per_minute"
    DATAPROC_JOB_CANCELS_PER_MINUTE        = "dataproc_job_cancels_per_minute"
    DATAPROC_REQUESTS_PER_MINUTE           = "dataproc_requests_per_minute"
    NOTIFY_WEBHOOK_URL                     = "notify_webhook_secret"
    VERIFY_TIMEOUT_SECONDS                 = "verify_timeout"
  }
  dead_letter_topic = var.dead_letter_topic != "" ? var.dead_letter_topic : "${var.trigger_topic}-dead-letter"
  targets           = distinct(length(var.target_projects) > 0 ? var.target_projects : [var.project])
  role_id           = replace(var.function_name, "-", "_")
  names = {
    function_account         = var.function_name
    invoker_account          = "${var.function_name}-invoker"
    function_email           = "${var.function_name}@${var.project}.iam.gserviceaccount.com"
    invoker_email            = "${var.function_name}-invoker@${var.project}.iam.gserviceaccount.com"
    role_id                  = local.role_id
    billing_role_id          = "${local.role_id}_billing"
    schema                   = "${var.results_topic}-schema"
    dead_letter_topic        = local.dead_letter_topic
    dead_letter_subscription = "${local.dead_letter_topic}-sub"
    # deploy.sh updates the subscription Eventarc makes; the module makes its own (README).
    trigger_subscription  = "${var.function_name}-trigger"
    sweep_job             = "${var.function_name}-sweep"
    bigquery_subscription = "${var.function_name}-results-bigquery"
    metric                = "${var.function_name}-outcomes"
    time_metric           = "${var.function_name}-time-to-stop"
    burn_metric           = "${var.function_name}-burn-stopped"
    saved_metric          = "${var.function_name}-saved-up-to"
    notify_metric         = "${var.function_name}-notifications"
  }

  billing_account     = trimprefix(var.billing_account, "billingAccounts/")
  scope_folders       = distinct([for folder in var.scope_folders : trimprefix(folder, "folders/")])
  scope_organizations = distinct([for organization in var.scope_organizations : trimprefix(organization, "organizations/")])
  scopes = concat(
    [for folder in local.scope_folders : "folders/${folder}"],
    [for organization in local.scope_organizations : "organizations/${organization}"],
  )
  budget_ladder          = replace(var.budget_ladder, " ", "")
  allowed_alert_policies = [for policy in var.allowed_alert_policies : trimspace(policy)]

  # The function's settings, as deploy.sh's build_function_env makes them. A project-wide
  # budget is split between the instances: each may spend its share, at least 1.
  per_instance = {
    DATAPROC_REQUESTS_PER_MINUTE           = var.dataproc_requests_per_minute
    DATAPROC_JOB_CANCELS_PER_MINUTE        = var.dataproc_job_cancels_per_minute
    DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE = var.dataproc_cluster_operations_per_minute
  }
  sweep_scopes = lookup(var.settings, "SWEEP_SCOPES", join(",", [
    for target in local.targets : "projects/${target}/regions/${var.region}"
  ]))
  # Unset, each means: the function's BUDGET_THRESHOLD:work; any budget; any policy; no folder
  # or organisation. Decided on the lists' lengths, which are known before a budget the
  # parent makes has its ID.
  optional_env = {
    BUDGET_LADDER          = { given = local.budget_ladder != "", value = local.budget_ladder }
    ALLOWED_BUDGETS        = { given = length(var.allowed_budgets) > 0, value = join(",", var.allowed_budgets) }
    ALLOWED_ALERT_POLICIES = { given = length(local.allowed_alert_policies) > 0, value = join(",", local.allowed_alert_policies) }
    ALLOWED_ANCESTORS      = { given = length(local.scopes) > 0, value = join(",", local.scopes) }
  }
  function_env = merge(
    {
      GOOGLE_CLOUD_PROJECT    = var.project
      RESULTS_TOPIC           = "projects/${var.project}/topics/${var.results_topic}"
      TRIGGER_TOPIC           = "projects/${var.project}/topics/${var.trigger_topic}"
      ALLOWED_PROJECTS        = join(",", local.targets)
      VERIFY_TIMEOUT_SECONDS  = tostring(var.verify_timeout)
      SWEEP_SCOPES            = local.sweep_scopes
      CLUSTER_INCIDENT_ACTION = var.cluster_incident_action
      # Said either way, as the role is: the two come from the one variable.
      CLUSTER_DELETE_ALLOWED = tostring(var.allow_cluster_delete)
    },
    { for name, total in local.per_instance : name => tostring(max(floor(total / var.max_instances), 1)) },
    { for name, setting in local.optional_env : name => setting.value if setting.given },
    var.settings,
  )

  # A folder or organisation in SWEEP_SCOPES that no scope names is neither allowed
  # (ALLOWED_ANCESTORS) nor granted: the function would refuse every project in it.
  unscoped_sweeps = [
    for scope in split(",", replace(local.sweep_scopes, " ", "")) : scope
    if can(regex("^(folders|organizations)/", scope)) && !contains(local.scopes, scope)
  ]

  # The function works at organisation scale (reads more than Dataproc in the target
  # projects) when it may read budgets, acts in folders or organisations, or sweeps
  # something other than projects/P/regions/R: deploy.sh's organisation_scale.
  organisation_scale = local.billing_account != "" || length(local.scopes) > 0 || anytrue([
    for scope in split(",", replace(local.sweep_scopes, " ", "")) :
    scope != "" && !can(regex("^projects/[^/]+/regions/[^/]+$", scope))
  ])

  # The function timeout and the trigger's ack deadline, from what one message may take
  # (Settings.longest_message_seconds): the platform must never end a request after its
  # stops and before its results.
  timeout_defaults = {
    RETRY_DEADLINE_SECONDS  = local.canceller.timeout.RETRY_DEADLINE_SECONDS
    PUBLISH_TIMEOUT_SECONDS = local.canceller.timeout.PUBLISH_TIMEOUT_SECONDS
  }
  retry_seconds   = tonumber(lookup(var.settings, "RETRY_DEADLINE_SECONDS", local.timeout_defaults.RETRY_DEADLINE_SECONDS))
  publish_seconds = tonumber(lookup(var.settings, "PUBLISH_TIMEOUT_SECONDS", local.timeout_defaults.PUBLISH_TIMEOUT_SECONDS))
  longest_message = ceil(
    local.retry_seconds + var.verify_timeout + 2 * local.publish_seconds + local.canceller.timeout.margin_seconds
  )
  longest_sum      = "RETRY_DEADLINE_SECONDS ${local.retry_seconds} + VERIFY_TIMEOUT_SECONDS ${var.verify_timeout} + 2 x PUBLISH_TIMEOUT_SECONDS ${local.publish_seconds} + ${local.canceller.timeout.margin_seconds} s more: a chat notification, decoding, logging, a cold start"
  function_timeout = var.timeout == null ? local.longest_message : var.timeout
  ack_deadline     = min(local.function_timeout + local.deploy_sh.ack_margin, local.deploy_sh.max_ack_deadline)

  # The custom roles: exactly the permissions canceller.role lists (canceller.json).
  permission_variant = var.allow_cluster_delete ? "cluster_delete" : "default"
  roles = {
    project = {
      title       = "Dataproc canceller (${var.function_name})"
      permissions = local.canceller.permissions[local.organisation_scale ? "project_scope" : "project"][local.permission_variant]
    }
    scope = {
      title       = "Dataproc canceller (${var.function_name})"
      permissions = local.canceller.permissions.scope[local.permission_variant]
    }
    billing = {
      title       = "Dataproc canceller budgets (${var.function_name})"
      permissions = local.canceller.permissions.billing_account
    }
  }
  # "Exactly the Dataproc calls FUNCTION makes: batches get; clusters get, list, stop; ...";
  # "Exactly the calls" when some are not Dataproc's; past IAM's 256 characters, the count.
  role_texts = {
    for role, spec in local.roles : role => join("", [
      for index, permission in spec.permissions : (
        index > 0 && split(".", permission)[1] == split(".", spec.permissions[max(index - 1, 0)])[1]
        ? ", ${split(".", permission)[2]}"
        : "${index > 0 ? "; " : ""}${split(".", permission)[1]} ${split(".", permission)[2]}"
      )
    ])
  }
  role_openings = {
    for role, spec in local.roles : role => format(
      "Exactly the %s the %s function makes:",
      alltrue([for permission in spec.permissions : startswith(permission, "dataproc.")]) ? "Dataproc calls" : "calls",
      var.function_name,
    )
  }
  role_descriptions = {
    for role, spec in local.roles : role => (
      length("${local.role_openings[role]} ${local.role_texts[role]}") <= 256
      ? "${local.role_openings[role]} ${local.role_texts[role]}"
      : "${local.role_openings[role]} ${length(spec.permissions)} permissions (see its README)"
    )
  }

  # Who may publish to the trigger topic may stop everything the function may touch: exactly
  # the function (a big sweep hands on the rest of its work there), each publisher, and the
  # budget and Monitoring publishers when budgets or alert policies are allowed.
  function_member  = "serviceAccount:${local.names.function_email}"
  invoker_member   = "serviceAccount:${local.names.invoker_email}"
  pubsub_agent     = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  monitoring_agent = "serviceAccount:service-${var.project_number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
  trigger_publishers = sort(distinct(concat(
    [local.function_member],
    var.publishers,
    length(var.allowed_budgets) > 0 ? [local.deploy_sh.budget_publisher] : [],
    length(local.allowed_alert_policies) > 0 ? [local.monitoring_agent] : [],
  )))

  # deploy.sh's APIs, less Eventarc (the module makes the trigger's push subscription itself)
  # and with Cloud Storage (which holds the uploaded source).
  apis = sort(distinct(concat(
    [for api in local.deploy_sh.base_apis : api if api != "eventarc.googleapis.com"],
    ["storage.googleapis.com"],
    var.sweep_schedule != "" ? ["cloudscheduler.googleapis.com"] : [],
    var.results_bigquery_table != "" ? ["bigquery.googleapis.com"] : [],
    local.billing_account != "" ? local.deploy_sh.billing_apis : [],
    local.organisation_scale ? [local.deploy_sh.asset_api] : [],
    local.secret_given ? ["secretmanager.googleapis.com"] : [],
  )))

  # notify_webhook_secret: NAME in the deployment project, or projects/P/secrets/NAME.
  secret_parts = try(
    regex("^projects/([^/]+)/secrets/([^/]+)$", var.notify_webhook_secret),
    [var.project, var.notify_webhook_secret],
  )
  # Checked to be a secret's name, not the URL (variables.tf), so no longer sensitive.
  secret_given = nonsensitive(var.notify_webhook_secret != "")
  secret       = local.secret_given ? nonsensitive({ project = local.secret_parts[0], id = local.secret_parts[1] }) : null

  bigquery_parts = split(".", var.results_bigquery_table)
  bigquery = var.results_bigquery_table == "" ? null : {
    project = local.bigquery_parts[0]
    dataset = local.bigquery_parts[1]
    table   = local.bigquery_parts[2]
  }
}

# A warning, as deploy.sh's report_unscoped_sweeps: the deployment goes ahead.
check "sweeps_in_scope" {
  assert {
    condition     = length(local.unscoped_sweeps) == 0
    error_message = "SWEEP_SCOPES names ${join(", ", local.unscoped_sweeps)}, but no scope_folders or scope_organizations gives it: it is not in ALLOWED_ANCESTORS and the function has no role there, so a sweep of it stops nothing (unless its projects are target projects)."
  }
}
