"""Turning admin-API seed JSON into records, strictly.

Seeds are written by hand in tests; a typo'd key silently ignored would make a test
pass for the wrong reason, so unknown keys and bad values are a 400 that names them.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import invalid
from .records import KINDS, BatchRecord, OperationRecord, new_uuid

OPERATION_NAME = re.compile(r"projects/[^/]+/regions/[^/]+/operations/[^/:]+")
BATCH_NAME = re.compile(r"projects/([^/]+)/locations/([^/]+)/batches/[^/:]+")
ON_CANCEL = frozenset({"cancel", "ignore", "error", "unimplemented", "forbidden", "not_found"})
BATCH_STATES = frozenset({"PENDING", "RUNNING", "CANCELLING", "CANCELLED", "SUCCEEDED", "FAILED"})

_OPERATION_KEYS = frozenset(
    {
        "name",
        "kind",
        "metadata",
        "state",
        "done",
        "result",
        "completesAfterSeconds",
        "completion",
        "onCancel",
        "cancelSeconds",
        "cancelError",
        "getForbidden",
        "cancelWhenDone",
    }
)
_WHEN_DONE = frozenset({"failed_precondition", "silent"})
_BATCH_KEYS = frozenset({"name", "operation", "labels", "state"})


def operation_from_seed(seed: Any, now: float, default_name: str | None = None) -> OperationRecord:
    seed = _object(seed, "operation seed", _OPERATION_KEYS)
    name = seed.get("name", default_name)
    if not isinstance(name, str) or not OPERATION_NAME.fullmatch(name):
        raise invalid(f"seed name {name!r} is not projects/P/regions/R/operations/ID")
    kind = _choice(seed, "kind", KINDS, "batch")
    op = OperationRecord(
        name=name,
        kind=kind,
        created=now,
        metadata=_object(seed.get("metadata", {}), "metadata"),
        pending=_choice(seed, "state", frozenset({"ACTIVE", "PENDING"}), "ACTIVE") == "PENDING",
        completes_after=_number(seed, "completesAfterSeconds", None),
        completion=_result(seed.get("completion"), "completion"),
        on_cancel=_choice(seed, "onCancel", ON_CANCEL, "cancel"),
        cancel_seconds=_number(seed, "cancelSeconds", 0.0) or 0.0,
        get_forbidden=_flag(seed, "getForbidden"),
        cancel_when_done=_choice(seed, "cancelWhenDone", _WHEN_DONE, "failed_precondition"),
    )
    if "cancelError" in seed:
        op.cancel_error = _status(seed["cancelError"], "cancelError")
    if _flag(seed, "done"):
        op.seeded_result = _result(seed.get("result"), "result") or {
            "response": op.default_response()
        }
    elif "result" in seed:
        raise invalid("result is only for done: true seeds; use completion for a future result")
    return op


def batch_from_seed(seed: Any, now: float) -> BatchRecord:
    seed = _object(seed, "batch seed", _BATCH_KEYS)
    name = seed.get("name")
    match = BATCH_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise invalid(f"batch name {name!r} is not projects/P/locations/L/batches/B")
    labels = _object(seed.get("labels", {}), "labels")
    if not all(isinstance(value, str) for value in labels.values()):
        raise invalid("labels values must be strings")
    op_seed = dict(_object(seed.get("operation", {}), "operation", _OPERATION_KEYS))
    if op_seed.setdefault("kind", "batch") != "batch":
        raise invalid("a batch's operation has kind batch")
    # The link back to the batch wins over anything seeded; labels default to the batch's.
    op_seed["metadata"] = (
        ({"labels": labels} if labels else {})
        | _object(op_seed.get("metadata", {}), "operation.metadata")
        | {"batch": name}
    )
    project, location = match.groups()
    default_op = f"projects/{project}/regions/{location}/operations/{new_uuid()}"
    op = operation_from_seed(op_seed, now, default_op)
    state = _choice(seed, "state", BATCH_STATES, None)
    return BatchRecord(name=name, operation=op, labels=labels, state_override=state)


def _object(value: Any, what: str, keys: frozenset[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{what} must be a JSON object")
    if keys is not None and (unknown := sorted(set(value) - keys)):
        raise invalid(f"{what} has unknown keys {unknown}; known: {sorted(keys)}")
    return value


def _choice(seed: dict[str, Any], key: str, allowed: frozenset[str], default: Any) -> Any:
    value = seed.get(key, default)
    if value != default and value not in allowed:
        raise invalid(f"{key}={value!r}: expected one of {sorted(allowed)}")
    return value


def _number(seed: dict[str, Any], key: str, default: float | None) -> float | None:
    value = seed.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise invalid(f"{key}={value!r}: expected a number of seconds >= 0")
    return float(value)


def _flag(seed: dict[str, Any], key: str) -> bool:
    value = seed.get(key, False)
    if not isinstance(value, bool):
        raise invalid(f"{key}={value!r}: expected true or false")
    return value


def _status(value: Any, what: str) -> dict[str, Any]:
    """A google.rpc.Status: an integer code and a message (details optional)."""
    status = _object(value, what, frozenset({"code", "message", "details"}))
    if isinstance(status.get("code"), bool) or not isinstance(status.get("code"), int):
        raise invalid(f"{what}.code must be an integer google.rpc.Code")
    return status


def _result(value: Any, what: str) -> dict[str, Any] | None:
    if value is None:
        return None
    result = _object(value, what, frozenset({"response", "error"}))
    if len(result) != 1:
        raise invalid(f"{what} needs exactly one of response or error")
    if "error" in result:
        return {"error": _status(result["error"], f"{what}.error")}
    return {"response": _object(result["response"], f"{what}.response")}
