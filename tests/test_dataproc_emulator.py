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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin

OPS = "projects/p/regions/r/operations"
BATCHES = "projects/p/locations/r/batches"
META = "type.googleapis.com/google.cloud.dataproc.v1."
TIMEOUT = 5


@pytest.fixture
def api(emulator: DataprocEmulator, admin: EmulatorAdmin) -> Iterator[Api]:
    with requests.Session() as session:
        yield Api(emulator.base_url, session)


class Api:
    """The real-API paths, answering (status, json) so tests read like the wire."""

    def __init__(self, base_url: str, session: requests.Session) -> None:
        self.base_url = base_url
        self.session = session

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return self.session.request(method, f"{self.base_url}/v1/{path}", **kwargs)

    def get(self, name: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        response = self.call("GET", name, **kwargs)
        return response.status_code, response.json()

    def cancel(self, name: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        response = self.call("POST", f"{name}:cancel", **kwargs)
        return response.status_code, response.json()

    def list(self, collection: str, **params: Any) -> dict[str, Any]:
        response = self.call("GET", collection, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def list_all(self, collection: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
        """Every item across pages, and how many pages it took."""
        key = "batches" if collection.endswith("batches") else "operations"
        items, pages, token = [], 0, None
        while True:
            body = self.list(collection, **params, **({"pageToken": token} if token else {}))
            items += body.get(key, [])
            pages += 1
            token = body.get("nextPageToken")
            if not token:
                return items, pages


def op_name(op_id: str) -> str:
    return f"{OPS}/{op_id}"


def google_error(response_json: dict[str, Any], code: int, status: str) -> None:
    assert set(response_json) == {"error"}
    error = response_json["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert error["message"]


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
    root = Path(__file__).resolve().parent.parent
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
