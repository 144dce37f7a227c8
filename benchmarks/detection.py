"""Detection delay: an operation ends t s after its cancel; how long until we see it?

For each t, operations are seeded running with ``cancelSeconds`` t: the emulator
marks one done (error code 1) t s after its ``:cancel`` call. One single-operation
message per operation; all are published at once. From the Dataproc emulator's
request log (times taken as each request arrives, on the server's clock), the delay
is the arrival of the GET that saw the operation done minus the arrival of the
cancel. That GET is the last GET of the operation, since verification stops at the
first GET that sees it done; the result being CANCELLED confirms it did. A GET sees
the operation done when it arrives t s or more after the cancel did: both wait the
same injected latency before the emulator acts. The figure is the worst repetition.
"""

from __future__ import annotations

from typing import Any

from benchmarks.harness import Bench, operation_names
from benchmarks.report import Row

TIMES = (10.0, 3.0, 1.0, 0.3)  # longest first: two push loops share them best that way


def limit(t: float) -> float:
    return 1.25 * t + 0.2


def measure(bench: Bench, repetitions: int) -> list[Row]:
    side = bench.ours
    names = {t: operation_names(f"detect-{int(t * 1000)}ms", repetitions) for t in TIMES}
    for t, seeded in names.items():
        bench.seed_running(seeded, cancel_seconds=t)
    every = [names[t][rep] for rep in range(repetitions) for t in TIMES]
    bench.publish(side, [{"operation": name} for name in every])
    results = bench.pull(side, len(every), 60.0 + sum(TIMES) * repetitions)
    outcomes = {result.body.get("operation"): result.body.get("outcome") for result in results}
    if set(outcomes) != set(every) or set(outcomes.values()) != {"CANCELLED"}:
        raise RuntimeError(f"detection: expected every operation CANCELLED, got {outcomes}")
    log = bench.admin.requests()
    rows = []
    for t in sorted(TIMES):
        worst = max(_delay(log, name) for name in names[t])
        rows.append(
            Row(
                f"detection delay, t = {t:g} s (worst of {repetitions})",
                worst,
                t,
                "s",
                f"<= {limit(t):.3g} s",
                worst <= limit(t),
            )
        )
    return rows


def _delay(log: list[dict[str, Any]], name: str) -> float:
    path = f"/v1/{name}"
    cancels = [r["time"] for r in log if (r["method"], r["path"]) == ("POST", f"{path}:cancel")]
    gets = [r["time"] for r in log if (r["method"], r["path"]) == ("GET", path)]
    if len(cancels) != 1 or not gets:
        raise RuntimeError(f"detection: {name} has {len(cancels)} cancel(s), {len(gets)} GET(s)")
    return max(gets) - cancels[0]
