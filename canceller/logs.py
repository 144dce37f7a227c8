"""One structured JSON line per event, in the shape Cloud Logging reads from stdout.

Cloud Run functions turn a JSON line on stdout into a log entry, taking ``severity``
and ``message`` from it and keeping the other fields as ``jsonPayload``, which the
log-based metrics (deploy.sh) chart by ``jsonPayload.outcome``. Only fields named
here are written: never a header, a token or a credential.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from canceller.results import Outcome, Result

_SEVERITY = {
    Outcome.CANCELLED: "NOTICE",
    Outcome.ALREADY_DONE: "INFO",
    Outcome.DRY_RUN: "INFO",
    Outcome.SWEEP_SUMMARY: "INFO",
    Outcome.COMPLETED_DESPITE_CANCEL: "WARNING",
    Outcome.STILL_RUNNING: "WARNING",
    Outcome.NOT_FOUND: "WARNING",
    Outcome.REJECTED: "WARNING",
    Outcome.PERMISSION_DENIED: "ERROR",
    Outcome.UNIMPLEMENTED: "ERROR",
    Outcome.ERROR: "ERROR",
}

_write_lock = threading.Lock()


def log(severity: str, message: str, stream: TextIO | None = None, **fields: Any) -> None:
    """Write one line; the lock keeps concurrent requests from interleaving lines."""
    record = {"severity": severity, "message": message, **fields}
    line = json.dumps(record, separators=(",", ":"), default=str)
    target = stream or sys.stdout
    with _write_lock:
        target.write(line + "\n")
        target.flush()


def log_result(result: Result) -> None:
    name = result.name
    log(
        _SEVERITY[result.outcome],
        f"{result.outcome.value} {result.operation or '(sweep)'}: {result.detail}",
        outcome=result.outcome.value,
        operation=result.operation,
        project=name.project if name else result.extra.get("project", ""),
        messageId=result.trigger.message_id,
        triggerKind=result.trigger.kind,
        dryRun=result.dry_run,
        elapsedSeconds=round((result.finished_at - result.started_at).total_seconds(), 3),
    )
