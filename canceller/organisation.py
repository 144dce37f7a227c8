"""Where an organisation's Dataproc work is: a budget's real scope, the projects its
billing account pays for, a project's id and ancestors, and Cloud Asset's search for
live work. canceller.fan_out acts on what this finds.

Reads only, each retried and within its API's own request budget (canceller.rest), and
kept for SCOPE_CACHE_SECONDS per instance: a budget notification comes every half hour
or so and a folder's projects change rarely, while a 200-project budget read afresh each
time would spend Resource Manager's quota on the same answers. Asset data is minutes
stale: it only says where to look; what is stopped is read from Dataproc.

Facts (Google's discovery documents in google-api-python-client, whose REST references
canceller.org_apis names):
- budgets.get answers ``budgetFilter.projects`` (``projects/{number}``) and
  ``resourceAncestors`` (``folders/F``, ``organizations/O``); both empty is the whole
  billing account. "If the folder or organization contains projects that are paid for
  by a different Cloud Billing account, the budget doesn't apply to those projects"
  (billingbudgets.v1.json, GoogleCloudBillingBudgetsV1Filter.resourceAncestors): hence
  the billing account's project list (cloudbilling billingAccounts.projects.list).
- Resource Manager v3 projects.get takes an id or a number and answers both, and the
  project's ``parent``; folders.get answers a folder's ``parent``.
- Cloud Asset searchAllResources over ``projects/P``, ``folders/F`` or
  ``organizations/O``; ``NOT state:ACTIVE`` is a documented query form, and a result's
  ``project`` is ``projects/{number}``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from google.api_core import exceptions as api_exceptions

from canceller.clock import SYSTEM_CLOCK, Clock, Deadline
from canceller.names import PROJECT_ID
from canceller.org_apis import (
    ASSET_SEARCH,
    BILLING_PROJECTS,
    BUDGET_GET,
    BUDGET_NAME,
    FOLDER_GET,
    PROJECT_GET,
    OrgCall,
)
from canceller.rest import RestClient, error_details
from canceller.settings import Settings

_PROJECT_NUMBER = re.compile(r"projects/([0-9]{1,20})")
_ANCESTOR = re.compile(r"(?:folders|organizations)/[0-9]{1,20}")
_PROJECT_ID = re.compile(rf"{PROJECT_ID.pattern}|[0-9]{{1,20}}")  # an id, or a number
# //dataproc.googleapis.com/projects/P/regions/R/jobs/J (or locations/R/batches/B, ...).
_ASSET_NAME = re.compile(
    r"//dataproc\.googleapis\.com/projects/(?P<project>[^/]{1,100})/"
    r"(?:regions|locations)/(?P<region>[a-z0-9-]{1,63})/[a-z]+/[^/]+"
)
MAX_CACHED = 20_000  # answers (and projects seen) an instance keeps before starting afresh
MAX_FOLDER_DEPTH = 12  # folders nest at most 10 deep under an organisation
MAX_BILLED_PAGES = 100
ASSET_PAGE_SIZE = 500  # searchAllResources caps pageSize at 500 (cloudasset.v1.json)


class ScopeUnreadable(Exception):
    """A budget, project or folder could not be read: the message says which and why."""


@dataclass(frozen=True)
class BudgetScope:
    """What a budget covers: projects the billing account pays for, narrowed by the
    budget's filter (projects by number, and folders or organisations)."""

    billing_account: str
    budget_id: str
    projects: frozenset[str]  # numbers; empty: not narrowed by project
    ancestors: tuple[str, ...]  # folders/F, organizations/O; empty: not narrowed by place
    billed: frozenset[str]  # the ids of the projects the billing account pays for
    # budgetFilter.labels: only the usage of resources with these labels counts, so only
    # work with them is stopped (a sweep filter clause each, canceller.fan_out).
    labels: tuple[tuple[str, str], ...] = ()
    # budgetFilter.calendarPeriod (MONTH when unset, as a budget without a custom period
    # is), and a custom period's endDate: when the period ends (savedUpTo's horizon).
    calendar_period: str = "MONTH"
    custom_end: date | None = None

    @property
    def label_filter(self) -> str:
        """The sweep filter clauses that select only the budget's labelled work."""
        return " AND ".join(f'labels.{key} = "{value}"' for key, value in self.labels)

    def to_json(self) -> dict[str, Any]:
        return {
            "budget": f"billingAccounts/{self.billing_account}/budgets/{self.budget_id}",
            "projects": sorted(f"projects/{number}" for number in self.projects),
            "resourceAncestors": list(self.ancestors),
            "billedProjects": len(self.billed),
        }


