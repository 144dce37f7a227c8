"""Outcomes and the result messages that report them (schemas/result.schema.json).

A result is built once, as a plain dict in the schema's shape, so what is published,
what is logged and what tests check are the same object.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from canceller.burn import Burn, Money, Saving
from canceller.clock import rfc3339, utc_now
from canceller.kinds import KINDS
from canceller.names import ResourceName
from canceller.trigger_info import TriggerInfo

# 1.5: burn, savedUpTo, a summary's money; 1.4: sweep.part and fanOut; 1.3: clusters,
# rung, clearedFor; 1.2: chains
SCHEMA_VERSION = "1.5"
_ATTRIBUTE_MAX_BYTES = 1024  # Pub/Sub's limit for an attribute value
_logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    CANCELLED = "CANCELLED"
    ALREADY_DONE = "ALREADY_DONE"
    COMPLETED_DESPITE_CANCEL = "COMPLETED_DESPITE_CANCEL"
    STILL_RUNNING = "STILL_RUNNING"
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    REJECTED = "REJECTED"
    ERROR = "ERROR"
    DRY_RUN = "DRY_RUN"
    SWEEP_SUMMARY = "SWEEP_SUMMARY"


@dataclass(frozen=True)
class Provenance:
    """Where a result's work came from, the same on every result of a message: the budget
    notification and the BUDGET_LADDER rung it reached, or the incident, that asked for it
    (canceller.dispatch), and the sweep that found it, by its id (and a fan-out child's
    part), or on a summary by its whole account (canceller.sweeps, canceller.fan_out).
    Each is published as the object of its name."""

    budget: Mapping[str, Any] | None = None
    rung: Mapping[str, Any] | None = None
    incident: Mapping[str, Any] | None = None
    sweep: Mapping[str, Any] | None = None


@dataclass
class Result:
    """One outcome, with everything needed to publish and log it."""

    outcome: Outcome
    target: str  # the full name acted on; REJECTED: the offending input; a summary: ""
    detail: str
    trigger: TriggerInfo
    started_at: datetime
    kind: str = "unknown"  # a kind of canceller.kinds; unknown for unusable input
    dry_run: bool = False
    name: ResourceName | None = None
    operation: str = ""  # an operation's name, or the operation of a batch
    state: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    provenance: Provenance = field(default_factory=Provenance)
    project: str = ""  # what a result naming no work is about: a scope's, a refused project
    cleared_for: str = ""  # the cluster this work was stopped before (canceller.clearing)
    finished_at: datetime = field(default_factory=utc_now)
    dedupe_key: str = ""  # default: the chain's id and the target
    burn: Burn | None = None  # what the work was costing when read (canceller.pricing)
    saving: Saving | None = None  # savedUpTo: only for work we stopped
    burn_reference: ResourceName | None = None  # work whose burn is still to be read
    money: Money | None = None  # a summary's: what its sweep stopped (canceller.pricing)

    @property
    def key(self) -> str:
        """The same for every answer to one target of one request, whichever delivery,
        redelivery or fork of its chain gave it: consumers keep one answer per key
        (docs/message-contract.md, "What comes back"). At most 1,024 bytes, so it fits an
        attribute."""
        about = f"{self.trigger.chain}/{self.target}" if self.target else ""
        return _clip_bytes(self.dedupe_key or about or f"{self.trigger.key_prefix}/message")

    def to_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "schemaVersion": SCHEMA_VERSION,
            "outcome": self.outcome.value,
            "kind": self.kind,
            "target": self.target[:512],
            "operation": self.operation[:512],
            "detail": self.detail,
            "dedupeKey": self.key,
            "trigger": _trigger_fields(self.trigger),
            "dryRun": self.dry_run,
            "startedAt": rfc3339(self.started_at),
            "finishedAt": rfc3339(self.finished_at),
            "elapsedSeconds": round(
                max(0.0, (self.finished_at - self.started_at).total_seconds()), 3
            ),
        }
        if self.name is not None:
            message["project"] = self.name.project
            message["region"] = self.name.location
            kind = KINDS.get(self.kind)
            if kind is not None and kind.result_name_key:
                message[kind.result_name_key] = self.name.name
        if self.operation and self.name is not None:  # an operation, or a batch's
            message["operationId"] = self.operation.rsplit("/", 1)[-1]
        if self.state is not None:
            message["state"] = self.state
            if self.state.get("batch") and "batch" not in message:
                message["batch"] = self.state["batch"]
        if self.error is not None:
            message["error"] = self.error
        message.update(self._money())
        if self.trigger.reason is not None:
            message["reason"] = self.trigger.reason
        if self.trigger.request_id is not None:
            message["requestId"] = self.trigger.request_id
        message.update(self._about())
        return message

    def _about(self) -> dict[str, Any]:
        """The fields after the trigger's own, in the order the schema's readers have
        always seen them."""
        about = {
            "budget": self.provenance.budget,
            "rung": self.provenance.rung,
            "incident": self.provenance.incident,
            "sweep": self.provenance.sweep,
            "project": self.project or None,
            "clearedFor": self.cleared_for or None,
        }
        return {key: value for key, value in about.items() if value is not None}

    def _money(self) -> dict[str, Any]:
        """burn, savedUpTo and a summary's money. Only estimates: should one not render
        (a defect of ours with an odd answer of Dataproc's), the result goes without
        them rather than fail to publish the outcome it reports."""
        try:
            shown = {
                key: figure.as_json()
                for key, figure in (
                    ("burn", self.burn),
                    ("savedUpTo", self.saving),
                    ("money", self.money),
                )
                if figure is not None
            }
            json.dumps(shown, allow_nan=False)  # proto3 JSON has no NaN or infinity
            return shown
        except (ArithmeticError, ValueError, TypeError) as defect:
            # canceller.logs imports this module: the standard logger goes to stderr.
            _logger.error("money left off the result of %s: %r", self.target[:200], defect)
            return {}

    def attributes(self) -> dict[str, str]:
        """Filterable copies of key fields. Every value is clipped to Pub/Sub's 1024-byte
        limit: the fields can echo hostile input, and a refused publish would be retried
        forever."""
        attributes = {
            "outcome": self.outcome.value,
            "kind": self.kind,
            "operation": self.operation,
            "triggerMessageId": self.trigger.message_id,
            "dedupeKey": self.key,
        }
        if self.name is not None:
            attributes["project"] = self.name.project
        elif self.project:
            attributes["project"] = self.project
        return {key: _clip_bytes(value) for key, value in attributes.items()}


def _trigger_fields(info: TriggerInfo) -> dict[str, str]:
    fields = {"messageId": info.message_id, "kind": info.kind, "chain": info.chain}
    if info.publish_time:
        fields["publishTime"] = info.publish_time
    if info.source:
        fields["source"] = info.source
    return fields


def _clip_bytes(text: str) -> str:
    """At most 1024 bytes of UTF-8; a lone surrogate (which UTF-8 cannot carry) becomes ?."""
    encoded = text.encode("utf-8", errors="replace")
    return encoded[:_ATTRIBUTE_MAX_BYTES].decode("utf-8", errors="ignore")
