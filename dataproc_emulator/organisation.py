"""A fake organisation: the one description behind the emulator's Billing Budgets,
Cloud Billing and Resource Manager answers, and behind the scopes of its Cloud Asset
search.

A budget notification names no projects: the function reads the budget, then the
projects its billing account pays for and where they sit (folders, organisation), then
searches Cloud Asset for Dataproc work under that scope. Tests of that path need all
four APIs to agree with each other and with the Dataproc work the emulator serves, so
they are all answered from this one description plus the emulator's own Dataproc
records (dataproc_emulator/assets.py derives the assets from them).

Loaded with ``POST /_emulator/organisation`` (``EmulatorAdmin.seed_organisation``);
seeding again replaces it whole, ``POST /_emulator/reset`` forgets it. The Dataproc work
in its projects is seeded with the usual seed calls, by project id. The description is
JSON; unknown keys and bad values are a 400 that names them:

    {
      "organization": {"id": "123456789012", "displayName": "example.com"},
      "folders": [
        {"id": "2001", "parent": "organizations/123456789012", "displayName": "team-1",
         "state": "ACTIVE"}                               # state optional, ACTIVE
      ],
      "projects": [
        {"projectId": "org-f1-p1", "number": "300000000001",
         "parent": "folders/2001",                        # or organizations/O; optional
         "billingAccount": "012345-567890-ABCDEF",        # optional: no billing
         "state": "ACTIVE",                               # optional; or DELETE_REQUESTED
         "displayName": "org-f1-p1", "labels": {}}        # optional
      ],
      "billingAccounts": [
        {"id": "012345-567890-ABCDEF", "displayName": "Main", "open": true}
      ],
      "budgets": [
        {"billingAccount": "012345-567890-ABCDEF", "id": "budget-team-1",
         "displayName": "team-1 monthly",
         "budgetFilter": {"resourceAncestors": ["folders/2001"]},   # Budget API's Filter
         "amount": {"specifiedAmount": {"currencyCode": "USD", "units": "1000"}},
         "thresholdRules": [{"thresholdPercent": 0.5}],              # optional
         "notificationsRule": {"pubsubTopic": "projects/p/topics/t",
                               "schemaVersion": "1.0"}}              # optional
      ]
    }

Ids are Google's forms: organisation and folder ids and project numbers are decimal
numbers (a number may be given as a JSON integer), project ids 6-30 lowercase letters,
digits and hyphens starting with a letter, billing accounts ``XXXXXX-XXXXXX-XXXXXX``
(hexadecimal, upper case). A folder's parent is the organisation or a folder described
before or after it (no cycles); a project without a parent belongs to no organisation,
so no folder or organisation scope reaches it. A budget's ``budgetFilter.projects``
holds ``projects/{number}`` (the form the Budget API answers with), its
``resourceAncestors`` ``folders/{id}`` or ``organizations/{id}``.

``dataproc_emulator.fake_org.fake_organisation(...)`` builds one for tests, benchmarks
and demos.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import invalid
from .seeds import json_object

NUMBER = re.compile(r"[1-9][0-9]{0,18}")  # an int64 in decimal: org and folder ids, numbers
PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
BILLING_ACCOUNT_ID = re.compile(r"[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}")
BUDGET_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # real ones are UUIDs; any such word here
STATES = frozenset({"ACTIVE", "DELETE_REQUESTED"})  # Project.state and Folder.state
ANCESTOR = re.compile(r"(folders|organizations)/([1-9][0-9]{0,18})")

_TOP_KEYS = frozenset({"organization", "folders", "projects", "billingAccounts", "budgets"})
_ORG_KEYS = frozenset({"id", "displayName"})
_FOLDER_KEYS = frozenset({"id", "parent", "displayName", "state"})
_PROJECT_KEYS = frozenset(
    {"projectId", "number", "parent", "billingAccount", "state", "displayName", "labels"}
)
_ACCOUNT_KEYS = frozenset({"id", "displayName", "open"})
_BUDGET_KEYS = frozenset(
    {
        "billingAccount",
        "id",
        "displayName",
        "budgetFilter",
        "amount",
        "thresholdRules",
        "notificationsRule",
    }
)
# GoogleCloudBillingBudgetsV1Filter's fields (billingbudgets.v1.json) and its enums.
_FILTER_KEYS = frozenset(
    {
        "projects",
        "resourceAncestors",
        "labels",
        "services",
        "subaccounts",
        "creditTypes",
        "creditTypesTreatment",
        "calendarPeriod",
        "customPeriod",
    }
)
_CREDIT_TREATMENTS = frozenset(
    {"INCLUDE_ALL_CREDITS", "EXCLUDE_ALL_CREDITS", "INCLUDE_SPECIFIED_CREDITS"}
)
_PERIODS = frozenset({"MONTH", "QUARTER", "YEAR"})
_SPEND_BASES = frozenset({"CURRENT_SPEND", "FORECASTED_SPEND"})
_NOTIFICATION_KEYS = frozenset(
    {
        "pubsubTopic",
        "schemaVersion",
        "monitoringNotificationChannels",
        "disableDefaultIamRecipients",
        "enableProjectLevelRecipients",
    }
)
# Assumed: what a budget made without these shows (the console's defaults).
_DEFAULT_THRESHOLDS = (0.5, 0.9, 1.0)


@dataclass(frozen=True)
class Folder:
    id: str
    parent: str  # organizations/O or folders/F
    display_name: str
    state: str

    @property
    def name(self) -> str:
        return f"folders/{self.id}"


@dataclass(frozen=True)
class Project:
    project_id: str
    number: str
    parent: str | None
    billing_account: str | None
    state: str
    display_name: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class BillingAccount:
    id: str
    display_name: str
    open: bool


@dataclass(frozen=True)
class Organisation:
    """The parsed description; immutable, so handlers read it without the state's lock."""

    id: str
    display_name: str
    folders: Mapping[str, Folder]  # by id
    projects: tuple[Project, ...]  # in description order
    billing_accounts: Mapping[str, BillingAccount]  # by id
    budgets: Mapping[tuple[str, str], dict[str, Any]]  # (account, id) -> the Budget served

    @property
    def name(self) -> str:
        return f"organizations/{self.id}"

    def project(self, key: str) -> Project | None:
        """By project id or by number, as Resource Manager and Cloud Asset take either."""
        return next((p for p in self.projects if key in (p.project_id, p.number)), None)

    def ancestors(self, parent: str | None) -> tuple[list[str], str | None]:
        """The folders above ``parent`` (itself included when it is a folder), nearest
        first, and the organisation at the top, if any."""
        folders: list[str] = []
        while parent is not None and parent.startswith("folders/"):
            folders.append(parent)
            parent = self.folders[parent.removeprefix("folders/")].parent
        return folders, parent

    def contains(self, scope: str, project: Project) -> bool:
        """Whether ``project`` is ``scope`` (projects/ID or NUMBER) or under it."""
        if scope.startswith("projects/"):
            return self.project(scope.removeprefix("projects/")) == project
        folders, organisation = self.ancestors(project.parent)
        return scope in folders or scope == organisation

    def knows(self, name: str) -> bool:
        """Whether ``name`` (organizations/O or folders/F) is described."""
        kind, _, key = name.partition("/")
        return name == self.name if kind == "organizations" else key in self.folders


