"""A budget alert selects 1,000 running operations: are all stopped, within the request
budget, and how soon is each stop seen?

1,000 running operations in a region of their own; operation i ends (cancelled, error
code 1) t_i = 1 + (i mod 11) / 10 s after its ``:cancel`` (1.0 to 2.0 s). Our function
runs in a server of its own with the defaults (MAX_CANCELS_PER_MESSAGE 500,
VERIFY_TIMEOUT_SECONDS 60, RETRY_DEADLINE_SECONDS 60, SWEEP_KINDS all three) except
SWEEP_SCOPES (that region) and DATAPROC_REQUESTS_PER_MINUTE, which is the default 600
in the full run: the chain needs a little more than 1,000 requests, so the budget binds
(the first minute's 600 go at once, the rest must wait for the window to move) and the
run takes 1-1.5 minutes. The quick run has 300 operations at 200 a minute, for the
same shape. One real budget notification (schemas/examples/budget-notification-over.json:
its three attributes, cost 1,250.4 of a 1,000 budget) is published to the function's
trigger topic; every result of the chain is pulled by its ``sweep.id``.

Figures:

- stopped: targets whose one result is CANCELLED; the last summary must say
  ``remaining`` 0. A target with two results, or two cancels in the request log,
  raises (the run is broken).
- wall time: the notification's publish -> the last summary pulled, against what the
  budget allows: N requests of the chain in that region (every method, the listings
  included) at B a minute can span no less than floor((N - 1) / B) x 60 s
  (``sweep_chain.minimum_seconds``); target <= 1.5x.
- detection: for each target, the arrival of the read (its GET, or the listing page
  it was on) that first showed it done, minus the moment it became done (its cancel's
  arrival + t_i); worst and p99 of 1,000. Target <= 5 s, i.e. seen by t + 5 s after the
  cancel.
"""

from __future__ import annotations

import json
import time
from collections import Counter

from benchmarks.harness import ALERT_REGION, Bench, operation_names, own_side, scope
from benchmarks.report import Row, info_row, percentile, ratio_row
from benchmarks.request_log import cancels, first_reads_after, in_region, seeded_sequence
from benchmarks.sweep_chain import minimum_seconds, pull_chain
from local_stack.dataproc_process import REPO_ROOT

NOTIFICATION = REPO_ROOT / "schemas" / "examples" / "budget-notification-over.json"
TARGET_RATIO = 1.5
MAX_LAG_SECONDS = 5.0


def cancel_seconds(index: int) -> float:
    return 1.0 + (index % 11) / 10


def measure(bench: Bench, count: int, per_minute: int) -> list[Row]:
    names = operation_names("alert", count, ALERT_REGION)
    stop_after = {name: cancel_seconds(i) for i, name in enumerate(names)}
    bench.admin.seed_operations([{"name": n, "cancelSeconds": t} for n, t in stop_after.items()])
    first_seq = seeded_sequence(bench.admin, names)
    notification = json.loads(NOTIFICATION.read_text())
    settings = {
        "SWEEP_SCOPES": scope(ALERT_REGION),
        "DATAPROC_REQUESTS_PER_MINUTE": str(per_minute),
    }
    with own_side(bench, "alert", settings) as side:
        started = time.perf_counter()
        bench.rest.publish(
            side.trigger_topic,
            [json.dumps(notification["data"]).encode()],
            notification["attributes"],
        )
        chain = pull_chain(bench, side, 120.0 + 90.0 * count / per_minute)
    wall = chain.finished - started
    outcomes = chain.outcomes()
    unknown = set(outcomes) - set(names)
    if unknown:
        raise RuntimeError(f"budget alert: results for targets not seeded: {sorted(unknown)[:3]}")
    stopped = sum(outcomes.get(name) == "CANCELLED" for name in names)
    remaining = int(chain.last["remaining"])
    others = Counter(outcomes.get(name, "no result") for name in names)
    del others["CANCELLED"]
    note = ""
    if stopped != count or remaining:
        note = (
            f"{count - stopped} not stopped ("
            + ", ".join(f"{n} {outcome}" for outcome, n in others.most_common())
            + f"); the last summary says {remaining} remaining"
        )

    entries = in_region(bench.admin.requests(), ALERT_REGION)
    sent = cancels(entries, names)
    twice = [name for name, times in sent.items() if len(times) > 1]
    if twice:
        raise RuntimeError(f"budget alert: {len(twice)} operation(s) cancelled twice: {twice[:3]}")
    stopped_at = {name: times[0] + stop_after[name] for name, times in sent.items() if times}
    collection = f"{scope(ALERT_REGION)}/operations"
    seen = first_reads_after(entries, names, first_seq, collection, stopped_at)
    cancelled = [name for name in names if outcomes.get(name) == "CANCELLED"]
    if not_read := [name for name in cancelled if name not in seen]:
        raise RuntimeError(f"budget alert: {len(not_read)} CANCELLED but never read after the stop")
    lags = [seen[name] - stopped_at[name] for name in cancelled] or [float("nan")]
    worst, p99 = max(lags), percentile(lags, 0.99)
    late = [lag for lag in lags if lag > MAX_LAG_SECONDS]
    lag_note = ""
    if late:
        lag_note = (
            f"{len(late)} of {len(lags)} stops seen more than {MAX_LAG_SECONDS:g} s after they "
            f"happened: {sum(lag <= 2 * MAX_LAG_SECONDS for lag in late)} within "
            f"{2 * MAX_LAG_SECONDS:g} s, {sum(lag > 2 * MAX_LAG_SECONDS for lag in late)} later"
        )
    allowed = minimum_seconds(len(entries), per_minute)
    messages = len(chain.summaries)
    acted = [int(summary["sweep"]["acted"]) for summary in chain.summaries]
    return [
        Row(
            f"budget alert over {count} ops, budget {per_minute} req/min: stopped",
            stopped,
            count,
            "n",
            f"= {count}, 0 left",
            stopped == count and remaining == 0,
            note,
        ),
        info_row(
            f"  messages in the chain (stopped per message: {', '.join(map(str, acted))})",
            messages,
            None,
            "n",
            "",
        ),
        ratio_row(
            f"  wall time; ref: {len(entries)} requests at {per_minute}/min, burst free",
            wall,
            allowed,
            "s",
            TARGET_RATIO,
        ),
        Row(
            f"  detection delay - t, worst of {len(cancelled)}",
            worst,
            None,
            "s",
            f"<= {MAX_LAG_SECONDS:g} s",
            worst <= MAX_LAG_SECONDS,
            lag_note,
        ),
        Row(
            "  detection delay - t, p99",
            p99,
            None,
            "s",
            f"<= {MAX_LAG_SECONDS:g} s",
            p99 <= MAX_LAG_SECONDS,
        ),
    ]
