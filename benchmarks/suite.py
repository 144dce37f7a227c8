"""Which figures run, how big, in what order, on one bench; and the printed report."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks import (
    budget_alert,
    cluster_sweep,
    cold_start,
    detection,
    job_sweep,
    latency,
    money,
    org_sweep,
    quota_sweep,
    sweep,
    throughput,
)
from benchmarks.harness import LATENCY_MS, PROJECT, Bench, open_bench, server_threads
from benchmarks.report import Row, render, summary
from canceller.settings import load_settings
from local_stack.stack import TRIGGER_TOPIC

FUNCTION_ENV = {
    "MAX_CANCELS_PER_MESSAGE": "1000",  # lets one sweep act on 1,000 operations
    # Figures about speed, not about the request budget: a budget this large never binds.
    "DATAPROC_REQUESTS_PER_MINUTE": "100000",
    "DATAPROC_JOB_CANCELS_PER_MINUTE": "100000",
    "TRIGGER_TOPIC": f"projects/{PROJECT}/topics/{TRIGGER_TOPIC}",  # for continuations
}


@dataclass(frozen=True)
class Sizes:
    latency_messages: int
    cold_starts: int
    throughput_messages: int
    sweep_operations: int
    detection_repetitions: int
    quota_operations: int  # per side
    quota_cancel_seconds: float
    alert_operations: int
    alert_requests_per_minute: int
    jobs: int
    job_cancels_per_minute: int
    clusters: int
    org_targets_per_pair: int


FULL = Sizes(150, 11, 1000, 1000, 3, 100, 45.0, 1000, 600, 1000, 400, 100, 10)
QUICK = Sizes(30, 3, 200, 200, 1, 30, 15.0, 300, 200, 300, 150, 30, 4)


def figures(sizes: Sizes) -> dict[str, Callable[[Bench], list[Row]]]:
    """In run order: the long throughput runs come after latency, which they would
    otherwise leave with a backlog of garbage and warm caches on one side only."""
    rng = random.Random(20_241_127)
    return {
        "latency": lambda bench: latency.measure(bench, sizes.latency_messages, rng),
        "throughput": lambda bench: throughput.measure(bench, sizes.throughput_messages),
        "sweep": lambda bench: sweep.measure(bench, sizes.sweep_operations),
        "detection": lambda bench: detection.measure(bench, sizes.detection_repetitions),
        "quota-sweep": lambda bench: quota_sweep.measure(
            bench, sizes.quota_operations, sizes.quota_cancel_seconds
        ),
        "budget-alert": lambda bench: budget_alert.measure(
            bench, sizes.alert_operations, sizes.alert_requests_per_minute
        ),
        "job-sweep": lambda bench: job_sweep.measure(
            bench, sizes.jobs, sizes.job_cancels_per_minute
        ),
        "cluster-sweep": lambda bench: cluster_sweep.measure(bench, sizes.clusters),
        "org-sweep": lambda bench: org_sweep.measure(bench, sizes.org_targets_per_pair),
        "money": money.measure,
        "cold-start": lambda bench: cold_start.measure(bench, sizes.cold_starts, rng),
    }


def run(names: Sequence[str], sizes: Sizes) -> str:
    """Run the named figures on one bench; returns the whole report."""
    chosen = {name: measure for name, measure in figures(sizes).items() if name in names}
    started = time.monotonic()
    rows: list[Row] = []
    with open_bench(FUNCTION_ENV) as bench:
        header = _header(bench)
        for name, measure in chosen.items():
            print(f"... {name}", flush=True)
            rows += measure(bench)
    return "\n".join(
        [header, render(rows), summary(rows), f"Run time {time.monotonic() - started:.0f} s."]
    )


def _header(bench: Bench) -> str:
    settings = load_settings(bench.ours.env)
    return (
        f"{os.cpu_count()} cores; function concurrency THREADS={server_threads(bench.ours.env)} "
        f"(functions-framework: THREADS, else 4 x cores); MAX_CONCURRENCY="
        f"{settings.max_concurrency}; Dataproc latency {LATENCY_MS:g} ms per call; "
        f"ours and baseline share the emulators."
    )
