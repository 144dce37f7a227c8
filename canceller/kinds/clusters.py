"""Clusters on Compute Engine: ``GET``, ``POST NAME:stop`` with ``{clusterUuid,
requestId}`` (answers an Operation), stopped when ``status.state`` is STOPPED; or, where
CLUSTER_DELETE_ALLOWED, ``DELETE NAME?clusterUuid=&requestId=``, gone when GET answers 404.

The cluster is most of a Dataproc bill: its VMs and the Dataproc fee run whether a job
does or not, and a stopped cluster's VMs are not billed (its disks are). The facts, from
Dataproc's "Stop and start clusters" page
(https://cloud.google.com/dataproc/docs/guides/dataproc-start-stop), the clusters REST
reference (https://cloud.google.com/dataproc/docs/reference/rest/v1/projects.regions.clusters)
and ClusterStatus.StateValueValuesEnum in the Cloud SDK's dataproc_v1_messages.py:

- A stop *fails* while an update or diagnose operation runs and *succeeds* with running
  jobs, which then fail; so the engine cancels the cluster's active jobs and running
  operations first (``clears_first``), each verified, and then stops the cluster.
- ``clusterUuid`` makes the call fail with NOT_FOUND for any other incarnation of the
  name; ``requestId`` (at most 40 of ``[A-Za-z0-9_-]``) makes a repeat return the first
  Operation instead of acting twice, so it is derived from the request and the cluster.
- CREATING, UPDATING, STARTING and REPAIRING clusters cannot be stopped *yet*: the stop
  is tried again within the window. A stop refused otherwise (secondary workers, local
  SSDs, flexible VMs, an ERROR cluster) is answered with Dataproc's sentence and the
  reason read from the cluster's config. Which status Dataproc answers is unconfirmed,
  and the docs contradict each other on secondary workers, so Dataproc's answer decides.
- Dataproc on GKE clusters (``virtualClusterConfig``): whether they can be stopped is
  unconfirmed, so they are refused, never guessed at.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from canceller.burn import Burn, Horizon, cluster_burn, cluster_horizon
from canceller.clock import parse_timestamp
from canceller.kinds.base import (
    Clause,
    IncidentLabels,
    Kind,
    Phase,
    Resource,
    StopCall,
    text,
)
from canceller.prices import PriceTable, machine_type

if TYPE_CHECKING:
    from canceller.names import ResourceName, ScopeName

_STATES = frozenset(
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
# The list filter's groups of states (ListClustersRequest.filter).
_GROUPS = {
    "ACTIVE": frozenset({"CREATING", "UPDATING", "RUNNING"}),
    "INACTIVE": frozenset({"DELETING", "ERROR", "STOPPING", "STOPPED"}),
}
_NOT_YET = frozenset({"CREATING", "UPDATING", "STARTING", "REPAIRING"})
GROUP_ROLES = (
    ("masterConfig", "master"),
    ("workerConfig", "worker"),
    ("secondaryWorkerConfig", "secondaryWorker"),
)
_CONFIG_KEY_OF_ROLE = {role: key for key, role in GROUP_ROLES}
_MAX_URI = 1024
_REQUEST_ID_CHARS = 32  # "dpc-" + 32 hex digits: within requestId's 40


def vcpus_of(machine_type_uri: str) -> int | None:
    """The vCPUs of one instance, from its machine type's name (canceller.prices reads
    the names); None when the name does not say (the Compute API would, at a call and a
    permission more per cluster)."""
    machine = machine_type(machine_type_uri)
    return machine.vcpus if machine else None


def request_id(chain: str, name: str, uuid: str, action: str) -> str:
    """The same for every delivery of one request's action on one incarnation, so a
    redelivery or a continuation never makes Dataproc act twice."""
    digest = hashlib.sha256(f"{chain}\n{name}\n{uuid}\n{action}".encode()).hexdigest()
    return "dpc-" + digest[:_REQUEST_ID_CHARS]


class Clusters(Kind):
    name = "cluster"
    plural = "clusters"
    asset_type = "dataproc.googleapis.com/Cluster"
    found_by = ("dataproc.googleapis.com/Cluster",)
    # Dataproc's cluster name rule: a lowercase letter, then lowercase letters, digits and
    # hyphens, no trailing hyphen, at most 51 characters.
    id_pattern = r"[a-z](?:[-a-z0-9]{0,49}[a-z0-9])?"
    stop_verb = "stop"
    stopped_word = "stopped"
    stopping_word = "stopping"
    action = "stop"
    actions: ClassVar[tuple[str, ...]] = ("stop", "delete")
    permission_verbs = ("get", "list", "stop")
    optional_permission_verbs: ClassVar[dict[str, str]] = {"delete": "CLUSTER_DELETE_ALLOWED"}
    quota_buckets: ClassVar[dict[str, str]] = {"stop": "clusterOperation"}
    incident = IncidentLabels("cloud_dataproc_cluster", "region", "cluster_name", "cluster_uuid")
    # Stopping a cluster is a bigger step than cancelling work: a sweep takes clusters
    # only when asked (sweep.kinds, SWEEP_KINDS, or the budget ladder's clusters rung).
    swept_by_default = False
    clears_first: ClassVar[tuple[str, ...]] = ("operations", "jobs")
    filter_fields: ClassVar[dict[str, frozenset[str] | None]] = {
        "status.state": _STATES | frozenset(_GROUPS),
        "clusterName": None,
    }
    state_path = ("status", "state")
    detail_path = ("status", "detail")
    phases: ClassVar[dict[str, Phase]] = {
        "STOPPING": Phase.STOPPING,
        "STOPPED": Phase.STOPPED,
        "DELETING": Phase.ENDED,
    }

    def acting(self, action: str) -> Kind:
        return CLUSTER_DELETION if action == "delete" else self

    def describe(self, resource: Resource) -> dict[str, Any]:
        state: dict[str, Any] = {
            "done": self.phase(resource).final,
            "clusterState": self.state_word(resource),
            "action": self.action,
        }
        if uuid := text(resource.get("clusterUuid")):
            state["clusterUuid"] = uuid
        status = resource.get("status")
        if isinstance(status, dict) and (detail := text(status.get("detail"))):
            state["stateDetails"] = detail
        groups = instance_groups(resource)
        if groups:
            state["instanceGroups"] = groups
            # A group whose machine type's name does not carry its vCPUs has none here:
            # then the total is not given either, and vcpusKnown says so.
            known = all("vcpusPerInstance" in group for group in groups)
            state["vcpusKnown"] = known
            if known:
                state["vcpus"] = sum(g["instances"] * g["vcpusPerInstance"] for g in groups)
        return state

    def uuid(self, resource: Resource) -> str | None:
        return text(resource.get("clusterUuid"))

    def refusal(self, resource: Resource) -> str | None:
        if "virtualClusterConfig" in resource:
            return (
                "it is a Dataproc on GKE cluster (virtualClusterConfig): whether those can be "
                "stopped is not documented, so this function leaves them alone; delete it "
                "with gcloud dataproc clusters delete, or scale its GKE node pools"
            )
        return None

    def can_wait(self, resource: Resource) -> bool:
        return self.state_word(resource) in _NOT_YET

    def refused_because(self, resource: Resource) -> str:
        """What in the cluster's config Dataproc documents as unstoppable, and what would
        stop it instead; empty when nothing there explains the refusal."""
        reasons = []
        config = resource.get("config")
        config = config if isinstance(config, dict) else {}
        secondary = config.get("secondaryWorkerConfig")
        if isinstance(secondary, dict) and _count(secondary.get("numInstances")) > 0:
            reasons.append(f"{_count(secondary.get('numInstances'))} secondary worker(s)")
        for key, role in GROUP_ROLES:
            group = config.get(key)
            if not isinstance(group, dict):
                continue
            disks = group.get("diskConfig")
            ssds = _count(disks.get("numLocalSsds")) if isinstance(disks, dict) else 0
            if ssds:
                reasons.append(f"{ssds} local SSD(s) on each {role}")
            if group.get("instanceFlexibilityPolicy"):
                reasons.append(f"flexible VMs for its {role}s")
        if self.state_word(resource).startswith("ERROR"):
            reasons.append(f"state {self.state_word(resource)}, which bills until deleted")
        if not reasons:
            return ""
        return (
            f"the cluster has {', '.join(reasons)}: Dataproc documents these as not "
            'stoppable; deleting it would stop its cost ({"action": "delete"} with '
            "CLUSTER_DELETE_ALLOWED=true, or gcloud dataproc clusters delete)"
        )

    def stop_call(self, name: ResourceName, resource: Resource, chain: str) -> StopCall:
        uuid = self.uuid(resource) or ""
        body = {"clusterUuid": uuid, "requestId": request_id(chain, name.name, uuid, self.action)}
        return StopCall("POST", f"{name.name}:stop", body)

    def listed_name(self, item: Resource, scope: ScopeName) -> object:
        # A Cluster has no name field: its project, its clusterName and the region it was
        # listed in make one.
        project, cluster = item.get("projectId"), item.get("clusterName")
        if not isinstance(project, str) or not isinstance(cluster, str):
            return None
        return f"projects/{project}/regions/{scope.region}/clusters/{cluster}"

    def server_params(self, clauses: tuple[Clause, ...]) -> dict[str, str]:
        """ListClustersRequest's filter: ``status.state = S AND clusterName = N AND
        labels.K = V``, values unquoted, so only plain ones are sent (the rest is checked
        here anyway). Without a state clause, ACTIVE: stopped clusters are not listed."""
        parts = [
            f"{c.field} = {c.value}"
            for c in clauses
            if self.applies(c) and re.fullmatch(r"[A-Za-z0-9_-]+", c.value)
        ]
        if not any(clause.field == "status.state" for clause in clauses):
            parts.insert(0, "status.state = ACTIVE")
        return {"filter": " AND ".join(parts)}

    def field_value(self, item: Resource, field: str) -> str | None:
        if field == "status.state":
            return self.state_word(item)
        if field == "clusterName":
            return text(item.get("clusterName"))
        return None

    def holds(self, clause: Clause, item: Resource) -> bool:
        if clause.field == "status.state" and clause.value in _GROUPS:
            return self.state_word(item) in _GROUPS[clause.value]
        return super().holds(clause, item)

    def sweepable_item(self, item: Resource) -> bool:
        """A sweep passes GKE clusters by: they are refused anyway."""
        return "virtualClusterConfig" not in item

    def created_at(self, item: Resource) -> datetime | None:
        """Since when it is in its state: for a RUNNING cluster, its RUNNING time, which
        is what a sweep's olderThan means for clusters (a restarted cluster starts again)."""
        status = item.get("status")
        start = status.get("stateStartTime") if isinstance(status, dict) else None
        return parse_timestamp(start) if isinstance(start, str) else None

    def cluster_uuid(self, item: Resource) -> str | None:
        return self.uuid(item)

    def burn(self, resource: Resource, table: PriceTable) -> Burn | None:
        return cluster_burn(resource, table, instance_groups(resource), _CONFIG_KEY_OF_ROLE)

    def horizon(
        self, resource: Resource, now: datetime, period_end: datetime | None = None
    ) -> Horizon | None:
        return cluster_horizon(resource, now, period_end)


