"""What the money costs: the requests a job's burn adds, and the CPU the arithmetic takes.

A job's own burn is not knowable, so its result gives its cluster's for reference, read
once a message per distinct cluster (canceller/pricing.py). Ours: 10 RUNNING clusters
(an n2-standard-4 master and 2 workers) in a region of their own, 20 RUNNING jobs on
each, one ``{"sweep": {"scopes": [that region], "kinds": ["jobs"]}}`` message to our main
server; every job must come back CANCELLED with its cluster's burn (raises otherwise).

Figures:
- Dataproc requests per stopped job, counted in the emulator's request log, against the
  same run's requests less the ``clusters.get`` reads made for the money (nothing else in
  that sweep reads a cluster): the money's share of the request cost. Target <= 1.05 x.
- CPU: working out a result's burn and savedUpTo (``pricing.burn_of``) for a cluster, a
  batch and a session, against describing the work and serialising the result
  (``Kind.describe`` and ``Result.to_message``), the work every result costs anyway;
  2,000 of each, best of 5. Target <= 1 x.
- Information: the chat message's text for a 200-result message (``notify.build_text``)
  against serialising those 200 results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from benchmarks.harness import Bench, scope
from benchmarks.report import Row, info_row
from benchmarks.request_log import in_region
from benchmarks.sweep_chain import pull_chain
from canceller.kinds import KINDS, Kind, Resource
from canceller.names import parse_name
from canceller.notify import build_text
from canceller.prices import shipped_table
from canceller.pricing import burn_of
from canceller.results import Outcome, Result
from canceller.trigger_info import TriggerInfo

MONEY_REGION = "europe-west6"
CLUSTERS, JOBS_EACH = 10, 20
REPEATS, ROUNDS = 2000, 5


def measure(bench: Bench) -> list[Row]:
    return [*_requests(bench), *_cpu()]


def _requests(bench: Bench) -> list[Row]:
    place = f"projects/{bench.stack.project}/regions/{MONEY_REGION}"
    clusters = [
        bench.admin.seed_cluster(name=f"{place}/clusters/money-{i}", runningSecondsAgo=3600)
        for i in range(CLUSTERS)
    ]
    jobs = [
        {
            "name": f"{place}/jobs/money-{i}-{j}",
            "clusterName": f"money-{i}",
            "clusterUuid": cluster["clusterUuid"],
            "cancelSeconds": 0.3,
        }
        for i, cluster in enumerate(clusters)
        for j in range(JOBS_EACH)
    ]
    bench.admin.seed_jobs(jobs)
    bench.publish(bench.ours, [{"sweep": {"scopes": [scope(MONEY_REGION)], "kinds": ["jobs"]}}])
    chain = pull_chain(bench, bench.ours, 180.0)
    stopped = [r for r in chain.results if r["outcome"] == "CANCELLED"]
    if len(stopped) != len(jobs):
        raise RuntimeError(f"money: {len(stopped)} of {len(jobs)} jobs CANCELLED")
    unpriced = [r["target"] for r in stopped if "usdPerHour" not in r["burn"].get("cluster", {})]
    if unpriced:
        raise RuntimeError(f"money: {len(unpriced)} job(s) without their cluster's burn")
    entries = in_region(bench.admin.requests(), MONEY_REGION)
    reads = sum(entry["apiMethod"] == "clusters.get" for entry in entries)
    total = len(entries) / len(jobs)
    without = (len(entries) - reads) / len(jobs)
    return [
        Row(
            f"{len(jobs)} jobs on {CLUSTERS} clusters: Dataproc requests per job, "
            "with the money / without",
            total,
            without,
            "req",
            "<= 1.05x",
            total <= 1.05 * without,
            f"{reads} clusters.get for the jobs' burn, in {len(chain.summaries)} message(s)",
        )
    ]


def _cpu() -> list[Row]:
    table = shipped_table()
    trigger = TriggerInfo("bench", "", "//bench", kind="sweep", chain="sweep-bench")
    now = datetime.now(UTC)
    rows = []
    samples = _samples()
    for kind_name, (name, resource) in samples.items():
        kind = KINDS[kind_name]
        parsed = parse_name(kind_name, name)
        result = Result(Outcome.CANCELLED, name, "cancelled", trigger, now, kind_name, name=parsed)
        work = partial(burn_of, kind, parsed, resource, Outcome.CANCELLED, table, now, None)
        result.burn, result.saving, _ = work()
        priced = _best(work)
        result.state = kind.describe(resource)

        def serialise(
            kind: Kind = kind, resource: Resource = resource, result: Result = result
        ) -> object:
            return {**kind.describe(resource), **result.to_message()}

        serialised = _best(serialise)
        rows.append(
            Row(
                f"CPU a {kind_name} result: burn and savedUpTo / describing and serialising it",
                priced * 1e6,
                serialised * 1e6,
                "us",
                "<= 1x",
                priced <= serialised,
                "",
            )
        )
    name, resource = samples["cluster"]
    parsed = parse_name("cluster", name)
    many = []
    for i in range(200):
        result = Result(Outcome.CANCELLED, f"{name}-{i}", "stopped", trigger, now, "cluster")
        result.name = parsed
        result.burn, result.saving, _ = burn_of(
            KINDS["cluster"], parsed, resource, Outcome.CANCELLED, table, now, None
        )
        many.append(result)
    text = _best(lambda: build_text(many), rounds=3, repeats=20)
    serialised = _best(lambda: [r.to_message() for r in many], rounds=3, repeats=20)
    rows.append(
        info_row(
            "CPU the chat text of a 200-result message / serialising its results",
            text * 1e3,
            serialised * 1e3,
            "ms",
            "",
        )
    )
    return rows


def _samples() -> dict[str, tuple[str, dict[str, object]]]:
    place = "projects/acme-data-prod/regions/us-central1"
    group = {"numInstances": 2, "machineTypeUri": "n2-standard-4"}
    usage = {"milliDcu": "20000", "shuffleStorageGb": "25"}
    runtime = {"currentUsage": usage}
    return {
        "cluster": (
            f"{place}/clusters/costly",
            {
                "status": {"state": "RUNNING"},
                "config": {"masterConfig": {**group, "numInstances": 1}, "workerConfig": group},
            },
        ),
        "batch": (
            "projects/acme-data-prod/locations/us-central1/batches/nightly-batch",
            {"state": "RUNNING", "runtimeInfo": runtime, "createTime": "2026-12-03T10:00:00Z"},
        ),
        "session": (
            "projects/acme-data-prod/locations/us-central1/sessions/notebook-1",
            {"state": "ACTIVE", "runtimeInfo": runtime, "createTime": "2026-12-03T10:00:00Z"},
        ),
    }


def _best(work: Callable[[], object], rounds: int = ROUNDS, repeats: int = REPEATS) -> float:
    """Seconds one call takes: the best of ``rounds`` runs of ``repeats`` calls."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeats):
            work()
        best = min(best, (time.perf_counter() - started) / repeats)
    return best
