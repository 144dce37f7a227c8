"""Reliability, end to end: Dataproc faults, Pub/Sub faults and concurrent messages.

One stack for the module: the Pub/Sub emulator, the Dataproc emulator and the function
under functions-framework (gunicorn, its default 8 threads), with a TcpProxy between
the function and Pub/Sub so the function's publishes can be refused or cut while the
push subscription and these tests' pulls stay direct.

Every message names one operation, so a delivery that Dataproc fails publishes nothing (there is
no other final result in it): each trigger must end with exactly one result, whether
retries absorbed the fault or Pub/Sub had to redeliver. The function's log says which
triggers it asked to be redelivered; that is checked against what each fault must cause.

A target's read and stop must fit in RETRY_DEADLINE_SECONDS = 2 s, retries included (its
stop is then watched for VERIFY_TIMEOUT_SECONDS = 1 s). Backoff sleeps are random in
[0, 0.25), [0, 0.5), [0, 1) s, so up to three quick faults always fit in it; a fault
outlasts it only if it costs time by itself: a ``Retry-After: 2`` (honoured) or a read
timeout (1 s each, three use 3 s).
"""

from __future__ import annotations

import concurrent.futures
import re
import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from local_stack import LocalStack, PubSubEmulator
from tests.support.reliability import (
    UNCONFIRMED_MARK,
    Inbox,
    ended_cancelled,
    redelivery_requests,
    stack_behind_proxy,
)
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

PROJECT, REGION = "relia-project", "us-central1"
FUNCTION_ENV = {
    "VERIFY_TIMEOUT_SECONDS": "1",
    "RETRY_DEADLINE_SECONDS": "2",
    "REQUEST_TIMEOUT_SECONDS": "1",  # below the 1.5 s delay faults: a read timeout
    "PUBLISH_TIMEOUT_SECONDS": "2",
    "ALLOWED_PROJECTS": PROJECT,
    # The request budget has tests of its own (tests/emulator/test_request_budget.py); at its
    # default of 600 a minute it would only stretch this suite's thousands of calls.
    "DATAPROC_REQUESTS_PER_MINUTE": "100000",
}
READ_TIMEOUT = {"action": "delay", "delaySeconds": 1.5}
ALREADY_CANCELLED = "the operation was already cancelled when this request first read it"
ANSWER_LOST = (
    "the operation ended before a stop of ours was accepted: the operation is done with "
    "error code 1 (CANCELLED); a stop of ours was sent but Dataproc's answer was lost"
)
REFUSED_AS_DONE = "the operation finished before the cancel arrived"


def op(op_id: str) -> str:
    return f"projects/{PROJECT}/regions/{REGION}/operations/{op_id}"


@dataclass(frozen=True)
class Env:
    stack: LocalStack
    proxy: TcpProxy
    inbox: Inbox


@pytest.fixture(scope="module")
def env(pubsub_emulator: PubSubEmulator) -> Iterator[Env]:
    with stack_behind_proxy(PROJECT, FUNCTION_ENV, pubsub_emulator) as (stack, proxy):
        inbox = Inbox(stack)  # one per module: results are sorted by trigger, none lost
        try:
            yield Env(stack, proxy, inbox)
        finally:
            inbox.admin.close()


@pytest.fixture
def clean(env: Env) -> Iterator[Env]:
    """Every Pub/Sub test starts and ends with the proxy passing through."""
    env.proxy.pass_through()
    env.inbox.admin.reset()
    yield env
    env.proxy.pass_through()


