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
watched without waiting for the last one to be sent. Each target is checked on its own
schedule from its own stop (``verification.poll_offsets``). Targets of one kind in one
scope are checked together with one listing when there are several of them: a listing
returns a page of them for one request, so the cost of watching does not grow with the
target count (a GET is only for what the listing cannot settle). A group whose listing
costs more pages than it has targets goes back to GETs.

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

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from google.api_core import exceptions as api_exceptions

from canceller.clearing import plan_clearing
from canceller.clock import Deadline, utc_now
from canceller.dataproc import DataprocClient
from canceller.kinds import InvalidWork, Kind, Phase, Resource, StopCall
from canceller.names import ResourceName, ScopeName
from canceller.prices import PriceTable
from canceller.pricing import burn_of, read_references
from canceller.rest import NoBudget, TransientFailure, error_details
from canceller.results import Outcome, Result
from canceller.targets import Target
from canceller.trigger import TriggerInfo
from canceller.verification import MAX_INTERVAL, poll_offsets

# api-core maps HTTP 403 to Forbidden; PermissionDenied is only its gRPC-named subclass.
_OUTCOME_FOR_ERROR: tuple[tuple[type[api_exceptions.GoogleAPICallError], Outcome], ...] = (
    (api_exceptions.NotFound, Outcome.NOT_FOUND),
    (api_exceptions.Forbidden, Outcome.PERMISSION_DENIED),
    (api_exceptions.MethodNotImplemented, Outcome.UNIMPLEMENTED),
)
# A group is listed at most this often, and less often the more pages a listing takes,
# never less often than the longest gap of the poll schedule.
_LIST_GAP_MIN, _LIST_GAP_PER_PAGE = 1.0, 0.25
_MAX_WATCH_PAGES = 1000  # a guard against a server that never stops paging
# A sweep's listing stands in for the read before the stop only this long: a stop sent
# later than that after the listing reads the target again, so one made by someone else
# meanwhile is not taken for ours. (The read and the stop are never one atomic step: this
# narrows the window, as the read of a named target does.)
LISTING_FRESH_SECONDS = 5.0
# A stop sent again from a check is one attempt, not a retry loop: it is due again at
# the next check, and a round of checks must not wait on it.
_RESEND_SECONDS = 1.0
# Time kept for a cluster's own read and stop after the work before it: a share of what
# the message has left, at least this.
_CLUSTER_START_SHARE, _CLUSTER_START_MIN = 0.05, 0.2


@dataclass(frozen=True)
class CancelContext:
    """What every target of one message shares."""

    trigger: TriggerInfo
    deadline: Deadline
    verify_timeout: float
    dry_run: bool
    max_concurrency: int
    extra: Mapping[str, Any] = field(default_factory=dict)  # budget, incident, sweep id
    window_note: str = ""  # why verify_timeout is shorter than the setting, if it is
    prices: PriceTable | None = None  # None: results carry no burn
    period_start: datetime | None = None  # a budget notification's costIntervalStart
    period_end: datetime | None = None  # a budget action's period ends then (savedUpTo)
    # Each target as first read, by name: a job's burn reads its cluster from here when
    # the message read it anyway (canceller.pricing). Shared by every part of a message.
    seen: dict[str, Resource] = field(default_factory=dict)


@dataclass
class Outcomes:
    results: list[Result] = field(default_factory=list)
    transient_failures: list[str] = field(default_factory=list)  # redeliver the message
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
    ``hand_on_late``; without, its failure is also collected in ``transient_failures``, so the
    message is redelivered.

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
        replace(t, extra={**t.extra, "clearedFor": plan.on_clusters[t.name.name]})
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
        reporter = _Reporter(target, context, utc_now())
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
    outcomes.unstarted = [target for target in outcomes.unstarted if not target.cleared_for]
    outcomes.unconfirmed = [t for t in outcomes.unconfirmed if not t.cleared_for]
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
        owner = result.extra.get("clearedFor")
        if isinstance(owner, str) and result.outcome not in _CLEARED:
            left[owner].append(f"{result.target} ({result.outcome.value})")
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
    watcher = _Watcher(client, context, outcomes, hand_on_late, report_unconfirmed)

    def start(target: Target) -> Result | _Watch | Target | None:
        window = context.deadline.remaining() - context.verify_timeout
        try:
            if window <= 0:  # a stop now could not be watched for its window: not started
                raise TransientFailure(f"{target.name.name}: no time left to watch a stop")
            return watcher.guarded(
                target,
                lambda: _start(client, target, context, context.deadline.within(window)),
                TransientFailure,
            )
        except TransientFailure as failure:
            if not hand_on_late and not target.cleared_for:
                outcomes.transient_failures.append(str(failure))
            return target

    workers = min(context.max_concurrency, len(targets))
    with _executor(workers) as pool:
        watcher.run([pool.submit(start, target) for target in targets])
    order = {target.name: index for index, target in enumerate(targets)}
    outcomes.unstarted.sort(key=lambda target: order[target.name])  # handed on in order
    return outcomes


