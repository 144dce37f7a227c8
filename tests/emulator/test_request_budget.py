"""The request budget: never more than N a minute per key, waits instead, shrinks on 429.

Time is a fake clock that moves only when someone sleeps, so nothing here really
waits and no assertion depends on how fast the machine is.
"""

from __future__ import annotations

import bisect
import heapq
import math
import threading
from typing import Any

import pytest
import requests

from canceller.clock import Deadline
from canceller.dataproc import DataprocClient
from canceller.request_budget import (
    FLOOR_PER_MINUTE,
    URGENT_RESERVE,
    WINDOW_SECONDS,
    Bucket,
    BudgetKey,
    BudgetTimeout,
    Grant,
    RequestBudget,
    budget_key,
)
from canceller.rest import TransientFailure
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.fake_clock import FakeClock

PROJECT, REGION = "demo-project", "us-central1"
KEY = BudgetKey(PROJECT, REGION, Bucket.DEFAULT)


class SleepersClock(FakeClock):
    """For a fixed set of threads: time jumps to the earliest wake-up once every thread
    is asleep or done, so threads wait side by side as they would in real time."""

    def __init__(self, threads: int) -> None:
        super().__init__()
        self._changed = threading.Condition(self._lock)
        self._awake = threads
        self._wakes: list[float] = []

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "the budget must never spin"
        with self._changed:
            self.sleeps.append(seconds)
            wake = self._now + seconds
            heapq.heappush(self._wakes, wake)
            self._awake -= 1
            self._jump_if_all_asleep()
            assert self._changed.wait_for(lambda: self._now >= wake, timeout=30)

    def done(self) -> None:
        with self._changed:
            self._awake -= 1
            self._jump_if_all_asleep()

    def _jump_if_all_asleep(self) -> None:
        if self._awake or not self._wakes:
            return
        self._now = max(self._now, self._wakes[0])
        while self._wakes and self._wakes[0] <= self._now:
            heapq.heappop(self._wakes)
            self._awake += 1  # counted here, before the sleeper runs again
        self._changed.notify_all()


