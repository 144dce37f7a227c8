"""End to end, as deployed, at organisation scale: a budget over a folder of 200 projects
in 5 regions, with live work in 30 (project, region) pairs.

Pub/Sub emulator -> push subscription -> functions-framework running main.stop_dataproc_work
-> Billing Budgets, Cloud Billing, Resource Manager, Cloud Asset and Dataproc (all served
by the Dataproc emulator from one fake organisation) -> one child sweep per project
published on the trigger topic and pushed back to the function -> results topic.

The organisation (``fake_organisation(folders=2, projects_per_folder=40, subfolders=4,
other_account_projects=2)``): folder team-1 (folders/2001) holds org-f1-p1..p40 and four
subfolders (folders/2101..2104) of 40 projects each, org-f1s{k}-p{j}: the 200 projects
the budget (BUDGET_ID, over folders/2001) covers; it also holds org-f1-x1 and org-f1-x2,
paid for by another billing account. Team-2 (folders/2002) holds org-f2-p1..p40, and
org-o-p1 sits under the organisation itself.

The allowlist: ALLOWED_ANCESTORS is the four subfolders and team-2, ALLOWED_PROJECTS
org-f1-p1, org-f1-p2 and, outside the budget, org-f1-x1 and org-o-p1. So the budget's
projects org-f1-p3..p40 may not be acted on, and every project outside the budget where
work is seeded IS allowed: only the budget's scope keeps that work from being stopped.

The 30 pairs with live work in the budget's 200 projects:

- 24 pairs, 2 in each of 12 allowed projects, each with 5 targets (120 in all) that stop
  0.2 s after they are asked, and one exempt neighbour of a kind listed there (label
  ``dataproc-canceller=exempt``), by recipe: 5 jobs; 3 sessions and 2 jobs; 3 batches
  (swept through their operations) and 2 sessions; a cluster with 2 jobs on it and 2 other
  jobs (the notification reaches the ``clusters`` rung of BUDGET_LADDER);
- 3 pairs with only exempt work, in allowed projects (one of them org-f1-p2, which has
  stoppable work elsewhere): Cloud Asset finds it and the children judge it, so they
  are listed and left alone;
- 3 pairs in org-f1-p3 and org-f1-p4, not allowed: each project is answered REJECTED.

Besides: a job in team-2, a job in org-f1-x1 (inside the folder, paid by the other
account), a session in org-o-p1, and a job that already ended in a budget project.

Dataproc requests per stopped target are not held to a bound here: with 5 targets a pair
they come to about 3.2 (each child lists every kind found in each of its pairs, and
operations where batches or clusters are, and watches each kind with a listing a round;
a pair of exempt work only costs its listings): benchmarks/org_sweep.py measures them
beside the same work in one project. What is held: one stop per target, none to anything
else, and no Dataproc request at all to a pair without live work the function may act on.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from dataproc_emulator.admin import EmulatorAdmin
from dataproc_emulator.fake_org import BILLING_ACCOUNT, BUDGET_ID, fake_organisation
from local_stack import LocalStack, PubSubEmulator
from local_stack.stack import TRIGGER_TOPIC
from tests.support.discovery import DOCUMENTS, Discovery, document
from tests.support.e2e import ResultInbox

pytestmark = pytest.mark.e2e

PROJECT = "demo-project"
REGIONS = ("us-central1", "us-east1", "us-west1", "europe-west1", "asia-east1")
TEAM_1 = "folders/2001"
SUBFOLDERS = ("folders/2101", "folders/2102", "folders/2103", "folders/2104")
TEAM_2 = "folders/2002"
EXEMPT = {"dataproc-canceller": "exempt"}
# 12 allowed projects of the budget, 2 pairs of stoppable work each.
WORKING = (
    "org-f1-p1",
    "org-f1-p2",
    "org-f1s1-p1",
    "org-f1s1-p20",
    "org-f1s1-p40",
    "org-f1s2-p2",
    "org-f1s2-p33",
    "org-f1s3-p5",
    "org-f1s3-p18",
    "org-f1s4-p9",
    "org-f1s4-p27",
    "org-f1s4-p40",
)
REFUSED = ("org-f1-p3", "org-f1-p4")
STOP_SECONDS = 0.2  # how long each target takes to stop once asked


@dataclass
class Scenario:
    """What was seeded: by kind, the names to be stopped and the names to be left."""

    stopped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    untouched: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    pairs: set[tuple[str, str]] = field(default_factory=set)  # with work to stop
    exempt_only: set[tuple[str, str]] = field(default_factory=set)  # allowed, all exempt
    refused: set[tuple[str, str]] = field(default_factory=set)  # projects not allowed
    in_budget: int = 0  # live resources in the budget's projects: what Cloud Asset finds
    exempt: int = 0  # exempt resources in the allowed pairs: what the children leave
    ended: str = ""  # a job that ended before the notification

    @property
    def targets(self) -> list[str]:
        return [name for names in self.stopped.values() for name in names]

    @property
    def allowed(self) -> set[tuple[str, str]]:
        """The pairs of allowed projects of the budget with live work: where the children
        list (exempt work is judged by them, not by Cloud Asset's query)."""
        return self.pairs | self.exempt_only


@pytest.fixture(scope="module")
def stack(pubsub_emulator: PubSubEmulator) -> Iterator[LocalStack]:
    env = {
        "VERIFY_TIMEOUT_SECONDS": "10",
        "RETRY_DEADLINE_SECONDS": "10",
        "ALLOWED_PROJECTS": ",".join((PROJECT, "org-f1-p1", "org-f1-p2", "org-f1-x1", "org-o-p1")),
        "ALLOWED_ANCESTORS": ",".join((*SUBFOLDERS, TEAM_2)),
        "TRIGGER_TOPIC": f"projects/{PROJECT}/topics/{TRIGGER_TOPIC}",
        "BUDGET_LADDER": "0.5:report,1.2:clusters",
    }
    with LocalStack(PROJECT, function_env=env, pubsub=pubsub_emulator) as running:
        yield running


def _seed(admin: EmulatorAdmin) -> Scenario:
    admin.seed_organisation(
        fake_organisation(folders=2, projects_per_folder=40, subfolders=4, other_account_projects=2)
    )
    seen = Scenario()
    serial = Counter[str]()

    exempt_in: Counter[tuple[str, str]] = Counter()

    def name(project: str, region: str, kind: str) -> str:
        serial[kind] += 1
        place = "locations" if kind in ("sessions", "batches") else "regions"
        return f"projects/{project}/{place}/{region}/{kind}/{kind[:-1]}-{serial[kind]}"

    def keep(kind: str, name: str, stop: bool, seed: dict[str, Any]) -> None:
        """Live work, to be stopped or left; counted where the fan-out counts it."""
        (seen.stopped if stop else seen.untouched)[kind].append(name)
        project, region = name.split("/")[1], name.split("/")[3]
        seen.in_budget += re.fullmatch(r"org-f1(?:s[1-4])?-p[0-9]+", project) is not None
        exempt_in[(project, region)] += seed.get("labels") == EXEMPT

    def job(project: str, region: str, stop: bool, **seed: Any) -> None:
        job_name = name(project, region, "jobs")
        admin.seed_job(name=job_name, cancelSeconds=STOP_SECONDS, **seed)
        keep("job", job_name, stop, seed)

    def session(project: str, region: str, stop: bool, **seed: Any) -> None:
        session_name = name(project, region, "sessions")
        admin.seed_session(name=session_name, terminateSeconds=STOP_SECONDS, **seed)
        keep("session", session_name, stop, seed)

    def batch(project: str, region: str, stop: bool, **seed: Any) -> None:
        batch_name = name(project, region, "batches")
        seeded = admin.seed_batch(
            name=batch_name, operation={"cancelSeconds": STOP_SECONDS}, **seed
        )
        keep("operation", seeded["operation"], stop, seed)

    def cluster(project: str, region: str, stop: bool, **seed: Any) -> str:
        cluster_name = name(project, region, "clusters")
        admin.seed_cluster(name=cluster_name, stopSeconds=STOP_SECONDS, **seed)
        keep("cluster", cluster_name, stop, seed)
        return cluster_name.rsplit("/", 1)[1]

    def recipe(index: int, project: str, region: str) -> None:
        if index % 4 == 0:
            for _ in range(5):
                job(project, region, True)
            job(project, region, False, labels=EXEMPT)
        elif index % 4 == 1:
            for _ in range(3):
                session(project, region, True)
            for _ in range(2):
                job(project, region, True)
            session(project, region, False, labels=EXEMPT)
        elif index % 4 == 2:
            for _ in range(3):
                batch(project, region, True)
            for _ in range(2):
                session(project, region, True)
            batch(project, region, False, labels=EXEMPT)
        else:
            busy = cluster(project, region, True)
            for _ in range(2):
                job(project, region, True, clusterName=busy)
            for _ in range(2):
                job(project, region, True)
            cluster(project, region, False, labels=EXEMPT)

    index = 0
    for number, project in enumerate(WORKING):
        for region in (REGIONS[number % 5], REGIONS[(number + 2) % 5]):
            recipe(index, project, region)
            index += 1
            seen.pairs.add((project, region))
    # Only exempt work: listed by a child, nothing stopped.
    job("org-f1s2-p7", "us-east1", False, labels=EXEMPT)
    session("org-f1s2-p7", "us-east1", False, labels=EXEMPT)
    cluster("org-f1s3-p9", "europe-west1", False, labels=EXEMPT)
    batch("org-f1-p2", "us-west1", False, labels=EXEMPT)
    # Not allowed: answered REJECTED by project, never called.
    job("org-f1-p3", "us-central1", False)
    job("org-f1-p3", "us-central1", False)
    session("org-f1-p3", "asia-east1", False)
    batch("org-f1-p4", "us-west1", False)
    seen.exempt_only = {
        ("org-f1s2-p7", "us-east1"),
        ("org-f1s3-p9", "europe-west1"),
        ("org-f1-p2", "us-west1"),
    }
    seen.refused = {
        ("org-f1-p3", "us-central1"),
        ("org-f1-p3", "asia-east1"),
        ("org-f1-p4", "us-west1"),
    }
    # Outside the budget, though allowed: team 2, another billing account, the org itself.
    job("org-f2-p1", "us-central1", False)
    job("org-f1-x1", "us-east1", False)
    session("org-o-p1", "europe-west1", False)
    # Ended before the notification: not live work.
    seen.ended = name("org-f1s4-p12", "us-west1", "jobs")
    admin.seed_job(name=seen.ended, state="DONE")
    seen.exempt = sum(exempt_in[pair] for pair in seen.allowed)
    return seen


def _notification() -> tuple[dict[str, Any], dict[str, str]]:
    """As Cloud Billing publishes it: 150 of a 100 budget, the clusters rung (1.2)."""
    body = {
        "budgetDisplayName": "team-1 monthly",
        "alertThresholdExceeded": 1.0,
        "costAmount": 150.0,
        "costIntervalStart": "2026-12-01T08:00:00Z",
        "budgetAmount": 100.0,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "USD",
    }
    attributes = {
        "billingAccountId": BILLING_ACCOUNT,
        "budgetId": BUDGET_ID,
        "schemaVersion": "1.0",
    }
    return body, attributes


def _state(admin: EmulatorAdmin, kind: str, name: str) -> str:
    """The word that says whether it was stopped: CANCELLED, TERMINATED, STOPPED, or
    else what it is (RUNNING, ACTIVE, ...)."""
    if kind == "job":
        return str(admin.job_internals(name)["job"]["status"]["state"])
    if kind == "session":
        return str(admin.session_internals(name)["session"]["state"])
    if kind == "cluster":
        return str(admin.cluster_internals(name)["cluster"]["status"]["state"])
    operation = admin.operation_internals(name)["operation"]
    if not operation.get("done"):
        return "RUNNING"
    return "CANCELLED" if operation.get("error", {}).get("code") == 1 else "DONE"


STOPPED = {
    "job": "CANCELLED",
    "session": "TERMINATED",
    "cluster": "STOPPED",
    "operation": "CANCELLED",
}
RUNNING = {"job": "RUNNING", "session": "ACTIVE", "cluster": "RUNNING", "operation": "RUNNING"}


def _pair(path: str) -> tuple[str, str] | None:
    """The (project, region) of a Dataproc request's path; None for the other APIs'."""
    parts = path.split("/")
    if len(parts) > 5 and parts[2] == "projects" and parts[4] in ("regions", "locations"):
        return parts[3], parts[5].split(":", 1)[0]
    return None


def test_a_budget_over_a_folder_of_200_projects_stops_what_it_covers_and_nothing_else(
    stack: LocalStack, inbox: ResultInbox
) -> None:
    admin = inbox.admin
    seen = _seed(admin)
    live_pairs = seen.pairs | seen.exempt_only | seen.refused
    assert (len(live_pairs), len(seen.pairs), len(seen.targets)) == (30, 24, 120)
    parts = sorted({f"projects/{project}" for project, _ in seen.allowed})
    assert len(parts) == len(WORKING) + 2  # and the two whose work is all exempt
    admin.clear_requests()

    body, attributes = _notification()
    message_id = inbox.publish(body, attributes)
    sweep_id = f"sweep-{message_id}"
    # Every target's result, one REJECTED per refused project, the parent's summary and
    # one summary per child.
    expected = len(seen.targets) + len(REFUSED) + 1 + len(parts)
    try:
        results = inbox.results_where(
            lambda r: r.get("sweep", {}).get("id") == sweep_id, expected, timeout=120
        )
    except AssertionError as error:  # say what the function said it did
        said = [line[:400] for line in stack.function.log_lines() if "WARNING" in line]
        raise AssertionError(f"{error}; the function's warnings: {said[-10:]}") from None

    # The parent: the budget's real scope, one search, one child per allowed project.
    (parent,) = [r for r in results if "fanOut" in r["sweep"]]
    assert (parent["trigger"]["messageId"], parent["rung"]["action"]) == (message_id, "clusters")
    fan_out = parent["sweep"]["fanOut"]
    assert fan_out["budgetScope"]["resourceAncestors"] == [TEAM_1]
    assert fan_out["budgetScope"]["billedProjects"] == 241  # every project of its account
    assert (fan_out["searched"], fan_out["pages"], fan_out["complete"]) == ([TEAM_1], 1, True)
    assert fan_out["assets"] == seen.in_budget  # not the other account's, nor outside
    assert (fan_out["projects"], fan_out["refused"]) == (len(parts) + len(REFUSED), 2)
    assert (fan_out["pairs"], fan_out["children"]) == (len(seen.allowed), len(parts))
    rejected = {r["target"]: r for r in results if r["outcome"] == "REJECTED"}
    assert sorted(rejected) == [f"projects/{p}" for p in REFUSED]
    assert all("nor under ALLOWED_ANCESTORS" in r["detail"] for r in rejected.values())

    # One summary per child, each from a message the parent published, naming its part.
    children = [r for r in results if r["outcome"] == "SWEEP_SUMMARY" and "part" in r["sweep"]]
    assert sorted(r["sweep"]["part"] for r in children) == parts
    assert all(r["trigger"]["messageId"] != message_id for r in children)
    assert all(r["sweep"]["remaining"] == 0 and not r["sweep"]["handedOn"] for r in children)
    assert sum(r["sweep"]["exempt"] for r in children) == seen.exempt

    # Exactly one result per dedupeKey, and for every target one, CANCELLED, from a child.
    keys = Counter(r["dedupeKey"] for r in results)
    assert [key for key, n in keys.items() if n > 1] == []
    answered = {
        r["target"]: r for r in results if r["outcome"] not in ("SWEEP_SUMMARY", "REJECTED")
    }
    assert sorted(answered) == sorted(seen.targets)
    assert {r["outcome"] for r in answered.values()} == {"CANCELLED"}
    for target, result in answered.items():
        assert result["dedupeKey"] == f"{sweep_id}/{target}"
        assert result["sweep"]["part"] == f"projects/{result['project']}"

    # The emulator agrees: everything to stop is stopped, everything else runs on.
    for kind, names in seen.stopped.items():
        assert {_state(admin, kind, n) for n in names} == {STOPPED[kind]}, kind
    for kind, names in seen.untouched.items():
        assert {_state(admin, kind, n) for n in names} == {RUNNING[kind]}, kind
    assert _state(admin, "job", seen.ended) == "DONE"

    # Dataproc was called only in the allowed pairs with live work (those with only
    # exempt work are listed, and left), and sent one stop to each target and none to
    # anything else.
    log = admin.requests()
    dataproc = [entry for entry in log if _pair(entry["path"]) is not None]
    assert {_pair(entry["path"]) for entry in dataproc} == seen.allowed
    stops = Counter(
        entry["path"].removeprefix("/v1/").split(":")[0]
        for entry in dataproc
        if entry["method"] != "GET"
    )
    assert stops == Counter(seen.targets)
    methods = Counter(str(entry["apiMethod"]) for entry in log)
    assert methods["cloudasset.searchAllResources"] == 1
    assert methods["billingbudgets.billingAccounts.budgets.get"] == 1

    # Every request, Dataproc's and the organisation APIs', is a method of its API's
    # discovery document with only declared parameters.
    problems = []
    for entry in log:
        api = str(entry["apiMethod"]).split(".", 1)[0]
        discovery = Discovery(document(DOCUMENTS[api])) if api in DOCUMENTS else None
        verdict = (discovery or Discovery.installed()).check_logged(entry)
        if not verdict.conforms:
            problems.append(str(verdict))
    assert problems == []
