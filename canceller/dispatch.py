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

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from canceller.alerts import (
    BATCH_RESOURCE,
    CLUSTER_RESOURCE,
    JOB_RESOURCE,
    SESSION_RESOURCE,
    IncidentNotice,
)
from canceller.chains import MAX_CONTINUATIONS, Chain, Continuation
from canceller.clock import CallAllowance, Deadline, utc_now
from canceller.dataproc import DataprocClient
from canceller.engine import CancelContext, Outcomes, Target, stop_all
from canceller.kinds import KINDS
from canceller.names import KIND_PATHS, UUID, InvalidName, parse_name
from canceller.results import Outcome, Result
from canceller.selection import SweepSpec
from canceller.settings import Settings
from canceller.sweeps import run_sweep
from canceller.trigger import Trigger

_CLUSTER_NAME = re.compile(r"[a-z](?:[-a-z0-9]{0,49}[a-z0-9])?")
# Monitored resource type -> (kind, label naming its place, label naming its ID).
_INCIDENT_TARGETS = {
    BATCH_RESOURCE: ("batch", "location", "batch_id"),
    JOB_RESOURCE: ("job", "region", "job_id"),
    SESSION_RESOURCE: ("session", "location", "session_id"),
}
_SUPPORTED = ", ".join([*_INCIDENT_TARGETS, CLUSTER_RESOURCE])


@dataclass
class Handled:
    results: list[Result] = field(default_factory=list)
    retry_reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # logged at INFO, never published
    continuation: Continuation | None = None  # published to TRIGGER_TOPIC after results


@dataclass
class _Work:
    """What the trigger comes down to once alerts are translated."""

    targets: list[Target] = field(default_factory=list)
    sweep: SweepSpec | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    named: bool = False  # a list of names: what is not started can be handed on


