# The parent module's inputs, checked as deploy.sh's validate_config checks its flags.
# Defaults live in the parent (../../variables.tf); every input here is required.

variable "project" {
  type = string
  validation {
    condition     = can(regex(local.project_id_re, var.project))
    error_message = "project '${var.project}' is not a project ID."
  }
}

variable "project_number" {
  type = string
}

variable "region" {
  type = string
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region '${var.region}' is not valid: e.g. us-central1."
  }
}

variable "function_name" {
  type = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,20}[a-z0-9]$", var.function_name))
    error_message = "function_name '${var.function_name}' is not valid: 6-22 lowercase letters, digits and dashes (it also names service accounts)."
  }
}

variable "trigger_topic" {
  type = string
  validation {
    condition     = can(regex(local.topic_re, var.trigger_topic))
    error_message = "trigger_topic '${var.trigger_topic}' is not valid: 3-255 letters, digits or . _ ~ + % -, from a letter."
  }
  validation {
    condition     = var.trigger_topic != var.results_topic
    error_message = "the trigger and results topics must differ, or every result triggers again."
  }
}

variable "results_topic" {
  type = string
  validation {
    condition     = can(regex(local.topic_re, var.results_topic))
    error_message = "results_topic '${var.results_topic}' is not valid: 3-255 letters, digits or . _ ~ + % -, from a letter."
  }
}

variable "dead_letter_topic" {
  type = string
  validation {
    condition     = var.dead_letter_topic == "" || can(regex(local.topic_re, var.dead_letter_topic))
    error_message = "dead_letter_topic '${var.dead_letter_topic}' is not valid: 3-255 letters, digits or . _ ~ + % -, from a letter."
  }
}

variable "target_projects" {
  type = list(string)
  validation {
    condition     = alltrue([for target in var.target_projects : can(regex(local.project_id_re, target))])
    error_message = "target_projects: each must be a project ID (not * nor a number)."
  }
}

variable "verify_timeout" {
  type = number
  validation {
    condition     = var.verify_timeout == floor(var.verify_timeout) && var.verify_timeout >= 0 && var.verify_timeout <= 240
    error_message = "verify_timeout is not valid: a whole number from 0 to 240."
  }
}

variable "timeout" {
  type = number
  validation {
    condition = var.timeout == null ? true : (
      var.timeout == floor(var.timeout) && var.timeout >= 1 && var.timeout <= local.deploy_sh.max_event_function_timeout
    )
    error_message = "timeout is not valid: a whole number from 1 to ${local.deploy_sh.max_event_function_timeout}, or null."
  }
  validation {
    condition     = var.timeout == null ? true : var.timeout >= local.longest_message
    error_message = "timeout ${coalesce(var.timeout, 0)} is shorter than one message may take, ${local.longest_message} s (${local.longest_sum}): the platform would end a request after its stops and before its results. Give timeout ${local.longest_message} or more (at most ${local.deploy_sh.max_event_function_timeout}), or leave it null."
  }
}

variable "memory" {
  type = string
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.memory))
    error_message = "memory '${var.memory}' is not valid: e.g. 256Mi or 1Gi."
  }
}

variable "max_instances" {
  type = number
  validation {
    condition     = var.max_instances == floor(var.max_instances) && var.max_instances >= 1 && var.max_instances <= 1000
    error_message = "max_instances is not valid: a whole number from 1 to 1000."
  }
}

variable "runtime" {
  type = string
  validation {
    condition     = can(regex("^python3[0-9]+$", var.runtime))
    error_message = "runtime '${var.runtime}' is not valid: a Python runtime, e.g. python312."
  }
}

variable "max_delivery_attempts" {
  type = number
  validation {
    condition     = var.max_delivery_attempts == floor(var.max_delivery_attempts) && var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts is not valid: a whole number from 5 to 100."
  }
}

