"""Serverless batches, stopped the way ``gcloud dataproc batches cancel`` does: get the
batch, cancel ``batch.operation``; then verified on that operation, and the batch's own
state read at the end and reported beside it.

Batches are swept through their operations (every batch has one), so this kind is
never listed itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from canceller.burn import Burn, Horizon, batch_burn, batch_horizon
from canceller.kinds.base import IncidentLabels, InvalidWork, Kind, Phase, Resource
from canceller.kinds.operations import OPERATIONS
from canceller.names import SERVERLESS_ID, InvalidName, ResourceName, parse_name
from canceller.prices import PriceTable


class Batches(Kind):
    name = "batch"
    plural = "batches"
    asset_type = "dataproc.googleapis.com/Batch"
    found_by = ("dataproc.googleapis.com/Batch",)
    place = "locations"
    result_name_key = "batch"  # results repeat the batch's name beside its operation's
    # batchId: 4-63 lowercase letters, digits and hyphens (dataproc_v1_messages.py);
    # generated IDs are UUIDs, which fit too.
    id_pattern = SERVERLESS_ID
    # Read, and stopped through its operation (operations.cancel); never listed.
    permission_verbs = ("get",)
    incident = IncidentLabels("cloud_dataproc_batch", "location", "batch_id")
    sweepable = False
    phases: ClassVar[dict[str, Phase]] = {
        "CANCELLING": Phase.STOPPING,
        "CANCELLED": Phase.STOPPED,
        "SUCCEEDED": Phase.ENDED,
        "FAILED": Phase.ENDED,
    }

    def ending(self, resource: Resource) -> str:
        return f"the batch is already {self.state_word(resource)}"

    def describe(self, resource: Resource) -> dict[str, Any]:
        state: dict[str, Any] = {
            "done": self.phase(resource).final,
            "batchState": self.state_word(resource),
        }
        if isinstance(resource.get("name"), str):
            state["batch"] = resource["name"][:1024]
        return state

    def burn(self, resource: Resource, table: PriceTable) -> Burn | None:
        return batch_burn(resource, table)

    def horizon(
        self, resource: Resource, now: datetime, period_end: datetime | None = None
    ) -> Horizon | None:
        return batch_horizon(resource, now, period_end)

    def uuid(self, resource: Resource) -> str | None:
        value = resource.get("uuid")
        return value if isinstance(value, str) else None

    def stop_path(self, name: ResourceName, resource: Resource) -> str:
        return f"{self.operation_of(name, resource).name}:cancel"

    def result_operation(self, name: ResourceName, resource: Resource | None) -> str:
        if resource is None:
            return ""
        try:  # only a valid name is echoed (a hostile server's text stays out)
            return self.operation_of(name, resource).name
        except InvalidWork:
            return ""

    def watched(self, name: ResourceName, resource: Resource) -> tuple[Kind, ResourceName]:
        return OPERATIONS, self.operation_of(name, resource)

    def operation_of(self, name: ResourceName, resource: Resource) -> ResourceName:
        try:
            operation = parse_name("operation", resource.get("operation"))
        except InvalidName as invalid:
            raise InvalidWork(
                f"the batch's operation field is not a usable name ({invalid})"
            ) from None
        if operation.project != name.project:
            raise InvalidWork(f"the batch's operation {operation.name} is in another project")
        return operation


BATCHES = Batches()
