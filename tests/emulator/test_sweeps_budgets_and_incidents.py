"""Batches, sweeps, budgets and incidents through dispatch, against the Dataproc emulator.

These use the real DataprocClient and the real emulator over HTTP; only Pub/Sub is left
out (the end-to-end tests add it).
"""

from __future__ import annotations

from typing import Any

import pytest

from canceller.dispatch import Handled
from canceller.results import Outcome
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.one_project import PROJECT, REGION, SCOPE, ago, handle, incident


def outcomes(handled: Handled) -> dict[str, str]:
    return {r.operation: r.outcome.value for r in handled.results}


def posts(admin: EmulatorAdmin) -> list[str]:
    return [r["path"] for r in admin.requests() if r["method"] == "POST"]


# -- batches -----------------------------------------------------------------------------


def test_batch_is_cancelled_through_its_operation(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    batch = admin.seed_batch(
        name=f"projects/{PROJECT}/locations/{REGION}/batches/nightly-etl",
        operation={"cancelSeconds": 0.3},
    )
    handled = handle(emulator, {"batch": batch["name"]})
    [result] = handled.results
    assert result.outcome is Outcome.CANCELLED
    assert result.operation == batch["operation"]
    message = result.to_message()
    assert message["batch"] == batch["name"]
    paths = [f"{r['method']} {r['path']}" for r in admin.requests()]
    assert paths[0] == f"GET /v1/{batch['name']}"
    # The batch's own RUNNING state is the read before the stop: no extra GET of its operation.
    assert paths[1] == f"POST /v1/{batch['operation']}:cancel"
    assert message["state"]["batchState"] == "CANCELLED"
    assert paths[-1] == f"GET /v1/{batch['name']}"  # read again at the end, for batchState


def test_batches_list_finished_missing_and_url_forms(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    done = admin.seed_batch(
        name=f"projects/{PROJECT}/locations/{REGION}/batches/finished-one",
        operation={"done": True},
    )
    running = admin.seed_batch(
        name=f"projects/{PROJECT}/locations/{REGION}/batches/running-one",
        operation={"cancelSeconds": 0},
    )
    missing = f"projects/{PROJECT}/locations/{REGION}/batches/no-such-batch"
    handled = handle(
        emulator,
        {
            "batches": [
                done["name"],
                f"https://dataproc.googleapis.com/v1/{running['name']}",
                missing,
            ]
        },
    )
    by_batch = {r.to_message().get("batch"): r for r in handled.results}
    assert by_batch[done["name"]].outcome is Outcome.ALREADY_DONE
    assert "SUCCEEDED" in by_batch[done["name"]].detail
    assert by_batch[running["name"]].outcome is Outcome.CANCELLED
    assert by_batch[missing].outcome is Outcome.NOT_FOUND
    assert by_batch[missing].to_message()["project"] == PROJECT
    assert posts(admin) == [f"/v1/{running['operation']}:cancel"]


def test_batch_in_another_project_is_rejected_without_a_call(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    handled = handle(emulator, {"batch": "projects/other-project/locations/us-east1/batches/abcd"})
    [result] = handled.results
    assert result.outcome is Outcome.REJECTED
    assert "ALLOWED_PROJECTS" in result.detail
    assert admin.requests() == []


# -- sweeps ------------------------------------------------------------------------------


def seed_scope(admin: EmulatorAdmin) -> dict[str, str]:
    """250 operations over three pages: old ETL batches (running), young ETL batches,
    other teams' batches, finished ones, and running cluster creations."""
    seeds: list[dict[str, Any]] = []
    kinds: dict[str, str] = {}

    def add(op_id: str, group: str, **seed: Any) -> None:
        seeds.append({"name": f"{SCOPE}/operations/{op_id}", **seed})
        kinds[f"{SCOPE}/operations/{op_id}"] = group

    for i in range(120):
        add(
            f"old-etl-{i:03d}",
            "old-etl",
            cancelSeconds=0.2,
            metadata={"labels": {"team": "etl"}, "createTime": ago(hours=7, minutes=i)},
        )
    for i in range(30):
        add(
            f"young-etl-{i:03d}",
            "young-etl",
            metadata={"labels": {"team": "etl"}, "createTime": ago(minutes=30)},
        )
    for i in range(50):
        add(
            f"other-{i:03d}",
            "other",
            metadata={"labels": {"team": "ml"}, "createTime": ago(hours=9)},
        )
    for i in range(40):
        add(
            f"done-{i:03d}",
            "done",
            done=True,
            metadata={"labels": {"team": "etl"}, "createTime": ago(hours=8)},
        )
    for i in range(10):
        add(
            f"cluster-{i:03d}",
            "cluster",
            kind="cluster",
            metadata={
                "labels": {"team": "etl"},
                "clusterName": "etl-cluster",
                "operationType": "CREATE",
                "status": {"state": "RUNNING", "stateStartTime": ago(hours=10)},
            },
        )
    admin.seed_operations(seeds)
    return kinds


@pytest.mark.parametrize("server_filters", [True, False])
def test_sweep_selects_by_filter_age_and_type_across_pages(
    admin: EmulatorAdmin, emulator: DataprocEmulator, server_filters: bool
) -> None:
    kinds = seed_scope(admin)
    admin.settings(ignoreFilter=not server_filters)
    sweep = {
        "scopes": [SCOPE],
        "olderThan": "6h",
        "filter": "labels.team = etl",
        "operationTypes": ["BATCH"],
        "max": 200,
    }
    handled = handle(emulator, {"sweep": sweep, "reason": "nightly"}, MAX_CANCELS_PER_MESSAGE="500")
    assert handled.transient_failures == []
    summary = next(r for r in handled.results if r.outcome is Outcome.SWEEP_SUMMARY)
    acted = [r for r in handled.results if r.outcome is not Outcome.SWEEP_SUMMARY]
    assert {kinds[r.operation] for r in acted} == {"old-etl"}
    assert all(r.outcome is Outcome.CANCELLED for r in acted)
    assert len(acted) == 120
    fields = summary.to_message()["sweep"]
    assert fields["selected"] == fields["acted"] == 120
    assert fields["truncated"] is False
    assert fields["outcomes"] == {"CANCELLED": 120}
    # labels.team = etl on the server: 120 old + 30 young + 40 done + 10 cluster operations
    assert fields["found"] == (200 if server_filters else 250)
    assert summary.to_message()["reason"] == "nightly"
    assert all(r.to_message()["sweep"] == {"id": fields["id"]} for r in acted)
    pages = [
        r for r in admin.requests() if r["method"] == "GET" and r["path"].endswith("/operations")
    ]
    assert len(pages) >= 2  # every page was read
    assert len(posts(admin)) == 120


def test_sweep_max_cuts_the_list_oldest_first(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    kinds = seed_scope(admin)
    handled = handle(
        emulator,
        {
            "sweep": {
                "scopes": [SCOPE],
                "filter": "labels.team = etl",
                "operationTypes": ["BATCH"],
                "max": 5,
            }
        },
    )
    summary = next(r for r in handled.results if r.outcome is Outcome.SWEEP_SUMMARY)
    fields = summary.to_message()["sweep"]
    assert (fields["selected"], fields["acted"], fields["truncated"]) == (150, 5, True)
    acted = sorted(r.operation for r in handled.results if r.outcome is Outcome.CANCELLED)
    # the oldest old-etl operations were created 7 h + 119..115 minutes ago
    assert acted == [f"{SCOPE}/operations/old-etl-{i:03d}" for i in range(115, 120)]
    assert {kinds[a] for a in acted} == {"old-etl"}
    assert "max 5 cut the selection" in summary.detail


def test_a_dry_run_shows_every_selected_target_whatever_the_per_message_cap(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    seed_scope(admin)
    handled = handle(
        emulator,
        {"sweep": {"scopes": [SCOPE], "filter": "labels.team = etl", "max": 1000, "dryRun": True}},
        MAX_CANCELS_PER_MESSAGE="20",
        SWEEP_KINDS="operations",
    )
    summary = next(r for r in handled.results if r.outcome is Outcome.SWEEP_SUMMARY)
    fields = summary.to_message()["sweep"]
    # A dry run reads each target from the listing alone, so nothing is left to hand on.
    assert (fields["selected"], fields["acted"], fields["remaining"]) == (160, 160, 0)
    assert fields["outcomes"] == {"DRY_RUN": 160}
    assert handled.continuation is None
    assert posts(admin) == []


def test_what_one_message_cannot_stop_is_handed_on_or_said_to_be_left(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    seed_scope(admin)
    sweep = {"sweep": {"scopes": [SCOPE], "filter": "labels.team = etl", "max": 150}}
    without = handle(emulator, sweep, MAX_CANCELS_PER_MESSAGE="20", SWEEP_KINDS="operations")
    fields = next(r for r in without.results if r.outcome is Outcome.SWEEP_SUMMARY)
    summary = fields.to_message()["sweep"]
    assert (summary["acted"], summary["remaining"], summary["handedOn"]) == (20, 130, False)
    assert "130 more NOT stopped: TRIGGER_TOPIC is not set" in fields.detail
    assert without.continuation is None

    handed = handle(
        emulator,
        sweep,
        MAX_CANCELS_PER_MESSAGE="20",
        SWEEP_KINDS="operations",
        TRIGGER_TOPIC=f"projects/{PROJECT}/topics/requests",
    )
    summary = next(r for r in handed.results if r.outcome is Outcome.SWEEP_SUMMARY)
    fields = summary.to_message()["sweep"]
    assert (fields["acted"], fields["remaining"], fields["handedOn"]) == (20, 120, True)
    assert handed.continuation is not None
    request = handed.continuation.message["sweep"]
    carried = request.pop("continuation")
    assert len(request.pop("skip")) == 20  # the 20 answered, as digests
    assert request == {
        "scopes": [SCOPE],
        "filter": "labels.team = etl",
        "kinds": ["operations"],
        "max": 130,  # of the 150 asked for, 20 were answered
    }
    assert carried == {"sweepId": "sweep-m-9", "generation": 1}
    assert len(posts(admin)) == 40  # 20 per message, none twice


def test_sweep_dry_run_and_settings_scopes(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    seed_scope(admin)
    handled = handle(
        emulator,
        {"sweep": {"operationTypes": ["CREATE"]}, "dryRun": True},
        SWEEP_SCOPES=SCOPE,
        SWEEP_FILTER="clusterName = etl-cluster",
    )
    dry = [r for r in handled.results if r.outcome is Outcome.DRY_RUN]
    assert len(dry) == 10
    assert all(r.to_message()["dryRun"] for r in handled.results)
    assert all(r.state and r.state["clusterName"] == "etl-cluster" for r in dry)
    assert posts(admin) == []


def test_sweep_refusals(admin: EmulatorAdmin, emulator: DataprocEmulator) -> None:
    handled = handle(
        emulator, {"sweep": {"scopes": ["projects/other-project/regions/us-east1", "not a scope"]}}
    )
    rejected = [r for r in handled.results if r.outcome is Outcome.REJECTED]
    assert len(rejected) == 2
    assert "ALLOWED_PROJECTS" in rejected[0].detail
    nothing = handle(emulator, {"sweep": {}})
    assert nothing.results[0].outcome is Outcome.REJECTED
    assert "SWEEP_SCOPES" in nothing.results[0].detail
    unsafe = handle(emulator, {"sweep": {"scopes": [SCOPE], "filter": "labels.team != etl"}})
    assert unsafe.results[0].outcome is Outcome.REJECTED
    assert "not supported" in unsafe.results[0].detail
    assert admin.requests() == []


# -- budgets ------------------------------------------------------------------------------

BUDGET_ATTRS = {
    "billingAccountId": "01D4EE-079462-DFD6EC",
    "budgetId": "b-123",
    "schemaVersion": "1.0",
}


def budget(cost: float, amount: float = 100.0, **extra: Any) -> dict[str, Any]:
    return {
        "budgetDisplayName": "dataproc-monthly",
        "costAmount": cost,
        "costIntervalStart": "2026-11-01T07:00:00Z",
        "budgetAmount": amount,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "USD",
        **extra,
    }


def test_budget_below_threshold_calls_and_publishes_nothing(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    seed_scope(admin)
    handled = handle(emulator, budget(99.5), BUDGET_ATTRS, SWEEP_SCOPES=SCOPE)
    assert handled.results == []
    assert "below the lowest rung of BUDGET_LADDER (1)" in handled.notes[0]
    assert admin.requests() == []


def test_budget_over_threshold_sweeps_and_repeats_harmlessly(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    seed_scope(admin)
    env = {"SWEEP_SCOPES": SCOPE, "SWEEP_FILTER": "labels.team = ml", "BUDGET_THRESHOLD": "0.9"}
    first = handle(emulator, budget(91.0), BUDGET_ATTRS, **env)
    assert outcomes(first).get("") == "SWEEP_SUMMARY"
    cancelled = [r for r in first.results if r.outcome is Outcome.CANCELLED]
    assert len(cancelled) == 50
    assert cancelled[0].to_message()["budget"]["budgetId"] == "b-123"
    assert cancelled[0].to_message()["budget"]["costAmount"] == 91.0

    again = handle(emulator, budget(95.0), BUDGET_ATTRS, **env)
    assert [r.outcome for r in again.results] == [Outcome.SWEEP_SUMMARY]
    assert again.results[0].to_message()["sweep"]["selected"] == 0
    assert len(posts(admin)) == 50

    crossed = handle(emulator, budget(10.0, alertThresholdExceeded=1.0), BUDGET_ATTRS, **env)
    assert [r.outcome for r in crossed.results] == [Outcome.SWEEP_SUMMARY]


# -- incidents ------------------------------------------------------------------------------


def test_incident_on_a_batch_cancels_it(admin: EmulatorAdmin, emulator: DataprocEmulator) -> None:
    batch = admin.seed_batch(
        name=f"projects/{PROJECT}/locations/{REGION}/batches/runaway",
        operation={"cancelSeconds": 0.1},
    )
    labels = {"project_id": PROJECT, "location": REGION, "batch_id": "runaway"}
    handled = handle(emulator, incident("open", "cloud_dataproc_batch", labels))
    [result] = handled.results
    assert result.outcome is Outcome.CANCELLED
    message = result.to_message()
    assert message["batch"] == batch["name"]
    assert message["incident"]["incidentId"] == "0.abc123"
    assert message["incident"]["policyName"] == "dataproc-batch-timeout"
    assert message["trigger"]["kind"] == "incident"


def test_incident_on_a_cluster_cancels_its_running_operations(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    seed_scope(admin)
    labels = {"project_id": PROJECT, "region": REGION, "cluster_name": "etl-cluster"}
    handled = handle(emulator, incident("open", "cloud_dataproc_cluster", labels))
    cancelled = [r for r in handled.results if r.outcome is Outcome.CANCELLED]
    assert len(cancelled) == 10
    assert all(r.state and r.state["clusterName"] == "etl-cluster" for r in cancelled)


def test_closed_and_unsupported_incidents_call_nothing(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    labels = {"project_id": PROJECT, "location": REGION, "batch_id": "runaway"}
    closed = handle(emulator, incident("closed", "cloud_dataproc_batch", labels))
    assert closed.results == []
    assert "closed" in closed.notes[0]
    vm = handle(emulator, incident("open", "gce_instance", {"project_id": PROJECT}))
    [result] = vm.results
    assert result.outcome is Outcome.REJECTED
    assert "gce_instance" in result.detail and "cloud_dataproc_job" in result.detail
    assert result.to_message()["incident"]["resourceType"] == "gce_instance"
    job = handle(emulator, incident("open", "cloud_dataproc_job", {"project_id": PROJECT}))
    [result] = job.results
    assert result.outcome is Outcome.REJECTED
    assert "the incident's job labels do not name a job" in result.detail
    assert admin.requests() == []
