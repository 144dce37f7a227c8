"""The files deploy.sh creates Monitoring and BigQuery resources from, checked offline.

- Every file in deploy/monitoring/, with its placeholders filled in, decodes into the
  Monitoring API's own message (AlertPolicy from monitoring v3, Dashboard from v1), as
  the Google Cloud CLI ships them with apitools; a misspelt field or an unknown enum value
  lands in apitools' "unrecognized fields", which is walked recursively and must be empty.
  (tests/deploy/test_deploy.py checks the files deploy.sh itself rendered the same way, and its
  log-based metrics' configurations as LogMetric messages of logging v2, read from YAML as
  `gcloud logging metrics create --config-from-file` reads them: gcloud itself sends a
  misspelt field on to the API unchecked.)
- deploy/bigquery/results-schema.json is what deploy/bigquery_schema.py makes of
  schemas/result.proto now, and matches the proto as protoc compiles it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.monitoring_messages import (
    assert_log_metric_complete,
    assert_strictly_valid,
    decode_all,
    kind_of,
)
from tests.support.monitoring_templates import MONITORING, SAMPLE_CHANNELS, SAMPLE_VALUES, render

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "deploy" / "bigquery" / "results-schema.json"
PLACEHOLDER = re.compile(r"@@[A-Z_]+@@")

# Values as deploy.sh fills them in (deploy.sh's template_values).


TEMPLATES = sorted(MONITORING.glob("*.json"))


def test_every_monitoring_file_decodes_into_the_apis_own_messages() -> None:
    names = {path.name for path in TEMPLATES}
    assert {
        "alert-kill-switch-failed.json",
        "alert-dead-letters.json",
        "alert-function-errors.json",
        "alert-function-silent.json",
        "dashboard.json",
    } <= names
    rendered = [render(path.read_text(), SAMPLE_VALUES, SAMPLE_CHANNELS) for path in TEMPLATES]
    for path, text in zip(TEMPLATES, rendered, strict=True):
        assert not PLACEHOLDER.search(text), f"{path.name}: {PLACEHOLDER.findall(text)}"
        json.loads(text)
    decoded = decode_all(
        [(kind_of(path), text) for path, text in zip(TEMPLATES, rendered, strict=True)]
    )
    for path, result in zip(TEMPLATES, decoded, strict=True):
        assert_strictly_valid(path.name, result)
    policies = {
        path.name: result["message"]
        for path, result in zip(TEMPLATES, decoded, strict=True)
        if path.name.startswith("alert-")
    }
    for policy in policies.values():
        assert policy["notificationChannels"] == SAMPLE_CHANNELS


def test_the_alerts_watch_what_the_issue_asks_for() -> None:
    def conditions(name: str) -> list[dict[str, Any]]:
        policy = json.loads(render((MONITORING / name).read_text(), SAMPLE_VALUES, SAMPLE_CHANNELS))
        return policy["conditions"]

    (failed,) = conditions("alert-kill-switch-failed.json")
    query = failed["conditionThreshold"]["filter"]
    assert "logging.googleapis.com/user/dataproc-canceller-outcomes" in query
    outcomes = set(re.findall(r'"([A-Z_]+)"', query.split("one_of(", 1)[1]))
    assert outcomes == {
        "ERROR",
        "PERMISSION_DENIED",
        "STILL_RUNNING",
        "UNIMPLEMENTED",
        "COMPLETED_DESPITE_CANCEL",
    }
    (dead,) = conditions("alert-dead-letters.json")
    assert "subscription/num_undelivered_messages" in dead["conditionThreshold"]["filter"]
    assert (
        'subscription_id="dataproc-cancel-requests-dead-letter-sub"'
        in (dead["conditionThreshold"]["filter"])
    )
    errors = conditions("alert-function-errors.json")
    assert {c["conditionThreshold"]["filter"].split('"')[1] for c in errors} == {
        "run.googleapis.com/request_count",
        "cloudfunctions.googleapis.com/function/execution_count",
    }
    (silent,) = conditions("alert-function-silent.json")
    assert silent["conditionAbsent"]["duration"] == "2400s"


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (lambda p: p["conditions"][0]["conditionThreshold"].update(threshold=1), "threshold"),
        (lambda p: p.update(severity="SEVERE"), "severity"),
        (lambda p: p["documentation"].update(mimetype="text/markdown"), "mimetype"),
    ],
    ids=["misspelt nested field", "unknown enum value", "wrong case"],
)
def test_the_strict_decoding_catches_mistakes(mistake: Any, expected: str) -> None:
    """The check above can fail: apitools keeps what the API lacks, and the walk finds it."""
    path = MONITORING / "alert-kill-switch-failed.json"
    policy = json.loads(render(path.read_text(), SAMPLE_VALUES, SAMPLE_CHANNELS))
    mistake(policy)
    (decoded,) = decode_all([("AlertPolicy", json.dumps(policy))])
    assert any(p.endswith("." + expected) for p in decoded["unrecognized"]), decoded["unrecognized"]


LOG_METRIC = """\
description: Seconds to something (deploy.sh config 0123456789ab)
filter: jsonPayload.outcome="CANCELLED" AND jsonPayload.elapsedSeconds:*
valueExtractor: EXTRACT(jsonPayload.elapsedSeconds)
bucketOptions:
  exponentialBuckets:
    numFiniteBuckets: 20
    growthFactor: 2
    scale: 0.01
metricDescriptor:
  metricKind: DELTA
  valueType: DISTRIBUTION
  unit: s
