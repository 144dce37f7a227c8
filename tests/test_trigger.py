"""Decoding trigger messages: every accepted form, and every way a message can be unusable."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from canceller.names import ResourceName
from canceller.trigger import decode_trigger

NAME = "projects/my-project/regions/us-central1/operations/op-1"
OTHER = "projects/my-project/regions/europe-west1/operations/op-2"
OP = ResourceName("operation", "my-project", "us-central1", "op-1")


def pubsub_event(body: bytes | str | None, attributes: dict[str, str] | None = None) -> CloudEvent:
    message: dict[str, Any] = {
        "messageId": "m-1",
        "publishTime": "2026-11-27T10:00:00.123456789Z",
        "attributes": attributes or {},
    }
    if body is not None:
        raw = body.encode() if isinstance(body, str) else body
        message["data"] = base64.b64encode(raw).decode()
    return CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/my-project/topics/cancel-requests",
            "id": "m-1",
        },
        {"message": message, "subscription": "projects/my-project/subscriptions/s"},
    )


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
