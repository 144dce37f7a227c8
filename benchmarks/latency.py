"""Per-message latency, trigger published -> result pulled, one message in flight.

Each message names one running operation that is cancelled at once, so both functions
make the same three Dataproc calls (GET, POST :cancel, GET) and publish one result.
The sides alternate message by message, in A/B then B/A order, through the same
emulators, after a warm-up that builds clients and opens connections.

The Pub/Sub emulator checks for work on a grid: its push loops look at an idle
subscription every 100 ms (see ``run.py``) and a blocking pull looks every 50 ms from
its arrival. Waits on a grid anchored to the harness's own timing would round each
side's time differently (a function 10 ms faster may gain 0 or 50 ms), a bias
rather than noise. So the pull for the result is started first, then the harness
waits a random 0-100 ms, then publishes: both grids get a random phase, and what
they add is unbiased noise shared by both sides.
"""

from __future__ import annotations

import random
import time

from benchmarks.harness import Bench, Side, operation_names
from benchmarks.report import Row, percentile, ratio_row

WARMUP = 10
TARGET_RATIO = 1.2
PULL_TIMEOUT = 30.0


def measure(bench: Bench, count: int, rng: random.Random) -> list[Row]:
    sides = (bench.ours, bench.baseline)
    names = {side.label: operation_names(f"lat-{side.label}", WARMUP + count) for side in sides}
    bench.seed_running([name for side_names in names.values() for name in side_names])
    samples: dict[str, list[float]] = {side.label: [] for side in sides}
    for i in range(WARMUP + count):
        for side in sides if i % 2 == 0 else sides[::-1]:
            elapsed = _one_message(bench, side, names[side.label][i], rng.uniform(0.0, 0.1))
            if i >= WARMUP:
                samples[side.label].append(elapsed * 1000)
    ours, base = samples["ours"], samples["baseline"]
    return [
        ratio_row(
            f"latency p50 ({count} msgs/side)",
            percentile(ours, 0.5),
            percentile(base, 0.5),
            "ms",
            TARGET_RATIO,
        ),
        ratio_row(
            f"latency p99 ({count} msgs/side)",
            percentile(ours, 0.99),
            percentile(base, 0.99),
            "ms",
            TARGET_RATIO,
        ),
    ]


def _one_message(bench: Bench, side: Side, name: str, pause: float) -> float:
    """Seconds from just before the publish request to the pull that returned the result."""
    pulling = bench.pull_in_background(side, 1, PULL_TIMEOUT)
    time.sleep(pause)
    started = time.perf_counter()
    bench.publish(side, [{"operation": name}])
    results = pulling.result()
    bodies = [result.body for result in results]
    if len(bodies) != 1 or bodies[0].get("operation") != name:
        raise RuntimeError(f"{side.label}: expected one result for {name}, got {bodies}")
    if bodies[0].get("outcome") != "CANCELLED":
        raise RuntimeError(f"{side.label}: {name} was not cancelled: {bodies[0]}")
    return results[0].received - started
