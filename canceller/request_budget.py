"""A per-process budget of Dataproc requests, so the canceller never eats the quota.

Dataproc's API quota is per project and region, per minute, and shared with everything
else the project runs (https://cloud.google.com/dataproc/docs/resources/quotas):
DefaultRequestsPerMinutePerProjectPerRegion (7,500: operations, batches, sessions, jobs
list, ...), GetJobRequestsPerMinutePerProjectPerRegion (7,500: GetJob) and
JobOperationRequestsPerMinutePerProjectPerRegion (400: Submit, Update, Cancel, DeleteJob).
Exceeding one answers 429 RESOURCE_EXHAUSTED, to the project's own workloads too. So
every call of this process takes a slot from the budget of its (project, region, quota
bucket) first, and waits for one rather than exceed it.

Semantics: a sliding window. At most ``limit`` grants fall in any 60-second window
([t, t + 60) for every t), the grants of the last minute being kept. We chose it over a
token bucket because the quota's minutes are aligned by the server, not by us: the only
bound that is safe whatever the alignment is "never more than N in any 60 s", and a
token bucket keeps it only if burst + 60 s of refill <= N, so it must give away either
the burst (a kill switch wants its cancels out now) or half the sustained rate. The
window lets all N go at once and then exactly N a minute; it costs one timestamp per
request of the last minute (at most the limit, 100,000 by the settings).

Regions are named by the messages, so a budget per region alone bounds nothing: a message
naming many regions would bring a fresh budget with each. Hence a second window per
project (``project_requests_per_minute``), summing every region and bucket of it: a grant
must fit both its key's window and its project's. By default the settings make it the sum
of one region's three limits, so it binds a message spread over several regions, and one
region only when its three buckets are all (nearly) full at once.

A 429 halves the limit of its key (never below ``FLOOR_PER_MINUTE``), since the quota is
shared and somebody else may be using it; the limit then grows back by one request at a
time, reaching the configured value ``RECOVERY_SECONDS`` after the last 429. Only a 429
to a request granted under the current limit halves it again: the others were already
on the wire before the shrink, and counting each would floor the limit on one burst.
The quota is per region, so a 429 says nothing of the project's window: it never shrinks.

Waiting is first come, first served per key, except that a call asked for with
``urgent`` (the reads that verify a stop already sent) goes ahead of every ordinary
waiter, and a tenth of every limit is kept for urgent calls: the stops of a big sweep
must not keep their own verification waiting for minutes, while the few urgent reads
never hold the stops back for long. The project window keeps the same order and the same
reserve among the calls its keys let through: a waiter joins its project's queue only
while its key has a slot for it, so waiters held back by a full key elsewhere in the
project never hold back a key with room. Each waiter sleeps (outside the lock)
until the moment it would be its turn if nothing changed, then checks again; a new 429
or a waiter giving up only moves that moment. The wait counts against the message's
``Deadline``: a slot that cannot be had before it raises ``BudgetTimeout`` at once.
"""

from __future__ import annotations

import bisect
import enum
import itertools
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

from canceller.clock import SYSTEM_CLOCK, Clock, Deadline
from canceller.kinds import KINDS

# Dataproc's quotas are per minute and reset every 60 s; a grant is counted for one more
# second, because a request reaches the server up to its round trip after we grant it.
WINDOW_SECONDS = 61.0
_URGENT_OFFSET = 1 << 62
URGENT_RESERVE = 10  # 1/10 of a limit is for urgent calls only
FLOOR_PER_MINUTE = 5  # a 429 never shrinks a limit below this (or the configured value)
RECOVERY_SECONDS = 120.0  # from a halved limit back to the configured one, without 429s

_SCOPE = re.compile(r"projects/([^/]+)/(?:regions|locations)/([^/:]+)(?:[/:]|$)")
# One resource, and the verb of a call on it: its kind's description names the bucket.
_RESOURCE = re.compile(
    r"projects/[^/]+/(?:regions|locations)/[^/]+/(?P<collection>[a-z]+)/[^/:]+(?P<verb>:[a-z]+)?"
)
_BY_COLLECTION = {kind.plural: kind for kind in KINDS.values()}


class Bucket(enum.StrEnum):
    """Dataproc's per-minute quota buckets, as its quota page lists them
    (https://cloud.google.com/dataproc/docs/resources/quotas)."""

    DEFAULT = "default"  # DefaultRequestsPerMinutePerProjectPerRegion
    GET_JOB = "getJob"  # GetJobRequestsPerMinutePerProjectPerRegion
    JOB_OPERATION = "jobOperation"  # JobOperationRequestsPerMinutePerProjectPerRegion
    CLUSTER_OPERATION = "clusterOperation"  # ClusterOperationRequestsPerMinutePerProjectPerRegion


