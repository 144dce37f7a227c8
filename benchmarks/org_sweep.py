"""A budget over a folder of 200 projects, fanned out one child sweep per project, beside
the same work in one project swept by one message.

Ours, the organisation (``fake_org.fake_organisation(folders=2, projects_per_folder=40,
subfolders=4, other_account_projects=2)``, seeded into the shared Dataproc emulator, which
also serves Billing Budgets, Cloud Billing, Resource Manager and Cloud Asset from it): the
budget BUDGET_ID is over team-1 (folders/2001), whose 200 projects (org-f1-p1..p40 and
four subfolders of 40) its billing account pays for. Live work in 30 (project, region)
pairs of those 200 projects, in 5 regions:

- 24 pairs, 2 in each of 12 allowed projects, each with N targets that stop 1 s after
  they are asked (recipes in turn: N jobs; N/2 sessions and the rest jobs; N/2 batches,
  swept through their operations, and the rest sessions; a cluster with (N-1)/2 jobs on
  it and the rest other jobs) and an exempt neighbour (``dataproc-canceller=exempt``) of
  a kind listed there;
- 3 pairs with only exempt work (Cloud Asset finds it, the children judge it: they list
  these pairs and leave them); 3 pairs in org-f1-p3 and org-f1-p4, which the allowlist
  refuses, org-f1-p3 also running BUSY jobs in one of them (a busy project the function
  may not touch: its assets are searched, so they count in the pages needed);
- besides, a job in team-2, in a project of the folder paid by another billing account,
  and under the organisation itself, all allowed and outside the budget.

Our function runs in a server of its own (``harness.own_side``) at every default except
ALLOWED_ANCESTORS (the four subfolders and team-2), ALLOWED_PROJECTS (two projects of
team-1 and the two outside the budget), BUDGET_LADDER=0.5:report,1.2:clusters, and the
organisation APIs' emulator hosts; its own trigger topic is its TRIGGER_TOPIC, so the
parent's children come back to it through the push path. One budget notification as
Cloud Billing publishes it (cost 150 of 100: the clusters rung; attributes
billingAccountId, budgetId, schemaVersion) goes to its trigger topic; every result is
pulled until the parent's SWEEP_SUMMARY and each child's final summary and every
target's result have arrived.

The baseline, in the same run, before ours: the same recipes, targets and exempt work in
one project (the 24 pairs' work placed in its 5 regions, pair k in region k mod 5, and
the exempt-only work in the regions it has in the organisation), our function in a
server of its own at every default except ALLOWED_PROJECTS (that project) and
SWEEP_SCOPES (its 5 regions), and one plain sweep message of the kinds the clusters rung
sweeps (``{"sweep": {"kinds": ["operations", "jobs", "sessions", "clusters"]}}``): no
Cloud Asset, no fan-out, one message.

Checks (each raises: a figure of a broken run would mean nothing): every target has one
result, CANCELLED, and the request log shows exactly one stop request for each target and
none for anything else; ours: the parent's summary has the budget's scope, every child's
summary arrived, each project the allowlist refuses has its REJECTED, and Dataproc was
called in exactly the allowed (project, region) pairs with live work.

Figures, from the Dataproc emulator's request log (arrival times) and the results:

- Dataproc requests per stopped target (every Dataproc method, listings included, over
  the targets), target <= 3; beside the baseline's;
- Cloud Asset ``searchAllResources`` calls, target <= the pages needed: ceil(N / 500,
  the page size), N the live Dataproc resources under the folder, exempt ones included;
- wall time, publish -> the last summary pulled, against the baseline's (the same number
  of targets, so the ratio is per target too), target <= 1x ("fan-out should make it no
  slower per target"); information: the same wall time against the parent's
  ``elapsedSeconds`` plus the children's over 2 (the Pub/Sub emulator pushes 2 messages
  at a time per subscription: ``benchmarks/run.py``), and the parent's
  ``elapsedSeconds`` plus the slowest child's, what the budget action would take if every
  child ran at once, as Cloud Run's instances would, against the baseline message's
  ``elapsedSeconds``;
- the most Dataproc requests of one project in any 60 s, against the per-project request
  budget (DATAPROC_PROJECT_REQUESTS_PER_MINUTE, its default read back from the side's
  settings); information: the baseline's one project.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.harness import Bench, Side, own_side
from benchmarks.pubsub_rest import Pulled
from benchmarks.report import Row, info_row, ratio_row
from benchmarks.request_log import Entry, peak_in_window
from benchmarks.sweep_chain import SUMMARY, pull_chain
from canceller.org_apis import ORG_APIS
from canceller.settings import load_settings
from dataproc_emulator.fake_org import BILLING_ACCOUNT, BUDGET_ID, fake_organisation

REGIONS = ("us-central1", "us-east1", "us-west1", "europe-west1", "asia-east1")
TEAM_1 = "folders/2001"
ALLOWED_ANCESTORS = ("folders/2101", "folders/2102", "folders/2103", "folders/2104", "folders/2002")
ALLOWED_PROJECTS = ("org-f1-p1", "org-f1-p2", "org-f1-x1", "org-o-p1")
# 12 allowed projects of the budget, 2 pairs of work each.
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
ONE_PROJECT = "bench-org-one"  # the baseline's
BUSY = 300  # running jobs in a refused project: searched, never touched
STOP_SECONDS = 1.0
EXEMPT = {"dataproc-canceller": "exempt"}
LADDER = "0.5:report,1.2:clusters"
KINDS = ["operations", "jobs", "sessions", "clusters"]  # what the clusters rung sweeps
ASSET_PAGE_SIZE = 500  # searchAllResources' largest page (cloudasset.v1.json)
MAX_PER_TARGET = 3.0
PUSH_LOOPS = 2  # messages the Pub/Sub emulator pushes at a time per subscription (run.py)
TIMEOUT_SECONDS = 300.0
_PAIR = re.compile(r"/v1/projects/([^/]+)/(?:regions|locations)/([^/:]+)")


@dataclass
class Work:
    """What was seeded: the names to stop, the names to leave, where the work to stop
    is, and how many live resources Cloud Asset finds under the folder."""

    targets: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    pairs: set[tuple[str, str]] = field(default_factory=set)  # with work to stop
    exempt_only: set[tuple[str, str]] = field(default_factory=set)  # allowed, all exempt
    in_folder: int = 0

    @property
    def allowed(self) -> set[tuple[str, str]]:
        """Where the children list: every allowed pair with live work (exempt work is
        theirs to judge, not Cloud Asset's query's)."""
        return self.pairs | self.exempt_only


class Seeder:
    """Seeds work by recipe, in bulk where the admin API can, and keeps the account."""

    def __init__(self, bench: Bench) -> None:
        self.admin = bench.admin
        self.work = Work()
        self._serial: Counter[str] = Counter()
        self._jobs: list[dict[str, Any]] = []
        self._sessions: list[dict[str, Any]] = []
        self._clusters: list[dict[str, Any]] = []

    def recipe(self, index: int, project: str, region: str, count: int) -> None:
        """``count`` targets of recipe ``index`` mod 4, and one exempt neighbour."""
        half = count // 2
        shape = index % 4
        if shape == 0:
            self._many(self.job, count, project, region)
            self.job(project, region, stop=False, labels=EXEMPT)
        elif shape == 1:
            self._many(self.session, half, project, region)
            self._many(self.job, count - half, project, region)
            self.session(project, region, stop=False, labels=EXEMPT)
        elif shape == 2:
            self._many(self.batch, half, project, region)
            self._many(self.session, count - half, project, region)
            self.batch(project, region, stop=False, labels=EXEMPT)
        else:
            on_it = (count - 1) // 2
            busy = self.cluster(project, region)
            self._many(self.job, on_it, project, region, clusterName=busy)
            self._many(self.job, count - 1 - on_it, project, region)
            self.cluster(project, region, stop=False, labels=EXEMPT)
        self.work.pairs.add((project, region))

    def job(self, project: str, region: str, stop: bool = True, **seed: Any) -> str:
        name = self._name(project, "regions", region, "jobs")
        self._jobs.append({"name": name, "cancelSeconds": STOP_SECONDS, **seed})
        return self._keep(name, stop, project, seed)

    def session(self, project: str, region: str, stop: bool = True, **seed: Any) -> str:
        name = self._name(project, "locations", region, "sessions")
        self._sessions.append({"name": name, "terminateSeconds": STOP_SECONDS, **seed})
        return self._keep(name, stop, project, seed)

    def batch(self, project: str, region: str, stop: bool = True, **seed: Any) -> str:
        name = self._name(project, "locations", region, "batches")
        operation = {"cancelSeconds": STOP_SECONDS}
        seeded = self.admin.seed_batch(name=name, operation=operation, **seed)
        return self._keep(str(seeded["operation"]), stop, project, seed)

    def cluster(self, project: str, region: str, stop: bool = True, **seed: Any) -> str:
        name = self._name(project, "regions", region, "clusters")
        self._clusters.append({"name": name, "stopSeconds": STOP_SECONDS, **seed})
        self._keep(name, stop, project, seed)
        return name.rsplit("/", 1)[1]

    def flush(self) -> Work:
        """Clusters before their jobs, which take the cluster's UUID when seeded."""
        if self._clusters:
            self.admin.seed_clusters(self._clusters)
        if self._jobs:
            self.admin.seed_jobs(self._jobs)
        if self._sessions:
            self.admin.seed_sessions(self._sessions)
        self._clusters, self._jobs, self._sessions = [], [], []
        return self.work

    def _many(self, seed: Callable[..., str], count: int, *args: str, **extra: Any) -> None:
        for _ in range(count):
            seed(*args, **extra)

    def _name(self, project: str, place: str, region: str, plural: str) -> str:
        self._serial[plural] += 1
        return f"projects/{project}/{place}/{region}/{plural}/{plural[:-1]}-{self._serial[plural]}"

    def _keep(self, name: str, stop: bool, project: str, seed: Mapping[str, Any]) -> str:
        (self.work.targets if stop else self.work.left).append(name)
        if project.startswith("org-f1"):
            self.work.in_folder += 1  # live, under team-1: Cloud Asset finds it
        return name


