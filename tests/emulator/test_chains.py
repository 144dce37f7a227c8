"""Chains that always finish: sweeps and named lists carried across messages never select
again what the chain answered, reach the work behind what Dataproc refuses, read a
listing too long for one delivery across several, and answer each target once, as
ours when we stopped it (issue 15, items 3 to 6 and "a stop we made is ours to report").

Each message of a chain runs through decode_trigger and handle_trigger against the
Dataproc emulator; its continuation is delivered next, as Pub/Sub would.
"""

from __future__ import annotations

from collections import Counter

import pytest

from canceller.chains import MAX_SKIPPED, InvalidChain, digest, parse_sweep_chain
from canceller.results import Outcome
from canceller.runtime import Runtime
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.dispatching import PROJECT, REGION, SCOPE, environ, follow_chain, handle


def op(op_id: str) -> str:
    return f"projects/{PROJECT}/regions/{REGION}/operations/{op_id}"


def job(job_id: str) -> str:
    return f"projects/{PROJECT}/regions/{REGION}/jobs/{job_id}"


def posts(admin: EmulatorAdmin) -> Counter[str]:
    return Counter(r["path"].rsplit("/", 1)[-1] for r in admin.requests() if r["method"] == "POST")


def test_a_sweep_chain_never_retries_what_dataproc_refused_and_reaches_the_younger_work(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    # 30 old operations whose cancel Dataproc refuses for good, then 10 younger ones.
    refused = [op(f"a-refused-{i:02}") for i in range(30)]
    younger = [op(f"z-young-{i:02}") for i in range(10)]
    admin.seed_operations([{"name": n, "onCancel": "unimplemented"} for n in refused])
    admin.advance_clock(5)
    admin.seed_operations([{"name": n, "cancelSeconds": 0} for n in younger])
    run = follow_chain(
        emulator,
        {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}},
        limit=20,
        MAX_CANCELS_PER_MESSAGE="8",
    )
    answered = Counter(run.targets())
    assert set(answered) == set(refused + younger)
    assert max(answered.values()) == 1  # each target answered once in the whole chain
    by_target = {r.target: r.outcome for r in run.results}
    assert all(by_target[n] is Outcome.UNIMPLEMENTED for n in refused)
    assert all(by_target[n] is Outcome.CANCELLED for n in younger)
    assert max(posts(admin).values()) == 1  # no doomed cancel repeated
    assert len(run.handled) == 5  # 40 targets, 8 a message; the last hands nothing on
    summaries = [r for r in run.results if r.outcome is Outcome.SWEEP_SUMMARY]
    assert len(summaries) == len(run.handled)
    assert {r.key for r in run.results if r.target} == {f"sweep-m-0/{n}" for n in answered}


def test_a_sweep_that_could_start_nothing_answers_and_asks_for_redelivery(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_operations([{"name": op(f"starved-{i}")} for i in range(3)])
    handled = handle(
        emulator,
        {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}},
        TRIGGER_TOPIC=f"projects/{PROJECT}/topics/triggers",
        DATAPROC_REQUESTS_PER_MINUTE="1",  # the listing takes the only slot
        RETRY_DEADLINE_SECONDS="2",
    )
    assert handled.continuation is None  # no copy of itself handed on
    assert handled.transient_failures and "confirmed no stop" in handled.transient_failures[0]
    (summary,) = handled.results
    assert summary.outcome is Outcome.SWEEP_SUMMARY
    assert "3 more NOT stopped" in summary.detail and "asked for again" in summary.detail
    assert posts(admin) == Counter()


