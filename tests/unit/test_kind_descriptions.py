"""Each kind's description: how it tells running from stopped from ended otherwise, what
its results carry, which sweep clauses it can check; and the one check schedule."""

from __future__ import annotations

import ast
import itertools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from canceller.kinds import BATCHES, JOBS, OPERATIONS, SESSIONS, Clause, InvalidWork, Phase
from canceller.kinds.operations import LABELLED_METADATA
from canceller.names import ResourceName, ScopeName
from canceller.verification import POLL_SCHEDULE

BATCH_META = {
    "@type": "type.googleapis.com/google.cloud.dataproc.v1.BatchOperationMetadata",
    "batch": "projects/p/locations/us-central1/batches/b-1",
    "operationType": "BATCH",
    "createTime": "2026-11-27T10:00:00Z",
    "labels": {"team": "etl"},
}


def test_schedule_is_prompt_for_one_target_and_never_more_than_5_s_apart() -> None:
    offsets = list(itertools.islice(POLL_SCHEDULE.offsets(), 80))
    assert offsets[0] == 0.0
    assert offsets[1] < 0.5
    assert offsets == sorted(offsets)
    # Work ending just after check k is seen at check k+1; leave 50 ms for the read.
    for before, after in itertools.pairwise(offsets):
        assert after + 0.05 <= 1.25 * before + 0.2 or after - before <= POLL_SCHEDULE.max_interval
        assert after - before <= 5.0 + 1e-9  # a sweep's promise: within t + 5 s
    assert offsets[-1] > 300  # it keeps going: the caller's timeout ends it


@pytest.mark.parametrize(
    ("operation", "phase"),
    [
        ({"name": "x"}, Phase.RUNNING),
        ({"name": "x", "done": False}, Phase.RUNNING),
        ({"done": True, "error": {"code": 1, "message": "cancelled"}}, Phase.STOPPED),
        ({"done": True, "error": {"code": 13, "message": "boom"}}, Phase.ENDED),
        ({"done": True, "response": {"@type": "x"}}, Phase.ENDED),
        ({"error": {"code": 1}}, Phase.RUNNING),
        ({"done": "true", "error": {"code": 1}}, Phase.RUNNING),
    ],
)
def test_operation_phase(operation: dict[str, Any], phase: Phase) -> None:
    assert OPERATIONS.phase(operation) is phase


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        ("PENDING", Phase.RUNNING),
        ("SETUP_DONE", Phase.RUNNING),
        ("RUNNING", Phase.RUNNING),
        ("ATTEMPT_FAILURE", Phase.RUNNING),  # a restartable job runs again
        ("CANCEL_PENDING", Phase.STOPPING),
        ("CANCEL_STARTED", Phase.STOPPING),
        ("CANCELLED", Phase.STOPPED),
        ("DONE", Phase.ENDED),
        ("ERROR", Phase.ENDED),
    ],
)
def test_job_phase(state: str, phase: Phase) -> None:
    assert JOBS.phase({"status": {"state": state}}) is phase


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        ("CREATING", Phase.RUNNING),
        ("ACTIVE", Phase.RUNNING),
        ("TERMINATING", Phase.STOPPING),
        ("TERMINATED", Phase.STOPPED),
        ("FAILED", Phase.ENDED),
    ],
)
def test_session_phase(state: str, phase: Phase) -> None:
    assert SESSIONS.phase({"state": state}) is phase


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        ("PENDING", Phase.RUNNING),
        ("RUNNING", Phase.RUNNING),
        ("CANCELLING", Phase.STOPPING),
        ("CANCELLED", Phase.STOPPED),
        ("SUCCEEDED", Phase.ENDED),
        ("FAILED", Phase.ENDED),
    ],
)
def test_batch_phase(state: str, phase: Phase) -> None:
    assert BATCHES.phase({"state": state}) is phase


