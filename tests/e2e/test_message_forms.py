"""Decoding is total and unambiguous, end to end (issue 9): Pub/Sub emulator -> push ->
functions-framework -> the function -> results topic.

One message of each class the standard JSON decoder gets wrong (an exception that is
not a JSONDecodeError, the last of two equal keys, non-finite or absurd numbers, lone
surrogates, other encodings) is answered REJECTED exactly once and acked: no HTTP 500,
no traceback in the server's log, no redelivery, and no call to Dataproc.
"""

from __future__ import annotations

import json

import pytest

from local_stack import LocalStack
from tests.support.e2e import ResultInbox

pytestmark = pytest.mark.e2e

PROJECT, REGION = "demo-project", "us-central1"
SCOPE = f"projects/{PROJECT}/regions/{REGION}"
FIRST, SECOND = f"{SCOPE}/operations/first", f"{SCOPE}/operations/second"
BUDGET = {"billingAccountId": "01D4EE-1", "budgetId": "b-1", "schemaVersion": "1.0"}
# The stack is the session's shared one (tests/e2e/conftest.py, SHARED_SETTINGS).


def sweep(**fields: str) -> bytes:
    """A sweep of SCOPE with ``fields`` written into it as raw JSON text."""
    extra = "".join(f', "{key}": {value}' for key, value in fields.items())
    return f'{{"sweep": {{"scopes": ["{SCOPE}"]{extra}}}}}'.encode()


# (id, body, attributes, what the REJECTED result's detail must contain)
MESSAGES: list[tuple[str, bytes, dict[str, str] | None, str]] = [
    (
        "nesting deeper than the recursion limit",
        b'{"operation": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        None,
        "JSON nested deeper than 32 levels",
    ),
    (
        "an integer over the int-string digit limit",
        sweep(max="9" * 5000),
        None,
        "an integer of 5000 digits: at most 30 are allowed",
    ),
    (
        "two operation keys",
        f'{{"operation": "{FIRST}", "operation": "{SECOND}"}}'.encode(),
        None,
        "key `operation` appears twice at the top level",
    ),
    ("olderThan 1e999", sweep(olderThan="1e999"), None, "numbers must be finite"),
    ("olderThan NaN", sweep(olderThan="NaN"), None, "numbers must be finite"),
    (
        "olderThan of billions of days",
        sweep(olderThan='"9999999999d"'),
        None,
        "from 0 to 366 days",
    ),
    ("sweep max of a million", sweep(max="1000000"), None, "from 1 to 100000"),
    (
        "a budget cost of 1e300",
        json.dumps({"costAmount": 1e300, "budgetAmount": 100, "currencyCode": "USD"}).encode(),
        BUDGET,
        "costAmount must be a number from 0 to 1e+15",
    ),
    (
        "a lone surrogate",
        f'{{"operation": "{FIRST}", "reason": "\\ud800"}}'.encode(),
        None,
        "lone surrogate \\ud800",
    ),
    (
        "UTF-16 with a byte order mark",
        json.dumps({"operation": FIRST}).encode("utf-16"),
        None,
        "not UTF-8 text",
    ),
    (
        "Latin-1",
        json.dumps({"operation": FIRST, "reason": "café"}, ensure_ascii=False).encode("latin-1"),
        None,
        "not UTF-8 text",
    ),
    (
        "a UTF-8 byte order mark",
        b"\xef\xbb\xbf" + json.dumps({"operation": FIRST}).encode(),
        None,
        "byte order mark",
    ),
]


def test_every_class_is_answered_rejected_once_and_acked(
    inbox: ResultInbox, stack: LocalStack
) -> None:
    for name in (FIRST, SECOND):  # what the ambiguous messages would otherwise act on
        inbox.admin.seed_operation(name=name)
    log_start = len(stack.function.log_lines())
    published = {label: inbox.publish(body, attributes) for label, body, attributes, _ in MESSAGES}
    for label, _, _, fragment in MESSAGES:
        result = inbox.result(published[label])  # exactly one
        assert result["outcome"] == "REJECTED", (label, result)
        assert fragment in result["detail"], (label, result["detail"])
        assert "internal error" not in result["detail"], label
    for message_id in published.values():  # acked: a nacked message is pushed again soon
        inbox.no_more(message_id, wait=0.5)
    assert inbox.admin.requests() == []  # Dataproc was never called
    server_log = stack.function.log_lines()[log_start:]
    failures = [line for line in server_log if "Traceback" in line or "Exception on" in line]
    assert failures == [], "\n".join(server_log[-40:])
    retried = [
        r
        for r in stack.function.json_log_records()
        if r.get("messageId") in published.values() and "redelivery" in r.get("message", "")
    ]
    assert retried == []
