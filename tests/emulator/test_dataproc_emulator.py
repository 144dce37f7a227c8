"""The Dataproc emulator's behaviour, seen over plain HTTP as the canceller sees it."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from tests.support.dataproc_http import TIMEOUT, Api, google_error, parse_time

OPS = "projects/p/regions/r/operations"
BATCHES = "projects/p/locations/r/batches"
JOBS = "projects/p/regions/r/jobs"
SESSIONS = "projects/p/locations/r/sessions"
META = "type.googleapis.com/google.cloud.dataproc.v1."


def op_name(op_id: str) -> str:
    return f"{OPS}/{op_id}"


def job_name(job_id: str) -> str:
    return f"{JOBS}/{job_id}"


def session_name(session_id: str) -> str:
    return f"{SESSIONS}/{session_id}"


# ---- operations: get, done, metadata ---------------------------------------------------


def test_running_operation_omits_done_and_result(admin: EmulatorAdmin, api: Api) -> None:
    seeded = admin.seed_operation(name=op_name("a"))
    status, body = api.get(op_name("a"))
    assert status == 200
    assert body == seeded
    assert set(body) == {"name", "metadata"}  # proto3 JSON: no "done": false
    meta = body["metadata"]
    assert meta["@type"] == META + "BatchOperationMetadata"
    assert meta["batch"] == "projects/p/locations/r/batches/a"
    assert meta["operationType"] == "BATCH"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", meta["createTime"])
    assert "doneTime" not in meta


@pytest.mark.parametrize(
    ("kind", "meta_type", "response_type"),
    [
        ("cluster", "ClusterOperationMetadata", META + "Cluster"),
        ("session", "SessionOperationMetadata", META + "Session"),
        ("workflow", "WorkflowMetadata", "type.googleapis.com/google.protobuf.Empty"),
        ("batch", "BatchOperationMetadata", META + "Batch"),
    ],
)
def test_seeded_done_operation_has_a_typed_response(
    admin: EmulatorAdmin, api: Api, kind: str, meta_type: str, response_type: str
) -> None:
    admin.seed_operation(name=op_name("d"), kind=kind, done=True)
    _, body = api.get(op_name("d"))
    assert body["done"] is True
    assert "error" not in body
    assert body["metadata"]["@type"] == META + meta_type
    assert body["response"]["@type"] == response_type


def test_cluster_metadata_shape_and_overrides(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(
        name=op_name("c"),
        kind="cluster",
        state="PENDING",
        metadata={"clusterName": "etl", "operationType": "DELETE", "labels": {"team": "x"}},
    )
    meta = api.get(op_name("c"))[1]["metadata"]
    assert meta["clusterName"] == "etl"
    assert meta["operationType"] == "DELETE"
    assert meta["labels"] == {"team": "x"}
    assert meta["status"]["state"] == "PENDING"
    assert meta["clusterUuid"]


def test_seeded_result_error_is_returned(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(
        name=op_name("e"), done=True, result={"error": {"code": 9, "message": "x"}}
    )
    body = api.get(op_name("e"))[1]
    assert body["done"] is True
    assert body["error"] == {"code": 9, "message": "x"}
    assert "response" not in body


def test_unknown_operation_path_and_method_are_404(api: Api) -> None:
    response = api.call("GET", op_name("missing"))
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    google_error(response.json(), 404, "NOT_FOUND")
    google_error(api.cancel(op_name("missing"))[1], 404, "NOT_FOUND")
    google_error(api.call("GET", "projects/p/nothing/here").json(), 404, "NOT_FOUND")
    google_error(api.call("PUT", op_name("missing")).json(), 404, "NOT_FOUND")
    # A percent-encoded slash names no operation.
    assert api.call("GET", "projects%2Fp/regions/r/operations/x").status_code == 404


def test_client_query_parameters_and_headers_are_tolerated(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("q"))
    headers = {
        "Authorization": "Bearer t",
        "x-goog-api-client": "gl-python/3.11 gapic/5",
        "x-goog-user-project": "p",
        "x-goog-request-params": f"name={op_name('q')}",
        "Accept-Encoding": "gzip",
    }
    for params in ({"alt": "json"}, {"$alt": "json;enum-encoding=int"}, {"prettyPrint": "false"}):
        status, body = api.get(op_name("q"), params=params, headers=headers)
        assert status == 200
        assert body["name"] == op_name("q")


# ---- cancel ---------------------------------------------------------------------------


def test_cancel_finishes_with_code_1_and_done_time(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("c1"))
    assert api.cancel(op_name("c1")) == (200, {})
    body = api.get(op_name("c1"))[1]
    assert body["done"] is True
    assert body["error"]["code"] == 1
    assert "doneTime" in body["metadata"]


def test_cancel_tolerates_an_empty_json_body_but_not_fields(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("b"))
    status, body = api.cancel(op_name("b"), json={"name": op_name("b")})
    assert status == 400
    google_error(body, 400, "INVALID_ARGUMENT")
    assert "done" not in api.get(op_name("b"))[1]
    assert api.cancel(op_name("b"), json={}) == (200, {})
    assert api.get(op_name("b"))[1]["done"] is True


def test_cancel_seconds_delays_the_end(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("slow"), cancelSeconds=0.3)
    assert api.cancel(op_name("slow")) == (200, {})
    assert "done" not in api.get(op_name("slow"))[1]
    assert api.cancel(op_name("slow")) == (200, {})  # a second cancel does not restart it
    time.sleep(0.35)
    assert api.get(op_name("slow"))[1]["error"]["code"] == 1


def test_completes_after_seconds(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("ok"), completesAfterSeconds=0.2)
    admin.seed_operation(
        name=op_name("boom"),
        completesAfterSeconds=0.2,
        completion={"error": {"code": 13, "message": "boom"}},
    )
    assert "done" not in api.get(op_name("ok"))[1]
    time.sleep(0.25)
    assert api.get(op_name("ok"))[1]["response"]["@type"] == META + "Batch"
    assert api.get(op_name("boom"))[1]["error"] == {"code": 13, "message": "boom"}


def test_natural_completion_beats_a_slow_cancel(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("race"), completesAfterSeconds=0.2, cancelSeconds=5)
    assert api.cancel(op_name("race")) == (200, {})
    time.sleep(0.25)
    assert "response" in api.get(op_name("race"))[1]


def test_on_cancel_ignore_changes_nothing(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("i1"), onCancel="ignore")
    admin.seed_operation(name=op_name("i2"), onCancel="ignore", completesAfterSeconds=0.2)
    assert api.cancel(op_name("i1")) == (200, {})
    assert api.cancel(op_name("i2")) == (200, {})
    time.sleep(0.25)
    assert "done" not in api.get(op_name("i1"))[1]
    assert "response" in api.get(op_name("i2"))[1]


def test_on_cancel_error_finishes_with_the_cancel_error(admin: EmulatorAdmin, api: Api) -> None:
    error = {"code": 13, "message": "could not stop"}
    admin.seed_operation(name=op_name("e"), onCancel="error", cancelError=error, cancelSeconds=0.1)
    assert api.cancel(op_name("e")) == (200, {})
    time.sleep(0.15)
    assert api.get(op_name("e"))[1]["error"] == error


@pytest.mark.parametrize(
    ("on_cancel", "code", "status"),
    [
        ("unimplemented", 501, "UNIMPLEMENTED"),
        ("forbidden", 403, "PERMISSION_DENIED"),
        ("not_found", 404, "NOT_FOUND"),
    ],
)
def test_refused_cancels_leave_the_operation_running(
    admin: EmulatorAdmin, api: Api, on_cancel: str, code: int, status: str
) -> None:
    admin.seed_operation(name=op_name("x"), onCancel=on_cancel)
    answer, body = api.cancel(op_name("x"))
    assert answer == code
    google_error(body, code, status)
    answer, body = api.get(op_name("x"))  # GET still works: a viewer may read
    assert answer == 200
    assert "done" not in body


def test_get_forbidden_refuses_get_and_cancel(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("f"), getForbidden=True)
    for status, body in (api.get(op_name("f")), api.cancel(op_name("f"))):
        assert status == 403
        google_error(body, 403, "PERMISSION_DENIED")


def test_cancelling_a_done_operation(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("d1"), done=True)
    admin.seed_operation(name=op_name("d2"), done=True, cancelWhenDone="silent")
    status, body = api.cancel(op_name("d1"))
    assert status == 400
    google_error(body, 400, "FAILED_PRECONDITION")
    assert api.cancel(op_name("d2")) == (200, {})
    assert "response" in api.get(op_name("d2"))[1]


def test_delete_forgets_without_cancelling(admin: EmulatorAdmin, api: Api) -> None:
    batch = admin.seed_batch(name=f"{BATCHES}/b")
    response = api.call("DELETE", batch["operation"])
    assert (response.status_code, response.json()) == (200, {})
    assert api.get(batch["operation"])[0] == 404
    assert api.get(f"{BATCHES}/b")[1]["state"] == "RUNNING"


def test_seeding_again_replaces(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("r"), done=True)
    admin.seed_operation(name=op_name("r"))
    assert "done" not in api.get(op_name("r"))[1]


@pytest.mark.parametrize(
    "seed",
    [
        {"name": "projects/p/operations/x"},
        {"name": op_name("x"), "onCancle": "ignore"},
        {"name": op_name("x"), "onCancel": "explode"},
        {"name": op_name("x"), "result": {"error": {"code": 1}}},
        {"name": op_name("x"), "done": True, "result": {"error": {}, "response": {}}},
        {"name": op_name("x"), "cancelSeconds": -1},
    ],
)
def test_bad_seeds_are_400_and_store_nothing(admin: EmulatorAdmin, api: Api, seed: Any) -> None:
    with pytest.raises(requests.HTTPError, match="400"):
        admin.seed_operations([{"name": op_name("first")}, seed])
    assert api.get(op_name("first"))[0] == 404


def test_operation_internals(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("in"), onCancel="ignore")
    api.cancel(op_name("in"))
    internals = admin.operation_internals(op_name("in"))
    assert internals["listState"] == "ACTIVE"
    assert internals["onCancel"] == "ignore"
    assert internals["cancelRequestTime"] is None  # ignored: never recorded


# ---- batches --------------------------------------------------------------------------


def test_batch_links_both_ways(admin: EmulatorAdmin, api: Api) -> None:
    seeded = admin.seed_batch(name=f"{BATCHES}/b1", labels={"team": "data"})
    status, batch = api.get(f"{BATCHES}/b1")
    assert status == 200
    assert batch == seeded
    assert batch["state"] == "RUNNING"
    assert batch["labels"] == {"team": "data"}
    assert re.fullmatch(r"projects/p/regions/r/operations/[0-9a-f-]{36}", batch["operation"])
    for key in ("uuid", "createTime", "stateTime", "creator", "pysparkBatch", "runtimeConfig"):
        assert batch[key]
    assert "environmentConfig" in batch
    assert "runtimeInfo" in batch
    meta = api.get(batch["operation"])[1]["metadata"]
    assert meta["batch"] == f"{BATCHES}/b1"
    assert meta["batchUuid"] == batch["uuid"]
    assert meta["labels"] == {"team": "data"}


def test_batch_state_follows_its_operation(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_batch(name=f"{BATCHES}/pending", operation={"state": "PENDING"})
    admin.seed_batch(name=f"{BATCHES}/override", state="PENDING")
    admin.seed_batch(name=f"{BATCHES}/cancel", operation={"cancelSeconds": 0.2})
    admin.seed_batch(name=f"{BATCHES}/ok", operation={"done": True})
    admin.seed_batch(
        name=f"{BATCHES}/bad",
        operation={"done": True, "result": {"error": {"code": 13, "message": "OOM"}}},
    )
    state = {b: api.get(f"{BATCHES}/{b}")[1]["state"] for b in ("pending", "override", "ok")}
    assert state == {"pending": "PENDING", "override": "PENDING", "ok": "SUCCEEDED"}
    failed = api.get(f"{BATCHES}/bad")[1]
    assert (failed["state"], failed["stateMessage"]) == ("FAILED", "OOM")
    cancelling = api.get(f"{BATCHES}/cancel")[1]
    assert api.cancel(cancelling["operation"]) == (200, {})
    assert api.get(f"{BATCHES}/cancel")[1]["state"] == "CANCELLING"
    time.sleep(0.25)
    cancelled = api.get(f"{BATCHES}/cancel")[1]
    assert cancelled["state"] == "CANCELLED"
    assert "stateMessage" not in cancelled


def test_batch_enums_as_numbers_when_asked(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_batch(name=f"{BATCHES}/n")
    params = {"$alt": "json;enum-encoding=int"}
    batch = api.get(f"{BATCHES}/n", params=params)[1]
    assert batch["state"] == 2
    assert batch["stateHistory"] == [{"state": 1, "stateStartTime": batch["createTime"]}]
    assert api.list(BATCHES, **params)["batches"][0]["state"] == 2


def test_unknown_batch_is_404(api: Api) -> None:
    status, body = api.get(f"{BATCHES}/none")
    assert status == 404
    google_error(body, 404, "NOT_FOUND")


# ---- lists ----------------------------------------------------------------------------


def test_list_pages_through_everything_in_order(admin: EmulatorAdmin, api: Api) -> None:
    started = time.monotonic()
    admin.seed_operations([{"name": op_name(f"op{i:04}")} for i in range(1000)])
    assert time.monotonic() - started < 2  # bulk seeding is cheap
    admin.seed_operation(name="projects/p/regions/other/operations/elsewhere")
    first = api.list(OPS)
    assert len(first["operations"]) == 100  # the default page size
    items, pages = api.list_all(OPS, pageSize=300)
    assert pages == 4
    assert [op["name"] for op in items] == [op_name(f"op{i:04}") for i in range(1000)]
    assert len(api.list(OPS, pageSize=5000)["operations"]) == 1000  # clamped, no token
    assert "nextPageToken" not in api.list(OPS, pageSize=5000)


def test_empty_list_is_an_empty_object(api: Api) -> None:
    assert api.list(OPS) == {}
    assert api.list("projects/p/locations/r/batches") == {}


def test_page_tokens_survive_deletes(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operations([{"name": op_name(f"op{i}")} for i in range(6)])
    page = api.list(OPS, pageSize=3)
    api.call("DELETE", op_name("op2"))
    api.call("DELETE", op_name("op3"))
    rest = api.list(OPS, pageSize=3, pageToken=page["nextPageToken"])
    assert [op["name"] for op in rest["operations"]] == [op_name("op4"), op_name("op5")]
    response = api.call("GET", OPS, params={"pageToken": "garbage!"})
    google_error(response.json(), 400, "INVALID_ARGUMENT")


@pytest.fixture
def mixed_operations(admin: EmulatorAdmin) -> None:
    admin.seed_operations(
        [
            {"name": op_name("active"), "metadata": {"labels": {"env": "prod"}}},
            {"name": op_name("pending"), "state": "PENDING"},
            {"name": op_name("done"), "done": True, "metadata": {"labels": {"env": "prod"}}},
            {
                "name": op_name("cluster"),
                "kind": "cluster",
                "metadata": {"clusterName": "etl", "labels": {"env": "dev test"}},
            },
        ]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status.state = ACTIVE", ["active", "cluster"]),
        ("status.state = PENDING", ["pending"]),
        ("status.state = DONE", ["done"]),
        ('status.state = ACTIVE AND labels.env = "prod"', ["active"]),
        ("labels.env = prod", ["active", "done"]),
        ('labels.env = "dev test"', ["cluster"]),
        ("labels.env = *", ["active", "done", "cluster"]),
        ("clusterName = etl", ["cluster"]),
        ("operationType = CREATE", ["cluster"]),
        ("operationType=BATCH status.state=DONE", ["done"]),  # implicit AND
        ("", ["active", "pending", "done", "cluster"]),
        ("{}", ["active", "pending", "done", "cluster"]),  # gcloud's JSON form
        ('{"operation_state_matcher": "ACTIVE"}', ["active", "pending", "cluster"]),
        ('{"operation_state_matcher": "NON_ACTIVE"}', ["done"]),
        ('{"cluster_name": "etl", "project_id": "p"}', ["cluster"]),
    ],
)
def test_operation_filters(
    api: Api, mixed_operations: None, text: str, expected: list[str]
) -> None:
    items, _ = api.list_all(OPS, filter=text, pageSize=2)
    assert [op["name"] for op in items] == [op_name(e) for e in expected]


@pytest.mark.parametrize(
    "text",
    [
        "status.state == DONE",
        "status.state = ",
        "status.state = DONE AND",
        "status.state = DONE OR status.state = ACTIVE",
        "nosuchfield = 1",
        "status.state < DONE",
        '{"operation_state_matcher": "SOME"}',
    ],
)
def test_malformed_filters_are_invalid_argument(api: Api, text: str) -> None:
    response = api.call("GET", OPS, params={"filter": text})
    assert response.status_code == 400
    google_error(response.json(), 400, "INVALID_ARGUMENT")


def test_ignore_filter_setting(admin: EmulatorAdmin, api: Api, mixed_operations: None) -> None:
    assert admin.settings(ignoreFilter=True) == {
        "latencySeconds": 0.0,
        "ignoreFilter": True,
        "quotaPerMinute": {},
    }
    assert len(api.list(OPS, filter="status.state = DONE")["operations"]) == 4
    assert len(api.list(OPS, filter="not a filter at all")["operations"]) == 4


def test_batch_list_filters_order_and_pages(admin: EmulatorAdmin, api: Api) -> None:
    for i in range(5):
        admin.seed_batch(name=f"{BATCHES}/b{i}", labels={"n": "even" if i % 2 == 0 else "odd"})
    admin.seed_batch(name=f"{BATCHES}/done", operation={"done": True})
    items, pages = api.list_all(BATCHES, pageSize=2)
    assert (len(items), pages) == (6, 3)
    assert len(api.list(BATCHES)["batches"]) == 6
    newest_first, _ = api.list_all(BATCHES, orderBy="create_time desc", pageSize=4)
    assert [b["name"] for b in newest_first] == [b["name"] for b in reversed(items)]

    def names(text: str) -> list[str]:
        return [b["name"].rsplit("/", 1)[1] for b in api.list_all(BATCHES, filter=text)[0]]

    assert names("state = RUNNING and labels.n = even") == ["b0", "b2", "b4"]
    assert names("state = SUCCEEDED") == ["done"]
    assert names("batch_id = b3") == ["b3"]
    assert names('create_time < "2000-01-01T00:00:00Z"') == []
    assert len(names('create_time > "2000-01-01T00:00:00Z" AND state != SUCCEEDED')) == 5
    response = api.call("GET", BATCHES, params={"orderBy": "name"})
    google_error(response.json(), 400, "INVALID_ARGUMENT")


# ---- cluster jobs ----------------------------------------------------------------------


def states(job: dict[str, Any]) -> list[str]:
    """The states a job went through, oldest first, ending with the current one."""
    return [entry["state"] for entry in job.get("statusHistory", [])] + [job["status"]["state"]]


def test_running_job_has_the_real_shape(admin: EmulatorAdmin, api: Api) -> None:
    seeded = admin.seed_job(
        name=job_name("etl-1"),
        labels={"team": "data"},
        clusterName="etl",
        clusterUuid="c-uuid",
        jobUuid="j-uuid",
        submittedSecondsAgo=600,
    )
    status, job = api.get(job_name("etl-1"))
    assert status == 200
    assert job == seeded
    assert job["reference"] == {"projectId": "p", "jobId": "etl-1"}
    assert job["placement"] == {"clusterName": "etl", "clusterUuid": "c-uuid"}
    assert (job["jobUuid"], job["labels"]) == ("j-uuid", {"team": "data"})
    assert "done" not in job  # proto3 JSON: no "done": false
    assert states(job) == ["PENDING", "SETUP_DONE", "RUNNING"]
    assert job["sparkJob"]["mainClass"]
    assert job["driverOutputResourceUri"].startswith("gs://")
    assert job["driverControlFilesUri"].startswith("gs://")
    submitted = parse_time(job["statusHistory"][0]["stateStartTime"])
    assert parse_time(job["status"]["stateStartTime"]) == submitted
    # The submission is as old as seeded: compare with a fresh job's.
    fresh = admin.seed_job(name=job_name("fresh"))
    age = parse_time(fresh["statusHistory"][0]["stateStartTime"]) - submitted
    assert timedelta(seconds=600) <= age < timedelta(seconds=660)


def test_cancel_walks_through_the_cancel_states(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("j"), cancelSeconds=10)
    status, answered = api.cancel(job_name("j"), json={})
    assert status == 200
    assert answered["status"]["state"] == "CANCEL_PENDING"
    assert "done" not in answered
    assert api.get(job_name("j"))[1]["status"]["state"] == "CANCEL_PENDING"
    admin.advance_clock(5)
    assert api.get(job_name("j"))[1]["status"]["state"] == "CANCEL_STARTED"
    admin.advance_clock(5)
    job = api.get(job_name("j"))[1]
    assert job["done"] is True
    assert states(job) == [
        "PENDING",
        "SETUP_DONE",
        "RUNNING",
        "CANCEL_PENDING",
        "CANCEL_STARTED",
        "CANCELLED",
    ]
    internals = admin.job_internals(job_name("j"))
    assert internals["job"] == job
    assert internals["cancelRequestTime"] == job["statusHistory"][3]["stateStartTime"]


def test_a_zero_second_cancel_still_answers_cancel_pending(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("j"))
    assert api.cancel(job_name("j"))[1]["status"]["state"] == "CANCEL_PENDING"  # no body: ok
    job = api.get(job_name("j"))[1]
    assert (job["status"]["state"], job["done"]) == ("CANCELLED", True)


def test_repeated_cancel_is_failed_precondition(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("j"), cancelSeconds=10)
    api.cancel(job_name("j"), json={})
    for wait, state in ((0, "CANCEL_PENDING"), (5, "CANCEL_STARTED"), (5, "CANCELLED")):
        admin.advance_clock(wait)
        status, body = api.cancel(job_name("j"), json={})
        assert status == 400
        google_error(body, 400, "FAILED_PRECONDITION")
        assert f"in state: '{state}'" in body["error"]["message"]
    assert admin.job_internals(job_name("j"))["job"]["status"]["state"] == "CANCELLED"


def test_job_in_setup_done_refuses_cancel_until_running(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("setup"), setupSeconds=30)
    assert api.get(job_name("setup"))[1]["status"]["state"] == "SETUP_DONE"
    status, body = api.cancel(job_name("setup"), json={})
    assert status == 400
    google_error(body, 400, "FAILED_PRECONDITION")
    assert body["error"]["message"] == (
        "Cannot cancel jobId 'setup' in projectId 'p' in state: 'SETUP_DONE'; "
        "cancellable states: '[PENDING, RUNNING]'"
    )
    admin.advance_clock(30)
    job = api.get(job_name("setup"))[1]
    assert states(job) == ["PENDING", "SETUP_DONE", "RUNNING"]
    assert api.cancel(job_name("setup"), json={})[0] == 200


def test_pending_job_can_be_cancelled(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("queued"), state="PENDING")
    assert states(api.get(job_name("queued"))[1]) == ["PENDING"]
    assert api.cancel(job_name("queued"))[0] == 200
    assert states(api.get(job_name("queued"))[1]) == [
        "PENDING",
        "CANCEL_PENDING",
        "CANCEL_STARTED",
        "CANCELLED",
    ]


def test_on_cancel_finish_ends_done_despite_the_cancel(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("f"), onCancel="finish", cancelSeconds=10)
    assert api.cancel(job_name("f"))[1]["status"]["state"] == "CANCEL_PENDING"
    admin.advance_clock(10)
    job = api.get(job_name("f"))[1]
    assert (states(job)[-2:], job["done"]) == (["CANCEL_PENDING", "DONE"], True)


def test_on_cancel_stuck_never_gets_past_cancel_pending(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("s"), onCancel="stuck")
    api.cancel(job_name("s"))
    admin.advance_clock(3600)
    job = api.get(job_name("s"))[1]
    assert (job["status"]["state"], "done" in job) == ("CANCEL_PENDING", False)


def test_job_errors_on_its_own(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(
        name=job_name("bad"), completesAfterSeconds=20, completion="ERROR", details="OOM"
    )
    admin.seed_job(name=job_name("ok"), completesAfterSeconds=20)
    assert "done" not in api.get(job_name("bad"))[1]
    admin.advance_clock(20)
    bad, ok = api.get(job_name("bad"))[1], api.get(job_name("ok"))[1]
    assert bad["status"] == {
        "state": "ERROR",
        "stateStartTime": bad["status"]["stateStartTime"],
        "details": "OOM",
    }
    assert (bad["done"], ok["done"], ok["status"]["state"]) == (True, True, "DONE")
    assert "details" not in ok["status"]


def test_natural_end_beats_a_slow_cancel(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("race"), completesAfterSeconds=5, cancelSeconds=60)
    api.cancel(job_name("race"))
    admin.advance_clock(5)
    assert states(api.get(job_name("race"))[1])[-2:] == ["CANCEL_PENDING", "DONE"]


@pytest.mark.parametrize("state", ["DONE", "ERROR", "CANCELLED", "ATTEMPT_FAILURE"])
def test_finished_jobs_refuse_cancel(admin: EmulatorAdmin, api: Api, state: str) -> None:
    seeded = admin.seed_job(name=job_name("j"), state=state)
    assert seeded["status"]["state"] == state
    assert ("done" in seeded) == (state != "ATTEMPT_FAILURE")  # a restartable attempt
    status, body = api.cancel(job_name("j"))
    assert status == 400
    google_error(body, 400, "FAILED_PRECONDITION")
    assert f"in state: '{state}'" in body["error"]["message"]
    assert api.get(job_name("j"))[1] == seeded


def test_job_permissions(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("viewer"), onCancel="forbidden")
    admin.seed_job(name=job_name("hidden"), getForbidden=True)
    status, body = api.cancel(job_name("viewer"))
    assert status == 403
    google_error(body, 403, "PERMISSION_DENIED")
    assert "'dataproc.jobs.cancel'" in body["error"]["message"]
    assert states(api.get(job_name("viewer"))[1])[-1] == "RUNNING"
    for status, body in (api.get(job_name("hidden")), api.cancel(job_name("hidden"))):
        assert status == 403
        google_error(body, 403, "PERMISSION_DENIED")
    assert admin.job_internals(job_name("hidden"))["cancelRequestTime"] is None


def test_unknown_job_and_bad_cancel_body(admin: EmulatorAdmin, api: Api) -> None:
    status, body = api.get(job_name("missing"))
    assert status == 404
    google_error(body, 404, "NOT_FOUND")
    google_error(api.cancel(job_name("missing"))[1], 404, "NOT_FOUND")
    admin.seed_job(name=job_name("j"))
    google_error(api.cancel(job_name("j"), json={"jobId": "j"})[1], 400, "INVALID_ARGUMENT")
    assert states(api.get(job_name("j"))[1])[-1] == "RUNNING"


def test_job_enums_as_numbers_when_asked(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("n"))
    params = {"$alt": "json;enum-encoding=int"}
    job = api.get(job_name("n"), params=params)[1]
    # jobs.proto's numbers: PENDING 1, RUNNING 2, CANCEL_PENDING 3, CANCELLED 4, SETUP_DONE 8.
    assert [entry["state"] for entry in job["statusHistory"]] == [1, 8]
    assert job["status"]["state"] == 2
    assert api.cancel(job_name("n"), params=params)[1]["status"]["state"] == 3
    assert api.list(JOBS, **params)["jobs"][0]["status"]["state"] == 4


@pytest.mark.parametrize(
    "seed",
    [
        {"name": "projects/p/regions/r/jobs/has.dot"},
        {"name": job_name("x"), "state": "CANCEL_PENDING"},
        {"name": job_name("x"), "onCancel": "ignore"},
        {"name": job_name("x"), "state": "DONE", "completesAfterSeconds": 1},
        {"name": job_name("x"), "state": "PENDING", "setupSeconds": 1},
        {"name": job_name("x"), "setupSeconds": 10, "completesAfterSeconds": 5},
        {"name": job_name("x"), "completion": "CANCELLED"},
        {"name": job_name("x"), "labels": {"n": 1}},
        {"name": job_name("x"), "cancelSecs": 1},
    ],
)
def test_bad_job_seeds_are_400_and_store_nothing(
    admin: EmulatorAdmin, api: Api, seed: dict[str, Any]
) -> None:
    with pytest.raises(requests.HTTPError, match="400"):
        admin.seed_jobs([{"name": job_name("first")}, seed])
    assert api.get(job_name("first"))[0] == 404


@pytest.fixture
def mixed_jobs(admin: EmulatorAdmin) -> None:
    assert (
        admin.seed_jobs(
            [
                {"name": job_name("run-etl"), "clusterName": "etl", "labels": {"env": "prod"}},
                {"name": job_name("run-ml"), "clusterName": "ml", "labels": {"env": "dev"}},
                {"name": job_name("pending"), "state": "PENDING", "clusterName": "etl"},
                {"name": job_name("setup"), "setupSeconds": 60, "clusterName": "etl"},
                {"name": job_name("retrying"), "state": "ATTEMPT_FAILURE"},
                {"name": job_name("done"), "state": "DONE", "labels": {"env": "prod"}},
                {"name": job_name("error"), "state": "ERROR", "clusterName": "etl"},
                {"name": job_name("cancelled"), "state": "CANCELLED"},
            ]
        )
        == 8
    )
    admin.seed_job(name="projects/p/regions/other/jobs/elsewhere")


ALL_JOBS = ["run-etl", "run-ml", "pending", "setup", "retrying", "done", "error", "cancelled"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ALL_JOBS),
        ({"jobStateMatcher": "ALL"}, ALL_JOBS),
        # ACTIVE and NON_ACTIVE cover exactly the documented states: SETUP_DONE and
        # ATTEMPT_FAILURE are in neither.
        ({"jobStateMatcher": "ACTIVE"}, ["run-etl", "run-ml", "pending"]),
        ({"jobStateMatcher": "1"}, ["run-etl", "run-ml", "pending"]),
        ({"jobStateMatcher": "NON_ACTIVE"}, ["done", "error", "cancelled"]),
        ({"jobStateMatcher": "2"}, ["done", "error", "cancelled"]),
        ({"clusterName": "etl"}, ["run-etl", "pending", "setup", "error"]),
        ({"clusterName": "etl", "jobStateMatcher": "ACTIVE"}, ["run-etl", "pending"]),
        ({"filter": "status.state = ACTIVE"}, ["run-etl", "run-ml", "pending"]),
        ({"filter": "status.state = NON_ACTIVE AND labels.env = prod"}, ["done"]),
        ({"filter": "labels.env = *"}, ["run-etl", "run-ml", "done"]),
        ({"filter": "status.state = ACTIVE labels.env = 'dev'"}, ["run-ml"]),  # implicit AND
        # A filter wins over jobStateMatcher; clusterName still applies.
        ({"filter": "labels.env = prod", "jobStateMatcher": "ACTIVE"}, ["run-etl", "done"]),
        ({"filter": "status.state = ACTIVE", "clusterName": "ml"}, ["run-ml"]),
    ],
)
def test_job_list_selection(
    api: Api, mixed_jobs: None, params: dict[str, str], expected: list[str]
) -> None:
    items, _ = api.list_all(JOBS, pageSize=3, **params)
    assert [job["reference"]["jobId"] for job in items] == expected


@pytest.mark.parametrize(
    "params",
    [
        {"jobStateMatcher": "RUNNING"},
        {"filter": "status.state = RUNNING"},
        {"filter": "status.state != ACTIVE"},
        {"filter": "status.state = ACTIVE OR labels.env = prod"},
        {"filter": "placement.clusterName = etl"},
        {"pageToken": "nope"},
    ],
)
def test_job_list_refuses_what_is_not_documented(
    api: Api, mixed_jobs: None, params: dict[str, str]
) -> None:
    google_error(api.call("GET", JOBS, params=params).json(), 400, "INVALID_ARGUMENT")


def test_job_list_pages(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_jobs([{"name": job_name(f"j{i:03}")} for i in range(250)])
    assert api.list("projects/p/regions/nowhere/jobs") == {}
    assert len(api.list(JOBS)["jobs"]) == 100  # assumed default page size
    items, pages = api.list_all(JOBS, pageSize=100)
    assert pages == 3
    assert [job["reference"]["jobId"] for job in items] == [f"j{i:03}" for i in range(250)]


# ---- interactive sessions ----------------------------------------------------------------


def session_states(session: dict[str, Any]) -> list[str]:
    return [entry["state"] for entry in session.get("stateHistory", [])] + [session["state"]]


def test_active_session_has_the_real_shape(admin: EmulatorAdmin, api: Api) -> None:
    seeded = admin.seed_session(
        name=session_name("nb-1"), labels={"team": "data"}, uuid="s-uuid", createdSecondsAgo=60
    )
    status, session = api.get(session_name("nb-1"))
    assert status == 200
    assert session == seeded
    assert (session["name"], session["uuid"]) == (session_name("nb-1"), "s-uuid")
    assert session_states(session) == ["CREATING", "ACTIVE"]
    assert session["labels"] == {"team": "data"}
    assert session["stateTime"] == session["createTime"]
    assert session["jupyterSession"]["kernel"] == "PYTHON"
    for key in ("creator", "runtimeConfig", "environmentConfig", "runtimeInfo"):
        assert session[key]
    assert "stateMessage" not in session


def test_terminate_answers_an_operation_that_finishes_with_the_session(
    admin: EmulatorAdmin, api: Api
) -> None:
    admin.seed_session(name=session_name("nb"), labels={"team": "data"}, terminateSeconds=30)
    status, op = api.terminate(session_name("nb"), json={"requestId": "req-1"})
    assert status == 200
    assert re.fullmatch(r"projects/p/regions/r/operations/[0-9a-f-]{36}", op["name"])
    assert set(op) == {"name", "metadata"}  # accepted, not done
    meta = op["metadata"]
    assert meta["@type"] == META + "SessionOperationMetadata"
    assert (meta["operationType"], meta["session"]) == ("TERMINATE", session_name("nb"))
    assert meta["sessionUuid"] == api.get(session_name("nb"))[1]["uuid"]
    assert meta["labels"] == {"team": "data"}
    assert api.get(op["name"])[1] == op  # stored: operations.get knows it
    assert api.get(session_name("nb"))[1]["state"] == "TERMINATING"

    admin.advance_clock(30)
    session = api.get(session_name("nb"))[1]
    assert session_states(session) == ["CREATING", "ACTIVE", "TERMINATING", "TERMINATED"]
    done = api.get(op["name"])[1]
    assert done["done"] is True
    assert "doneTime" in done["metadata"]
    assert done["response"] == {"@type": META + "Session", **session}
    listed = api.list(OPS, filter="operationType = TERMINATE")["operations"]
    assert [o["name"] for o in listed] == [op["name"]]
    internals = admin.session_internals(session_name("nb"))
    assert (internals["terminateOperation"], internals["requestId"]) == (op["name"], "req-1")


def test_a_repeated_request_id_answers_the_same_operation(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_session(name=session_name("nb"), terminateSeconds=30)
    first = api.terminate(session_name("nb"), json={"requestId": "r1"})[1]
    again = api.terminate(session_name("nb"), json={"requestId": "r1"})
    assert again == (200, first)
    status, body = api.terminate(session_name("nb"), json={"requestId": "r2"})
    assert status == 400
    google_error(body, 400, "FAILED_PRECONDITION")
    assert "TERMINATING" in body["error"]["message"]
    admin.advance_clock(30)
    status, body = api.terminate(session_name("nb"))
    assert status == 400
    assert "TERMINATED" in body["error"]["message"]
    status, done = api.terminate(session_name("nb"), json={"requestId": "r1"})
    assert (status, done["name"], done["done"]) == (200, first["name"], True)
    assert len(api.list(OPS)["operations"]) == 1


@pytest.mark.parametrize("state", ["TERMINATED", "FAILED"])
def test_stopped_sessions_refuse_terminate(admin: EmulatorAdmin, api: Api, state: str) -> None:
    seeded = admin.seed_session(name=session_name("old"), state=state, stateMessage="boom")
    assert seeded["state"] == state
    assert ("stateMessage" in seeded) == (state == "FAILED")
    status, body = api.terminate(session_name("old"), json={})
    assert status == 400
    google_error(body, 400, "FAILED_PRECONDITION")
    assert api.list(OPS) == {}


def test_creating_session_can_be_terminated(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_session(name=session_name("new"), state="CREATING")
    assert session_states(api.get(session_name("new"))[1]) == ["CREATING"]
    assert api.terminate(session_name("new"))[0] == 200
    assert session_states(api.get(session_name("new"))[1]) == [
        "CREATING",
        "TERMINATING",
        "TERMINATED",
    ]


def test_on_terminate_fail_ends_failed(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_session(
        name=session_name("f"), onTerminate="fail", stateMessage="driver lost", terminateSeconds=5
    )
    op = api.terminate(session_name("f"))[1]
    admin.advance_clock(5)
    session = api.get(session_name("f"))[1]
    assert (session["state"], session["stateMessage"]) == ("FAILED", "driver lost")
    assert api.get(op["name"])[1]["error"] == {"code": 13, "message": "driver lost"}


def test_cancelling_a_terminate_operation_changes_nothing(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_session(name=session_name("nb"), terminateSeconds=30)
    op = api.terminate(session_name("nb"))[1]
    assert api.cancel(op["name"]) == (200, {})
    admin.advance_clock(30)
    assert "response" in api.get(op["name"])[1]
    assert api.get(session_name("nb"))[1]["state"] == "TERMINATED"


def test_session_permissions_and_bad_requests(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_session(name=session_name("viewer"), onTerminate="forbidden")
    admin.seed_session(name=session_name("hidden"), getForbidden=True)
    status, body = api.terminate(session_name("viewer"))
    assert status == 403
    google_error(body, 403, "PERMISSION_DENIED")
    assert "'dataproc.sessions.terminate'" in body["error"]["message"]
    for status, body in (api.get(session_name("hidden")), api.terminate(session_name("hidden"))):
        assert status == 403
        google_error(body, 403, "PERMISSION_DENIED")
    status, body = api.get(session_name("missing"))
    assert status == 404
    google_error(body, 404, "NOT_FOUND")
    for bad in ({"name": "x"}, {"requestId": "has spaces"}, {"requestId": "x" * 41}, []):
        status, body = api.terminate(session_name("viewer"), json=bad)
        assert status == 400
        google_error(body, 400, "INVALID_ARGUMENT")
    assert api.get(session_name("viewer"))[1]["state"] == "ACTIVE"


def test_session_enums_as_numbers_when_asked(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_session(name=session_name("n"), terminateSeconds=5)
    params = {"$alt": "json;enum-encoding=int"}
    session = api.get(session_name("n"), params=params)[1]
    assert (session["state"], session["stateHistory"][0]["state"]) == (2, 1)
    assert session["jupyterSession"]["kernel"] == 1
    op = api.terminate(session_name("n"), params=params)[1]
    assert op["metadata"]["operationType"] == 2
    assert api.list(SESSIONS, **params)["sessions"][0]["state"] == 3


@pytest.mark.parametrize(
    "seed",
    [
        {"name": "projects/p/regions/r/sessions/s"},
        {"name": session_name("s"), "state": "TERMINATING"},
        {"name": session_name("s"), "onTerminate": "ignore"},
        {"name": session_name("s"), "terminateSeconds": "5"},
        {"name": session_name("s"), "ttl": "1h"},
    ],
)
def test_bad_session_seeds_are_400_and_store_nothing(
    admin: EmulatorAdmin, api: Api, seed: dict[str, Any]
) -> None:
    with pytest.raises(requests.HTTPError, match="400"):
        admin.seed_sessions([{"name": session_name("first")}, seed])
    assert api.get(session_name("first"))[0] == 404


@pytest.fixture
def mixed_sessions(admin: EmulatorAdmin) -> None:
    admin.seed_sessions(
        [
            {"name": session_name("nb-a"), "labels": {"env": "prod"}, "uuid": "uuid-a"},
            {"name": session_name("nb-b"), "state": "CREATING", "labels": {"env": "dev"}},
            {"name": session_name("nb-c"), "state": "TERMINATED", "labels": {"env": "prod"}},
            {"name": session_name("nb-d"), "state": "FAILED"},
            {"name": session_name("nb-e"), "createdSecondsAgo": 7200},
        ]
    )
    admin.seed_session(name="projects/p/locations/other/sessions/elsewhere")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["nb-e", "nb-a", "nb-b", "nb-c", "nb-d"]),  # oldest first: nb-e is backdated
        ("state = ACTIVE", ["nb-e", "nb-a"]),
        ("state = ACTIVE OR state = CREATING", ["nb-e", "nb-a", "nb-b"]),
        ("state = ACTIVE or state = CREATING and labels.env = prod", ["nb-a"]),  # OR binds first
        ('state != TERMINATED AND state != "FAILED"', ["nb-e", "nb-a", "nb-b"]),
        ("labels.env = prod", ["nb-a", "nb-c"]),
        ("labels.env = *", ["nb-a", "nb-b", "nb-c"]),
        ("session_id = nb-d", ["nb-d"]),
        ("session_uuid = uuid-a", ["nb-a"]),
    ],
)
def test_session_list_filters(
    api: Api, mixed_sessions: None, text: str, expected: list[str]
) -> None:
    items, _ = api.list_all(SESSIONS, filter=text, pageSize=2)
    assert [s["name"] for s in items] == [session_name(e) for e in expected]


def test_session_list_create_time_order_and_pages(
    admin: EmulatorAdmin, api: Api, mixed_sessions: None
) -> None:
    an_hour_ago = datetime.fromisoformat(api.get(session_name("nb-a"))[1]["createTime"])
    an_hour_ago -= timedelta(hours=1)
    stamp = an_hour_ago.isoformat().replace("+00:00", "Z")
    old = api.list(SESSIONS, filter=f'create_time < "{stamp}"')["sessions"]
    assert [s["name"] for s in old] == [session_name("nb-e")]
    newest_first, pages = api.list_all(SESSIONS, orderBy="create_time desc", pageSize=2)
    # nb-e was created two hours before it was seeded: it is the oldest.
    assert [s["name"] for s in newest_first] == [
        session_name(f"nb-{x}") for x in ("d", "c", "b", "a", "e")
    ]
    oldest_first, _ = api.list_all(SESSIONS, pageSize=2)
    assert oldest_first == list(reversed(newest_first))
    assert pages == 3
    for params in (
        {"filter": "state = ACTIVE OR"},
        {"filter": "(state = ACTIVE)"},
        {"orderBy": "name"},
    ):
        google_error(api.call("GET", SESSIONS, params=params).json(), 400, "INVALID_ARGUMENT")


# ---- request counts, quota, clock --------------------------------------------------------


def test_request_counts_by_method_bucket_and_location(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("j"))
    admin.seed_job(name="projects/q/regions/east/jobs/j")
    admin.seed_session(name=session_name("s"))
    admin.seed_operation(name=op_name("o"))
    admin.seed_batch(name=f"{BATCHES}/b")
    api.get(job_name("j"))
    api.get(job_name("j"))
    api.get("projects/q/regions/east/jobs/j")
    api.cancel(job_name("j"))
    api.cancel(job_name("j"))  # refused (already cancelled) but counted
    api.list(JOBS)
    api.get(session_name("s"))
    api.terminate(session_name("s"))
    api.list(SESSIONS)
    api.get(op_name("o"))
    api.cancel(op_name("o"))
    api.list(OPS)
    api.call("DELETE", op_name("o"))
    api.get(f"{BATCHES}/b")
    api.list(BATCHES)
    api.call("GET", "projects/p/nothing")
    api.call("PUT", job_name("j"))
    assert admin.request_counts() == {
        "total": 17,
        "byMethod": {
            "batches.get": 1,
            "batches.list": 1,
            "jobs.cancel": 2,
            "jobs.get": 3,
            "jobs.list": 1,
            "operations.cancel": 1,
            "operations.delete": 1,
            "operations.get": 1,
            "operations.list": 1,
            "sessions.get": 1,
            "sessions.list": 1,
            "sessions.terminate": 1,
            "unknown": 2,
        },
        "byBucket": {"default": 12, "getJob": 3, "jobOperation": 2},
        # A path no method serves has no location (nor quota).
        "byLocation": {"projects/p/regions/r": 14, "projects/q/regions/east": 1},
        "peakPerMinute": {"all": 17, "default": 12, "getJob": 3, "jobOperation": 2},
        "rejectedByQuota": 0,
    }
    assert [entry["apiMethod"] for entry in admin.requests()[:2]] == ["jobs.get", "jobs.get"]
    admin.clear_requests()
    assert admin.request_counts()["total"] == 0
    assert admin.request_counts()["peakPerMinute"] == dict.fromkeys(
        ("all", "default", "getJob", "jobOperation"), 0
    )


def test_peak_per_minute_is_the_busiest_sliding_window(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_job(name=job_name("j"))
    for _ in range(3):
        api.get(job_name("j"))
    admin.advance_clock(45)
    for _ in range(2):
        api.get(job_name("j"))  # 5 within 60 s
    admin.advance_clock(30)  # the first three are out of the window now
    for _ in range(2):
        api.get(job_name("j"))  # 4 within 60 s
    counts = admin.request_counts()
    assert (counts["total"], counts["peakPerMinute"]["getJob"]) == (7, 5)
    assert counts["peakPerMinute"]["jobOperation"] == 0


def test_quota_answers_429_per_bucket_project_and_region(admin: EmulatorAdmin, api: Api) -> None:
    assert admin.settings(quotaPerMinute={"jobOperation": 2})["quotaPerMinute"] == {
        "jobOperation": 2
    }
    admin.seed_jobs([{"name": job_name(f"j{i}")} for i in range(4)])
    admin.seed_job(name="projects/p/regions/other/jobs/j0")
    assert api.cancel(job_name("j0"))[0] == 200
    assert api.cancel(job_name("j1"))[0] == 200
    response = api.call("POST", f"{job_name('j2')}:cancel", json={})
    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert "JobOperationRequestsPerMinutePerProjectPerRegion" in error["message"]
    info = error["details"][0]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert info["reason"] == "RATE_LIMIT_EXCEEDED"
    assert info["metadata"]["quota_limit_value"] == "2"
    assert info["metadata"]["quota_location"] == "r"
    assert states(api.get(job_name("j2"))[1])[-1] == "RUNNING"  # refused: not cancelled
    assert api.get(job_name("j3"))[0] == 200  # another bucket
    assert api.cancel("projects/p/regions/other/jobs/j0")[0] == 200  # another region
    admin.advance_clock(59)
    assert api.cancel(job_name("j2"))[0] == 429  # a refusal used no quota, but 59 s is not 60
    admin.advance_clock(1)
    assert api.cancel(job_name("j2"))[0] == 200
    counts = admin.request_counts()
    assert (counts["rejectedByQuota"], counts["byMethod"]["jobs.cancel"]) == (2, 6)
    log = admin.requests()
    assert [entry["quotaExceeded"] for entry in log if entry["method"] == "POST"] == [
        False,
        False,
        True,
        False,
        True,
        False,
    ]


def test_quota_window_survives_clearing_the_log_but_not_reset(
    admin: EmulatorAdmin, api: Api
) -> None:
    admin.settings(quotaPerMinute={"default": 1})
    api.list(OPS)
    admin.clear_requests()
    assert api.call("GET", OPS).status_code == 429
    admin.reset()
    assert admin.settings()["quotaPerMinute"] == {}
    admin.settings(quotaPerMinute={"default": 1})
    assert api.call("GET", OPS).status_code == 200


def test_a_request_over_quota_never_reaches_a_fault(admin: EmulatorAdmin, api: Api) -> None:
    admin.settings(quotaPerMinute={"default": 0})
    admin.add_fault(pathRegex="operations", status=503)
    assert api.call("GET", OPS).status_code == 429
    assert admin.faults()[0]["remaining"] == 1
    assert admin.requests()[0]["fault"] is None


@pytest.mark.parametrize(
    "settings",
    [
        {"quotaPerMinute": {"getjob": 5}},
        {"quotaPerMinute": {"default": -1}},
        {"quotaPerMinute": {"default": 1.5}},
        {"quotaPerMinute": []},
        {"quota": {}},
    ],
)
def test_bad_quota_settings_are_400(admin: EmulatorAdmin, settings: dict[str, Any]) -> None:
    with pytest.raises(requests.HTTPError, match="400"):
        admin.settings(**settings)


def test_clock_moves_only_forward(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("o"), completesAfterSeconds=100)
    offset = admin.advance_clock(100)
    assert api.get(op_name("o"))[1]["done"] is True
    for bad in (-1, "5", True):
        with pytest.raises(requests.HTTPError, match="400"):
            admin.advance_clock(bad)  # type: ignore[arg-type]
    for not_finite in ("NaN", "Infinity", "1e309"):  # Python's JSON reads all three
        answer = requests.post(
            f"{admin.base_url}/_emulator/clock",
            data=f'{{"advanceSeconds": {not_finite}}}',
            headers={"Content-Type": "application/json"},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 400, not_finite
    admin.reset()
    assert admin.advance_clock(0) == offset


def test_a_frozen_clock_moves_only_when_told_or_by_a_delay_fault(
    admin: EmulatorAdmin, api: Api
) -> None:
    """What a test on a fake clock relies on: real time no longer moves scripted delays."""
    admin.freeze_clock()
    try:
        admin.seed_operation(name=op_name("f"), completesAfterSeconds=0.3)
        time.sleep(0.5)
        assert "done" not in api.get(op_name("f"))[1]  # 0.5 s passed for real, none here
        admin.advance_clock(0.2)
        assert "done" not in api.get(op_name("f"))[1]
        admin.add_fault(method="GET", pathRegex="/f$", times=1, action="delay", delaySeconds=0.2)
        api.get(op_name("f"))  # the server spent 0.2 s on this one: 0.4 s in all
        assert api.get(op_name("f"))[1]["done"] is True
        for bad in ({"frozen": "yes"}, {"frozen": 1}, {"when": 1}):
            with pytest.raises(requests.HTTPError, match="400"):
                admin._call("POST", "/_emulator/clock", bad)
    finally:
        admin.reset()  # runs the clock again, on from where it stood
    admin.seed_operation(name=op_name("r"), completesAfterSeconds=0.2)
    time.sleep(0.3)
    assert api.get(op_name("r"))[1]["done"] is True


# ---- faults, latency, log --------------------------------------------------------------


def test_status_fault_with_retry_after_is_consumed(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("op1"))
    admin.add_fault(method="GET", pathRegex="operations/op1$", times=2, status=503, retryAfter="1")
    for _ in range(2):
        response = api.call("GET", op_name("op1"))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        google_error(response.json(), 503, "UNAVAILABLE")
    assert api.get(op_name("op1"))[0] == 200
    assert admin.faults()[0]["remaining"] == 0


def test_fault_matching_by_method_path_and_forever(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("op1"))
    admin.add_fault(method="POST", pathRegex=":cancel$", times=-1, status=429)
    for _ in range(3):
        google_error(api.cancel(op_name("op1"))[1], 429, "RESOURCE_EXHAUSTED")
    assert "done" not in api.get(op_name("op1"))[1]  # a faulted cancel has no effect
    assert admin.requests()[-1]["fault"] is None
    assert admin.requests()[0]["fault"] is not None
    admin.clear_faults()
    assert api.cancel(op_name("op1")) == (200, {})


def test_fault_status_name_override(admin: EmulatorAdmin, api: Api) -> None:
    admin.add_fault(pathRegex="operations", status=400, statusName="FAILED_PRECONDITION")
    response = api.call("GET", OPS)
    google_error(response.json(), 400, "FAILED_PRECONDITION")


def raw_exchange(base_url: str, path: str) -> bytes:
    """One request on a fresh socket; returns all bytes until the server closes."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_drop_closes_without_an_answer(
    emulator: DataprocEmulator, admin: EmulatorAdmin, api: Api
) -> None:
    admin.add_fault(pathRegex="op1", action="drop")
    assert raw_exchange(emulator.base_url, f"/v1/{op_name('op1')}") == b""
    assert api.get(op_name("op1"))[0] == 404  # consumed; the server still serves