def test_a_named_list_larger_than_the_request_budget_hands_on_only_what_it_did_not_start(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    names = [op(f"named-{i:02}") for i in range(24)]
    admin.seed_operations([{"name": n, "cancelSeconds": 0.2} for n in names])
    run = follow_chain(
        emulator,
        {"operations": names},
        limit=30,
        DATAPROC_REQUESTS_PER_MINUTE="40",  # 36 for reads and stops, 4 kept to verify
        RETRY_DEADLINE_SECONDS="2",
    )
    answered = Counter(run.targets())
    assert answered == Counter(names)  # every name exactly once over the chain
    assert all(r.outcome is Outcome.CANCELLED for r in run.results)  # ours, never ALREADY_DONE
    assert posts(admin) == Counter({f"{n.rsplit('/', 1)[-1]}:cancel": 1 for n in names})
    assert len(run.handled) > 1
    continuation = run.messages[1]
    assert set(continuation) == {"operations", "continuation"}
    assert continuation["continuation"] == {"chainId": "names-m-0", "generation": 1}
    assert set(continuation["operations"]) < set(names)
    assert {r.key for r in run.results} == {f"names-m-0/{n}" for n in names}


def test_a_message_that_could_start_nothing_asks_for_redelivery_not_a_copy_of_itself(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_operation(name=op("late"))
    runtime = Runtime(
        environ(
            emulator,
            TRIGGER_TOPIC=f"projects/{PROJECT}/topics/triggers",
            DATAPROC_REQUESTS_PER_MINUTE="2",
            RETRY_DEADLINE_SECONDS="1",
        )
    )
    handle(emulator, {"operations": [op("late")]}, runtime=runtime)  # spends the budget
    admin.clear_requests()
    handled = handle(emulator, {"operations": [op("late")]}, message_id="m-2", runtime=runtime)
    assert handled.results == [] and handled.continuation is None
    assert handled.transient_failures and "could not be answered" in handled.transient_failures[0]
    assert admin.requests() == []


def test_a_jobs_sweep_lists_only_active_jobs_so_a_long_history_costs_one_page(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_jobs([{"name": job(f"old-{i:05}"), "state": "DONE"} for i in range(3000)])
    admin.seed_job(name=job("runaway"), cancelSeconds=0)
    handled = handle(
        emulator,
        {"sweep": {"scopes": [SCOPE], "kinds": ["jobs"]}},
        DATAPROC_REQUESTS_PER_MINUTE="10",
    )
    by_target = {r.target: r.outcome for r in handled.results}
    assert by_target[job("runaway")] is Outcome.CANCELLED
    lists = [r for r in admin.requests() if r["method"] == "GET" and r["path"].endswith("/jobs")]
    assert len(lists) == 1 and lists[0]["query"].get("jobStateMatcher") == "ACTIVE"
    assert handled.results[-1].outcome is Outcome.SWEEP_SUMMARY


def test_a_listing_cut_short_is_carried_on_from_its_position_with_a_summary_each(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_operations([{"name": op(f"done-{i:04}"), "done": True} for i in range(1500)])
    admin.seed_operations([{"name": op(f"live-{i}"), "cancelSeconds": 0} for i in range(2)])
    sessions = [f"projects/{PROJECT}/locations/{REGION}/sessions/live-{i}" for i in range(2)]
    for name in sessions:
        admin.seed_session(name=name)
    admin.add_fault(method="GET", pathRegex="/sessions$", times=-1, action="status", status=503)
    sweep = {"sweep": {"scopes": [SCOPE], "kinds": ["operations", "sessions"]}}
    env = {"TRIGGER_TOPIC": f"projects/{PROJECT}/topics/triggers", "RETRY_DEADLINE_SECONDS": "4"}
    first = handle(emulator, sweep, VERIFY_TIMEOUT_SECONDS="2", **env)
    summary = first.results[-1].to_message()
    assert summary["outcome"] == "SWEEP_SUMMARY"
    assert summary["sweep"]["pages"] == 2 and summary["sweep"]["listingComplete"] is False
    assert "503" in summary["detail"] and first.transient_failures == []
    assert {r.target for r in first.results[:-1]} == {op("live-0"), op("live-1")}
    assert first.continuation is not None
    # It stopped work in this part of the listing, so the next message reads it again
    # (the listing shrank) before it moves on.
    carried = first.continuation.message["sweep"]["continuation"]
    assert carried == {"sweepId": "sweep-m-1", "generation": 1, "pages": 2}
    assert first.continuation.attributes() == {
        "continuation": "true",
        "chain": "sweep-m-1",
        "generation": "1",
    }

    admin.clear_faults()
    admin.clear_requests()
    run = follow_chain(
        emulator, first.continuation.message, limit=5, VERIFY_TIMEOUT_SECONDS="2", **env
    )
    again, last = run.handled[0], run.handled[-1]
    assert [r.outcome for r in again.results] == [Outcome.SWEEP_SUMMARY]  # nothing new
    assert again.continuation is not None
    moved = again.continuation.message["sweep"]["continuation"]["listFrom"]
    assert moved == {"scope": SCOPE, "kind": "sessions", "pageToken": ""}
    assert {r.target: r.outcome for r in last.results[:-1]} == dict.fromkeys(
        sessions, Outcome.CANCELLED
    )
    assert last.continuation is None and len(run.handled) == 2
    assert last.results[-1].to_message()["sweep"]["listingComplete"] is True
    assert {r.key for r in last.results[:-1]} == {f"sweep-m-1/{n}" for n in sessions}
    operation_pages = [r for r in admin.requests() if r["path"].endswith("/operations")]
    assert len(operation_pages) == 2  # the segment read once more, then left behind


def test_the_skip_list_is_digests_bounded_and_checked() -> None:
    names = [op(f"s-{i:04}") for i in range(MAX_SKIPPED)]
    chain = parse_sweep_chain(
        {"sweepId": "sweep-x", "generation": 2}, [digest(name) for name in names]
    )
    assert all(chain.answered(name) for name in names)
    assert not chain.answered(op("not-answered"))
    for refused in ([*chain.skip, digest(op("one-more"))], names[:1], ["0" * 15]):
        with pytest.raises(InvalidChain):
            parse_sweep_chain({"sweepId": "sweep-x", "generation": 2}, refused)
