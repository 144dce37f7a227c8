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

Permanent API errors become their outcome; ``TransientFailure`` is collected so the
message is redelivered after the rest is published; any other exception (a defect of
ours) becomes ERROR for that one target, never an unanswered message.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.api_core import exceptions as api_exceptions

from canceller.clock import Deadline, utc_now
from canceller.dataproc import DataprocClient, NoBudget, TransientFailure, error_details
from canceller.kinds import KINDS, InvalidWork, Kind, Phase, Resource
from canceller.names import ResourceName, ScopeName
from canceller.results import Outcome, Result
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


@dataclass(frozen=True)
class CancelContext:
    """What every target of one message shares."""

    trigger: TriggerInfo
    deadline: Deadline
    verify_timeout: float
    dry_run: bool
    max_concurrency: int
    extra: Mapping[str, Any] = field(default_factory=dict)  # budget, incident, sweep id


@dataclass(frozen=True)
class Target:
    name: ResourceName
    seen: Resource | None = None  # as just listed by a sweep: saves a GET if running
    expect_uuid: str | None = None  # an incident names one incarnation of an ID
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Outcomes:
    results: list[Result] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # transient: redeliver
    unstarted: list[Target] = field(default_factory=list)  # no time left: hand on


def stop_all(
    client: DataprocClient,
    targets: Sequence[Target],
    context: CancelContext,
    *,
    hand_on_late: bool = False,
) -> Outcomes:
    """Stop and verify every target, each watched until it ended, its verification window
    ran out, or the message's deadline did. With ``hand_on_late`` (a sweep that can hand
    work on), a target is only started while its read and stop, request budget
    included, fit before its verification window would overrun the message's deadline;
    one that does not is returned in ``unstarted`` for the caller to hand on (the next
    message reads it again). A transient failure is collected in ``failures`` either way,
    so the message is redelivered."""
    outcomes = Outcomes()
    if not targets:
        return outcomes
    watcher = _Watcher(client, context, outcomes)

    def start(target: Target) -> Result | _Watch | Target | None:
        if not hand_on_late:
            return watcher.guarded(
                target, lambda: _start(client, target, context, context.deadline)
            )
        window = context.deadline.remaining() - context.verify_timeout
        if window <= 0:
            return target
        try:
            return watcher.guarded(
                target, lambda: _start(client, target, context, Deadline(window)), NoBudget
            )
        except NoBudget:
            return target

    workers = min(context.max_concurrency, len(targets))
    with _executor(workers) as pool:
        watcher.run([pool.submit(start, target) for target in targets])
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
    stop_path: str
    stopped_at: float = 0.0
    next_check: float = 0.0
    checks: int = 0
    offsets: Iterator[float] = field(default_factory=poll_offsets)
    refusal: api_exceptions.GoogleAPICallError | None = None  # stop not accepted yet
    sent: bool = False  # a stop of ours was accepted
    note: str = ""

    def schedule_next(self, verify_timeout: float) -> None:
        offset = min(next(self.offsets), verify_timeout)
        self.next_check = self.stopped_at + offset

    def out_of_time(self, now: float, verify_timeout: float, deadline: Deadline) -> bool:
        """Checked at least once, and its window or the message's deadline is over."""
        return self.checks > 0 and (now - self.stopped_at >= verify_timeout or deadline.expired())


