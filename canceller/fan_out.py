"""A sweep wider than one project and region: a budget's real scope, a whole project, a
folder or an organisation, fanned out across instances through Pub/Sub.

The parent message finds where live Dataproc work is with Cloud Asset (a few search
pages, instead of a listing per kind of every region of every project), keeps the
projects the sweep may act on (the budget's, paid for by its billing account, and
allowed: ALLOWED_PROJECTS or under ALLOWED_ANCESTORS, by Resource Manager), and publishes
one child message per project on TRIGGER_TOPIC: a sweep of that project's (region, kinds)
pairs only, which carries the parent's sweep id and is a continuation in every other way
(convergent, bounded, deduplicable: canceller.chains), so Cloud Run spreads the projects
over instances and each child keeps to its own project's request budget. The parent
publishes one SWEEP_SUMMARY saying what it searched, found, refused and fanned out; each
child its own. Asset data is minutes stale: a child reads and stops only what Dataproc
says is running, so a stale asset costs a listing, never a wrong stop.

Operations are not assets. A project's operations are looked for in the regions where
its batches and clusters were found, plus SWEEP_REGIONS (unset: the regions where this
instance has seen batches or clusters of that project before).

Without TRIGGER_TOPIC nothing can be fanned out: the parent sweeps the pairs itself, if
they fit one message (canceller.sweeps.MAX_SCOPES_PER_SWEEP).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from canceller.burn import budget_period_end
from canceller.chains import MAX_CONTINUATIONS, MAX_SKIPPED, Chain, Continuation, digest
from canceller.clock import utc_now
from canceller.dataproc import DataprocClient
from canceller.engine import CancelContext
from canceller.kinds import KINDS, OPERATIONS, SWEEPABLE, Kind
from canceller.names import InvalidName, is_wide_scope, parse_scope
from canceller.organisation import AssetHit, BudgetScope, Directory, ScopeUnreadable
from canceller.rest import TransientFailure
from canceller.results import Outcome, Result
from canceller.selection import InvalidSweep, SweepSpec, parse_filter
from canceller.settings import Settings
from canceller.sweep_request import MAX_BUDGET_SEARCHES
from canceller.sweeps import (
    MAX_SCOPES_PER_SWEEP,
    ProjectGate,
    SweepOutcomes,
    child_sweep,
    run_sweep,
    sweep_message,
)

MAX_SEARCH_SCOPES = 50  # searches one message makes; the rest go on in a continuation
MAX_ASSET_PAGES = 200  # per search scope: 100,000 live resources
MAX_CHILDREN = 1000  # projects one parent fans out to; more is said and left
# The parent searches within this share of its deadline: the rest is for the
# allowlist's Resource Manager reads and for publishing.
_SEARCH_SHARE = 0.5


@dataclass
class _Area:
    """Where to search, and which of what is found the sweep covers."""

    searches: list[str] = field(default_factory=list)  # projects/P, folders/F, organizations/O
    pairs: list[str] = field(default_factory=list)  # explicit projects/P/regions/R
    covers: Callable[[AssetHit], bool] = lambda hit: True
    described: dict[str, Any] = field(default_factory=dict)  # for the summary
    notes: list[str] = field(default_factory=list)
    budget: BudgetScope | None = None  # read: its scope, never SWEEP_SCOPES, is swept


def is_wide(spec: SweepSpec, settings: Settings) -> bool:
    """Whether the sweep needs Cloud Asset: a budget's scope, or a scope above one
    project and region."""
    return spec.budget is not None or any(
        is_wide_scope(text) for text in spec.scopes or settings.sweep_scopes
    )


def run_fan_out(
    client: DataprocClient,
    directory: Directory,
    spec: SweepSpec,
    chain: Chain,
    settings: Settings,
    context: CancelContext,
    gate: ProjectGate,
) -> SweepOutcomes:
    started = utc_now()
    outcomes = SweepOutcomes()
    sweep_id = {"id": chain.id}

    def answer(outcome: Outcome, target: str, detail: str, key: str, project: str = "") -> None:
        outcomes.results.append(
            Result(
                outcome,
                target,
                detail,
                context.trigger,
                started,
                dry_run=context.dry_run,
                provenance=replace(context.provenance, sweep=sweep_id),
                project=project,
                dedupe_key=chain.dedupe_key(key),
            )
        )

    if spec.max is not None:
        answer(
            Outcome.REJECTED,
            "",
            "sweep.max cannot be shared out across projects: name the projects' regions "
            "(projects/P/regions/R) to use it",
            "rejected/max",
        )
        return outcomes
    try:
        area = _area(directory, spec, settings, context)
    except TransientFailure as error:
        # Nothing was done: the redelivery reads the budget again (Pub/Sub's backoff
        # spaces the tries). Only a budget refused for good falls back to SWEEP_SCOPES.
        outcomes.transient_failures.append(f"the budget could not be read yet: {str(error)[:300]}")
        return outcomes
    if area is None:
        answer(
            Outcome.REJECTED,
            "",
            "the budget's scope could not be read and SWEEP_SCOPES is not set: nothing to "
            "sweep; nothing was called",
            "rejected/scope",
        )
        return outcomes
    if isinstance(area, str):
        answer(Outcome.REJECTED, "", area, "rejected/scope")
        return outcomes

    if area.budget is not None and context.period_start is not None:
        # The budget read says its period (the notification does not): its children and
        # continuations carry the end, for their results' savedUpTo.
        budget = area.budget
        end = budget_period_end(context.period_start, budget.calendar_period, budget.custom_end)
        context = replace(context, period_end=end)
    base_filter = settings.sweep_filter if spec.filter is None else spec.filter
    filter_text = " AND ".join(
        text for text in (base_filter, area.budget.label_filter if area.budget else "") if text
    )
    try:
        parse_filter(filter_text)
    except InvalidSweep as invalid:
        answer(
            Outcome.REJECTED,
            "",
            f"the budget's labels beside the sweep filter cannot be applied: {invalid}; "
            "nothing was called",
            "rejected/filter",
        )
        return outcomes
    if not area.searches and area.budget is not None:
        answer(
            Outcome.REJECTED,
            "",
            "the budget covers nothing this function may search: none of its projects or "
            "folders is in ALLOWED_PROJECTS or ALLOWED_ANCESTORS; nothing was called",
            "rejected/scope",
        )
        return outcomes
    if not area.searches:
        # Only projects/P/regions/R (a budget read as SWEEP_SCOPES): an ordinary sweep.
        plain = replace(spec, scopes=tuple(area.pairs), budget=None)
        return run_sweep(client, plain, chain, settings, context, gate, notes=area.notes)
    kinds = [SWEEPABLE[plural] for plural in spec.kinds or settings.sweep_kinds]
    asset_types = sorted({asset for kind in kinds for asset in kind.found_by})
    search_deadline = context.deadline.within(context.deadline.remaining() * _SEARCH_SHARE)
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    account: dict[str, Any] = {"searched": [], "pages": 0, "assets": 0, "complete": True}
    failed: list[str] = []
    left = area.searches[MAX_SEARCH_SCOPES:]  # searched by a continuation of this message
    account["complete"] = not left
    unplaced = 0
    query = _query(asset_types)
    for scope in area.searches[:MAX_SEARCH_SCOPES]:
        try:
            search = directory.search(scope, asset_types, query, search_deadline, MAX_ASSET_PAGES)
        except (ScopeUnreadable, TransientFailure) as error:
            if isinstance(error, TransientFailure):
                left.append(scope)
            failed.append(f"{scope}: {str(error)[:300]}")
            account["complete"] = False
            continue
        account["searched"].append(scope)
        account["pages"] += search.pages
        account["complete"] &= search.complete
        unplaced += search.unplaced
        for hit in search.hits:
            if area.covers(hit):
                account["assets"] += 1
                for kind in kinds:
                    if hit.asset_type in kind.found_by:
                        found[hit.project][hit.region].add(kind.plural)
    if unplaced:
        area.notes.append(f"{unplaced} search result(s) named no project this function can place")
    for text in area.pairs:
        pair = parse_scope(text)
        found[pair.project][pair.region].update(kind.plural for kind in kinds)
    if OPERATIONS in kinds:
        for project, regions in found.items():
            seen = directory.seen_regions(project, OPERATIONS.found_by)
            for region in settings.sweep_regions or seen:
                regions[region].add(OPERATIONS.plural)

    projects: dict[str, dict[str, tuple[str, ...]]] = {}
    refused = 0
    for project in sorted(found):
        if chain.answered(f"projects/{project}"):
            continue  # this chain fanned it out already (a scope inside one searched before)
        try:
            refusal = gate(project)
        except TransientFailure:
            refusal = None  # not known yet: its child asks again, and waits while it cannot
        if refusal:
            refused += 1
            answer(
                Outcome.REJECTED,
                f"projects/{project}",
                f"{refusal}: its Dataproc work was not swept",
                f"rejected/projects/{project}",
                project=project,
            )
            continue
        pairs = {
            f"projects/{project}/regions/{region}": _in_order(kinds, found[project][region])
            for region in sorted(found[project])
            if settings.region_known(region)
        }
        if len(pairs) > MAX_SCOPES_PER_SWEEP:
            area.notes.append(
                f"projects/{project} has {len(pairs)} (region, kinds) pairs to sweep: its "
                f"child sweeps the first {MAX_SCOPES_PER_SWEEP}, the rest NOT swept"
            )
            pairs = dict(list(pairs.items())[:MAX_SCOPES_PER_SWEEP])
        if pairs:
            projects[project] = pairs
        else:
            refused += 1
            answer(
                Outcome.REJECTED,
                f"projects/{project}",
                f"its work is only in {', '.join(sorted(found[project]))[:200]}, not Dataproc "
                "regions (DATAPROC_REGIONS): not swept",
                f"rejected/projects/{project}",
                project=project,
            )

    fanned: list[str] = []
    if projects and settings.trigger_topic:
        for project in sorted(projects)[:MAX_CHILDREN]:
            pairs = projects[project]
            found_kinds = {plural for plurals in pairs.values() for plural in plurals}
            kinds_listed = [p for p in spec.kinds or settings.sweep_kinds if p in found_kinds]
            outcomes.children.append(
                child_sweep(
                    spec, project, list(pairs), kinds_listed, pairs, filter_text, chain, context
                )
            )
            fanned.append(project)
        if len(projects) > MAX_CHILDREN:
            area.notes.append(
                f"{len(projects) - MAX_CHILDREN} more project(s) with work were NOT fanned "
                f"out: at most {MAX_CHILDREN} a message"
            )
    elif projects:
        pairs = {pair: kinds_of for each in projects.values() for pair, kinds_of in each.items()}
        if len(pairs) > MAX_SCOPES_PER_SWEEP:
            area.notes.append(
                f"{len(pairs)} (project, region) pairs have work: more than the "
                f"{MAX_SCOPES_PER_SWEEP} one message sweeps, and TRIGGER_TOPIC is not set to "
                "fan them out; NOT swept"
            )
        else:
            inline = replace(
                spec, scopes=tuple(pairs), scope_kinds=pairs, budget=None, filter=filter_text
            )
            swept = run_sweep(client, inline, chain, settings, context, gate)
            outcomes.results.extend(swept.results)
            outcomes.transient_failures.extend(swept.transient_failures)
            outcomes.continuation = swept.continuation

    if left:
        if not account["searched"]:
            # No progress (nothing searched): asking for this message again misreports
            # nothing, and Pub/Sub's backoff spaces the tries.
            outcomes.transient_failures.append(
                f"no search could be read: {'; '.join(failed)[:500]}"
            )
        elif settings.trigger_topic and chain.generation < MAX_CONTINUATIONS:
            carried = left[:MAX_BUDGET_SEARCHES] if area.budget else left[:MAX_SCOPES_PER_SWEEP]
            outcomes.continuation = _rest(
                spec, base_filter, carried, area.budget is not None, fanned, chain, context
            )
            area.notes.append(f"{len(carried)} search scope(s) handed on to a continuation")
            if dropped := left[len(carried) :]:
                area.notes.append(
                    f"{len(dropped)} more NOT searched (set ALLOWED_ANCESTORS to the "
                    "organisation, so that one search covers them)"
                )
        else:
            area.notes.append(f"{len(left)} search scope(s) NOT searched: {', '.join(left)[:300]}")
    pair_count = sum(len(pairs) for pairs in projects.values())
    summary = {
        **sweep_id,
        "fanOut": {
            **area.described,
            **account,
            "failed": failed,
            "projects": len(found),
            "refused": refused,
            "pairs": pair_count,
            "children": len(fanned),
        },
    }
    parts = [
        f"searched {len(account['searched'])} scope(s) in {account['pages']} page(s) for live "
        f"Dataproc work: {account['assets']} resource(s) in {len(found)} project(s)",
    ]
    if refused:
        parts.append(f"{refused} project(s) refused by the allowlist")
    if fanned:
        parts.append(
            f"fanned out {len(fanned)} child sweep(s), one per project, over "
            f"{pair_count} (project, region) pair(s): each publishes its own "
            f"summary under sweep id {chain.id}"
        )
    elif projects and settings.trigger_topic is None:
        parts.append("swept here: TRIGGER_TOPIC is not set to fan out")
    elif not projects:
        parts.append("nothing to sweep")
    if not account["complete"]:
        parts.append("the search was NOT read to its end")
    if failed:
        parts.append(f"not searched: {'; '.join(failed)[:400]}")
    parts.extend(area.notes)
    outcomes.results.append(
        Result(
            Outcome.SWEEP_SUMMARY,
            "",
            "; ".join(parts),
            context.trigger,
            started,
            dry_run=context.dry_run,
            provenance=replace(context.provenance, sweep=summary),
            dedupe_key=chain.dedupe_key(
                f"summary/fan-out/{chain.generation}" if chain.generation else "summary/fan-out"
            ),
        )
    )
    return outcomes


def _area(
    directory: Directory, spec: SweepSpec, settings: Settings, context: CancelContext
) -> _Area | str | None:
    """Where the sweep looks: the budget's real scope (or SWEEP_SCOPES when it is refused
    for good: None when there are none), or its scopes; a budget continuation's scopes are
    the budget's searches its parent left. A string is a refusal. ``TransientFailure``
    when the budget cannot be read yet."""
    texts = tuple(dict.fromkeys(spec.scopes or settings.sweep_scopes))  # each once
    notes: list[str] = []
    if spec.budget is not None:
        try:
            budget = directory.budget_scope(*spec.budget, context.deadline)
        except ScopeUnreadable as error:
            if spec.scopes:
                return f"this continuation's budget cannot be read: {str(error)[:300]}"
            if not settings.sweep_scopes:
                return None
            notes.append(
                f"the budget's scope could not be read ({str(error)[:300]}): SWEEP_SCOPES "
                "swept instead"
            )
        else:
            area = _budget_area(budget, settings)
            if spec.scopes:
                area.searches = [scope for scope in texts if scope in set(area.searches)]
            return area
    if len(texts) > MAX_SCOPES_PER_SWEEP:
        return (
            f"the sweep names {len(texts)} scopes; at most {MAX_SCOPES_PER_SWEEP}: split it "
            "(a folder or an organisation counts as one)"
        )
    area = _Area(described={"scopes": list(texts)}, notes=notes)
    for text in texts:
        if is_wide_scope(text):
            area.searches.append(text)
            continue
        try:
            area.pairs.append(parse_scope(text).name)
        except InvalidName as invalid:
            return f"not a sweep scope: {str(invalid)[:300]}"
    return area


def _budget_area(budget: BudgetScope, settings: Settings) -> _Area:
    """A budget covers the projects its billing account pays for, narrowed by its filter:
    by place (search those folders and organisations), by project (search each), or
    neither (the whole account: search where the function may act, ALLOWED_ANCESTORS and
    the billed projects of ALLOWED_PROJECTS, or every billed project where any is
    allowed). Projects and places both set: a project must be listed and under one
    (the narrower reading; Google does not say how the two combine)."""
    billed, numbers = budget.billed, budget.projects

    def covers(hit: AssetHit) -> bool:
        return hit.project in billed and (not numbers or hit.number in numbers)

    if budget.ancestors:
        searches = list(budget.ancestors)
    elif numbers:
        searches = [f"projects/{number}" for number in sorted(numbers)]
    else:
        listed = billed if settings.allowed_projects is None else billed & settings.allowed_projects
        searches = [*sorted(settings.allowed_ancestors), *(f"projects/{p}" for p in sorted(listed))]
    return _Area(
        searches=searches,
        covers=covers,
        described={"budgetScope": budget.to_json()},
        budget=budget,
    )


def _query(asset_types: list[str]) -> str:
    """Live work only: every state in which work of a searched asset type is over is
    left out (rather than the running states asked for, so that a resource whose state
    Cloud Asset does not fill is still found). Exempt work is not left out here: a label
    query matches words, not the exact value EXEMPT_LABEL names, so the children judge
    exemption as every sweep does."""
    ended = sorted(
        {
            state
            for kind in KINDS.values()
            if kind.asset_type in asset_types
            for state in kind.ended_states
        }
    )
    return f"NOT state:({' OR '.join(ended)})" if ended else ""


def _rest(
    spec: SweepSpec,
    base_filter: str,
    left: list[str],
    budget_read: bool,
    fanned: list[str],
    chain: Chain,
    context: CancelContext,
) -> Continuation:
    """The searches this message could not read (past MAX_SEARCH_SCOPES, or failing for
    now), handed on as this sweep again over just those scopes; a budget's keeps the
    budget (only if it was read: SWEEP_SCOPES swept instead go on plainly), so what it
    covers is judged the same way. It skips the projects this chain fanned out already
    (a scope may lie inside one searched before), as digests of their parts."""
    request: dict[str, Any] = {
        "scopes": left,
        "filter": base_filter,
        "continuation": {"sweepId": chain.id, "generation": chain.generation + 1},
    }
    if spec.kinds:
        request["kinds"] = list(spec.kinds)
    if budget_read and spec.budget is not None:
        request["budget"] = "billingAccounts/{}/budgets/{}".format(*spec.budget)
    parts = [digest(f"projects/{project}") for project in fanned]
    if skip := list(dict.fromkeys([*parts, *chain.skip]))[:MAX_SKIPPED]:
        request["skip"] = skip
    return Continuation(sweep_message(spec, request, context), chain.id, chain.generation + 1)


def _in_order(kinds: list[Kind], plurals: set[str]) -> tuple[str, ...]:
    return tuple(kind.plural for kind in kinds if kind.plural in plurals)
