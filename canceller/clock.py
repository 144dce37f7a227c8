"""Time: RFC 3339 stamps for results, and the deadline that bounds all retries of one message.

Every wait (backoff, polling, publish) asks one ``Deadline`` how long is left, so a
message's handling can never outlive the function's timeout by accident.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime | None:
    """Pub/Sub sends nanosecond stamps ending in Z; Python 3.11 reads them, truncated to µs."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Deadline:
    """A point on the monotonic clock; ``remaining()`` never goes below zero."""

    def __init__(self, seconds: float) -> None:
        self._expires = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._expires - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0
