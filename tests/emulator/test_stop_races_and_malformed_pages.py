"""Edges of the engine that the Dataproc emulator cannot script: another party's stop
landing between our refused stop and our next read, a server answering a malformed
list page. A small scripted client (tests/support/scripted_dataproc.py) stands in for
Dataproc here; every other engine test of tests/emulator runs against the emulator over
HTTP. Time is a FakeClock's: the windows pass without waiting."""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions as api_exceptions

from canceller.alerts import BudgetNotice
from canceller.clock import Deadline, utc_now
from canceller.engine import CancelContext, stop_all
from canceller.names import parse_name
from canceller.results import Outcome, Result
from canceller.targets import Target
from canceller.trigger_info import TriggerInfo
from tests.support.fake_clock import FakeClock
from tests.support.scripted_dataproc import ScriptedDataproc

JOB = "projects/demo-project/regions/us-central1/jobs/etl"
OPS = "projects/demo-project/regions/us-central1/operations"


def context(verify: float = 2.0) -> CancelContext:
    return CancelContext(
        trigger=TriggerInfo("m-1", "2026-12-01T00:00:00Z", "//test", kind="job"),
        deadline=Deadline(10.0, clock=FakeClock()),
        verify_timeout=verify,
        dry_run=False,
        max_concurrency=4,
    )


def test_a_job_stopped_by_someone_else_after_our_refused_cancel_is_not_ours() -> None:
    def answer(method: str, path: str, n: int) -> dict[str, Any]:
        if method == "POST":
            raise api_exceptions.FailedPrecondition(
                "Cannot cancel jobId 'etl' in state: 'SETUP_DONE'"
            )
        # read before, re-read after the refusal: SETUP_DONE; then someone else's cancel.
        state = "SETUP_DONE" if n <= 3 else "CANCELLED"
        return {"reference": {"jobId": "etl"}, "status": {"state": state}}

    client = ScriptedDataproc(answer)
    outcomes = stop_all(client, [Target(parse_name("job", JOB))], context())  # type: ignore[arg-type]
    [result] = outcomes.results
    assert result.outcome is Outcome.ALREADY_DONE
    assert "before a stop of ours was accepted" in result.detail
    assert outcomes.transient_failures == []


def test_a_malformed_listing_is_read_as_empty_and_every_target_still_answered() -> None:
    names = [f"{OPS}/op-{i}" for i in range(3)]

    def answer(method: str, path: str, n: int) -> dict[str, Any]:
        if method == "LIST":
            return {"operations": 7, "nextPageToken": ["not", "a", "token"]}
        if method == "POST":
            return {}
        done = sum(1 for m, _ in client.calls if m == "POST") == 3 and n > 8
        return {"name": path, "done": True, "error": {"code": 1}} if done else {"name": path}

    client = ScriptedDataproc(answer)
    outcomes = stop_all(
        client,  # type: ignore[arg-type]
        [Target(parse_name("operation", name)) for name in names],
        context(verify=3.0),
    )
    assert sorted(r.target for r in outcomes.results) == names
    assert {r.outcome for r in outcomes.results} == {Outcome.CANCELLED}


def test_a_zero_budget_is_never_over_by_amount() -> None:
    notice = BudgetNotice(
        "acct", "b", "new", cost=0.0, budget=0.0, currency="USD", alert_threshold_exceeded=None
    )
    assert notice.ratio is None
    crossed = BudgetNotice("acct", "b", "new", 0.0, 0.0, "USD", alert_threshold_exceeded=1.0)
    assert crossed.ratio == 1.0
    spent = BudgetNotice("acct", "b", "x", 150.0, 100.0, "USD", alert_threshold_exceeded=1.2)
    assert spent.ratio == 1.5


def test_an_attribute_echoing_a_lone_surrogate_can_still_be_published() -> None:
    info = TriggerInfo("m-1", "2026-12-01T00:00:00Z", "//test")
    result = Result(Outcome.REJECTED, "x\ud800y" * 400, "d", info, utc_now(), operation="\ud800")
    attributes = result.attributes()
    for value in attributes.values():
        assert len(value.encode("utf-8")) <= 1024