def seed_organisation(bench: Bench, per_pair: int) -> Work:
    bench.admin.seed_organisation(
        fake_organisation(folders=2, projects_per_folder=40, subfolders=4, other_account_projects=2)
    )
    seeder = Seeder(bench)
    index = 0
    for number, project in enumerate(WORKING):
        for region in (REGIONS[number % 5], REGIONS[(number + 2) % 5]):
            seeder.recipe(index, project, region, per_pair)
            index += 1
    # Only exempt work: listed by the children, and left.
    seeder.job("org-f1s2-p7", "us-east1", stop=False, labels=EXEMPT)
    seeder.session("org-f1s2-p7", "us-east1", stop=False, labels=EXEMPT)
    seeder.cluster("org-f1s3-p9", "europe-west1", stop=False, labels=EXEMPT)
    seeder.batch("org-f1-p2", "us-west1", stop=False, labels=EXEMPT)
    seeder.work.exempt_only = {
        ("org-f1s2-p7", "us-east1"),
        ("org-f1s3-p9", "europe-west1"),
        ("org-f1-p2", "us-west1"),
    }
    # Refused by the allowlist, one of them busy.
    for _ in range(BUSY):
        seeder.job("org-f1-p3", "us-central1", stop=False)
    seeder.session("org-f1-p3", "asia-east1", stop=False)
    seeder.batch("org-f1-p4", "us-west1", stop=False)
    # Allowed, outside the budget: team 2, another billing account, the organisation.
    seeder.job("org-f2-p1", "us-central1", stop=False)
    seeder.job("org-f1-x1", "us-east1", stop=False)
    seeder.session("org-o-p1", "europe-west1", stop=False)
    return seeder.flush()