def test_operation_state_flattens_batch_and_cluster_metadata() -> None:
    batch = OPERATIONS.describe(
        {"done": True, "error": {"code": 1, "message": "c"}, "metadata": BATCH_META}
    )
    assert batch == {
        "done": True,
        "errorCode": 1,
        "errorMessage": "c",
        "metadataType": "BatchOperationMetadata",
        "operationType": "BATCH",
        "batch": "projects/p/locations/us-central1/batches/b-1",
        "createTime": "2026-11-27T10:00:00Z",
    }
    cluster = OPERATIONS.describe(
        {
            "metadata": {
                "@type": "type.googleapis.com/google.cloud.dataproc.v1.ClusterOperationMetadata",
                "clusterName": "etl",
                "clusterUuid": "u-1",
                "operationType": "CREATE",
                "status": {"state": "RUNNING", "stateStartTime": "2026-11-27T09:00:00Z"},
            },
        }
    )
    assert cluster["done"] is False
    assert cluster["clusterName"] == "etl"
    assert cluster["createTime"] == "2026-11-27T09:00:00Z"
    assert OPERATIONS.describe({"done": True, "response": {}})["hasResponse"] is True


JOB = {
    "reference": {"projectId": "p-123456", "jobId": "etl-7"},
    "placement": {"clusterName": "etl", "clusterUuid": "c-uuid"},
    "status": {"state": "ERROR", "details": "driver failed", "stateStartTime": "2026-11-27T11:00Z"},
    "statusHistory": [
        {"state": "PENDING", "stateStartTime": "2026-11-27T09:00:00Z"},
        {"state": "RUNNING", "stateStartTime": "2026-11-27T09:01:00Z"},
    ],
    "jobUuid": "j-uuid",
    "labels": {"team": "etl"},
}


def test_job_state_name_and_selection_fields() -> None:
    assert JOBS.describe(JOB) == {
        "done": True,
        "jobState": "ERROR",
        "clusterName": "etl",
        "clusterUuid": "c-uuid",
        "jobUuid": "j-uuid",
        "stateDetails": "driver failed",
        "createTime": "2026-11-27T09:00:00Z",
    }
    scope = ScopeName("p-123456", "us-central1")
    assert JOBS.listed_name(JOB, scope) == "projects/p-123456/regions/us-central1/jobs/etl-7"
    assert JOBS.listed_name({"reference": {"jobId": 5}}, scope) is None
    assert JOBS.uuid(JOB) == "j-uuid"
    assert JOBS.cluster_uuid(JOB) == "c-uuid"
    assert JOBS.ending(JOB) == "the job is ERROR (driver failed)"
    assert JOBS.field_value(JOB, "status.state") == "NON_ACTIVE"
    assert JOBS.holds(Clause("clusterName", "etl"), JOB)
    assert JOBS.holds(Clause("labels.team", "etl"), JOB)
    assert not JOBS.holds(Clause("labels.team", "web"), JOB)


def test_which_kind_can_check_which_clause() -> None:
    cluster, state = Clause("clusterName", "etl"), Clause("state", "ACTIVE")
    op_type, label = Clause("operationType", "BATCH"), Clause("labels.team", "etl")
    assert OPERATIONS.applies(cluster) and JOBS.applies(cluster) and not SESSIONS.applies(cluster)
    assert SESSIONS.applies(state) and not JOBS.applies(state) and not OPERATIONS.applies(state)
    assert OPERATIONS.applies(op_type) and not JOBS.applies(op_type)
    assert all(kind.applies(label) for kind in (OPERATIONS, JOBS, SESSIONS))
    assert OPERATIONS.applies(Clause("status.state", "PENDING"))
    assert not JOBS.applies(Clause("status.state", "PENDING"))
    assert JOBS.applies(Clause("status.state", "ACTIVE"))


def test_server_side_narrowing_per_kind() -> None:
    clauses = (Clause("clusterName", "etl"), Clause("labels.team", "etl"))
    # A sweep lists active jobs only, unless the filter asks for a state itself.
    assert JOBS.server_params(clauses) == {
        "clusterName": "etl",
        "filter": "status.state = ACTIVE AND labels.team = etl",
    }
    assert JOBS.server_params(clauses[:1]) == {"clusterName": "etl", "jobStateMatcher": "ACTIVE"}
    assert JOBS.server_params((Clause("status.state", "ACTIVE"),)) == {
        "filter": "status.state = ACTIVE"
    }
    assert OPERATIONS.server_params(clauses) == {
        "filter": 'clusterName = "etl" AND labels.team = "etl"'
    }
    assert SESSIONS.server_params((Clause("labels.team", "etl"),)) == {
        "filter": 'labels.team = "etl"'
    }


