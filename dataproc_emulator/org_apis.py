"""Billing Budgets v1, Cloud Billing v1 and Resource Manager v3, answered from the
organisation description (dataproc_emulator/organisation.py).

Shapes and parameters are those of Google's discovery documents (billingbudgets.v1,
cloudbilling.v1, cloudresourcemanager.v3), which tests/emulator/test_org_emulator_wire.py holds
every answer to. What the documents leave open is marked "assumed" where it is decided:
the error wording, page sizes Google does not state, and the defaults a budget shows.

Errors: a budget that is not there (also one of another billing account) is 404
NOT_FOUND; a billing account, project, folder or organisation that is not described is
403 PERMISSION_DENIED, as IAM answers for what the caller cannot see, which Google words
the same whether or not it exists.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any

from .errors import ApiError, invalid, not_found
from .listing import page, page_size, paginate
from .organisation import Folder, Organisation, Project

# Assumed: the description has no times, and the emulator's resources never change.
CREATED = "2024-01-02T03:04:05.678Z"
BILLING_PAGE_SIZE = 100  # ListProjectBillingInfo: "The maximum page size is 100; also the default"
# Assumed: Resource Manager documents neither its default page size nor a maximum.
RM_PAGE_SIZE = 100
RM_MAX_PAGE_SIZE = 1000
_STATE_NUMBERS = {"ACTIVE": 1, "DELETE_REQUESTED": 2}  # Project/Folder/Organization.State
_PERIOD_NUMBERS = {"MONTH": 1, "QUARTER": 2, "YEAR": 3}  # google.cloud.billing.budgets.v1
_TREATMENT_NUMBERS = {
    "INCLUDE_ALL_CREDITS": 1,
    "EXCLUDE_ALL_CREDITS": 2,
    "INCLUDE_SPECIFIED_CREDITS": 3,
}
_BASIS_NUMBERS = {"CURRENT_SPEND": 1, "FORECASTED_SPEND": 2}


# ---- Billing Budgets ---------------------------------------------------------------------


def get_budget(org: Organisation, account: str, budget_id: str, numbers: bool) -> dict[str, Any]:
    if account not in org.billing_accounts:
        raise denied(
            "billing.budgets.get", f"billingbudgets.googleapis.com/billingAccounts/{account}"
        )
    budget = org.budgets.get((account, budget_id))
    if budget is None:
        # Assumed wording; the status is the documented one for a missing resource.
        raise not_found(f"Budget billingAccounts/{account}/budgets/{budget_id} not found.")
    if not numbers:
        return budget
    rendered = {**budget, "budgetFilter": dict(budget["budgetFilter"])}
    found = rendered["budgetFilter"]
    if "calendarPeriod" in found:
        found["calendarPeriod"] = _PERIOD_NUMBERS[found["calendarPeriod"]]
    found["creditTypesTreatment"] = _TREATMENT_NUMBERS[found["creditTypesTreatment"]]
    rendered["thresholdRules"] = [
        {**rule, "spendBasis": _BASIS_NUMBERS[rule["spendBasis"]]} if "spendBasis" in rule else rule
        for rule in budget["thresholdRules"]
    ]
    return rendered


# ---- Cloud Billing -----------------------------------------------------------------------


def list_billing_projects(org: Organisation, account: str, query: dict[str, str]) -> dict[str, Any]:
    """ProjectBillingInfo of every project the account pays for, in description order.
    Note the response field is ``projectBillingInfo`` (singular), as the document says."""
    if account not in org.billing_accounts:
        # Assumed wording: Cloud Billing's classic answer for what the caller cannot see.
        raise ApiError(403, "The caller does not have permission")
    size = page_size(query.get("pageSize"), BILLING_PAGE_SIZE, BILLING_PAGE_SIZE)
    paying = [(i, p) for i, p in enumerate(org.projects) if p.billing_account == account]
    chunk, token = paginate(paying, lambda item: (item[0],), size, query.get("pageToken"))
    enabled = org.billing_accounts[account].open
    infos = [
        {
            "name": f"projects/{project.project_id}/billingInfo",
            "projectId": project.project_id,
            "billingAccountName": f"billingAccounts/{account}",
            "billingEnabled": enabled,
        }
        for _, project in chunk
    ]
    return page("projectBillingInfo", infos, token)


# ---- Resource Manager --------------------------------------------------------------------


def get_project(org: Organisation, key: str, numbers: bool) -> dict[str, Any]:
    project = org.project(key)
    if project is None:
        raise rm_denied("resourcemanager.projects.get", f"projects/{key}")
    return render_project(project, numbers)


def get_folder(org: Organisation, folder_id: str, numbers: bool) -> dict[str, Any]:
    folder = org.folders.get(folder_id)
    if folder is None:
        raise rm_denied("resourcemanager.folders.get", f"folders/{folder_id}")
    return render_folder(folder, numbers)


def get_organization(org: Organisation, org_id: str, numbers: bool) -> dict[str, Any]:
    if org_id != org.id or not org.id:
        raise rm_denied("resourcemanager.organizations.get", f"organizations/{org_id}")
    body = {
        "name": org.name,
        "displayName": org.display_name,
        "directoryCustomerId": "C0emulat0r",
        "state": "ACTIVE",
        "createTime": CREATED,
        "updateTime": CREATED,
        "etag": _etag(org.name),
    }
    return _state_number(body) if numbers else body


def list_projects(org: Organisation, query: dict[str, str], numbers: bool) -> dict[str, Any]:
    """The parent's direct children; only ACTIVE ones unless ``showDeleted``."""
    parent = _parent(org, query, "resourcemanager.projects.list")
    shown = _show_deleted(query)
    items = [
        (i, p)
        for i, p in enumerate(org.projects)
        if p.parent == parent and (shown or p.state == "ACTIVE")
    ]
    return _rm_page("projects", items, query, lambda p: render_project(p, numbers))


