"""Turn a Pub/Sub CloudEvent into validated work: names to act on, and rejections to answer.

Decoding never raises for bad input. Whatever arrives becomes either a target or a
``Rejection`` with a sentence saying what was wrong, because a message that can never
succeed must be answered and acked, not redelivered for a day.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import traceback
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
from canceller.chains import (
    Chain,
    InvalidChain,
    first_chain,
    parse_names_chain,
    parse_sweep_chain,
)
from canceller.clock import parse_timestamp
from canceller.kinds import KINDS, LIST_KEYS, NAME_KEYS, SWEEPABLE
from canceller.names import (
    UUID,
    InvalidName,
    ResourceName,
    is_wide_scope,
    kind_named_by,
    parse_name,
    truncate_for_report,
)
from canceller.org_apis import BUDGET_NAME
from canceller.selection import InvalidSweep, SweepSpec, parse_duration, parse_filter
from canceller.strict_json import InvalidJson, is_unicode, loads

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_NAMES_PER_MESSAGE = 100
MAX_REASON_BYTES = 1024
MAX_REQUEST_ID_CHARS = 256
MAX_SWEEP_MAX = 100_000  # the largest sweep.max; MAX_CANCELS_PER_MESSAGE caps it again
_OTHER_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)

_WORK_KEYS = (*NAME_KEYS, "sweep")
_COMMON_KEYS = ("reason", "requestId", "dryRun")
_KINDS_TEXT = ", ".join(f"a{'n' if k[0] in 'aeiou' else ''} {k}" for k in KINDS)
# What to do to named work: one of its kind's actions (canceller.kinds), "stop" by default.
_ACTION_KEY = "action"
# A named list's continuation (written by the function, canceller.chains) rides beside it.
_CONTINUATION_KEY = "continuation"
_SWEEP_KEYS = (
    "scopes",
    "olderThan",
    "filter",
    "operationTypes",
    "kinds",
    "max",
    "clusterUuid",
    "scopeKinds",
    "budget",
    "continuation",
    "skip",
    "dryRun",
)


@dataclass(frozen=True)
class TriggerInfo:
    """Where a message came from; echoed in every result so consumers can deduplicate."""

    message_id: str
    publish_time: str
    source: str
    kind: str = "unknown"
    reason: str | None = None
    request_id: str | None = None
    dry_run: bool | None = None  # None: the DRY_RUN setting decides; never lifts it
    chain: str = ""  # the request's chain id (canceller.chains): the first message's
    action: str = "stop"  # what a named message asks done: "delete" for clusters, if allowed
    part: str = ""  # a fan-out child's project (canceller.chains): in its message-level keys

    @property
    def key_prefix(self) -> str:
        """What every dedupe key of this message starts with: its chain, and a fan-out
        child's part, so that two children's answers about themselves never share a key."""
        return f"{self.chain}/{self.part}" if self.part else self.chain

    def with_chain(self, prefix: str) -> TriggerInfo:
        """This first message starts a chain named for it."""
        return replace(self, chain=first_chain(prefix, self.message_id).id)

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
    targets: tuple[ResourceName, ...] = ()
    sweep: SweepSpec | None = None
    budget: BudgetNotice | None = None
    incident: IncidentNotice | None = None
    rejections: tuple[Rejection, ...] = ()
    notes: tuple[str, ...] = field(default=())
    chain: Chain | None = None  # a continuation's place in its chain; None: a first message


class _Refused(Exception):
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


def decode_trigger(event: Any) -> Trigger:
    """Decode a functions-framework CloudEvent (binary, structured, or converted push body).

    Total: it returns for any event and never raises. Bad input is a rejection saying
    why; so is an exception from our own code (with a note naming where, which main.py
    logs), because raising would answer HTTP 500 and Pub/Sub would redeliver the message
    until it is dead-lettered, unanswered.
    """
    info = TriggerInfo(message_id="", publish_time=datetime.now(UTC).isoformat(), source="")
    notes: tuple[str, ...] = ()
    try:
        info = _trigger_info(event).with_chain("names")
        message = _pubsub_message(event)
        body = _message_body(message)
        attributes = _attributes(message)
        return _decode_body(body, attributes, info)
    except _Refused as refused:
        rejection = Rejection(refused.offending_input, refused.detail)
        info = refused.info or info
    except Exception as error:  # a defect of ours: answered and acked, not redelivered
        where = traceback.extract_tb(error.__traceback__)[-1]
        name = type(error).__name__
        rejection = Rejection("", f"could not decode the message: internal error {name}")
        notes = (
            f"internal error {name} decoding the message, in {where.name} at "
            f"{where.filename}:{where.lineno}",
        )
    return Trigger(info=info, rejections=(rejection,), notes=notes)


def _trigger_info(event: Any) -> TriggerInfo:
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
        raise _Refused(
            getattr(event, "data", None),
            "the event is not a Pub/Sub message: expected data.message with data and attributes",
        )
    return message


def _attributes(message: Mapping[str, Any]) -> dict[str, str]:
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in attributes.items()
    ):  # echoed by type only: repr() of what is not text can fail (an int of 5,000 digits)
        raise _Refused(type(attributes).__name__, "message attributes must be a map of strings")
    if not all(is_unicode(key) and is_unicode(value) for key, value in attributes.items()):
        raise _Refused(attributes, "message attributes must be Unicode text (no lone surrogates)")
    return dict(attributes)


def _message_body(message: Mapping[str, Any]) -> str:
    encoded = message.get("data") or ""
    if not isinstance(encoded, str):  # echoed by type only, as attributes are
        raise _Refused(type(encoded).__name__, "message data must be base64 text")
    if len(encoded) > (MAX_PAYLOAD_BYTES * 4) // 3 + 4:
        raise _Refused(encoded[:64], f"the message is larger than {MAX_PAYLOAD_BYTES // 1024} KiB")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _Refused(encoded, "message data is not valid base64") from None
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise _Refused(raw[:64], f"the message is larger than {MAX_PAYLOAD_BYTES // 1024} KiB")
    if raw.startswith(codecs.BOM_UTF8):  # RFC 8259: senders must not add one
        raise _Refused(raw, "the message starts with a byte order mark: send UTF-8 without one")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        bom = " (it starts with a UTF-16 or UTF-32 byte order mark)"
        detail = "the message is not UTF-8 text" + (bom if raw.startswith(_OTHER_BOMS) else "")
        raise _Refused(raw, detail) from None


def _decode_body(body: str, attributes: Mapping[str, str], info: TriggerInfo) -> Trigger:
    text = body.strip()
    if is_budget_notification(attributes):
        return _budget_trigger(attributes, text, info.with_chain("sweep"))
    if text and "operation" in attributes:
        raise _Refused(
            attributes["operation"],
            "the attribute 'operation' is only read with an empty body: send one or the other",
        )
    if not text:
        if "operation" in attributes:
            operation = attributes["operation"]
            return _names_trigger(kind_named_by(operation), [operation], {}, info)
        raise _Refused(
            body,
            f"the message is empty: send a name of {_KINDS_TEXT}, "
            "JSON such as {\"job\": NAME}, or set the attribute 'operation'",
        )
    if not text.startswith("{"):
        return _names_trigger(kind_named_by(text), [text], {}, info)
    document = _json(text)
    if is_incident(document):
        try:
            incident = parse_incident(document)
        except InvalidAlert as invalid:
            raise _Refused(text, str(invalid)) from None
        return Trigger(replace(info.with_chain("sweep"), kind="incident"), incident=incident)
    return _decode_document(document, text, info)


def _json(text: str) -> Any:
    try:
        return loads(text)
    except InvalidJson as invalid:
        raise _Refused(text, f"the message is refused: {invalid}") from None


def _budget_trigger(attributes: Mapping[str, str], text: str, info: TriggerInfo) -> Trigger:
    try:
        budget = parse_budget(attributes, _json(text) if text else None)
    except InvalidAlert as invalid:
        raise _Refused(text, str(invalid)) from None
    return Trigger(replace(info, kind="budget"), budget=budget)


def _decode_document(document: dict[str, Any], text: str, info: TriggerInfo) -> Trigger:
    present = [key for key in _WORK_KEYS if key in document]
    unknown = sorted(set(document) - {*_WORK_KEYS, *_COMMON_KEYS, _CONTINUATION_KEY, _ACTION_KEY})
    if unknown:
        raise _Refused(
            text, f"unknown field(s) {', '.join(unknown)}: a typo must not change what is stopped"
        )
    if len(present) != 1:
        raise _Refused(text, f"the message must have exactly one of {', '.join(_WORK_KEYS)}")
    key = present[0]
    if key == "sweep":
        if _CONTINUATION_KEY in document:
            raise _Refused(text, "a sweep carries its continuation inside 'sweep'")
        if _ACTION_KEY in document:
            raise _Refused(
                text, "'action' goes only with named clusters: a sweep stops, never deletes"
            )
        return _sweep_trigger(document, text, info.with_chain("sweep"))
    chain = None
    if _CONTINUATION_KEY in document:
        if key not in LIST_KEYS:
            raise _Refused(text, "'continuation' goes only with a list of names")
        try:
            chain = parse_names_chain(document[_CONTINUATION_KEY], document[key])
        except InvalidChain as invalid:
            raise _Refused(text, str(invalid)) from None
        info = replace(info, chain=chain.id)
    if key in LIST_KEYS:
        names = document[key]
        if not isinstance(names, list) or not names:
            raise _Refused(text, f"'{key}' must be a non-empty list of names")
        if len(names) > MAX_NAMES_PER_MESSAGE:
            raise _Refused(
                text,
                f"'{key}' lists {len(names)} names; at most {MAX_NAMES_PER_MESSAGE} per message",
            )
    else:
        names = [document[key]]
    kind = NAME_KEYS[key]
    action = document.get(_ACTION_KEY, "stop")
    if action not in KINDS[kind].actions:
        raise _Refused(
            action,
            f"'action' for {KINDS[kind].plural} must be one of {', '.join(KINDS[kind].actions)}",
        )
    trigger = _names_trigger(kind, names, document, replace(info, action=action))
    return replace(trigger, chain=chain)


def _names_trigger(
    kind: str, names: list[Any], document: Mapping[str, Any], info: TriggerInfo
) -> Trigger:
    info = replace(info, kind=kind, **_common_options(document))
    targets: list[ResourceName] = []
    rejections: list[Rejection] = []
    notes: list[str] = []
    for raw in names:
        try:
            name = parse_name(kind, raw)
        except InvalidName as invalid:
            rejections.append(Rejection(truncate_for_report(raw), str(invalid)))
            continue
        if name in targets:
            notes.append(f"{name.name} was listed more than once and is handled once")
            continue
        targets.append(name)
    return Trigger(info, targets=tuple(targets), rejections=tuple(rejections), notes=tuple(notes))


def _sweep_trigger(document: Mapping[str, Any], text: str, info: TriggerInfo) -> Trigger:
    request = document["sweep"]
    if not isinstance(request, dict):
        raise _Refused(text, "'sweep' must be an object (it may be empty: {})")
    unknown = sorted(set(request) - set(_SWEEP_KEYS))
    if unknown:
        raise _Refused(text, f"unknown sweep field(s) {', '.join(unknown)}")
    options = _common_options(document)
    if "dryRun" in request:
        inner = _boolean_option(request["dryRun"], "sweep.dryRun")
        if options["dry_run"] is not None and options["dry_run"] != inner:
            raise _Refused(text, "dryRun and sweep.dryRun disagree: a message has one meaning")
        options["dry_run"] = inner
    chain = None
    if "continuation" in request:
        try:
            chain = parse_sweep_chain(request["continuation"], request.get("skip"))
        except InvalidChain as invalid:
            raise _Refused(text, str(invalid)) from None
        info = replace(info, chain=chain.id, part=chain.part)
    elif "skip" in request or "budget" in request:
        raise _Refused(text, "sweep.skip and sweep.budget are only for continuation messages")
    try:
        spec = SweepSpec(
            scopes=_strings(request, "scopes"),
            filter=_optional_text(request, "filter"),
            older_than_seconds=(
                parse_duration(request["olderThan"]) if "olderThan" in request else None
            ),
            operation_types=_strings(request, "operationTypes"),
            max=_positive_int(request, "max"),
            cluster_uuid=_cluster_uuid(request.get("clusterUuid")),
            kinds=_kinds(request),
            scope_kinds=_scope_kinds(request),
            budget=_budget(request),
        )
        if spec.filter:
            parse_filter(spec.filter)
        if chain is not None and chain.part:
            _check_part(chain.part, spec.scopes)
    except InvalidSweep as invalid:
        raise _Refused(text, str(invalid), info if chain else None) from None
    return Trigger(replace(info, kind="sweep", **options), sweep=spec, chain=chain)


def _kinds(request: Mapping[str, Any]) -> tuple[str, ...]:
    kinds = _strings(request, "kinds")
    if unknown := sorted(set(kinds) - set(SWEEPABLE)):
        raise InvalidSweep(
            f"sweep.kinds has {', '.join(unknown)}; known: {', '.join(SWEEPABLE)} "
            "(batches are swept through their operations)"
        )
    return tuple(dict.fromkeys(kinds))


def _scope_kinds(request: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """A fan-out child's kinds per scope (canceller.fan_out): each key one of the sweep's
    scopes, each value some of its kinds. It can only narrow what the sweep lists."""
    value = request.get("scopeKinds", {})
    scopes, kinds = set(_strings(request, "scopes")), set(_kinds(request) or SWEEPABLE)
    if value and any(is_wide_scope(scope) for scope in scopes):
        # A wider scope is resolved by Cloud Asset into kinds per pair of its own.
        raise InvalidSweep("sweep.scopeKinds is only for sweeps of projects/P/regions/R scopes")
    if not isinstance(value, dict) or not all(
        scope in scopes
        and isinstance(plurals, list)
        and all(isinstance(plural, str) and plural in kinds for plural in plurals)
        for scope, plurals in value.items()
    ):
        raise InvalidSweep("sweep.scopeKinds must map some of sweep.scopes to lists of sweep.kinds")
    return {scope: tuple(dict.fromkeys(plurals)) for scope, plurals in value.items()}


# The scopes a budget continuation of canceller.fan_out carries: one per billed project
# at most, 10,000 of them in about 300 KB (Pub/Sub takes 10 MB).
MAX_BUDGET_SEARCHES = 10_000


def _budget(request: Mapping[str, Any]) -> tuple[str, str] | None:
    """A budget continuation's budget (canceller.fan_out): the searches it carries are
    judged by what that budget covers. It can only narrow the sweep's scopes."""
    value = request.get("budget")
    if value is None:
        return None
    match = BUDGET_NAME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidSweep("sweep.budget must be billingAccounts/XXXXXX-XXXXXX-XXXXXX/budgets/ID")
    if not 1 <= len(_strings(request, "scopes")) <= MAX_BUDGET_SEARCHES:
        raise InvalidSweep(f"a budget continuation carries 1 to {MAX_BUDGET_SEARCHES} scopes")
    return match["account"], match["id"]


def _check_part(part: str, scopes: tuple[str, ...]) -> None:
    """A fan-out child sweeps its own project only: its part names the project its
    results are booked under, and another project's work must not hide behind it."""
    if not scopes or not all(scope.startswith(f"{part}/regions/") for scope in scopes):
        raise InvalidSweep(
            f"a child of continuation.part {part} sweeps only {part}/regions/R scopes"
        )


def _cluster_uuid(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not UUID.fullmatch(value):
        raise InvalidSweep("sweep.clusterUuid must be a cluster UUID (hex digits and hyphens)")
    return value


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
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SWEEP_MAX:
        raise InvalidSweep(f"sweep.{key} must be a whole number from 1 to {MAX_SWEEP_MAX}")
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
