"""From a decoded trigger to one result per thing it asked for.

Alerts are translated into the work they imply (a budget over its threshold sweeps
SWEEP_SCOPES; an open incident stops its batch, job or session, or its cluster's jobs
and operations), only from the budgets and alert policies allowed; the allowlist, the
region and the event's age are checked before any Dataproc call, and the work runs.
DRY_RUN=true is a floor: a message may ask for a dry run, never lift one.

Results are collected for everything that reached a final answer; a transient failure
on one item does not hide the others. A named list hands on what it could not start
(no time to watch it, no request budget) in a continuation that carries only those
names, so each name is answered once, by the message that stopped it; a message that
could start nothing asks for its own redelivery instead (nothing of it was done, so
nothing can be misreported). The caller publishes what is final (and any continuation)
and then asks Pub/Sub to redeliver if anything is not: nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from canceller.alerts import BudgetNotice, IncidentNotice
from canceller.burn import budget_period_end
from canceller.chains import MAX_CONTINUATIONS, Chain, Continuation
from canceller.clock import SYSTEM_CLOCK, CallAllowance, Clock, Deadline, utc_now
from canceller.dataproc import DataprocClient
from canceller.engine import CancelContext, Outcomes, stop_all
from canceller.fan_out import is_wide, run_fan_out
from canceller.kinds import CLUSTERS, INCIDENT_KINDS, KINDS
from canceller.message import Trigger
from canceller.names import UUID, InvalidName, parse_name
from canceller.organisation import Directory
from canceller.prices import shipped_table
from canceller.pricing import add_money_to_summaries
from canceller.rest import TransientFailure
from canceller.results import Outcome, Provenance, Result
from canceller.selection import SweepSpec
from canceller.settings import Rung, Settings
from canceller.sweeps import run_sweep
from canceller.targets import Target

_SUPPORTED = ", ".join(INCIDENT_KINDS)


@dataclass
class Handled:
    results: list[Result] = field(default_factory=list)
    transient_failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # logged at INFO, never published
    continuation: Continuation | None = None  # published to TRIGGER_TOPIC after results
    children: list[Continuation] = field(default_factory=list)  # a fan-out's, one a project

    @property
    def continuations(self) -> list[Continuation]:
        """Everything handed on to TRIGGER_TOPIC: the continuation, then the children."""
        return [*([self.continuation] if self.continuation else []), *self.children]


@dataclass
class _Work:
    """What the trigger comes down to once alerts are translated."""

    targets: list[Target] = field(default_factory=list)
    sweep: SweepSpec | None = None
    # The budget notification (and its rung) or the incident, on each result.
    provenance: Provenance = field(default_factory=Provenance)
    named: bool = False  # a list of names: what is not started can be handed on
    dry_run: bool = False  # a budget's report rung: what would be stopped, nothing stopped


def handle_trigger(
    trigger: Trigger,
    settings: Settings,
    dataproc: Callable[[], DataprocClient],
    directory: Callable[[], Directory] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Handled:
    """``dataproc`` and ``directory`` (the organisation APIs) are factories so a message
    that needs no call (rejected, below threshold, expired) never builds credentials.
    Without ``directory`` (tests of one project), a budget sweeps SWEEP_SCOPES and
    ALLOWED_ANCESTORS allows nothing. ``clock``: the one the clients are on
    (canceller.runtime.Runtime's), which the message's deadline is on too."""
    started = utc_now()
    deadline = Deadline(
        settings.retry_deadline_seconds + settings.verify_timeout_seconds,
        CallAllowance(calls_per_message(settings)),
        clock=clock,
    )

    def gate(project: str) -> str | None:
        """Why the project may not be acted on, or None; Resource Manager is read only for
        a project ALLOWED_PROJECTS does not list, when ALLOWED_ANCESTORS is set."""
        if settings.project_allowed(project):
            return None
        if directory is None or not settings.allowed_ancestors:
            return f"project {project} is not in ALLOWED_PROJECTS"
        return directory().project_refusal(settings, project, deadline)

    info = trigger.info
    handled = Handled(notes=list(trigger.notes))
    claimed = info.kind if info.kind in KINDS else "unknown"

    def answer(outcome: Outcome, target: str, detail: str, kind: str, **kw: Any) -> None:
        operation = target if kind in ("operation", "unknown") else ""
        handled.results.append(
            Result(outcome, target, detail, info, started, kind=kind, operation=operation, **kw)
        )

    def reject(target: str, detail: str, **kw: Any) -> None:
        # Numbered: two inputs clipped to the same text are still two answers.
        number = sum(r.outcome is Outcome.REJECTED for r in handled.results)
        key = f"{info.key_prefix}/rejected/{number}/{target}"
        answer(Outcome.REJECTED, target, detail, claimed, dedupe_key=key, **kw)

    for rejection in trigger.rejections:
        reject(rejection.offending_input, rejection.detail)
    work = _translate_alerts(trigger, settings, handled, reject)

    allowed: list[Target] = []
    unchecked: list[Target] = []  # the allowlist could not answer yet: not started
    for target in work.targets:
        name = target.name
        try:
            refusal = _refusal(target, settings, gate)
        except TransientFailure as error:
            unchecked.append(target)
            handled.notes.append(f"{name.name}: the allowlist could not be checked: {error}")
            continue
        if refusal is None:
            allowed.append(target)
        else:
            answer(
                Outcome.REJECTED,
                name.name,
                refusal,
                name.kind,
                name=name,
                provenance=work.provenance,
            )
    work.targets = allowed
    if unchecked and not allowed:
        # Nothing was done: the redelivery asks Resource Manager again.
        handled.transient_failures.append(
            f"the allowlist could not be checked for {len(unchecked)}"
        )
        return handled
    if not (work.targets or work.sweep):
        return handled

    age = info.age_seconds(started)
    if age is not None and age > settings.max_event_age_seconds:
        detail = (
            f"expired: the trigger was published {age:.0f} s ago, more than "
            f"MAX_EVENT_AGE_SECONDS={settings.max_event_age_seconds:g}; nothing was called"
        )
        for target in work.targets:
            answer(
                Outcome.ERROR,
                target.name.name,
                detail,
                target.name.kind,
                name=target.name,
                provenance=work.provenance,
            )
        if work.sweep:
            answer(Outcome.ERROR, "", detail, "unknown", provenance=work.provenance)
        return handled

    period_start, period_end = _budget_period(trigger)
    context = CancelContext(
        trigger=info,
        deadline=deadline,
        verify_timeout=settings.verify_timeout_seconds,
        dry_run=settings.dry_run or info.dry_run is True or work.dry_run,
        max_concurrency=settings.max_concurrency,
        provenance=work.provenance,
        prices=shipped_table(settings.price_multiplier),
        period_start=period_start,
        period_end=period_end,
    )
    if settings.dry_run and info.dry_run is False:
        handled.notes.append("the message asked for dryRun false; DRY_RUN=true keeps it a dry run")
    chain = trigger.chain or Chain(id=info.chain)
    client = dataproc()
    if work.targets:
        # A list of names hands on what it did not answer; an incident's target (whose
        # continuation would lose the incident), or any name without TRIGGER_TOPIC, is
        # answered ERROR when its stop was never confirmed, and redelivered when it was
        # not started.
        can_hand_on = work.named and settings.trigger_topic is not None
        stopped = stop_all(
            client,
            work.targets,
            context,
            hand_on_late=can_hand_on,
            report_unconfirmed=not can_hand_on,
        )
        handled.results.extend(stopped.results)
        handled.transient_failures.extend(stopped.transient_failures)
        if unchecked and can_hand_on:
            stopped.unstarted.extend(unchecked)  # handed on with the names not started
        elif unchecked:
            handled.transient_failures.append(
                f"the allowlist could not be checked for {len(unchecked)}"
            )
        if can_hand_on and (stopped.unstarted or stopped.unconfirmed):
            _hand_on_names(stopped, len(work.targets) + len(unchecked), chain, context, handled)
    if work.sweep:
        if is_wide(work.sweep, settings) and directory is not None:
            swept = run_fan_out(client, directory(), work.sweep, chain, settings, context, gate)
        else:
            spec = work.sweep
            if spec.budget is not None:
                spec = replace(spec, budget=None)
                handled.notes.append("no organisation APIs: the budget sweeps SWEEP_SCOPES")
            swept = run_sweep(client, spec, chain, settings, context, gate)
        handled.results.extend(swept.results)
        handled.transient_failures.extend(swept.transient_failures)
        handled.continuation = swept.continuation
        handled.children = swept.children
        add_money_to_summaries(handled.results)
    return handled


def _budget_period(trigger: Trigger) -> tuple[datetime | None, datetime | None]:
    """When a budget action's period started and ends, for savedUpTo: a notification's
    costIntervalStart and a month after it (a fan-out that reads the budget corrects
    that to its own period); a continuation's end as its parent worked it out. Either
    is only an estimate's bound, from a message: burn.otherwise believes none in the
    past or more than a year off."""
    if trigger.budget is not None:
        start = trigger.budget.interval_start
        return start, budget_period_end(start)
    return None, trigger.chain.period_end if trigger.chain is not None else None


def _refusal(target: Target, settings: Settings, gate: Callable[[str], str | None]) -> str | None:
    """Why a named target is refused before any call, or None; ``TransientFailure`` when
    the allowlist cannot answer yet."""
    name = target.name
    if target.action == "delete" and not settings.cluster_delete_allowed:
        return (
            f"deleting a {name.kind} needs CLUSTER_DELETE_ALLOWED=true (deploy.sh: "
            '--allow-cluster-delete); {"action": "stop"} stops it and keeps its disks; '
            "nothing was called"
        )
    if project_refusal := gate(name.project):
        return f"{project_refusal}; nothing was called"
    if not settings.region_known(name.location):
        return f"{name.location} is not a Dataproc region (DATAPROC_REGIONS); nothing was called"
    return None


def _hand_on_names(
    stopped: Outcomes, count: int, chain: Chain, context: CancelContext, handled: Handled
) -> None:
    """The names this message did not answer go on in a continuation of their own, so
    what it answered is never read again by this chain: those it could not start, and
    those whose every stop went unanswered while they kept running (marked as attempted:
    found stopped later, they are not told as someone else's doing). A message that
    answered none and marked none made no progress: it asks for its own redelivery rather
    than hand on a copy of itself (Pub/Sub's backoff then spaces the tries, and a
    dead-letter topic ends them)."""
    unconfirmed = {target.name for target in stopped.unconfirmed}
    left = sorted(
        [*stopped.unstarted, *stopped.unconfirmed],
        key=lambda target: target.name in unconfirmed,  # unstarted first, each as asked
    )
    why = f"{len(left)} of {count} name(s) could not be answered in this message"
    # Progress: a name answered, or one newly known to have been sent a stop (which the
    # continuation must carry, and a redelivery of this message would forget).
    newly_attempted = any(not target.attempted for target in stopped.unconfirmed)
    if len(left) == count and not newly_attempted:
        handled.transient_failures.append(f"{why}: no time, request budget or confirmed stop")
        return
    if chain.generation >= MAX_CONTINUATIONS:
        handled.transient_failures.append(
            f"{why} and the chain reached {MAX_CONTINUATIONS} messages"
        )
        return
    plural = KINDS[left[0].name.kind].plural
    carried: dict[str, Any] = {"chainId": chain.id, "generation": chain.generation + 1}
    attempted = [t.name.name for t in left if t.name in unconfirmed or t.attempted]
    if attempted:
        carried["attempted"] = attempted
    message: dict[str, Any] = {
        plural: [target.name.name for target in left],
        "continuation": carried,
    }
    info = context.trigger
    for key, value in (("reason", info.reason), ("requestId", info.request_id)):
        if value is not None:
            message[key] = value
    if info.action != "stop":
        message["action"] = info.action
    if context.dry_run:
        message["dryRun"] = True
    handled.continuation = Continuation(message, chain.id, chain.generation + 1)
    handled.notes.append(f"{why}: handed on to continuation {chain.generation + 1} of {chain.id}")


def calls_per_message(settings: Settings) -> int:
    """The most Dataproc calls one message may start work with, whatever it asks for:
    three for each stop it may start (a read, the stop, the stop sent again) and a
    thousand listing pages; the reads that verify stops already sent are not counted.
    It bounds one message's fan-out on top of the per-minute budgets; what is past it
    is handed on like work there was no time for."""
    return 3 * settings.max_cancels_per_message + 1000


def handle_defect(trigger: Trigger, defect: Exception) -> Handled:
    """A defect of ours escaped handling: answer the message with one ERROR saying so
    (and ack it), because raising would redeliver it, unanswered, until dead-lettered.
    Targets of the message that were already stopped are stopped; their own results are
    what was lost, and this one says so."""
    named = ", ".join(name.name for name in trigger.targets)[:512]
    return Handled(
        results=[
            Result(
                Outcome.ERROR,
                named,
                f"internal error while handling this message ({type(defect).__name__}: {defect}"[
                    :900
                ]
                + "); some of its work may have been stopped without a result: check Dataproc",
                trigger.info,
                utc_now(),
            )
        ]
    )


def _translate_alerts(
    trigger: Trigger, settings: Settings, handled: Handled, reject: Callable[..., None]
) -> _Work:
    budget, incident = trigger.budget, trigger.incident
    if budget is not None:
        return _budget_work(budget, settings, handled, reject)
    if incident is not None:
        if not settings.alert_policy_allowed(incident.policy_name):
            reject(
                "",
                f"alert policy {incident.policy_name[:256]!r} is not in ALLOWED_ALERT_POLICIES: "
                "its incidents stop nothing; nothing was called",
                provenance=Provenance(incident=incident.fields()),
            )
            return _Work()
        return _incident_work(incident, settings, handled, reject)
    attempted = trigger.chain.attempted if trigger.chain else frozenset()
    action = trigger.info.action
    return _Work(
        targets=[
            Target(name, attempted=name.name in attempted, action=action)
            for name in trigger.targets
        ],
        sweep=trigger.sweep,
        named=bool(trigger.targets),
    )


def _budget_work(
    budget: BudgetNotice, settings: Settings, handled: Handled, reject: Callable[..., None]
) -> _Work:
    """The graduated response: the highest rung of BUDGET_LADDER the budget reached acts.
    ``report`` shows (as a dry run) what the rungs above it would stop, ``work`` sweeps
    SWEEP_KINDS, ``clusters`` sweeps those and then the clusters. Exempt work and exempt
    clusters are left alone, as by every sweep."""
    provenance = Provenance(budget=budget.fields())
    if not settings.budget_allowed(budget.budget_id):
        reject(
            "",
            f"budget {budget.budget_id[:128]} is not in ALLOWED_BUDGETS: its notifications "
            "stop nothing; nothing was called",
            provenance=provenance,
        )
        return _Work(provenance=provenance)
    ratio = budget.ratio
    rung = settings.rung(ratio) if ratio is not None else None
    if rung is None:
        spent = f"{ratio:.3g} of its amount" if ratio is not None else "an unknown share"
        handled.notes.append(
            f"budget {budget.display_name or budget.budget_id}: cost {budget.cost:g} of "
            f"{budget.budget:g} {budget.currency} ({spent}) is below the lowest rung of "
            f"BUDGET_LADDER ({settings.budget_ladder[0].threshold:g}); nothing to do"
        )
        return _Work(provenance=provenance)
    provenance = replace(provenance, rung={**rung.to_json(), "ratio": ratio})
    kinds = _rung_kinds(rung, settings)
    spec = SweepSpec(kinds=kinds, budget=(budget.billing_account_id, budget.budget_id))
    return _Work(sweep=spec, provenance=provenance, dry_run=rung.action == "report")


def _rung_kinds(rung: Rung, settings: Settings) -> tuple[str, ...]:
    """What a rung sweeps; a report rung, what the highest rung above it would."""
    above = [r for r in settings.budget_ladder if r.threshold > rung.threshold]
    action = above[-1].action if rung.action == "report" and above else rung.action
    if action == "clusters":
        return tuple(dict.fromkeys((*settings.sweep_kinds, CLUSTERS.plural)))
    return settings.sweep_kinds


def _incident_work(
    incident: IncidentNotice, settings: Settings, handled: Handled, reject: Callable[..., None]
) -> _Work:
    """An incident on one resource is an explicit request for that very resource (so
    stopped even if exempt). On a cluster, CLUSTER_INCIDENT_ACTION says what: ``jobs``, a
    sweep of the cluster's jobs and operations; ``stop`` or ``delete``, the cluster itself
    (its work first; a cluster running exempt work is left alone). A ``*_uuid`` label
    names one incarnation: another is left alone."""
    provenance = Provenance(incident=incident.fields())
    if not incident.is_open:
        handled.notes.append(
            f"incident {incident.incident_id} ({incident.policy_name}) is {incident.state}; "
            "nothing to do"
        )
        return _Work(provenance=provenance)
    labels = incident.resource_labels
    project = labels.get("project_id", "")
    kind = INCIDENT_KINDS.get(incident.resource_type)
    if kind is None or kind.incident is None:
        reject(
            "",
            f"incident {incident.incident_id} is on resource type "
            f"{incident.resource_type or '?'!r}, which this function cannot act on "
            f"(supported: {_SUPPORTED})",
            provenance=provenance,
            project=project,
        )
        return _Work(provenance=provenance)
    rule = kind.incident
    text = (
        f"projects/{project}/{kind.place}/{labels.get(rule.place, '')}/{kind.plural}/"
        f"{labels.get(rule.id, '')}"
    )
    uuid = labels.get(rule.uuid, "") if rule.uuid else ""
    try:
        name = parse_name(kind.name, text)
        if uuid and not UUID.fullmatch(uuid):
            raise InvalidName(f"{rule.uuid} {uuid[:80]!r} is not a UUID")
    except InvalidName as invalid:
        reject(
            text,
            f"the incident's {kind.name} labels do not name a {kind.name}: {invalid}",
            provenance=provenance,
        )
        return _Work(provenance=provenance)
    if kind is CLUSTERS and settings.cluster_incident_action == "jobs":
        spec = SweepSpec(
            scopes=(name.scope.name,),
            filter=f'clusterName = "{name.resource_id}"',
            cluster_uuid=uuid or None,
            kinds=CLUSTERS.clears_first,
        )
        return _Work(sweep=spec, provenance=provenance)
    if kind is CLUSTERS:
        # The cluster is named, so it is stopped even if labelled exempt; exempt work on
        # it is not, and the cluster's stop would fail that work: it is left alone.
        target = Target(
            name,
            expect_uuid=uuid or None,
            action=settings.cluster_incident_action,
            spare_exempt=settings.exempt_label,
        )
    else:
        target = Target(name, expect_uuid=uuid or None)
    return _Work(targets=[target], provenance=provenance)
