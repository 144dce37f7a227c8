"""Sweeps: list the operations in some scopes, cancel the running ones that match.

Scheduled jobs, budget alerts and cluster incidents all end here. Every page of every
scope is read; selection happens on our side too (``canceller.selection``); the oldest
are cancelled first when ``max`` cuts the list; and one SWEEP_SUMMARY result says what
was found, selected and done, so a sweep that cancelled nothing still answers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as api_exceptions

from canceller.cancellation import CancelContext, Outcomes, Target, cancel_all, explain_api_error
from canceller.clock import utc_now
from canceller.dataproc import DataprocClient, TransientFailure
from canceller.names import InvalidName, ScopeName, parse_operation_name, parse_scope
from canceller.results import Outcome, Result
from canceller.selection import (
    Clause,
    InvalidSweep,
    SweepSpec,
    created_at,
    parse_filter,
    selects,
)
from canceller.settings import Settings

MAX_PAGES_PER_SCOPE = 1000  # a guard against a server that never stops paging


@dataclass
class _Listing:
    found: int = 0
    skipped: int = 0
    selected: list[tuple[datetime, Target]] = field(default_factory=list)


def run_sweep(
    client: DataprocClient, spec: SweepSpec, settings: Settings, context: CancelContext
) -> Outcomes:
    started = utc_now()
    sweep_id = f"sweep-{context.trigger.message_id}"
    # Every result of the sweep carries its id; the summary carries the whole account.
    swept = replace(context, extra={**context.extra, "sweep": {"id": sweep_id}})
    outcomes = Outcomes()

    def reject(operation: str, detail: str, project: str = "") -> None:
        extra = dict(swept.extra)
        if project:
            extra["project"] = project
        outcomes.results.append(
            Result(
                Outcome.REJECTED,
                operation,
                detail,
                context.trigger,
                started,
                dry_run=context.dry_run,
                extra=extra,
            )
        )

    scope_texts = spec.scopes or settings.sweep_scopes
    filter_text = settings.sweep_filter if spec.filter is None else spec.filter
    if not scope_texts:
        reject("", "nothing to sweep: give sweep.scopes or set SWEEP_SCOPES (projects/P/regions/R)")
        return outcomes
    try:
        clauses = parse_filter(filter_text)
    except InvalidSweep as invalid:
        reject("", f"the sweep filter cannot be applied safely: {invalid}")
        return outcomes
    scopes: list[ScopeName] = []
    for text in scope_texts:
        try:
            scope = parse_scope(text)
        except InvalidName as invalid:
            reject(text[:512], f"not a sweep scope: {invalid}")
            continue
        if not settings.project_allowed(scope.project):
            reject(
                scope.name,
                f"project {scope.project} is not in ALLOWED_PROJECTS; not swept",
                scope.project,
            )
            continue
        scopes.append(scope)

    listing = _Listing()
    now = datetime.now(UTC)
    for scope in scopes:
        try:
            _list_scope(client, scope, filter_text, spec, clauses, now, context, listing)
        except TransientFailure as failure:
            outcomes.failures.append(str(failure))
            return outcomes  # nothing cancelled yet: the redelivery sweeps again
        except api_exceptions.GoogleAPICallError as error:
            outcome, detail, details = explain_api_error(error, "listing operations")
            outcomes.results.append(
                Result(
                    outcome,
                    scope.name,
                    detail,
                    context.trigger,
                    started,
                    dry_run=context.dry_run,
                    error=details,
                    extra={**swept.extra, "project": scope.project},
                )
            )

    limit = min(spec.max or settings.max_cancels_per_message, settings.max_cancels_per_message)
    chosen = sorted(listing.selected, key=lambda pair: pair[0])
    acted = [target for _, target in chosen[:limit]]
    cancelled = cancel_all(client, acted, swept)
    outcomes.results.extend(cancelled.results)
    outcomes.failures.extend(cancelled.failures)

    counts = Counter(result.outcome.value for result in cancelled.results)
    truncated = len(chosen) > limit
    summary = {
        "id": sweep_id,
        "scopes": [scope.name for scope in scopes],
        "filter": filter_text,
        "found": listing.found,
        "selected": len(chosen),
        "acted": len(acted),
        "max": limit,
        "truncated": truncated,
        "outcomes": dict(sorted(counts.items())),
    }
    projects = {scope.project for scope in scopes}
    extra: dict[str, Any] = {**context.extra, "sweep": summary}
    if len(projects) == 1:
        extra["project"] = projects.pop()
    detail = (
        f"swept {len(scopes)} scope(s): found {listing.found} operation(s), selected "
        f"{len(chosen)}, acted on {len(acted)}"
        + (f" (max {limit} cut the list)" if truncated else "")
        + (": " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) if counts else "")
        + (
            f"; {listing.skipped} listed name(s) did not fit their scope and were skipped"
            if listing.skipped
            else ""
        )
    )
    outcomes.results.append(
        Result(
            Outcome.SWEEP_SUMMARY,
            "",
            detail,
            context.trigger,
            started,
            dry_run=context.dry_run,
            extra=extra,
        )
    )
    return outcomes


def _list_scope(
    client: DataprocClient,
    scope: ScopeName,
    filter_text: str,
    spec: SweepSpec,
    clauses: tuple[Clause, ...],
    now: datetime,
    context: CancelContext,
    listing: _Listing,
) -> None:
    page_token = ""
    for _ in range(MAX_PAGES_PER_SCOPE):
        page = client.list_operations(
            scope.name, context.deadline, filter=filter_text, page_token=page_token
        )
        operations = page.get("operations") or []
        listing.found += len(operations)
        for operation in operations:
            if not isinstance(operation, dict):
                continue
            try:
                name = parse_operation_name(operation.get("name"))
            except InvalidName:
                listing.skipped += 1
                continue
            if (name.project, name.region) != (scope.project, scope.region):
                listing.skipped += 1
                continue
            if selects(spec, clauses, operation, now):
                created = created_at(operation) or now
                listing.selected.append((created, Target(name, seen=operation)))
        page_token = str(page.get("nextPageToken") or "")
        if not page_token:
            return