"""


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (("growthFactor", "growthFactr"), "growthFactr"),
        (("DISTRIBUTION", "DISTRIBUTON"), "valueType"),
        (("valueExtractor", "valueextractor"), "valueextractor"),
    ],
    ids=["misspelt nested field", "unknown enum value", "wrong case"],
)
def test_the_strict_decoding_catches_log_metric_mistakes(
    mistake: tuple[str, str], expected: str
) -> None:
    """gcloud logging metrics create sends these to the API unchecked; the walk finds them."""
    good, bad = decode_all([("LogMetric", LOG_METRIC), ("LogMetric", LOG_METRIC.replace(*mistake))])
    assert good["unrecognized"] == []
    assert_log_metric_complete(good["message"])
    assert any(p.endswith("." + expected) for p in bad["unrecognized"]), bad["unrecognized"]


# --- BigQuery -------------------------------------------------------------------------------


def _generator() -> Any:
    sys.path.insert(0, str(REPO / "deploy"))
    try:
        import bigquery_schema
    finally:
        sys.path.remove(str(REPO / "deploy"))
    return bigquery_schema


def test_bigquery_schema_file_is_what_the_generator_makes_of_result_proto() -> None:
    generator = _generator()
    wanted = generator.render((REPO / "schemas" / "result.proto").read_text(encoding="utf-8"))
    assert SCHEMA_FILE.read_text(encoding="utf-8") == wanted, (
        "deploy/bigquery/results-schema.json is stale: run python3 deploy/bigquery_schema.py"
    )


def _proto_descriptor() -> tuple[Any, dict[str, Any]]:
    """result.proto as protoc compiles it (grpcio-tools), to check the generator's parser:
    its first message, and every message by the full name a field's type_name gives (a
    field may name a message nested anywhere in the file, not only in its own)."""
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    out = Path(__import__("tempfile").mkdtemp()) / "result.pb"
    status = protoc.main(
        [
            "protoc",
            f"--proto_path={REPO / 'schemas'}",
            f"--descriptor_set_out={out}",
            str(REPO / "schemas" / "result.proto"),
        ]
    )
    assert status == 0
    file = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    by_name: dict[str, Any] = {}

    def index(message: Any, scope: str) -> None:
        by_name[f"{scope}.{message.name}"] = message
        for nested in message.nested_type:
            index(nested, f"{scope}.{message.name}")

    for message in file.message_type:
        index(message, f".{file.package}")
    return file.message_type[0], by_name


def test_bigquery_schema_matches_result_proto_field_by_field() -> None:
    from google.protobuf import descriptor_pb2

    field_type = descriptor_pb2.FieldDescriptorProto
    scalars = {
        field_type.TYPE_DOUBLE: "FLOAT",
        field_type.TYPE_FLOAT: "FLOAT",
        field_type.TYPE_INT32: "INTEGER",
        field_type.TYPE_INT64: "INTEGER",
        field_type.TYPE_UINT32: "INTEGER",
        field_type.TYPE_UINT64: "INTEGER",
        field_type.TYPE_SINT32: "INTEGER",
        field_type.TYPE_SINT64: "INTEGER",
        field_type.TYPE_BOOL: "BOOLEAN",
        field_type.TYPE_STRING: "STRING",
        field_type.TYPE_BYTES: "BYTES",
        field_type.TYPE_ENUM: "INTEGER",
    }

    result, messages = _proto_descriptor()

    def expected(message: Any) -> list[tuple]:
        columns = []
        for f in message.field:
            mode = "REPEATED" if f.label == field_type.LABEL_REPEATED else "NULLABLE"
            if f.type == field_type.TYPE_MESSAGE:
                child = messages[f.type_name]
                columns.append((f.name, "RECORD", mode, tuple(expected(child))))
            else:
                columns.append((f.name, scalars[f.type], mode, ()))
        return columns

    def actual(fields: list[dict[str, Any]]) -> list[tuple]:
        return [
            (f["name"], f["type"], f["mode"], tuple(actual(f.get("fields", [])))) for f in fields
        ]

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    metadata = [c["name"] for c in schema[-4:]]
    assert metadata == ["subscription_name", "message_id", "publish_time", "attributes"]
    assert schema[-2]["type"] == "TIMESTAMP", "deploy.sh partitions the table on publish_time"
    # A map<K, V> is a repeated nested *Entry message with key and value: the same columns.
    assert actual(schema[:-4]) == expected(result)


def test_deploy_sh_compares_schemas_as_bigquery_reports_them() -> None:
    """bq show omits mode NULLABLE and may say INT64/FLOAT64/BOOL/STRUCT: still the same."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))

    def as_bigquery(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        aliases = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "RECORD": "STRUCT"}
        out = []
        for f in fields:
            g = {k: v for k, v in f.items() if not (k == "mode" and v == "NULLABLE")}
            g["type"] = aliases.get(f["type"], f["type"])
            if "fields" in f:
                g["fields"] = as_bigquery(f["fields"])
            out.append(g)
        return out

    tool = [sys.executable, str(REPO / "deploy" / "bigquery_schema.py")]
    same = subprocess.run(
        [*tool, "same-schema", str(SCHEMA_FILE)], input=json.dumps(as_bigquery(schema)), text=True
    )
    assert same.returncode == 0
    older = json.dumps(as_bigquery(schema[:-5] + schema[-4:]))  # a table from before a new field
    different = subprocess.run([*tool, "same-schema", str(SCHEMA_FILE)], input=older, text=True)
    assert different.returncode == 1
