"""Stop Dataproc work of any kind and find out, by reading it again, what really happened.

The order matters for honesty:
1. Read first (GET, or the item a sweep just listed). What Dataproc answers when asked
   to stop work that already ended is not documented for every kind (400
   FAILED_PRECONDITION, or a silent ``{}``), so only a read *before* the stop can tell
   "already done" from "done because of us". Dataproc's Jobs API is known to answer
   FAILED_PRECONDITION for a job already DONE (googleapis/google-cloud-java#3754,
   cdapio/cdap#16066); both answers are handled.
2. Stop (skipped in a dry run): the kind's verb, e.g. ``:cancel``, ``:terminate``.
3. Watch until the kind says it stopped or ended, or ``VERIFY_TIMEOUT_SECONDS`` after
   that target's own stop. Only the kind's proof of a stop counts as CANCELLED.

Stops are sent ``max_concurrency`` at a time while the watch runs, so the first stop is
watched without waiting for the last one to be sent. Here is only that orchestration
(and a cluster's work stopped before the cluster, canceller/clearing.py): one target's
read, stop and what each later reading of it means are canceller/stopping.py's; when
each target is read again, and whether by a listing or a GET, canceller/watcher.py's;
how a result says it, canceller/reporting.py's.

A stop of ours is ours to report, in the message that sent it: nothing that happens
after a stop is sent asks for a redelivery (which would read the work again, find it
stopped, and call it someone else's doing). A verification read that fails, or finds no
budget, is tried again at the next check; a stop whose answer was lost is sent again
while the work runs; at the end of the window the result says what was seen and what
could not be. Only a target of which nothing is known to be ours leaves it unanswered:
one whose first read or stop could not be sent (no budget, a transient failure), or
whose every stop went unanswered for its whole window while it kept running. It is
handed on when the caller can hand on, else collected as ``TransientFailure`` so the
message is redelivered after the rest is published; either way it is read afresh.
Permanent API errors become their outcome; any other exception (a defect of ours)
becomes ERROR for that one target, never an unanswered message.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from canceller.clearing import plan_clearing
from canceller.clock import Deadline, utc_now
from canceller.dataproc import DataprocClient
from canceller.kinds import Resource
from canceller.prices import PriceTable
from canceller.pricing import read_references
from canceller.reporting import Reporter
from canceller.rest import TransientFailure
from canceller.results import Outcome, Provenance, Result
from canceller.stopping import Watch, start
from canceller.targets import Target
from canceller.trigger_info import TriggerInfo
from canceller.verification import POLL_SCHEDULE, PollSchedule
from canceller.watcher import Watcher, executor

# Time kept for a cluster's own read and stop after the work before it: a share of what
# the message has left, at least this.
_CLUSTER_START_SHARE, _CLUSTER_START_MIN = 0.05, 0.2


@dataclass(frozen=True)
class CancelContext:
    """What every target of one message shares; its times are on ``deadline.clock``."""

    trigger: TriggerInfo
    deadline: Deadline
    verify_timeout: float
    dry_run: bool
    max_concurrency: int
    provenance: Provenance = field(default_factory=Provenance)  # budget, incident, sweep id
    window_note: str = ""  # why verify_timeout is shorter than the setting, if it is
    prices: PriceTable | None = None  # None: results carry no burn
    period_start: datetime | None = None  # a budget notification's costIntervalStart
    period_end: datetime | None = None  # a budget action's period ends then (savedUpTo)
    # Each target as first read, by name: a job's burn reads its cluster from here when
    # the message read it anyway (canceller.pricing). Shared by every part of a message.
    seen: dict[str, Resource] = field(default_factory=dict)
    schedule: PollSchedule = POLL_SCHEDULE  # when each stop is read again


@dataclass
class Outcomes:
    results: list[Result] = field(default_factory=list)
    transient_failures: list[str] = field(default_factory=list)  # redeliver
    unstarted: list[Target] = field(default_factory=list)  # no time left: hand on
    # Sent a stop that was never confirmed, and still running at the end of its window.
    unconfirmed: list[Target] = field(default_factory=list)


def stop_all(
    client: DataprocClient,
    targets: Sequence[Target],
    context: CancelContext,
    *,
    hand_on_late: bool = False,
    report_unconfirmed: bool = False,
) -> Outcomes:
    """Stop and verify every target, each watched until it ended, its verification window
    ran out, or the message's deadline did. A target is only started while its read and
    stop, request budget included, fit before its verification window would overrun the
    message's deadline, so every stop sent is watched for its whole window. One that does
    not fit, or whose read or stop could not be sent (no budget, a transient failure), is
    returned in ``unstarted`` (in the order given): for the caller to hand on with
    ``hand_on_late``; without, its failure is also collected in ``transient_failures``,
    so the message is redelivered.

    A target whose every stop went unanswered for its whole window while it kept running
    is in ``unconfirmed``: with ``report_unconfirmed`` (a sweep, whose continuation only
    selects what still runs) also answered ERROR now; else (a named list) left for the
    caller to hand on when it can, or collected in ``transient_failures``."""
    outcomes = _stop_all(client, targets, context, hand_on_late, report_unconfirmed)
    if context.prices is not None:
        read_references(
            client,
            outcomes.results,
            context.prices,
            context.seen,
            context.deadline,
            context.dry_run,
        )
    return outcomes


def _stop_all(
    client: DataprocClient,
    targets: Sequence[Target],
    context: CancelContext,
    hand_on_late: bool,
    report_unconfirmed: bool,
) -> Outcomes:
    first = [target for target in targets if not target.kind.clears_first]
    later = [target for target in targets if target.kind.clears_first]
    if not later:
        return _stop_each(client, first, context, hand_on_late, report_unconfirmed)
    # A cluster's work first, each stopped and verified, and then the cluster.
    # Reading the clusters and listing their work takes at most half the time before the
    # stops' windows: what is not read by then is handed on, so the rest can be stopped.
    share = max(0.0, (context.deadline.remaining() - context.verify_timeout) / 2)
    plan = plan_clearing(
        client, later, first, context.deadline.within(share), context.max_concurrency
    )
    # What a cluster waits for goes first, within its part of the message (the message's
    # own work on a cluster says so too); everything else keeps its whole window, and
    # goes with the clusters.
    first = [
        replace(t, cleared_for=plan.on_clusters[t.name.name])
        if t.name.name in plan.on_clusters
        else t
        for t in first
    ]
    waited = [t for t in first if t.name.name in plan.waited_for]
    others = [t for t in first if t.name.name not in plan.waited_for]
    if waited or plan.work:
        outcomes = _stop_each(
            client,
            [*waited, *plan.work],
            _before_clusters(context),
            hand_on_late,
            report_unconfirmed,
        )
    else:
        outcomes = Outcomes()
    for target, resource, outcome, why in plan.refused:
        reporter = Reporter(target, context, utc_now())
        outcomes.results.append(reporter.report(outcome, why, resource, target.kind))
    waiting = {target.name.name for target in outcomes.unstarted}
    ready, blocked = [], list(plan.left)
    for target, waits in plan.clusters:
        if waits & waiting:
            blocked.append((target, "work on it could not be stopped first in this message"))
        else:
            ready.append(target)
    for target, why in blocked:
        if not hand_on_late:
            outcomes.transient_failures.append(f"{target.name.name}: {why}")
        outcomes.unstarted.append(target)
    # Work stopped for a cluster is answered here, whatever became of it: never handed
    # on or counted unconfirmed as if it had been asked for.
    outcomes.unstarted = [target for target in outcomes.unstarted if not target.found_on_cluster]
    outcomes.unconfirmed = [t for t in outcomes.unconfirmed if not t.found_on_cluster]
    stopped = _stop_each(client, [*others, *ready], context, hand_on_late, report_unconfirmed)
    _say_what_was_not_cleared(outcomes.results, stopped.results)
    outcomes.results.extend(stopped.results)
    outcomes.transient_failures.extend(stopped.transient_failures)
    outcomes.unstarted.extend(stopped.unstarted)
    outcomes.unconfirmed.extend(stopped.unconfirmed)
    order = {target.name: index for index, target in enumerate(targets)}
    outcomes.unstarted.sort(key=lambda target: order.get(target.name, len(order)))
    return outcomes


def _before_clusters(context: CancelContext) -> CancelContext:
    """The part of the message for the work that goes before clusters: it ends in time
    for a cluster's read, stop and whole window after it, so a job that will not cancel
    keeps its outcome and the stop still goes ahead; its windows are halved to fit."""
    start = max(_CLUSTER_START_MIN, _CLUSTER_START_SHARE * context.deadline.remaining())
    part = context.deadline.remaining() - context.verify_timeout - start
    window = min(context.verify_timeout, max(0.0, part) / 2)
    return replace(
        context,
        deadline=context.deadline.within(part),
        verify_timeout=window,
        window_note=(
            f"watched for at most {window:.1f} s of VERIFY_TIMEOUT_SECONDS "
            f"{context.verify_timeout:g}, so that its cluster's stop had its own window"
            if window < context.verify_timeout
            else ""
        ),
    )


# Outcomes of work cleared for a cluster that leave it possibly still running when the
# cluster's stop went ahead (which then fails it).
_CLEARED = frozenset({Outcome.CANCELLED, Outcome.ALREADY_DONE, Outcome.COMPLETED_DESPITE_CANCEL})


def _say_what_was_not_cleared(cleared: list[Result], clusters: list[Result]) -> None:
    """A cluster's result names the work on it that was not seen stopped before its own
    stop was sent: a stop fails running jobs, so theirs is not the whole story."""
    left: dict[str, list[str]] = defaultdict(list)
    for result in cleared:
        if result.cleared_for and result.outcome not in _CLEARED:
            left[result.cleared_for].append(f"{result.target} ({result.outcome.value})")
    for result in clusters:
        if result.target in left and result.outcome is not Outcome.REJECTED:
            named = ", ".join(left[result.target][:5])
            more = len(left[result.target]) - 5
            result.detail += (
                f"; not seen stopped before the cluster's stop, so failed by it if still "
                f"running: {named}" + (f" and {more} more" if more > 0 else "")
            )


def _stop_each(
    client: DataprocClient,
    targets: Sequence[Target],
    context: CancelContext,
    hand_on_late: bool,
    report_unconfirmed: bool,
) -> Outcomes:
    outcomes = Outcomes()
    if not targets:
        return outcomes
    watcher = Watcher(client, context, outcomes, hand_on_late, report_unconfirmed)

    def begin(target: Target) -> Result | Watch | Target | None:
        window = context.deadline.remaining() - context.verify_timeout
        try:
            if window <= 0:  # a stop now could not be watched for its window: not started
                raise TransientFailure(f"{target.name.name}: no time left to watch a stop")
            return watcher.guarded(
                target,
                lambda: start(client, target, context, context.deadline.within(window)),
                TransientFailure,
            )
        except TransientFailure as failure:
            if not hand_on_late and not target.found_on_cluster:
                outcomes.transient_failures.append(str(failure))
            return target

    workers = min(context.max_concurrency, len(targets))
    with executor(workers) as pool:
        watcher.run([pool.submit(begin, target) for target in targets])
    order = {target.name: index for index, target in enumerate(targets)}
    outcomes.unstarted.sort(key=lambda target: order[target.name])  # handed on in order
    return outcomes
