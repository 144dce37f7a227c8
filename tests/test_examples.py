"""The documented trigger examples and schema agree with what the decoder accepts."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from jsonschema import Draft202012Validator

from canceller.trigger import decode_trigger

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
TRIGGER_SCHEMA = Draft202012Validator(json.loads((SCHEMAS / "trigger.schema.json").read_text()))
EXAMPLES = sorted(
    p for p in (SCHEMAS / "examples").glob("*.json") if not p.name.startswith("result-")
)
EXPECTED_KIND = {
    "trigger-batch": "batch",
    "trigger-sweep": "sweep",
    "trigger-sweep-dry-run": "sweep",
    "budget": "budget",
    "incident": "incident",
}


def as_event(example: dict[str, Any]) -> CloudEvent:
    data = example["data"]
    raw = data if isinstance(data, str) else json.dumps(data)
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//x", "id": "1"},
        {
            "message": {
                "data": base64.b64encode(raw.encode()).decode(),
                "attributes": example["attributes"],
                "messageId": "1",
            }
        },
    )


def test_there_is_an_example_of_each_form() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {
        "trigger-operation",
        "trigger-name-field",
        "trigger-plain-text",
        "trigger-url",
        "trigger-attribute",
        "trigger-operations",
        "trigger-batch",
        "trigger-sweep",
        "budget-notification-over",
        "incident-batch-open",
        "incident-cluster-open",
    } <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_match_the_schema_and_decode(path: Path) -> None:
    example = json.loads(path.read_text())
    if isinstance(example["data"], dict):
        TRIGGER_SCHEMA.validate(example["data"])
    trigger = decode_trigger(as_event(example))
    kind = next(
        (k for prefix, k in EXPECTED_KIND.items() if path.stem.startswith(prefix)), "operation"
    )
    assert trigger.info.kind == kind
    if path.stem == "trigger-operations":  # it carries one hostile name on purpose
        assert len(trigger.rejections) == 1
    else:
        assert trigger.rejections == ()


@pytest.mark.parametrize(
    "data",
    [
        {"operation": "projects/acme-data-prod/regions/us-central1/operations/x", "dryrun": True},
        {"operation": "projects/acme-data-prod/regions/us-central1/operations/a/../b"},
        {"operations": []},
        {"sweep": {"scope": ["projects/p/regions/r"]}},
        {"batch": "projects/acme-data-prod/locations/us-central1/batches/UPPER"},
    ],
)
def test_schema_and_decoder_both_refuse(data: dict[str, Any]) -> None:
    assert not TRIGGER_SCHEMA.is_valid(data)
    trigger = decode_trigger(as_event({"data": data, "attributes": {}}))
    assert trigger.rejections
    assert not (trigger.operations or trigger.batches or trigger.sweep)
