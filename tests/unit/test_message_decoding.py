"""Decoding trigger messages: every accepted form, and every way a message can be unusable."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from canceller.alerts import InvalidAlert, parse_incident
from canceller.message import Trigger, decode_trigger
from canceller.names import ResourceName
from tests.support.pubsub_events import pubsub_event

NAME = "projects/my-project/regions/us-central1/operations/op-1"
OTHER = "projects/my-project/regions/europe-west1/operations/op-2"
OP = ResourceName("operation", "my-project", "us-central1", "op-1")
REPO = Path(__file__).resolve().parents[2]


def test_json_operation_with_reason_and_request_id() -> None:
    body = json.dumps({"operation": NAME, "reason": "over budget", "requestId": "r-7"})
    trigger = decode_trigger(pubsub_event(body))
    assert trigger.targets == (OP,)
    assert trigger.rejections == ()
    assert trigger.info.reason == "over budget"
    assert trigger.info.request_id == "r-7"
    assert trigger.info.message_id == "m-1"
    assert trigger.info.publish_time == "2026-11-27T10:00:00.123456789Z"
    assert trigger.info.source.endswith("/topics/cancel-requests")
    assert trigger.info.kind == "operation"


def test_name_is_an_alias_for_operation() -> None:
    assert decode_trigger(pubsub_event(json.dumps({"name": NAME}))).targets == (OP,)


@pytest.mark.parametrize(
    "body",
    [
        NAME,
        f"  {NAME}\n",
        f"https://dataproc.googleapis.com/v1/{NAME}",
        f"https://us-central1-dataproc.googleapis.com/v1/{NAME}:cancel",
    ],
)
def test_plain_text_and_urls(body: str) -> None:
    trigger = decode_trigger(pubsub_event(body))
    assert trigger.targets == (OP,)
    assert trigger.rejections == ()


def test_empty_body_takes_the_operation_attribute() -> None:
    for body in (None, "", "  "):
        trigger = decode_trigger(pubsub_event(body, {"operation": NAME}))
        assert trigger.targets == (OP,)


def test_operations_list_answers_each_name_on_its_own() -> None:
    body = json.dumps({"operations": [NAME, "projects/x/../y", OTHER, NAME]})
    trigger = decode_trigger(pubsub_event(body))
    assert [op.name for op in trigger.targets] == [NAME, OTHER]
    assert len(trigger.rejections) == 1
    assert trigger.rejections[0].offending_input == "projects/x/../y"
    assert "more than once" in trigger.notes[0]


def test_operations_list_limits() -> None:
    many = [f"projects/my-project/regions/us-central1/operations/{i}" for i in range(100)]
    assert len(decode_trigger(pubsub_event(json.dumps({"operations": many}))).targets) == 100
    too_many = decode_trigger(pubsub_event(json.dumps({"operations": [*many, NAME]})))
    assert too_many.targets == ()
    assert "at most 100" in too_many.rejections[0].detail
    empty = decode_trigger(pubsub_event(json.dumps({"operations": []})))
    assert "non-empty list" in empty.rejections[0].detail


@pytest.mark.parametrize(
    ("body", "attributes", "fragment"),
    [
        ("", {}, "the message is empty"),
        ("{not json", {}, "not valid JSON"),
        (json.dumps({"operation": NAME, "name": NAME}), {}, "exactly one of"),
        (json.dumps({"reason": "x"}), {}, "exactly one of"),
        (json.dumps({"operation": NAME, "dryrun": True}), {}, "unknown field(s) dryrun"),
        (json.dumps({"operation": NAME, "reason": "x" * 1025}), {}, "at most 1024 bytes"),
        (json.dumps({"operation": NAME, "reason": "é" * 513}), {}, "at most 1024 bytes"),
        (json.dumps({"operation": NAME, "reason": 5}), {}, "'reason' must be text"),
        (json.dumps({"operation": NAME, "requestId": "r" * 257}), {}, "'requestId'"),
        (json.dumps({"operation": NAME, "dryRun": "yes"}), {}, "'dryRun' must be true or false"),
        (json.dumps({"operations": NAME}), {}, "non-empty list"),
        (json.dumps({"operation": 42}), {}, "as a string"),
        (b"\xff\xfe" + NAME.encode(), {}, "not UTF-8"),
        ("x" * (64 * 1024 + 1), {}, "larger than 64 KiB"),
        ("projects/my-project/regions/us-central1/operations/a%2F", {}, "percent-encoding"),
    ],
)
def test_unusable_messages_become_rejections(
    body: str | bytes, attributes: dict[str, str], fragment: str
) -> None:
    trigger = decode_trigger(pubsub_event(body, attributes))
    assert trigger.targets == ()
    assert len(trigger.rejections) == 1
    assert fragment in trigger.rejections[0].detail
    assert len(trigger.rejections[0].offending_input) <= 512


def test_invalid_base64_and_non_pubsub_events() -> None:
    event = pubsub_event(NAME)
    event.data["message"]["data"] = "%%%not base64"
    assert "not valid base64" in decode_trigger(event).rejections[0].detail

    not_pubsub = CloudEvent({"type": "x", "source": "//x", "id": "1"}, {"hello": "world"})
    trigger = decode_trigger(not_pubsub)
    assert "not a Pub/Sub message" in trigger.rejections[0].detail
    assert trigger.info.message_id == "1"

    raw_bytes = CloudEvent({"type": "x", "source": "//x", "id": "2"}, b"\x00\x01")
    assert decode_trigger(raw_bytes).rejections


def test_structured_data_given_as_json_text_is_read() -> None:
    event = pubsub_event(NAME)
    event.data = json.dumps(event.data)
    assert decode_trigger(event).targets == (OP,)


# -- Decoding is total and unambiguous (issue 9) ------------------------------------

SCOPE = "projects/my-project/regions/us-central1"
BUDGET_ATTRIBUTES = {"billingAccountId": "01D4EE-1", "budgetId": "b-1", "schemaVersion": "1.0"}
OLDER_THAN = "must be a duration like 6h, 30m or 1d12h, or a number of seconds, from 0 to 366 days"
MAX = "sweep.max must be a whole number from 1 to 100000"


def acts_on_nothing(trigger: Trigger) -> bool:
    """No work of any kind: every field but info, rejections and notes is empty."""
    skip = ("info", "rejections", "notes")
    return not any(getattr(trigger, f.name) for f in fields(trigger) if f.name not in skip)


def refusal(event: CloudEvent) -> str:
    trigger = decode_trigger(event)
    assert acts_on_nothing(trigger) and len(trigger.rejections) == 1, trigger
    return trigger.rejections[0].detail


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            f'{{"operation": "{NAME}", "operation": "{OTHER}"}}',
            "the message is refused: key `operation` appears twice at the top level: "
            "an ambiguous document is refused",
        ),
        (
            '{"sweep": {"max": 1, "max": 100}}',
            "the message is refused: key `max` appears twice in `sweep`: "
            "an ambiguous document is refused",
        ),
        (
            '{"operation": ' + "[" * 2000 + "]" * 2000 + "}",
            "the message is refused: JSON nested deeper than 32 levels",
        ),
        (
            '{"sweep": {"max": ' + "9" * 5000 + "}}",
            "the message is refused: an integer of 5000 digits: at most 30 are allowed",
        ),
        (
            '{"sweep": {"olderThan": 1e999}}',
            "the message is refused: the number 1e999 is out of range: numbers must be finite",
        ),
        (
            '{"sweep": {"olderThan": NaN}}',
            "the message is refused: NaN is not a JSON number: numbers must be finite",
        ),
        (
            json.dumps({"operation": NAME, "reason": "\ud800"}),
            "the message is refused: the string at `reason` holds a lone surrogate \\ud800, "
            "which is not Unicode text",
        ),
        (
            b"\xef\xbb\xbf" + json.dumps({"operation": NAME}).encode(),
            "the message starts with a byte order mark: send UTF-8 without one",
        ),
        (
            json.dumps({"operation": NAME}).encode("utf-16"),
            "the message is not UTF-8 text (it starts with a UTF-16 or UTF-32 byte order mark)",
        ),
        (
            json.dumps({"operation": NAME, "reason": "café"}, ensure_ascii=False).encode("latin-1"),
            "the message is not UTF-8 text",
        ),
        (  # a surrogate encoded as if it were a character (CESU-8)
            f'{{"operation": "{NAME}", "reason": "'.encode() + b'\xed\xa0\x80"}',
            "the message is not UTF-8 text",
        ),
    ],
    ids=[
        "duplicate-operation",
        "duplicate-sweep-max",
        "deep",
        "long-integer",
        "infinite",
        "nan",
        "lone-surrogate",
        "utf8-bom",
        "utf16",
        "latin1",
        "cesu8",
    ],
)
def test_ambiguous_or_unreadable_messages_are_refused(body: str | bytes, detail: str) -> None:
    assert refusal(pubsub_event(body)) == detail


@pytest.mark.parametrize(
    ("sweep", "detail"),
    [
        ({"olderThan": 366 * 86400 + 1}, f"olderThan {OLDER_THAN}"),
        ({"olderThan": -1}, f"olderThan {OLDER_THAN}"),
        ({"olderThan": 1e300}, f"olderThan {OLDER_THAN}"),
        ({"olderThan": 10**29}, f"olderThan {OLDER_THAN}"),
        ({"olderThan": "367d"}, f"olderThan='367d' {OLDER_THAN}"),
        ({"olderThan": "366d1s"}, f"olderThan='366d1s' {OLDER_THAN}"),
        ({"olderThan": "9999999999d"}, f"olderThan='9999999999d' {OLDER_THAN}"),
        ({"olderThan": "\u0663h"}, f"olderThan='\u0663h' {OLDER_THAN}"),  # not an ASCII digit
        ({"olderThan": True}, f"olderThan {OLDER_THAN}"),
        ({"max": 0}, MAX),
        ({"max": 100_001}, MAX),
        ({"max": 10**29}, MAX),
        ({"max": 5.0}, MAX),
        ({"max": True}, MAX),
    ],
)
def test_sweep_numbers_out_of_range_are_refused(sweep: dict[str, Any], detail: str) -> None:
    body = json.dumps({"sweep": {"scopes": [SCOPE], **sweep}})
    assert refusal(pubsub_event(body)) == detail


@pytest.mark.parametrize(
    ("older_than", "seconds"),
    [(0, 0.0), (0.5, 0.5), ("1d12h", 129600.0), ("366d", 31622400.0), (31622400, 31622400.0)],
)
def test_sweep_ages_up_to_366_days_are_read(older_than: object, seconds: float) -> None:
    body = json.dumps({"sweep": {"scopes": [SCOPE], "olderThan": older_than, "max": 100_000}})
    trigger = decode_trigger(pubsub_event(body))
    assert trigger.rejections == ()
    assert trigger.sweep is not None
    assert (trigger.sweep.older_than_seconds, trigger.sweep.max) == (seconds, 100_000)


def budget_document(**fields: object) -> str:
    return json.dumps({"costAmount": 10.0, "budgetAmount": 100.0, "currencyCode": "USD", **fields})


@pytest.mark.parametrize(
    ("field", "value", "high"),
    [
        ("costAmount", -0.01, "1e+15"),
        ("costAmount", 1e300, "1e+15"),
        ("budgetAmount", 10**20, "1e+15"),
        ("budgetAmount", "100", "1e+15"),
        ("costAmount", None, "1e+15"),
        ("alertThresholdExceeded", 1000.5, "1000"),
        ("alertThresholdExceeded", -1, "1000"),
        ("forecastThresholdExceeded", 1e9, "1000"),
    ],
)
def test_budget_numbers_out_of_range_are_refused(field: str, value: object, high: str) -> None:
    detail = refusal(pubsub_event(budget_document(**{field: value}), BUDGET_ATTRIBUTES))
    assert detail == f"a budget notification's {field} must be a number from 0 to {high}"


def test_budget_numbers_at_the_ends_of_their_ranges_are_read() -> None:
    body = budget_document(
        costAmount=0, budgetAmount=1e15, alertThresholdExceeded=1000, forecastThresholdExceeded=0
    )
    trigger = decode_trigger(pubsub_event(body, BUDGET_ATTRIBUTES))
    assert trigger.rejections == ()
    assert trigger.budget is not None
    assert (trigger.budget.cost, trigger.budget.budget) == (0.0, 1e15)
    assert trigger.budget.alert_threshold_exceeded == 1000.0


def incident_document() -> dict[str, Any]:
    labels = {"project_id": "my-project", "location": "us-central1", "batch_id": "b-1234"}
    return {
        "version": "1.2",
        "incident": {
            "incident_id": "0.abc",
            "policy_name": "runtime-over-6h",
            "state": "open",
            "started_at": 1764230400,
            "ended_at": None,
            "resource": {"type": "cloud_dataproc_batch", "labels": labels},
        },
    }


@pytest.mark.parametrize("moment", [None, -1, 10**29, 1.5e308, "yesterday", [], {"s": 1}])
def test_incident_timestamps_are_never_read(moment: object) -> None:
    document = incident_document()
    document["incident"].update(started_at=moment, ended_at=moment)
    trigger = decode_trigger(pubsub_event(json.dumps(document)))
    assert trigger.rejections == ()
    assert trigger.incident is not None and trigger.incident.is_open


@pytest.mark.parametrize("moment", [10**5000, math.inf, math.nan], ids=["huge", "inf", "nan"])
def test_parse_incident_ignores_timestamps_json_cannot_even_carry(moment: object) -> None:
    document = incident_document()
    document["incident"].update(started_at=moment, ended_at=moment)
    assert parse_incident(document).incident_id == "0.abc"


@pytest.mark.parametrize(
    ("path", "value", "detail"),
    [
        (("incident_id",), 5, "incident.incident_id must be text, got int"),
        (("policy_name",), ["p"], "incident.policy_name must be text, got list"),
        (("resource", "type"), 1, "incident.resource.type must be text, got int"),
        (
            ("resource", "labels", "batch_id"),
            1234,
            "incident.resource.labels.batch_id must be text, got int",
        ),
        (
            ("resource", "labels", "project_id"),
            {"id": 1},
            "incident.resource.labels.project_id must be text, got dict",
        ),
    ],
)
def test_incident_fields_we_act_on_must_be_text(
    path: tuple[str, ...], value: object, detail: str
) -> None:
    document = incident_document()
    parent = document["incident"]
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    assert refusal(pubsub_event(json.dumps(document))) == detail
    with pytest.raises(InvalidAlert, match="must be text"):  # and only InvalidAlert, directly
        parse_incident({"incident": {**document["incident"], "incident_id": 10**5000}})
    with pytest.raises(InvalidAlert, match="must be a JSON object"):
        parse_incident({"incident": "open"})


@pytest.mark.parametrize(
    ("attributes", "detail"),
    [
        ({"operation": 5}, "message attributes must be a map of strings"),
        ({"operation": 10**5000}, "message attributes must be a map of strings"),
        (["operation"], "message attributes must be a map of strings"),
        ({"operation": NAME, "x": "\ud800"}, "message attributes must be Unicode text"),
        ({"\udc00": "x"}, "message attributes must be Unicode text"),
    ],
    ids=["int", "huge-int", "list", "lone-surrogate-value", "lone-surrogate-key"],
)
def test_attributes_must_be_unicode_strings(attributes: object, detail: str) -> None:
    event = pubsub_event(None)
    event.data["message"]["attributes"] = attributes
    assert refusal(event).startswith(detail)


def test_ids_that_are_not_text_are_not_echoed() -> None:
    event = pubsub_event(NAME)
    event.data["message"].update(messageId=10**5000, publishTime={"seconds": 1})
    trigger = decode_trigger(event)
    assert trigger.rejections == ()
    assert trigger.info.message_id == "m-1"  # the CloudEvent's id instead
    assert trigger.info.publish_time != "{'seconds': 1}"
    event.data["message"]["messageId"] = "m\ud800"
    assert decode_trigger(event).info.message_id == "m-1"


def test_structured_data_is_read_strictly() -> None:
    event = pubsub_event(NAME)
    text = json.dumps(event.data)
    event.data = text.encode()  # UTF-8 bytes are JSON text too
    assert decode_trigger(event).rejections == ()
    for unreadable in ('{"message": {}, ' + text[1:], text.encode("utf-16"), "[" * 5000):
        event.data = unreadable
        assert "the event is not a Pub/Sub message" in refusal(event)


def test_an_internal_error_is_answered_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(message: object) -> str:
        raise ZeroDivisionError("a defect of ours")

    monkeypatch.setattr("canceller.envelope._message_body", broken)
    trigger = decode_trigger(pubsub_event(NAME))
    assert refusal(pubsub_event(NAME)) == (
        "could not decode the message: internal error ZeroDivisionError"
    )
    assert trigger.info.message_id == "m-1"
    assert trigger.notes[0].startswith("internal error ZeroDivisionError decoding the message")
    assert "in broken at " in trigger.notes[0]


def test_the_output_layer_imports_nothing_of_the_decoder() -> None:
    """What is published is built from plain values (canceller.trigger_info), so how
    messages are read can change without touching results, chat or money. Imported in a
    fresh interpreter: this one has loaded the decoder already."""
    output = ("canceller.results", "canceller.publishing", "canceller.notify", "canceller.pricing")
    code = f"import sys, {', '.join(output)}; print(*sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO
    ).stdout.split()
    assert set(output) <= set(loaded)
    decoder = {"canceller.envelope", "canceller.message", "canceller.sweep_request"}
    assert not decoder & set(loaded)
