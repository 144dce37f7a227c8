"""Deploy.sh's Monitoring and Logging documents decoded strictly, with the Cloud SDK's
own API messages (AlertPolicy from monitoring v3, Dashboard from v1, LogMetric from
logging v2, through apitools), and what each kind must hold beyond the API's schema.

Shared by tests/deploy/test_monitoring_files.py (the templates as committed) and
tests/deploy/test_deploy.py (the files deploy.sh rendered).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# Runs in a separate interpreter with the Cloud SDK's libraries first on the path, so they
# shadow nothing in this test process. Reads [[kind, text], ...]; prints, per document,
# the paths of unrecognized fields (misspelt names, unknown enum values) or the error.
DECODER = r"""
import json, sys
sdk = sys.argv[1]
sys.path[:0] = [sdk + "/lib", sdk + "/lib/third_party"]
from apitools.base.protorpclite import messages
from apitools.base.py import encoding
from googlecloudsdk.core import yaml
from googlecloudsdk.generated_clients.apis.logging.v2 import logging_v2_messages as logging
from googlecloudsdk.generated_clients.apis.monitoring.v1 import monitoring_v1_messages as v1
from googlecloudsdk.generated_clients.apis.monitoring.v3 import monitoring_v3_messages as v3
KINDS = {"AlertPolicy": v3.AlertPolicy, "Dashboard": v1.Dashboard, "LogMetric": logging.LogMetric}

def walk(message, path, found):
    for name in message.all_unrecognized_fields():
        found.append(f"{path}.{name}")
    for field in message.all_fields():
        if not isinstance(field, messages.MessageField):
            continue
        value = getattr(message, field.name)
        items = value if field.repeated else [value]
        for index, item in enumerate(items):
            if isinstance(item, messages.Message):
                where = f"{path}.{field.name}" + (f"[{index}]" if field.repeated else "")
                walk(item, where, found)
    return found

out = []
for kind, text in json.load(sys.stdin):
    try:
        if kind == "LogMetric":  # YAML, read as gcloud's CreateLogMetric reads it
            message = encoding.DictToMessage(yaml.load(text), KINDS[kind])
        else:
            message = encoding.JsonToMessage(KINDS[kind], text)
    except Exception as error:  # a wrong type for a field's value
        out.append({"error": f"{type(error).__name__}: {error}"})
        continue
    found = walk(message, kind, [])
    out.append({"unrecognized": found, "message": encoding.MessageToPyValue(message)})
