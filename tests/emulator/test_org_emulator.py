"""Behaviour of the other Google APIs the Dataproc emulator serves, over plain HTTP: the
organisation description and its checks, Cloud Asset's scopes, query terms, paging,
read mask and frozen snapshot over the emulator's own Dataproc work, Budgets, Billing
and Resource Manager lookups and their errors, and the request log, counts, faults and
quota as they apply to these methods. The wire format (Google's clients, gcloud, the
discovery documents) is tests/emulator/test_org_emulator_wire.py's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from dataproc_emulator.fake_org import (
    BILLING_ACCOUNT,
    BUDGET_ID,
    ORGANIZATION_ID,
    OTHER_BILLING_ACCOUNT,
    WHOLE_ACCOUNT_BUDGET_ID,
    fake_organisation,
)
from dataproc_emulator.metering import ASSET_SEARCHES_PER_MINUTE
from local_stack import LocalStack

Json = dict[str, Any]
ORG = f"organizations/{ORGANIZATION_ID}"
TIMEOUT = 10


class Http:
    """GETs on the emulator's real-API paths, answering (status, json)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def get(self, path: str, **params: Any) -> tuple[int, Json]:
        headers = params.pop("headers", None)
        response = self.session.get(
            self.base_url + path, params=params, headers=headers, timeout=TIMEOUT
        )
        return response.status_code, response.json()

    def ok(self, path: str, **params: Any) -> Json:
        status, body = self.get(path, **params)
        assert status == 200, body
        return body

    def search(self, scope: str, **params: Any) -> list[str]:
        """Every result's name, short (its Dataproc name), across every page."""
        names: list[str] = []
        token = None
        while True:
            body = self.ok(f"/v1/{scope}:searchAllResources", **params, pageToken=token or "")
            names += [
                r["name"].removeprefix("//dataproc.googleapis.com/")
                for r in body.get("results", [])
            ]
            token = body.get("nextPageToken")
            if not token:
                return names


@pytest.fixture
def http(emulator: DataprocEmulator, admin: EmulatorAdmin) -> Iterator[Http]:
    client = Http(emulator.base_url)
    yield client
    client.session.close()


@pytest.fixture
def org(admin: EmulatorAdmin) -> Json:
    """team-1 (2001) holding team-1-sub-1 (2101); team-2 (2002); two projects in each,
    one under the organisation; plus ``lone-project`` in no organisation."""
    description = fake_organisation()
    description["projects"].append({"projectId": "lone-project", "number": "400000000001"})
    admin.seed_organisation(description)
    return description


def refused(answer: tuple[int, Json], code: int, status: str) -> str:
    """The HTTP status and Google's error body with that code and status; its message."""
    assert answer[0] == code, answer
    return google_error(answer[1], code, status)


def google_error(body: Json, code: int, status: str) -> str:
    assert set(body) == {"error"}
    error = body["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert error["message"]
    return str(error["message"])


def job(project: str, job_id: str, region: str = "us-central1") -> str:
    return f"projects/{project}/regions/{region}/jobs/{job_id}"


# ---- the description ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(extra=1), "unknown keys ['extra']"),
        (lambda d: d["folders"][0].update(parent="folders/2101"), "cycle"),
        (lambda d: d["folders"][0].update(parent="organizations/1"), "neither"),
        (lambda d: d["projects"][0].update(parent="folders/77"), "not a described folder"),
        (lambda d: d["projects"][0].update(number="0123"), "decimal number"),
        (lambda d: d["projects"][1].update(projectId="org-f1-p1"), "described twice"),
        (lambda d: d["projects"][0].update(projectId="Bad_Id"), "not a project id"),
        (lambda d: d["projects"][0].update(billingAccount="012345-567890-FFFFFF"), "account"),
        (lambda d: d["billingAccounts"][0].update(id="lowercase-abcdef-123456"), "XXXXXX"),
        (lambda d: d["budgets"][0].update(billingAccount="0A0A0A-0A0A0A-0A0A0A"), "account"),
        (
            lambda d: d["budgets"][0]["budgetFilter"].update(projects=["projects/org-f1-p1"]),
            "number",
        ),
        (lambda d: d["budgets"][0]["budgetFilter"].update(resourceAncestors=["f/1"]), "folders/F"),
        (lambda d: d["budgets"][0]["budgetFilter"].update(calendarPeriod="WEEK"), "WEEK"),
        (lambda d: d["budgets"][0]["budgetFilter"].update(bogus=[]), "bogus"),
        (lambda d: d["budgets"][0].update(amount={}), "exactly one"),
        (lambda d: d["budgets"][0].update(thresholdRules=[{"thresholdPercent": -1}]), ">= 0"),
    ],
)
def test_a_bad_description_is_refused_and_names_the_problem(
    admin: EmulatorAdmin, change: Any, words: str
) -> None:
    description = fake_organisation()
    change(description)
    with pytest.raises(requests.HTTPError) as raised:
        admin.seed_organisation(description)
    response = raised.value.response
    assert response is not None
    assert words in refused((response.status_code, response.json()), 400, "INVALID_ARGUMENT")


