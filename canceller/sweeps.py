"""Sweeps: list the work of some kinds in some scopes, stop the running work that matches.

Scheduled jobs, budget alerts and cluster incidents all end here. The listing asks only
for what can still be running where the kind allows it (jobs: ACTIVE), and selection
happens on our side too (``canceller.selection``); work labelled EXEMPT_LABEL is counted
and left alone; the oldest is stopped first. One message stops what fits in its
deadline, its request budget and MAX_CANCELS_PER_MESSAGE; the rest is handed on in a
continuation message to TRIGGER_TOPIC that carries the chain's position
(``canceller.chains``), so a continuation never selects again what the chain answered
and a listing too long for one delivery is read across several. Every message of a
sweep publishes one SWEEP_SUMMARY result saying what was found, selected, done and
handed on, so a sweep that stopped nothing, or could not list, still answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as api_exceptions

from canceller.chains import (
    MAX_CONTINUATIONS,
    MAX_SKIPPED,
    Chain,
    Continuation,
    ListPosition,
    digest,
)
from canceller.clock import Deadline, rfc3339, utc_now
from canceller.dataproc import DataprocClient
from canceller.engine import CancelContext, Outcomes, stop_all
from canceller.kinds import SWEEPABLE, Clause, Kind
from canceller.names import InvalidName, ScopeName, parse_name, parse_scope
from canceller.reporting import explain_api_error
from canceller.rest import TransientFailure
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
from canceller.targets import Target

ProjectGate = Callable[[str], str | None]
MAX_PAGES_PER_SCOPE = 1000  # a guard against a server that never stops paging
# A dry run shows what it selected without a call per target, but not without bound: a
# message's results must fit its publish timeout and the instance's memory.
MAX_DRY_RUN_SHOWN = 5000
# Work that shows no creation time sorts after everything that does, by name.
_NO_TIME = datetime.max.replace(tzinfo=UTC)
# Outcomes after which the target may still be running: a continuation must skip it.
_MAY_RUN = frozenset(
    {
        Outcome.STILL_RUNNING,
        Outcome.ERROR,
        Outcome.PERMISSION_DENIED,
        Outcome.UNIMPLEMENTED,
        Outcome.REJECTED,
    }
)
MAX_SCOPES_PER_SWEEP = 50  # each costs a listing per kind: a message may not fan out more
# A sweep that can hand on lists for at most this share of the time left before its
# stops' verification windows, so a long listing still leaves time to act on its pages.
_LISTING_SHARE = 0.5


@dataclass
class SweepOutcomes(Outcomes):
    continuation: Continuation | None = None  # the message that carries on, if any
    children: list[Continuation] = field(default_factory=list)  # a fan-out's, one a project


@dataclass
class _Candidate:
    key: tuple[datetime, str]  # oldest first, then by name: the same order every time
    target: Target


class _Cut(Exception):
    """The listing stops here for this message (no time left to list): handed on."""


@dataclass
class _Listing:
    """What one message read of its segment of the listing."""

    found: int = 0
    skipped: int = 0
    exempt: int = 0
    pages: int = 0
    candidates: list[_Candidate] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)  # the chain's digests still running
    end: ListPosition | None = None  # where the next segment starts; None: listing read out
    cut: str = ""  # why the segment ended before the listing did
    failed: list[str] = field(default_factory=list)  # why a listing could not be read out
    token: str = ""  # the page token of the page being read


def run_sweep(
    client: DataprocClient,
    spec: SweepSpec,
    chain: Chain,
    settings: Settings,
    context: CancelContext,
    gate: ProjectGate,
    notes: Sequence[str] = (),
) -> SweepOutcomes:
    """``gate`` says why a project may not be swept, or None (canceller.dispatch: the
    allowlist, with ALLOWED_ANCESTORS through Resource Manager); ``notes`` are said in
    the summary (a budget whose scope could not be read, say)."""
    started = utc_now()
    # Every result of the sweep carries its id; the summary carries the whole account.
    swept = replace(context, provenance=replace(context.provenance, sweep=_sweep_id(chain)))
    outcomes = SweepOutcomes()

    def answer(
        outcome: Outcome,
        target: str,
        detail: str,
        kind: str = "unknown",
        error: dict[str, Any] | None = None,
        project: str = "",
    ) -> None:
        outcomes.results.append(
            Result(
                outcome,
                target,
                detail,
                context.trigger,
                started,
                kind=kind,
                dry_run=context.dry_run,
                error=error,
                provenance=swept.provenance,
                project=project,
                dedupe_key=chain.dedupe_key(target) if target else chain.message_key("message"),
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
    if len(scope_texts) > MAX_SCOPES_PER_SWEEP:
        answer(
            Outcome.REJECTED,
            "",
            f"the sweep names {len(scope_texts)} scopes; at most {MAX_SCOPES_PER_SWEEP} "
            "(each is listed once per kind): split it",
        )
        return outcomes
    try:
        clauses = parse_filter(filter_text)
    except InvalidSweep as invalid:
        answer(Outcome.REJECTED, "", f"the sweep filter cannot be applied safely: {invalid}")
        return outcomes
    scopes, unchecked = _allowed_scopes(scope_texts, settings, gate, answer)
    if unchecked and not scopes:
        # Nothing can be done before the allowlist answers: the redelivery asks again.
        why = f"{unchecked[0][0].name}: {unchecked[0][1]}"
        outcomes.transient_failures.append(f"the allowlist could not be checked yet: {why}")
        return outcomes
    kinds, left_out = _sweep_kinds(spec, settings, clauses)
    order = [
        (scope, kind)
        for scope in scopes
        for kind in kinds
        if kind.plural in spec.scope_kinds.get(scope.name, (kind.plural,))
    ]
    start_at = _start_index(order, chain.list_from)
    if start_at is None:
        answer(
            Outcome.REJECTED,
            "",
            "the continuation's listing position is not one of this sweep's scopes and kinds",
        )
        return outcomes

    can_hand_on = settings.trigger_topic is not None and not context.dry_run
    listing_deadline = context.deadline
    if can_hand_on:
        share = (context.deadline.remaining() - context.verify_timeout) * _LISTING_SHARE
        listing_deadline = context.deadline.within(share)
    listing = _Listing()
    now = datetime.now(UTC)
    segment_full = f"the segment of {chain.pages} page(s) this chain is working through"
    for index in range(start_at, len(order)):
        scope, kind = order[index]
        listing.token = chain.list_from.page_token if chain.list_from and index == start_at else ""
        try:
            more = _list(
                client, kind, scope, spec, clauses, settings, now, chain, listing_deadline, listing
            )
        except (TransientFailure, _Cut) as failure:  # NoBudget is a TransientFailure
            listing.cut = str(failure)
            listing.end = ListPosition(scope.name, kind.plural, listing.token)
            break
        except api_exceptions.GoogleAPICallError as error:
            listing.failed.append(f"{kind.collection(scope)}: {type(error).__name__}")
            outcome, detail, details = explain_api_error(error, f"listing {kind.plural}")
            answer(
                outcome,
                kind.collection(scope),
                detail,
                kind=kind.name,
                error=details,
                project=scope.project,
            )
            continue
        if more:
            listing.end = ListPosition(scope.name, kind.plural, listing.token)
            listing.cut = segment_full
            break
        if index + 1 < len(order) and chain.pages is not None and listing.pages >= chain.pages:
            following = order[index + 1]
            listing.end = ListPosition(following[0].name, following[1].plural, "")
            listing.cut = segment_full
            break

    chosen = sorted(listing.candidates, key=lambda candidate: candidate.key)
    allowed = chosen[: spec.max] if spec.max else chosen
    # A dry run calls nothing per target (each was just listed), so it shows them all.
    per_message = MAX_DRY_RUN_SHOWN if context.dry_run else settings.max_cancels_per_message
    batch = allowed[:per_message]
    stopped = stop_all(
        client,
        [c.target for c in batch],
        swept,
        hand_on_late=can_hand_on,
        report_unconfirmed=True,
    )
    outcomes.results.extend(stopped.results)
    unstarted = {target.name.name for target in stopped.unstarted}
    acted = len(batch) - len(unstarted)  # each answered, even one never confirmed stopped
    rest = len(allowed) - acted
    max_reached = spec.max is not None and acted >= spec.max
    moved_on = listing.end is not None and listing.end != chain.list_from and listing.pages > 0

    left = rest > 0 or (listing.end is not None and not max_reached)
    # Progress is what the continuation will not do again: answer a target (a message
    # whose every stop went unanswered, in an outage, did nothing for sure), or, having
    # answered none in this part of the listing, read on to the next. Only a message
    # that made none asks for its redelivery: one that made some never does (the
    # redelivery would apply max again, and call our own stops someone else's).
    confirmed = acted - len(stopped.unconfirmed)
    if (left or stopped.unconfirmed) and not (confirmed or (moved_on and not rest)):
        # Asking for this message again cannot misreport (nothing of it is known done),
        # and Pub/Sub's backoff spaces the tries where a copy of itself handed on would not.
        outcomes.transient_failures.append(
            f"this message confirmed no stop of the {len(allowed)} selected target(s)"
            + (f" and could not list further ({listing.cut[:200]})" if listing.cut else "")
        )
    handed_on, why_kept, next_chain = False, "", None
    if left:
        next_chain, why_kept = _next_chain(
            chain, listing, batch, stopped.results, unstarted, rest, acted
        )
        why_kept = why_kept or _why_not_handed_on(chain, settings, context, outcomes)
    if next_chain is not None and not why_kept:
        outcomes.continuation = _continuation(
            spec, scopes, filter_text, kinds, acted, next_chain, context
        )
        handed_on = True

    counts = Counter(result.outcome.value for result in stopped.results)
    summary: dict[str, Any] = {
        **_sweep_id(chain),
        "scopes": [scope.name for scope in scopes],
        "filter": filter_text,
        "kinds": [kind.plural for kind in kinds],
        "found": listing.found,
        "selected": len(chosen),
        "exempt": listing.exempt,
        "acted": acted,
        "max": spec.max or 0,
        "truncated": len(chosen) > len(allowed),
        "remaining": rest,
        "handedOn": handed_on,
        "generation": chain.generation,
        "pages": listing.pages,
        "listingComplete": listing.end is None and not listing.failed,
        "outcomes": dict(sorted(counts.items())),
    }
    parts = [
        f"swept {len(scopes)} scope(s) for {', '.join(k.plural for k in kinds) or 'nothing'}: "
        f"found {listing.found}, selected {len(chosen)}, acted on {acted}"
    ]
    if counts:
        parts.append(", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if cleared := sum(1 for result in stopped.results if result.cleared_for):
        parts.append(f"{cleared} of them work on a selected cluster, stopped before it")
    if summary["truncated"]:
        parts.append(f"max {spec.max} cut the selection")
    if listing.exempt:
        parts.append(f"{listing.exempt} exempt ({settings.exempt_label_text}) left alone")
    if listing.end is not None:
        parts.append(f"the listing was read to page {listing.pages} ({listing.cut[:300]})")
    if rest or (listing.end is not None and not handed_on):
        what = f"{rest} more" if rest else "the rest of the listing"
        parts.append(
            f"{what} handed on to a continuation message"
            if handed_on
            else f"{what} NOT stopped: {why_kept}"
        )
    elif handed_on:
        parts.append("the rest of the listing handed on to a continuation message")
    if listing.failed:
        parts.append(f"not read to its end: {'; '.join(listing.failed)[:300]}")
    parts.extend(left_out)
    parts.extend(notes)
    if unchecked:
        parts.append(
            _hand_on_unchecked(
                unchecked, spec, filter_text, kinds, chain, settings, context, outcomes
            )
        )
    if listing.skipped:
        parts.append(f"{listing.skipped} listed name(s) did not fit their scope and were skipped")
    if chain.part:
        parts.append(f"{chain.part}'s part of {chain.id}, message {chain.generation}")
    elif chain.generation:
        parts.append(f"continuation {chain.generation} of {chain.id}")
    projects = {scope.project for scope in scopes}  # one: the summary is about it
    outcomes.results.append(
        Result(
            Outcome.SWEEP_SUMMARY,
            "",
            "; ".join(parts),
            context.trigger,
            started,
            dry_run=context.dry_run,
            provenance=replace(context.provenance, sweep=summary),
            project=projects.pop() if len(projects) == 1 else "",
            dedupe_key=chain.summary_key(),
        )
    )
    return outcomes


def _sweep_id(chain: Chain) -> dict[str, str]:
    """What ties a result to its sweep: the sweep id, and a fan-out child's project."""
    return {"id": chain.id, "part": chain.part} if chain.part else {"id": chain.id}


