"""End to end, as deployed: Pub/Sub emulator -> push subscription -> functions-framework
server running main.stop_dataproc_work -> Dataproc emulator -> results topic.

Three separate processes, real HTTP and gRPC between them. Every message form and every
outcome of the core issue is shown here, plus redelivery after a transient failure.
"""

from __future__ import annotations

import json

import pytest

from local_stack import LocalStack
from tests.support.e2e import ResultInbox

pytestmark = pytest.mark.e2e

PROJECT, REGION = "demo-project", "us-central1"
# The stack is the session's shared one (tests/e2e/conftest.py, SHARED_SETTINGS).


def op(op_id: str, region: str = REGION) -> str:
    return f"projects/{PROJECT}/regions/{region}/operations/{op_id}"


def test_json_message_is_cancelled_verified_and_published(
    inbox: ResultInbox, stack: LocalStack
) -> None:
    inbox.admin.seed_operation(name=op("etl-1"), cancelSeconds=0.3)
    message_id = inbox.publish({"operation": op("etl-1"), "reason": "budget", "requestId": "r-1"})
    result = inbox.result(message_id)
    assert result["outcome"] == "CANCELLED"
    assert (result["project"], result["region"], result["operationId"]) == (
        PROJECT,
        REGION,
        "etl-1",
    )
    assert result["state"]["done"] is True and result["state"]["errorCode"] == 1
    assert (result["reason"], result["requestId"]) == ("budget", "r-1")
    assert result["trigger"]["messageId"] == message_id
    assert (
        result["trigger"]["source"]
        == f"//pubsub.googleapis.com/projects/{PROJECT}/topics/cancel-requests"
    )
    assert result["_attributes"]["project"] == PROJECT
    logged = [r for r in stack.function.json_log_records() if r.get("messageId") == message_id]
    assert [r["outcome"] for r in logged] == ["CANCELLED"]
    assert logged[0]["severity"] == "NOTICE"
    assert "local-emulator-token" not in "\n".join(stack.function.log_lines())


@pytest.mark.parametrize(
    ("body", "attributes"),
    [
        ({"name": op("form-x")}, None),
        (op("form-x"), None),
        (f"  {op('form-x')}\n", None),
        (f"https://dataproc.googleapis.com/v1/{op('form-x')}", None),
        (f"https://{REGION}-dataproc.googleapis.com/v1/{op('form-x')}:cancel", None),
        ("", {"operation": op("form-x")}),
    ],
    ids=["name-field", "plain-text", "whitespace", "global-url", "regional-url", "attribute"],
)
def test_every_single_name_form(
    inbox: ResultInbox, body: object, attributes: dict[str, str] | None
) -> None:
    inbox.admin.seed_operation(name=op("form-x"), cancelSeconds=0)
    result = inbox.result(inbox.publish(body, attributes))
    assert (result["outcome"], result["operation"]) == ("CANCELLED", op("form-x"))


def test_operations_list_answers_each_on_its_own(inbox: ResultInbox) -> None:
    admin = inbox.admin
    admin.seed_operation(name=op("l-cancel"), cancelSeconds=0.2)
    admin.seed_operation(name=op("l-done"), done=True)
    admin.seed_operation(name=op("l-ignores"), onCancel="ignore", completesAfterSeconds=0.5)
    admin.seed_operation(name=op("l-stuck"), onCancel="ignore")
    admin.seed_operation(name=op("l-unimpl"), onCancel="unimplemented")
    admin.seed_operation(name=op("l-denied"), onCancel="forbidden")
    admin.add_fault(method="POST", pathRegex="l-bad:cancel$", times=-1, action="status", status=400)
    admin.seed_operation(name=op("l-bad"))
    names = [
        op(n)
        for n in (
            "l-cancel",
            "l-done",
            "l-ignores",
            "l-stuck",
            "l-unimpl",
            "l-denied",
            "l-bad",
            "l-missing",
        )
    ]
    hostile = "projects/demo-project/regions/us-central1/operations/../../x"
    other_project = "projects/someone-else/regions/us-central1/operations/x"
    message_id = inbox.publish({"operations": [*names, hostile, other_project]})
    results = inbox.results(message_id, 10)
    by_op = {r["operation"]: r["outcome"] for r in results}
    assert by_op == {
        op("l-cancel"): "CANCELLED",
        op("l-done"): "ALREADY_DONE",
        op("l-ignores"): "COMPLETED_DESPITE_CANCEL",
        op("l-stuck"): "STILL_RUNNING",
        op("l-unimpl"): "UNIMPLEMENTED",
        op("l-denied"): "PERMISSION_DENIED",
        op("l-bad"): "ERROR",
        op("l-missing"): "NOT_FOUND",
        hostile: "REJECTED",
        other_project: "REJECTED",
    }
    paths = [r["path"] for r in inbox.admin.requests()]
    assert not any("someone-else" in p or ".." in p for p in paths)
    errors = {r["operation"]: r.get("error", {}) for r in results}
    assert errors[op("l-bad")]["httpStatus"] == 400
    assert errors[op("l-unimpl")]["status"] == "UNIMPLEMENTED"