def explain_api_error(
    error: api_exceptions.GoogleAPICallError, doing: str
) -> tuple[Outcome, str, dict[str, Any]]:
    """What a permanent Dataproc error means for a result: its outcome, a sentence for
    people, and the error fields (schema: apiError)."""
    details = error_details(error)
    outcome = next(
        (mapped for kind, mapped in _OUTCOME_FOR_ERROR if isinstance(error, kind)),
        Outcome.ERROR,
    )
    detail = f"Dataproc answered {details['httpStatus']} {details['status']} while {doing}"
    if details["message"]:
        detail += f": {details['message']}"
    return outcome, detail, details


# ---- one target ------------------------------------------------------------------------


@dataclass(eq=False)
class _Watch:
    """A stop was sent (or is due again); ``last`` is the watched resource as last seen."""

    reporter: _Reporter
    kind: Kind  # what is read to see the stop: the target's kind, or a batch's operation
    name: ResourceName
    last: Resource
    stop: StopCall
    stopped_at: float = 0.0
    next_check: float = 0.0
    checks: int = 0
    offsets: Iterator[float] = field(default_factory=poll_offsets)
    refusal: api_exceptions.GoogleAPICallError | None = None  # stop not accepted yet
    unanswered: str = ""  # a stop was sent and its answer lost: sent again while running
    sent: bool = False  # a stop of ours was accepted
    failed_reads: int = 0  # verification reads that failed or found no budget
    last_failure: str = ""
    note: str = ""

    def schedule_next(self, verify_timeout: float) -> None:
        offset = min(next(self.offsets), verify_timeout)
        self.next_check = self.stopped_at + offset

    def out_of_time(self, now: float, verify_timeout: float, deadline: Deadline) -> bool:
        """Checked at least once, and its window or the message's deadline is over."""
        return self.checks > 0 and (now - self.stopped_at >= verify_timeout or deadline.expired())

    def stop_due(self) -> bool:
        """A stop must be sent again: refused as not possible yet, or its answer lost."""
        return self.refusal is not None or bool(self.unanswered)


def _start(
    client: DataprocClient, target: Target, context: CancelContext, deadline: Deadline
) -> Result | _Watch:
    """Read and stop one target; ``deadline`` bounds these first calls."""
    kind = target.kind
    reporter = _Reporter(target, context, utc_now())
    try:
        fresh = time.monotonic() - target.seen_at <= LISTING_FRESH_SECONDS
        if target.seen is not None and fresh and kind.phase(target.seen) is Phase.RUNNING:
            before = target.seen
        else:
            before = client.get(target.name.name, deadline)
    except api_exceptions.GoogleAPICallError as error:
        return reporter.api_error(error, f"reading the {kind.name}", None, kind)
    reporter.before = before
    context.seen[target.name.name] = before
    found_uuid = kind.uuid(before)
    if target.expect_uuid and found_uuid != target.expect_uuid:
        return reporter.report(
            Outcome.REJECTED,
            f"the {kind.name} found has uuid {found_uuid or '(none)'}, not the "
            f"{target.expect_uuid} this request was about: it is a different {kind.name} "
            "with the same ID, left alone",
            before,
            kind,
        )
    phase = kind.phase(before)
    earlier = (
        "; a stop sent by an earlier message of this request got no answer, so it may have "
        "been ours"
        if target.attempted
        else ""
    )
    if phase.final:
        detail = _already_done(kind, before) + earlier
        return reporter.report(Outcome.ALREADY_DONE, detail, before, kind)
    if refusal := kind.refusal(before):
        return reporter.report(Outcome.REJECTED, f"left alone: {refusal}", before, kind)
    try:
        watched_kind, watched_name = kind.watched(target.name, before)
        stop = kind.stop_call(target.name, before, context.trigger.chain)
    except InvalidWork as invalid:
        return reporter.report(
            Outcome.ERROR, f"cannot stop the {kind.name}: {invalid}", before, kind
        )
    if context.dry_run:
        return reporter.report(
            Outcome.DRY_RUN,
            f"dry run: the {kind.name} is {kind.state_word(before)} and would be "
            f"{kind.stopped_word} with {_verb(stop)}",
            before,
            kind,
        )
    watch = _Watch(reporter, watched_kind, watched_name, before, stop)
    if watched_kind is not kind:
        watch.last = {}
    if phase is Phase.STOPPING:
        watch.note = f"a stop was already in progress ({kind.state_word(before)}) when first read"
        watch.note += earlier
        return _started(watch, context)
    return _send_stop(client, watch, context, deadline)


