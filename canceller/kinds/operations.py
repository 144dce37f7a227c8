"""Long-running operations: ``GET``, ``POST NAME:cancel``, stopped when ``done`` with
``error.code == 1``.

Cancel is asynchronous and best effort (Google's operations.cancel page,
https://cloud.google.com/dataproc/docs/reference/rest/v1/projects.regions.operations/cancel):
only ``done`` with ``error.code == 1`` (google.rpc.Code.CANCELLED) proves a cancellation;
anything else that is done finished despite the request. proto3 JSON omits false booleans, so a
running operation has no ``done`` at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from canceller.burn import Burn, operation_burn
from canceller.clock import parse_timestamp
from canceller.kinds.base import Clause, Kind, Phase, Resource, text
from canceller.names import ResourceName
from canceller.prices import PriceTable

CANCELLED_CODE = 1  # google.rpc.Code.CANCELLED
_METADATA_PREFIX = "type.googleapis.com/google.cloud.dataproc.v1."
# The operation metadata types whose message has a ``labels`` field (dataproc_v1_messages.py
# of the Google Cloud CLI; tests/unit/test_kind_descriptions.py holds this equal to it):
# only on these can a sweep see EXEMPT_LABEL. WorkflowMetadata and JobMetadata have none.
LABELLED_METADATA = frozenset(
    {
        "AnalyzeOperationMetadata",
        "BatchOperationMetadata",
        "ClusterOperationMetadata",
        "NodeGroupOperationMetadata",
        "SessionOperationMetadata",
    }
)
_METADATA_FIELDS = ("operationType", "batch", "clusterName", "clusterUuid", "description")


class Operations(Kind):
    name = "operation"
    plural = "operations"
    # Not an asset: a running operation belongs to a batch or a cluster (its creation,
    # update, stop), both of which are.
    found_by = ("dataproc.googleapis.com/Batch", "dataproc.googleapis.com/Cluster")
    # Server-made; 1-128 URL-safe characters covers every one seen.
    id_pattern = r"[A-Za-z0-9_-]{1,128}"
    aliases = ("name",)  # the original message form: {"name": OPERATION}
    permission_verbs = ("get", "list", "cancel")
    filter_fields: ClassVar[dict[str, frozenset[str] | None]] = {
        "status.state": frozenset({"PENDING", "ACTIVE", "DONE"}),
        "clusterName": None,
        "operationType": None,
    }
    # Unfiltered: a listing shows done operations with their error, which settles them
    # without a GET (whether the server honours status.state for batch operations is
    # unconfirmed: gcloud's `dataproc operations list` page documents the filter,
    # https://cloud.google.com/sdk/gcloud/reference/dataproc/operations/list, not which
    # operation types honour it).
    watch_params: ClassVar[dict[str, str]] = {}

    def phase(self, resource: Resource) -> Phase:
        if resource.get("done") is not True:
            return Phase.RUNNING
        error = resource.get("error")
        cancelled = isinstance(error, dict) and error.get("code") == CANCELLED_CODE
        return Phase.STOPPED if cancelled else Phase.ENDED

    def state_word(self, resource: Resource) -> str:
        return "done" if resource.get("done") is True else "running"

    def ending(self, resource: Resource) -> str:
        error = resource.get("error")
        if self.phase(resource) is Phase.STOPPED:
            return "the operation is done with error code 1 (CANCELLED)"
        if isinstance(error, dict):
            return f"ended with error code {error.get('code')} ({error.get('message', '')})"
        return "completed successfully"

    def describe(self, resource: Resource) -> dict[str, Any]:
        state: dict[str, Any] = {"done": resource.get("done") is True}
        error = resource.get("error")
        if isinstance(error, dict):
            if isinstance(error.get("code"), int) and not isinstance(error["code"], bool):
                state["errorCode"] = error["code"]
            if message := text(str(error.get("message") or "")):
                state["errorMessage"] = message
        if "response" in resource:
            state["hasResponse"] = True
        metadata = _metadata(resource)
        if type_url := text(metadata.get("@type")):
            state["metadataType"] = type_url.removeprefix(_METADATA_PREFIX)
        for key in _METADATA_FIELDS:
            if value := text(metadata.get(key)):
                state[key] = value
        if created := _created_text(metadata):
            state["createTime"] = created
        return state

    def result_operation(self, name: ResourceName, resource: Resource | None) -> str:
        return name.name

    def sweepable_item(self, item: Resource) -> bool:
        """Only an operation whose metadata type carries labels (``LABELLED_METADATA``):
        anything else cannot be checked for EXEMPT_LABEL, so sweeping it would fail open.
        Workflow and job operations have no labels, and cancelling a workflow cancels its
        jobs, exempt ones too (shared reference): they are left to the jobs kind, which
        judges each job by its own labels. An operation with no metadata type, or one
        Dataproc adds later, is left alone until it is added here. A name given directly
        still stops any of them."""
        type_url = _metadata(item).get("@type")
        return (
            isinstance(type_url, str)
            and type_url.startswith(_METADATA_PREFIX)
            and type_url.removeprefix(_METADATA_PREFIX) in LABELLED_METADATA
        )

    def server_params(self, clauses: tuple[Clause, ...]) -> dict[str, str]:
        sent = [clause for clause in clauses if self.applies(clause)]
        return {"filter": " AND ".join(f'{c.field} = "{c.value}"' for c in sent)} if sent else {}

    def field_value(self, item: Resource, field: str) -> str | None:
        metadata = _metadata(item)
        if field == "status.state":
            if item.get("done") is True:
                return "DONE"
            status = metadata.get("status")
            pending = isinstance(status, dict) and status.get("state") == "PENDING"
            return "PENDING" if pending else "ACTIVE"
        value = metadata.get(field)
        return value if isinstance(value, str) else None

    def labels(self, item: Resource) -> dict[str, str]:
        labels = _metadata(item).get("labels")
        return labels if isinstance(labels, dict) else {}

    def created_at(self, item: Resource) -> datetime | None:
        created = _created_text(_metadata(item))
        return parse_timestamp(created) if created else None

    def cluster_uuid(self, item: Resource) -> str | None:
        return text(_metadata(item).get("clusterUuid"))

    def burn(self, resource: Resource, table: PriceTable) -> Burn | None:
        return operation_burn(table)

    def operation_type(self, item: Resource) -> str | None:
        return text(_metadata(item).get("operationType"))


def _metadata(resource: Resource) -> dict[str, Any]:
    metadata = resource.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _created_text(metadata: dict[str, Any]) -> str:
    """Batch operations carry createTime; cluster operations only a status history, whose
    first state start is the closest thing."""
    created = metadata.get("createTime")
    if isinstance(created, str):
        return created
    history = metadata.get("statusHistory")
    first = history[0] if isinstance(history, list) and history else metadata.get("status")
    start = first.get("stateStartTime") if isinstance(first, dict) else None
    return start if isinstance(start, str) else ""


OPERATIONS = Operations()
