"""Sweep: one ``{"sweep": ...}`` message over many running operations, published ->
SWEEP_SUMMARY pulled.

The operations are seeded in a region of their own, running, each cancelled (error
code 1) at once when asked. The function lists every page (100 operations a page),
cancels each operation and GETs it once to verify (a listed running operation needs
no GET before the cancel), ``MAX_CONCURRENCY`` calls at a time, then publishes one
result per operation and the summary. The ideal is the issue's:
``(pages + 2 x operations) x latency / MAX_CONCURRENCY``; since pages can only be
read one after another, it is slightly below what any client could do.

The summary is published last, after one result per operation, so the harness pulls
those first: with the emulator's 100 messages per pull, that is about 0.2 s of the
figure (the emulator ignores subscription filters, which would have let it wait for
the summary alone).
"""

from __future__ import annotations

import math
import time

from benchmarks.harness import LATENCY_MS, PROJECT, SWEEP_REGION, Bench, operation_names
from benchmarks.pubsub_rest import Pulled
from benchmarks.report import Row, ratio_row
from canceller.settings import load_settings

PAGE_SIZE = 100  # what canceller.dataproc asks for
TARGET_RATIO = 1.5


def measure(bench: Bench, count: int) -> list[Row]:
    side = bench.ours
    concurrency = load_settings(side.env).max_concurrency
    scope = f"projects/{PROJECT}/regions/{SWEEP_REGION}"
    names = operation_names("sweep", count, SWEEP_REGION)
    bench.seed_running(names)
    bench.admin.clear_requests()
    timeout = 30.0 + 0.1 * count
    started = time.perf_counter()
    bench.publish(side, [{"sweep": {"scopes": [scope]}}])
    results = bench.pull(side, count + 1, timeout)
    _check(results, count)
    finished = next(result.received for result in results if _is_summary(result))
    calls = [r for r in bench.admin.requests() if r["path"].startswith(f"/v1/{scope}/")]
    pages = math.ceil(count / PAGE_SIZE)
    ideal = (pages + 2 * count) * LATENCY_MS / 1000 / concurrency
    return [
        ratio_row(
            f"sweep of {count} ops ({len(calls)} calls, {concurrency} at a time)",
            finished - started,
            ideal,
            "s",
            TARGET_RATIO,
        )
    ]


def _is_summary(result: Pulled) -> bool:
    return result.body.get("outcome") == "SWEEP_SUMMARY"


def _check(results: list[Pulled], count: int) -> None:
    outcomes = [result.body.get("outcome") for result in results]
    summary = next(result.body for result in results if _is_summary(result))
    if outcomes.count("CANCELLED") != count or len(outcomes) != count + 1:
        raise RuntimeError(f"sweep: expected {count} CANCELLED and a summary, got {outcomes[:5]}")
    if summary["sweep"]["acted"] != count:
        raise RuntimeError(f"sweep: the summary says it acted on {summary['sweep']['acted']}")
