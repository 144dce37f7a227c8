"""Check a result message against both contracts: the JSON Schema and the topic's proto schema.

deploy.sh binds schemas/result.proto to the results topic, so Pub/Sub refuses at publish
time whatever the proto3 JSON mapping refuses; the JSON Schema is the stricter, documented
contract. A result that passes only one of them is a bug in the code or in a schema, so
end-to-end tests call ``assert_valid_result`` on every result they pull from the topic.

Passing both is not quite enough: the BigQuery subscription stores what Pub/Sub decodes
with result.proto, so a value the proto decodes into something else (or drops) would be
lost there although the topic accepted it. ``assert_valid_result`` therefore also decodes
the result with protobuf's own JSON parser, prints it back and compares it with what was
sent (``proto_changes``).
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from jsonschema import Draft202012Validator, FormatChecker

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
JSON_SCHEMA_PATH = SCHEMAS / "result.schema.json"
PROTO_PATH = SCHEMAS / "result.proto"
RESULT_MESSAGE = "dataproccanceller.v1.Result"

# RFC 3339 section 5.6, which JSON Schema's "date-time" means. jsonschema checks this
# format only when the optional rfc3339-validator package is installed, and otherwise
# passes anything silently, so the check is done here whatever is installed.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)


def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True  # a format only constrains strings; "type" covers the rest
    match = _RFC3339.fullmatch(value)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    offset_hours, offset_minutes = int(match.group(9) or 0), int(match.group(10) or 0)
    if second > 60 or offset_hours > 23 or offset_minutes > 59:
        return False
    try:
        datetime(year, month, day, hour, minute, min(second, 59))  # 60 is a leap second
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    checker.checks("date-time")(_is_rfc3339)
    return checker


@functools.cache
def json_schema() -> dict[str, Any]:
    return json.loads(JSON_SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def _validator() -> Draft202012Validator:
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_format_checker())


@functools.cache
def proto_file() -> descriptor_pb2.FileDescriptorProto:
    """Compile result.proto once per process with grpcio-tools' protoc.

    Comments are kept (--include_source_info) so tests can read what the proto documents,
    such as which fields are required.
    """
    with tempfile.TemporaryDirectory() as out:
        descriptor_set = Path(out) / "result.pb"
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"--proto_path={SCHEMAS}",
                f"--descriptor_set_out={descriptor_set}",
                "--include_source_info",
                PROTO_PATH.name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise AssertionError(f"protoc refused {PROTO_PATH}:\n{completed.stderr}")
        files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    (compiled,) = files.file
    return compiled


@functools.cache
def result_class() -> type[Message]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto_file())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(RESULT_MESSAGE))


def json_schema_errors(payload: object) -> list[str]:
    """Every JSON Schema violation, as 'path: message' lines."""
    errors = sorted(_validator().iter_errors(payload), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


def proto_error(payload: object) -> str | None:
    """Why the topic schema would refuse this payload as a JSON-encoded message, if it would."""
    try:
        json_format.Parse(json.dumps(payload), result_class()(), ignore_unknown_fields=False)
    except json_format.ParseError as error:
        return str(error)
    return None


def proto_changes(payload: dict[str, Any]) -> str | None:
    """What the topic (and so the BigQuery table) would keep differently from what was
    sent, for a payload it accepts: e.g. "7.5" for a double is stored as 7.5."""
    message = result_class()()
    json_format.Parse(json.dumps(payload), message, ignore_unknown_fields=False)
    kept = json_format.MessageToDict(message)
    sent = _as_proto_prints(payload, message.DESCRIPTOR)
    if kept != sent:
        return f"keeps {json.dumps(kept, sort_keys=True)}, not {json.dumps(sent, sort_keys=True)}"
    return None


def _as_proto_prints(payload: dict[str, Any], message: Descriptor) -> dict[str, Any]:
    """A parsed payload as proto3 prints it back: scalars, lists and maps at their
    default ("", 0, false, empty) are absent, proto3 having no presence for them; a
    message field that was given is kept, even empty."""
    printed: dict[str, Any] = {}
    for name, value in payload.items():
        field = message.fields_by_camelcase_name[name]
        if (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and not field.message_type.GetOptions().map_entry
        ):
            if isinstance(value, list):  # repeated: each message kept, an empty list not
                if value:
                    printed[name] = [_as_proto_prints(v, field.message_type) for v in value]
            else:
                printed[name] = _as_proto_prints(value, field.message_type)
        elif value not in ("", 0, False, [], {}):
            printed[name] = value
    return printed


def assert_valid_result(payload: dict[str, Any]) -> None:
    """Fail, saying why, unless the payload satisfies both result.schema.json and result.proto."""
    problems = json_schema_errors(payload)
    if (error := proto_error(payload)) is not None:
        problems.append(f"result.proto (JSON mapping): {error}")
    elif (changes := proto_changes(payload)) is not None:
        problems.append(f"result.proto (JSON mapping) {changes}")
    if problems:
        shown = json.dumps(payload, indent=2, sort_keys=True)
        raise AssertionError("invalid result:\n  " + "\n  ".join(problems) + f"\n{shown}")