def most_in_one_window(times: list[float]) -> int:
    """The most of ``times`` in any [t, t + 60): the busiest window starts at one of them."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, start + 60.0) - i for i, start in enumerate(ordered)),
        default=0,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def budget(clock: FakeClock, per_minute: int = 30, cancels: int = 10) -> RequestBudget:
    return RequestBudget(per_minute, cancels, clock=clock)


def take(
    budget: RequestBudget, clock: FakeClock, key: BudgetKey = KEY, within: float = 600.0
) -> Grant:
    return budget.acquire(key, Deadline(within, clock=clock))


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "projects/p/regions/r/jobs/j", ("p", "r", Bucket.GET_JOB)),
        ("POST", "projects/p/regions/r/jobs/j:cancel", ("p", "r", Bucket.JOB_OPERATION)),
        ("GET", "projects/p/regions/r/jobs", ("p", "r", Bucket.DEFAULT)),  # jobs list
        ("GET", "projects/p/regions/r/operations/o", ("p", "r", Bucket.DEFAULT)),
        ("POST", "projects/p/regions/r/operations/o:cancel", ("p", "r", Bucket.DEFAULT)),
        ("GET", "projects/p/regions/r/operations", ("p", "r", Bucket.DEFAULT)),
        ("GET", "projects/p/locations/l/batches/b", ("p", "l", Bucket.DEFAULT)),
        ("POST", "projects/p/locations/l/sessions/s:terminate", ("p", "l", Bucket.DEFAULT)),
    ],
)
def test_requests_fall_into_their_quota(method: str, path: str, expected: tuple[Any, ...]) -> None:
    assert budget_key(method, path) == BudgetKey(*expected)


def test_configured_limits_per_bucket(clock: FakeClock) -> None:
    shared = budget(clock, per_minute=600, cancels=200)
    assert shared.per_minute(Bucket.DEFAULT) == 600
    assert shared.per_minute(Bucket.GET_JOB) == 600
    assert shared.per_minute(Bucket.JOB_OPERATION) == 200
    assert shared.per_minute(Bucket.DEFAULT, PROJECT, REGION) == 600  # never used yet


def test_waits_for_the_window_rather_than_exceed_it(clock: FakeClock) -> None:
    shared = budget(clock, per_minute=3)
    for _ in range(3):
        take(shared, clock)
        clock.advance(10)
    assert clock.monotonic() == 30 and clock.sleeps == []
    # the first grant (at 0) has left the window (a minute and a second of margin)
    assert take(shared, clock).at == WINDOW_SECONDS
    assert take(shared, clock).at == WINDOW_SECONDS + 10
    assert clock.sleeps == [WINDOW_SECONDS - 30, 10]


@pytest.mark.parametrize(("per_minute", "each"), [(20, 25), (2, 3)])
def test_never_more_than_n_in_any_window_under_concurrent_acquirers(
    per_minute: int, each: int
) -> None:
    clock = SleepersClock(threads=8)
    shared = budget(clock, per_minute=per_minute)
    grants: list[Grant] = []

    def worker() -> None:
        try:
            for _ in range(each):
                grants.append(take(shared, clock, within=10_000))
        finally:
            clock.done()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(grants) == 8 * each
    times = [grant.at for grant in grants]
    share = per_minute - per_minute // URGENT_RESERVE  # what ordinary calls may use
    assert most_in_one_window(times) == share
    windows = math.ceil(8 * each / share)
    # N at 0, N a window later, ...: used in full
    assert max(times) == WINDOW_SECONDS * (windows - 1)
    # A waiter sleeps once, straight to its turn (with 2 a minute and 7 ahead, minutes
    # on): no herd of waiters waking for one slot and going back to sleep.
    assert len(clock.sleeps) <= min(8 * (windows - 1), len(grants) - share)


def test_a_slot_after_the_deadline_is_a_timeout_at_once(clock: FakeClock) -> None:
    shared = budget(clock, per_minute=2)
    take(shared, clock)
    take(shared, clock)
    with pytest.raises(BudgetTimeout, match="budget of 2 default requests a minute"):
        take(shared, clock, within=59)
    assert clock.sleeps == []  # did not wait for what it could not get
    assert take(shared, clock, within=WINDOW_SECONDS + 1).at == WINDOW_SECONDS
    # the caller that gave up left the queue: a second slot is free at once
    assert take(shared, clock, within=0.5).at == WINDOW_SECONDS


def test_buckets_and_keys_are_counted_apart(clock: FakeClock) -> None:
    shared = budget(clock, per_minute=2, cancels=1)
    keys = [
        KEY,
        BudgetKey(PROJECT, REGION, Bucket.GET_JOB),
        BudgetKey(PROJECT, "europe-west1", Bucket.DEFAULT),
        BudgetKey("other-project", REGION, Bucket.DEFAULT),
    ]
    for key in keys:
        take(shared, clock, key)
        take(shared, clock, key)
    cancels = BudgetKey(PROJECT, REGION, Bucket.JOB_OPERATION)
    grant = take(shared, clock, cancels)
    assert clock.sleeps == []
    for key in [*keys, cancels]:
        with pytest.raises(BudgetTimeout):
            take(shared, clock, key, within=1)
    shared.throttled(grant)
    assert shared.per_minute(Bucket.JOB_OPERATION, PROJECT, REGION) == 1  # the floor
    assert shared.per_minute(Bucket.DEFAULT, PROJECT, REGION) == 2


def test_a_429_halves_the_limit_once_per_shrink_down_to_a_floor(clock: FakeClock) -> None:
    shared = budget(clock, per_minute=30)
    first, second = take(shared, clock), take(shared, clock)
    shared.throttled(first)
    assert shared.per_minute(Bucket.DEFAULT, PROJECT, REGION) == 15
    shared.throttled(second)  # sent before the shrink: says nothing about 15 a minute
    assert shared.per_minute(Bucket.DEFAULT, PROJECT, REGION) == 15
    shared.throttled(take(shared, clock))
    assert shared.per_minute(Bucket.DEFAULT, PROJECT, REGION) == 7
    shared.throttled(take(shared, clock))
    assert shared.per_minute(Bucket.DEFAULT, PROJECT, REGION) == FLOOR_PER_MINUTE
    assert shared.per_minute(Bucket.DEFAULT) == 30  # the configured value is unchanged


def test_the_limit_recovers_gradually_without_further_429s(clock: FakeClock) -> None:
    shared = budget(clock, per_minute=30)
    shared.throttled(take(shared, clock))  # 15, then one more every 120 / 15 = 8 s
    seen = []
    for _ in range(4):
        clock.advance(30)
        seen.append(shared.per_minute(Bucket.DEFAULT, PROJECT, REGION))
    assert seen == [18, 22, 26, 30]


def test_a_shrunk_limit_holds_back_requests_until_it_grows(clock: FakeClock) -> None:
    shared = budget(clock, per_minute=10)
    grants = [take(shared, clock) for _ in range(4)]
    shared.throttled(grants[-1])  # 5 a minute, one more every 120 / 5 = 24 s
    assert take(shared, clock).at == 0  # the fifth still fits
    assert take(shared, clock).at == 24  # the sixth waits for the limit to grow to 6
    assert take(shared, clock).at == 48


class StampedSession(requests.Session):
    """Notes the fake time each request is sent at."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self._clock = clock
        self.stamps: list[float] = []

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.stamps.append(self._clock.monotonic())
        return super().request(*args, **kwargs)


