"""Clusters where things go wrong: the findings of the adversarial review of the cluster
change, each kept as the test that reproduced it.

Races are made by wrapping DataprocClient's own calls (the emulator still answers every
request): a cluster re-created under the same name between two of our reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from canceller.dataproc import DataprocClient
from canceller.results import Outcome
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.dispatching import SCOPE, handle

CLUSTERS = f"{SCOPE}/clusters"
JOBS = f"{SCOPE}/jobs"
FAST = {"VERIFY_TIMEOUT_SECONDS": "3", "RETRY_DEADLINE_SECONDS": "3"}
EXEMPT = {"dataproc-canceller": "exempt"}


def _stop_bodies(admin: EmulatorAdmin) -> list[str]:
    return [r["body"] for r in admin.requests() if r["apiMethod"] == "clusters.stop"]


def _after_first(
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    when: Callable[[Any], bool],
    act: Callable[[], None],
) -> None:
    """Run ``act`` once, right after the first ``DataprocClient.method`` call whose first
    argument ``when`` accepts."""
    real = getattr(DataprocClient, method)
    done: list[bool] = []

    def wrapped(self: DataprocClient, first: Any, *args: Any, **kwargs: Any) -> Any:
        answer = real(self, first, *args, **kwargs)
        if when(first) and not done:
            done.append(True)
            act()
        return answer

    monkeypatch.setattr(DataprocClient, method, wrapped)


def test_a_sweep_never_stops_another_incarnation_than_it_listed(
    admin: EmulatorAdmin, emulator: DataprocEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listed old and not exempt; re-created exempt and new before it is read again."""
    admin.seed_cluster(name=f"{CLUSTERS}/idle", runningSecondsAgo=7200, stopSeconds=0.2)
    new: dict[str, Any] = {}
    _after_first(
        monkeypatch,
        "list",
        lambda collection: collection.endswith("/clusters"),
        lambda: new.update(
            admin.seed_cluster(name=f"{CLUSTERS}/idle", runningSecondsAgo=5, labels=EXEMPT)
        ),
    )
    sweep = {"sweep": {"scopes": [SCOPE], "kinds": ["clusters"], "olderThan": "1h"}}
    handled = handle(emulator, sweep, **FAST)
    (result,) = [r for r in handled.results if r.target == f"{CLUSTERS}/idle"]
    assert result.outcome is Outcome.REJECTED and "different cluster" in result.detail
    assert _stop_bodies(admin) == []


