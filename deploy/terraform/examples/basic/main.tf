# The smallest useful deployment: the function in one project, stopping Dataproc work there,
# with a dry run first (the function reports what it would stop and stops nothing), an
# hourly sweep, and the alert policies notifying one channel.
#
#   terraform init
#   terraform apply -var project=my-project -var notification_channel=projects/my-project/notificationChannels/123

terraform {
  required_version = ">= 1.9"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 7.0"
    }
  }
}

variable "project" {
  description = "The project to deploy to; its Dataproc work is what may be stopped."
  type        = string
}

variable "notification_channel" {
  description = "A Monitoring notification channel for the alert policies, projects/P/notificationChannels/ID."
  type        = string
}

provider "google" {
  project = var.project
}

module "dataproc_canceller" {
  # From outside this repository: "git::https://github.com/OWNER/dataproc-canceller.git//deploy/terraform?ref=TAG"
  source = "../.."

  project               = var.project
  sweep_schedule        = "0 * * * *"
  notification_channels = [var.notification_channel]
  settings = {
    DRY_RUN = "true" # remove once the DRY_RUN results on the results topic look right
  }
}

output "trigger_topic" {
  description = "Publish a request to stop work here."
  value       = module.dataproc_canceller.trigger_topic
}

output "results_topic" {
  description = "Every result is published here."
  value       = module.dataproc_canceller.results_topic
}
