#!/usr/bin/env python3
"""The BigQuery table schema of the results, derived from schemas/result.proto.

    python3 deploy/bigquery_schema.py            write deploy/bigquery/results-schema.json
    python3 deploy/bigquery_schema.py --check    exit 1 if that file is not what the proto gives

deploy.sh also uses it (standard library only, Python 3.9 or newer):

    bq show --schema --format=json T | deploy/bigquery_schema.py same-schema FILE
    bq get-iam-policy --format=json T | deploy/bigquery_schema.py has-binding ROLE MEMBER

Why a table in this shape: the results topic is bound to result.proto with JSON encoding,
and deploy.sh's BigQuery subscription uses the topic schema (``--use-topic-schema``), so
Pub/Sub decodes each result with result.proto and writes each proto field to the column
of the same name (the proto field name, e.g. ``schema_version``, not the JSON name). The
mapping below is the one Pub/Sub documents for protocol-buffer topic schemas ("Schema
compatibility", cloud.google.com/pubsub/docs/bigquery): double/float -> FLOAT, the
integer types -> INTEGER, bool -> BOOLEAN, string -> STRING, bytes -> BYTES, enum ->
INTEGER, a message -> RECORD, ``repeated`` -> mode REPEATED, ``map<K, V>`` -> a REPEATED
RECORD of ``key`` and ``value``. Every other column is NULLABLE: proto3 has no presence,
and a REQUIRED column would refuse a result that leaves the field at its default.

``--write-metadata`` adds the columns subscription_name, message_id, publish_time
(TIMESTAMP; the table is partitioned by day on it) and attributes (the message
attributes as a JSON string), which Pub/Sub requires to exist when it writes metadata.

Columns can be added to a BigQuery table but not removed or retyped, so a field added to
result.proto becomes a new column on the next deploy.sh run (``bq update``), before the
function that publishes it is deployed; removing or retyping a field needs a new table.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROTO = REPO / "schemas" / "result.proto"
OUTPUT = REPO / "deploy" / "bigquery" / "results-schema.json"

SCALARS = {
    "double": "FLOAT",
    "float": "FLOAT",
    "int32": "INTEGER",
    "int64": "INTEGER",
    "uint32": "INTEGER",
    "uint64": "INTEGER",
    "sint32": "INTEGER",
    "sint64": "INTEGER",
    "fixed32": "INTEGER",
    "fixed64": "INTEGER",
    "sfixed32": "INTEGER",
    "sfixed64": "INTEGER",
    "bool": "BOOLEAN",
    "string": "STRING",
    "bytes": "BYTES",
}
METADATA_COLUMNS = [
    {
        "name": "subscription_name",
        "type": "STRING",
        "mode": "NULLABLE",
        "description": "Written by Pub/Sub: the BigQuery subscription that wrote the row.",
    },
    {
        "name": "message_id",
        "type": "STRING",
        "mode": "NULLABLE",
        "description": "Written by Pub/Sub: the result message's ID.",
    },
    {
        "name": "publish_time",
        "type": "TIMESTAMP",
        "mode": "NULLABLE",
        "description": "Written by Pub/Sub: when the result was published. The table is "
        "partitioned by day on it.",
    },
    {
        "name": "attributes",
        "type": "STRING",
        "mode": "NULLABLE",
        "description": "Written by Pub/Sub: the message attributes (outcome, operation, "
        "project, triggerMessageId, ...) as a JSON object.",
    },
]


@dataclass
class Field:
    name: str
    type: str  # a scalar, a message name, or "map"
    repeated: bool
    comment: str
    map_types: tuple[str, str] | None = None


@dataclass
class Message:
    name: str
    fields: list[Field] = field(default_factory=list)
    nested: dict[str, Message] = field(default_factory=dict)
    enums: set[str] = field(default_factory=set)
    parent: Message | None = None


TOKEN = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:[^\"\\]|\\.)*\"|[A-Za-z_][\w.]*|\d+|\S", re.S)


def parse(text: str) -> Message:
    """The proto file's first top-level message (the one Pub/Sub validates against)."""
    tokens = TOKEN.findall(text)
    root = Message("<file>")
    stack = [root]
    comments: list[str] = []
    i = 0

    def take(expected: str | None = None) -> str:
        nonlocal i
        while tokens[i].startswith(("//", "/*")):
            i += 1
        token = tokens[i]
        i += 1
        if expected is not None and token != expected:
            raise ValueError(f"result.proto: expected {expected!r}, found {token!r}")
        return token

    while i < len(tokens):
        token = tokens[i]
        if token.startswith("//"):
            comments.append(token[2:].strip())
            i += 1
            continue
        if token.startswith("/*"):
            i += 1
            continue
        i += 1
        current = stack[-1]
        if token in ("syntax", "package", "option", "import", "reserved"):
            while take() != ";":
                pass
        elif token == "message":
            message = Message(take(), parent=current)
            take("{")
            current.nested[message.name] = message
            stack.append(message)
        elif token == "enum":
            current.enums.add(take())
            depth = 0
            while True:
                part = take()
                depth += part == "{"
                depth -= part == "}"
                if depth == 0 and part == "}":
                    break
        elif token == "oneof":
            take()
            take("{")
            stack.append(current)  # a oneof's fields belong to the enclosing message
        elif token == "}":
            stack.pop()
        elif token == ";":
            pass
        else:
            repeated = token == "repeated"
            if token in ("repeated", "optional"):
                token = take()
            map_types = None
            if token == "map":
                take("<")
                key = take()
                take(",")
                value = take()
                take(">")
                map_types = (key, value)
            name = take()
            take("=")
            take()
            while take() != ";":  # field options, e.g. [json_name = "x"]
                pass
            current.fields.append(
                Field(name, token, repeated, " ".join(c for c in comments if c), map_types)
            )
        comments = [] if not tokens[i - 1].startswith("//") else comments
    if len(stack) != 1:
        raise ValueError("result.proto: unbalanced braces")
    if not root.nested:
        raise ValueError("result.proto: no message")
    return next(iter(root.nested.values()))


