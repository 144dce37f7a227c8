"""Cancel Serverless batches the way ``gcloud dataproc batches cancel`` does, but verified.

gcloud gets the batch and cancels ``batch.operation``; so do we, then watch that
operation like any other. The batch's own state answers the already-finished case
without touching the operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from google.api_core import exceptions as api_exceptions

from canceller.cancellation import CancelContext, Outcomes, Target, cancel_all, explain_api_error
from canceller.clock import utc_now
from canceller.dataproc import DataprocClient, TransientFailure
from canceller.names import BatchName, InvalidName, OperationName, parse_operation_name
from canceller.results import Outcome, Result

FINAL_BATCH_STATES = frozenset({"CANCELLED", "SUCCEEDED", "FAILED"})


def batch_fields(batch: BatchName) -> dict[str, str]:
    """What every result about a batch carries, whatever became of its operation."""
    return {"batch": batch.name, "project": batch.project}


def cancel_batches(
    client: DataprocClient, batches: Sequence[BatchName], context: CancelContext
) -> Outcomes:
    outcomes = Outcomes()
    workers = max(1, min(context.max_concurrency, len(batches)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        looked_up = list(pool.map(lambda batch: _look_up(client, batch, context), batches))
    targets: list[Target] = []
    for item in looked_up:
        if isinstance(item, Target):
            targets.append(item)
        elif isinstance(item, Result):
            outcomes.results.append(item)
        else:
            outcomes.failures.append(item)
    cancelled = cancel_all(client, targets, context)
    outcomes.results.extend(cancelled.results)
    outcomes.failures.extend(cancelled.failures)
    return outcomes


def _look_up(
    client: DataprocClient, batch: BatchName, context: CancelContext
) -> Target | Result | str:
    started = utc_now()

    def report(
        outcome: Outcome,
        detail: str,
        name: OperationName | None = None,
        state: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> Result:
        return Result(
            outcome=outcome,
            operation=name.name if name else "",
            detail=detail,
            trigger=context.trigger,
            started_at=started,
            dry_run=context.dry_run,
            name=name,
            state=state,
            error=error,
            extra={**context.extra, **batch_fields(batch)},
        )

    try:
        found = client.get_batch(batch.name, context.deadline)
    except TransientFailure as failure:
        return str(failure)
    except api_exceptions.GoogleAPICallError as error:
        outcome, detail, details = explain_api_error(error, "reading the batch")
        return report(outcome, detail, error=details)
    try:
        operation = parse_operation_name(found.get("operation"))
    except InvalidName as invalid:
        operation = None
        problem = f"the batch's operation field is not a usable name ({invalid})"
    else:
        problem = ""
        if operation.project != batch.project:
            problem = f"the batch's operation {operation.name} is in another project"
    state = str(found.get("state", ""))
    if state in FINAL_BATCH_STATES:
        return report(
            Outcome.ALREADY_DONE,
            f"the batch is already {state}",
            operation if not problem else None,
            {"done": True, "batch": batch.name},
        )
    if problem or operation is None:
        return report(Outcome.ERROR, f"cannot cancel the batch: {problem}")
    return Target(operation, extra={"batch": batch.name})
