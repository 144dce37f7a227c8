"""Scripted interactive sessions and the terminate operations they answer with.

A session's state comes from the clock like every record here. TerminateSession is a
long-running method: it answers an Operation (SessionOperationMetadata, operationType
TERMINATE) that finishes when the session does, and that operation is an ordinary
OperationRecord, so operations.get, list and cancel treat it like any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import failed_precondition, invalid
from .listing import FilterLanguage
from .records import TYPE_PREFIX, OperationRecord, new_uuid, timestamp
from .usage import DEFAULT_SESSION_USAGE, Usage, runtime_info

TERMINAL = frozenset({"TERMINATED", "FAILED"})
TERMINABLE = frozenset({"CREATING", "ACTIVE"})  # assumed: a CREATING session may be stopped
SEEDABLE_STATES = TERMINABLE | TERMINAL
ON_TERMINATE = frozenset({"terminate", "fail", "forbidden"})
DEFAULT_FAILURE = "Session failed: the emulated Spark driver exited unexpectedly."
# TerminateSessionRequest.requestId: letters, digits, _ and -, at most 40 characters.
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_STATE_NUMBERS = {"CREATING": 1, "ACTIVE": 2, "TERMINATING": 3, "TERMINATED": 4, "FAILED": 5}
_KERNEL_NUMBERS = {"PYTHON": 1, "SCALA": 2}
_OPERATION_TYPE_NUMBERS = {"CREATE": 1, "TERMINATE": 2, "DELETE": 3}


@dataclass(frozen=True)
class Entry:
    state: str
    at: float
    message: str | None = None


@dataclass(eq=False)
class SessionRecord:
    """One session: CREATING and (unless seeded CREATING) ACTIVE since ``created``; a
    seeded end state is dated at ``seeded``; a terminate makes it TERMINATING at once
    and TERMINATED (``on_terminate`` "fail": FAILED) ``terminate_seconds`` later.
    ``usage`` is what it uses while ACTIVE (None: not reported); ``ttl`` and ``idle_ttl``
    its executionConfig's (None: not shown), ``runtime_version`` its runtimeConfig's."""

    name: str
    created: float
    seeded: float
    initial: str = "ACTIVE"
    state_message: str | None = None
    terminate_seconds: float = 0.0
    on_terminate: str = "terminate"
    get_forbidden: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    uid: str = field(default_factory=new_uuid)
    usage: Usage | None = DEFAULT_SESSION_USAGE
    ttl: str | None = "86400s"
    idle_ttl: str | None = "3600s"
    runtime_version: str = "2.2"
    terminate_requested: float | None = None
    terminate_operation: OperationRecord | None = None
    request_id: str | None = None
    seq: int = 0

    @property
    def session_id(self) -> str:
        return self.name.rsplit("/", 1)[1]

    def history(self, now: float) -> list[Entry]:
        """Every state entered by ``now``, oldest first."""
        script = [Entry("CREATING", self.created)]
        if self.initial != "CREATING":
            script.append(Entry("ACTIVE", self.created))
        if self.initial == "TERMINATED":
            script += [Entry("TERMINATING", self.seeded), Entry("TERMINATED", self.seeded)]
        elif self.initial == "FAILED":
            script.append(Entry("FAILED", self.seeded, self.state_message or DEFAULT_FAILURE))
        if self.terminate_requested is not None:
            script += self._terminate_script(self.terminate_requested)
        entered: list[Entry] = []
        for entry in script:  # already in time order
            if entry.at > now:
                break
            entered.append(entry)
            if entry.state in TERMINAL:
                break
        return entered

    def state(self, now: float) -> str:
        return self.history(now)[-1].state

    def terminate(
        self, now: float, request_id: str | None, operation_name: str
    ) -> tuple[OperationRecord, bool]:
        """Start terminating: (the new operation, True); or, when ``request_id`` repeats
        the one that started it, (that operation, False): the request is ignored, as
        TerminateSessionRequest.requestId documents."""
        earlier = self.terminate_operation
        if earlier is not None and request_id is not None and request_id == self.request_id:
            return earlier, False
        state = self.state(now)
        if state not in TERMINABLE:
            # Assumed wording and code: the API documents no answer for terminating a
            # session that is stopping or stopped; FAILED_PRECONDITION is what
            # Dataproc answers for the equivalent on jobs.
            raise failed_precondition(
                f"Session '{self.name}' is in state {state} and cannot be terminated."
            )
        self.terminate_requested = now
        self.request_id = request_id
        self.terminate_operation = self._operation(operation_name, now)
        return self.terminate_operation, True

    def to_json(self, now: float) -> dict[str, Any]:
        entered = self.history(now)
        current = entered[-1]
        active = next((entry.at for entry in entered if entry.state == "ACTIVE"), None)
        execution: dict[str, Any] = {"subnetworkUri": "default"}
        if self.idle_ttl is not None:
            execution["idleTtl"] = self.idle_ttl
        if self.ttl is not None:
            execution["ttl"] = self.ttl
        body: dict[str, Any] = {
            "name": self.name,
            "uuid": self.uid,
            "createTime": timestamp(self.created),
            "jupyterSession": {"kernel": "PYTHON", "displayName": "PySpark (emulated)"},
            "runtimeInfo": runtime_info(
                f"gs://emulator-staging/{self.uid}/driveroutput",
                self.usage,
                now,
                started=active,
                ended=current.at if current.state in TERMINAL else None,
                stamp=timestamp,
            ),
            "state": current.state,
            "stateTime": timestamp(current.at),
            "creator": "emulator@example.com",
            "user": "emulator@example.com",
            "runtimeConfig": {"version": self.runtime_version},
            "environmentConfig": {"executionConfig": execution},
        }
        if current.message is not None:
            body["stateMessage"] = current.message
        if self.labels:
            body["labels"] = dict(self.labels)
        if len(entered) > 1:
            body["stateHistory"] = [_history(entry) for entry in entered[:-1]]
        return body

    def _terminate_script(self, start: float) -> list[Entry]:
        end = start + self.terminate_seconds
        if self.on_terminate == "fail":
            final = Entry("FAILED", end, self.state_message or DEFAULT_FAILURE)
        else:
            final = Entry("TERMINATED", end)
        return [Entry("TERMINATING", start), final]

    def _operation(self, name: str, now: float) -> OperationRecord:
        """The terminate operation, its result fixed now: the script decides it."""
        end = now + self.terminate_seconds
        if self.on_terminate == "fail":
            # Assumed: the operation fails with the session's message (INTERNAL).
            result = {"error": {"code": 13, "message": self.state_message or DEFAULT_FAILURE}}
        else:
            result = {"response": {"@type": TYPE_PREFIX + "Session", **self.to_json(end)}}
        metadata: dict[str, Any] = {
            "session": self.name,
            "sessionUuid": self.uid,
            "operationType": "TERMINATE",
            "description": "Terminate session",
        }
        if self.labels:
            metadata["labels"] = dict(self.labels)
        # Cancelling a terminate is assumed to change nothing: the session stops anyway.
        return OperationRecord(
            name=name,
            kind="session",
            created=now,
            metadata=metadata,
            completes_after=self.terminate_seconds,
            completion=result,
            on_cancel="ignore",
        )


def _history(entry: Entry) -> dict[str, str]:
    body = {"state": entry.state, "stateStartTime": timestamp(entry.at)}
    if entry.message is not None:
        body["stateMessage"] = entry.message
    return body


def filter_language(now: float) -> FilterLanguage[SessionRecord]:
    """ListSessionsRequest.filter: session_id, session_uuid, state, create_time and
    labels; AND and OR (the docs' own example writes them in lower case)."""
    fields: dict[str, Callable[[SessionRecord], str | None]] = {
        "session_id": lambda s: s.session_id,
        "session_uuid": lambda s: s.uid,
        "state": lambda s: s.state(now),
        "create_time": lambda s: timestamp(s.created),
    }
    return FilterLanguage(
        fields,
        labels=lambda s: s.labels,
        conjunction="AND|and",
        disjunction="OR|or",
        timestamps=frozenset({"create_time"}),
    )


def check_request_id(body: Any) -> str | None:
    """TerminateSessionRequest's body: nothing, or ``{"requestId": ...}``."""
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    for key in body:
        if key != "requestId":
            message = f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            raise invalid(message)
    request_id = body.get("requestId")
    if request_id is None or request_id == "":
        return None
    if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
        raise invalid("requestId must be at most 40 letters, digits, underscores or hyphens.")
    return request_id


def enums_as_numbers(session: dict[str, Any]) -> dict[str, Any]:
    """Every enum a Session here has, as numbers (Google does this when asked)."""
    session["state"] = _STATE_NUMBERS[session["state"]]
    for entry in session.get("stateHistory", []):
        entry["state"] = _STATE_NUMBERS[entry["state"]]
    kernel = session["jupyterSession"]
    kernel["kernel"] = _KERNEL_NUMBERS[kernel["kernel"]]
    return session


def operation_enums_as_numbers(operation: dict[str, Any]) -> dict[str, Any]:
    """The same for a terminate operation: its metadata and, once done, its Session."""
    meta = operation["metadata"]
    meta["operationType"] = _OPERATION_TYPE_NUMBERS[meta["operationType"]]
    response = operation.get("response")
    if response is not None:
        enums_as_numbers(response)
    return operation
