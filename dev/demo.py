"""Run the function locally on embedded defaults and print what it publishes.

Starts the official Pub/Sub emulator, the Dataproc emulator and the function under
functions-framework, wired as deployed (trigger topic -> push -> function -> results
topic); seeds Dataproc operations and batches that match schemas/examples/; publishes
every example message; and prints the results, grouped by message.

    dev/run-local.sh             # the table
    dev/run-local.sh --json      # every result in full
    dev/run-local.sh --write-examples   # refresh schemas/examples/result-*.json from this run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataproc_emulator.admin import EmulatorAdmin  # noqa: E402
from local_stack import LocalStack  # noqa: E402
from local_stack.stack import RESULTS_SUBSCRIPTION  # noqa: E402

EXAMPLES = REPO / "schemas" / "examples"
PROJECT, REGION = "acme-data-prod", "us-central1"
SCOPE, EU_SCOPE = f"projects/{PROJECT}/regions/{REGION}", f"projects/{PROJECT}/regions/europe-west1"
FUNCTION_ENV = {
    "ALLOWED_PROJECTS": PROJECT,
    "VERIFY_TIMEOUT_SECONDS": "6",
    "SWEEP_SCOPES": SCOPE,
    "SWEEP_FILTER": "labels.team = ml",
}


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def seed(admin: EmulatorAdmin) -> None:
    """The Dataproc state the example messages meet."""

    def op(op_id: str, scope: str = SCOPE, **behaviour: Any) -> dict[str, Any]:
        return {"name": f"{scope}/operations/{op_id}", **behaviour}

    def labelled(team: str, hours: float) -> dict[str, Any]:
        return {"labels": {"team": team}, "createTime": ago(hours=hours)}

    cluster = {
        "clusterName": "etl-cluster",
        "clusterUuid": "0d2e6f0a-9c1b-4c7e-8f7a-1a2b3c4d5e6f",
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
    admin.add_fault(method="POST", pathRegex="locked-by-policy:cancel$", times=-1,
                    action="status", status=400, statusName="FAILED_PRECONDITION")
    for batch, behaviour in (
        ("daily-aggregation", {"cancelSeconds": 0.8}),
        ("runaway-backfill", {"cancelSeconds": 0.6}),
    ):
        admin.seed_batch(
            name=f"projects/{PROJECT}/locations/{REGION}/batches/{batch}", operation=behaviour
        )


def publish_examples(stack: LocalStack) -> dict[str, str]:
    """Publish every trigger, budget and incident example; message id -> file name."""
    published = {}
    for path in sorted(EXAMPLES.glob("*.json")):
        if path.name.startswith("result-"):
            continue
        example = json.loads(path.read_text())
        data = example["data"]
        body = data.encode() if isinstance(data, str) else json.dumps(data).encode()
        published[stack.publish_trigger(body, example.get("attributes") or None)] = path.name
    return published


def collect(stack: LocalStack, quiet_seconds: float, limit_seconds: float) -> list[dict[str, Any]]:
    """Pull until nothing new has arrived for ``quiet_seconds``."""
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit_seconds
    last_new = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_new < quiet_seconds:
        batch = stack.pubsub.pull(stack.project, RESULTS_SUBSCRIPTION, timeout=0.5)
        if batch:
            last_new = time.monotonic()
            results.extend(json.loads(message["data"]) for message in batch)
    return results


def print_table(
    published: dict[str, str], results: list[dict[str, Any]], stack: LocalStack
) -> None:
    by_trigger: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        by_trigger[result["trigger"]["messageId"]].append(result)
    notes = {
        record.get("messageId"): record["message"]
        for record in stack.function.json_log_records()
        if record.get("severity") == "INFO" and "outcome" not in record
    }
    for message_id, example in published.items():
        print(f"\n{example}  (message {message_id})")
        answered = sorted(
            by_trigger.get(message_id, []),
            key=lambda r: (r["outcome"] == "SWEEP_SUMMARY", r["operation"]),
        )
        if not answered:
            print(f"  (no result published) log: {notes.get(message_id, '?')}")
        for result in answered:
            target = result["operation"] or result.get("batch") or "(sweep)"
            print(f"  {result['outcome']:<25} {target}")
            print(f"  {'':<25} {result['detail']}")
    counts: dict[str, int] = defaultdict(int)
    for result in results:
        counts[result["outcome"]] += 1
    print(
        f"\n{len(results)} results from {len(published)} messages: "
        + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    )


def write_examples(results: list[dict[str, Any]]) -> None:
    """One real result per outcome, so the documented examples are what the code sends."""
    for old in EXAMPLES.glob("result-*.json"):
        old.unlink()
    seen: set[str] = set()
    for result in results:
        if result["outcome"] not in seen:
            seen.add(result["outcome"])
            path = EXAMPLES / f"result-{result['outcome'].lower().replace('_', '-')}.json"
            path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {len(seen)} result examples to {EXAMPLES}")


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
    with LocalStack(PROJECT, function_env=FUNCTION_ENV) as stack:
        admin = EmulatorAdmin(stack.dataproc.base_url)
        seed(admin)
        published = publish_examples(stack)
        print(f"published {len(published)} example messages; waiting for results ...")
        results = collect(stack, quiet_seconds=4.0, limit_seconds=90.0)
        if args.json:
            print(json.dumps(results, indent=2))
        print_table(published, results, stack)
        print(f"\nlogs (function, emulators): {stack.log_dir}")
        if args.write_examples:
            write_examples(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
