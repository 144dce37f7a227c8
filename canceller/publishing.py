"""Publish results and wait until Pub/Sub confirms each one, or fail loudly.

The function returns (and so acks its trigger) only after every result it owes is
confirmed, because an instance may be frozen the moment it returns and an unconfirmed
publish would then be lost. A failure raises ``PublishFailed`` so the trigger is
redelivered and the results are published again.

A failed Publish is NOT retried here: when the connection drops after Pub/Sub stored
the messages but before its answer arrives, a retry would store them a second time,
and that duplicate would coincide with no redelivery, so consumers could not tell it
from a real second answer (the reliability suite showed exactly this). Asking Pub/Sub
to redeliver instead keeps the rule simple: results are duplicated only where their
trigger was redelivered, and (trigger.messageId, operation) identifies them.

All the results of a message are known before the first is published, so they go out
in one ``Publish`` call (more only past Pub/Sub's 1,000 messages or 10 MB per request),
with the timeout below; Pub/Sub's answer, one message id per message, is the
confirmation. That is the very call google-cloud-pubsub's batching ``PublisherClient``
makes for each batch, without the batching: its default 10 ms window would be pure
delay for a batch that is already complete, and even with no window it hands every
message to a commit thread and a future. Measured on 2 cores, that layer cost about
2 ms and 0.7 ms of CPU per publish, and importing it ~20 ms of a cold start.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence

from google.pubsub_v1 import PublisherClient, PubsubMessage

from canceller.chains import Continuation
from canceller.clock import SYSTEM_CLOCK, Deadline
from canceller.results import Result

# Pub/Sub's limits for one Publish request are 1,000 messages and 10 MB; the byte
# budget leaves room for the request's own framing.
MAX_MESSAGES_PER_REQUEST = 1000
MAX_BYTES_PER_REQUEST = 9 * 1024 * 1024


class PublishFailed(Exception):
    """A result could not be confirmed in time: the trigger must be redelivered."""


class ResultPublisher:
    """Creates its client on first use, once per process, because a client made at
    import time fails without credentials and can hang after gunicorn forks. The client
    honours ``PUBSUB_EMULATOR_HOST`` itself (plain gRPC, no credentials)."""

    def __init__(self, topic: str, timeout: float) -> None:
        self._topic = topic
        self._timeout = timeout
        self._client: PublisherClient | None = None
        self._lock = threading.Lock()

    def publish(self, results: Sequence[Result]) -> None:
        if not results:
            return
        client = self._get_client()
        messages = [
            PubsubMessage(
                data=json.dumps(result.to_message(), separators=(",", ":")).encode("utf-8"),
                attributes=result.attributes(),
            )
            for result in results
        ]
        confirmed = 0
        # One PUBLISH_TIMEOUT_SECONDS for all of them, however many requests they take:
        # Settings.longest_message_seconds (and so the function's timeout) counts one.
        # Real time: the Pub/Sub client waits out its timeout on the system clock.
        deadline = Deadline(self._timeout, clock=SYSTEM_CLOCK)
        for request in _requests(messages):
            try:
                if deadline.expired():
                    raise TimeoutError(f"PUBLISH_TIMEOUT_SECONDS={self._timeout:g} ran out")
                response = client.publish(
                    topic=self._topic,
                    messages=request,
                    retry=None,  # see the module docstring: redelivery, not a resend
                    timeout=deadline.remaining(),
                )
                if len(response.message_ids) != len(request):
                    raise RuntimeError(
                        f"{len(response.message_ids)} message id(s) for {len(request)} messages"
                    )
            except Exception as error:  # any failure means "not confirmed"
                raise PublishFailed(
                    f"{len(messages) - confirmed} of {len(messages)} result(s) to "
                    f"{self._topic} were not confirmed: {type(error).__name__}: {error}"
                ) from None
            confirmed += len(request)

    def hand_on(self, topic: str, continuations: Sequence[Continuation]) -> None:
        """Publish continuations (and a fan-out's children) to the trigger topic, confirmed
        like results, so the work they carry is never dropped: unconfirmed, the trigger is
        redelivered."""
        client = self._get_client()
        messages = [
            PubsubMessage(
                data=json.dumps(continuation.message, separators=(",", ":")).encode("utf-8"),
                attributes=continuation.attributes(),
            )
            for continuation in continuations
        ]
        confirmed = 0
        for request in _requests(messages):
            try:
                response = client.publish(
                    topic=topic,
                    messages=request,
                    retry=None,  # see the module docstring: redelivery, not a resend
                    timeout=self._timeout,
                )
                if len(response.message_ids) != len(request):
                    raise RuntimeError(
                        f"{len(response.message_ids)} message id(s) for {len(request)} messages"
                    )
            except Exception as error:  # any failure means "not confirmed"
                raise PublishFailed(
                    f"{len(messages) - confirmed} of {len(messages)} continuation(s) to {topic} "
                    f"were not confirmed: {type(error).__name__}: {error}"
                ) from None
            confirmed += len(request)

    def _get_client(self) -> PublisherClient:
        with self._lock:
            if self._client is None:
                self._client = PublisherClient()
            return self._client


def _requests(messages: Sequence[PubsubMessage]) -> Iterator[list[PubsubMessage]]:
    """Consecutive runs of messages that fit in one Publish request, in order."""
    request: list[PubsubMessage] = []
    size = 0
    for message in messages:
        message_size = PubsubMessage.pb(message).ByteSize()
        full = len(request) == MAX_MESSAGES_PER_REQUEST
        if request and (full or size + message_size > MAX_BYTES_PER_REQUEST):
            yield request
            request, size = [], 0
        request.append(message)
        size += message_size
    if request:
        yield request