def test_reset_sends_a_tcp_reset(emulator: DataprocEmulator, admin: EmulatorAdmin) -> None:
    admin.add_fault(pathRegex="op1", action="reset")
    with pytest.raises(ConnectionResetError):
        raw_exchange(emulator.base_url, f"/v1/{op_name('op1')}")
    with pytest.raises(requests.ConnectionError):
        admin.add_fault(pathRegex="op1", action="reset")
        requests.get(f"{emulator.base_url}/v1/{op_name('op1')}", timeout=TIMEOUT)


def test_malformed_and_html_answers(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("op1"))
    admin.add_fault(pathRegex="op1", action="malformed")
    admin.add_fault(pathRegex="op1", action="html")
    malformed = api.call("GET", op_name("op1"))
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        json.loads(malformed.content)
    html = api.call("GET", op_name("op1"))
    assert html.status_code == 200
    assert html.headers["Content-Type"].startswith("text/html")
    assert b"Error" in html.content
    assert api.get(op_name("op1"))[0] == 200  # same keep-alive connection still works


def test_delay_fault_trips_a_client_read_timeout(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("op1"))
    admin.add_fault(pathRegex="op1", action="delay", delaySeconds=0.5)
    with pytest.raises(requests.ReadTimeout):
        api.call("GET", op_name("op1"), timeout=0.2)
    admin.add_fault(pathRegex="op1", action="delay", delaySeconds=0.2)
    started = time.monotonic()
    assert api.get(op_name("op1"))[0] == 200
    assert time.monotonic() - started >= 0.2


