"""schemas/result.proto (bound to the results topic) and schemas/result.schema.json agree.

The proto is what Pub/Sub enforces at publish time; the JSON Schema is the documented
contract. If they drifted, results would be refused in production that pass every test,
or the topic would let through what the contract forbids, so they are compared here
field by field, in both directions, through every nested definition.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from support.result_contract import (
    SCHEMAS,
    assert_valid_result,
    json_schema,
    json_schema_errors,
    proto_error,
    proto_file,
    result_class,
)

EXAMPLES = sorted((SCHEMAS / "examples").glob("result-*.json"))
INT32_MAX = 2**31 - 1

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
        return _compare_scalar(f"{where}[]", node["items"], field)
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


def test_there_are_examples() -> None:
    outcomes = {json.loads(path.read_text())["outcome"] for path in EXAMPLES}
    assert {"CANCELLED", "REJECTED", "SWEEP_SUMMARY"} <= outcomes


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_is_a_valid_result(path: Path) -> None:
    assert_valid_result(json.loads(path.read_text(encoding="utf-8")))


def _example(outcome: str) -> dict[str, Any]:
    for path in EXAMPLES:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload["outcome"] == outcome:
            return payload
    raise LookupError(outcome)


def _changed(outcome: str, path: str, value: Any) -> dict[str, Any]:
    """A copy of an example with the value at a dotted path set (or added)."""
    payload = copy.deepcopy(_example(outcome))
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
}


@pytest.mark.parametrize("case", REFUSED_BY_BOTH.values(), ids=REFUSED_BY_BOTH.keys())
def test_malformed_result_is_refused_by_both_schemas(case: tuple[str, str, Any]) -> None:
    payload = _changed(*case)
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
}


@pytest.mark.parametrize(
    "case", ONLY_JSON_SCHEMA_REFUSES.values(), ids=ONLY_JSON_SCHEMA_REFUSES.keys()
)
def test_json_schema_refuses_what_the_proto_mapping_accepts(case: tuple[str, str, Any]) -> None:
    payload = _changed(*case)
    assert proto_error(payload) is None
    with pytest.raises(AssertionError, match="invalid result"):
        assert_valid_result(payload)


def test_missing_required_field_is_refused() -> None:
    payload = copy.deepcopy(_example("CANCELLED"))
    del payload["trigger"]["messageId"]
    assert any("messageId" in problem for problem in json_schema_errors(payload))


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-27T10:00:00Z",
        "2026-11-27t10:00:00.123456789z",
        "2026-11-27T10:00:00+05:30",
        "2016-12-31T23:59:60Z",
    ],
)
def test_rfc3339_timestamps_are_accepted(stamp: str) -> None:
    assert_valid_result(_changed("CANCELLED", "startedAt", stamp))


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-27T10:00:00",
        "2026-11-27T24:00:00Z",
        "2026-11-27T10:00:00+24:00",
        "2026-11-27T10:00:61Z",
        "27/11/2026 10:00",
    ],
)
def test_malformed_timestamps_are_refused(stamp: str) -> None:
    assert json_schema_errors(_changed("CANCELLED", "startedAt", stamp))