def test_seeding_replaces_and_reset_forgets(admin: EmulatorAdmin, http: Http) -> None:
    assert admin.seed_organisation(fake_organisation(folders=3)) == {
        "folders": 4,
        "projects": 9,
        "budgets": 2,
    }
    assert http.get("/v3/folders/2003")[0] == 200
    admin.seed_organisation(fake_organisation(folders=1))
    assert http.get("/v3/folders/2003")[0] == 403
    assert admin.organisation()["folders"][0]["displayName"] == "team-1"
    admin.reset()
    assert admin.organisation() == {}
    assert http.get("/v3/projects/org-f1-p1")[0] == 403
    assert http.get(f"/v1/{ORG}:searchAllResources")[0] == 403


# ---- Cloud Asset: scopes -----------------------------------------------------------------


@pytest.fixture
def work_everywhere(admin: EmulatorAdmin, org: Json) -> None:
    """One running job in every project, and in one no description names."""
    projects = [p["projectId"] for p in org["projects"]] + ["stranger-project"]
    admin.seed_jobs([{"name": job(project, "j")} for project in projects])


@pytest.mark.parametrize(
    ("scope", "projects"),
    [
        ("folders/2001", ["org-f1-p1", "org-f1-p2", "org-f1s1-p1", "org-f1s1-p2"]),
        ("folders/2101", ["org-f1s1-p1", "org-f1s1-p2"]),
        ("folders/2002", ["org-f2-p1", "org-f2-p2"]),
        (
            ORG,
            [
                "org-f1-p1",
                "org-f1-p2",
                "org-f1s1-p1",
                "org-f1s1-p2",
                "org-f2-p1",
                "org-f2-p2",
                "org-o-p1",
            ],
        ),
        ("projects/org-f2-p1", ["org-f2-p1"]),
        ("projects/300000000003", ["org-f2-p1"]),  # by number
        ("projects/lone-project", ["lone-project"]),
    ],
)
def test_a_scope_finds_the_work_of_exactly_its_projects(
    http: Http, work_everywhere: None, scope: str, projects: list[str]
) -> None:
    assert http.search(scope) == sorted(job(project, "j") for project in projects)


@pytest.mark.parametrize(
    "scope", ["projects/stranger-project", "folders/999", "organizations/1", "projects/1"]
)
def test_a_scope_not_described_is_permission_denied(
    http: Http, work_everywhere: None, scope: str
) -> None:
    status, body = http.get(f"/v1/{scope}:searchAllResources")
    assert status == 403
    assert google_error(body, 403, "PERMISSION_DENIED") == "Request denied by Cloud IAM."


def test_a_scope_of_another_form_is_invalid(http: Http, org: Json) -> None:
    refused(http.get("/v1/billingAccounts/x:searchAllResources"), 400, "INVALID_ARGUMENT")