def test_faults_do_not_touch_the_admin_api(admin: EmulatorAdmin) -> None:
    admin.add_fault(pathRegex=".*", times=-1, status=500)
    assert admin.seed_operation(name=op_name("x"))["name"] == op_name("x")


def test_bad_fault_is_400(admin: EmulatorAdmin) -> None:
    for fault in ({"action": "explode"}, {"action": "status", "times": 0}, {"pathRegex": "("}):
        with pytest.raises(requests.HTTPError, match="400"):
            admin.add_fault(**fault)


def test_latency_delays_only_the_real_api(admin: EmulatorAdmin, api: Api) -> None:
    admin.settings(latencySeconds=0.2)
    started = time.monotonic()
    admin.seed_operation(name=op_name("l"))
    assert time.monotonic() - started < 0.2
    started = time.monotonic()
    assert api.get(op_name("l"))[0] == 200
    assert time.monotonic() - started >= 0.2
    admin.reset()
    started = time.monotonic()
    api.get(op_name("l"))
    assert time.monotonic() - started < 0.2


def test_request_log(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_operation(name=op_name("log"))
    api.cancel(op_name("log"), headers={"Authorization": "Bearer x"})
    api.get(op_name("log"), params={"alt": "json"})
    log = admin.requests()
    assert [(r["method"], r["path"]) for r in log] == [
        ("POST", f"/v1/{op_name('log')}:cancel"),
        ("GET", f"/v1/{op_name('log')}"),
    ]
    assert (log[0]["hasAuthorization"], log[1]["hasAuthorization"]) == (True, False)
    assert (log[0]["body"], log[1]["query"]) == ("", {"alt": "json"})
    assert log[0]["time"] <= log[1]["time"]
    admin.clear_requests()
    assert admin.requests() == []


def test_reset_clears_everything(admin: EmulatorAdmin, api: Api) -> None:
    admin.seed_batch(name=f"{BATCHES}/b")
    admin.add_fault(pathRegex="nothing")
    admin.settings(ignoreFilter=True)
    api.list(OPS)
    admin.reset()
    assert admin.requests() == []
    assert admin.faults() == []
    assert admin.settings() == {
        "latencySeconds": 0.0,
        "ignoreFilter": False,
        "quotaPerMinute": {},
    }
    assert (api.list(OPS), api.list(BATCHES)) == ({}, {})


# ---- HTTP/1.1 and process ----------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection(
    emulator: DataprocEmulator, admin: EmulatorAdmin
) -> None:
    admin.seed_operation(name=op_name("k"))
    host, port = emulator.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    connection.connect()
    first_socket = connection.sock
    for _ in range(50):
        connection.request("GET", f"/v1/{op_name('k')}")
        response = connection.getresponse()
        assert response.version == 11
        assert int(response.headers["Content-Length"]) == len(response.read())
    connection.request("GET", "/v1/unknown")
    response = connection.getresponse()
    response.read()
    assert response.status == 404
    assert connection.sock is first_socket  # never reconnected
    connection.close()


def test_stop_closes_idle_keep_alive_connections() -> None:
    emu = DataprocEmulator().start()
    with requests.Session() as session:
        assert session.get(f"{emu.base_url}/_emulator/health", timeout=TIMEOUT).ok
        emu.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(f"{emu.base_url}/_emulator/health", timeout=TIMEOUT)


LATENCY = ("--latency-ms", "100")


def test_cli_runs_as_its_own_process() -> None:
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dataproc_emulator",
            *("--host", "127.0.0.1", "--port", "0"),
            *LATENCY,
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"dataproc-emulator listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        assert int(match[2]) > 0
        health = requests.get(f"{match[1]}/_emulator/health", timeout=TIMEOUT)
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        started = time.monotonic()
        assert requests.get(f"{match[1]}/v1/{OPS}", timeout=TIMEOUT).json() == {}
        assert time.monotonic() - started >= 0.1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=TIMEOUT) == 0
        assert process.stdout.read() == ""  # exactly one line
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
