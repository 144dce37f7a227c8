"""A budget alert at the clusters rung over 100 running clusters, 2 running jobs on each:
is every job cancelled and verified before its cluster's stop, and do the stops keep to
DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE?

StopCluster counts against Dataproc's ClusterOperationRequestsPerMinutePerProjectPerRegion
quota (200 by default, shared with the project's own creates, updates, starts and
deletes), so the canceller's share is a setting of its own: 100 a minute by default.

Ours: N RUNNING clusters (running for an hour) in a region of their own, each STOPPED
1 s after its ``:stop``, and 2 RUNNING jobs on each (its clusterName and clusterUuid),
each CANCELLED 0.5 s after its ``:cancel``. Our function runs in a server of its own
(``harness.own_side``) with every setting at its default (SWEEP_KINDS, the request
budget 600 a minute, DATAPROC_JOB_CANCELS_PER_MINUTE 200, MAX_CANCELS_PER_MESSAGE 500,
DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE 100, read back from the side's settings) except
SWEEP_SCOPES (that region) and BUDGET_LADDER=0.5:report,1.2:clusters. One real budget
notification (schemas/examples/budget-notification-over.json and its three attributes:
1,250.4 of a 1,000 budget, ratio 1.25, so the clusters rung: SWEEP_KINDS, then the
clusters) goes to its trigger topic; every result of the chain is pulled by its
``sweep.id`` (``follow_chain``: ``sweep_chain.pull_chain``, except that a message
redelivered because it confirmed no stop publishes a summary per delivery, and the
chain ends only at a summary that leaves nothing). Full run: 100 clusters, which the
setting binds (the function keeps a tenth of every limit for verification reads, so 90
stops go in the first window and the rest wait for it to move): the continuation that
carries the last 10 must wait about a minute for the window, which is about the time it
has before its verification window, so whether it waits or gives up and is redelivered
until it fits varies from run to run; the wall time's row counts the deliveries.
Quick: 30 clusters.

Checks (each raises: a figure of a broken run would mean nothing): the notification
reached the clusters rung and the last summary says ``remaining`` 0; every cluster has
one result, CANCELLED with ``state.clusterState`` STOPPED; every job one result,
CANCELLED (a ``clearedFor`` naming another cluster raises); no result for anything else.
From the request log: one ``clusters.stop`` per cluster, one ``jobs.cancel`` per job,
each job's cancel arriving before its cluster's stop, and a ``jobs.get`` of it arriving
between 0.5 s after its cancel (when it was CANCELLED) and that stop: the stop was sent
after its jobs were seen stopped. Whether each job's result carries ``clearedFor`` (its
cluster) is a row of its own, target all of them, not a raise: the order it stands for
is proved by the request log, so the other figures hold either way.

The reference, run at the same time in another region on as many clusters and jobs
seeded alike: what a person does with gcloud, read from the Google Cloud CLI 528.0.0
installed here and replayed with plain ``requests`` (one thread per cluster, as
separate ``gcloud`` runs, against the same emulator, so the same 20 ms latency):
``gcloud dataproc jobs kill`` for each job in turn (``surface/dataproc/jobs/kill.py``:
one ``jobs.cancel``, no read first, then ``util.WaitForJobTermination``: the cancel's
answer is not terminal, so a ``jobs.get`` at once and then one every 10 s, checked on
a 1 s tick, until CANCELLED: with 0.5 s to cancel, two GETs), then ``gcloud dataproc
clusters stop`` (``surface/dataproc/clusters/stop.py``: ``clusters.stop`` with a fresh
requestId, then ``util.WaitForOperation``: ``operations.get`` at once and every 5 s
until done: with 1 s to stop, two GETs). So 9 requests per cluster; finding the jobs
(``gcloud dataproc jobs list --cluster``) is not counted, in gcloud's favour.

Figures: the most ``clusters.stop`` requests that arrived at the emulator in any 60 s,
target <= the setting; the Dataproc requests per cluster (every method in the region,
listings included, from the request log; split per cluster into POSTs, GETs and
listings) beside the reference's, information; the jobs answered with ``clearedFor``,
target all; the wall time, publish -> last summary pulled, beside floor((N - 1) /
setting) x 60 s (``sweep_chain.minimum_seconds``), information. That floor is 0 s for
N <= the setting (the first window's stops are the budget's own burst); with N above
the 90 stops the budget lets go in one window, the row's note gives the floor those
90 a window make (60 s for 100).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from benchmarks.budget_alert import NOTIFICATION
from benchmarks.harness import Bench, Side, own_side, scope
from benchmarks.pubsub_rest import Pulled, PullTimeout
from benchmarks.report import Row, info_row
from benchmarks.request_log import Entry, in_region, peak_in_window
from benchmarks.sweep_chain import SUMMARY, Chain, minimum_seconds
from canceller.request_budget import URGENT_RESERVE
from canceller.settings import load_settings

CLUSTERS_REGION = "europe-west6"  # ours: N clusters, 2 jobs on each
GCLOUD_CLUSTERS_REGION = "europe-west8"  # the gcloud-by-hand reference, the same
JOBS_PER_CLUSTER = 2
JOB_CANCEL_SECONDS = 0.5
STOP_SECONDS = 1.0
RUNNING_SECONDS_AGO = 3600.0
LADDER = "0.5:report,1.2:clusters"
# gcloud 528.0.0, googlecloudsdk/api_lib/dataproc/util.py
JOB_POLL_SECONDS = 10.0  # WaitForJobTermination's dataproc_poll_period_s
JOB_TICK_SECONDS = 1.0  # its log_poll_period_s: the loop's sleep
OPERATION_POLL_SECONDS = 5.0  # WaitForOperation's poll_period_s
TERMINAL_JOB_STATES = frozenset({"CANCELLED", "DONE", "ERROR"})  # terminal_job_states
HTTP_TIMEOUT = 10.0
REFERENCE_TIMEOUT = 120.0


@dataclass(frozen=True)
class Seeded:
    """One region's clusters, and the jobs on each (cluster name -> job names)."""

    clusters: list[str]
    jobs: dict[str, list[str]]

    @property
    def all_jobs(self) -> list[str]:
        return [job for jobs in self.jobs.values() for job in jobs]


