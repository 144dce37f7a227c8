"""Organisation-scale fan-out at its limits: regressions of the review of issue 16.

Each test asserts the behaviour the review's fix chose (canceller.fan_out,
canceller.organisation, canceller.sweeps, canceller.dispatch, canceller.sweep_request) and
names, in its docstring, the defect it guards against. Driven in process against the
emulator (Dataproc and the organisation APIs), as tests/emulator/test_fan_out.py does. Fast
settings: a short retry deadline, so a fault that never clears ends a message in a
second or two, and a Retry-After longer than that, so a retryable answer is given up
at once, as after every retry.

Documented limits are not tested here: work newer than the asset index is not found, a
project moved out of an allowed folder stays allowed for SCOPE_CACHE_SECONDS, and
Resource Manager is read again per region (SCOPE_CACHE_SECONDS=0) and by both the parent
and its child, and a whole-account budget costs one Cloud Asset search per billed project.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from canceller.dispatch import Handled, handle_trigger
from canceller.message import decode_trigger
from canceller.results import Outcome, Result
from canceller.runtime import Runtime
from dataproc_emulator.admin import EmulatorAdmin
from dataproc_emulator.fake_org import (
    BILLING_ACCOUNT,
    WHOLE_ACCOUNT_BUDGET_ID,
    fake_organisation,
)
from tests.support.dispatching import PROJECT, environ, follow_fan_out, handle
from tests.support.organisation import (
    FAST,
    ORGANISATION,
    OWN_PAIR,
    QUICK,
    RM_503,
    TEAM_1,
    TEAM_2,
    TOPIC,
    budget_notification,
    job_state,
    seed_job,
)


def _with_budget(admin: EmulatorAdmin, org: dict[str, Any], budget_filter: dict[str, Any]) -> str:
    """``org`` again with one more budget on BILLING_ACCOUNT, filtered by ``budget_filter``."""
    description = copy.deepcopy(org)
    description["budgets"].append(
        {
            "billingAccount": BILLING_ACCOUNT,
            "id": "budget-narrowed",
            "displayName": "narrowed",
            "budgetFilter": budget_filter,
            "amount": {"specifiedAmount": {"currencyCode": "USD", "units": "10"}},
        }
    )
    admin.seed_organisation(description)
    return "budget-narrowed"


def _cluster_state(admin: EmulatorAdmin, name: str) -> str:
    return str(admin.cluster_internals(name)["cluster"]["status"]["state"])


def _calls(admin: EmulatorAdmin, api: str) -> list[dict[str, Any]]:
    """The requests the emulator logged for ``api`` (dataproc, cloudasset, ...)."""
    return [r for r in admin.requests() if str(r.get("apiMethod")).startswith(f"{api}.")]


def _details(handled: Handled) -> list[str]:
    return [f"{r.outcome.value} {r.target}: {r.detail}" for r in handled.results]


def _rejected(handled: Handled) -> list[Result]:
    return [r for r in handled.results if r.outcome is Outcome.REJECTED]


def _summary(handled: Handled) -> Result:
    (summary,) = [r for r in handled.results if r.outcome is Outcome.SWEEP_SUMMARY]
    return summary


def _parts(handled: Handled) -> list[str]:
    return [child.part for child in handled.children]


# ---- 1. A budget's labels narrow what it stops; subaccounts make it unreadable --------


def test_a_budget_over_a_label_stops_only_the_work_with_that_label(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: budgetFilter.labels was not read, so the etl team's budget (labels
    team=etl) was taken for the whole billing account and stopped team=web's work too.
    The label is ANDed with SWEEP_FILTER in every child's filter."""
    budget = _with_budget(admin, org, {"labels": {"team": ["etl"]}})
    etl = seed_job(admin, "org-f1-p1", "us-central1", "etl", labels={"team": "etl"})
    web = seed_job(admin, "org-f2-p1", "us-central1", "web", labels={"team": "web"})
    body, attributes = budget_notification(budget)
    run = follow_fan_out(
        emulator, body, attributes, limit=10, ALLOWED_ANCESTORS=ORGANISATION, **FAST
    )
    children = run.handled[0].children
    assert sorted(_parts(run.handled[0])) == ["projects/org-f1-p1", "projects/org-f2-p1"]
    assert all(c.message["sweep"]["filter"] == 'labels.team = "etl"' for c in children)
    assert (job_state(admin, etl), job_state(admin, web)) == ("CANCELLED", "RUNNING")


