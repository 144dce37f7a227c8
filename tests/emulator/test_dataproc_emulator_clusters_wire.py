"""The emulator's clusters on the wire, proven by Google's own clients talking to it.

As in test_dataproc_emulator_wire.py (both use tests/support/google_clients.py):
google-cloud-dataproc's ClusterControllerClient over REST parses every answer with
protobuf's strict JSON parser (numeric enums, the operations' Any-typed
ClusterOperationMetadata and Cluster or Empty responses), and the real gcloud CLI
describes, lists, stops, starts and deletes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import dataproc_v1
from google.protobuf import empty_pb2

from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.google_clients import Gcloud, gcloud_against, rest_client

CLUSTERS = "projects/p/regions/r/clusters"
JOBS = "projects/p/regions/r/jobs"
State = dataproc_v1.ClusterStatus.State
OperationState = dataproc_v1.ClusterOperationStatus.State
NUMERIC = {"$alt": "json;enum-encoding=int"}


@pytest.fixture
def client(emulator: DataprocEmulator, admin: EmulatorAdmin) -> dataproc_v1.ClusterControllerClient:
    return rest_client(dataproc_v1.ClusterControllerClient, emulator)


@pytest.fixture
def gcloud(emulator: DataprocEmulator, admin: EmulatorAdmin, tmp_path: Path) -> Gcloud:
    """The real gcloud's dataproc commands against the emulator."""
    return gcloud_against(emulator, tmp_path, apis=("DATAPROC",), project="p")


def where(cluster: str) -> dict[str, str]:
    return {"project_id": "p", "region": "r", "cluster_name": cluster}


# ---- google-cloud-dataproc, REST transport ------------------------------------------------


