# Each input is a deploy.sh flag of the same meaning (./deploy.sh --help), unless its
# description says otherwise; modules/config checks them as deploy.sh checks its flags.

variable "project" {
  description = "Project to deploy to (deploy.sh --project)."
  type        = string
}

variable "region" {
  description = "Region of the function, the sweep job and a new results dataset."
  type        = string
  default     = "us-central1"
}

variable "function_name" {
  description = "The function's name; also names the service accounts (NAME, NAME-invoker), the IAM roles (dashes become underscores), the sweep job, the log metrics and the dashboard."
  type        = string
  default     = "dataproc-canceller"
}

variable "trigger_topic" {
  description = "The topic whose messages name work to stop."
  type        = string
  default     = "dataproc-cancel-requests"
}

variable "results_topic" {
  description = "The topic every result is published to, bound to schemas/result.proto (JSON encoding)."
  type        = string
  default     = "dataproc-cancel-results"
}

variable "dead_letter_topic" {
  description = "Where trigger messages go after max_delivery_attempts failed deliveries. \"\": TRIGGER_TOPIC-dead-letter."
  type        = string
  default     = ""
}

variable "target_projects" {
  description = "Projects whose Dataproc work may be stopped (ALLOWED_PROJECTS), where the IAM role is created and granted. []: the deployment project."
  type        = list(string)
  default     = []
}

variable "verify_timeout" {
  description = "Seconds the function checks that a stop took effect (VERIFY_TIMEOUT_SECONDS), 0-240."
  type        = number
  default     = 60
}

variable "timeout" {
  description = "Function timeout in seconds; null (and the least accepted): the longest one message may take, from the settings (204 with the defaults); at most 540. The trigger's ack deadline is this plus 60 s (at most 600)."
  type        = number
  default     = null
}

variable "memory" {
  description = "The function's memory, e.g. 256Mi or 1Gi."
  type        = string
  default     = "256Mi"
}

variable "max_instances" {
  description = "The most instances the function may run at once, 1-1000; the request budgets are split between them."
  type        = number
  default     = 10
}

variable "runtime" {
  description = "The Python runtime."
  type        = string
  default     = "python312"
}

variable "max_delivery_attempts" {
  description = "Deliveries of a failing trigger message before it moves to the dead-letter topic, 5-100."
  type        = number
  default     = 10
}

variable "settings" {
  description = "Function settings (canceller/settings.py) by name, e.g. { DRY_RUN = \"true\" }: one of deploy.sh's --setting names (canceller.json, deploy_sh.user_settings). A setting a variable here sets is refused, naming the variable."
  type        = map(string)
  default     = {}
}

variable "sweep_schedule" {
  description = "A cron schedule on which a Cloud Scheduler job publishes {\"sweep\": {}} to the trigger topic, e.g. \"0 * * * *\". \"\": no job."
  type        = string
  default     = ""
}

variable "sweep_time_zone" {
  description = "The sweep job's time zone."
  type        = string
  default     = "Etc/UTC"
}

variable "billing_account" {
  description = "The billing account whose budgets notify the function (e.g. 012345-6789AB-CDEF01): it may read them and the projects the account pays for. \"\": none."
  type        = string
  default     = ""
}

variable "billing_account_organization" {
  description = "Not in deploy.sh, which reads it from the account: the number of the organisation billing_account belongs to, where its custom role NAME_billing is made; \"\" when it belongs to none, and the function gets roles/billing.viewer on the account instead."
  type        = string
  default     = ""
}

variable "budget_amount" {
  description = "With billing_account: a budget of this amount (e.g. { currency_code = \"USD\", units = \"500\" }) over the target projects, notifying the trigger topic; its notifications may then sweep (ALLOWED_BUDGETS). deploy.sh prints the command (--print-wiring, --budget-amount). null: no budget."
  type = object({
    currency_code = string
    units         = string
  })
  default = null
}

variable "scope_folders" {
  description = "Folders (by number) the function may act in: every project under them (ALLOWED_ANCESTORS); each gets the function's role, an organisation-level custom role in the folder's organisation."
  type        = list(string)
  default     = []
}

