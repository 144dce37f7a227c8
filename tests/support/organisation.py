"""What the organisation-scale tests share: the fake organisation's names, a budget
notification as Cloud Billing publishes it, seeding a job and reading its state, and the
fast settings those tests run with (tests/emulator/test_fan_out*.py)."""

from __future__ import annotations

from typing import Any

from dataproc_emulator.admin import EmulatorAdmin
from dataproc_emulator.fake_org import BILLING_ACCOUNT, BUDGET_ID, ORGANIZATION_ID
from tests.support.dispatching import PROJECT

ORGANISATION = f"organizations/{ORGANIZATION_ID}"
TEAM_1, TEAM_2, SUB_1 = "folders/2001", "folders/2002", "folders/2101"  # SUB_1 is in TEAM_1
TOPIC = f"projects/{PROJECT}/topics/triggers"
OWN_PAIR = f"projects/{PROJECT}/regions/us-central1"  # allowed: the function's own project
FAST: dict[str, Any] = {"RETRY_DEADLINE_SECONDS": "1", "VERIFY_TIMEOUT_SECONDS": "2"}
# For messages that must stop nothing: a one-second deadline.
QUICK: dict[str, Any] = {"RETRY_DEADLINE_SECONDS": "1", "VERIFY_TIMEOUT_SECONDS": "0"}
# Resource Manager answering 503 for a minute: every projects.get fails for now.
RM_503: dict[str, Any] = {"pathRegex": r"^/v3/projects/", "status": 503, "retryAfter": "60"}


def budget_notification(
    budget_id: str = BUDGET_ID, cost: float = 150.0
) -> tuple[dict[str, Any], dict[str, str]]:
    """A notification of ``budget_id`` on BILLING_ACCOUNT, ``cost`` of 100 spent."""
    body = {
        "budgetDisplayName": budget_id,
        "costAmount": cost,
        "costIntervalStart": "2026-12-01T00:00:00Z",
        "budgetAmount": 100.0,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "USD",
    }
    attributes = {
        "billingAccountId": BILLING_ACCOUNT,
        "budgetId": budget_id,
        "schemaVersion": "1.0",
    }
    return body, attributes


def seed_job(admin: EmulatorAdmin, project: str, region: str, job: str, **seed: Any) -> str:
    """A job (RUNNING unless ``state`` says otherwise); its name."""
    name = f"projects/{project}/regions/{region}/jobs/{job}"
    admin.seed_job(name=name, state=seed.pop("state", "RUNNING"), **seed)
    return name


def job_state(admin: EmulatorAdmin, name: str) -> str:
    return str(admin.job_internals(name)["job"]["status"]["state"])