def test_results_say_where_the_work_is(http: Http, admin: EmulatorAdmin, org: Json) -> None:
    admin.seed_cluster(name="projects/org-f1s1-p2/regions/europe-west1/clusters/etl")
    admin.seed_batch(name="projects/org-o-p1/locations/us-east1/batches/nightly", labels={"a": "b"})
    admin.seed_session(name="projects/lone-project/locations/asia-east1/sessions/nb-1")
    by_type = {
        r["assetType"]: r
        for scope in (ORG, "projects/lone-project")
        for r in http.ok(f"/v1/{scope}:searchAllResources").get("results", [])
    }
    cluster = by_type["dataproc.googleapis.com/Cluster"]
    assert (
        cluster["name"]
        == "//dataproc.googleapis.com/projects/org-f1s1-p2/regions/europe-west1/clusters/etl"
    )
    assert cluster["project"] == "projects/300000000006"
    assert cluster["folders"] == ["folders/2101", "folders/2001"]
    assert cluster["organization"] == ORG
    assert (cluster["location"], cluster["state"], cluster["displayName"]) == (
        "europe-west1",
        "RUNNING",
        "etl",
    )
    assert cluster["createTime"].endswith("Z") and len(cluster["createTime"]) == 20
    batch = by_type["dataproc.googleapis.com/Batch"]
    assert batch["name"].endswith("/projects/org-o-p1/locations/us-east1/batches/nightly")
    assert "folders" not in batch  # right under the organisation
    assert (batch["organization"], batch["labels"], batch["location"]) == (
        ORG,
        {"a": "b"},
        "us-east1",
    )
    session = by_type["dataproc.googleapis.com/Session"]
    assert session["name"].endswith("/projects/lone-project/locations/asia-east1/sessions/nb-1")
    assert session["project"] == "projects/400000000001"
    assert "organization" not in session and "folders" not in session
    assert "labels" not in session  # proto3 JSON leaves out an empty map


def test_asset_types_select_literally_or_by_expression(
    http: Http, admin: EmulatorAdmin, org: Json
) -> None:
    admin.seed_cluster(name="projects/org-f1-p1/regions/r1/clusters/c")
    admin.seed_job(name=job("org-f1-p1", "j", "r1"))
    admin.seed_session(name="projects/org-f1-p1/locations/r1/sessions/s-1")
    scope = "projects/org-f1-p1"
    jobs_only = http.search(scope, assetTypes="dataproc.googleapis.com/Job")
    assert jobs_only == [job("org-f1-p1", "j", "r1")]
    both = http.search(
        scope, assetTypes=["dataproc.googleapis.com/Cluster", "dataproc.googleapis.com/Session"]
    )
    assert both == [
        "projects/org-f1-p1/locations/r1/sessions/s-1",
        "projects/org-f1-p1/regions/r1/clusters/c",
    ]
    assert len(http.search(scope, assetTypes="dataproc.googleapis.com.*")) == 3
    assert http.search(scope, assetTypes="compute.googleapis.com/Instance") == []
    no_type = http.get(f"/v1/{scope}:searchAllResources", assetTypes=".*Instance")
    assert "matches none" in refused(no_type, 400, "INVALID_ARGUMENT")
    unclosed = http.get(f"/v1/{scope}:searchAllResources", assetTypes="(unclosed")
    refused(unclosed, 400, "INVALID_ARGUMENT")


# ---- Cloud Asset: the query --------------------------------------------------------------


