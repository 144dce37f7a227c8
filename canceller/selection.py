"""Which listed operations a sweep may cancel: the sweep's spec and its selection rule.

The filter is sent to Dataproc's list call and also evaluated here, because whether the
server honours every field for every operation kind is unconfirmed
(shared/reference/google-apis.md). A clause we cannot evaluate ourselves is refused up
front: a sweep must never cancel more than its filter says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from canceller.clock import parse_timestamp
from canceller.verification import is_done

# gcloud's documented list filter: `field = value [AND field = value]...`, AND only.
_CLAUSE = re.compile(
    r"(?P<field>status\.state|labels\.[a-z][a-z0-9_-]{0,62}|clusterName|operationType)"
    r"\s*=\s*(?P<value>\"[^\"\\]*\"|[A-Za-z0-9_.:/-]+)"
)
_DURATION = re.compile(r"(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")
_STATES = {"PENDING", "ACTIVE", "DONE"}


class InvalidSweep(ValueError):
    """The sweep cannot be run as asked; the message says what to change."""


@dataclass(frozen=True)
class Clause:
    field: str
    value: str


@dataclass(frozen=True)
class SweepSpec:
    scopes: tuple[str, ...] = ()  # empty: the SWEEP_SCOPES setting
    filter: str | None = None  # None: the SWEEP_FILTER setting
    older_than_seconds: float | None = None
    operation_types: tuple[str, ...] = ()
    max: int | None = None  # None: MAX_CANCELS_PER_MESSAGE
    cluster_uuid: str | None = None  # an incident names one incarnation of a cluster


def parse_filter(text: str) -> tuple[Clause, ...]:
    if not text.strip():
        return ()
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip()):
        match = _CLAUSE.fullmatch(part.strip())
        if match is None:
            raise InvalidSweep(
                f"filter clause {part.strip()!r} is not supported: use `field = value` joined "
                "by AND, with fields status.state, labels.KEY, clusterName, operationType"
            )
        value = match["value"].strip('"')
        if match["field"] == "status.state" and value not in _STATES:
            raise InvalidSweep(f"status.state must be one of {', '.join(sorted(_STATES))}")
        clauses.append(Clause(match["field"], value))
    return tuple(clauses)


def parse_duration(value: object) -> float:
    """ "6h", "90m", "1d12h", "45s", or a number of seconds."""
    if isinstance(value, bool):
        raise InvalidSweep("olderThan must be a duration like 6h, 30m, 1d or a number of seconds")
    if isinstance(value, int | float) and value >= 0:
        return float(value)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match and any(match.groupdict().values()):
            parts = {k: int(v or 0) for k, v in match.groupdict().items()}
            return float(parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"])
    raise InvalidSweep(f"olderThan={value!r} must be a duration like 6h, 30m, 1d or seconds")


def created_at(operation: Mapping[str, Any]) -> datetime | None:
    """Batch operations carry createTime; cluster operations only a status history."""
    metadata = operation.get("metadata")
    if not isinstance(metadata, dict):
        return None
    if isinstance(metadata.get("createTime"), str):
        return parse_timestamp(metadata["createTime"])
    history = metadata.get("statusHistory")
    first = history[0] if isinstance(history, list) and history else metadata.get("status")
    if isinstance(first, dict) and isinstance(first.get("stateStartTime"), str):
        return parse_timestamp(first["stateStartTime"])
    return None


def selects(
    spec: SweepSpec, clauses: tuple[Clause, ...], operation: Mapping[str, Any], now: datetime
) -> bool:
    if is_done(operation):
        return False
    metadata = operation.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    if not all(_clause_holds(clause, metadata) for clause in clauses):
        return False
    if spec.operation_types and metadata.get("operationType") not in spec.operation_types:
        return False
    if spec.cluster_uuid and metadata.get("clusterUuid") != spec.cluster_uuid:
        return False
    if spec.older_than_seconds is not None:
        created = created_at(operation)
        if created is None or (now - created).total_seconds() < spec.older_than_seconds:
            return False
    return True


def _clause_holds(clause: Clause, metadata: Mapping[str, Any]) -> bool:
    if clause.field == "status.state":
        status = metadata.get("status")
        pending = isinstance(status, dict) and status.get("state") == "PENDING"
        # Only operations that are not done reach here: they are PENDING or ACTIVE.
        return clause.value == ("PENDING" if pending else "ACTIVE")
    if clause.field.startswith("labels."):
        labels = metadata.get("labels")
        key = clause.field.removeprefix("labels.")
        return isinstance(labels, dict) and labels.get(key) == clause.value
    return metadata.get(clause.field) == clause.value