class BudgetKey(NamedTuple):
    """What one quota is counted per: project, region and bucket."""

    project: str
    region: str
    bucket: Bucket


@dataclass(frozen=True)
class Grant:
    """One request's slot: ``throttled`` needs it to tell a fresh 429 from a stale one."""

    key: BudgetKey
    at: float
    generation: int


class BudgetTimeout(Exception):
    """No slot can be had before the message's deadline."""


def budget_key(method: str, path: str) -> BudgetKey:
    """The quota a request counts against, from its method and its path under /v1/.

    A read (``GET`` of one resource) or a stop (a ``:verb``, or ``DELETE``) counts in the
    bucket its kind's description names (``Kind.quota_buckets``: GetJob, CancelJob,
    cluster stops and deletes); listings and everything else in the default bucket. The
    location of a ``locations/L`` path is its region. A path outside any project and
    region would share one key with its peers."""
    bucket = Bucket.DEFAULT
    resource = _RESOURCE.fullmatch(path)
    kind = _BY_COLLECTION.get(resource["collection"]) if resource else None
    if resource and kind:
        stop = resource["verb"] is not None or method == "DELETE"
        if stop or method == "GET":
            bucket = Bucket(kind.quota_buckets.get("stop" if stop else "read", Bucket.DEFAULT))
    scope = _SCOPE.match(path)
    project, region = scope.groups() if scope else ("", "")
    return BudgetKey(project, region, bucket)


class RequestBudget:
    """All Dataproc requests of one process share one of these; thread-safe.

    ``requests_per_minute`` applies to the default and the GetJob bucket, each counted
    on its own; ``job_cancels_per_minute`` to the job-operation bucket;
    ``cluster_operations_per_minute`` to the cluster-operation bucket;
    ``project_requests_per_minute`` to all of one project's requests together (None: no
    project window). ``clock`` must be the one the deadlines are on."""

    def __init__(
        self,
        requests_per_minute: int,
        job_cancels_per_minute: int,
        cluster_operations_per_minute: int = 100,
        clock: Clock = SYSTEM_CLOCK,
        *,
        project_requests_per_minute: int | None = None,
    ) -> None:
        self._configured = {
            Bucket.DEFAULT: requests_per_minute,
            Bucket.GET_JOB: requests_per_minute,
            Bucket.JOB_OPERATION: job_cancels_per_minute,
            Bucket.CLUSTER_OPERATION: cluster_operations_per_minute,
        }
        self._project_limit = project_requests_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[BudgetKey, _KeyBudget] = {}
        self._projects: dict[str, _KeyBudget] = {}
        self._tickets = itertools.count()

    def per_minute(self, bucket: Bucket, project: str = "", region: str = "") -> int:
        """How many requests of ``bucket`` this process may make a minute: the configured
        limit, or with ``project`` and ``region`` that key's limit now, lower for a while
        after a 429: what the shrink-and-recover behaviour can be observed by."""
        if not project and not region:
            return self._configured[bucket]
        with self._lock:
            state = self._keys.get(BudgetKey(project, region, bucket))
            return (
                self._configured[bucket] if state is None else state.limit(self._clock.monotonic())
            )

    def acquire(self, key: BudgetKey, deadline: Deadline, urgent: bool = False) -> Grant:
        """Wait for a slot of ``key`` (and of its project's window) and take it;
        ``BudgetTimeout`` if it would come too late for ``deadline``. Sleeps without
        holding the lock."""
        with self._lock:
            state = self._state(key)
            project = self._project_state(key.project)
            # Urgent tickets are numbered below every ordinary one, so they sort first.
            ticket = next(self._tickets) - (_URGENT_OFFSET if urgent else 0)
            bisect.insort(state.waiters, ticket)
        try:
            while True:
                with self._lock:
                    now = self._clock.monotonic()
                    ahead = state.position(ticket)
                    if not state.admits(now, ahead, urgent):
                        # Held back by its key: out of the project's queue meanwhile.
                        waiting, wake = state, state.next_chance(now, ahead, urgent)
                        if project is not None:
                            project.leave(ticket)
                    elif project is None:
                        return self._grant(key, ticket, now, state)
                    else:
                        project.join(ticket)
                        ahead = project.position(ticket)
                        if project.admits(now, ahead, urgent):
                            return self._grant(key, ticket, now, state, project)
                        waiting, wake = project, project.next_chance(now, ahead, urgent)
                    limit = waiting.limit(now)
                if wake - now >= deadline.remaining():
                    where = (
                        f"{key.bucket} requests a minute in {key.project}/{key.region}"
                        if waiting is state
                        else f"requests a minute in project {key.project}, all regions"
                    )
                    raise BudgetTimeout(
                        f"the budget of {limit} {where} has no slot before the deadline"
                    )
                self._clock.sleep(wake - now)
        except BaseException:
            with self._lock:
                state.leave(ticket)
                if project is not None:
                    project.leave(ticket)
            raise

    def _grant(
        self,
        key: BudgetKey,
        ticket: int,
        now: float,
        state: _KeyBudget,
        project: _KeyBudget | None = None,
    ) -> Grant:
        """Take the slot in each window; called under the lock."""
        for window in (state, project):
            if window is not None:
                window.leave(ticket)
                window.grants.append(now)
        return Grant(key, now, state.generation)

    def throttled(self, grant: Grant) -> None:
        """Dataproc answered ``grant``'s request 429 RESOURCE_EXHAUSTED: shrink its key."""
        with self._lock:
            state = self._keys[grant.key]
            if grant.generation == state.generation:
                state.shrink(self._clock.monotonic())

    def _state(self, key: BudgetKey) -> _KeyBudget:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyBudget(self._configured[key.bucket])
        return state

    def _project_state(self, project: str) -> _KeyBudget | None:
        if self._project_limit is None:
            return None
        state = self._projects.get(project)
        if state is None:
            state = self._projects[project] = _KeyBudget(self._project_limit)
        return state