def seed_one_project(bench: Bench, per_pair: int) -> Work:
    """The same 24 pairs' recipes, in one project's 5 regions."""
    seeder = Seeder(bench)
    for index in range(2 * len(WORKING)):
        seeder.recipe(index, ONE_PROJECT, REGIONS[index % 5], per_pair)
    seeder.job(ONE_PROJECT, "us-east1", stop=False, labels=EXEMPT)
    seeder.session(ONE_PROJECT, "us-east1", stop=False, labels=EXEMPT)
    seeder.cluster(ONE_PROJECT, "europe-west1", stop=False, labels=EXEMPT)
    seeder.batch(ONE_PROJECT, "us-west1", stop=False, labels=EXEMPT)
    return seeder.flush()


@dataclass(frozen=True)
class Run:
    """One side's run: its results, when it started and ended, its request log."""

    results: list[dict[str, Any]]
    summaries: list[dict[str, Any]]
    started: float  # perf_counter() at the publish
    finished: float  # perf_counter() when the last summary was pulled
    since: float  # time.time() before the publish: the request log's clock
    entries: list[Entry]  # Dataproc requests of this side's projects

    @property
    def wall(self) -> float:
        return self.finished - self.started


def measure(bench: Bench, per_pair: int) -> list[Row]:
    one_work = seed_one_project(bench, per_pair)
    one_settings = {
        "ALLOWED_PROJECTS": ONE_PROJECT,
        "SWEEP_SCOPES": ",".join(f"projects/{ONE_PROJECT}/regions/{r}" for r in REGIONS),
    }
    with own_side(bench, "org-one", one_settings) as side:
        side_settings = load_settings(side.env)
        per_project = side_settings.dataproc_project_requests_per_minute
        since, started = time.time(), time.perf_counter()
        bench.publish(side, [{"sweep": {"kinds": KINDS}}])
        chain = pull_chain(bench, side, TIMEOUT_SECONDS)
    one = Run(
        chain.results,
        chain.summaries,
        started,
        chain.finished,
        since,
        _dataproc(bench, since, {ONE_PROJECT}),
    )
    _check_targets("one project", one, one_work)

    work = seed_organisation(bench, per_pair)
    hosts = bench.stack.function_env
    settings = {
        **{api.emulator_variable: hosts[api.emulator_variable] for api in ORG_APIS},
        "ALLOWED_PROJECTS": ",".join(ALLOWED_PROJECTS),
        "ALLOWED_ANCESTORS": ",".join(ALLOWED_ANCESTORS),
        "BUDGET_LADDER": LADDER,
    }
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
    with own_side(bench, "org", settings) as side:
        since, started = time.time(), time.perf_counter()
        bench.rest.publish(side.trigger_topic, [json.dumps(body).encode()], attributes)
        ours = _pull_fan_out(bench, side, started, since)
    _check_targets("organisation", ours, work)
    parent = _check_fan_out(ours, work)
    asset_calls = sum(
        1
        for entry in bench.admin.requests()
        if entry["time"] >= since and entry["apiMethod"] == "cloudasset.searchAllResources"
    )
    concurrency = side_settings.max_concurrency
    return _rows(ours, one, work, parent, asset_calls, per_project, per_pair, concurrency)


