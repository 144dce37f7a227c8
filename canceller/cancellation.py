"""Cancel one operation and find out, with GET, what really happened.

The order matters for honesty:
1. GET first. What Dataproc answers when cancelling an operation that is already done
   is unconfirmed (400 FAILED_PRECONDITION, or a silent ``{}``), so only a GET before
   the cancel can tell "already done" from "done because of us".
2. ``:cancel`` (skipped in a dry run).
3. GET on a schedule until done or ``VERIFY_TIMEOUT_SECONDS``; only ``error.code == 1``
   counts as CANCELLED.
Permanent API errors become their outcome; transient ones propagate as
``TransientFailure`` so the message is redelivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as api_exceptions

from canceller.clock import Deadline, utc_now
from canceller.dataproc import DataprocClient, error_details
from canceller.names import OperationName
from canceller.results import Outcome, Result
from canceller.trigger import TriggerInfo
from canceller.verification import describe_state, is_done, was_cancelled, watch_until_done

_OUTCOME_FOR_ERROR: tuple[tuple[type[api_exceptions.GoogleAPICallError], Outcome], ...] = (
    (api_exceptions.NotFound, Outcome.NOT_FOUND),
    (api_exceptions.PermissionDenied, Outcome.PERMISSION_DENIED),
    (api_exceptions.MethodNotImplemented, Outcome.UNIMPLEMENTED),
)


@dataclass(frozen=True)
class CancelContext:
    """What every operation of one message shares."""

    trigger: TriggerInfo
    deadline: Deadline
    verify_timeout: float
    dry_run: bool
    extra: dict[str, Any] = field(default_factory=dict)  # batch, budget, incident, sweep id


def cancel_and_verify(
    client: DataprocClient,
    name: OperationName,
    context: CancelContext,
    seen: dict[str, Any] | None = None,
) -> Result:
    """``seen`` is the operation as just read by a caller (a sweep's list): it saves the
    first GET only when it already shows the operation running."""
    started = utc_now()
    reporter = _Reporter(name, context, started)
    try:
        if seen is not None and not is_done(seen):
            before = seen
        else:
            before = client.get_operation(name.name, context.deadline)
    except api_exceptions.GoogleAPICallError as error:
        return reporter.api_error(error, "reading the operation", None)
    if is_done(before):
        return reporter.report(Outcome.ALREADY_DONE, _already_done_detail(before), before)
    if context.dry_run:
        return reporter.report(
            Outcome.DRY_RUN, "dry run: the operation is running and would be cancelled", before
        )

    try:
        client.cancel_operation(name.name, context.deadline)
    except api_exceptions.GoogleAPICallError as error:
        if error_details(error)["status"] == "FAILED_PRECONDITION":
            return _refused_as_done(client, reporter, context, error, before)
        return reporter.api_error(error, "cancelling", before)

    try:
        watch = watch_until_done(
            lambda: client.get_operation(name.name, context.deadline), context.verify_timeout
        )
    except api_exceptions.GoogleAPICallError as error:
        return reporter.api_error(error, "verifying the cancellation", before)
    if not watch.done:
        return reporter.report(
            Outcome.STILL_RUNNING,
            f"cancel was accepted but the operation was not done after "
            f"{context.verify_timeout:g} s ({watch.polls} checks); it may still stop",
            watch.operation or before,
        )
    if was_cancelled(watch.operation):
        return reporter.report(
            Outcome.CANCELLED,
            "cancelled: the operation is done with error code 1 (CANCELLED)",
            watch.operation,
        )
    return reporter.report(
        Outcome.COMPLETED_DESPITE_CANCEL,
        f"the operation finished despite the cancel request: {_ending(watch.operation)}",
        watch.operation,
    )


def _refused_as_done(
    client: DataprocClient,
    reporter: _Reporter,
    context: CancelContext,
    error: api_exceptions.GoogleAPICallError,
    before: dict[str, Any],
) -> Result:
    """Dataproc refuses to cancel a finished operation: it ended between our GET and the
    cancel. A GET says how; if it is somehow still running, the refusal is an error."""
    try:
        after = client.get_operation(reporter.name.name, context.deadline)
    except api_exceptions.GoogleAPICallError as second:
        return reporter.api_error(second, "re-reading after a refused cancel", before)
    if is_done(after):
        return reporter.report(
            Outcome.ALREADY_DONE,
            f"the operation finished before the cancel arrived: {_ending(after)}",
            after,
        )
    return reporter.api_error(error, "cancelling", after)


class _Reporter:
    def __init__(self, name: OperationName, context: CancelContext, started: Any) -> None:
        self.name = name
        self._context = context
        self._started = started

    def report(
        self,
        outcome: Outcome,
        detail: str,
        operation: dict[str, Any] | None,
        error: dict[str, Any] | None = None,
    ) -> Result:
        return Result(
            outcome=outcome,
            operation=self.name.name,
            detail=detail,
            trigger=self._context.trigger,
            started_at=self._started,
            dry_run=self._context.dry_run,
            name=self.name,
            state=describe_state(operation) if operation else None,
            error=error,
            extra=dict(self._context.extra),
        )

    def api_error(
        self,
        error: api_exceptions.GoogleAPICallError,
        doing: str,
        operation: dict[str, Any] | None,
    ) -> Result:
        details = error_details(error)
        outcome = next(
            (mapped for kind, mapped in _OUTCOME_FOR_ERROR if isinstance(error, kind)),
            Outcome.ERROR,
        )
        detail = f"Dataproc answered {details['httpStatus']} {details['status']} while {doing}"
        if details["message"]:
            detail += f": {details['message']}"
        return self.report(outcome, detail, operation, details)


def _already_done_detail(operation: dict[str, Any]) -> str:
    if was_cancelled(operation):
        return "the operation was already cancelled when this request first read it"
    return f"the operation was already done before this request: {_ending(operation)}"


def _ending(operation: dict[str, Any]) -> str:
    error = operation.get("error")
    if isinstance(error, dict):
        return f"ended with error code {error.get('code')} ({error.get('message', '')})"
    return "completed successfully"
