"""Benchmarks on the real local stack; every figure beside its baseline or ideal.

    python benchmarks/run.py [--quick] [--only NAME ...]

One run starts the official Pub/Sub emulator, the Dataproc emulator with 20 ms of
injected latency on every real-API call, our function under functions-framework
(gunicorn, one worker, THREADS threads) and the baseline function
(``benchmarks/baseline_function``) under a second functions-framework server. Both
are wired alike: trigger topic -> push subscription -> function -> results topic ->
pull subscription, through the same two emulators. It prints one table and exits 0
even when a target is missed: it is a measurement, not a test. It raises if a
function gives a wrong or missing result: a figure of a broken run would mean nothing.

Our main server runs with MAX_CANCELS_PER_MESSAGE=1000 (one sweep message may act on
1,000 operations), DATAPROC_REQUESTS_PER_MINUTE=100000 and
DATAPROC_JOB_CANCELS_PER_MINUTE=100000 (the request budget, 600 and 200 a minute by
default, would otherwise throttle the latency, throughput and 1,000-operation sweep
figures, which are about speed, not about the budget) and TRIGGER_TOPIC (the local
trigger topic, for continuations). The four figures about Dataproc's quota (quota
sweep, budget alert, job sweep, cluster sweep) each start our function in a server of
its own (``harness.own_side``): every setting at the function's default except those
each names, its own trigger topic (also its TRIGGER_TOPIC), results topic and pull
subscription, a fresh process so its budget starts empty, and an ack deadline (push
timeout) of 600 s, since a message the budget makes wait may take its whole deadline
(RETRY_DEADLINE_SECONDS + VERIFY_TIMEOUT_SECONDS, 120 s), more than the stack's 60 s,
after which the emulator would push it again while it still runs. Every figure that
counts requests has a region of its own and reads the Dataproc emulator's request log
(``benchmarks/request_log.py``): arrival times on the emulator's side, as Dataproc's
per-minute quota counts them.

The figures, exactly (sizes of the default run; ``--quick`` is smaller):

latency p50, p99
    150 messages per side after 10 of warm-up, one in flight at a time, the sides
    alternating. Each names one running operation that is cancelled at once, so both
    functions make the same calls: GET, POST :cancel, GET, one publish. From just
    before the publish request to the return of the pull that brings the result.
    Baseline: the baseline function (plain ``requests``, a default
    ``PublisherClient``, no validation, no verification loop). Target: <= 1.2 x.
cold start
    A new server process per repetition; the trigger is published the moment its port
    accepts a connection (functions-framework imports the source before it listens).
    Spawn -> result pulled; median of 11 per side after one unmeasured repetition
    each, sides alternating. Baseline: the baseline function, which imports the same
    four runtime packages. Target: <= 1.3 x.
throughput
    1,000 messages, each naming one operation; first message sent -> 1,000th result
    pulled. Ideal: messages x 3 round trips x 20 ms / THREADS (gunicorn's THREADS from
    the server's environment, else 4 x cores: 8 here). Judged (target <= 1.5 x): the
    messages POSTed straight to our server, as push bodies, by 16 client threads, the
    only path that can feed it 8 at a time; the emulator's push path delivers 2 at a
    time (below). Information: the same through the push path (one publish request)
    against that ideal and against the ideal at the push path's concurrency (2); the
    baseline function through the push path; CPU time of each server per message.
peak RSS
    VmHWM of the largest process of our server's group (the gunicorn worker), read
    right after its 1,000-message push run: the peak since the server started, so it
    also covers the latency runs before. Target: <= 150 MiB.
sweep
    One ``{"sweep": {"scopes": [...]}}`` message over 1,000 running operations in a
    region of their own (MAX_CANCELS_PER_MESSAGE=1000): publish -> SWEEP_SUMMARY
    pulled. Ideal: (10 list pages + 1,000 cancels + 1,000 verification GETs) x 20 ms
    / MAX_CONCURRENCY (8). Target: <= 1.5 x.
detection delay
    Operations that end t s after their cancel, t in {0.3, 1, 3, 10}, 3 each, one
    message each. From the Dataproc emulator's request log: arrival of the GET that
    saw the operation done - arrival of the cancel; the worst of the 3. Target:
    <= 1.25 t + 0.2 s.
quota sweep (``benchmarks/quota_sweep.py``)
    100 running operations that end 45 s after their cancel; one sweep message to our
    function at its defaults (budget 600 a minute). Reference, in another region at
    the same time: a gcloud-style client (``benchmarks/gcloud_polling.py``: one cancel
    each, then a GET every 5 s until done, as gcloud's ``WaitForOperation``). For each
    side, from the request log of its region: Dataproc requests (every method,
    listings included) / targets, target <= 3; the most requests in any 60 s, target
    <= 300 (4 % of the 7,500 a minute default quota); the worst detection lag (the
    first read showing a target done - (its cancel's arrival + 45 s)), information.
    Quick: 30 operations that end 15 s after their cancel.
budget alert (``benchmarks/budget_alert.py``)
    1,000 running operations ending 1.0-2.0 s after their cancel; one real budget
    notification (schemas/examples/budget-notification-over.json, its three
    attributes) to our function with SWEEP_SCOPES that region and
    DATAPROC_REQUESTS_PER_MINUTE=600 (the default, which binds: the chain needs a
    little more than 1,000 requests), MAX_CANCELS_PER_MESSAGE at its default 500.
    Every result of the chain of messages, by ``sweep.id``: stopped = targets whose one
    result is CANCELLED, target all 1,000 and the last summary's ``remaining`` 0 (two
    results or two cancels for one target raise). Wall time, publish -> last summary,
    against what the budget allows: N requests in that region at 600 a minute span at
    least floor((N - 1) / 600) x 60 s (the first window's 600 are the budget's own
    burst); target <= 1.5 x. Detection: for each target, the arrival of the read (its
    GET, or the listing page it was on, rebuilt from the page tokens) that first
    showed it done - (its cancel's arrival + its t); worst and p99, target <= 5 s
    (seen by t + 5 s). Quick: 300 operations at 200 a minute.
job sweep (``benchmarks/job_sweep.py``)
    1,000 RUNNING cluster jobs, each CANCELLED 1 s after its cancel; one sweep message
    with ``"kinds": ["jobs"]`` to our function with DATAPROC_JOB_CANCELS_PER_MINUTE=400
    (binds, and keeps the run near two minutes; the default 200 would take five). The
    most ``jobs.cancel`` requests arriving in any 60 s, target <= 400; information:
    wall time against floor((1,000 - 1) / 400) x 60 s, and requests per job by method.
    Quick: 300 jobs at 150 a minute.
cluster sweep (``benchmarks/cluster_sweep.py``)
    100 RUNNING clusters in a region of their own, each STOPPED 1 s after its ``:stop``,
    with 2 RUNNING jobs on each, CANCELLED 0.5 s after their cancel; one real budget
    notification (budget-notification-over.json, ratio 1.25) to our function with
    BUDGET_LADDER=0.5:report,1.2:clusters and SWEEP_SCOPES that region, the rest at
    defaults (DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE 100, which binds: a tenth of it is
    kept for verification reads, so 90 stops a window); the chain pulled by
    ``sweep.id``. Raises unless every cluster's one result is CANCELLED and STOPPED,
    every job's CANCELLED, and the request log shows each job's one cancel, and a read
    of it once CANCELLED, before its cluster's one stop. The most ``clusters.stop``
    requests in any 60 s, target <= 100; jobs answered with ``clearedFor`` their
    cluster, target all; information: Dataproc requests per cluster against gcloud by
    hand, run at the same time in another region (``gcloud dataproc jobs kill`` per
    job, then ``gcloud dataproc clusters stop``, replayed from gcloud 528.0.0's source
    with plain ``requests``: 9 requests a cluster), and wall time against
    floor((N - 1) / 100) x 60 s. Quick: 30 clusters.
org sweep (``benchmarks/org_sweep.py``)
    A budget notification (cost 150 of 100, BUDGET_LADDER=0.5:report,1.2:clusters)
    over a folder of 200 projects in 5 regions (the emulator's fake organisation), with
    live work in 30 (project, region) pairs: 24 pairs in 12 allowed projects with 10
    targets each (jobs, sessions, batches, a cluster with jobs on it; each stops 1 s
    after its stop) and an exempt neighbour, 3 pairs of exempt work only, 3 in 2
    projects the allowlist refuses (one running 300 more jobs), and work outside the
    budget. Our function in a server of its own (defaults, but the allowlist, the
    ladder and the organisation APIs' emulator hosts) fans out one child per project
    through its own trigger topic. Baseline, in the same run: the same 240 targets and
    exempt work in one project's 5 regions, one plain sweep message over SWEEP_SCOPES.
    Raises unless every target has one CANCELLED result and one stop request, nothing
    else is stopped, and Dataproc is called in exactly the allowed pairs with live work
    (exempt-only ones are listed by their children). Figures: Dataproc requests per
    stopped target, target <= 3, beside the baseline's; Cloud Asset searchAllResources
    calls, target <= the pages needed (live resources under the folder, exempt ones
    included, / 500); wall time, publish -> last summary, target <= 1x the baseline's,
    with (information) that wall time beside the parent's elapsedSeconds plus the
    children's / 2 (the push path's concurrency, below), and the parent's plus the
    slowest child's (every child at once, as Cloud Run's instances would run them)
    beside the baseline message's; the most Dataproc requests of one project in any
    60 s, target <= the default DATAPROC_PROJECT_REQUESTS_PER_MINUTE. Quick: 4 targets
    a pair.

What the Pub/Sub emulator does (cloud-pubsub-emulator 0.8.20; push read from its
bytecode with ``javap``, pull measured): ``FakePubsubServer$SubscriptionData
.startPushLoops`` starts exactly 2 ``PushLoop``s per push subscription; each takes one
message, POSTs it, waits for the answer, and sleeps 100 ms whenever the backlog is
empty. So at most 2 messages are in flight per subscription whatever the function's
concurrency, and a message published to an idle subscription waits 0-100 ms for its
push. A blocking pull is answered at the emulator's next check, every 50 ms from the
pull's arrival. Both sides share all of this; the latency and cold-start figures start
their pull a random 0-100 ms before the publish (or spawn) so that these grids add
noise to both sides instead of rounding each side's time differently.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAMES = (
    "latency",
    "throughput",
    "sweep",
    "detection",
    "quota-sweep",
    "budget-alert",
    "job-sweep",
    "cluster-sweep",
    "org-sweep",
    "money",
    "cold-start",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, for development")
    parser.add_argument(
        "--only",
        action="append",
        choices=NAMES,
        metavar="NAME",
        help=f"run only this figure (repeatable): one of {', '.join(NAMES)}; "
        "peak RSS comes with throughput",
    )
    args = parser.parse_args(argv)
    # Run as a script, the repository root is not on sys.path; the imports follow it.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.suite import FULL, QUICK, run

    print(run(args.only or NAMES, QUICK if args.quick else FULL))
    return 0


if __name__ == "__main__":
    sys.exit(main())
