"""Chains and stops at the limits an unlucky operator meets, each found by an adversarial
review and reproduced here first: a request budget already spent, a listing of running
work that shrinks between messages, a stop whose answer never comes, a stop refused
again and again beside stops that land, a server that pages forever or redirects
elsewhere, a message that contradicts itself, rejections that look alike."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from canceller import sweeps
from canceller.results import Outcome
from canceller.runtime import Runtime
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.dispatching import PROJECT, REGION, SCOPE, environ, follow_chain, handle
from tests.support.emulator_time import followed_by
from tests.support.scripted_server import scripted_server

TRIGGERS = f"projects/{PROJECT}/topics/triggers"
BATCH_METADATA = "type.googleapis.com/google.cloud.dataproc.v1.BatchOperationMetadata"


def op(op_id: str) -> str:
    return f"projects/{PROJECT}/regions/{REGION}/operations/{op_id}"


def job(job_id: str) -> str:
    return f"projects/{PROJECT}/regions/{REGION}/jobs/{job_id}"


def test_a_sweep_that_finds_the_budget_spent_asks_for_redelivery_not_silence(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """A budget alert arriving after other messages spent the instance's minute must not
    be acked with nothing done."""
    admin.seed_operations([{"name": op(f"busy-{i}"), "cancelSeconds": 0} for i in range(9)])
    admin.seed_operation(name=op("runaway"))
    runtime = Runtime(
        environ(
            emulator,
            TRIGGER_TOPIC=TRIGGERS,
            DATAPROC_REQUESTS_PER_MINUTE="20",
            RETRY_DEADLINE_SECONDS="2",
        )
    )
    handle(emulator, {"operations": [op(f"busy-{i}") for i in range(9)]}, runtime=runtime)
    sweep = handle(
        emulator,
        {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}},
        message_id="m-2",
        runtime=runtime,
    )
    (summary,) = sweep.results
    assert summary.outcome is Outcome.SWEEP_SUMMARY
    assert summary.to_message()["sweep"]["listingComplete"] is False
    assert sweep.transient_failures and "could not list further" in sweep.transient_failures[0]
    assert sweep.continuation is None


def test_a_listing_that_shrinks_between_messages_skips_nothing(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """Jobs are listed ACTIVE, so a page read again after a message stopped 500 of them
    holds other jobs: every running job is still reached, and each answered once."""
    jobs = [{"name": job(f"j{i:05}"), "submittedSecondsAgo": 100 + i} for i in range(1100)]
    admin.seed_jobs(jobs)  # listed in seeding order: newest first
    run = follow_chain(
        emulator,
        {"sweep": {"scopes": [SCOPE], "kinds": ["jobs"]}},
        limit=10,
        DATAPROC_REQUESTS_PER_MINUTE="1",  # one listing page a message
        DATAPROC_JOB_CANCELS_PER_MINUTE="100000",
        DATAPROC_PROJECT_REQUESTS_PER_MINUTE="300000",
        RETRY_DEADLINE_SECONDS="4",
        VERIFY_TIMEOUT_SECONDS="1",
    )
    answered = Counter(run.targets())
    assert answered == Counter(j["name"] for j in jobs)
    assert run.handled[-1].continuation is None
    cancels = Counter(r["path"] for r in admin.requests() if r["method"] == "POST")
    assert len(cancels) == 1100 and set(cancels.values()) == {1}


def test_a_sweep_answers_a_stop_whose_answer_never_came(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """The cancel lands but every answer times out, and the operation ends only later:
    the sweep says so in the message that sent it (a continuation would not select it,
    as it no longer runs)."""
    admin.seed_operation(name=op("lost"), cancelSeconds=8)  # ends long after its window
    admin.seed_operation(name=op("other"), cancelSeconds=0)
    admin.add_fault(
        method="POST", pathRegex="lost:cancel$", times=-1, action="delay", delaySeconds=1.5
    )
    run = follow_chain(
        emulator,
        {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}},
        limit=3,
        REQUEST_TIMEOUT_SECONDS="1",
        RETRY_DEADLINE_SECONDS="3",
        VERIFY_TIMEOUT_SECONDS="2",
    )
    lost = [r for r in run.results if r.target == op("lost")]
    assert [r.outcome for r in lost] == [Outcome.ERROR]
    assert "no stop of ours was confirmed" in lost[0].detail
    assert {r.target: r.outcome for r in run.results}[op("other")] is Outcome.CANCELLED


def test_a_stop_refused_again_and_again_does_not_hold_up_the_others(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """A stop sent again from a check is one attempt: a cancel that keeps answering 503
    must not block the round in which twenty others are seen to end."""
    admin.seed_operation(name=op("a-flaky"))
    admin.seed_operations([{"name": op(f"s{i:02}"), "cancelSeconds": 1} for i in range(20)])
    admin.add_fault(method="POST", pathRegex="a-flaky:cancel$", times=-1, status=503)
    with followed_by(admin) as clock:  # the 10 s window waited out on a fake clock
        env = environ(
            emulator,
            TRIGGER_TOPIC=TRIGGERS,
            RETRY_DEADLINE_SECONDS="2",
            VERIFY_TIMEOUT_SECONDS="10",
        )
        handled = handle(
            emulator,
            {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}},
            runtime=Runtime(env, clock),
        )
    outcomes = Counter(r.outcome for r in handled.results if r.target)
    assert outcomes == Counter({Outcome.CANCELLED: 20, Outcome.ERROR: 1})


def test_a_named_stop_never_confirmed_is_handed_on_marked_attempted(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """Every answer to a named operation's cancel is lost and it keeps running: no result
    yet, and the continuation marks it as attempted."""
    admin.seed_operation(name=op("slow"), onCancel="ignore")
    admin.add_fault(
        method="POST", pathRegex="slow:cancel$", times=-1, action="delay", delaySeconds=1.5
    )
    handled = handle(
        emulator,
        {"operations": [op("slow")]},
        TRIGGER_TOPIC=TRIGGERS,
        REQUEST_TIMEOUT_SECONDS="1",
        RETRY_DEADLINE_SECONDS="1.2",
        VERIFY_TIMEOUT_SECONDS="0.5",
    )
    assert handled.results == [] and handled.transient_failures == []
    assert handled.continuation is not None
    carried = handled.continuation.message["continuation"]
    assert carried == {"chainId": "names-m-1", "generation": 1, "attempted": [op("slow")]}


def test_our_stop_whose_answer_was_lost_is_not_told_as_someone_elses(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """The continuation finds the attempted operation cancelled: not called someone
    else's doing, and answered under the chain's dedupe key."""
    admin.seed_operation(name=op("slow"), done=True, result={"error": {"code": 1}})
    continuation = {
        "operations": [op("slow")],
        "continuation": {"chainId": "names-m-1", "generation": 1, "attempted": [op("slow")]},
    }
    (result,) = handle(emulator, continuation, message_id="m-2").results
    assert result.outcome is Outcome.ALREADY_DONE
    assert "may have been ours" in result.detail
    assert result.key == f"names-m-1/{op('slow')}"


def _pager(mode: str) -> Any:
    done = {"done": True, "response": {}, "metadata": {"@type": BATCH_METADATA}}

    def answer(method: str, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if not path.endswith("/operations"):
            return 404, {}, {"error": {"code": 404, "status": "NOT_FOUND", "message": "no"}}
        token = query.get("pageToken") or "0"
        page = int(token) + 1 if token.isdigit() else 1
        body: dict[str, Any] = {"operations": [{**done, "name": op(f"old-{page}")}]}
        body["nextPageToken"] = "same" if mode == "loop" else str(page)
        return 200, {}, body

    return answer


def test_a_server_that_repeats_a_page_token_ends_the_listing_not_complete() -> None:
    with scripted_server(_pager("loop")) as server:
        handled = handle(
            server,
            {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}},
            TRIGGER_TOPIC=TRIGGERS,
        )
        assert len(server.requests) == 2
    (summary,) = handled.results
    assert summary.to_message()["sweep"]["listingComplete"] is False
    assert "the same page token came back" in summary.detail
    assert handled.continuation is None and handled.transient_failures == []


def test_a_listing_stops_when_its_time_is_up_and_carries_on_from_there() -> None:
    """A server that pages on and on: one message lists only for its share of the time
    (never past the function's timeout) and hands the position on."""
    with scripted_server(_pager("forever")) as server:
        handled = handle(
            server,
            {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}},
            TRIGGER_TOPIC=TRIGGERS,
            RETRY_DEADLINE_SECONDS="1",
            VERIFY_TIMEOUT_SECONDS="1",
        )
        pages = len(server.requests)
    (summary,) = handled.results
    fields = summary.to_message()["sweep"]
    assert fields["pages"] == pages and fields["listingComplete"] is False
    assert "no time left to list further" in summary.detail
    assert handled.continuation is not None
    position = handled.continuation.message["sweep"]["continuation"]["listFrom"]
    assert position["pageToken"] == str(pages)