print(json.dumps(out))
"""


@functools.cache
def sdk_root() -> str:
    gcloud = shutil.which("gcloud")
    assert gcloud, "the Google Cloud CLI is needed: its Monitoring API messages check these files"
    root = subprocess.run(
        [gcloud, "info", "--format=value(installation.sdk_root)"],
        capture_output=True,
        text=True,
        check=True,
        env={"CLOUDSDK_CORE_DISABLE_PROMPTS": "1", "PATH": "/usr/bin:/bin"},
    ).stdout.strip()
    assert (Path(root) / "lib" / "third_party" / "apitools").is_dir(), root
    return root


def decode_all(documents: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Decode each (kind, JSON text) with the Monitoring API's messages; see DECODER."""
    completed = subprocess.run(
        [sys.executable, "-c", DECODER, sdk_root()],
        input=json.dumps(documents),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(completed.stdout)


def kind_of(path: Path | str) -> str:
    if Path(path).suffix == ".yaml":  # deploy.sh's log-metric-NAME.yaml
        return "LogMetric"
    return "Dashboard" if Path(path).name.startswith("dashboard") else "AlertPolicy"


def assert_policy_complete(policy: dict[str, Any], *, integration: bool) -> None:
    assert policy["displayName"] and policy["combiner"] == "OR"
    assert policy["notificationChannels"], "a policy that notifies no one is no alert"
    documentation = policy["documentation"]
    assert documentation["mimeType"] == "text/markdown"
    assert documentation["subject"] and len(documentation["subject"]) <= 255
    if not integration:  # deploy.sh's own: say what it means and what to do
        assert "## What it means" in documentation["content"]
        assert "## What to do" in documentation["content"]
        assert set(policy["userLabels"]) == {"deployed_by", "function", "deploy_digest"}
    assert len(documentation["content"]) <= 8192
    assert policy["conditions"]
    for condition in policy["conditions"]:
        assert condition["displayName"]
        kinds = [k for k in condition if k.startswith("condition")]
        assert len(kinds) == 1, condition
        body = condition[kinds[0]]
        assert 'metric.type="' in body["filter"] and 'resource.type="' in body["filter"]
        assert re.fullmatch(r"\d+s", body["duration"])
        if kinds[0] == "conditionThreshold":
            assert body["comparison"].startswith("COMPARISON_")
            assert "thresholdValue" in body
        else:
            assert kinds[0] == "conditionAbsent"
            assert int(body["duration"][:-1]) >= 120, "Monitoring's minimum for an absence"
        for aggregation in body.get("aggregations", []):
            assert re.fullmatch(r"\d+s", aggregation["alignmentPeriod"])
            assert aggregation["perSeriesAligner"].startswith("ALIGN_")


# A log-based metric in PromQL ("Mapping Cloud Monitoring metrics to PromQL",
# https://cloud.google.com/monitoring/promql/promql-mapping): its name with the first / a
# ':' and the rest a '_', a distribution's sum with '_sum', and the resource type named, as
# a log-based metric may be written against more than one.
PROMQL_SERIES = re.compile(
    r'logging_googleapis_com:user_[a-z0-9_]+_sum\{monitored_resource="cloud_run_revision"\}'
)


def assert_promql_sums_a_log_metric(query: str) -> None:
    """What a PromQL chart here may be: the sum of a log-based distribution's values per
    period. No PromQL parser ships with the Cloud SDK, so the form is held exactly."""
    series = PROMQL_SERIES.findall(query)
    assert len(series) == 1, query
    assert query == f"sum by (kind) (increase({series[0]}[1h]))", query


def assert_dashboard_complete(dashboard: dict[str, Any]) -> None:
    assert dashboard["displayName"]
    assert dashboard["name"].startswith("projects/")
    assert dashboard["labels"]["deploy_digest"]
    widgets = dashboard["gridLayout"]["widgets"]
    assert len(widgets) >= 6
    for widget in widgets:
        assert widget["title"]
        content = [k for k in widget if k != "title"]
        assert len(content) == 1, widget
        for data_set in widget.get("xyChart", {}).get("dataSets", []):
            if "prometheusQuery" in data_set["timeSeriesQuery"]:
                assert_promql_sums_a_log_metric(data_set["timeSeriesQuery"]["prometheusQuery"])
                assert data_set["minAlignmentPeriod"] == "3600s", "one bar an hour: [1h]"
                continue
            query = data_set["timeSeriesQuery"]["timeSeriesFilter"]
            assert 'metric.type="' in query["filter"] and 'resource.type="' in query["filter"]
            assert query["aggregation"]["perSeriesAligner"].startswith("ALIGN_")


def assert_log_metric_complete(metric: dict[str, Any]) -> None:
    """What the Logging API asks of a log-based metric (LogMetric's reference): every label
    of the descriptor has an extractor, and back; a distribution has a value extractor and
    buckets, DELTA; a counter neither."""
    assert metric["filter"] and len(metric["filter"]) <= 20000
    assert len(metric["description"]) <= 8000
    descriptor = metric["metricDescriptor"]
    assert descriptor["metricKind"] == "DELTA"
    labels = [label["key"] for label in descriptor.get("labels", [])]
    assert sorted(labels) == sorted(metric.get("labelExtractors", {}))
    for extractor in metric.get("labelExtractors", {}).values():
        assert re.fullmatch(r"EXTRACT\(jsonPayload\.[A-Za-z]+\)", extractor), extractor
    if descriptor["valueType"] == "DISTRIBUTION":
        assert re.fullmatch(r"EXTRACT\(jsonPayload\.[A-Za-z]+\)", metric["valueExtractor"])
        assert metric["bucketOptions"]["exponentialBuckets"]["numFiniteBuckets"] > 0
    else:
        assert descriptor["valueType"] == "INT64"
        assert "valueExtractor" not in metric and "bucketOptions" not in metric


def assert_strictly_valid(path: Path | str, decoded: dict[str, Any]) -> None:
    assert "error" not in decoded, f"{path}: {decoded.get('error')}"
    assert decoded["unrecognized"] == [], f"{path}: fields the API does not have"
    if kind_of(path) == "Dashboard":
        assert_dashboard_complete(decoded["message"])
    elif kind_of(path) == "LogMetric":
        assert_log_metric_complete(decoded["message"])
    else:
        assert_policy_complete(decoded["message"], integration="integration-" in str(path))