def test_a_named_cluster_re_created_while_its_work_is_cleared_is_left_alone(
    admin: EmulatorAdmin, emulator: DataprocEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = admin.seed_cluster(name=f"{CLUSTERS}/etl", stopSeconds=0.2)
    admin.seed_job(
        name=f"{JOBS}/old-job", clusterName="etl", clusterUuid=old["clusterUuid"], cancelSeconds=0.3
    )
    new: dict[str, Any] = {}

    def re_create() -> None:
        new.update(admin.seed_cluster(name=f"{CLUSTERS}/etl", stopSeconds=0.2))
        admin.seed_job(name=f"{JOBS}/new-job", clusterName="etl", clusterUuid=new["clusterUuid"])

    # Right after the job's cancel is sent, the cluster is deleted and made again.
    _after_first(monkeypatch, "stop", lambda call: call.path.endswith("/old-job:cancel"), re_create)
    handled = handle(emulator, {"cluster": f"{CLUSTERS}/etl"}, **FAST)
    assert not any(new["clusterUuid"] in body for body in _stop_bodies(admin))
    assert admin.job_internals(f"{JOBS}/new-job")["cancelRequestTime"] is None
    (result,) = [r for r in handled.results if r.target == f"{CLUSTERS}/etl"]
    assert result.outcome is not Outcome.CANCELLED, result.detail


@pytest.mark.parametrize("state", [{"setupSeconds": 600}, {"state": "ATTEMPT_FAILURE"}])
def test_exempt_work_in_any_unfinished_state_spares_its_cluster(
    admin: EmulatorAdmin, emulator: DataprocEmulator, state: dict[str, Any]
) -> None:
    """SETUP_DONE and ATTEMPT_FAILURE are not ACTIVE as ListJobs documents it, and a
    cluster's stop fails them too: a sweep lists the cluster's jobs of every state."""
    cluster = admin.seed_cluster(name=f"{CLUSTERS}/prod", runningSecondsAgo=7200)
    admin.seed_job(
        name=f"{JOBS}/precious",
        clusterName="prod",
        clusterUuid=cluster["clusterUuid"],
        labels=EXEMPT,
        **state,
    )
    handled = handle(emulator, {"sweep": {"scopes": [SCOPE], "kinds": ["clusters"]}}, **FAST)
    (result,) = [r for r in handled.results if r.target == f"{CLUSTERS}/prod"]
    assert result.outcome is Outcome.REJECTED and f"{JOBS}/precious" in result.detail
    assert _stop_bodies(admin) == []


def test_deleting_a_cluster_someone_else_is_deleting_is_already_done(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_cluster(name=f"{CLUSTERS}/going", state="DELETING", deleteSeconds=0.5)
    handled = handle(
        emulator,
        {"cluster": f"{CLUSTERS}/going", "action": "delete"},
        CLUSTER_DELETE_ALLOWED="true",
        **FAST,
    )
    (result,) = handled.results
    assert result.outcome is Outcome.ALREADY_DONE, result.detail
    assert not [r for r in admin.requests() if r["apiMethod"] == "clusters.delete"]


def test_many_clusters_on_a_slow_server_are_read_together_and_some_stopped(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """40 clusters, every read 60 ms: read one after another on the whole deadline, none
    was ever stopped; read together within half the time before the windows, they are."""
    admin.seed_clusters(
        [
            {"name": f"{CLUSTERS}/c{i:03d}", "runningSecondsAgo": 7200, "stopSeconds": 0.2}
            for i in range(40)
        ]
    )
    admin.add_fault(action="delay", delaySeconds=0.06, method="GET", pathRegex="/v1/", times=-1)
    sweep = {"sweep": {"scopes": [SCOPE], "kinds": ["clusters"]}}
    handled = handle(emulator, sweep, VERIFY_TIMEOUT_SECONDS="2", RETRY_DEADLINE_SECONDS="4")
    stopped = [r for r in handled.results if r.outcome is Outcome.CANCELLED]
    assert len(stopped) >= 10, [r.detail for r in handled.results if not r.target]


def test_a_clusters_result_names_its_work_not_seen_stopped(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """A job that will not cancel within its window keeps its outcome, the stop goes
    ahead (as the issue asks), and the cluster's result says the job was left running."""
    cluster = admin.seed_cluster(name=f"{CLUSTERS}/stubborn", stopSeconds=0.2)
    admin.seed_job(
        name=f"{JOBS}/stuck",
        clusterName="stubborn",
        clusterUuid=cluster["clusterUuid"],
        onCancel="stuck",
    )
    handled = handle(
        emulator,
        {"cluster": f"{CLUSTERS}/stubborn"},
        VERIFY_TIMEOUT_SECONDS="1",
        RETRY_DEADLINE_SECONDS="3",
    )
    got = {r.target: r for r in handled.results}
    assert got[f"{JOBS}/stuck"].outcome is Outcome.STILL_RUNNING
    stopped = got[f"{CLUSTERS}/stubborn"]
    assert stopped.outcome is Outcome.CANCELLED
    assert f"{JOBS}/stuck (STILL_RUNNING)" in stopped.detail


def test_a_stuck_job_leaves_its_cluster_time_for_its_stop_at_the_default_proportions(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """RETRY_DEADLINE_SECONDS equal to VERIFY_TIMEOUT_SECONDS, as by default: the work
    before a cluster is watched within its part of the message, so a job that never
    cancels does not use up the cluster's window (it would be handed on, again and
    again, each time waiting on the same job)."""
    cluster = admin.seed_cluster(name=f"{CLUSTERS}/held", stopSeconds=0.2)
    admin.seed_job(
        name=f"{JOBS}/never",
        clusterName="held",
        clusterUuid=cluster["clusterUuid"],
        onCancel="stuck",
    )
    handled = handle(
        emulator,
        {"cluster": f"{CLUSTERS}/held"},
        VERIFY_TIMEOUT_SECONDS="2",
        RETRY_DEADLINE_SECONDS="2",
        TRIGGER_TOPIC="projects/demo-project/topics/triggers",
    )
    got = {r.target: r.outcome for r in handled.results}
    assert got == {f"{JOBS}/never": Outcome.STILL_RUNNING, f"{CLUSTERS}/held": Outcome.CANCELLED}
    assert handled.continuation is None and handled.transient_failures == []


# ---- from the second review -------------------------------------------------------------


def test_work_no_cluster_waits_for_keeps_its_whole_window(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """A sweep of jobs and clusters: a job on a cluster not selected takes 6 s to
    cancel, within its 10 s window; a cluster in the same message must not halve it."""
    admin.seed_cluster(name=f"{CLUSTERS}/other")
    admin.seed_cluster(name=f"{CLUSTERS}/idle", labels={"team": "x"}, stopSeconds=0.2)
    admin.seed_job(name=f"{JOBS}/slow", clusterName="other", labels={"team": "x"}, cancelSeconds=6)
    sweep = {
        "sweep": {"scopes": [SCOPE], "kinds": ["jobs", "clusters"], "filter": "labels.team = x"}
    }
    handled = handle(emulator, sweep, VERIFY_TIMEOUT_SECONDS="10", RETRY_DEADLINE_SECONDS="10")
    got = {r.target: r for r in handled.results}
    assert got[f"{JOBS}/slow"].outcome is Outcome.CANCELLED, got[f"{JOBS}/slow"].detail
    assert got[f"{CLUSTERS}/idle"].outcome is Outcome.CANCELLED


def test_our_delete_whose_answers_were_lost_is_said_to_be_possibly_ours(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_cluster(name=f"{CLUSTERS}/mine", deleteSeconds=0.3)
    admin.add_fault(
        method="DELETE", pathRegex="clusters/mine", times=-1, action="delay", delaySeconds=1.0
    )
    handled = handle(
        emulator,
        {"cluster": f"{CLUSTERS}/mine", "action": "delete"},
        VERIFY_TIMEOUT_SECONDS="4",
        RETRY_DEADLINE_SECONDS="3",
        CLUSTER_DELETE_ALLOWED="true",
        REQUEST_TIMEOUT_SECONDS="0.5",
    )
    (result,) = handled.results
    assert result.outcome is Outcome.ALREADY_DONE, result.detail
    assert "may have been ours" in result.detail


def test_a_long_job_history_neither_spares_a_cluster_nor_costs_a_page_per_thousand(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """Exempt work is looked for by its label (every state), not by reading the cluster's
    whole history: 3,000 finished jobs cost no listing of their own."""
    cluster = admin.seed_cluster(name=f"{CLUSTERS}/busy", stopSeconds=0.2)
    admin.seed_jobs(
        [
            {
                "name": f"{JOBS}/old-{i:04}",
                "clusterName": "busy",
                "clusterUuid": cluster["clusterUuid"],
                "state": "DONE",
            }
            for i in range(3000)
        ]
    )
    handled = handle(emulator, {"sweep": {"scopes": [SCOPE], "kinds": ["clusters"]}}, **FAST)
    (result,) = [r for r in handled.results if r.target == f"{CLUSTERS}/busy"]
    assert result.outcome is Outcome.CANCELLED, result.detail
    methods = [r["apiMethod"] for r in admin.requests()]
    assert methods.count("jobs.list") == 2  # its running jobs, and its exempt ones
