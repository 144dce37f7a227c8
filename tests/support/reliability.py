"""What the reliability tests share: a stack whose function reaches Pub/Sub through a
proxy, and the function's own account (its log) of which triggers it asked Pub/Sub to
redeliver, against which duplicates and late answers are judged.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from local_stack import LocalStack, PubSubEmulator
from local_stack.ports import LOOPBACK
from tests.support.e2e import ResultInbox
from tests.support.tcp_proxy import TcpProxy

REDELIVERY_MARK = "asking for redelivery"  # both main.py's transient and publish failures
UNCONFIRMED_MARK = "results not confirmed"  # main.py: the publish was not confirmed


@contextmanager
def stack_behind_proxy(
    project: str, function_env: Mapping[str, str], pubsub: PubSubEmulator
) -> Iterator[tuple[LocalStack, TcpProxy]]:
    """A LocalStack on ``pubsub`` whose function publishes through a TcpProxy; the push
    subscription and the tests' pulls stay direct, so only the function's side of
    Pub/Sub is faulted."""
    with TcpProxy(LOOPBACK, pubsub.port) as proxy:
        env = {**function_env, "PUBSUB_EMULATOR_HOST": proxy.address}
        with LocalStack(project, function_env=env, pubsub=pubsub) as stack:
            yield stack, proxy


def redelivery_requests(stack: LocalStack, mark: str = REDELIVERY_MARK) -> Counter[str]:
    """How many times the function answered each trigger (by messageId) with an error so
    that Pub/Sub would deliver it again."""
    return Counter(
        str(record.get("messageId"))
        for record in stack.function.json_log_records()
        if mark in str(record.get("message", ""))
    )


def logged_results(stack: LocalStack) -> Counter[tuple[str, str]]:
    """Results the function logged, by (trigger messageId, operation): it logs each one
    after Pub/Sub confirmed it, once per delivery it handled to the end."""
    return Counter(
        (str(record.get("messageId")), str(record.get("operation")))
        for record in stack.function.json_log_records()
        if "outcome" in record
    )


def ended_cancelled(result: Mapping[str, Any]) -> bool:
    """The operation's fate as the result reports it: done with error code 1. Both
    CANCELLED and a redelivery's ALREADY_DONE tell that same truth."""
    state = result.get("state") or {}
    return (
        result.get("outcome") in ("CANCELLED", "ALREADY_DONE")
        and state.get("done") is True
        and state.get("errorCode") == 1
    )


class Inbox(ResultInbox):
    """ResultInbox for many triggers at once: wait for all of them, then read what
    arrived, duplicates included, without asserting an exact count per trigger (the
    tests decide what each count must be, and say why)."""

    def arrived(self, message_id: str) -> list[dict[str, Any]]:
        return list(self._by_trigger.get(message_id, []))

    def wait_for(self, asked: Mapping[str, Collection[str]], timeout: float) -> list[str]:
        """Pull until every trigger has a result for each operation it asked about (by
        messageId), or ``timeout`` passes; return the triggers still short of one."""
        deadline = time.monotonic() + timeout
        waiting = list(asked)
        while True:
            waiting = [mid for mid in waiting if not self._answered(mid, asked[mid])]
            if not waiting or time.monotonic() >= deadline:
                return waiting
            self._drain(0.5)

    def _answered(self, message_id: str, operations: Collection[str]) -> bool:
        return set(operations) <= {r["operation"] for r in self._by_trigger.get(message_id, [])}

    def drain(self, seconds: float) -> None:
        """Keep pulling for ``seconds``: late or duplicate results show up here."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self._drain(remaining)
