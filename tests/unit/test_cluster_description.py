"""The cluster's description on its own: names, what a result says it was running, why a
stop was refused, its idempotency key and its list filter."""

from __future__ import annotations

import pytest

from canceller.kinds import CLUSTERS, Clause, Phase
from canceller.kinds.clusters import CLUSTER_DELETION, request_id, vcpus_of
from canceller.names import InvalidName, parse_name

SCOPE = "projects/demo-project/regions/us-central1"


@pytest.mark.parametrize(
    ("cluster", "ok"),
    [
        ("a", True),
        ("etl-nightly-2", True),
        ("a" * 51, True),
        ("a" * 52, False),
        ("1etl", False),
        ("etl-", False),
        ("Etl", False),
        ("etl_1", False),
    ],
)
def test_cluster_names_follow_dataprocs_rule(cluster: str, ok: bool) -> None:
    text = f"{SCOPE}/clusters/{cluster}"
    if ok:
        assert parse_name("cluster", text).resource_id == cluster
    else:
        with pytest.raises(InvalidName):
            parse_name("cluster", text)


def test_urls_may_end_in_the_kinds_own_verb_only() -> None:
    base = f"https://us-central1-dataproc.googleapis.com/v1/{SCOPE}/clusters/etl"
    assert parse_name("cluster", base + ":stop").resource_id == "etl"
    for other in (":cancel", ":start", ":delete", ":terminate"):
        with pytest.raises(InvalidName, match="NAME or NAME:stop"):
            parse_name("cluster", base + other)
    with pytest.raises(InvalidName):
        parse_name("job", f"https://dataproc.googleapis.com/v1/{SCOPE}/jobs/j1:terminate")


@pytest.mark.parametrize(
    ("machine", "vcpus"),
    [
        ("n2-standard-8", 8),
        ("https://www.googleapis.com/compute/v1/projects/p/zones/z/machineTypes/e2-highmem-4", 4),
        ("m1-ultramem-40", 40),
        ("c3-standard-4-lssd", 4),
        ("custom-6-23040", 6),
        ("n2-custom-6-23040", 6),
        ("e2-medium", None),
        ("a2-highgpu-1g", None),
        ("f1-micro", None),
    ],
)
def test_vcpus_come_from_a_predefined_name_or_are_unknown(machine: str, vcpus: int | None) -> None:
    assert vcpus_of(machine) == vcpus


def _cluster(state: str = "RUNNING", **config: object) -> dict[str, object]:
    return {
        "clusterName": "etl",
        "clusterUuid": "u-1",
        "status": {"state": state, "stateStartTime": "2026-12-01T00:00:00Z"},
        "config": {
            "masterConfig": {"numInstances": 1, "machineTypeUri": "n2-standard-4"},
            "workerConfig": {"numInstances": 2, "machineTypeUri": "n2-highmem-8"},
            **config,
        },
    }


def test_a_result_says_what_was_running() -> None:
    state = CLUSTERS.describe(_cluster())
    assert state["clusterState"] == "RUNNING" and state["action"] == "stop"
    assert state["clusterUuid"] == "u-1"
    assert state["instanceGroups"] == [
        {"role": "master", "instances": 1, "machineType": "n2-standard-4", "vcpusPerInstance": 4},
        {"role": "worker", "instances": 2, "machineType": "n2-highmem-8", "vcpusPerInstance": 8},
    ]
    assert state["vcpus"] == 20 and state["vcpusKnown"] is True
    odd = CLUSTERS.describe(
        _cluster(secondaryWorkerConfig={"numInstances": 3, "machineTypeUri": "e2-medium"})
    )
    assert odd["vcpusKnown"] is False and "vcpus" not in odd
    assert odd["instanceGroups"][2] == {
        "role": "secondaryWorker",
        "instances": 3,
        "machineType": "e2-medium",
    }
    assert CLUSTER_DELETION.describe(_cluster())["action"] == "delete"