def _start(
    client: DataprocClient, target: Target, context: CancelContext, deadline: Deadline
) -> Result | _Watch:
    """Read and stop one target; ``deadline`` bounds these first calls."""
    kind = KINDS[target.name.kind]
    reporter = _Reporter(target, context, utc_now())
    try:
        if target.seen is not None and kind.phase(target.seen) is Phase.RUNNING:
            before = target.seen
        else:
            before = client.get(target.name.name, deadline)
    except api_exceptions.GoogleAPICallError as error:
        return reporter.api_error(error, f"reading the {kind.name}", None, kind)
    reporter.before = before
    found_uuid = kind.uuid(before)
    if target.expect_uuid and found_uuid != target.expect_uuid:
        return reporter.report(
            Outcome.REJECTED,
            f"the {kind.name} found has uuid {found_uuid or '(none)'}, not the "
            f"{target.expect_uuid} the request names: it is a different {kind.name} with the "
            "same ID, left alone",
            before,
            kind,
        )
    phase = kind.phase(before)
    if phase.final:
        return reporter.report(Outcome.ALREADY_DONE, _already_done(kind, before), before, kind)
    if context.dry_run:
        return reporter.report(
            Outcome.DRY_RUN,
            f"dry run: the {kind.name} is {kind.state_word(before)} and would be stopped "
            f"with :{kind.stop_verb}",
            before,
            kind,
        )
    try:
        watched_kind, watched_name = kind.watched(target.name, before)
        path = kind.stop_path(target.name, before)
    except InvalidWork as invalid:
        return reporter.report(
            Outcome.ERROR, f"cannot stop the {kind.name}: {invalid}", before, kind
        )
    watch = _Watch(reporter, watched_kind, watched_name, before, path)
    if watched_kind is not kind:
        watch.last = {}
    if phase is Phase.STOPPING:
        watch.note = f"a stop was already in progress ({kind.state_word(before)}) when first read"
        return _started(watch, context)
    return _send_stop(client, watch, context, deadline)


