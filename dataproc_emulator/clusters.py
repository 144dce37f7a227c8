"""Scripted clusters, rendered as the Cluster resource at the instant they are read,
and the operations their stop, start and delete answer with.

Like jobs and sessions, a cluster stores only *when* things happen (created, running
since, seeded, stop/start/delete accepted, a blocking operation's end) and works out
its status and statusHistory from the clock on every read. StopCluster, StartCluster
and DeleteCluster are long-running methods: each answers an ordinary OperationRecord
(ClusterOperationMetadata, operationType STOP, START or DELETE) that finishes when the
cluster gets there, so operations.get, list and cancel treat it like any other.

What Dataproc documents ("Stop and start clusters",
https://cloud.google.com/dataproc/docs/guides/dataproc-start-stop, and the API reference,
https://cloud.google.com/dataproc/docs/reference/rest/v1/projects.regions.clusters) is
followed; what it does not is assumed and marked so:

- Only a RUNNING cluster stops; a stop *fails* while an update or diagnose operation
  runs on it, and for clusters with secondary workers, local SSDs or flexible VMs; it
  *succeeds* with running jobs, which then fail. Only a STOPPED cluster starts.
- Refusals are FAILED_PRECONDITION (Dataproc's status for them is unconfirmed; a seed
  may pick INVALID_ARGUMENT instead, so a client can be proved against both). Which
  refusal wins when several apply is assumed: a running operation, then the state,
  then the config.
- A delete is assumed refused while the cluster changes state (CREATING, UPDATING,
  STARTING, REPAIRING, STOPPING) or runs a blocking operation, and accepted in every
  settled state (STOPPED and ERROR included: their disks still bill). Whether Dataproc
  on GKE clusters stop is unconfirmed: they are refused here.
- ``clusterUuid`` not the cluster's: NOT_FOUND, worded like a missing cluster.
  ``requestId`` seen before for the same method and cluster: the first operation,
  and nothing is done again.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from .errors import ApiError, failed_precondition, invalid
from .listing import FilterLanguage
from .records import TYPE_PREFIX, OperationRecord, new_uuid, timestamp
from .sessions import REQUEST_ID

STATES = frozenset(
    {
        "UNKNOWN",
        "CREATING",
        "RUNNING",
        "ERROR",
        "ERROR_DUE_TO_UPDATE",
        "DELETING",
        "UPDATING",
        "STOPPING",
        "STOPPED",
        "STARTING",
        "REPAIRING",
        "SCHEDULED",
    }
)
# ListClustersRequest.filter, as documented: ACTIVE is CREATING, UPDATING and RUNNING;
# INACTIVE is DELETING, ERROR, STOPPING and STOPPED. Taken literally, like the jobs'
# matcher: STARTING, REPAIRING, ERROR_DUE_TO_UPDATE, SCHEDULED and UNKNOWN are in
# neither (how the real server groups them is unconfirmed).
GROUPS: dict[str, frozenset[str]] = {
    "ACTIVE": frozenset({"CREATING", "UPDATING", "RUNNING"}),
    "INACTIVE": frozenset({"DELETING", "ERROR", "STOPPING", "STOPPED"}),
}
# The states a cluster is seeded in walk this path first: the first state is dated at
# creation, RUNNING at ``running_since`` and the rest at seeding.
_PATHS: dict[str, tuple[str, ...]] = {
    "UNKNOWN": ("UNKNOWN",),
    "SCHEDULED": ("SCHEDULED",),
    "CREATING": ("CREATING",),
    "RUNNING": ("CREATING", "RUNNING"),
    "UPDATING": ("CREATING", "RUNNING", "UPDATING"),
    "REPAIRING": ("CREATING", "RUNNING", "REPAIRING"),
    "ERROR": ("CREATING", "ERROR"),
    "ERROR_DUE_TO_UPDATE": ("CREATING", "RUNNING", "UPDATING", "ERROR_DUE_TO_UPDATE"),
    "STOPPING": ("CREATING", "RUNNING", "STOPPING"),
    "STOPPED": ("CREATING", "RUNNING", "STOPPING", "STOPPED"),
    "STARTING": ("CREATING", "RUNNING", "STOPPING", "STOPPED", "STARTING"),
    "DELETING": ("CREATING", "RUNNING", "DELETING"),
}


def path(state: str) -> tuple[str, ...]:
    """The states a cluster seeded in ``state`` went through, ending with it."""
    return _PATHS[state]


# Seeded in one of these, a cluster becomes RUNNING after runningAfterSeconds (if given).
SETTLING = frozenset({"SCHEDULED", "CREATING", "UPDATING", "REPAIRING"})
# Seeded in a state that passes, a cluster stays in it for good unless the seed says for
# how long (its seconds key, from seeding): then it moves on to the state here (None:
# it is gone, deleted).
PASSING: dict[str, str | None] = {
    **dict.fromkeys(SETTLING, "RUNNING"),
    "STOPPING": "STOPPED",
    "STARTING": "RUNNING",
    "DELETING": None,
}


@dataclass(frozen=True)
class _Rule:
    """When a stop, start or delete is refused: ``already`` there; ``not_yet`` (a state
    that passes by itself, so a client may try again: ``when`` says until when); not
    ``only`` (the one state it is accepted in; ``done`` its participle)."""

    already: frozenset[str]
    not_yet: frozenset[str]
    when: str
    only: str | None
    done: str


_RULES = {
    "stop": _Rule(
        frozenset({"STOPPING", "STOPPED"}),
        frozenset({"SCHEDULED", "CREATING", "UPDATING", "STARTING", "REPAIRING"}),
        "a cluster can be stopped once it is RUNNING",
        "RUNNING",
        "stopped",
    ),
    "start": _Rule(
        frozenset({"STARTING", "RUNNING"}),
        frozenset({"STOPPING"}),
        "a cluster can be started once it is STOPPED",
        "STOPPED",
        "started",
    ),
    # Assumed: a delete is refused while the cluster changes state (the states a
    # deleting client is documented to wait out) and allowed in every settled state.
    "delete": _Rule(
        frozenset({"DELETING"}),
        frozenset({"CREATING", "UPDATING", "STARTING", "REPAIRING", "STOPPING"}),
        "try again once it is no longer changing state",
        None,
        "deleted",
    ),
}
BLOCKING_TYPES = frozenset({"UPDATE", "DIAGNOSE"})
REFUSAL_STATUSES = frozenset({"FAILED_PRECONDITION", "INVALID_ARGUMENT"})
ACTIONS = ("stop", "start", "delete")
DEFAULT_ERROR_DETAIL = (
    "Initialization action failed. Failed action 'gs://emulator-bucket/init.sh', see "
    "output in: gs://emulator-staging/google-cloud-dataproc-metainfo/init.log"
)  # assumed wording, after the shape of Dataproc's create failures
# DeleteClusterRequest.gracefulTerminationTimeout: a google.protobuf.Duration, 0 (off)
# or between 60 seconds and 6 hours.
_DURATION = re.compile(r"(\d{1,11})(\.\d{1,9})?s")
_GRACEFUL_RANGE = (60.0, 6 * 3600.0)

_STATE_NUMBERS = {
    "UNKNOWN": 0,
    "CREATING": 1,
    "RUNNING": 2,
    "ERROR": 3,
    "DELETING": 4,
    "UPDATING": 5,
    "STOPPING": 6,
    "STOPPED": 7,
    "STARTING": 8,
    "ERROR_DUE_TO_UPDATE": 9,
    "REPAIRING": 10,
    # Assumed: clusters.proto as installed here (google-cloud-dataproc 5.32) has no
    # SCHEDULED yet; the discovery document lists it last, so it is taken to be next.
    "SCHEDULED": 11,
}
_SUBSTATE_NUMBERS = {"UNSPECIFIED": 0, "UNHEALTHY": 1, "STALE_STATUS": 2}
_PREEMPTIBILITY_NUMBERS = {
    "PREEMPTIBILITY_UNSPECIFIED": 0,
    "NON_PREEMPTIBLE": 1,
    "PREEMPTIBLE": 2,
    "SPOT": 3,
}
_CLUSTER_TYPE_NUMBERS = {
    "CLUSTER_TYPE_UNSPECIFIED": 0,
    "STANDARD": 1,
    "SINGLE_NODE": 2,
    "ZERO_SCALE": 3,
}
_CLUSTER_TIER_NUMBERS = {
    "CLUSTER_TIER_UNSPECIFIED": 0,
    "CLUSTER_TIER_STANDARD": 1,
    "CLUSTER_TIER_PREMIUM": 2,
}
_ENGINE_NUMBERS = {"ENGINE_UNSPECIFIED": 0, "DEFAULT": 1, "LIGHTNING": 2}
_ROLE_NUMBERS = {
    "ROLE_UNSPECIFIED": 0,
    "DEFAULT": 1,
    "CONTROLLER": 2,
    "SPARK_DRIVER": 3,
    "SPARK_EXECUTOR": 4,
}
_OPERATION_STATE_NUMBERS = {"UNKNOWN": 0, "PENDING": 1, "RUNNING": 2, "DONE": 3}
_GROUP_KEYS = ("masterConfig", "workerConfig", "secondaryWorkerConfig")
COMPUTE = "https://www.googleapis.com/compute/v1"
IMAGE = f"{COMPUTE}/projects/cloud-dataproc/global/images/dataproc-2-2-deb12-20250212-165100-rc01"


@dataclass(frozen=True)
class Entry:
    state: str
    at: float
    detail: str | None = None
    substate: str | None = None

    def to_json(self) -> dict[str, str]:
        body = {"state": self.state, "stateStartTime": timestamp(self.at)}
        if self.detail is not None:
            body["detail"] = self.detail
        if self.substate is not None:
            body["substate"] = self.substate
        return body


@dataclass(frozen=True)
class Request:
    """What StopClusterRequest, StartClusterRequest and DeleteClusterRequest carry
    besides the name; ``graceful_seconds`` only for a delete."""

    cluster_uuid: str | None = None
    request_id: str | None = None
    graceful_seconds: float = 0.0


@dataclass(eq=False)
class ClusterRecord:
    """One cluster and its script.

    ``initial`` is the state it was seeded in (walked to along ``_PATHS``), which
    lasts ``seeded_lasts`` if it is one that passes (``PASSING``; None: for good).
    ``events`` are what accepted stops, starts and deletes added, in time order. A
    ``blocking`` operation (UPDATE or DIAGNOSE) refuses stops and deletes while it
    runs; an UPDATE shows the cluster UPDATING until the operation ends (done or
    cancelled). The cluster is gone (GET answers 404) from ``gone_at`` on.
    """

    project: str
    region: str
    cluster_name: str
    created: float
    seeded: float
    running_since: float
    initial: str = "RUNNING"
    uid: str = field(default_factory=new_uuid)
    labels: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    virtual_config: dict[str, Any] | None = None
    detail: str | None = None
    substate: str | None = None
    stop_seconds: float = 0.0
    start_seconds: float = 0.0
    delete_seconds: float = 0.0
    seeded_lasts: float | None = None
    refusal_status: str = "FAILED_PRECONDITION"
    get_forbidden: bool = False
    forbidden: frozenset[str] = frozenset()
    blocking: OperationRecord | None = None
    events: list[Entry] = field(default_factory=list)
    gone_at: float | None = None
    graceful_seconds: float = 0.0
    operations: list[OperationRecord] = field(default_factory=list)
    seq: int = 0

    @property
    def name(self) -> str:
        return f"projects/{self.project}/regions/{self.region}/clusters/{self.cluster_name}"

    @property
    def place(self) -> tuple[str, str, str]:
        """(project, region, cluster name): what a job's placement names it by."""
        return self.project, self.region, self.cluster_name

    def all_labels(self) -> dict[str, str]:
        """The cluster's labels with the three Dataproc adds to every cluster."""
        return self.labels | {
            "goog-dataproc-cluster-name": self.cluster_name,
            "goog-dataproc-cluster-uuid": self.uid,
            "goog-dataproc-location": self.region,
        }

    def gone(self, now: float) -> bool:
        return self.gone_at is not None and now >= self.gone_at

    def history(self, now: float) -> list[Entry]:
        """Every status entered by ``now``, oldest first."""
        return [entry for entry in self._script() if entry.at <= now]

    def state(self, now: float) -> str:
        return self.history(now)[-1].state

    def blocking_operation(self, now: float) -> OperationRecord | None:
        """The UPDATE or DIAGNOSE operation running on the cluster now, if any."""
        op = self.blocking
        return op if op is not None and op.outcome(now) is None else None

    def to_json(self, now: float) -> dict[str, Any]:
        entered = self.history(now)
        body: dict[str, Any] = {"projectId": self.project, "clusterName": self.cluster_name}
        # Copies: enums_as_numbers rewrites the answer in place, never the record.
        if self.virtual_config is not None:
            body["virtualClusterConfig"] = copy.deepcopy(self.virtual_config)
        else:
            body["config"] = copy.deepcopy(self.config or {})
        body["labels"] = self.all_labels()
        body["status"] = entered[-1].to_json()
        if len(entered) > 1:
            body["statusHistory"] = [entry.to_json() for entry in entered[:-1]]
        body["clusterUuid"] = self.uid
        return body

    # ---- stop, start, delete ------------------------------------------------------

    def check(self, action: str, now: float) -> None:
        """Refuse ``action`` as Dataproc does, or return: it may go ahead."""
        rule = _RULES[action]
        head = f"Cannot {action} cluster '{self.cluster_name}' in project '{self.project}'"
        blocking = self.blocking_operation(now)
        if blocking is not None and action != "start":
            kind = blocking.metadata.get("operationType")
            self._refuse(f"{head} while its {kind} operation {blocking.name} is running.")
        state = self.state(now)
        if state in rule.already:
            self._refuse(f"{head}: it is already {state}.")
        if state in rule.not_yet:
            self._refuse(f"{head} yet: it is {state}; {rule.when}.")
        if rule.only is not None and state != rule.only:
            self._refuse(f"{head} in state {state}; only a {rule.only} cluster can be {rule.done}.")
        if action == "stop" and (reason := self._unstoppable()):
            self._refuse(f"{head}: {reason} cannot be stopped.")

    def act(self, action: str, now: float, request: Request, op_name: str) -> OperationRecord:
        """Accept ``action`` (checked already): script the cluster's way there and
        answer the operation that finishes when it arrives."""
        if action == "stop":
            self.events += [Entry("STOPPING", now), Entry("STOPPED", now + self.stop_seconds)]
            took = self.stop_seconds
        elif action == "start":
            self.events += [Entry("STARTING", now), Entry("RUNNING", now + self.start_seconds)]
            took = self.start_seconds
        else:
            self.events.append(Entry("DELETING", now))
            self.graceful_seconds = request.graceful_seconds
            took = request.graceful_seconds + self.delete_seconds
            self.gone_at = now + took
        end = now + took
        if action == "delete":
            response = {"@type": "type.googleapis.com/google.protobuf.Empty"}
        else:
            response = {"@type": TYPE_PREFIX + "Cluster", **self.to_json(end)}
        op = self.operation(op_name, action.upper(), now, took, {"response": response})
        # Assumed: cancelling a stop, start or delete changes nothing (the cluster gets
        # there anyway), as the emulator assumes for a session's terminate.
        op.on_cancel = "ignore"
        self.operations.append(op)
        return op

    def operation(
        self,
        name: str,
        operation_type: str,
        created: float,
        completes_after: float | None,
        completion: dict[str, Any] | None,
    ) -> OperationRecord:
        metadata: dict[str, Any] = {
            "clusterName": self.cluster_name,
            "clusterUuid": self.uid,
            "operationType": operation_type,
            "description": f"{operation_type.capitalize()} cluster",
            "labels": self.all_labels(),
        }
        return OperationRecord(
            name=name,
            kind="cluster",
            created=created,
            metadata=metadata,
            completes_after=completes_after,
            completion=completion,
        )

    def _unstoppable(self) -> str:
        """What in the config Dataproc documents as unstoppable ("" when nothing is)."""
        if self.virtual_config is not None:
            return "Dataproc on GKE clusters"  # assumed: whether they stop is unconfirmed
        config = self.config or {}
        groups = [g for g in (config.get(key) for key in _GROUP_KEYS) if isinstance(g, dict)]
        secondary = config.get("secondaryWorkerConfig")
        if isinstance(secondary, dict) and _positive(secondary.get("numInstances")):
            return "clusters with secondary workers"
        if any(_positive(_disk(group).get("numLocalSsds")) for group in groups):
            return "clusters with local SSDs"
        if any(group.get("instanceFlexibilityPolicy") for group in groups):
            return "clusters that use flexible VMs"
        return ""

    def _refuse(self, message: str) -> NoReturn:
        if self.refusal_status == "INVALID_ARGUMENT":
            raise ApiError(400, message)
        raise failed_precondition(message)

    def _script(self) -> list[Entry]:
        """Every status this cluster will enter as things stand, in time order."""
        path = _PATHS[self.initial]
        script = [Entry(path[0], self.created)]
        for state in path[1:]:
            script.append(Entry(state, self.running_since if state == "RUNNING" else self.seeded))
        script[-1] = Entry(script[-1].state, script[-1].at, self._detail(), self._substate())
        following = PASSING.get(self.initial)
        if following is not None and self.seeded_lasts is not None:
            script.append(Entry(following, self.seeded + self.seeded_lasts))
        op = self.blocking
        if op is not None and op.metadata.get("operationType") == "UPDATE":
            script.append(Entry("UPDATING", op.created))
            outcome = op.outcome(float("inf"))  # when it ends as things stand
            if outcome is not None:
                script.append(Entry("RUNNING", outcome.at))
        script += self.events
        # Stable: entries due at the same instant keep their causal order.
        return sorted(script, key=lambda entry: entry.at)

    def _detail(self) -> str | None:
        if self.detail is not None:
            return self.detail
        return DEFAULT_ERROR_DETAIL if self.initial.startswith("ERROR") else None

    def _substate(self) -> str | None:
        return self.substate if self.initial == "RUNNING" else None


