"""schemas/result.proto (bound to the results topic) and schemas/result.schema.json agree.

The proto is what Pub/Sub enforces at publish time; the JSON Schema is the documented
contract. If they drifted, results would be refused in production that pass every test,
or the topic would let through what the contract forbids, so they are compared here
field by field, in both directions, through every nested definition.

Each change of result.proto becomes a new revision of the topic's schema, and messages
of an earlier revision (an old function still running during a deploy, replays) must
still be accepted, and the BigQuery table made from it can only gain columns: so every
field of every earlier revision is checked to be still there, unchanged.

The examples in schemas/examples are real results; those of a fan-out (a sweep over a
folder or a budget's scope) are also held to what the function publishes, run against
the emulator, so the documented shapes and the code cannot drift apart.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from jsonschema import Draft202012Validator
from support.result_contract import (
    PROTO_PATH,
    SCHEMAS,
    assert_valid_result,
    json_schema,
    json_schema_errors,
    proto_changes,
    proto_error,
    proto_file,
    result_class,
)

from canceller.dispatch import Handled, handle_trigger
from canceller.message import decode_trigger
from canceller.org_apis import ORG_APIS
from canceller.runtime import Runtime
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from dataproc_emulator.fake_org import BILLING_ACCOUNT, BUDGET_ID, fake_organisation
from tests.support.dispatching import event

EXAMPLES = sorted((SCHEMAS / "examples").glob("result-*.json"))
INT32_MAX = 2**31 - 1
KINDS = ("operation", "batch", "job", "session", "cluster")

# Every field of revision 1 (schemaVersion "1.0"): (full name, number, type, repeated).
# A revision may add fields; it must not drop, renumber or retype one of these.
REVISION_1 = [
    ("Result.schema_version", 1, "string", False),
    ("Result.outcome", 2, "string", False),
    ("Result.operation", 3, "string", False),
    ("Result.project", 4, "string", False),
    ("Result.region", 5, "string", False),
    ("Result.operation_id", 6, "string", False),
    ("Result.batch", 7, "string", False),
    ("Result.detail", 8, "string", False),
    ("Result.state", 9, "Result.OperationState", False),
    ("Result.error", 10, "Result.ApiError", False),
    ("Result.trigger", 11, "Result.Trigger", False),
    ("Result.reason", 12, "string", False),
    ("Result.request_id", 13, "string", False),
    ("Result.dry_run", 14, "bool", False),
    ("Result.budget", 15, "Result.Budget", False),
    ("Result.incident", 16, "Result.Incident", False),
    ("Result.sweep", 17, "Result.Sweep", False),
    ("Result.started_at", 18, "string", False),
    ("Result.finished_at", 19, "string", False),
    ("Result.elapsed_seconds", 20, "double", False),
    ("Result.OperationState.done", 1, "bool", False),
    ("Result.OperationState.error_code", 2, "int32", False),
    ("Result.OperationState.error_message", 3, "string", False),
    ("Result.OperationState.has_response", 4, "bool", False),
    ("Result.OperationState.metadata_type", 5, "string", False),
    ("Result.OperationState.operation_type", 6, "string", False),
    ("Result.OperationState.batch", 7, "string", False),
    ("Result.OperationState.cluster_name", 8, "string", False),
    ("Result.OperationState.cluster_uuid", 9, "string", False),
    ("Result.OperationState.description", 10, "string", False),
    ("Result.OperationState.create_time", 11, "string", False),
    ("Result.ApiError.http_status", 1, "int32", False),
    ("Result.ApiError.status", 2, "string", False),
    ("Result.ApiError.message", 3, "string", False),
    ("Result.Trigger.message_id", 1, "string", False),
    ("Result.Trigger.publish_time", 2, "string", False),
    ("Result.Trigger.source", 3, "string", False),
    ("Result.Trigger.kind", 4, "string", False),
    ("Result.Budget.billing_account_id", 1, "string", False),
    ("Result.Budget.budget_id", 2, "string", False),
    ("Result.Budget.display_name", 3, "string", False),
    ("Result.Budget.cost_amount", 4, "double", False),
    ("Result.Budget.budget_amount", 5, "double", False),
    ("Result.Budget.currency_code", 6, "string", False),
    ("Result.Budget.alert_threshold_exceeded", 7, "double", False),
    ("Result.Incident.incident_id", 1, "string", False),
    ("Result.Incident.policy_name", 2, "string", False),
    ("Result.Incident.state", 3, "string", False),
    ("Result.Incident.resource_type", 4, "string", False),
    ("Result.Sweep.id", 1, "string", False),
    ("Result.Sweep.scopes", 2, "string", True),
    ("Result.Sweep.filter", 3, "string", False),
    ("Result.Sweep.found", 4, "int32", False),
    ("Result.Sweep.selected", 5, "int32", False),
    ("Result.Sweep.acted", 6, "int32", False),
    ("Result.Sweep.max", 7, "int32", False),
    ("Result.Sweep.truncated", 8, "bool", False),
    ("Result.Sweep.outcomes", 9, "map<string, int32>", False),
]
# Added by revision 2 (schemaVersion "1.1").
REVISION_2 = [
    ("Result.kind", 21, "string", False),
    ("Result.target", 22, "string", False),
    ("Result.OperationState.batch_state", 12, "string", False),
    ("Result.OperationState.job_state", 13, "string", False),
    ("Result.OperationState.job_uuid", 14, "string", False),
    ("Result.OperationState.session_state", 15, "string", False),
    ("Result.OperationState.session_uuid", 16, "string", False),
    ("Result.OperationState.state_details", 17, "string", False),
    ("Result.Sweep.kinds", 10, "string", True),
    ("Result.Sweep.exempt", 11, "int32", False),
    ("Result.Sweep.remaining", 12, "int32", False),
    ("Result.Sweep.handed_on", 13, "bool", False),
    ("Result.Sweep.generation", 14, "int32", False),
]
# Added by revision 3 (schemaVersion "1.2").
REVISION_3 = [
    ("Result.dedupe_key", 23, "string", False),
    ("Result.Trigger.chain", 5, "string", False),
    ("Result.Sweep.pages", 15, "int32", False),
    ("Result.Sweep.listing_complete", 16, "bool", False),
]
# Added by revision 4 (schemaVersion "1.3").
REVISION_4 = [
    ("Result.OperationState.cluster_state", 18, "string", False),
    ("Result.OperationState.action", 19, "string", False),
    ("Result.OperationState.instance_groups", 20, "Result.OperationState.InstanceGroup", True),
    ("Result.OperationState.vcpus", 21, "int32", False),
    ("Result.OperationState.vcpus_known", 22, "bool", False),
    ("Result.OperationState.InstanceGroup.role", 1, "string", False),
    ("Result.OperationState.InstanceGroup.instances", 2, "int32", False),
    ("Result.OperationState.InstanceGroup.machine_type", 3, "string", False),
    ("Result.OperationState.InstanceGroup.vcpus_per_instance", 4, "int32", False),
    ("Result.rung", 24, "Result.Rung", False),
    ("Result.Rung.threshold", 1, "double", False),
    ("Result.Rung.action", 2, "string", False),
    ("Result.Rung.ratio", 3, "double", False),
    ("Result.cleared_for", 25, "string", False),
]
# Added by revision 5 (schemaVersion "1.4").
REVISION_5 = [
    ("Result.Sweep.part", 17, "string", False),
    ("Result.Sweep.fan_out", 18, "Result.Sweep.FanOut", False),
    ("Result.Sweep.FanOut.budget_scope", 1, "Result.Sweep.FanOut.BudgetScope", False),
    ("Result.Sweep.FanOut.scopes", 2, "string", True),
    ("Result.Sweep.FanOut.searched", 3, "string", True),
    ("Result.Sweep.FanOut.pages", 4, "int32", False),
    ("Result.Sweep.FanOut.assets", 5, "int32", False),
    ("Result.Sweep.FanOut.complete", 6, "bool", False),
    ("Result.Sweep.FanOut.failed", 7, "string", True),
    ("Result.Sweep.FanOut.projects", 8, "int32", False),
    ("Result.Sweep.FanOut.refused", 9, "int32", False),
    ("Result.Sweep.FanOut.pairs", 10, "int32", False),
    ("Result.Sweep.FanOut.children", 11, "int32", False),
    ("Result.Sweep.FanOut.BudgetScope.budget", 1, "string", False),
    ("Result.Sweep.FanOut.BudgetScope.projects", 2, "string", True),
    ("Result.Sweep.FanOut.BudgetScope.resource_ancestors", 3, "string", True),
    ("Result.Sweep.FanOut.BudgetScope.billed_projects", 4, "int32", False),
]
EARLIER_REVISIONS = REVISION_1 + REVISION_2 + REVISION_3 + REVISION_4 + REVISION_5
# The JSON names of the fields revision 3 (schemaVersion "1.2") added, by dotted path.
REVISION_3_PATHS = ("dedupeKey", "trigger.chain", "sweep.pages", "sweep.listingComplete")
# And those revision 4 (schemaVersion "1.3") added.
REVISION_4_PATHS = (
    "rung",
    "clearedFor",
    "state.clusterState",
    "state.action",
    "state.instanceGroups",
    "state.vcpus",
    "state.vcpusKnown",
)
# And those revision 5 (schemaVersion "1.4") added.
REVISION_5_PATHS = ("sweep.part", "sweep.fanOut")
# And those revision 6 (schemaVersion "1.5") added.
REVISION_6_PATHS = ("burn", "savedUpTo", "money")

# Field numbers of descriptor.proto, for reading comments from SourceCodeInfo paths.
_FILE_MESSAGE_TYPE = 4
_MESSAGE_FIELD = 2
_MESSAGE_NESTED_TYPE = 3


def _leading_comments() -> dict[str, str]:
    """Leading comment of every field, keyed by the field's full name."""
    compiled = proto_file()
    comments = {
        tuple(location.path): location.leading_comments
        for location in compiled.source_code_info.location
    }
    found: dict[str, str] = {}

    def walk(message: descriptor_pb2.DescriptorProto, prefix: str, path: tuple[int, ...]) -> None:
        for index, field in enumerate(message.field):
            found[f"{prefix}.{field.name}"] = comments.get((*path, _MESSAGE_FIELD, index), "")
        for index, nested in enumerate(message.nested_type):
            walk(nested, f"{prefix}.{nested.name}", (*path, _MESSAGE_NESTED_TYPE, index))

    for index, message in enumerate(compiled.message_type):
        walk(message, f"{compiled.package}.{message.name}", (_FILE_MESSAGE_TYPE, index))
    return found


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    prefix = "#/$defs/"
    assert ref.startswith(prefix), f"only local $defs references are expected, got {ref}"
    return json_schema()["$defs"][ref.removeprefix(prefix)]


