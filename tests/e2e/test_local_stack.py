"""The local stack's real parts: the Java Pub/Sub emulator, the Dataproc emulator process
and the functions-framework server, and what the emulator's push really sends.

One stack runs the echo function (tests/fixtures/echo_function) for the whole module,
because booting the three processes is most of this file's run time.
"""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack import (
    DataprocEmulatorProcess,
    EmulatorNotInstalledError,
    FunctionServer,
    LocalStack,
    PubSubApiError,
    PubSubEmulator,
    StartupError,
)
from local_stack.ports import LOOPBACK, free_port
from local_stack.processes import group_pids
from local_stack.pubsub_emulator import require_java
from local_stack.stack import TRIGGER_SUBSCRIPTION, TRIGGER_TOPIC

ECHO_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "echo_function"
PROJECT = "demo-project"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(PROJECT, source=ECHO_DIR, target="echo", ack_deadline=10) as running:
        yield running


def echoes_for(stack: LocalStack, ids: list[str], timeout: float = 15.0) -> dict[str, Any]:
    """The echo function's results for these message ids, ignoring any others."""
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(ids) and time.monotonic() < deadline:
        for message in stack.pull_results(1, timeout=deadline - time.monotonic()):
            echoed = json.loads(message["data"])
            if echoed["id"] in ids:
                found[echoed["id"]] = echoed
    assert sorted(found) == sorted(ids), f"no echo for {set(ids) - set(found)}"
    return found


def is_listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((LOOPBACK, port)) == 0


# -- the Pub/Sub emulator on its own ---------------------------------------------


@pytest.mark.e2e
def test_emulator_round_trip_then_stops_without_leftover_java() -> None:
    with PubSubEmulator() as emulator:
        members = group_pids(emulator.pid or 0)
        assert any(Path(f"/proc/{pid}/comm").read_text().strip() == "java" for pid in members)
        emulator.create_topic(PROJECT, "round-trip")
        emulator.create_pull_subscription(PROJECT, "round-trip-sub", "round-trip")
        message_id = emulator.publish(PROJECT, "round-trip", b"\x00bytes\xff", {"k": "v"})
        [received] = emulator.pull(PROJECT, "round-trip-sub", timeout=5)
        pgid, port = emulator.pid or 0, emulator.port
    assert received["data"] == b"\x00bytes\xff"
    assert received["attributes"] == {"k": "v"}
    assert received["messageId"] == message_id
    assert received["publishTime"].endswith("Z")
    assert group_pids(pgid) == []
    assert not is_listening(port)


def test_missing_binary_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_BIN", "/nonexistent/cloud-pubsub-emulator")
    with pytest.raises(EmulatorNotInstalledError) as raised:
        PubSubEmulator()
    message = str(raised.value)
    assert "PUBSUB_EMULATOR_BIN=/nonexistent/cloud-pubsub-emulator" in message
    assert "apt-get install google-cloud-cli-pubsub-emulator default-jre-headless" in message
    assert "gcloud components install pubsub-emulator beta" in message


def test_missing_java_error_says_how_to_install() -> None:
    with pytest.raises(EmulatorNotInstalledError, match="needs Java: no java on PATH"):
        require_java({"PATH": "/nonexistent"})


@pytest.mark.e2e
def test_pull_until_returns_what_arrived_when_time_runs_out(stack: LocalStack) -> None:
    stack.pubsub.create_topic(PROJECT, "short-topic")
    stack.pubsub.create_pull_subscription(PROJECT, "short-sub", "short-topic")
    for data in (b"one", b"two"):
        stack.pubsub.publish(PROJECT, "short-topic", data)
    started = time.monotonic()
    received = stack.pubsub.pull_until(PROJECT, "short-sub", count=3, timeout=0.5)
    assert sorted(message["data"] for message in received) == [b"one", b"two"]
    assert time.monotonic() - started < 2


@pytest.mark.e2e
def test_schemas_avro_is_enforced_protobuf_is_unimplemented(stack: LocalStack) -> None:
    pubsub = stack.pubsub
    with pytest.raises(PubSubApiError) as raised:
        pubsub.create_schema(
            PROJECT,
            "proto-schema",
            'syntax = "proto3"; message M { int32 n = 1; }',
            "PROTOCOL_BUFFER",
        )
    assert raised.value.status == 501
    avro = {"type": "record", "name": "M", "fields": [{"name": "n", "type": "int"}]}
    pubsub.create_schema(PROJECT, "avro-schema", json.dumps(avro))
    pubsub.create_topic(PROJECT, "schema-topic", schema="avro-schema", encoding="JSON")
    assert pubsub.publish(PROJECT, "schema-topic", b'{"n": 3}')
    for invalid in (b'{"n": "three"}', b"{}", b"not json"):
        with pytest.raises(PubSubApiError, match="Could not parse message") as refused:
            pubsub.publish(PROJECT, "schema-topic", invalid)
        assert refused.value.status == 400


# -- what the emulator's push sends, seen by a bare recorder ----------------------


class Recorder(ThreadingHTTPServer):
    """Records every push and fails the first ``failures`` of them with HTTP 500."""

    def __init__(self, failures: int) -> None:
        super().__init__((LOOPBACK, 0), RecordingHandler)
        self.failures = failures
        self.pushes: list[tuple[float, str, dict[str, str], dict[str, Any]]] = []


