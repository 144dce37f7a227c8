"""The emulator's wire format, proven by Google's own clients talking to it.

Two independent clients: google-cloud-dataproc's generated REST transport (parses
every answer with protobuf's strict JSON parser, Any types and numeric enums included)
and the real gcloud CLI (apitools), which is what operators run by hand. Operations,
batches, cluster jobs and interactive sessions each go through both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import dataproc_v1
from google.longrunning import operations_pb2

from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.google_clients import Gcloud, gcloud_against, rest_client

OPS = "projects/p/regions/r/operations"
BATCHES = "projects/p/locations/r/batches"
JOBS = "projects/p/regions/r/jobs"
SESSIONS = "projects/p/locations/r/sessions"


@pytest.fixture
def client(emulator: DataprocEmulator, admin: EmulatorAdmin) -> dataproc_v1.BatchControllerClient:
    return rest_client(dataproc_v1.BatchControllerClient, emulator)


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


@pytest.fixture
def jobs_client(
    emulator: DataprocEmulator, admin: EmulatorAdmin
) -> dataproc_v1.JobControllerClient:
    return rest_client(dataproc_v1.JobControllerClient, emulator)


@pytest.fixture
def sessions_client(
    emulator: DataprocEmulator, admin: EmulatorAdmin
) -> dataproc_v1.SessionControllerClient:
    return rest_client(dataproc_v1.SessionControllerClient, emulator)


JobState = dataproc_v1.JobStatus.State


def test_get_and_cancel_job(
    jobs_client: dataproc_v1.JobControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_job(
        name=f"{JOBS}/etl-1", labels={"team": "data"}, clusterName="etl", cancelSeconds=10
    )
    job = jobs_client.get_job(project_id="p", region="r", job_id="etl-1")
    assert (job.reference.project_id, job.reference.job_id) == ("p", "etl-1")
    assert job.placement.cluster_name == "etl"
    assert job.placement.cluster_uuid
    assert job.status.state == JobState.RUNNING
    assert [s.state for s in job.status_history] == [JobState.PENDING, JobState.SETUP_DONE]
    assert job.status_history[0].state_start_time.timestamp() > 0
    assert (job.labels, job.done) == ({"team": "data"}, False)
    assert job.spark_job.main_class
    assert job.job_uuid
    assert job.driver_output_resource_uri.startswith("gs://")

    cancelling = jobs_client.cancel_job(project_id="p", region="r", job_id="etl-1")
    assert cancelling.status.state == JobState.CANCEL_PENDING
    admin.advance_clock(10)
    cancelled = jobs_client.get_job(project_id="p", region="r", job_id="etl-1")
    assert (cancelled.status.state, cancelled.done) == (JobState.CANCELLED, True)
    assert cancelled.status_history[-1].state == JobState.CANCEL_STARTED
    # The job methods send numeric enums and an empty CancelJobRequest body.
    log = admin.requests()
    assert {entry["query"]["$alt"] for entry in log} == {"json;enum-encoding=int"}
    assert json.loads(log[1]["body"]) == {}


def test_list_jobs_by_cluster_state_filter_and_pages(
    jobs_client: dataproc_v1.JobControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_jobs(
        [
            {"name": f"{JOBS}/a{i}", "clusterName": "etl", "labels": {"env": "prod"}}
            for i in range(5)
        ]
        + [{"name": f"{JOBS}/b{i}", "clusterName": "ml"} for i in range(3)]
        + [{"name": f"{JOBS}/done{i}", "clusterName": "etl", "state": "DONE"} for i in range(2)]
    )

    def ids(**request: object) -> list[str]:
        pager = jobs_client.list_jobs(request={"project_id": "p", "region": "r", **request})
        return [job.reference.job_id for job in pager]

    admin.clear_requests()
    assert len(ids(page_size=3)) == 10
    assert len(admin.requests()) == 4  # the pager followed nextPageToken three times
    matcher = dataproc_v1.ListJobsRequest.JobStateMatcher
    assert ids(cluster_name="etl", job_state_matcher=matcher.ACTIVE) == [f"a{i}" for i in range(5)]
    assert ids(job_state_matcher=matcher.NON_ACTIVE) == ["done0", "done1"]
    assert ids(filter="status.state = ACTIVE AND labels.env = prod", page_size=2) == [
        f"a{i}" for i in range(5)
    ]
    assert ids(cluster_name="ml", filter="status.state = NON_ACTIVE") == []
    # The client sends the matcher as a number; the emulator reads either form.
    queries = [entry["query"] for entry in admin.requests() if "jobStateMatcher" in entry["query"]]
    assert [query["jobStateMatcher"] for query in queries] == ["1", "2"]


def test_job_errors_map_to_api_core_exceptions(
    jobs_client: dataproc_v1.JobControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_job(name=f"{JOBS}/setup", setupSeconds=60)
    admin.seed_job(name=f"{JOBS}/viewer", onCancel="forbidden")
    with pytest.raises(exceptions.NotFound):
        jobs_client.get_job(project_id="p", region="r", job_id="missing")
    with pytest.raises(exceptions.BadRequest) as refused:
        jobs_client.cancel_job(project_id="p", region="r", job_id="setup")
    assert refused.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"
    assert "'SETUP_DONE'" in refused.value.message
    with pytest.raises(exceptions.Forbidden):
        jobs_client.cancel_job(project_id="p", region="r", job_id="viewer")
    admin.advance_clock(60)  # the GetJob above counted against the quota: let it pass
    admin.settings(quotaPerMinute={"getJob": 1})
    jobs_client.get_job(project_id="p", region="r", job_id="setup")
    with pytest.raises(exceptions.TooManyRequests) as throttled:
        jobs_client.get_job(project_id="p", region="r", job_id="setup")
    # api-core reads the quota error's google.rpc.ErrorInfo detail.
    assert throttled.value.reason == "RATE_LIMIT_EXCEEDED"
    assert throttled.value.domain == "googleapis.com"
    quota = throttled.value.metadata
    assert quota["quota_limit"] == "GetJobRequestsPerMinutePerProjectPerRegion"


SessionState = dataproc_v1.Session.State


def test_get_terminate_and_list_sessions(
    sessions_client: dataproc_v1.SessionControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_session(name=f"{SESSIONS}/nb-1", labels={"team": "data"})
    admin.seed_sessions(
        [{"name": f"{SESSIONS}/nb-{i}", "state": "TERMINATED"} for i in range(2, 6)]
    )
    session = sessions_client.get_session(name=f"{SESSIONS}/nb-1")
    assert (session.state, session.labels) == (SessionState.ACTIVE, {"team": "data"})
    assert session.jupyter_session.kernel == dataproc_v1.JupyterConfig.Kernel.PYTHON
    assert [entry.state for entry in session.state_history] == [SessionState.CREATING]
    assert session.environment_config.execution_config.ttl.total_seconds() == 86400

    operation = sessions_client.terminate_session(
        request={"name": f"{SESSIONS}/nb-1", "request_id": "req-1"}
    )
    assert operation.operation.name.startswith("projects/p/regions/r/operations/")
    assert not operation.operation.done
    metadata = operation.metadata
    terminate = dataproc_v1.SessionOperationMetadata.SessionOperationType.TERMINATE
    assert (metadata.operation_type, metadata.session) == (terminate, f"{SESSIONS}/nb-1")
    assert metadata.session_uuid == session.uuid
    terminated = operation.result(timeout=30)  # polls operations.get until done
    assert (terminated.name, terminated.state) == (f"{SESSIONS}/nb-1", SessionState.TERMINATED)
    assert sessions_client.get_session(name=f"{SESSIONS}/nb-1").state == SessionState.TERMINATED

    listed = sessions_client.list_sessions(
        request={"parent": "projects/p/locations/r", "page_size": 2}
    )
    assert [s.name.rsplit("/", 1)[1] for s in listed] == [f"nb-{i}" for i in range(1, 6)]
    active = sessions_client.list_sessions(
        request={"parent": "projects/p/locations/r", "filter": "state = ACTIVE OR state = CREATING"}
    )
    assert list(active) == []
    bodies = [entry["body"] for entry in admin.requests() if entry["method"] == "POST"]
    assert [json.loads(body) for body in bodies] == [{"requestId": "req-1"}]


def test_session_errors_map_to_api_core_exceptions(
    sessions_client: dataproc_v1.SessionControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_session(name=f"{SESSIONS}/old", state="FAILED", stateMessage="driver lost")
    admin.seed_session(name=f"{SESSIONS}/viewer", onTerminate="forbidden")
    assert sessions_client.get_session(name=f"{SESSIONS}/old").state_message == "driver lost"
    with pytest.raises(exceptions.BadRequest) as refused:
        sessions_client.terminate_session(name=f"{SESSIONS}/old")
    assert refused.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"
    with pytest.raises(exceptions.Forbidden):
        sessions_client.terminate_session(name=f"{SESSIONS}/viewer")
    with pytest.raises(exceptions.NotFound):
        sessions_client.get_session(name=f"{SESSIONS}/missing")


# ---- the gcloud CLI -------------------------------------------------------------------------


@pytest.fixture
def gcloud(emulator: DataprocEmulator, admin: EmulatorAdmin, tmp_path: Path) -> Gcloud:
    """The real gcloud's dataproc commands against the emulator."""
    return gcloud_against(emulator, tmp_path, apis=("DATAPROC",), project="p")