class ClusterDeletion(Clusters):
    """The same cluster, deleted rather than stopped: only where CLUSTER_DELETE_ALLOWED.
    Deleting is the one way to stop what a stop cannot (secondary workers, local SSDs,
    an ERROR cluster); a STOPPED cluster is deleted too, since its disks still bill."""

    stopped_word = "deleted"
    stopping_word = "deleting"
    action = "delete"
    phases: ClassVar[dict[str, Phase]] = {"DELETING": Phase.STOPPING, "DELETED": Phase.STOPPED}

    def can_wait(self, resource: Resource) -> bool:
        return self.state_word(resource) in _NOT_YET | {"STOPPING"}

    def refused_because(self, resource: Resource) -> str:
        return ""

    def gone(self, last: Resource) -> Resource | None:
        """GET answers 404 once a delete completes: the cluster as last seen, DELETED."""
        status = last.get("status")
        return {
            **last,
            "status": {**(status if isinstance(status, dict) else {}), "state": "DELETED"},
        }

    def stop_call(self, name: ResourceName, resource: Resource, chain: str) -> StopCall:
        uuid = self.uuid(resource) or ""
        params = {"clusterUuid": uuid, "requestId": request_id(chain, name.name, uuid, "delete")}
        return StopCall("DELETE", name.name, None, params)


def instance_groups(resource: Resource) -> list[dict[str, Any]]:
    """What was running: instances and vCPUs of each instance group (no vCPUs where the
    machine type's name does not say: never a guess)."""
    config = resource.get("config")
    if not isinstance(config, dict):
        return []
    groups = []
    for key, role in GROUP_ROLES:
        group = config.get(key)
        if not isinstance(group, dict) or not _count(group.get("numInstances")):
            continue
        # Whole or not at all: a name clipped mid-number would be a smaller machine.
        raw = group.get("machineTypeUri")
        machine = raw if isinstance(raw, str) and len(raw) <= _MAX_URI else ""
        described: dict[str, Any] = {
            "role": role,
            "instances": _count(group.get("numInstances")),
            "machineType": machine.rsplit("/", 1)[-1] or "unknown",
        }
        vcpus = vcpus_of(machine) if machine else None
        if vcpus is not None:
            described["vcpusPerInstance"] = vcpus
        groups.append(described)
    return groups


_MAX_COUNT = 10_000  # more than any cluster has; keeps a total within the result's int32


def _count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return min(value, _MAX_COUNT)
    return 0


CLUSTERS = Clusters()
CLUSTER_DELETION = ClusterDeletion()
