"""Run the function locally on embedded defaults and print what it publishes.

Starts the official Pub/Sub emulator, the Dataproc emulator and the function under
functions-framework, wired as deployed (trigger topic -> push -> function -> results
topic, and sweeps hand on what does not fit in one message to the trigger topic);
seeds the Dataproc operations, batches, cluster jobs, interactive sessions and clusters
that schemas/examples/ name; publishes every example message; and prints the results,
grouped by message, then how the stopped jobs and sessions moved through their states.
The budget examples meet a ladder: the one under budget its report rung, the one over
it its clusters rung. Their budget covers a folder of a small fake organisation (the
emulator serves the Budget, Cloud Billing, Resource Manager and Cloud Asset APIs too): the
function reads that scope, finds the projects of the folder with live work through Cloud
Asset, and fans out one child sweep per project; the folder's projects are allowed by
ALLOWED_ANCESTORS, a project outside it is left alone.

    dev/run-local.sh             # the table
    dev/run-local.sh --json      # every result in full
    dev/run-local.sh --write-examples   # refresh schemas/examples/result-*.json from this run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jsonschema import Draft202012Validator  # noqa: E402

from dataproc_emulator.admin import EmulatorAdmin  # noqa: E402
from local_stack import LocalStack  # noqa: E402
from local_stack.chat_receiver import Receiver, chat_receiver  # noqa: E402
from local_stack.pubsub_emulator import topic_path  # noqa: E402
from local_stack.stack import RESULTS_SUBSCRIPTION, TRIGGER_TOPIC  # noqa: E402
from tests.support.result_contract import assert_valid_result  # noqa: E402

EXAMPLES = REPO / "schemas" / "examples"
TRIGGER_SCHEMA = Draft202012Validator(
    json.loads((REPO / "schemas" / "trigger.schema.json").read_text(encoding="utf-8"))
)
PROJECT, REGION = "acme-data-prod", "us-central1"
ML_DEV, WEB = "acme-ml-dev", "acme-web-prod"  # in the data folder, and outside it
DATA_FOLDER = "folders/418726305512"  # budget-notification-*.json's budget covers it
SCOPE, EU_SCOPE = f"projects/{PROJECT}/regions/{REGION}", f"projects/{PROJECT}/regions/europe-west1"
JOBS = f"{SCOPE}/jobs/"
CLUSTERS = f"{SCOPE}/clusters/"
SESSIONS = f"projects/{PROJECT}/locations/{REGION}/sessions/"
# A second pull subscription on the trigger topic, to show the continuations the
# function hands on (the push subscription delivers them to the function as usual).
WATCH_SUBSCRIPTION = "cancel-requests-watch"
FUNCTION_ENV = {
    "ALLOWED_PROJECTS": PROJECT,
    "ALLOWED_ANCESTORS": DATA_FOLDER,  # and acme-ml-dev with it, by Resource Manager's word
    "VERIFY_TIMEOUT_SECONDS": "6",
    "SWEEP_SCOPES": SCOPE,
    "SWEEP_FILTER": "labels.team = ml",
    # Small, so that trigger-sweep-kinds.json (8 selected) is carried on by a
    # continuation message; every other sweep of the examples fits in one message.
    "MAX_CANCELS_PER_MESSAGE": "6",
    "TRIGGER_TOPIC": topic_path(PROJECT, TRIGGER_TOPIC),
    # budget-notification-under.json (42 %) reaches the report rung, -over.json (125 %)
    # the clusters rung: the ml work, then the ml clusters.
    "BUDGET_LADDER": "0.4:report,0.9:work,1.2:clusters",
    "CLUSTER_DELETE_ALLOWED": "true",  # trigger-cluster-delete.json
    # SWEEP_KINDS (operations,jobs,sessions) and EXEMPT_LABEL (dataproc-canceller=exempt)
    # keep their defaults.
}
ETL_CLUSTER_UUID = "0d2e6f0a-9c1b-4c7e-8f7a-1a2b3c4d5e6f"  # incident-cluster-open.json
ML_CLUSTER_UUID = "7c1e4b2a-3f5d-4e6a-9b8c-2d1f0e9a8b7c"  # trigger-sweep-cluster.json
HOUR = 3600
# The jobs and sessions whose way through their states is printed at the end.
TIMELINES = (
    JOBS + "spark-etl-nightly-20261127",
    JOBS + "pyspark-wordcount-setup",
    JOBS + "pyspark-long-bootstrap",
    JOBS + "stubborn-ml-scoring",
    JOBS + "stuck-streaming-ingest",
    SESSIONS + "notebook-data-science-42",
    SESSIONS + "notebook-crashing",
)


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def seed(admin: EmulatorAdmin) -> None:
    """The organisation and the Dataproc state the example messages meet."""
    seed_organisation(admin)
    seed_clusters(admin)  # first: the jobs seeded on them take their uuids
    seed_operations(admin)
    seed_jobs(admin)
    seed_sessions(admin)


def seed_organisation(admin: EmulatorAdmin) -> None:
    """acme's organisation: the data folder (acme-data-prod, acme-ml-dev) that the
    examples' budget covers, and a web folder (acme-web-prod) that it does not; ml work
    in acme-ml-dev (reached only through the budget's scope) and in acme-web-prod (never
    touched: not the budget's, nor allowed)."""
    budget = json.loads((EXAMPLES / "budget-notification-over.json").read_text())["attributes"]
    account = budget["billingAccountId"]
    organisation = "organizations/584217390021"
    admin.seed_organisation(
        {
            "organization": {"id": organisation.split("/")[1], "displayName": "acme.example"},
            "folders": [
                {"id": DATA_FOLDER.split("/")[1], "parent": organisation, "displayName": "data"},
                {"id": "418726305513", "parent": organisation, "displayName": "web"},
            ],
            "projects": [
                {
                    "projectId": project,
                    "number": number,
                    "parent": parent,
                    "billingAccount": account,
                }
                for project, number, parent in (
                    (PROJECT, "731002233441", DATA_FOLDER),
                    (ML_DEV, "731002233442", DATA_FOLDER),
                    (WEB, "731002233443", "folders/418726305513"),
                )
            ],
            "billingAccounts": [{"id": account}],
            "budgets": [
                {
                    "billingAccount": account,
                    "id": budget["budgetId"],
                    "displayName": "dataproc-monthly",
                    "budgetFilter": {"resourceAncestors": [DATA_FOLDER]},
                    "amount": {"specifiedAmount": {"currencyCode": "USD", "units": "1000"}},
                }
            ],
        }
    )
    for project in (ML_DEV, WEB):
        admin.seed_job(
            name=f"projects/{project}/regions/europe-west1/jobs/ml-feature-backfill",
            state="RUNNING",
            labels={"team": "ml"},
            submittedSecondsAgo=5 * HOUR,
            cancelSeconds=0.5,
        )


def seed_clusters(admin: EmulatorAdmin) -> None:
    """Clusters: a stop takes them RUNNING -> STOPPING -> STOPPED in stopSeconds."""

    def cluster(name: str, **behaviour: Any) -> dict[str, Any]:
        return {"name": CLUSTERS + name, "runningSecondsAgo": 3 * HOUR, **behaviour}

    admin.seed_clusters(
        [
            # trigger-cluster.json: two jobs on it are cancelled first, then it stops. Its
            # workers are C2, a family the price table does not price: its burn, and its
            # jobs' cluster burn, say so (the Dataproc fee is still shown).
            cluster(
                "etl-nightly", stopSeconds=1.0, workerInstances=4, workerMachineType="c2-standard-8"
            ),
            cluster("adhoc-analysis", stopSeconds=0.5),  # trigger-cluster-url.json
            # trigger-clusters.json: one of each outcome.
            cluster("dev-sandbox", state="STOPPED"),
            cluster("streaming-ingest", secondaryWorkerInstances=2),  # refused: ERROR
            cluster("burst-etl", stopSeconds=600),  # still STOPPING after the window
            cluster("gke-spark", gke=True),  # Dataproc on GKE: left alone
            # trigger-cluster-delete.json: cannot be stopped, deleted instead.
            cluster("spot-backfill", secondaryWorkerInstances=4, deleteSeconds=1.0),
            # trigger-sweep-clusters-dry-run.json: up 13 h, and one up 2 h.
            cluster("research-a", labels={"team": "research"}, runningSecondsAgo=13 * HOUR),
            cluster("research-b", labels={"team": "research"}, runningSecondsAgo=2 * HOUR),
            # budget-notification-over.json's clusters rung: ml clusters, one exempt.
            cluster("ml-training", labels={"team": "ml"}, stopSeconds=1.0),
            cluster("ml-serving", labels={"team": "ml", "dataproc-canceller": "exempt"}),
            # incident-cluster-open.json (CLUSTER_INCIDENT_ACTION=jobs): its jobs only.
            cluster("etl-cluster", clusterUuid=ETL_CLUSTER_UUID),
        ]
    )


def seed_operations(admin: EmulatorAdmin) -> None:
    def op(op_id: str, scope: str = SCOPE, **behaviour: Any) -> dict[str, Any]:
        return {"name": f"{scope}/operations/{op_id}", **behaviour}

    def labelled(team: str, hours: float) -> dict[str, Any]:
        return {"labels": {"team": team}, "createTime": ago(hours=hours)}

    cluster = {
        "clusterName": "etl-cluster",
        "clusterUuid": ETL_CLUSTER_UUID,
        "operationType": "CREATE",
    }
    admin.seed_operations(
        [
            op("5f0c7e1d-etl-nightly", cancelSeconds=1.0),
            op("c2a9-name-field", cancelSeconds=0.5),
            op("finished-report", done=True),
            op("stubborn-ml-train", onCancel="ignore", completesAfterSeconds=4.0),
            op("legacy-cluster-update", kind="cluster", onCancel="unimplemented"),
            op("adhoc-spark-sql", cancelSeconds=0.3),
            op("slow-shutdown", cancelSeconds=120),
            op("other-teams-job", onCancel="forbidden"),
            op("locked-by-policy"),
            *[
                op(f"etl-old-{i}", cancelSeconds=0.5, metadata=labelled("etl", 7 + i))
                for i in range(3)
            ],
            op("etl-young", metadata=labelled("etl", 1)),
            *[
                op(f"etl-eu-{i}", EU_SCOPE, cancelSeconds=0.5, metadata=labelled("etl", 9))
                for i in range(2)
            ],
            *[op(f"ml-train-{i}", cancelSeconds=0.5, metadata=labelled("ml", 2)) for i in range(2)],
            *[op(f"analytics-{i}", metadata=labelled("analytics", 3)) for i in range(2)],
            *[
                op(
                    f"cluster-op-{i}",
                    kind="cluster",
                    cancelSeconds=0.5,
                    metadata={**cluster, "labels": {"team": "platform"}},
                )
                for i in range(2)
            ],
        ]
    )
    admin.add_fault(
        method="POST",
        pathRegex="locked-by-policy:cancel$",
        times=-1,
        action="status",
        status=400,
        statusName="FAILED_PRECONDITION",
    )
    for batch, behaviour in (
        ("daily-aggregation", {"cancelSeconds": 0.8}),
        ("runaway-backfill", {"cancelSeconds": 0.6}),
    ):
        admin.seed_batch(
            name=f"projects/{PROJECT}/locations/{REGION}/batches/{batch}", operation=behaviour
        )


def seed_jobs(admin: EmulatorAdmin) -> None:
    """Cluster jobs: a cancel moves one to CANCEL_PENDING at once, CANCEL_STARTED half-way
    through cancelSeconds and CANCELLED at its end (dataproc_emulator's doc)."""

    def job(job_id: str, **behaviour: Any) -> dict[str, Any]:
        return {"name": JOBS + job_id, **behaviour}

    def team(name: str, hours: float, **behaviour: Any) -> dict[str, Any]:
        labels = {"team": name, **behaviour.pop("labels", {})}
        return {"labels": labels, "submittedSecondsAgo": hours * HOUR, **behaviour}

    admin.seed_jobs(
        [
            # trigger-job.json: CANCEL_PENDING -> CANCEL_STARTED -> CANCELLED in 1.6 s.
            job("spark-etl-nightly-20261127", cancelSeconds=1.6, submittedSecondsAgo=5 * HOUR),
            job("spark-streaming-clicks", cancelSeconds=0.5),  # trigger-job-url.json
            # On trigger-cluster.json's cluster: cancelled, each verified, before its stop.
            job("etl-nightly-load", clusterName="etl-nightly", cancelSeconds=0.5),
            job("etl-nightly-report", clusterName="etl-nightly", cancelSeconds=0.8),
            # On the ml cluster the over-budget notification's clusters rung stops.
            job("ml-training-epoch-7", clusterName="ml-training", cancelSeconds=0.5),
            # trigger-jobs.json: one of each outcome.
            job("adhoc-hive-query", cancelSeconds=0.4),
            # SETUP_DONE for 3 s: each :cancel meanwhile is refused (FAILED_PRECONDITION)
            # and tried again; once RUNNING it is accepted.
            job("pyspark-wordcount-setup", setupSeconds=3.0, cancelSeconds=0.4),
            job("pyspark-long-bootstrap", setupSeconds=600),  # refused the whole window
            job("report-export-done", state="DONE"),
            job(
                "report-export-failed",
                state="ERROR",
                details="Job failed with message [java.lang.OutOfMemoryError: Java heap space]",
            ),
            job("stubborn-ml-scoring", onCancel="finish", cancelSeconds=1.0),  # ends DONE
            job("stuck-streaming-ingest", onCancel="stuck"),  # CANCEL_PENDING for good
            job("finance-reconcile", onCancel="forbidden"),
            # incident-job-open.json names this incarnation; incident-job-reused-id.json
            # names a job_uuid that nightly-export no longer has.
            job(
                "hive-billing-rollup",
                jobUuid="3f6d2c1a-8b4e-4f7a-9c2d-5e1b0a9f8c7d",
                cancelSeconds=0.6,
                submittedSecondsAgo=7 * HOUR,
            ),
            job("nightly-export", jobUuid="e5f60718-2a3b-4c5d-8e9f-0a1b2c3d4e5f"),
            # incident-cluster-open.json sweeps etl-cluster's operations and jobs.
            job(
                "etl-cluster-compaction",
                clusterName="etl-cluster",
                clusterUuid=ETL_CLUSTER_UUID,
                cancelSeconds=0.5,
            ),
            # trigger-sweep-cluster.json: only the named incarnation of ml-cluster.
            job(
                "ml-cluster-train",
                clusterName="ml-cluster",
                clusterUuid=ML_CLUSTER_UUID,
                cancelSeconds=0.5,
            ),
            job(
                "ml-cluster-new-warmup",
                clusterName="ml-cluster",
                clusterUuid="c0ffee00-1234-4abc-8def-0123456789ab",
            ),
            # The budget sweep (SWEEP_FILTER labels.team = ml) and the dry-run sweep.
            job("ml-feature-backfill", **team("ml", 2, cancelSeconds=0.5)),
            job("analytics-dashboard-refresh", **team("analytics", 3)),
            # trigger-sweep-kinds.json: 6 running and old enough, one exempt, one young.
            *[
                job(f"research-train-{i}", **team("research", 3 + i / 4, cancelSeconds=0.5))
                for i in range(6)
            ],
            job(
                "research-pinned-eval",
                **team("research", 5, labels={"dataproc-canceller": "exempt"}),
            ),
            job("research-just-submitted", **team("research", 0.5)),
        ]
    )


def seed_sessions(admin: EmulatorAdmin) -> None:
    """Interactive sessions: a terminate makes one TERMINATING at once and TERMINATED
    terminateSeconds later."""

    def session(session_id: str, **behaviour: Any) -> dict[str, Any]:
        return {"name": SESSIONS + session_id, **behaviour}

    def team(name: str, hours: float, **behaviour: Any) -> dict[str, Any]:
        return {"labels": {"team": name}, "createdSecondsAgo": hours * HOUR, **behaviour}

    admin.seed_sessions(
        [
            # trigger-session.json: TERMINATING -> TERMINATED in 1.2 s.
            session("notebook-data-science-42", terminateSeconds=1.2, createdSecondsAgo=8 * HOUR),
            session("notebook-weekend-idle", terminateSeconds=0.4),  # trigger-session-url.json
            # trigger-sessions.json
            session("spark-connect-bi", terminateSeconds=0.3),
            session("notebook-finished", state="TERMINATED"),
            session(
                "notebook-crashing",
                onTerminate="fail",
                terminateSeconds=0.5,
                stateMessage="Session failed: the Jupyter kernel exited with code 137",
            ),
            session("notebook-private", onTerminate="forbidden"),
            session("notebook-forgotten-gpu", terminateSeconds=0.8),  # incident-session-open
            session("ml-notebook-tuning", **team("ml", 2, terminateSeconds=0.3)),  # budget
            session("analytics-notebook", **team("analytics", 2)),  # dry run
            *[
                session(f"research-notebook-{x}", **team("research", h, terminateSeconds=0.3))
                for x, h in (("a", 4), ("b", 6))
            ],
            session("bi-dashboard-refresh", **team("bi", 1, terminateSeconds=0.3)),
        ]
    )


# Examples whose outcome depends on being handled within seconds of seeding: published
# first, so the queue of the other messages does not delay them. The operation of
# trigger-url.json completes 4 s after seeding (COMPLETED_DESPITE_CANCEL only if the
# cancel came first); a job of trigger-jobs.json sits in SETUP_DONE for 3 s.
PUBLISHED_FIRST = ("trigger-url.json", "trigger-jobs.json")
# Published once every other example is answered: the budget over its clusters rung
# stops the ml work and clusters that the one under budget (its report rung) shows first.
PUBLISHED_LAST = ("budget-notification-over.json",)


def publish_examples(stack: LocalStack, last: bool = False) -> dict[str, str]:
    """Publish every trigger, budget and incident example (or, ``last``, those of
    PUBLISHED_LAST); message id -> file name."""
    paths = [
        path
        for path in sorted(EXAMPLES.glob("*.json"))
        if not path.name.startswith("result-") and (path.name in PUBLISHED_LAST) == last
    ]
    paths.sort(key=lambda path: path.name not in PUBLISHED_FIRST)  # stable: sorted otherwise
    published = {}
    for path in paths:
        example = json.loads(path.read_text())
        data = example["data"]
        if isinstance(data, dict) and "costIntervalStart" in data:
            # Billing sends the start of the budget's current period: this month's, so
            # that savedUpTo's horizon is the rest of it (the file's date is long past).
            data["costIntervalStart"] = this_month_start()
        body = data.encode() if isinstance(data, str) else json.dumps(data).encode()
        published[stack.publish_trigger(body, example.get("attributes") or None)] = path.name
    return published


def this_month_start() -> str:
    """The first of this month at midnight Pacific standard time (08:00 UTC), as Billing
    writes costIntervalStart."""
    now = datetime.now(UTC)
    return f"{now.year:04}-{now.month:02}-01T08:00:00Z"


@dataclass
class Collected:
    results: list[dict[str, Any]] = field(default_factory=list)
    continuations: list[dict[str, Any]] = field(default_factory=list)  # as handed on


def collect(stack: LocalStack, quiet_seconds: float, limit_seconds: float) -> Collected:
    """Pull results (and the continuations handed on) until nothing new has arrived for
    ``quiet_seconds``."""
    collected = Collected()
    deadline = time.monotonic() + limit_seconds
    last_new = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_new < quiet_seconds:
        batch = stack.pubsub.pull(stack.project, RESULTS_SUBSCRIPTION, timeout=0.5)
        handed_on = [
            message
            for message in stack.pubsub.pull(stack.project, WATCH_SUBSCRIPTION, timeout=0)
            if message["attributes"].get("continuation") == "true"
        ]
        if batch or handed_on:
            last_new = time.monotonic()
        collected.results.extend(json.loads(message["data"]) for message in batch)
        collected.continuations.extend(json.loads(message["data"]) for message in handed_on)
    return collected


def check_contracts(collected: Collected) -> list[str]:
    """Every result against result.schema.json and result.proto, every continuation
    against trigger.schema.json."""
    problems = []
    for result in collected.results:
        try:
            assert_valid_result(result)
        except AssertionError as invalid:
            problems.append(str(invalid).splitlines()[1].strip())
    for message in collected.continuations:
        problems += [
            f"continuation: {error.message}" for error in TRIGGER_SCHEMA.iter_errors(message)
        ]
    return problems


def print_table(published: dict[str, str], collected: Collected, stack: LocalStack) -> None:
    by_trigger: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in collected.results:
        by_trigger[result["trigger"]["messageId"]].append(result)
    # A continuation message is published by the function, so its id is not ours: its
    # results are shown under the message that started its chain, which they name.
    continued: dict[str, list[str]] = defaultdict(list)
    for message_id, results in by_trigger.items():
        if message_id not in published:
            continued[results[0]["trigger"]["chain"]].append(message_id)
    handed_on: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for continuation in collected.continuations:
        handed_on[chain_of(continuation)].append(continuation)
    notes = {
        record.get("messageId"): record["message"]
        for record in stack.function.json_log_records()
        if record.get("severity") == "INFO" and "outcome" not in record
    }
    for message_id, example in sorted(published.items(), key=lambda item: item[1]):
        print(f"\n{example}  (message {message_id})")
        answered = by_trigger.get(message_id, [])
        if not answered:
            print(f"  (no result published) log: {notes.get(message_id, '?')}")
        print_results(answered)
        chain = answered[0]["trigger"]["chain"] if answered else ""
        for continuation in handed_on.get(chain, []):
            print(f"  -> handed on to {TRIGGER_TOPIC}: {json.dumps(continuation)}")
        for continuation_id in continued.get(chain, []):
            print(f"  continuation (message {continuation_id}):")
            print_results(by_trigger[continuation_id])
    counts = Counter(result["outcome"] for result in collected.results)
    kinds = Counter(result["kind"] for result in collected.results)
    print(
        f"\n{len(collected.results)} results from {len(published)} messages"
        f" (+{len(collected.continuations)} continuation): "
        + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        + "; by kind: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    )


def chain_of(continuation: dict[str, Any]) -> str:
    """The chain a continuation carries on: a sweep's, or a list of names'."""
    if "sweep" in continuation:
        return str(continuation["sweep"]["continuation"]["sweepId"])
    return str(continuation["continuation"]["chainId"])


def print_results(results: list[dict[str, Any]]) -> None:
    ordered = sorted(results, key=lambda r: (r["outcome"] == "SWEEP_SUMMARY", r["target"]))
    for result in ordered:
        target = result["target"] or "(sweep)"
        print(f"  {result['outcome']:<25} {result['kind']:<9} {target}")
        print(f"  {'':<35} {result['detail']}")
        if line := money_line(result):
            print(f"  {'':<35} {line}")
        if result["outcome"] == "SWEEP_SUMMARY" and "fanOut" in result["sweep"]:
            fan_out = result["sweep"]["fanOut"]
            fields = ("searched", "pages", "assets", "projects", "refused", "pairs", "children")
            shown = ", ".join(f"{key} {json.dumps(fan_out[key])}" for key in fields)
            print(f"  {'':<35} sweep {result['sweep']['id']} fan-out: {shown}")
        elif result["outcome"] == "SWEEP_SUMMARY":
            sweep = result["sweep"]
            fields = ("kinds", "found", "selected", "exempt", "acted", "remaining", "handedOn")
            shown = ", ".join(f"{key} {json.dumps(sweep[key])}" for key in fields)
            part = f" {sweep['part']}" if "part" in sweep else ""
            print(f"  {'':<35} sweep {sweep['id']}{part} generation {sweep['generation']}: {shown}")


def money_line(result: dict[str, Any]) -> str:
    """A result's burn and savedUpTo, or a summary's money, in one line."""
    if money := result.get("money"):
        line = (
            f"money: {money['stopped']} stopped, {money['priced']} priced, burning "
            f"${money['burnUsdPerHour']:.2f}/h; saved up to ${money['savedUpToUsd']:.2f}"
        )
        return line + (f" ({money['unknown']})" if money.get("unknown") else "")
    burn = result.get("burn")
    if not burn:
        return ""
    if "usdPerHour" in burn:
        line = f"burn: ${burn['usdPerHour']:.4f}/h"
    elif "cluster" in burn or burn["unknown"].startswith("a job's share"):
        cluster = burn.get("cluster", {})
        shown = f"${cluster['usdPerHour']:.4f}/h" if "usdPerHour" in cluster else "unknown"
        line = f"burn: a job's own is not knowable; its cluster's, for reference: {shown}"
    else:
        line = f"burn: unknown: {burn['unknown']}"
    if saved := result.get("savedUpTo"):
        line += f"; saved up to ${saved['usd']:.2f} ({saved['horizon']['said']})"
    return line


def print_chat(receiver: Receiver, shown: int = 2) -> None:
    """What the people were told: the chat messages the function posted; a budget's in
    full, and the first few others."""
    texts = receiver.texts()
    print(f"\nchat messages posted to NOTIFY_WEBHOOK_URL (a local receiver): {len(texts)}")
    budgets = [text for text in texts if "Trigger: budget" in text]
    others = [text for text in texts if text not in budgets]
    for text in [*budgets, *others[:shown]]:
        print("  ---")
        print("\n".join(f"  {line}" for line in text.splitlines()))
    if len(others) > shown:
        print(f"  --- and {len(others) - shown} more, whose first lines are:")
        for text in others[shown:]:
            print(f"  {text.splitlines()[0] if text else ''}")


def print_timelines(admin: EmulatorAdmin) -> None:
    """How the stopped jobs and sessions moved, as the Dataproc emulator recorded it."""
    print(
        "\nstates of jobs and sessions, as Dataproc saw them (seconds in each state), and "
        "how often the function asked to stop them (a job is refused while in SETUP_DONE):"
    )
    stops: Counter[str] = Counter()
    for request in admin.requests():
        if request["method"] == "POST":
            stops[request["path"].removeprefix("/v1/")] += 1
    for name in TIMELINES:
        if "/jobs/" in name:
            resource = admin.job_internals(name)["job"]
            entries = [*resource.get("statusHistory", []), resource["status"]]
            states = [(e["state"], e["stateStartTime"]) for e in entries]
            verb = ":cancel"
        else:
            resource = admin.session_internals(name)["session"]
            entries = [*resource.get("stateHistory", []), resource]
            states = [(e["state"], e.get("stateStartTime") or e["stateTime"]) for e in entries]
            verb = ":terminate"
        steps = []
        for (state, start), (_, end) in zip(states, [*states[1:], (None, None)], strict=True):
            if end is None:
                steps.append(state)
            else:
                seconds = (_parse(end) - _parse(start)).total_seconds()
                steps.append(f"{state} {seconds:.1f}" if seconds < 600 else f"{state} ...")
        asked = stops[name + verb]
        print(f"  {name.rsplit('/', 1)[1]:<28} {' > '.join(steps)}   ({asked} x {verb})")


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def print_requests(admin: EmulatorAdmin) -> None:
    counts = admin.request_counts()
    peak = counts["peakPerMinute"]
    print(
        f"\nDataproc requests: {counts['total']}; busiest minute: {peak['all']} "
        f"(default {peak['default']}, GetJob {peak['getJob']}, job operations "
        f"{peak['jobOperation']}, cluster operations {peak.get('clusterOperation', 0)}); "
        f"refused by quota: {counts['rejectedByQuota']}"
    )


def write_examples(published: dict[str, str], results: list[dict[str, Any]]) -> None:
    """Real results as the documented examples: result-OUTCOME.json for every outcome
    (an operation's where there is one), result-OUTCOME-KIND.json for every other kind
    that had it, and the sweep summaries that show a continuation. The pick is stable
    from run to run: by example file, then target."""
    order = {name: index for index, name in enumerate(sorted(published.values()))}

    def rank(result: dict[str, Any]) -> tuple[int, str]:
        example = published.get(result["trigger"]["messageId"])
        return (order.get(example, len(order)) if example else len(order), result["target"])

    picked: dict[str, dict[str, Any]] = {}
    for result in sorted(results, key=rank):
        outcome = result["outcome"].lower().replace("_", "-")
        kind = result["kind"]
        deleting = kind == "cluster" and result.get("state", {}).get("action") == "delete"
        if kind in ("batch", "job", "session", "cluster") and not deleting:
            picked.setdefault(f"{outcome}-{kind}", result)
        if deleting:
            picked.setdefault(f"{outcome}-cluster-delete", result)
        if result.get("clearedFor"):
            picked.setdefault(f"{outcome}-{kind}-cleared-for-cluster", result)
        if outcome == "sweep-summary" and result.get("rung"):
            picked.setdefault("sweep-summary-budget-rung", result)
        sweep = result.get("sweep", {})
        if sweep.get("part") and kind == "job" and outcome == "cancelled":
            picked.setdefault("cancelled-job-fan-out-child", result)
        if outcome == "rejected" and result["target"].count("/") == 1:
            picked.setdefault("rejected-fan-out-project", result)  # projects/P
        if outcome == "sweep-summary":
            if "folders/" in " ".join(sweep.get("fanOut", {}).get("scopes", [])):
                picked.setdefault("sweep-summary-fan-out-folder", result)
            if sweep.get("part"):
                picked.setdefault("sweep-summary-fan-out-child", result)
            if sweep.get("handedOn"):
                picked.setdefault("sweep-summary-handed-on", result)
            if sweep.get("generation"):
                picked.setdefault("sweep-summary-continuation", result)
            if sweep.get("exempt") and len(sweep.get("kinds", [])) > 1:
                picked.setdefault(outcome, result)  # the one that shows the most
    for result in sorted(results, key=lambda r: (r["kind"] != "operation", rank(r))):
        picked.setdefault(result["outcome"].lower().replace("_", "-"), result)
    for old in EXAMPLES.glob("result-*.json"):
        old.unlink()
    for name, result in sorted(picked.items()):
        path = EXAMPLES / f"result-{name}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {len(picked)} result examples to {EXAMPLES}: {', '.join(sorted(picked))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print every result in full")
    parser.add_argument(
        "--write-examples",
        action="store_true",
        help="refresh schemas/examples/result-*.json from this run",
    )
    args = parser.parse_args()
    print("starting the Pub/Sub emulator, the Dataproc emulator and the function ...")
    with (
        chat_receiver() as chat,
        LocalStack(
            PROJECT, function_env={**FUNCTION_ENV, "NOTIFY_WEBHOOK_URL": chat.url()}
        ) as stack,
    ):
        stack.pubsub.create_pull_subscription(PROJECT, WATCH_SUBSCRIPTION, TRIGGER_TOPIC)
        admin = EmulatorAdmin(stack.dataproc.base_url)
        seed(admin)
        published = publish_examples(stack)
        print(f"published {len(published)} example messages; waiting for results ...")
        collected = collect(stack, quiet_seconds=5.0, limit_seconds=120.0)
        last = publish_examples(stack, last=True)
        print(f"published {', '.join(last.values())}; waiting for results ...")
        more = collect(stack, quiet_seconds=5.0, limit_seconds=60.0)
        published.update(last)
        collected.results.extend(more.results)
        collected.continuations.extend(more.continuations)
        if args.json:
            print(json.dumps(collected.results, indent=2))
        print_table(published, collected, stack)
        print_chat(chat)
        print_timelines(admin)
        print_requests(admin)
        problems = check_contracts(collected)
        print(
            f"contracts: {len(collected.results)} results against result.schema.json and "
            f"result.proto, {len(collected.continuations)} continuation(s) against "
            f"trigger.schema.json: " + ("all valid" if not problems else "; ".join(problems))
        )
        print(f"\nlogs (function, emulators): {stack.log_dir}")
        if args.write_examples:
            if problems:
                print("not writing examples: some results break the contracts")
                return 1
            write_examples(published, collected.results)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
