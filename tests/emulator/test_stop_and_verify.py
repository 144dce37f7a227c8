"""The engine against the local Dataproc emulator: every outcome, retries, faults
(operations; tests/emulator/test_stop_and_verify_jobs_and_sessions.py covers jobs,
sessions and the shared listing).

The client is the one production builds (Runtime with DATAPROC_EMULATOR_HOST): a real
AuthorizedSession over real HTTP. Nothing is mocked. Time is a FakeClock that the
emulator's clock follows (tests/support/fake_clock.py): the canceller's polls, backoffs
and windows, and the emulator's scripted delays, pass without waiting; only a fault's
delay and a request's timeout are real time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from canceller.clock import CallAllowance, Deadline
from canceller.dataproc import DataprocClient
from canceller.engine import CancelContext, stop_all
from canceller.names import ResourceName, parse_name
from canceller.results import Outcome, Result
from canceller.runtime import Runtime
from canceller.targets import Target
from canceller.trigger_info import TriggerInfo
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.emulator_time import followed_by
from tests.support.fake_clock import FakeClock

PROJECT, REGION = "demo-project", "us-central1"


def op_name(op_id: str) -> str:
    return f"projects/{PROJECT}/regions/{REGION}/operations/{op_id}"


@pytest.fixture
def clock(admin: EmulatorAdmin) -> Iterator[FakeClock]:
    with followed_by(admin) as clock:
        yield clock


def dataproc(emulator: DataprocEmulator, clock: FakeClock, timeout: str = "2") -> DataprocClient:
    environ = {
        "RESULTS_TOPIC": f"projects/{PROJECT}/topics/results",
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "DATAPROC_EMULATOR_HOST": emulator.base_url.removeprefix("http://"),
        "REQUEST_TIMEOUT_SECONDS": timeout,
    }
    return Runtime(environ, clock).dataproc()


@pytest.fixture
def client(emulator: DataprocEmulator, clock: FakeClock) -> DataprocClient:
    return dataproc(emulator, clock)


def context(
    client: DataprocClient,
    verify_timeout: float = 5.0,
    deadline: float = 20.0,
    dry_run: bool = False,
) -> CancelContext:
    """On the client's clock, as a message's context is on its runtime's."""
    return CancelContext(
        trigger=TriggerInfo("m-1", "2026-11-27T10:00:00Z", "//pubsub/test", kind="operation"),
        deadline=Deadline(deadline, clock=client.clock),
        verify_timeout=verify_timeout,
        dry_run=dry_run,
        max_concurrency=8,
    )


def run_one(client: DataprocClient, name: str, **kw: Any) -> Result:
    outcomes = stop_all(client, [Target(parse_name("operation", name))], context(client, **kw))
    assert outcomes.transient_failures == []
    assert len(outcomes.results) == 1
    return outcomes.results[0]


def calls(admin: EmulatorAdmin) -> list[str]:
    return [f"{r['method']} {r['path'].rsplit('/', 1)[-1]}" for r in admin.requests()]


def test_cancelled_after_a_delay(admin: EmulatorAdmin, client: DataprocClient) -> None:
    admin.seed_operation(name=op_name("op-1"), kind="batch", onCancel="cancel", cancelSeconds=0.4)
    result = run_one(client, op_name("op-1"))
    assert result.outcome is Outcome.CANCELLED
    assert result.state and result.state["errorCode"] == 1
    assert result.state["metadataType"] == "BatchOperationMetadata"
    assert result.to_message()["batch"].startswith(f"projects/{PROJECT}/locations/")
    seen = calls(admin)
    assert seen[:2] == ["GET op-1", "POST op-1:cancel"]
    assert seen.count("POST op-1:cancel") == 1
    assert len(seen) >= 4  # polled until done
    assert all(r["hasAuthorization"] for r in admin.requests())


def test_already_done_is_never_reported_as_cancelled(
    admin: EmulatorAdmin, client: DataprocClient
) -> None:
    admin.seed_operation(name=op_name("done"), done=True, result={"response": {"@type": "x"}})
    admin.seed_operation(
        name=op_name("was-cancelled"), done=True, result={"error": {"code": 1, "message": "c"}}
    )
    done = run_one(client, op_name("done"))
    assert done.outcome is Outcome.ALREADY_DONE
    assert "completed successfully" in done.detail
    cancelled_before = run_one(client, op_name("was-cancelled"))
    assert cancelled_before.outcome is Outcome.ALREADY_DONE
    assert "already cancelled" in cancelled_before.detail
    assert [c for c in calls(admin) if c.startswith("POST")] == []


