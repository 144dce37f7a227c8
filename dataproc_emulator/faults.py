"""Injected faults: what goes wrong on the wire, scripted per method and path.

A client's reliability code (retries, timeouts, connection handling) can only be
tested against failures it cannot tell from real ones, so each action reproduces one
thing Google's front end or the network really does.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from .errors import invalid

ACTIONS = frozenset({"status", "drop", "malformed", "html", "delay", "reset"})
_KEYS = frozenset(
    {"method", "pathRegex", "times", "action", "status", "statusName", "retryAfter", "delaySeconds"}
)
_ids = itertools.count(1)


@dataclass(eq=False)
class Fault:
    """One fault; ``remaining`` counts down per matching request (-1: forever)."""

    id: str
    method: str
    path: re.Pattern[str]
    remaining: int
    action: str
    status: int = 503
    status_name: str | None = None
    retry_after: str | None = None
    delay_seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining != 0
            and self.method in ("*", method)
            and self.path.search(path) is not None
        )

    def consume(self) -> None:
        if self.remaining > 0:
            self.remaining -= 1

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "pathRegex": self.path.pattern,
            "remaining": self.remaining,
            "action": self.action,
            "status": self.status,
            "statusName": self.status_name,
            "retryAfter": self.retry_after,
            "delaySeconds": self.delay_seconds,
        }


def fault_from_seed(seed: Any) -> Fault:
    if not isinstance(seed, dict):
        raise invalid("fault must be a JSON object")
    if unknown := sorted(set(seed) - _KEYS):
        raise invalid(f"fault has unknown keys {unknown}; known: {sorted(_KEYS)}")
    action = seed.get("action", "status")
    if action not in ACTIONS:
        raise invalid(f"fault action {action!r}: expected one of {sorted(ACTIONS)}")
    method = seed.get("method", "*")
    if not isinstance(method, str):
        raise invalid("fault method must be a string such as GET, POST or *")
    try:
        path = re.compile(seed.get("pathRegex", ""))
    except (re.error, TypeError) as exc:
        raise invalid(f"fault pathRegex does not compile: {exc}") from None
    times, status = seed.get("times", 1), seed.get("status", 503)
    delay = seed.get("delaySeconds", 0)
    if isinstance(times, bool) or not isinstance(times, int) or times < -1 or times == 0:
        raise invalid("fault times must be a positive integer, or -1 for forever")
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise invalid("fault status must be an HTTP error status (400-599)")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise invalid("fault delaySeconds must be a number >= 0")
    retry_after = seed.get("retryAfter")
    return Fault(
        id=f"fault-{next(_ids)}",
        method=method.upper(),
        path=path,
        remaining=times,
        action=action,
        status=status,
        status_name=seed.get("statusName"),
        retry_after=None if retry_after is None else str(retry_after),
        delay_seconds=float(delay),
    )
