"""Publish and pull through the Pub/Sub emulator's REST API, as directly as the emulator allows.

The benchmarks time "published -> pulled". Results are pulled with a blocking pull
(no ``returnImmediately``), which the emulator answers once a message is there, but
only at its next internal check: measured here, 15-90 ms (median 40 ms) after the
publish was confirmed; its streaming pull sleeps 50 ms between checks too. Polling
with ``returnImmediately`` would answer within a few ms but costs the Java emulator
about a third of a core at 10 ms intervals, on a 2-core machine where the functions
under test need the CPU. The delay is the same for both sides of every comparison.
An empty subscription holds a blocking pull about 90 s, so every pull has a client
timeout bounded by the caller's deadline. The emulator returns at most 100 messages
per pull. Publishing sends up to 1,000 messages per request (Pub/Sub's limit):
"1,000 messages published at once" is one request.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

MAX_MESSAGES_PER_PUBLISH = 1000  # Pub/Sub's limit for one publish request
ACK_IDS_PER_REQUEST = 1000
ACK_AFTER_SECONDS = 20.0


class PullTimeout(RuntimeError):
    """Fewer results than expected arrived in time: the function is broken or stuck."""


@dataclass(frozen=True)
class Pulled:
    """One received message, its JSON body decoded, and when the harness had it."""

    body: dict[str, Any]
    attributes: dict[str, str]
    received: float  # time.perf_counter()


class PubSubRest:
    """Topics and subscriptions of one project on one emulator; not thread-safe."""

    def __init__(self, base_url: str, project: str) -> None:
        self._base = f"{base_url}/v1/projects/{project}"
        self._session = requests.Session()

    def publish(
        self, topic: str, payloads: Sequence[bytes], attributes: dict[str, str] | None = None
    ) -> list[str]:
        """Publish in as few requests as Pub/Sub allows; returns the message ids.
        ``attributes`` go on every message (a budget notification has three)."""
        ids: list[str] = []
        for start in range(0, len(payloads), MAX_MESSAGES_PER_PUBLISH):
            chunk = payloads[start : start + MAX_MESSAGES_PER_PUBLISH]
            messages: list[dict[str, Any]] = [
                {"data": base64.b64encode(data).decode("ascii")} for data in chunk
            ]
            if attributes:
                for message in messages:
                    message["attributes"] = dict(attributes)
            answer = self._post(f"/topics/{topic}:publish", {"messages": messages}, 30.0)
            ids.extend(str(message_id) for message_id in answer["messageIds"])
        return ids

    def pull(self, subscription: str, count: int, timeout: float) -> list[Pulled]:
        """At least ``count`` messages (all acked), or ``PullTimeout`` after ``timeout`` s."""
        return self.pull_until(subscription, lambda pulled: len(pulled) >= count, timeout)

    def pull_until(
        self, subscription: str, enough: Callable[[list[Pulled]], bool], timeout: float
    ) -> list[Pulled]:
        """Messages (all acked) until ``enough`` of what came so far is true, or
        ``PullTimeout`` after ``timeout`` s.

        Acks wait until the end (or ``ACK_AFTER_SECONDS``, well inside the 60 s ack
        deadline): an ack costs about 10 ms, and acking each pull of 100 (the
        emulator's most per pull) would delay every later message by that much."""
        deadline = time.monotonic() + timeout
        pulled: list[Pulled] = []
        unacked: list[str] = []
        oldest = time.monotonic()
        path = f"/subscriptions/{subscription}"
        try:
            while not enough(pulled):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PullTimeout(
                        f"{subscription}: {len(pulled)} message(s) after {timeout:g} s, "
                        "not what was expected"
                    )
                try:
                    answer = self._post(f"{path}:pull", {"maxMessages": 1000}, remaining)
                except requests.Timeout:
                    continue  # the loop reports what was missing
                received = answer.get("receivedMessages", [])
                now = time.perf_counter()
                pulled.extend(_decode(item["message"], now) for item in received)
                if not unacked:
                    oldest = time.monotonic()
                unacked += [item["ackId"] for item in received]
                if unacked and time.monotonic() - oldest > ACK_AFTER_SECONDS:
                    self._ack(path, unacked)
                    unacked = []
        finally:
            self._ack(path, unacked)
        return pulled

    def _ack(self, path: str, ack_ids: list[str]) -> None:
        for start in range(0, len(ack_ids), ACK_IDS_PER_REQUEST):
            chunk = ack_ids[start : start + ACK_IDS_PER_REQUEST]
            self._post(f"{path}:acknowledge", {"ackIds": chunk}, 30.0)

    def delete_subscription(self, subscription: str) -> None:
        """So the emulator stops pushing to a server that is gone."""
        response = self._session.delete(f"{self._base}/subscriptions/{subscription}", timeout=30)
        response.raise_for_status()

    def close(self) -> None:
        self._session.close()

    def _post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        response = self._session.post(self._base + path, json=body, timeout=timeout)
        response.raise_for_status()
        return response.json() if response.content else {}


def _decode(message: dict[str, Any], received: float) -> Pulled:
    return Pulled(
        body=json.loads(base64.b64decode(message.get("data", ""))),
        attributes=message.get("attributes", {}),
        received=received,
    )
