"""Every request the function sends, for every kind, is a method of Google's discovery
document for Dataproc v1, with only query parameters and body fields it declares.

The document is the one google-api-python-client ships (``tests/support/discovery.py``
says how a request is held against it). Each kind of ``canceller.kinds.KINDS`` has a
scenario in ``SCENARIOS``: steps, each a message handled in process against an
emulator reset and seeded for it, chosen so that every code path that sends a request
runs at least once:

- stopping ``start``: GET the target before its stop (named stop, list, incident, dry run);
- stopping ``_send_stop``: POST the kind's stop with its ``stop_body`` (every step that stops);
- stopping ``_refused`` and ``settle``: GET after a refused stop, then the stop sent again
  (a job in SETUP_DONE);
- watcher ``Watcher._getter``: GET to verify a stop (a named stop: one target);
- watcher ``Watcher._list_round``: a listing (``watch_params``, pageSize, pageToken) to
  verify several stops (lists, sweeps, and a second page in the paged steps);
- stopping ``_final``: GET of a batch once its operation settled (batch stops);
- sweeps ``_list``: a listing (``server_params``, pageSize, pageToken) (sweeps with and
  without a filter, dry-run sweeps, budget alerts, the cluster incident, paged steps).

Then every logged request must conform, and each kind's scenario must have used
exactly the methods (and, per method, the query parameters) its table says, so a code
path that silently drops out, or a new request, is noticed here.

Adding a kind: add ``SCENARIOS[kind.name]`` with its steps (seed, message, the methods
each step must send, the outcomes it must answer) and the methods it uses with their
query parameters; ``test_every_kind_has_a_scenario`` fails until it exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from canceller.kinds import KINDS
from canceller.results import Outcome
from canceller.runtime import Runtime
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from dataproc_emulator.listing import MAX_PAGE_SIZE
from dataproc_emulator.metering import api_of
from tests.support.discovery import Discovery, Verdict
from tests.support.dispatching import PROJECT, REGION, SCOPE, environ, handle

LOCATION = f"projects/{PROJECT}/locations/{REGION}"
# Short enough that a stuck step ends soon; long enough for the stops seeded below.
FAST = {"VERIFY_TIMEOUT_SECONDS": "2", "RETRY_DEADLINE_SECONDS": "5"}


def page(kind: str) -> int:
    """How many items fill the first page of a listing of ``kind``, so that what is
    seeded after them is on the second (the function asks for ``page_size`` a page, the
    emulator serves at most MAX_PAGE_SIZE)."""
    return min(KINDS[kind].page_size, MAX_PAGE_SIZE)


CLUSTER_UUID = "c0ffee00-0000-4000-8000-000000000001"
BUDGET_ATTRIBUTES = {
    "billingAccountId": "01D4EE-079462-DFD6EC",
    "budgetId": "b-123",
    "schemaVersion": "1.0",
}
BUDGET_OVER = {
    "budgetDisplayName": "dataproc-monthly",
    "costAmount": 120.0,
    "costIntervalStart": "2026-11-01T07:00:00Z",
    "budgetAmount": 100.0,
    "budgetAmountType": "SPECIFIED_AMOUNT",
    "currencyCode": "USD",
}

# The discovery methods the function may call, by their ids in dataproc.v1.json.
OP_GET = "dataproc.projects.regions.operations.get"
OP_CANCEL = "dataproc.projects.regions.operations.cancel"
OP_LIST = "dataproc.projects.regions.operations.list"
BATCH_GET = "dataproc.projects.locations.batches.get"
JOB_GET = "dataproc.projects.regions.jobs.get"
JOB_CANCEL = "dataproc.projects.regions.jobs.cancel"
JOB_LIST = "dataproc.projects.regions.jobs.list"
SESSION_GET = "dataproc.projects.locations.sessions.get"
SESSION_TERMINATE = "dataproc.projects.locations.sessions.terminate"
SESSION_LIST = "dataproc.projects.locations.sessions.list"
CLUSTER_GET = "dataproc.projects.regions.clusters.get"
CLUSTER_STOP = "dataproc.projects.regions.clusters.stop"
CLUSTER_DELETE = "dataproc.projects.regions.clusters.delete"
CLUSTER_LIST = "dataproc.projects.regions.clusters.list"

Seed = dict[str, Any]

DONE = Outcome.CANCELLED
SUMMARY = Outcome.SWEEP_SUMMARY


def op(op_id: str) -> str:
    return f"{SCOPE}/operations/{op_id}"


def batch(batch_id: str) -> str:
    return f"{LOCATION}/batches/{batch_id}"


def job(job_id: str) -> str:
    return f"{SCOPE}/jobs/{job_id}"


def session(session_id: str) -> str:
    return f"{LOCATION}/sessions/{session_id}"


def cluster(name: str) -> str:
    return f"{SCOPE}/clusters/{name}"


def ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def sweep(plural: str, **options: Any) -> dict[str, Any]:
    return {"sweep": {"scopes": [SCOPE], "kinds": [plural], **options}}


def incident(resource_type: str, **labels: str) -> dict[str, Any]:
    return {
        "version": "1.2",
        "incident": {
            "incident_id": "0.conformance",
            "scoping_project_id": PROJECT,
            "state": "open",
            "started_at": 1764230400,
            "summary": "Dataproc work ran too long",
            "policy_name": "dataproc-timeout",
            "condition_name": "runtime > 6h",
            "resource": {"type": resource_type, "labels": {"project_id": PROJECT, **labels}},
            "url": "https://console.cloud.google.com/monitoring/alerting/incidents/0.conformance",
        },
    }


@dataclass(frozen=True)
class Step:
    """One message: the emulator is reset and seeded (``operations``, then ``jobs``,
    ``sessions``, ``batches``: a batch's operation comes after the operations seeded),
    the message handled in process; it must send at least ``sends`` (and ``tokens``
    listings of a next page), answer at least ``answers``, and ask for no redelivery."""

    what: str
    body: Any
    sends: frozenset[str]
    answers: frozenset[Outcome]
    operations: list[Seed] = field(default_factory=list)
    jobs: list[Seed] = field(default_factory=list)
    sessions: list[Seed] = field(default_factory=list)
    batches: list[Seed] = field(default_factory=list)
    clusters: list[Seed] = field(default_factory=list)  # seeded first: jobs name them
    attributes: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    # At least this many listings asked for a second page (a sweep's and a watch's each).
    tokens: int = 0

    def seed(self, admin: EmulatorAdmin) -> None:
        if self.clusters:
            admin.seed_clusters(self.clusters)
        if self.operations:
            admin.seed_operations(self.operations)
        if self.jobs:
            admin.seed_jobs(self.jobs)
        if self.sessions:
            admin.seed_sessions(self.sessions)
        for seed in self.batches:
            admin.seed_batch(**seed)


@dataclass
class Address:
    """Where the emulator listens, as tests.support.dispatching takes it."""

    base_url: str


@dataclass(frozen=True)
class Scenario:
    """A kind's steps, and every discovery method they may use -> the query parameters
    its requests carry between them (each must be seen, and nothing else)."""

    steps: tuple[Step, ...]
    methods: Mapping[str, frozenset[str]]


def step(what: str, body: Any, sends: set[str], answers: set[Outcome], **options: Any) -> Step:
    return Step(what, body, frozenset(sends), frozenset(answers), **options)


# ---- the scenarios ---------------------------------------------------------------------

ETL, ML = {"team": "etl"}, {"team": "ml"}
OLD = 7200  # seconds: older than the sweeps' olderThan of 1h
# Seconds a stop takes where several are verified by a listing: both are still running
# when the watch first has them both (the listing needs two), and done by its next look.
SLOW = 0.5
_OLD_ETL = {"labels": ETL, "createTime": ago(2)}

OPERATION = Scenario(
    steps=(
        step(
            "a named stop, verified by GET",
            {"operation": op("one"), "reason": "runaway"},
            {OP_GET, OP_CANCEL},
            {DONE},
            operations=[{"name": op("one"), "cancelSeconds": 0.1}],
        ),
        step(
            "a list, verified by a listing",
            {"operations": [op("a"), op("b")]},
            {OP_GET, OP_CANCEL, OP_LIST},
            {DONE},
            operations=[{"name": op(n), "cancelSeconds": SLOW} for n in ("a", "b")],
        ),
        step(
            "a named dry run",
            {"operation": op("dry"), "dryRun": True},
            {OP_GET},
            {Outcome.DRY_RUN},
            operations=[{"name": op("dry")}],
        ),
        step(
            "a sweep with a filter on labels, olderThan and max",
            sweep("operations", filter="labels.team = etl", olderThan="1h", max=1),
            {OP_LIST, OP_CANCEL},
            {DONE, SUMMARY},
            operations=[
                {"name": op("old-etl-1"), "metadata": _OLD_ETL, "cancelSeconds": 0.1},
                {"name": op("old-etl-2"), "metadata": _OLD_ETL},
                {"name": op("young-etl"), "metadata": {"labels": ETL}},
                {"name": op("old-ml"), "metadata": {"labels": ML, "createTime": ago(2)}},
            ],
        ),
        step(
            "a dry-run sweep",
            sweep("operations", dryRun=True),
            {OP_LIST},
            {Outcome.DRY_RUN, SUMMARY},
            operations=[{"name": op("dry-swept")}],
        ),
        step(
            "a budget alert over its threshold (sweeps SWEEP_SCOPES)",
            BUDGET_OVER,
            {OP_LIST, OP_CANCEL},
            {DONE, SUMMARY},
            operations=[{"name": op("billed"), "cancelSeconds": 0.1}],
            attributes=BUDGET_ATTRIBUTES,
            env={"SWEEP_SCOPES": SCOPE, "SWEEP_KINDS": "operations"},
        ),
        step(
            "a cluster incident (sweeps the cluster's operations and jobs)",
            incident(
                "cloud_dataproc_cluster",
                region=REGION,
                cluster_name="etl",
                cluster_uuid=CLUSTER_UUID,
            ),
            {OP_LIST, OP_CANCEL, JOB_LIST},
            {DONE, SUMMARY},
            # What a cluster incident does where CLUSTER_INCIDENT_ACTION exists (its default).
            env={"CLUSTER_INCIDENT_ACTION": "jobs"},
            operations=[
                {
                    "name": op("resize"),
                    "kind": "cluster",
                    "cancelSeconds": 0.1,
                    "metadata": {
                        "clusterName": "etl",
                        "clusterUuid": CLUSTER_UUID,
                        "operationType": "UPDATE",
                    },
                }
            ],
        ),
        step(
            "a sweep of operations: its listing and its verification listing two pages long",
            sweep("operations"),
            {OP_LIST, OP_CANCEL},
            {DONE, SUMMARY},
            tokens=2,
            operations=[
                *({"name": op(f"filler-{i:04}"), "done": True} for i in range(page("operation"))),
                *({"name": op(f"late-{i}"), "cancelSeconds": SLOW} for i in range(2)),
            ],
        ),
    ),
    methods={
        OP_GET: frozenset(),
        OP_CANCEL: frozenset(),
        OP_LIST: frozenset({"filter", "pageSize", "pageToken"}),
        # The cluster incident's sweep lists the cluster's jobs too.
        JOB_LIST: frozenset({"clusterName", "jobStateMatcher", "pageSize"}),
    },
)

# Batches are never listed: a sweep or a budget alert reaches a batch through its
# operation, which OPERATION covers; a batch is stopped by cancelling its operation.
BATCH = Scenario(
    steps=(
        step(
            "a named stop: the batch read, its operation cancelled and watched, the batch read",
            {"batch": batch("named-one")},
            {BATCH_GET, OP_CANCEL, OP_GET},
            {DONE},
            batches=[{"name": batch("named-one"), "operation": {"cancelSeconds": 0.1}}],
        ),
        step(
            "a list, verified by a listing of their operations two pages long",
            {"batches": [batch("list-a"), batch("list-b")]},
            {BATCH_GET, OP_CANCEL, OP_LIST},
            {DONE},
            tokens=1,
            operations=[
                {"name": op(f"filler-{i:04}"), "done": True} for i in range(page("operation"))
            ],
            batches=[
                {"name": batch(n), "operation": {"cancelSeconds": SLOW}}
                for n in ("list-a", "list-b")
            ],
        ),
        step(
            "a named dry run",
            {"batch": batch("dry-run"), "dryRun": True},
            {BATCH_GET},
            {Outcome.DRY_RUN},
            batches=[{"name": batch("dry-run")}],
        ),
        step(
            "an incident on a batch",
            incident("cloud_dataproc_batch", location=REGION, batch_id="runaway"),
            {BATCH_GET, OP_CANCEL, OP_GET},
            {DONE},
            batches=[{"name": batch("runaway"), "operation": {"cancelSeconds": 0.1}}],
        ),
    ),
    methods={
        BATCH_GET: frozenset(),
        OP_CANCEL: frozenset(),
        OP_GET: frozenset(),
        OP_LIST: frozenset({"pageSize", "pageToken"}),
    },
)

_ETL = {"labels": ETL, "clusterName": "etl"}

JOB = Scenario(
    steps=(
        step(
            "a named stop, verified by GET",
            {"job": job("one")},
            {JOB_GET, JOB_CANCEL},
            {DONE},
            jobs=[{"name": job("one"), "cancelSeconds": 0.1}],
        ),
        step(
            "a job in SETUP_DONE: refused, read again, cancelled again",
            {"job": job("warming")},
            {JOB_GET, JOB_CANCEL},
            {DONE},
            jobs=[{"name": job("warming"), "state": "SETUP_DONE", "setupSeconds": 0.3}],
        ),
        step(
            "a list, verified by a listing of ACTIVE jobs",
            {"jobs": [job("a"), job("b")]},
            {JOB_GET, JOB_CANCEL, JOB_LIST},
            {DONE},
            jobs=[{"name": job(n), "cancelSeconds": SLOW} for n in ("a", "b")],
        ),
        step(
            "a named dry run",
            {"job": job("dry"), "dryRun": True},
            {JOB_GET},
            {Outcome.DRY_RUN},
            jobs=[{"name": job("dry")}],
        ),
        step(
            "an incident on a job, naming its uuid",
            incident(
                "cloud_dataproc_job", region=REGION, job_id="nightly", job_uuid="11111111-aaaa"
            ),
            {JOB_GET, JOB_CANCEL},
            {DONE},
            jobs=[{"name": job("nightly"), "jobUuid": "11111111-aaaa", "cancelSeconds": 0.1}],
        ),
        step(
            "a sweep with a filter on labels and clusterName, olderThan and max",
            sweep("jobs", filter="labels.team = etl AND clusterName = etl", olderThan="1h", max=1),
            {JOB_LIST, JOB_CANCEL},
            {DONE, SUMMARY},
            jobs=[
                {"name": job("old-etl-1"), **_ETL, "submittedSecondsAgo": OLD},
                {"name": job("old-etl-2"), **_ETL, "submittedSecondsAgo": OLD},
                {"name": job("young-etl"), **_ETL},
                {"name": job("old-ml"), "labels": ML, "submittedSecondsAgo": OLD},
            ],
        ),
        step(
            "a dry-run sweep",
            sweep("jobs", dryRun=True),
            {JOB_LIST},
            {Outcome.DRY_RUN, SUMMARY},
            jobs=[{"name": job("dry-swept")}],
        ),
        step(
            "a budget alert over its threshold (sweeps SWEEP_SCOPES)",
            BUDGET_OVER,
            {JOB_LIST, JOB_CANCEL},
            {DONE, SUMMARY},
            jobs=[{"name": job("billed"), "cancelSeconds": 0.1}],
            attributes=BUDGET_ATTRIBUTES,
            env={"SWEEP_SCOPES": SCOPE, "SWEEP_KINDS": "jobs"},
        ),
        step(
            "a sweep of jobs: its listing and its verification listing two pages long",
            sweep("jobs", olderThan="1h"),
            {JOB_LIST, JOB_CANCEL},
            {DONE, SUMMARY},
            tokens=2,
            jobs=[
                # Running but young: listed as ACTIVE on the first page, never selected.
                *({"name": job(f"filler-{i:04}")} for i in range(page("job"))),
                *(
                    {"name": job(f"old-{i}"), "submittedSecondsAgo": OLD, "cancelSeconds": SLOW}
                    for i in range(2)
                ),
            ],
        ),
    ),
    methods={
        JOB_GET: frozenset(),
        JOB_CANCEL: frozenset(),
        JOB_LIST: frozenset({"clusterName", "filter", "jobStateMatcher", "pageSize", "pageToken"}),
        # A job's burn is its cluster's, for reference: read once a message (pricing.py).
        CLUSTER_GET: frozenset(),
    },
)

SESSION = Scenario(
    steps=(
        step(
            "a named stop, verified by GET",
            {"session": session("named-one")},
            {SESSION_GET, SESSION_TERMINATE},
            {DONE},
            sessions=[{"name": session("named-one"), "terminateSeconds": 0.1}],
        ),
        step(
            "a list, verified by a listing",
            {"sessions": [session("a-one"), session("b-two")]},
            {SESSION_GET, SESSION_TERMINATE, SESSION_LIST},
            {DONE},
            sessions=[{"name": session(n), "terminateSeconds": SLOW} for n in ("a-one", "b-two")],
        ),
        step(
            "a named dry run",
            {"session": session("dry-run"), "dryRun": True},
            {SESSION_GET},
            {Outcome.DRY_RUN},
            sessions=[{"name": session("dry-run")}],
        ),
        step(
            "an incident on a session",
            incident("cloud_dataproc_session", location=REGION, session_id="idle"),
            {SESSION_GET, SESSION_TERMINATE},
            {DONE},
            sessions=[{"name": session("idle"), "terminateSeconds": 0.1}],
        ),
        step(
            "a sweep with a filter on labels and state, olderThan and max",
            sweep("sessions", filter="labels.team = etl AND state = ACTIVE", olderThan="1h", max=1),
            {SESSION_LIST, SESSION_TERMINATE},
            {DONE, SUMMARY},
            sessions=[
                {"name": session("old-etl-1"), "labels": ETL, "createdSecondsAgo": OLD},
                {"name": session("old-etl-2"), "labels": ETL, "createdSecondsAgo": OLD},
                {"name": session("young-etl"), "labels": ETL},
                {"name": session("old-ml"), "labels": ML, "createdSecondsAgo": OLD},
            ],
        ),
        step(
            "a dry-run sweep",
            sweep("sessions", dryRun=True),
            {SESSION_LIST},
            {Outcome.DRY_RUN, SUMMARY},
            sessions=[{"name": session("dry-swept")}],
        ),
        step(
            "a budget alert over its threshold (sweeps SWEEP_SCOPES)",
            BUDGET_OVER,
            {SESSION_LIST, SESSION_TERMINATE},
            {DONE, SUMMARY},
            sessions=[{"name": session("billed"), "terminateSeconds": 0.1}],
            attributes=BUDGET_ATTRIBUTES,
            env={"SWEEP_SCOPES": SCOPE, "SWEEP_KINDS": "sessions"},
        ),
        step(
            "a sweep of sessions: its listing and its verification listing two pages long",
            sweep("sessions"),
            {SESSION_LIST, SESSION_TERMINATE},
            {DONE, SUMMARY},
            tokens=2,
            sessions=[
                # Terminated and older: the first page (oldest first), never selected.
                *(
                    {"name": session(f"f-{i:04}"), "state": "TERMINATED", "createdSecondsAgo": OLD}
                    for i in range(page("session"))
                ),
                *(
                    {
                        "name": session(f"late-{i}"),
                        "createdSecondsAgo": 60,
                        "terminateSeconds": SLOW,
                    }
                    for i in range(2)
                ),
            ],
        ),
    ),
    methods={
        SESSION_GET: frozenset(),
        SESSION_TERMINATE: frozenset(),
        SESSION_LIST: frozenset({"filter", "pageSize", "pageToken"}),
    },
)

CLUSTER = Scenario(
    steps=(
        step(
            "a named stop: its jobs and its update operation first, then the cluster",
            {"cluster": cluster("etl")},
            {CLUSTER_GET, JOB_LIST, OP_LIST, JOB_CANCEL, OP_CANCEL, CLUSTER_STOP},
            {DONE},
            clusters=[{"name": cluster("etl"), "stopSeconds": 0.1, "blockingOperation": "UPDATE"}],
            jobs=[{"name": job("on-etl"), "clusterName": "etl", "cancelSeconds": 0.1}],
        ),
        step(
            "a list, verified by a listing",
            {"clusters": [cluster("a-one"), cluster("b-two")]},
            {CLUSTER_GET, CLUSTER_STOP, CLUSTER_LIST},
            {DONE},
            clusters=[{"name": cluster(n), "stopSeconds": SLOW} for n in ("a-one", "b-two")],
        ),
        step(
            "a delete where allowed, verified by a 404",
            {"cluster": cluster("old"), "action": "delete"},
            {CLUSTER_GET, CLUSTER_DELETE},
            {DONE},
            clusters=[{"name": cluster("old"), "state": "STOPPED", "deleteSeconds": 0.1}],
            env={"CLUSTER_DELETE_ALLOWED": "true"},
        ),
        step(
            "a named dry run",
            {"cluster": cluster("dry-run"), "dryRun": True},
            {CLUSTER_GET, JOB_LIST, OP_LIST},
            {Outcome.DRY_RUN},
            clusters=[{"name": cluster("dry-run")}],
        ),
        step(
            "an incident on a cluster, CLUSTER_INCIDENT_ACTION=stop",
            incident(
                "cloud_dataproc_cluster",
                region=REGION,
                cluster_name="alerted",
                cluster_uuid=CLUSTER_UUID,
            ),
            {CLUSTER_GET, CLUSTER_STOP},
            {DONE},
            clusters=[{"name": cluster("alerted"), "clusterUuid": CLUSTER_UUID}],
            env={"CLUSTER_INCIDENT_ACTION": "stop"},
        ),
        step(
            "a sweep with a filter on labels and state, olderThan and max",
            sweep(
                "clusters",
                filter="labels.team = etl AND status.state = RUNNING",
                olderThan="1h",
                max=1,
            ),
            {CLUSTER_LIST, CLUSTER_STOP},
            {DONE, SUMMARY},
            clusters=[
                {"name": cluster("old-etl-1"), "labels": ETL, "runningSecondsAgo": OLD},
                {"name": cluster("old-etl-2"), "labels": ETL, "runningSecondsAgo": OLD},
                {"name": cluster("young-etl"), "labels": ETL},
                {"name": cluster("old-ml"), "labels": ML, "runningSecondsAgo": OLD},
            ],
        ),
        step(
            "a budget alert at the ladder's clusters rung",
            BUDGET_OVER,
            {CLUSTER_LIST, CLUSTER_STOP, JOB_LIST},
            {DONE, SUMMARY},
            clusters=[{"name": cluster("billed"), "stopSeconds": 0.1}],
            attributes=BUDGET_ATTRIBUTES,
            env={"SWEEP_SCOPES": SCOPE, "BUDGET_LADDER": "0.5:report,1.1:clusters"},
        ),
    ),
    methods={
        CLUSTER_GET: frozenset(),
        CLUSTER_STOP: frozenset(),
        CLUSTER_DELETE: frozenset({"clusterUuid", "requestId"}),
        CLUSTER_LIST: frozenset({"filter", "pageSize"}),
        JOB_GET: frozenset(),
        JOB_CANCEL: frozenset(),
        # a sweep's cluster: its exempt work too, by a label filter in every state
        JOB_LIST: frozenset({"clusterName", "filter", "jobStateMatcher", "pageSize"}),
        OP_GET: frozenset(),
        OP_CANCEL: frozenset(),
        OP_LIST: frozenset({"filter", "pageSize"}),
        SESSION_LIST: frozenset({"pageSize"}),  # the clusters rung sweeps SWEEP_KINDS too
    },
)

SCENARIOS: dict[str, Scenario] = {
    "operation": OPERATION,
    "batch": BATCH,
    "job": JOB,
    "session": SESSION,
    "cluster": CLUSTER,
}


# ---- the checks --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def discovery() -> Discovery:
    return Discovery.installed()


def test_every_kind_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(KINDS), (
        "every kind of canceller.kinds.KINDS needs a scenario here, and only those: "
        f"without one {sorted(set(KINDS) - set(SCENARIOS))}, "
        f"no longer kinds {sorted(set(SCENARIOS) - set(KINDS))}"
    )


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_every_request_of_a_kind_is_a_documented_method(
    kind: str, discovery: Discovery, admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    scenario = SCENARIOS[kind]
    served = Address(emulator.base_url)
    verdicts: list[tuple[str, Verdict]] = []
    used: dict[str, set[str]] = {}
    for each in scenario.steps:
        admin.reset()
        each.seed(admin)
        runtime = Runtime(environ(served, **{**FAST, **each.env}))
        handled = handle(served, each.body, dict(each.attributes), runtime=runtime)
        # Dataproc's requests; a budget's reads of the organisation APIs are held to
        # their own documents in tests/emulator/test_fan_out.py.
        logged = [r for r in admin.requests() if api_of(r["apiMethod"]) == "dataproc"]
        judged = [discovery.check_logged(request) for request in logged]
        verdicts.extend((each.what, verdict) for verdict in judged)
        for request, verdict in zip(logged, judged, strict=True):
            used.setdefault(verdict.method or "(no method)", set()).update(request["query"])
        sent = {verdict.method for verdict in judged}
        answered = {result.outcome for result in handled.results}
        told = "; ".join(f"{r.outcome.value} {r.target}: {r.detail[:200]}" for r in handled.results)
        where = f"{kind}: {each.what} (answered {told or 'nothing'})"
        assert handled.transient_failures == [], f"{where}: asked for redelivery"
        assert each.sends <= sent, f"{where}: never sent {sorted(each.sends - sent)}"
        paged = sum("pageToken" in request["query"] for request in logged)
        assert paged >= each.tokens, f"{where}: {paged} listings of a next page, not {each.tokens}"
        assert each.answers <= answered, f"{where}: no {sorted(o.value for o in each.answers)}"
    wrong = [f"[{what}] {verdict}" for what, verdict in verdicts if not verdict.conforms]
    assert not wrong, f"{kind}: requests that dataproc.v1.json does not allow:\n" + "\n".join(wrong)
    assert {method: frozenset(query) for method, query in used.items()} == dict(scenario.methods)


# ---- the matcher can fail ----------------------------------------------------------------

JOBS_PATH = f"/v1/{SCOPE}/jobs"


def test_real_shapes_conform(discovery: Discovery) -> None:
    shapes: list[tuple[str, str, dict[str, str], str, str]] = [
        ("GET", f"/v1/{op('x')}", {}, "", OP_GET),
        ("POST", f"/v1/{op('x')}:cancel", {}, "", OP_CANCEL),
        ("GET", f"/v1/{SCOPE}/operations", {"filter": 'a = "b"', "pageSize": "1000"}, "", OP_LIST),
        ("GET", f"/v1/{batch('batch-1')}", {}, "", BATCH_GET),
        ("POST", f"/v1/{job('j')}:cancel", {"$alt": "json;enum-encoding=int"}, "{}", JOB_CANCEL),
        ("GET", JOBS_PATH, {"jobStateMatcher": "ACTIVE", "pageToken": "t"}, "", JOB_LIST),
        (
            "POST",
            f"/v1/{session('session-1')}:terminate",
            {},
            '{"requestId": "r-1"}',
            SESSION_TERMINATE,
        ),
        ("GET", f"/v1/{LOCATION}/sessions", {"$.xgafv": "2", "fields": "x"}, "", SESSION_LIST),
    ]
    for method, path, query, body, expected in shapes:
        verdict = discovery.check(method, path, query, body)
        assert verdict.conforms and verdict.method == expected, str(verdict)


def test_a_made_up_method_is_refused(discovery: Discovery) -> None:
    for method, path in (
        ("POST", f"/v1/{job('j')}:explode"),  # no such custom method
        ("GET", f"/v1/{job('j')}:cancel"),  # a custom method with the wrong verb
        ("DELETE", f"/v1/{session('session-1')}:terminate"),
        ("GET", f"/v1/{op('x')}/extra"),  # one segment too many
        ("GET", f"/v2/{op('x')}"),  # another version
    ):
        verdict = discovery.check(method, path, {}, "")
        assert verdict.method is None and not verdict.conforms, str(verdict)
        assert "no method of dataproc.v1" in verdict.problems[0]


def test_an_undeclared_query_parameter_is_refused(discovery: Discovery) -> None:
    for query, word in (
        ({"orderBy": "create_time"}, "'orderBy' is neither"),  # sessions.list has it; jobs not
        ({"projectId": PROJECT}, "'projectId' is neither"),  # a path parameter, not a query one
        ({"jobStateMatcher": "RUNNING"}, "not one of"),  # outside its enum
        ({"pageSize": "many"}, "not an integer"),
        ({"$alt": "json;enum-encoding=words"}, "unknown option"),
        ({"alt": "xml"}, "not one of"),
        ({"prettyPrint": "maybe"}, "not true or false"),
    ):
        verdict = discovery.check("GET", JOBS_PATH, {"pageSize": "10", **query}, "")
        assert verdict.method == JOB_LIST and not verdict.conforms, str(verdict)
        assert any(word in problem for problem in verdict.problems), str(verdict)


def test_an_undeclared_body_field_is_refused(discovery: Discovery) -> None:
    for method, path, body, word in (
        ("POST", f"/v1/{job('j')}:cancel", '{"force": true}', "CancelJobRequest.force"),
        (
            "POST",
            f"/v1/{session('session-1')}:terminate",
            '{"requestId": "r", "reason": "x"}',
            "TerminateSessionRequest.reason",
        ),
        (  # found two levels down, through $ref
            "PATCH",
            f"/v1/{job('j')}",
            '{"labels": {"any": "key"}, "reference": {"jobId": "j", "bogus": 1}}',
            "Job.reference.bogus is not a field of JobReference",
        ),
        ("POST", f"/v1/{op('x')}:cancel", "{}", "takes no request body"),
        ("POST", f"/v1/{job('j')}:cancel", "", "but none was sent"),
        ("POST", f"/v1/{job('j')}:cancel", "[]", "not a JSON object"),
        ("POST", f"/v1/{session('session-1')}:terminate", '{"requestId": 7}', "must be a string"),
    ):
        verdict = discovery.check(method, path, {}, body)
        assert verdict.method is not None and not verdict.conforms, str(verdict)
        assert any(word in problem for problem in verdict.problems), str(verdict)
    labelled = discovery.check("PATCH", f"/v1/{job('j')}", {}, '{"labels": {"any": "key"}}')
    assert labelled.conforms, str(labelled)  # a map's keys are its own (additionalProperties)