def _allowed_scopes(
    texts: tuple[str, ...], settings: Settings, gate: ProjectGate, answer: Any
) -> tuple[list[ScopeName], list[tuple[ScopeName, str]]]:
    """The scopes that may be swept, and why others could not be checked yet (Resource
    Manager not answering: not a refusal; said in the summary, or redelivered)."""
    scopes: list[ScopeName] = []
    unchecked: list[tuple[ScopeName, str]] = []
    for text in texts:
        try:
            scope = parse_scope(text)
        except InvalidName as invalid:
            answer(Outcome.REJECTED, text[:512], f"not a sweep scope: {invalid}")
            continue
        try:
            project_refusal = gate(scope.project)
        except TransientFailure as error:
            unchecked.append((scope, str(error)[:200]))
            continue
        if project_refusal:
            refusal = f"{project_refusal}; not swept"
        elif not settings.region_known(scope.region):
            refusal = f"{scope.region} is not a Dataproc region (DATAPROC_REGIONS); not swept"
        else:
            if scope not in scopes:  # a scope named twice is swept once
                scopes.append(scope)
            continue
        answer(Outcome.REJECTED, scope.name, refusal, project=scope.project)
    return scopes, unchecked


def _hand_on_unchecked(
    unchecked: list[tuple[ScopeName, str]],
    spec: SweepSpec,
    filter_text: str,
    kinds: list[Kind],
    chain: Chain,
    settings: Settings,
    context: CancelContext,
    outcomes: SweepOutcomes,
) -> str:
    """Scopes whose project the allowlist could not check yet, beside scopes swept: each
    project's go on in a sweep of their own (a part of this chain, as a fan-out's child
    is), which checks again and waits for its redelivery while it cannot; without
    TRIGGER_TOPIC this message asks for its redelivery. What the summary says of them."""
    if not settings.trigger_topic or chain.part:
        outcomes.transient_failures.append(
            f"the allowlist could not be checked yet: {unchecked[0][0].name}"
        )
        said = "; ".join(f"{scope.name}: {why}" for scope, why in unchecked)
        return f"NOT swept yet, the allowlist could not be checked (redelivered): {said[:300]}"
    by_project: dict[str, list[ScopeName]] = {}
    for scope, _ in unchecked:
        by_project.setdefault(scope.project, []).append(scope)
    plurals = [kind.plural for kind in kinds]
    for project, scopes in sorted(by_project.items()):
        names = [scope.name for scope in scopes]
        narrowed = {name: spec.scope_kinds[name] for name in names if name in spec.scope_kinds}
        child = child_sweep(spec, project, names, plurals, narrowed, filter_text, chain, context)
        outcomes.children.append(child)
    return (
        f"{len(unchecked)} scope(s) whose project the allowlist could not check yet handed "
        "on, a sweep per project"
    )


