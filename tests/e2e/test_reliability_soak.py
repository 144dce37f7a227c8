"""Soak: 1,000 messages with transient faults on both sides, end to end.

About 10 % of the operations get a transient Dataproc fault (any kind the fault matrix
covers, played 1 to 3 times), and the proxy between the function and Pub/Sub resets
the publisher's connection at random moments, at most once per 10 messages. The plan
(which operations, which faults, the gaps between cuts) comes from
``random.Random(SEED)``; where a cut lands in the traffic depends on timing.

What must hold: every operation of every message ends with a result on the results
topic (none lost), and each says the truth (done, error code 1); a (trigger messageId,
operation) pair is answered more than once only if Pub/Sub really delivered that
trigger again (the function asked for it, or handled it twice), which is how a consumer
can deduplicate. The counts are printed (pytest -s shows them).
"""

from __future__ import annotations

import concurrent.futures
import random
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack import LocalStack, PubSubEmulator
from tests.support.reliability import (
    Inbox,
    ended_cancelled,
    logged_results,
    redelivery_requests,
    stack_behind_proxy,
)
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.long]

SEED = 1234
PROJECT, REGION = "soak-project", "us-central1"
MESSAGES, LISTS, LIST_SIZE = 1000, 20, 5
FAULT_RATE = 0.10
MAX_CUTS = MESSAGES // 10
CUT_GAP_SECONDS = (0.05, 0.6)  # uniform: ~100 cuts spread over the ~30 s of processing
RESULT_TIMEOUT_SECONDS = 120
FUNCTION_ENV = {
    "VERIFY_TIMEOUT_SECONDS": "2",
    "RETRY_DEADLINE_SECONDS": "1",
    "REQUEST_TIMEOUT_SECONDS": "1",
    "PUBLISH_TIMEOUT_SECONDS": "2",
    "ALLOWED_PROJECTS": PROJECT,
    # The request budget has tests of its own (tests/emulator/test_request_budget.py); at its
    # default of 600 a minute it would only stretch this suite's thousands of calls.
    "DATAPROC_REQUESTS_PER_MINUTE": "100000",
}
# Transient faults only: each clears by itself after ``times`` requests. A 401 is
# played once because the function refreshes its token once; a second is an answer.
FAULTS: list[tuple[dict[str, Any], int | None]] = [
    ({"action": "status", "status": 429, "retryAfter": "1"}, None),
    ({"action": "status", "status": 429, "retryAfter": "2"}, None),  # 3 outlast the budget
    ({"action": "status", "status": 500}, None),
    ({"action": "status", "status": 502}, None),
    ({"action": "status", "status": 503, "retryAfter": "1"}, None),
    ({"action": "status", "status": 504}, None),
    ({"action": "reset"}, None),
    ({"action": "delay", "delaySeconds": 1.5}, None),  # a read timeout; 3 outlast the budget
    ({"action": "malformed"}, None),
    ({"action": "html"}, None),
    ({"action": "status", "status": 401}, 1),
]


def op(op_id: str) -> str:
    return f"projects/{PROJECT}/regions/{REGION}/operations/{op_id}"


@pytest.fixture(scope="module")
def stack_and_proxy(pubsub_emulator: PubSubEmulator) -> Iterator[tuple[LocalStack, TcpProxy]]:
    with stack_behind_proxy(PROJECT, FUNCTION_ENV, pubsub_emulator) as running:
        yield running


class Cutter(threading.Thread):
    """Resets the publisher's connection(s) at random moments until told to stop."""

    def __init__(self, proxy: TcpProxy, rng: random.Random) -> None:
        super().__init__(name="soak-cutter", daemon=True)
        self._proxy = proxy
        self._rng = rng
        self.stopped = threading.Event()
        self.cuts = 0  # cuts that reset at least one connection
        self.connections = 0

    def run(self) -> None:
        for _ in range(MAX_CUTS):
            if self.stopped.wait(self._rng.uniform(*CUT_GAP_SECONDS)):
                return
            reset = self._proxy.cut()
            self.cuts += int(reset > 0)
            self.connections += reset


