"""Cancel operations and find out, with GET, what really happened to each.

The order matters for honesty:
1. GET first. What Dataproc answers when cancelling an operation that is already done
   is unconfirmed (400 FAILED_PRECONDITION, or a silent ``{}``), so only a GET before
   the cancel can tell "already done" from "done because of us". Both answers are
   handled; Dataproc's Jobs API is known to answer FAILED_PRECONDITION for a job that
   is already DONE (googleapis/google-cloud-java#3754, cdapio/cdap#16066).
2. ``:cancel`` (skipped in a dry run).
3. GET on one shared schedule until done or ``VERIFY_TIMEOUT_SECONDS``; only
   ``error.code == 1`` counts as CANCELLED.

Many targets (a list, a sweep) are cancelled first, at most ``max_concurrency`` calls at
a time, and then watched together, so a message costs about one verification window
however many operations it names. Permanent API errors become their outcome;
``TransientFailure`` is collected so the message is redelivered after the rest is
published.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from google.api_core import exceptions as api_exceptions

from canceller.clock import Deadline, utc_now
from canceller.dataproc import DataprocClient, TransientFailure, error_details
from canceller.names import OperationName
from canceller.results import Outcome, Result
from canceller.trigger import TriggerInfo
from canceller.verification import describe_state, is_done, was_cancelled, watch

T = TypeVar("T")
R = TypeVar("R")

# api-core maps HTTP 403 to Forbidden; PermissionDenied is only its gRPC-named subclass.
_OUTCOME_FOR_ERROR: tuple[tuple[type[api_exceptions.GoogleAPICallError], Outcome], ...] = (
    (api_exceptions.NotFound, Outcome.NOT_FOUND),
    (api_exceptions.Forbidden, Outcome.PERMISSION_DENIED),
    (api_exceptions.MethodNotImplemented, Outcome.UNIMPLEMENTED),
)


@dataclass(frozen=True)
class CancelContext:
    """What every operation of one message shares."""

    trigger: TriggerInfo
    deadline: Deadline
    verify_timeout: float
    dry_run: bool
    max_concurrency: int
    extra: Mapping[str, Any] = field(default_factory=dict)  # budget, incident, sweep id


@dataclass(frozen=True)
class Target:
    name: OperationName
    seen: dict[str, Any] | None = None  # as just listed by a sweep: saves a GET if running
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. the batch it belongs to


@dataclass
class Outcomes:
    results: list[Result] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # transient: redeliver


def cancel_all(
    client: DataprocClient, targets: Sequence[Target], context: CancelContext
) -> Outcomes:
    outcomes = Outcomes()
    if not targets:
        return outcomes
    workers = min(context.max_concurrency, len(targets))
    with ThreadPoolExecutor(max_workers=workers) if workers > 1 else _Inline() as pool:
        sent = _advance(pool, lambda target: _start(client, target, context), targets, outcomes)

        def poll(pending: list[_Sent]) -> list[_Sent]:
            return _advance(pool, lambda s: _check(client, s, context), pending, outcomes)

        unfinished, rounds = watch(sent, poll, context.verify_timeout)
    for item in unfinished:
        outcomes.results.append(
            item.reporter.report(
                Outcome.STILL_RUNNING,
                f"cancel was accepted but the operation was not done after "
                f"{context.verify_timeout:g} s ({rounds} checks); it may still stop",
                item.last,
            )
        )
    return outcomes


@dataclass
class _Sent:
    """A cancel was sent; ``last`` is the operation as last seen."""

    reporter: _Reporter
    last: dict[str, Any]


def _start(client: DataprocClient, target: Target, context: CancelContext) -> Result | _Sent:
    reporter = _Reporter(target, context, utc_now())
    name = target.name.name
    try:
        if target.seen is not None and not is_done(target.seen):
            before = target.seen
        else:
            before = client.get_operation(name, context.deadline)
    except api_exceptions.GoogleAPICallError as error:
        return reporter.api_error(error, "reading the operation", None)
    if is_done(before):
        return reporter.report(Outcome.ALREADY_DONE, _already_done_detail(before), before)
    if context.dry_run:
        return reporter.report(
            Outcome.DRY_RUN, "dry run: the operation is running and would be cancelled", before
        )
    try:
        client.cancel_operation(name, context.deadline)
    except api_exceptions.GoogleAPICallError as error:
        if error_details(error)["status"] == "FAILED_PRECONDITION":
            return _refused_as_done(client, reporter, context, error, before)
        return reporter.api_error(error, "cancelling", before)
    return _Sent(reporter, before)


def _check(client: DataprocClient, sent: _Sent, context: CancelContext) -> Result | _Sent:
    try:
        operation = client.get_operation(sent.reporter.target.name.name, context.deadline)
    except api_exceptions.GoogleAPICallError as error:
        return sent.reporter.api_error(error, "verifying the cancellation", sent.last)
    if not is_done(operation):
        sent.last = operation
        return sent
    if was_cancelled(operation):
        return sent.reporter.report(
            Outcome.CANCELLED,
            "cancelled: the operation is done with error code 1 (CANCELLED)",
            operation,
        )
    return sent.reporter.report(
        Outcome.COMPLETED_DESPITE_CANCEL,
        f"the operation finished despite the cancel request: {_ending(operation)}",
        operation,
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
        after = client.get_operation(reporter.target.name.name, context.deadline)
    except api_exceptions.GoogleAPICallError as second:
        return reporter.api_error(second, "re-reading after a refused cancel", before)
    if is_done(after):
        return reporter.report(
            Outcome.ALREADY_DONE,
            f"the operation finished before the cancel arrived: {_ending(after)}",
            after,
        )
    return reporter.api_error(error, "cancelling", after)


def _advance(
    pool: ThreadPoolExecutor | _Inline,
    step: Callable[[T], Result | _Sent],
    items: Sequence[T],
    outcomes: Outcomes,
) -> list[_Sent]:
    """Apply ``step`` to each item: final results and transient failures go into
    ``outcomes``; what is still waiting for its cancellation to show is returned."""

    def guarded(item: T) -> Result | _Sent | None:
        try:
            return step(item)
        except TransientFailure as failure:
            outcomes.failures.append(str(failure))
            return None

    pending: list[_Sent] = []
    for result in pool.map(guarded, items):
        if isinstance(result, Result):
            outcomes.results.append(result)
        elif result is not None:
            pending.append(result)
    return pending


class _Inline:
    """The one-target case runs on the request's own thread: no hand-off, no pool."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(item) for item in items]

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _Reporter:
    def __init__(self, target: Target, context: CancelContext, started: datetime) -> None:
        self.target = target
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
            operation=self.target.name.name,
            detail=detail,
            trigger=self._context.trigger,
            started_at=self._started,
            dry_run=self._context.dry_run,
            name=self.target.name,
            state=describe_state(operation) if operation else None,
            error=error,
            extra={**self._context.extra, **self.target.extra},
        )

    def api_error(
        self,
        error: api_exceptions.GoogleAPICallError,
        doing: str,
        operation: dict[str, Any] | None,
    ) -> Result:
        outcome, detail, details = explain_api_error(error, doing)
        return self.report(outcome, detail, operation, details)


def explain_api_error(
    error: api_exceptions.GoogleAPICallError, doing: str
) -> tuple[Outcome, str, dict[str, Any]]:
    """What a permanent Dataproc error means for a result: its outcome, a sentence for
    people, and the error fields (schema: apiError)."""
    details = error_details(error)
    outcome = next(
        (mapped for kind, mapped in _OUTCOME_FOR_ERROR if isinstance(error, kind)),
        Outcome.ERROR,
    )
    detail = f"Dataproc answered {details['httpStatus']} {details['status']} while {doing}"
    if details["message"]:
        detail += f": {details['message']}"
    return outcome, detail, details


def _already_done_detail(operation: dict[str, Any]) -> str:
    if was_cancelled(operation):
        return "the operation was already cancelled when this request first read it"
    return f"the operation was already done before this request: {_ending(operation)}"


def _ending(operation: dict[str, Any]) -> str:
    error = operation.get("error")
    if isinstance(error, dict):
        return f"ended with error code {error.get('code')} ({error.get('message', '')})"
    return "completed successfully"