variable "settings" {
  type = map(string)
  validation {
    condition     = !contains(keys(var.settings), local.deploy_sh.notify_variable)
    error_message = "settings.${local.deploy_sh.notify_variable}: the webhook URL is a secret, never a plain setting (anyone who may read the function would read it): store it in Secret Manager and give notify_webhook_secret."
  }
  validation {
    condition     = length(setintersection(keys(var.settings), [for name in local.deploy_sh.setting_flags : name if name != local.deploy_sh.notify_variable])) == 0
    error_message = "settings: ${join("; ", [for name in sort(keys(var.settings)) : "${name} is set from the variable ${local.setting_variables[name]}: give that instead" if contains(keys(local.setting_variables), name) && name != local.deploy_sh.notify_variable])}."
  }
  validation {
    condition     = length(setsubtract(keys(var.settings), concat(local.deploy_sh.user_settings, local.deploy_sh.setting_flags))) == 0
    error_message = "settings: ${join(", ", [for name in sort(keys(var.settings)) : can(regex("^[A-Z][A-Z0-9_]{0,63}$", name)) ? name : "(a name not shown: it may be a secret)" if !contains(concat(local.deploy_sh.user_settings, local.deploy_sh.setting_flags), name)])} is not one of: ${join(" ", local.deploy_sh.user_settings)}."
  }
  validation {
    condition     = alltrue([for name in keys(local.timeout_defaults) : can(tonumber(lookup(var.settings, name, 0)))])
    error_message = "settings: RETRY_DEADLINE_SECONDS and PUBLISH_TIMEOUT_SECONDS must be numbers (the function timeout is sized from them)."
  }
}

variable "sweep_schedule" {
  type = string
  validation {
    condition     = var.sweep_schedule == "" || can(regex("^[0-9A-Za-z*/,? -]+$", var.sweep_schedule))
    error_message = "sweep_schedule '${var.sweep_schedule}' is not valid: a cron schedule, e.g. \"0 * * * *\"."
  }
}

variable "billing_account" {
  type = string
  validation {
    condition     = can(regex("^([0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6})?$", trimprefix(var.billing_account, "billingAccounts/")))
    error_message = "billing_account '${var.billing_account}' is not valid: a billing account ID, e.g. 012345-6789AB-CDEF01 (gcloud billing accounts list)."
  }
}

variable "billing_account_organization" {
  type = string
  validation {
    condition     = can(regex("^[0-9]{0,20}$", trimprefix(var.billing_account_organization, "organizations/")))
    error_message = "billing_account_organization is not valid: the number of the organisation the billing account belongs to, or \"\" when it belongs to none."
  }
}

variable "dataproc_requests_per_minute" {
  type = number
  validation {
    condition     = var.dataproc_requests_per_minute == floor(var.dataproc_requests_per_minute) && var.dataproc_requests_per_minute >= 1 && var.dataproc_requests_per_minute <= local.deploy_sh.dataproc_request_quota
    error_message = "dataproc_requests_per_minute is not valid: a whole number from 1 to ${local.deploy_sh.dataproc_request_quota}."
  }
}

variable "dataproc_job_cancels_per_minute" {
  type = number
  validation {
    condition     = var.dataproc_job_cancels_per_minute == floor(var.dataproc_job_cancels_per_minute) && var.dataproc_job_cancels_per_minute >= 1 && var.dataproc_job_cancels_per_minute <= local.deploy_sh.dataproc_job_operation_quota
    error_message = "dataproc_job_cancels_per_minute is not valid: a whole number from 1 to ${local.deploy_sh.dataproc_job_operation_quota}."
  }
}

variable "dataproc_cluster_operations_per_minute" {
  type = number
  validation {
    condition     = var.dataproc_cluster_operations_per_minute == floor(var.dataproc_cluster_operations_per_minute) && var.dataproc_cluster_operations_per_minute >= 1 && var.dataproc_cluster_operations_per_minute <= local.deploy_sh.dataproc_cluster_operation_quota
    error_message = "dataproc_cluster_operations_per_minute is not valid: a whole number from 1 to ${local.deploy_sh.dataproc_cluster_operation_quota}."
  }
}

variable "budget_ladder" {
  type = string
  validation {
    condition     = can(regex("^(${local.rung_re}(,${local.rung_re})*)?$", replace(var.budget_ladder, " ", "")))
    error_message = "budget_ladder '${var.budget_ladder}' is not valid: RATIO:ACTION rungs, comma-separated, ACTION one of report, work, clusters, e.g. 0.5:report,0.9:work,1.2:clusters."
  }
}

