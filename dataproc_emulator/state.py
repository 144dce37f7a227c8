"""The emulator's model: operations, batches, faults, request log and settings.

One lock guards everything. Requests are short (no I/O happens under the lock; the
simulated latency is slept by the HTTP layer outside it), so a single lock is both
the simplest correct choice and fast enough for thousands of requests a second.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, invalid, not_found
from .faults import Fault, fault_from_seed
from .listing import FilterLanguage, legacy_operations_filter, page_size, paginate
from .records import BatchRecord, OperationRecord, batch_enums_as_numbers, timestamp
from .seeds import batch_from_seed, operation_from_seed

# The request log is for tests and benchmarks; the cap only stops a soak run from
# growing without bound.
REQUEST_LOG_LIMIT = 100_000
OPERATIONS_PAGE_SIZE = 100
BATCHES_PAGE_SIZE = 20  # ListBatchesRequest documents 20 (operations use 100)
# orderBy -> newest first? (the docs name only "" and "create_time desc")
_BATCH_ORDERS = {"": False, "create_time": False, "create_time desc": True}


@dataclass
class Settings:
    latency_seconds: float = 0.0
    ignore_filter: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"latencySeconds": self.latency_seconds, "ignoreFilter": self.ignore_filter}


class EmulatorState:
    """Everything the HTTP layer reads and changes; all methods are thread-safe."""

    def __init__(self, latency_seconds: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._startup_latency = latency_seconds
        self._operations: dict[str, OperationRecord] = {}
        self._batches: dict[str, BatchRecord] = {}
        self._faults: list[Fault] = []
        self._log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._seq = itertools.count(1)
        self.settings = Settings(latency_seconds)

    # ---- admin API ----------------------------------------------------------------

    def reset(self) -> None:
        """Back to a fresh start; the latency given at startup (--latency-ms) survives."""
        with self._lock:
            self._operations.clear()
            self._batches.clear()
            self._faults.clear()
            self._log.clear()
            self.settings = Settings(self._startup_latency)

    def seed_operations(self, seeds: list[Any]) -> list[OperationRecord]:
        """All or nothing: every seed is checked before any is stored."""
        now = time.monotonic()
        records = [operation_from_seed(seed, now) for seed in seeds]
        with self._lock:
            for op in records:
                self._store_operation(op)
        return records

    def seed_operation(self, seed: Any) -> dict[str, Any]:
        (op,) = self.seed_operations([seed])
        return op.to_json(time.monotonic())

    def seed_batch(self, seed: Any) -> dict[str, Any]:
        batch = batch_from_seed(seed, time.monotonic())
        with self._lock:
            self._store_operation(batch.operation)
            self._batches.pop(batch.name, None)
            batch.seq = next(self._seq)
            self._batches[batch.name] = batch
        return batch.to_json(time.monotonic())

    def operation_internals(self, name: str) -> dict[str, Any]:
        with self._lock:
            op = self._operations.get(name)
            if op is None:
                raise not_found(f"no operation {name} was seeded")
            now = time.monotonic()
            requested = op.cancel_requested
            return {
                "operation": op.to_json(now),
                "kind": op.kind,
                "listState": op.list_state(now),
                "onCancel": op.on_cancel,
                "cancelRequestTime": None if requested is None else timestamp(requested),
                "seq": op.seq,
            }

    def add_fault(self, seed: Any) -> Fault:
        fault = fault_from_seed(seed)
        with self._lock:
            self._faults.append(fault)
        return fault

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def update_settings(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or set(body) - {"latencySeconds", "ignoreFilter"}:
            raise invalid("settings take only latencySeconds and ignoreFilter")
        latency = body.get("latencySeconds", self.settings.latency_seconds)
        ignore = body.get("ignoreFilter", self.settings.ignore_filter)
        if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
            raise invalid("latencySeconds must be a number >= 0")
        if not isinstance(ignore, bool):
            raise invalid("ignoreFilter must be true or false")
        with self._lock:
            self.settings = Settings(float(latency), ignore)
            return self.settings.to_json()

    # ---- the real API -------------------------------------------------------------

    def begin_request(
        self, method: str, path: str, query: dict[str, str], authorized: bool, body: str
    ) -> Fault | None:
        """Log a real-API request and take the first fault that applies to it, if any."""
        with self._lock:
            fault = next((f for f in self._faults if f.matches(method, path)), None)
            if fault is not None:
                fault.consume()
            self._log.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "hasAuthorization": authorized,
                    "body": body,
                    "time": time.time(),
                    "fault": None if fault is None else fault.id,
                }
            )
            return fault

    def get_operation(self, name: str) -> dict[str, Any]:
        with self._lock:
            return self._readable(name, "get").to_json(time.monotonic())

    def cancel_operation(self, name: str) -> dict[str, Any]:
        """Best effort and asynchronous, like Dataproc: the cancel only *starts* here."""
        with self._lock:
            op = self._readable(name, "cancel")
            if op.on_cancel == "forbidden":
                raise _denied("cancel", name)
            if op.on_cancel == "not_found":
                raise _missing(name)
            if op.on_cancel == "unimplemented":
                raise ApiError(501, "Operation cancellation is not implemented for this resource.")
            now = time.monotonic()
            if op.outcome(now) is not None:
                if op.cancel_when_done == "silent":
                    return {}
                raise ApiError(400, f"Operation {name} is already done.", "FAILED_PRECONDITION")
            if op.on_cancel in ("cancel", "error") and op.cancel_requested is None:
                op.cancel_requested = now
            return {}

    def delete_operation(self, name: str) -> dict[str, Any]:
        """Forgets the record only; a batch that owns it keeps its (running) operation."""
        with self._lock:
            self._readable(name, "delete")
            del self._operations[name]
            return {}

    def list_operations(self, collection: str, query: dict[str, str]) -> dict[str, Any]:
        now = time.monotonic()
        language: FilterLanguage[OperationRecord] = FilterLanguage(
            {
                "status.state": lambda op: op.list_state(now),
                "clusterName": lambda op: op.metadata_json(now).get("clusterName"),
                "operationType": lambda op: op.metadata_json(now).get("operationType"),
            },
            labels=lambda op: op.metadata.get("labels", {}),
        )
        prefix = collection + "/"
        size = page_size(query.get("pageSize"), OPERATIONS_PAGE_SIZE)
        with self._lock:
            # The real server's handling of this filter is unconfirmed; ignoreFilter lets
            # tests prove that clients filter again on their side.
            text = "" if self.settings.ignore_filter else query.get("filter", "")
            text = legacy_operations_filter(text)
            keep = language.compile(text)
            items = [
                op for op in self._operations.values() if op.name.startswith(prefix) and keep(op)
            ]
            chunk, token = paginate(
                items, lambda op: op.seq, size, query.get("pageToken"), descending=False
            )
            return _page("operations", [op.to_json(now) for op in chunk], token)

    def get_batch(self, name: str, numeric_enums: bool) -> dict[str, Any]:
        with self._lock:
            batch = self._batches.get(name)
            if batch is None:
                raise not_found(f"Batch not found: {name}")
            return _render(batch, time.monotonic(), numeric_enums)

    def list_batches(
        self, parent: str, query: dict[str, str], numeric_enums: bool
    ) -> dict[str, Any]:
        now = time.monotonic()
        language: FilterLanguage[BatchRecord] = FilterLanguage(
            {
                "batch_id": lambda batch: batch.batch_id,
                "batch_uuid": lambda batch: batch.uid,
                "state": lambda batch: batch.state(now)[0],
                "create_time": lambda batch: timestamp(batch.operation.created),
            },
            labels=lambda batch: batch.labels,
            conjunction="AND|and",  # the ListBatchesRequest docs' own example uses "and"
            timestamps=frozenset({"create_time"}),
        )
        order = " ".join(query.get("orderBy", "").split())
        if order not in _BATCH_ORDERS:
            raise invalid(f"Unsupported orderBy {order!r}: use create_time or create_time desc")
        keep = language.compile(query.get("filter", ""))
        size = page_size(query.get("pageSize"), BATCHES_PAGE_SIZE)
        prefix = parent + "/batches/"
        with self._lock:
            items = [b for b in self._batches.values() if b.name.startswith(prefix) and keep(b)]
            descending = _BATCH_ORDERS[order]
            if descending:
                items.reverse()
            chunk, token = paginate(
                items, lambda b: b.seq, size, query.get("pageToken"), descending=descending
            )
            return _page("batches", [_render(b, now, numeric_enums) for b in chunk], token)

    # ---- helpers ----------------------------------------------------------------

    def _store_operation(self, op: OperationRecord) -> None:
        # Re-seeding a name replaces it and moves it to the end of the list order.
        self._operations.pop(op.name, None)
        op.seq = next(self._seq)
        self._operations[op.name] = op

    def _readable(self, name: str, verb: str) -> OperationRecord:
        op = self._operations.get(name)
        if op is None:
            raise _missing(name)
        if op.get_forbidden:
            raise _denied(verb, name)
        return op


def _render(batch: BatchRecord, now: float, numeric_enums: bool) -> dict[str, Any]:
    body = batch.to_json(now)
    return batch_enums_as_numbers(body) if numeric_enums else body


def _page(key: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    """proto3 JSON omits an empty repeated field and an empty string."""
    body: dict[str, Any] = {}
    if items:
        body[key] = items
    if token:
        body["nextPageToken"] = token
    return body


def _missing(name: str) -> ApiError:
    return not_found(f"Operation not found: {name}")


def _denied(verb: str, name: str) -> ApiError:
    return ApiError(
        403,
        f"Permission 'dataproc.operations.{verb}' denied on resource "
        f"'//dataproc.googleapis.com/{name}' (or it may not exist).",
    )
