"""Publish results and wait until Pub/Sub confirms each one, or fail loudly.

The function returns (and so acks its trigger) only after every result it owes is
confirmed, because an instance may be frozen the moment it returns and an unconfirmed
publish would then be lost. A failure raises ``PublishFailed`` so the trigger is
redelivered and the results are published again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence

from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry, if_exception_type
from google.cloud import pubsub_v1

from canceller.results import Result

_RETRYABLE = if_exception_type(
    api_exceptions.Aborted,
    api_exceptions.DeadlineExceeded,
    api_exceptions.InternalServerError,
    api_exceptions.ResourceExhausted,
    api_exceptions.ServiceUnavailable,
    api_exceptions.Unknown,
    api_exceptions.Cancelled,
)


class PublishFailed(Exception):
    """A result could not be confirmed in time: the trigger must be redelivered."""


def make_publisher_client(timeout: float) -> pubsub_v1.PublisherClient:
    """No batching delay: a result is one or a few messages and every millisecond of the
    default 10 ms window would be added to each outcome's latency. Honours
    ``PUBSUB_EMULATOR_HOST`` (the client library does)."""
    return pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_latency=0.0),
        publisher_options=pubsub_v1.types.PublisherOptions(
            retry=Retry(
                initial=0.1, maximum=5.0, multiplier=2.0, timeout=timeout, predicate=_RETRYABLE
            ),
            timeout=min(timeout, 30.0),
        ),
    )


class ResultPublisher:
    """Creates its client on first use, once per process, because a client made at
    import time fails without credentials and can hang after gunicorn forks."""

    def __init__(
        self,
        topic: str,
        timeout: float,
        client_factory: Callable[[float], pubsub_v1.PublisherClient] = make_publisher_client,
    ) -> None:
        self._topic = topic
        self._timeout = timeout
        self._client_factory = client_factory
        self._client: pubsub_v1.PublisherClient | None = None
        self._lock = threading.Lock()

    def publish(self, results: Sequence[Result]) -> None:
        if not results:
            return
        client = self._get_client()
        futures = [
            client.publish(
                self._topic,
                json.dumps(result.to_message(), separators=(",", ":")).encode("utf-8"),
                **result.attributes(),
            )
            for result in results
        ]
        failures = []
        for future in futures:
            try:
                future.result(timeout=self._timeout + 5.0)
            except Exception as error:  # any failure means "not confirmed"
                failures.append(f"{type(error).__name__}: {error}")
        if failures:
            raise PublishFailed(
                f"{len(failures)} of {len(futures)} result(s) to {self._topic} were not "
                f"confirmed: {failures[0]}"
            )

    def _get_client(self) -> pubsub_v1.PublisherClient:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory(self._timeout)
            return self._client
