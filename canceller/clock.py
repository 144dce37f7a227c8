"""Time: RFC 3339 stamps for results, and the deadline that bounds all retries of one message.

Every wait (backoff, polling, publish) asks one ``Deadline`` how long is left, so a
message's handling can never outlive the function's timeout by accident. The same
deadline carries the message's allowance of Dataproc calls, so that neither time nor a
flood of calls is unbounded for one message, whatever it asks for.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime | None:
    """In UTC. Pub/Sub sends nanosecond stamps ending in Z; Python 3.11 reads them,
    truncated to µs. None for anything else, and for a moment at the calendar's edge
    (year 1 or 9999 with an offset), which has no UTC form and would overflow any
    arithmetic or printing later."""
    try:
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def read_timestamp(value: object) -> datetime | None:
    """A timestamp field of a document from outside (Dataproc, Billing), in UTC, or None
    when it is not text of at most 64 characters that parse_timestamp reads."""
    return parse_timestamp(value) if isinstance(value, str) and len(value) <= 64 else None


class CallAllowance:
    """How many more calls one message may make; shared by its threads."""

    def __init__(self, calls: int) -> None:
        self.limit = calls
        self._left = calls
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True


class Deadline:
    """A point on the monotonic clock; ``remaining()`` never goes below zero."""

    def __init__(self, seconds: float, calls: CallAllowance | None = None) -> None:
        self._expires = time.monotonic() + seconds
        self.calls = calls

    def remaining(self) -> float:
        return max(0.0, self._expires - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def within(self, seconds: float) -> Deadline:
        """A shorter deadline for part of the message's work, drawing on the same calls."""
        return Deadline(min(max(0.0, seconds), self.remaining()), self.calls)

    def take_call(self) -> bool:
        """One more call of the message's allowance; False when it is spent."""
        return self.calls is None or self.calls.take()