def _send_stop(
    client: DataprocClient,
    watch: _Watch,
    context: CancelContext,
    deadline: Deadline,
    known: Resource | None = None,
) -> Result | _Watch:
    """``known``: the watched resource as just read (a stop sent again from a check), so
    a refusal needs no read again. No budget for the first stop raises ``NoBudget``:
    nothing was sent, and the caller may hand the target on. A stop sent again that finds
    no budget, or any stop whose answer is lost, leaves the watch to send it again."""
    kind = watch.reporter.kind
    try:
        client.stop(watch.stop, deadline)
    except NoBudget:
        if known is None:
            raise
        return watch
    except TransientFailure as failure:
        watch.unanswered = str(failure)
        return _started(watch, context)
    except api_exceptions.GoogleAPICallError as error:
        status = error_details(error)["status"]
        if status == "FAILED_PRECONDITION":
            return _refused(client, watch, context, error, deadline, known)
        result = watch.reporter.api_error(error, kind.stopping_word, watch.last, watch.kind)
        # Which status Dataproc gives a stop it refuses for good is unconfirmed for some
        # kinds (clusters: FAILED_PRECONDITION or INVALID_ARGUMENT); either way, say why.
        if status == "INVALID_ARGUMENT" and (because := kind.refused_because(watch.last)):
            result.detail += f"; {because}"
        return result
    watch.refusal = None
    watch.unanswered = ""
    watch.sent = True
    return _started(watch, context)


def _started(watch: _Watch, context: CancelContext) -> _Watch:
    if not watch.stopped_at:
        watch.stopped_at = time.monotonic()
        watch.schedule_next(context.verify_timeout)
    return watch


def _refused(
    client: DataprocClient,
    watch: _Watch,
    context: CancelContext,
    error: api_exceptions.GoogleAPICallError,
    deadline: Deadline,
    known: Resource | None,
) -> Result | _Watch:
    """Dataproc refused the stop as not possible in the current state: the work ended
    between our read and the stop, a stop is already under way, or (a job in
    SETUP_DONE) it cannot be stopped *yet*. A read says which."""
    try:
        after = known if known is not None else client.get(watch.name.name, deadline)
    except api_exceptions.GoogleAPICallError as second:
        return watch.reporter.api_error(second, "re-reading after a refused stop", None, None)
    watch.last = after
    phase = watch.kind.phase(after)
    if phase.final:
        return watch.reporter.report(
            Outcome.ALREADY_DONE,
            f"the {watch.kind.name} finished before the {watch.kind.stop_verb} arrived: "
            f"{watch.kind.ending(after)}",
            after,
            watch.kind,
        )
    if phase is Phase.STOPPING:
        return _started(watch, context)
    kind = watch.reporter.kind
    if kind.can_wait(after):
        watch.refusal = error
        return _started(watch, context)
    result = watch.reporter.api_error(error, kind.stopping_word, after, watch.kind)
    if because := kind.refused_because(after):
        result.detail += f"; {because}"
    return result