# Before any description is seeded: nothing is described, so everything is unknown.
EMPTY = Organisation(
    id="", display_name="", folders={}, projects=(), billing_accounts={}, budgets={}
)


def organisation_from_description(description: Any) -> Organisation:
    """Parse and check a description; every problem is a 400 naming it."""
    body = json_object(description, "the organisation description", _TOP_KEYS)
    org = json_object(body.get("organization"), "organization", _ORG_KEYS)
    org_id = _number(org.get("id"), "organization.id")
    folders = _folders(_list(body, "folders"), f"organizations/{org_id}")
    accounts = _accounts(_list(body, "billingAccounts"))
    projects = _projects(_list(body, "projects"), org_id, folders, accounts)
    budgets = _budgets(_list(body, "budgets"), accounts)
    return Organisation(
        id=org_id,
        display_name=_text(org, "displayName", "example.com"),
        folders=folders,
        projects=projects,
        billing_accounts=accounts,
        budgets=budgets,
    )


def _folders(entries: list[Any], organisation: str) -> dict[str, Folder]:
    folders: dict[str, Folder] = {}
    for index, entry in enumerate(entries):
        where = f"folders[{index}]"
        raw = json_object(entry, where, _FOLDER_KEYS)
        folder_id = _number(raw.get("id"), f"{where}.id")
        if folder_id in folders:
            raise invalid(f"{where}: folder {folder_id} is described twice")
        folders[folder_id] = Folder(
            id=folder_id,
            parent=_text(raw, "parent", None, where),
            display_name=_text(raw, "displayName", f"folder-{folder_id}", where),
            state=_state(raw, where),
        )
    for folder in folders.values():
        seen = {folder.id}
        parent = folder.parent
        while parent != organisation:
            match = ANCESTOR.fullmatch(parent)
            if match is None or match[1] != "folders" or match[2] not in folders:
                raise invalid(
                    f"folder {folder.id}: parent {parent!r} is neither {organisation} nor a "
                    "described folder"
                )
            if match[2] in seen:
                raise invalid(f"folder {folder.id}: its parents form a cycle")
            seen.add(match[2])
            parent = folders[match[2]].parent
    return folders


