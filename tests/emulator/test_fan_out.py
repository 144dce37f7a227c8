"""Organisation scale, message by message against the emulator (which serves Dataproc and
the organisation APIs from one fake organisation): a budget acts on its real scope, a
sweep takes a folder, Cloud Asset says where to look, the allowlist takes ancestors, and
the parent fans out one child sweep per project that Pub/Sub would deliver."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from canceller.chains import Continuation
from canceller.results import Outcome, Result
from canceller.runtime import Runtime
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.discovery import DOCUMENTS, Discovery, document
from tests.support.dispatching import PROJECT, ChainRun, environ, follow_fan_out, handle
from tests.support.organisation import (
    ORGANISATION,
    SUB_1,
    TEAM_1,
    budget_notification,
    job_state,
    seed_job,
)

EXEMPT = {"dataproc-canceller": "exempt"}
_PAIR = re.compile(r"projects/([^/]+)/(?:regions|locations)/([^/]+)")


@pytest.fixture(autouse=True)
def held_to_discovery(admin: EmulatorAdmin) -> Iterator[None]:
    """After each test, every request the function sent (Dataproc's and the organisation
    APIs') is a method of its API's discovery document, with only declared parameters."""
    yield
    problems = []
    for entry in admin.requests():
        api = str(entry["apiMethod"]).split(".", 1)[0]
        known = api in DOCUMENTS
        discovery = Discovery(document(DOCUMENTS[api])) if known else Discovery.installed()
        if not (verdict := discovery.check_logged(entry)).conforms:
            problems.append(str(verdict))
    assert not problems, "\n".join(problems[:10])


def _dataproc_pairs(admin: EmulatorAdmin) -> set[tuple[str, str]]:
    """The (project, region) pairs Dataproc was called in."""
    pairs = set()
    for request in admin.requests():
        if match := _PAIR.search(request["path"]):  # Cloud Asset's paths name no region
            pairs.add((match[1], match[2]))
    return pairs


def _methods(admin: EmulatorAdmin) -> Counter[str]:
    return Counter(str(request.get("apiMethod")) for request in admin.requests())


def _summary(run: ChainRun, key: str = "fanOut") -> dict[str, Any]:
    (summary,) = [
        r.provenance.sweep
        for r in run.results
        if r.outcome is Outcome.SWEEP_SUMMARY and key in r.provenance.sweep
    ]
    return summary


def _by_target(run: ChainRun) -> dict[str, Result]:
    return {r.target: r for r in run.results if r.outcome is not Outcome.SWEEP_SUMMARY}


def test_a_budget_over_a_folder_stops_the_live_work_of_its_projects_and_nothing_else(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    covered = [
        seed_job(admin, "org-f1-p1", "us-central1", "a"),
        seed_job(admin, "org-f1-p1", "us-central1", "b"),
        seed_job(admin, "org-f1s1-p2", "europe-west1", "c"),  # in the subfolder: covered
    ]
    untouched = [
        seed_job(admin, "org-f2-p1", "us-central1", "d"),  # team 2: not the budget's
        seed_job(admin, "org-f1-x1", "us-central1", "e"),  # paid by another billing account
        seed_job(admin, "org-f1-p2", "us-east1", "f", labels=EXEMPT),
        seed_job(admin, "org-o-p1", "us-central1", "g"),  # under the organisation only
    ]
    seed_job(admin, "org-f1-p3", "asia-east1", "done", state="DONE")
    admin.clear_requests()

    body, attributes = budget_notification()
    run = follow_fan_out(emulator, body, attributes, limit=10, ALLOWED_ANCESTORS=ORGANISATION)

    assert [job_state(admin, name) for name in covered] == ["CANCELLED"] * 3
    assert [job_state(admin, name) for name in untouched] == ["RUNNING"] * 4
    parent = run.handled[0]
    # org-f1-p2's only work is exempt: Cloud Asset cannot tell (a label query matches
    # words, not the exact value), so its child lists it and leaves it alone.
    assert sorted(child.part for child in parent.children) == [
        "projects/org-f1-p1",
        "projects/org-f1-p2",
        "projects/org-f1s1-p2",
    ]
    fan_out = _summary(run)["fanOut"]
    assert fan_out["budgetScope"]["resourceAncestors"] == [TEAM_1]
    assert fan_out["searched"] == [TEAM_1] and fan_out["complete"] is True
    assert (fan_out["children"], fan_out["pairs"], fan_out["refused"]) == (3, 3, 0)
    # Every stop is reported once, by the child that made it, under the parent's sweep id.
    stopped = _by_target(run)
    assert sorted(stopped) == sorted(covered)
    for name in covered:
        result = stopped[name]
        assert result.outcome is Outcome.CANCELLED
        assert result.provenance.sweep["id"] == parent.results[-1].provenance.sweep["id"]
        project = _PAIR.match(name)
        assert project is not None and result.provenance.sweep["part"] == f"projects/{project[1]}"
    # No Dataproc call went to a (project, region) without live work the budget covers.
    assert _dataproc_pairs(admin) == {
        ("org-f1-p1", "us-central1"),
        ("org-f1-p2", "us-east1"),
        ("org-f1s1-p2", "europe-west1"),
    }
    assert _methods(admin)["cloudasset.searchAllResources"] == 1


def test_a_project_outside_the_allowlist_is_refused_by_name_and_its_work_left_alone(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    refused = seed_job(admin, "org-f1-p1", "us-central1", "a")
    allowed = seed_job(admin, "org-f1s1-p1", "us-central1", "b")

    body, attributes = budget_notification()
    run = follow_fan_out(emulator, body, attributes, limit=10, ALLOWED_ANCESTORS=SUB_1)

    assert (job_state(admin, refused), job_state(admin, allowed)) == ("RUNNING", "CANCELLED")
    rejection = _by_target(run)["projects/org-f1-p1"]
    assert rejection.outcome is Outcome.REJECTED
    assert "neither in ALLOWED_PROJECTS nor under ALLOWED_ANCESTORS" in rejection.detail
    assert _summary(run)["fanOut"]["refused"] == 1
    assert not any("org-f1-p1" in pair for pair, _ in _dataproc_pairs(admin))


def test_a_forged_child_for_a_project_outside_the_allowlist_stops_nothing(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    job = seed_job(admin, "org-f2-p1", "us-central1", "a")
    forged = {
        "sweep": {
            "scopes": ["projects/org-f2-p1/regions/us-central1"],
            "kinds": ["jobs"],
            "continuation": {"sweepId": "sweep-x", "generation": 1, "part": "projects/org-f2-p1"},
        }
    }
    handled = handle(
        emulator,
        forged,
        ALLOWED_ANCESTORS=TEAM_1,
        TRIGGER_TOPIC=f"projects/{PROJECT}/topics/triggers",
    )
    assert job_state(admin, job) == "RUNNING"
    (rejection,) = [r for r in handled.results if r.outcome is Outcome.REJECTED]
    assert "not under ALLOWED_ANCESTORS" in rejection.detail or "nor under" in rejection.detail
    assert _dataproc_pairs(admin) == set()


def test_a_budget_scope_and_a_projects_ancestry_are_read_once_per_instance(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:

    runtime = Runtime(environ(emulator, ALLOWED_ANCESTORS=TEAM_1))
    seed_job(admin, "org-f1-p1", "us-central1", "a")
    body, attributes = budget_notification()
    admin.clear_requests()
    handle(emulator, body, attributes, message_id="m-1", runtime=runtime)
    first = _methods(admin)
    admin.clear_requests()
    handle(emulator, body, attributes, message_id="m-2", runtime=runtime)
    second = _methods(admin)

    assert first["billingbudgets.billingAccounts.budgets.get"] == 1
    assert first["cloudbilling.billingAccounts.projects.list"] >= 1
    assert first["cloudresourcemanager.projects.get"] >= 1
    for cached in (
        "billingbudgets.billingAccounts.budgets.get",
        "cloudbilling.billingAccounts.projects.list",
        "cloudresourcemanager.projects.get",
        "cloudresourcemanager.folders.get",
    ):
        assert second[cached] == 0, cached
    assert second["cloudasset.searchAllResources"] == 1  # where work is: always asked


def test_an_unreadable_budget_sweeps_sweep_scopes_and_says_so(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    job = seed_job(admin, PROJECT, "us-central1", "a")
    body, attributes = budget_notification(budget_id="no-such-budget")
    handled = handle(
        emulator, body, attributes, SWEEP_SCOPES=f"projects/{PROJECT}/regions/us-central1"
    )
    assert job_state(admin, job) == "CANCELLED"
    (summary,) = [r for r in handled.results if r.outcome is Outcome.SWEEP_SUMMARY]
    assert "SWEEP_SCOPES swept instead" in summary.detail


def test_an_unreadable_budget_without_sweep_scopes_is_rejected(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    body, attributes = budget_notification(budget_id="no-such-budget")
    handled = handle(emulator, body, attributes)
    (rejection,) = handled.results
    assert rejection.outcome is Outcome.REJECTED
    assert "SWEEP_SCOPES is not set" in rejection.detail


def test_without_trigger_topic_the_parent_sweeps_the_pairs_itself(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    job = seed_job(admin, "org-f1-p1", "us-central1", "a")
    handled = handle(emulator, {"sweep": {"scopes": [TEAM_1]}}, ALLOWED_ANCESTORS=TEAM_1)
    assert job_state(admin, job) == "CANCELLED"
    assert handled.children == [] and handled.continuation is None
    summaries = [r for r in handled.results if r.outcome is Outcome.SWEEP_SUMMARY]
    assert len(summaries) == 2  # the fan-out's and the sweep it ran itself


def test_a_sweep_over_a_folder_finds_nested_projects_and_lists_only_the_kinds_found(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    seed_job(admin, "org-f1s1-p3", "us-west1", "a")
    run = follow_fan_out(
        emulator,
        {"sweep": {"scopes": [TEAM_1], "kinds": ["jobs", "sessions", "clusters"]}},
        limit=5,
        ALLOWED_ANCESTORS=ORGANISATION,
    )
    (child,) = run.handled[0].children
    assert child.message["sweep"]["scopeKinds"] == {
        "projects/org-f1s1-p3/regions/us-west1": ["jobs"]
    }
    listed = {
        r["path"]
        for r in admin.requests()
        if _PAIR.search(r["path"]) and r["apiMethod"] != "clusters.get"  # a job's burn's read
    }
    assert listed and all("/jobs" in path for path in listed)


def test_operations_are_looked_for_where_batches_are_and_in_sweep_regions(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    batch = "projects/org-f1-p1/locations/us-central1/batches/b-1"
    admin.seed_batch(name=batch, state="RUNNING")
    run = follow_fan_out(
        emulator,
        {"sweep": {"scopes": ["projects/org-f1-p1"], "kinds": ["operations"]}},
        limit=5,
        ALLOWED_ANCESTORS=TEAM_1,
        SWEEP_REGIONS="us-east1",
    )
    (child,) = run.handled[0].children
    assert child.message["sweep"]["scopeKinds"] == {
        "projects/org-f1-p1/regions/us-central1": ["operations"],
        "projects/org-f1-p1/regions/us-east1": ["operations"],
    }
    cancelled = [r for r in run.results if r.outcome is Outcome.CANCELLED]
    assert len(cancelled) == 1 and cancelled[0].kind == "operation"


def test_max_cannot_be_shared_across_projects(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    handled = handle(emulator, {"sweep": {"scopes": [TEAM_1], "max": 1}}, ALLOWED_ANCESTORS=TEAM_1)
    (rejection,) = handled.results
    assert rejection.outcome is Outcome.REJECTED and "max" in rejection.detail
    assert _dataproc_pairs(admin) == set()


def test_a_report_rung_fans_out_dry_runs(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    job = seed_job(admin, "org-f1-p1", "us-central1", "a")
    body, attributes = budget_notification(cost=50.0)
    run = follow_fan_out(
        emulator,
        body,
        attributes,
        limit=5,
        ALLOWED_ANCESTORS=TEAM_1,
        BUDGET_LADDER="0.4:report,1.0:work",
    )
    assert job_state(admin, job) == "RUNNING"
    (child,) = run.handled[0].children
    assert child.message["dryRun"] is True
    assert _by_target(run)[job].outcome is Outcome.DRY_RUN


def test_stale_assets_cost_a_listing_never_a_wrong_stop(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    job = seed_job(admin, "org-f1-p1", "us-central1", "a", completesAfterSeconds=3)
    admin.freeze_assets()
    try:
        admin.advance_clock(5)  # the job ends; Cloud Asset still shows it running
        run = follow_fan_out(
            emulator, {"sweep": {"scopes": [TEAM_1]}}, limit=5, ALLOWED_ANCESTORS=TEAM_1
        )
    finally:
        admin.release_assets()
    assert job_state(admin, job) == "DONE"
    assert not [r for r in run.results if r.outcome is Outcome.CANCELLED]
    child_summary = [
        r
        for r in run.results
        if r.outcome is Outcome.SWEEP_SUMMARY and "part" in r.provenance.sweep
    ]
    assert child_summary and child_summary[0].provenance.sweep["selected"] == 0


def test_children_are_recognisable_copies_by_their_attributes(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    seed_job(admin, "org-f1-p1", "us-central1", "a")
    body, attributes = budget_notification()
    first = follow_fan_out(emulator, body, attributes, limit=1, ALLOWED_ANCESTORS=TEAM_1)
    again = follow_fan_out(emulator, body, attributes, limit=1, ALLOWED_ANCESTORS=TEAM_1)
    children: list[Continuation] = [*first.handled[0].children, *again.handled[0].children]
    assert [c.attributes() for c in children[:1]] == [c.attributes() for c in children[1:]]
    assert children[0].attributes()["part"] == "projects/org-f1-p1"