def test_a_budget_over_a_label_keeps_the_sweep_filter_beside_it(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect guarded: the budget's label clause replacing SWEEP_FILTER rather than
    narrowing it (work SWEEP_FILTER leaves out must stay left out)."""
    budget = _with_budget(admin, org, {"labels": {"team": ["etl"]}})
    seed_job(admin, "org-f1-p1", "us-central1", "etl", labels={"team": "etl"})
    body, attributes = budget_notification(budget)
    handled = handle(
        emulator,
        body,
        attributes,
        ALLOWED_ANCESTORS=ORGANISATION,
        TRIGGER_TOPIC=TOPIC,
        SWEEP_FILTER='labels.env = "dev"',
        **QUICK,
    )
    (child,) = handled.children
    assert child.message["sweep"]["filter"] == 'labels.env = "dev" AND labels.team = "etl"'


def test_a_budget_narrowed_to_subaccounts_sweeps_sweep_scopes_instead(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: budgetFilter.subaccounts was not read, so a budget over a subaccount's
    usage was taken for the whole billing account and stopped every allowed project it
    pays for. Its scope cannot be known: SWEEP_SCOPES is swept instead, and said."""
    budget = _with_budget(admin, org, {"subaccounts": ["billingAccounts/0A0A0A-0B0B0B-0C0C0C"]})
    billed = seed_job(admin, "org-f1-p1", "us-central1", "a")
    own = seed_job(admin, PROJECT, "us-central1", "b")
    body, attributes = budget_notification(budget)
    handled = handle(
        emulator,
        body,
        attributes,
        ALLOWED_ANCESTORS=ORGANISATION,
        TRIGGER_TOPIC=TOPIC,
        SWEEP_SCOPES=OWN_PAIR,
        **FAST,
    )
    assert handled.continuations == []
    assert (job_state(admin, billed), job_state(admin, own)) == ("RUNNING", "CANCELLED")
    assert "subaccounts" in _summary(handled).detail, _details(handled)
    assert "SWEEP_SCOPES swept instead" in _summary(handled).detail


def test_a_budget_narrowed_to_subaccounts_is_rejected_without_sweep_scopes(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: as above, with nothing to fall back on: the whole account was swept."""
    budget = _with_budget(admin, org, {"subaccounts": ["billingAccounts/0A0A0A-0B0B0B-0C0C0C"]})
    billed = seed_job(admin, "org-f1-p1", "us-central1", "a")
    body, attributes = budget_notification(budget)
    handled = handle(
        emulator, body, attributes, ALLOWED_ANCESTORS=ORGANISATION, TRIGGER_TOPIC=TOPIC, **QUICK
    )
    (rejected,) = handled.results
    assert rejected.outcome is Outcome.REJECTED
    assert "could not be read" in rejected.detail
    assert handled.continuations == [] and handled.transient_failures == []
    assert job_state(admin, billed) == "RUNNING"
    assert _calls(admin, "cloudasset") == [] and _calls(admin, "dataproc") == []


# ---- 2. A readable budget covering nothing allowed is REJECTED, never SWEEP_SCOPES -----


def test_a_readable_budget_covering_nothing_this_function_may_search_is_rejected(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: the whole-account budget was read fine, but none of its billed projects
    is allowed (ALLOWED_PROJECTS is the function's own, unbilled project, and no
    ALLOWED_ANCESTORS): the fan-out swept no scope, the sweep fell back to SWEEP_SCOPES,
    and the notification stopped work the budget does not cover."""
    own = seed_job(admin, PROJECT, "us-central1", "a")
    body, attributes = budget_notification(WHOLE_ACCOUNT_BUDGET_ID)
    handled = handle(
        emulator, body, attributes, TRIGGER_TOPIC=TOPIC, SWEEP_SCOPES=OWN_PAIR, **QUICK
    )
    (rejected,) = handled.results
    assert rejected.outcome is Outcome.REJECTED
    assert "covers nothing this function may search" in rejected.detail
    assert handled.continuations == [] and handled.transient_failures == []
    assert job_state(admin, own) == "RUNNING"
    assert _calls(admin, "dataproc") == []


# ---- 3. A budget read failing for now is redelivered; refused for good falls back ------


@pytest.mark.parametrize(
    "fault, env",
    [
        ({"pathRegex": r"/budgets/", "status": 503}, {}),
        ({"pathRegex": r"/budgets/", "status": 429, "retryAfter": "60"}, {}),
        ({"pathRegex": r"/billingAccounts/[^/]+/projects", "status": 500}, {}),
        (
            {"pathRegex": r"/budgets/", "action": "delay", "delaySeconds": 2},
            {"REQUEST_TIMEOUT_SECONDS": "0.3"},
        ),
    ],
    ids=["budgets-503", "budgets-429", "billing-projects-500", "budgets-timeout"],
)
def test_a_budget_read_failing_for_now_is_redelivered(
    emulator: Any,
    admin: EmulatorAdmin,
    org: dict[str, Any],
    fault: dict[str, Any] | None,
    env: dict[str, Any],
) -> None:
    """Defect: a transient Budget or Billing failure was answered for good, as if the
    budget were unreadable: REJECTED and acked without SWEEP_SCOPES (the budget action
    lost to a blip), and with SWEEP_SCOPES those were stopped instead of the budget's
    own projects. Now nothing is answered or stopped and the message is redelivered."""
    inside = seed_job(admin, "org-f1-p1", "us-central1", "a")
    own = seed_job(admin, PROJECT, "us-central1", "b")
    if fault:
        admin.add_fault(**fault, times=-1)
    body, attributes = budget_notification()
    handled = handle(
        emulator,
        body,
        attributes,
        ALLOWED_ANCESTORS=TEAM_1,
        TRIGGER_TOPIC=TOPIC,
        SWEEP_SCOPES=OWN_PAIR,
        **{**QUICK, **env},
    )
    assert handled.results == [], _details(handled)
    assert handled.continuations == []
    assert any("the budget could not be read yet" in r for r in handled.transient_failures)
    assert (job_state(admin, inside), job_state(admin, own)) == ("RUNNING", "RUNNING")
    assert _calls(admin, "dataproc") == []


def test_a_budget_read_past_the_billing_request_budget_is_redelivered(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: as above, when the instance's Budget API request budget has no slot
    before the deadline (one a minute here: a first notification took it, and a second
    budget's notification comes to the same instance)."""
    inside = seed_job(admin, "org-f1-p1", "us-central1", "a")
    own = seed_job(admin, PROJECT, "us-central1", "b")
    runtime = Runtime(
        environ(
            emulator,
            ALLOWED_ANCESTORS=TEAM_1,
            TRIGGER_TOPIC=TOPIC,
            SWEEP_SCOPES=OWN_PAIR,
            BILLING_REQUESTS_PER_MINUTE="1",
            **QUICK,
        )
    )
    body, attributes = budget_notification(WHOLE_ACCOUNT_BUDGET_ID)
    first = handle(emulator, body, attributes, message_id="m-1", runtime=runtime)
    assert first.transient_failures == [] and len(first.children) == 1, first.transient_failures
    admin.clear_requests()
    body, attributes = budget_notification()
    handled = handle(emulator, body, attributes, message_id="m-2", runtime=runtime)
    assert handled.results == [], _details(handled)
    assert handled.continuations == []
    assert any("the budget could not be read yet" in r for r in handled.transient_failures)
    assert (job_state(admin, inside), job_state(admin, own)) == ("RUNNING", "RUNNING")
    assert admin.requests() == []  # no slot: nothing was sent


@pytest.mark.parametrize("status", [403, 404])
def test_a_budget_refused_for_good_falls_back_to_sweep_scopes(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any], status: int
) -> None:
    """Defect guarded: the redelivery of transient failures swallowing permanent ones. A
    budget Billing refuses for good (403, 404) is never readable: SWEEP_SCOPES is swept
    and the message acked, not redelivered until dead-lettered."""
    inside = seed_job(admin, "org-f1-p1", "us-central1", "a")
    own = seed_job(admin, PROJECT, "us-central1", "b")
    admin.add_fault(pathRegex=r"/budgets/", status=status, times=-1)
    body, attributes = budget_notification()
    handled = handle(
        emulator,
        body,
        attributes,
        ALLOWED_ANCESTORS=TEAM_1,
        TRIGGER_TOPIC=TOPIC,
        SWEEP_SCOPES=OWN_PAIR,
        **FAST,
    )
    assert handled.transient_failures == [], handled.transient_failures
    assert (job_state(admin, inside), job_state(admin, own)) == ("RUNNING", "CANCELLED")
    assert "SWEEP_SCOPES swept instead" in _summary(handled).detail


# ---- 4. Resource Manager not answering is not a refusal --------------------------------


def test_a_folder_sweep_fans_out_a_project_resource_manager_cannot_place_yet(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: while projects.get answered 503, the parent answered org-f1-p1 (under
    ALLOWED_ANCESTORS) REJECTED "could not be placed" and fanned out no child: its work
    was never stopped, though nothing said it may not be. Now its child is sent (and
    re-checks the allowlist itself)."""
    job = seed_job(admin, "org-f1-p1", "us-central1", "a")
    admin.add_fault(**RM_503, times=-1)
    handled = handle(
        emulator,
        {"sweep": {"scopes": [TEAM_1]}},
        ALLOWED_ANCESTORS=TEAM_1,
        TRIGGER_TOPIC=TOPIC,
        **QUICK,
    )
    assert _rejected(handled) == [], _details(handled)
    assert _parts(handled) == ["projects/org-f1-p1"]
    assert job_state(admin, job) == "RUNNING"  # the parent stops nothing itself


def test_a_folder_past_the_resource_manager_request_budget_is_fanned_out_and_swept_whole(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: with more projects than the instance's Resource Manager request budget
    allows (here 2 a minute: one project and its folder), the projects past it were
    answered REJECTED for good and only the first was ever stopped. Now every project is
    fanned out, each child checks its own on its own instance, and all are stopped."""
    jobs = [seed_job(admin, f"org-f1-p{i}", "us-central1", "a") for i in (1, 2, 3)]
    run = follow_fan_out(
        emulator,
        {"sweep": {"scopes": [TEAM_1]}},
        limit=6,
        ALLOWED_ANCESTORS=TEAM_1,
        RESOURCE_MANAGER_REQUESTS_PER_MINUTE="2",
        **FAST,
    )
    assert _parts(run.handled[0]) == [f"projects/org-f1-p{i}" for i in (1, 2, 3)]
    assert [r for r in run.results if r.outcome is Outcome.REJECTED] == []
    assert [job_state(admin, job) for job in jobs] == ["CANCELLED"] * 3


@pytest.mark.parametrize(
    "fault, env",
    [(RM_503, {}), (None, {"RESOURCE_MANAGER_REQUESTS_PER_MINUTE": "1"})],
    ids=["resource-manager-503", "resource-manager-budget"],
)
def test_a_child_whose_project_cannot_be_checked_yet_asks_for_its_redelivery(
    emulator: Any,
    admin: EmulatorAdmin,
    org: dict[str, Any],
    fault: dict[str, Any] | None,
    env: dict[str, Any],
) -> None:
    """Defect: a child on a cold instance re-checks the allowlist; Resource Manager not
    answering (a 503, or the request budget out: projects.get takes the one slot, its
    folder finds none) made it answer its project REJECTED and ack, so the project the
    parent fanned out was never swept. Now it answers nothing and is redelivered, and
    the redelivery, once Resource Manager answers, stops the work."""
    job = seed_job(admin, "org-f1-p1", "us-central1", "a")
    parent = handle(
        emulator, {"sweep": {"scopes": [TEAM_1]}}, ALLOWED_ANCESTORS=TEAM_1, TRIGGER_TOPIC=TOPIC
    )
    (child,) = parent.children
    if fault:
        admin.add_fault(**fault, times=-1)
    admin.clear_requests()
    settings = {"ALLOWED_ANCESTORS": TEAM_1, "TRIGGER_TOPIC": TOPIC, **FAST}
    handled = handle(
        emulator, child.message, child.attributes(), message_id="c-1", **settings, **env
    )
    assert handled.results == [], _details(handled)
    assert handled.continuations == []
    assert any("allowlist could not be checked" in r for r in handled.transient_failures)
    assert job_state(admin, job) == "RUNNING"
    assert _calls(admin, "dataproc") == []

    admin.clear_faults()  # Pub/Sub redelivers the same message to a fresh instance
    redelivered = handle(emulator, child.message, child.attributes(), message_id="c-1", **settings)
    assert redelivered.transient_failures == [], redelivered.transient_failures
    assert job_state(admin, job) == "CANCELLED"


@pytest.mark.parametrize(
    "fault, env",
    [(RM_503, {}), (None, {"RESOURCE_MANAGER_REQUESTS_PER_MINUTE": "1"})],
    ids=["resource-manager-503", "resource-manager-budget"],
)
def test_a_named_job_whose_project_cannot_be_checked_yet_is_redelivered(
    emulator: Any,
    admin: EmulatorAdmin,
    org: dict[str, Any],
    fault: dict[str, Any] | None,
    env: dict[str, Any],
) -> None:
    """Defect: a job named in an allowed folder was answered REJECTED for good while
    Resource Manager did not answer. Alone in its message, nothing else can be done: no
    answer, and the message is redelivered (even with TRIGGER_TOPIC: a continuation of
    itself would be no progress)."""
    job = seed_job(admin, "org-f1-p1", "us-central1", "a")
    if fault:
        admin.add_fault(**fault, times=-1)
    handled = handle(
        emulator, {"job": job}, ALLOWED_ANCESTORS=TEAM_1, TRIGGER_TOPIC=TOPIC, **FAST, **env
    )
    assert handled.results == [], _details(handled)
    assert handled.continuations == []
    assert any("allowlist could not be checked" in r for r in handled.transient_failures)
    assert job_state(admin, job) == "RUNNING"


def test_named_jobs_whose_project_cannot_be_checked_yet_are_handed_on_beside_those_stopped(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: as above, in a list of names: the job Resource Manager could not place
    was REJECTED for good. Now the other job is stopped and the unchecked one goes on in
    a names continuation, which stops it once Resource Manager answers."""
    own = seed_job(admin, PROJECT, "us-central1", "own")
    placed = seed_job(admin, "org-f1-p1", "us-central1", "placed")
    admin.add_fault(**RM_503, times=-1)
    settings = {"ALLOWED_ANCESTORS": TEAM_1, "TRIGGER_TOPIC": TOPIC, **FAST}
    handled = handle(emulator, {"jobs": [own, placed]}, **settings)
    assert _rejected(handled) == [] and handled.transient_failures == [], _details(handled)
    assert [(r.outcome, r.target) for r in handled.results] == [(Outcome.CANCELLED, own)]
    assert (job_state(admin, own), job_state(admin, placed)) == ("CANCELLED", "RUNNING")
    assert handled.continuation is not None
    continuation = handled.continuation.message
    assert continuation["jobs"] == [placed]

    admin.clear_faults()
    after = handle(emulator, continuation, message_id="m-2", **settings)
    assert [(r.outcome, r.target) for r in after.results] == [(Outcome.CANCELLED, placed)]


def test_named_jobs_whose_project_cannot_be_checked_yet_are_redelivered_without_a_topic(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: as above, without TRIGGER_TOPIC to hand on to: the unchecked job was
    REJECTED for good. Now the other job is stopped and the message is redelivered."""
    own = seed_job(admin, PROJECT, "us-central1", "own")
    placed = seed_job(admin, "org-f1-p1", "us-central1", "placed")
    admin.add_fault(**RM_503, times=-1)
    handled = handle(emulator, {"jobs": [own, placed]}, ALLOWED_ANCESTORS=TEAM_1, **FAST)
    assert _rejected(handled) == [], _details(handled)
    assert any("allowlist could not be checked" in r for r in handled.transient_failures)
    assert handled.continuations == []
    assert (job_state(admin, own), job_state(admin, placed)) == ("CANCELLED", "RUNNING")


# ---- 5. scopeKinds is only for sweeps of projects/P/regions/R pairs --------------------


@pytest.mark.parametrize(
    "scopes, scope_kinds",
    [
        ([TEAM_1], {TEAM_1: ["jobs"]}),
        ([ORGANISATION], {ORGANISATION: ["jobs"]}),
        (["projects/org-f1-p1"], {"projects/org-f1-p1": ["jobs"]}),
        (
            ["projects/org-f1-p2", "projects/org-f1-p1/regions/us-central1"],
            {"projects/org-f1-p1/regions/us-central1": ["jobs"]},
        ),
    ],
    ids=["folder", "organisation", "project", "pair-beside-a-project"],
)
def test_scope_kinds_on_a_sweep_with_a_wide_scope_is_rejected_at_decode(
    emulator: Any,
    admin: EmulatorAdmin,
    org: dict[str, Any],
    scopes: list[str],
    scope_kinds: dict[str, list[str]],
) -> None:
    """Defect: scopeKinds with a wide scope was accepted, then thrown away by the
    fan-out (the children's scopeKinds are rebuilt from the search, explicit pairs get
    every kind): the cluster in org-f1-p1/us-central1, which the message said to leave,
    was stopped. Now the message is refused whole before any call."""
    cluster = "projects/org-f1-p1/regions/us-central1/clusters/keep"
    admin.seed_cluster(name=cluster, state="RUNNING")
    job = seed_job(admin, "org-f1-p1", "us-central1", "a")
    admin.clear_requests()
    sweep = {"scopes": scopes, "kinds": ["jobs", "clusters"], "scopeKinds": scope_kinds}
    handled = handle(
        emulator,
        {"sweep": sweep},
        ALLOWED_ANCESTORS=ORGANISATION,
        ALLOWED_PROJECTS=PROJECT,
        TRIGGER_TOPIC=TOPIC,
        **QUICK,
    )
    (rejected,) = handled.results
    assert rejected.outcome is Outcome.REJECTED
    assert "scopeKinds is only for sweeps of projects/P/regions/R" in rejected.detail
    assert handled.continuations == []
    assert admin.requests() == []
    assert (_cluster_state(admin, cluster), job_state(admin, job)) == ("RUNNING", "RUNNING")


def test_scope_kinds_still_narrow_a_sweep_of_pairs(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect guarded: refusing scopeKinds everywhere. On a sweep of pairs it still
    narrows: jobs only in org-f1-p1/us-central1 leaves the cluster there running."""
    cluster = "projects/org-f1-p1/regions/us-central1/clusters/keep"
    admin.seed_cluster(name=cluster, state="RUNNING")
    job = seed_job(admin, "org-f1-p1", "us-central1", "a")
    pair = "projects/org-f1-p1/regions/us-central1"
    sweep = {"scopes": [pair], "kinds": ["jobs", "clusters"], "scopeKinds": {pair: ["jobs"]}}
    handled = handle(emulator, {"sweep": sweep}, ALLOWED_ANCESTORS=TEAM_1, **FAST)
    assert _rejected(handled) == [], _details(handled)
    assert (_cluster_state(admin, cluster), job_state(admin, job)) == ("RUNNING", "CANCELLED")


# ---- 6. A search not read now goes on in a continuation --------------------------------


@pytest.mark.parametrize(
    "fault, env",
    [
        ({"pathRegex": r"folders/2002:searchAllResources", "status": 503, "retryAfter": "60"}, {}),
        (None, {"CLOUD_ASSET_REQUESTS_PER_MINUTE": "1"}),  # the first search takes the slot
    ],
    ids=["asset-503", "asset-request-budget"],
)
def test_a_search_failing_for_now_goes_on_in_a_continuation_of_that_scope(
    emulator: Any,
    admin: EmulatorAdmin,
    org: dict[str, Any],
    fault: dict[str, Any] | None,
    env: dict[str, Any],
) -> None:
    """Defect: two folders, the second's search failing for now (a 503, or no Cloud
    Asset request slot before the deadline): the parent fanned out the first folder's
    project and acked, and nothing ever searched the second folder again. Now the parent
    hands on a continuation over just that folder (fanOut.complete false), which finds
    and stops its work."""
    first = seed_job(admin, "org-f1-p1", "us-central1", "a")
    second = seed_job(admin, "org-f2-p1", "us-central1", "b")
    if fault:
        admin.add_fault(**fault, times=1)  # the continuation's search is answered
    run = follow_fan_out(
        emulator,
        {"sweep": {"scopes": [TEAM_1, TEAM_2]}},
        limit=6,
        ALLOWED_ANCESTORS=ORGANISATION,
        **FAST,
        **env,
    )
    parent = run.handled[0]
    assert parent.transient_failures == [], parent.transient_failures
    assert _parts(parent) == ["projects/org-f1-p1"]
    assert parent.continuation is not None
    handed_on = parent.continuation.message["sweep"]
    assert handed_on["scopes"] == [TEAM_2] and "budget" not in handed_on
    assert handed_on["continuation"] == {"sweepId": "sweep-m-0", "generation": 1}
    assert _summary(parent).provenance.sweep["fanOut"]["complete"] is False
    assert (job_state(admin, first), job_state(admin, second)) == ("CANCELLED", "CANCELLED")


def test_a_message_that_could_search_nothing_asks_for_its_redelivery(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect guarded: handing on a copy of a message that made no progress (every
    search failing for now). That is a redelivery, which Pub/Sub's backoff spaces."""
    job = seed_job(admin, "org-f1-p1", "us-central1", "a")
    admin.add_fault(pathRegex=r":searchAllResources", status=503, retryAfter="60", times=-1)
    handled = handle(
        emulator,
        {"sweep": {"scopes": [TEAM_1, TEAM_2]}},
        ALLOWED_ANCESTORS=ORGANISATION,
        TRIGGER_TOPIC=TOPIC,
        **QUICK,
    )
    assert any("no search could be read" in r for r in handled.transient_failures)
    assert handled.continuations == []
    assert job_state(admin, job) == "RUNNING"


def test_a_fan_out_that_could_not_search_a_scope_is_not_complete(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: sweep.fanOut.complete stayed true when a whole scope could not be
    searched (only pages cut short cleared it): a consumer reading the flag believed the
    sweep's scope was covered."""
    seed_job(admin, "org-f1-p1", "us-central1", "a")
    admin.add_fault(pathRegex=r"folders/2002:searchAllResources", status=403, times=-1)
    handled = handle(
        emulator,
        {"sweep": {"scopes": [TEAM_1, TEAM_2]}},
        ALLOWED_ANCESTORS=ORGANISATION,
        TRIGGER_TOPIC=TOPIC,
        **QUICK,
    )
    fan_out = _summary(handled).provenance.sweep["fanOut"]
    assert fan_out["searched"] == [TEAM_1] and len(fan_out["failed"]) == 1
    assert fan_out["complete"] is False, fan_out
    assert handled.continuation is None  # refused for good: not handed on


# ---- 7. A whole-account budget reaches every billed project ----------------------------


def test_a_whole_account_budget_reaches_every_billed_project_through_its_continuations(
    emulator: Any, admin: EmulatorAdmin
) -> None:
    """Defect: ALLOWED_PROJECTS=* and a budget over the whole billing account (105
    billed projects, one search each): only the first 100 in name order were ever
    searched, the same cut on every notification, so work in org-f1-p99 (last in name
    order) was never stopped. Now the searches past 50 a message go on in continuations
    that carry the budget, until every billed project has been searched once."""
    description = fake_organisation(
        folders=1, projects_per_folder=105, subfolders=0, org_projects=0
    )
    admin.seed_organisation(description)
    billed = sorted(p["projectId"] for p in description["projects"])
    last = seed_job(admin, "org-f1-p99", "us-central1", "a")
    body, attributes = budget_notification(WHOLE_ACCOUNT_BUDGET_ID)
    run = follow_fan_out(emulator, body, attributes, limit=10, ALLOWED_PROJECTS="*", **FAST)

    first = run.handled[0]
    assert first.continuation is not None
    handed_on = first.continuation.message["sweep"]
    assert (
        handed_on["budget"]
        == f"billingAccounts/{BILLING_ACCOUNT}/budgets/{WHOLE_ACCOUNT_BUDGET_ID}"
    )
    assert handed_on["scopes"] == [f"projects/{p}" for p in billed[50:]]
    assert "55 search scope(s) handed on to a continuation" in _summary(first).detail
    searched = [
        scope
        for handled in run.handled
        for result in handled.results
        if result.outcome is Outcome.SWEEP_SUMMARY and "fanOut" in result.provenance.sweep
        for scope in result.provenance.sweep["fanOut"]["searched"]
    ]
    assert sorted(searched) == [f"projects/{p}" for p in billed]
    assert [c.part for h in run.handled for c in h.children] == ["projects/org-f1-p99"]
    assert job_state(admin, last) == "CANCELLED"


def test_a_budget_with_searches_past_fifty_says_its_fan_out_is_not_complete(
    emulator: Any, admin: EmulatorAdmin
) -> None:
    """Defect guarded: a consumer reading sweep.fanOut.complete believing a budget's
    scope was covered by one message when part of it was handed on (result.schema.json:
    false when "more scopes were to be searched than one message does")."""
    admin.seed_organisation(
        fake_organisation(folders=1, projects_per_folder=51, subfolders=0, org_projects=0)
    )
    body, attributes = budget_notification(WHOLE_ACCOUNT_BUDGET_ID)
    handled = handle(emulator, body, attributes, ALLOWED_PROJECTS="*", TRIGGER_TOPIC=TOPIC, **QUICK)
    assert handled.continuation is not None
    assert _summary(handled).provenance.sweep["fanOut"]["complete"] is False


# ---- 8, 11, 12. What the search looks for ------------------------------------------------


def test_work_labelled_not_exempt_is_found_and_stopped(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: the search left out `labels.dataproc-canceller:exempt`, a word match, so
    a job labelled `not-exempt` (words "not", "exempt") was never found, though the
    function's exemption is exact and a sweep of its region stops it."""
    job = seed_job(
        admin, "org-f1-p1", "us-central1", "a", labels={"dataproc-canceller": "not-exempt"}
    )
    run = follow_fan_out(
        emulator, {"sweep": {"scopes": [TEAM_1]}}, limit=5, ALLOWED_ANCESTORS=TEAM_1, **FAST
    )
    assert _parts(run.handled[0]) == ["projects/org-f1-p1"]
    assert job_state(admin, job) == "CANCELLED"


def test_exempt_work_is_found_and_left_running_by_its_child(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect guarded: exemption judged by a word-matching search term. The search finds
    exempt work too (no label term), and the child, which judges the label exactly as
    every sweep does, leaves it running."""
    job = seed_job(admin, "org-f1-p1", "us-central1", "a", labels={"dataproc-canceller": "exempt"})
    admin.clear_requests()
    run = follow_fan_out(
        emulator, {"sweep": {"scopes": [TEAM_1]}}, limit=5, ALLOWED_ANCESTORS=TEAM_1, **FAST
    )
    assert _parts(run.handled[0]) == ["projects/org-f1-p1"]
    assert all("labels" not in r["query"]["query"] for r in _calls(admin, "cloudasset"))
    assert job_state(admin, job) == "RUNNING"


def test_an_exempt_label_with_an_empty_value_leaves_organisation_searches_working(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: EXEMPT_LABEL=keep= (an empty value is a real label) made the search term
    `NOT labels.keep:`, which Cloud Asset answers 400: every fan-out searched nothing."""
    job = seed_job(admin, "org-f1-p1", "us-central1", "a")
    run = follow_fan_out(
        emulator,
        {"sweep": {"scopes": [TEAM_1]}},
        limit=5,
        ALLOWED_ANCESTORS=TEAM_1,
        EXEMPT_LABEL="keep=",
        **FAST,
    )
    assert _summary(run.handled[0]).provenance.sweep["fanOut"]["failed"] == []
    assert job_state(admin, job) == "CANCELLED", [d for h in run.handled for d in _details(h)]


def test_a_finished_batch_is_not_found_and_costs_no_child_or_dataproc_call(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: the search left out only the ended states of the swept kinds, but it
    searches batches too (operations are found by them), and SUCCEEDED was no swept
    kind's: a project whose only Dataproc resource was a finished batch got a child and
    Dataproc listings on every sweep."""
    admin.seed_batch(name="projects/org-f1-p1/locations/us-west1/batches/old", state="SUCCEEDED")
    admin.clear_requests()
    run = follow_fan_out(
        emulator, {"sweep": {"scopes": [TEAM_1]}}, limit=5, ALLOWED_ANCESTORS=TEAM_1, **FAST
    )
    assert len(run.handled) == 1 and run.handled[0].children == []
    assert _summary(run.handled[0]).provenance.sweep["fanOut"]["searched"] == [TEAM_1]
    assert _calls(admin, "dataproc") == []


# ---- 10. Children answer under keys of their own; a child sweeps at most 50 pairs ------


def _late(message: dict[str, Any], attributes: dict[str, str], message_id: str) -> CloudEvent:
    """``message`` delivered an hour after it was published."""
    published = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//test",
            "id": message_id,
        },
        {
            "message": {
                "data": base64.b64encode(json.dumps(message).encode()).decode(),
                "attributes": attributes,
                "messageId": message_id,
                "publishTime": published,
            }
        },
    )


def test_expired_children_of_one_sweep_answer_under_keys_of_their_own(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: children delivered after MAX_EVENT_AGE_SECONDS each answered ERROR
    "expired" under the one dedupeKey `sweep-m-0/message`: a consumer deduplicating by
    key saw one expired child, not one per project. Now each key carries its part."""
    seed_job(admin, "org-f1-p1", "us-central1", "a")
    seed_job(admin, "org-f1-p2", "us-central1", "b")
    parent = handle(
        emulator,
        {"sweep": {"scopes": [TEAM_1]}},
        message_id="m-0",
        ALLOWED_ANCESTORS=TEAM_1,
        TRIGGER_TOPIC=TOPIC,
    )
    assert len(parent.children) == 2
    runtime = Runtime(
        environ(emulator, ALLOWED_ANCESTORS=TEAM_1, TRIGGER_TOPIC=TOPIC, MAX_EVENT_AGE_SECONDS="60")
    )
    keys = []
    for number, child in enumerate(parent.children):
        trigger = decode_trigger(_late(child.message, child.attributes(), f"c-{number}"))
        handled = handle_trigger(trigger, runtime.settings(), runtime.dataproc, runtime.directory)
        (expired,) = handled.results
        assert expired.outcome is Outcome.ERROR and "expired" in expired.detail
        keys.append(expired.key)
    assert keys == [f"sweep-m-0/projects/org-f1-p{i}/message" for i in (1, 2)]


def test_children_rejected_whole_answer_under_keys_of_their_own(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: two children of one sweep refused whole (here each naming 51 pairs, as
    the parent once sent them) answered under the one dedupeKey `sweep-m-0/message`, so
    a consumer deduplicating by key kept one refusal and lost the other."""
    keys = []
    for number in (1, 2):
        part = f"projects/org-f1-p{number}"
        child = {
            "sweep": {
                "scopes": [f"{part}/regions/xx-region{i}" for i in range(1, 52)],
                "kinds": ["operations"],
                "continuation": {"sweepId": "sweep-m-0", "generation": 1, "part": part},
            }
        }
        handled = handle(
            emulator, child, message_id=f"c-{number}", ALLOWED_ANCESTORS=TEAM_1, **QUICK
        )
        (rejected,) = handled.results
        assert rejected.outcome is Outcome.REJECTED and "51 scopes" in rejected.detail
        keys.append(rejected.key)
    assert keys == [f"sweep-m-0/projects/org-f1-p{i}/message" for i in (1, 2)]


def test_a_project_with_more_than_fifty_pairs_gets_a_child_of_fifty_and_the_rest_is_said(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: with SWEEP_REGIONS past 50 regions, every child carried more than 50
    (region, kinds) pairs and was refused whole ("the sweep names 52 scopes"): nothing
    in any project was stopped. Now a child sweeps the first 50 (its jobs' region among
    them) and the parent's summary says the rest were NOT swept."""
    regions = [f"xx-region{i}" for i in range(1, 52)]
    jobs = [seed_job(admin, f"org-f1-p{i}", "us-central1", "a") for i in (1, 2)]
    run = follow_fan_out(
        emulator,
        {"sweep": {"scopes": [TEAM_1]}},
        limit=5,
        ALLOWED_ANCESTORS=TEAM_1,
        DATAPROC_REGIONS=",".join(["us-central1", *regions]),
        SWEEP_REGIONS=",".join(regions),
        **FAST,
    )
    parent, children = run.handled[0], run.handled[1:]
    assert [len(c.message["sweep"]["scopes"]) for c in parent.children] == [50, 50]
    assert all(
        f"projects/org-f1-p{i}/regions/us-central1" in c.message["sweep"]["scopes"]
        for i, c in zip((1, 2), parent.children, strict=True)
    )
    detail = _summary(parent).detail
    assert "projects/org-f1-p1 has 52 (region, kinds) pairs" in detail
    assert "the rest NOT swept" in detail
    assert [r for h in children for r in _rejected(h)] == []
    assert [job_state(admin, job) for job in jobs] == ["CANCELLED", "CANCELLED"]


# ---- 14. A child sweeps only its own part -------------------------------------------------


@pytest.mark.parametrize(
    "scopes",
    [
        ["projects/org-f1-p1/regions/us-central1"],
        ["projects/org-f1-p2/regions/us-central1", "projects/org-f1-p1/regions/us-central1"],
        ["projects/org-f1-p20/regions/us-central1"],  # a project whose id starts with p2's
    ],
    ids=["another-project", "one-scope-outside", "a-longer-project-id"],
)
def test_a_child_sweeping_outside_its_part_is_rejected_at_decode(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any], scopes: list[str]
) -> None:
    """Defect: a forged child saying part projects/org-f1-p2 but sweeping org-f1-p1 was
    obeyed, and its results were booked under org-f1-p2 (and its summary took the real
    org-f1-p2 child's dedupeKey). Now it is refused whole before any call."""
    jobs = [
        seed_job(admin, p, "us-central1", "a") for p in ("org-f1-p1", "org-f1-p2", "org-f1-p20")
    ]
    admin.clear_requests()
    forged = {
        "sweep": {
            "scopes": scopes,
            "kinds": ["jobs"],
            "continuation": {"sweepId": "sweep-m-1", "generation": 1, "part": "projects/org-f1-p2"},
        }
    }
    handled = handle(
        emulator, forged, ALLOWED_ANCESTORS=TEAM_1, ALLOWED_PROJECTS="org-f1-p20", **QUICK
    )
    (rejected,) = handled.results
    assert rejected.outcome is Outcome.REJECTED
    assert "sweeps only projects/org-f1-p2/regions/R scopes" in rejected.detail
    assert admin.requests() == []
    assert [job_state(admin, job) for job in jobs] == ["RUNNING"] * 3


# ---- 15, 16. Each scope searched once; errors carry Google's reason ----------------------


def test_a_sweep_naming_one_folder_fifty_times_makes_one_search(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: the scopes were searched as given, so 50 copies of one folder in a 2 KiB
    message were 50 searches of the same resources, each up to 200 pages."""
    handled = handle(
        emulator,
        {"sweep": {"scopes": [TEAM_1] * 50}},
        ALLOWED_ANCESTORS=TEAM_1,
        TRIGGER_TOPIC=TOPIC,
        **QUICK,
    )
    assert len(_calls(admin, "cloudasset")) == 1
    assert _summary(handled).provenance.sweep["fanOut"]["searched"] == [TEAM_1]


def test_an_organisation_api_error_carries_googles_status_and_message_not_the_url(
    emulator: Any, admin: EmulatorAdmin, org: dict[str, Any]
) -> None:
    """Defect: an organisation API error was told as google-api-core's message, which
    starts with "GET <the whole URL with its query>": results (which promise no URL)
    carried the endpoint, and the 200-character cut fell before Google's reason."""
    handled = handle(
        emulator,
        {"sweep": {"scopes": [TEAM_1, "folders/9999"]}},
        ALLOWED_ANCESTORS=TEAM_1,
        TRIGGER_TOPIC=TOPIC,
        **QUICK,
    )
    (failed,) = _summary(handled).provenance.sweep["fanOut"]["failed"]
    assert "403 PERMISSION_DENIED Request denied by Cloud IAM." in failed, failed
    host = emulator.base_url.removeprefix("http://")
    assert "http://" not in failed and host not in failed and "pageSize" not in failed