def _rows(
    ours: Run,
    one: Run,
    work: Work,
    parent: dict[str, Any],
    asset_calls: int,
    per_project: int,
    per_pair: int,
    concurrency: int,
) -> list[Row]:
    targets = len(work.targets)
    needed = math.ceil(work.in_folder / ASSET_PAGE_SIZE)
    children = [s for s in ours.summaries if "part" in s["sweep"]]
    slowest = max(float(s["elapsedSeconds"]) for s in children)
    at_once = float(parent["elapsedSeconds"]) + slowest
    two_at_a_time = (
        float(parent["elapsedSeconds"])
        + sum(float(s["elapsedSeconds"]) for s in children) / PUSH_LOOPS
    )
    one_message = sum(float(s["elapsedSeconds"]) for s in one.summaries)
    ours_peak, busiest = _peak_per_project(ours.entries)
    one_peak, _ = _peak_per_project(one.entries)
    wall_note = ""
    if ours.wall > one.wall:
        wall_note = (
            f"the Pub/Sub emulator pushes {PUSH_LOOPS} messages at a time per subscription, so "
            f"its {len(children)} children ran {PUSH_LOOPS} at a time (the slowest took "
            f"{slowest:.2f} s), "
            "where Cloud Run would give each an instance; one message over one project "
            f"stops its {targets} targets {concurrency} at a time (MAX_CONCURRENCY)"
        )
    return [
        Row(
            f"budget over 200 projects, {targets} targets in 24 pairs ({per_pair} a pair): "
            "Dataproc requests per target (ref: the same work in 1 project)",
            len(ours.entries) / targets,
            len(one.entries) / targets,
            "req",
            f"<= {MAX_PER_TARGET:g} req",
            len(ours.entries) / targets <= MAX_PER_TARGET,
            _methods_note(ours.entries, one.entries, targets),
        ),
        Row(
            f"  Cloud Asset searches (ref: pages needed, {work.in_folder} live resources / "
            f"{ASSET_PAGE_SIZE})",
            asset_calls,
            needed,
            "n",
            f"<= {needed}",
            asset_calls <= needed,
        ),
        ratio_row(
            f"  wall time, publish -> last summary, {len(children)} children (ref: 1 project, "
            "1 message)",
            ours.wall,
            one.wall,
            "s",
            1.0,
            wall_note,
        ),
        info_row(
            f"  ... the same (ref: parent + children's elapsedSeconds / {PUSH_LOOPS}, the "
            "emulator's push concurrency)",
            ours.wall,
            two_at_a_time,
            "s",
            "",
        ),
        info_row(
            "  parent + slowest child, as if all ran at once (elapsedSeconds; ref: the 1 "
            "message's)",
            at_once,
            one_message,
            "s",
            "",
        ),
        Row(
            "  peak Dataproc requests of a project in any 60 s (ref: the project budget)",
            ours_peak,
            per_project,
            "n",
            f"<= {per_project}",
            ours_peak <= per_project,
            f"the busiest, {busiest}; the budget is DATAPROC_PROJECT_REQUESTS_PER_MINUTE's default",
        ),
        info_row(
            "  ... the same work in 1 project (ref: the same budget)",
            one_peak,
            per_project,
            "n",
            "",
        ),
    ]


