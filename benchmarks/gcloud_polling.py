"""The reference for what verifying stops costs: a client that cancels like gcloud and
waits like gcloud.

Read from the Google Cloud CLI 528.0.0 installed here:
``surface/dataproc/operations/cancel.py`` sends one ``operations.cancel`` and does not
read the operation (its source says "TODO(b/36050484) Check that operation was
cancelled"); the waiting gcloud's Dataproc commands do is
``googlecloudsdk/api_lib/dataproc/util.py`` ``WaitForOperation(..., poll_period_s=5)``:
``operations.get``; if not done, sleep 5 s; again. So each target costs one cancel and
one GET per 5 s until it is done, whatever else is being stopped: one waiter per
operation, as separate ``gcloud`` runs would be. Plain ``requests``, one session per
operation, against the same Dataproc emulator (so the same 20 ms latency).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import requests

POLL_PERIOD_SECONDS = 5.0  # WaitForOperation's poll_period_s
TIMEOUT_SECONDS = 10.0


@dataclass
class Waited:
    """What the waiter of one operation saw: the operation when it was done, or None."""

    done: dict[str, object] | None = None
    error: str = ""


@dataclass
class GcloudPolling:
    """Cancel each operation and wait for it, all at once, in background threads."""

    base_url: str
    names: Sequence[str]
    timeout: float
    results: dict[str, Waited] = field(default_factory=dict)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for name in self.names:
            self.results[name] = Waited()
            thread = threading.Thread(target=self._one, args=(name,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def join(self) -> dict[str, Waited]:
        for thread in self._threads:
            thread.join(self.timeout + POLL_PERIOD_SECONDS + TIMEOUT_SECONDS)
        return self.results

    def _one(self, name: str) -> None:
        url = f"{self.base_url}/v1/{name}"
        waited = self.results[name]
        try:
            with requests.Session() as session:
                session.post(f"{url}:cancel", timeout=TIMEOUT_SECONDS).raise_for_status()
                started = time.monotonic()
                while time.monotonic() - started < self.timeout:
                    response = session.get(url, timeout=TIMEOUT_SECONDS)
                    response.raise_for_status()
                    operation = response.json()
                    if operation.get("done"):
                        waited.done = operation
                        return
                    time.sleep(POLL_PERIOD_SECONDS)
                waited.error = f"not done after {self.timeout:g} s"
        except requests.RequestException as error:
            waited.error = f"{type(error).__name__}: {error}"