def seed(bench: Bench, region: str, count: int) -> Seeded:
    base = scope(region)
    clusters = [f"{base}/clusters/swept-{i}" for i in range(count)]
    uuids = [str(uuid.uuid4()) for _ in clusters]
    jobs = {
        cluster: [f"{base}/jobs/swept-{i}-job-{j}" for j in range(JOBS_PER_CLUSTER)]
        for i, cluster in enumerate(clusters)
    }
    bench.admin.seed_clusters(
        [
            {
                "name": name,
                "clusterUuid": uid,
                "stopSeconds": STOP_SECONDS,
                "runningSecondsAgo": RUNNING_SECONDS_AGO,
            }
            for name, uid in zip(clusters, uuids, strict=True)
        ]
    )
    bench.admin.seed_jobs(
        [
            {
                "name": job,
                "clusterName": cluster.rsplit("/", 1)[1],
                "clusterUuid": uid,
                "cancelSeconds": JOB_CANCEL_SECONDS,
            }
            for cluster, uid in zip(clusters, uuids, strict=True)
            for job in jobs[cluster]
        ]
    )
    return Seeded(clusters, jobs)


def measure(bench: Bench, count: int) -> list[Row]:
    ours = seed(bench, CLUSTERS_REGION, count)
    theirs = seed(bench, GCLOUD_CLUSTERS_REGION, count)
    notification = json.loads(NOTIFICATION.read_text())
    settings = {"BUDGET_LADDER": LADDER, "SWEEP_SCOPES": scope(CLUSTERS_REGION)}
    with own_side(bench, "clusters", settings) as side:
        per_minute = load_settings(side.env).dataproc_cluster_operations_per_minute
        reference = GcloudByHand(bench.stack.dataproc.base_url, theirs.jobs)
        started = time.perf_counter()
        bench.rest.publish(
            side.trigger_topic,
            [json.dumps(notification["data"]).encode()],
            notification["attributes"],
        )
        reference.start()
        chain = follow_chain(bench, side, 180.0 + 120.0 * count / per_minute)
        by_hand = reference.join()
    wall = chain.finished - started
    cleared = _check_results(chain.summaries, chain.results, chain.last, ours)
    _check_reference(by_hand, theirs)
    log = bench.admin.requests()
    entries = in_region(log, CLUSTERS_REGION)
    stops = _check_order(entries, ours)
    reference_entries = in_region(log, GCLOUD_CLUSTERS_REGION)

    peak = peak_in_window(stops)
    note = ""
    if peak > per_minute:
        ordered = sorted(stops)
        gap, k = min((ordered[k + per_minute] - ordered[k], k) for k in range(count - per_minute))
        note = f"stops {k + 1} and {k + 1 + per_minute} arrived {gap:.4f} s apart, less than 60 s"
    stop_share = per_minute - per_minute // URGENT_RESERVE
    wall_note = ""
    if count > stop_share:
        wall_note = (
            f"the budget keeps a tenth of the {per_minute} a minute for verification reads, "
            f"so {stop_share} stops go in the first window and stop {stop_share + 1} waits "
            f"for it to move: at least {minimum_seconds(count, stop_share):.0f} s"
        )
    jobs = len(ours.all_jobs)
    cleared_note = ""
    if cleared != jobs:
        cleared_note = (
            f"{jobs - cleared} CANCELLED job(s) without clearedFor: the rung's sweep of "
            "SWEEP_KINDS selected them itself, so they were stopped as its own targets "
            "(clearing.plan_clearing's others: not listed again; the cluster's stop still "
            "waited for them, as the request log shows), while result.schema.json puts "
            "clearedFor on work stopped first for a cluster whose stop waited for its answer"
        )
    kinds = Counter(
        "list" if entry["apiMethod"].endswith(".list") else entry["method"] for entry in entries
    )
    split = ", ".join(f"{kinds[k] / count:.3g} {k}" for k in ("POST", "GET", "list") if kinds[k])
    return [
        Row(
            f"{count}-cluster budget alert ({JOBS_PER_CLUSTER} jobs each): peak clusters.stop "
            "in any 60 s",
            peak,
            per_minute,
            "n",
            f"<= {per_minute} (setting)",
            peak <= per_minute,
            note,
        ),
        info_row(
            f"  Dataproc requests per cluster (ours: {split}); ref: gcloud by hand",
            len(entries) / count,
            len(reference_entries) / count,
            "req",
            "",
        ),
        Row(
            "  jobs answered CANCELLED with clearedFor their cluster",
            cleared,
            jobs,
            "n",
            f"= {jobs}",
            cleared == jobs,
            cleared_note,
        ),
        info_row(
            f"  wall time ({_deliveries(chain)}); ref: {count} stops at {per_minute}/min",
            wall,
            minimum_seconds(count, per_minute),
            "s",
            wall_note,
        ),
    ]