def test_bad_messages_are_answered_and_acked(inbox: ResultInbox, stack: LocalStack) -> None:
    message_ids = []
    for body in (
        "{not json",
        "projects/x",
        json.dumps({"operation": op("a"), "dryrun": True}),
        b"\xff\xfe",
        "x" * (70 * 1024),
    ):
        message_id = inbox.publish(body)
        result = inbox.result(message_id)
        assert result["outcome"] == "REJECTED"
        assert len(result["operation"]) <= 512
        message_ids.append(message_id)
    assert inbox.admin.requests() == []
    for message_id in message_ids:  # acked: a nacked message is pushed again within ~1 s
        inbox.no_more(message_id, wait=0.5)
    retried = [
        r
        for r in stack.function.json_log_records()
        if r.get("messageId") in message_ids and "redelivery" in r.get("message", "")
    ]
    assert retried == []


def test_permission_denied_on_read_and_verification_that_times_out(inbox: ResultInbox) -> None:
    inbox.admin.seed_operation(name=op("secret"), getForbidden=True)
    assert inbox.result(inbox.publish(op("secret")))["outcome"] == "PERMISSION_DENIED"
    inbox.admin.seed_operation(name=op("slow"), cancelSeconds=30)
    result = inbox.result(inbox.publish(op("slow")))
    assert result["outcome"] == "STILL_RUNNING"
    assert result["state"]["done"] is False


def test_transient_failure_is_redelivered_and_answered_once(
    inbox: ResultInbox, stack: LocalStack
) -> None:
    """Dataproc is down longer than RETRY_DEADLINE_SECONDS: the function answers 500, the
    emulator pushes the message again, and once Dataproc is back the true outcome is
    published, once."""
    inbox.admin.seed_operation(name=op("outage"), cancelSeconds=0.2)
    fault = inbox.admin.add_fault(
        method="*", pathRegex="outage", times=-1, action="status", status=503
    )
    message_id = inbox.publish(op("outage"))
    # The retry budget is RETRY_DEADLINE_SECONDS + VERIFY_TIMEOUT_SECONDS = 4 s: outlast it.
    inbox.no_more(message_id, wait=5.0)  # nothing while Dataproc is down
    inbox.admin.clear_faults()
    assert fault
    result = inbox.result(message_id)
    assert result["outcome"] == "CANCELLED"
    retries = [
        r
        for r in stack.function.json_log_records()
        if r.get("messageId") == message_id and "redelivery" in r.get("message", "")
    ]
    assert retries, "the function should have asked for redelivery"
    inbox.no_more(message_id, wait=1.5)  # and no second result afterwards


def test_redelivered_message_yields_a_consistent_outcome(inbox: ResultInbox) -> None:
    inbox.admin.seed_operation(name=op("twice"), cancelSeconds=0)
    first = inbox.result(inbox.publish({"operation": op("twice"), "requestId": "same"}))
    second = inbox.result(inbox.publish({"operation": op("twice"), "requestId": "same"}))
    assert first["outcome"] == "CANCELLED"
    assert second["outcome"] == "ALREADY_DONE"
    assert second["state"]["errorCode"] == 1  # both say: the operation is cancelled
    cancels = [r for r in inbox.admin.requests() if r["method"] == "POST"]
    assert len(cancels) == 1