def test_get_cluster_parses_config_status_and_labels(
    client: dataproc_v1.ClusterControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_cluster(
        name=f"{CLUSTERS}/etl",
        labels={"team": "data"},
        runningSecondsAgo=600,
        createdSecondsAgo=700,
        workerInstances=4,
        workerMachineType="n2-highmem-8",  # a short name, as a seed may give it
        secondaryWorkerInstances=2,
        localSsds=1,
        substate="UNHEALTHY",
    )
    admin.seed_cluster(name=f"{CLUSTERS}/on-gke", gke=True)
    admin.seed_cluster(name=f"{CLUSTERS}/broken", state="ERROR", detail="init failed")
    admin.clear_requests()

    etl = client.get_cluster(**where("etl"))
    assert (etl.project_id, etl.cluster_name) == ("p", "etl")
    assert (etl.status.state, etl.status.substate) == (
        State.RUNNING,
        dataproc_v1.ClusterStatus.Substate.UNHEALTHY,
    )
    assert [s.state for s in etl.status_history] == [State.CREATING]
    creating = etl.status_history[0].state_start_time
    assert (etl.status.state_start_time - creating).total_seconds() == pytest.approx(100)
    assert etl.labels["team"] == "data"
    assert etl.labels["goog-dataproc-cluster-uuid"] == etl.cluster_uuid
    assert etl.labels["goog-dataproc-location"] == "r"
    config = etl.config
    assert config.gce_cluster_config.zone_uri.endswith("/zones/r-b")
    assert config.master_config.machine_type_uri.endswith("/machineTypes/n2-standard-4")
    assert (config.worker_config.num_instances, config.worker_config.machine_type_uri) == (
        4,
        "n2-highmem-8",
    )
    assert config.worker_config.disk_config.num_local_ssds == 1
    preemptibility = dataproc_v1.InstanceGroupConfig.Preemptibility
    assert config.worker_config.preemptibility == preemptibility.NON_PREEMPTIBLE
    assert config.secondary_worker_config.preemptibility == preemptibility.PREEMPTIBLE
    assert config.secondary_worker_config.is_preemptible
    assert len(config.secondary_worker_config.instance_names) == 2

    gke = client.get_cluster(**where("on-gke"))
    assert "config" not in gke
    target = gke.virtual_cluster_config.kubernetes_cluster_config.gke_cluster_config
    assert list(target.node_pool_target[0].roles) == [dataproc_v1.GkeNodePoolTarget.Role.DEFAULT]
    broken = client.get_cluster(**where("broken"))
    assert (broken.status.state, broken.status.detail) == (State.ERROR, "init failed")
    # GetCluster asks for numeric enums, and gets them.
    assert {entry["query"]["$alt"] for entry in admin.requests()} == {NUMERIC["$alt"]}
    with pytest.raises(exceptions.NotFound):
        client.get_cluster(**where("missing"))


# The client's proto-plus warns once per unknown enum number it parses (SCHEDULED here).
@pytest.mark.filterwarnings("ignore:Unrecognized State enum value")
def test_list_clusters_filters_and_pages(
    client: dataproc_v1.ClusterControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_clusters(
        [{"name": f"{CLUSTERS}/a{i}", "labels": {"team": "data"}} for i in range(5)]
        + [{"name": f"{CLUSTERS}/b{i}", "state": "STOPPED"} for i in range(3)]
        # SCHEDULED is newer than this client's enum: an unknown number still parses.
        + [{"name": f"{CLUSTERS}/queued", "state": "SCHEDULED", "labels": {"team": "data"}}]
    )
    admin.clear_requests()

    def names(**request: object) -> list[str]:
        pager = client.list_clusters(request={"project_id": "p", "region": "r", **request})
        return [cluster.cluster_name for cluster in pager]

    everything = names(page_size=3)
    assert everything == [*(f"a{i}" for i in range(5)), "b0", "b1", "b2", "queued"]
    assert len(admin.requests()) == 3  # the pager followed nextPageToken twice
    assert names(filter="status.state = ACTIVE AND labels.team = data", page_size=2) == [
        f"a{i}" for i in range(5)
    ]
    assert names(filter="status.state = INACTIVE") == ["b0", "b1", "b2"]
    assert names(filter="status.state = STOPPED clusterName = b1") == ["b1"]  # implicit AND
    assert names(filter="labels.team = * AND status.state = SCHEDULED") == ["queued"]
    assert client.get_cluster(**where("queued")).status.state == 11
    assert admin.requests()[0]["query"] == {"pageSize": "3", **NUMERIC}
    with pytest.raises(exceptions.BadRequest):
        names(filter="status.state = ACTIVE OR clusterName = a1")


def test_stop_start_and_delete_operations_parse(
    client: dataproc_v1.ClusterControllerClient, admin: EmulatorAdmin
) -> None:
    seeded = admin.seed_cluster(
        name=f"{CLUSTERS}/etl",
        labels={"team": "data"},
        stopSeconds=30,
        startSeconds=20,
        deleteSeconds=10,
    )
    uuid = seeded["clusterUuid"]
    admin.seed_job(name=f"{JOBS}/etl-1", clusterName="etl")
    admin.clear_requests()

    stop = {**where("etl"), "cluster_uuid": uuid, "request_id": "stop-1"}
    stopping = client.stop_cluster(request=stop)
    assert not stopping.operation.done
    meta = stopping.metadata
    assert isinstance(meta, dataproc_v1.ClusterOperationMetadata)
    assert (meta.operation_type, meta.cluster_name, meta.cluster_uuid) == ("STOP", "etl", uuid)
    assert meta.status.state == OperationState.RUNNING
    assert meta.labels["team"] == "data"
    assert client.get_cluster(**where("etl")).status.state == State.STOPPING
    job = admin.job_internals(f"{JOBS}/etl-1")["job"]
    assert (job["placement"]["clusterUuid"], job["status"]["state"]) == (uuid, "ERROR")
    admin.advance_clock(30)
    stopped = stopping.result(timeout=10)  # polls operations.get until done
    assert isinstance(stopped, dataproc_v1.Cluster)
    assert (stopped.cluster_uuid, stopped.status.state) == (uuid, State.STOPPED)
    again = client.stop_cluster(request=stop)  # the same requestId: the first operation
    assert (again.operation.name, again.operation.done) == (stopping.operation.name, True)

    starting = client.start_cluster(request={**where("etl"), "request_id": "start-1"})
    assert starting.metadata.operation_type == "START"
    admin.advance_clock(20)
    assert starting.result(timeout=10).status.state == State.RUNNING

    # google-cloud-dataproc 5.32's DeleteClusterRequest has no graceful_termination_timeout
    # yet (the plain-HTTP tests send it).
    deleting = client.delete_cluster(
        request={**where("etl"), "cluster_uuid": uuid, "request_id": "delete-1"}
    )
    assert deleting.metadata.operation_type == "DELETE"
    assert client.get_cluster(**where("etl")).status.state == State.DELETING
    admin.advance_clock(10)
    assert isinstance(deleting.result(timeout=10), empty_pb2.Empty)
    with pytest.raises(exceptions.NotFound):
        client.get_cluster(**where("etl"))

    log = [entry for entry in admin.requests() if "/clusters/" in entry["path"]]
    posts = [entry for entry in log if entry["method"] == "POST"]
    assert [json.loads(entry["body"]) for entry in posts] == [
        {"clusterUuid": uuid, "requestId": "stop-1"},
        {"clusterUuid": uuid, "requestId": "stop-1"},
        {"requestId": "start-1"},
    ]
    (delete,) = [entry for entry in log if entry["method"] == "DELETE"]
    assert delete["query"] == {"clusterUuid": uuid, "requestId": "delete-1", **NUMERIC}
    assert all(entry["query"].get("$alt") == NUMERIC["$alt"] for entry in log)


def test_cluster_refusals_map_to_api_core_exceptions(
    client: dataproc_v1.ClusterControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_cluster(name=f"{CLUSTERS}/burst", secondaryWorkerInstances=2)
    admin.seed_cluster(name=f"{CLUSTERS}/viewer", forbidden=["stop"])
    admin.seed_cluster(name=f"{CLUSTERS}/tuning", blockingOperation="UPDATE")
    with pytest.raises(exceptions.BadRequest) as refused:
        client.stop_cluster(request=where("burst"))
    assert refused.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"
    assert "secondary workers" in refused.value.message
    with pytest.raises(exceptions.NotFound):
        client.stop_cluster(request={**where("burst"), "cluster_uuid": "another-incarnation"})
    with pytest.raises(exceptions.Forbidden):
        client.stop_cluster(request=where("viewer"))
    with pytest.raises(exceptions.BadRequest, match=r"while its UPDATE operation .* is running"):
        client.stop_cluster(request=where("tuning"))
    # The blocking operation is an ordinary operation: cancel it, and the stop goes.
    update = admin.cluster_internals(f"{CLUSTERS}/tuning")["blockingOperation"]
    client.cancel_operation({"name": update})
    assert client.get_operation({"name": update}).error.code == 1
    assert client.stop_cluster(request=where("tuning")).metadata.operation_type == "STOP"


# ---- the gcloud CLI -------------------------------------------------------------------------


def test_gcloud_clusters_describe_list_stop_start_and_delete(
    gcloud: Gcloud, admin: EmulatorAdmin
) -> None:
    admin.seed_cluster(name=f"{CLUSTERS}/etl", labels={"team": "data"})
    admin.seed_clusters([{"name": f"{CLUSTERS}/more{i:03}"} for i in range(110)])
    admin.seed_cluster(name=f"{CLUSTERS}/parked", state="STOPPED", labels={"team": "data"})
    admin.seed_job(name=f"{JOBS}/etl-1", clusterName="etl")
    admin.clear_requests()

    def run(*args: str) -> str:
        return gcloud("dataproc", "clusters", *args, "--region=r").stdout

    described = json.loads(run("describe", "etl", "--format=json"))
    assert (described["clusterName"], described["status"]["state"]) == ("etl", "RUNNING")
    assert described["config"]["workerConfig"]["numInstances"] == 2
    assert described["labels"]["goog-dataproc-cluster-name"] == "etl"

    listed = json.loads(run("list", "--format=json"))
    assert [c["clusterName"] for c in listed] == [
        "etl",
        *(f"more{i:03}" for i in range(110)),
        "parked",
    ]
    # gcloud hands --filter to the server and does not filter again itself.
    mine = json.loads(
        run("list", "--filter=labels.team = data AND status.state = ACTIVE", "--format=json")
    )
    assert [c["clusterName"] for c in mine] == ["etl"]

    # stop, start and delete wait on the operation through operations.get: a
    # zero-second script (the default) makes the first poll see it done.
    run("stop", "etl")
    assert admin.cluster_internals(f"{CLUSTERS}/etl")["cluster"]["status"]["state"] == "STOPPED"
    job = admin.job_internals(f"{JOBS}/etl-1")["job"]
    assert job["status"]["state"] == "ERROR"  # the stop failed the cluster's job
    run("start", "etl")
    assert admin.cluster_internals(f"{CLUSTERS}/etl")["cluster"]["status"]["state"] == "RUNNING"
    deleted = gcloud("dataproc", "clusters", "delete", "parked", "--region=r", "--quiet")
    assert "Deleted [" in deleted.stderr
    assert f"/v1/{CLUSTERS}/parked]" in deleted.stderr
    assert admin.cluster_internals(f"{CLUSTERS}/parked")["deleted"] is True

    log = admin.requests()
    assert all(entry["hasAuthorization"] for entry in log)
    calls = [(entry["method"], entry["path"].removeprefix("/v1/")) for entry in log]
    assert calls[0] == ("GET", f"{CLUSTERS}/etl")
    pages = [entry["query"] for entry in log if entry["path"] == f"/v1/{CLUSTERS}"]
    assert [page.get("pageToken") is not None for page in pages] == [False, True, False]
    assert pages[0]["pageSize"] == "100"
    assert pages[-1]["filter"] == "labels.team = data AND status.state = ACTIVE"
    actions = [(m, p) for m, p in calls if m != "GET"]
    assert actions == [
        ("POST", f"{CLUSTERS}/etl:stop"),
        ("POST", f"{CLUSTERS}/etl:start"),
        ("DELETE", f"{CLUSTERS}/parked"),
    ]
    # gcloud sends a fresh requestId (a hex uuid) with each and no clusterUuid.
    bodies = [json.loads(entry["body"]) for entry in log if entry["method"] == "POST"]
    assert all(set(body) == {"requestId"} and len(body["requestId"]) == 32 for body in bodies)
    (delete,) = [entry for entry in log if entry["method"] == "DELETE"]
    assert set(delete["query"]) == {"requestId", "alt"}
    counts = admin.request_counts()["byBucket"]
    assert counts["clusterOperation"] == 3
