"""Messages through tests/support/dispatching.py's ``handle`` against the Dataproc
emulator in one project: without the organisation APIs (no ``directory``), so a budget
sweeps SWEEP_SCOPES and ALLOWED_ANCESTORS allows nothing (canceller/dispatch.py's
handle_trigger); each with the message id m-9."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from canceller.clock import SYSTEM_CLOCK, Clock
from canceller.dispatch import Handled
from canceller.runtime import Runtime
from tests.support import dispatching
from tests.support.dispatching import PROJECT, REGION, SCOPE, Served, environ

__all__ = ["PROJECT", "REGION", "SCOPE", "ago", "handle", "incident"]

MESSAGE_ID = "m-9"  # the trigger's messageId: a sweep's id is "sweep-m-9"


def handle(
    emulator: Served,
    body: Any,
    attributes: dict[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    **env: str,
) -> Handled:
    runtime = Runtime(environ(emulator, **env), clock)
    return dispatching.handle(emulator, body, attributes, MESSAGE_ID, runtime, organisation=False)


def ago(**delta: float) -> str:
    """That long before now, as Dataproc writes a time."""
    return (datetime.now(UTC) - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def incident(state: str, resource_type: str, labels: dict[str, str]) -> dict[str, Any]:
    """A Cloud Monitoring incident notification (schema 1.2) on one resource of PROJECT."""
    return {
        "version": "1.2",
        "incident": {
            "incident_id": "0.abc123",
            "scoping_project_id": PROJECT,
            "state": state,
            "started_at": 1764230400,
            "summary": "Batch ran too long",
            "policy_name": "dataproc-batch-timeout",
            "condition_name": "runtime > 6h",
            "resource": {"type": resource_type, "labels": labels},
            "url": "https://console.cloud.google.com/monitoring/alerting/incidents/0.abc123",
        },
    }
