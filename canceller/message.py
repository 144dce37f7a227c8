"""What one message asks for: its body (a name, a JSON document, or an alert) read into a
``Trigger`` of names, a sweep, a budget notification or an incident, and rejections.

``decode_trigger`` is the entry: it opens the envelope (``canceller.envelope``), reads the
body here, and a sweep's request in ``canceller.sweep_request``. Decoding never raises for
bad input. Whatever arrives becomes either a target or a ``Rejection`` with a sentence
saying what was wrong, because a message that can never succeed must be answered and
acked, not redelivered for a day.
"""

from __future__ import annotations

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
from canceller.chains import Chain, InvalidChain, parse_names_chain
from canceller.envelope import Refused, read_contents, read_info
from canceller.kinds import KINDS, LIST_KEYS, NAME_KEYS
from canceller.names import (
    InvalidName,
    ResourceName,
    kind_named_by,
    parse_name,
    truncate_for_report,
)
from canceller.selection import SweepSpec
from canceller.strict_json import InvalidJson, loads
from canceller.sweep_request import InvalidSweepRequest, known_keys, read_sweep_request
from canceller.trigger_info import TriggerInfo

MAX_NAMES_PER_MESSAGE = 100
MAX_REASON_BYTES = 1024
MAX_REQUEST_ID_CHARS = 256

_WORK_KEYS = (*NAME_KEYS, "sweep")
_COMMON_KEYS = ("reason", "requestId", "dryRun")
_KINDS_TEXT = ", ".join(f"a{'n' if k[0] in 'aeiou' else ''} {k}" for k in KINDS)
# What to do to named work: one of its kind's actions (canceller.kinds), "stop" by default.
_ACTION_KEY = "action"
# A named list's continuation (written by the function, canceller.chains) rides beside it.
_CONTINUATION_KEY = "continuation"


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
        info = read_info(event).with_chain("names")
        attributes, body = read_contents(event)
        return _decode_body(body, attributes, info)
    except Refused as refused:
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


def _decode_body(body: str, attributes: Mapping[str, str], info: TriggerInfo) -> Trigger:
    text = body.strip()
    if is_budget_notification(attributes):
        return _budget_trigger(attributes, text, info.with_chain("sweep"))
    if text and "operation" in attributes:
        raise Refused(
            attributes["operation"],
            "the attribute 'operation' is only read with an empty body: send one or the other",
        )
    if not text:
        if "operation" in attributes:
            operation = attributes["operation"]
            return _names_trigger(kind_named_by(operation), [operation], {}, info)
        raise Refused(
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
            raise Refused(text, str(invalid)) from None
        return Trigger(replace(info.with_chain("sweep"), kind="incident"), incident=incident)
    return _decode_document(document, text, info)


def _json(text: str) -> Any:
    try:
        return loads(text)
    except InvalidJson as invalid:
        raise Refused(text, f"the message is refused: {invalid}") from None


def _budget_trigger(attributes: Mapping[str, str], text: str, info: TriggerInfo) -> Trigger:
    try:
        budget = parse_budget(attributes, _json(text) if text else None)
    except InvalidAlert as invalid:
        raise Refused(text, str(invalid)) from None
    return Trigger(replace(info, kind="budget"), budget=budget)


def _decode_document(document: dict[str, Any], text: str, info: TriggerInfo) -> Trigger:
    present = [key for key in _WORK_KEYS if key in document]
    unknown = sorted(set(document) - {*_WORK_KEYS, *_COMMON_KEYS, _CONTINUATION_KEY, _ACTION_KEY})
    if unknown:
        raise Refused(
            text, f"unknown field(s) {', '.join(unknown)}: a typo must not change what is stopped"
        )
    if len(present) != 1:
        raise Refused(text, f"the message must have exactly one of {', '.join(_WORK_KEYS)}")
    key = present[0]
    if key == "sweep":
        if _CONTINUATION_KEY in document:
            raise Refused(text, "a sweep carries its continuation inside 'sweep'")
        if _ACTION_KEY in document:
            raise Refused(
                text, "'action' goes only with named clusters: a sweep stops, never deletes"
            )
        return _sweep_trigger(document, text, info.with_chain("sweep"))
    chain = None
    if _CONTINUATION_KEY in document:
        if key not in LIST_KEYS:
            raise Refused(text, "'continuation' goes only with a list of names")
        try:
            chain = parse_names_chain(document[_CONTINUATION_KEY], document[key])
        except InvalidChain as invalid:
            raise Refused(text, str(invalid)) from None
        info = replace(info, chain=chain.id)
    if key in LIST_KEYS:
        names = document[key]
        if not isinstance(names, list) or not names:
            raise Refused(text, f"'{key}' must be a non-empty list of names")
        if len(names) > MAX_NAMES_PER_MESSAGE:
            raise Refused(
                text,
                f"'{key}' lists {len(names)} names; at most {MAX_NAMES_PER_MESSAGE} per message",
            )
    else:
        names = [document[key]]
    kind = NAME_KEYS[key]
    action = document.get(_ACTION_KEY, "stop")
    if action not in KINDS[kind].actions:
        raise Refused(
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
    try:
        request = known_keys(document["sweep"])
        options = _common_options(document)
        sweep = read_sweep_request(request, options["dry_run"])
    except InvalidSweepRequest as invalid:
        chain = invalid.chain
        known = replace(info, chain=chain.id, part=chain.part) if chain else None
        raise Refused(invalid.offending_input(text), str(invalid), known) from None
    if sweep.chain is not None:
        info = replace(info, chain=sweep.chain.id, part=sweep.chain.part)
    options["dry_run"] = sweep.dry_run
    return Trigger(replace(info, kind="sweep", **options), sweep=sweep.spec, chain=sweep.chain)


def _common_options(document: Mapping[str, Any]) -> dict[str, Any]:
    reason = document.get("reason")
    if reason is not None and (
        not isinstance(reason, str) or len(reason.encode("utf-8")) > MAX_REASON_BYTES
    ):
        raise Refused(reason, f"'reason' must be text of at most {MAX_REASON_BYTES} bytes")
    request_id = document.get("requestId")
    if request_id is not None and (
        not isinstance(request_id, str | int) or len(str(request_id)) > MAX_REQUEST_ID_CHARS
    ):
        raise Refused(
            request_id, f"'requestId' must be text of at most {MAX_REQUEST_ID_CHARS} characters"
        )
    dry_run = document.get("dryRun")
    if dry_run is not None and not isinstance(dry_run, bool):
        raise Refused(dry_run, "'dryRun' must be true or false")
    return {
        "reason": reason,
        "request_id": None if request_id is None else str(request_id),
        "dry_run": dry_run,
    }