variable "scope_organizations" {
  description = "Organisations (by number) the function may act in; as scope_folders, for the whole organisation."
  type        = list(string)
  default     = []
}

variable "dataproc_requests_per_minute" {
  description = "Dataproc requests a minute the function may make in all instances together, per target project and region (default: 8 % of Dataproc's default quota of 7,500)."
  type        = number
  default     = 600
}

variable "dataproc_job_cancels_per_minute" {
  description = "CancelJob calls a minute in all (default: half of Dataproc's default quota of 400 job operations)."
  type        = number
  default     = 200
}

variable "dataproc_cluster_operations_per_minute" {
  description = "Cluster stops and deletes a minute in all (default: half of Dataproc's default quota of 200 cluster operations)."
  type        = number
  default     = 100
}

variable "budget_ladder" {
  description = "What a budget notification does as the cost climbs (BUDGET_LADDER), e.g. \"0.5:report,0.9:work,1.2:clusters\". \"\": the function's BUDGET_THRESHOLD:work."
  type        = string
  default     = ""
}

variable "cluster_incident_action" {
  description = "What an incident on a cluster does (CLUSTER_INCIDENT_ACTION): jobs, stop or delete (delete needs allow_cluster_delete)."
  type        = string
  default     = "jobs"
}

variable "allow_cluster_delete" {
  description = "Let the function delete clusters (CLUSTER_DELETE_ALLOWED) and add dataproc.clusters.delete to its roles; false removes both."
  type        = bool
  default     = false
}

variable "notification_channels" {
  description = "Monitoring notification channels (projects/P/notificationChannels/ID) the alert policies of deploy/monitoring/alert-*.json notify; []: no alert policies."
  type        = list(string)
  default     = []
}

variable "publishers" {
  description = "Who may publish to the trigger topic, and so stop everything the function may touch (user:, group:, serviceAccount:, domain:, principal://, principalSet://). roles/pubsub.publisher on the topic is exactly these, the function itself, and the publishers of allowed budgets and alert policies: anyone else holding it is removed."
  type        = list(string)
  default     = []
}

variable "allowed_budgets" {
  description = "Budget IDs whose notifications may sweep (ALLOWED_BUDGETS); with one, billing-budget-alert@system.gserviceaccount.com may publish to the trigger topic. The budget of budget_amount is added."
  type        = list(string)
  default     = []
}

variable "allowed_alert_policies" {
  description = "Alert policy display names whose incidents may stop work (ALLOWED_ALERT_POLICIES); with one, the project's Monitoring notification agent may publish to the trigger topic."
  type        = list(string)
  default     = []
}

variable "remove_other_invokers" {
  description = "true: roles/run.invoker on the function's Cloud Run service is exactly NAME-invoker (an authoritative binding); false: NAME-invoker is added and others are left (deploy.sh reports them)."
  type        = bool
  default     = false
}

variable "results_bigquery_table" {
  description = "PROJECT.DATASET.TABLE: keep every result in this BigQuery table too (schema deploy/bigquery/results-schema.json), written by a BigQuery subscription on the results topic. \"\": none."
  type        = string
  default     = ""
}

variable "create_results_dataset" {
  description = "Not in deploy.sh, which makes the dataset only if missing: whether the module makes the dataset of results_bigquery_table (false: it exists already)."
  type        = bool
  default     = true
}

variable "notify_webhook_secret" {
  description = "The Secret Manager secret holding the Google Chat or Slack webhook URL (NOTIFY_WEBHOOK_URL): NAME in this project or projects/P/secrets/NAME. Mounted as that variable, version latest; the function may access this secret only. \"\": nobody is told."
  type        = string
  default     = ""
  sensitive   = true
}

variable "create_pubsub_notification_channel" {
  description = "Not in deploy.sh, which prints the command (--print-wiring): a Monitoring notification channel publishing to the trigger topic, for alert policies on Dataproc resources (whose display names then go in allowed_alert_policies)."
  type        = bool
  default     = false
}

variable "source_bucket" {
  description = "Not in deploy.sh (gcloud uploads the source itself): an existing bucket for the source archive. \"\": the module makes PROJECT-NAME-source."
  type        = string
  default     = ""
}
