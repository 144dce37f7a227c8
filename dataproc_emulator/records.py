"""Scripted operations and batches, rendered as proto3 JSON at the instant they are read.

Nothing runs in the background: a record stores *when* things happen (seeded, due to
finish, cancel requested) and works out its state from the clock on every read. That
keeps thousands of records free of timers and threads, and makes timing exact.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .usage import DEFAULT_BATCH_USAGE, Usage, runtime_info

TYPE_PREFIX = "type.googleapis.com/google.cloud.dataproc.v1."
CANCELLED_ERROR: dict[str, Any] = {"code": 1, "message": "Operation was cancelled"}

# One anchor pairs the monotonic clock (which orders events) with wall time (which
# timestamps show), so timestamps stay consistent even if the system clock is stepped.
_MONO_ANCHOR = time.monotonic()
_WALL_ANCHOR = time.time()


def timestamp(mono: float) -> str:
    """RFC 3339 in UTC with a Z, the form proto3 JSON uses for google.protobuf.Timestamp."""
    wall = _WALL_ANCHOR + (mono - _MONO_ANCHOR)
    return datetime.fromtimestamp(wall, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Outcome:
    """How and when an operation finished: ``result`` is {"response": ...} or {"error": ...}."""

    at: float
    result: dict[str, Any]


@dataclass(eq=False)
class OperationRecord:
    """One long-running operation and the script it follows."""

    name: str
    kind: str
    created: float
    metadata: dict[str, Any] = field(default_factory=dict)
    pending: bool = False
    seeded_result: dict[str, Any] | None = None
    completes_after: float | None = None
    completion: dict[str, Any] | None = None
    on_cancel: str = "cancel"
    cancel_seconds: float = 0.0
    cancel_error: dict[str, Any] = field(
        default_factory=lambda: {"code": 13, "message": "Cancellation failed"}
    )
    get_forbidden: bool = False
    cancel_when_done: str = "failed_precondition"
    uid: str = field(default_factory=new_uuid)
    cancel_requested: float | None = None
    seq: int = 0

    @property
    def project(self) -> str:
        return self.name.split("/")[1]

    @property
    def region(self) -> str:
        return self.name.split("/")[3]

    @property
    def op_id(self) -> str:
        return self.name.rsplit("/", 1)[1]

    def outcome(self, now: float) -> Outcome | None:
        """The earliest finish that is due: natural completion and a pending cancel race."""
        if self.seeded_result is not None:
            return Outcome(self.created, self.seeded_result)
        due: list[Outcome] = []
        if self.completes_after is not None:
            result = self.completion or {"response": self.default_response()}
            due.append(Outcome(self.created + self.completes_after, result))
        if self.cancel_requested is not None:
            error = CANCELLED_ERROR if self.on_cancel == "cancel" else self.cancel_error
            due.append(Outcome(self.cancel_requested + self.cancel_seconds, {"error": error}))
        due = [item for item in due if item.at <= now]
        return min(due, key=lambda item: item.at) if due else None

    def list_state(self, now: float) -> str:
        """What a list filter on ``status.state`` sees."""
        if self.outcome(now) is not None:
            return "DONE"
        return "PENDING" if self.pending else "ACTIVE"

    def metadata_json(self, now: float) -> dict[str, Any]:
        return self._metadata(self.outcome(now))

    def to_json(self, now: float) -> dict[str, Any]:
        """proto3 JSON: ``done`` only when true, and then exactly one of error/response."""
        outcome = self.outcome(now)
        body: dict[str, Any] = {"name": self.name, "metadata": self._metadata(outcome)}
        if outcome is not None:
            body["done"] = True
            # A copy: the enums_as_numbers functions rewrite the answer in place.
            body.update(copy.deepcopy(outcome.result))
        return body

    def default_response(self) -> dict[str, Any]:
        return _RESPONSE_BUILDERS[self.kind](self, self._metadata(None))

    def _metadata(self, outcome: Outcome | None) -> dict[str, Any]:
        # Seeded metadata is merged over the generated one, key by key.
        return _METADATA_BUILDERS[self.kind](self, outcome) | self.metadata


def _batch_metadata(op: OperationRecord, outcome: Outcome | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "@type": TYPE_PREFIX + "BatchOperationMetadata",
        "batch": f"projects/{op.project}/locations/{op.region}/batches/{op.op_id}",
        "batchUuid": op.uid,
        "createTime": timestamp(op.created),
        "operationType": "BATCH",
        "description": "Batch",
    }
    if outcome is not None:
        meta["doneTime"] = timestamp(outcome.at)
    return meta


def _cluster_metadata(op: OperationRecord, outcome: Outcome | None) -> dict[str, Any]:
    created = timestamp(op.created)
    status: dict[str, str]
    if outcome is not None:
        status = {"state": "DONE", "innerState": "DONE", "stateStartTime": timestamp(outcome.at)}
        if "error" in outcome.result:
            status["details"] = outcome.result["error"].get("message", "")
        history = ["PENDING", "RUNNING"]
    elif op.pending:
        status = {"state": "PENDING", "innerState": "PENDING", "stateStartTime": created}
        history = []
    else:
        status = {"state": "RUNNING", "innerState": "RUNNING", "stateStartTime": created}
        history = ["PENDING"]
    meta: dict[str, Any] = {
        "@type": TYPE_PREFIX + "ClusterOperationMetadata",
        "clusterName": f"cluster-{op.uid[:8]}",
        "clusterUuid": op.uid,
        "status": status,
        "operationType": "CREATE",
        "description": "Create cluster with 2 workers",
    }
    if history:
        meta["statusHistory"] = [{"state": s, "stateStartTime": created} for s in history]
    return meta


def _session_metadata(op: OperationRecord, outcome: Outcome | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "@type": TYPE_PREFIX + "SessionOperationMetadata",
        "session": f"projects/{op.project}/locations/{op.region}/sessions/{op.op_id}",
        "sessionUuid": op.uid,
        "createTime": timestamp(op.created),
        "operationType": "CREATE",
        "description": "Create session",
    }
    if outcome is not None:
        meta["doneTime"] = timestamp(outcome.at)
    return meta


def _workflow_metadata(op: OperationRecord, outcome: Outcome | None) -> dict[str, Any]:
    template = f"projects/{op.project}/regions/{op.region}/workflowTemplates/wt-{op.uid[:8]}"
    meta: dict[str, Any] = {
        "@type": TYPE_PREFIX + "WorkflowMetadata",
        "template": template,
        "version": 1,
        "state": "DONE" if outcome else ("PENDING" if op.pending else "RUNNING"),
        "clusterName": f"wt-cluster-{op.uid[:8]}",
        "clusterUuid": op.uid,
        "startTime": timestamp(op.created),
    }
    if outcome is not None:
        meta["endTime"] = timestamp(outcome.at)
    return meta


_METADATA_BUILDERS: dict[str, Callable[[OperationRecord, Outcome | None], dict[str, Any]]] = {
    "batch": _batch_metadata,
    "cluster": _cluster_metadata,
    "session": _session_metadata,
    "workflow": _workflow_metadata,
}

# Default success responses, built from the (possibly overridden) metadata so that a
# seeded clusterName or batch shows up in the response too.
_RESPONSE_BUILDERS: dict[str, Callable[[OperationRecord, dict[str, Any]], dict[str, Any]]] = {
    "batch": lambda op, meta: {
        "@type": TYPE_PREFIX + "Batch",
        "name": meta["batch"],
        "uuid": meta["batchUuid"],
        "state": "SUCCEEDED",
        "operation": op.name,
    },
    "cluster": lambda op, meta: {
        "@type": TYPE_PREFIX + "Cluster",
        "projectId": op.project,
        "clusterName": meta["clusterName"],
        "clusterUuid": meta["clusterUuid"],
        "status": {"state": "RUNNING"},
    },
    "session": lambda op, meta: {
        "@type": TYPE_PREFIX + "Session",
        "name": meta["session"],
        "uuid": meta["sessionUuid"],
        "state": "ACTIVE",
    },
    "workflow": lambda op, meta: {"@type": "type.googleapis.com/google.protobuf.Empty"},
}

KINDS = frozenset(_METADATA_BUILDERS)


@dataclass(eq=False)
class BatchRecord:
    """A Serverless batch; everything about its state comes from its operation. It runs
    from its creation; ``usage`` is what it uses meanwhile (None: not reported), ``ttl``
    its executionConfig.ttl (None: not set), ``runtime_version`` its runtimeConfig's."""

    name: str
    operation: OperationRecord
    labels: dict[str, str]
    state_override: str | None = None
    usage: Usage | None = DEFAULT_BATCH_USAGE
    ttl: str | None = None
    runtime_version: str = "2.2"
    seq: int = 0

    @property
    def batch_id(self) -> str:
        return self.name.rsplit("/", 1)[1]

    @property
    def uid(self) -> str:
        return self.operation.uid

    def state(self, now: float) -> tuple[str, float, str | None]:
        """(state, since, message), derived from the operation as the spec of Batch.state."""
        op = self.operation
        outcome = op.outcome(now)
        if outcome is not None:
            if "response" in outcome.result:
                return "SUCCEEDED", outcome.at, None
            error = outcome.result["error"]
            if error.get("code") == 1:
                return "CANCELLED", outcome.at, None
            return "FAILED", outcome.at, error.get("message", "")
        if op.cancel_requested is not None:
            return "CANCELLING", op.cancel_requested, None
        default = "PENDING" if op.pending else "RUNNING"
        return self.state_override or default, op.created, None

    def to_json(self, now: float) -> dict[str, Any]:
        state, since, message = self.state(now)
        created = self.operation.created
        history = [] if state == "PENDING" else [_history("PENDING", created)]
        if state not in ("PENDING", "RUNNING"):
            history.append(_history("RUNNING", created))
        execution: dict[str, Any] = {"subnetworkUri": "default"}
        if self.ttl is not None:
            execution["ttl"] = self.ttl
        ended = state in ("SUCCEEDED", "FAILED", "CANCELLED")
        body: dict[str, Any] = {
            "name": self.name,
            "uuid": self.uid,
            "createTime": timestamp(created),
            "pysparkBatch": {"mainPythonFileUri": f"gs://emulator-bucket/{self.batch_id}.py"},
            "runtimeInfo": runtime_info(
                f"gs://emulator-staging/{self.uid}/driveroutput",
                self.usage,
                now,
                started=None if state == "PENDING" else created,
                ended=since if ended else None,
                stamp=timestamp,
            ),
            "state": state,
            "stateTime": timestamp(since),
            "creator": "emulator@example.com",
            "runtimeConfig": {"version": self.runtime_version},
            "environmentConfig": {"executionConfig": execution},
            "operation": self.operation.name,
        }
        if message is not None:
            body["stateMessage"] = message
        if self.labels:
            body["labels"] = dict(self.labels)
        if history:
            body["stateHistory"] = history
        return body


def _history(state: str, since: float) -> dict[str, str]:
    return {"state": state, "stateStartTime": timestamp(since)}


# Batch.State numbers, for clients that ask for ``$alt=json;enum-encoding=int`` as the
# generated REST transports of google-cloud-dataproc do for batch methods.
_BATCH_STATE_NUMBERS = {
    "PENDING": 1,
    "RUNNING": 2,
    "CANCELLING": 3,
    "CANCELLED": 4,
    "SUCCEEDED": 5,
    "FAILED": 6,
}


def batch_enums_as_numbers(batch: dict[str, Any]) -> dict[str, Any]:
    """Google answers enums as numbers when asked to; this is every enum a Batch here has."""
    batch["state"] = _BATCH_STATE_NUMBERS[batch["state"]]
    for entry in batch.get("stateHistory", []):
        entry["state"] = _BATCH_STATE_NUMBERS[entry["state"]]
    return batch
