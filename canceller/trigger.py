"""Turn a Pub/Sub CloudEvent into validated work: names to act on, and rejections to answer.

Decoding never raises for bad input. Whatever arrives becomes either a target or a
``Rejection`` with a sentence saying what was wrong, because a message that can never
succeed must be answered and acked, not redelivered for a day.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from canceller.alerts import (
    BudgetNotice,
    IncidentNotice,
    InvalidAlert,
    is_budget_notification,
    is_incident,
    parse_budget,
    parse_incident,
)
from canceller.clock import parse_timestamp
from canceller.names import (
    BatchName,
    InvalidName,
    OperationName,
    parse_batch_name,
    parse_operation_name,
    truncate_for_report,
)
from canceller.selection import InvalidSweep, SweepSpec, parse_duration, parse_filter

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_OPERATIONS_PER_MESSAGE = 100
MAX_REASON_BYTES = 1024
MAX_REQUEST_ID_CHARS = 256

_WORK_KEYS = ("operation", "name", "operations", "batch", "batches", "sweep")
_COMMON_KEYS = ("reason", "requestId", "dryRun")
_SWEEP_KEYS = ("scopes", "olderThan", "filter", "operationTypes", "max", "dryRun")


@dataclass(frozen=True)
class TriggerInfo:
    """Where a message came from; echoed in every result so consumers can deduplicate."""

    message_id: str
    publish_time: str
    source: str
    kind: str = "unknown"
    reason: str | None = None
    request_id: str | None = None
    dry_run: bool | None = None  # None: the DRY_RUN setting decides

    def age_seconds(self, now: datetime) -> float | None:
        published = parse_timestamp(self.publish_time)
        return None if published is None else (now - published).total_seconds()


@dataclass(frozen=True)
class Rejection:
    """Input we refuse, with the offending text (truncated) and why."""

    offending_input: str
    detail: str


@dataclass(frozen=True)
class Trigger:
    """What one message asks for. Exactly one kind of work is set (or only rejections)."""

    info: TriggerInfo
    operations: tuple[OperationName, ...] = ()
    batches: tuple[BatchName, ...] = ()
    sweep: SweepSpec | None = None
    budget: BudgetNotice | None = None
    incident: IncidentNotice | None = None
    rejections: tuple[Rejection, ...] = ()
    notes: tuple[str, ...] = field(default=())


class _Refused(Exception):
    """The whole message is unusable; carries the input to echo and the reason."""

    def __init__(self, offending_input: object, detail: str) -> None:
        super().__init__(detail)
        self.offending_input = truncate_for_report(offending_input)
        self.detail = detail


def decode_trigger(event: Any) -> Trigger:
    """Decode a functions-framework CloudEvent (binary, structured, or converted push body)."""
    info = _trigger_info(event)
    try:
        message = _pubsub_message(event)
        body = _message_body(message)
        attributes = _attributes(message)
        return _decode_body(body, attributes, info)
    except _Refused as refused:
        return Trigger(info=info, rejections=(Rejection(refused.offending_input, refused.detail),))


def _trigger_info(event: Any) -> TriggerInfo:
    data = _event_data(event)
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    message_id = message.get("messageId") or message.get("message_id") or _attribute(event, "id")
    publish_time = (
        message.get("publishTime") or message.get("publish_time") or _attribute(event, "time")
    )
    return TriggerInfo(
        message_id=str(message_id or ""),
        publish_time=str(publish_time or datetime.now(UTC).isoformat()),
        source=str(_attribute(event, "source") or ""),
    )


def _attribute(event: Any, key: str) -> Any:
    try:
        return event[key]
    except (KeyError, TypeError):
        return None


def _event_data(event: Any) -> dict[str, Any]:
    data = getattr(event, "data", None)
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError:
            return {}
    return data if isinstance(data, dict) else {}


def _pubsub_message(event: Any) -> Mapping[str, Any]:
    data = _event_data(event)
    message = data.get("message")
    if not isinstance(message, dict):
        raise _Refused(
            getattr(event, "data", None),
            "the event is not a Pub/Sub message: expected data.message with data and attributes",
        )
    return message


def _attributes(message: Mapping[str, Any]) -> dict[str, str]:
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise _Refused(attributes, "message attributes must be a map of strings")
    return {str(k): str(v) for k, v in attributes.items()}


def _message_body(message: Mapping[str, Any]) -> str:
    encoded = message.get("data") or ""
    if not isinstance(encoded, str):
        raise _Refused(encoded, "message data must be base64 text")
    if len(encoded) > (MAX_PAYLOAD_BYTES * 4) // 3 + 4:
        raise _Refused(encoded[:64], f"the message is larger than {MAX_PAYLOAD_BYTES // 1024} KiB")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _Refused(encoded, "message data is not valid base64") from None
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise _Refused(raw[:64], f"the message is larger than {MAX_PAYLOAD_BYTES // 1024} KiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(raw, "the message is not UTF-8 text") from None


def _decode_body(body: str, attributes: Mapping[str, str], info: TriggerInfo) -> Trigger:
    text = body.strip()
    if is_budget_notification(attributes):
        return _budget_trigger(attributes, text, info)
    if not text:
        if "operation" in attributes:
            return _names_trigger("operation", [attributes["operation"]], {}, info)
        raise _Refused(
            body,
            'the message is empty: send an operation name, JSON {"operation": NAME}, '
            "or set the attribute 'operation'",
        )
    if not text.startswith("{"):
        kind = "batch" if "/batches/" in text else "operation"
        return _names_trigger(kind, [text], {}, info)
    document = _json(text)
    if is_incident(document):
        try:
            incident = parse_incident(document)
        except InvalidAlert as invalid:
            raise _Refused(text, str(invalid)) from None
        return Trigger(replace(info, kind="incident"), incident=incident)
    return _decode_document(document, text, info)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise _Refused(text, f"the message is not valid JSON: {error.msg}") from None


def _budget_trigger(attributes: Mapping[str, str], text: str, info: TriggerInfo) -> Trigger:
    try:
        budget = parse_budget(attributes, _json(text) if text else None)
    except InvalidAlert as invalid:
        raise _Refused(text, str(invalid)) from None
    return Trigger(replace(info, kind="budget"), budget=budget)


def _decode_document(document: dict[str, Any], text: str, info: TriggerInfo) -> Trigger:
    present = [key for key in _WORK_KEYS if key in document]
    unknown = sorted(set(document) - set(_WORK_KEYS) - set(_COMMON_KEYS))
    if unknown:
        raise _Refused(
            text, f"unknown field(s) {', '.join(unknown)}: a typo must not change what is cancelled"
        )
    if len(present) != 1:
        raise _Refused(text, f"the message must have exactly one of {', '.join(_WORK_KEYS)}")
    key = present[0]
    if key == "sweep":
        return _sweep_trigger(document, text, info)
    kind = "batch" if key.startswith("batch") else "operation"
    if key in ("operations", "batches"):
        names = document[key]
        if not isinstance(names, list) or not names:
            raise _Refused(text, f"'{key}' must be a non-empty list of names")
        if len(names) > MAX_OPERATIONS_PER_MESSAGE:
            raise _Refused(
                text,
                f"'{key}' lists {len(names)} names; at most "
                f"{MAX_OPERATIONS_PER_MESSAGE} per message",
            )
    else:
        names = [document[key]]
    return _names_trigger(kind, names, document, info)


def _names_trigger(
    kind: str, names: list[Any], document: Mapping[str, Any], info: TriggerInfo
) -> Trigger:
    info = replace(info, kind=kind, **_common_options(document))
    parse = parse_batch_name if kind == "batch" else parse_operation_name
    targets: list[Any] = []
    rejections: list[Rejection] = []
    notes: list[str] = []
    for raw in names:
        try:
            name = parse(raw)
        except InvalidName as invalid:
            rejections.append(Rejection(truncate_for_report(raw), str(invalid)))
            continue
        if name in targets:
            notes.append(f"{name.name} was listed more than once and is handled once")
            continue
        targets.append(name)
    if kind == "batch":
        return Trigger(
            info, batches=tuple(targets), rejections=tuple(rejections), notes=tuple(notes)
        )
    return Trigger(
        info, operations=tuple(targets), rejections=tuple(rejections), notes=tuple(notes)
    )


def _sweep_trigger(document: Mapping[str, Any], text: str, info: TriggerInfo) -> Trigger:
    request = document["sweep"]
    if not isinstance(request, dict):
        raise _Refused(text, "'sweep' must be an object (it may be empty: {})")
    unknown = sorted(set(request) - set(_SWEEP_KEYS))
    if unknown:
        raise _Refused(text, f"unknown sweep field(s) {', '.join(unknown)}")
    options = _common_options(document)
    if "dryRun" in request:
        options["dry_run"] = _boolean_option(request["dryRun"], "sweep.dryRun")
    try:
        spec = SweepSpec(
            scopes=_strings(request, "scopes"),
            filter=_optional_text(request, "filter"),
            older_than_seconds=(
                parse_duration(request["olderThan"]) if "olderThan" in request else None
            ),
            operation_types=_strings(request, "operationTypes"),
            max=_positive_int(request, "max"),
        )
        if spec.filter:
            parse_filter(spec.filter)
    except InvalidSweep as invalid:
        raise _Refused(text, str(invalid)) from None
    return Trigger(replace(info, kind="sweep", **options), sweep=spec)


def _strings(request: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = request.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidSweep(f"sweep.{key} must be a list of strings")
    return tuple(value)


def _optional_text(request: Mapping[str, Any], key: str) -> str | None:
    value = request.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidSweep(f"sweep.{key} must be a string")
    return value


def _positive_int(request: Mapping[str, Any], key: str) -> int | None:
    value = request.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidSweep(f"sweep.{key} must be a whole number of at least 1")
    return value


def _boolean_option(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise _Refused(value, f"'{key}' must be true or false")
    return value


def _common_options(document: Mapping[str, Any]) -> dict[str, Any]:
    reason = document.get("reason")
    if reason is not None and (
        not isinstance(reason, str) or len(reason.encode("utf-8")) > MAX_REASON_BYTES
    ):
        raise _Refused(reason, f"'reason' must be text of at most {MAX_REASON_BYTES} bytes")
    request_id = document.get("requestId")
    if request_id is not None and (
        not isinstance(request_id, str | int) or len(str(request_id)) > MAX_REQUEST_ID_CHARS
    ):
        raise _Refused(
            request_id, f"'requestId' must be text of at most {MAX_REQUEST_ID_CHARS} characters"
        )
    dry_run = document.get("dryRun")
    return {
        "reason": reason,
        "request_id": None if request_id is None else str(request_id),
        "dry_run": None if dry_run is None else _boolean_option(dry_run, "dryRun"),
    }
