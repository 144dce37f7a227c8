"""When to look again after a stop: one schedule for every target, from its own stop.

Stops are asynchronous and best effort (Google's operations.cancel page,
https://cloud.google.com/dataproc/docs/reference/rest/v1/projects.regions.operations/cancel),
so a result is only ever what a fresh reading shows. A target that ends t seconds after
its stop is seen at the next check, at most GROWTH * t + STEP later while the gaps grow,
and at most MAX_INTERVAL later once they stop growing: within 1.25 * t + 0.2 s for a
prompt stop, and within t + 5 s always (gcloud's own period for ``dataproc operations
wait``), with room for the read's own round trip.
"""

from __future__ import annotations

from collections.abc import Iterator

# Check times after the stop, in seconds: 0, then t(k+1) = GROWTH * t(k) + STEP, capped
# at MAX_INTERVAL apart.
FIRST_POLL, STEP, GROWTH, MAX_INTERVAL = 0.0, 0.12, 1.2, 5.0


def poll_offsets() -> Iterator[float]:
    offset = FIRST_POLL
    while True:
        yield offset
        offset = min(GROWTH * offset + STEP, offset + MAX_INTERVAL)
