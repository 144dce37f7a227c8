"""Google-style API errors.

Clients branch on the HTTP status *and* on the canonical ``status`` name in the
body (google-api-core builds its exception from both), so every failure the
emulator answers carries the same body Google's front end sends.
"""

from __future__ import annotations

from typing import Any

# HTTP status -> the google.rpc.Code name Google puts in error.status
# (google/rpc/code.proto's HTTP mapping; 400 and 409 have several, this is the usual one).
CANONICAL_BY_HTTP: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ApiError(Exception):
    """A request the emulator answers with a Google error body instead of a result."""

    def __init__(
        self,
        http_status: int,
        message: str,
        status: str | None = None,
        retry_after: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.status = status or CANONICAL_BY_HTTP.get(http_status, "UNKNOWN")
        self.retry_after = retry_after
        self.details = details or []

    def body(self) -> dict[str, Any]:
        error = {"code": self.http_status, "message": self.message, "status": self.status}
        if self.details:  # Any-typed google.rpc details, e.g. ErrorInfo for a quota error
            error["details"] = self.details
        return {"error": error}


def invalid(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def failed_precondition(message: str) -> ApiError:
    return ApiError(400, message, "FAILED_PRECONDITION")


def denied(permission: str, name: str) -> ApiError:
    """IAM's answer; Google words it the same whether or not the resource exists."""
    return ApiError(
        403,
        f"Permission '{permission}' denied on resource "
        f"'//dataproc.googleapis.com/{name}' (or it may not exist).",
    )
