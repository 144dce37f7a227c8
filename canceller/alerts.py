"""Cloud Billing budget notifications and Cloud Monitoring incidents, as our users receive them.

Neither names an operation, so each is turned into work we know how to do: a budget
over its threshold becomes a sweep of SWEEP_SCOPES; an open incident on a Dataproc
batch becomes that batch's cancellation, on a cluster a sweep of the cluster's
running operations. Payload shapes: shared/reference/google-apis.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BUDGET_ATTRIBUTES = ("billingAccountId", "budgetId", "schemaVersion")
BATCH_RESOURCE = "cloud_dataproc_batch"
CLUSTER_RESOURCE = "cloud_dataproc_cluster"


class InvalidAlert(ValueError):
    """The payload looks like an alert but lacks what we need to act on it."""


@dataclass(frozen=True)
class BudgetNotice:
    billing_account_id: str
    budget_id: str
    display_name: str
    cost: float
    budget: float
    currency: str
    alert_threshold_exceeded: float | None

    def over(self, threshold: float) -> bool:
        """Act at cost >= budget x threshold, or once Billing says the threshold was crossed."""
        crossed = self.alert_threshold_exceeded
        return self.cost >= self.budget * threshold or (
            crossed is not None and crossed >= threshold
        )

    def fields(self) -> dict[str, Any]:
        """The result's ``budget`` object."""
        fields: dict[str, Any] = {
            "billingAccountId": self.billing_account_id,
            "budgetId": self.budget_id,
            "displayName": self.display_name,
            "costAmount": self.cost,
            "budgetAmount": self.budget,
            "currencyCode": self.currency,
        }
        if self.alert_threshold_exceeded is not None:
            fields["alertThresholdExceeded"] = self.alert_threshold_exceeded
        return fields


@dataclass(frozen=True)
class IncidentNotice:
    incident_id: str
    policy_name: str
    state: str  # "open" or "closed" (samples also show upper case)
    resource_type: str
    resource_labels: Mapping[str, str]

    @property
    def is_open(self) -> bool:
        return self.state.lower() == "open"

    def fields(self) -> dict[str, str]:
        """The result's ``incident`` object."""
        return {
            "incidentId": self.incident_id,
            "policyName": self.policy_name,
            "state": self.state,
            "resourceType": self.resource_type,
        }


def is_budget_notification(attributes: Mapping[str, str]) -> bool:
    return all(key in attributes for key in BUDGET_ATTRIBUTES)


def parse_budget(attributes: Mapping[str, str], document: object) -> BudgetNotice:
    if not isinstance(document, dict):
        raise InvalidAlert("a budget notification's data must be a JSON object")
    return BudgetNotice(
        billing_account_id=attributes["billingAccountId"],
        budget_id=attributes["budgetId"],
        display_name=str(document.get("budgetDisplayName", "")),
        cost=_amount(document, "costAmount"),
        budget=_amount(document, "budgetAmount"),
        currency=str(document.get("currencyCode", "")),
        alert_threshold_exceeded=(
            _amount(document, "alertThresholdExceeded")
            if "alertThresholdExceeded" in document
            else None
        ),
    )


def is_incident(document: object) -> bool:
    return isinstance(document, dict) and isinstance(document.get("incident"), dict)


def parse_incident(document: Mapping[str, Any]) -> IncidentNotice:
    incident = document["incident"]
    resource = incident.get("resource")
    resource = resource if isinstance(resource, dict) else {}
    labels = resource.get("labels")
    state = incident.get("state")
    if not isinstance(state, str) or state.lower() not in ("open", "closed"):
        raise InvalidAlert("an incident's state must be 'open' or 'closed'")
    return IncidentNotice(
        incident_id=str(incident.get("incident_id", "")),
        policy_name=str(incident.get("policy_name", "")),
        state=state,
        resource_type=str(resource.get("type") or incident.get("resource_type_display_name", "")),
        resource_labels={str(k): str(v) for k, v in labels.items()}
        if isinstance(labels, dict)
        else {},
    )


def _amount(document: Mapping[str, Any], key: str) -> float:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidAlert(f"a budget notification needs a numeric {key}, got {value!r}")
    return float(value)
