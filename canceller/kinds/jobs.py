"""Cluster jobs: ``GET``, ``POST NAME:cancel`` (body ``{}``, answers the Job), stopped
when ``status.state`` is CANCELLED.

States and their meaning: JobStatus.StateValueValuesEnum in the Dataproc v1 messages
that ship with the Google Cloud CLI. CANCEL_PENDING and CANCEL_STARTED are a cancel in
progress; ATTEMPT_FAILURE is a failed attempt of a restartable job, which runs again.
A job that cannot be cancelled yet (SETUP_DONE) is refused with FAILED_PRECONDITION
(googleapis/google-cloud-java#3754): the engine keeps trying within the deadline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from canceller.burn import Burn, job_burn
from canceller.clock import parse_timestamp
from canceller.kinds.base import Clause, IncidentLabels, Kind, Phase, Resource, text
from canceller.kinds.clusters import CLUSTERS
from canceller.names import InvalidName, ResourceName, ScopeName, parse_name
from canceller.prices import PriceTable


class Jobs(Kind):
    name = "job"
    plural = "jobs"
    asset_type = "dataproc.googleapis.com/Job"
    found_by = ("dataproc.googleapis.com/Job",)
    # JobReference.jobId: letters, digits, underscores and hyphens, at most 100.
    id_pattern = r"[A-Za-z0-9_-]{1,100}"
    permission_verbs = ("get", "list", "cancel")
    # GetJob and CancelJob have buckets of their own (Dataproc's quota table,
    # https://cloud.google.com/dataproc/docs/resources/quotas).
    quota_buckets: ClassVar[dict[str, str]] = {"read": "getJob", "stop": "jobOperation"}
    incident = IncidentLabels("cloud_dataproc_job", "region", "job_id", "job_uuid")
    stop_body: ClassVar[dict[str, Any] | None] = {}  # CancelJobRequest has no fields
    stop_can_wait = True
    phases: ClassVar[dict[str, Phase]] = {
        "CANCEL_PENDING": Phase.STOPPING,
        "CANCEL_STARTED": Phase.STOPPING,
        "CANCELLED": Phase.STOPPED,
        "DONE": Phase.ENDED,
        "ERROR": Phase.ENDED,
    }
    filter_fields: ClassVar[dict[str, frozenset[str] | None]] = {
        "status.state": frozenset({"ACTIVE", "NON_ACTIVE"}),
        "clusterName": None,
    }
    state_path = ("status", "state")
    detail_path = ("status", "details")
    # ACTIVE lists only jobs not yet finished; a job that drops out is read with GET.
    watch_params: ClassVar[dict[str, str]] = {"jobStateMatcher": "ACTIVE"}

    def describe(self, resource: Resource) -> dict[str, Any]:
        state: dict[str, Any] = {
            "done": self.phase(resource).final,
            "jobState": self.state_word(resource),
        }
        placement = _placement(resource)
        for key, value in (
            ("clusterName", placement.get("clusterName")),
            ("clusterUuid", placement.get("clusterUuid")),
            ("jobUuid", resource.get("jobUuid")),
        ):
            if clipped := text(value):
                state[key] = clipped
        status = resource.get("status")
        if isinstance(status, dict) and (details := text(status.get("details"))):
            state["stateDetails"] = details
        created = self.created_at(resource)
        if created is not None:
            state["createTime"] = created.isoformat().replace("+00:00", "Z")
        return state

    def uuid(self, resource: Resource) -> str | None:
        return text(resource.get("jobUuid"))

    def listed_name(self, item: Resource, scope: ScopeName) -> object:
        # A Job has no name field: its reference and the region it was listed in make one.
        reference = item.get("reference")
        if not isinstance(reference, dict):
            return None
        project, job_id = reference.get("projectId"), reference.get("jobId")
        if not isinstance(project, str) or not isinstance(job_id, str):
            return None
        return f"projects/{project}/regions/{scope.region}/jobs/{job_id}"

    def server_params(self, clauses: tuple[Clause, ...]) -> dict[str, str]:
        """ListJobsRequest takes ``clusterName`` as a parameter and a filter of
        ``status.state = ACTIVE|NON_ACTIVE AND labels.K = V`` (with a filter,
        ``jobStateMatcher`` is ignored). A sweep lists only ACTIVE jobs: a project's job
        history can be many thousands of finished jobs, and listing them all can cost
        more than a message's whole request budget. JobStateMatcher documents ACTIVE as
        "PENDING, RUNNING, or CANCEL_PENDING"; read literally it leaves out SETUP_DONE
        (set up, not yet running, and refused a cancel by Dataproc in that state) and
        ATTEMPT_FAILURE (between two attempts of a restartable job). Both are passing
        states on the way to RUNNING or PENDING, where the next sweep (or the chain's
        next message) finds them. A user's own ``status.state`` clause is sent as given."""
        params: dict[str, str] = {}
        parts = []
        for clause in clauses:
            if clause.field == "clusterName":
                params["clusterName"] = clause.value
            else:
                parts.append(f"{clause.field} = {clause.value}")
        if not any(clause.field == "status.state" for clause in clauses):
            if parts:
                parts.insert(0, "status.state = ACTIVE")
            else:
                params["jobStateMatcher"] = "ACTIVE"
        if parts:
            params["filter"] = " AND ".join(parts)
        return params

    def work_params(
        self, cluster_name: str, label: tuple[str, str] | None = None
    ) -> dict[str, str]:
        """A label's jobs in every state: ACTIVE read literally leaves out SETUP_DONE and
        ATTEMPT_FAILURE jobs, which a cluster's stop fails too; with a filter, the matcher
        is ignored, so the filter names the label and no state."""
        if label is None:
            return super().work_params(cluster_name)
        return {"clusterName": cluster_name, "filter": f"labels.{label[0]} = {label[1]}"}

    def field_value(self, item: Resource, field: str) -> str | None:
        if field == "status.state":
            return "NON_ACTIVE" if self.phase(item).final else "ACTIVE"
        if field == "clusterName":
            return text(_placement(item).get("clusterName"))
        return None

    def created_at(self, item: Resource) -> datetime | None:
        """The submission: the first entry of the status history (oldest first)."""
        history = item.get("statusHistory")
        first = history[0] if isinstance(history, list) and history else item.get("status")
        start = first.get("stateStartTime") if isinstance(first, dict) else None
        return parse_timestamp(start) if isinstance(start, str) else None

    def cluster_uuid(self, item: Resource) -> str | None:
        return text(_placement(item).get("clusterUuid"))

    def burn(self, resource: Resource, table: PriceTable) -> Burn | None:
        return None  # its cluster's, for reference

    def burn_reference(self, name: ResourceName, resource: Resource) -> ResourceName | None:
        cluster = text(_placement(resource).get("clusterName"), 100)
        if cluster is None:
            return None
        try:
            return parse_name(
                CLUSTERS.name, f"projects/{name.project}/regions/{name.location}/clusters/{cluster}"
            )
        except InvalidName:
            return None

    def referenced_burn(self, reference: Burn | None, unread: str) -> Burn:
        return job_burn(reference, unread)


def _placement(resource: Resource) -> dict[str, Any]:
    placement = resource.get("placement")
    return placement if isinstance(placement, dict) else {}


JOBS = Jobs()
