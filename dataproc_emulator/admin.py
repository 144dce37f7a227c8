"""A small client for the emulator's admin API, for tests and benchmarks.

Kept apart from the server because it needs ``requests`` while the server runs on
the standard library alone. Seeds and faults are passed through as keyword
arguments in the admin API's own camelCase, so the API docs are the only reference.
"""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT_SECONDS = 10


class EmulatorAdmin:
    """Admin calls against one emulator; every failure raises ``requests.HTTPError``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()

    def seed_operation(self, **seed: Any) -> dict[str, Any]:
        return self._call("POST", "/_emulator/operations", seed)

    def seed_operations(self, seeds: list[dict[str, Any]]) -> None:
        self._call("POST", "/_emulator/operations:bulk", {"operations": seeds})

    def seed_job(self, **seed: Any) -> dict[str, Any]:
        return self._call("POST", "/_emulator/jobs", seed)

    def seed_jobs(self, seeds: list[dict[str, Any]]) -> int:
        return int(self._call("POST", "/_emulator/jobs:bulk", {"jobs": seeds})["seeded"])

    def job_internals(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/_emulator/jobs/{name}")

    def seed_session(self, **seed: Any) -> dict[str, Any]:
        return self._call("POST", "/_emulator/sessions", seed)

    def seed_sessions(self, seeds: list[dict[str, Any]]) -> int:
        return int(self._call("POST", "/_emulator/sessions:bulk", {"sessions": seeds})["seeded"])

    def session_internals(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/_emulator/sessions/{name}")

    def seed_cluster(self, **seed: Any) -> dict[str, Any]:
        return self._call("POST", "/_emulator/clusters", seed)

    def seed_clusters(self, seeds: list[dict[str, Any]]) -> int:
        return int(self._call("POST", "/_emulator/clusters:bulk", {"clusters": seeds})["seeded"])

    def cluster_internals(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/_emulator/clusters/{name}")

    def seed_batch(self, **seed: Any) -> dict[str, Any]:
        return self._call("POST", "/_emulator/batches", seed)

    def operation_internals(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/_emulator/operations/{name}")

    def seed_organisation(self, description: dict[str, Any]) -> dict[str, Any]:
        """Replace the organisation behind Budgets, Billing, Resource Manager and Cloud
        Asset (dataproc_emulator/organisation.py; ``fake_org.fake_organisation`` builds
        one). Answers how many folders, projects and budgets it holds."""
        return self._call("POST", "/_emulator/organisation", description)

    def organisation(self) -> dict[str, Any]:
        return self._call("GET", "/_emulator/organisation")

    def freeze_assets(self) -> int:
        """Cloud Asset answers from the work as it is now until ``release_assets``, as
        real asset data lags Dataproc by minutes. Answers how much work it holds."""
        return int(self._call("POST", "/_emulator/assets:freeze")["work"])

    def release_assets(self) -> None:
        self._call("POST", "/_emulator/assets:release")

    def add_fault(self, **fault: Any) -> str:
        return str(self._call("POST", "/_emulator/faults", fault)["id"])

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_emulator/faults")["faults"])

    def clear_faults(self) -> None:
        self._call("DELETE", "/_emulator/faults")

    def requests(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_emulator/requests")["requests"])

    def clear_requests(self) -> None:
        self._call("DELETE", "/_emulator/requests")

    def request_counts(self) -> dict[str, Any]:
        return self._call("GET", "/_emulator/requestCounts")

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward: scripted delays and quota windows pass."""
        answer = self._call("POST", "/_emulator/clock", {"advanceSeconds": seconds})
        return float(answer["offsetSeconds"])

    def freeze_clock(self, frozen: bool = True) -> None:
        """Stop (or restart) the emulator's clock following real time: frozen, it moves
        only by advance_clock, as a test's fake clock does; reset restarts it."""
        self._call("POST", "/_emulator/clock", {"frozen": frozen})

    def settings(self, **settings: Any) -> dict[str, Any]:
        return self._call("POST", "/_emulator/settings", settings)

    def reset(self) -> None:
        self._call("POST", "/_emulator/reset")

    def close(self) -> None:
        self._session.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._session.request(
            method, self.base_url + path, json=body, timeout=TIMEOUT_SECONDS
        )
        if not response.ok:  # carry the emulator's message: it says what was wrong
            raise requests.HTTPError(
                f"{method} {path}: {response.status_code} {response.text}", response=response
            )
        answer: dict[str, Any] = response.json()  # every admin answer is a JSON object
        return answer
