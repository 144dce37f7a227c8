"""One local stack with two functions on the same push path: ours and the baseline.

Both functions share one Pub/Sub emulator and one Dataproc emulator, so every A/B pair
goes through the same processes: a figure and its baseline differ only in the
function. Each function has its own trigger topic, push subscription, results topic
and pull subscription, so a result is never pulled by the wrong side.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.pubsub_rest import PubSubRest, Pulled
from dataproc_emulator.admin import EmulatorAdmin
from local_stack import FunctionServer, LocalStack
from local_stack.dataproc_process import REPO_ROOT
from local_stack.processes import group_pids
from local_stack.stack import RESULTS_SUBSCRIPTION, RESULTS_TOPIC, TRIGGER_TOPIC

PROJECT = "bench-project"
REGION = "us-central1"
LATENCY_MS = 20.0
TARGET = "stop_dataproc_work"
BASELINE_TARGET = "cancel_operation"  # the baseline function predates the rename
BASELINE_DIR = Path(__file__).resolve().parent / "baseline_function"
# A sweep lists whole regions: its operations get a region of their own, and so does
# every figure that counts requests per region.
SWEEP_REGION = "europe-west9"
QUOTA_REGION = "europe-west1"  # ours, 100 operations that stop 45 s after their cancel
GCLOUD_REGION = "europe-west2"  # the gcloud-style client, the same 100 operations
ALERT_REGION = "europe-west3"  # the budget alert's 1,000 operations
JOBS_REGION = "europe-west4"  # the 1,000-job sweep
# A message may take RETRY_DEADLINE_SECONDS + VERIFY_TIMEOUT_SECONDS (120 s by default)
# when the request budget makes it wait; the push timeout (the ack deadline) must be
# longer, or the emulator pushes the message again while the first delivery runs.
SIDE_ACK_DEADLINE = 600  # Pub/Sub's maximum
# What the stack gives every function; a side of its own starts from this alone.
STACK_ENV_KEYS = (
    "PUBSUB_EMULATOR_HOST",
    "DATAPROC_EMULATOR_HOST",
    "GOOGLE_CLOUD_PROJECT",
    "ALLOWED_PROJECTS",
)


@dataclass(frozen=True)
class Side:
    """One function under test and the topics around it."""

    label: str  # "ours" or "baseline"
    source: Path
    env: Mapping[str, str]
    server: FunctionServer
    trigger_topic: str
    results_topic: str
    results_subscription: str


class Bench:
    """What the figures need: both sides, the Dataproc admin API, publish and pull."""

    def __init__(self, stack: LocalStack, baseline: Side) -> None:
        self.stack = stack
        self.admin = EmulatorAdmin(stack.dataproc.base_url)
        self.rest = PubSubRest(stack.pubsub.base_url, PROJECT)
        # Its own session: a background pull runs while the main thread publishes.
        self._background = PubSubRest(stack.pubsub.base_url, PROJECT)
        self._puller = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pull")
        self.ours = Side(
            "ours",
            REPO_ROOT,
            stack.function_env,
            stack.function,
            TRIGGER_TOPIC,
            RESULTS_TOPIC,
            RESULTS_SUBSCRIPTION,
        )
        self.baseline = baseline

    def seed_running(self, names: Sequence[str], cancel_seconds: float = 0.0) -> None:
        """Running operations that end, cancelled (error code 1), ``cancel_seconds``
        after their cancel call."""
        self.admin.seed_operations([{"name": n, "cancelSeconds": cancel_seconds} for n in names])

    def publish(self, side: Side, bodies: Sequence[dict[str, Any]]) -> list[str]:
        return self.publish_to(side.trigger_topic, bodies)

    def publish_to(self, topic: str, bodies: Sequence[dict[str, Any]]) -> list[str]:
        return self.rest.publish(topic, [json.dumps(body).encode() for body in bodies])

    def pull(self, side: Side, count: int, timeout: float) -> list[Pulled]:
        return self.rest.pull(side.results_subscription, count, timeout)

    def pull_in_background(self, side: Side, count: int, timeout: float) -> Future[list[Pulled]]:
        """Start pulling now, to publish later. The emulator checks for messages every
        50 ms from the moment a blocking pull arrives, so a pull started right after a
        publish would round every latency up to a step of that grid: a function 10 ms
        faster could gain 0 or 50 ms. A pull started a random time before the publish
        turns the rounding into unbiased noise, the same for both sides."""
        return self._puller.submit(self._background.pull, side.results_subscription, count, timeout)

    def close(self) -> None:
        self._puller.shutdown(wait=True)
        self.admin.close()
        self.rest.close()
        self._background.close()


def operation_names(prefix: str, count: int, region: str = REGION) -> list[str]:
    return [f"projects/{PROJECT}/regions/{region}/operations/{prefix}-{i}" for i in range(count)]


def job_names(prefix: str, count: int, region: str) -> list[str]:
    return [f"projects/{PROJECT}/regions/{region}/jobs/{prefix}-{i}" for i in range(count)]


def scope(region: str) -> str:
    return f"projects/{PROJECT}/regions/{region}"


def cpu_seconds(server: FunctionServer) -> float:
    """CPU time (user + system) used so far by the server's live processes."""
    ticks = 0
    for pid in group_pids(server.pid) if server.pid is not None else []:
        with contextlib.suppress(OSError):  # exited meanwhile
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def server_threads(env: Mapping[str, str]) -> int:
    """The server's request concurrency, as functions-framework computes it: THREADS
    from its environment, else 4 per core (gunicorn gthread, one worker)."""
    merged = {**os.environ, **env}
    return int(merged.get("THREADS") or (os.cpu_count() or 1) * 4)