# -- Dataproc faults ---------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One fault (played ``times`` times on the operation's requests, then gone) and
    what it must come to."""

    id: str
    fault: dict[str, Any]
    times: int
    redelivered: bool  # the fault outlasts the 3 s budget of one delivery
    outcome: str = "CANCELLED"
    on_cancel_only: bool = False  # fault only the POST :cancel, not the GETs

    @property
    def op_id(self) -> str:
        return f"fm-{self.id}"

    def add_to(self, inbox: Inbox) -> None:
        if self.on_cancel_only:
            method, path = "POST", rf"/operations/{self.op_id}:cancel$"
        else:
            method, path = "*", rf"/operations/{self.op_id}(:cancel)?$"
        inbox.admin.add_fault(method=method, pathRegex=path, times=self.times, **self.fault)


def _status(code: int, retry_after: str | None = None) -> dict[str, Any]:
    fault: dict[str, Any] = {"action": "status", "status": code}
    if retry_after is not None:
        fault["retryAfter"] = retry_after
    return fault


CASES = [
    # Absorbed by the function's own retries: one delivery, one result.
    Case("429-retry-after", _status(429, "1"), 1, redelivered=False),
    *(Case(f"{code}", _status(code), 2, redelivered=False) for code in (500, 502, 503, 504)),
    Case("reset", {"action": "reset"}, 2, redelivered=False),
    Case("read-timeout", READ_TIMEOUT, 1, redelivered=False),
    Case("malformed-json", {"action": "malformed"}, 2, redelivered=False),
    Case("html-200", {"action": "html"}, 2, redelivered=False),
    Case("401-then-success", _status(401), 1, redelivered=False),
    Case("503-on-cancel", _status(503), 1, redelivered=False, on_cancel_only=True),
    # Outlasting the budget: the function answers 500, Pub/Sub redelivers, and the
    # redelivery meets the last of the fault and then the healed service.
    *(
        Case(f"{code}-outlasts", _status(code, "2"), 3, redelivered=True)
        for code in (429, 500, 502, 503, 504)
    ),
    Case("read-timeout-outlasts", READ_TIMEOUT, 3, redelivered=True),
    # The cancel reaches Dataproc but its answer never comes back in time: the delivery
    # that sent it keeps watching (a redelivery would read it stopped and call it
    # someone else's doing), sees it cancelled, and says the stop may have been its own.
    Case(
        "cancel-timeout-outlasts",
        READ_TIMEOUT,
        3,
        redelivered=False,
        outcome="ALREADY_DONE",
        on_cancel_only=True,
    ),
]


@dataclass
class Matrix:
    message_ids: dict[str, str] = field(default_factory=dict)  # case id -> trigger id
    requests: list[dict[str, Any]] = field(default_factory=list)  # the emulator's log
    redeliveries: Counter[str] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def matrix(env: Env) -> Matrix:
    """Play every case at once, each on its own operation, and collect what happened:
    cases do not interfere (a fault matches one operation's paths) and the module pays
    the longest case's time, not the sum."""
    admin = env.inbox.admin
    admin.reset()
    admin.seed_operations([{"name": op(case.op_id), "cancelSeconds": 0.2} for case in CASES])
    for case in CASES:
        case.add_to(env.inbox)
    run = Matrix()
    for case in CASES:
        body = {"operation": op(case.op_id), "requestId": case.id}
        run.message_ids[case.id] = env.inbox.publish(body)
    asked = {run.message_ids[case.id]: [op(case.op_id)] for case in CASES}
    env.inbox.wait_for(asked, timeout=60)
    env.inbox.drain(1.5)  # a redelivery would come ~1 s after a failed answer
    run.requests = admin.requests()
    run.redeliveries = redelivery_requests(env.stack)
    return run


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_dataproc_fault_ends_with_the_true_outcome(case: Case, matrix: Matrix, env: Env) -> None:
    message_id = matrix.message_ids[case.id]
    results = env.inbox.arrived(message_id)
    assert len(results) == 1, f"{case.id}: expected exactly one result, got {results}"
    (result,) = results
    assert (result["outcome"], result["operation"]) == (case.outcome, op(case.op_id))
    assert result["requestId"] == case.id
    assert ended_cancelled(result), result  # the operation's true fate: cancelled
    if case.outcome == "ALREADY_DONE":
        assert result["detail"].startswith(ANSWER_LOST), result["detail"]
        assert result["detail"].endswith("so it may have been ours"), result["detail"]

    redelivered = matrix.redeliveries[message_id] > 0
    assert redelivered == case.redelivered, (
        f"{case.id}: redelivery {'expected' if case.redelivered else 'not expected'}; "
        f"the function asked {matrix.redeliveries[message_id]} time(s)"
    )

    path = re.compile(rf"/operations/{case.op_id}(:cancel)?$")
    mine = [r for r in matrix.requests if path.search(r["path"])]
    faulted = [r for r in mine if r["fault"]]
    # Every fault really happened (the last read timeout on the cancel may find the
    # first delivery's budget spent; the redelivery then never needs to cancel again).
    assert len(faulted) == case.times or (case.id == "cancel-timeout-outlasts" and faulted)
    # Not acked without its result, and not answered before the fault cleared.
    finished = datetime.fromisoformat(result["finishedAt"]).timestamp()
    assert finished >= max(r["time"] for r in faulted)
    assert all(r["hasAuthorization"] for r in mine)
    cancels = [r for r in mine if r["method"] == "POST"]
    if case.id == "401-then-success":
        # The token was refreshed once and the same GET sent again, not backed off.
        assert [r["method"] for r in mine[:2]] == ["GET", "GET"] and len(cancels) == 1
    if not case.on_cancel_only:
        assert len(cancels) == 1  # faults before the cancel never make it repeat


# -- Pub/Sub faults ----------------------------------------------------------------


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.request.sendall(data)


def test_proxy_passes_resets_and_refuses_on_command() -> None:
    """The proxy itself, against an echo server: what each command does to a client."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    try:
        with TcpProxy(*server.server_address[:2]) as proxy:
            target = ("127.0.0.1", proxy.port)
            with socket.create_connection(target, timeout=5) as client:
                client.sendall(b"ping")
                assert client.recv(16) == b"ping"
                assert proxy.cut() == 1
                with pytest.raises(ConnectionResetError):  # RST, not an orderly close
                    client.sendall(b"again")
                    client.recv(16)
            assert proxy.refuse() == 0
            # The reset may already reach connect() on a busy machine, or only the read.
            with (
                pytest.raises(ConnectionResetError),
                socket.create_connection(target, timeout=5) as client,
            ):
                client.recv(16)
            proxy.refuse(stop_listening=True)
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(target, timeout=5)
            proxy.pass_through()
            with socket.create_connection(target, timeout=5) as client:
                client.sendall(b"back")
                assert client.recv(16) == b"back"
            stats = proxy.stats()
            assert (stats.accepted, stats.refused, stats.cut) == (2, 1, 1)
    finally:
        server.shutdown()
        server.server_close()


def _wait_for_log(stack: LocalStack, message_id: str, mark: str, count: int) -> None:
    """Until the function logged ``mark`` for that trigger ``count`` times (bounded)."""
    deadline = time.monotonic() + 45
    while redelivery_requests(stack, mark)[message_id] < count:
        assert time.monotonic() < deadline, f"no {count} x {mark!r} for {message_id}"
        time.sleep(0.2)


def _outage_then_recovery(
    env: Env, op_id: str, *, stop_listening: bool, failed_deliveries: int
) -> None:
    """Pub/Sub unreachable for the function until ``failed_deliveries`` deliveries could
    not confirm their result: nothing may be published (or acked) meanwhile; once the
    proxy passes again, exactly one result tells the operation's true state."""
    stack, proxy, inbox = env.stack, env.proxy, env.inbox
    inbox.admin.seed_operation(name=op(op_id), cancelSeconds=0)
    before = proxy.stats()
    proxy.refuse(stop_listening=stop_listening)
    message_id = inbox.publish({"operation": op(op_id), "requestId": op_id})
    _wait_for_log(stack, message_id, UNCONFIRMED_MARK, failed_deliveries)
    # What the first delivery saw stays in its log line: its own stop, CANCELLED.
    first = next(
        record
        for record in stack.function.json_log_records()
        if record.get("messageId") == message_id and UNCONFIRMED_MARK in record["message"]
    )
    assert first["unconfirmed"] == [f"CANCELLED names-{message_id}/{op(op_id)}"]
    inbox.drain(0.5)
    assert inbox.arrived(message_id) == []  # nothing got through while refused
    proxy.pass_through()
    during = proxy.stats()

    (result,) = inbox.results(message_id, 1, timeout=45)
    inbox.no_more(message_id, wait=1.5)
    # The first delivery cancelled it but could not say so; a later one read it done.
    assert (result["outcome"], result["detail"]) == ("ALREADY_DONE", ALREADY_CANCELLED)
    assert ended_cancelled(result) and result["requestId"] == op_id
    cancels = [r for r in inbox.admin.requests() if r["method"] == "POST"]
    assert len(cancels) == 1  # redeliveries only read; the cancel was sent once
    after = proxy.stats()
    assert after.accepted > during.accepted  # the publisher reconnected through the proxy
    if not stop_listening:
        assert during.refused > before.refused  # it did try, and was turned away


def test_publish_refused_is_redelivered_and_answered_once_it_passes(clean: Env) -> None:
    _outage_then_recovery(clean, "ps-refused", stop_listening=False, failed_deliveries=1)


def test_pubsub_down_for_a_while(clean: Env) -> None:
    """Pub/Sub 'down' for the function: the proxy stops listening (connect() is refused,
    as with an emulator that is not running) across several deliveries. Stopping the
    real emulator instead would also stop the push subscription and lose its messages,
    which is not the fault under test."""
    _outage_then_recovery(clean, "ps-down", stop_listening=True, failed_deliveries=2)


def test_cut_connection_is_reestablished_through_the_proxy(clean: Env) -> None:
    """gRPC keeps one HTTP/2 connection open: after a reset, the next publish must
    open a new one (through the proxy) and get through."""
    inbox, proxy = clean.inbox, clean.proxy
    inbox.admin.seed_operations(
        [{"name": op(f"cut-{n}"), "cancelSeconds": 0} for n in ("before", "after")]
    )
    first = inbox.result(inbox.publish(op("cut-before")))
    assert first["outcome"] == "CANCELLED"
    assert proxy.stats().active >= 1  # the publisher's connection is open
    before = proxy.stats()
    assert proxy.cut() >= 1

    message_id = inbox.publish(op("cut-after"))
    second = inbox.result(message_id, timeout=45)
    inbox.no_more(message_id, wait=1.0)
    assert ended_cancelled(second)
    assert proxy.stats().accepted > before.accepted


def test_lost_publish_acknowledgement_does_not_duplicate_the_result(clean: Env) -> None:
    """The result reaches Pub/Sub but the answer to the publish is lost: the proxy
    resets the connection instead of forwarding it. The function cannot know the result
    was stored; it must still end with one result per operation, or else ask Pub/Sub to
    redeliver, so that every duplicate coincides with a redelivery (docs/message-contract.md:
    "At least one result per target, and which one counts")."""
    inbox, proxy = clean.inbox, clean.proxy
    inbox.admin.seed_operations(
        [{"name": op(f"ack-{n}"), "cancelSeconds": 0} for n in ("before", "lost")]
    )
    assert ended_cancelled(inbox.result(inbox.publish(op("ack-before"))))
    before = proxy.stats()
    assert proxy.cut_at_next_reply() >= 1  # the publisher's open connection

    message_id = inbox.publish(op("ack-lost"))
    assert inbox.wait_for({message_id: [op("ack-lost")]}, timeout=45) == []
    inbox.drain(2.0)
    results = inbox.arrived(message_id)
    assert proxy.stats().cut > before.cut  # an answer from Pub/Sub was really lost
    assert all(ended_cancelled(result) for result in results), results
    redelivered = redelivery_requests(clean.stack)[message_id]
    assert len(results) == 1 or redelivered > 0, (
        f"{len(results)} results, identical: {all(r == results[0] for r in results)}, "
        f"but the trigger was not redelivered: the publisher sent the stored result again"
    )


# -- Concurrency -------------------------------------------------------------------


def test_simultaneous_messages_do_not_cross_talk(clean: Env) -> None:
    """50 triggers for one operation and 50 for 50 others, all at once, through the
    server's 8 threads, one shared Dataproc session and one publisher.

    For the shared operation, the first cancel to reach Dataproc starts it; it is done
    0.3 s later. A trigger whose GET saw it done says ALREADY_DONE (already cancelled); one
    whose cancel came before that says CANCELLED once it sees error code 1; one whose
    cancel came after is refused (FAILED_PRECONDITION) and, reading again, says
    ALREADY_DONE (finished before the cancel). So the cancels Dataproc received are
    exactly the CANCELLED answers plus the refused ones, and every answer says the same
    truth: done, error code 1."""
    inbox = clean.inbox
    shared = "cc-shared"
    others = [f"cc-{n:02d}" for n in range(50)]
    inbox.admin.seed_operations(
        [{"name": op(shared), "cancelSeconds": 0.3}]
        + [{"name": op(o), "cancelSeconds": 0.2} for o in others]
    )
    asks = [(op(shared), f"shared-{n:02d}") for n in range(50)]
    asks += [(op(o), f"other-{o}") for o in others]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(
            pool.map(lambda ask: inbox.publish({"operation": ask[0], "requestId": ask[1]}), asks)
        )
    asked = dict(zip(ids, asks, strict=True))
    assert inbox.wait_for({mid: [name] for mid, (name, _) in asked.items()}, timeout=90) == []
    inbox.drain(1.0)

    shared_results = []
    for message_id, (name, request_id) in asked.items():
        results = inbox.arrived(message_id)
        assert len(results) == 1, (request_id, results)
        (result,) = results
        # The right answer to the right question: nothing crossed between requests.
        assert (result["operation"], result["requestId"]) == (name, request_id)
        assert result["trigger"]["messageId"] == message_id
        assert result["state"]["batch"].endswith("/batches/" + name.rsplit("/", 1)[1])
        assert ended_cancelled(result), result
        if name == op(shared):
            shared_results.append(result)
        else:
            assert result["outcome"] == "CANCELLED"

    requests = inbox.admin.requests()
    assert all(r["hasAuthorization"] for r in requests)
    posts = Counter(r["path"].removeprefix("/v1/") for r in requests if r["method"] == "POST")
    assert all(posts[f"{op(o)}:cancel"] == 1 for o in others)
    outcomes = Counter(
        (r["outcome"], r["detail"].split(":")[0])
        for r in shared_results
        if r["outcome"] != "CANCELLED"
    )
    cancelled = sum(r["outcome"] == "CANCELLED" for r in shared_results)
    sent = posts[f"{op(shared)}:cancel"]
    print(f"\nshared operation: {cancelled} CANCELLED, {dict(outcomes)}, {sent} cancels sent")
    assert cancelled >= 1  # the first cancel always lands on a running operation
    assert set(outcomes) <= {("ALREADY_DONE", ALREADY_CANCELLED), ("ALREADY_DONE", REFUSED_AS_DONE)}
    assert sent == cancelled + outcomes["ALREADY_DONE", REFUSED_AS_DONE]