@pytest.fixture
def varied_work(admin: EmulatorAdmin, org: Json) -> None:
    admin.seed_jobs(
        [
            {"name": job("org-f1-p1", "running"), "labels": {"team": "etl", "tier": "gold"}},
            {"name": job("org-f1-p1", "pending"), "state": "PENDING", "labels": {"team": "ml"}},
            {"name": job("org-f1-p1", "done"), "state": "DONE", "labels": {"team": "etl"}},
            {"name": job("org-f1-p2", "west", "us-west1"), "labels": {"team": "etl-batch"}},
            {"name": job("org-f1-p1", "stuck"), "onCancel": "stuck"},
        ]
    )
    # Through Dataproc's own API, so the asset is derived from what Dataproc now says.
    requests.post(
        admin.base_url + f"/v1/{job('org-f1-p1', 'stuck')}:cancel", json={}, timeout=TIMEOUT
    )


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("state:RUNNING", ["running", "west"]),
        ("state:running", ["running", "west"]),  # words are case-folded
        ("NOT state:RUNNING", ["done", "pending", "stuck"]),
        ("state:CANCEL_PENDING", ["stuck"]),
        ("state:PENDING", ["pending"]),  # CANCEL_PENDING is one word: _ joins
        ("state:(PENDING OR DONE)", ["done", "pending"]),
        ("state=RUNNING", ["running", "west"]),
        ("state=running", []),  # = is exact and case-sensitive
        ("labels.team:etl", ["done", "running", "west"]),  # etl-batch has the word etl
        ("labels.team=etl", ["done", "running"]),
        ("labels.tier:*", ["running"]),
        ("NOT labels.team:*", ["stuck"]),
        ("labels.team:etl state:RUNNING", ["running", "west"]),
        ("labels.team:etl AND NOT state:RUNNING", ["done"]),
        ("location:us-west1", ["west"]),
        ("location:west1", ["west"]),
        ("location:US-CENTRAL1", ["done", "pending", "running", "stuck"]),
        ("location:us", ["done", "pending", "running", "stuck", "west"]),
        ("location=us", []),
        ("location:central1-us", []),  # the words in their order
        ("project:300000000002", ["west"]),
        ("project:projects/300000000001 AND state:DONE", ["done"]),
        ("NOT project:300000000001", ["west"]),
        ("", ["done", "pending", "running", "stuck", "west"]),
    ],
)
def test_query_terms(http: Http, varied_work: None, query: str, found: list[str]) -> None:
    names = http.search("folders/2001", query=query)
    assert sorted(name.rsplit("/", 1)[1] for name in names) == found


@pytest.mark.parametrize(
    "query",
    [
        "RUNNING",  # free text
        "name:running",  # a field the emulator does not evaluate
        "state:RUNNING OR state:DONE",  # OR between terms
        "state:RUN*",
        'state:"RUNNING"',
        "state:RUNNING and location:us",
        "state:RUNNING AND",
        "AND state:RUNNING",
        "NOT",
        "-state:RUNNING",
        "state:(RUNNING OR)",
        "state:-",  # a value without words
        "state=*",
        "createTime>1609459200",
    ],
)
def test_a_query_the_emulator_cannot_evaluate_is_invalid(
    http: Http, varied_work: None, query: str
) -> None:
    status, body = http.get("/v1/folders/2001:searchAllResources", query=query)
    assert status == 400
    google_error(body, 400, "INVALID_ARGUMENT")


# ---- Cloud Asset: paging, read mask, order -----------------------------------------------


def test_pages_are_capped_at_500_and_tokens_cover_everything_once(
    http: Http, admin: EmulatorAdmin, org: Json
) -> None:
    admin.seed_jobs([{"name": job("org-f2-p2", f"j{i:04}")} for i in range(620)])
    path = "/v1/folders/2002:searchAllResources"
    first = http.ok(path, pageSize=1000)
    assert len(first["results"]) == 500
    second = http.ok(path, pageSize=1000, pageToken=first["nextPageToken"])
    assert len(second["results"]) == 120 and "nextPageToken" not in second
    assert len(http.ok(path)["results"]) == 100  # the default
    assert len(http.ok(path, pageSize=-3)["results"]) == 100  # "zero or negative"
    names = http.search("folders/2002", pageSize=77)
    assert names == sorted(job("org-f2-p2", f"j{i:04}") for i in range(620))
    assert "other parameters" in refused(
        http.get(path, pageSize=2, pageToken=first["nextPageToken"]), 400, "INVALID_ARGUMENT"
    )
    refused(http.get(path, pageToken="not-a-token"), 400, "INVALID_ARGUMENT")
    refused(http.get(path, pageSize="many"), 400, "INVALID_ARGUMENT")


