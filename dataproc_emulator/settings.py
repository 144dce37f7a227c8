"""The emulator's run-time settings (``/_emulator/settings``), validated strictly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import invalid
from .metering import BUCKETS

_KEYS = frozenset({"latencySeconds", "ignoreFilter", "quotaPerMinute"})


@dataclass(frozen=True)
class Settings:
    """``quota_per_minute``: bucket -> requests allowed per project and region in any
    60 s (``cloudAsset``: per consumer project); a bucket left out is unlimited."""

    latency_seconds: float = 0.0
    ignore_filter: bool = False
    quota_per_minute: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "latencySeconds": self.latency_seconds,
            "ignoreFilter": self.ignore_filter,
            "quotaPerMinute": dict(self.quota_per_minute),
        }


def settings_from_update(current: Settings, body: Any) -> Settings:
    """Keys given replace the current values (quotaPerMinute as a whole; {} lifts it)."""
    if not isinstance(body, dict) or set(body) - _KEYS:
        raise invalid(f"settings take only {sorted(_KEYS)}")
    latency = body.get("latencySeconds", current.latency_seconds)
    ignore = body.get("ignoreFilter", current.ignore_filter)
    quota = body.get("quotaPerMinute", current.quota_per_minute)
    if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
        raise invalid("latencySeconds must be a number >= 0")
    if not isinstance(ignore, bool):
        raise invalid("ignoreFilter must be true or false")
    if not isinstance(quota, dict) or set(quota) - set(BUCKETS):
        raise invalid(f"quotaPerMinute maps buckets {list(BUCKETS)} to requests per minute")
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in quota.values()):
        raise invalid("quotaPerMinute values must be integers >= 0")
    return Settings(float(latency), ignore, dict(quota))
