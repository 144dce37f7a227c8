"""One retrying, budgeted JSON call to a Google REST API: Dataproc's and the APIs that
find where a budget's work is (canceller.organisation).

Transient failures (429, 500, 502, 503, 504, connection errors, read timeouts, a 2xx
whose body is not JSON) are retried with jittered exponential backoff from
google-api-core, stretched to honour ``Retry-After``, for as long as the message's
deadline allows; then ``TransientFailure`` is raised so Pub/Sub redelivers. Every
other error is final and surfaces as google-api-core's exception for its HTTP status
(``NotFound``, ``PermissionDenied``, ``MethodNotImplemented``, ...).

Every attempt, retries included, first takes a slot from a ``RequestBudget``
(``canceller.request_budget``), waiting for one within the same deadline, so the
function never uses more than its share of a quota; a 429 also shrinks that budget for
a while. Only ever the configured endpoint is called, with paths built from validated
names: message content never becomes a host or a URL.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import exponential_sleep_generator
from google.auth import exceptions as auth_exceptions

from canceller.clock import SYSTEM_CLOCK, Clock, Deadline
from canceller.request_budget import (
    BudgetKey,
    BudgetTimeout,
    Grant,
    RequestBudget,
    budget_key,
)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    auth_exceptions.TransportError,
    auth_exceptions.RefreshError,
)
_BACKOFF_INITIAL, _BACKOFF_MAX, _BACKOFF_MULTIPLIER = 0.25, 8.0, 2.0
_RETRY_AFTER_CAP = 60.0


class TransientFailure(Exception):
    """A retryable failure outlasted the message's deadline: raise it so Pub/Sub redelivers."""


class NoBudget(TransientFailure):
    """The request budget had no slot for this call before its deadline: nothing more was
    sent. Work that can be handed on (a sweep's) is, instead of being redelivered."""


class RestClient:
    """Thread-safe: it holds no per-call state, the session's pool is shared, and so is
    ``budget``, which every request of the process to this API draws from. ``key_of``
    names the quota a request counts against, from its method and path. Backoff sleeps
    on ``clock``, the process's: the budget's, and the one to build deadlines on."""

    def __init__(
        self,
        session: requests.Session,
        endpoint: str,
        request_timeout: float,
        budget: RequestBudget,
        clock: Clock = SYSTEM_CLOCK,
        *,
        version: str = "v1",
        key_of: Callable[[str, str], BudgetKey] = budget_key,
    ) -> None:
        self._session = session
        self._endpoint = endpoint.rstrip("/")
        self._request_timeout = request_timeout
        self._budget = budget
        self.clock = clock
        self._version = version
        self._key_of = key_of

    def call(
        self,
        method: str,
        path: str,
        deadline: Deadline,
        params: Mapping[str, str | list[str]] | None = None,
        body: dict[str, Any] | None = None,
        urgent: bool = False,
    ) -> dict[str, Any]:
        url = f"{self._endpoint}/{self._version}/{path}"
        key = self._key_of(method, path)
        delays: Iterator[float] = exponential_sleep_generator(
            _BACKOFF_INITIAL, _BACKOFF_MAX, _BACKOFF_MULTIPLIER
        )
        while True:
            grant = self._take_slot(key, method, path, deadline, urgent)
            try:
                return self._attempt(method, url, params, body, deadline)
            except _Retryable as retryable:
                if retryable.status == 429:  # RESOURCE_EXHAUSTED: the quota is short
                    self._budget.throttled(grant)
                delay = max(next(delays), retryable.retry_after)
                if delay >= deadline.remaining():
                    raise TransientFailure(
                        f"{method} {path}: {retryable.reason}; still failing when the retry "
                        "deadline ran out"
                    ) from None
                self.clock.sleep(delay)

    def _take_slot(
        self, key: BudgetKey, method: str, path: str, deadline: Deadline, urgent: bool
    ) -> Grant:
        # A read that verifies a stop already sent is never cut off by the allowance:
        # its number is bounded by the stops, and a stop we made is ours to report.
        if not urgent and not deadline.take_call():
            limit = deadline.calls.limit if deadline.calls else 0
            raise NoBudget(f"{method} {path}: this message has made its {limit} calls")
        try:
            return self._budget.acquire(key, deadline, urgent)
        except BudgetTimeout as error:
            raise NoBudget(f"{method} {path}: {error}") from None

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | list[str]] | None,
        body: dict[str, Any] | None,
        deadline: Deadline,
    ) -> dict[str, Any]:
        timeout = min(self._request_timeout, max(deadline.remaining(), 1.0))
        try:
            # No redirect is followed: only the configured endpoint is ever called.
            response = self._session.request(
                method, url, params=params, json=body, timeout=timeout, allow_redirects=False
            )
        except _TRANSIENT_ERRORS as error:
            raise _Retryable(f"{type(error).__name__}: {_first_line(error)}") from None
        if response.status_code in RETRYABLE_STATUS:
            raise _Retryable(
                f"HTTP {response.status_code} {_error_message(response)}",
                _retry_after_seconds(response.headers.get("Retry-After")),
                response.status_code,
            )
        if response.status_code >= 300:  # a redirect too: an answer, never a hop elsewhere
            raise _api_error(response)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            content_type = response.headers.get("Content-Type", "?")
            raise _Retryable(f"HTTP {response.status_code} with a non-JSON body ({content_type})")
        return answer


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float = 0.0, status: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


def _api_error(response: requests.Response) -> api_exceptions.GoogleAPICallError:
    error: api_exceptions.GoogleAPICallError
    if _error_payload(response) or not response.text:
        error = api_exceptions.from_http_response(response)
    else:  # a non-Google error body (HTML from a proxy, a bare string): keep the status
        error = api_exceptions.from_http_status(response.status_code, _error_message(response))
    return error


def error_details(error: api_exceptions.GoogleAPICallError) -> dict[str, Any]:
    """The Google error body's status and message, for results: no URL, no headers."""
    response = getattr(error, "response", None)
    status, message = "", ""
    if response is not None:
        payload = _error_payload(response)
        status, message = str(payload.get("status") or ""), _error_message(response, payload)
    if not status and error.grpc_status_code is not None:
        status = error.grpc_status_code.name
    return {
        "httpStatus": int(error.code or 0),
        "status": status,
        "message": message or str(error.message),
    }


def _error_payload(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else {}


def _error_message(response: requests.Response, payload: dict[str, Any] | None = None) -> str:
    message = (_error_payload(response) if payload is None else payload).get("message")
    if message:
        return str(message)
    return _first_line(response.text)[:200] if response.text else response.reason or ""


def _retry_after_seconds(value: str | None) -> float:
    """Retry-After is seconds or an HTTP date (RFC 9110); anything else means no hint."""
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 0.0
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), _RETRY_AFTER_CAP)


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else ""