def test_read_mask_and_order_by(http: Http, admin: EmulatorAdmin, org: Json) -> None:
    admin.seed_job(name=job("org-f1-p1", "j"), labels={"a": "b"})
    path = "/v1/projects/org-f1-p1:searchAllResources"
    (masked,) = http.ok(path, readMask="name, state")["results"]
    assert masked == {
        "name": f"//dataproc.googleapis.com/{job('org-f1-p1', 'j')}",
        "state": "RUNNING",
    }
    (whole,) = http.ok(path, readMask="*")["results"]
    assert whole == http.ok(path)["results"][0]
    assert "labels" in whole
    assert "nothing" in refused(http.get(path, readMask="name,nothing"), 400, "INVALID_ARGUMENT")
    assert "orderBy" in refused(http.get(path, orderBy="createTime DESC"), 400, "INVALID_ARGUMENT")


# ---- Cloud Asset: live, and a frozen snapshot --------------------------------------------


def test_assets_follow_dataproc_until_frozen(http: Http, admin: EmulatorAdmin, org: Json) -> None:
    name = job("org-f1-p1", "etl")
    admin.seed_job(name=name)
    admin.seed_cluster(name="projects/org-f1-p1/regions/us-central1/clusters/gone", deleteSeconds=0)

    def states() -> dict[str, str]:
        body = http.ok("/v1/projects/org-f1-p1:searchAllResources")
        return {r["displayName"]: r["state"] for r in body.get("results", [])}

    assert states() == {"etl": "RUNNING", "gone": "RUNNING"}
    assert admin.freeze_assets() == 2
    assert http.session.post(f"{admin.base_url}/v1/{name}:cancel", json={}, timeout=TIMEOUT).ok
    deleted = "/v1/projects/org-f1-p1/regions/us-central1/clusters/gone"
    assert http.session.delete(admin.base_url + deleted, timeout=TIMEOUT).ok
    admin.seed_job(name=job("org-f1-p1", "late"))
    assert http.ok(f"/v1/{name}")["status"]["state"] == "CANCELLED"  # Dataproc knows
    assert states() == {"etl": "RUNNING", "gone": "RUNNING"}  # the snapshot does not
    admin.release_assets()
    assert states() == {"etl": "CANCELLED", "late": "RUNNING"}
    admin.freeze_assets()
    admin.reset()  # a reset drops the snapshot too
    admin.seed_organisation(fake_organisation())
    assert states() == {}


# ---- Billing Budgets ---------------------------------------------------------------------


def test_budgets_as_the_budget_api_answers(http: Http, org: Json) -> None:
    path = f"/v1/billingAccounts/{BILLING_ACCOUNT}/budgets/{BUDGET_ID}"
    budget = http.ok(path)
    assert budget == {
        "name": f"billingAccounts/{BILLING_ACCOUNT}/budgets/{BUDGET_ID}",
        "displayName": "team-1 monthly",
        "budgetFilter": {
            "resourceAncestors": ["folders/2001"],
            "calendarPeriod": "MONTH",
            "creditTypesTreatment": "INCLUDE_ALL_CREDITS",
        },
        "amount": {"specifiedAmount": {"currencyCode": "USD", "units": "1000"}},
        "thresholdRules": [
            {"thresholdPercent": 0.5},
            {"thresholdPercent": 0.9},
            {"thresholdPercent": 1.0},
        ],
        "etag": budget["etag"],
    }
    numbered = http.ok(path, **{"$alt": "json;enum-encoding=int"})
    assert (
        numbered["budgetFilter"]["calendarPeriod"],
        numbered["budgetFilter"]["creditTypesTreatment"],
    ) == (1, 1)
    whole = http.ok(f"/v1/billingAccounts/{BILLING_ACCOUNT}/budgets/{WHOLE_ACCOUNT_BUDGET_ID}")
    assert set(whole["budgetFilter"]) == {"calendarPeriod", "creditTypesTreatment"}


@pytest.mark.parametrize(
    ("account", "budget", "code", "status"),
    [
        (BILLING_ACCOUNT, "nope", 404, "NOT_FOUND"),
        (OTHER_BILLING_ACCOUNT, BUDGET_ID, 404, "NOT_FOUND"),  # another account's budget
        ("AAAAAA-BBBBBB-CCCCCC", BUDGET_ID, 403, "PERMISSION_DENIED"),
    ],
)
def test_budget_errors(
    http: Http, org: Json, account: str, budget: str, code: int, status: str
) -> None:
    answer, body = http.get(f"/v1/billingAccounts/{account}/budgets/{budget}")
    assert answer == code
    google_error(body, code, status)


