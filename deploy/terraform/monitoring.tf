# Sweeps, log metrics, the dashboard and the alert policies (deploy.sh's steps "Sweep job",
# "Log metrics", "Dashboard" and "Alert policies"), and the wiring deploy.sh prints
# (--print-wiring): a budget and a Monitoring notification channel on the trigger topic.

resource "google_cloud_scheduler_job" "sweep" {
  count = var.sweep_schedule == "" ? 0 : 1

  project     = var.project
  region      = var.region
  name        = local.names.sweep_job
  description = "Sweeps for ${var.function_name}"
  schedule    = var.sweep_schedule
  time_zone   = var.sweep_time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.trigger.id
    data       = base64encode("{\"sweep\": {}}")
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "canceller" {
  for_each = module.config.log_metrics

  project          = var.project
  name             = each.key
  description      = each.value.description
  filter           = each.value.filter
  value_extractor  = each.value.value_extractor
  label_extractors = each.value.label_extractors

  dynamic "bucket_options" {
    for_each = each.value.buckets == null ? [] : [each.value.buckets]
    content {
      exponential_buckets {
        num_finite_buckets = bucket_options.value.num_finite_buckets
        growth_factor      = bucket_options.value.growth_factor
        scale              = bucket_options.value.scale
      }
    }
  }

  metric_descriptor {
    metric_kind = each.value.metric_kind
    value_type  = each.value.value_type
    unit        = each.value.unit

    dynamic "labels" {
      for_each = each.value.labels
      content {
        key         = labels.value.key
        description = labels.value.description
      }
    }
  }

  depends_on = [google_project_service.apis]
}

# deploy/monitoring/dashboard.json, filled in as deploy.sh fills it in.
resource "google_monitoring_dashboard" "canceller" {
  project = var.project
  dashboard_json = jsonencode(merge(jsondecode(module.config.dashboard_json), {
    labels = merge(jsondecode(module.config.dashboard_json).labels, { deployed_by = "terraform" })
  }))
  depends_on = [google_project_service.apis, google_logging_metric.canceller]
}

# deploy/monitoring/alert-*.json, filled in, field by field (the provider takes no JSON).
resource "google_monitoring_alert_policy" "canceller" {
  for_each = module.config.alert_policies

  project               = var.project
  display_name          = each.value.displayName
  severity              = each.value.severity
  combiner              = each.value.combiner
  user_labels           = merge(each.value.userLabels, { deployed_by = "terraform" })
  notification_channels = each.value.notificationChannels

  documentation {
    mime_type = each.value.documentation.mimeType
    subject   = each.value.documentation.subject
    content   = each.value.documentation.content
  }

  dynamic "conditions" {
    for_each = each.value.conditions
    content {
      display_name = conditions.value.displayName

      dynamic "condition_threshold" {
        for_each = try([conditions.value.conditionThreshold], [])
        content {
          filter          = condition_threshold.value.filter
          comparison      = condition_threshold.value.comparison
          threshold_value = condition_threshold.value.thresholdValue
          duration        = condition_threshold.value.duration
          trigger {
            count = condition_threshold.value.trigger.count
          }
          dynamic "aggregations" {
            for_each = condition_threshold.value.aggregations
            content {
              alignment_period     = aggregations.value.alignmentPeriod
              per_series_aligner   = aggregations.value.perSeriesAligner
              cross_series_reducer = try(aggregations.value.crossSeriesReducer, null)
              group_by_fields      = try(aggregations.value.groupByFields, null)
            }
          }
        }
      }

      dynamic "condition_absent" {
        for_each = try([conditions.value.conditionAbsent], [])
        content {
          filter   = condition_absent.value.filter
          duration = condition_absent.value.duration
          trigger {
            count = condition_absent.value.trigger.count
          }
          dynamic "aggregations" {
            for_each = condition_absent.value.aggregations
            content {
              alignment_period     = aggregations.value.alignmentPeriod
              per_series_aligner   = aggregations.value.perSeriesAligner
              cross_series_reducer = try(aggregations.value.crossSeriesReducer, null)
              group_by_fields      = try(aggregations.value.groupByFields, null)
            }
          }
        }
      }
    }
  }

  dynamic "alert_strategy" {
    for_each = try([each.value.alertStrategy], [])
    content {
      auto_close = alert_strategy.value.autoClose
    }
  }

  depends_on = [google_project_service.apis, google_logging_metric.canceller]
}

# A Monitoring notification channel on the trigger topic: add it to an alert policy on
# Dataproc resources, and put the policy's display name in allowed_alert_policies.
resource "google_monitoring_notification_channel" "trigger" {
  count = var.create_pubsub_notification_channel ? 1 : 0

  project      = var.project
  display_name = "${var.function_name} trigger"
  type         = "pubsub"
  labels = {
    topic = google_pubsub_topic.trigger.id
  }
}

# A budget over the target projects whose notifications reach the function; as the cost
# passes each rung of budget_ladder (by default BUDGET_THRESHOLD times the budget: sweep),
# it does that rung's action. Its ID joins ALLOWED_BUDGETS (main.tf).
data "google_project" "target" {
  for_each = var.budget_amount == null ? toset([]) : toset(module.config.targets)

  project_id = each.value
}

resource "google_billing_budget" "trigger" {
  count = var.budget_amount == null ? 0 : 1

  billing_account = module.config.billing_account
  display_name    = var.function_name

  budget_filter {
    # The Budget API keeps projects by number.
    projects = [for target in data.google_project.target : "projects/${target.number}"]
  }

  amount {
    specified_amount {
      currency_code = var.budget_amount.currency_code
      units         = var.budget_amount.units
    }
  }

  threshold_rules {
    threshold_percent = 1.0
  }

  all_updates_rule {
    pubsub_topic   = google_pubsub_topic.trigger.id
    schema_version = "1.0"
  }

  lifecycle {
    precondition {
      condition     = module.config.billing_account != ""
      error_message = "budget_amount needs billing_account: the budget is the account's."
    }
  }

  depends_on = [google_project_service.apis]
}