@dataclass(frozen=True)
class AssetHit:
    """One live Dataproc resource as Cloud Asset saw it: where to look, not what to stop."""

    project: str  # the id Dataproc's paths take
    number: str
    region: str
    asset_type: str


@dataclass
class Search:
    """What one search found, and how far it got."""

    hits: list[AssetHit] = field(default_factory=list)
    pages: int = 0
    complete: bool = True
    unplaced: int = 0  # results whose name was not a Dataproc resource's


class _Cache:
    """Answers kept for ``seconds``; thread-safe (an instance serves several requests)."""

    def __init__(self, seconds: float, clock: Clock) -> None:
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, read: Callable[[], Any]) -> Any:
        with self._lock:
            kept = self._items.get(key)
            if kept is not None and self._clock.monotonic() - kept[0] < self._seconds:
                return kept[1]
        value = read()  # outside the lock: a slow read must not hold up the others
        with self._lock:
            if len(self._items) >= MAX_CACHED:  # an instance's memory, not a leak
                self._items.clear()
            self._items[key] = (self._clock.monotonic(), value)
        return value


class Directory:
    """The organisation APIs' reads, with their answers cached. ``clients`` maps an API's
    name (canceller.org_apis) to the client that calls it."""

    def __init__(
        self,
        clients: Mapping[str, RestClient],
        cache_seconds: float,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._clients = clients
        self._cache = _Cache(cache_seconds, clock)
        self._lock = threading.Lock()
        # project id -> region -> the asset types seen there (what operations come from)
        self._seen: dict[str, dict[str, set[str]]] = {}

    def budget_scope(self, billing_account: str, budget_id: str, deadline: Deadline) -> BudgetScope:
        name = f"billingAccounts/{billing_account}/budgets/{budget_id}"
        if not BUDGET_NAME.fullmatch(name):
            raise ScopeUnreadable(
                f"{name[:200]} is not a budget's name (XXXXXX-XXXXXX-XXXXXX and a budget id)"
            )
        budget = self._cache.get(name, lambda: self._get(BUDGET_GET, name, deadline))
        found = budget.get("budgetFilter") if isinstance(budget, dict) else None
        found = found if isinstance(found, dict) else {}
        if found.get("subaccounts"):
            raise ScopeUnreadable(
                f"{name} is narrowed to subaccounts, whose projects this function cannot list"
            )
        projects, ancestors = set(), []
        for item in _texts(found.get("projects")):
            if not (match := _PROJECT_NUMBER.fullmatch(item)):
                raise ScopeUnreadable(f"{name}: budgetFilter.projects has {item[:60]!r}")
            projects.add(match[1])
        for item in _texts(found.get("resourceAncestors")):
            if not _ANCESTOR.fullmatch(item):
                raise ScopeUnreadable(f"{name}: budgetFilter.resourceAncestors has {item[:60]!r}")
            ancestors.append(item)
        billed = self._cache.get(
            f"billingAccounts/{billing_account}/projects",
            lambda: self._billed(billing_account, deadline),
        )
        return BudgetScope(
            billing_account,
            budget_id,
            frozenset(projects),
            tuple(ancestors),
            billed,
            _labels(name, found.get("labels")),
            *_period(found),
        )

    def project_id(self, number_or_id: str, deadline: Deadline) -> str:
        """A project's id (what Dataproc's paths take) from its number or id."""
        return str(self._project(number_or_id, deadline)["projectId"])

    def ancestry(self, project: str, deadline: Deadline) -> tuple[str, ...]:
        """The project's folders, nearest first, then its organisation."""
        parent = str(self._project(project, deadline).get("parent") or "")
        chain: list[str] = []
        while _ANCESTOR.fullmatch(parent) and len(chain) <= MAX_FOLDER_DEPTH:
            chain.append(parent)
            if parent.startswith("organizations/"):
                break
            folder = self._cache.get(parent, partial(self._get, FOLDER_GET, parent, deadline))
            parent = str(folder.get("parent") or "") if isinstance(folder, dict) else ""
        return tuple(chain)

    def project_refusal(self, settings: Settings, project: str, deadline: Deadline) -> str | None:
        """Why ``project`` may not be acted on, or None: it is in ALLOWED_PROJECTS, or
        Resource Manager places it under one of ALLOWED_ANCESTORS. ``TransientFailure``
        when Resource Manager cannot answer yet: not knowing is not a refusal, and the
        caller retries rather than answer the work for good."""
        if settings.project_allowed(project):
            return None
        if not settings.allowed_ancestors:
            return f"project {project} is not in ALLOWED_PROJECTS"
        try:
            ancestors = self.ancestry(project, deadline)
        except ScopeUnreadable as error:  # refused for good; TransientFailure propagates
            return (
                f"project {project} is not in ALLOWED_PROJECTS and could not be placed under "
                f"ALLOWED_ANCESTORS: {error}"
            )
        if settings.allowed_ancestors.intersection(ancestors):
            return None
        return f"project {project} is neither in ALLOWED_PROJECTS nor under ALLOWED_ANCESTORS"

    def search(
        self,
        scope: str,
        asset_types: Iterable[str],
        query: str,
        deadline: Deadline,
        max_pages: int,
    ) -> Search:
        """Live Dataproc resources under ``scope``, every page until ``max_pages`` or the
        deadline (then ``complete`` is False). A result whose project is a number is
        placed by Resource Manager."""
        found = Search()
        params: dict[str, str | list[str]] = {
            "assetTypes": sorted(asset_types),
            "query": query,
            "pageSize": str(ASSET_PAGE_SIZE),
        }
        token = ""
        while True:
            if found.pages >= max_pages or deadline.expired():
                found.complete = False
                return found
            if token:
                params["pageToken"] = token
            page = self._get(ASSET_SEARCH, f"{scope}:searchAllResources", deadline, params)
            found.pages += 1
            for result in page.get("results") or []:
                hit = self._hit(result, deadline) if isinstance(result, dict) else None
                if hit is None:
                    found.unplaced += 1
                else:
                    found.hits.append(hit)
            next_token = str(page.get("nextPageToken") or "")
            if not next_token or next_token == token:
                found.complete = not next_token
                return found
            token = next_token

    def seen_regions(self, project: str, asset_types: Iterable[str]) -> frozenset[str]:
        """The regions where this instance has seen work of ``asset_types`` in ``project``
        (batches and clusters: where operations come from), now or in an earlier search:
        where operations are looked for when SWEEP_REGIONS is not set."""
        wanted = set(asset_types)
        with self._lock:
            seen = self._seen.get(project, {})
            return frozenset(region for region, types in seen.items() if types & wanted)

    def _hit(self, result: Mapping[str, Any], deadline: Deadline) -> AssetHit | None:
        match = _ASSET_NAME.fullmatch(str(result.get("name") or ""))
        number = _PROJECT_NUMBER.fullmatch(str(result.get("project") or ""))
        if match is None or not _PROJECT_ID.fullmatch(match["project"]):
            return None
        project = match["project"]
        if project.isdigit():  # a name by number: Dataproc's paths take the id
            try:
                project = self.project_id(project, deadline)
            except ScopeUnreadable:
                return None
        asset_type = str(result.get("assetType") or "")
        with self._lock:
            if project not in self._seen and len(self._seen) >= MAX_CACHED:
                self._seen.clear()
            regions = self._seen.setdefault(project, {})
            if match["region"] in regions or len(regions) < 64:
                regions.setdefault(match["region"], set()).add(asset_type[:100])
        return AssetHit(project, number[1] if number else "", match["region"], asset_type)

    def _project(self, project: str, deadline: Deadline) -> dict[str, Any]:
        if not _PROJECT_ID.fullmatch(project):
            raise ScopeUnreadable(f"{project[:40]!r} is not a project id or number")
        answer = self._cache.get(
            f"projects/{project}", lambda: self._get(PROJECT_GET, f"projects/{project}", deadline)
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("projectId"), str):
            raise ScopeUnreadable(f"projects/{project}: Resource Manager answered no projectId")
        return answer

    def _billed(self, billing_account: str, deadline: Deadline) -> frozenset[str]:
        ids: set[str] = set()
        params: dict[str, str | list[str]] = {"pageSize": "1000"}
        for _ in range(MAX_BILLED_PAGES):
            page = self._get(
                BILLING_PROJECTS, f"billingAccounts/{billing_account}/projects", deadline, params
            )
            # ListProjectBillingInfoResponse.projectBillingInfo (singular, a list).
            for info in page.get("projectBillingInfo") or []:
                if isinstance(info, dict) and info.get("billingEnabled") is not False:
                    ids.add(str(info.get("projectId") or ""))
            token = str(page.get("nextPageToken") or "")
            if not token or token == params.get("pageToken"):
                return frozenset(ids - {""})
            params["pageToken"] = token
        raise ScopeUnreadable(
            f"billingAccounts/{billing_account}/projects: more than {MAX_BILLED_PAGES} pages"
        )

    def _get(
        self,
        call: OrgCall,
        path: str,
        deadline: Deadline,
        params: Mapping[str, str | list[str]] | None = None,
    ) -> dict[str, Any]:
        try:
            return self._clients[call.api.name].call("GET", path, deadline, params)
        except api_exceptions.GoogleAPICallError as error:
            # Google's status and message, never the request's URL (results are public).
            details = error_details(error)
            raise ScopeUnreadable(
                f"{call.method} {path}: {details['httpStatus']} {details['status']} "
                f"{details['message'][:300]} (needs {call.permission} on the "
                f"{call.granted_on})"
            ) from None


_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{1,63}")


def _period(found: Mapping[str, Any]) -> tuple[str, date | None]:
    """A budget's calendar period and a custom period's end date, as far as they can be
    read; what cannot be read leaves the period without an end (never a guess)."""
    custom = found.get("customPeriod")
    if isinstance(custom, dict):
        end = custom.get("endDate")
        try:
            if isinstance(end, dict):
                return "CUSTOM", date(int(end["year"]), int(end["month"]), int(end["day"]))
        except (KeyError, TypeError, ValueError):
            pass
        return "CUSTOM", None
    period = found.get("calendarPeriod")
    return (period if isinstance(period, str) else "MONTH"), None


def _labels(name: str, value: object) -> tuple[tuple[str, str], ...]:
    """budgetFilter.labels: a map of a label key to a list of values (Google allows one
    pair); a label that cannot be a sweep filter clause makes the scope unreadable rather
    than widen it to the whole account."""
    if not value:
        return ()
    pairs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, values in value.items():
            items = values.get("values", values) if isinstance(values, dict) else values
            for item in items if isinstance(items, list) else [items]:
                pairs.append((str(key), str(item)))
    if not pairs or not all(
        _LABEL_KEY.fullmatch(key) and _LABEL_VALUE.fullmatch(item) for key, item in pairs
    ):
        raise ScopeUnreadable(f"{name}: budgetFilter.labels {str(value)[:80]} is not key: [value]")
    if len({key for key, _ in pairs}) != len(pairs):
        raise ScopeUnreadable(f"{name}: budgetFilter.labels has several values for one key")
    return tuple(sorted(pairs))


def _texts(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
