"""When to look again after a stop: one schedule for every target, from its own stop.

Stops are asynchronous and best effort (Google's operations.cancel page,
https://cloud.google.com/dataproc/docs/reference/rest/v1/projects.regions.operations/cancel),
so a result is only ever what a fresh reading shows. With the default schedule, a
target that ends t seconds after its stop is seen at the next check, at most
``growth * t + step`` later while the gaps grow, and at most ``max_interval`` later once
they stop growing: within 1.25 * t + 0.2 s for a prompt stop, and within t + 5 s always
(gcloud's own period for ``dataproc operations wait``), with room for the read's own
round trip.

The schedule is a value (the engine's context carries one), apart from the watching
that follows it (canceller/watcher.py), as google-api-core keeps a retry's
``exponential_sleep_generator`` apart from the ``Retry`` that sleeps through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class PollSchedule:
    """Check times after the stop, in seconds: ``first``, then t(k+1) = ``growth`` *
    t(k) + ``step``, never more than ``max_interval`` apart."""

    first: float = 0.0
    step: float = 0.12
    growth: float = 1.2
    max_interval: float = 5.0

    def offsets(self) -> Iterator[float]:
        offset = self.first
        while True:
            yield offset
            offset = min(self.growth * offset + self.step, offset + self.max_interval)


POLL_SCHEDULE = PollSchedule()