def test_phases_for_stop_and_for_delete() -> None:
    assert CLUSTERS.phase(_cluster("RUNNING")) is Phase.RUNNING
    assert CLUSTERS.phase(_cluster("STOPPING")) is Phase.STOPPING
    assert CLUSTERS.phase(_cluster("STOPPED")) is Phase.STOPPED
    assert CLUSTERS.phase(_cluster("DELETING")) is Phase.ENDED
    assert CLUSTERS.phase(_cluster("ERROR")) is Phase.RUNNING  # still billing
    assert CLUSTER_DELETION.phase(_cluster("STOPPED")) is Phase.RUNNING  # its disks bill
    assert CLUSTER_DELETION.phase(_cluster("DELETING")) is Phase.STOPPING
    gone = CLUSTER_DELETION.gone(_cluster("DELETING"))
    assert gone is not None and CLUSTER_DELETION.phase(gone) is Phase.STOPPED
    assert CLUSTERS.gone(_cluster()) is None


def test_what_may_wait_and_what_is_refused_for_good() -> None:
    for state in ("CREATING", "UPDATING", "STARTING", "REPAIRING"):
        assert CLUSTERS.can_wait(_cluster(state))
    assert not CLUSTERS.can_wait(_cluster("RUNNING"))
    secondary = _cluster(secondaryWorkerConfig={"numInstances": 2, "machineTypeUri": "x"})
    assert "2 secondary worker(s)" in CLUSTERS.refused_because(secondary)
    assert '"action": "delete"' in CLUSTERS.refused_because(secondary)
    ssd = _cluster(masterConfig={"numInstances": 1, "diskConfig": {"numLocalSsds": 1}})
    assert "1 local SSD(s) on each master" in CLUSTERS.refused_because(ssd)
    flexible = _cluster(workerConfig={"numInstances": 2, "instanceFlexibilityPolicy": {"x": 1}})
    assert "flexible VMs for its workers" in CLUSTERS.refused_because(flexible)
    assert "bills until deleted" in CLUSTERS.refused_because(_cluster("ERROR"))
    assert CLUSTERS.refused_because(_cluster()) == ""
    gke = {"clusterName": "g", "virtualClusterConfig": {}, "status": {"state": "RUNNING"}}
    assert "Dataproc on GKE" in (CLUSTERS.refusal(gke) or "")
    assert CLUSTERS.refusal(_cluster()) is None
    assert not CLUSTERS.sweepable_item(gke)


def test_the_stop_carries_the_uuid_and_a_request_id_per_request_and_incarnation() -> None:
    name = parse_name("cluster", f"{SCOPE}/clusters/etl")
    call = CLUSTERS.stop_call(name, _cluster(), "names-abc")
    assert (call.method, call.path) == ("POST", f"{SCOPE}/clusters/etl:stop")
    assert call.body is not None and call.body["clusterUuid"] == "u-1"
    key = call.body["requestId"]
    assert len(key) <= 40 and key.replace("-", "").replace("_", "").isalnum()
    assert key == CLUSTERS.stop_call(name, _cluster(), "names-abc").body["requestId"]  # type: ignore[index]
    assert key != request_id("names-other", name.name, "u-1", "stop")
    assert key != request_id("names-abc", name.name, "u-2", "stop")
    deletion = CLUSTER_DELETION.stop_call(name, _cluster(), "names-abc")
    assert (deletion.method, deletion.path, deletion.body) == ("DELETE", name.name, None)
    assert deletion.params["clusterUuid"] == "u-1"
    assert deletion.params["requestId"] == request_id("names-abc", name.name, "u-1", "delete")


def test_the_list_filter_sends_plain_values_and_lists_active_clusters_by_default() -> None:
    assert CLUSTERS.server_params(()) == {"filter": "status.state = ACTIVE"}
    clauses = (Clause("clusterName", "etl"), Clause("labels.team", "data"))
    assert CLUSTERS.server_params(clauses) == {
        "filter": "status.state = ACTIVE AND clusterName = etl AND labels.team = data"
    }
    spaced = (Clause("labels.team", "a b"),)
    assert CLUSTERS.server_params(spaced) == {"filter": "status.state = ACTIVE"}
    assert CLUSTERS.holds(Clause("status.state", "ACTIVE"), _cluster("UPDATING"))
    assert not CLUSTERS.holds(Clause("status.state", "ACTIVE"), _cluster("STOPPED"))
    assert CLUSTERS.holds(Clause("status.state", "STOPPED"), _cluster("STOPPED"))