# ---- Cloud Billing -----------------------------------------------------------------------


def test_billing_lists_what_an_account_pays_for(http: Http, admin: EmulatorAdmin) -> None:
    description = fake_organisation(folders=3, projects_per_folder=40, other_account_projects=2)
    description["billingAccounts"][1]["open"] = False
    description["projects"][0].pop("billingAccount")
    admin.seed_organisation(description)
    path = f"/v1/billingAccounts/{BILLING_ACCOUNT}/projects"
    first = http.ok(path, pageSize=500)
    assert len(first["projectBillingInfo"]) == 100  # "The maximum page size is 100"
    rest = http.ok(path, pageToken=first["nextPageToken"])
    ids = [i["projectId"] for i in first["projectBillingInfo"] + rest["projectBillingInfo"]]
    assert len(ids) == 3 * 40 - 1 + 40 + 1 and "org-f1-p1" not in ids
    assert "nextPageToken" not in rest
    closed = http.ok(f"/v1/billingAccounts/{OTHER_BILLING_ACCOUNT}/projects")["projectBillingInfo"]
    assert [(i["projectId"], i["billingEnabled"]) for i in closed] == [
        ("org-f1-x1", False),
        ("org-f1-x2", False),
    ]
    refused(http.get("/v1/billingAccounts/AAAAAA-BBBBBB-CCCCCC/projects"), 403, "PERMISSION_DENIED")


# ---- Resource Manager --------------------------------------------------------------------


def test_projects_get_by_id_or_number_and_unknown_is_denied(http: Http, org: Json) -> None:
    by_id = http.ok("/v3/projects/org-o-p1")
    assert by_id == http.ok("/v3/projects/300000000007")
    assert (by_id["name"], by_id["parent"], by_id["state"]) == (
        "projects/300000000007",
        ORG,
        "ACTIVE",
    )
    assert "parent" not in http.ok("/v3/projects/lone-project")
    message = refused(http.get("/v3/projects/stranger-project"), 403, "PERMISSION_DENIED")
    assert message == (
        "Permission 'resourcemanager.projects.get' denied on resource "
        "'//cloudresourcemanager.googleapis.com/projects/stranger-project' (or it may not exist)."
    )
    assert http.ok("/v3/projects/org-o-p1", **{"$alt": "json;enum-encoding=int"})["state"] == 1


def test_folders_and_lists_of_children(http: Http, org: Json) -> None:
    assert http.ok("/v3/folders/2001")["parent"] == ORG
    assert "resourcemanager.folders.get" in refused(
        http.get("/v3/folders/2999"), 403, "PERMISSION_DENIED"
    )
    children = http.ok("/v3/folders", parent="folders/2001")["folders"]
    assert [f["name"] for f in children] == ["folders/2101"]
    refused(http.get("/v3/folders"), 400, "INVALID_ARGUMENT")  # parent is required
    refused(http.get("/v3/projects", parent="folders/2999"), 403, "PERMISSION_DENIED")
    refused(
        http.get("/v3/projects", parent="folders/2001", showDeleted="yes"), 400, "INVALID_ARGUMENT"
    )
    assert http.ok(f"/v3/{ORG}")["displayName"] == "example.com"
    refused(http.get("/v3/organizations/42"), 403, "PERMISSION_DENIED")


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("parent:folders/2101", ["org-f1s1-p1", "org-f1s1-p2"]),
        ("parent:FOLDERS/2101", ["org-f1s1-p1", "org-f1s1-p2"]),  # case-insensitive
        ("parent=folders/2002 AND state:ACTIVE", ["org-f2-p1"]),
        # Terms joined by spaces match *any* of them, as projects.search documents.
        ("parent:folders/2101 id:org-o-p1", ["org-f1s1-p1", "org-f1s1-p2", "org-o-p1"]),
        ("state:DELETE_REQUESTED", ["org-f2-p2"]),
        ("parent.type:organization", ["org-o-p1"]),
        ("parent.id:2002 AND projectId:org-f2-p2", ["org-f2-p2"]),
        (
            "",
            [
                "org-f1-p1",
                "org-f1-p2",
                "org-f2-p1",
                "org-f2-p2",
                "org-f1s1-p1",
                "org-f1s1-p2",
                "org-o-p1",
                "lone-project",
            ],
        ),
    ],
)
def test_projects_search(
    http: Http, admin: EmulatorAdmin, org: Json, query: str, found: list[str]
) -> None:
    org["projects"][3]["state"] = "DELETE_REQUESTED"  # org-f2-p2
    admin.seed_organisation(org)
    pages = [http.ok("/v3/projects:search", query=query, pageSize=1)]
    while "nextPageToken" in pages[-1]:
        token = pages[-1]["nextPageToken"]
        pages.append(http.ok("/v3/projects:search", query=query, pageSize=1, pageToken=token))
    assert [p["projectId"] for page in pages for p in page.get("projects", [])] == found