def _send_stop(
    client: DataprocClient,
    watch: _Watch,
    context: CancelContext,
    deadline: Deadline,
    known: Resource | None = None,
) -> Result | _Watch:
    """``known``: the watched resource as just read, so a refusal needs no read again."""
    kind = KINDS[watch.reporter.target.name.kind]
    try:
        client.post(watch.stop_path, deadline, kind.stop_body)
    except api_exceptions.GoogleAPICallError as error:
        if error_details(error)["status"] != "FAILED_PRECONDITION":
            return watch.reporter.api_error(error, kind.stopping_word, watch.last, watch.kind)
        return _refused(client, watch, context, error, deadline, known)
    watch.refusal = None
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
    if KINDS[watch.reporter.target.name.kind].stop_can_wait:
        watch.refusal = error
        return _started(watch, context)
    return watch.reporter.api_error(
        error, KINDS[watch.reporter.target.name.kind].stopping_word, after, watch.kind
    )


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
    if phase is Phase.RUNNING and watch.refusal is not None and due:
        return _send_stop(client, watch, context, context.deadline, known=resource)
    if not phase.final:
        return watch
    reporter, kind = watch.reporter, watch.kind
    if phase is Phase.STOPPED and watch.sent:
        detail = f"{reporter.kind.stopped_word}: {kind.ending(resource)}"
        outcome = Outcome.CANCELLED
    elif not watch.sent:
        # Stopped or ended, but no stop of ours was ever accepted: not our doing.
        outcome = Outcome.ALREADY_DONE
        detail = (
            f"the {kind.name} ended before a stop of ours was accepted: {kind.ending(resource)}"
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

    def __init__(self, client: DataprocClient, context: CancelContext, outcomes: Outcomes):
        self._client = client
        self._context = context
        self._outcomes = outcomes
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
            self._outcomes.failures.append(str(failure))
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
        to_get: list[_Watch] = []
        checked: list[_Watch] = []
        for key, watches in self._groups().items():
            if self._round_time(key, watches) > now and not late:
                continue
            due = [watch for watch in watches if watch.next_check <= now or late]
            checked.extend(due)
            if self._listed(key, watches):
                to_get.extend(self._list_round(key, watches, due))
            else:
                to_get.extend(due)
        if to_get:
            settled = list(checks.map(self._get, to_get))
            for watch, outcome in zip(to_get, settled, strict=True):
                self._apply(watch, outcome)
        now = time.monotonic()
        for watch in checked:
            if watch not in self._pending:
                continue
            watch.checks += 1
            if watch.out_of_time(now, self._context.verify_timeout, self._context.deadline):
                self._pending.remove(watch)
                self._outcomes.results.append(self._still_running(watch))
            else:
                watch.schedule_next(self._context.verify_timeout)

    def _get(self, watch: _Watch) -> Result | _Watch | None:
        def check() -> Result | _Watch:
            try:
                resource = self._client.get(watch.name.name, self._context.deadline, urgent=True)
            except api_exceptions.GoogleAPICallError as error:
                return watch.reporter.api_error(error, "verifying the stop", watch.last, watch.kind)
            return _settle(self._client, watch, resource, self._context)

        return self.guarded(watch.reporter.target, check)

    def _apply(self, watch: _Watch, outcome: Result | _Watch | None) -> None:
        if isinstance(outcome, _Watch):
            return
        self._pending.remove(watch)
        if isinstance(outcome, Result):
            self._outcomes.results.append(outcome)

    def _list_round(
        self, key: tuple[str, ScopeName], watches: list[_Watch], due: list[_Watch]
    ) -> list[_Watch]:
        """List the group's scope once (page by page until every watched name is seen)
        and settle what the listing shows; return the due watches it could not settle."""
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
                for item in listed_items(page, kind):
                    name = kind.listed_name(item, key[1])
                    if isinstance(name, str) and name in wanted:
                        seen[name] = item
                token = page.get("nextPageToken")
                if not token or len(seen) == len(wanted) or pages > len(watches):
                    break
                params["pageToken"] = str(token)
        except (api_exceptions.GoogleAPICallError, TransientFailure):
            self._by_gets.add(key)  # e.g. no list permission: GETs still work
            return due
        self._pages[key] = pages  # more pages than watches: GETs, until the group grows
        self._listed_at[key] = started
        self._list_gap[key] = min(MAX_INTERVAL, max(_LIST_GAP_MIN, _LIST_GAP_PER_PAGE * pages))
        for name, item in seen.items():
            watch = wanted[name]
            self._apply(watch, self._settle_listed(watch, item, watch in due))
        return [watch for watch in due if watch.name.name not in seen]

    def _settle_listed(self, watch: _Watch, item: Resource, due: bool) -> Result | _Watch | None:
        return self.guarded(
            watch.reporter.target,
            lambda: _settle(self._client, watch, item, self._context, due),
        )

    def _still_running(self, watch: _Watch) -> Result:
        kind, timeout = watch.kind, self._context.verify_timeout
        state = kind.state_word(watch.last) if watch.last else "unknown"
        if watch.refusal is not None:
            return watch.reporter.api_error(
                watch.refusal,
                f"{watch.reporter.kind.stopping_word}, refused for the whole verification window "
                f"({timeout:g} s); "
                f"the {kind.name} is still {state}",
                watch.last,
                kind,
            )
        return watch.reporter.report(
            Outcome.STILL_RUNNING,
            f"the stop was accepted but the {kind.name} was not done after {timeout:g} s "
            f"({watch.checks} checks; it is {state}); it may still stop",
            watch.last or None,
            kind,
        )


def listed_items(page: Resource, kind: Kind) -> list[Resource]:
    """The items of one list page that are objects; a malformed page lists nothing."""
    items = page.get(kind.plural)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


# ---- results ---------------------------------------------------------------------------


class _Reporter:
    """Builds the one result of one target."""

    def __init__(self, target: Target, context: CancelContext, started: datetime) -> None:
        self.target = target
        self.kind = KINDS[target.name.kind]
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
        if self.kind.name == "operation":
            return self.target.name.name
        if self.before is not None and self.kind.name == "batch":
            try:  # only a valid name is echoed (a hostile server's text stays out)
                return self.kind.watched(self.target.name, self.before)[1].name
            except InvalidWork:
                return ""
        return ""


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
