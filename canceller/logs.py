"""One structured JSON line per event, in the shape Cloud Logging reads from stdout.

Cloud Run functions turn a JSON line on stdout into a log entry, taking ``severity``
and ``message`` from it and keeping the other fields as ``jsonPayload``, which the
log-based metrics (deploy.sh) chart by ``jsonPayload.outcome``. Only fields named
here are written: never a header, a token or a credential.

Each line of one request carries Cloud Logging's trace field
(``logging.googleapis.com/trace``, from the request's W3C ``traceparent`` or
``X-Cloud-Trace-Context`` header), so Logs Explorer groups one message's lines with the
request's own entry (https://cloud.google.com/logging/docs/structured-logging: special
JSON fields; https://www.w3.org/TR/trace-context/ for traceparent).
"""

from __future__ import annotations

import contextvars
import json
import re
import sys
import threading
from typing import Any, TextIO

from canceller.burn import DOLLAR_DIGITS
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
_trace: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "trace", default=None
)
# traceparent: version-traceid-parentid-flags; X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-[0-9a-f]{2}")
_CLOUD_TRACE = re.compile(r"(?P<trace>[0-9a-fA-F]{32})(?:/(?P<span>[0-9]{1,20}))?(?:;o=[01])?")


def trace_request(traceparent: str | None, cloud_trace: str | None, project: str | None) -> None:
    """Tie this request's log lines to its trace, from its ``traceparent`` or
    ``X-Cloud-Trace-Context`` header; a malformed header is ignored (it is the client's,
    and a log field must never echo arbitrary text)."""
    fields: dict[str, str] | None = None
    parent = _TRACEPARENT.fullmatch((traceparent or "").strip().lower())
    cloud = _CLOUD_TRACE.fullmatch((cloud_trace or "").strip())
    match = parent or cloud
    if match is not None and project:
        fields = {"logging.googleapis.com/trace": f"projects/{project}/traces/{match['trace']}"}
        if match["span"]:
            span = match["span"] if parent else f"{int(match['span']):016x}"[-16:]
            fields["logging.googleapis.com/spanId"] = span
    _trace.set(fields)


def log(severity: str, message: str, stream: TextIO | None = None, **fields: Any) -> None:
    """Write one line; the lock keeps concurrent requests from interleaving lines."""
    record = {"severity": severity, "message": message, **(_trace.get() or {}), **fields}
    line = json.dumps(record, separators=(",", ":"), default=str)
    target = stream or sys.stdout
    with _write_lock:
        target.write(line + "\n")
        target.flush()


def log_result(result: Result) -> None:
    """One line per result; a sweep's summary also carries its counts, which deploy.sh's
    log metrics (NAME-sweep-found, -selected, -acted) chart. A fan-out's own summary has
    none (each child's summary counts its part)."""
    name = result.name
    sweep = result.provenance.sweep if result.outcome is Outcome.SWEEP_SUMMARY else None
    counts = (
        {
            f"sweep{key.title()}": sweep[key]
            for key in ("found", "selected", "acted")
            if key in sweep
        }
        if sweep is not None
        else {}
    )
    # Numbers a log-based distribution metric extracts (deploy.sh: burn stopped, savings).
    if result.burn is not None and result.burn.usd_per_hour is not None:
        counts["burnUsdPerHour"] = round(result.burn.usd_per_hour, DOLLAR_DIGITS)
    if result.saving is not None:
        counts["savedUpToUsd"] = round(result.saving.usd, DOLLAR_DIGITS)
    log(
        _SEVERITY[result.outcome],
        f"{result.outcome.value} {result.target or '(sweep)'}: {result.detail}",
        outcome=result.outcome.value,
        kind=result.kind,
        target=result.target,
        operation=result.operation,
        project=name.project if name else result.project,
        messageId=result.trigger.message_id,
        triggerKind=result.trigger.kind,
        dedupeKey=result.key,
        dryRun=result.dry_run,
        elapsedSeconds=round((result.finished_at - result.started_at).total_seconds(), 3),
        **counts,
    )
