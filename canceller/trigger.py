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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from canceller.clock import parse_timestamp
from canceller.names import InvalidName, OperationName, parse_operation_name, truncate_for_report

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_OPERATIONS_PER_MESSAGE = 100
MAX_REASON_BYTES = 1024
MAX_REQUEST_ID_CHARS = 256

_OPERATION_KEYS = ("operation", "name", "operations")
_COMMON_KEYS = ("reason", "requestId", "dryRun")


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
    info: TriggerInfo
    operations: tuple[OperationName, ...] = ()
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
    if not text:
        if "operation" in attributes:
            return _operations_trigger([attributes["operation"]], {}, info)
        raise _Refused(
            body,
            'the message is empty: send an operation name, JSON {"operation": NAME}, '
            "or set the attribute 'operation'",
        )
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise _Refused(text, f"the message is not valid JSON: {error.msg}") from None
        return _decode_document(document, text, info)
    return _operations_trigger([text], {}, info)


def _decode_document(document: dict[str, Any], text: str, info: TriggerInfo) -> Trigger:
    present = [key for key in _OPERATION_KEYS if key in document]
    unknown = sorted(set(document) - set(_OPERATION_KEYS) - set(_COMMON_KEYS))
    if unknown:
        raise _Refused(
            text, f"unknown field(s) {', '.join(unknown)}: a typo must not change what is cancelled"
        )
    if len(present) != 1:
        raise _Refused(
            text, "the message must have exactly one of 'operation', 'name' or 'operations'"
        )
    key = present[0]
    if key == "operations":
        names = document["operations"]
        if not isinstance(names, list) or not names:
            raise _Refused(text, "'operations' must be a non-empty list of operation names")
        if len(names) > MAX_OPERATIONS_PER_MESSAGE:
            raise _Refused(
                text,
                f"'operations' lists {len(names)} names; at most "
                f"{MAX_OPERATIONS_PER_MESSAGE} per message",
            )
    else:
        names = [document[key]]
    return _operations_trigger(names, document, info)


def _operations_trigger(
    names: list[Any], document: Mapping[str, Any], info: TriggerInfo
) -> Trigger:
    options = _common_options(document)
    info = TriggerInfo(
        message_id=info.message_id,
        publish_time=info.publish_time,
        source=info.source,
        kind="operation",
        **options,
    )
    targets: list[OperationName] = []
    rejections: list[Rejection] = []
    notes: list[str] = []
    for raw in names:
        try:
            name = parse_operation_name(raw)
        except InvalidName as invalid:
            rejections.append(Rejection(truncate_for_report(raw), str(invalid)))
            continue
        if name in targets:
            notes.append(f"{name.name} was listed more than once and is handled once")
            continue
        targets.append(name)
    return Trigger(info, tuple(targets), tuple(rejections), tuple(notes))


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
    if dry_run is not None and not isinstance(dry_run, bool):
        raise _Refused(dry_run, "'dryRun' must be true or false")
    return {
        "reason": reason,
        "request_id": None if request_id is None else str(request_id),
        "dry_run": dry_run,
    }
