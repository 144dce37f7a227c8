"""Interactive sessions: ``GET``, ``POST NAME:terminate`` (answers an Operation),
stopped when ``state`` is TERMINATED.

States: Session.StateValueValuesEnum in the Dataproc v1 messages shipped with the
Google Cloud CLI (CREATING, ACTIVE, TERMINATING, TERMINATED, FAILED).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from canceller.burn import Burn, Horizon, session_burn, session_horizon
from canceller.kinds.base import Clause, IncidentLabels, Kind, Phase, Resource, text
from canceller.names import SERVERLESS_ID
from canceller.prices import PriceTable

_STATES = frozenset({"CREATING", "ACTIVE", "TERMINATING", "TERMINATED", "FAILED"})


class Sessions(Kind):
    name = "session"
    plural = "sessions"
    asset_type = "dataproc.googleapis.com/Session"
    found_by = ("dataproc.googleapis.com/Session",)
    place = "locations"
    # sessionId: 4-63 lowercase letters, digits and hyphens (dataproc_v1_messages.py).
    id_pattern = SERVERLESS_ID
    permission_verbs = ("get", "list", "terminate")
    incident = IncidentLabels("cloud_dataproc_session", "location", "session_id")
    stop_verb = "terminate"
    stopped_word = "terminated"
    stopping_word = "terminating"
    stop_body: ClassVar[dict[str, Any] | None] = {}
    filter_fields: ClassVar[dict[str, frozenset[str] | None]] = {"state": _STATES}
    detail_path = ("stateMessage",)
    phases: ClassVar[dict[str, Phase]] = {
        "TERMINATING": Phase.STOPPING,
        "TERMINATED": Phase.STOPPED,
        "FAILED": Phase.ENDED,
    }
    # A location's sessions are few; the listing settles terminated ones directly.
    watch_params: ClassVar[dict[str, str]] = {}

    def describe(self, resource: Resource) -> dict[str, Any]:
        state: dict[str, Any] = {
            "done": self.phase(resource).final,
            "sessionState": self.state_word(resource),
        }
        for key, out in (
            ("uuid", "sessionUuid"),
            ("stateMessage", "stateDetails"),
            ("createTime", "createTime"),
        ):
            if value := text(resource.get(key)):
                state[out] = value
        return state

    def burn(self, resource: Resource, table: PriceTable) -> Burn | None:
        return session_burn(resource, table)

    def horizon(
        self, resource: Resource, now: datetime, period_end: datetime | None = None
    ) -> Horizon | None:
        return session_horizon(resource, now, period_end)

    def uuid(self, resource: Resource) -> str | None:
        return text(resource.get("uuid"))

    def server_params(self, clauses: tuple[Clause, ...]) -> dict[str, str]:
        # AIP-160 filter of ListSessionsRequest: state, labels.KEY (quoted values).
        parts = [f'{c.field} = "{c.value}"' for c in clauses if self.applies(c)]
        return {"filter": " AND ".join(parts)} if parts else {}

    def field_value(self, item: Resource, field: str) -> str | None:
        return self.state_word(item) if field == "state" else None


SESSIONS = Sessions()