def _scalar_kind(node: dict[str, Any]) -> str:
    """The JSON type of a scalar property, including ones given only by const or enum."""
    if "type" in node:
        return node["type"]
    values = node["enum"] if "enum" in node else [node["const"]]
    assert all(isinstance(value, str) for value in values), node
    return "string"


_SCALARS = {
    "string": FieldDescriptor.TYPE_STRING,
    "number": FieldDescriptor.TYPE_DOUBLE,
    "integer": FieldDescriptor.TYPE_INT32,
    "boolean": FieldDescriptor.TYPE_BOOL,
}


def _is_repeated(field: FieldDescriptor) -> bool:
    # protobuf 7 removed FieldDescriptor.label; is_repeated (its replacement) is newer than
    # some protobuf releases that requirements.txt still allows.
    repeated = getattr(field, "is_repeated", None)
    if repeated is None:
        return field.label == FieldDescriptor.LABEL_REPEATED
    return bool(repeated)


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def _compare_value(where: str, node: dict[str, Any], field: FieldDescriptor) -> list[str]:
    """Differences between one schema property and the proto field that should mirror it."""
    node = _resolve(node)
    if node.get("type") == "object" and "properties" in node:
        if field.type != FieldDescriptor.TYPE_MESSAGE or _is_map(field) or _is_repeated(field):
            return [f"{where}: the schema has an object, the proto field is not a message"]
        return _compare_object(where, node, field.message_type)
    if node.get("type") == "object":
        if not _is_map(field):
            return [f"{where}: the schema has a string-keyed map, the proto field is not a map"]
        value = field.message_type.fields_by_name["value"]
        return _compare_value(f"{where}{{value}}", node["additionalProperties"], value)
    if node.get("type") == "array":
        if not _is_repeated(field) or _is_map(field):
            return [f"{where}: the schema has an array, the proto field is not repeated"]
        items = _resolve(node["items"])
        if items.get("type") == "object":
            if field.type != FieldDescriptor.TYPE_MESSAGE:
                return [f"{where}: the schema has an array of objects, the proto's is not"]
            return _compare_object(f"{where}[]", items, field.message_type)
        return _compare_scalar(f"{where}[]", items, field)
    if _is_repeated(field):
        return [f"{where}: the proto field is repeated, the schema's is not an array"]
    return _compare_scalar(where, node, field)