def _sweep_kinds(
    spec: SweepSpec, settings: Settings, clauses: tuple[Clause, ...]
) -> tuple[list[Kind], list[str]]:
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
    return kinds, left_out


def _start_index(order: list[tuple[ScopeName, Kind]], position: ListPosition | None) -> int | None:
    if position is None:
        return 0
    for index, (scope, kind) in enumerate(order):
        if scope.name == position.scope and kind.plural == position.kind:
            return index
    return None


def _list(
    client: DataprocClient,
    kind: Kind,
    scope: ScopeName,
    spec: SweepSpec,
    clauses: tuple[Clause, ...],
    settings: Settings,
    now: datetime,
    chain: Chain,
    deadline: Deadline,
    listing: _Listing,
) -> bool:
    """Read one scope's pages of one kind from ``listing.token`` until its listing ends
    (False), or the chain's segment has all its pages (True: ``listing.token`` is the
    next page's). No time left raises ``_Cut`` and a failure its own error, with
    ``listing.token`` at the page that was not read."""
    params = {**kind.server_params(clauses), "pageSize": str(kind.page_size)}
    for _ in range(MAX_PAGES_PER_SCOPE):
        if chain.pages is not None and listing.pages >= chain.pages:
            return True
        if deadline.expired():
            raise _Cut(f"no time left to list further after {listing.pages} page(s)")
        if listing.token:
            params["pageToken"] = listing.token
        page = client.list(kind.collection(scope), deadline, params)
        listing.pages += 1
        items = kind.listed_items(page)
        listing.found += len(items)
        seen_at = deadline.clock.monotonic()
        for item in items:
            try:
                name = parse_name(kind.name, kind.listed_name(item, scope))
            except InvalidName:
                listing.skipped += 1
                continue
            if name.scope != scope:
                listing.skipped += 1
                continue
            if not selects(kind, spec, clauses, item, now):
                continue
            if is_exempt(kind, item, settings.exempt_label):
                listing.exempt += 1
                continue
            if chain.answered(name.name):
                listing.answered.append(digest(name.name))
                continue
            key = (kind.created_at(item) or _NO_TIME, name.name)
            # The incarnation listed, and only it: one re-created under the same ID before
            # its stop is left alone (it was never selected).
            target = Target(
                name,
                seen=item,
                seen_at=seen_at,
                expect_uuid=kind.uuid(item),
                spare_exempt=settings.exempt_label,
            )
            listing.candidates.append(_Candidate(key, target))
        token = str(page.get("nextPageToken") or "")
        if token and token == listing.token:
            listing.failed.append(f"{kind.collection(scope)}: the same page token came back")
            return False
        listing.token = token
        if not token:
            return False
    listing.failed.append(f"{kind.collection(scope)}: more than {MAX_PAGES_PER_SCOPE} pages")
    return False