@pytest.mark.parametrize(
    "query",
    [
        "parent:folders/*",
        "labels.team:a",
        "NOT state:ACTIVE",
        "a AND b AND",
        "state:ACTIVE AND x:y z:w",
    ],
)
def test_projects_search_refuses_what_it_cannot_evaluate(http: Http, org: Json, query: str) -> None:
    refused(http.get("/v3/projects:search", query=query), 400, "INVALID_ARGUMENT")


def test_folders_search(http: Http, admin: EmulatorAdmin, org: Json) -> None:
    org["folders"][1]["state"] = "DELETE_REQUESTED"  # team-2

    def names(query: str) -> list[str]:
        body = http.ok("/v3/folders:search", query=query)
        return [f["displayName"] for f in body.get("folders", [])]

    admin.seed_organisation(org)
    assert names("") == ["team-1", "team-2", "team-1-sub-1"]
    assert names(f"parent={ORG}") == ["team-1", "team-2"]
    assert names(f"parent={ORG} AND state=ACTIVE") == ["team-1"]
    assert names("lifecycleState:DELETE_REQUESTED") == ["team-2"]
    assert names("displayName=team-1-sub-1") == ["team-1-sub-1"]
    for query in ("displayName=team*", "parent=folders/2001 state=ACTIVE", "NOT state=ACTIVE"):
        refused(http.get("/v3/folders:search", query=query), 400, "INVALID_ARGUMENT")


def test_undeclared_query_parameters_are_refused(http: Http, org: Json) -> None:
    for path in (
        "/v3/projects/org-o-p1",
        f"/v1/billingAccounts/{BILLING_ACCOUNT}/budgets/{BUDGET_ID}",
        f"/v1/{ORG}:searchAllResources",
    ):
        assert 'Unknown name "filter"' in refused(
            http.get(path, filter="x"), 400, "INVALID_ARGUMENT"
        )
    assert http.get("/v3/projects/org-o-p1", alt="json", prettyPrint="false")[0] == 200


# ---- request log, counts, faults, quota --------------------------------------------------