@contextlib.contextmanager
def open_bench(function_env: Mapping[str, str]) -> Iterator[Bench]:
    """Start the stack with our function, add the baseline function, stop all on exit."""
    with contextlib.ExitStack() as exits:
        stack = exits.enter_context(
            LocalStack(PROJECT, function_env=function_env, dataproc_latency_ms=LATENCY_MS)
        )
        baseline_env = {
            **stack.function_env,
            "RESULTS_TOPIC": f"projects/{PROJECT}/topics/baseline-results",
        }
        server = exits.enter_context(
            FunctionServer(
                BASELINE_DIR, BASELINE_TARGET, env=baseline_env, log_dir=stack.log_dir / "base"
            )
        )
        baseline = Side(
            "baseline",
            BASELINE_DIR,
            baseline_env,
            server,
            "baseline-requests",
            "baseline-results",
            "baseline-results-pull",
        )
        wire(stack, baseline.trigger_topic, server)
        stack.pubsub.create_topic(PROJECT, baseline.results_topic)
        stack.pubsub.create_pull_subscription(
            PROJECT, baseline.results_subscription, baseline.results_topic
        )
        bench = Bench(stack, baseline)
        exits.callback(bench.close)
        yield bench


@contextlib.contextmanager
def own_side(bench: Bench, label: str, settings: Mapping[str, str]) -> Iterator[Side]:
    """Our function in a server of its own, for one figure: the function's defaults
    except ``settings``, its own trigger topic (also its TRIGGER_TOPIC, so continuations
    come back to it), results topic and pull subscription. A fresh process, so its
    request budget starts empty. Stopped, and its push subscription deleted, on exit."""
    stack = bench.stack
    trigger, results = f"{label}-requests", f"{label}-results"
    env = {
        **{key: stack.function_env[key] for key in STACK_ENV_KEYS},
        "RESULTS_TOPIC": f"projects/{PROJECT}/topics/{results}",
        "TRIGGER_TOPIC": f"projects/{PROJECT}/topics/{trigger}",
        **settings,
    }
    with FunctionServer(REPO_ROOT, TARGET, env=env, log_dir=stack.log_dir / label) as server:
        wire(stack, trigger, server, ack_deadline=SIDE_ACK_DEADLINE)
        stack.pubsub.create_topic(PROJECT, results)
        stack.pubsub.create_pull_subscription(
            PROJECT, f"{results}-pull", results, ack_deadline=SIDE_ACK_DEADLINE
        )
        try:
            yield Side(label, REPO_ROOT, env, server, trigger, results, f"{results}-pull")
        finally:
            bench.rest.delete_subscription(f"{trigger}-push")


def wire(
    stack: LocalStack, topic: str, server: FunctionServer, ack_deadline: int | None = None
) -> None:
    """A trigger topic pushed to ``server``, as LocalStack wires its own function."""
    stack.pubsub.create_topic(PROJECT, topic)
    stack.pubsub.create_push_subscription(
        PROJECT,
        f"{topic}-push",
        topic,
        server.push_endpoint(PROJECT, topic),
        ack_deadline=stack.ack_deadline if ack_deadline is None else ack_deadline,
    )