def _deliveries(chain: Chain) -> str:
    """The chain's messages, what each acted on, and its deliveries if more than one."""
    acted: dict[int, int] = defaultdict(int)
    for summary in chain.summaries:
        acted[int(summary["sweep"]["generation"])] += int(summary["sweep"]["acted"])
    plural = "s" if len(acted) > 1 else ""
    said = f"{len(acted)} message{plural} acting on {' + '.join(map(str, acted.values()))}"
    if len(chain.summaries) > len(acted):
        said += f"; {len(chain.summaries)} deliveries"
    return said


def follow_chain(bench: Bench, side: Side, timeout: float) -> Chain:
    """Every result of the one chain ``side`` runs, until a summary says it is over.

    ``sweep_chain.pull_chain`` with one difference: a message of the chain that confirms
    no stop asks for its redelivery, and each delivery publishes a summary of its own
    (the same generation, ``handedOn`` false, ``remaining`` what it left); pull_chain
    would take the first for the chain's end. Here the chain ends at a summary that
    leaves nothing (``remaining`` 0, the listing complete, nothing handed on) once every
    result the summaries announce has arrived; every delivery's summary is kept."""
    seen: list[Pulled] = []

    def ended(pulled: list[Pulled]) -> bool:
        seen[:] = pulled
        summaries = [p.body["sweep"] for p in pulled if p.body.get("outcome") == SUMMARY]
        announced = sum(int(summary["acted"]) for summary in summaries)
        over = any(
            not summary["handedOn"] and not summary["remaining"] and summary["listingComplete"]
            for summary in summaries
        )
        return over and len(pulled) - len(summaries) >= announced

    try:
        pulled = bench.rest.pull_until(side.results_subscription, ended, timeout)
    except PullTimeout as error:
        said = [str(p.body.get("detail"))[:300] for p in seen if p.body.get("outcome") == SUMMARY]
        raise RuntimeError(
            f"cluster sweep: the chain did not end in {timeout:g} s; {len(said)} summaries, "
            f"the last: {said[-2:]}"
        ) from error
    ids = {p.body.get("sweep", {}).get("id") for p in pulled}
    if len(ids) != 1 or None in ids:
        raise RuntimeError(
            f"cluster sweep: results of {len(ids)} sweep ids: {sorted(map(str, ids))}"
        )
    summaries = sorted(
        (p for p in pulled if p.body.get("outcome") == SUMMARY),
        key=lambda p: (int(p.body["sweep"]["generation"]), p.received),
    )
    generations = sorted({int(s.body["sweep"]["generation"]) for s in summaries})
    if generations != list(range(len(generations))):
        raise RuntimeError(f"cluster sweep: summaries of generations {generations}")
    return Chain(
        summaries=[s.body for s in summaries],
        results=[p.body for p in pulled if p.body.get("outcome") != SUMMARY],
        finished=max(s.received for s in summaries),
    )


