"""What verifying stops costs in Dataproc quota: a sweep of operations that take 45 s to
stop, beside a gcloud-style client stopping as many, at the same time.

Ours: 100 running operations in a region of their own, each ending (cancelled, error
code 1) 45 s after its ``:cancel``; one ``{"sweep": {"scopes": [that region]}}``
message to our function in a server of its own with every setting at its default
(request budget 600 a minute, VERIFY_TIMEOUT_SECONDS 60). The reference, in another
region, at the same moment: ``benchmarks/gcloud_polling.py`` cancels each of 100
such operations and GETs each every 5 s until it is done, as gcloud does.

From the emulator's request log, per region: the Dataproc requests made (every method,
the sweep's listings included) per stopped target, and the most of them in any 60 s,
which is what Dataproc's per-minute quota (7,500 default requests per project and
region) counts. Targets: <= 3 requests per target and <= 300 in any minute (4 % of
that quota). Beside them, the detection lag: for each target, the arrival of the read
that first showed it done (a GET, or the listing page it was on) minus the moment it
became done (its cancel's arrival + 45 s); the worst, for both.
"""

from __future__ import annotations

from benchmarks.gcloud_polling import GcloudPolling, Waited
from benchmarks.harness import (
    GCLOUD_REGION,
    QUOTA_REGION,
    Bench,
    operation_names,
    own_side,
    scope,
)
from benchmarks.pubsub_rest import Pulled
from benchmarks.report import Row, info_row
from benchmarks.request_log import (
    Entry,
    cancels,
    first_reads_after,
    in_region,
    peak_in_window,
    seeded_sequence,
)

MAX_PER_TARGET = 3.0
MAX_PER_MINUTE = 300


def measure(bench: Bench, count: int, cancel_seconds: float) -> list[Row]:
    ours_names = operation_names("quota", count, QUOTA_REGION)
    reference_names = operation_names("gcloud", count, GCLOUD_REGION)
    bench.seed_running(ours_names, cancel_seconds)
    bench.seed_running(reference_names, cancel_seconds)
    first_seq = seeded_sequence(bench.admin, ours_names)
    with own_side(bench, "quota", {}) as side:
        reference = GcloudPolling(bench.stack.dataproc.base_url, reference_names, 60.0)
        bench.publish(side, [{"sweep": {"scopes": [scope(QUOTA_REGION)]}}])
        reference.start()
        results = bench.pull(side, count + 1, cancel_seconds + 90.0)
        waited = reference.join()
    _check(results, waited, count)
    log = bench.admin.requests()
    ours = in_region(log, QUOTA_REGION)
    theirs = in_region(log, GCLOUD_REGION)
    ours_lag = _worst_lag(ours, ours_names, first_seq, QUOTA_REGION, cancel_seconds)
    # No listings there: the first sequence number is never needed.
    their_lag = _worst_lag(theirs, reference_names, 0, GCLOUD_REGION, cancel_seconds)
    ours_peak = peak_in_window(entry["time"] for entry in ours)
    their_peak = peak_in_window(entry["time"] for entry in theirs)
    label = f"{count} ops stopping {cancel_seconds:g} s after cancel"
    return [
        Row(
            f"requests per stopped target, {label} (ref: gcloud polling)",
            len(ours) / count,
            len(theirs) / count,
            "req",
            f"<= {MAX_PER_TARGET:g} req",
            len(ours) / count <= MAX_PER_TARGET,
        ),
        Row(
            "  peak Dataproc requests in any 60 s, same sweeps",
            ours_peak,
            their_peak,
            "n",
            f"<= {MAX_PER_MINUTE}",
            ours_peak <= MAX_PER_MINUTE,
        ),
        info_row(
            "  detection lag after the stop, worst (ref: gcloud polling)",
            ours_lag,
            their_lag,
            "s",
            "",
        ),
    ]


def _worst_lag(
    entries: list[Entry], names: list[str], first_seq: int, region: str, cancel_seconds: float
) -> float:
    sent = cancels(entries, names)
    if any(len(times) != 1 for times in sent.values()):
        raise RuntimeError(f"quota sweep: not exactly one cancel per operation in {region}")
    stopped_at = {name: times[0] + cancel_seconds for name, times in sent.items()}
    collection = f"{scope(region)}/operations"
    seen = first_reads_after(entries, names, first_seq, collection, stopped_at)
    if set(seen) != set(names):
        raise RuntimeError(f"quota sweep: {len(names) - len(seen)} stops in {region} never read")
    return max(seen[name] - stopped_at[name] for name in names)


def _check(results: list[Pulled], waited: dict[str, Waited], count: int) -> None:
    outcomes = [result.body.get("outcome") for result in results]
    if outcomes.count("CANCELLED") != count or len(outcomes) != count + 1:
        raise RuntimeError(f"quota sweep: expected {count} CANCELLED and a summary: {outcomes[:5]}")
    wrong = {name: w.error or w.done for name, w in waited.items() if not _cancelled(w)}
    if wrong:
        sample = list(wrong.items())[:2]
        raise RuntimeError(f"gcloud-style client: {len(wrong)} not cancelled: {sample}")


def _cancelled(waited: Waited) -> bool:
    error = waited.done.get("error") if waited.done else None
    return isinstance(error, dict) and error.get("code") == 1