def test_the_client_keeps_to_the_budget_against_the_emulator(
    admin: EmulatorAdmin, emulator: DataprocEmulator, clock: FakeClock
) -> None:
    shared, stamped = budget(clock, per_minute=30), StampedSession(clock)
    client = DataprocClient(stamped, emulator.base_url, 5.0, shared, clock)
    name = f"projects/{PROJECT}/regions/{REGION}/operations/op-1"
    admin.seed_operation(name=name)

    for _ in range(45):
        client.get(name, Deadline(120, clock=clock))
    assert len(admin.requests()) == 45
    # 27 of the 30: a tenth is kept for urgent reads (none here)
    assert most_in_one_window(stamped.stamps) == 27
    assert stamped.stamps[26] == 0 and stamped.stamps[27] == WINDOW_SECONDS  # waited

    admin.add_fault(
        method="GET", pathRegex="op-1$", times=1, status=429, statusName="RESOURCE_EXHAUSTED"
    )
    client.get(name, Deadline(120, clock=clock))
    log = admin.requests()
    assert [entry["fault"] is not None for entry in log[-2:]] == [True, False]
    # Sent a window on, with 18 in it, answered 429: the limit fell to 15 a minute, so
    # the retry (the 20th in the window) waited until it had grown back to 22, of which
    # ordinary calls may use 20 (one more every 120 / 15 = 8 s, 7 steps).
    assert stamped.stamps[-2:] == [WINDOW_SECONDS, WINDOW_SECONDS + 56]
    assert shared.per_minute(Bucket.DEFAULT, PROJECT, REGION) == 22

    with pytest.raises(TransientFailure, match="has no slot before the deadline"):
        client.get(name, Deadline(1, clock=clock))
    assert len(admin.requests()) == len(log)  # nothing was sent


