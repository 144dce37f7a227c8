"""The function as functions-framework serves it, through its test client.

Binary-mode CloudEvents (what Eventarc sends), structured mode, and the raw push body
functions-framework converts; plus the HTTP answers that decide ack (2xx) or
redelivery (5xx). ``create_app`` loads a fresh copy of main.py, so each test
configures it through the environment only. Results go to the real Pub/Sub emulator.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from flask.testing import FlaskClient
from functions_framework import create_app

from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from local_stack import PubSubEmulator
from local_stack.ports import free_port

MAIN = str(Path(__file__).resolve().parents[2] / "main.py")
PROJECT = "demo-project"
NAME = f"projects/{PROJECT}/regions/us-central1/operations/ce-op"


@pytest.fixture(scope="module")
def pubsub(pubsub_emulator: PubSubEmulator) -> Iterator[PubSubEmulator]:
    """The session's emulator with this module's results topic, deleted after it (the
    stacks that use the emulator next make the same names)."""
    pubsub_emulator.create_topic(PROJECT, "results")
    pubsub_emulator.create_pull_subscription(PROJECT, "results-pull", "results")
    yield pubsub_emulator
    pubsub_emulator.delete_subscription(PROJECT, "results-pull")
    pubsub_emulator.delete_topic(PROJECT, "results")


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, pubsub: PubSubEmulator, emulator: DataprocEmulator
) -> pytest.MonkeyPatch:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub.host)
    monkeypatch.setenv("DATAPROC_EMULATOR_HOST", emulator.base_url.removeprefix("http://"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("RESULTS_TOPIC", "results")
    monkeypatch.setenv("VERIFY_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("RETRY_DEADLINE_SECONDS", "0.5")
    return monkeypatch


def client(target: str = "stop_dataproc_work") -> FlaskClient:
    """As deployed: the signature type is the one the function registered under its name
    (a deployment need not set FUNCTION_SIGNATURE_TYPE)."""
    return create_app(target, MAIN).test_client()


def event(body: str, published: datetime | None = None, **attributes: str) -> CloudEvent:
    when = (published or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    return CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/cancel-requests",
            "id": "ce-1",
            "time": when,
        },
        {
            "message": {
                "data": base64.b64encode(body.encode()).decode(),
                "attributes": attributes,
                "messageId": "ce-1",
                "publishTime": when,
            },
            "subscription": f"projects/{PROJECT}/subscriptions/eventarc-sub",
        },
    )


def results(pubsub: PubSubEmulator, count: int) -> list[dict[str, Any]]:
    got = pubsub.pull_until(PROJECT, "results-pull", count, timeout=10)
    assert len(got) == count
    assert pubsub.pull(PROJECT, "results-pull", timeout=0.3) == []  # and nothing more
    return [json.loads(message["data"]) for message in got]


@pytest.mark.parametrize("encode", [to_binary, to_structured], ids=["binary", "structured"])
def test_both_cloudevent_modes(
    environment: pytest.MonkeyPatch,
    admin: EmulatorAdmin,
    pubsub: PubSubEmulator,
    encode: Any,
) -> None:
    admin.seed_operation(name=NAME, cancelSeconds=0.1)
    headers, body = encode(event(json.dumps({"operation": NAME})))
    response = client().post("/", headers=headers, data=body)
    assert response.status_code == 200
    [result] = results(pubsub, 1)
    assert result["outcome"] == "CANCELLED"
    assert result["trigger"]["messageId"] == "ce-1"
    assert result["trigger"]["publishTime"].startswith(str(datetime.now(UTC).year))


def test_deployments_naming_the_first_entry_point_still_stop(
    environment: pytest.MonkeyPatch, admin: EmulatorAdmin, pubsub: PubSubEmulator
) -> None:
    """Functions deployed before the rename have --entry-point=cancel_operation."""
    admin.seed_operation(name=NAME, cancelSeconds=0.1)
    headers, body = to_binary(event(json.dumps({"operation": NAME})))
    response = client("cancel_operation").post("/", headers=headers, data=body)
    assert response.status_code == 200
    assert [r["outcome"] for r in results(pubsub, 1)] == ["CANCELLED"]


def test_raw_push_body_is_converted(
    environment: pytest.MonkeyPatch, admin: EmulatorAdmin, pubsub: PubSubEmulator
) -> None:
    admin.seed_operation(name=NAME, done=True)
    push = {
        "message": {
            "data": base64.b64encode(NAME.encode()).decode(),
            "messageId": "push-1",
            "attributes": {},
        },
        "subscription": f"projects/{PROJECT}/subscriptions/push",
    }
    response = client().post(f"/projects/{PROJECT}/topics/cancel-requests", json=push)
    assert response.status_code == 200
    [result] = results(pubsub, 1)
    assert (result["outcome"], result["trigger"]["messageId"]) == ("ALREADY_DONE", "push-1")
    assert result["trigger"]["source"].endswith(f"projects/{PROJECT}/topics/cancel-requests")


def test_expired_events_get_a_final_error_and_are_acked(
    environment: pytest.MonkeyPatch, admin: EmulatorAdmin, pubsub: PubSubEmulator
) -> None:
    environment.setenv("MAX_EVENT_AGE_SECONDS", "600")
    admin.seed_operation(name=NAME)
    old = datetime.now(UTC) - timedelta(hours=2)
    headers, body = to_binary(event(NAME, published=old))
    assert client().post("/", headers=headers, data=body).status_code == 200
    [result] = results(pubsub, 1)
    assert result["outcome"] == "ERROR"
    assert "expired" in result["detail"]
    assert admin.requests() == []


def test_transient_dataproc_failure_answers_500_and_publishes_nothing(
    environment: pytest.MonkeyPatch, admin: EmulatorAdmin, pubsub: PubSubEmulator
) -> None:
    admin.seed_operation(name=NAME)
    admin.add_fault(
        method="*", pathRegex="ce-op", times=-1, action="status", status=503, retryAfter="0.1"
    )
    environment.setenv("VERIFY_TIMEOUT_SECONDS", "0")
    headers, body = to_binary(event(NAME))
    assert client().post("/", headers=headers, data=body).status_code == 500
    assert pubsub.pull(PROJECT, "results-pull", timeout=0.5) == []


def test_unconfirmed_publish_answers_500(
    environment: pytest.MonkeyPatch, admin: EmulatorAdmin, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{free_port()}")  # nobody there
    environment.setenv("PUBLISH_TIMEOUT_SECONDS", "1")
    admin.seed_operation(name=NAME, done=True)
    headers, body = to_binary(event(NAME))
    assert client().post("/", headers=headers, data=body).status_code == 500
    assert "results not confirmed" in capsys.readouterr().out


def test_missing_results_topic_is_one_clear_log_line_and_a_retry(
    environment: pytest.MonkeyPatch, admin: EmulatorAdmin, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.delenv("RESULTS_TOPIC")
    headers, body = to_binary(event(NAME))
    assert client().post("/", headers=headers, data=body).status_code == 500
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    [critical] = [line for line in lines if line["severity"] == "CRITICAL"]
    assert "RESULTS_TOPIC is not set" in critical["message"]
    assert admin.requests() == []


def test_log_lines_carry_the_requests_trace(
    environment: pytest.MonkeyPatch,
    admin: EmulatorAdmin,
    pubsub: PubSubEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin.seed_operation(name=NAME, done=True)
    headers, body = to_binary(event(json.dumps({"operation": NAME})))
    trace = "0af7651916cd43dd8448eb211c80319c"
    headers["traceparent"] = f"00-{trace}-b7ad6b7169203331-01"
    assert client().post("/", headers=headers, data=body).status_code == 200
    results(pubsub, 1)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    ours = [line for line in lines if line.get("messageId") == "ce-1"]
    assert ours, lines
    assert {line["logging.googleapis.com/trace"] for line in ours} == {
        f"projects/{PROJECT}/traces/{trace}"
    }