def _check_results(
    summaries: Sequence[dict[str, Any]],
    results: Sequence[dict[str, Any]],
    last: Mapping[str, Any],
    seeded: Seeded,
) -> int:
    """Raises unless every cluster and job was stopped; returns how many jobs carry
    ``clearedFor`` (one naming another cluster raises)."""
    rung = summaries[0].get("rung") or {}
    if rung.get("action") != "clusters":
        raise RuntimeError(f"cluster sweep: the notification reached rung {rung}, not clusters")
    by_target: dict[str, dict[str, Any]] = {}
    for result in results:
        if result["target"] in by_target:
            raise RuntimeError(f"cluster sweep: two results for {result['target']}")
        by_target[result["target"]] = result
    owner = {job: cluster for cluster, jobs in seeded.jobs.items() for job in jobs}
    unknown = set(by_target) - set(seeded.clusters) - set(owner)
    if unknown:
        raise RuntimeError(f"cluster sweep: results for targets not seeded: {sorted(unknown)[:3]}")
    wrong: list[str] = []
    for cluster in seeded.clusters:
        stopped = by_target.get(cluster)
        state = (stopped or {}).get("state", {}).get("clusterState")
        if stopped is None or stopped["outcome"] != "CANCELLED" or state != "STOPPED":
            wrong.append(f"{cluster}: {_said(stopped)}")
    cleared = 0
    for job, cluster in owner.items():
        cancelled = by_target.get(job)
        named = (cancelled or {}).get("clearedFor", cluster)
        if cancelled is None or cancelled["outcome"] != "CANCELLED" or named != cluster:
            wrong.append(f"{job}: {_said(cancelled)}, clearedFor {named}")
        else:
            cleared += "clearedFor" in cancelled
    if wrong or int(last["remaining"]):
        raise RuntimeError(
            f"cluster sweep: {len(wrong)} target(s) not as expected, the last summary says "
            f"{last['remaining']} remaining: {wrong[:3]}"
        )
    return cleared


def _said(result: Mapping[str, Any] | None) -> str:
    if result is None:
        return "no result"
    return f"{result['outcome']} ({str(result.get('detail', ''))[:200]})"


def _check_order(entries: Sequence[Entry], seeded: Seeded) -> list[float]:
    """Each cluster's one stop came after each of its jobs' one cancel and a read of the
    job made once it was CANCELLED; returns the stops' arrival times."""
    posts: dict[str, list[float]] = defaultdict(list)
    gets: dict[str, list[float]] = defaultdict(list)
    for entry in entries:
        name = entry["path"].removeprefix("/v1/")
        if entry["method"] == "POST":
            posts[name].append(entry["time"])
        elif entry["apiMethod"] == "jobs.get":
            gets[name].append(entry["time"])
    stops: list[float] = []
    wrong: list[str] = []
    for cluster in seeded.clusters:
        stop = posts.get(f"{cluster}:stop", [])
        if len(stop) != 1:
            wrong.append(f"{cluster}: {len(stop)} stops")
            continue
        stops.append(stop[0])
        for job in seeded.jobs[cluster]:
            cancel = posts.get(f"{job}:cancel", [])
            if len(cancel) != 1:
                wrong.append(f"{job}: {len(cancel)} cancels")
            elif cancel[0] >= stop[0]:
                wrong.append(
                    f"{job}: cancelled {cancel[0] - stop[0]:.3f} s after its cluster's stop"
                )
            elif not any(cancel[0] + JOB_CANCEL_SECONDS <= at < stop[0] for at in gets[job]):
                wrong.append(f"{job}: not read CANCELLED before its cluster's stop")
    if wrong:
        raise RuntimeError(f"cluster sweep: {len(wrong)} wrong in the request log: {wrong[:3]}")
    return stops


