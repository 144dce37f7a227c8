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
# The trigger kind each example decodes to, by file-name prefix; anything else names
# one operation (or several).
EXPECTED_KIND = {
    "trigger-batch": "batch",
    "trigger-job": "job",
    "trigger-session": "session",
    "trigger-sweep": "sweep",
    "budget": "budget",
    "incident": "incident",
}
# Examples that carry malformed names on purpose: how many each, and the kind they claim.
JOB = "projects/acme-data-prod/regions/us-central1/jobs/"
HOSTILE = {"trigger-operations": 1, "trigger-jobs": 1, "trigger-sessions": 1}


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
        "trigger-job",
        "trigger-jobs",
        "trigger-job-url",
        "trigger-session",
        "trigger-sessions",
        "trigger-session-url",
        "trigger-sweep-kinds",
        "trigger-sweep-cluster",
        "trigger-sweep-continuation",
        "incident-job-open",
        "incident-job-reused-id",
        "incident-session-open",
    } <= names


def _expected_kind(stem: str) -> str:
    prefixes = sorted(EXPECTED_KIND, key=len, reverse=True)  # trigger-sweep before trigger-s
    return next((EXPECTED_KIND[p] for p in prefixes if stem.startswith(p)), "operation")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_match_the_schema_and_decode(path: Path) -> None:
    example = json.loads(path.read_text())
    if isinstance(example["data"], dict):
        TRIGGER_SCHEMA.validate(example["data"])
    trigger = decode_trigger(as_event(example))
    kind = _expected_kind(path.stem)
    assert trigger.info.kind == kind
    assert len(trigger.rejections) == HOSTILE.get(path.stem, 0), trigger.rejections
    if kind in ("operation", "batch", "job", "session"):
        assert trigger.targets
        assert {target.kind for target in trigger.targets} == {kind}
    elif kind == "sweep":
        assert trigger.sweep is not None and not trigger.targets
    elif kind == "incident":
        assert trigger.incident is not None
        assert trigger.incident.resource_type == example["data"]["incident"]["resource"]["type"]


def test_sweep_example_fields_reach_the_decoded_spec() -> None:
    def trigger(stem: str) -> Any:
        example = json.loads((SCHEMAS / "examples" / f"{stem}.json").read_text())
        return decode_trigger(as_event(example))

    def spec(stem: str) -> Any:
        decoded = trigger(stem).sweep
        assert decoded is not None
        return decoded

    kinds = spec("trigger-sweep-kinds")
    assert kinds.kinds == ("jobs", "sessions")
    assert kinds.older_than_seconds == 7200
    cluster = spec("trigger-sweep-cluster")
    assert cluster.cluster_uuid == "7c1e4b2a-3f5d-4e6a-9b8c-2d1f0e9a8b7c"
    chain = trigger("trigger-sweep-continuation").chain
    assert (chain.id, chain.generation) == ("sweep-20261127-nightly-bi", 2)


def test_url_examples_name_their_kind_with_its_verb() -> None:
    for stem, kind, verb in (
        ("trigger-url", "operation", ":cancel"),
        ("trigger-job-url", "job", ":cancel"),
        ("trigger-session-url", "session", ":terminate"),
    ):
        example = json.loads((SCHEMAS / "examples" / f"{stem}.json").read_text())
        assert example["data"].strip().endswith(verb)
        (target,) = decode_trigger(as_event(example)).targets
        assert target.kind == kind
        assert example["data"].strip().removesuffix(verb).endswith(target.name)


@pytest.mark.parametrize(
    "data",
    [
        {"operation": "projects/acme-data-prod/regions/us-central1/operations/x", "dryrun": True},
        {"operation": "projects/acme-data-prod/regions/us-central1/operations/a/../b"},
        {"operations": []},
        {"sweep": {"scope": ["projects/p/regions/r"]}},
        {"batch": "projects/acme-data-prod/locations/us-central1/batches/UPPER"},
        {"job": "projects/acme-data-prod/locations/us-central1/sessions/not-a-job"},
        {"job": f"projects/acme-data-prod/regions/us-central1/jobs/{'j' * 101}"},
        {"job": "projects/acme-data-prod/regions/us-central1/jobs/etl:cancel"},
        {"session": "projects/acme-data-prod/regions/us-central1/jobs/not-a-session"},
        {"session": "projects/acme-data-prod/locations/us-central1/sessions/Notebook"},
        {"jobs": []},
        {"sessions": "projects/acme-data-prod/locations/us-central1/sessions/nb-1"},
        {"job": "projects/acme-data-prod/regions/us-central1/jobs/a", "session": "x"},
        {"sweep": {"kinds": ["batches"]}},
        {"sweep": {"kinds": "jobs"}},
        {"sweep": {"clusterUuid": "not a uuid"}},
        {"sweep": {"continuation": {"sweepId": "sweep-1"}}},
        {"sweep": {"continuation": {"sweepId": "nightly", "generation": 1}}},
        {"sweep": {"continuation": {"sweepId": "sweep-1", "generation": 0}}},
        {"sweep": {"continuation": {"sweepId": "sweep-1", "generation": 1001}}},
        {"sweep": {"max": 100_001}},
    ],
)
def test_schema_and_decoder_both_refuse(data: dict[str, Any]) -> None:
    assert not TRIGGER_SCHEMA.is_valid(data)
    trigger = decode_trigger(as_event({"data": data, "attributes": {}}))
    assert trigger.rejections
    assert not (trigger.targets or trigger.sweep)


@pytest.mark.parametrize(
    "data",
    [
        {"job": f"https://dataproc.googleapis.com/v1/{JOB}etl_1"},
        {"session": "projects/example.com:legacy-proj/locations/europe-west1/sessions/nb-7"},
        {"jobs": ["projects/acme-data-prod/regions/us-central1/jobs/a", "not a name"]},
        {"sweep": {"kinds": ["jobs", "jobs"], "clusterUuid": "0D2E6F0A-9c1b"}},
        {"sweep": {"continuation": {"sweepId": "sweep-42", "generation": 1000}}},
    ],
)
def test_schema_and_decoder_both_accept(data: dict[str, Any]) -> None:
    assert TRIGGER_SCHEMA.is_valid(data)
    trigger = decode_trigger(as_event({"data": data, "attributes": {}}))
    assert trigger.targets or trigger.sweep