def handle_trigger(
    trigger: Trigger, settings: Settings, dataproc: Callable[[], DataprocClient]
) -> Handled:
    """``dataproc`` is a factory so a message that needs no Dataproc call (rejected,
    below threshold, expired) never builds credentials."""
    started = utc_now()
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
        key = f"{info.chain}/rejected/{number}/{target}"
        answer(Outcome.REJECTED, target, detail, claimed, dedupe_key=key, **kw)

    for rejection in trigger.rejections:
        reject(rejection.offending_input, rejection.detail)
    work = _translate_alerts(trigger, settings, handled, reject)

    allowed: list[Target] = []
    for target in work.targets:
        name = target.name
        if not settings.project_allowed(name.project):
            refusal = f"project {name.project} is not in ALLOWED_PROJECTS; nothing was called"
        elif not settings.region_known(name.location):
            refusal = (
                f"{name.location} is not a Dataproc region (DATAPROC_REGIONS); nothing was called"
            )
        else:
            allowed.append(target)
            continue
        answer(Outcome.REJECTED, name.name, refusal, name.kind, name=name, extra=work.extra)
    work.targets = allowed
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
                extra=work.extra,
            )
        if work.sweep:
            answer(Outcome.ERROR, "", detail, "unknown", extra=work.extra)
        return handled

    context = CancelContext(
        trigger=info,
        deadline=Deadline(
            settings.retry_deadline_seconds + settings.verify_timeout_seconds,
            CallAllowance(calls_per_message(settings)),
        ),
        verify_timeout=settings.verify_timeout_seconds,
        dry_run=settings.dry_run or info.dry_run is True,
        max_concurrency=settings.max_concurrency,
        extra=work.extra,
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
        handled.retry_reasons.extend(stopped.failures)
        if can_hand_on and (stopped.unstarted or stopped.unconfirmed):
            _hand_on_names(stopped, len(work.targets), chain, context, handled)
    if work.sweep:
        swept = run_sweep(client, work.sweep, chain, settings, context)
        handled.results.extend(swept.results)
        handled.retry_reasons.extend(swept.failures)
        handled.continuation = swept.continuation
    return handled


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
        handled.retry_reasons.append(f"{why}: no time, request budget or confirmed stop")
        return
    if chain.generation >= MAX_CONTINUATIONS:
        handled.retry_reasons.append(f"{why} and the chain reached {MAX_CONTINUATIONS} messages")
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
        extra = {"budget": budget.fields()}
        if not settings.budget_allowed(budget.budget_id):
            reject(
                "",
                f"budget {budget.budget_id[:128]} is not in ALLOWED_BUDGETS: its notifications "
                "stop nothing; nothing was called",
                extra=extra,
            )
            return _Work(extra=extra)
        if not budget.over(settings.budget_threshold):
            handled.notes.append(
                f"budget {budget.display_name or budget.budget_id}: cost {budget.cost:g} of "
                f"{budget.budget:g} {budget.currency} is below BUDGET_THRESHOLD="
                f"{settings.budget_threshold:g}; nothing to do"
            )
            return _Work(extra=extra)
        return _Work(sweep=SweepSpec(), extra=extra)
    if incident is not None:
        if not settings.alert_policy_allowed(incident.policy_name):
            reject(
                "",
                f"alert policy {incident.policy_name[:256]!r} is not in ALLOWED_ALERT_POLICIES: "
                "its incidents stop nothing; nothing was called",
                extra={"incident": incident.fields()},
            )
            return _Work()
        return _incident_work(incident, handled, reject)
    attempted = trigger.chain.attempted if trigger.chain else frozenset()
    return _Work(
        targets=[Target(name, attempted=name.name in attempted) for name in trigger.targets],
        sweep=trigger.sweep,
        named=bool(trigger.targets),
    )


def _incident_work(
    incident: IncidentNotice, handled: Handled, reject: Callable[..., None]
) -> _Work:
    """An incident on one resource is an explicit request for that very resource (so
    stopped even if exempt); on a cluster it is a sweep of the cluster's work."""
    extra: dict[str, Any] = {"incident": incident.fields()}
    if not incident.is_open:
        handled.notes.append(
            f"incident {incident.incident_id} ({incident.policy_name}) is {incident.state}; "
            "nothing to do"
        )
        return _Work(extra=extra)
    labels = incident.resource_labels
    project = labels.get("project_id", "")
    if incident.resource_type in _INCIDENT_TARGETS:
        kind, place_label, id_label = _INCIDENT_TARGETS[incident.resource_type]
        place, collection, _ = KIND_PATHS[kind]
        text = (
            f"projects/{project}/{place}/{labels.get(place_label, '')}/{collection}/"
            f"{labels.get(id_label, '')}"
        )
        uuid = labels.get("job_uuid", "") if kind == "job" else ""
        try:
            name = parse_name(kind, text)
            if uuid and not UUID.fullmatch(uuid):
                raise InvalidName(f"job_uuid {uuid[:80]!r} is not a UUID")
        except InvalidName as invalid:
            reject(
                text, f"the incident's {kind} labels do not name a {kind}: {invalid}", extra=extra
            )
            return _Work(extra=extra)
        return _Work(targets=[Target(name, expect_uuid=uuid or None)], extra=extra)
    if incident.resource_type == CLUSTER_RESOURCE:
        cluster, uuid = labels.get("cluster_name", ""), labels.get("cluster_uuid", "")
        scope = f"projects/{project}/regions/{labels.get('region', '')}"
        if not _CLUSTER_NAME.fullmatch(cluster) or (uuid and not UUID.fullmatch(uuid)):
            reject(
                scope,
                "the incident's cluster labels are not a valid cluster name/uuid",
                extra=extra,
            )
            return _Work(extra=extra)
        spec = SweepSpec(
            scopes=(scope,),
            filter=f'clusterName = "{cluster}"',
            cluster_uuid=uuid or None,
            kinds=("operations", "jobs"),
        )
        return _Work(sweep=spec, extra=extra)
    reject(
        "",
        f"incident {incident.incident_id} is on resource type {incident.resource_type or '?'!r}, "
        f"which this function cannot act on (supported: {_SUPPORTED})",
        extra={**extra, "project": project} if project else extra,
    )
    return _Work(extra=extra)
