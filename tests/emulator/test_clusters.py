"""Clusters against the Dataproc emulator, message by message: the order (its work, then
the cluster), every outcome, delete where allowed, incidents, sweeps and the budget
ladder, and what one cluster costs in requests."""

from __future__ import annotations

import json
from typing import Any

from canceller.kinds.clusters import request_id
from canceller.results import Outcome, Result
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.dispatching import PROJECT, REGION, SCOPE, handle

CLUSTERS = f"{SCOPE}/clusters"
JOBS = f"{SCOPE}/jobs"
OPS = f"{SCOPE}/operations"
FAST = {"VERIFY_TIMEOUT_SECONDS": "3", "RETRY_DEADLINE_SECONDS": "3"}


def _by_target(results: list[Result]) -> dict[str, Result]:
    return {result.target: result for result in results if result.target}


def _stops(admin: EmulatorAdmin) -> list[dict[str, Any]]:
    return [r for r in admin.requests() if r["apiMethod"] in ("clusters.stop", "clusters.delete")]


def test_a_clusters_jobs_and_operations_are_stopped_and_verified_before_the_cluster(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    cluster = admin.seed_cluster(
        name=f"{CLUSTERS}/etl", stopSeconds=0.3, blockingOperation="UPDATE"
    )
    uuid = cluster["clusterUuid"]
    for job_id in ("etl-a", "etl-b"):
        admin.seed_job(name=f"{JOBS}/{job_id}", clusterName="etl", clusterUuid=uuid)
    admin.seed_job(name=f"{JOBS}/other-cluster", clusterName="web")
    admin.seed_job(name=f"{JOBS}/older-etl", clusterName="etl", clusterUuid="older-uuid")
    handled = handle(emulator, {"cluster": f"{CLUSTERS}/etl"}, **FAST)
    assert handled.transient_failures == []
    got = _by_target(handled.results)
    stopped = got.pop(f"{CLUSTERS}/etl")
    assert stopped.outcome is Outcome.CANCELLED, stopped.detail
    message = stopped.to_message()
    assert message["kind"] == "cluster" and message["operation"] == ""
    assert message["state"]["clusterState"] == "STOPPED"
    assert message["state"]["action"] == "stop"
    assert message["state"]["clusterUuid"] == uuid
    assert message["state"]["instanceGroups"][0]["role"] == "master"
    assert {t.rsplit("/", 1)[1] for t in got} == {"etl-a", "etl-b"} | {
        t.rsplit("/", 1)[1] for t in got if t.startswith(OPS)
    }
    blocking = [t for t in got if t.startswith(OPS)]
    assert len(blocking) == 1
    for result in got.values():
        assert result.outcome is Outcome.CANCELLED, result.detail
        assert result.to_message()["clearedFor"] == f"{CLUSTERS}/etl"
    for untouched in ("other-cluster", "older-etl"):
        assert admin.job_internals(f"{JOBS}/{untouched}")["cancelRequestTime"] is None
    # The stop went out after every job and the operation were seen stopped.
    log = admin.requests()
    stop_at = next(i for i, r in enumerate(log) if r["apiMethod"] == "clusters.stop")
    assert all(i < stop_at for i, r in enumerate(log) if r["apiMethod"] == "jobs.cancel")
    assert all(i < stop_at for i, r in enumerate(log) if r["apiMethod"] == "operations.cancel")
    body = log[stop_at]["body"]
    assert f'"clusterUuid": "{uuid}"' in body and '"requestId": "dpc-' in body


def test_the_request_id_is_the_requests_so_a_redelivery_never_acts_twice(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """The stop's requestId is derived from the request's chain (a first message's id)
    and the cluster's incarnation: a redelivery sends the same one, which Dataproc
    answers with its first operation (the emulator's tests prove that side)."""
    cluster = admin.seed_cluster(name=f"{CLUSTERS}/twice", stopSeconds=5)
    body = {"cluster": f"{CLUSTERS}/twice"}
    quick = {"VERIFY_TIMEOUT_SECONDS": "0.5", "RETRY_DEADLINE_SECONDS": "1"}
    first = handle(emulator, body, message_id="m-7", **quick)
    assert first.results[0].outcome is Outcome.STILL_RUNNING
    expected = request_id("names-m-7", f"{CLUSTERS}/twice", cluster["clusterUuid"], "stop")
    (sent,) = _stops(admin)
    assert json.loads(sent["body"]) == {
        "clusterUuid": cluster["clusterUuid"],
        "requestId": expected,
    }
    again = handle(emulator, body, message_id="m-7", **quick)
    # The redelivery reads it STOPPING: a stop in progress, which it watches.
    assert again.results[0].outcome is Outcome.STILL_RUNNING
    assert len(_stops(admin)) == 1


def test_outcomes_of_clusters_that_are_done_refused_or_not_ours(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_cluster(name=f"{CLUSTERS}/stopped", state="STOPPED")
    admin.seed_cluster(name=f"{CLUSTERS}/deleting", state="DELETING", deleteSeconds=60)
    admin.seed_cluster(name=f"{CLUSTERS}/spot", secondaryWorkerInstances=2)
    admin.seed_cluster(name=f"{CLUSTERS}/ssd", localSsds=1)
    admin.seed_cluster(name=f"{CLUSTERS}/gke", gke=True)
    admin.seed_cluster(name=f"{CLUSTERS}/slow", stopSeconds=30)
    admin.seed_cluster(name=f"{CLUSTERS}/booting", state="CREATING", runningAfterSeconds=0.5)
    names = ["stopped", "deleting", "spot", "ssd", "gke", "slow", "booting", "missing"]
    handled = handle(emulator, {"clusters": [f"{CLUSTERS}/{n}" for n in names]}, **FAST)
    got = {t.rsplit("/", 1)[1]: r for t, r in _by_target(handled.results).items()}
    outcomes = {name: result.outcome.value for name, result in got.items()}
    assert outcomes == {
        "stopped": "ALREADY_DONE",
        "deleting": "ALREADY_DONE",
        "spot": "ERROR",
        "ssd": "ERROR",
        "gke": "REJECTED",
        "slow": "STILL_RUNNING",
        "booting": "CANCELLED",
        "missing": "NOT_FOUND",
    }
    assert "2 secondary worker(s)" in got["spot"].detail
    assert '"action": "delete"' in got["spot"].detail
    assert "local SSD" in got["ssd"].detail
    assert "Dataproc on GKE" in got["gke"].detail
    assert got["slow"].to_message()["state"]["clusterState"] == "STOPPING"
    stopped_ones = {r["path"].rsplit("/", 1)[1] for r in _stops(admin)}
    assert "gke:stop" not in stopped_ones and "stopped:stop" not in stopped_ones


def test_delete_only_where_allowed(admin: EmulatorAdmin, emulator: DataprocEmulator) -> None:
    cluster = admin.seed_cluster(name=f"{CLUSTERS}/old", state="STOPPED", deleteSeconds=0.3)
    body = {"cluster": f"{CLUSTERS}/old", "action": "delete"}
    refused = handle(emulator, body, **FAST)
    assert refused.results[0].outcome is Outcome.REJECTED
    assert "CLUSTER_DELETE_ALLOWED=true" in refused.results[0].detail
    assert admin.requests() == []
    deleted = handle(emulator, body, CLUSTER_DELETE_ALLOWED="true", **FAST)
    result = deleted.results[0]
    assert result.outcome is Outcome.CANCELLED, result.detail
    assert result.detail.startswith("deleted:")
    state = result.to_message()["state"]
    assert (state["clusterState"], state["action"]) == ("DELETED", "delete")
    (delete,) = _stops(admin)
    assert delete["method"] == "DELETE"
    assert delete["query"]["clusterUuid"] == cluster["clusterUuid"]
    assert delete["query"]["requestId"].startswith("dpc-")


def test_a_cluster_incident_stops_only_the_cluster_it_names(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    cluster = admin.seed_cluster(name=f"{CLUSTERS}/alerted", stopSeconds=0.2)

    def incident(uuid: str) -> dict[str, Any]:
        labels = {
            "project_id": PROJECT,
            "region": REGION,
            "cluster_name": "alerted",
            "cluster_uuid": uuid,
        }
        return {
            "version": "1.2",
            "incident": {
                "incident_id": "0.c",
                "state": "open",
                "policy_name": "dataproc-cluster-idle",
                "resource": {"type": "cloud_dataproc_cluster", "labels": labels},
            },
        }

    stop = {"CLUSTER_INCIDENT_ACTION": "stop", **FAST}
    other = handle(emulator, incident("00000000-0000-4000-8000-00000000beef"), **stop)
    assert other.results[0].outcome is Outcome.REJECTED
    assert "different cluster" in other.results[0].detail
    assert _stops(admin) == []
    jobs_only = handle(emulator, incident(cluster["clusterUuid"]), **FAST)
    assert [r.outcome for r in jobs_only.results] == [Outcome.SWEEP_SUMMARY]
    assert _stops(admin) == []
    right = handle(emulator, incident(cluster["clusterUuid"]), **stop)
    assert right.results[0].outcome is Outcome.CANCELLED, right.results[0].detail
    assert right.results[0].to_message()["incident"]["resourceType"] == "cloud_dataproc_cluster"


def test_a_sweep_of_clusters_spares_exempt_clusters_and_clusters_running_exempt_work(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_cluster(name=f"{CLUSTERS}/idle", runningSecondsAgo=7200, stopSeconds=0.2)
    admin.seed_cluster(name=f"{CLUSTERS}/young", runningSecondsAgo=60)
    admin.seed_cluster(
        name=f"{CLUSTERS}/kept", runningSecondsAgo=7200, labels={"dataproc-canceller": "exempt"}
    )
    guarded = admin.seed_cluster(name=f"{CLUSTERS}/guarded", runningSecondsAgo=7200)
    admin.seed_job(
        name=f"{JOBS}/precious",
        clusterName="guarded",
        clusterUuid=guarded["clusterUuid"],
        labels={"dataproc-canceller": "exempt"},
    )
    sweep = {"sweep": {"scopes": [SCOPE], "kinds": ["clusters"], "olderThan": "1h"}}
    handled = handle(emulator, sweep, **FAST)
    got = _by_target(handled.results)
    assert got[f"{CLUSTERS}/idle"].outcome is Outcome.CANCELLED
    assert got[f"{CLUSTERS}/guarded"].outcome is Outcome.REJECTED
    assert f"{JOBS}/precious" in got[f"{CLUSTERS}/guarded"].detail
    assert f"{CLUSTERS}/young" not in got and f"{CLUSTERS}/kept" not in got
    assert admin.job_internals(f"{JOBS}/precious")["cancelRequestTime"] is None
    summary = handled.results[-1].to_message()["sweep"]
    assert summary["kinds"] == ["clusters"] and summary["exempt"] == 1


def _budget(cost: float) -> tuple[dict[str, Any], dict[str, str]]:
    body = {
        "budgetDisplayName": "dataproc-monthly",
        "costAmount": cost,
        "costIntervalStart": "2026-12-01T00:00:00Z",
        "budgetAmount": 100.0,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "USD",
    }
    return body, {"billingAccountId": "01-02-03", "budgetId": "b-1", "schemaVersion": "1.0"}


def test_the_budget_ladder_acts_by_its_highest_rung(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    env = {"SWEEP_SCOPES": SCOPE, "BUDGET_LADDER": "0.5:report,0.9:work,1.2:clusters", **FAST}
    cluster = admin.seed_cluster(name=f"{CLUSTERS}/spend", stopSeconds=0.2)
    admin.seed_job(name=f"{JOBS}/spend", clusterName="spend", clusterUuid=cluster["clusterUuid"])

    below = handle(emulator, *_budget(40.0), **env)
    assert below.results == [] and "below the lowest rung" in below.notes[0]

    report = handle(emulator, *_budget(60.0), **env)
    assert {r.outcome for r in report.results} == {Outcome.DRY_RUN, Outcome.SWEEP_SUMMARY}
    assert {r.target for r in report.results if r.target} == {
        f"{JOBS}/spend",
        f"{CLUSTERS}/spend",
    }
    for result in report.results:
        assert result.to_message()["rung"] == {"threshold": 0.5, "action": "report", "ratio": 0.6}
    assert admin.job_internals(f"{JOBS}/spend")["cancelRequestTime"] is None

    work = handle(emulator, *_budget(100.0), **env)
    assert {(r.target, r.outcome) for r in work.results if r.target} == {
        (f"{JOBS}/spend", Outcome.CANCELLED)
    }
    assert work.results[-1].to_message()["rung"]["action"] == "work"
    assert _stops(admin) == []

    admin.seed_job(name=f"{JOBS}/spend-2", clusterName="spend", clusterUuid=cluster["clusterUuid"])
    clusters = handle(emulator, *_budget(130.0), **env)
    got = _by_target(clusters.results)
    assert got[f"{JOBS}/spend-2"].outcome is Outcome.CANCELLED
    assert got[f"{CLUSTERS}/spend"].outcome is Outcome.CANCELLED
    assert got[f"{CLUSTERS}/spend"].to_message()["rung"]["action"] == "clusters"


def test_requests_for_one_cluster_stop(admin: EmulatorAdmin, emulator: DataprocEmulator) -> None:
    """A named cluster with one job: read it, list its jobs and its operations, cancel
    and verify the job, stop the cluster (read again only if the first reading is
    stale), and verify it; a bounded count, not a loop."""
    cluster = admin.seed_cluster(name=f"{CLUSTERS}/counted", stopSeconds=0.2)
    admin.seed_job(
        name=f"{JOBS}/counted",
        clusterName="counted",
        clusterUuid=cluster["clusterUuid"],
        cancelSeconds=0.2,
    )
    handled = handle(emulator, {"cluster": f"{CLUSTERS}/counted"}, **FAST)
    assert [r.outcome for r in handled.results] == [Outcome.CANCELLED, Outcome.CANCELLED]
    methods = [r["apiMethod"] for r in admin.requests()]
    assert methods.count("clusters.stop") == 1 and methods.count("jobs.cancel") == 1
    assert methods.count("jobs.list") == 1 and methods.count("operations.list") == 1
    assert len(methods) <= 12, methods


def test_a_sweeps_own_job_on_a_cluster_it_also_stops_names_that_cluster(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """A job the sweep selects itself, running on a cluster the same sweep stops, is
    stopped first and says so (clearedFor), as the work found on a cluster does."""
    cluster = admin.seed_cluster(name=f"{CLUSTERS}/etl", stopSeconds=0.2)
    admin.seed_job(name=f"{JOBS}/etl-a", clusterName="etl", clusterUuid=cluster["clusterUuid"])
    admin.seed_job(name=f"{JOBS}/elsewhere", clusterName="web")
    sweep = {"sweep": {"scopes": [SCOPE], "kinds": ["jobs", "clusters"]}}
    handled = handle(emulator, sweep, **FAST)
    got = _by_target(handled.results)
    assert got[f"{CLUSTERS}/etl"].outcome is Outcome.CANCELLED
    assert got[f"{JOBS}/etl-a"].outcome is Outcome.CANCELLED
    assert got[f"{JOBS}/etl-a"].to_message()["clearedFor"] == f"{CLUSTERS}/etl"
    assert "clearedFor" not in got[f"{JOBS}/elsewhere"].to_message()


def test_work_found_on_a_cluster_whose_stop_never_lands_is_answered_here(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """Its every cancel answered 503: the job is answered ERROR in this message, naming
    the cluster, and neither redelivers the message nor is handed on as if asked for."""
    cluster = admin.seed_cluster(name=f"{CLUSTERS}/etl", stopSeconds=0.2)
    admin.seed_job(name=f"{JOBS}/etl-a", clusterName="etl", clusterUuid=cluster["clusterUuid"])
    admin.add_fault(method="POST", pathRegex="etl-a:cancel$", times=-1, status=503)
    handled = handle(
        emulator,
        {"cluster": f"{CLUSTERS}/etl"},
        TRIGGER_TOPIC=f"projects/{PROJECT}/topics/triggers",
        VERIFY_TIMEOUT_SECONDS="2",
        RETRY_DEADLINE_SECONDS="1",
    )
    assert handled.transient_failures == [] and handled.continuation is None
    job = _by_target(handled.results)[f"{JOBS}/etl-a"]
    assert job.outcome is Outcome.ERROR and "no stop of ours was confirmed" in job.detail
    assert job.to_message()["clearedFor"] == f"{CLUSTERS}/etl"
