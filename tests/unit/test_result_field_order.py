"""The order of a result's fields is part of what is published: consumers that compare
messages byte for byte (or hash them) see the same text for the same answer."""

from __future__ import annotations

from datetime import UTC, datetime

from canceller.burn import Burn, Money
from canceller.names import ResourceName
from canceller.results import Outcome, Provenance, Result
from canceller.trigger_info import TriggerInfo

STARTED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
INFO = TriggerInfo(
    "m-1", "2026-12-01T09:59:00Z", "//test", kind="budget", reason="why", request_id="r-1"
)
EVERY_PROVENANCE = Provenance(
    budget={"budgetId": "b"},
    rung={"action": "work"},
    incident={"incidentId": "i"},
    sweep={"id": "s"},
)
OPERATION = ResourceName("operation", "p", "us-central1", "op-1")


def test_every_field_of_a_result_in_its_published_order() -> None:
    result = Result(
        Outcome.CANCELLED,
        OPERATION.name,
        "cancelled",
        INFO,
        STARTED,
        kind="operation",
        name=OPERATION,
        operation=OPERATION.name,
        state={"done": True, "batch": "projects/p/locations/us-central1/batches/b"},
        error={"code": 9},
        provenance=EVERY_PROVENANCE,
        cleared_for="projects/p/regions/us-central1/clusters/c",
        finished_at=STARTED,
        burn=Burn(1.0, None, "list"),
        money=Money(1, 1, 1.0, 0, 0.0, "list"),
    )
    assert list(result.to_message()) == [
        *("schemaVersion", "outcome", "kind", "target", "operation", "detail", "dedupeKey"),
        *("trigger", "dryRun", "startedAt", "finishedAt", "elapsedSeconds"),
        *("project", "region", "operationId", "state", "batch", "error", "burn", "money"),
        *("reason", "requestId", "budget", "rung", "incident", "sweep", "clearedFor"),
    ]
    assert list(result.to_message()["trigger"]) == [
        "messageId", "kind", "chain", "publishTime", "source"
    ]  # fmt: skip


def test_a_result_naming_no_work_carries_its_project_after_the_sweep() -> None:
    summary = Result(
        Outcome.SWEEP_SUMMARY, "", "swept", INFO, STARTED, provenance=EVERY_PROVENANCE, project="p"
    )
    message = summary.to_message()
    assert list(message)[-6:] == ["requestId", "budget", "rung", "incident", "sweep", "project"]
    assert (message["project"], summary.attributes()["project"]) == ("p", "p")
    assert "project" not in Result(Outcome.SWEEP_SUMMARY, "", "", INFO, STARTED).to_message()
