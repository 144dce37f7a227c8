"""What a message cannot make the function do (issue 15): lift DRY_RUN, smuggle work or a
dryRun into an alert, act from a budget or alert policy not allowed, name a made-up
region, or fan out over unbounded scopes. Each is answered, and nothing is stopped."""

from __future__ import annotations

import pytest

from canceller.results import Outcome
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.dispatching import PROJECT, REGION, SCOPE, handle

OPERATION = f"projects/{PROJECT}/regions/{REGION}/operations/op-1"
BUDGET_ATTRIBUTES = {
    "billingAccountId": "01D4EE-079462-DFD6EC",
    "budgetId": "b-1",
    "schemaVersion": "1.0",
}
BUDGET = {
    "budgetDisplayName": "dataproc",
    "costAmount": 150.0,
    "costIntervalStart": "2026-12-01T08:00:00Z",
    "budgetAmount": 100.0,
    "budgetAmountType": "SPECIFIED_AMOUNT",
    "currencyCode": "USD",
    "alertThresholdExceeded": 1.0,
}
INCIDENT = {
    "version": "1.2",
    "incident": {
        "incident_id": "0.abc",
        "policy_name": "dataproc-batch-too-long",
        "state": "open",
        "resource": {
            "type": "cloud_dataproc_batch",
            "labels": {"project_id": PROJECT, "location": REGION, "batch_id": "b-1234"},
        },
    },
}


def cancels(admin: EmulatorAdmin) -> list[str]:
    return [r["path"] for r in admin.requests() if r["method"] == "POST"]


@pytest.mark.parametrize(
    "body",
    [
        {"operation": OPERATION, "dryRun": False},
        {"sweep": {"scopes": [SCOPE], "kinds": ["operations"], "dryRun": False}},
        {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}, "dryRun": False},
    ],
    ids=["named", "sweep", "sweep-top-level"],
)
def test_a_message_cannot_lift_dry_run(
    admin: EmulatorAdmin, emulator: DataprocEmulator, body: dict[str, object]
) -> None:
    admin.seed_operation(name=OPERATION)
    handled = handle(emulator, body, DRY_RUN="true")
    work = [r for r in handled.results if r.outcome is not Outcome.SWEEP_SUMMARY]
    assert [r.outcome for r in work] == [Outcome.DRY_RUN]
    assert all(r.dry_run for r in handled.results)
    assert cancels(admin) == []
    assert any("DRY_RUN=true keeps it a dry run" in note for note in handled.notes)


def test_a_message_may_still_ask_for_a_dry_run(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_operation(name=OPERATION)
    handled = handle(emulator, {"operation": OPERATION, "dryRun": True})
    assert [r.outcome for r in handled.results] == [Outcome.DRY_RUN]
    assert cancels(admin) == []


@pytest.mark.parametrize(
    "extra",
    [{"dryRun": True}, {"operation": OPERATION}, {"sweep": {}}],
    ids=["dryRun", "operation", "sweep"],
)
def test_an_incident_with_fields_its_publisher_does_not_send_is_rejected(
    admin: EmulatorAdmin, emulator: DataprocEmulator, extra: dict[str, object]
) -> None:
    handled = handle(emulator, {**INCIDENT, **extra})
    (result,) = handled.results
    assert result.outcome is Outcome.REJECTED
    assert next(iter(extra)) in result.detail and "refused" in result.detail
    assert admin.requests() == []


@pytest.mark.parametrize(
    ("document", "attributes", "named"),
    [
        ({**BUDGET, "dryRun": True}, BUDGET_ATTRIBUTES, "dryRun"),
        ({**BUDGET, "operation": OPERATION}, BUDGET_ATTRIBUTES, "operation"),
        (BUDGET, {**BUDGET_ATTRIBUTES, "operation": OPERATION}, "operation"),
    ],
    ids=["dryRun-field", "operation-field", "operation-attribute"],
)
def test_a_budget_notification_with_anything_extra_is_rejected(
    admin: EmulatorAdmin,
    emulator: DataprocEmulator,
    document: dict[str, object],
    attributes: dict[str, str],
    named: str,
) -> None:
    admin.seed_operation(name=OPERATION)
    handled = handle(emulator, document, attributes, SWEEP_SCOPES=SCOPE)
    (result,) = handled.results
    assert result.outcome is Outcome.REJECTED and named in result.detail
    assert admin.requests() == []


def test_the_operation_attribute_beside_a_body_is_rejected(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    other = f"projects/{PROJECT}/regions/{REGION}/operations/other"
    handled = handle(emulator, {"operation": OPERATION}, {"operation": other})
    (result,) = handled.results
    assert result.outcome is Outcome.REJECTED and "only read with an empty body" in result.detail
    assert admin.requests() == []


def test_only_allowed_budgets_act(admin: EmulatorAdmin, emulator: DataprocEmulator) -> None:
    admin.seed_operation(name=OPERATION, cancelSeconds=0)
    refused = handle(emulator, BUDGET, BUDGET_ATTRIBUTES, SWEEP_SCOPES=SCOPE, ALLOWED_BUDGETS="b-2")
    (result,) = refused.results
    assert result.outcome is Outcome.REJECTED and "ALLOWED_BUDGETS" in result.detail
    assert admin.requests() == []
    allowed = handle(
        emulator, BUDGET, BUDGET_ATTRIBUTES, SWEEP_SCOPES=SCOPE, ALLOWED_BUDGETS="b-2,b-1"
    )
    assert {r.target: r.outcome for r in allowed.results}[OPERATION] is Outcome.CANCELLED


def test_only_allowed_alert_policies_act(admin: EmulatorAdmin, emulator: DataprocEmulator) -> None:
    handled = handle(emulator, INCIDENT, ALLOWED_ALERT_POLICIES="dataproc-job-too-long")
    (result,) = handled.results
    assert result.outcome is Outcome.REJECTED and "ALLOWED_ALERT_POLICIES" in result.detail
    assert admin.requests() == []


@pytest.mark.parametrize(
    "body",
    [
        {"operation": f"projects/{PROJECT}/regions/zz-fake9/operations/op-1"},
        {"sweep": {"scopes": [f"projects/{PROJECT}/regions/zz-fake9"], "kinds": ["operations"]}},
    ],
    ids=["named", "sweep"],
)
def test_a_made_up_region_is_rejected_without_a_call(
    admin: EmulatorAdmin, emulator: DataprocEmulator, body: dict[str, object]
) -> None:
    handled = handle(emulator, body)
    rejected = [r for r in handled.results if r.outcome is Outcome.REJECTED]
    assert len(rejected) == 1 and "not a Dataproc region" in rejected[0].detail
    assert admin.requests() == []


def test_a_sweep_over_too_many_scopes_is_rejected_without_a_call(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    scopes = [f"projects/{PROJECT}-{i:03}/regions/{REGION}" for i in range(51)]
    handled = handle(emulator, {"sweep": {"scopes": scopes}}, ALLOWED_PROJECTS="*")
    (result,) = handled.results
    assert result.outcome is Outcome.REJECTED and "at most 50" in result.detail
    assert admin.requests() == []