def test_a_redirect_is_an_answer_never_followed() -> None:
    def answer(method: str, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        return 307, {"Location": f"http://127.0.0.2:9/steal{path}"}, None

    with scripted_server(answer) as server:
        handled = handle(server, {"operation": op("x")})
        assert len(server.requests) == 1
    (result,) = handled.results
    assert result.outcome is Outcome.ERROR and "307" in result.detail


def test_a_message_that_contradicts_itself_on_dry_run_is_rejected(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_job(name=job("etl"))
    handled = handle(
        emulator, {"dryRun": True, "sweep": {"scopes": [SCOPE], "kinds": ["jobs"], "dryRun": False}}
    )
    (result,) = handled.results
    assert result.outcome is Outcome.REJECTED and "disagree" in result.detail
    assert admin.requests() == []


def test_rejections_that_look_alike_keep_their_own_dedupe_keys(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    names = [f"projects/{'a' * 600}{i}" for i in range(20)]  # clipped to the same text
    handled = handle(emulator, {"operations": names})
    assert len({r.target for r in handled.results}) == 1
    assert len({r.key for r in handled.results}) == 20


def test_our_stop_seen_stopping_after_its_answer_was_lost_is_ours_and_not_redelivered(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """The cancel's answer times out, yet the job goes CANCEL_PENDING: that is our stop
    landing, watched to the end of its window and said, not redelivered (a redelivery
    would find it stopped and call it someone else's)."""
    admin.seed_job(name=job("slow-cancel"), cancelSeconds=30)
    admin.add_fault(
        method="POST", pathRegex="slow-cancel:cancel$", times=-1, action="delay", delaySeconds=1.5
    )
    handled = handle(
        emulator,
        {"jobs": [job("slow-cancel")]},  # no TRIGGER_TOPIC: nothing could be handed on
        REQUEST_TIMEOUT_SECONDS="1",
        RETRY_DEADLINE_SECONDS="2",
        VERIFY_TIMEOUT_SECONDS="2",
    )
    assert handled.transient_failures == []
    (result,) = handled.results
    assert result.outcome is Outcome.STILL_RUNNING
    assert "CANCEL_PENDING" in result.detail and "this stop may be ours" in result.detail


def _offset_paged_jobs(jobs: dict[str, str], flaky: list[bool]) -> Any:
    """jobs.list whose page token is an offset into the ACTIVE listing, two a page; the
    second page answers 503 while ``flaky[0]``."""
    base = f"/v1/projects/{PROJECT}/regions/{REGION}/jobs"

    def body(job_id: str) -> dict[str, Any]:
        started = f"2026-01-01T00:00:0{job_id[1]}Z"
        return {
            "reference": {"projectId": PROJECT, "jobId": job_id},
            "placement": {"clusterName": "c"},
            "status": {"state": jobs[job_id], "stateStartTime": started},
            "statusHistory": [{"state": "PENDING", "stateStartTime": started}],
        }

    def answer(method: str, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if method == "GET" and path == base:
            offset = int(query.get("pageToken") or 0)
            if offset and flaky[0]:
                return 503, {}, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "x"}}
            active = [j for j in sorted(jobs) if jobs[j] == "RUNNING"]
            page: dict[str, Any] = {"jobs": [body(j) for j in active[offset : offset + 2]]}
            if offset + 2 < len(active):
                page["nextPageToken"] = str(offset + 2)
            return 200, {}, page
        job_id = path.rsplit("/", 1)[-1].removesuffix(":cancel")
        if path.endswith(":cancel"):
            jobs[job_id] = "CANCELLED"
        return 200, {}, body(job_id)

    return answer


def test_a_segment_boundary_skips_nothing_when_page_tokens_are_offsets() -> None:
    """Message 0 reads page 1 only (page 2 fails), stops its jobs and hands on; the
    listing then shrinks by two, so page 2's old token would skip two jobs: the chain
    reads the segment again before it moves on, and every job is stopped."""
    jobs = {f"j{i}": "RUNNING" for i in range(6)}
    flaky = [True]
    sweep = {"sweep": {"scopes": [SCOPE], "kinds": ["jobs"]}}
    env = {"TRIGGER_TOPIC": TRIGGERS, "RETRY_DEADLINE_SECONDS": "3", "VERIFY_TIMEOUT_SECONDS": "1"}
    with scripted_server(_offset_paged_jobs(jobs, flaky)) as server:
        first = handle(server, sweep, **env)
        assert first.continuation is not None
        flaky[0] = False
        run = follow_chain(server, first.continuation.message, limit=10, redeliver=True, **env)
    told = [
        ([f"{r.outcome.value} {r.target[-2:]}" for r in h.results], h.transient_failures[:1])
        for h in (first, *run.handled)
    ]
    assert [state for state in jobs.values()] == ["CANCELLED"] * 6, told
    assert run.handled[-1].continuation is None
    answered = Counter([*(r.target for r in first.results if r.target), *run.targets()])
    assert answered == Counter(job(j) for j in jobs)


def test_a_sweep_that_made_progress_is_not_redelivered_so_max_holds(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    """Without TRIGGER_TOPIC, a sweep that stopped some but ran out of budget for the
    rest says so and is acked: a redelivery would apply max again."""
    admin.seed_jobs([{"name": job(f"j{i}"), "submittedSecondsAgo": 100 - i} for i in range(6)])
    handled = handle(
        emulator,
        {"sweep": {"scopes": [SCOPE], "kinds": ["jobs"], "max": 3}},
        DATAPROC_JOB_CANCELS_PER_MINUTE="2",
        RETRY_DEADLINE_SECONDS="2",
    )
    assert handled.transient_failures == []
    stopped = [r.target for r in handled.results if r.outcome is Outcome.CANCELLED]
    assert sorted(stopped) == [job("j0"), job("j1")]  # stops finish in any order
    summary = handled.results[-1]
    assert summary.to_message()["sweep"]["acted"] == 2
    assert "1 more NOT stopped" in summary.detail


def test_a_chain_with_more_still_running_answers_than_it_can_carry_ends_saying_so(
    admin: EmulatorAdmin, emulator: DataprocEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused stops stay running: past what a continuation carries they would be
    answered again and again, so the chain ends, each answered once."""
    monkeypatch.setattr(sweeps, "MAX_SKIPPED", 5)
    admin.seed_operations(
        [{"name": op(f"r{i:02}"), "onCancel": "unimplemented"} for i in range(12)]
    )
    run = follow_chain(
        emulator,
        {"sweep": {"scopes": [SCOPE], "kinds": ["operations"]}},
        limit=10,
        MAX_CANCELS_PER_MESSAGE="4",
    )
    assert len(run.handled) == 2
    assert max(Counter(run.targets()).values()) == 1
    last = run.results[-1]
    assert "more than the 5 a continuation carries" in last.detail
    assert "4 more NOT stopped" in last.detail