def build_config(
    project: str,
    region: str,
    name: str,
    groups: Mapping[str, tuple[int, str]],
    local_ssds: int,
    flexible_vms: bool,
    secondary_preemptibility: str = "PREEMPTIBLE",
    lifecycle: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Compute Engine cluster's config as GetCluster answers it. ``groups``: config key
    -> (instances, machine type as given: a full URL, as Dataproc answers, or a short
    name, to prove a client reads both). ``secondary_preemptibility``: the secondary
    workers' (PREEMPTIBLE, SPOT or NON_PREEMPTIBLE); ``lifecycle``: the lifecycleConfig,
    shown when given."""
    zone = f"{region}-b"
    config: dict[str, Any] = {
        "configBucket": f"dataproc-staging-{region}-emulator",
        "tempBucket": f"dataproc-temp-{region}-emulator",
        "gceClusterConfig": {
            "zoneUri": f"{COMPUTE}/projects/{project}/zones/{zone}",
            "networkUri": f"{COMPUTE}/projects/{project}/global/networks/default",
            "serviceAccountScopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "internalIpOnly": True,
        },
    }
    suffixes = {"masterConfig": "m", "workerConfig": "w", "secondaryWorkerConfig": "sw"}
    for key in _GROUP_KEYS:
        count, machine = groups[key]
        if count == 0:
            continue
        secondary = key == "secondaryWorkerConfig"
        if key == "masterConfig" and count == 1:
            instances = [f"{name}-m"]
        else:
            instances = [f"{name}-{suffixes[key]}-{i}" for i in range(count)]
        disks: dict[str, Any] = {"bootDiskType": "pd-standard", "bootDiskSizeGb": 500}
        if local_ssds and not secondary:
            disks |= {"numLocalSsds": local_ssds, "localSsdInterface": "scsi"}
        group: dict[str, Any] = {
            "numInstances": count,
            "instanceNames": instances,
            "imageUri": IMAGE,
            "machineTypeUri": machine,
            "diskConfig": disks,
            "minCpuPlatform": "AUTOMATIC",
            "preemptibility": secondary_preemptibility if secondary else "NON_PREEMPTIBLE",
        }
        if secondary:
            manager = f"{name}-sw-igm"
            if secondary_preemptibility != "NON_PREEMPTIBLE":  # assumed: SPOT VMs too
                group["isPreemptible"] = True
            group |= {
                "managedGroupConfig": {
                    "instanceTemplateName": f"{name}-sw-template",
                    "instanceGroupManagerName": manager,
                    "instanceGroupManagerUri": (
                        f"{COMPUTE}/projects/{project}/zones/{zone}/instanceGroupManagers/{manager}"
                    ),
                },
            }
        if flexible_vms and key == "workerConfig":
            short = machine.rsplit("/", 1)[-1]
            group["instanceFlexibilityPolicy"] = {
                "instanceSelectionList": [
                    {"machineTypes": [short], "rank": 0},
                    {"machineTypes": ["e2-standard-8"], "rank": 1},
                ],
                "instanceSelectionResults": [{"machineType": short, "vmCount": count}],
            }
        config[key] = group
    config["softwareConfig"] = {"imageVersion": "2.2.47-debian12"}
    if lifecycle:
        config["lifecycleConfig"] = dict(lifecycle)
    return config


def virtual_config(project: str, region: str, name: str) -> dict[str, Any]:
    """A Dataproc on GKE cluster's virtualClusterConfig (what replaces ``config``)."""
    gke = f"projects/{project}/locations/{region}/clusters/gke-{name}"
    return {
        "stagingBucket": f"dataproc-staging-{region}-emulator",
        "kubernetesClusterConfig": {
            "kubernetesNamespace": name,
            "gkeClusterConfig": {
                "gkeClusterTarget": gke,
                "nodePoolTarget": [
                    {"nodePool": f"{gke}/nodePools/dp-default", "roles": ["DEFAULT"]}
                ],
            },
            "kubernetesSoftwareConfig": {"componentVersion": {"SPARK": "3.5-dataproc-19"}},
        },
    }


def filter_language(now: float) -> FilterLanguage[ClusterRecord]:
    """ListClustersRequest.filter: ``status.state``, ``clusterName`` and ``labels.KEY``
    with = only, AND only (or a space), case-sensitive, ``*`` for any value.
    ``status.state`` takes ACTIVE, INACTIVE or a state name: the filter's documentation
    (https://cloud.google.com/dataproc/docs/reference/rest/v1/projects.regions.clusters/list)
    names some of them; every ClusterStatus state is accepted here (assumed: the server
    compares states)."""
    fields: dict[str, Callable[[ClusterRecord], str | None]] = {
        "status.state": lambda cluster: cluster.state(now),
        "clusterName": lambda cluster: cluster.cluster_name,
    }
    return FilterLanguage(
        fields,
        labels=lambda cluster: cluster.all_labels(),
        operators=frozenset({"="}),
        choices={"status.state": STATES | frozenset(GROUPS)},
        groups={"status.state": GROUPS},
    )


def request_from_body(body: Any) -> Request:
    """StopClusterRequest and StartClusterRequest's body (``body: "*"``): the fields not
    in the path, clusterUuid and requestId, both optional."""
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    for key in body:
        if key not in ("clusterUuid", "requestId"):
            raise invalid(
                f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            )
    return Request(_uuid(body.get("clusterUuid")), _request_id(body.get("requestId")))


def request_from_query(query: Mapping[str, str]) -> Request:
    """DeleteClusterRequest's query parameters (the method has no body)."""
    raw = query.get("gracefulTerminationTimeout", "")
    graceful = 0.0
    if raw:
        match = _DURATION.fullmatch(raw)
        if match is None:
            raise invalid(
                f"Invalid value at 'graceful_termination_timeout' (type.googleapis.com/"
                f'google.protobuf.Duration), "{raw}"'
            )
        graceful = float(raw[:-1])
        low, high = _GRACEFUL_RANGE
        if graceful and not low <= graceful <= high:
            raise invalid("gracefulTerminationTimeout must be between 60 seconds and 6 hours.")
    return Request(_uuid(query.get("clusterUuid")), _request_id(query.get("requestId")), graceful)


def _uuid(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid("clusterUuid must be a string.")
    return value


def _request_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not REQUEST_ID.fullmatch(value):
        raise invalid("requestId must be at most 40 letters, digits, underscores or hyphens.")
    return value


def enums_as_numbers(cluster: dict[str, Any]) -> dict[str, Any]:
    """Every enum the emulator renders in a Cluster, as numbers (Google does this when
    asked); a seeded raw config's other enums stay names, which parsers accept too."""
    for status in [cluster["status"], *cluster.get("statusHistory", [])]:
        _to_number(status, "state", _STATE_NUMBERS)
        _to_number(status, "substate", _SUBSTATE_NUMBERS)
    config = cluster.get("config", {})
    _to_number(config, "clusterType", _CLUSTER_TYPE_NUMBERS)
    _to_number(config, "clusterTier", _CLUSTER_TIER_NUMBERS)
    _to_number(config, "engine", _ENGINE_NUMBERS)
    for key in _GROUP_KEYS:
        group = config.get(key)
        if isinstance(group, dict):
            _to_number(group, "preemptibility", _PREEMPTIBILITY_NUMBERS)
    kubernetes = cluster.get("virtualClusterConfig", {}).get("kubernetesClusterConfig", {})
    for target in kubernetes.get("gkeClusterConfig", {}).get("nodePoolTarget", []):
        target["roles"] = [_ROLE_NUMBERS.get(role, role) for role in target.get("roles", [])]
    return cluster


def operation_enums_as_numbers(operation: dict[str, Any]) -> dict[str, Any]:
    """The same for a cluster operation: its metadata's status and, once done, its
    Cluster (a delete's response is Empty, and operationType is a plain string)."""
    meta = operation["metadata"]
    for status in [meta["status"], *meta.get("statusHistory", [])]:
        _to_number(status, "state", _OPERATION_STATE_NUMBERS)
    response = operation.get("response")
    if response is not None and response.get("@type") == TYPE_PREFIX + "Cluster":
        enums_as_numbers(response)
    return operation


def _to_number(body: dict[str, Any], key: str, numbers: Mapping[str, int]) -> None:
    value = body.get(key)
    if isinstance(value, str) and value in numbers:
        body[key] = numbers[value]


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _disk(group: dict[str, Any]) -> dict[str, Any]:
    disks = group.get("diskConfig")
    return disks if isinstance(disks, dict) else {}