def _compare_scalar(where: str, node: dict[str, Any], field: FieldDescriptor) -> list[str]:
    kind = _scalar_kind(node)
    if _SCALARS.get(kind) != field.type:
        return [f"{where}: schema type {kind} does not match proto type {field.type}"]
    if kind == "integer" and not (
        node.get("minimum", -INT32_MAX - 2) >= -INT32_MAX - 1
        and node.get("maximum", INT32_MAX + 1) <= INT32_MAX
    ):
        return [f"{where}: an int32 field needs the schema to bound the integer to 32 bits"]
    return []


def _compare_object(where: str, node: dict[str, Any], message: Descriptor) -> list[str]:
    problems: list[str] = []
    if node.get("additionalProperties") is not False:
        problems.append(f"{where}: the schema must refuse unknown properties, as the proto does")
    properties: dict[str, Any] = node["properties"]
    fields = {field.json_name: field for field in message.fields}
    problems += [
        f"{where}.{name}: in the JSON Schema, not in the proto"
        for name in properties.keys() - fields.keys()
    ]
    problems += [
        f"{where}.{name}: in the proto, not in the JSON Schema"
        for name in fields.keys() - properties.keys()
    ]
    comments = _leading_comments()
    required = set(node.get("required", []))
    for name in sorted(properties.keys() & fields.keys()):
        field = fields[name]
        problems += _compare_value(f"{where}.{name}", properties[name], field)
        documented = comments[field.full_name].lstrip().startswith("Required.")
        if documented != (name in required):
            problems.append(
                f"{where}.{name}: the proto comment must start with 'Required.' exactly when "
                "the JSON Schema requires the property"
            )
    return problems


def test_proto_and_json_schema_describe_the_same_fields() -> None:
    problems = _compare_object("Result", json_schema(), result_class().DESCRIPTOR)
    assert problems == [], "\n".join(problems)


def test_proto_has_one_top_level_type_as_pubsub_requires() -> None:
    compiled = proto_file()
    assert [m.name for m in compiled.message_type] == ["Result"]
    assert not compiled.enum_type
    assert not compiled.dependency, "Pub/Sub schemas cannot import other files"
    assert compiled.syntax == "proto3"


_PROTO_TYPES = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_DOUBLE: "double",
}


def _fields(message: Descriptor, prefix: str = "") -> dict[str, tuple[int, str, bool]]:
    """Every field under ``message``: full name (without the package) -> (number, type,
    repeated); a map is one field, typed map<K, V>, as it is written."""
    found: dict[str, tuple[int, str, bool]] = {}
    name = f"{prefix}{message.name}"
    for field in message.fields:
        if _is_map(field):
            key, value = (field.message_type.fields_by_name[n] for n in ("key", "value"))
            kind = f"map<{_PROTO_TYPES[key.type]}, {_PROTO_TYPES[value.type]}>"
            repeated = False
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            kind = field.message_type.full_name.removeprefix("dataproccanceller.v1.")
            repeated = _is_repeated(field)
        else:
            kind, repeated = _PROTO_TYPES[field.type], _is_repeated(field)
        found[f"{name}.{field.name}"] = (field.number, kind, repeated)
    for nested in message.nested_types:
        if not nested.GetOptions().map_entry:
            found |= _fields(nested, f"{name}.")
    return found


def test_this_revision_keeps_every_field_of_the_earlier_ones() -> None:
    now = _fields(result_class().DESCRIPTOR)
    changed = [
        f"{name}: was {number} {kind}{' repeated' if repeated else ''}, now {now.get(name)}"
        for name, number, kind, repeated in EARLIER_REVISIONS
        if now.get(name) != (number, kind, repeated)
    ]
    assert changed == [], "\n".join(changed)


def test_fields_are_added_at_the_end_with_new_numbers() -> None:
    """In every message the fields are written in number order and the earlier
    revisions' are 1..n, so a new field comes last with a new number (and becomes the
    last column of its record in BigQuery)."""
    last_of_earlier: dict[str, int] = {}
    for name, number, _, _ in EARLIER_REVISIONS:
        message = name.rsplit(".", 1)[0]
        last_of_earlier[message] = max(last_of_earlier.get(message, 0), number)

    def messages(message: Descriptor) -> list[Descriptor]:
        nested = [m for m in message.nested_types if not m.GetOptions().map_entry]
        return [message, *(found for m in nested for found in messages(m))]

    for message in messages(result_class().DESCRIPTOR):
        key = message.full_name.removeprefix("dataproccanceller.v1.")
        numbers = [field.number for field in message.fields]
        assert numbers == sorted(numbers), f"{key}: fields are not in number order"
        earlier = last_of_earlier.get(key, 0)
        assert numbers[:earlier] == list(range(1, earlier + 1)), key
        assert numbers == list(range(1, len(numbers) + 1)), f"{key}: a number was skipped"


def test_the_proto_documents_its_revisions() -> None:
    text = PROTO_PATH.read_text(encoding="utf-8")
    version = json_schema()["properties"]["schemaVersion"]["const"]
    assert f'schemaVersion "{version}"' in text, "add a line for this revision to result.proto"


def test_there_are_examples() -> None:
    examples = [json.loads(path.read_text()) for path in EXAMPLES]
    outcomes = {example["outcome"] for example in examples}
    assert {"CANCELLED", "REJECTED", "SWEEP_SUMMARY"} <= outcomes
    # A real result of each kind for the outcomes every kind can have.
    for outcome in ("CANCELLED", "ALREADY_DONE", "DRY_RUN"):
        kinds = {example["kind"] for example in examples if example["outcome"] == outcome}
        assert set(KINDS) - {"batch"} <= kinds, (outcome, kinds)
    cancelled = {example["kind"] for example in examples if example["outcome"] == "CANCELLED"}
    assert cancelled == set(KINDS)