def _next_chain(
    chain: Chain,
    listing: _Listing,
    batch: list[_Candidate],
    results: list[Result],
    unstarted: set[str],
    rest: int,
    acted: int,
) -> tuple[Chain | None, str]:
    """Where the chain goes next, or why it cannot go on. This segment again while it
    has candidates left, or when this message answered any in it (a listing of running
    work shrinks as work is stopped, and a page token may be an offset: only a message
    that stopped nothing in a segment can say where the next one starts); else the next
    segment. It skips what it answered, most recent first: what may still run (a stop
    refused for good, one still in progress), then what this chain answered before and
    the listing still shows running, then what ended (a listing can lag), then the rest
    of its older answers while there is room. More answers that may still run than it
    can carry would be answered again: the chain ends instead, and says so."""
    outcome = {result.target: result.outcome for result in results}
    done = [c.target.name.name for c in batch if c.target.name.name not in unstarted]
    may_run = [digest(name) for name in done if outcome.get(name) in _MAY_RUN]
    ended = [digest(name) for name in done if outcome.get(name) not in _MAY_RUN]
    running = dict.fromkeys([*may_run, *listing.answered])
    if len(running) > MAX_SKIPPED:
        return None, (
            f"this chain has answered {len(running)} targets that still run (stops refused "
            f"or in progress), more than the {MAX_SKIPPED} a continuation carries, so it ends "
            "here rather than answer them again"
        )
    skip = tuple(dict.fromkeys([*running, *ended, *chain.skip]))[:MAX_SKIPPED]
    if rest or acted:
        pages = listing.pages if listing.end is not None else chain.pages
        return replace(chain, generation=chain.generation + 1, skip=skip, pages=pages), ""
    return (
        Chain(chain.id, chain.generation + 1, skip=skip, list_from=listing.end, part=chain.part),
        "",
    )


