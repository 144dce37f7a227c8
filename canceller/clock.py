"""Time: RFC 3339 stamps for results, one clock to wait on, and the deadline that bounds
all retries of one message.

Every wait (backoff, polling, the request budget, publish) asks one ``Deadline`` how
long is left, so a message's handling can never outlive the function's timeout by
accident. The same deadline carries the message's allowance of Dataproc calls, so that
neither time nor a flood of calls is unbounded for one message, whatever it asks for.

Whatever measures or waits out an interval takes a ``Clock`` (monotonic time and a
sleep on it) rather than reading the ``time`` module, all of one process the same one
(canceller.runtime.Runtime carries it): a deadline, a backoff, a poll and the request
budget then agree on what "now" is, and tests can run them on a clock that moves only
when something sleeps (tests/support/fake_clock.py). Wall time (``utc_now``) is only
for timestamps.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds (from an arbitrary origin) and a wait on the same clock."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class _SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK: Clock = _SystemClock()


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
    """A point on ``clock``, ``seconds`` from now; ``remaining()`` never goes below zero.
    The engine times its watches on the deadline's ``clock``, so they and the deadline
    that ends them never disagree."""

    def __init__(self, seconds: float, calls: CallAllowance | None = None, *, clock: Clock) -> None:
        self.clock = clock
        self._expires = clock.monotonic() + seconds
        self.calls = calls

    def remaining(self) -> float:
        return max(0.0, self._expires - self.clock.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def within(self, seconds: float) -> Deadline:
        """A shorter deadline for part of the message's work, drawing on the same calls."""
        return Deadline(min(max(0.0, seconds), self.remaining()), self.calls, clock=self.clock)

    def take_call(self) -> bool:
        """One more call of the message's allowance; False when it is spent."""
        return self.calls is None or self.calls.take()
