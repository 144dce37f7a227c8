"""Cloud Billing budget notifications and Cloud Monitoring incidents, as our users receive them.

Neither names the work, so each is turned into work we know how to do: a budget over
its threshold becomes a sweep of SWEEP_SCOPES; an open incident on a Dataproc batch,
job or session becomes that one's stop, on a cluster a sweep of the cluster's running
jobs and operations. Payload shapes: Cloud Billing's
https://cloud.google.com/billing/docs/how-to/budgets-programmatic-notifications and Cloud
Monitoring's Pub/Sub channel,
https://cloud.google.com/monitoring/support/notification-options#pubsub.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from canceller.clock import read_timestamp

BUDGET_ATTRIBUTES = ("billingAccountId", "budgetId", "schemaVersion")
# A notification holds exactly what its publisher sends (the data fields of Cloud
# Billing's "Manage programmatic budget alert notifications" page,
# https://cloud.google.com/billing/docs/how-to/budgets-programmatic-notifications, and
# the top level of a Monitoring incident, on the Pub/Sub channel's page above). Anything
# else, a work key or a dryRun above all, would be silently dropped if read leniently:
# it is refused, so nobody can believe it was obeyed.
BUDGET_FIELDS = frozenset(
    {
        "budgetDisplayName",
        "costAmount",
        "costIntervalStart",
        "budgetAmount",
        "budgetAmountType",
        "currencyCode",
        "alertThresholdExceeded",
        "forecastThresholdExceeded",
    }
)
INCIDENT_FIELDS = frozenset({"version", "incident"})
# Ranges of a budget's numbers: amounts in its currency; thresholds as fractions of the
# budget (1.0 is 100 %). Anything outside is not a notification Billing sends.
MAX_BUDGET_AMOUNT = 1e15
MAX_THRESHOLD = 1000.0


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
    # costIntervalStart: the start of the budget's current period; None when absent or
    # not a timestamp (it only dates savedUpTo's horizon, never decides an action).
    interval_start: datetime | None = None

    @property
    def ratio(self) -> float | None:
        """How far the budget is spent: ``costAmount / budgetAmount`` or Billing's own
        ``alertThresholdExceeded``, whichever is higher. A budget of 0 (a "last period's
        amount" budget on a new account) compares nothing: only Billing's word counts
        then, and with neither there is no ratio and no rung is reached."""
        ratios = [self.cost / self.budget] if self.budget > 0 else []
        if self.alert_threshold_exceeded is not None:
            ratios.append(self.alert_threshold_exceeded)
        return max(ratios) if ratios else None

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
    """Every number must be finite and in range, the unused forecast too: a cost of
    1e308 or a threshold of -5 is a forgery or a defect, and must not decide a sweep."""
    if not isinstance(document, dict):
        raise InvalidAlert("a budget notification's data must be a JSON object")
    if extra := sorted(set(attributes) - set(BUDGET_ATTRIBUTES)):
        raise InvalidAlert(
            f"a budget notification carries only the attributes {', '.join(BUDGET_ATTRIBUTES)}; "
            f"this one also has {', '.join(key[:64] for key in extra[:5])}"
        )
    if extra := sorted(set(document) - BUDGET_FIELDS):
        raise InvalidAlert(
            "a budget notification holds only the fields Cloud Billing sends; this one also "
            f"has {', '.join(key[:64] for key in extra[:5])}, which would be ignored: refused"
        )
    if "forecastThresholdExceeded" in document:
        _amount(document, "forecastThresholdExceeded", MAX_THRESHOLD)
    return BudgetNotice(
        billing_account_id=attributes["billingAccountId"],
        budget_id=attributes["budgetId"],
        display_name=str(document.get("budgetDisplayName", "")),
        cost=_amount(document, "costAmount", MAX_BUDGET_AMOUNT),
        budget=_amount(document, "budgetAmount", MAX_BUDGET_AMOUNT),
        currency=str(document.get("currencyCode", "")),
        alert_threshold_exceeded=(
            _amount(document, "alertThresholdExceeded", MAX_THRESHOLD)
            if "alertThresholdExceeded" in document
            else None
        ),
        interval_start=read_timestamp(document.get("costIntervalStart")),
    )


def is_incident(document: object) -> bool:
    return isinstance(document, dict) and isinstance(document.get("incident"), dict)


def parse_incident(document: Mapping[str, Any]) -> IncidentNotice:
    """Raises only ``InvalidAlert``. Only the fields we act on are read, and each must be
    text (or absent): converting any other value could raise or invent a label, and
    the rest (``started_at``, ``ended_at``: integers or null) is never read."""
    if extra := sorted(set(document) - INCIDENT_FIELDS):
        raise InvalidAlert(
            "an incident notification holds only version and incident; this one also has "
            f"{', '.join(key[:64] for key in extra[:5])}, which would be ignored: refused"
        )
    if not isinstance(document.get("version", ""), str):
        raise InvalidAlert("an incident notification's version must be text")
    incident = document.get("incident")
    if not isinstance(incident, dict):
        raise InvalidAlert("an incident notification's incident must be a JSON object")
    resource = incident.get("resource")
    resource = resource if isinstance(resource, dict) else {}
    labels = resource.get("labels")
    labels = labels if isinstance(labels, dict) else {}
    state = incident.get("state")
    if not isinstance(state, str) or state.lower() not in ("open", "closed"):
        raise InvalidAlert("an incident's state must be 'open' or 'closed'")
    return IncidentNotice(
        incident_id=_text(incident, "incident_id", "incident."),
        policy_name=_text(incident, "policy_name", "incident."),
        state=state,
        resource_type=_text(resource, "type", "incident.resource.")
        or _text(incident, "resource_type_display_name", "incident."),
        resource_labels={key: _text(labels, key, "incident.resource.labels.") for key in labels},
    )


def _amount(document: Mapping[str, Any], key: str, maximum: float) -> float:
    """A finite number from 0 to ``maximum`` (compared before float(): a huge int would
    overflow); the value is not echoed, the message text already is."""
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= maximum:
        raise InvalidAlert(f"a budget notification's {key} must be a number from 0 to {maximum:g}")
    return float(value)


def _text(fields: Mapping[str, Any], key: str, path: str) -> str:
    """Text, or "" if absent or null; any other value is refused, not converted."""
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidAlert(f"{path}{key[:64]} must be text, got {type(value).__name__}")
    return value