def test_examples_show_the_fields_of_this_revision() -> None:
    """Every property the schema defines appears in some example, so each is documented
    by a real result (those only a sweep's continuation or an alert sets included)."""
    seen: set[str] = set()

    def walk(value: Any, path: str) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item, f"{path.removesuffix('.')}[].")
        if isinstance(value, dict):
            for key, item in value.items():
                if path.endswith("outcomes"):
                    continue
                seen.add(f"{path}{key}")
                walk(item, f"{path}{key}.")

    for path in EXAMPLES:
        walk(json.loads(path.read_text(encoding="utf-8")), "")
    defined: set[str] = set()

    def properties(node: dict[str, Any], path: str) -> None:
        node = _resolve(node)
        if "items" in node:
            properties(node["items"], f"{path.removesuffix('.')}[].")
        for key, child in node.get("properties", {}).items():
            defined.add(f"{path}{key}")
            properties(child, f"{path}{key}.")

    properties(json_schema(), "")
    assert defined - seen == set(), "no example shows these: extend dev/demo.py's seeds"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_is_a_valid_result(path: Path) -> None:
    assert_valid_result(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_name_says_its_outcome_and_kind(path: Path) -> None:
    payload = json.loads(path.read_text(encoding="utf-8"))
    stem = path.stem.removeprefix("result-")
    outcome = payload["outcome"].lower().replace("_", "-")
    assert stem.startswith(outcome)
    suffix = stem.removeprefix(outcome).removeprefix("-")
    if suffix.split("-")[0] in KINDS:  # result-OUTCOME-KIND[-WHAT].json
        assert payload["kind"] == suffix.split("-")[0]
    elif not suffix and payload["kind"] != "unknown":
        assert payload["kind"] == "operation"  # result-OUTCOME.json: an operation's


def _example(outcome: str, kind: str | None = None) -> dict[str, Any]:
    """The example result-OUTCOME[-KIND].json; an operation's is result-OUTCOME.json."""
    name = outcome.lower().replace("_", "-") + (
        f"-{kind}" if kind not in (None, "operation") else ""
    )
    return json.loads((SCHEMAS / "examples" / f"result-{name}.json").read_text(encoding="utf-8"))


def _changed(outcome: str, path: str, value: Any, kind: str | None = None) -> dict[str, Any]:
    """A copy of an example with the value at a dotted path set (or added)."""
    payload = copy.deepcopy(_example(outcome, kind))
    *parents, last = path.split(".")
    target = payload
    for key in parents:
        target = target[key]
    target[last] = value
    return payload


REFUSED_BY_BOTH = {
    "unknown top-level field": ("CANCELLED", "cancelledBy", "someone"),
    "unknown nested field": ("CANCELLED", "trigger.attempt", 2),
    "boolean as text": ("CANCELLED", "dryRun", "false"),
    "message as text": ("REJECTED", "trigger", "13370154289516013"),
    "fractional integer": ("CANCELLED", "state.errorCode", 1.5),
    "integer beyond 32 bits": ("SWEEP_SUMMARY", "sweep.found", INT32_MAX + 1),
    "array as text": ("SWEEP_SUMMARY", "sweep.scopes", "projects/p/regions/r"),
    "map value as text": ("SWEEP_SUMMARY", "sweep.outcomes", {"CANCELLED": "two"}),
    "kind as a number": ("CANCELLED", "kind", 1),
    "target as a list": ("CANCELLED", "target", ["projects/p/regions/r/operations/o"]),
    "job state as a number": ("CANCELLED", "state.jobState", 6),
    "session state as an object": ("CANCELLED", "state.sessionState", {"state": "TERMINATED"}),
    "kinds as text": ("SWEEP_SUMMARY", "sweep.kinds", "jobs"),
    "handed on as text": ("SWEEP_SUMMARY", "sweep.handedOn", "true"),
    "exempt beyond 32 bits": ("SWEEP_SUMMARY", "sweep.exempt", INT32_MAX + 1),
    "fractional remaining": ("SWEEP_SUMMARY", "sweep.remaining", 0.5),
    "dedupe key as a number": ("CANCELLED", "dedupeKey", 7),
    "chain as a list": ("CANCELLED", "trigger.chain", ["names-1"]),
    "pages beyond 32 bits": ("SWEEP_SUMMARY", "sweep.pages", INT32_MAX + 1),
    "fractional pages": ("SWEEP_SUMMARY", "sweep.pages", 1.5),
    "listing complete as text": ("SWEEP_SUMMARY", "sweep.listingComplete", "true"),
    "cluster state as a list": ("CANCELLED", "state.clusterState", ["STOPPED"]),
    "instance groups as an object": ("CANCELLED", "state.instanceGroups", {"role": "master"}),
    "unknown instance group field": (
        "CANCELLED",
        "state.instanceGroups",
        [{"role": "master", "instances": 1, "machineType": "n2-standard-4", "zone": "a"}],
    ),
    "vcpus beyond 32 bits": ("CANCELLED", "state.vcpus", INT32_MAX + 1),
    "vcpus known as text": ("CANCELLED", "state.vcpusKnown", "true"),
    "rung as text": ("SWEEP_SUMMARY", "rung", "clusters"),
    "rung ratio as an object": ("SWEEP_SUMMARY", "rung.ratio", {"value": 1.3}),
    "usage as a list": ("CANCELLED", "burn.usage", [1, 2]),
    "unknown money field": ("SWEEP_SUMMARY", "money.euros", 2.0),
    "cleared for as a list": ("CANCELLED", "clearedFor", ["projects/p/regions/r/clusters/c"]),
    "part as a list": ("SWEEP_SUMMARY", "sweep.part", ["projects/acme-data-prod"]),
    "fan-out as text": ("SWEEP_SUMMARY", "sweep.fanOut", "2 children"),
    "unknown fan-out field": ("SWEEP_SUMMARY", "sweep.fanOut.shards", 2),
    "fan-out complete as text": ("SWEEP_SUMMARY", "sweep.fanOut.complete", "true"),
    "fan-out children beyond 32 bits": ("SWEEP_SUMMARY", "sweep.fanOut.children", INT32_MAX + 1),
    "searched as text": ("SWEEP_SUMMARY", "sweep.fanOut.searched", "folders/418726305512"),
    "budget scope projects as text": (
        "SWEEP_SUMMARY",
        "sweep.fanOut.budgetScope.projects",
        "projects/361735128452",
    ),
    "unknown budget scope field": ("SWEEP_SUMMARY", "sweep.fanOut.budgetScope.amount", 1000),
}


@pytest.mark.parametrize("name", REFUSED_BY_BOTH)
def test_malformed_result_is_refused_by_both_schemas(name: str) -> None:
    payload = _changed(*REFUSED_BY_BOTH[name], kind=_CASE_KIND_REFUSED_BY_BOTH.get(name))
    assert json_schema_errors(payload), "the JSON Schema accepted it"
    assert proto_error(payload), "the topic's proto schema accepted it"
    with pytest.raises(AssertionError, match="invalid result"):
        assert_valid_result(payload)


# What proto3's JSON mapping lets through, so the topic would accept it: the reason every
# result in the end-to-end tests is also held to the JSON Schema.
ONLY_JSON_SCHEMA_REFUSES = {
    "outcome outside the list": ("CANCELLED", "outcome", "CANCELED"),
    "trigger kind outside the list": ("CANCELLED", "trigger.kind", "cron"),
    "null": ("CANCELLED", "reason", None),
    "number as text": ("CANCELLED", "elapsedSeconds", "7.5"),
    "timestamp that is not RFC 3339": ("CANCELLED", "finishedAt", "2026-11-27 10:00:07"),
    "impossible date": ("CANCELLED", "startedAt", "2026-02-30T10:00:00Z"),
    "negative duration": ("CANCELLED", "elapsedSeconds", -1),
    "wrong schema version": ("CANCELLED", "schemaVersion", "2.0"),
    "operation name too long": ("REJECTED", "operation", "x" * 513),
    "target too long": ("REJECTED", "target", "x" * 513),
    "kind outside the list": ("CANCELLED", "kind", "workflow"),
    "plural kind": ("CANCELLED", "kind", "jobs"),
    "swept kind outside the list": ("SWEEP_SUMMARY", "sweep.kinds", ["batches"]),
    "negative exempt count": ("SWEEP_SUMMARY", "sweep.exempt", -1),
    "generation beyond the chain's end": ("SWEEP_SUMMARY", "sweep.generation", 1001),
    "schema version of revision 1": ("CANCELLED", "schemaVersion", "1.0"),
    "schema version of revision 2": ("CANCELLED", "schemaVersion", "1.1"),
    "dedupe key too long": ("CANCELLED", "dedupeKey", "k" * 1025),
    "negative pages": ("SWEEP_SUMMARY", "sweep.pages", -1),
    "a summary about one target": ("SWEEP_SUMMARY", "target", "projects/p/regions/r/jobs/j"),
    "a summary of a kind": ("SWEEP_SUMMARY", "kind", "job"),
    "a job with an operation": ("CANCELLED", "operation", "projects/p/regions/r/operations/o"),
    "a job with an operation id": ("CANCELLED", "operationId", "o"),
    "a session with a batch": ("CANCELLED", "batch", "projects/p/locations/r/batches/b"),
    "schema version of revision 3": ("CANCELLED", "schemaVersion", "1.2"),
    "swept kind in the singular": ("SWEEP_SUMMARY", "sweep.kinds", ["cluster"]),
    "a cluster with an operation": ("CANCELLED", "operation", "projects/p/regions/r/operations/o"),
    "a cluster with an operation id": ("CANCELLED", "operationId", "o"),
    "cluster action outside the list": ("CANCELLED", "state.action", "restart"),
    "instance group role outside the list": (
        "CANCELLED",
        "state.instanceGroups",
        [{"role": "driver", "instances": 1, "machineType": "n2-standard-4"}],
    ),
    "instance group of no instances": (
        "CANCELLED",
        "state.instanceGroups",
        [{"role": "worker", "instances": 0, "machineType": "n2-standard-4"}],
    ),
    "instance group without its machine type": (
        "CANCELLED",
        "state.instanceGroups",
        [{"role": "worker", "instances": 2}],
    ),
    "negative vcpus": ("CANCELLED", "state.vcpus", -8),
    "rung action outside the list": ("SWEEP_SUMMARY", "rung.action", "panic"),
    "burn both known and unknown": ("CANCELLED", "burn.unknown", "not priced"),
    "burn dollars as text": ("CANCELLED", "burn.usdPerHour", "0.28"),
    "negative burn": ("CANCELLED", "burn.parts.dataprocFee", -0.28),
    "savedUpTo on a dry run": (
        "DRY_RUN",
        "savedUpTo",
        {"usd": 1.0, "horizon": {"hours": 1, "basis": "oneHour", "said": "x"}},
    ),
    "money on a stop": (
        "CANCELLED",
        "money",
        {"stopped": 1, "priced": 1, "burnUsdPerHour": 1.0, "saved": 1, "savedUpToUsd": 1.0},
    ),
    "rung threshold beyond the ladder's": ("SWEEP_SUMMARY", "rung.threshold", 1000.5),
    "rung without its ratio": ("SWEEP_SUMMARY", "rung", {"threshold": 1.0, "action": "work"}),
    "a rung without a budget": (
        "CANCELLED",
        "rung",
        {"threshold": 1.0, "action": "work", "ratio": 1.25},
    ),
    "a cluster cleared for a cluster": (
        "CANCELLED",
        "clearedFor",
        "projects/p/regions/r/clusters/c",
    ),
    "cleared for what is not a cluster": ("CANCELLED", "clearedFor", "projects/p/regions/r/jobs/j"),
    "schema version of revision 4": ("CANCELLED", "schemaVersion", "1.3"),
    "part that is a scope, not a project": (
        "SWEEP_SUMMARY",
        "sweep.part",
        "projects/acme-data-prod/regions/us-central1",
    ),
    "part that is a folder": ("SWEEP_SUMMARY", "sweep.part", "folders/418726305512"),
    "a fan-out summary with a listing's counts": ("SWEEP_SUMMARY", "sweep.found", 3),
    "a fan-out summary that is a child's": ("SWEEP_SUMMARY", "sweep.part", "projects/acme-ml-prod"),
    "a fan-out with a budget's scope and scopes": (
        "SWEEP_SUMMARY",
        "sweep.fanOut.scopes",
        ["folders/418726305512"],
    ),
    "a fan-out without its counts": (
        "SWEEP_SUMMARY",
        "sweep.fanOut",
        {"scopes": ["folders/418726305512"], "searched": ["folders/418726305512"]},
    ),
    "negative refused projects": ("SWEEP_SUMMARY", "sweep.fanOut.refused", -1),
    "searched what is no scope": ("SWEEP_SUMMARY", "sweep.fanOut.searched", ["billingAccounts/B"]),
    "budget scope by project id": (
        "SWEEP_SUMMARY",
        "sweep.fanOut.budgetScope.projects",
        ["projects/acme-data-prod"],
    ),
    "a fan-out on a per-target result": (
        "CANCELLED",
        "sweep.fanOut",
        {
            "scopes": ["folders/418726305512"],
            "searched": ["folders/418726305512"],
            "pages": 1,
            "assets": 1,
            "complete": True,
            "failed": [],
            "projects": 1,
            "refused": 0,
            "pairs": 1,
            "children": 1,
        },
    ),
}

# Cases whose example is of one kind: the rule they break is about that kind.
_CASE_KIND = {
    "rung action outside the list": "budget-rung",
    "rung threshold beyond the ladder's": "budget-rung",
    "rung without its ratio": "budget-rung",
    "burn both known and unknown": "cluster",
    "burn dollars as text": "cluster",
    "negative burn": "cluster",
    "a job with an operation": "job",
    "a job with an operation id": "job",
    "a session with a batch": "session",
    "a cluster with an operation": "cluster",
    "a cluster with an operation id": "cluster",
    "cluster action outside the list": "cluster",
    "instance group role outside the list": "cluster",
    "instance group of no instances": "cluster",
    "instance group without its machine type": "cluster",
    "negative vcpus": "cluster",
    "a rung without a budget": "batch",
    "a cluster cleared for a cluster": "cluster",
    "part that is a scope, not a project": "fan-out-child",
    "part that is a folder": "fan-out-child",
    "a fan-out summary with a listing's counts": "fan-out",
    "a fan-out summary that is a child's": "fan-out",
    "a fan-out with a budget's scope and scopes": "fan-out",
    "a fan-out without its counts": "fan-out",
    "negative refused projects": "fan-out",
    "searched what is no scope": "fan-out",
    "budget scope by project id": "fan-out",
    "a fan-out on a per-target result": "job-fan-out-child",
}
_CASE_KIND_REFUSED_BY_BOTH = {
    "rung as text": "budget-rung",
    "rung ratio as an object": "budget-rung",
    "usage as a list": "cluster",
    "unknown money field": "fan-out-child",
    "cluster state as a list": "cluster",
    "instance groups as an object": "cluster",
    "unknown instance group field": "cluster",
    "vcpus beyond 32 bits": "cluster",
    "vcpus known as text": "cluster",
    "part as a list": "fan-out-child",
    "fan-out as text": "fan-out",
    "unknown fan-out field": "fan-out",
    "fan-out complete as text": "fan-out",
    "fan-out children beyond 32 bits": "fan-out",
    "searched as text": "fan-out",
    "budget scope projects as text": "fan-out",
    "unknown budget scope field": "fan-out",
}


@pytest.mark.parametrize("name", ONLY_JSON_SCHEMA_REFUSES)
def test_json_schema_refuses_what_the_proto_mapping_accepts(name: str) -> None:
    payload = _changed(*ONLY_JSON_SCHEMA_REFUSES[name], kind=_CASE_KIND.get(name))
    assert proto_error(payload) is None
    with pytest.raises(AssertionError, match="invalid result"):
        assert_valid_result(payload)


@pytest.mark.parametrize("path", ["trigger.messageId", "kind", "target", "dedupeKey"])
def test_missing_required_field_is_refused(path: str) -> None:
    payload = copy.deepcopy(_example("CANCELLED"))
    *parents, last = path.split(".")
    target = payload
    for key in parents:
        target = target[key]
    del target[last]
    assert any(last in problem for problem in json_schema_errors(payload))
    assert proto_error(payload) is None  # proto3 cannot require it: the JSON Schema does


def test_revision_1_results_are_still_accepted_by_the_topic() -> None:
    """A 1.0 result (published by a function deployed before this revision) still passes
    the topic's schema: a revision only adds fields."""
    payload = copy.deepcopy(_example("CANCELLED"))
    payload["schemaVersion"] = "1.0"
    for key in ("kind", "target", "dedupeKey"):
        del payload[key]
    del payload["trigger"]["chain"]
    assert proto_error(payload) is None


def test_revision_2_results_are_still_accepted_by_the_topic() -> None:
    """A 1.1 result, without the fields revision 3 added, still passes the topic's schema."""
    for outcome in ("CANCELLED", "SWEEP_SUMMARY"):
        payload = copy.deepcopy(_example(outcome))
        payload["schemaVersion"] = "1.1"
        for path in REVISION_3_PATHS:
            *parents, last = path.split(".")
            target = payload
            for key in parents:
                target = target[key]
            target.pop(last, None)
        assert proto_error(payload) is None


def test_revision_3_results_are_still_accepted_by_the_topic() -> None:
    """A 1.2 result, without the fields revision 4 added, still passes the topic's schema."""
    for path in EXAMPLES:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload["kind"] == "cluster":
            continue  # revision 3 had no clusters
        payload["schemaVersion"] = "1.2"
        for dotted in REVISION_4_PATHS:
            *parents, last = dotted.split(".")
            target = payload
            for key in parents:
                target = target.get(key, {})
            target.pop(last, None)
        assert proto_error(payload) is None, path.name


def test_revision_4_results_are_still_accepted_by_the_topic() -> None:
    """A 1.3 result, without the fields revision 5 added, still passes the topic's schema."""
    for path in EXAMPLES:
        payload = json.loads(path.read_text(encoding="utf-8"))
        payload["schemaVersion"] = "1.3"
        for dotted in REVISION_5_PATHS:
            *parents, last = dotted.split(".")
            target = payload
            for key in parents:
                target = target.get(key, {})
            target.pop(last, None)
        assert proto_error(payload) is None, path.name


def test_revision_5_results_are_still_accepted_by_the_topic() -> None:
    """A 1.4 result, without the money revision 6 added, still passes the topic's schema."""
    for path in EXAMPLES:
        payload = json.loads(path.read_text(encoding="utf-8"))
        payload["schemaVersion"] = "1.4"
        for dotted in REVISION_6_PATHS:
            payload.pop(dotted, None)
        assert proto_error(payload) is None, path.name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_dedupe_key_is_its_chain_and_target(path: Path) -> None:
    """One answer per target of one request: the chain id (a sweep's id on every result
    of the sweep, a fan-out's children's too) and the target; a sweep's summary is its
    generation's (a fan-out child's: its part's and generation's; the parent's: one)."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    chain = payload["trigger"]["chain"]
    assert chain.startswith(("names-", "sweep-"))
    if "sweep" in payload:
        assert payload["sweep"]["id"] == chain
    if payload["outcome"] == "SWEEP_SUMMARY" and "fanOut" in payload["sweep"]:
        assert payload["dedupeKey"] == f"{chain}/summary/fan-out"
    elif payload["outcome"] == "SWEEP_SUMMARY" and "part" in payload["sweep"]:
        part, generation = payload["sweep"]["part"], payload["sweep"]["generation"]
        assert payload["dedupeKey"] == f"{chain}/summary/{part}/{generation}"
    elif payload["outcome"] == "SWEEP_SUMMARY":
        assert payload["dedupeKey"] == f"{chain}/summary/{payload['sweep']['generation']}"
    elif payload["outcome"] == "REJECTED" and re.fullmatch(r"projects/[^/]+", payload["target"]):
        # A project a fan-out may not act on: one answer per project of the sweep.
        assert payload["target"] == f"projects/{payload['project']}"
        assert payload["dedupeKey"] == f"{chain}/rejected/{payload['target']}"
    elif payload["outcome"] == "REJECTED" and "/rejected/" in payload["dedupeKey"]:
        # Refused input is numbered: two inputs clipped to the same text are two answers.
        assert re.fullmatch(
            rf"{re.escape(chain)}/rejected/[0-9]+/{re.escape(payload['target'])}",
            payload["dedupeKey"],
        )
    else:
        assert payload["dedupeKey"] == f"{chain}/{payload['target'] or 'sweep'}"


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_reports_its_own_state(kind: str) -> None:
    """What tells a stop apart, per kind (result.schema.json's workState)."""
    payload = _example("CANCELLED", kind)
    state = payload["state"]
    assert payload["target"] and state["done"] is True
    if kind == "operation":
        assert state["errorCode"] == 1 and payload["operation"] == payload["target"]
    elif kind == "batch":
        assert state["errorCode"] == 1 and state["batchState"] == "CANCELLED"
        assert payload["batch"] == payload["target"] and payload["operationId"]
    elif kind == "job":
        assert state["jobState"] == "CANCELLED" and state["jobUuid"]
        assert payload["operation"] == "" and "operationId" not in payload
    elif kind == "session":
        assert state["sessionState"] == "TERMINATED" and state["sessionUuid"]
        assert payload["operation"] == "" and "operationId" not in payload
    else:
        assert state["clusterState"] == "STOPPED" and state["action"] == "stop"
        assert state["clusterUuid"] and state["instanceGroups"]
        assert payload["operation"] == "" and "operationId" not in payload
        deleted = _example("CANCELLED", "cluster-delete")
        assert deleted["state"]["clusterState"] == "DELETED"
        assert deleted["state"]["action"] == "delete" and deleted["state"]["done"] is True


def test_a_clusters_vcpus_are_its_groups_or_not_given() -> None:
    """vcpus is the sum over instanceGroups when every group says its vCPUs, and absent
    (vcpusKnown false) otherwise: the examples hold to what the function computes."""
    for path in EXAMPLES:
        state = json.loads(path.read_text(encoding="utf-8")).get("state", {})
        if "instanceGroups" not in state:
            assert not {"vcpus", "vcpusKnown"} & state.keys(), path.name
            continue
        groups = state["instanceGroups"]
        known = all("vcpusPerInstance" in group for group in groups)
        assert state["vcpusKnown"] is known, path.name
        if known:
            total = sum(g["instances"] * g["vcpusPerInstance"] for g in groups)
            assert state["vcpus"] == total, path.name
        else:
            assert "vcpus" not in state, path.name


@pytest.mark.parametrize(
    ("path", "value"),
    [("elapsedSeconds", "7.5"), ("sweep.found", "2"), ("sweep.exempt", "0")],
)
def test_a_value_the_proto_would_store_differently_is_caught(path: str, value: Any) -> None:
    """The topic accepts these, but BigQuery (which stores what the proto decodes) would
    get another value than the message carries."""
    payload = _changed("SWEEP_SUMMARY", path, value)
    assert proto_error(payload) is None
    assert proto_changes(payload) is not None
    with pytest.raises(AssertionError, match="JSON mapping"):
        assert_valid_result(payload)


def test_what_the_proto_keeps_is_what_was_sent() -> None:
    """Defaults proto3 does not print are not a change; a message field given empty, and
    a map's zero values, are kept."""
    payload = copy.deepcopy(_example("SWEEP_SUMMARY"))
    payload["sweep"].update(outcomes={"CANCELLED": 0}, handedOn=False, remaining=0, kinds=[])
    payload["state"] = {"done": False}
    assert proto_changes(payload) is None


# --- A fan-out as the function publishes it -------------------------------------------
# The fan-out examples were written from a run of canceller.fan_out; these runs against
# the emulator (Dataproc and the organisation APIs) hold the function to their shapes, so
# neither can drift from the other.

_REQUEST_FIELDS = {"reason", "requestId", "budget", "rung", "incident"}  # the request's own
_MAPS = {"outcomes", "scopeKinds"}  # keyed by data, not by field


def _paths(value: Any, prefix: str = "") -> set[str]:
    """Every field's dotted path (a list's items under [])."""
    if isinstance(value, list):
        return {path for item in value for path in _paths(item, f"{prefix}[].")}
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        found.add(f"{prefix}{key}")
        if key not in _MAPS:
            found |= _paths(item, f"{prefix}{key}.")
    return found


def _shape(payload: dict[str, Any]) -> tuple[set[str], set[str]]:
    """A result's own top-level fields and its sweep's, whatever the request carried."""
    return set(payload) - _REQUEST_FIELDS, _paths(payload.get("sweep", {}))


def _example_named(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / "examples" / name).read_text(encoding="utf-8"))
    return loaded


def _deliver(runtime: Runtime, body: Any, attributes: dict[str, str], message_id: str) -> Handled:
    trigger = decode_trigger(event(body, attributes, message_id))
    return handle_trigger(trigger, runtime.settings(), runtime.dataproc, runtime.directory)


@pytest.fixture
def organisation(emulator: DataprocEmulator, admin: EmulatorAdmin) -> Runtime:
    """Folder 2001 holds org-f1-p1 (allowed) and org-f1-p2 (not), each running a job."""
    admin.seed_organisation(
        fake_organisation(folders=1, projects_per_folder=2, subfolders=0, org_projects=0)
    )
    for project in ("org-f1-p1", "org-f1-p2"):
        admin.seed_job(name=f"projects/{project}/regions/us-central1/jobs/etl-1", state="RUNNING")
    host = emulator.base_url.removeprefix("http://")
    return Runtime(
        {
            "RESULTS_TOPIC": "projects/org-f1-p1/topics/results",
            "GOOGLE_CLOUD_PROJECT": "org-f1-p1",
            "DATAPROC_EMULATOR_HOST": host,
            **{api.emulator_variable: host for api in ORG_APIS},
            "TRIGGER_TOPIC": "projects/org-f1-p1/topics/triggers",
            "ALLOWED_PROJECTS": "org-f1-p1",
            "VERIFY_TIMEOUT_SECONDS": "5",
        }
    )


def test_a_fan_out_publishes_what_its_examples_show(organisation: Runtime) -> None:
    """A sweep over a folder: the parent answers the project it may not act on and sums up
    what it fanned out; its child message is a valid trigger of the example's shape; the
    child's results carry the parent's sweep id and their project. Every result is valid
    against both schemas, with the fields of its example and the documented dedupeKey."""
    body = {"sweep": {"scopes": ["folders/2001"], "kinds": ["jobs"]}, "reason": "contract"}
    parent = _deliver(organisation, body, {}, "fan-1")
    sweep_id = "sweep-fan-1"
    for result in parent.results:
        assert_valid_result(result.to_message())
    rejected, summary = (result.to_message() for result in parent.results)
    assert _shape(summary) == _shape(_example_named("result-sweep-summary-fan-out-folder.json"))
    assert summary["dedupeKey"] == f"{sweep_id}/summary/fan-out"
    assert summary["sweep"]["fanOut"]["scopes"] == ["folders/2001"]
    assert _shape(rejected) == _shape(_example_named("result-rejected-fan-out-project.json"))
    assert (rejected["outcome"], rejected["kind"], rejected["target"]) == (
        "REJECTED",
        "unknown",
        "projects/org-f1-p2",
    )
    assert rejected["project"] == "org-f1-p2"
    assert rejected["dedupeKey"] == f"{sweep_id}/rejected/projects/org-f1-p2"

    (child,) = parent.children
    example = _example_named("trigger-sweep-fan-out-child.json")
    trigger_schema = Draft202012Validator(json.loads((SCHEMAS / "trigger.schema.json").read_text()))
    trigger_schema.validate(child.message)
    assert _paths(child.message) - {"reason"} == _paths(example["data"])
    assert set(child.attributes()) == set(example["attributes"])
    assert child.message["sweep"]["continuation"]["part"] == "projects/org-f1-p1"

    handled = _deliver(organisation, child.message, child.attributes(), "fan-2")
    for result in handled.results:
        assert_valid_result(result.to_message())
    cancelled, child_summary = (result.to_message() for result in handled.results)
    assert _shape(cancelled) == _shape(_example_named("result-cancelled-job-fan-out-child.json"))
    assert cancelled["outcome"] == "CANCELLED"
    assert cancelled["sweep"] == {"id": sweep_id, "part": "projects/org-f1-p1"}
    assert cancelled["dedupeKey"] == f"{sweep_id}/{cancelled['target']}"
    assert _shape(child_summary) == _shape(
        _example_named("result-sweep-summary-fan-out-child.json")
    )
    assert child_summary["sweep"]["part"] == "projects/org-f1-p1"
    assert child_summary["dedupeKey"] == f"{sweep_id}/summary/projects/org-f1-p1/1"


def test_a_budgets_fan_out_summary_is_its_examples_shape(organisation: Runtime) -> None:
    """A budget notification's parent says the budget's scope (budgetScope), not scopes."""
    body = {"costAmount": 150.0, "budgetAmount": 100.0, "currencyCode": "USD"}
    attributes = {
        "billingAccountId": BILLING_ACCOUNT,
        "budgetId": BUDGET_ID,
        "schemaVersion": "1.0",
    }
    parent = _deliver(organisation, body, attributes, "budget-1")
    (summary,) = (r.to_message() for r in parent.results if r.outcome.value == "SWEEP_SUMMARY")
    assert_valid_result(summary)
    assert _shape(summary) == _shape(_example_named("result-sweep-summary-fan-out.json"))
    scope = summary["sweep"]["fanOut"]["budgetScope"]
    assert (scope["budget"], scope["projects"], scope["resourceAncestors"]) == (
        f"billingAccounts/{BILLING_ACCOUNT}/budgets/{BUDGET_ID}",
        [],
        ["folders/2001"],
    )
    assert summary["dedupeKey"] == "sweep-budget-1/summary/fan-out"


# --- docs -----------------------------------------------------------------------------

_CONTRACT = SCHEMAS.parent / "docs" / "message-contract.md"
_BIGQUERY_DOCS = SCHEMAS.parent / "docs" / "bigquery.md"
_BIGQUERY_SCHEMA = SCHEMAS.parent / "deploy" / "bigquery" / "results-schema.json"
_RECORDS = (
    "sweep",
    "state",
    "error",
    "trigger",
    "budget",
    "rung",
    "incident",
    "burn",
    "saved_up_to",
    "money",
)


def test_the_contract_documents_this_revision() -> None:
    contract = _CONTRACT.read_text(encoding="utf-8")
    version = json_schema()["properties"]["schemaVersion"]["const"]
    assert f"`schemaVersion` {version}" in contract
    fan_out = json_schema()["$defs"]["fanOut"]["properties"]
    budget_scope = json_schema()["$defs"]["budgetScope"]["properties"]
    for name in ("sweep.part", "sweep.fanOut", *fan_out, *budget_scope):
        assert f"`{name}`" in contract, name


def test_the_docs_queries_name_real_columns() -> None:
    """Every record column the SQL of docs/bigquery.md reads (sweep.fan_out.children,
    state.vcpus, ...) is a column of the table deploy.sh makes."""
    page = _BIGQUERY_DOCS.read_text(encoding="utf-8")
    sql = "\n".join(re.findall(r"```sql\n(.*?)```", page, re.S))
    sql += "\n".join(re.findall(r"`(SELECT [^`]*)`", page))
    columns: set[str] = set()

    def walk(fields: list[dict[str, Any]], prefix: str) -> None:
        for field in fields:
            columns.add(f"{prefix}{field['name']}")
            walk(field.get("fields", []), f"{prefix}{field['name']}.")

    walk(json.loads(_BIGQUERY_SCHEMA.read_text(encoding="utf-8")), "")
    used = set(re.findall(rf"\b(?:{'|'.join(_RECORDS)})\.[a-z_]+(?:\.[a-z_]+)*", sql))
    assert {"sweep.part", "sweep.fan_out.children", "saved_up_to.usd", "burn.unknown"} <= used
    assert used - columns == set()
