"""End to end, as deployed, for jobs and sessions, alerts on them, sweeps over every kind,
and a sweep too big for one message handed on through the trigger topic.

Pub/Sub emulator -> push subscription -> functions-framework running main.stop_dataproc_work
-> Dataproc emulator -> results topic (and, for a continuation, the trigger topic again).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.e2e import ResultInbox

pytestmark = pytest.mark.e2e

PROJECT, REGION = "demo-project", "us-central1"
SCOPE = f"projects/{PROJECT}/regions/{REGION}"
JOBS = f"{SCOPE}/jobs"
SESSIONS = f"projects/{PROJECT}/locations/{REGION}/sessions"
# The stack is the session's shared one (tests/e2e/conftest.py, SHARED_SETTINGS): at most
# 5 stops a message (MAX_CANCELS_PER_MESSAGE).


def incident(resource_type: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "version": "1.2",
        "incident": {
            "incident_id": "0.e2e",
            "scoping_project_id": PROJECT,
            "state": "open",
            "policy_name": "dataproc-runaway",
            "resource": {"type": resource_type, "labels": labels},
            "started_at": 1764580000,
            "ended_at": None,
        },
    }


@pytest.mark.parametrize(
    "body",
    [
        {"job": f"{JOBS}/form-job"},
        {"jobs": [f"{JOBS}/form-job"]},
        f"{JOBS}/form-job",
        f"https://{REGION}-dataproc.googleapis.com/v1/{JOBS}/form-job:cancel",
    ],
)
def test_every_job_form_is_cancelled_and_verified(inbox: ResultInbox, body: Any) -> None:
    inbox.admin.seed_job(name=f"{JOBS}/form-job", cancelSeconds=0.4)
    result = inbox.result(inbox.publish(body))
    assert (result["outcome"], result["kind"], result["target"]) == (
        "CANCELLED",
        "job",
        f"{JOBS}/form-job",
    )
    assert result["state"]["jobState"] == "CANCELLED"
    assert result["_attributes"]["kind"] == "job"
    assert result["trigger"]["kind"] == "job"


@pytest.mark.parametrize(
    "body",
    [
        {"session": f"{SESSIONS}/form-notebook"},
        {"sessions": [f"{SESSIONS}/form-notebook"]},
        f"https://dataproc.googleapis.com/v1/{SESSIONS}/form-notebook:terminate",
    ],
)
def test_every_session_form_is_terminated_and_verified(inbox: ResultInbox, body: Any) -> None:
    inbox.admin.seed_session(name=f"{SESSIONS}/form-notebook", terminateSeconds=0.3)
    result = inbox.result(inbox.publish(body))
    assert (result["outcome"], result["kind"]) == ("CANCELLED", "session")
    assert result["state"]["sessionState"] == "TERMINATED"


def test_job_and_session_outcomes_and_rejections(inbox: ResultInbox) -> None:
    inbox.admin.seed_job(name=f"{JOBS}/finishes", onCancel="finish", cancelSeconds=0.2)
    inbox.admin.seed_job(name=f"{JOBS}/warming", state="SETUP_DONE", setupSeconds=0.8)
    inbox.admin.seed_job(name=f"{JOBS}/done", state="DONE")
    inbox.admin.seed_job(name=f"{JOBS}/stuck", onCancel="stuck")
    jobs = inbox.publish(
        {
            "jobs": [
                f"{JOBS}/finishes",
                f"{JOBS}/warming",
                f"{JOBS}/done",
                f"{JOBS}/stuck",
                f"{JOBS}/missing",
                f"{JOBS}/bad.name",
                f"projects/other-project/regions/{REGION}/jobs/j",
            ]
        }
    )
    by_target = {r["target"]: r for r in inbox.results(jobs, 7)}
    assert {t.rsplit("/", 1)[1]: r["outcome"] for t, r in by_target.items()} == {
        "finishes": "COMPLETED_DESPITE_CANCEL",
        "warming": "CANCELLED",
        "done": "ALREADY_DONE",
        "stuck": "STILL_RUNNING",
        "missing": "NOT_FOUND",
        "bad.name": "REJECTED",
        "j": "REJECTED",
    }
    assert by_target[f"{JOBS}/bad.name"]["kind"] == "job"
    inbox.admin.seed_session(name=f"{SESSIONS}/gone", state="TERMINATED")
    inbox.admin.seed_session(name=f"{SESSIONS}/crash", onTerminate="fail", terminateSeconds=0.2)
    sessions = inbox.publish({"sessions": [f"{SESSIONS}/gone", f"{SESSIONS}/crash"]})
    got = {r["target"].rsplit("/", 1)[1]: r["outcome"] for r in inbox.results(sessions, 2)}
    assert got == {"gone": "ALREADY_DONE", "crash": "COMPLETED_DESPITE_CANCEL"}


def test_incidents_on_a_job_and_a_session(inbox: ResultInbox) -> None:
    job = inbox.admin.seed_job(name=f"{JOBS}/alerted", cancelSeconds=0.2)
    labels = {"project_id": PROJECT, "region": REGION, "job_id": "alerted"}
    wrong = inbox.publish(incident("cloud_dataproc_job", {**labels, "job_uuid": "0000-bad"}))
    assert inbox.result(wrong)["outcome"] == "REJECTED"
    right = inbox.publish(incident("cloud_dataproc_job", {**labels, "job_uuid": job["jobUuid"]}))
    assert inbox.result(right)["outcome"] == "CANCELLED"
    inbox.admin.seed_session(name=f"{SESSIONS}/alerted-notebook")
    session = inbox.publish(
        incident(
            "cloud_dataproc_session",
            {"project_id": PROJECT, "location": REGION, "session_id": "alerted-notebook"},
        )
    )
    result = inbox.result(session)
    assert (result["outcome"], result["kind"]) == ("CANCELLED", "session")
    assert result["incident"]["resourceType"] == "cloud_dataproc_session"


def test_a_cluster_incident_leaves_other_clusters_recreations_and_exempt_jobs(
    inbox: ResultInbox,
) -> None:
    uuid = "c0ffee00-0000-4000-8000-0000000000e2"
    admin = inbox.admin
    admin.seed_job(name=f"{JOBS}/on-etl", clusterName="etl", clusterUuid=uuid)
    admin.seed_job(name=f"{JOBS}/on-web", clusterName="web", clusterUuid=uuid)
    admin.seed_job(name=f"{JOBS}/on-old-etl", clusterName="etl", clusterUuid="older-uuid")
    admin.seed_job(
        name=f"{JOBS}/on-etl-exempt",
        clusterName="etl",
        clusterUuid=uuid,
        labels={"dataproc-canceller": "exempt"},
    )
    labels = {"project_id": PROJECT, "region": REGION, "cluster_name": "etl", "cluster_uuid": uuid}
    message_id = inbox.publish(incident("cloud_dataproc_cluster", labels))
    results = inbox.results(message_id, 2)
    by_outcome = {r["outcome"]: r for r in results}
    assert by_outcome["CANCELLED"]["target"] == f"{JOBS}/on-etl"
    summary = by_outcome["SWEEP_SUMMARY"]["sweep"]
    assert (summary["exempt"], summary["kinds"]) == (1, ["operations", "jobs"])
    for untouched in ("on-web", "on-old-etl", "on-etl-exempt"):
        assert admin.job_internals(f"{JOBS}/{untouched}")["cancelRequestTime"] is None


def test_a_budget_alert_stops_more_than_one_message_can_through_continuations(
    inbox: ResultInbox,
) -> None:
    """12 running targets of three kinds, 5 per message: the first message stops 5 and
    hands on the rest, the continuation 5 more, the next the last 2 (oldest first)."""
    admin = inbox.admin
    for i in range(6):
        admin.seed_operation(name=f"{SCOPE}/operations/spend-{i}", cancelSeconds=0.2)
    for i in range(4):
        admin.seed_job(name=f"{JOBS}/spend-{i}", cancelSeconds=0.2)
    for i in range(2):
        admin.seed_session(name=f"{SESSIONS}/spend-{i}", terminateSeconds=0.2)
    admin.seed_job(name=f"{JOBS}/kept", labels={"dataproc-canceller": "exempt"})
    budget = {
        "budgetDisplayName": "dataproc-monthly",
        "costAmount": 120.0,
        "costIntervalStart": "2026-12-01T00:00:00Z",
        "budgetAmount": 100.0,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "USD",
    }
    first = inbox.publish(
        budget, {"billingAccountId": "01-02-03", "budgetId": "b-e2e", "schemaVersion": "1.0"}
    )
    sweep_id = f"sweep-{first}"
    results = inbox.results_where(lambda r: r.get("sweep", {}).get("id") == sweep_id, 15)
    stopped = [r for r in results if r["outcome"] == "CANCELLED"]
    assert len({r["target"] for r in stopped}) == 12
    assert {r["kind"] for r in stopped} == {"operation", "job", "session"}
    summaries = sorted(
        (r["sweep"] for r in results if r["outcome"] == "SWEEP_SUMMARY"),
        key=lambda s: s["generation"],
    )
    assert [(s["generation"], s["acted"], s["remaining"], s["handedOn"]) for s in summaries] == [
        (0, 5, 7, True),
        (1, 5, 2, True),
        (2, 2, 0, False),
    ]
    assert all(s["exempt"] == 1 for s in summaries)
    assert admin.job_internals(f"{JOBS}/kept")["cancelRequestTime"] is None
    assert admin.request_counts()["byMethod"]["jobs.cancel"] == 4  # none stopped twice
