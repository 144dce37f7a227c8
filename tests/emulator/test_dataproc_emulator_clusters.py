"""The emulator's clusters, seen over plain HTTP as the canceller sees them: their
shape, their states on the emulator's clock, stop, start and delete with their
operations and refusals, the jobs a stop fails, list filters and pages, numeric enums,
request counts and the cluster-operation quota."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import requests

from dataproc_emulator.admin import EmulatorAdmin
from tests.support.dataproc_http import Api, google_error, parse_time

CLUSTERS = "projects/p/regions/r/clusters"
OPS = "projects/p/regions/r/operations"
JOBS = "projects/p/regions/r/jobs"
META = "type.googleapis.com/google.cloud.dataproc.v1."
NUMERIC = {"$alt": "json;enum-encoding=int"}
OPERATION_NAME = re.compile(r"projects/p/regions/r/operations/[0-9a-f-]{36}")


def cluster_name(cluster: str) -> str:
    return f"{CLUSTERS}/{cluster}"


def states(cluster: dict[str, Any]) -> list[str]:
    """The states a cluster went through, oldest first, ending with the current one."""
    history = cluster.get("statusHistory", [])
    return [entry["state"] for entry in history] + [cluster["status"]["state"]]


def act(api: Api, action: str, cluster: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """stop or start (POST NAME:verb, a JSON body) or delete (DELETE NAME, query)."""
    if action == "delete":
        response = api.call("DELETE", cluster_name(cluster), **kwargs)
    else:
        kwargs.setdefault("json", {})
        response = api.call("POST", f"{cluster_name(cluster)}:{action}", **kwargs)
    return response.status_code, response.json()


def state_of(api: Api, cluster: str) -> str:
    status, body = api.get(cluster_name(cluster))
    assert status == 200, body
    return str(body["status"]["state"])


def refused(answer: tuple[int, dict[str, Any]], status: str = "FAILED_PRECONDITION") -> str:
    code, body = answer
    assert code == 400, body
    google_error(body, 400, status)
    return str(body["error"]["message"])


# ---- the resource ------------------------------------------------------------------------


def test_running_cluster_has_the_real_shape(admin: EmulatorAdmin, api: Api) -> None:
    seeded = admin.seed_cluster(
        name=cluster_name("etl"),
        labels={"team": "data"},
        clusterUuid="c-uuid",
        runningSecondsAgo=600,
        createdSecondsAgo=690,
    )
    status, cluster = api.get(cluster_name("etl"))
    assert status == 200
    assert cluster == seeded
    assert (cluster["projectId"], cluster["clusterName"], cluster["clusterUuid"]) == (
        "p",
        "etl",
        "c-uuid",
    )
    assert cluster["labels"] == {
        "team": "data",
        "goog-dataproc-cluster-name": "etl",
        "goog-dataproc-cluster-uuid": "c-uuid",
        "goog-dataproc-location": "r",
    }
    assert states(cluster) == ["CREATING", "RUNNING"]
    assert set(cluster["status"]) == {"state", "stateStartTime"}  # no detail, no substate
    created = parse_time(cluster["statusHistory"][0]["stateStartTime"])
    running = parse_time(cluster["status"]["stateStartTime"])
    assert running - created == timedelta(seconds=90)
    fresh = admin.seed_cluster(name=cluster_name("fresh"))
    age = parse_time(fresh["status"]["stateStartTime"]) - running
    assert timedelta(seconds=600) <= age < timedelta(seconds=660)

    config = cluster["config"]
    assert "virtualClusterConfig" not in cluster
    assert config["gceClusterConfig"]["zoneUri"].endswith("/projects/p/zones/r-b")
    master, workers = config["masterConfig"], config["workerConfig"]
    assert (master["numInstances"], master["instanceNames"]) == (1, ["etl-m"])
    assert (workers["numInstances"], workers["instanceNames"]) == (2, ["etl-w-0", "etl-w-1"])
    assert workers["machineTypeUri"] == (
        "https://www.googleapis.com/compute/v1/projects/p/zones/r-b/machineTypes/n2-standard-4"
    )
    assert workers["preemptibility"] == "NON_PREEMPTIBLE"
    assert workers["diskConfig"] == {"bootDiskType": "pd-standard", "bootDiskSizeGb": 500}
    assert "secondaryWorkerConfig" not in config  # proto3 JSON: an unset message is left out
    assert config["softwareConfig"]["imageVersion"]


def test_seeded_shapes(admin: EmulatorAdmin, api: Api) -> None:
    big = admin.seed_cluster(
        name=cluster_name("big"),
        masterInstances=3,
        workerInstances=5,
        workerMachineType="n2-highmem-16",
        secondaryWorkerInstances=4,
        secondaryWorkerMachineType="e2-standard-8",
        localSsds=2,
        flexibleVms=True,
    )["config"]
    assert big["masterConfig"]["instanceNames"] == ["big-m-0", "big-m-1", "big-m-2"]
    assert big["workerConfig"]["machineTypeUri"] == "n2-highmem-16"  # as given
    assert big["workerConfig"]["diskConfig"]["numLocalSsds"] == 2
    assert big["masterConfig"]["diskConfig"]["numLocalSsds"] == 2
    secondary = big["secondaryWorkerConfig"]
    assert (secondary["numInstances"], secondary["preemptibility"]) == (4, "PREEMPTIBLE")
    assert secondary["isPreemptible"] is True
    assert "numLocalSsds" not in secondary["diskConfig"]
    flexible = big["workerConfig"]["instanceFlexibilityPolicy"]
    assert flexible["instanceSelectionResults"] == [{"machineType": "n2-highmem-16", "vmCount": 5}]

    single = admin.seed_cluster(name=cluster_name("single"), workerInstances=0)["config"]
    assert "workerConfig" not in single

    raw = {"masterConfig": {"numInstances": 1, "machineTypeUri": "custom-6-23040"}}
    assert admin.seed_cluster(name=cluster_name("raw"), config=raw)["config"] == raw

    gke = admin.seed_cluster(name=cluster_name("on-gke"), gke=True)
    assert "config" not in gke
    kubernetes = gke["virtualClusterConfig"]["kubernetesClusterConfig"]
    assert kubernetes["kubernetesNamespace"] == "on-gke"
    assert kubernetes["gkeClusterConfig"]["nodePoolTarget"][0]["roles"] == ["DEFAULT"]


@pytest.mark.parametrize(
    ("state", "path"),
    [
        ("RUNNING", ["CREATING", "RUNNING"]),
        ("CREATING", ["CREATING"]),
        ("SCHEDULED", ["SCHEDULED"]),
        ("UPDATING", ["CREATING", "RUNNING", "UPDATING"]),
        ("ERROR", ["CREATING", "ERROR"]),
        ("ERROR_DUE_TO_UPDATE", ["CREATING", "RUNNING", "UPDATING", "ERROR_DUE_TO_UPDATE"]),
        ("STOPPED", ["CREATING", "RUNNING", "STOPPING", "STOPPED"]),
        ("STARTING", ["CREATING", "RUNNING", "STOPPING", "STOPPED", "STARTING"]),
        ("DELETING", ["CREATING", "RUNNING", "DELETING"]),
        ("UNKNOWN", ["UNKNOWN"]),
    ],
)
def test_seeded_states_walk_their_path(
    admin: EmulatorAdmin, api: Api, state: str, path: list[str]
) -> None:
    seeded = admin.seed_cluster(name=cluster_name("c"), state=state)
    assert states(seeded) == path
    assert ("detail" in seeded["status"]) == state.startswith("ERROR")


def test_seeded_states_move_on_by_the_clock(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_clusters(
        [
            {"name": cluster_name("stopping"), "state": "STOPPING", "stopSeconds": 30},
            {"name": cluster_name("starting"), "state": "STARTING", "startSeconds": 30},
            {"name": cluster_name("deleting"), "state": "DELETING", "deleteSeconds": 30},
            {"name": cluster_name("creating"), "state": "CREATING", "runningAfterSeconds": 30},
            # Without their seconds, seeded passing states stay for good.
            {"name": cluster_name("stuck"), "state": "CREATING"},
            {"name": cluster_name("still-stopping"), "state": "STOPPING"},
            {"name": cluster_name("still-deleting"), "state": "DELETING"},
            {"name": cluster_name("broken"), "state": "ERROR", "detail": "no quota"},
            {"name": cluster_name("sick"), "substate": "UNHEALTHY"},
        ]
    )
    assert api.get(cluster_name("broken"))[1]["status"]["detail"] == "no quota"
    assert api.get(cluster_name("sick"))[1]["status"]["substate"] == "UNHEALTHY"
    admin.advance_clock(29)
    before = {name: state_of(api, name) for name in ("stopping", "starting", "deleting")}
    assert before == {"stopping": "STOPPING", "starting": "STARTING", "deleting": "DELETING"}
    admin.advance_clock(1)
    assert states(api.get(cluster_name("stopping"))[1])[-2:] == ["STOPPING", "STOPPED"]
    assert states(api.get(cluster_name("starting"))[1])[-2:] == ["STARTING", "RUNNING"]
    assert states(api.get(cluster_name("creating"))[1]) == ["CREATING", "RUNNING"]
    admin.advance_clock(3600)
    assert state_of(api, "stuck") == "CREATING"
    assert state_of(api, "still-stopping") == "STOPPING"
    assert state_of(api, "still-deleting") == "DELETING"
    status, body = api.get(cluster_name("deleting"))
    assert status == 404
    google_error(body, 404, "NOT_FOUND")
    assert body["error"]["message"] == f"Not found: Cluster {cluster_name('deleting')}"


# ---- stop -------------------------------------------------------------------------------


def test_stop_goes_stopping_then_stopped_and_its_operation_finishes(
    admin: EmulatorAdmin, api: Api
) -> None:
    seeded = admin.seed_cluster(name=cluster_name("etl"), labels={"team": "data"}, stopSeconds=30)
    uuid = seeded["clusterUuid"]
    status, op = act(api, "stop", "etl", json={"clusterUuid": uuid, "requestId": "stop-1"})
    assert status == 200
    assert OPERATION_NAME.fullmatch(op["name"])
    assert set(op) == {"name", "metadata"}  # accepted, not done
    meta = op["metadata"]
    assert meta["@type"] == META + "ClusterOperationMetadata"
    assert (meta["clusterName"], meta["clusterUuid"]) == ("etl", uuid)
    assert (meta["operationType"], meta["description"]) == ("STOP", "Stop cluster")
    assert meta["status"]["state"] == "RUNNING"
    assert meta["labels"] == seeded["labels"]
    assert api.get(op["name"])[1] == op  # stored: operations.get knows it
    assert states(api.get(cluster_name("etl"))[1]) == ["CREATING", "RUNNING", "STOPPING"]

    admin.advance_clock(29)
    assert state_of(api, "etl") == "STOPPING"
    assert "done" not in api.get(op["name"])[1]
    admin.advance_clock(1)
    cluster = api.get(cluster_name("etl"))[1]
    assert states(cluster) == ["CREATING", "RUNNING", "STOPPING", "STOPPED"]
    stopping_at = parse_time(cluster["statusHistory"][-1]["stateStartTime"])
    assert parse_time(cluster["status"]["stateStartTime"]) - stopping_at == timedelta(seconds=30)
    done = api.get(op["name"])[1]
    assert done["done"] is True
    assert done["metadata"]["status"]["state"] == "DONE"
    assert done["response"] == {"@type": META + "Cluster", **cluster}  # StopCluster -> Cluster
    listed = api.list(OPS, filter="operationType = STOP AND clusterName = etl")["operations"]
    assert [o["name"] for o in listed] == [op["name"]]
    internals = admin.cluster_internals(cluster_name("etl"))
    assert internals["operations"] == [op["name"]]
    assert internals["requests"] == [
        {"method": "stop", "requestId": "stop-1", "operation": op["name"]}
    ]


def test_a_zero_second_stop_still_answers_a_running_operation(
    admin: EmulatorAdmin, api: Api
) -> None:
    admin.seed_cluster(name=cluster_name("etl"))
    status, op = act(api, "stop", "etl")  # the default script: STOPPED at once
    assert (status, "done" in op) == (200, False)
    assert state_of(api, "etl") == "STOPPED"
    assert api.get(op["name"])[1]["done"] is True


def test_stop_fails_the_clusters_unfinished_jobs(admin: EmulatorAdmin, api: Api) -> None:
    # Seeded before its cluster: the job takes the cluster's uuid when the cluster comes.
    admin.seed_job(name=f"{JOBS}/early", clusterName="etl")
    uuid = admin.seed_cluster(name=cluster_name("etl"))["clusterUuid"]
    admin.seed_jobs(
        [
            {"name": f"{JOBS}/running", "clusterName": "etl"},
            {"name": f"{JOBS}/queued", "clusterName": "etl", "state": "PENDING"},
            {"name": f"{JOBS}/finished", "clusterName": "etl", "state": "DONE"},
            {"name": f"{JOBS}/elsewhere", "clusterName": "ml"},
            # An earlier cluster of the same name: not this one's job.
            {"name": f"{JOBS}/older", "clusterName": "etl", "clusterUuid": "old-uuid"},
        ]
    )
    assert api.get(f"{JOBS}/running")[1]["placement"] == {"clusterName": "etl", "clusterUuid": uuid}
    assert act(api, "stop", "etl")[0] == 200

    def job(job_id: str) -> dict[str, Any]:
        return api.get(f"{JOBS}/{job_id}")[1]

    for failed in ("early", "running", "queued"):
        body = job(failed)
        assert (body["status"]["state"], body["done"]) == ("ERROR", True)
        assert body["status"]["details"] == (
            "Job failed: its cluster 'etl' was stopped while the job was active."
        )
    assert [job(j)["status"]["state"] for j in ("finished", "elsewhere", "older")] == [
        "DONE",
        "RUNNING",
        "RUNNING",
    ]
    assert api.cancel(f"{JOBS}/running")[0] == 400  # ended: nothing to cancel


def test_a_repeated_request_id_answers_the_first_operation(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_cluster(name=cluster_name("etl"), stopSeconds=30)
    first = act(api, "stop", "etl", json={"requestId": "r1"})[1]
    assert act(api, "stop", "etl", json={"requestId": "r1"}) == (200, first)
    message = refused(act(api, "stop", "etl", json={"requestId": "r2"}))
    assert message == "Cannot stop cluster 'etl' in project 'p': it is already STOPPING."
    admin.advance_clock(30)
    assert act(api, "start", "etl")[0] == 200
    assert state_of(api, "etl") == "RUNNING"
    status, again = act(api, "stop", "etl", json={"requestId": "r1"})
    assert (status, again["name"], again["done"]) == (200, first["name"], True)
    assert state_of(api, "etl") == "RUNNING"  # ignored: nothing was done again
    assert len(api.list(OPS)["operations"]) == 2  # the stop and the start
    # The same id on another method is another request.
    assert act(api, "stop", "etl", json={"requestId": "r2"})[0] == 200


def test_cluster_uuid_must_be_the_clusters(admin: EmulatorAdmin, api: Api) -> None:
    uuid = admin.seed_cluster(name=cluster_name("etl"), state="STOPPED")["clusterUuid"]
    for answer in (
        act(api, "start", "etl", json={"clusterUuid": "another-incarnation"}),
        act(api, "delete", "etl", params={"clusterUuid": "another-incarnation"}),
        act(api, "stop", "missing"),
    ):
        assert answer[0] == 404
        google_error(answer[1], 404, "NOT_FOUND")
        assert answer[1]["error"]["message"].startswith(f"Not found: Cluster {CLUSTERS}/")
    assert state_of(api, "etl") == "STOPPED"
    assert act(api, "start", "etl", json={"clusterUuid": uuid, "requestId": ""})[0] == 200


HEAD = "Cannot stop cluster 'c' in project 'p'"


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        (
            {"secondaryWorkerInstances": 2},
            f"{HEAD}: clusters with secondary workers cannot be stopped.",
        ),
        ({"localSsds": 1}, f"{HEAD}: clusters with local SSDs cannot be stopped."),
        ({"flexibleVms": True}, f"{HEAD}: clusters that use flexible VMs cannot be stopped."),
        ({"gke": True}, f"{HEAD}: Dataproc on GKE clusters cannot be stopped."),
        (
            {"config": {"workerConfig": {"numInstances": 2, "diskConfig": {"numLocalSsds": 1}}}},
            f"{HEAD}: clusters with local SSDs cannot be stopped.",
        ),
        (
            {"state": "CREATING", "secondaryWorkerInstances": 2},  # the state comes first
            f"{HEAD} yet: it is CREATING; a cluster can be stopped once it is RUNNING.",
        ),
        (
            {"state": "UPDATING"},
            f"{HEAD} yet: it is UPDATING; a cluster can be stopped once it is RUNNING.",
        ),
        (
            {"state": "STARTING"},
            f"{HEAD} yet: it is STARTING; a cluster can be stopped once it is RUNNING.",
        ),
        (
            {"state": "REPAIRING"},
            f"{HEAD} yet: it is REPAIRING; a cluster can be stopped once it is RUNNING.",
        ),
        (
            {"state": "SCHEDULED"},
            f"{HEAD} yet: it is SCHEDULED; a cluster can be stopped once it is RUNNING.",
        ),
        ({"state": "STOPPED"}, f"{HEAD}: it is already STOPPED."),
        ({"state": "STOPPING", "stopSeconds": 60}, f"{HEAD}: it is already STOPPING."),
        ({"state": "ERROR"}, f"{HEAD} in state ERROR; only a RUNNING cluster can be stopped."),
        (
            {"state": "ERROR_DUE_TO_UPDATE"},
            f"{HEAD} in state ERROR_DUE_TO_UPDATE; only a RUNNING cluster can be stopped.",
        ),
        (
            {"state": "DELETING", "deleteSeconds": 60},
            f"{HEAD} in state DELETING; only a RUNNING cluster can be stopped.",
        ),
    ],
)
def test_stop_refusals(admin: EmulatorAdmin, api: Api, seed: dict[str, Any], message: str) -> None:
    seeded = admin.seed_cluster(name=cluster_name("c"), **seed)
    assert refused(act(api, "stop", "c", json={"requestId": "r1"})) == message
    assert api.get(cluster_name("c"))[1] == seeded  # nothing changed
    assert api.list(OPS) == {}
    assert admin.cluster_internals(cluster_name("c"))["requests"] == []


def test_refusals_may_be_seeded_as_invalid_argument(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_cluster(name=cluster_name("c"), localSsds=1, refusalStatus="INVALID_ARGUMENT")
    assert "local SSDs" in refused(act(api, "stop", "c"), "INVALID_ARGUMENT")


def test_a_running_update_refuses_stop_until_cancelled(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_cluster(name=cluster_name("etl"), blockingOperation="UPDATE", labels={"a": "b"})
    update = admin.cluster_internals(cluster_name("etl"))["blockingOperation"]
    assert states(api.get(cluster_name("etl"))[1]) == ["CREATING", "RUNNING", "UPDATING"]
    meta = api.get(update)[1]["metadata"]
    assert (meta["operationType"], meta["clusterName"], meta["status"]["state"]) == (
        "UPDATE",
        "etl",
        "RUNNING",
    )
    assert meta["labels"]["a"] == "b"
    running = api.list(OPS, filter="status.state = ACTIVE AND clusterName = etl")["operations"]
    assert [o["name"] for o in running] == [update]
    for action in ("stop", "delete"):
        message = refused(act(api, action, "etl"))
        assert message == (
            f"Cannot {action} cluster 'etl' in project 'p' while its UPDATE operation "
            f"{update} is running."
        )
    assert api.cancel(update) == (200, {})
    assert api.get(update)[1]["error"]["code"] == 1
    assert states(api.get(cluster_name("etl"))[1])[-2:] == ["UPDATING", "RUNNING"]
    assert act(api, "stop", "etl")[0] == 200


def test_a_diagnose_refuses_stop_until_it_ends(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_cluster(
        name=cluster_name("etl"), blockingOperation="DIAGNOSE", blockingOperationSeconds=60
    )
    diagnose = admin.cluster_internals(cluster_name("etl"))["blockingOperation"]
    assert state_of(api, "etl") == "RUNNING"  # a diagnose leaves the state alone
    assert f"while its DIAGNOSE operation {diagnose} is running" in refused(act(api, "stop", "etl"))
    admin.advance_clock(60)
    done = api.get(diagnose)[1]
    assert done["response"]["@type"] == META + "DiagnoseClusterResults"
    assert done["response"]["outputUri"].startswith("gs://")
    assert act(api, "stop", "etl")[0] == 200


# ---- start ------------------------------------------------------------------------------


def test_start_goes_starting_then_running(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_cluster(name=cluster_name("etl"), state="STOPPED", startSeconds=20)
    status, op = act(api, "start", "etl", json={"requestId": "start-1"})
    assert (status, op["metadata"]["operationType"]) == (200, "START")
    assert state_of(api, "etl") == "STARTING"
    admin.advance_clock(20)
    cluster = api.get(cluster_name("etl"))[1]
    assert states(cluster)[-3:] == ["STOPPED", "STARTING", "RUNNING"]
    assert api.get(op["name"])[1]["response"] == {"@type": META + "Cluster", **cluster}
    message = refused(act(api, "start", "etl"))
    assert message == "Cannot start cluster 'etl' in project 'p': it is already RUNNING."


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"state": "STARTING", "startSeconds": 60}, "it is already STARTING."),
        (
            {"state": "STOPPING", "stopSeconds": 60},
            "yet: it is STOPPING; a cluster can be started once it is STOPPED.",
        ),
        ({"state": "ERROR"}, "in state ERROR; only a STOPPED cluster can be started."),
        ({"state": "CREATING"}, "in state CREATING; only a STOPPED cluster can be started."),
    ],
)
def test_start_refusals(admin: EmulatorAdmin, api: Api, seed: dict[str, Any], message: str) -> None:
    admin.seed_cluster(name=cluster_name("c"), **seed)
    assert refused(act(api, "start", "c")).endswith(message)


# ---- delete -------------------------------------------------------------------------------


def test_delete_goes_deleting_then_404(admin: EmulatorAdmin, api: Api) -> None:
    uuid = admin.seed_cluster(name=cluster_name("etl"), deleteSeconds=10)["clusterUuid"]
    admin.seed_cluster(name=cluster_name("other"))
    admin.seed_job(name=f"{JOBS}/j", clusterName="etl")
    params = {"clusterUuid": uuid, "requestId": "del-1"}
    status, op = act(api, "delete", "etl", params=params)
    assert (status, set(op)) == (200, {"name", "metadata"})
    assert (op["metadata"]["operationType"], op["metadata"]["description"]) == (
        "DELETE",
        "Delete cluster",
    )
    assert states(api.get(cluster_name("etl"))[1])[-1] == "DELETING"
    assert [c["clusterName"] for c in api.list(CLUSTERS)["clusters"]] == ["etl", "other"]
    assert api.get(f"{JOBS}/j")[1]["status"]["state"] == "ERROR"
    admin.advance_clock(10)
    status, body = api.get(cluster_name("etl"))
    assert status == 404
    google_error(body, 404, "NOT_FOUND")
    assert [c["clusterName"] for c in api.list(CLUSTERS)["clusters"]] == ["other"]
    done = api.get(op["name"])[1]
    assert done["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}
    # The request repeated after the cluster is gone still answers its operation...
    assert act(api, "delete", "etl", params=params) == (200, done)
    # ...and any other is a 404, as is every other method.
    assert act(api, "delete", "etl")[0] == 404
    assert act(api, "stop", "etl")[0] == 404
    internals = admin.cluster_internals(cluster_name("etl"))
    assert (internals["deleted"], internals["cluster"]["status"]["state"]) == (True, "DELETING")


def test_delete_waits_out_a_graceful_termination_timeout(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_cluster(name=cluster_name("etl"), deleteSeconds=10)
    admin.seed_jobs(
        [
            {"name": f"{JOBS}/long", "clusterName": "etl"},
            {"name": f"{JOBS}/short", "clusterName": "etl", "completesAfterSeconds": 30},
        ]
    )
    op = act(api, "delete", "etl", params={"gracefulTerminationTimeout": "120s"})[1]
    assert admin.cluster_internals(cluster_name("etl"))["gracefulTerminationSeconds"] == 120
    admin.advance_clock(119)
    assert api.get(f"{JOBS}/long")[1]["status"]["state"] == "RUNNING"
    assert api.get(f"{JOBS}/short")[1]["status"]["state"] == "DONE"  # finished in time
    admin.advance_clock(1)
    assert api.get(f"{JOBS}/long")[1]["status"]["state"] == "ERROR"  # then forced
    assert state_of(api, "etl") == "DELETING"
    admin.advance_clock(10)
    assert api.get(cluster_name("etl"))[0] == 404
    assert api.get(op["name"])[1]["done"] is True


@pytest.mark.parametrize(
    ("seed", "accepted"),
    [
        ({"state": "STOPPED"}, True),  # its disks still bill: deleting is how to end that
        ({"state": "ERROR"}, True),
        ({"secondaryWorkerInstances": 2, "localSsds": 1}, True),
        ({"gke": True}, True),
        ({"state": "CREATING"}, False),
        ({"state": "STOPPING", "stopSeconds": 60}, False),
        ({"state": "DELETING", "deleteSeconds": 60}, False),
    ],
)
def test_what_delete_accepts(
    admin: EmulatorAdmin, api: Api, seed: dict[str, Any], accepted: bool
) -> None:
    admin.seed_cluster(name=cluster_name("c"), **seed)
    answer = act(api, "delete", "c")
    if accepted:
        assert answer[0] == 200
    else:
        state = seed["state"]
        message = refused(answer)
        assert message.startswith("Cannot delete cluster 'c' in project 'p'")
        assert (f"already {state}" if state == "DELETING" else f"yet: it is {state}") in message


# ---- requests the API refuses, permissions ---------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "words"),
    [
        ("POST", "etl:stop", {"json": {"clusterName": "etl"}}, 'Unknown name "clusterName"'),
        ("POST", "etl:start", {"json": {"requestId": "has spaces"}}, "requestId"),
        ("POST", "etl:stop", {"json": {"requestId": "x" * 41}}, "requestId"),
        ("POST", "etl:stop", {"json": []}, "Expected an object"),
        ("POST", "etl:stop", {"data": b"{not json"}, "Invalid JSON payload"),
        # A body field put on the URL is not bound, as Google's front end answers.
        ("POST", "etl:stop", {"params": {"requestId": "r"}}, "Cannot bind query parameter"),
        ("DELETE", "etl", {"params": {"force": "true"}}, 'Unknown name "force"'),
        ("DELETE", "etl", {"params": {"gracefulTerminationTimeout": "30s"}}, "60 seconds"),
        ("DELETE", "etl", {"params": {"gracefulTerminationTimeout": "7h"}}, "Duration"),
        ("DELETE", "etl", {"params": {"gracefulTerminationTimeout": "21601s"}}, "6 hours"),
        ("GET", "etl", {"params": {"view": "FULL"}}, 'Unknown name "view"'),
    ],
)
def test_bad_requests_are_invalid_argument(
    admin: EmulatorAdmin, api: Api, method: str, path: str, kwargs: dict[str, Any], words: str
) -> None:
    admin.seed_cluster(name=cluster_name("etl"))
    response = api.call(method, f"{CLUSTERS}/{path}", **kwargs)
    assert response.status_code == 400
    google_error(response.json(), 400, "INVALID_ARGUMENT")
    assert words in response.json()["error"]["message"]
    assert state_of(api, "etl") == "RUNNING"


def test_system_parameters_are_accepted(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_cluster(name=cluster_name("etl"))
    system = {"alt": "json", "prettyPrint": "false", "fields": "status", "$alt": "json"}
    assert api.call("GET", cluster_name("etl"), params=system).status_code == 200
    assert api.call("GET", CLUSTERS, params={**system, "pageSize": "5"}).status_code == 200
    params = {**system, "gracefulTerminationTimeout": "0s", "requestId": "d-1"}
    assert act(api, "delete", "etl", params=params)[0] == 200


def test_cluster_permissions(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_cluster(name=cluster_name("hidden"), getForbidden=True)
    admin.seed_cluster(name=cluster_name("keep"), forbidden=["delete", "start"])
    for status, body in (api.get(cluster_name("hidden")), act(api, "stop", "hidden")):
        assert status == 403
        google_error(body, 403, "PERMISSION_DENIED")
    status, body = act(api, "delete", "keep")
    assert status == 403
    assert "'dataproc.clusters.delete'" in body["error"]["message"]
    assert act(api, "stop", "keep")[0] == 200
    assert "'dataproc.clusters.start'" in act(api, "start", "keep")[1]["error"]["message"]


# ---- list ---------------------------------------------------------------------------------


@pytest.fixture
def mixed_clusters(admin: EmulatorAdmin) -> None:
    # Seeded out of order: ListClusters answers alphabetically.
    assert (
        admin.seed_clusters(
            [
                {"name": cluster_name("run-b"), "labels": {"env": "prod"}},
                {"name": cluster_name("run-a"), "labels": {"env": "dev"}},
                {"name": cluster_name("creating"), "state": "CREATING"},
                {"name": cluster_name("updating"), "state": "UPDATING"},
                {"name": cluster_name("starting"), "state": "STARTING", "startSeconds": 60},
                {"name": cluster_name("stopped"), "state": "STOPPED", "labels": {"env": "prod"}},
                {"name": cluster_name("stopping"), "state": "STOPPING", "stopSeconds": 60},
                {"name": cluster_name("error"), "state": "ERROR"},
                {"name": cluster_name("deleting"), "state": "DELETING", "deleteSeconds": 60},
            ]
        )
        == 9
    )
    admin.seed_cluster(name="projects/p/regions/other/clusters/elsewhere")


ALL_CLUSTERS = ["creating", "deleting", "error", "run-a", "run-b", "starting", "stopped"]
ALL_CLUSTERS += ["stopping", "updating"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ALL_CLUSTERS),
        ("status.state = ACTIVE", ["creating", "run-a", "run-b", "updating"]),
        ("status.state = INACTIVE", ["deleting", "error", "stopped", "stopping"]),
        ("status.state = RUNNING", ["run-a", "run-b"]),
        ("status.state = STARTING", ["starting"]),  # in neither group
        ("status.state = *", ALL_CLUSTERS),
        ("clusterName = run-a", ["run-a"]),
        ('clusterName = "stopped"', ["stopped"]),
        ("labels.env = prod", ["run-b", "stopped"]),
        ("labels.env = *", ["run-a", "run-b", "stopped"]),
        ("labels.goog-dataproc-cluster-name = error", ["error"]),
        ("status.state = ACTIVE AND labels.env = prod", ["run-b"]),
        ("status.state = INACTIVE labels.env = prod", ["stopped"]),  # implicit AND
    ],
)
def test_cluster_list_filters(
    api: Api, mixed_clusters: None, text: str, expected: list[str]
) -> None:
    items, _ = api.list_all(CLUSTERS, filter=text, pageSize=2)
    assert [c["clusterName"] for c in items] == expected


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "status.state = active"},  # case-sensitive
        {"filter": "status.state = RUNNING OR clusterName = error"},
        {"filter": "status.state = RUNNING and clusterName = run-a"},
        {"filter": "clusterName != run-a"},
        {"filter": "clusterUuid = x"},
        {"filter": "status.state = DONE"},
        {"pageToken": "nope"},
        {"pageSize": "-1"},
    ],
)
def test_cluster_list_refuses_what_is_not_documented(
    api: Api, mixed_clusters: None, params: dict[str, str]
) -> None:
    google_error(api.call("GET", CLUSTERS, params=params).json(), 400, "INVALID_ARGUMENT")


def test_cluster_list_pages_alphabetically(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_clusters([{"name": cluster_name(f"c{i:03}")} for i in reversed(range(250))])
    assert api.list("projects/p/regions/nowhere/clusters") == {}
    assert len(api.list(CLUSTERS)["clusters"]) == 200  # ListClustersRequest's default
    items, pages = api.list_all(CLUSTERS, pageSize=100)
    assert pages == 3
    assert [c["clusterName"] for c in items] == [f"c{i:03}" for i in range(250)]
    # Keyset tokens: deleting what was served does not shift the next page.
    first = api.list(CLUSTERS, pageSize=10)
    for i in range(5):
        act(api, "delete", f"c{i:03}")
    after = api.list(CLUSTERS, pageSize=10, pageToken=first["nextPageToken"])["clusters"]
    assert after[0]["clusterName"] == "c010"
    # A token from another list (keyed by numbers) is refused, not a server error.
    admin.seed_jobs([{"name": f"{JOBS}/j{i}"} for i in range(3)])
    token = api.list(JOBS, pageSize=1)["nextPageToken"]
    response = api.call("GET", CLUSTERS, params={"pageToken": token})
    google_error(response.json(), 400, "INVALID_ARGUMENT")


# ---- enums as numbers, counts and quota -------------------------------------------------


def test_cluster_enums_as_numbers_when_asked(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_cluster(name=cluster_name("etl"), secondaryWorkerInstances=2, stopSeconds=5)
    admin.seed_cluster(name=cluster_name("queued"), state="SCHEDULED")
    admin.seed_cluster(name=cluster_name("on-gke"), gke=True)
    cluster = api.get(cluster_name("etl"), params=NUMERIC)[1]
    # clusters.proto's numbers: CREATING 1, RUNNING 2, STOPPING 6, STOPPED 7.
    assert (cluster["statusHistory"][0]["state"], cluster["status"]["state"]) == (1, 2)
    config = cluster["config"]
    assert config["masterConfig"]["preemptibility"] == 1  # NON_PREEMPTIBLE
    assert config["secondaryWorkerConfig"]["preemptibility"] == 2  # PREEMPTIBLE
    assert api.get(cluster_name("queued"), params=NUMERIC)[1]["status"]["state"] == 11
    gke = api.get(cluster_name("on-gke"), params=NUMERIC)[1]["virtualClusterConfig"]
    assert gke["kubernetesClusterConfig"]["gkeClusterConfig"]["nodePoolTarget"][0]["roles"] == [1]

    admin.seed_cluster(name=cluster_name("etl"), stopSeconds=5)  # no secondary workers now
    op = act(api, "stop", "etl", json={"requestId": "n"}, params=NUMERIC)[1]
    assert op["metadata"]["status"]["state"] == 2  # ClusterOperationStatus RUNNING
    assert op["metadata"]["operationType"] == "STOP"  # a plain string, not an enum
    admin.advance_clock(5)
    done = act(api, "stop", "etl", json={"requestId": "n"}, params=NUMERIC)[1]
    assert done["metadata"]["status"]["state"] == 3  # DONE
    assert done["response"]["status"]["state"] == 7  # STOPPED
    listed = api.list(CLUSTERS, **NUMERIC)["clusters"]
    assert [c["status"]["state"] for c in listed] == [7, 2, 11]


def test_cluster_requests_are_counted_and_limited(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_clusters([{"name": cluster_name(f"c{i}")} for i in range(4)])
    admin.settings(quotaPerMinute={"clusterOperation": 2})
    assert act(api, "stop", "c0")[0] == 200
    assert act(api, "delete", "c1")[0] == 200
    status, body = act(api, "stop", "c2")
    assert status == 429
    google_error(body, 429, "RESOURCE_EXHAUSTED")
    (info, _help) = body["error"]["details"]
    assert info["metadata"]["quota_limit"] == "ClusterOperationRequestsPerMinutePerProjectPerRegion"
    assert state_of(api, "c2") == "RUNNING"  # refused before it reached the cluster
    api.list(CLUSTERS)  # reads use the default bucket, not this one
    counts = admin.request_counts()
    assert counts["byMethod"] == {
        "clusters.delete": 1,
        "clusters.get": 1,
        "clusters.list": 1,
        "clusters.stop": 2,
    }
    assert counts["byBucket"] == {
        "default": 2,
        "getJob": 0,
        "jobOperation": 0,
        "clusterOperation": 3,
    }
    assert counts["peakPerMinute"]["clusterOperation"] == 3
    assert counts["rejectedByQuota"] == 1
    admin.advance_clock(60)
    assert act(api, "start", "c0")[0] == 200


# ---- seeding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seed",
    [
        {"name": "projects/p/regions/r/clusters/Upper"},
        {"name": "projects/p/regions/r/clusters/ends-"},
        {"name": "projects/p/locations/r/clusters/c"},
        {"name": cluster_name("c"), "state": "DELETED"},
        {"name": cluster_name("c"), "masterInstances": 2},
        {"name": cluster_name("c"), "workerInstances": 1},
        {"name": cluster_name("c"), "localSsds": 9},
        {"name": cluster_name("c"), "gke": True, "workerInstances": 3},
        {"name": cluster_name("c"), "config": {}, "localSsds": 1},
        {"name": cluster_name("c"), "config": []},
        {"name": cluster_name("c"), "state": "CREATING", "runningSecondsAgo": 5},
        {"name": cluster_name("c"), "runningSecondsAgo": 50, "createdSecondsAgo": 10},
        {"name": cluster_name("c"), "runningAfterSeconds": 5},  # already RUNNING
        {"name": cluster_name("c"), "blockingOperation": "RESIZE"},
        {"name": cluster_name("c"), "state": "STOPPED", "blockingOperation": "UPDATE"},
        {"name": cluster_name("c"), "blockingOperationSeconds": 5},
        {"name": cluster_name("c"), "forbidden": ["cancel"]},
        {"name": cluster_name("c"), "refusalStatus": "ABORTED"},
        {"name": cluster_name("c"), "substate": "UNHEALTHY", "state": "STOPPED"},
        {"name": cluster_name("c"), "labels": {f"k{i}": "v" for i in range(30)}},
        {"name": cluster_name("c"), "stopSecs": 1},
    ],
)
def test_bad_cluster_seeds_are_400_and_store_nothing(
    admin: EmulatorAdmin, api: Api, seed: dict[str, Any]
) -> None:
    with pytest.raises(requests.HTTPError, match="400"):
        admin.seed_clusters([{"name": cluster_name("first")}, seed])
    assert api.get(cluster_name("first"))[0] == 404


def test_seeding_again_replaces_and_reset_clears(admin: EmulatorAdmin, api: Api) -> None:
    first = admin.seed_cluster(name=cluster_name("etl"), stopSeconds=60)
    op = act(api, "stop", "etl", json={"requestId": "r1"})[1]
    second = admin.seed_cluster(name=cluster_name("etl"))
    assert second["clusterUuid"] != first["clusterUuid"]
    assert state_of(api, "etl") == "RUNNING"
    again = act(api, "stop", "etl", json={"requestId": "r1"})[1]  # a new incarnation
    assert again["name"] != op["name"]
    admin.reset()
    assert api.get(cluster_name("etl"))[0] == 404
    with pytest.raises(requests.HTTPError, match="404"):
        admin.cluster_internals(cluster_name("etl"))
