"""One target's one result, from what the engine saw: no calls of its own.

Everything a result says (the outcome, the sentence for people, the state read, the
error Dataproc answered, the burn and what the stop may have saved) is worked out here
from readings the engine already made (canceller/stopping.py reads, this only tells),
so how a result is worded can be tested without Dataproc and never costs a request.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as api_exceptions

from canceller.clock import utc_now
from canceller.kinds import Kind, Resource
from canceller.pricing import burn_of
from canceller.rest import error_details
from canceller.results import Outcome, Result
from canceller.targets import Target

if TYPE_CHECKING:  # the engine's context is every result's frame; the engine uses this
    from canceller.engine import CancelContext

# api-core maps HTTP 403 to Forbidden; PermissionDenied is only its gRPC-named subclass.
_OUTCOME_FOR_ERROR: tuple[tuple[type[api_exceptions.GoogleAPICallError], Outcome], ...] = (
    (api_exceptions.NotFound, Outcome.NOT_FOUND),
    (api_exceptions.Forbidden, Outcome.PERMISSION_DENIED),
    (api_exceptions.MethodNotImplemented, Outcome.UNIMPLEMENTED),
)


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


class Reporter:
    """Builds the one result of one target; ``before`` is the target as first read, once
    it was (its burn comes from that reading)."""

    def __init__(self, target: Target, context: CancelContext, started: datetime) -> None:
        self.target = target
        self.kind = target.kind
        self.before: Resource | None = None
        self._context = context
        self._started = started

    def report(
        self,
        outcome: Outcome,
        detail: str,
        resource: Resource | None,
        kind: Kind | None,
        error: dict[str, Any] | None = None,
        extra_state: dict[str, Any] | None = None,
    ) -> Result:
        state = (kind or self.kind).describe(resource) if resource else None
        if extra_state:
            state = {**(state or {}), **extra_state}
        finished = utc_now()
        burn = saving = reference = None
        if self.before is not None and self._context.prices is not None:
            burn, saving, reference = burn_of(
                self.kind,
                self.target.name,
                self.before,
                outcome,
                self._context.prices,
                finished,
                self._context.period_end,
            )
        return Result(
            outcome=outcome,
            target=self.target.name.name,
            detail=detail,
            trigger=self._context.trigger,
            started_at=self._started,
            kind=self.kind.name,
            dry_run=self._context.dry_run,
            name=self.target.name,
            operation=self._operation(),
            state=state,
            error=error,
            provenance=self._context.provenance,
            cleared_for=self.target.cleared_for,
            finished_at=finished,
            burn=burn,
            saving=saving,
            burn_reference=reference,
        )

    def api_error(
        self,
        error: api_exceptions.GoogleAPICallError,
        doing: str,
        resource: Resource | None,
        kind: Kind | None,
    ) -> Result:
        outcome, detail, details = explain_api_error(error, doing)
        return self.report(outcome, detail, resource or None, kind, details)

    def _operation(self) -> str:
        return self.kind.result_operation(self.target.name, self.before)
