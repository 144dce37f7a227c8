"""The kinds of Dataproc work the function stops, one small description each.

| kind | read | stop | stopped when |
| --- | --- | --- | --- |
| operation | GET | POST :cancel | done with error.code 1 |
| batch | GET batch | cancel batch.operation | its operation is cancelled |
| job | GET | POST :cancel | status.state CANCELLED |
| session | GET | POST :terminate | state TERMINATED |
"""

from canceller.kinds.base import Clause, InvalidWork, Kind, Phase, Resource
from canceller.kinds.batches import BATCHES
from canceller.kinds.jobs import JOBS
from canceller.kinds.operations import OPERATIONS
from canceller.kinds.sessions import SESSIONS

KINDS: dict[str, Kind] = {kind.name: kind for kind in (OPERATIONS, BATCHES, JOBS, SESSIONS)}
SWEEPABLE: dict[str, Kind] = {kind.plural: kind for kind in KINDS.values() if kind.sweepable}

__all__ = [
    "BATCHES",
    "JOBS",
    "KINDS",
    "OPERATIONS",
    "SESSIONS",
    "SWEEPABLE",
    "Clause",
    "InvalidWork",
    "Kind",
    "Phase",
    "Resource",
]
