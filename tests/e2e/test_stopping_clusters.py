"""End to end, as deployed, for clusters: every message form, its work cancelled before
its stop, delete where allowed, a cluster incident, and the budget ladder's rungs.

Pub/Sub emulator -> push subscription -> functions-framework running main.stop_dataproc_work
-> Dataproc emulator -> results topic.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from local_stack import LocalStack, PubSubEmulator
from local_stack.stack import TRIGGER_TOPIC
from tests.support.e2e import ResultInbox

pytestmark = pytest.mark.e2e

PROJECT, REGION = "demo-project", "us-central1"
SCOPE = f"projects/{PROJECT}/regions/{REGION}"
CLUSTERS = f"{SCOPE}/clusters"
JOBS = f"{SCOPE}/jobs"
BILLING = {"billingAccountId": "01-02-03", "budgetId": "b-clusters", "schemaVersion": "1.0"}


@pytest.fixture(scope="module")
def stack(pubsub_emulator: PubSubEmulator) -> Iterator[LocalStack]:
    env = {
        "VERIFY_TIMEOUT_SECONDS": "3",
        "RETRY_DEADLINE_SECONDS": "3",
        "ALLOWED_PROJECTS": PROJECT,
        "SWEEP_SCOPES": SCOPE,
        "TRIGGER_TOPIC": f"projects/{PROJECT}/topics/{TRIGGER_TOPIC}",
        "BUDGET_LADDER": "0.5:report,0.9:work,1.2:clusters",
        "CLUSTER_DELETE_ALLOWED": "true",
        "CLUSTER_INCIDENT_ACTION": "stop",
    }
    with LocalStack(PROJECT, function_env=env, pubsub=pubsub_emulator) as running:
        yield running


@pytest.mark.parametrize(
    "body",
    [
        {"cluster": f"{CLUSTERS}/form"},
        {"clusters": [f"{CLUSTERS}/form"]},
        f"{CLUSTERS}/form",
        f"https://{REGION}-dataproc.googleapis.com/v1/{CLUSTERS}/form:stop",
    ],
)
def test_every_cluster_form_is_stopped_and_verified(inbox: ResultInbox, body: Any) -> None:
    inbox.admin.seed_cluster(name=f"{CLUSTERS}/form", stopSeconds=0.3)
    result = inbox.result(inbox.publish(body))
    assert (result["outcome"], result["kind"], result["target"]) == (
        "CANCELLED",
        "cluster",
        f"{CLUSTERS}/form",
    )
    assert result["state"]["clusterState"] == "STOPPED"
    assert result["_attributes"]["kind"] == "cluster"


def test_a_job_is_cancelled_before_its_clusters_stop(inbox: ResultInbox) -> None:
    cluster = inbox.admin.seed_cluster(name=f"{CLUSTERS}/busy", stopSeconds=0.3)
    inbox.admin.seed_job(
        name=f"{JOBS}/on-busy",
        clusterName="busy",
        clusterUuid=cluster["clusterUuid"],
        cancelSeconds=0.3,
    )
    results = {
        r["target"]: r for r in inbox.results(inbox.publish({"cluster": f"{CLUSTERS}/busy"}), 2)
    }
    job, stopped = results[f"{JOBS}/on-busy"], results[f"{CLUSTERS}/busy"]
    assert (job["outcome"], job["clearedFor"]) == ("CANCELLED", f"{CLUSTERS}/busy")
    assert stopped["outcome"] == "CANCELLED"
    # The job was known CANCELLED (its result's finishedAt) before the stop was sent.
    stop = next(r for r in inbox.admin.requests() if r["apiMethod"] == "clusters.stop")
    known = datetime.fromisoformat(job["finishedAt"].replace("Z", "+00:00")).timestamp()
    assert known <= stop["time"]


def test_every_cluster_outcome(inbox: ResultInbox) -> None:
    admin = inbox.admin
    admin.seed_cluster(name=f"{CLUSTERS}/was-stopped", state="STOPPED")
    admin.seed_cluster(name=f"{CLUSTERS}/slow", stopSeconds=600)
    admin.seed_cluster(name=f"{CLUSTERS}/spot", secondaryWorkerInstances=2)
    admin.seed_cluster(name=f"{CLUSTERS}/on-gke", gke=True)
    admin.seed_cluster(name=f"{CLUSTERS}/booting", state="CREATING", runningAfterSeconds=0.5)
    names = ["was-stopped", "slow", "spot", "on-gke", "booting", "missing", "Bad_Name"]
    message_id = inbox.publish({"clusters": [f"{CLUSTERS}/{name}" for name in names]})
    got = {r["target"].rsplit("/", 1)[1]: r for r in inbox.results(message_id, len(names))}
    assert {name: r["outcome"] for name, r in got.items()} == {
        "was-stopped": "ALREADY_DONE",
        "slow": "STILL_RUNNING",
        "spot": "ERROR",
        "on-gke": "REJECTED",
        "booting": "CANCELLED",
        "missing": "NOT_FOUND",
        "Bad_Name": "REJECTED",
    }
    assert "secondary worker" in got["spot"]["detail"]
    assert got["slow"]["state"]["clusterState"] == "STOPPING"


def test_delete_where_allowed(inbox: ResultInbox) -> None:
    inbox.admin.seed_cluster(name=f"{CLUSTERS}/scrap", state="STOPPED", deleteSeconds=0.3)
    result = inbox.result(inbox.publish({"cluster": f"{CLUSTERS}/scrap", "action": "delete"}))
    assert result["outcome"] == "CANCELLED", result["detail"]
    assert (result["state"]["clusterState"], result["state"]["action"]) == ("DELETED", "delete")


def test_a_cluster_incident_stops_its_own_cluster_only(inbox: ResultInbox) -> None:
    cluster = inbox.admin.seed_cluster(name=f"{CLUSTERS}/hot", stopSeconds=0.3)

    def incident(uuid: str) -> dict[str, Any]:
        labels = {
            "project_id": PROJECT,
            "region": REGION,
            "cluster_name": "hot",
            "cluster_uuid": uuid,
        }
        return {
            "version": "1.2",
            "incident": {
                "incident_id": "0.hot",
                "state": "open",
                "policy_name": "dataproc-cluster-hot",
                "resource": {"type": "cloud_dataproc_cluster", "labels": labels},
            },
        }

    other = inbox.result(inbox.publish(incident("00000000-0000-4000-8000-00000000beef")))
    assert other["outcome"] == "REJECTED" and "different cluster" in other["detail"]
    right = inbox.result(inbox.publish(incident(cluster["clusterUuid"])))
    assert right["outcome"] == "CANCELLED" and right["state"]["clusterState"] == "STOPPED"


def _budget(cost: float) -> dict[str, Any]:
    return {
        "budgetDisplayName": "dataproc-monthly",
        "costAmount": cost,
        "costIntervalStart": "2026-12-01T00:00:00Z",
        "budgetAmount": 100.0,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "USD",
    }


def test_the_ladder_reports_then_stops_clusters_leaving_exempt_ones(inbox: ResultInbox) -> None:
    admin = inbox.admin
    admin.reset()
    admin.seed_cluster(name=f"{CLUSTERS}/costly", stopSeconds=0.3)
    admin.seed_cluster(name=f"{CLUSTERS}/kept", labels={"dataproc-canceller": "exempt"})
    report = inbox.publish(_budget(60.0), BILLING)
    shown = inbox.results_where(
        lambda r: r["trigger"]["messageId"] == report and r["outcome"] != "SWEEP_SUMMARY", 1
    )
    assert [(r["outcome"], r["target"]) for r in shown] == [("DRY_RUN", f"{CLUSTERS}/costly")]
    assert shown[0]["rung"]["action"] == "report"
    admin.seed_job(name=f"{JOBS}/spending", cancelSeconds=0.2)
    work = inbox.publish(_budget(100.0), BILLING)
    worked = inbox.results_where(
        lambda r: r["trigger"]["messageId"] == work and r["outcome"] != "SWEEP_SUMMARY", 1
    )
    assert [(r["outcome"], r["target"]) for r in worked] == [("CANCELLED", f"{JOBS}/spending")]
    assert worked[0]["rung"]["action"] == "work"
    stop = inbox.publish(_budget(150.0), BILLING)
    stopped = inbox.results_where(
        lambda r: r["trigger"]["messageId"] == stop and r["outcome"] != "SWEEP_SUMMARY", 1
    )
    assert [(r["outcome"], r["target"]) for r in stopped] == [("CANCELLED", f"{CLUSTERS}/costly")]
    assert stopped[0]["rung"] == {"threshold": 1.2, "action": "clusters", "ratio": 1.5}
    kept = admin.cluster_internals(f"{CLUSTERS}/kept")
    assert "RUNNING" in str(kept)