def _accounts(entries: list[Any]) -> dict[str, BillingAccount]:
    accounts: dict[str, BillingAccount] = {}
    for index, entry in enumerate(entries):
        where = f"billingAccounts[{index}]"
        raw = json_object(entry, where, _ACCOUNT_KEYS)
        account_id = raw.get("id")
        if not isinstance(account_id, str) or not BILLING_ACCOUNT_ID.fullmatch(account_id):
            raise invalid(f"{where}.id={account_id!r}: expected XXXXXX-XXXXXX-XXXXXX (hex)")
        if account_id in accounts:
            raise invalid(f"{where}: billing account {account_id} is described twice")
        is_open = raw.get("open", True)
        if not isinstance(is_open, bool):
            raise invalid(f"{where}.open must be true or false")
        accounts[account_id] = BillingAccount(
            account_id, _text(raw, "displayName", "Billing account", where), is_open
        )
    return accounts


def _projects(
    entries: list[Any],
    org_id: str,
    folders: Mapping[str, Folder],
    accounts: Mapping[str, BillingAccount],
) -> tuple[Project, ...]:
    projects: list[Project] = []
    for index, entry in enumerate(entries):
        where = f"projects[{index}]"
        raw = json_object(entry, where, _PROJECT_KEYS)
        project_id = raw.get("projectId")
        if not isinstance(project_id, str) or not PROJECT_ID.fullmatch(project_id):
            raise invalid(f"{where}.projectId={project_id!r}: not a project id")
        number = _number(raw.get("number"), f"{where}.number")
        if any(number == p.number or project_id == p.project_id for p in projects):
            raise invalid(f"{where}: project {project_id} ({number}) is described twice")
        parent = raw.get("parent")
        if parent is not None:
            match = ANCESTOR.fullmatch(parent) if isinstance(parent, str) else None
            known = match is not None and (
                match[2] in folders if match[1] == "folders" else match[2] == org_id
            )
            if not known:
                raise invalid(f"{where}.parent={parent!r}: not a described folder or the org")
        account = raw.get("billingAccount")
        if account is not None and account not in accounts:
            raise invalid(f"{where}.billingAccount={account!r}: not a described account")
        labels = json_object(raw.get("labels", {}), f"{where}.labels")
        if not all(isinstance(value, str) for value in labels.values()):
            raise invalid(f"{where}.labels values must be strings")
        projects.append(
            Project(
                project_id=project_id,
                number=number,
                parent=parent,
                billing_account=account,
                state=_state(raw, where),
                display_name=_text(raw, "displayName", project_id, where),
                labels=dict(labels),
            )
        )
    return tuple(projects)


def _budgets(
    entries: list[Any], accounts: Mapping[str, BillingAccount]
) -> dict[tuple[str, str], dict[str, Any]]:
    budgets: dict[tuple[str, str], dict[str, Any]] = {}
    for index, entry in enumerate(entries):
        where = f"budgets[{index}]"
        raw = json_object(entry, where, _BUDGET_KEYS)
        account, budget_id = raw.get("billingAccount"), raw.get("id")
        if not isinstance(account, str) or account not in accounts:
            raise invalid(f"{where}.billingAccount={account!r}: not a described account")
        if not isinstance(budget_id, str) or not BUDGET_ID.fullmatch(budget_id):
            raise invalid(f"{where}.id={budget_id!r}: expected letters, digits, - or _")
        if (account, budget_id) in budgets:
            raise invalid(f"{where}: budget {budget_id} is described twice")
        budget: dict[str, Any] = {
            "name": f"billingAccounts/{account}/budgets/{budget_id}",
            "displayName": _text(raw, "displayName", budget_id, where),
            "budgetFilter": _budget_filter(raw.get("budgetFilter", {}), f"{where}.budgetFilter"),
            "amount": _amount(raw.get("amount"), f"{where}.amount"),
            "thresholdRules": _thresholds(raw.get("thresholdRules"), f"{where}.thresholdRules"),
        }
        if "notificationsRule" in raw:
            what = f"{where}.notificationsRule"
            budget["notificationsRule"] = dict(
                json_object(raw["notificationsRule"], what, _NOTIFICATION_KEYS)
            )
        digest = hashlib.sha256(json.dumps(budget, sort_keys=True).encode()).hexdigest()
        budget["etag"] = digest[:16]
        budgets[(account, budget_id)] = budget
    return budgets