def _check_reference(waited: Mapping[str, ByHand], seeded: Seeded) -> None:
    wrong = {
        cluster: hand.error or f"jobs {hand.job_states}, operation done {hand.stopped}"
        for cluster, hand in waited.items()
        if hand.error
        or not hand.stopped
        or hand.job_states != ["CANCELLED"] * len(seeded.jobs[cluster])
    }
    if wrong or len(waited) != len(seeded.clusters):
        sample = list(wrong.items())[:2]
        raise RuntimeError(f"gcloud by hand: {len(wrong)} cluster(s) not stopped: {sample}")


@dataclass
class ByHand:
    """What one cluster's gcloud runs saw: each job's last state, the stop's end."""

    job_states: list[str] = field(default_factory=list)
    stopped: bool = False
    error: str = ""


@dataclass
class GcloudByHand:
    """``gcloud dataproc jobs kill`` for each job on a cluster, then ``gcloud dataproc
    clusters stop``: one thread per cluster, all at once, in the background."""

    base_url: str
    jobs: Mapping[str, Sequence[str]]  # cluster -> its jobs
    results: dict[str, ByHand] = field(default_factory=dict)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for cluster in self.jobs:
            self.results[cluster] = ByHand()
            thread = threading.Thread(target=self._one, args=(cluster,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def join(self) -> dict[str, ByHand]:
        deadline = time.monotonic() + REFERENCE_TIMEOUT
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.results

    def _one(self, cluster: str) -> None:
        hand = self.results[cluster]
        try:
            with requests.Session() as session:
                for job in self.jobs[cluster]:
                    hand.job_states.append(self._kill(session, job))
                hand.stopped = self._stop(session, cluster)
        except requests.RequestException as error:
            hand.error = f"{type(error).__name__}: {error}"

    def _kill(self, session: requests.Session, job: str) -> str:
        """kill.py: Cancel, then WaitForJobTermination (goal CANCELLED)."""
        url = f"{self.base_url}/v1/{job}"
        answer = session.post(f"{url}:cancel", json={}, timeout=HTTP_TIMEOUT)
        answer.raise_for_status()
        body = answer.json()
        last_poll = float("-inf")
        started = time.monotonic()
        while time.monotonic() - started < REFERENCE_TIMEOUT:
            state = str(body.get("status", {}).get("state"))
            if state in TERMINAL_JOB_STATES:
                return state
            now = time.monotonic()
            if now >= last_poll + JOB_POLL_SECONDS:
                last_poll = now
                answer = session.get(url, timeout=HTTP_TIMEOUT)
                answer.raise_for_status()
                body = answer.json()
            time.sleep(JOB_TICK_SECONDS)
        return f"not terminal after {REFERENCE_TIMEOUT:g} s"

    def _stop(self, session: requests.Session, cluster: str) -> bool:
        """stop.py: Stop with a fresh requestId, then WaitForOperation."""
        answer = session.post(
            f"{self.base_url}/v1/{cluster}:stop",
            json={"requestId": str(uuid.uuid4())},
            timeout=HTTP_TIMEOUT,
        )
        answer.raise_for_status()
        url = f"{self.base_url}/v1/{answer.json()['name']}"
        started = time.monotonic()
        while time.monotonic() - started < REFERENCE_TIMEOUT:
            answer = session.get(url, timeout=HTTP_TIMEOUT)
            answer.raise_for_status()
            operation = answer.json()
            if operation.get("done"):
                return "error" not in operation
            time.sleep(OPERATION_POLL_SECONDS)
        return False
