"""A sweep of 1,000 cluster jobs: does it keep to DATAPROC_JOB_CANCELS_PER_MINUTE?

CancelJob counts against Dataproc's JobOperationRequestsPerMinutePerProjectPerRegion
quota (400 by default, shared with the project's SubmitJob, UpdateJob and DeleteJob),
so the canceller's share of it is a setting of its own. 1,000 RUNNING jobs in a region
of their own, each CANCELLED 1 s after its ``:cancel``; one
``{"sweep": {"scopes": [that region], "kinds": ["jobs"]}}`` message to our function in a
server of its own with the defaults (DATAPROC_REQUESTS_PER_MINUTE 600 for listings and
GetJob, MAX_CANCELS_PER_MESSAGE 500) except DATAPROC_JOB_CANCELS_PER_MINUTE: 400 in the
full run, which binds (1,000 cancels need three windows) and keeps the run near two
minutes; the default, 200, would take five. Quick: 300 jobs at 150.

Figure: the most ``jobs.cancel`` requests that arrived at the emulator in any 60 s
(request log arrival times), against the setting. Beside it: every job stopped (one
CANCELLED result each, raises otherwise) and the wall time, publish -> last summary,
against floor((cancels - 1) / setting) x 60 s, the least time those cancels can span.
"""

from __future__ import annotations

import time

from benchmarks.harness import JOBS_REGION, Bench, job_names, own_side, scope
from benchmarks.report import Row, info_row
from benchmarks.request_log import in_region, peak_in_window
from benchmarks.sweep_chain import minimum_seconds, pull_chain

CANCEL_SECONDS = 1.0


def measure(bench: Bench, count: int, per_minute: int) -> list[Row]:
    names = job_names("sweepjob", count, JOBS_REGION)
    bench.admin.seed_jobs([{"name": name, "cancelSeconds": CANCEL_SECONDS} for name in names])
    settings = {"DATAPROC_JOB_CANCELS_PER_MINUTE": str(per_minute)}
    with own_side(bench, "jobs", settings) as side:
        started = time.perf_counter()
        bench.publish(side, [{"sweep": {"scopes": [scope(JOBS_REGION)], "kinds": ["jobs"]}}])
        chain = pull_chain(bench, side, 120.0 + 90.0 * count / per_minute)
    wall = chain.finished - started
    outcomes = chain.outcomes()
    if sorted(outcomes) != sorted(names) or set(outcomes.values()) != {"CANCELLED"}:
        wrong = {name: outcomes.get(name) for name in names if outcomes.get(name) != "CANCELLED"}
        sample = list(wrong.items())[:3]
        raise RuntimeError(f"job sweep: {len(wrong)} job(s) not CANCELLED: {sample}")
    entries = in_region(bench.admin.requests(), JOBS_REGION)
    cancel_times = [entry["time"] for entry in entries if entry["apiMethod"] == "jobs.cancel"]
    if len(cancel_times) != count:
        raise RuntimeError(f"job sweep: {len(cancel_times)} jobs.cancel requests for {count} jobs")
    peak = peak_in_window(cancel_times)
    note = ""
    if peak > per_minute:
        ordered = sorted(cancel_times)
        gap, k = min((ordered[k + per_minute] - ordered[k], k) for k in range(count - per_minute))
        note = (
            f"cancels {k + 1} and {k + 1 + per_minute} arrived {gap:.4f} s apart, less than "
            "60 s: the budget spaces grants 60 s apart on the function's clock, and the "
            "time from grant to arrival varies by milliseconds"
        )
    methods = sorted({entry["apiMethod"] for entry in entries})
    by_method = {m: sum(e["apiMethod"] == m for e in entries) for m in methods}
    return [
        Row(
            f"{count}-job sweep: peak jobs.cancel in any 60 s",
            peak,
            per_minute,
            "n",
            f"<= {per_minute} (setting)",
            peak <= per_minute,
            note,
        ),
        info_row(
            f"  wall time ({len(chain.summaries)} messages); ref: {count} cancels at "
            f"{per_minute}/min",
            wall,
            minimum_seconds(count, per_minute),
            "s",
            "",
        ),
        info_row(
            "  requests per job (" + ", ".join(f"{m} {n}" for m, n in by_method.items()) + ")",
            len(entries) / count,
            None,
            "req",
            "",
        ),
    ]