def _methods_note(ours: Sequence[Entry], one: Sequence[Entry], targets: int) -> str:
    def split(entries: Sequence[Entry]) -> str:
        kinds = Counter(
            "list" if e["apiMethod"].endswith(".list") else e["method"] for e in entries
        )
        return ", ".join(f"{kinds[k] / targets:.2f} {k}" for k in ("POST", "GET", "list"))

    return f"per target, ours: {split(ours)}; one project: {split(one)}"


def _dataproc(bench: Bench, since: float, projects: set[str] | None) -> list[Entry]:
    """Dataproc requests (those naming a project and region) since ``since``, of
    ``projects`` (None: every project)."""
    found = []
    for entry in bench.admin.requests():
        match = _PAIR.match(entry["path"])
        if entry["time"] >= since and match and (projects is None or match[1] in projects):
            found.append(entry)
    return sorted(found, key=lambda entry: entry["time"])


def _pull_fan_out(bench: Bench, side: Side, started: float, since: float) -> Run:
    """Every result of the budget action: until the parent's summary, every child's
    last summary (one that hands nothing on) and every result they announce are in."""

    def enough(pulled: list[Pulled]) -> bool:
        bodies = [p.body for p in pulled]
        parents = [b for b in bodies if "fanOut" in b.get("sweep", {})]
        if not parents:
            return False
        fan_out = parents[0]["sweep"]["fanOut"]
        summaries = [b for b in bodies if b["outcome"] == SUMMARY and "part" in b["sweep"]]
        finished = {s["sweep"]["part"] for s in summaries if not s["sweep"]["handedOn"]}
        announced = sum(int(s["sweep"]["acted"]) for s in summaries) + int(fan_out["refused"])
        answered = len(bodies) - len(summaries) - len(parents)
        return len(finished) >= int(fan_out["children"]) and answered >= announced

    pulled = bench.rest.pull_until(side.results_subscription, enough, TIMEOUT_SECONDS)
    ids = {p.body.get("sweep", {}).get("id") for p in pulled}
    if len(ids) != 1 or None in ids:
        raise RuntimeError(f"org sweep: results of {len(ids)} sweep ids: {sorted(map(str, ids))}")
    summaries = [p for p in pulled if p.body["outcome"] == SUMMARY]
    return Run(
        results=[p.body for p in pulled if p.body["outcome"] != SUMMARY],
        summaries=[p.body for p in summaries],
        started=started,
        finished=max(p.received for p in summaries),
        since=since,
        entries=_dataproc(bench, since, None),
    )


