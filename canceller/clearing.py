"""The work to stop before a target whose kind ``clears_first`` (a cluster): its active
jobs and its running operations, found by listing them, each then stopped and verified
with its own result before the cluster's own stop is sent.

Dataproc's order, from its "Stop and start clusters" page (shared/reference/google-apis.md):
a stop *fails* while an update or diagnose operation runs, and *succeeds* with running
jobs, which then fail. Cancelling them first gives every job an honest CANCELLED of its
own instead of a failure, and clears the operations that would refuse the stop.

Operations are cleared except the cluster's own lifecycle (CREATE, START, STOP, DELETE):
its state already tells those, and cancelling someone's stop or delete would undo it.
A cluster of a sweep or of an incident (``Target.spare_exempt``) whose active work carries
the exempt label is left alone: neither ever stops exempt work, and the cluster's stop
would fail it. A cluster named in a message stops whatever runs on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from google.api_core import exceptions as api_exceptions

from canceller.clock import Deadline
from canceller.dataproc import DataprocClient, TransientFailure
from canceller.kinds import KINDS, SWEEPABLE, Clause, Kind, Phase, Resource
from canceller.names import InvalidName, parse_name
from canceller.results import Outcome
from canceller.targets import Target

_LIFECYCLE = frozenset({"CREATE", "START", "STOP", "DELETE"})
_MAX_PAGES = 20  # of 1,000: a cluster runs at most a few thousand jobs at once


@dataclass
class Plan:
    """``work``: what to stop first (each marked ``cleared_for``); ``clusters``: what to
    stop after it, with the jobs and operations each waits for; ``refused``: answered now
    (exempt work on it, its work not listable); ``left``: not prepared for want of time or
    budget, to hand on or redeliver, with why."""

    work: list[Target] = field(default_factory=list)
    clusters: list[tuple[Target, set[str]]] = field(default_factory=list)
    refused: list[tuple[Target, Resource, Outcome, str]] = field(default_factory=list)
    left: list[tuple[Target, str]] = field(default_factory=list)


def plan_clearing(
    client: DataprocClient,
    targets: list[Target],
    others: list[Target],
    deadline: Deadline,
) -> Plan:
    """Read each target and list the work on it. ``others``: what the message stops
    anyway (a sweep's own jobs), not listed twice; the cluster still waits for them."""
    plan = Plan()
    elsewhere = {target.name.name for target in others}
    taken: set[str] = set()
    for target in targets:
        try:
            cluster = client.get(target.name.name, deadline)
        except TransientFailure as failure:
            plan.left.append((target, str(failure)))
            continue
        except api_exceptions.GoogleAPICallError:
            # Not found, forbidden: the cluster's own start reads it again and answers.
            plan.clusters.append((target, set()))
            continue
        try:
            seen_at = time.monotonic()
            kind = target.kind
            if (
                kind.phase(cluster) is not Phase.RUNNING
                or kind.refusal(cluster)
                or (target.expect_uuid and kind.uuid(cluster) != target.expect_uuid)
            ):
                # Nothing to clear: the cluster's own start answers it (done, refused, or
                # another incarnation) from this very reading.
                plan.clusters.append((replace(target, seen=cluster, seen_at=seen_at), set()))
                continue
            work = _work_on(client, kind, target, cluster, deadline)
        except TransientFailure as failure:
            plan.left.append((target, str(failure)))
            continue
        except api_exceptions.GoogleAPICallError as error:
            why = (
                f"not stopped: the jobs and operations on it could not be listed ({error}), "
                "and Dataproc fails running jobs and refuses a stop during an update when "
                "a cluster stops"
            )
            plan.refused.append((target, cluster, Outcome.ERROR, why[:1024]))
            continue
        exempt = [
            w for w, labels in work if target.spare_exempt and _carries(labels, target.spare_exempt)
        ]
        if exempt:
            key, value = target.spare_exempt or ("", "")
            plan.refused.append(
                (
                    target,
                    cluster,
                    Outcome.REJECTED,
                    f"left alone: its {exempt[0].name.kind} {exempt[0].name.name} is exempt "
                    f"({key}={value}), and stopping the cluster would fail it; a sweep never "
                    "stops exempt work",
                )
            )
            continue
        names = {w.name.name for w, _ in work}
        for item, _ in work:
            if item.name.name not in elsewhere and item.name.name not in taken:
                taken.add(item.name.name)
                plan.work.append(item)
        waits = names | {t.name.name for t in others if _on(t, target)}
        plan.clusters.append((replace(target, seen=cluster, seen_at=seen_at), waits))
    return plan


def _work_on(
    client: DataprocClient, kind: Kind, target: Target, cluster: Resource, deadline: Deadline
) -> list[tuple[Target, dict[str, str]]]:
    """The cluster's active jobs and running operations (not its lifecycle), as targets
    with their labels; only those of this incarnation (its clusterUuid)."""
    uuid = kind.uuid(cluster)
    scope = target.name.scope
    cluster_name = target.name.resource_id
    found: list[tuple[Target, dict[str, str]]] = []
    for plural in kind.clears_first:
        work_kind = SWEEPABLE[plural]
        params = {
            **work_kind.server_params((Clause("clusterName", cluster_name),)),
            "pageSize": str(work_kind.page_size),
        }
        for _ in range(_MAX_PAGES):
            page = client.list(work_kind.collection(scope), deadline, params)
            seen_at = time.monotonic()
            for item in _items(page, work_kind):
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
                    extra={**target.extra, "clearedFor": target.name.name},
                    cleared_for=target.name.name,
                )
                found.append((work, dict(work_kind.labels(item))))
            token = page.get("nextPageToken")
            if not token:
                break
            params["pageToken"] = str(token)
    return found


def _items(page: Resource, kind: Kind) -> list[Resource]:
    items = page.get(kind.plural)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _carries(labels: dict[str, str], label: tuple[str, str]) -> bool:
    return labels.get(label[0]) == label[1]


def _on(work: Target, cluster: Target) -> bool:
    """Is this target of the message work on ``cluster`` (as listed)? Then the cluster
    waits for its answer too."""
    kind = KINDS[work.name.kind]
    return (
        work.seen is not None
        and work.name.scope == cluster.name.scope
        and kind.field_value(work.seen, "clusterName") == cluster.name.resource_id
    )
