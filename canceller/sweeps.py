"""Sweeps: list the work of some kinds in some scopes, stop the running work that matches.

Scheduled jobs, budget alerts and cluster incidents all end here. Every page of every
scope is read for every kind; selection happens on our side too
(``canceller.selection``); work labelled EXEMPT_LABEL is counted and left alone; the
oldest is stopped first. One message stops what fits in its deadline and
MAX_CANCELS_PER_MESSAGE; the rest of the selection is handed on in a continuation
message to TRIGGER_TOPIC, which sweeps again (what was stopped is no longer selected).
One SWEEP_SUMMARY result says what was found, selected, done and handed on, so a sweep
that stopped nothing still answers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as api_exceptions

from canceller.clock import utc_now
from canceller.dataproc import DataprocClient, TransientFailure
from canceller.engine import (
    CancelContext,
    Outcomes,
    Target,
    explain_api_error,
    listed_items,
    stop_all,
)
from canceller.kinds import SWEEPABLE, Clause, Kind
from canceller.names import InvalidName, ScopeName, parse_name, parse_scope
from canceller.results import Outcome, Result
from canceller.selection import (
    InvalidSweep,
    SweepSpec,
    is_exempt,
    parse_filter,
    selects,
    why_not_swept,
)
from canceller.settings import Settings
from canceller.trigger import MAX_CONTINUATIONS, MAX_SKIPPED

MAX_PAGES_PER_SCOPE = 1000  # a guard against a server that never stops paging


@dataclass
class SweepOutcomes(Outcomes):
    continuation: dict[str, Any] | None = None  # the message that carries on, if any


@dataclass
class _Listing:
    found: int = 0
    skipped: int = 0
    exempt: int = 0
    selected: list[tuple[datetime, Target]] = field(default_factory=list)


def run_sweep(
    client: DataprocClient, spec: SweepSpec, settings: Settings, context: CancelContext
) -> SweepOutcomes:
    started = utc_now()
    sweep_id = spec.chain or f"sweep-{context.trigger.message_id}"
    # Every result of the sweep carries its id; the summary carries the whole account.
    swept = replace(context, extra={**context.extra, "sweep": {"id": sweep_id}})
    outcomes = SweepOutcomes()

    def answer(outcome: Outcome, target: str, detail: str, **fields: Any) -> None:
        kind = fields.pop("kind", "unknown")
        extra = {**swept.extra, **fields}
        outcomes.results.append(
            Result(
                outcome,
                target,
                detail,
                context.trigger,
                started,
                kind=kind,
                dry_run=context.dry_run,
                error=extra.pop("error", None),
                extra=extra,
            )
        )

    scope_texts = spec.scopes or settings.sweep_scopes
    filter_text = settings.sweep_filter if spec.filter is None else spec.filter
    if not scope_texts:
        answer(
            Outcome.REJECTED,
            "",
            "nothing to sweep: give sweep.scopes or set SWEEP_SCOPES (projects/P/regions/R)",
        )
        return outcomes
    try:
        clauses = parse_filter(filter_text)
    except InvalidSweep as invalid:
        answer(Outcome.REJECTED, "", f"the sweep filter cannot be applied safely: {invalid}")
        return outcomes
    scopes: list[ScopeName] = []
    for text in scope_texts:
        try:
            scope = parse_scope(text)
        except InvalidName as invalid:
            answer(Outcome.REJECTED, text[:512], f"not a sweep scope: {invalid}")
            continue
        if not settings.project_allowed(scope.project):
            answer(
                Outcome.REJECTED,
                scope.name,
                f"project {scope.project} is not in ALLOWED_PROJECTS; not swept",
                project=scope.project,
            )
            continue
        if scope not in scopes:  # a scope named twice is swept once
            scopes.append(scope)
    kinds, left_out = [], []
    for plural in spec.kinds or settings.sweep_kinds:
        kind = SWEEPABLE[plural]
        reason = why_not_swept(kind, spec, clauses)
        if not reason:
            kinds.append(kind)
        elif spec.kinds or not spec.operation_types:
            # Said when the sweep named the kind, or a filter clause shut it out; an
            # operationTypes sweep over the default kinds means operations, silently.
            left_out.append(reason)

    listing = _Listing()
    now = datetime.now(UTC)
    for scope in scopes:
        for kind in kinds:
            try:
                _list(client, kind, scope, spec, clauses, settings, now, context, listing)
            except TransientFailure as failure:
                outcomes.failures.append(str(failure))
                return outcomes  # nothing stopped yet: the redelivery sweeps again
            except api_exceptions.GoogleAPICallError as error:
                outcome, detail, details = explain_api_error(error, f"listing {kind.plural}")
                answer(
                    outcome,
                    kind.collection(scope),
                    detail,
                    kind=kind.name,
                    error=details,
                    project=scope.project,
                )

    chosen = [target for _, target in sorted(listing.selected, key=lambda pair: pair[0])]
    allowed = chosen[: spec.max] if spec.max else chosen
    # A dry run calls nothing per target (each was just listed), so it shows them all.
    per_message = len(allowed) if context.dry_run else settings.max_cancels_per_message
    # Only a sweep that can hand work on leaves some for later; without TRIGGER_TOPIC it
    # starts every target it took, as before continuations existed.
    can_hand_on = settings.trigger_topic is not None and not context.dry_run
    stopped = stop_all(client, allowed[:per_message], swept, hand_on_late=can_hand_on)
    outcomes.results.extend(stopped.results)
    outcomes.failures.extend(stopped.failures)
    rest = stopped.unstarted + allowed[per_message:]
    acted = min(len(allowed), per_message) - len(stopped.unstarted)

    handed_on, why_kept = False, ""
    if rest:
        if outcomes.failures:
            # The redelivery sweeps again and finds them; a continuation as well would
            # sweep the same work twice at once.
            why_kept = "a transient failure asks for this message again, which sweeps them"
        elif acted == 0:
            why_kept = "nothing could be started in this message, so nothing was handed on"
        elif spec.generation >= MAX_CONTINUATIONS:
            why_kept = f"the chain reached {MAX_CONTINUATIONS} continuations and ends here"
        elif not settings.trigger_topic:
            why_kept = "TRIGGER_TOPIC is not set, so they could not be handed on"
        else:
            still = {r.target for r in stopped.results if r.outcome is Outcome.STILL_RUNNING}
            outcomes.continuation = _continuation(
                spec, scopes, filter_text, kinds, len(rest), sweep_id, context, still
            )
            handed_on = True

    counts = Counter(result.outcome.value for result in stopped.results)
    summary: dict[str, Any] = {
        "id": sweep_id,
        "scopes": [scope.name for scope in scopes],
        "filter": filter_text,
        "kinds": [kind.plural for kind in kinds],
        "found": listing.found,
        "selected": len(chosen),
        "exempt": listing.exempt,
        "acted": acted,
        "max": spec.max or 0,
        "truncated": len(chosen) > len(allowed),
        "remaining": len(rest),
        "handedOn": handed_on,
        "generation": spec.generation,
        "outcomes": dict(sorted(counts.items())),
    }
    projects = {scope.project for scope in scopes}
    extra: dict[str, Any] = {**context.extra, "sweep": summary}
    if len(projects) == 1:
        extra["project"] = projects.pop()
    parts = [
        f"swept {len(scopes)} scope(s) for {', '.join(k.plural for k in kinds) or 'nothing'}: "
        f"found {listing.found}, selected {len(chosen)}, acted on {acted}"
    ]
    if counts:
        parts.append(", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if summary["truncated"]:
        parts.append(f"max {spec.max} cut the selection")
    if listing.exempt:
        parts.append(f"{listing.exempt} exempt ({settings.exempt_label_text}) left alone")
    if rest:
        parts.append(
            f"{len(rest)} more handed on to a continuation message"
            if handed_on
            else f"{len(rest)} more NOT stopped: {why_kept}"
        )
    parts.extend(left_out)
    if listing.skipped:
        parts.append(f"{listing.skipped} listed name(s) did not fit their scope and were skipped")
    if spec.generation:
        parts.append(f"continuation {spec.generation} of {sweep_id}")
    outcomes.results.append(
        Result(
            Outcome.SWEEP_SUMMARY,
            "",
            "; ".join(parts),
            context.trigger,
            started,
            dry_run=context.dry_run,
            extra=extra,
        )
    )
    return outcomes


def _list(
    client: DataprocClient,
    kind: Kind,
    scope: ScopeName,
    spec: SweepSpec,
    clauses: tuple[Clause, ...],
    settings: Settings,
    now: datetime,
    context: CancelContext,
    listing: _Listing,
) -> None:
    params = {**kind.server_params(clauses), "pageSize": str(kind.page_size)}
    for _ in range(MAX_PAGES_PER_SCOPE):
        page = client.list(kind.collection(scope), context.deadline, params)
        items = listed_items(page, kind)
        listing.found += len(items)
        for item in items:
            try:
                name = parse_name(kind.name, kind.listed_name(item, scope))
            except InvalidName:
                listing.skipped += 1
                continue
            if name.scope != scope:
                listing.skipped += 1
                continue
            if not selects(kind, spec, clauses, item, scope, now):
                continue
            if is_exempt(kind, item, settings.exempt_label):
                listing.exempt += 1
                continue
            listing.selected.append((kind.created_at(item) or now, Target(name, seen=item)))
        token = str(page.get("nextPageToken") or "")
        if not token:
            return
        params["pageToken"] = token


def _continuation(
    spec: SweepSpec,
    scopes: list[ScopeName],
    filter_text: str,
    kinds: list[Kind],
    remaining: int,
    sweep_id: str,
    context: CancelContext,
    still_running: set[str],
) -> dict[str, Any]:
    """The sweep again, with everything resolved, so the next message selects the same
    way whatever the settings say by then (and the cluster incarnation an incident
    named is kept)."""
    request: dict[str, Any] = {
        "scopes": [scope.name for scope in scopes],
        "filter": filter_text,
        "kinds": [kind.plural for kind in kinds],
        "continuation": {"sweepId": sweep_id, "generation": spec.generation + 1},
    }
    if spec.older_than_seconds is not None:
        request["olderThan"] = spec.older_than_seconds
    if spec.operation_types:
        request["operationTypes"] = list(spec.operation_types)
    if spec.cluster_uuid:
        request["clusterUuid"] = spec.cluster_uuid
    if spec.max:
        request["max"] = remaining
    skip = sorted(spec.skip | still_running)
    if skip:  # most recent last; beyond the cap a name may be stopped (idempotently) again
        request["skip"] = skip[-MAX_SKIPPED:]
    message: dict[str, Any] = {"sweep": request}
    if context.trigger.reason is not None:
        message["reason"] = context.trigger.reason
    if context.trigger.request_id is not None:
        message["requestId"] = context.trigger.request_id
    return message