def _settle(
    client: DataprocClient,
    watch: _Watch,
    resource: Resource,
    context: CancelContext,
    due: bool = True,
) -> Result | _Watch:
    """A fresh reading of a watched resource: a final result, or still waiting. A stop
    refused as not possible yet is tried again, on the watch's own schedule (``due``)."""
    watch.last = resource
    phase = watch.kind.phase(resource)
    if phase is Phase.RUNNING and watch.stop_due() and due:
        resend = context.deadline.within(_RESEND_SECONDS)
        return _send_stop(client, watch, context, resend, known=resource)
    if not phase.final:
        return watch
    reporter, kind = watch.reporter, watch.kind
    if phase is Phase.STOPPED and watch.sent:
        detail = f"{reporter.kind.stopped_word}: {kind.ending(resource)}"
        outcome = Outcome.CANCELLED
    elif not watch.sent:
        # Stopped or ended, but no stop of ours was ever accepted: not our doing, or
        # not provably (a stop whose answer was lost may have been the one that did it).
        outcome = Outcome.ALREADY_DONE
        detail = (
            f"the {kind.name} ended before a stop of ours was accepted: {kind.ending(resource)}"
        )
        if watch.unanswered:
            detail += (
                "; a stop of ours was sent but Dataproc's answer was lost "
                f"({watch.unanswered[:300]}), so it may have been ours"
            )
    else:
        outcome = Outcome.COMPLETED_DESPITE_CANCEL
        detail = f"the {kind.name} finished despite the stop request: {kind.ending(resource)}"
    if watch.note:
        detail += f"; {watch.note}"
    return reporter.final(client, context, outcome, detail, resource, kind)


# ---- watching many at once -------------------------------------------------------------


