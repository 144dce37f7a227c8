"""The envelope of a message: a functions-framework CloudEvent (binary, structured, or a
converted push body) around a Pub/Sub message, read into where it came from
(``TriggerInfo``), its attributes and its body as text.

What is inside the body is ``canceller.message``'s. A message that cannot be opened is
``Refused`` with a sentence saying why, because a message that can never succeed must be
answered and acked, not redelivered for a day.
"""

from __future__ import annotations

import base64
import binascii
import codecs
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from canceller.names import truncate_for_report
from canceller.strict_json import InvalidJson, is_unicode, loads
from canceller.trigger_info import TriggerInfo

MAX_PAYLOAD_BYTES = 64 * 1024
_OTHER_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)


class Refused(Exception):
    """The whole message is unusable; carries the input to echo and the reason."""

    def __init__(
        self, offending_input: object, detail: str, info: TriggerInfo | None = None
    ) -> None:
        super().__init__(detail)
        self.offending_input = truncate_for_report(offending_input)
        self.detail = detail
        # A continuation's chain (and part), once known: its refusal is answered under
        # its sweep's keys, the same for every copy of it.
        self.info = info


def read_info(event: Any) -> TriggerInfo:
    """Only text is taken, so that even a malformed envelope is answered with the ids
    it carries, and nothing that cannot be published is echoed."""
    message = _event_data(event).get("message")
    if not isinstance(message, dict):
        message = {}
    return TriggerInfo(
        message_id=_first_text(
            message.get("messageId"), message.get("message_id"), _attribute(event, "id")
        ),
        publish_time=_first_text(
            message.get("publishTime"), message.get("publish_time"), _attribute(event, "time")
        )
        or datetime.now(UTC).isoformat(),
        source=_first_text(_attribute(event, "source")),
    )


def read_contents(event: Any) -> tuple[dict[str, str], str]:
    """The message's attributes and its body as text; ``Refused`` if either is unusable
    (the body is judged first)."""
    message = _pubsub_message(event)
    body = _message_body(message)
    return _attributes(message), body


def _first_text(*values: object) -> str:
    return next((v for v in values if isinstance(v, str) and v and is_unicode(v)), "")


def _attribute(event: Any, key: str) -> Any:
    try:
        return event[key]
    except (KeyError, TypeError):
        return None


def _event_data(event: Any) -> dict[str, Any]:
    """The event's data as a dict: parsed strictly if it is JSON text, else empty."""
    data = getattr(event, "data", None)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return {}
    if isinstance(data, str):
        try:
            data = loads(data)
        except InvalidJson:
            return {}
    return data if isinstance(data, dict) else {}


def _pubsub_message(event: Any) -> Mapping[str, Any]:
    data = _event_data(event)
    message = data.get("message")
    if not isinstance(message, dict):
        raise Refused(
            getattr(event, "data", None),
            "the event is not a Pub/Sub message: expected data.message with data and attributes",
        )
    return message


def _attributes(message: Mapping[str, Any]) -> dict[str, str]:
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in attributes.items()
    ):  # echoed by type only: repr() of what is not text can fail (an int of 5,000 digits)
        raise Refused(type(attributes).__name__, "message attributes must be a map of strings")
    if not all(is_unicode(key) and is_unicode(value) for key, value in attributes.items()):
        raise Refused(attributes, "message attributes must be Unicode text (no lone surrogates)")
    return dict(attributes)


def _message_body(message: Mapping[str, Any]) -> str:
    encoded = message.get("data") or ""
    if not isinstance(encoded, str):  # echoed by type only, as attributes are
        raise Refused(type(encoded).__name__, "message data must be base64 text")
    if len(encoded) > (MAX_PAYLOAD_BYTES * 4) // 3 + 4:
        raise Refused(encoded[:64], f"the message is larger than {MAX_PAYLOAD_BYTES // 1024} KiB")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(encoded, "message data is not valid base64") from None
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise Refused(raw[:64], f"the message is larger than {MAX_PAYLOAD_BYTES // 1024} KiB")
    if raw.startswith(codecs.BOM_UTF8):  # RFC 8259: senders must not add one
        raise Refused(raw, "the message starts with a byte order mark: send UTF-8 without one")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        bom = " (it starts with a UTF-16 or UTF-32 byte order mark)"
        detail = "the message is not UTF-8 text" + (bom if raw.startswith(_OTHER_BOMS) else "")
        raise Refused(raw, detail) from None