def list_folders(org: Organisation, query: dict[str, str], numbers: bool) -> dict[str, Any]:
    parent = _parent(org, query, "resourcemanager.folders.list")
    shown = _show_deleted(query)
    items = [
        (i, f)
        for i, f in enumerate(org.folders.values())
        if f.parent == parent and (shown or f.state == "ACTIVE")
    ]
    return _rm_page("folders", items, query, lambda f: render_folder(f, numbers))


def search_projects(org: Organisation, query: dict[str, str], numbers: bool) -> dict[str, Any]:
    """Every described project the query selects (the caller may see them all)."""
    keep = project_query(query.get("query", ""))
    items = [(i, p) for i, p in enumerate(org.projects) if keep(p)]
    return _rm_page("projects", items, query, lambda p: render_project(p, numbers))


def search_folders(org: Organisation, query: dict[str, str], numbers: bool) -> dict[str, Any]:
    keep = folder_query(query.get("query", ""))
    items = [(i, f) for i, f in enumerate(org.folders.values()) if keep(f)]
    return _rm_page("folders", items, query, lambda f: render_folder(f, numbers))


def render_project(project: Project, numbers: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"projects/{project.number}"}
    if project.parent is not None:
        body["parent"] = project.parent
    body |= {
        "projectId": project.project_id,
        "state": project.state,
        "displayName": project.display_name,
        "createTime": CREATED,
        "updateTime": CREATED,
        "etag": _etag(project.project_id),
    }
    if project.labels:
        body["labels"] = dict(project.labels)
    return _state_number(body) if numbers else body


def render_folder(folder: Folder, numbers: bool = False) -> dict[str, Any]:
    body = {
        "name": folder.name,
        "parent": folder.parent,
        "displayName": folder.display_name,
        "state": folder.state,
        "createTime": CREATED,
        "updateTime": CREATED,
        "etag": _etag(folder.name),
    }
    return _state_number(body) if numbers else body


# ---- projects:search's query -------------------------------------------------------------

# projects.search documents these fields (cloudresourcemanager.v3.json); the emulator
# evaluates them as equality, case-insensitively ("Search expressions are case
# insensitive"). Wildcards, quotes, NOT and labels are refused rather than guessed at.
_PROJECT_FIELDS: dict[str, Callable[[Project], Iterable[str]]] = {
    "parent": lambda p: [p.parent or ""],
    "parent.type": lambda p: [(p.parent or "").partition("s/")[0]],
    "parent.id": lambda p: [(p.parent or "").rpartition("/")[2]],
    "id": lambda p: [p.project_id],
    "projectid": lambda p: [p.project_id],
    "state": lambda p: [p.state],
    "lifecyclestate": lambda p: [p.state],
    "name": lambda p: [p.display_name],
    "displayname": lambda p: [p.display_name],
}
_TERM = re.compile(r"(?P<field>[A-Za-z.]+)[:=](?P<value>[^\s\"'*()]+)")