def resolve(scope: Message, type_name: str) -> Message | str:
    """A type name as protobuf resolves it: innermost scope first, then outwards."""
    if type_name in SCALARS:
        return SCALARS[type_name]
    first, _, rest = type_name.lstrip(".").partition(".")
    search: Message | None = scope
    while search is not None:
        if first in search.enums and not rest:
            return "INTEGER"
        if first in search.nested:
            found = search.nested[first]
            for part in rest.split(".") if rest else []:
                if part in found.enums:
                    return "INTEGER"
                found = found.nested[part]
            return found
        search = search.parent
    raise ValueError(f"result.proto: unknown type {type_name!r} in {scope.name}")


def column(scope: Message, name: str, type_name: str, mode: str, comment: str) -> dict:
    resolved = resolve(scope, type_name)
    out: dict = {"name": name}
    if isinstance(resolved, Message):
        out |= {"type": "RECORD", "mode": mode}
        if comment:
            out["description"] = comment[:1024]
        out["fields"] = columns(resolved)
    else:
        out |= {"type": resolved, "mode": mode}
        if comment:
            out["description"] = comment[:1024]
    return out


def columns(message: Message) -> list[dict]:
    result = []
    for f in message.fields:
        comment = re.sub(r"^Required\.\s*", "", f.comment)
        if f.map_types is not None:
            key, value = f.map_types
            entry = {"name": f.name, "type": "RECORD", "mode": "REPEATED"}
            if comment:
                entry["description"] = comment[:1024]
            entry["fields"] = [
                column(message, "key", key, "NULLABLE", ""),
                column(message, "value", value, "NULLABLE", ""),
            ]
            result.append(entry)
        else:
            mode = "REPEATED" if f.repeated else "NULLABLE"
            result.append(column(message, f.name, f.type, mode, comment))
    return result


def schema(proto_text: str) -> list[dict]:
    return columns(parse(proto_text)) + METADATA_COLUMNS


def render(proto_text: str) -> str:
    return json.dumps(schema(proto_text), indent=2) + "\n"


def _normalised(fields: list[dict]) -> list[tuple]:
    """A schema as comparable tuples: BigQuery omits mode NULLABLE and says RECORD or
    STRUCT, FLOAT or FLOAT64, INTEGER or INT64, BOOLEAN or BOOL."""
    aliases = {"STRUCT": "RECORD", "FLOAT64": "FLOAT", "INT64": "INTEGER", "BOOL": "BOOLEAN"}
    return [
        (
            f["name"],
            aliases.get(f["type"].upper(), f["type"].upper()),
            (f.get("mode") or "NULLABLE").upper(),
            f.get("description", ""),
            tuple(_normalised(f.get("fields", []))),
        )
        for f in fields
    ]


def _json_or(text: str, empty: object) -> object:
    """JSON, or ``empty`` for no text or text that is not JSON (an error message): then
    the comparison says "different" and deploy.sh acts, rather than a traceback."""
    try:
        return json.loads(text) if text.strip() else empty
    except ValueError:
        return empty


def main(argv: list[str]) -> int:
    if argv[:1] == ["same-schema"]:
        wanted = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        have = _json_or(sys.stdin.read(), [])
        return 0 if isinstance(have, list) and _normalised(have) == _normalised(wanted) else 1
    if argv[:1] == ["has-binding"]:
        role, member = argv[1], argv[2]
        policy = _json_or(sys.stdin.read(), {})
        if not isinstance(policy, dict):
            return 1
        for binding in policy.get("bindings", []):
            if binding.get("role") == role and member in binding.get("members", []):
                return 0
        return 1
    text = render(PROTO.read_text(encoding="utf-8"))
    if argv[:1] == ["--check"]:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT.relative_to(REPO)} is stale: run python3 deploy/bigquery_schema.py")
            return 1
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
