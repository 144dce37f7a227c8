"""The emulator's model: operations, batches, jobs, sessions, clusters, the organisation
they sit in (and a frozen snapshot of its assets), faults, request log, counts and
settings.

One lock guards everything. Requests are short (no I/O happens under the lock; the
simulated latency is slept by the HTTP layer outside it), so a single lock is both
the simplest correct choice and fast enough for thousands of requests a second.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import assets, clusters, jobs, sessions
from .clusters import ClusterRecord
from .errors import ApiError, denied, invalid, not_found
from .faults import Fault, fault_from_seed
from .jobs import JobRecord
from .listing import (
    FilterLanguage,
    by_create_time,
    legacy_operations_filter,
    newest_first,
    page,
    page_size,
    paginate,
)
from .metering import Meter, location_of
from .organisation import EMPTY, Organisation, organisation_from_description
from .records import BatchRecord, OperationRecord, batch_enums_as_numbers, new_uuid, timestamp
from .seeds import (
    batch_from_seed,
    cluster_from_seed,
    job_from_seed,
    operation_from_seed,
    session_from_seed,
)
from .sessions import SessionRecord
from .settings import Settings, settings_from_update

# The request log is for tests and benchmarks; the cap only stops a soak run from
# growing without bound.
REQUEST_LOG_LIMIT = 100_000
OPERATIONS_PAGE_SIZE = 100
BATCHES_PAGE_SIZE = 20  # ListBatchesRequest documents 20 (operations use 100)
# Neither default is documented; assumed: jobs like operations, sessions like batches.
JOBS_PAGE_SIZE = 100
SESSIONS_PAGE_SIZE = 20
CLUSTERS_PAGE_SIZE = 200  # ListClustersRequest documents 200
# Assumed wording: what a job says when its cluster stops or is deleted under it.
_CLUSTER_ENDED_JOB = "Job failed: its cluster '{cluster}' was {what} while the job was active."


_FROZEN_READ_AFTER = 1e-6  # seconds; see EmulatorState.now


@dataclass(frozen=True)
class Admission:
    """What happens to a real-API request before its handler: a fault to play, or a
    refusal (the quota's 429) to answer instead."""

    fault: Fault | None
    refusal: ApiError | None


class EmulatorState:
    """Everything the HTTP layer reads and changes; all methods are thread-safe.

    Time is the emulator's clock: the monotonic clock plus whatever the admin API has
    advanced it by, so tests can jump over scripted delays and quota windows; or, frozen,
    only the advances and the delay faults played.
    """

    def __init__(self, latency_seconds: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._startup_latency = latency_seconds
        # (the real time it stood still at if frozen, the offset): one value, replaced whole
        # under the lock, so now() never reads one half old and the other new
        self._clock: tuple[float | None, float] = (None, 0.0)
        self._operations: dict[str, OperationRecord] = {}
        self._batches: dict[str, BatchRecord] = {}
        self._jobs: dict[str, JobRecord] = {}
        self._sessions: dict[str, SessionRecord] = {}
        self._clusters: dict[str, ClusterRecord] = {}
        # (cluster name, method, requestId) -> the operation the first such request got;
        # kept after a delete completes, so a repeated delete still answers it.
        self._cluster_requests: dict[tuple[str, str, str], OperationRecord] = {}
        self._organisation = EMPTY
        self._description: dict[str, Any] = {}
        # Cloud Asset answers from this while it is frozen (admin: assets:freeze).
        self._asset_snapshot: list[assets.Work] | None = None
        self._faults: list[Fault] = []
        self._log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._meter = Meter()
        self._seq = itertools.count(1)
        self.settings = Settings(latency_seconds)

    def now(self) -> float:
        frozen_at, offset = self._clock
        if frozen_at is None:
            return time.monotonic() + offset
        # A test moves a frozen clock to the very instant a scripted change is due (a 1 s
        # sleep onto a job's 1 s cancel): read a microsecond on, it sees the change made,
        # whatever the last bits of the floats summed on either side.
        return frozen_at + offset + _FROZEN_READ_AFTER

    # ---- admin API ----------------------------------------------------------------

    def reset(self) -> None:
        """Back to a fresh start; the latency given at startup (--latency-ms) survives,
        and so does the clock (it never goes back), running again if it was frozen."""
        with self._lock:
            self._freeze(False)
            self._operations.clear()
            self._batches.clear()
            self._jobs.clear()
            self._sessions.clear()
            self._clusters.clear()
            self._cluster_requests.clear()
            self._organisation, self._description = EMPTY, {}
            self._asset_snapshot = None
            self._faults.clear()
            self._log.clear()
            self._meter.clear()
            self.settings = Settings(self._startup_latency)

    def advance_clock(self, body: Any) -> dict[str, Any]:
        """``frozen``: the clock stops following real time, and moves only when told to.
        A test on a fake clock freezes it, so scripted delays pass exactly as the fake
        clock moves and not also as the machine is slow (which made request counts vary)."""
        if not isinstance(body, dict) or set(body) - {"advanceSeconds", "frozen"}:
            raise invalid('the clock takes {"advanceSeconds": n >= 0, "frozen": bool}')
        seconds = body.get("advanceSeconds", 0)
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)  # NaN and Infinity parse as JSON here
            or seconds < 0
        ):
            raise invalid('the clock takes {"advanceSeconds": n} with finite n >= 0')
        frozen = body.get("frozen")
        if frozen is not None and not isinstance(frozen, bool):
            raise invalid('the clock\'s "frozen" is true or false')
        with self._lock:
            if not math.isfinite(self._clock[1] + seconds):  # 1e308 twice
                raise invalid('the clock takes {"advanceSeconds": n} with finite n >= 0')
            if frozen is not None:
                self._freeze(frozen)
            frozen_at, offset = self._clock
            self._clock = (frozen_at, offset + float(seconds))
            return {"offsetSeconds": self._clock[1], "frozen": frozen_at is not None}

    def delayed(self, seconds: float) -> None:
        """A delay fault was played: on a frozen clock it is the only way that time
        passes on the server, so the clock moves by it (the work the delay let finish
        first does so on the emulator's time too). Delays played at once add up, as a
        FakeClock's concurrent sleeps do."""
        with self._lock:
            frozen_at, offset = self._clock
            if frozen_at is not None:
                self._clock = (frozen_at, offset + seconds)

    def _freeze(self, frozen: bool) -> None:
        """Called with the lock held. Either way the clock goes on from where it stands."""
        frozen_at, offset = self._clock
        if frozen and frozen_at is None:
            self._clock = (time.monotonic(), offset)
        elif not frozen and frozen_at is not None:
            self._clock = (None, offset + frozen_at + _FROZEN_READ_AFTER - time.monotonic())

    def seed_operations(self, seeds: list[Any]) -> list[OperationRecord]:
        """All or nothing: every seed is checked before any is stored."""
        now = self.now()
        records = [operation_from_seed(seed, now) for seed in seeds]
        with self._lock:
            for op in records:
                self._store_operation(op)
        return records

    def seed_operation(self, seed: Any) -> dict[str, Any]:
        (op,) = self.seed_operations([seed])
        return op.to_json(self.now())

    def seed_batch(self, seed: Any) -> dict[str, Any]:
        batch = batch_from_seed(seed, self.now())
        with self._lock:
            self._store_operation(batch.operation)
            self._batches.pop(batch.name, None)
            batch.seq = next(self._seq)
            self._batches[batch.name] = batch
        return batch.to_json(self.now())

    def seed_jobs(self, seeds: list[Any]) -> list[JobRecord]:
        """All or nothing, like operations; re-seeding a name replaces it."""
        now = self.now()
        records = [job_from_seed(seed, now) for seed in seeds]
        with self._lock:
            for job in records:
                self._jobs.pop(job.name, None)
                job.seq = next(self._seq)
                self._jobs[job.name] = job
                cluster = self._clusters.get(
                    f"projects/{job.project}/regions/{job.region}/clusters/{job.cluster_name}"
                )
                if cluster is not None and not job.cluster_uuid_seeded:
                    job.cluster_uuid = cluster.uid
        return records

    def seed_job(self, seed: Any) -> dict[str, Any]:
        (job,) = self.seed_jobs([seed])
        return job.to_json(self.now())

    def seed_sessions(self, seeds: list[Any]) -> list[SessionRecord]:
        now = self.now()
        records = [session_from_seed(seed, now) for seed in seeds]
        with self._lock:
            for session in records:
                self._sessions.pop(session.name, None)
                session.seq = next(self._seq)
                self._sessions[session.name] = session
        return records

    def seed_session(self, seed: Any) -> dict[str, Any]:
        (session,) = self.seed_sessions([seed])
        return session.to_json(self.now())

    def seed_clusters(self, seeds: list[Any]) -> list[ClusterRecord]:
        """All or nothing; re-seeding a name replaces it (and forgets its requestIds).
        Jobs seeded on the cluster's name without a clusterUuid take the cluster's, as
        Dataproc fills it in from the cluster a job is submitted to."""
        now = self.now()
        records = [cluster_from_seed(seed, now) for seed in seeds]
        with self._lock:
            for cluster in records:
                self._clusters.pop(cluster.name, None)
                cluster.seq = next(self._seq)
                self._clusters[cluster.name] = cluster
                for key in [k for k in self._cluster_requests if k[0] == cluster.name]:
                    del self._cluster_requests[key]
                if cluster.blocking is not None:
                    self._store_operation(cluster.blocking)
                for job in self._jobs.values():
                    place = (job.project, job.region, job.cluster_name)
                    if not job.cluster_uuid_seeded and place == cluster.place:
                        job.cluster_uuid = cluster.uid
        return records

    def seed_cluster(self, seed: Any) -> dict[str, Any]:
        (cluster,) = self.seed_clusters([seed])
        return cluster.to_json(self.now())

    def cluster_internals(self, name: str) -> dict[str, Any]:
        """Internal state, also once a delete has made the cluster 404 to the real API."""
        with self._lock:
            cluster = self._clusters.get(name)
            if cluster is None:
                raise not_found(f"no cluster {name} was seeded")
            now = self.now()
            requests = [
                {"method": method, "requestId": request_id, "operation": op.name}
                for (owner, method, request_id), op in self._cluster_requests.items()
                if owner == name
            ]
            blocking = cluster.blocking
            return {
                "cluster": cluster.to_json(now),
                "deleted": cluster.gone(now),
                "operations": [op.name for op in cluster.operations],
                "blockingOperation": None if blocking is None else blocking.name,
                "requests": requests,
                "gracefulTerminationSeconds": cluster.graceful_seconds,
                "seq": cluster.seq,
            }

    def operation_internals(self, name: str) -> dict[str, Any]:
        with self._lock:
            op = self._operations.get(name)
            if op is None:
                raise not_found(f"no operation {name} was seeded")
            now = self.now()
            return {
                "operation": op.to_json(now),
                "kind": op.kind,
                "listState": op.list_state(now),
                "onCancel": op.on_cancel,
                "cancelRequestTime": _time_or_none(op.cancel_requested),
                "seq": op.seq,
            }

    def job_internals(self, name: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(name)
            if job is None:
                raise not_found(f"no job {name} was seeded")
            return {
                "job": job.to_json(self.now()),
                "onCancel": job.on_cancel,
                "cancelRequestTime": _time_or_none(job.cancel_requested),
                "seq": job.seq,
            }

    def session_internals(self, name: str) -> dict[str, Any]:
        with self._lock:
            session = self._sessions.get(name)
            if session is None:
                raise not_found(f"no session {name} was seeded")
            op = session.terminate_operation
            return {
                "session": session.to_json(self.now()),
                "onTerminate": session.on_terminate,
                "terminateRequestTime": _time_or_none(session.terminate_requested),
                "terminateOperation": None if op is None else op.name,
                "requestId": session.request_id,
                "seq": session.seq,
            }

    def seed_organisation(self, description: Any) -> dict[str, Any]:
        """Replace the organisation description (dataproc_emulator/organisation.py)."""
        organisation = organisation_from_description(description)
        with self._lock:
            self._organisation, self._description = organisation, description
        return {
            "folders": len(organisation.folders),
            "projects": len(organisation.projects),
            "budgets": len(organisation.budgets),
        }

    def organisation_description(self) -> dict[str, Any]:
        with self._lock:
            return self._description

    @property
    def organisation(self) -> Organisation:
        """Immutable, so callers may read it after the lock is released."""
        with self._lock:
            return self._organisation

    def freeze_assets(self) -> dict[str, Any]:
        """Cloud Asset answers from the work as it is now until ``release_assets``."""
        with self._lock:
            self._asset_snapshot = self._work(self.now())
            return {"frozen": True, "work": len(self._asset_snapshot)}

    def release_assets(self) -> dict[str, Any]:
        with self._lock:
            self._asset_snapshot = None
            return {"frozen": False}

    def add_fault(self, seed: Any) -> Fault:
        fault = fault_from_seed(seed)
        with self._lock:
            self._faults.append(fault)
        return fault

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """The log and the counts; not the quota's memory of the last minute, which is
        the simulated server's state rather than an observation of it."""
        with self._lock:
            self._log.clear()
            self._meter.clear_counts()

    def request_counts(self) -> dict[str, Any]:
        with self._lock:
            return self._meter.to_json()

    def update_settings(self, body: Any) -> dict[str, Any]:
        with self._lock:
            self.settings = settings_from_update(self.settings, body)
            return self.settings.to_json()

    # ---- the real API -------------------------------------------------------------

    def begin_request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | list[str]],
        authorized: bool,
        body: str,
        api_method: str = "unknown",
        consumer: str | None = None,
    ) -> Admission:
        """Log and count a real-API request; check its quota, then take the first fault
        that applies to it, if any (a request over quota never reaches a fault).
        ``consumer``: the quota project the request names (X-Goog-User-Project)."""
        with self._lock:
            location = location_of(path) if api_method != "unknown" else None
            refusal = self._meter.admit(
                api_method, location, self.now(), self.settings.quota_per_minute, consumer
            )
            fault = None
            if refusal is None:
                fault = next((f for f in self._faults if f.matches(method, path)), None)
                if fault is not None:
                    fault.consume()
            self._log.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "hasAuthorization": authorized,
                    "body": body,
                    "time": time.time(),
                    "apiMethod": api_method,
                    "fault": None if fault is None else fault.id,
                    "quotaExceeded": refusal is not None,
                }
            )
            return Admission(fault, refusal)

    def get_operation(self, name: str) -> dict[str, Any]:
        with self._lock:
            return self._readable(name, "get").to_json(self.now())

    def cancel_operation(self, name: str) -> dict[str, Any]:
        """Best effort and asynchronous, like Dataproc: the cancel only *starts* here."""
        with self._lock:
            op = self._readable(name, "cancel")
            if op.on_cancel == "forbidden":
                raise denied("dataproc.operations.cancel", name)
            if op.on_cancel == "not_found":
                raise _missing(name)
            if op.on_cancel == "unimplemented":
                raise ApiError(501, "Operation cancellation is not implemented for this resource.")
            now = self.now()
            if op.outcome(now) is not None:
                if op.cancel_when_done == "silent":
                    return {}
                raise ApiError(400, f"Operation {name} is already done.", "FAILED_PRECONDITION")
            if op.on_cancel in ("cancel", "error") and op.cancel_requested is None:
                op.cancel_requested = now
            return {}

    def delete_operation(self, name: str) -> dict[str, Any]:
        """Forgets the record only; a batch that owns it keeps its (running) operation."""
        with self._lock:
            self._readable(name, "delete")
            del self._operations[name]
            return {}

    def list_operations(self, collection: str, query: dict[str, str]) -> dict[str, Any]:
        now = self.now()
        language: FilterLanguage[OperationRecord] = FilterLanguage(
            {
                "status.state": lambda op: op.list_state(now),
                "clusterName": lambda op: op.metadata_json(now).get("clusterName"),
                "operationType": lambda op: op.metadata_json(now).get("operationType"),
            },
            labels=lambda op: op.metadata.get("labels", {}),
        )
        prefix = collection + "/"
        size = page_size(query.get("pageSize"), OPERATIONS_PAGE_SIZE)
        with self._lock:
            # The real server's handling of this filter is unconfirmed; ignoreFilter lets
            # tests prove that clients filter again on their side.
            text = "" if self.settings.ignore_filter else query.get("filter", "")
            text = legacy_operations_filter(text)
            keep = language.compile(text)
            items = [
                op for op in self._operations.values() if op.name.startswith(prefix) and keep(op)
            ]
            chunk, token = paginate(items, lambda op: (op.seq,), size, query.get("pageToken"))
            return page("operations", [op.to_json(now) for op in chunk], token)

    def get_batch(self, name: str, numeric_enums: bool) -> dict[str, Any]:
        with self._lock:
            batch = self._batches.get(name)
            if batch is None:
                raise not_found(f"Batch not found: {name}")
            return _render(batch, self.now(), numeric_enums)

    def list_batches(
        self, parent: str, query: dict[str, str], numeric_enums: bool
    ) -> dict[str, Any]:
        now = self.now()
        language: FilterLanguage[BatchRecord] = FilterLanguage(
            {
                "batch_id": lambda batch: batch.batch_id,
                "batch_uuid": lambda batch: batch.uid,
                "state": lambda batch: batch.state(now)[0],
                "create_time": lambda batch: timestamp(batch.operation.created),
            },
            labels=lambda batch: batch.labels,
            conjunction="AND|and",  # the ListBatchesRequest docs' own example uses "and"
            timestamps=frozenset({"create_time"}),
        )
        descending = newest_first(query)
        keep = language.compile(query.get("filter", ""))
        size = page_size(query.get("pageSize"), BATCHES_PAGE_SIZE)
        prefix = parent + "/batches/"
        with self._lock:
            items = [b for b in self._batches.values() if b.name.startswith(prefix) and keep(b)]
            chunk, token = by_create_time(
                items, lambda b: (b.operation.created, b.seq), size, query, descending
            )
            return page("batches", [_render(b, now, numeric_enums) for b in chunk], token)

    def get_job(self, name: str, numeric_enums: bool) -> dict[str, Any]:
        with self._lock:
            job = self._readable_job(name, "get")
            return _numbered(job.to_json(self.now()), jobs.enums_as_numbers, numeric_enums)

    def cancel_job(self, name: str, numeric_enums: bool) -> dict[str, Any]:
        """Starts the cancel and answers the job as the cancel left it: CANCEL_PENDING,
        even when the script finishes it in zero seconds."""
        with self._lock:
            job = self._readable_job(name, "cancel")
            if job.on_cancel == "forbidden":
                raise denied("dataproc.jobs.cancel", name)
            now = self.now()
            job.cancel(now)
            body = job.to_json(now, upto="CANCEL_PENDING")
            return _numbered(body, jobs.enums_as_numbers, numeric_enums)

    def list_jobs(self, parent: str, query: dict[str, str], numeric_enums: bool) -> dict[str, Any]:
        now = self.now()
        keep = jobs.list_filter(query, now)
        size = page_size(query.get("pageSize"), JOBS_PAGE_SIZE)
        prefix = parent + "/jobs/"
        with self._lock:
            items = [j for j in self._jobs.values() if j.name.startswith(prefix) and keep(j)]
            chunk, token = paginate(items, lambda j: (j.seq,), size, query.get("pageToken"))
            rendered = [
                _numbered(j.to_json(now), jobs.enums_as_numbers, numeric_enums) for j in chunk
            ]
            return page("jobs", rendered, token)

    def get_session(self, name: str, numeric_enums: bool) -> dict[str, Any]:
        with self._lock:
            session = self._readable_session(name, "get")
            body = session.to_json(self.now())
            return _numbered(body, sessions.enums_as_numbers, numeric_enums)

    def terminate_session(
        self, name: str, request_id: str | None, numeric_enums: bool
    ) -> dict[str, Any]:
        """Answers the terminate operation as it was accepted (not yet done, even for a
        zero-second script); a repeated requestId answers the same operation as it is."""
        with self._lock:
            session = self._readable_session(name, "terminate")
            if session.on_terminate == "forbidden":
                raise denied("dataproc.sessions.terminate", name)
            now = self.now()
            _, project, _, location, *_ = name.split("/")
            op_name = f"projects/{project}/regions/{location}/operations/{new_uuid()}"
            op, started = session.terminate(now, request_id, op_name)
            if started:
                self._store_operation(op)
            body = op.to_json(math.nextafter(op.created, -math.inf) if started else now)
            return _numbered(body, sessions.operation_enums_as_numbers, numeric_enums)

    def list_sessions(
        self, parent: str, query: dict[str, str], numeric_enums: bool
    ) -> dict[str, Any]:
        now = self.now()
        descending = newest_first(query)
        keep = sessions.filter_language(now).compile(query.get("filter", ""))
        size = page_size(query.get("pageSize"), SESSIONS_PAGE_SIZE)
        prefix = parent + "/sessions/"
        with self._lock:
            items = [s for s in self._sessions.values() if s.name.startswith(prefix) and keep(s)]
            chunk, token = by_create_time(
                items, lambda s: (s.created, s.seq), size, query, descending
            )
            rendered = [
                _numbered(s.to_json(now), sessions.enums_as_numbers, numeric_enums) for s in chunk
            ]
            return page("sessions", rendered, token)

    def get_cluster(self, name: str, numeric_enums: bool) -> dict[str, Any]:
        with self._lock:
            now = self.now()
            cluster = self._readable_cluster(name, "get", now)
            return _numbered(cluster.to_json(now), clusters.enums_as_numbers, numeric_enums)

    def list_clusters(
        self, parent: str, query: dict[str, str], numeric_enums: bool
    ) -> dict[str, Any]:
        """Alphabetically by name, as ListClusters documents; a deleted cluster is gone."""
        now = self.now()
        keep = clusters.filter_language(now).compile(query.get("filter", ""))
        size = page_size(query.get("pageSize"), CLUSTERS_PAGE_SIZE)
        prefix = parent + "/clusters/"
        with self._lock:
            items = sorted(
                (
                    c
                    for c in self._clusters.values()
                    if c.name.startswith(prefix) and not c.gone(now) and keep(c)
                ),
                key=lambda c: c.cluster_name,
            )
            chunk, token = paginate(
                items, lambda c: (c.cluster_name,), size, query.get("pageToken")
            )
            rendered = [
                _numbered(c.to_json(now), clusters.enums_as_numbers, numeric_enums) for c in chunk
            ]
            return page("clusters", rendered, token)

    def cluster_action(
        self, name: str, action: str, request: clusters.Request, numeric_enums: bool
    ) -> dict[str, Any]:
        """StopCluster, StartCluster or DeleteCluster: the operation as it was accepted
        (not yet done, even for a zero-second script); a repeated requestId answers the
        first request's operation as it is now, and does nothing again. A stop or a
        delete ends the cluster's unfinished jobs in ERROR (a delete's after its
        gracefulTerminationTimeout)."""
        with self._lock:
            now = self.now()
            cluster = self._clusters.get(name)
            if cluster is not None and cluster.gone(now):
                cluster = None
            if cluster is not None and (cluster.get_forbidden or action in cluster.forbidden):
                raise denied(f"dataproc.clusters.{action}", name)
            if request.request_id is not None:
                earlier = self._cluster_requests.get((name, action, request.request_id))
                if earlier is not None:
                    body = earlier.to_json(now)
                    return _numbered(body, clusters.operation_enums_as_numbers, numeric_enums)
            if cluster is None or request.cluster_uuid not in (None, cluster.uid):
                # The same words whether the name or only the uuid is unknown (assumed).
                raise _missing_cluster(name)
            cluster.check(action, now)
            op_name = f"projects/{cluster.project}/regions/{cluster.region}/operations/{new_uuid()}"
            op = cluster.act(action, now, request, op_name)
            self._store_operation(op)
            if request.request_id is not None:
                self._cluster_requests[(name, action, request.request_id)] = op
            if action in ("stop", "delete"):
                what = "stopped" if action == "stop" else "deleted"
                details = _CLUSTER_ENDED_JOB.format(cluster=cluster.cluster_name, what=what)
                at = now + request.graceful_seconds
                for job in self._jobs.values():
                    if job.runs_on(*cluster.place, cluster.uid):
                        job.end_with_cluster(now, at, details)
            body = op.to_json(math.nextafter(op.created, -math.inf))
            return _numbered(body, clusters.operation_enums_as_numbers, numeric_enums)

    def search_assets(
        self, scope: str, query: dict[str, str], asset_types: list[str]
    ) -> dict[str, Any]:
        """Cloud Asset's searchAllResources over the work now, or over the frozen
        snapshot (dataproc_emulator/assets.py)."""
        request = assets.parse_search(scope, query, asset_types)
        with self._lock:
            organisation = self._organisation
            work = self._asset_snapshot
            if work is None:
                work = self._work(self.now())
        return assets.search(organisation, work, request)

    # ---- helpers ----------------------------------------------------------------

    def _work(self, now: float) -> list[assets.Work]:
        return assets.work_in(
            self._clusters.values(),
            self._jobs.values(),
            self._batches.values(),
            self._sessions.values(),
            now,
        )

    def _store_operation(self, op: OperationRecord) -> None:
        # Re-seeding a name replaces it and moves it to the end of the list order.
        self._operations.pop(op.name, None)
        op.seq = next(self._seq)
        self._operations[op.name] = op

    def _readable(self, name: str, verb: str) -> OperationRecord:
        op = self._operations.get(name)
        if op is None:
            raise _missing(name)
        if op.get_forbidden:
            raise denied(f"dataproc.operations.{verb}", name)
        return op

    def _readable_job(self, name: str, verb: str) -> JobRecord:
        job = self._jobs.get(name)
        if job is None:
            raise not_found(f"Not found: Job {name}")  # assumed wording
        if job.get_forbidden:
            raise denied(f"dataproc.jobs.{verb}", name)
        return job

    def _readable_cluster(self, name: str, verb: str, now: float) -> ClusterRecord:
        cluster = self._clusters.get(name)
        if cluster is None or cluster.gone(now):
            raise _missing_cluster(name)
        if cluster.get_forbidden:
            raise denied(f"dataproc.clusters.{verb}", name)
        return cluster

    def _readable_session(self, name: str, verb: str) -> SessionRecord:
        session = self._sessions.get(name)
        if session is None:
            raise not_found(f"Not found: Session {name}")  # assumed wording
        if session.get_forbidden:
            raise denied(f"dataproc.sessions.{verb}", name)
        return session


def _render(batch: BatchRecord, now: float, numeric_enums: bool) -> dict[str, Any]:
    body = batch.to_json(now)
    return batch_enums_as_numbers(body) if numeric_enums else body


def _missing(name: str) -> ApiError:
    return not_found(f"Operation not found: {name}")


def _missing_cluster(name: str) -> ApiError:
    # The wording Dataproc answers for an unknown cluster: "Not found: Cluster NAME".
    return not_found(f"Not found: Cluster {name}")


def _numbered(
    body: dict[str, Any], convert: Callable[[dict[str, Any]], dict[str, Any]], numeric: bool
) -> dict[str, Any]:
    return convert(body) if numeric else body


def _time_or_none(mono: float | None) -> str | None:
    return None if mono is None else timestamp(mono)
