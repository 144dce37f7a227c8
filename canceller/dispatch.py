"""From a decoded trigger to one result per thing it asked for.

Results are collected for everything that reached a final answer; a transient failure
on one operation does not hide the others' results. The caller publishes what is
final and then asks Pub/Sub to redeliver if anything is not, so nothing is lost and a
redelivery repeats only idempotent work (GET, and cancels of operations still running).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from canceller.cancellation import CancelContext, Target, cancel_all
from canceller.clock import Deadline, utc_now
from canceller.dataproc import DataprocClient
from canceller.results import Outcome, Result
from canceller.settings import Settings
from canceller.trigger import Trigger


@dataclass
class Handled:
    results: list[Result] = field(default_factory=list)
    retry_reasons: list[str] = field(default_factory=list)


def handle_trigger(
    trigger: Trigger, settings: Settings, dataproc: Callable[[], DataprocClient]
) -> Handled:
    """``dataproc`` is a factory so a message that needs no Dataproc call (rejected,
    expired) never builds credentials."""
    started = utc_now()
    info = trigger.info
    handled = Handled(
        results=[
            Result(Outcome.REJECTED, r.offending_input, r.detail, info, started)
            for r in trigger.rejections
        ]
    )
    targets = list(trigger.operations)
    disallowed = [name for name in targets if not settings.project_allowed(name.project)]
    for name in disallowed:
        handled.results.append(
            Result(
                Outcome.REJECTED,
                name.name,
                f"project {name.project} is not in ALLOWED_PROJECTS; nothing was called",
                info,
                started,
                name=name,
            )
        )
    targets = [name for name in targets if name not in disallowed]
    if not targets:
        return handled

    age = info.age_seconds(started)
    if age is not None and age > settings.max_event_age_seconds:
        detail = (
            f"expired: the trigger was published {age:.0f} s ago, more than "
            f"MAX_EVENT_AGE_SECONDS={settings.max_event_age_seconds:g}; nothing was called"
        )
        handled.results.extend(
            Result(Outcome.ERROR, name.name, detail, info, started, name=name) for name in targets
        )
        return handled

    context = CancelContext(
        trigger=info,
        deadline=Deadline(settings.retry_deadline_seconds + settings.verify_timeout_seconds),
        verify_timeout=settings.verify_timeout_seconds,
        dry_run=settings.dry_run if info.dry_run is None else info.dry_run,
        max_concurrency=settings.max_concurrency,
    )
    outcomes = cancel_all(dataproc(), [Target(name) for name in targets], context)
    handled.results.extend(outcomes.results)
    handled.retry_reasons.extend(outcomes.failures)
    return handled