class RecordingHandler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.pushes.append((time.monotonic(), self.path, dict(self.headers), body))
        failing = len(self.server.pushes) <= self.server.failures
        self.send_response(500 if failing else 204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr lines."""


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder(failures=2)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.e2e
def test_raw_push_body_path_and_redelivery(stack: LocalStack, recorder: Recorder) -> None:
    endpoint = f"http://{LOOPBACK}:{recorder.server_port}/projects/{PROJECT}/topics/raw?via=push"
    stack.pubsub.create_topic(PROJECT, "raw")
    stack.pubsub.create_push_subscription(PROJECT, "raw-push", "raw", endpoint, ack_deadline=10)
    message_id = stack.pubsub.publish(PROJECT, "raw", b"", {"only": "attributes"})
    deadline = time.monotonic() + 10
    while len(recorder.pushes) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(recorder.pushes) == 3  # two 500s, then the 204 that acks
    times, paths, headers, bodies = zip(*recorder.pushes, strict=True)
    assert set(paths) == {f"/projects/{PROJECT}/topics/raw?via=push"}
    assert headers[0]["Content-Type"] == "application/json"
    assert not any(name.lower().startswith("ce-") for name in headers[0])
    body = bodies[0]
    assert body["subscription"] == f"projects/{PROJECT}/subscriptions/raw-push"
    message = body["message"]
    assert message["data"] == ""  # present even though the message has no data
    assert message["attributes"] == {"only": "attributes"}
    assert message["messageId"] == message["message_id"] == message_id
    assert message["publishTime"] == message["publish_time"]
    assert all(later == body for later in bodies)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(0.7 < gap < 3 for gap in gaps), gaps  # ~1 s, no backoff by default
    time.sleep(1.3)
    assert len(recorder.pushes) == 3  # the 2xx acked it: no fourth push


# -- the push path through the real functions-framework server --------------------


@pytest.mark.e2e
def test_push_with_data_reaches_the_function(stack: LocalStack) -> None:
    message_id = stack.publish_trigger(b'{"hello": "world"}', {"k": "v"})
    echoed = echoes_for(stack, [message_id])[message_id]
    assert echoed["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert echoed["data"] == '{"hello": "world"}'
    assert echoed["attributes"] == {"k": "v"}
    message = echoed["eventData"]["message"]
    assert message["data"] == base64.b64encode(b'{"hello": "world"}').decode()
    assert message["messageId"] == message_id
    assert echoed["time"] == message["publishTime"]
    assert "subscription" not in echoed["eventData"]  # functions-framework drops it


@pytest.mark.e2e
def test_push_with_only_attributes_reaches_the_function(stack: LocalStack) -> None:
    message_id = stack.publish_trigger(b"", {"only": "attributes"})
    echoed = echoes_for(stack, [message_id])[message_id]
    assert echoed["data"] == ""
    assert echoed["eventData"]["message"]["data"] == ""
    assert echoed["attributes"] == {"only": "attributes"}


@pytest.mark.e2e
def test_topic_in_push_path_becomes_the_event_source(stack: LocalStack) -> None:
    message_id = stack.publish_trigger(b"where from?")
    echoed = echoes_for(stack, [message_id])[message_id]
    assert echoed["source"] == f"//pubsub.googleapis.com/projects/{PROJECT}/topics/{TRIGGER_TOPIC}"


@pytest.mark.e2e
def test_push_body_without_data_field_is_refused_by_functions_framework(
    stack: LocalStack,
) -> None:
    """Real Pub/Sub may leave ``data`` out of an attributes-only push; the emulator
    never does. functions-framework then does not recognise the body at all."""
    body = {
        "subscription": f"projects/{PROJECT}/subscriptions/{TRIGGER_SUBSCRIPTION}",
        "message": {"attributes": {"only": "attributes"}, "messageId": "no-data-1"},
    }
    answer = requests.post(
        stack.function.push_endpoint(PROJECT, TRIGGER_TOPIC), json=body, timeout=10
    )
    assert answer.status_code == 400
    assert "converting from background event to CloudEvent also failed" in answer.text


@pytest.mark.e2e
def test_function_error_makes_the_emulator_redeliver(stack: LocalStack) -> None:
    started = time.monotonic()
    message_id = stack.publish_trigger(b"fail first", {"failOnce": "1"})
    echoed = echoes_for(stack, [message_id])[message_id]
    assert echoed["data"] == "fail first"
    assert time.monotonic() - started > 0.7  # it waited for the ~1 s redelivery
    assert any("failing once on purpose" in line for line in stack.function.log_lines())


@pytest.mark.e2e
def test_structured_log_records_and_peak_memory(stack: LocalStack) -> None:
    message_id = stack.publish_trigger(b"log me")
    echoes_for(stack, [message_id])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        records = stack.function.json_log_records()
        if {"severity": "INFO", "message": "echoed", "id": message_id} in records:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"no log record for {message_id}: {stack.function.log_lines()[-20:]}")
    assert 20 * 2**20 < stack.function.peak_rss_bytes() < 2 * 2**30


# -- the other two processes on their own ---------------------------------------


@pytest.mark.e2e
def test_dataproc_emulator_process_serves_and_stops() -> None:
    with DataprocEmulatorProcess(latency_ms=1) as dataproc:
        assert dataproc.base_url == f"http://{dataproc.host}"
        assert requests.get(f"{dataproc.base_url}/_emulator/health", timeout=5).status_code == 200
        pgid = dataproc.pid or 0
    assert group_pids(pgid) == []


@pytest.mark.e2e
def test_dataproc_emulator_that_cannot_start_reports_its_output() -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        dataproc = DataprocEmulatorProcess(port=taken.getsockname()[1])
        with pytest.raises(StartupError, match="cannot listen") as raised:
            dataproc.start()
    assert "exited with code 1 before it was ready" in str(raised.value)
    assert dataproc.pid is None


@pytest.mark.e2e
def test_function_server_with_unknown_target_reports_its_output() -> None:
    server = FunctionServer(ECHO_DIR, "no_such_function", port=free_port())
    with pytest.raises(StartupError, match="no_such_function"):
        server.start()
    assert server.pid is None