def test_soak_every_message_gets_its_true_result(
    stack_and_proxy: tuple[LocalStack, TcpProxy],
) -> None:
    stack, proxy = stack_and_proxy
    inbox = Inbox(stack)
    rng = random.Random(SEED)
    singles = [[f"s-{n:04d}"] for n in range(MESSAGES - LISTS)]
    lists = [[f"l-{n:02d}-{k}" for k in range(LIST_SIZE)] for n in range(LISTS)]
    messages = singles + lists
    rng.shuffle(messages)
    op_ids = [op_id for message in messages for op_id in message]
    inbox.admin.seed_operations([{"name": op(op_id), "cancelSeconds": 0} for op_id in op_ids])
    planned = 0
    for op_id in op_ids:
        if rng.random() < FAULT_RATE:
            fault, times = rng.choice(FAULTS)
            path = rf"/operations/{op_id}(:cancel)?$"
            inbox.admin.add_fault(
                method="*", pathRegex=path, times=times or rng.randint(1, 3), **fault
            )
            planned += 1

    def publish(message: list[str]) -> str:
        if len(message) == 1:
            return inbox.publish(op(message[0]))
        return inbox.publish({"operations": [op(op_id) for op_id in message]})

    cutter = Cutter(proxy, rng)
    cutter.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            ids = list(pool.map(publish, messages))
        asked = {
            mid: {op(op_id) for op_id in message}
            for mid, message in zip(ids, messages, strict=True)
        }
        unanswered = inbox.wait_for(asked, timeout=RESULT_TIMEOUT_SECONDS)
    finally:
        cutter.stopped.set()
        cutter.join()
    inbox.drain(2.0)  # late duplicates, if any, arrive now

    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for message_id in ids:
        for result in inbox.arrived(message_id):
            by_pair[message_id, result["operation"]].append(result)
    redelivered = redelivery_requests(stack)
    handled = logged_results(stack)
    duplicates = {pair: found for pair, found in by_pair.items() if len(found) > 1}
    # A pair may be answered again only if its trigger was delivered again: the
    # function asked for it, or handled (and logged) that operation more than once.
    unexplained = {
        pair: found
        for pair, found in duplicates.items()
        if redelivered[pair[0]] == 0 and handled[pair] < 2
    }
    requests = inbox.admin.requests()
    stats = proxy.stats()
    print(
        f"\nsoak: {len(ids)} messages ({LISTS} lists of {LIST_SIZE}), {len(op_ids)} operations; "
        f"{sum(map(len, by_pair.values()))} results for {len(by_pair)} (trigger, operation) "
        f"pairs, {len(unanswered)} triggers not fully answered; "
        f"{sum(len(found) - 1 for found in duplicates.values())} duplicates over "
        f"{len(duplicates)} pairs, {len(unexplained)} of them without a redelivery; "
        f"{len(redelivered)} triggers redelivered ({sum(redelivered.values())} requests); "
        f"faults: {planned} Dataproc faults planned, "
        f"{sum(1 for r in requests if r['fault'])} faulted requests, "
        f"{cutter.cuts} Pub/Sub cuts ({cutter.connections} connections reset); "
        f"proxy accepted {stats.accepted} connections"
    )
    inbox.admin.close()

    assert unanswered == []
    lost = [(m, o) for m, ops in asked.items() for o in ops if (m, o) not in by_pair]
    assert lost == []
    for (message_id, operation), found in by_pair.items():
        assert operation in asked[message_id], found  # nothing crossed between triggers
        assert all(ended_cancelled(result) for result in found), found  # the true state
    # The same payload twice from one handling: a publish whose acknowledgement a cut
    # lost, retried by the publisher, is stored twice by Pub/Sub.
    republished = [pair for pair, found in unexplained.items() if _one_payload(found)]
    assert not unexplained, (
        f"{len(unexplained)} (trigger, operation) pairs were answered more than once "
        f"although Pub/Sub delivered their trigger once; {len(republished)} of them are "
        f"one payload published twice; e.g. {next(iter(unexplained.items()))}"
    )


def _one_payload(results: list[dict[str, Any]]) -> bool:
    """Identical bodies (to the microsecond of finishedAt) come from one publish call."""
    return all(result == results[0] for result in results)
