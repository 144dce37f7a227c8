"""The wire format of the other Google APIs the Dataproc emulator serves (Billing Budgets
v1, Cloud Billing v1, Resource Manager v3, Cloud Asset v1), proven by Google's own
clients and held to Google's discovery documents.

- Google's generated REST clients (google-cloud-billing-budgets, google-cloud-billing,
  google-cloud-resource-manager, google-cloud-asset), anonymous, pointed at the
  emulator's http:// address: they parse every answer with protobuf's strict JSON parser
  (an unknown field or a wrong type fails the call), ask for enums as numbers, and page
  with the tokens the emulator gives.
- After every test, every request it made is held to its method in the discovery
  document (billingbudgets.v1, cloudbilling.v1, cloudresourcemanager.v3, cloudasset.v1:
  path, query parameters, no body), and sent again without numeric enums so that the
  answer can be held to the method's response schema (every field declared, of its
  type, enums within the enum) or, for an error, to Google's error body.
- The real gcloud CLI, offline, with a dummy token and endpoint overrides:
  ``gcloud asset search-all-resources`` (paged), ``gcloud billing projects list`` and
  ``gcloud alpha resource-manager folders search`` (Resource Manager v3, paged). Three
  commands cannot be pointed at the emulator and are not run: ``gcloud billing
  budgets describe`` (Cloud SDK 528 declares no ``api_endpoint_overrides/billingbudgets``
  property, core/properties.py, so the command always calls billingbudgets.googleapis.com),
  ``gcloud projects describe`` (Resource Manager v1, GET /v1/projects/ID) and ``gcloud
  resource-manager folders describe`` (v2, GET /v2/folders/F): the override works for
  both, but the emulator serves v3, the version the function calls, and answers them 404.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from google.cloud import asset_v1, billing_v1, resourcemanager_v3
from google.cloud.billing import budgets_v1

from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from dataproc_emulator.fake_org import (
    BILLING_ACCOUNT,
    BUDGET_ID,
    ORGANIZATION_ID,
    OTHER_BILLING_ACCOUNT,
    fake_organisation,
)
from tests.support.discovery import DOCUMENTS, Discovery, document
from tests.support.google_clients import Gcloud, gcloud_against, rest_client

Json = dict[str, Any]
ORG = f"organizations/{ORGANIZATION_ID}"


@pytest.fixture
def org(admin: EmulatorAdmin) -> Json:
    """Folders team-1 (2001, with team-1-sub-1 2101 inside) and team-2 (2002), three
    projects in each, one under the organisation, one in team-1 paid by another account."""
    description = fake_organisation(projects_per_folder=3, other_account_projects=1)
    admin.seed_organisation(description)
    return description


# ---- the discovery documents -------------------------------------------------------------


def _methods(node: Json) -> Iterator[Json]:
    yield from node.get("methods", {}).values()
    for resource in node.get("resources", {}).values():
        yield from _methods(resource)


def response_schema(api: str, method_id: str) -> str:
    found = [m for m in _methods(document(DOCUMENTS[api])) if m["id"] == method_id]
    assert found, f"{method_id} is not a method of {DOCUMENTS[api]}"
    return str(found[0]["response"]["$ref"])


def schema_problems(doc: Json, value: Any, schema: Json, where: str) -> list[str]:
    """Every way ``value`` departs from ``schema``: undeclared fields, wrong JSON types
    (64-bit integers are strings, as proto3 JSON writes them), enum values outside the
    enum."""
    if "$ref" in schema:
        schema = doc["schemas"][schema["$ref"]]
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where} is not an object: {value!r:.80}"]
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        problems = []
        for key, item in value.items():
            if key in properties:
                problems += schema_problems(doc, item, properties[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                problems += schema_problems(doc, item, extra, f"{where}[{key!r}]")
            else:
                problems.append(f"{where}.{key} is not a field of {schema.get('id', where)}")
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where} is not an array: {value!r:.80}"]
        return [
            problem
            for index, item in enumerate(value)
            for problem in schema_problems(doc, item, schema["items"], f"{where}[{index}]")
        ]
    fits = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "any": True,
    }[kind or "any"]
    if not fits:
        return [f"{where} is not a {kind} ({schema.get('format', '')}): {value!r:.80}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}={value!r} is not one of {schema['enum']}"]
    return []


def google_error_problems(body: Any) -> list[str]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or set(error) - {"code", "message", "status", "details"}:
        return [f"not Google's error body: {body!r:.200}"]
    if not (isinstance(error.get("code"), int) and error.get("message") and error.get("status")):
        return [f"an error body without code, message and status: {body!r:.200}"]
    return []


@pytest.fixture(autouse=True)
def held_to_discovery(emulator: DataprocEmulator, admin: EmulatorAdmin) -> Iterator[None]:
    """After the test: each request it made conforms to its method, and each answer
    (asked again, enums by name) to the method's response schema or Google's error body."""
    yield
    logged = [entry for entry in admin.requests() if entry["apiMethod"] != "unknown"]
    assert logged, "the test made no request to the APIs it proves"
    problems: list[str] = []
    for entry in logged:
        api = entry["apiMethod"].split(".", 1)[0]
        verdict = Discovery(document(DOCUMENTS[api])).check_logged(entry)
        if not verdict.conforms or verdict.method != entry["apiMethod"]:
            problems.append(str(verdict))
        params = {k: v for k, v in entry["query"].items() if k != "$alt"}
        answer = requests.get(emulator.base_url + entry["path"], params=params, timeout=10)
        body = answer.json()
        if answer.ok:
            doc = document(DOCUMENTS[api])
            schema = {"$ref": response_schema(api, entry["apiMethod"])}
            problems += schema_problems(doc, body, schema, f"{entry['path']} ->")
        else:
            problems += google_error_problems(body)
    assert problems == []


# ---- Billing Budgets ---------------------------------------------------------------------


def test_budget_service_client_gets_budgets(
    emulator: DataprocEmulator, admin: EmulatorAdmin, org: Json
) -> None:
    org["budgets"].append(
        {
            "billingAccount": BILLING_ACCOUNT,
            "id": "two-projects",
            "displayName": "two projects, quarterly",
            "budgetFilter": {
                "projects": ["projects/300000000001", "projects/300000000002"],
                "calendarPeriod": "QUARTER",
                "creditTypesTreatment": "EXCLUDE_ALL_CREDITS",
            },
            "amount": {"specifiedAmount": {"currencyCode": "EUR", "units": 250, "nanos": 5}},
            "thresholdRules": [{"thresholdPercent": 0.8, "spendBasis": "FORECASTED_SPEND"}],
            "notificationsRule": {
                "pubsubTopic": "projects/p/topics/budgets",
                "schemaVersion": "1.0",
            },
        }
    )
    admin.seed_organisation(org)
    client = rest_client(budgets_v1.BudgetServiceClient, emulator)

    budget = client.get_budget(name=f"billingAccounts/{BILLING_ACCOUNT}/budgets/{BUDGET_ID}")
    assert budget.name == f"billingAccounts/{BILLING_ACCOUNT}/budgets/{BUDGET_ID}"
    assert budget.display_name == "team-1 monthly"
    assert list(budget.budget_filter.resource_ancestors) == ["folders/2001"]
    assert list(budget.budget_filter.projects) == []
    assert budget.budget_filter.calendar_period == budgets_v1.CalendarPeriod.MONTH
    treatment = budgets_v1.Filter.CreditTypesTreatment
    assert budget.budget_filter.credit_types_treatment == treatment.INCLUDE_ALL_CREDITS
    assert (budget.amount.specified_amount.currency_code, budget.amount.specified_amount.units) == (
        "USD",
        1000,
    )
    assert [rule.threshold_percent for rule in budget.threshold_rules] == [0.5, 0.9, 1.0]
    assert budget.etag

    other = client.get_budget(name=f"billingAccounts/{BILLING_ACCOUNT}/budgets/two-projects")
    assert list(other.budget_filter.projects) == ["projects/300000000001", "projects/300000000002"]
    assert other.budget_filter.calendar_period == budgets_v1.CalendarPeriod.QUARTER
    assert other.budget_filter.credit_types_treatment == treatment.EXCLUDE_ALL_CREDITS
    money = other.amount.specified_amount
    assert (money.currency_code, money.units, money.nanos) == ("EUR", 250, 5)
    basis = other.threshold_rules[0].spend_basis
    assert basis == budgets_v1.ThresholdRule.Basis.FORECASTED_SPEND
    assert other.notifications_rule.pubsub_topic == "projects/p/topics/budgets"
    assert other.etag != budget.etag


def test_budget_errors_are_google_errors(
    emulator: DataprocEmulator, admin: EmulatorAdmin, org: Json
) -> None:
    client = rest_client(budgets_v1.BudgetServiceClient, emulator)
    with pytest.raises(exceptions.NotFound) as missing:
        client.get_budget(name=f"billingAccounts/{BILLING_ACCOUNT}/budgets/no-such-budget")
    assert missing.value.response.json()["error"]["status"] == "NOT_FOUND"
    # The budget exists, but under another billing account than the one named.
    with pytest.raises(exceptions.NotFound):
        client.get_budget(name=f"billingAccounts/{OTHER_BILLING_ACCOUNT}/budgets/{BUDGET_ID}")
    with pytest.raises(exceptions.Forbidden) as denied:
        client.get_budget(name=f"billingAccounts/AAAAAA-BBBBBB-CCCCCC/budgets/{BUDGET_ID}")
    assert denied.value.response.json()["error"]["status"] == "PERMISSION_DENIED"


# ---- Cloud Billing -----------------------------------------------------------------------


def test_cloud_billing_client_lists_an_accounts_projects_in_pages(
    emulator: DataprocEmulator, admin: EmulatorAdmin, org: Json
) -> None:
    client = rest_client(billing_v1.CloudBillingClient, emulator)
    admin.clear_requests()
    request = {"name": f"billingAccounts/{BILLING_ACCOUNT}", "page_size": 3}
    infos = list(client.list_project_billing_info(request=request))
    paid = [
        "org-f1-p1",
        "org-f1-p2",
        "org-f1-p3",
        "org-f2-p1",
        "org-f2-p2",
        "org-f2-p3",
        "org-f1s1-p1",
        "org-f1s1-p2",
        "org-f1s1-p3",
        "org-o-p1",
    ]
    assert [info.project_id for info in infos] == paid
    assert len(admin.requests()) == 4  # 3 + 3 + 3 + 1: the pager followed three tokens
    first = infos[0]
    assert first.name == "projects/org-f1-p1/billingInfo"
    assert first.billing_account_name == f"billingAccounts/{BILLING_ACCOUNT}"
    assert first.billing_enabled

    other = client.list_project_billing_info(name=f"billingAccounts/{OTHER_BILLING_ACCOUNT}")
    assert [info.project_id for info in other] == ["org-f1-x1"]
    with pytest.raises(exceptions.Forbidden):
        list(client.list_project_billing_info(name="billingAccounts/AAAAAA-BBBBBB-CCCCCC"))


# ---- Resource Manager --------------------------------------------------------------------


def test_projects_client_gets_searches_and_lists(
    emulator: DataprocEmulator, admin: EmulatorAdmin, org: Json
) -> None:
    org["projects"][1]["state"] = "DELETE_REQUESTED"  # org-f1-p2
    org["projects"][0]["labels"] = {"team": "one"}
    admin.seed_organisation(org)
    client = rest_client(resourcemanager_v3.ProjectsClient, emulator)

    project = client.get_project(name="projects/org-f1-p1")
    assert project.name == "projects/300000000001"
    assert (project.project_id, project.parent) == ("org-f1-p1", "folders/2001")
    assert project.state == resourcemanager_v3.Project.State.ACTIVE
    assert dict(project.labels) == {"team": "one"}
    assert project.create_time.year == 2024
    assert client.get_project(name="projects/300000000001") == project  # by number too
    deleted = client.get_project(name="projects/org-f1-p2")
    assert deleted.state == resourcemanager_v3.Project.State.DELETE_REQUESTED

    admin.clear_requests()
    search = {"query": "parent:folders/2001 AND state:ACTIVE", "page_size": 2}
    found = [p.project_id for p in client.search_projects(request=search)]
    assert found == ["org-f1-p1", "org-f1-p3", "org-f1-x1"]  # direct children only
    assert len(admin.requests()) == 2

    listed = client.list_projects(request={"parent": "folders/2101", "page_size": 2})
    assert [p.project_id for p in listed] == ["org-f1s1-p1", "org-f1s1-p2", "org-f1s1-p3"]
    active = client.list_projects(parent="folders/2001")
    assert [p.project_id for p in active] == ["org-f1-p1", "org-f1-p3", "org-f1-x1"]
    every = client.list_projects(request={"parent": "folders/2001", "show_deleted": True})
    assert [p.project_id for p in every] == ["org-f1-p1", "org-f1-p2", "org-f1-p3", "org-f1-x1"]
    at_top = client.list_projects(parent=ORG)
    assert [p.project_id for p in at_top] == ["org-o-p1"]

    # Over REST, api-core picks the exception from the HTTP status: 403 is Forbidden.
    with pytest.raises(exceptions.Forbidden) as denied:
        client.get_project(name="projects/not-in-the-org")
    error = denied.value.response.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert "resourcemanager.projects.get" in error["message"]


def test_folders_client_gets_and_lists(
    emulator: DataprocEmulator, admin: EmulatorAdmin, org: Json
) -> None:
    client = rest_client(resourcemanager_v3.FoldersClient, emulator)
    folder = client.get_folder(name="folders/2101")
    assert (folder.name, folder.parent, folder.display_name) == (
        "folders/2101",
        "folders/2001",
        "team-1-sub-1",
    )
    assert folder.state == resourcemanager_v3.Folder.State.ACTIVE
    top = client.list_folders(request={"parent": ORG, "page_size": 1})
    assert [f.display_name for f in top] == ["team-1", "team-2"]
    assert [f.name for f in client.list_folders(parent="folders/2001")] == ["folders/2101"]
    assert list(client.list_folders(parent="folders/2101")) == []
    with pytest.raises(exceptions.Forbidden):
        client.get_folder(name="folders/999")
    organizations = rest_client(resourcemanager_v3.OrganizationsClient, emulator)
    assert organizations.get_organization(name=ORG).display_name == "example.com"


# ---- Cloud Asset -------------------------------------------------------------------------


def test_asset_service_client_searches_in_pages(
    emulator: DataprocEmulator, admin: EmulatorAdmin, org: Json
) -> None:
    admin.seed_jobs(
        [
            {
                "name": f"projects/{project}/regions/us-central1/jobs/etl-{i}",
                "labels": {"team": "etl"},
            }
            for project in ("org-f1-p1", "org-f1s1-p2", "org-f2-p1")
            for i in range(4)
        ]
    )
    admin.seed_cluster(
        name="projects/org-f1-p3/regions/europe-west1/clusters/etl", labels={"team": "etl"}
    )
    admin.seed_batch(name="projects/org-f1-p1/locations/us-east1/batches/nightly")
    admin.seed_session(name="projects/org-f1s1-p1/locations/us-central1/sessions/notebook")
    admin.seed_job(name="projects/org-f1-p1/regions/us-central1/jobs/done", state="DONE")
    client = rest_client(asset_v1.AssetServiceClient, emulator)

    admin.clear_requests()
    request = {
        "scope": "folders/2001",
        "asset_types": ["dataproc.googleapis.com/Job", "dataproc.googleapis.com/Cluster"],
        "query": "labels.team:etl AND NOT state:DONE",
        "page_size": 3,
    }
    results = list(client.search_all_resources(request=request))
    names = [r.name.removeprefix("//dataproc.googleapis.com/") for r in results]
    assert names == [
        *(f"projects/org-f1-p1/regions/us-central1/jobs/etl-{i}" for i in range(4)),
        "projects/org-f1-p3/regions/europe-west1/clusters/etl",
        *(f"projects/org-f1s1-p2/regions/us-central1/jobs/etl-{i}" for i in range(4)),
    ]
    assert len(admin.requests()) == 3  # 9 results, 3 a page
    cluster = results[4]
    assert cluster.asset_type == "dataproc.googleapis.com/Cluster"
    assert cluster.project == "projects/300000000003"
    assert list(cluster.folders) == ["folders/2001"]
    assert cluster.organization == ORG
    assert (cluster.location, cluster.state, cluster.display_name) == (
        "europe-west1",
        "RUNNING",
        "etl",
    )
    assert cluster.labels["team"] == "etl"
    assert cluster.labels["goog-dataproc-cluster-name"] == "etl"
    assert cluster.create_time.nanosecond == 0  # whole seconds, as documented
    nested = results[5]
    assert list(nested.folders) == ["folders/2101", "folders/2001"]

    everything = client.search_all_resources(request={"scope": "projects/org-f1s1-p1"})
    (session,) = everything
    assert session.name == (
        "//dataproc.googleapis.com/projects/org-f1s1-p1/locations/us-central1/sessions/notebook"
    )
    assert (session.asset_type, session.state) == ("dataproc.googleapis.com/Session", "ACTIVE")

    batches = client.search_all_resources(
        request={"scope": ORG, "asset_types": ["dataproc.googleapis.com/Batch"]}
    )
    assert [b.location for b in batches] == ["us-east1"]

    with pytest.raises(exceptions.BadRequest):
        list(client.search_all_resources(request={"scope": ORG, "query": "etl"}))
    with pytest.raises(exceptions.Forbidden):
        list(client.search_all_resources(request={"scope": "folders/999"}))


# ---- the gcloud CLI ----------------------------------------------------------------------


@pytest.fixture
def gcloud(emulator: DataprocEmulator, admin: EmulatorAdmin, tmp_path: Path) -> Gcloud:
    """The real gcloud's asset, billing and resource-manager commands against the
    emulator, answering JSON."""
    return gcloud_against(
        emulator,
        tmp_path,
        apis=("CLOUDASSET", "CLOUDBILLING", "CLOUDRESOURCEMANAGER"),
        project="org-f1-p1",
        extra_args=("--format=json",),
    )


def test_gcloud_asset_search_all_resources(gcloud: Gcloud, admin: EmulatorAdmin, org: Json) -> None:
    admin.seed_jobs(
        [
            {"name": f"projects/{project}/regions/us-central1/jobs/j{i}"}
            for project in ("org-f1-p1", "org-f1s1-p1", "org-f2-p1")
            for i in range(3)
        ]
    )
    admin.seed_job(name="projects/org-f1-p2/regions/us-central1/jobs/old", state="DONE")
    admin.seed_cluster(name="projects/org-f1-p2/regions/us-central1/clusters/c")
    admin.clear_requests()
    found = json.loads(
        gcloud(
            "asset",
            "search-all-resources",
            "--scope=folders/2001",
            "--asset-types=dataproc.googleapis.com/Job",
            "--query=state:RUNNING",
            "--page-size=4",
        ).stdout
    )
    assert [r["name"].rsplit("/projects/", 1)[1] for r in found] == [
        *(f"org-f1-p1/regions/us-central1/jobs/j{i}" for i in range(3)),
        *(f"org-f1s1-p1/regions/us-central1/jobs/j{i}" for i in range(3)),
    ]
    assert {r["project"] for r in found} == {"projects/300000000001", "projects/300000000007"}
    assert len(admin.requests()) == 2  # gcloud followed the page token once
    assert admin.requests()[0]["query"]["assetTypes"] == "dataproc.googleapis.com/Job"


def test_gcloud_billing_projects_list(gcloud: Gcloud, admin: EmulatorAdmin, org: Json) -> None:
    listed = json.loads(
        gcloud("billing", "projects", "list", f"--billing-account={OTHER_BILLING_ACCOUNT}").stdout
    )
    assert listed == [
        {
            "billingAccountName": f"billingAccounts/{OTHER_BILLING_ACCOUNT}",
            "billingEnabled": True,
            "name": "projects/org-f1-x1/billingInfo",
            "projectId": "org-f1-x1",
        }
    ]


def test_gcloud_alpha_folders_search(gcloud: Gcloud, admin: EmulatorAdmin) -> None:
    admin.seed_organisation(fake_organisation(subfolders=3))
    admin.clear_requests()
    found = json.loads(
        gcloud(
            "alpha",
            "resource-manager",
            "folders",
            "search",
            "--query=parent=folders/2001 AND state=ACTIVE",
            "--page-size=2",
        ).stdout
    )
    assert [(f["name"], f["displayName"]) for f in found] == [
        ("folders/2101", "team-1-sub-1"),
        ("folders/2102", "team-1-sub-2"),
        ("folders/2103", "team-1-sub-3"),
    ]
    assert len(admin.requests()) == 2


def test_a_request_the_discovery_document_refuses_is_noticed(admin: EmulatorAdmin) -> None:
    """The check after each test can fail: an undeclared query parameter is caught."""
    logged: Mapping[str, Any] = {
        "method": "GET",
        "path": "/v1/folders/1:searchAllResources",
        "query": {"assetType": "dataproc.googleapis.com/Job"},
        "body": "",
    }
    verdict = Discovery(document("cloudasset.v1")).check_logged(logged)
    assert not verdict.conforms
    assert "assetType" in str(verdict)
    doc = document("cloudasset.v1")
    schema = {"$ref": "SearchAllResourcesResponse"}
    assert schema_problems(doc, {"results": [{"nam": "x"}]}, schema, "r") == [
        "r.results[0].nam is not a field of ResourceSearchResult"
    ]
    project_schema = {"$ref": "Project"}
    rm = document("cloudresourcemanager.v3")
    assert schema_problems(rm, {"state": 1}, project_schema, "p") == [
        "p.state is not a string (): 1"
    ]
    assert schema_problems(rm, {"state": "GONE"}, project_schema, "p")[0].startswith(
        "p.state='GONE' is not one of"
    )
    admin.seed_organisation(fake_organisation())
    requests.get(admin.base_url + f"/v3/{ORG}", timeout=10)  # the autouse check needs one