def project_query(text: str) -> Callable[[Project], bool]:
    """Terms ``field:value`` (or ``=``) joined by ``AND``, or by spaces, which the
    document says select projects matching *any* term ("labels.color:red labels.size:big":
    red or big); a query mixing the two is refused, as its grouping is not documented."""
    words = text.split()
    if not words:
        return lambda project: True
    joined_by_and = words[1::2] == ["AND"] * (len(words) // 2) and len(words) % 2 == 1
    terms = words[0::2] if joined_by_and else words
    clauses = [_project_term(term) for term in terms]
    if joined_by_and:
        return lambda project: all(clause(project) for clause in clauses)
    return lambda project: any(clause(project) for clause in clauses)


def _project_term(term: str) -> Callable[[Project], bool]:
    match = _TERM.fullmatch(term)
    field = match["field"].lower() if match else ""
    if match is None or field not in _PROJECT_FIELDS:
        raise invalid(
            f"Request contains an invalid argument: the emulator's projects:search takes "
            f"field:value terms on {sorted(_PROJECT_FIELDS)} joined by AND or by spaces, "
            f"not {term!r}"
        )
    read, wanted = _PROJECT_FIELDS[field], match["value"].casefold()
    return lambda project: any(value.casefold() == wanted for value in read(project))


# folders:search documents displayName, parent and state (or lifecycleState) with "="
# or ":", NOT, AND, OR and a suffix wildcard; the emulator evaluates terms joined by AND,
# each an exact match, and refuses the rest.
_FOLDER_FIELDS: dict[str, Callable[[Folder], str]] = {
    "displayName": lambda f: f.display_name,
    "parent": lambda f: f.parent,
    "state": lambda f: f.state,
    "lifecycleState": lambda f: f.state,
}


def folder_query(text: str) -> Callable[[Folder], bool]:
    words = text.split()
    if words[1::2] != ["AND"] * (len(words) // 2) or (words and len(words) % 2 == 0):
        raise invalid(f"the emulator's folders:search takes terms joined by AND, not {text!r}")
    clauses = []
    for term in words[0::2]:
        match = _TERM.fullmatch(term)
        if match is None or match["field"] not in _FOLDER_FIELDS:
            raise invalid(
                f"the emulator's folders:search takes field=value terms on "
                f"{sorted(_FOLDER_FIELDS)}, not {term!r}"
            )
        clauses.append((_FOLDER_FIELDS[match["field"]], match["value"]))
    return lambda folder: all(read(folder) == value for read, value in clauses)


# ---- shared ------------------------------------------------------------------------------


def denied(permission: str, resource: str) -> ApiError:
    """IAM's answer, with the ErrorInfo newer Google APIs attach (assumed for these)."""
    service = resource.split("/", 1)[0]
    return ApiError(
        403,
        f"Permission '{permission}' denied on resource '//{resource}' (or it may not exist).",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "IAM_PERMISSION_DENIED",
                "domain": service,
                "metadata": {"permission": permission, "resource": resource.split("/", 1)[1]},
            }
        ],
    )


def rm_denied(permission: str, name: str) -> ApiError:
    """Resource Manager's words for a project it will not show: "Permission
    'resourcemanager.projects.get' denied on resource
    '//cloudresourcemanager.googleapis.com/projects/123456789' (or it may not exist).\""""
    return denied(permission, f"cloudresourcemanager.googleapis.com/{name}")


def _parent(org: Organisation, query: dict[str, str], permission: str) -> str:
    parent = query.get("parent", "")
    if not parent:
        raise invalid("Request contains an invalid argument: parent is required.")
    if not org.knows(parent):
        raise rm_denied(permission, parent)
    return parent


def _show_deleted(query: dict[str, str]) -> bool:
    value = query.get("showDeleted", "false")
    if value not in ("true", "false"):
        raise invalid(f"Invalid value at 'show_deleted' (TYPE_BOOL), {value!r}")
    return value == "true"


def _rm_page(
    key: str, items: list[tuple[int, Any]], query: dict[str, str], render: Callable[[Any], Any]
) -> dict[str, Any]:
    size = page_size(query.get("pageSize"), RM_PAGE_SIZE, RM_MAX_PAGE_SIZE)
    chunk, token = paginate(items, lambda item: (item[0],), size, query.get("pageToken"))
    return page(key, [render(item) for _, item in chunk], token)


def _state_number(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "state": _STATE_NUMBERS[body["state"]]}


def _etag(seed: str) -> str:
    # Resource Manager's etags are weak ones, W/"..." (assumed from what it shows).
    return 'W/"' + hashlib.sha256(seed.encode()).hexdigest()[:20] + '"'