def test_an_urgent_read_goes_ahead_of_waiting_stops() -> None:
    """The reads that verify stops already sent must not wait behind a queue of stops."""
    clock = SleepersClock(threads=3)
    shared = budget(clock, per_minute=1)
    shared.acquire(KEY, Deadline(1, clock=clock))  # the window is full until WINDOW_SECONDS
    order: list[tuple[str, float]] = []

    def both_stops_queued() -> bool:
        return len(shared._keys[KEY].waiters) == 2  # the budget's own queue, read only

    def waiter(name: str, urgent: bool, wait_for_stops: bool) -> None:
        try:
            while wait_for_stops and not both_stops_queued():
                threading.Event().wait(0.01)  # real time: the fake clock stands still
            grant = shared.acquire(KEY, Deadline(1000, clock=clock), urgent=urgent)
            order.append((name, grant.at))
        finally:
            clock.done()

    stops = [threading.Thread(target=waiter, args=(f"stop-{i}", False, False)) for i in (1, 2)]
    read = threading.Thread(target=waiter, args=("read", True, True))
    for thread in (*stops, read):
        thread.start()
    for thread in (*stops, read):
        thread.join(timeout=30)
    assert order[0] == ("read", WINDOW_SECONDS)
    assert sorted(at for _, at in order[1:]) == [2 * WINDOW_SECONDS, 3 * WINDOW_SECONDS]


def test_a_tenth_of_the_limit_is_kept_for_urgent_reads(clock: FakeClock) -> None:
    shared = budget(clock, per_minute=10)
    for _ in range(9):
        assert take(shared, clock).at == 0
    with pytest.raises(BudgetTimeout):  # the tenth slot is not for stops ...
        take(shared, clock, within=30)
    urgent = shared.acquire(KEY, Deadline(30, clock=clock), urgent=True)
    assert urgent.at == 0  # ... but for the reads that verify them


# -- the project window: every region and bucket of a project together ---------------------


def project_budget(
    clock: FakeClock, per_minute: int = 30, cancels: int = 10, project: int = 20
) -> RequestBudget:
    return RequestBudget(
        per_minute,
        cancels,
        clock=clock,
        project_requests_per_minute=project,
    )


def region_key(index: int, bucket: Bucket = Bucket.DEFAULT) -> BudgetKey:
    return BudgetKey(PROJECT, f"region-{index}", bucket)


def test_made_up_regions_do_not_multiply_the_budget(clock: FakeClock) -> None:
    """Each region has a budget of its own; the project's bounds them all together."""
    shared = project_budget(clock, per_minute=30, project=20)
    grants = [take(shared, clock, region_key(i)) for i in range(40)]
    share = 20 - 20 // URGENT_RESERVE  # the project's, for ordinary calls
    assert [grant.at for grant in grants[:share]] == [0.0] * share
    assert grants[share].at == WINDOW_SECONDS  # its region was empty: the project was not
    assert most_in_one_window([grant.at for grant in grants]) == share
    other = BudgetKey("other-project", "region-0", Bucket.DEFAULT)
    assert take(shared, clock, other).at == clock.monotonic()  # another project has its own


def test_every_bucket_counts_against_the_project(clock: FakeClock) -> None:
    shared = project_budget(clock, per_minute=30, cancels=10, project=10)
    for bucket in (Bucket.DEFAULT, Bucket.GET_JOB, Bucket.JOB_OPERATION):
        for _ in range(3):
            take(shared, clock, BudgetKey(PROJECT, REGION, bucket))
    with pytest.raises(BudgetTimeout, match="budget of 10 requests a minute in project demo"):
        take(shared, clock, BudgetKey(PROJECT, "europe-west1", Bucket.GET_JOB), within=30)
    assert clock.sleeps == []


def test_urgent_reads_keep_their_reserve_in_the_project_window(clock: FakeClock) -> None:
    shared = project_budget(clock, per_minute=100, project=10)
    for i in range(9):
        assert take(shared, clock, region_key(i)).at == 0
    with pytest.raises(BudgetTimeout):  # the tenth is kept for verification
        take(shared, clock, region_key(9), within=30)
    urgent = shared.acquire(region_key(9), Deadline(30, clock=clock), urgent=True)
    assert urgent.at == 0
    with pytest.raises(BudgetTimeout):
        shared.acquire(region_key(10), Deadline(30, clock=clock), urgent=True)