def _check_targets(label: str, run: Run, work: Work) -> None:
    """One result per target, CANCELLED; one stop request per target, none to anything
    else (exempt work, refused projects, work outside the budget)."""
    answered = Counter(r["target"] for r in run.results if r["outcome"] != "REJECTED")
    wrong = [
        f"{r['target']}: {r['outcome']} {str(r.get('detail'))[:200]}"
        for r in run.results
        if r["outcome"] not in ("CANCELLED", "REJECTED")
    ]
    stops = Counter(
        e["path"].removeprefix("/v1/").split(":")[0] for e in run.entries if e["method"] != "GET"
    )
    if answered != Counter(work.targets) or wrong or stops != Counter(work.targets):
        missing = set(work.targets) - set(answered)
        raise RuntimeError(
            f"org sweep ({label}): {len(missing)} target(s) without a result, "
            f"{sum(n > 1 for n in answered.values())} with two, {len(wrong)} not CANCELLED "
            f"({wrong[:2]}), {len(set(stops) - set(work.targets))} stop(s) of work to leave, "
            f"{sum(n > 1 for n in stops.values())} target(s) stopped twice"
        )


def _check_fan_out(run: Run, work: Work) -> dict[str, Any]:
    """The parent's summary, after checking what it and its children say."""
    parents = [s for s in run.summaries if "fanOut" in s["sweep"]]
    if len(parents) != 1:
        raise RuntimeError(f"org sweep: {len(parents)} parent summaries (a redelivery?)")
    fan_out = parents[0]["sweep"]["fanOut"]
    refused = sorted(r["target"] for r in run.results if r["outcome"] == "REJECTED")
    parts = {s["sweep"]["part"] for s in run.summaries if "part" in s["sweep"]}
    called = {_pair_of(e) for e in run.entries}
    problems = []
    if fan_out.get("budgetScope", {}).get("resourceAncestors") != [TEAM_1]:
        problems.append(f"the budget's scope: {fan_out.get('budgetScope')}")
    if refused != [f"projects/{p}" for p in REFUSED]:
        problems.append(f"REJECTED {refused}")
    if parts != {f"projects/{project}" for project, _ in work.allowed}:
        problems.append(f"children's parts {sorted(parts)}")
    if called != work.allowed:
        problems.append(
            f"Dataproc called in pairs without live work: {sorted(called - work.allowed)}; "
            f"not in {sorted(work.allowed - called)}"
        )
    if problems:
        raise RuntimeError(f"org sweep: {'; '.join(problems)}")
    parent: dict[str, Any] = parents[0]
    return parent


def _pair_of(entry: Entry) -> tuple[str, str]:
    match = _PAIR.match(entry["path"])
    assert match is not None  # _dataproc kept only these
    return match[1], match[2]


def _peak_per_project(entries: Sequence[Entry]) -> tuple[int, str]:
    """The most requests of one project in any 60 s, and which project."""
    times: dict[str, list[float]] = {}
    for entry in entries:
        times.setdefault(_pair_of(entry)[0], []).append(entry["time"])
    peak, project = max((peak_in_window(t), p) for p, t in times.items())
    return peak, project
