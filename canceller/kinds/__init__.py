"""The kinds of Dataproc work the function stops, one small description each, and the
registry every other module derives its knowledge of kinds from.

| kind | read | stop | stopped when |
| --- | --- | --- | --- |
| operation | GET | POST :cancel | done with error.code 1 |
| batch | GET batch | cancel batch.operation | its operation is cancelled |
| job | GET | POST :cancel | status.state CANCELLED |
| session | GET | POST :terminate | state TERMINATED |
| cluster | GET | POST :stop (or DELETE) | status.state STOPPED (or GET 404) |

A new kind is one module here and one line below;
tests/unit/test_every_registered_kind.py fails for a kind that the grammar, message keys,
permissions, schemas, emulator or docs miss.
"""

from canceller.kinds.base import (
    Clause,
    IncidentLabels,
    InvalidWork,
    Kind,
    Phase,
    Resource,
    StopCall,
)
from canceller.kinds.batches import BATCHES
from canceller.kinds.clusters import CLUSTERS
from canceller.kinds.jobs import JOBS
from canceller.kinds.operations import OPERATIONS
from canceller.kinds.sessions import SESSIONS
from canceller.names import register

KINDS: dict[str, Kind] = {
    kind.name: kind for kind in (OPERATIONS, BATCHES, JOBS, SESSIONS, CLUSTERS)
}
for _kind in KINDS.values():
    register(_kind.name, _kind.name_rule())
SWEEPABLE: dict[str, Kind] = {kind.plural: kind for kind in KINDS.values() if kind.sweepable}
DEFAULT_SWEEP_KINDS: tuple[str, ...] = tuple(
    plural for plural, kind in SWEEPABLE.items() if kind.swept_by_default
)
# JSON key of a message -> the kind of the name(s) it holds.
NAME_KEYS: dict[str, str] = {
    key: kind.name for kind in KINDS.values() for key in (kind.name, kind.plural, *kind.aliases)
}
LIST_KEYS: frozenset[str] = frozenset(kind.plural for kind in KINDS.values())
# Monitored resource type of an incident -> the kind it names.
INCIDENT_KINDS: dict[str, Kind] = {
    kind.incident.resource_type: kind for kind in KINDS.values() if kind.incident is not None
}


def role_permissions(enabled: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The IAM permissions of every call the function makes, sorted; an optional verb
    (e.g. clusters.delete) only when the setting that allows it is in ``enabled``."""
    wanted = {
        permission
        for kind in KINDS.values()
        for permission in (
            *kind.permissions,
            *(
                f"dataproc.{kind.plural}.{verb}"
                for verb, setting in kind.optional_permission_verbs.items()
                if setting in enabled
            ),
        )
    }
    return tuple(sorted(wanted))


__all__ = [
    "BATCHES",
    "CLUSTERS",
    "DEFAULT_SWEEP_KINDS",
    "INCIDENT_KINDS",
    "JOBS",
    "KINDS",
    "LIST_KEYS",
    "NAME_KEYS",
    "OPERATIONS",
    "SESSIONS",
    "SWEEPABLE",
    "Clause",
    "IncidentLabels",
    "InvalidWork",
    "Kind",
    "Phase",
    "Resource",
    "StopCall",
    "role_permissions",
]