def _why_not_handed_on(
    chain: Chain, settings: Settings, context: CancelContext, outcomes: SweepOutcomes
) -> str:
    if context.dry_run:
        return "a dry run is not handed on"
    if outcomes.transient_failures:
        # The redelivery sweeps again and finds them; a continuation as well would
        # sweep the same work twice at once.
        return "this message is asked for again, and its redelivery sweeps them"
    if chain.generation >= MAX_CONTINUATIONS:
        return f"the chain reached {MAX_CONTINUATIONS} continuations and ends here"
    if not settings.trigger_topic:
        return "TRIGGER_TOPIC is not set, so they could not be handed on"
    return ""


def _continuation(
    spec: SweepSpec,
    scopes: list[ScopeName],
    filter_text: str,
    kinds: list[Kind],
    acted: int,
    chain: Chain,
    context: CancelContext,
) -> Continuation:
    """The sweep again, with everything resolved, so the next message selects the same
    way whatever the settings say by then (and the cluster incarnation an incident
    named is kept), and the chain's position."""
    fields, skip = chain.sweep_fields()
    request: dict[str, Any] = {
        "scopes": [scope.name for scope in scopes],
        "filter": filter_text,
        "kinds": [kind.plural for kind in kinds],
        "continuation": fields,
    }
    if spec.scope_kinds:
        request["scopeKinds"] = {
            scope.name: list(spec.scope_kinds[scope.name])
            for scope in scopes
            if scope.name in spec.scope_kinds
        }
    if spec.max:
        request["max"] = max(1, spec.max - acted)
    if skip:
        request["skip"] = skip
    return Continuation(
        sweep_message(spec, request, context), chain.id, chain.generation, chain.part
    )