def test_requests_are_logged_and_counted_by_discovery_method(
    http: Http, admin: EmulatorAdmin, org: Json
) -> None:
    admin.seed_job(name=job("org-f1-p1", "j"))
    admin.clear_requests()
    http.get(f"/v1/billingAccounts/{BILLING_ACCOUNT}/budgets/{BUDGET_ID}")
    http.get(f"/v1/billingAccounts/{BILLING_ACCOUNT}/projects")
    http.get("/v3/projects/org-f1-p1")
    http.get("/v3/projects", parent="folders/2001")
    http.get("/v3/projects:search", query="parent:folders/2001")
    http.get("/v3/folders/2001")
    http.get("/v3/folders", parent=ORG)
    http.get(f"/v3/{ORG}")
    http.get(
        "/v1/folders/2001:searchAllResources",
        assetTypes=["a.googleapis.com/X", "dataproc.googleapis.com/Job"],
    )
    http.get(f"/v1/{job('org-f1-p1', 'j')}")
    log = admin.requests()
    assert [entry["apiMethod"] for entry in log] == [
        "billingbudgets.billingAccounts.budgets.get",
        "cloudbilling.billingAccounts.projects.list",
        "cloudresourcemanager.projects.get",
        "cloudresourcemanager.projects.list",
        "cloudresourcemanager.projects.search",
        "cloudresourcemanager.folders.get",
        "cloudresourcemanager.folders.list",
        "cloudresourcemanager.organizations.get",
        "cloudasset.searchAllResources",
        "jobs.get",
    ]
    # A repeated parameter is logged with every value.
    assert log[8]["query"]["assetTypes"] == ["a.googleapis.com/X", "dataproc.googleapis.com/Job"]
    counts = admin.request_counts()
    assert counts["total"] == 10
    assert counts["byApi"] == {
        "billingbudgets": 1,
        "cloudasset": 1,
        "cloudbilling": 1,
        "cloudresourcemanager": 6,
        "dataproc": 1,
    }
    # Dataproc's buckets and locations hold Dataproc's request alone.
    assert counts["byBucket"] == {"default": 0, "getJob": 1, "jobOperation": 0, "cloudAsset": 1}
    assert counts["byLocation"] == {"projects/org-f1-p1/regions/us-central1": 1}
    assert counts["peakPerMinute"]["all"] == 10
    assert counts["byMethod"]["cloudresourcemanager.projects.get"] == 1


def test_faults_apply_to_these_methods(http: Http, admin: EmulatorAdmin, org: Json) -> None:
    admin.add_fault(method="GET", pathRegex=r":searchAllResources$", status=503, times=1)
    admin.add_fault(pathRegex=r"/budgets/", status=429, statusName="RESOURCE_EXHAUSTED", times=2)
    refused(http.get(f"/v1/{ORG}:searchAllResources"), 503, "UNAVAILABLE")
    assert http.get(f"/v1/{ORG}:searchAllResources")[0] == 200
    budget = f"/v1/billingAccounts/{BILLING_ACCOUNT}/budgets/{BUDGET_ID}"
    assert [http.get(budget)[0] for _ in range(3)] == [429, 429, 200]
    assert [entry["fault"] is not None for entry in admin.requests()] == [
        True,
        False,
        True,
        True,
        False,
    ]


def test_cloud_asset_quota_is_per_consumer_and_minute(
    http: Http, admin: EmulatorAdmin, org: Json
) -> None:
    assert ASSET_SEARCHES_PER_MINUTE == 400  # the documented limit a test would set
    path = f"/v1/{ORG}:searchAllResources"
    assert [http.get(path)[0] for _ in range(4)] == [200] * 4  # unlimited until set
    admin.settings(quotaPerMinute={"cloudAsset": 3, "default": 1})
    admin.advance_clock(60)
    assert [http.get(path)[0] for _ in range(4)] == [200, 200, 200, 429]
    message = refused(http.get(path), 429, "RESOURCE_EXHAUSTED")
    assert "cloudasset.googleapis.com" in message
    assert http.get(path, headers={"X-Goog-User-Project": "another"})[0] == 200
    # Resource Manager and Dataproc's default bucket are not Cloud Asset's quota.
    assert [http.get("/v3/projects/org-o-p1")[0] for _ in range(3)] == [200] * 3
    admin.advance_clock(60)
    assert http.get(path)[0] == 200
    assert admin.request_counts()["rejectedByQuota"] == 2


def test_the_local_stack_points_all_four_apis_at_the_emulator() -> None:
    env = LocalStack("demo-project").function_env  # built, not started
    host = env["DATAPROC_EMULATOR_HOST"]
    assert {
        key: env[key]
        for key in (
            "BILLING_BUDGETS_EMULATOR_HOST",
            "CLOUD_BILLING_EMULATOR_HOST",
            "RESOURCE_MANAGER_EMULATOR_HOST",
            "CLOUD_ASSET_EMULATOR_HOST",
        )
    } == dict.fromkeys(
        (
            "BILLING_BUDGETS_EMULATOR_HOST",
            "CLOUD_BILLING_EMULATOR_HOST",
            "RESOURCE_MANAGER_EMULATOR_HOST",
            "CLOUD_ASSET_EMULATOR_HOST",
        ),
        host,
    )
