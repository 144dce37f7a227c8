"""One target's stop and its verification window, on time that moves only when the
engine sleeps (tests/support/fake_clock.py): windows of minutes pass in milliseconds,
and every check is seen at the very moment the schedule puts it.

No server: a scripted client (tests/support/scripted_dataproc.py) answers for Dataproc
from the fake time, so each test says when the job changes state, and asserts which
calls the engine made and when.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from google.api_core import exceptions as api_exceptions

from canceller.clock import Deadline
from canceller.engine import CancelContext, Outcomes, stop_all
from canceller.names import parse_name
from canceller.rest import TransientFailure
from canceller.results import Outcome, Result
from canceller.stopping import LISTING_FRESH_SECONDS
from canceller.targets import Target
from canceller.trigger_info import TriggerInfo
from canceller.verification import POLL_SCHEDULE, PollSchedule
from tests.support.fake_clock import FakeClock
from tests.support.scripted_dataproc import ScriptedDataproc

JOB = "projects/demo-project/regions/us-central1/jobs/etl"


def job(state: str) -> dict[str, Any]:
    return {"reference": {"jobId": "etl"}, "status": {"state": state}}


class Job:
    """A job as Dataproc would answer for it, from the fake time: ``before`` until a
    stop of ours is accepted, then ``state(t)``, ``t`` seconds after the first stop
    sent; a stop is refused while ``refuses(t)`` and its answer lost while ``loses(t)``.
    Every call's time is kept."""

    def __init__(
        self,
        clock: FakeClock,
        state: Callable[[float], str] = lambda t: "CANCEL_PENDING",
        refuses: Callable[[float], bool] = lambda t: False,
        loses: Callable[[float], bool] = lambda t: False,
        before: str = "RUNNING",
    ) -> None:
        self.clock, self._state, self._refuses, self._loses = clock, state, refuses, loses
        self._before = before
        self._stopped_at: float | None = None
        self._accepted = False
        self.client = ScriptedDataproc(self.answer)
        self._times: list[tuple[str, float | None]] = []  # (method, since the first stop)

    def answer(self, method: str, path: str, n: int) -> dict[str, Any]:
        now = self.clock.monotonic()
        if method == "POST" and self._stopped_at is None:
            self._stopped_at = now
        since = None if self._stopped_at is None else now - self._stopped_at
        self._times.append((method, since))
        if method == "POST" and since is not None:
            if self._refuses(since):
                raise api_exceptions.FailedPrecondition(
                    "Cannot cancel jobId 'etl' in state: 'SETUP_DONE'"
                )
            if self._loses(since):
                raise TransientFailure(f"POST {path}: HTTP 503; the retry deadline ran out")
            self._accepted = True
            return job("CANCEL_PENDING")
        if since is None or not self._accepted:
            return job(self._before)
        return job(self._state(since))

    def at(self, method: str) -> list[float]:
        """When each ``method`` call was made, in seconds after the first stop (calls
        before it left out)."""
        return [since for made, since in self._times if made == method and since is not None]


def context(
    clock: FakeClock, verify: float, schedule: PollSchedule = POLL_SCHEDULE
) -> CancelContext:
    return CancelContext(
        trigger=TriggerInfo("m-1", "2026-12-01T00:00:00Z", "//test", kind="job"),
        deadline=Deadline(3600.0, clock=clock),
        verify_timeout=verify,
        dry_run=False,
        max_concurrency=1,
        schedule=schedule,
    )


def stop(dataproc: Job, verify: float, **kw: Any) -> Outcomes:
    target = Target(parse_name("job", JOB))
    return stop_all(dataproc.client, [target], context(dataproc.clock, verify, **kw))  # type: ignore[arg-type]


def only(outcomes: Outcomes) -> Result:
    assert outcomes.transient_failures == [] and outcomes.unstarted == []
    [result] = outcomes.results
    return result


def checks_until(end: float, schedule: PollSchedule = POLL_SCHEDULE) -> list[float]:
    """The schedule's check times before ``end``, and the first at or after it."""
    offsets = schedule.offsets()
    checks = [next(offsets)]
    while checks[-1] < end:
        checks.append(next(offsets))
    return checks


def window(end: float) -> list[float]:
    """The check times of a window ending at ``end``: the schedule is capped there."""
    return [*checks_until(end)[:-1], end]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_stop_never_seen_done_is_still_running_after_its_whole_window(
    clock: FakeClock,
) -> None:
    dataproc = Job(clock)
    result = only(stop(dataproc, verify=120.0))
    assert result.outcome is Outcome.STILL_RUNNING
    gets = dataproc.at("GET")
    # Checked at every time of the schedule within the window, the last at its very end.
    assert gets == pytest.approx(window(120.0))
    assert dataproc.at("POST") == [0.0]
    assert (
        f"the stop was accepted but the job was not done after 120.0 s of watching "
        f"({len(gets)} checks; it is CANCEL_PENDING); it may still stop"
    ) == result.detail
    assert clock.monotonic() == pytest.approx(120.0)