def _budget_filter(value: Any, where: str) -> dict[str, Any]:
    """The Filter as the Budget API answers it: as given, with the credit treatment and
    the calendar period a budget made without them shows (assumed: the console's
    INCLUDE_ALL_CREDITS and MONTH)."""
    raw = dict(json_object(value, where, _FILTER_KEYS))
    for key in ("projects", "resourceAncestors", "services", "subaccounts", "creditTypes"):
        if key in raw and not _strings(raw[key]):
            raise invalid(f"{where}.{key} must be a list of strings")
    for project in raw.get("projects", []):
        if not re.fullmatch(r"projects/[1-9][0-9]{0,18}", project):
            raise invalid(f"{where}.projects: {project!r} is not projects/{{number}}")
    for ancestor in raw.get("resourceAncestors", []):
        if not ANCESTOR.fullmatch(ancestor):
            raise invalid(f"{where}.resourceAncestors: {ancestor!r} is not folders/F or orgs/O")
    if "labels" in raw:
        json_object(raw["labels"], f"{where}.labels")
    if "customPeriod" in raw:
        json_object(raw["customPeriod"], f"{where}.customPeriod")
        if "calendarPeriod" in raw:
            raise invalid(f"{where}: calendarPeriod and customPeriod exclude each other")
    else:
        raw["calendarPeriod"] = _choice(raw, "calendarPeriod", _PERIODS, "MONTH", where)
    treatment = "INCLUDE_ALL_CREDITS"
    raw["creditTypesTreatment"] = _choice(
        raw, "creditTypesTreatment", _CREDIT_TREATMENTS, treatment, where
    )
    return raw


def _amount(value: Any, where: str) -> dict[str, Any]:
    amount = json_object(value, where, frozenset({"specifiedAmount", "lastPeriodAmount"}))
    if len(amount) != 1:
        raise invalid(f"{where} needs exactly one of specifiedAmount or lastPeriodAmount")
    if "lastPeriodAmount" in amount:
        return {
            "lastPeriodAmount": dict(json_object(amount["lastPeriodAmount"], where, frozenset()))
        }
    keys = frozenset({"currencyCode", "units", "nanos"})
    money = dict(json_object(amount["specifiedAmount"], f"{where}.specifiedAmount", keys))
    units = money.get("units", "0")
    if isinstance(units, bool) or not re.fullmatch(r"-?[0-9]{1,19}", str(units)):
        raise invalid(f"{where}.specifiedAmount.units={units!r}: expected an int64")
    money["units"] = str(units)  # int64 is a string in proto3 JSON
    nanos = money.get("nanos", 0)
    if isinstance(nanos, bool) or not isinstance(nanos, int) or abs(nanos) > 999_999_999:
        raise invalid(f"{where}.specifiedAmount.nanos={nanos!r}: expected |nanos| < 10^9")
    if not nanos:
        money.pop("nanos", None)  # proto3 JSON leaves out zero
    return {"specifiedAmount": money}


def _thresholds(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return [{"thresholdPercent": percent} for percent in _DEFAULT_THRESHOLDS]
    if not isinstance(value, list):
        raise invalid(f"{where} must be a list")
    rules = []
    for index, entry in enumerate(value):
        keys = frozenset({"thresholdPercent", "spendBasis"})
        rule = dict(json_object(entry, f"{where}[{index}]", keys))
        percent = rule.get("thresholdPercent")
        if isinstance(percent, bool) or not isinstance(percent, int | float) or percent < 0:
            raise invalid(f"{where}[{index}].thresholdPercent must be a number >= 0")
        if "spendBasis" in rule:
            _choice(rule, "spendBasis", _SPEND_BASES, None, f"{where}[{index}]")
        rules.append(rule)
    return rules


# ---- small checks ------------------------------------------------------------------------


def _list(body: Mapping[str, Any], key: str) -> list[Any]:
    value = body.get(key, [])
    if not isinstance(value, list):
        raise invalid(f"{key} must be a list")
    return value


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _number(value: Any, what: str) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not NUMBER.fullmatch(text):
        raise invalid(f"{what}={value!r}: expected a decimal number (no leading zero)")
    return text


def _text(raw: Mapping[str, Any], key: str, default: str | None, where: str = "") -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise invalid(f"{where + '.' if where else ''}{key}={value!r}: expected a string")
    return value


def _state(raw: Mapping[str, Any], where: str) -> str:
    return str(_choice(raw, "state", STATES, "ACTIVE", where))


def _choice(
    raw: Mapping[str, Any], key: str, allowed: frozenset[str], default: str | None, where: str
) -> Any:
    value = raw.get(key, default)
    if value not in allowed:
        raise invalid(f"{where}.{key}={value!r}: expected one of {sorted(allowed)}")
    return value