def test_gcloud_describe_cancel_batches_cancel_and_list(
    gcloud: Gcloud, admin: EmulatorAdmin
) -> None:
    run = gcloud
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


def test_gcloud_jobs_describe_kill_and_list(gcloud: Gcloud, admin: EmulatorAdmin) -> None:
    admin.seed_job(name=f"{JOBS}/etl-1", clusterName="etl", labels={"team": "data"})
    admin.seed_jobs([{"name": f"{JOBS}/more{i:03}", "clusterName": "ml"} for i in range(120)])
    admin.seed_job(name=f"{JOBS}/old", state="DONE", clusterName="etl")
    admin.clear_requests()

    described = json.loads(
        gcloud("dataproc", "jobs", "describe", "etl-1", "--region=r", "--format=json").stdout
    )
    assert described["reference"] == {"projectId": "p", "jobId": "etl-1"}
    assert described["status"]["state"] == "RUNNING"
    assert described["placement"]["clusterName"] == "etl"
    assert "done" not in described

    # kill cancels, then polls the job (every 10 s) until CANCELLED: a zero-second
    # cancel script makes the first poll see it.
    killed = gcloud("dataproc", "jobs", "kill", "etl-1", "--region=r", "--quiet")
    assert "Job cancellation initiated for [etl-1]" in killed.stderr
    assert "Killed [" in killed.stderr
    assert admin.job_internals(f"{JOBS}/etl-1")["job"]["status"]["state"] == "CANCELLED"

    def listed(*flags: str) -> list[str]:
        args = ("dataproc", "jobs", "list", "--region=r", "--format=json", *flags)
        return [job["reference"]["jobId"] for job in json.loads(gcloud(*args).stdout)]

    assert listed("--state-filter=active") == [f"more{i:03}" for i in range(120)]
    assert listed("--cluster=etl") == ["etl-1", "old"]
    assert listed("--state-filter=inactive", "--cluster=etl") == ["etl-1", "old"]
    assert listed("--filter=labels.team = data") == ["etl-1"]

    log = admin.requests()
    assert all(entry["hasAuthorization"] for entry in log)
    assert [(entry["method"], entry["path"]) for entry in log[:3]] == [
        ("GET", f"/v1/{JOBS}/etl-1"),
        ("POST", f"/v1/{JOBS}/etl-1:cancel"),
        ("GET", f"/v1/{JOBS}/etl-1"),
    ]
    assert json.loads(log[1]["body"]) == {}
    pages = [entry["query"] for entry in log[3:]]
    # gcloud pages by 100 and sends the state matcher by name; --filter goes to the server.
    assert [page.get("jobStateMatcher") for page in pages[:2]] == ["ACTIVE", "ACTIVE"]
    assert pages[0]["pageSize"] == "100"
    assert "pageToken" in pages[1]
    assert pages[2]["clusterName"] == "etl"
    assert pages[-1]["filter"] == "labels.team = data"
    counts = admin.request_counts()["byMethod"]
    assert (counts["jobs.get"], counts["jobs.cancel"], counts["jobs.list"]) == (2, 1, 5)


