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
    1,000 messages in one publish request; first publish -> 1,000th result pulled.
    Ideal: messages x 3 round trips x 20 ms / THREADS (gunicorn's THREADS from the
    server's environment, else 4 x cores: 8 here). Target: <= 1.5 x. Evidence rows:
    the baseline function through the same path; ours against the ideal at the push
    path's real concurrency (2, below); ours with the same messages POSTed straight
    to its server by 16 client threads; CPU time of each server per message.
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

NAMES = ("latency", "throughput", "sweep", "detection", "cold-start")


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
