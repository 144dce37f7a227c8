"""One check of every registered kind, in the manner of Cloud Custodian's
tests/test_resource.py: whatever a kind's description says must be known everywhere
else, so a half-described kind fails here rather than in production.

For each kind: its names parse and print back; messages name it by its keys; the IAM
role deploy.sh grants holds each call it makes; the emulator serves those calls; Google's
discovery document declares them; the schemas' enums, the examples and the IAM table
of docs/iam.md know it; and an incident on its monitored resource reaches it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from canceller.kinds import (
    DEFAULT_SWEEP_KINDS,
    INCIDENT_KINDS,
    KINDS,
    LIST_KEYS,
    NAME_KEYS,
    SWEEPABLE,
    Kind,
    role_permissions,
)
from canceller.names import KIND_PATHS, parse_name
from canceller.request_budget import Bucket, budget_key
from dataproc_emulator.routes import REAL_API, find
from tests.support.discovery import Discovery

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
EXAMPLES = SCHEMAS / "examples"
PROJECT, REGION = "demo-project", "us-central1"
# One valid ID per kind: a kind without one here fails, on purpose.
SAMPLE_IDS = {
    "operation": "op-1",
    "batch": "batch-1",
    "job": "job_1",
    "session": "session-1",
    "cluster": "etl-1",
}
KIND_LIST = list(KINDS.values())


def _name(kind: Kind) -> str:
    return f"projects/{PROJECT}/{kind.place}/{REGION}/{kind.plural}/{SAMPLE_IDS[kind.name]}"


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def discovery() -> Discovery:
    return Discovery.installed()


def test_every_kind_has_a_sample_and_one_collection() -> None:
    assert set(SAMPLE_IDS) == set(KINDS)
    assert list(KIND_PATHS) == list(KINDS)
    assert len({kind.plural for kind in KIND_LIST}) == len(KIND_LIST)


@pytest.mark.parametrize("kind", KIND_LIST, ids=lambda kind: kind.name)
def test_names_parse_print_and_are_keyed(kind: Kind) -> None:
    name = parse_name(kind.name, _name(kind))
    assert name.kind == kind.name and name.name == _name(kind)
    url = f"https://dataproc.googleapis.com/v1/{_name(kind)}:{kind.stop_verb}"
    assert parse_name(kind.name, url) == name
    assert NAME_KEYS[kind.name] == NAME_KEYS[kind.plural] == kind.name
    assert kind.plural in LIST_KEYS
    assert kind.acting("stop") is kind
    for action in kind.actions:
        assert kind.acting(action).name == kind.name


@pytest.mark.parametrize("kind", KIND_LIST, ids=lambda kind: kind.name)
def test_the_role_holds_every_call_and_the_emulator_and_google_serve_it(
    kind: Kind, discovery: Discovery
) -> None:
    """Each call the kind makes: the permission deploy.sh grants for it, the emulator's
    route, and the method of Google's discovery document it is."""
    name = parse_name(kind.name, _name(kind))
    resource = {
        "name": _name(kind),
        "operation": f"projects/{PROJECT}/regions/{REGION}/operations/op-9",
        "clusterUuid": "u-1",
    }
    calls = [("GET", name.name, None, {})]
    for action in kind.actions:
        stop = kind.acting(action).stop_call(name, resource, "names-x")
        calls.append((stop.method, stop.path, stop.body, dict(stop.params)))
    if kind.sweepable:
        calls.append(("GET", kind.collection(name.scope), None, {"pageSize": "1000"}))
    granted = set(
        role_permissions(
            frozenset(s for k in KIND_LIST for s in k.optional_permission_verbs.values())
        )
    )
    for verb in (*kind.permission_verbs, *kind.optional_permission_verbs):
        assert f"dataproc.{kind.plural}.{verb}" in granted
    for method, path, body, params in calls:
        assert find(REAL_API, method, f"/v1/{path}") is not None, (method, path)
        verdict = discovery.check(
            method, f"/v1/{path}", params, "" if body is None else json.dumps(body)
        )
        assert verdict.conforms, str(verdict)


@pytest.mark.parametrize("kind", KIND_LIST, ids=lambda kind: kind.name)
def test_quota_buckets_are_dataprocs(kind: Kind) -> None:
    name = parse_name(kind.name, _name(kind))
    for call, bucket in kind.quota_buckets.items():
        assert call in ("read", "stop")
        method, path = ("GET", name.name) if call == "read" else ("POST", f"{name.name}:x")
        assert budget_key(method, path).bucket is Bucket(bucket)


@pytest.mark.parametrize("kind", KIND_LIST, ids=lambda kind: kind.name)
def test_schemas_examples_and_docs_know_it(kind: Kind) -> None:
    result = _json(SCHEMAS / "result.schema.json")
    assert kind.name in result["properties"]["kind"]["enum"]
    trigger = _json(SCHEMAS / "trigger.schema.json")
    text = json.dumps(trigger)
    assert f'"{kind.name}"' in text and f'"{kind.plural}"' in text
    if kind.sweepable:
        assert kind.plural in json.dumps(result)
    examples = [_json(path) for path in EXAMPLES.glob("result-*.json")]
    outcomes = {example["outcome"] for example in examples if example.get("kind") == kind.name}
    assert "CANCELLED" in outcomes, outcomes
    triggers = [_json(path).get("data") for path in EXAMPLES.glob("trigger-*.json")]
    assert any(
        isinstance(data, dict) and (kind.name in data or kind.plural in data) for data in triggers
    )
    iam = (ROOT / "docs" / "iam.md").read_text()
    for permission in kind.permissions:
        assert f"`{permission}`" in iam, permission
    if kind.incident is not None:
        integrations = (ROOT / "docs" / "integrations.md").read_text()
        assert kind.incident.resource_type in integrations
        assert INCIDENT_KINDS[kind.incident.resource_type] is kind


def test_the_sweep_defaults_and_filter_fields_are_the_registrys() -> None:
    assert set(DEFAULT_SWEEP_KINDS) <= set(SWEEPABLE)
    assert "clusters" in SWEEPABLE and "clusters" not in DEFAULT_SWEEP_KINDS
    for kind in SWEEPABLE.values():
        for field in kind.filter_fields:
            assert re.fullmatch(r"[a-zA-Z.]+", field)
