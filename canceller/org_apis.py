"""The Google APIs besides Dataproc that the function reads to find where a budget's work
is, described once: each call's host, path, IAM permission and where that permission
must be granted. canceller.organisation makes the calls, deploy.sh grants the
permissions (``python3 -m canceller.role --scope`` / ``--billing-account``), and the
tests hold every request to the API's discovery document.

Facts: Google's discovery documents in google-api-python-client (billingbudgets.v1,
cloudbilling.v1, cloudresourcemanager.v3, cloudasset.v1), and the REST references they
are published as: https://cloud.google.com/billing/docs/reference/budget/rest/v1/billingAccounts.budgets,
https://cloud.google.com/billing/docs/reference/rest/v1/billingAccounts.projects/list,
https://cloud.google.com/resource-manager/reference/rest/v3/projects and
https://cloud.google.com/asset-inventory/docs/reference/rest/v1/TopLevel/searchAllResources.
Standard library only: deploy.sh imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A billing account id (three groups of six hex digits) and a budget id (a UUID as Billing
# makes them; letters, digits, - and _ here): they become a path, so nothing else passes.
BILLING_ACCOUNT_ID = r"[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}"
BUDGET_ID = r"[A-Za-z0-9_-]{1,128}"
BUDGET_NAME = re.compile(
    rf"billingAccounts/(?P<account>{BILLING_ACCOUNT_ID})/budgets/(?P<id>{BUDGET_ID})"
)


@dataclass(frozen=True)
class OrgApi:
    """One API: its production host, the emulator variable that replaces it locally (a
    loopback host:port, plain http, as PUBSUB_EMULATOR_HOST), and its version path."""

    name: str  # the request budget's key and the setting's stem
    host: str
    emulator_variable: str
    version: str


BUDGETS = OrgApi(
    "billingbudgets", "billingbudgets.googleapis.com", "BILLING_BUDGETS_EMULATOR_HOST", "v1"
)
BILLING = OrgApi("cloudbilling", "cloudbilling.googleapis.com", "CLOUD_BILLING_EMULATOR_HOST", "v1")
RESOURCE_MANAGER = OrgApi(
    "cloudresourcemanager",
    "cloudresourcemanager.googleapis.com",
    "RESOURCE_MANAGER_EMULATOR_HOST",
    "v3",
)
ASSETS = OrgApi("cloudasset", "cloudasset.googleapis.com", "CLOUD_ASSET_EMULATOR_HOST", "v1")
ORG_APIS = (BUDGETS, BILLING, RESOURCE_MANAGER, ASSETS)


@dataclass(frozen=True)
class OrgCall:
    """One method the function calls: its discovery id, its IAM permission, and what the
    permission is granted on ("billing account": the budget's; "scope": the folders and
    organisations the function may act in, which their projects inherit)."""

    api: OrgApi
    method: str
    permission: str
    granted_on: str


BUDGET_GET = OrgCall(
    BUDGETS, "billingbudgets.billingAccounts.budgets.get", "billing.budgets.get", "billing account"
)
# A budget over folders covers only their projects that this billing account pays for.
BILLING_PROJECTS = OrgCall(
    BILLING,
    "cloudbilling.billingAccounts.projects.list",
    "billing.resourceAssociations.list",
    "billing account",
)
PROJECT_GET = OrgCall(
    RESOURCE_MANAGER, "cloudresourcemanager.projects.get", "resourcemanager.projects.get", "scope"
)
FOLDER_GET = OrgCall(
    RESOURCE_MANAGER, "cloudresourcemanager.folders.get", "resourcemanager.folders.get", "scope"
)
ASSET_SEARCH = OrgCall(
    ASSETS, "cloudasset.searchAllResources", "cloudasset.assets.searchAllResources", "scope"
)
ORG_CALLS = (BUDGET_GET, BILLING_PROJECTS, PROJECT_GET, FOLDER_GET, ASSET_SEARCH)


def permissions_on(granted_on: str) -> tuple[str, ...]:
    """The permissions to grant on the billing account, or on the scope, sorted."""
    return tuple(sorted({call.permission for call in ORG_CALLS if call.granted_on == granted_on}))
