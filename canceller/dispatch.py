"""From a decoded trigger to one result per thing it asked for.

Alerts are translated into the work they imply (a budget over its threshold sweeps
SWEEP_SCOPES; an open incident cancels its batch or its cluster's operations), the
allowlist and the event's age are checked before any Dataproc call, and the work runs.
Results are collected for everything that reached a final answer; a transient failure
on one item does not hide the others. The caller publishes what is final and then asks
Pub/Sub to redeliver if anything is not: nothing is lost, and a redelivery repeats
only idempotent work (GETs, and cancels of operations still running).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from canceller.alerts import BATCH_RESOURCE, CLUSTER_RESOURCE, IncidentNotice
from canceller.batches import batch_fields, cancel_batches
from canceller.cancellation import CancelContext, Outcomes, Target, cancel_all
from canceller.clock import Deadline, utc_now
from canceller.dataproc import DataprocClient
from canceller.names import BatchName, InvalidName, OperationName, parse_batch_name
from canceller.results import Outcome, Result
from canceller.selection import SweepSpec
from canceller.settings import Settings
from canceller.sweeps import run_sweep
from canceller.trigger import Trigger

_CLUSTER_NAME = re.compile(r"[a-z](?:[-a-z0-9]{0,49}[a-z0-9])?")
_CLUSTER_UUID = re.compile(r"[0-9a-fA-F-]{1,64}")


@dataclass
class Handled:
    results: list[Result] = field(default_factory=list)
    retry_reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # logged at INFO, never published


@dataclass
class _Work:
    """What the trigger comes down to once alerts are translated."""

    operations: list[OperationName] = field(default_factory=list)
    batches: list[BatchName] = field(default_factory=list)
    sweep: SweepSpec | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def handle_trigger(
    trigger: Trigger, settings: Settings, dataproc: Callable[[], DataprocClient]
) -> Handled:
    """``dataproc`` is a factory so a message that needs no Dataproc call (rejected,
    below threshold, expired) never builds credentials."""
    started = utc_now()
    info = trigger.info
    handled = Handled(notes=list(trigger.notes))

    def reject(operation: str, detail: str, **kw: Any) -> None:
        handled.results.append(Result(Outcome.REJECTED, operation, detail, info, started, **kw))

    for rejection in trigger.rejections:
        reject(rejection.offending_input, rejection.detail)
    work = _translate_alerts(trigger, settings, handled, reject)

    refused = "is not in ALLOWED_PROJECTS; nothing was called"
    operations, batches = [], []
    for name in work.operations:
        if settings.project_allowed(name.project):
            operations.append(name)
        else:
            reject(name.name, f"project {name.project} {refused}", name=name, extra=work.extra)
    for batch in work.batches:
        if settings.project_allowed(batch.project):
            batches.append(batch)
        else:
            reject(
                batch.name,
                f"project {batch.project} {refused}",
                extra={**work.extra, **batch_fields(batch)},
            )
    work.operations, work.batches = operations, batches
    if not (work.operations or work.batches or work.sweep):
        return handled

    age = info.age_seconds(started)
    if age is not None and age > settings.max_event_age_seconds:
        detail = (
            f"expired: the trigger was published {age:.0f} s ago, more than "
            f"MAX_EVENT_AGE_SECONDS={settings.max_event_age_seconds:g}; nothing was called"
        )
        for name in work.operations:
            handled.results.append(
                Result(Outcome.ERROR, name.name, detail, info, started, name=name, extra=work.extra)
            )
        for batch in work.batches:
            handled.results.append(
                Result(
                    Outcome.ERROR,
                    "",
                    detail,
                    info,
                    started,
                    extra={**work.extra, **batch_fields(batch)},
                )
            )
        if work.sweep:
            handled.results.append(
                Result(Outcome.ERROR, "", detail, info, started, extra=work.extra)
            )
        return handled

    context = CancelContext(
        trigger=info,
        deadline=Deadline(settings.retry_deadline_seconds + settings.verify_timeout_seconds),
        verify_timeout=settings.verify_timeout_seconds,
        dry_run=settings.dry_run if info.dry_run is None else info.dry_run,
        max_concurrency=settings.max_concurrency,
        extra=work.extra,
    )
    client = dataproc()
    runs: list[Outcomes] = []
    if work.operations:
        runs.append(cancel_all(client, [Target(name) for name in work.operations], context))
    if work.batches:
        runs.append(cancel_batches(client, work.batches, context))
    if work.sweep:
        runs.append(run_sweep(client, work.sweep, settings, context))
    for run in runs:
        handled.results.extend(run.results)
        handled.retry_reasons.extend(run.failures)
    return handled


def _translate_alerts(
    trigger: Trigger, settings: Settings, handled: Handled, reject: Callable[..., None]
) -> _Work:
    budget, incident = trigger.budget, trigger.incident
    if budget is not None:
        extra = {"budget": budget.fields()}
        if not budget.over(settings.budget_threshold):
            handled.notes.append(
                f"budget {budget.display_name or budget.budget_id}: cost {budget.cost:g} of "
                f"{budget.budget:g} {budget.currency} is below BUDGET_THRESHOLD="
                f"{settings.budget_threshold:g}; nothing to do"
            )
            return _Work(extra=extra)
        return _Work(sweep=SweepSpec(), extra=extra)
    if incident is not None:
        return _incident_work(incident, handled, reject)
    return _Work(
        operations=list(trigger.operations),
        batches=list(trigger.batches),
        sweep=trigger.sweep,
    )


def _incident_work(
    incident: IncidentNotice, handled: Handled, reject: Callable[..., None]
) -> _Work:
    extra: dict[str, Any] = {"incident": incident.fields()}
    if not incident.is_open:
        handled.notes.append(
            f"incident {incident.incident_id} ({incident.policy_name}) is {incident.state}; "
            "nothing to do"
        )
        return _Work(extra=extra)
    labels = incident.resource_labels
    project = labels.get("project_id", "")
    if incident.resource_type == BATCH_RESOURCE:
        text = f"projects/{project}/locations/{labels.get('location', '')}/batches/"
        text += labels.get("batch_id", "")
        try:
            return _Work(batches=[parse_batch_name(text)], extra=extra)
        except InvalidName as invalid:
            reject(text, f"the incident's batch labels do not name a batch: {invalid}", extra=extra)
            return _Work(extra=extra)
    if incident.resource_type == CLUSTER_RESOURCE:
        cluster, uuid = labels.get("cluster_name", ""), labels.get("cluster_uuid", "")
        scope = f"projects/{project}/regions/{labels.get('region', '')}"
        if not _CLUSTER_NAME.fullmatch(cluster) or (uuid and not _CLUSTER_UUID.fullmatch(uuid)):
            reject(
                scope,
                "the incident's cluster labels are not a valid cluster name/uuid",
                extra=extra,
            )
            return _Work(extra=extra)
        spec = SweepSpec(
            scopes=(scope,), filter=f'clusterName = "{cluster}"', cluster_uuid=uuid or None
        )
        return _Work(sweep=spec, extra=extra)
    reject(
        "",
        f"incident {incident.incident_id} is on resource type {incident.resource_type or '?'!r}, "
        f"which this function cannot act on (supported: {BATCH_RESOURCE}, {CLUSTER_RESOURCE})",
        extra={**extra, "project": project} if project else extra,
    )
    return _Work(extra=extra)