def test_session_state_and_batch_stop_path() -> None:
    session = {"name": "n", "state": "FAILED", "stateMessage": "out of memory", "uuid": "s-u"}
    assert SESSIONS.describe(session)["sessionState"] == "FAILED"
    assert SESSIONS.describe(session)["sessionUuid"] == "s-u"
    assert SESSIONS.ending(session) == "the session is FAILED (out of memory)"
    batch = ResourceName("batch", "my-project", "us-central1", "nightly")
    op = "projects/my-project/regions/us-central1/operations/op-9"
    assert BATCHES.stop_path(batch, {"operation": op}) == f"{op}:cancel"
    kind, watched = BATCHES.watched(batch, {"operation": op})
    assert (kind, watched.name) == (OPERATIONS, op)
    with pytest.raises(InvalidWork, match="another project"):
        BATCHES.stop_path(batch, {"operation": op.replace("my-project", "other-project")})
    with pytest.raises(InvalidWork, match="not a usable name"):
        BATCHES.stop_path(batch, {"operation": "../x"})


# Every operation metadata message of Dataproc v1 and whether it has a ``labels`` field, as
# the Google Cloud CLI's generated dataproc_v1_messages.py (SDK 528.0.0) defines them;
# test_metadata_messages_are_the_sdks_own checks this copy against the installed SDK.
METADATA_HAS_LABELS = {
    "AnalyzeOperationMetadata": True,
    "BatchOperationMetadata": True,
    "ClusterOperationMetadata": True,
    "JobMetadata": False,
    "NodeGroupOperationMetadata": True,
    "SessionOperationMetadata": True,
    "WorkflowMetadata": False,
}
TYPE_PREFIX = "type.googleapis.com/google.cloud.dataproc.v1."


def running_operation(metadata: dict[str, Any]) -> dict[str, Any]:
    labels = {"dataproc-canceller": "exempt"}
    return {"name": "projects/p/regions/r/operations/o", "metadata": {**metadata, "labels": labels}}


@pytest.mark.parametrize(("message", "has_labels"), sorted(METADATA_HAS_LABELS.items()))
def test_an_operation_is_swept_only_if_its_metadata_has_labels(
    message: str, has_labels: bool
) -> None:
    """Exemption is read from the metadata's labels: a type without them cannot be
    checked, so it must not be swept (a name given directly still stops it)."""
    operation = running_operation({"@type": TYPE_PREFIX + message})
    assert OPERATIONS.sweepable_item(operation) is has_labels
    assert (message in LABELLED_METADATA) is has_labels


@pytest.mark.parametrize(
    "metadata",
    [
        {},  # no metadata type at all
        {"@type": TYPE_PREFIX + "RepairOperationMetadata"},  # one Dataproc might add
        {"@type": "type.googleapis.com/google.cloud.dataproc.v1beta2.ClusterOperationMetadata"},
        {"@type": "BatchOperationMetadata"},  # not a type URL
        {"@type": ["BatchOperationMetadata"]},
    ],
)
def test_an_operation_of_unknown_metadata_type_is_not_swept(metadata: dict[str, Any]) -> None:
    assert not OPERATIONS.sweepable_item(running_operation(metadata))
    assert not OPERATIONS.sweepable_item({"name": "x", "metadata": "BatchOperationMetadata"})


def test_the_allowlist_is_every_labelled_metadata_message() -> None:
    assert {name for name, labels in METADATA_HAS_LABELS.items() if labels} == LABELLED_METADATA


def sdk_messages() -> Path | None:
    """The installed Google Cloud CLI's generated Dataproc v1 messages, if there is one."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    root = subprocess.run(
        [gcloud, "info", "--format=value(installation.sdk_root)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout.strip()
    path = Path(
        root, "lib/googlecloudsdk/generated_clients/apis/dataproc/v1/dataproc_v1_messages.py"
    )
    return path if root and path.is_file() else None


def test_metadata_messages_are_the_sdks_own() -> None:
    """Every top-level ``*Metadata`` message of the SDK, with whether it has a ``labels``
    field, read from the source (not imported: it needs the SDK's own libraries)."""
    path = sdk_messages()
    if path is None:
        pytest.skip("no Google Cloud CLI with the generated Dataproc v1 messages")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.endswith("Metadata"):
            fields = {
                target.id
                for statement in node.body
                if isinstance(statement, ast.Assign)
                for target in statement.targets
                if isinstance(target, ast.Name)
            }
            found[node.name] = "labels" in fields
    assert found == METADATA_HAS_LABELS