def test_the_project_window_never_shrinks_on_a_429(clock: FakeClock) -> None:
    shared = project_budget(clock, per_minute=30, project=20)
    first = take(shared, clock, region_key(0))
    shared.throttled(first)
    assert shared.per_minute(Bucket.DEFAULT, PROJECT, "region-0") == 15
    assert shared.per_minute(Bucket.DEFAULT, PROJECT, "region-1") == 30
    # 17 more fill the project's ordinary share of 18: the 429 took nothing from it.
    assert [take(shared, clock, region_key(1 + i % 5)).at for i in range(17)] == [0.0] * 17


def test_no_project_window_unless_asked(clock: FakeClock) -> None:
    shared = budget(clock, per_minute=3)  # callers that predate the project window
    for i in range(50):
        take(shared, clock, region_key(i))
    assert clock.sleeps == []


class HeldClock(FakeClock):
    """Sleepers wait (in real time) until the test lets time pass; the clock stands still."""

    def __init__(self) -> None:
        super().__init__()
        self.asleep = threading.Event()
        self.wake = threading.Event()

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "the budget must never spin"
        self.asleep.set()
        assert self.wake.wait(timeout=30)
        self.advance(seconds)


def test_a_full_key_elsewhere_does_not_hold_back_a_key_with_room() -> None:
    """A waiter joins the project's queue only while its own key has a slot for it: one
    held back by a full bucket must not stand in line before calls that could go now."""
    clock = HeldClock()
    shared = RequestBudget(2, 10, clock=clock, project_requests_per_minute=3)
    full = region_key(1)
    take(shared, clock, full)
    take(shared, clock, full)  # the key is full until WINDOW_SECONDS; the project has 1 left
    waited: list[Grant] = []
    waiter = threading.Thread(target=lambda: waited.append(take(shared, clock, full)))
    waiter.start()
    assert clock.asleep.wait(timeout=30)
    assert shared._projects[PROJECT].waiters == []  # the budget's own queue, read only
    assert take(shared, clock, region_key(2), within=1).at == 0  # the project's last slot
    clock.wake.set()
    waiter.join(timeout=30)
    assert [grant.at for grant in waited] == [WINDOW_SECONDS]


def test_never_more_than_the_project_allows_under_concurrent_regions() -> None:
    clock = SleepersClock(threads=8)
    shared = RequestBudget(30, 10, clock=clock, project_requests_per_minute=20)
    grants: list[Grant] = []

    def worker(region: int) -> None:
        try:
            for _ in range(10):
                grants.append(take(shared, clock, region_key(region), within=10_000))
        finally:
            clock.done()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(grants) == 80
    times = [grant.at for grant in grants]
    share = 20 - 20 // URGENT_RESERVE
    assert most_in_one_window(times) == share
    windows = math.ceil(80 / share)
    assert max(times) == WINDOW_SECONDS * (windows - 1)  # the project's share, used in full
    # Queued in the project's order, each waiter sleeps straight to its turn: no herd.
    assert len(clock.sleeps) <= len(grants) - share


def test_the_client_cannot_be_made_to_exceed_the_project_budget(
    admin: EmulatorAdmin, emulator: DataprocEmulator, clock: FakeClock
) -> None:
    """The reported attack: one message, many regions, one read in each."""
    shared, stamped = project_budget(clock, per_minute=60, project=60), StampedSession(clock)
    client = DataprocClient(stamped, emulator.base_url, 5.0, shared, clock)
    names = [f"projects/{PROJECT}/regions/us-fake{i}/operations/op-{i}" for i in range(90)]
    admin.seed_operations([{"name": name} for name in names])
    for name in names:
        client.get(name, Deadline(600, clock=clock))
    assert len(admin.requests()) == 90
    assert most_in_one_window(stamped.stamps) == 60 - 60 // URGENT_RESERVE