class _Watcher:
    """Takes started targets as they come and checks each on its own schedule."""

    def __init__(
        self,
        client: DataprocClient,
        context: CancelContext,
        outcomes: Outcomes,
        hand_on_late: bool,
        report_unconfirmed: bool,
    ) -> None:
        self._client = client
        self._context = context
        self._outcomes = outcomes
        self._hand_on_late = hand_on_late
        self._report_unconfirmed = report_unconfirmed
        self._pending: list[_Watch] = []
        self._listed_at: dict[tuple[str, ScopeName], float] = {}
        self._list_gap: dict[tuple[str, ScopeName], float] = {}
        self._by_gets: set[tuple[str, ScopeName]] = set()  # listing failed: GETs only
        self._pages: dict[tuple[str, ScopeName], int] = {}  # pages the last listing took

    def guarded(
        self,
        target: Target,
        step: Callable[[], Result | _Watch],
        passes: type[Exception] | tuple[type[Exception], ...] = (),
    ) -> Result | _Watch | None:
        """Run one step of one target: a transient failure is collected for a redelivery
        (but ``passes`` go to the caller), a defect becomes that target's ERROR. Pool
        threads run this; list.append is atomic, so they share ``outcomes`` safely."""
        try:
            return step()
        except passes:
            raise
        except TransientFailure as failure:
            self._outcomes.transient_failures.append(str(failure))
        except Exception as defect:  # a defect of ours must not leave a target unanswered
            self._outcomes.results.append(
                _Reporter(target, self._context, utc_now()).report(
                    Outcome.ERROR,
                    f"internal error while handling this {target.name.kind}: "
                    f"{type(defect).__name__}: {defect}"[:1024],
                    None,
                    None,
                )
            )
        return None

    def run(self, starting: list[Future[Result | _Watch | Target | None]]) -> None:
        """Until every start is done and every watch settled; checks run on a pool of
        their own beside the starts, ``max_concurrency`` each."""
        waiting = set(starting)
        with _executor(self._context.max_concurrency) as checks:
            while waiting or self._pending:
                timeout = self._until_next_round()
                if waiting:
                    done, waiting = wait(waiting, timeout=timeout, return_when=FIRST_COMPLETED)
                    for future in done:
                        self._take(future.result())
                elif timeout:
                    time.sleep(timeout)
                self._round(checks)

    def _take(self, item: Result | _Watch | Target | None) -> None:
        if isinstance(item, Result):
            self._outcomes.results.append(item)
        elif isinstance(item, _Watch):
            self._pending.append(item)
        elif isinstance(item, Target):
            self._outcomes.unstarted.append(item)

    def _groups(self) -> dict[tuple[str, ScopeName], list[_Watch]]:
        groups: dict[tuple[str, ScopeName], list[_Watch]] = defaultdict(list)
        for watch in self._pending:
            groups[(watch.kind.name, watch.name.scope)].append(watch)
        return groups

    def _listed(self, key: tuple[str, ScopeName], watches: list[_Watch]) -> bool:
        """List when there are several and the last listing of the scope took no more
        pages than there are watches now (a scope can grow or shrink within a message)."""
        pages = self._pages.get(key, 1)
        return len(watches) > 1 and len(watches) >= pages and key not in self._by_gets

    def _until_next_round(self) -> float | None:
        if not self._pending:
            return None
        now = time.monotonic()
        soonest = min(self._round_time(key, ws) for key, ws in self._groups().items())
        return max(0.0, min(soonest - now, self._context.deadline.remaining()))

    def _round_time(self, key: tuple[str, ScopeName], watches: list[_Watch]) -> float:
        due = min(watch.next_check for watch in watches)
        if self._listed(key, watches):
            due = max(due, self._listed_at.get(key, 0.0) + self._list_gap.get(key, 0.0))
        return due

    def _round(self, checks: ThreadPoolExecutor | _Inline) -> None:
        now = time.monotonic()
        late = self._context.deadline.expired()  # then every watch gets its last check now
        # Each step settles one watch: a GET, or a reading a listing brought. They run on
        # the checks pool, so a stop sent again from one never holds up the others.
        steps: list[tuple[_Watch, Callable[[], Result | _Watch | None]]] = []
        checked: list[_Watch] = []
        for key, watches in self._groups().items():
            if self._round_time(key, watches) > now and not late:
                continue
            due = [watch for watch in watches if watch.next_check <= now or late]
            checked.extend(due)
            if self._listed(key, watches):
                listed, unseen = self._list_round(key, watches, due)
                steps.extend(
                    (watch, self._settler(watch, item, watch in due)) for watch, item in listed
                )
                steps.extend((watch, self._getter(watch)) for watch in unseen)
            else:
                steps.extend((watch, self._getter(watch)) for watch in due)
        if steps:
            settled = list(checks.map(lambda step: step[1](), steps))
            for (watch, _), outcome in zip(steps, settled, strict=True):
                self._apply(watch, outcome)
        now = time.monotonic()
        for watch in checked:
            if watch not in self._pending:
                continue
            watch.checks += 1
            if not watch.out_of_time(now, self._context.verify_timeout, self._context.deadline):
                watch.schedule_next(self._context.verify_timeout)
            elif (
                watch.unanswered
                and not watch.sent
                and watch.kind.phase(watch.last) is Phase.RUNNING
            ):
                self._pending.remove(watch)
                self._never_confirmed(watch)
            else:
                self._pending.remove(watch)
                self._outcomes.results.append(self._still_running(watch))

    def _getter(self, watch: _Watch) -> Callable[[], Result | _Watch | None]:
        def check() -> Result | _Watch:
            try:
                resource = self._client.get(watch.name.name, self._context.deadline, urgent=True)
            except api_exceptions.NotFound as error:
                # Gone as our stop (or one already under way when first read) makes it.
                under_way = (
                    watch.sent
                    or bool(watch.unanswered)  # ours, its answer lost: _settle says so
                    or watch.kind.phase(watch.reporter.before or {}) is Phase.STOPPING
                    or watch.kind.phase(watch.last) is Phase.STOPPING
                )
                gone = watch.kind.gone(watch.last) if under_way else None
                if gone is None:  # not what our stop does: an answer, reported as is
                    return watch.reporter.api_error(
                        error, "verifying the stop", watch.last, watch.kind
                    )
                resource = gone
            except api_exceptions.GoogleAPICallError as error:
                return watch.reporter.api_error(error, "verifying the stop", watch.last, watch.kind)
            return _settle(self._client, watch, resource, self._context)

        return lambda: self._check(watch, check)

    def _settler(
        self, watch: _Watch, item: Resource, due: bool
    ) -> Callable[[], Result | _Watch | None]:
        return lambda: self._check(
            watch, lambda: _settle(self._client, watch, item, self._context, due)
        )

    def _check(self, watch: _Watch, step: Callable[[], Result | _Watch]) -> Result | _Watch | None:
        """One check of a stop already sent: a transient failure (no budget included) is
        counted and the watch goes on to its next check, never to a redelivery."""

        def counted() -> Result | _Watch:
            try:
                return step()
            except TransientFailure as failure:
                watch.failed_reads += 1
                watch.last_failure = str(failure)
                return watch

        return self.guarded(watch.reporter.target, counted)

    def _apply(self, watch: _Watch, outcome: Result | _Watch | None) -> None:
        if isinstance(outcome, _Watch):
            return
        self._pending.remove(watch)
        if isinstance(outcome, Result):
            self._outcomes.results.append(outcome)

    def _list_round(
        self, key: tuple[str, ScopeName], watches: list[_Watch], due: list[_Watch]
    ) -> tuple[list[tuple[_Watch, Resource]], list[_Watch]]:
        """List the group's scope once (page by page until every watched name is seen):
        the watches it shows with what it shows, and the due watches it does not show."""
        kind = watches[0].kind
        wanted = {watch.name.name: watch for watch in watches}
        seen: dict[str, Resource] = {}
        params = {**kind.watch_params, "pageSize": str(kind.page_size)}
        pages = 0
        started = time.monotonic()
        try:
            while pages < _MAX_WATCH_PAGES:
                page = self._client.list(
                    kind.collection(key[1]), self._context.deadline, params, urgent=True
                )
                pages += 1
                for item in kind.listed_items(page):
                    name = kind.listed_name(item, key[1])
                    if isinstance(name, str) and name in wanted:
                        seen[name] = item
                token = page.get("nextPageToken")
                if not token or len(seen) == len(wanted) or pages > len(watches):
                    break
                params["pageToken"] = str(token)
        except (api_exceptions.GoogleAPICallError, TransientFailure):
            self._by_gets.add(key)  # e.g. no list permission: GETs still work
            return [], due
        self._pages[key] = pages  # more pages than watches: GETs, until the group grows
        self._listed_at[key] = started
        self._list_gap[key] = min(MAX_INTERVAL, max(_LIST_GAP_MIN, _LIST_GAP_PER_PAGE * pages))
        listed = [(wanted[name], item) for name, item in seen.items()]
        return listed, [watch for watch in due if watch.name.name not in seen]

    def _never_confirmed(self, watch: _Watch) -> None:
        """No stop of ours was confirmed for the whole window (every answer was lost) and
        the work still runs: answered ERROR now (a sweep), or left to be handed on
        marked as attempted (a named list), or the message redelivered."""
        target = watch.reporter.target
        if self._report_unconfirmed or target.cleared_for:
            self._outcomes.unconfirmed.append(target)
            self._outcomes.results.append(
                watch.reporter.report(
                    Outcome.ERROR,
                    f"no stop of ours was confirmed: every attempt failed "
                    f"({watch.unanswered[:300]}), and the {watch.kind.name} was still "
                    f"{watch.kind.state_word(watch.last) if watch.last else 'unknown'} after "
                    f"{max(0.0, time.monotonic() - watch.stopped_at):.1f} s; it may still "
                    "stop, and a later sweep tries again",
                    watch.last or None,
                    watch.kind,
                )
            )
        elif self._hand_on_late:
            self._outcomes.unconfirmed.append(target)
        else:
            self._outcomes.transient_failures.append(watch.unanswered)

    def _still_running(self, watch: _Watch) -> Result:
        """The window (or the message's deadline) is over: say how long was really
        watched, what was last seen, and what could not be read."""
        kind, timeout = watch.kind, self._context.verify_timeout
        watched = max(0.0, time.monotonic() - watch.stopped_at)
        state = kind.state_word(watch.last) if watch.last else "unknown"
        span = f"{watched:.1f} s"
        if watched < timeout:
            span += f" (the message's deadline ended the watch before VERIFY_TIMEOUT {timeout:g} s)"
        unread = ""
        if watch.failed_reads:
            unread = (
                f"; {watch.failed_reads} of {watch.checks} reads failed, the last: "
                f"{watch.last_failure[:300]}"
            )
        if watch.refusal is not None:
            return watch.reporter.api_error(
                watch.refusal,
                f"{watch.reporter.kind.stopping_word}, refused for the whole verification window "
                f"({span}); the {kind.name} is still {state}{unread}",
                watch.last,
                kind,
            )
        note = f"; {watch.note}" if watch.note else ""
        if self._context.window_note:
            note += f"; {self._context.window_note}"
        if watch.unanswered and not watch.sent:  # stopping, and no one else's stop is known
            note += (
                f"; a stop of ours was sent but Dataproc's answer was lost "
                f"({watch.unanswered[:300]}), so this stop may be ours"
            )
        return watch.reporter.report(
            Outcome.STILL_RUNNING,
            f"the stop was accepted but the {kind.name} was not done after {span} of watching "
            f"({watch.checks} checks; it is {state}{unread}); it may still stop{note}",
            watch.last or None,
            kind,
        )