def test_gcloud_sessions_describe_terminate_and_list(gcloud: Gcloud, admin: EmulatorAdmin) -> None:
    admin.seed_session(name=f"{SESSIONS}/nb-1", labels={"team": "data"})
    admin.seed_session(name=f"{SESSIONS}/nb-2", state="TERMINATED")
    admin.clear_requests()

    described = json.loads(
        gcloud(
            "beta", "dataproc", "sessions", "describe", "nb-1", "--location=r", "--format=json"
        ).stdout
    )
    assert (described["name"], described["state"]) == (f"{SESSIONS}/nb-1", "ACTIVE")
    assert described["labels"] == {"team": "data"}

    # terminate waits on the operation through operations.get (regions-based name).
    terminated = gcloud(
        "beta", "dataproc", "sessions", "terminate", "nb-1", "--location=r", "--quiet"
    )
    assert f"Deleted [{SESSIONS}/nb-1]" in terminated.stderr
    internals = admin.session_internals(f"{SESSIONS}/nb-1")
    assert internals["session"]["state"] == "TERMINATED"

    listed = json.loads(
        gcloud("beta", "dataproc", "sessions", "list", "--location=r", "--format=json").stdout
    )
    assert [(s["name"], s["state"]) for s in listed] == [
        (f"{SESSIONS}/nb-1", "TERMINATED"),
        (f"{SESSIONS}/nb-2", "TERMINATED"),
    ]

    log = admin.requests()
    assert [(entry["method"], entry["path"]) for entry in log[:3]] == [
        ("GET", f"/v1/{SESSIONS}/nb-1"),
        ("POST", f"/v1/{SESSIONS}/nb-1:terminate"),
        ("GET", f"/v1/{internals['terminateOperation']}"),
    ]
    assert (log[-1]["method"], log[-1]["path"]) == ("GET", f"/v1/{SESSIONS}")
