"""One target, read → stop → settle: what each reading of it means, and its result.

``start`` reads the target (or takes the item a sweep just listed), decides from that
reading alone whether it is ours to stop, and sends the stop: a result at once (already
done, refused, a permanent error, a dry run), or a ``Watch`` of the stop. ``settle``
takes each later reading of the watched resource, from a GET or a listing
(canceller/watcher.py decides which and when): a final result, or still waiting, with a
stop refused as not possible yet, or whose answer was lost, sent again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.api_core import exceptions as api_exceptions

from canceller.clock import Deadline, utc_now
from canceller.dataproc import DataprocClient
from canceller.kinds import InvalidWork, Kind, Phase, Resource, StopCall
from canceller.names import ResourceName
from canceller.reporting import Reporter
from canceller.rest import NoBudget, TransientFailure, error_details
from canceller.results import Outcome, Result
from canceller.targets import Target

if TYPE_CHECKING:  # the engine's context frames every target; the engine runs this
    from canceller.engine import CancelContext

# A sweep's listing stands in for the read before the stop only this long: a stop sent
# later than that after the listing reads the target again, so one made by someone else
# meanwhile is not taken for ours. (The read and the stop are never one atomic step: this
# narrows the window, as the read of a named target does.)
LISTING_FRESH_SECONDS = 5.0
# A stop sent again from a check is one attempt, not a retry loop: it is due again at
# the next check, and a round of checks must not wait on it.
_RESEND_SECONDS = 1.0


@dataclass(eq=False)
class Watch:
    """A stop was sent (or is due again); ``last`` is the watched resource as last seen.
    Times are on the context's clock; ``stopped_at`` is None until the watch starts."""

    reporter: Reporter
    kind: Kind  # what is read to see the stop: the target's kind, or a batch's operation
    name: ResourceName
    last: Resource
    stop: StopCall
    offsets: Iterator[float]  # check times after the stop: the context's PollSchedule
    stopped_at: float | None = None
    next_check: float = 0.0
    checks: int = 0
    refusal: api_exceptions.GoogleAPICallError | None = None  # stop not accepted yet
    unanswered: str = ""  # a stop was sent and its answer lost: sent again while running
    sent: bool = False  # a stop of ours was accepted
    failed_reads: int = 0  # verification reads that failed or found no budget
    last_failure: str = ""
    note: str = ""

    def start_watching(self, now: float, verify_timeout: float) -> None:
        """The window runs from the first stop (or the one found under way), never from
        one sent again."""
        if self.stopped_at is None:
            self.stopped_at = now
            self.schedule_next(verify_timeout)

    def schedule_next(self, verify_timeout: float) -> None:
        offset = min(next(self.offsets), verify_timeout)
        self.next_check = self._origin() + offset

    def watched(self, now: float) -> float:
        """How long the stop has been watched at ``now``."""
        return now - self._origin()

    def _origin(self) -> float:
        """Where its window starts; every watch a start returns has started."""
        return 0.0 if self.stopped_at is None else self.stopped_at

    def out_of_time(self, now: float, verify_timeout: float, deadline: Deadline) -> bool:
        """Checked at least once, and its window or the message's deadline is over."""
        return self.checks > 0 and (self.watched(now) >= verify_timeout or deadline.expired())

    def stop_due(self) -> bool:
        """A stop must be sent again: refused as not possible yet, or its answer lost."""
        return self.refusal is not None or bool(self.unanswered)


def start(
    client: DataprocClient, target: Target, context: CancelContext, deadline: Deadline
) -> Result | Watch:
    """Read and stop one target; ``deadline`` bounds these first calls."""
    kind = target.kind
    reporter = Reporter(target, context, utc_now())
    try:
        fresh = context.deadline.clock.monotonic() - target.seen_at <= LISTING_FRESH_SECONDS
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
    watch = Watch(reporter, watched_kind, watched_name, before, stop, context.schedule.offsets())
    if watched_kind is not kind:
        watch.last = {}
    if phase is Phase.STOPPING:
        watch.note = f"a stop was already in progress ({kind.state_word(before)}) when first read"
        watch.note += earlier
        return _started(watch, context)
    return _send_stop(client, watch, context, deadline)


def settle(
    client: DataprocClient,
    watch: Watch,
    resource: Resource,
    context: CancelContext,
    due: bool = True,
) -> Result | Watch:
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
    return _final(client, watch, context, outcome, detail, resource)


def _send_stop(
    client: DataprocClient,
    watch: Watch,
    context: CancelContext,
    deadline: Deadline,
    known: Resource | None = None,
) -> Result | Watch:
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


def _started(watch: Watch, context: CancelContext) -> Watch:
    watch.start_watching(context.deadline.clock.monotonic(), context.verify_timeout)
    return watch


def _refused(
    client: DataprocClient,
    watch: Watch,
    context: CancelContext,
    error: api_exceptions.GoogleAPICallError,
    deadline: Deadline,
    known: Resource | None,
) -> Result | Watch:
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


def _final(
    client: DataprocClient,
    watch: Watch,
    context: CancelContext,
    outcome: Outcome,
    detail: str,
    resource: Resource,
) -> Result:
    """A result from the watched resource; when that is not the target itself (a
    batch's operation), the target is read once more and its own state reported
    beside it, whatever it says."""
    reporter, kind = watch.reporter, watch.kind
    if kind is reporter.kind:
        return reporter.report(outcome, detail, resource, kind)
    own_kind = reporter.kind
    try:
        own = client.get(reporter.target.name.name, context.deadline)
    except (api_exceptions.GoogleAPICallError, TransientFailure) as error:
        detail += f"; the {own_kind.name} itself could not be read afterwards ({error})"
        return reporter.report(outcome, detail[:2048], resource, kind)
    word = own_kind.state_word(own)
    if own_kind.phase(own).final:
        detail += f"; the {own_kind.name} is {word}"
    else:
        detail += f"; the {own_kind.name} itself still says {word}"
    own_state = {k: v for k, v in own_kind.describe(own).items() if k != "done"}
    return reporter.report(outcome, detail, resource, kind, extra_state=own_state)


def _verb(stop: StopCall) -> str:
    """How a stop is called, for a sentence: ``:cancel``, or ``DELETE``."""
    return stop.method if stop.method != "POST" else ":" + stop.path.rsplit(":", 1)[-1]


def _already_done(kind: Kind, resource: Resource) -> str:
    if kind.phase(resource) is Phase.STOPPED:
        return f"the {kind.name} was already {kind.stopped_word} when this request first read it"
    return f"the {kind.name} was already done before this request: {kind.ending(resource)}"
