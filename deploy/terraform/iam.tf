# Identities and least privilege (deploy.sh's steps "Service accounts", "IAM role",
# "Organisation scopes", "Billing account", "Trigger identity" and "Notification secret").

resource "google_service_account" "function" {
  project      = var.project
  account_id   = local.names.function_account
  display_name = "${var.function_name} function"
  description  = "Runs the ${var.function_name} Cloud Run function: stops Dataproc work, publishes results"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "invoker" {
  project      = var.project
  account_id   = local.names.invoker_account
  display_name = "${var.function_name} trigger"
  description  = "Identity the trigger's push subscription invokes the ${var.function_name} function as; may do nothing else"
  depends_on   = [google_project_service.apis]
}

# In each target project, a custom role holding exactly the permissions of the calls the
# function makes (canceller.role), granted there to the function.
resource "google_project_iam_custom_role" "canceller" {
  for_each = toset(module.config.targets)

  project     = each.value
  role_id     = local.names.role_id
  title       = module.config.roles.project.title
  description = module.config.roles.project.description
  permissions = module.config.roles.project.permissions
  stage       = "GA"
  depends_on  = [google_project_service.apis]
}

resource "google_project_iam_member" "canceller" {
  for_each = google_project_iam_custom_role.canceller

  project = each.key
  role    = each.value.id
  member  = local.function_member
}

# Each folder and organisation the function may act in (ALLOWED_ANCESTORS): the
# organisation-level role, with the Dataproc permissions and the reads that find where the
# work is, granted there. A custom role lives in an organisation and is granted within it,
# so a folder's is its organisation's.
data "google_folder" "scope" {
  for_each = toset(module.config.scope_folders)

  folder              = "folders/${each.value}"
  lookup_organization = true

  lifecycle {
    postcondition {
      condition     = startswith(self.organization, "organizations/")
      error_message = "folders/${each.value} is in no organisation: a custom role for it cannot be made."
    }
  }
}

locals {
  scope_role_organizations = toset(concat(
    [for folder in data.google_folder.scope : trimprefix(folder.organization, "organizations/")],
    module.config.scope_organizations,
  ))
}

resource "google_organization_iam_custom_role" "scope" {
  for_each = local.scope_role_organizations

  org_id      = each.value
  role_id     = local.names.role_id
  title       = module.config.roles.scope.title
  description = module.config.roles.scope.description
  permissions = module.config.roles.scope.permissions
  stage       = "GA"
}

resource "google_folder_iam_member" "scope" {
  for_each = data.google_folder.scope

  folder = "folders/${each.key}"
  role   = google_organization_iam_custom_role.scope[trimprefix(each.value.organization, "organizations/")].id
  member = local.function_member
}

resource "google_organization_iam_member" "scope" {
  for_each = toset(module.config.scope_organizations)

  org_id = each.value
  role   = google_organization_iam_custom_role.scope[each.value].id
  member = local.function_member
}

# The billing account whose budgets notify the function: reading a budget and the projects
# the account pays for. A custom role in the account's organisation; an account in none gets
# the narrowest predefined role holding both, read-only (deploy.sh's BILLING_VIEWER_ROLE).
locals {
  billing_organization = trimprefix(var.billing_account_organization, "organizations/")
}

resource "google_organization_iam_custom_role" "billing" {
  count = module.config.billing_account != "" && local.billing_organization != "" ? 1 : 0

  org_id      = local.billing_organization
  role_id     = local.names.billing_role_id
  title       = module.config.roles.billing.title
  description = module.config.roles.billing.description
  permissions = module.config.roles.billing.permissions
  stage       = "GA"
}

resource "google_billing_account_iam_member" "function" {
  count = module.config.billing_account != "" ? 1 : 0

  billing_account_id = module.config.billing_account
  role               = local.billing_organization != "" ? google_organization_iam_custom_role.billing[0].id : module.config.billing_viewer_role
  member             = local.function_member
}

# The Pub/Sub service agent mints the push subscription's tokens for the invoker (needed by
# projects whose agent predates April 2021).
resource "google_service_account_iam_member" "pubsub_mints_invoker_tokens" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.members.pubsub_agent
}

# The webhook secret must exist with an enabled latest version, or no instance could start:
# checked on its metadata (fetch_secret_data = false), never its value.
data "google_secret_manager_secret_version" "webhook" {
  count = module.config.secret == null ? 0 : 1

  project           = module.config.secret.project
  secret            = module.config.secret.id
  version           = "latest"
  fetch_secret_data = false

  lifecycle {
    postcondition {
      condition     = self.enabled
      error_message = "secret ${module.config.secret.id}'s latest version in ${module.config.secret.project} is not enabled: the function could not start with it. Add the webhook URL as a new version (read -rs URL && printf %s \"$URL\" | gcloud secrets versions add ${module.config.secret.id} --project=${module.config.secret.project} --data-file=-)."
    }
  }

  depends_on = [google_project_service.apis]
}

# The function may read the webhook secret, and only it; granted before the function, which
# Cloud Run checks when it deploys.
resource "google_secret_manager_secret_iam_member" "webhook" {
  count = module.config.secret == null ? 0 : 1

  project    = module.config.secret.project
  secret_id  = data.google_secret_manager_secret_version.webhook[0].secret
  role       = module.config.secret_accessor_role
  member     = local.function_member
  depends_on = [google_project_service.apis]
}