def child_sweep(
    spec: SweepSpec,
    project: str,
    scopes: list[str],
    kinds: list[str],
    scope_kinds: Mapping[str, tuple[str, ...]],
    filter_text: str,
    chain: Chain,
    context: CancelContext,
) -> Continuation:
    """One project's part of this chain (a fan-out's child, or scopes whose project the
    allowlist could not check yet): a sweep of ``scopes`` that carries the chain's id and
    ``projects/PROJECT`` as its part, and the kinds to list per scope where narrowed."""
    part = f"projects/{project}"
    request: dict[str, Any] = {"scopes": scopes, "kinds": kinds}
    if scope_kinds:
        request["scopeKinds"] = {scope: list(plurals) for scope, plurals in scope_kinds.items()}
    request["filter"] = filter_text
    request["continuation"] = {"sweepId": chain.id, "generation": 1, "part": part}
    return Continuation(sweep_message(spec, request, context), chain.id, 1, part)


def sweep_message(
    spec: SweepSpec, request: dict[str, Any], context: CancelContext
) -> dict[str, Any]:
    """A sweep message this one hands on (a continuation, a fan-out's child or its rest):
    ``request`` with the selection the sweep keeps whatever the settings say by then
    (age, operation types, the cluster incarnation an incident named), and the message's
    reason, request id and dry run."""
    if spec.older_than_seconds is not None:
        request["olderThan"] = spec.older_than_seconds
    if spec.operation_types:
        request["operationTypes"] = list(spec.operation_types)
    if spec.cluster_uuid:
        request["clusterUuid"] = spec.cluster_uuid
    if context.period_end is not None and isinstance(request.get("continuation"), dict):
        request["continuation"]["periodEnd"] = rfc3339(context.period_end)
    message: dict[str, Any] = {"sweep": request}
    info = context.trigger
    for key, value in (("reason", info.reason), ("requestId", info.request_id)):
        if value is not None:
            message[key] = value
    if context.dry_run:  # never so for a sweep's own continuation: a dry run is not handed on
        message["dryRun"] = True
    return message
