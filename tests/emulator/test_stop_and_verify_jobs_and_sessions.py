"""Jobs, sessions and the shared listing, through dispatch against the Dataproc emulator.

The real DataprocClient over HTTP; only Pub/Sub is left out (tests/e2e/test_stopping_each_kind.py
adds it). Request counts come from the emulator's own meter: they are what the function
really sent, counted per API method.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from canceller.chains import digest
from canceller.results import Outcome, Result
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support import one_project
from tests.support.emulator_time import followed_by
from tests.support.fake_clock import FakeClock
from tests.support.one_project import PROJECT, REGION, SCOPE, ago, incident

JOBS = f"projects/{PROJECT}/regions/{REGION}/jobs"
SESSIONS = f"projects/{PROJECT}/locations/{REGION}/sessions"


_clock: list[FakeClock] = []  # this test's, set by fake_time


@pytest.fixture(autouse=True)
def fake_time(admin: EmulatorAdmin) -> Iterator[None]:
    """Every test on a FakeClock the emulator's clock follows (tests/support/fake_clock.py):
    verification windows and the emulator's scripted delays pass as the canceller sleeps,
    so request counts do not depend on how fast the machine is."""
    with followed_by(admin) as clock:
        _clock[:] = [clock]
        yield
        _clock.clear()


def handle(
    emulator: DataprocEmulator, body: Any, attributes: dict[str, str] | None = None, **env: str
) -> Any:
    return one_project.handle(emulator, body, attributes, _clock[0], **env)


def only(handled: Any) -> Result:
    assert handled.transient_failures == []
    [result] = handled.results
    return result


def methods(admin: EmulatorAdmin) -> list[str]:
    return [r["apiMethod"] for r in admin.requests()]


def summary_of(handled: Any) -> dict[str, Any]:
    [summary] = [r for r in handled.results if r.outcome is Outcome.SWEEP_SUMMARY]
    return summary.to_message()["sweep"]


# ---- jobs ---------------------------------------------------------------------------------


def test_a_job_is_cancelled_through_cancel_pending_and_verified(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_job(name=f"{JOBS}/etl-1", cancelSeconds=0.6, clusterName="etl", labels={"a": "b"})
    result = only(handle(emulator, {"job": f"{JOBS}/etl-1", "reason": "runaway"}))
    message = result.to_message()
    assert result.outcome is Outcome.CANCELLED
    assert (message["kind"], message["target"], message["operation"]) == (
        "job",
        f"{JOBS}/etl-1",
        "",
    )
    assert message["state"]["jobState"] == "CANCELLED"
    assert message["state"]["clusterName"] == "etl"
    assert message["detail"] == "cancelled: the job is CANCELLED"
    assert result.attributes()["kind"] == "job"
    seen = methods(admin)
    assert seen[:2] == ["jobs.get", "jobs.cancel"]
    assert seen.count("jobs.cancel") == 1
    # One target: prompt GETs, no listing; then, after the watch, its cluster once, for
    # the job's burn (a job's is its cluster's, for reference).
    assert set(seen[2:-1]) == {"jobs.get"} and seen[-1] == "clusters.get"
    assert message["burn"]["unknown"].startswith("a job's share of its cluster is not knowable")
    # This emulator has no cluster "etl": the reason says so, and nothing is made up.
    assert message["burn"]["unknown"].endswith(
        "(the cluster's burn was not read: the read was answered NOT_FOUND)"
    )
    assert "usdPerHour" not in message["burn"] and "savedUpTo" not in message
    cancel = next(r for r in admin.requests() if r["apiMethod"] == "jobs.cancel")
    assert json.loads(cancel["body"]) == {}  # CancelJobRequest: an empty JSON object


def test_job_outcomes(admin: EmulatorAdmin, emulator: DataprocEmulator) -> None:
    admin.seed_job(name=f"{JOBS}/finishes", onCancel="finish", cancelSeconds=0.3)
    admin.seed_job(name=f"{JOBS}/done", state="DONE")
    admin.seed_job(name=f"{JOBS}/failed", state="ERROR", details="driver exited 1")
    admin.seed_job(name=f"{JOBS}/stuck", onCancel="stuck")
    admin.seed_job(name=f"{JOBS}/denied", onCancel="forbidden")
    names = ["finishes", "done", "failed", "stuck", "denied", "missing"]
    handled = handle(
        emulator, {"jobs": [f"{JOBS}/{n}" for n in names]}, VERIFY_TIMEOUT_SECONDS="1.5"
    )
    got = {r.target.rsplit("/", 1)[1]: r for r in handled.results}
    assert {n: got[n].outcome for n in names} == {
        "finishes": Outcome.COMPLETED_DESPITE_CANCEL,
        "done": Outcome.ALREADY_DONE,
        "failed": Outcome.ALREADY_DONE,
        "stuck": Outcome.STILL_RUNNING,
        "denied": Outcome.PERMISSION_DENIED,
        "missing": Outcome.NOT_FOUND,
    }
    assert "the job is DONE" in got["finishes"].detail
    assert "driver exited 1" in got["failed"].detail
    assert got["stuck"].to_message()["state"]["jobState"] == "CANCEL_PENDING"


def test_a_job_in_setup_done_is_cancelled_once_it_can_be(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_job(name=f"{JOBS}/warming", state="SETUP_DONE", setupSeconds=1.0)
    result = only(handle(emulator, {"job": f"{JOBS}/warming"}))
    assert result.outcome is Outcome.CANCELLED
    cancels = [r for r in admin.requests() if r["apiMethod"] == "jobs.cancel"]
    assert len(cancels) >= 2  # refused with FAILED_PRECONDITION, then accepted


def test_a_job_that_never_leaves_setup_done_is_an_error_saying_so(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_job(name=f"{JOBS}/slow-setup", state="SETUP_DONE", setupSeconds=60)
    result = only(handle(emulator, {"job": f"{JOBS}/slow-setup"}, VERIFY_TIMEOUT_SECONDS="1"))
    assert result.outcome is Outcome.ERROR
    assert "FAILED_PRECONDITION" in result.detail
    assert "refused for the whole verification window" in result.detail
    assert "SETUP_DONE" in result.detail


def test_a_job_incident_stops_that_job_and_never_another_of_the_same_id(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    job = admin.seed_job(name=f"{JOBS}/nightly", jobUuid="11111111-aaaa")
    labels = {"project_id": PROJECT, "region": REGION, "job_id": "nightly"}
    other = handle(
        emulator, incident("open", "cloud_dataproc_job", {**labels, "job_uuid": "22222222-bbbb"})
    )
    refused = only(other)
    assert refused.outcome is Outcome.REJECTED
    assert "different job with the same ID" in refused.detail
    assert "jobs.cancel" not in methods(admin)
    stopped = only(
        handle(
            emulator, incident("open", "cloud_dataproc_job", {**labels, "job_uuid": job["jobUuid"]})
        )
    )
    assert stopped.outcome is Outcome.CANCELLED
    assert stopped.to_message()["incident"]["resourceType"] == "cloud_dataproc_job"


# ---- sessions -----------------------------------------------------------------------------


def test_sessions_terminate_and_each_outcome(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_session(name=f"{SESSIONS}/notebook-1", terminateSeconds=0.5)
    admin.seed_session(name=f"{SESSIONS}/crashing", onTerminate="fail", terminateSeconds=0.2)
    admin.seed_session(name=f"{SESSIONS}/gone", state="TERMINATED")
    handled = handle(
        emulator,
        {"sessions": [f"{SESSIONS}/notebook-1", f"{SESSIONS}/crashing", f"{SESSIONS}/gone"]},
    )
    got = {r.target.rsplit("/", 1)[1]: r for r in handled.results}
    assert got["notebook-1"].outcome is Outcome.CANCELLED
    assert got["notebook-1"].detail == "terminated: the session is TERMINATED"
    assert got["notebook-1"].to_message()["state"]["sessionState"] == "TERMINATED"
    assert got["crashing"].outcome is Outcome.COMPLETED_DESPITE_CANCEL
    assert got["gone"].outcome is Outcome.ALREADY_DONE
    assert methods(admin).count("sessions.terminate") == 2


def test_a_session_incident_terminates_it(admin: EmulatorAdmin, emulator: DataprocEmulator) -> None:
    admin.seed_session(name=f"{SESSIONS}/idle-notebook")
    labels = {"project_id": PROJECT, "location": REGION, "session_id": "idle-notebook"}
    result = only(handle(emulator, incident("open", "cloud_dataproc_session", labels)))
    assert result.outcome is Outcome.CANCELLED
    assert result.kind == "session"


# ---- sweeps over every kind -----------------------------------------------------------------


def test_a_cluster_incident_stops_that_clusters_jobs_and_operations_only(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    uuid = "c0ffee00-0000-4000-8000-000000000001"
    for i in range(3):
        admin.seed_job(name=f"{JOBS}/mine-{i}", clusterName="etl", clusterUuid=uuid)
    admin.seed_job(name=f"{JOBS}/other-cluster", clusterName="web", clusterUuid=uuid)
    admin.seed_job(name=f"{JOBS}/recreated", clusterName="etl", clusterUuid="another-uuid")
    admin.seed_job(
        name=f"{JOBS}/exempt",
        clusterName="etl",
        clusterUuid=uuid,
        labels={"dataproc-canceller": "exempt"},
    )
    admin.seed_operation(
        name=f"{SCOPE}/operations/resize",
        kind="cluster",
        metadata={"clusterName": "etl", "clusterUuid": uuid, "operationType": "UPDATE"},
    )
    admin.seed_session(name=f"{SESSIONS}/untouched")
    labels = {"project_id": PROJECT, "region": REGION, "cluster_name": "etl", "cluster_uuid": uuid}
    handled = handle(emulator, incident("open", "cloud_dataproc_cluster", labels))
    stopped = {r.target for r in handled.results if r.outcome is Outcome.CANCELLED}
    assert stopped == {f"{JOBS}/mine-{i}" for i in range(3)} | {f"{SCOPE}/operations/resize"}
    summary = summary_of(handled)
    assert summary["kinds"] == ["operations", "jobs"]
    assert summary["exempt"] == 1
    cancelled_paths = {r["path"] for r in admin.requests() if r["method"] == "POST"}
    assert not any(
        p.endswith(("other-cluster:cancel", "recreated:cancel", "exempt:cancel"))
        for p in cancelled_paths
    )
    assert "sessions.list" not in methods(admin)


def test_a_sweep_covers_every_kind_with_one_filter_and_age(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    etl = {"team": "etl"}
    admin.seed_job(name=f"{JOBS}/old", labels=etl, submittedSecondsAgo=7 * 3600)
    admin.seed_job(name=f"{JOBS}/young", labels=etl, submittedSecondsAgo=60)
    admin.seed_job(name=f"{JOBS}/ml", labels={"team": "ml"}, submittedSecondsAgo=7 * 3600)
    admin.seed_session(name=f"{SESSIONS}/old-notebook", labels=etl, createdSecondsAgo=8 * 3600)
    admin.seed_session(name=f"{SESSIONS}/new-notebook", labels=etl, createdSecondsAgo=10)
    admin.seed_operation(
        name=f"{SCOPE}/operations/old-batch",
        metadata={"labels": etl, "createTime": ago(hours=9)},
    )
    handled = handle(
        emulator, {"sweep": {"scopes": [SCOPE], "filter": "labels.team = etl", "olderThan": "6h"}}
    )
    stopped = {r.target for r in handled.results if r.outcome is Outcome.CANCELLED}
    assert stopped == {
        f"{JOBS}/old",
        f"{SESSIONS}/old-notebook",
        f"{SCOPE}/operations/old-batch",
    }
    # Oldest first across kinds: the operation (9 h), the session (8 h), the job (7 h).
    order = [r.target for r in handled.results if r.outcome is Outcome.CANCELLED]
    assert len(order) == 3
    assert summary_of(handled)["kinds"] == ["operations", "jobs", "sessions"]


def test_a_clause_a_kind_cannot_check_leaves_that_kind_out(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_session(name=f"{SESSIONS}/notebook-9")
    admin.seed_job(name=f"{JOBS}/on-etl", clusterName="etl")
    handled = handle(emulator, {"sweep": {"scopes": [SCOPE], "filter": "clusterName = etl"}})
    [summary] = [r for r in handled.results if r.outcome is Outcome.SWEEP_SUMMARY]
    assert summary.to_message()["sweep"]["kinds"] == ["operations", "jobs"]
    assert "sessions cannot be filtered on clusterName = etl" in summary.detail
    assert {r.target for r in handled.results if r.outcome is Outcome.CANCELLED} == {
        f"{JOBS}/on-etl"
    }
    assert "sessions.list" not in methods(admin)


# ---- quota: what verification costs -------------------------------------------------------


def test_many_jobs_are_verified_by_listing_not_by_a_get_each(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_jobs(
        [
            # CANCEL_STARTED at 0.9 s, CANCELLED at 1.8 s: off the listings' 1 s beat, so a
            # float's last bit never decides which side of a change a check falls on
            {"name": f"{JOBS}/bulk-{i:02d}", "labels": {"team": "etl"}, "cancelSeconds": 1.8}
            for i in range(40)
        ]
    )
    admin.clear_requests()
    handled = handle(
        emulator,
        {"sweep": {"scopes": [SCOPE], "kinds": ["jobs"], "filter": "labels.team = etl"}},
    )
    assert summary_of(handled)["outcomes"] == {"CANCELLED": 40}
    counts = admin.request_counts()["byMethod"]
    assert counts["jobs.cancel"] == 40
    # A job leaves the ACTIVE listing at CANCEL_STARTED (the JobStateMatcher doc): from
    # then on it is read with GETs (GetJob has its own, large quota) until CANCELLED: two
    # each. The first stop may also be read once alone, before the next is sent (how the
    # starts' threads run decides it: 1 run in 30 on a loaded machine).
    assert counts.get("jobs.get", 0) <= 2 * 40 + 1
    assert counts["jobs.list"] <= 10
    # Three calls a target at most (its cancel and two GETs) and that one read, the
    # listings shared by all, and one read of the cluster the jobs run on, for their price
    # (canceller/pricing.py).
    assert counts.get("clusters.get", 0) <= 1
    shared = counts["jobs.list"] + counts.get("clusters.get", 0)
    assert shared <= 5 and sum(counts.values()) - shared <= 3 * 40 + 1


def test_many_operations_are_settled_by_the_listing_itself(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_operations(
        [{"name": f"{SCOPE}/operations/op-{i:02d}", "cancelSeconds": 2.0} for i in range(40)]
    )
    admin.clear_requests()
    handled = handle(emulator, {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}})
    assert summary_of(handled)["outcomes"] == {"CANCELLED": 40}
    counts = admin.request_counts()["byMethod"]
    assert counts["operations.cancel"] == 40
    # The listing shows each one's end; only a watch that is alone in its scope for a
    # moment (the first stops, before the next ones are sent) is read with a GET.
    assert counts.get("operations.get", 0) <= 8
    assert sum(counts.values()) <= 2 * 40


def test_a_sweep_lists_active_jobs_only_and_leaves_setup_to_the_next_sweep(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """A project's job history can outgrow a message's request budget, so the sweep lists
    ACTIVE jobs (documented as PENDING, RUNNING and CANCEL_PENDING); a job in SETUP_DONE,
    which Dataproc refuses to cancel anyway, is stopped by a sweep once it runs."""
    admin.seed_job(name=f"{JOBS}/in-setup", state="SETUP_DONE", setupSeconds=0.6)
    admin.seed_job(name=f"{JOBS}/finished", state="DONE")
    admin.seed_job(name=f"{JOBS}/running")
    handled = handle(emulator, {"sweep": {"scopes": [SCOPE], "kinds": ["jobs"]}})
    assert {r.target: r.outcome for r in handled.results if r.target} == {
        f"{JOBS}/running": Outcome.CANCELLED
    }
    assert summary_of(handled)["found"] == 1
    admin.advance_clock(1)
    later = handle(emulator, {"sweep": {"scopes": [SCOPE], "kinds": ["jobs"]}})
    assert {r.target: r.outcome for r in later.results if r.target} == {
        f"{JOBS}/in-setup": Outcome.CANCELLED
    }


def test_a_sweep_whose_stops_fail_transiently_is_redelivered_not_handed_on(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    for i in range(3):
        admin.seed_operation(name=f"{SCOPE}/operations/outage-{i}")
    admin.add_fault(method="POST", pathRegex=r":cancel$", times=-1, status=503)
    handled = handle(
        emulator,
        {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}},
        TRIGGER_TOPIC=f"projects/{PROJECT}/topics/requests",
        RETRY_DEADLINE_SECONDS="1",
        VERIFY_TIMEOUT_SECONDS="1",
    )
    assert handled.transient_failures  # so Pub/Sub delivers the sweep again
    assert handled.continuation is None  # and nothing else sweeps the same work meanwhile
    assert summary_of(handled)["handedOn"] is False
    errors = [r for r in handled.results if r.target]
    assert [r.outcome for r in errors] == [Outcome.ERROR] * 3  # each said, not left silent
    assert all("no stop of ours was confirmed" in r.detail for r in errors)


def test_a_scope_named_twice_is_swept_once(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_operation(name=f"{SCOPE}/operations/once")
    handled = handle(emulator, {"sweep": {"scopes": [SCOPE, f" {SCOPE}"], "kinds": ["operations"]}})
    assert [r.outcome for r in handled.results] == [Outcome.CANCELLED, Outcome.SWEEP_SUMMARY]
    assert methods(admin).count("operations.cancel") == 1


def test_a_continuation_skips_what_the_chain_could_not_see_stop(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """Operations show no 'cancelling' state: one whose cancel was accepted but that is
    still running is named in the continuation so it is not selected again."""
    for i in range(3):
        admin.seed_operation(
            name=f"{SCOPE}/operations/slow-{i}",
            onCancel="ignore",
            metadata={"createTime": ago(hours=3 - i)},
        )
    env = {
        "TRIGGER_TOPIC": f"projects/{PROJECT}/topics/requests",
        "MAX_CANCELS_PER_MESSAGE": "2",
        "VERIFY_TIMEOUT_SECONDS": "0.5",
    }
    sweep = {"sweep": {"scopes": [SCOPE], "kinds": ["operations"], "max": 3}}
    first = handle(emulator, sweep, **env)
    assert {r.outcome for r in first.results if r.target} == {Outcome.STILL_RUNNING}
    assert first.continuation is not None
    continuation = first.continuation.message
    skipped = [digest(f"{SCOPE}/operations/slow-{i}") for i in (0, 1)]
    assert continuation["sweep"]["skip"] == skipped  # still running: not selected again
    second = handle(emulator, continuation, **env)
    assert [r.target for r in second.results if r.target] == [f"{SCOPE}/operations/slow-2"]
    assert second.continuation is None


def test_workflow_operations_are_left_to_the_jobs_kind(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_operation(
        name=f"{SCOPE}/operations/workflow",
        kind="workflow",
        metadata={"clusterName": "etl"},
    )
    handled = handle(emulator, {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}})
    assert summary_of(handled)["selected"] == 0
    assert "operations.cancel" not in methods(admin)