def test_an_end_is_seen_at_the_first_check_after_it(clock: FakeClock) -> None:
    dataproc = Job(clock, state=lambda t: "CANCELLED" if t >= 7.0 else "CANCEL_PENDING")
    result = only(stop(dataproc, verify=120.0))
    assert result.outcome is Outcome.CANCELLED
    assert result.detail == "cancelled: the job is CANCELLED"
    assert dataproc.at("GET") == pytest.approx(checks_until(7.0))
    assert 7.0 <= clock.monotonic() <= 1.25 * 7.0 + 0.2  # verification.py's promise


def test_the_context_carries_the_schedule(clock: FakeClock) -> None:
    every_ten = PollSchedule(first=0.0, step=10.0, growth=1.0, max_interval=10.0)
    dataproc = Job(clock)
    result = only(stop(dataproc, verify=60.0, schedule=every_ten))
    assert result.outcome is Outcome.STILL_RUNNING
    assert dataproc.at("GET") == pytest.approx([0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    assert "(7 checks; it is CANCEL_PENDING)" in result.detail


def test_a_stop_refused_as_not_yet_possible_is_sent_again_at_each_check_until_accepted(
    clock: FakeClock,
) -> None:
    """A job in SETUP_DONE refuses a cancel (FAILED_PRECONDITION): sent again at each
    check from the refused one, until it runs and the cancel is accepted."""
    dataproc = Job(
        clock,
        before="SETUP_DONE",
        refuses=lambda t: t < 2.0,
        state=lambda t: "CANCELLED",
    )
    result = only(stop(dataproc, verify=60.0))
    assert result.outcome is Outcome.CANCELLED
    resent = checks_until(2.0)  # the first stop's window runs from the refused one
    assert dataproc.at("POST") == pytest.approx([0.0, *resent])
    # The read after the refusal, then each check: its GET, then the stop sent again.
    assert dataproc.at("GET") == pytest.approx([0.0, *resent, checks_until(resent[-1] + 1e-9)[-1]])


def test_a_stop_refused_for_the_whole_window_is_an_error_saying_so(clock: FakeClock) -> None:
    dataproc = Job(clock, before="SETUP_DONE", refuses=lambda t: True)
    result = only(stop(dataproc, verify=30.0))
    assert result.outcome is Outcome.ERROR
    assert result.detail.startswith("Dataproc answered 400 FAILED_PRECONDITION while cancelling")
    assert "refused for the whole verification window (30.0 s); the job is still SETUP_DONE" in (
        result.detail
    )
    checks = window(30.0)
    assert dataproc.at("POST") == pytest.approx([0.0, *checks])  # once, then at each check


def test_a_stop_whose_every_answer_is_lost_is_sent_again_and_then_left_to_a_redelivery(
    clock: FakeClock,
) -> None:
    """Nothing of it is known to be ours: a named list redelivers it."""
    dataproc = Job(clock, loses=lambda t: True)
    outcomes = stop(dataproc, verify=30.0)
    assert outcomes.results == []
    [failure] = outcomes.transient_failures
    assert failure.endswith("HTTP 503; the retry deadline ran out")
    checks = window(30.0)
    assert dataproc.at("POST") == pytest.approx([0.0, *checks])


def test_a_stop_whose_every_answer_is_lost_in_a_sweep_is_an_error_saying_so(
    clock: FakeClock,
) -> None:
    dataproc = Job(clock, loses=lambda t: True)
    target = Target(parse_name("job", JOB))
    outcomes = stop_all(
        dataproc.client,  # type: ignore[arg-type]
        [target],
        context(clock, 30.0),
        report_unconfirmed=True,
    )
    [result] = outcomes.results
    assert result.outcome is Outcome.ERROR
    assert result.detail.startswith("no stop of ours was confirmed: every attempt failed")
    assert "the job was still RUNNING after 30.0 s" in result.detail
    assert [t.name.name for t in outcomes.unconfirmed] == [JOB]


@pytest.mark.parametrize(
    ("listed_ago", "read_again"), [(LISTING_FRESH_SECONDS, False), (5.5, True)]
)
def test_a_sweeps_listing_stands_in_for_the_read_only_while_fresh(
    clock: FakeClock, listed_ago: float, read_again: bool
) -> None:
    """The sweep that listed the job and the engine that stops it share the clock."""
    listed = Target(parse_name("job", JOB), seen=job("RUNNING"), seen_at=clock.monotonic())
    clock.advance(listed_ago)
    dataproc = Job(clock, state=lambda t: "CANCELLED")
    outcomes = stop_all(dataproc.client, [listed], context(clock, 30.0))  # type: ignore[arg-type]
    assert only(outcomes).outcome is Outcome.CANCELLED
    assert (dataproc.client.calls[0][0] == "GET") is read_again
