"""Cold start: a new function server process spawned -> its first result pulled.

Each repetition spawns a fresh functions-framework server (``python -m
functions_framework``, as deployed) on its own trigger topic, already wired by a push
subscription; the emulators are warm, as they are in the cloud. The harness connects
to the server's port every 2 ms and publishes the one trigger the moment a connection
succeeds: functions-framework imports the function's source before gunicorn listens,
so "listening" means "imports done". The time runs from just before the spawn to the
pull that returns the result, so it includes interpreter start, imports, the first
request's client set-up, the Dataproc calls and the confirmed publish.

The pull for the result is started a random 0-100 ms before the spawn, so that the
emulator's 50 ms pull grid adds unbiased noise rather than rounding (see
``Bench.pull_in_background``). The sides alternate (A/B, then B/A); a first
unmeasured repetition of each warms the OS file cache. The figure is the median.
"""

from __future__ import annotations

import contextlib
import random
import socket
import time

from benchmarks.harness import TARGET, Bench, Side, operation_names, wire
from benchmarks.report import Row, info_row, median, ratio_row
from local_stack import FunctionServer
from local_stack.ports import LOOPBACK

TARGET_RATIO = 1.3
STARTUP_TIMEOUT = 30.0
RESULT_TIMEOUT = 60.0


def measure(bench: Bench, repetitions: int, rng: random.Random) -> list[Row]:
    sides = (bench.ours, bench.baseline)
    to_result: dict[str, list[float]] = {side.label: [] for side in sides}
    to_listen: dict[str, list[float]] = {side.label: [] for side in sides}
    for rep in range(repetitions + 1):
        for side in sides if rep % 2 == 0 else sides[::-1]:
            result, listening = _cold_start(bench, side, rep, rng.uniform(0.0, 0.1))
            if rep > 0:
                to_result[side.label].append(result)
                to_listen[side.label].append(listening)
    return [
        ratio_row(
            f"cold start, spawn -> result (median of {repetitions})",
            median(to_result["ours"]),
            median(to_result["baseline"]),
            "s",
            TARGET_RATIO,
        ),
        info_row(
            "  of which spawn -> listening (imports)",
            median(to_listen["ours"]),
            median(to_listen["baseline"]),
            "s",
            "",
        ),
    ]


def _cold_start(bench: Bench, side: Side, rep: int, pause: float) -> tuple[float, float]:
    """Seconds from spawn to the result pulled, and from spawn to listening."""
    topic = f"cold-{side.label}-{rep}"
    (name,) = operation_names(topic, 1)
    bench.seed_running([name])
    server = FunctionServer(side.source, TARGET, env=side.env, log_dir=bench.stack.log_dir / topic)
    wire(bench.stack, topic, server)
    pulling = bench.pull_in_background(side, 1, RESULT_TIMEOUT)
    time.sleep(pause)
    with contextlib.ExitStack() as exits:
        exits.callback(server.stop)
        spawned = time.perf_counter()
        server.launch()
        _wait_listening(server)
        listening = time.perf_counter()
        bench.publish_to(topic, [{"operation": name}])
        (result,) = pulling.result()
    if result.body.get("operation") != name or result.body.get("outcome") != "CANCELLED":
        raise RuntimeError(f"{side.label} cold start: unexpected result {result.body}")
    return result.received - spawned, listening - spawned


def _wait_listening(server: FunctionServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, server.port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.002)
    tail = "\n".join(server.log_lines()[-20:])
    raise RuntimeError(f"{server.source} did not listen within {STARTUP_TIMEOUT:g} s:\n{tail}")
