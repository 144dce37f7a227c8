"""The work to stop before a target whose kind ``clears_first`` (a cluster): its active
jobs and its running operations, found by listing them, each then stopped and verified
with its own result before the cluster's own stop is sent.

Dataproc's order, from its "Stop and start clusters" page
(https://cloud.google.com/dataproc/docs/guides/dataproc-start-stop): a stop *fails* while
an update or diagnose operation runs, and *succeeds* with running jobs, which then fail.
Cancelling them first gives every job an honest CANCELLED of its own instead of a
failure, and clears the operations that would refuse the stop.

Operations are cleared except the cluster's own lifecycle (CREATE, START, STOP, DELETE):
its state already tells those, and cancelling someone's stop or delete would undo it.
A cluster of a sweep or of an incident (``Target.spare_exempt``) whose active work carries
the exempt label is left alone: neither ever stops exempt work, and the cluster's stop
would fail it. A cluster named in a message stops whatever runs on it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from google.api_core import exceptions as api_exceptions

from canceller.clock import Deadline
from canceller.dataproc import DataprocClient
from canceller.kinds import SWEEPABLE, Kind, Phase, Resource
from canceller.names import InvalidName, parse_name
from canceller.rest import TransientFailure
from canceller.results import Outcome
from canceller.targets import Target

_LIFECYCLE = frozenset({"CREATE", "START", "STOP", "DELETE"})
_MAX_PAGES = 20  # of 1,000 each: 20,000 jobs of one cluster, its history included


@dataclass
class Plan:
    """``work``: what to stop first (each marked ``found_on_cluster``); ``clusters``: what to
    stop after it, with the jobs and operations each waits for; ``refused``: answered now
    (exempt work on it, its work not listable); ``left``: not prepared for want of time or
    budget, to hand on or redeliver, with why."""

    work: list[Target] = field(default_factory=list)
    clusters: list[tuple[Target, set[str]]] = field(default_factory=list)
    refused: list[tuple[Target, Resource, Outcome, str]] = field(default_factory=list)
    left: list[tuple[Target, str]] = field(default_factory=list)
    # The message's own targets a cluster waits for (a sweep's jobs on it) -> the cluster;
    # and those on any of its clusters, waited for here or by a later message.
    waited_for: dict[str, str] = field(default_factory=dict)
    on_clusters: dict[str, str] = field(default_factory=dict)


def plan_clearing(
    client: DataprocClient,
    targets: list[Target],
    others: list[Target],
    deadline: Deadline,
    workers: int,
) -> Plan:
    """Read each target and list the work on it, ``workers`` at a time, within
    ``deadline`` (what is not read by then is left for later). ``others``: what the
    message stops anyway (a sweep's own jobs), not listed twice; the cluster still
    waits for them."""
    plan = Plan()
    elsewhere = {target.name.name for target in others}
    taken: set[str] = set()
    with ThreadPoolExecutor(max(1, min(workers, len(targets)))) as pool:
        prepared = list(pool.map(lambda target: _prepare(client, target, deadline), targets))
    for target, outcome in zip(targets, prepared, strict=True):
        on_it = {other.name.name for other in others if _on(other, target)}
        if not isinstance(outcome, _Refusal):  # to be stopped, in this message or a later
            for name in on_it:
                plan.on_clusters.setdefault(name, target.name.name)
        if isinstance(outcome, str):
            plan.left.append((target, outcome))
        elif isinstance(outcome, _Refusal):
            plan.refused.append((target, outcome.cluster, outcome.outcome, outcome.why))
        else:
            planned, work = outcome
            for item in work:
                if item.name.name not in elsewhere and item.name.name not in taken:
                    taken.add(item.name.name)
                    plan.work.append(item)
            plan.clusters.append((planned, {w.name.name for w in work} | on_it))
            for name in on_it | ({w.name.name for w in work} & elsewhere):
                plan.waited_for.setdefault(name, planned.name.name)
    return plan


@dataclass(frozen=True)
class _Refusal:
    cluster: Resource
    outcome: Outcome
    why: str


def _prepare(
    client: DataprocClient, target: Target, deadline: Deadline
) -> str | _Refusal | tuple[Target, list[Target]]:
    """One cluster: why it is left for later, why it is answered now, or the target to
    stop (pinned to the incarnation read, so one re-created meanwhile is never hit) and
    the work to stop before it."""
    if deadline.expired():
        return "no time left to read it and list its work in this message"
    try:
        cluster = client.get(target.name.name, deadline)
    except TransientFailure as failure:
        return str(failure)
    except api_exceptions.GoogleAPICallError:
        return (target, [])  # not found, forbidden: its own start reads it again and answers
    seen_at = deadline.clock.monotonic()
    kind = target.kind
    uuid = kind.uuid(cluster)
    if target.expect_uuid and uuid != target.expect_uuid:
        # Another incarnation: its own start answers from this reading (left alone).
        return (replace(target, seen=cluster, seen_at=seen_at), [])
    planned = replace(target, seen=cluster, seen_at=seen_at, expect_uuid=uuid)
    if kind.phase(cluster) is not Phase.RUNNING or kind.refusal(cluster):
        return (planned, [])  # done, stopping or refused: nothing to clear
    # Its running work, to clear; for a cluster that must spare exempt work, also the
    # work carrying the label in every state (one setting up or between attempts fails
    # with the cluster too), a listing of a few items whatever the cluster's history.
    try:
        work, _ = _work_on(client, kind, target, cluster, deadline, None)
        exempt, complete = (
            _work_on(client, kind, target, cluster, deadline, target.spare_exempt)
            if target.spare_exempt is not None
            else ([], True)
        )
    except TransientFailure as failure:
        return str(failure)
    except api_exceptions.GoogleAPICallError as error:
        return _Refusal(
            cluster,
            Outcome.ERROR,
            (
                f"not stopped: the jobs and operations on it could not be listed ({error}); "
                "a stop fails its running jobs, and is refused while an update runs"
            )[:1024],
        )
    if target.spare_exempt is not None:
        key, value = target.spare_exempt
        spared = [w for w, labels in exempt if labels.get(key) == value]
        if spared:
            return _Refusal(
                cluster,
                Outcome.REJECTED,
                f"left alone: its {spared[0].name.kind} {spared[0].name.name} is exempt "
                f"({key}={value}), and stopping the cluster would fail it; a sweep or an "
                "alert never stops exempt work",
            )
        if not complete:
            return _Refusal(
                cluster,
                Outcome.REJECTED,
                f"left alone: its exempt work is more than {_MAX_PAGES} pages long and "
                "could not all be read; stop it by name",
            )
    return (planned, [w for w, _ in work])


def _work_on(
    client: DataprocClient,
    kind: Kind,
    target: Target,
    cluster: Resource,
    deadline: Deadline,
    label: tuple[str, str] | None,
) -> tuple[list[tuple[Target, dict[str, str]]], bool]:
    """The cluster's unfinished jobs and running operations (not its lifecycle), or with
    ``label`` those carrying it, as targets with their labels, only those of this
    incarnation (its clusterUuid); and whether the listing was read to its end."""
    uuid = kind.uuid(cluster)
    scope = target.name.scope
    cluster_name = target.name.resource_id
    found: list[tuple[Target, dict[str, str]]] = []
    complete = True
    for plural in kind.clears_first:
        work_kind = SWEEPABLE[plural]
        params = {
            **work_kind.work_params(cluster_name, label),
            "pageSize": str(work_kind.page_size),
        }
        for pages in range(1, _MAX_PAGES + 1):
            page = client.list(work_kind.collection(scope), deadline, params)
            seen_at = deadline.clock.monotonic()
            for item in work_kind.listed_items(page):
                if work_kind.phase(item) is not Phase.RUNNING:
                    continue
                if uuid and work_kind.cluster_uuid(item) not in (uuid, None):
                    continue
                if work_kind.field_value(item, "clusterName") != cluster_name:
                    continue
                if (work_kind.field_value(item, "operationType") or "") in _LIFECYCLE:
                    continue
                try:
                    name = parse_name(work_kind.name, work_kind.listed_name(item, scope))
                except InvalidName:
                    continue
                work = Target(
                    name,
                    seen=item,
                    seen_at=seen_at,
                    found_on_cluster=True,
                    cleared_for=target.name.name,
                )
                found.append((work, dict(work_kind.labels(item))))
            token = page.get("nextPageToken")
            if not token:
                break
            if pages == _MAX_PAGES:
                complete = False
            params["pageToken"] = str(token)
    return found, complete


def _on(work: Target, cluster: Target) -> bool:
    """Is this target of the message work on ``cluster`` (as listed)? Then the cluster
    waits for its answer too."""
    return (
        work.seen is not None
        and work.name.scope == cluster.name.scope
        and work.kind.field_value(work.seen, "clusterName") == cluster.name.resource_id
    )