variable "cluster_incident_action" {
  type = string
  validation {
    condition     = contains(["jobs", "stop", "delete"], var.cluster_incident_action)
    error_message = "cluster_incident_action '${var.cluster_incident_action}' is not valid: jobs, stop or delete."
  }
  validation {
    condition     = var.cluster_incident_action != "delete" || var.allow_cluster_delete
    error_message = "cluster_incident_action \"delete\" needs allow_cluster_delete = true (which lets the function delete clusters and adds dataproc.clusters.delete to its role)."
  }
}

variable "allow_cluster_delete" {
  type = bool
}

variable "notification_channels" {
  type = list(string)
  validation {
    condition     = alltrue([for channel in var.notification_channels : can(regex("^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/notificationChannels/[0-9]+$", channel))])
    error_message = "notification_channels: each must be projects/PROJECT/notificationChannels/ID (gcloud beta monitoring channels list)."
  }
}

variable "results_bigquery_table" {
  type = string
  validation {
    # RE2 repeats at most 1000 times: the dataset's and table's 1024 are counted apart.
    condition = var.results_bigquery_table == "" ? true : (
      !can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]\\.[A-Za-z0-9_]+\\.[A-Za-z0-9_-]+$", var.results_bigquery_table)) ? false
      : alltrue([for part in slice(split(".", var.results_bigquery_table), 1, 3) : length(part) <= 1024])
    )
    error_message = "results_bigquery_table '${var.results_bigquery_table}' is not valid: PROJECT.DATASET.TABLE, e.g. finops-prod.dataproc.cancel_results."
  }
}

variable "publishers" {
  type = list(string)
  validation {
    condition     = !anytrue([for member in var.publishers : contains(["allUsers", "allAuthenticatedUsers"], member)])
    error_message = "publishers: allUsers or allAuthenticatedUsers would let anyone stop everything the function may touch."
  }
  validation {
    condition     = alltrue([for member in var.publishers : can(regex(local.member_re, member))])
    error_message = "publishers: each must be user:EMAIL, group:EMAIL, serviceAccount:EMAIL, domain:DOMAIN, principal://... or principalSet://..."
  }
}

variable "allowed_budgets" {
  type = list(string)
  validation {
    condition     = alltrue([for budget in var.allowed_budgets : can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$", budget))])
    error_message = "allowed_budgets: each must be a budget ID (the last part of billingAccounts/ACCOUNT/budgets/ID)."
  }
}

variable "allowed_alert_policies" {
  type = list(string)
  validation {
    condition     = alltrue([for policy in var.allowed_alert_policies : can(regex("^[^,;]{1,512}$", trimspace(policy)))])
    error_message = "allowed_alert_policies: each must be an alert policy's display name (an incident's policy_name), without ',' or ';'."
  }
}

variable "scope_folders" {
  type = list(string)
  validation {
    condition     = alltrue([for folder in var.scope_folders : can(regex("^[0-9]{1,20}$", trimprefix(folder, "folders/")))])
    error_message = "scope_folders: each must be a folder's number, e.g. 123456789012 (gcloud resource-manager folders list)."
  }
}

variable "scope_organizations" {
  type = list(string)
  validation {
    condition     = alltrue([for organization in var.scope_organizations : can(regex("^[0-9]{1,20}$", trimprefix(organization, "organizations/")))])
    error_message = "scope_organizations: each must be an organisation's number, e.g. 123456789012 (gcloud organizations list)."
  }
}

variable "notify_webhook_secret" {
  type      = string
  sensitive = true # given the webhook URL by mistake, no message may show it
  validation {
    condition     = can(regex("^(|[A-Za-z0-9_-]{1,255}|projects/([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})/secrets/[A-Za-z0-9_-]{1,255})$", var.notify_webhook_secret))
    error_message = "notify_webhook_secret takes a Secret Manager secret's name, NAME or projects/PROJECT/secrets/NAME (NAME: letters, digits, - and _), not the webhook URL, which belongs in the secret."
  }
}