@pytest.mark.parametrize(
    ("seed", "outcome", "fragment"),
    [
        (
            {"onCancel": "ignore", "completesAfterSeconds": 0.5},
            Outcome.COMPLETED_DESPITE_CANCEL,
            "completed successfully",
        ),
        (
            {
                "onCancel": "error",
                "cancelSeconds": 0.2,
                "cancelError": {"code": 13, "message": "x"},
            },
            Outcome.COMPLETED_DESPITE_CANCEL,
            "error code 13",
        ),
        ({"onCancel": "unimplemented"}, Outcome.UNIMPLEMENTED, "501 UNIMPLEMENTED"),
        (
            {"onCancel": "forbidden"},
            Outcome.PERMISSION_DENIED,
            "403 PERMISSION_DENIED while cancelling",
        ),
        ({"getForbidden": True}, Outcome.PERMISSION_DENIED, "while reading the operation"),
        ({"onCancel": "not_found"}, Outcome.NOT_FOUND, "404 NOT_FOUND while cancelling"),
    ],
)
def test_outcomes(
    admin: EmulatorAdmin,
    client: DataprocClient,
    seed: dict[str, Any],
    outcome: Outcome,
    fragment: str,
) -> None:
    admin.seed_operation(name=op_name("op-x"), **seed)
    result = run_one(client, op_name("op-x"))
    assert result.outcome is outcome
    assert fragment in result.detail
    if outcome in (Outcome.UNIMPLEMENTED, Outcome.PERMISSION_DENIED, Outcome.NOT_FOUND):
        assert result.error and result.error["httpStatus"] in (403, 404, 501)


def test_not_found_and_still_running(admin: EmulatorAdmin, client: DataprocClient) -> None:
    missing = run_one(client, op_name("never-seeded"))
    assert missing.outcome is Outcome.NOT_FOUND
    assert missing.error and missing.error["status"] == "NOT_FOUND"

    admin.seed_operation(name=op_name("stubborn"), onCancel="ignore")
    result = run_one(client, op_name("stubborn"), verify_timeout=0.6)
    assert result.outcome is Outcome.STILL_RUNNING
    assert result.state == {**result.state, "done": False}
    assert "0.6 s" in result.detail


@pytest.mark.parametrize(
    ("when_done", "outcome"),
    [
        ("failed_precondition", Outcome.ALREADY_DONE),
        ("silent", Outcome.COMPLETED_DESPITE_CANCEL),
    ],
)
def test_finishing_between_get_and_cancel(
    admin: EmulatorAdmin, client: DataprocClient, when_done: str, outcome: Outcome
) -> None:
    """Dataproc's answer to cancelling a done operation is unconfirmed; both are handled."""
    admin.seed_operation(name=op_name("racy"), completesAfterSeconds=0.2, cancelWhenDone=when_done)
    admin.add_fault(
        method="POST", pathRegex="racy:cancel$", times=1, action="delay", delaySeconds=0.4
    )
    result = run_one(client, op_name("racy"))
    assert result.outcome is outcome
    assert result.state and result.state["done"] is True


def test_dry_run_reads_but_never_cancels(admin: EmulatorAdmin, client: DataprocClient) -> None:
    admin.seed_operation(name=op_name("dry"))
    result = run_one(client, op_name("dry"), dry_run=True)
    assert result.outcome is Outcome.DRY_RUN
    assert result.to_message()["dryRun"] is True
    assert calls(admin) == ["GET dry"]


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "status", "status": 503, "retryAfter": "0.3"},
        {"action": "status", "status": 429, "retryAfter": "0"},
        {"action": "status", "status": 500},
        {"action": "status", "status": 502},
        {"action": "status", "status": 504},
        {"action": "drop"},
        {"action": "reset"},
        {"action": "malformed"},
        {"action": "html"},
    ],
)
def test_transient_faults_are_retried_to_the_true_outcome(
    admin: EmulatorAdmin, client: DataprocClient, fault: dict[str, Any]
) -> None:
    admin.seed_operation(name=op_name("flaky"), cancelSeconds=0.2)
    admin.add_fault(method="*", pathRegex="flaky(:cancel)?$", times=2, **fault)
    result = run_one(client, op_name("flaky"))
    assert result.outcome is Outcome.CANCELLED
    assert calls(admin).count("POST flaky:cancel") >= 1


def test_a_401_refreshes_the_token_once(admin: EmulatorAdmin, client: DataprocClient) -> None:
    admin.seed_operation(name=op_name("stale-token"), cancelSeconds=0)
    admin.add_fault(
        method="POST", pathRegex="stale-token:cancel$", times=1, action="status", status=401
    )
    assert run_one(client, op_name("stale-token")).outcome is Outcome.CANCELLED
    assert calls(admin)[:3] == [
        "GET stale-token",
        "POST stale-token:cancel",
        "POST stale-token:cancel",
    ]

    admin.seed_operation(name=op_name("revoked"))
    admin.add_fault(
        method="POST", pathRegex="revoked:cancel$", times=-1, action="status", status=401
    )
    revoked = run_one(client, op_name("revoked"))
    assert revoked.outcome is Outcome.ERROR
    assert revoked.error and revoked.error["httpStatus"] == 401
    assert calls(admin).count("POST revoked:cancel") == 2  # the original and one retry


