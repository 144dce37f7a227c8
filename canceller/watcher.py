"""Watching many stops at once: when each target is read again, and how.

Each target is checked on its own schedule from its own stop (the context's
``verification.PollSchedule``), on the deadline's clock. Targets of one kind in one
scope are checked together with one listing when there are several of them: a listing
returns a page of them for one request, so the cost of watching does not grow with the
target count (a GET is only for what the listing cannot settle). A group whose listing
costs more pages than it has targets goes back to GETs. What each reading means is
canceller/stopping.py's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as api_exceptions

from canceller.clock import utc_now
from canceller.dataproc import DataprocClient
from canceller.kinds import Phase, Resource
from canceller.names import ScopeName
from canceller.reporting import Reporter
from canceller.rest import TransientFailure
from canceller.results import Outcome, Result
from canceller.stopping import Watch, settle
from canceller.targets import Target

if TYPE_CHECKING:  # the engine runs the watcher with its context and collects its outcomes
    from canceller.engine import CancelContext, Outcomes

# A group is listed at most this often, and less often the more pages a listing takes,
# never less often than the longest gap of the poll schedule.
_LIST_GAP_MIN, _LIST_GAP_PER_PAGE = 1.0, 0.25
_MAX_WATCH_PAGES = 1000  # a guard against a server that never stops paging


class Watcher:
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
        self._clock = context.deadline.clock
        self._outcomes = outcomes
        self._hand_on_late = hand_on_late
        self._report_unconfirmed = report_unconfirmed
        self._pending: list[Watch] = []
        self._listed_at: dict[tuple[str, ScopeName], float] = {}
        self._list_gap: dict[tuple[str, ScopeName], float] = {}
        self._by_gets: set[tuple[str, ScopeName]] = set()  # listing failed: GETs only
        self._pages: dict[tuple[str, ScopeName], int] = {}  # pages the last listing took

    def guarded(
        self,
        target: Target,
        step: Callable[[], Result | Watch],
        passes: type[Exception] | tuple[type[Exception], ...] = (),
    ) -> Result | Watch | None:
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
                Reporter(target, self._context, utc_now()).report(
                    Outcome.ERROR,
                    f"internal error while handling this {target.name.kind}: "
                    f"{type(defect).__name__}: {defect}"[:1024],
                    None,
                    None,
                )
            )
        return None

    def run(self, starting: list[Future[Result | Watch | Target | None]]) -> None:
        """Until every start is done and every watch settled; checks run on a pool of
        their own beside the starts, ``max_concurrency`` each."""
        waiting = set(starting)
        with executor(self._context.max_concurrency) as checks:
            while waiting or self._pending:
                timeout = self._until_next_round()
                if waiting:
                    # Real time: a start under way ends on its own, not on the clock.
                    done, waiting = wait(waiting, timeout=timeout, return_when=FIRST_COMPLETED)
                    for future in done:
                        self._take(future.result())
                elif timeout:
                    self._clock.sleep(timeout)
                self._round(checks)

    def _take(self, item: Result | Watch | Target | None) -> None:
        if isinstance(item, Result):
            self._outcomes.results.append(item)
        elif isinstance(item, Watch):
            self._pending.append(item)
        elif isinstance(item, Target):
            self._outcomes.unstarted.append(item)

    def _groups(self) -> dict[tuple[str, ScopeName], list[Watch]]:
        groups: dict[tuple[str, ScopeName], list[Watch]] = defaultdict(list)
        for watch in self._pending:
            groups[(watch.kind.name, watch.name.scope)].append(watch)
        return groups

    def _listed(self, key: tuple[str, ScopeName], watches: list[Watch]) -> bool:
        """List when there are several and the last listing of the scope took no more
        pages than there are watches now (a scope can grow or shrink within a message)."""
        pages = self._pages.get(key, 1)
        return len(watches) > 1 and len(watches) >= pages and key not in self._by_gets

    def _until_next_round(self) -> float | None:
        if not self._pending:
            return None
        now = self._clock.monotonic()
        soonest = min(self._round_time(key, ws) for key, ws in self._groups().items())
        return max(0.0, min(soonest - now, self._context.deadline.remaining()))

    def _round_time(self, key: tuple[str, ScopeName], watches: list[Watch]) -> float:
        due = min(watch.next_check for watch in watches)
        if self._listed(key, watches):
            due = max(due, self._listed_at.get(key, 0.0) + self._list_gap.get(key, 0.0))
        return due

    def _round(self, checks: ThreadPoolExecutor | Inline) -> None:
        now = self._clock.monotonic()
        late = self._context.deadline.expired()  # then every watch gets its last check now
        # Each step settles one watch: a GET, or a reading a listing brought. They run on
        # the checks pool, so a stop sent again from one never holds up the others.
        steps: list[tuple[Watch, Callable[[], Result | Watch | None]]] = []
        checked: list[Watch] = []
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
        now = self._clock.monotonic()
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

    def _getter(self, watch: Watch) -> Callable[[], Result | Watch | None]:
        def check() -> Result | Watch:
            try:
                resource = self._client.get(watch.name.name, self._context.deadline, urgent=True)
            except api_exceptions.NotFound as error:
                # Gone as our stop (or one already under way when first read) makes it.
                under_way = (
                    watch.sent
                    or bool(watch.unanswered)  # ours, its answer lost: settle says so
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
            return settle(self._client, watch, resource, self._context)

        return lambda: self._check(watch, check)

    def _settler(
        self, watch: Watch, item: Resource, due: bool
    ) -> Callable[[], Result | Watch | None]:
        return lambda: self._check(
            watch, lambda: settle(self._client, watch, item, self._context, due)
        )

    def _check(self, watch: Watch, step: Callable[[], Result | Watch]) -> Result | Watch | None:
        """One check of a stop already sent: a transient failure (no budget included) is
        counted and the watch goes on to its next check, never to a redelivery."""

        def counted() -> Result | Watch:
            try:
                return step()
            except TransientFailure as failure:
                watch.failed_reads += 1
                watch.last_failure = str(failure)
                return watch

        return self.guarded(watch.reporter.target, counted)

    def _apply(self, watch: Watch, outcome: Result | Watch | None) -> None:
        if isinstance(outcome, Watch):
            return
        self._pending.remove(watch)
        if isinstance(outcome, Result):
            self._outcomes.results.append(outcome)

    def _list_round(
        self, key: tuple[str, ScopeName], watches: list[Watch], due: list[Watch]
    ) -> tuple[list[tuple[Watch, Resource]], list[Watch]]:
        """List the group's scope once (page by page until every watched name is seen):
        the watches it shows with what it shows, and the due watches it does not show."""
        kind = watches[0].kind
        wanted = {watch.name.name: watch for watch in watches}
        seen: dict[str, Resource] = {}
        params = {**kind.watch_params, "pageSize": str(kind.page_size)}
        pages = 0
        started = self._clock.monotonic()
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
        gap = max(_LIST_GAP_MIN, _LIST_GAP_PER_PAGE * pages)
        self._list_gap[key] = min(self._context.schedule.max_interval, gap)
        listed = [(wanted[name], item) for name, item in seen.items()]
        return listed, [watch for watch in due if watch.name.name not in seen]

    def _never_confirmed(self, watch: Watch) -> None:
        """No stop of ours was confirmed for the whole window (every answer was lost) and
        the work still runs: answered ERROR now (a sweep), or left to be handed on
        marked as attempted (a named list), or the message redelivered."""
        target = watch.reporter.target
        if self._report_unconfirmed or target.found_on_cluster:
            self._outcomes.unconfirmed.append(target)
            self._outcomes.results.append(
                watch.reporter.report(
                    Outcome.ERROR,
                    f"no stop of ours was confirmed: every attempt failed "
                    f"({watch.unanswered[:300]}), and the {watch.kind.name} was still "
                    f"{watch.kind.state_word(watch.last) if watch.last else 'unknown'} after "
                    f"{max(0.0, watch.watched(self._clock.monotonic())):.1f} s; it may still "
                    "stop, and a later sweep tries again",
                    watch.last or None,
                    watch.kind,
                )
            )
        elif self._hand_on_late:
            self._outcomes.unconfirmed.append(target)
        else:
            self._outcomes.transient_failures.append(watch.unanswered)

    def _still_running(self, watch: Watch) -> Result:
        """The window (or the message's deadline) is over: say how long was really
        watched, what was last seen, and what could not be read."""
        kind, timeout = watch.kind, self._context.verify_timeout
        watched = max(0.0, watch.watched(self._clock.monotonic()))
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


class Inline:
    """The one-target case runs on the request's own thread: no hand-off, no pool."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args))
        return future

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [fn(item) for item in items]

    def __enter__(self) -> Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def executor(workers: int) -> ThreadPoolExecutor | Inline:
    return ThreadPoolExecutor(max_workers=workers) if workers > 1 else Inline()
