"""A Dataproc client in the test's own hands: it answers from a function, no server.

Only where no server can serve: tests/unit (which starts none) and the few engine edges
the Dataproc emulator cannot script. It has the surface the engine calls
(canceller.dataproc.DataprocClient's get, stop and list) and records every call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canceller.clock import Deadline
from canceller.kinds import StopCall


class ScriptedDataproc:
    """Answers from a function of (method, path, call count); "LIST" is a listing's
    method. An answer may raise, as the real client does (an api-core error, or
    ``TransientFailure``)."""

    def __init__(self, answer: Callable[[str, str, int], dict[str, Any]]) -> None:
        self._answer = answer
        self.calls: list[tuple[str, str]] = []

    def _call(self, method: str, path: str) -> dict[str, Any]:
        self.calls.append((method, path))
        return self._answer(method, path, len(self.calls))

    def get(self, name: str, deadline: Deadline, urgent: bool = False) -> dict[str, Any]:
        return self._call("GET", name)

    def stop(self, call: StopCall, deadline: Deadline) -> dict[str, Any]:
        return self._call(call.method, call.path)

    def list(
        self, collection: str, deadline: Deadline, params: dict[str, str], urgent: bool = False
    ) -> dict[str, Any]:
        return self._call("LIST", collection)
