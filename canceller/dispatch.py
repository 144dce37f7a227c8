"""From a decoded trigger to one result per thing it asked for.

Results are collected for everything that reached a final answer; a transient failure
on one operation does not hide the others' results. The caller publishes what is
final and then asks Pub/Sub to redeliver if anything is not, so nothing is lost and a
redelivery repeats only idempotent work (GET, and cancels of operations still running).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from canceller.cancellation import CancelContext, cancel_and_verify
from canceller.clock import Deadline, utc_now
from canceller.dataproc import DataprocClient, TransientFailure
from canceller.results import Outcome, Result
from canceller.settings import Settings
from canceller.trigger import Trigger

T = TypeVar("T")


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
    )
    client = dataproc()
    results, failures = run_each(
        targets,
        lambda name: cancel_and_verify(client, name, context),
        settings.max_concurrency,
    )
    handled.results.extend(results)
    handled.retry_reasons.extend(failures)
    return handled


def run_each(
    items: Sequence[T], work: Callable[[T], Result], max_concurrency: int
) -> tuple[list[Result], list[str]]:
    """Run ``work`` on each item, at most ``max_concurrency`` at once; one item runs inline
    (the common case pays no thread hand-off)."""
    results: list[Result] = []
    failures: list[str] = []

    def collect(item: T) -> None:
        try:
            results.append(work(item))
        except TransientFailure as failure:
            failures.append(str(failure))

    if len(items) == 1:
        collect(items[0])
    else:
        with ThreadPoolExecutor(max_workers=min(max_concurrency, len(items))) as pool:
            list(pool.map(collect, items))
    return results, failures
