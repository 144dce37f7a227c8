"""The emulator's wire format, proven by Google's own clients talking to it.

Two independent clients: google-cloud-dataproc's generated REST transport (parses
every answer with protobuf's strict JSON parser, Any types included) and the real
gcloud CLI (apitools), which is what operators run by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import dataproc_v1
from google.longrunning import operations_pb2

from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin

OPS = "projects/p/regions/r/operations"
BATCHES = "projects/p/locations/r/batches"


@pytest.fixture
def client(emulator: DataprocEmulator, admin: EmulatorAdmin) -> dataproc_v1.BatchControllerClient:
    # The REST transport keeps an explicit http:// scheme from api_endpoint
    # (url_scheme only applies to a bare host; see transports/rest_base.py).
    return dataproc_v1.BatchControllerClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator.base_url},
    )


def get(client: dataproc_v1.BatchControllerClient, name: str) -> operations_pb2.Operation:
    return client.get_operation({"name": name})


# ---- google-cloud-dataproc, REST transport ------------------------------------------------


def test_get_and_cancel_operation(
    client: dataproc_v1.BatchControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_operation(name=f"{OPS}/op1", metadata={"labels": {"team": "data"}})
    running = get(client, f"{OPS}/op1")
    assert not running.done
    assert running.WhichOneof("result") is None
    meta = dataproc_v1.BatchOperationMetadata.pb()()
    assert running.metadata.Unpack(meta)
    assert meta.batch == "projects/p/locations/r/batches/op1"
    assert meta.operation_type == dataproc_v1.BatchOperationMetadata.BatchOperationType.BATCH
    assert dict(meta.labels) == {"team": "data"}
    assert meta.create_time.seconds > 0
    assert not meta.HasField("done_time")

    assert client.cancel_operation({"name": f"{OPS}/op1"}) is None
    cancelled = get(client, f"{OPS}/op1")
    assert cancelled.done
    assert cancelled.error.code == 1
    assert cancelled.metadata.Unpack(meta)
    assert meta.HasField("done_time")


def test_cluster_operation_metadata_and_response(
    client: dataproc_v1.BatchControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_operation(name=f"{OPS}/c1", kind="cluster", metadata={"clusterName": "etl"})
    admin.seed_operation(name=f"{OPS}/c2", kind="cluster", done=True)
    meta = dataproc_v1.ClusterOperationMetadata.pb()()
    assert get(client, f"{OPS}/c1").metadata.Unpack(meta)
    assert meta.cluster_name == "etl"
    assert meta.status.state == dataproc_v1.ClusterOperationStatus.State.RUNNING
    done = get(client, f"{OPS}/c2")
    assert done.done
    assert done.metadata.Unpack(meta)
    assert meta.status.state == dataproc_v1.ClusterOperationStatus.State.DONE
    cluster = dataproc_v1.Cluster.pb()()
    assert done.response.Unpack(cluster)
    assert cluster.project_id == "p"


@pytest.mark.parametrize("kind", ["session", "workflow"])
def test_other_metadata_types_parse(
    client: dataproc_v1.BatchControllerClient, admin: EmulatorAdmin, kind: str
) -> None:
    admin.seed_operation(name=f"{OPS}/x", kind=kind, done=True)
    operation = get(client, f"{OPS}/x")
    assert operation.done
    expected = {"session": "SessionOperationMetadata", "workflow": "WorkflowMetadata"}[kind]
    assert operation.metadata.type_url.endswith("." + expected)


def test_list_operations_filters_and_pages(
    client: dataproc_v1.BatchControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_operations(
        [{"name": f"{OPS}/run{i:02}"} for i in range(15)]
        + [{"name": f"{OPS}/done{i:02}", "done": True} for i in range(10)]
    )
    names, pages, token = [], 0, ""
    while True:  # the operations mixin has no pager: follow the tokens by hand
        response = client.list_operations(
            {"name": OPS, "filter": "status.state = ACTIVE", "page_size": 10, "page_token": token}
        )
        names += [op.name for op in response.operations]
        pages += 1
        token = response.next_page_token
        if not token:
            break
    assert names == [f"{OPS}/run{i:02}" for i in range(15)]
    assert pages == 2


def test_batches_get_list_and_cancel(
    client: dataproc_v1.BatchControllerClient, admin: EmulatorAdmin
) -> None:
    for i in range(5):
        admin.seed_batch(name=f"{BATCHES}/b{i}", labels={"i": str(i)})
    admin.seed_batch(
        name=f"{BATCHES}/failed",
        operation={"done": True, "result": {"error": {"code": 13, "message": "OOM"}}},
    )
    batch = client.get_batch(name=f"{BATCHES}/b0")
    assert batch.state == dataproc_v1.Batch.State.RUNNING
    assert batch.labels == {"i": "0"}
    assert batch.pyspark_batch.main_python_file_uri
    assert batch.operation.startswith(f"{OPS}/")

    admin.clear_requests()
    listed = list(client.list_batches(request={"parent": "projects/p/locations/r", "page_size": 2}))
    assert [b.name.rsplit("/", 1)[1] for b in listed] == ["b0", "b1", "b2", "b3", "b4", "failed"]
    assert len(admin.requests()) == 3  # the pager followed nextPageToken twice
    assert listed[-1].state == dataproc_v1.Batch.State.FAILED
    assert listed[-1].state_message == "OOM"

    client.cancel_operation({"name": batch.operation})
    assert client.get_batch(name=f"{BATCHES}/b0").state == dataproc_v1.Batch.State.CANCELLED
    # The batch methods ask for numeric enums; the operations mixins do not.
    queries = [entry["query"] for entry in admin.requests()[-2:]]
    assert queries == [{}, {"$alt": "json;enum-encoding=int"}]


def test_errors_map_to_api_core_exceptions(
    client: dataproc_v1.BatchControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_operation(name=f"{OPS}/viewer", onCancel="forbidden")
    admin.seed_operation(name=f"{OPS}/old", onCancel="unimplemented")
    admin.seed_operation(name=f"{OPS}/done", done=True)
    with pytest.raises(exceptions.NotFound):
        get(client, f"{OPS}/missing")
    with pytest.raises(exceptions.NotFound):
        client.get_batch(name=f"{BATCHES}/missing")
    with pytest.raises(exceptions.MethodNotImplemented):
        client.cancel_operation({"name": f"{OPS}/old"})
    # Over REST, api-core picks the exception class from the HTTP status alone
    # (exceptions.format_http_response_error): 403 PERMISSION_DENIED arrives as its
    # parent class Forbidden, and 400 FAILED_PRECONDITION as BadRequest.
    with pytest.raises(exceptions.Forbidden) as denied:
        client.cancel_operation({"name": f"{OPS}/viewer"})
    assert not isinstance(denied.value, exceptions.PermissionDenied)
    assert denied.value.response.json()["error"]["status"] == "PERMISSION_DENIED"
    with pytest.raises(exceptions.BadRequest) as raised:
        client.cancel_operation({"name": f"{OPS}/done"})
    assert raised.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"
    admin.add_fault(pathRegex="missing", status=503)
    with pytest.raises(exceptions.ServiceUnavailable):
        get(client, f"{OPS}/missing")


# ---- the gcloud CLI -------------------------------------------------------------------------


def test_gcloud_describe_cancel_batches_cancel_and_list(
    emulator: DataprocEmulator, admin: EmulatorAdmin, tmp_path: Path
) -> None:
    gcloud = shutil.which("gcloud")
    assert gcloud, "the Google Cloud CLI (gcloud) is needed: apt-get install google-cloud-cli"
    token = tmp_path / "token"
    token.write_text("dummy-access-token")
    env = {
        **os.environ,
        "CLOUDSDK_CONFIG": str(tmp_path / "config"),
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_DATAPROC": emulator.base_url + "/",
        "CLOUDSDK_CORE_PROJECT": "p",
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [gcloud, *args, f"--access-token-file={token}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result

    admin.seed_operation(name=f"{OPS}/op1", kind="cluster", metadata={"clusterName": "etl"})
    batch = admin.seed_batch(name=f"{BATCHES}/b1")
    admin.seed_operations([{"name": f"{OPS}/more{i:03}"} for i in range(120)])
    admin.seed_operations([{"name": f"{OPS}/old{i}", "done": True} for i in range(3)])
    admin.clear_requests()

    described = json.loads(
        run("dataproc", "operations", "describe", "op1", "--region=r", "--format=json").stdout
    )
    assert described["name"] == f"{OPS}/op1"
    assert "done" not in described
    assert described["metadata"]["clusterName"] == "etl"

    run("dataproc", "operations", "cancel", "op1", "--region=r")
    assert admin.operation_internals(f"{OPS}/op1")["operation"]["error"]["code"] == 1

    run("dataproc", "batches", "cancel", "b1", "--region=r", "--project=p")
    cancelled = admin.operation_internals(batch["operation"])["operation"]
    assert cancelled["done"] is True
    assert cancelled["error"]["code"] == 1

    listed = json.loads(
        run(
            "dataproc", "operations", "list", "--region=r", "--state-filter=active", "--format=json"
        ).stdout
    )
    # op1 and the batch's operation are cancelled now: 120 active ones are left.
    assert sorted(op["name"] for op in listed) == [f"{OPS}/more{i:03}" for i in range(120)]

    log = admin.requests()
    assert all(entry["hasAuthorization"] for entry in log)
    assert [(entry["method"], entry["path"]) for entry in log[:4]] == [
        ("GET", f"/v1/{OPS}/op1"),
        ("POST", f"/v1/{OPS}/op1:cancel"),
        ("GET", f"/v1/{BATCHES}/b1"),
        ("POST", f"/v1/{batch['operation']}:cancel"),
    ]
    assert log[1]["body"] == log[3]["body"] == ""
    # gcloud pages by 100 and, without --filter, sends the older JSON filter form.
    pages = [entry["query"] for entry in log[4:]]
    assert len(pages) == 2
    assert pages[0]["pageSize"] == "100"
    assert json.loads(pages[0]["filter"]) == {"operation_state_matcher": "ACTIVE"}
    assert "pageToken" in pages[1]
