"""Throughput: many trigger messages at once, first message sent -> last result pulled.

Every message names one running operation cancelled at once, so each costs three
Dataproc round trips (GET, POST :cancel, GET). The issue's ideal is
``messages x 3 x latency / concurrency`` with the function's concurrency (gunicorn's
THREADS). The emulator's push path delivers at most two messages at a time whatever
the function's concurrency, so the figure judged against that ideal is the one where
the messages reach the function as concurrently as it can take them: POSTed straight
to our function server (push bodies, as the emulator sends them, from twice as many
client threads as the server has), results through the same results topic. The push
path is shown as information: ours published to the trigger topic, against the same
ideal and against the ideal at the push path's concurrency (2), and the baseline
function through the same path.

The peak resident memory of our function server is read right after its push run,
and the CPU time both servers use during their push runs is shown per message: the
cost of the function's own work, which on 2 shared cores is what limits a server
that gets its messages fast enough.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests

from benchmarks.harness import (
    LATENCY_MS,
    PROJECT,
    Bench,
    Side,
    cpu_seconds,
    operation_names,
    server_threads,
)
from benchmarks.report import Row, info_row, ratio_row

ROUND_TRIPS = 3  # GET, POST :cancel, GET
PUSH_CONCURRENCY = 2  # the emulator's push loops per subscription (see run.py)
TARGET_RATIO = 1.5
MEMORY_LIMIT_MIB = 150.0


def measure(bench: Bench, count: int) -> list[Row]:
    threads = server_threads(bench.ours.env)
    per_message = ROUND_TRIPS * LATENCY_MS / 1000
    ideal = count * per_message / threads
    at_push = count * per_message / PUSH_CONCURRENCY
    ours, ours_cpu = _through_push(bench, bench.ours, count)
    peak_mib = bench.ours.server.peak_rss_bytes() / 2**20
    base, base_cpu = _through_push(bench, bench.baseline, count)
    direct = _posted_directly(bench, bench.ours, count, 2 * threads)
    return [
        ratio_row(
            f"{count} msgs POSTed directly ({2 * threads} clients), ideal at {threads} threads",
            direct,
            ideal,
            "s",
            TARGET_RATIO,
        ),
        info_row(f"  the same via push, ideal at {threads} threads", ours, ideal, "s", ""),
        info_row(
            f"  the same via push, ideal at push concurrency {PUSH_CONCURRENCY}",
            ours,
            at_push,
            "s",
            "",
        ),
        info_row("  baseline fn via push, ideal at push concurrency", base, at_push, "s", ""),
        info_row("  function CPU per message, push run", ours_cpu, base_cpu, "ms", ""),
        Row(
            f"peak RSS, {count}-msg push run",
            peak_mib,
            None,
            "MiB",
            f"<= {MEMORY_LIMIT_MIB:g} MiB",
            peak_mib <= MEMORY_LIMIT_MIB,
        ),
    ]


def _through_push(bench: Bench, side: Side, count: int) -> tuple[float, float]:
    """Seconds for the run, and the function server's CPU milliseconds per message."""
    names = operation_names(f"push-{side.label}", count)
    bench.seed_running(names)
    cpu_before = cpu_seconds(side.server)
    started = time.perf_counter()
    bench.publish(side, [{"operation": name} for name in names])
    results = bench.pull(side, count, _timeout(count))
    cpu_ms = (cpu_seconds(side.server) - cpu_before) * 1000 / count
    _check(side, names, [result.body for result in results])
    return max(result.received for result in results) - started, cpu_ms


def _posted_directly(bench: Bench, side: Side, count: int, clients: int) -> float:
    names = operation_names(f"direct-{side.label}", count)
    bench.seed_running(names)
    url = side.server.push_endpoint(PROJECT, "direct-requests")
    bodies = [_push_body(name, i) for i, name in enumerate(names)]
    local = threading.local()

    def post(body: bytes) -> int:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        headers = {"Content-Type": "application/json"}
        return session.post(url, data=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=clients) as pool:
        started = time.perf_counter()
        statuses = pool.map(post, bodies)
        results = bench.pull(side, count, _timeout(count))
        refused = [status for status in statuses if not 200 <= status < 300]
    if refused:
        raise RuntimeError(f"{side.label}: {len(refused)} direct POST(s) refused: {refused[:5]}")
    _check(side, names, [result.body for result in results])
    return max(result.received for result in results) - started


def _push_body(name: str, index: int) -> bytes:
    """What the emulator POSTs for one message (local_stack.pubsub_emulator, finding a)."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    data = base64.b64encode(json.dumps({"operation": name}).encode()).decode()
    message_id = str(10_000_000 + index)
    message = {
        "data": data,
        "attributes": {},
        "messageId": message_id,
        "message_id": message_id,
        "publishTime": now,
        "publish_time": now,
    }
    subscription = f"projects/{PROJECT}/subscriptions/direct-requests-push"
    return json.dumps({"subscription": subscription, "message": message}).encode()


def _check(side: Side, names: Sequence[str], bodies: Sequence[dict[str, object]]) -> None:
    seen = sorted(str(body.get("operation")) for body in bodies)
    outcomes = {str(body.get("outcome")) for body in bodies}
    if seen != sorted(names) or outcomes != {"CANCELLED"}:
        raise RuntimeError(
            f"{side.label}: expected {len(names)} CANCELLED results, one per operation; got "
            f"{len(bodies)} with outcomes {sorted(outcomes)}"
        )


def _timeout(count: int) -> float:
    """Generous (0.2 s a message, 10x the measured pace) but bounded."""
    return 30.0 + 0.2 * count
