"""Money on results: what each target was burning when first read, and for the work we
stopped, what that may have saved (canceller/burn.py has the arithmetic, each kind says
what it burns and for how long).

Why here and not in the engine: the burn is worked out from the read the engine made
before its stop (never a read of its own: after the stop, a batch reports no current
usage and a cluster no VMs), and a figure must never cost an outcome, so any failure
to work one out becomes an ``unknown`` with the reason. Work whose burn is another's
(a job's is its cluster's) names that work; ``read_references`` reads each such one
once per message, after every stop was sent and watched, reusing what the message read
anyway (a cluster it stopped), within a small share of what is left of the deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from datetime import datetime

from google.api_core import exceptions as api_exceptions

from canceller.burn import Burn, Money, Saving, saved_up_to
from canceller.clock import Deadline
from canceller.dataproc import DataprocClient
from canceller.kinds import KINDS, Kind
from canceller.logs import log
from canceller.names import ResourceName
from canceller.prices import PriceTable
from canceller.resource import Resource
from canceller.rest import NoBudget, TransientFailure, error_details
from canceller.results import Outcome, Result

# Outcomes of a target that was running when read: its burn is what it was costing.
# REJECTED, NOT_FOUND and ALREADY_DONE say nothing about running work of ours.
BURNING = frozenset(
    {
        Outcome.CANCELLED,
        Outcome.STILL_RUNNING,
        Outcome.COMPLETED_DESPITE_CANCEL,
        Outcome.DRY_RUN,
        Outcome.ERROR,
        Outcome.PERMISSION_DENIED,
        Outcome.UNIMPLEMENTED,
    }
)
# Reading the work another's burn comes from is for reference only: few reads a
# message, each bounded, never the time a stop needs.
MAX_REFERENCE_READS = 20
REFERENCE_READ_SECONDS = 5.0
_MIN_SECONDS_LEFT = 1.0


def burn_of(
    kind: Kind,
    name: ResourceName,
    before: Resource,
    outcome: Outcome,
    table: PriceTable,
    now: datetime,
    period_end: datetime | None,
) -> tuple[Burn | None, Saving | None, ResourceName | None]:
    """A result's burn, its ``savedUpTo`` (only when we stopped it and the burn is known),
    and the work whose burn is still to be read for it; nothing for an outcome that says
    the work was not running (or a read that shows it ended)."""
    if outcome not in BURNING or kind.phase(before).final:
        return None, None, None
    try:
        burn = kind.burn(before, table)
        if burn is None:
            reference = kind.burn_reference(name, before)
            if reference is not None:
                return None, None, reference
            return kind.referenced_burn(None, "its place does not name it"), None, None
        saving = None
        if outcome is Outcome.CANCELLED:
            horizon = kind.horizon(before, now, period_end)
            if horizon is not None:
                saving = saved_up_to(burn.usd_per_hour, horizon)
        return burn, saving, None
    except Exception as defect:
        return Burn(None, f"not worked out: {_defect(name, defect)}", ""), None, None


def read_references(
    client: DataprocClient,
    results: Sequence[Result],
    table: PriceTable,
    seen: MutableMapping[str, Resource],
    deadline: Deadline,
    dry_run: bool,
) -> None:
    """Give each result waiting for another's burn that burn, read once per message:
    from ``seen`` (what the message read before its stops) or one GET, but none in a dry
    run, which costs no call per target; what cannot be read says why."""
    waiting = [result for result in results if result.burn_reference is not None]
    burns: dict[str, tuple[Burn | None, str]] = {}
    reads = 0
    for result in waiting:
        reference = result.burn_reference
        assert reference is not None
        if reference.name not in burns:
            resource = seen.get(reference.name)
            why = ""
            if resource is None and dry_run:
                why = "a dry run reads nothing for it"
            elif resource is None:
                resource, why = _read(client, reference, deadline, reads)
                reads += 1
            burns[reference.name] = _reference_burn(reference, resource, table, why)
        burn, unread = burns[reference.name]
        kind = KINDS[result.kind]
        result.burn = kind.referenced_burn(burn, unread)
        result.burn_reference = None


def _read(
    client: DataprocClient, reference: ResourceName, deadline: Deadline, reads: int
) -> tuple[Resource | None, str]:
    if reads >= MAX_REFERENCE_READS:
        return None, f"more than {MAX_REFERENCE_READS} to read in one message"
    if deadline.remaining() < _MIN_SECONDS_LEFT:
        return None, "no time left in this message"
    try:
        return client.get(reference.name, deadline.within(REFERENCE_READ_SECONDS)), ""
    except NoBudget:
        return None, "no request budget left"
    except TransientFailure:
        return None, "the read failed for now"
    except api_exceptions.GoogleAPICallError as error:
        return None, f"the read was answered {error_details(error)['status']}"


def _reference_burn(
    reference: ResourceName, resource: Resource | None, table: PriceTable, why: str
) -> tuple[Burn | None, str]:
    if resource is None:
        return None, why
    kind = KINDS[reference.kind]
    if kind.phase(resource).final:
        return None, f"it is {kind.state_word(resource)}"
    try:
        return kind.burn(resource, table), ""
    except Exception as defect:
        return None, _defect(reference, defect)


def _defect(name: ResourceName, defect: Exception) -> str:
    """A figure must never cost the outcome it sits on: a defect of ours in working one
    out is logged and becomes the reason it is unknown."""
    why = f"internal error {type(defect).__name__}"
    log("ERROR", f"burn not worked out: {why}", target=name.name)
    return why


def money(results: Iterable[Result]) -> Money | None:
    """The totals of the CANCELLED results among ``results``; None when none, or when none
    was worked out at all (results made without a price table)."""
    stopped = [r for r in results if r.outcome is Outcome.CANCELLED]
    if all(r.burn is None for r in stopped):
        return None
    priced = [r.burn for r in stopped if r.burn is not None and r.burn.usd_per_hour is not None]
    savings = [r.saving for r in stopped if r.saving is not None]
    reasons = [
        r.burn.unknown if r.burn is not None and r.burn.unknown else "not read"
        for r in stopped
        if r.burn is None or r.burn.usd_per_hour is None
    ]
    labels = sorted({burn.prices for burn in priced if burn.prices})
    return Money(
        stopped=len(stopped),
        priced=len(priced),
        burn_usd_per_hour=sum(burn.usd_per_hour or 0.0 for burn in priced),
        saved=len(savings),
        saved_up_to_usd=sum(saving.usd for saving in savings),
        prices="; ".join(labels),
        unknown=f"{len(reasons)} not priced, e.g. {reasons[0][:300]}" if reasons else "",
    )


def add_money_to_summaries(results: list[Result]) -> None:
    """Each SWEEP_SUMMARY of the message gets the totals of what its own sweep stopped in
    this message (a fan-out child's, a continuation's: each its own part)."""
    for summary in results:
        sweep = summary.provenance.sweep
        if summary.outcome is not Outcome.SWEEP_SUMMARY or sweep is None:
            continue
        if "fanOut" in sweep:  # a fan-out's parent stops nothing: its children's say
            continue
        mine = [
            r
            for r in results
            if r.outcome is Outcome.CANCELLED
            and r.provenance.sweep is not None
            and r.provenance.sweep.get("id") == sweep.get("id")
        ]
        summary.money = money(mine) or Money(0, 0, 0.0, 0, 0.0, "")