@dataclass
class _KeyBudget:
    """One window and its limit: a key's, or a project's (which never shrinks); every
    method is called under the budget's lock."""

    configured: int
    grants: deque[float] = field(default_factory=deque)  # the last minute's, oldest first
    waiters: list[int] = field(default_factory=list)  # tickets, first come first
    generation: int = 0  # bumped by every shrink
    current: int = field(init=False)  # the limit; raised lazily by ``limit`` as it recovers
    step_seconds: float = 0.0  # recovery: one more request a minute every step
    next_step_at: float = float("inf")

    def __post_init__(self) -> None:
        self.current = self.configured

    def position(self, ticket: int) -> int:
        return bisect.bisect_left(self.waiters, ticket)

    def join(self, ticket: int) -> None:
        index = self.position(ticket)
        if index == len(self.waiters) or self.waiters[index] != ticket:
            self.waiters.insert(index, ticket)

    def leave(self, ticket: int) -> None:
        index = self.position(ticket)
        if index < len(self.waiters) and self.waiters[index] == ticket:
            del self.waiters[index]

    def limit(self, now: float) -> int:
        while self.current < self.configured and self.next_step_at <= now:
            self.current += 1
            self.next_step_at += self.step_seconds
        if self.current == self.configured:
            self.next_step_at = float("inf")
        return self.current

    def shrink(self, now: float) -> None:
        self.current = max(min(FLOOR_PER_MINUTE, self.configured), self.limit(now) // 2)
        self.generation += 1
        if self.current < self.configured:
            self.step_seconds = RECOVERY_SECONDS / (self.configured - self.current)
            self.next_step_at = now + self.step_seconds

    def admits(self, now: float, ahead: int, urgent: bool) -> bool:
        """A slot is free now for the waiter with ``ahead`` others before it."""
        self._forget(now)
        return len(self.grants) + ahead < self.share(now, urgent)

    def share(self, now: float, urgent: bool) -> int:
        """The limit, less a tenth kept for urgent calls: stops can never take the slots
        the verification of earlier stops needs."""
        limit = self.limit(now)
        return limit if urgent else limit - limit // URGENT_RESERVE

    def next_chance(self, now: float, ahead: int, urgent: bool) -> float:
        """When the waiter with ``ahead`` others before it gets a slot if the limit stays
        as it is now, or when the limit next grows, whichever is first.

        Future grant number n (1-based) is allowed once the grant ``limit`` places before
        it, in the sequence of past and future grants, has left the window; if that one
        is itself a future grant, its own time is found the same way, a window earlier."""
        limit = self.share(now, urgent)
        queued = ahead + 1
        windows_later = (queued - 1) // limit
        queued -= windows_later * limit  # now 1..limit
        index = len(self.grants) + queued - 1 - limit
        turn = now if index < 0 else max(now, self.grants[index] + WINDOW_SECONDS)
        return min(turn + windows_later * WINDOW_SECONDS, self.next_step_at)

    def _forget(self, now: float) -> None:
        # The same expression as ``next_chance`` (grant + window), so a waiter woken at
        # that moment finds the grant gone: no float rounding can make it spin.
        while self.grants and self.grants[0] + WINDOW_SECONDS <= now:
            self.grants.popleft()