def test_retry_after_is_honoured(
    admin: EmulatorAdmin, client: DataprocClient, clock: FakeClock
) -> None:
    admin.seed_operation(name=op_name("slow-down"), cancelSeconds=0)
    admin.add_fault(
        method="GET", pathRegex="slow-down$", times=1, action="status", status=429, retryAfter="1"
    )
    run_one(client, op_name("slow-down"))
    assert calls(admin)[:2] == ["GET slow-down", "GET slow-down"]
    assert clock.sleeps[0] == 1.0  # between them, and longer than the backoff's 0.25 at most


def test_read_timeout_is_retried(
    admin: EmulatorAdmin, emulator: DataprocEmulator, clock: FakeClock
) -> None:
    """In real time: the request's timeout (0.3 s) and the fault's delay (1 s) are."""
    client = dataproc(emulator, clock, timeout="0.3")
    admin.seed_operation(name=op_name("sluggish"), cancelSeconds=0)
    admin.add_fault(method="GET", pathRegex="sluggish$", times=1, action="delay", delaySeconds=1)
    assert run_one(client, op_name("sluggish")).outcome is Outcome.CANCELLED


def test_a_fault_that_outlasts_the_deadline_asks_for_redelivery(
    admin: EmulatorAdmin, client: DataprocClient
) -> None:
    admin.seed_operation(name=op_name("down"))
    admin.add_fault(method="*", pathRegex="down", times=-1, action="status", status=503)
    outcomes = stop_all(
        client,
        [Target(parse_name("operation", op_name("down")))],
        context(client, verify_timeout=5.0, deadline=6.0),  # 1 s to start it
    )
    assert outcomes.results == []
    assert len(outcomes.transient_failures) == 1
    assert "503" in outcomes.transient_failures[0]
    assert "POST down:cancel" not in calls(admin)


def test_many_operations_are_cancelled_concurrently_and_each_answered(
    admin: EmulatorAdmin, client: DataprocClient
) -> None:
    names = [op_name(f"bulk-{i}") for i in range(30)]
    admin.seed_operations(
        [{"name": n, "cancelSeconds": 0.5} for n in names[:25]]
        + [{"name": n, "done": True} for n in names[25:]]
    )
    targets = [Target(parse_name("operation", n)) for n in names]
    outcomes = stop_all(client, targets, context(client))
    by_name = {r.operation: r.outcome for r in outcomes.results}
    assert len(outcomes.results) == 30
    assert all(by_name[n] is Outcome.CANCELLED for n in names[:25])
    assert all(by_name[n] is Outcome.ALREADY_DONE for n in names[25:])
    cancels = [c for c in calls(admin) if c.startswith("POST")]
    assert len(cancels) == 25


def test_results_carry_the_name_parts() -> None:
    name = ResourceName("operation", PROJECT, REGION, "x")
    info = TriggerInfo("m", "2026-01-01T00:00:00Z", "s", reason="why", request_id="r")
    from canceller.clock import utc_now

    message = Result(
        Outcome.CANCELLED,
        name.name,
        "d",
        info,
        utc_now(),
        "operation",
        name=name,
        operation=name.name,
    ).to_message()
    assert (message["project"], message["region"], message["operationId"]) == (PROJECT, REGION, "x")
    assert (message["reason"], message["requestId"]) == ("why", "r")
    assert (message["kind"], message["target"], message["operation"]) == (
        "operation",
        name.name,
        name.name,
    )


def test_a_message_never_makes_more_calls_than_its_allowance(
    admin: EmulatorAdmin, client: DataprocClient
) -> None:
    """What is past the allowance is handed on; stops already sent are still verified."""
    names = [f"projects/{PROJECT}/regions/{REGION}/operations/allowance-{i}" for i in range(5)]
    admin.seed_operations([{"name": n, "cancelSeconds": 0.2} for n in names])
    context = CancelContext(
        trigger=TriggerInfo("m-1", "2026-11-27T10:00:00Z", "//pubsub/test", kind="operation"),
        deadline=Deadline(20, CallAllowance(5), clock=client.clock),
        verify_timeout=5,
        dry_run=False,
        max_concurrency=1,
    )
    outcomes = stop_all(
        client, [Target(parse_name("operation", n)) for n in names], context, hand_on_late=True
    )
    assert [r.outcome for r in outcomes.results] == [Outcome.CANCELLED] * 2
    assert [t.name.name for t in outcomes.unstarted] == names[2:]
    unverified = [
        r for r in admin.requests() if r["method"] == "POST" or "allowance-2" in r["path"]
    ]
    assert len(unverified) == 3  # 2 stops, and the third target's read: 5 calls to start work


def test_a_stop_that_could_not_be_watched_for_its_window_is_not_started(
    admin: EmulatorAdmin, client: DataprocClient
) -> None:
    """Started with the deadline nearly spent, a stop would be watched for a moment and
    reported STILL_RUNNING: it is not started, and the message is redelivered."""
    admin.seed_operation(name=op_name("late"))
    outcomes = stop_all(
        client,
        [Target(parse_name("operation", op_name("late")))],
        context(client, verify_timeout=5.0, deadline=4.0),
    )
    assert outcomes.results == [] and admin.requests() == []
    assert (
        outcomes.transient_failures
        and "no time left to watch a stop" in outcomes.transient_failures[0]
    )
