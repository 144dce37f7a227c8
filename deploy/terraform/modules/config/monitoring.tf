# deploy.sh's log-based metrics (its *_metric_body functions), the deploy/monitoring files with
# their @@PLACEHOLDERS@@ filled in (its template_values and render_template), and how long
# without an execution means the scheduled sweeps stopped (its silence_seconds).

locals {
  # A log metric's filter: the function's own lines, under whichever resource type Cloud
  # Logging files them (cloud_run_revision, as a 2nd gen function runs; or cloud_function).
  function_lines = join(" ", [
    "((resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.function_name}\")",
    "OR (resource.type=\"cloud_function\" AND resource.labels.function_name=\"${var.function_name}\"))",
  ])
  kind_label    = { key = "kind", description = "What was stopped - operation, batch, job or session." }
  project_label = { key = "project", description = "The project of the work stopped." }
  trigger_label = { key = "trigger_kind", description = "What asked for it - operation, batch, sweep, budget, incident." }
  money_labels = [
    { key = "kind", description = "What was stopped - operation, batch, job, session or cluster." },
    local.project_label,
    local.trigger_label,
  ]
  money_extractors = {
    kind         = "EXTRACT(jsonPayload.kind)"
    project      = "EXTRACT(jsonPayload.project)"
    trigger_kind = "EXTRACT(jsonPayload.triggerKind)"
  }
  sweep_figures = { found = "sweepFound", selected = "sweepSelected", acted = "sweepActed" }

  log_metrics = merge(
    {
      # One counter with labels rather than one metric per outcome: a single chart groups by
      # outcome, and an outcome added to the code is counted without touching the metric.
      (local.names.metric) = {
        what             = "Results by outcome"
        condition        = "jsonPayload.outcome:*"
        value_extractor  = null
        label_extractors = merge({ outcome = "EXTRACT(jsonPayload.outcome)" }, local.money_extractors)
        buckets          = null
        value_type       = "INT64"
        unit             = "1"
        labels = [
          { key = "outcome", description = "The result's outcome, e.g. CANCELLED or REJECTED." },
          { key = "kind", description = "What was acted on - operation, batch, job or session." },
          { key = "project", description = "The project of the work acted on." },
          local.trigger_label,
        ]
      }
      # The elapsed seconds (request to verified stop) of every CANCELLED result.
      (local.names.time_metric) = {
        what             = "Seconds to a verified stop"
        condition        = "jsonPayload.outcome=\"CANCELLED\" AND jsonPayload.elapsedSeconds:*"
        value_extractor  = "EXTRACT(jsonPayload.elapsedSeconds)"
        label_extractors = { kind = "EXTRACT(jsonPayload.kind)" }
        buckets          = { num_finite_buckets = 24, growth_factor = 1.5, scale = 0.1 }
        value_type       = "DISTRIBUTION"
        unit             = "s"
        labels           = [local.kind_label]
      }
      # Each CANCELLED result's dollars an hour (list price) and dollars saved (an upper
      # bound), absent when unknown: a chart adds a period's values up.
      (local.names.burn_metric) = {
        what             = "Dollars an hour (list price) of what was stopped"
        condition        = "jsonPayload.outcome=\"CANCELLED\" AND jsonPayload.burnUsdPerHour:*"
        value_extractor  = "EXTRACT(jsonPayload.burnUsdPerHour)"
        label_extractors = local.money_extractors
        buckets          = { num_finite_buckets = 20, growth_factor = 2, scale = 0.01 }
        value_type       = "DISTRIBUTION"
        unit             = "{USD_per_hour}"
        labels           = local.money_labels
      }
      (local.names.saved_metric) = {
        what             = "Dollars saved at most (list price) by what was stopped"
        condition        = "jsonPayload.outcome=\"CANCELLED\" AND jsonPayload.savedUpToUsd:*"
        value_extractor  = "EXTRACT(jsonPayload.savedUpToUsd)"
        label_extractors = local.money_extractors
        buckets          = { num_finite_buckets = 27, growth_factor = 2, scale = 0.01 }
        value_type       = "DISTRIBUTION"
        unit             = "{USD}"
        labels           = local.money_labels
      }
      # Chat notifications SENT and FAILED, by service (canceller/notify.py).
      (local.names.notify_metric) = {
        what            = "Chat notifications by delivery"
        condition       = "jsonPayload.notification:*"
        value_extractor = null
        label_extractors = {
          notification   = "EXTRACT(jsonPayload.notification)"
          notify_service = "EXTRACT(jsonPayload.notifyService)"
        }
        buckets    = null
        value_type = "INT64"
        unit       = "1"
        labels = [
          { key = "notification", description = "SENT, or FAILED (an HTTP error, a timeout, a refused connection)." },
          { key = "notify_service", description = "The chat service the webhook belongs to." },
        ]
      }
    },
    # What each SWEEP_SUMMARY found, selected and acted on.
    {
      for figure, field in local.sweep_figures : "${var.function_name}-sweep-${figure}" => {
        what             = "Targets each sweep ${figure}"
        condition        = "jsonPayload.outcome=\"SWEEP_SUMMARY\" AND jsonPayload.${field}:*"
        value_extractor  = "EXTRACT(jsonPayload.${field})"
        label_extractors = {}
        buckets          = { num_finite_buckets = 20, growth_factor = 2, scale = 1 }
        value_type       = "DISTRIBUTION"
        unit             = "1"
        labels           = []
      }
    },
  )
  log_metric_configs = {
    for name, metric in local.log_metrics : name => {
      description      = "${metric.what} of the ${var.function_name} function"
      filter           = "${local.function_lines} AND ${metric.condition}"
      value_extractor  = metric.value_extractor
      label_extractors = metric.label_extractors
      buckets          = metric.buckets
      metric_kind      = "DELTA"
      value_type       = metric.value_type
      unit             = metric.unit
      labels           = metric.labels
    }
  }

  # Twice the schedule's interval plus ten minutes, when its interval is one deploy.sh reads
  # (*/N or fixed minutes, hours; a daily time) and the result stays under a day.
  schedule_fields = try(regex("^ *([^ ]+) +([^ ]+) *(.*?) *$", var.sweep_schedule), ["", "", ""])
  schedule_minute = local.schedule_fields[0]
  schedule_hour   = local.schedule_fields[1]
  schedule_interval = (
    local.schedule_fields[2] != "* * *" ? null
    : local.schedule_minute == "*" && local.schedule_hour == "*" ? 60
    : can(regex("^\\*/[0-9]+$", local.schedule_minute)) && local.schedule_hour == "*" ? 60 * tonumber(trimprefix(local.schedule_minute, "*/"))
    : can(regex("^[0-9]+$", local.schedule_minute)) && local.schedule_hour == "*" ? 3600
    : can(regex("^[0-9]+$", local.schedule_minute)) && can(regex("^\\*/[0-9]+$", local.schedule_hour)) ? 3600 * tonumber(trimprefix(local.schedule_hour, "*/"))
    : can(regex("^[0-9]+$", local.schedule_minute)) && can(regex("^[0-9]+$", local.schedule_hour)) ? 86400
    : null
  )
  silence_seconds = (
    local.schedule_interval == null ? null
    : 2 * local.schedule_interval + 600 > local.deploy_sh.max_silence_seconds ? null
    : 2 * local.schedule_interval + 600
  )

  # A log-based metric's name in PromQL: the first / a :, every other / . - a _
  # (https://cloud.google.com/monitoring/promql/promql-mapping).
  promql_names = {
    for metric in [local.names.burn_metric, local.names.saved_metric] : metric => replace(
      replace("logging.googleapis.com/user/${metric}", "/^([^/]*)//", "$1:"), "/[./-]/", "_"
    )
  }
  template_values = {
    PROJECT                  = var.project
    FUNCTION                 = var.function_name
    METRIC                   = local.names.metric
    TIME_METRIC              = local.names.time_metric
    DEAD_LETTER_SUBSCRIPTION = local.names.dead_letter_subscription
    NOTIFY_METRIC            = local.names.notify_metric
    BURN_PROMQL              = local.promql_names[local.names.burn_metric]
    SAVED_PROMQL             = local.promql_names[local.names.saved_metric]
    SWEEP_SCHEDULE           = var.sweep_schedule
    SILENCE_SECONDS          = local.silence_seconds == null ? "" : tostring(local.silence_seconds)
    SILENCE_DURATION         = "${floor(coalesce(local.silence_seconds, 0) / 60)} minutes"
    DEPLOY_DIGEST            = "@@DEPLOY_DIGEST@@" # filled in last, with the digest of the rest
  }
  # The quoted placeholder in "notificationChannels": ["@@NOTIFICATION_CHANNELS@@"].
  channels_json = join(", ", [for channel in var.notification_channels : "\"${channel}\""])
  monitoring_files = {
    dashboard          = "dashboard.json"
    kill-switch-failed = "alert-kill-switch-failed.json"
    dead-letters       = "alert-dead-letters.json"
    function-errors    = "alert-function-errors.json"
    function-silent    = "alert-function-silent.json"
  }
  # Every @@NAME@@ filled in; a name template_values lacks fails here, as deploy.sh fails.
  filled = {
    for name, file in local.monitoring_files : name => join("", [
      for index, part in split("@@", replace(
        chomp(file("${path.module}/../../../monitoring/${file}")), "\"@@NOTIFICATION_CHANNELS@@\"", local.channels_json
      )) : index % 2 == 1 ? local.template_values[part] : part
    ])
  }
  rendered = {
    for name, text in local.filled : name => replace(text, "@@DEPLOY_DIGEST@@", substr(sha256(text), 0, 12))
  }
  # With a channel to notify: the kill switch failed, trigger messages dead-lettered, the
  # function failing, and with a schedule whose interval is known, no executions.
  alert_names = length(var.notification_channels) == 0 ? [] : concat(
    ["kill-switch-failed", "dead-letters", "function-errors"],
    local.silence_seconds == null ? [] : ["function-silent"],
  )
}
