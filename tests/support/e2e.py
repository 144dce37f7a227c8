"""Reading results back from the local stack, one trigger at a time.

Tests share a stack (a module's own, or one several modules share: tests/e2e/conftest.py),
so the results subscription carries every test's results; they are sorted by the trigger
message id each result echoes, and every one is checked against both result contracts
as it arrives.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from dataproc_emulator.admin import EmulatorAdmin
from local_stack import LocalStack
from local_stack.stack import RESULTS_SUBSCRIPTION
from tests.support.result_contract import assert_valid_result


class ResultInbox:
    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack
        self._by_trigger: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.admin = EmulatorAdmin(stack.dataproc.base_url)

    def publish(self, body: Any, attributes: dict[str, str] | None = None) -> str:
        if isinstance(body, dict):
            data = json.dumps(body).encode()
        else:
            data = body.encode() if isinstance(body, str) else body
        return self._stack.publish_trigger(data, attributes)

    def results(self, message_id: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Exactly ``count`` results for that trigger: waits for them, then a little
        longer to catch an unexpected extra one."""
        deadline = time.monotonic() + timeout
        while len(self._by_trigger[message_id]) < count and time.monotonic() < deadline:
            self._drain(0.5)
        self._drain(0.3)
        got = self._by_trigger[message_id]
        assert len(got) == count, (
            f"expected {count} result(s) for trigger {message_id}, got {len(got)}: "
            + json.dumps(got, indent=1)[:3000]
            + "\nfunction log tail:\n"
            + "\n".join(self._stack.function.log_lines()[-30:])
        )
        return got

    def result(self, message_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.results(message_id, 1, timeout)[0]

    def results_where(
        self, wanted: Callable[[dict[str, Any]], bool], count: int, timeout: float = 60.0
    ) -> list[dict[str, Any]]:
        """Exactly ``count`` results, of any trigger, for which ``wanted`` holds: for
        messages the function publishes itself (continuations), whose ids a test
        cannot know in advance."""

        def matching() -> list[dict[str, Any]]:
            return [r for got in self._by_trigger.values() for r in got if wanted(r)]

        deadline = time.monotonic() + timeout
        while len(matching()) < count and time.monotonic() < deadline:
            self._drain(0.5)
        self._drain(0.3)
        got = matching()
        assert len(got) == count, f"expected {count} matching result(s), got {len(got)}"
        return got

    def no_more(self, message_id: str, wait: float = 2.0) -> None:
        """Nothing (more) arrives for that trigger within ``wait`` seconds."""
        before = list(self._by_trigger[message_id])
        self._drain(wait)
        assert self._by_trigger[message_id] == before

    def _drain(self, timeout: float) -> None:
        for message in self._stack.pubsub.pull(
            self._stack.project, RESULTS_SUBSCRIPTION, max_messages=100, timeout=timeout
        ):
            body = json.loads(message["data"])
            assert_valid_result(body)
            attributes = message["attributes"]
            assert attributes["outcome"] == body["outcome"]
            assert attributes["operation"] == body["operation"][:1024]
            assert attributes["triggerMessageId"] == body["trigger"]["messageId"]
            if "project" in body:
                assert attributes["project"] == body["project"]
            body["_attributes"] = attributes
            self._by_trigger[body["trigger"]["messageId"]].append(body)
