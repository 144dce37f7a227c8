"""Reading an operation's state, and watching it after ``:cancel`` until it is done.

Cancel is asynchronous and best effort (the seed page): only ``done`` with
``error.code == 1`` (google.rpc.Code.CANCELLED) proves a cancellation. Anything else
that is done finished despite the request; anything not done when time runs out is
still running. We never infer success from the ``{}`` that ``:cancel`` answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

CANCELLED_CODE = 1  # google.rpc.Code.CANCELLED

# Poll times after the cancel, in seconds: 0, then t(k+1) = GROWTH * t(k) + STEP, capped
# at MAX_INTERVAL apart. An operation that ends at t is seen at the next poll, at most
# GROWTH * t + STEP later, which keeps detection within the promised 1.25 * t + 0.2 s
# with room for the GET's own round trip.
FIRST_POLL, STEP, GROWTH, MAX_INTERVAL = 0.0, 0.12, 1.2, 10.0

_METADATA_PREFIX = "type.googleapis.com/google.cloud.dataproc.v1."


def poll_offsets() -> Iterator[float]:
    offset = FIRST_POLL
    while True:
        yield offset
        offset = min(GROWTH * offset + STEP, offset + MAX_INTERVAL)


def is_done(operation: dict[str, Any]) -> bool:
    # proto3 JSON omits false booleans: a running operation has no "done" at all.
    return operation.get("done") is True


def was_cancelled(operation: dict[str, Any]) -> bool:
    error = operation.get("error")
    return is_done(operation) and isinstance(error, dict) and error.get("code") == CANCELLED_CODE


def watch(
    pending: list[T],
    poll: Callable[[list[T]], list[T]],
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[T], int]:
    """Check everything still pending on one schedule measured from the start (a slow
    GET does not push later checks back), the last check at ``timeout`` itself.

    ``poll`` checks the items it is given and returns those still not done. Returns the
    items still pending at the end and the number of rounds."""
    start = clock()
    rounds = 0
    for offset in poll_offsets():
        if not pending:
            break
        last = offset >= timeout
        wait = start + min(offset, timeout) - clock()
        if wait > 0:
            sleep(wait)
        pending = poll(pending)
        rounds += 1
        if last or clock() - start >= timeout:
            break
    return pending, rounds


def describe_state(operation: dict[str, Any]) -> dict[str, Any]:
    """The operation as last seen, flattened for results (schema: operationState)."""
    state: dict[str, Any] = {"done": is_done(operation)}
    error = operation.get("error")
    if isinstance(error, dict):
        if isinstance(error.get("code"), int):
            state["errorCode"] = error["code"]
        if error.get("message"):
            state["errorMessage"] = str(error["message"])[:1024]
    if "response" in operation:
        state["hasResponse"] = True
    metadata = operation.get("metadata")
    if isinstance(metadata, dict):
        state.update(_metadata_fields(metadata))
    return state


def _metadata_fields(metadata: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    if isinstance(metadata.get("@type"), str):
        fields["metadataType"] = metadata["@type"].removeprefix(_METADATA_PREFIX)
    for key, out in (
        ("operationType", "operationType"),
        ("batch", "batch"),
        ("clusterName", "clusterName"),
        ("clusterUuid", "clusterUuid"),
        ("description", "description"),
        ("createTime", "createTime"),
    ):
        if isinstance(metadata.get(key), str) and metadata[key]:
            fields[out] = metadata[key][:1024]
    status = metadata.get("status")
    if "createTime" not in fields and isinstance(status, dict):
        # Cluster operations carry no createTime; their state start time is the closest.
        start = status.get("stateStartTime")
        if isinstance(start, str) and start:
            fields["createTime"] = start
    return fields