# ---- results ---------------------------------------------------------------------------


class _Reporter:
    """Builds the one result of one target."""

    def __init__(self, target: Target, context: CancelContext, started: datetime) -> None:
        self.target = target
        self.kind = target.kind
        self.before: Resource | None = None
        self._context = context
        self._started = started

    def report(
        self,
        outcome: Outcome,
        detail: str,
        resource: Resource | None,
        kind: Kind | None,
        error: dict[str, Any] | None = None,
        extra_state: dict[str, Any] | None = None,
    ) -> Result:
        state = (kind or self.kind).describe(resource) if resource else None
        if extra_state:
            state = {**(state or {}), **extra_state}
        finished = utc_now()
        burn = saving = reference = None
        if self.before is not None and self._context.prices is not None:
            burn, saving, reference = burn_of(
                self.kind,
                self.target.name,
                self.before,
                outcome,
                self._context.prices,
                finished,
                self._context.period_end,
            )
        return Result(
            outcome=outcome,
            target=self.target.name.name,
            detail=detail,
            trigger=self._context.trigger,
            started_at=self._started,
            kind=self.kind.name,
            dry_run=self._context.dry_run,
            name=self.target.name,
            operation=self._operation(),
            state=state,
            error=error,
            extra={**self._context.extra, **self.target.extra},
            finished_at=finished,
            burn=burn,
            saving=saving,
            burn_reference=reference,
        )

    def api_error(
        self,
        error: api_exceptions.GoogleAPICallError,
        doing: str,
        resource: Resource | None,
        kind: Kind | None,
    ) -> Result:
        outcome, detail, details = explain_api_error(error, doing)
        return self.report(outcome, detail, resource or None, kind, details)

    def final(
        self,
        client: DataprocClient,
        context: CancelContext,
        outcome: Outcome,
        detail: str,
        resource: Resource,
        kind: Kind,
    ) -> Result:
        """A result from the watched resource; when that is not the target itself (a
        batch's operation), the target is read once more and its own state reported
        beside it, whatever it says."""
        if kind is self.kind:
            return self.report(outcome, detail, resource, kind)
        try:
            own = client.get(self.target.name.name, context.deadline)
        except (api_exceptions.GoogleAPICallError, TransientFailure) as error:
            detail += f"; the {self.kind.name} itself could not be read afterwards ({error})"
            return self.report(outcome, detail[:2048], resource, kind)
        word = self.kind.state_word(own)
        if self.kind.phase(own).final:
            detail += f"; the {self.kind.name} is {word}"
        else:
            detail += f"; the {self.kind.name} itself still says {word}"
        own_state = {k: v for k, v in self.kind.describe(own).items() if k != "done"}
        return self.report(outcome, detail, resource, kind, extra_state=own_state)

    def _operation(self) -> str:
        return self.kind.result_operation(self.target.name, self.before)


def _verb(stop: StopCall) -> str:
    """How a stop is called, for a sentence: ``:cancel``, or ``DELETE``."""
    return stop.method if stop.method != "POST" else ":" + stop.path.rsplit(":", 1)[-1]


def _already_done(kind: Kind, resource: Resource) -> str:
    if kind.phase(resource) is Phase.STOPPED:
        return f"the {kind.name} was already {kind.stopped_word} when this request first read it"
    return f"the {kind.name} was already done before this request: {kind.ending(resource)}"


class _Inline:
    """The one-target case runs on the request's own thread: no hand-off, no pool."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args))
        return future

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [fn(item) for item in items]

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _executor(workers: int) -> ThreadPoolExecutor | _Inline:
    return ThreadPoolExecutor(max_workers=workers) if workers > 1 else _Inline()
