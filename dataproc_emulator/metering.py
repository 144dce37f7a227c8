"""Request counts, per-minute peaks, Dataproc's per-minute quotas and Cloud Asset's.

Dataproc's API quotas are per project, per region and per minute, in four buckets
that matter here: GetJob, job operations (CancelJob, also SubmitJob, UpdateJob and
DeleteJob), cluster operations (StopCluster, StartCluster and DeleteCluster, also
create, update, diagnose and repair: 200 a minute by default) and everything else. A
canceller that sweeps thousands of jobs must stay under them, so the benchmark reads
the peaks off this meter and tests can make the emulator refuse with 429 as Dataproc
does.

Windows slide over the emulator's clock: a request counts in the 60 seconds after it
arrives. Keeping each window as a deque of arrival times makes every update O(1)
amortised and the peak exact (the busiest window always ends at some request).

The other APIs the emulator serves (Billing Budgets, Cloud Billing, Resource Manager,
Cloud Asset; their methods are named by discovery id, "cloudasset.searchAllResources")
are counted in the total, byMethod, byApi and the "all" peak, never in Dataproc's
buckets. Cloud Asset's searches have a bucket of their own, ``cloudAsset``, limited per
consumer project (the request's X-Goog-User-Project, else one consumer for every caller)
rather than per project and region: Google documents 400 a minute per consumer (and
1,500 per organisation, not emulated). Like Dataproc's, it is unlimited until set
(``quotaPerMinute {"cloudAsset": 400}``), so a run that never asks for quotas gets none.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from typing import Any

from .errors import ApiError

WINDOW_SECONDS = 60.0
BUCKETS = ("default", "getJob", "jobOperation", "clusterOperation", "cloudAsset")
ASSET_SEARCHES_PER_MINUTE = 400  # Cloud Asset's documented limit per consumer project
OTHER_APIS = frozenset({"billingbudgets", "cloudbilling", "cloudresourcemanager", "cloudasset"})
_ANY_CONSUMER = "the caller's project"
# Counts show these always and the newer clusterOperation once a request used it, so
# the answer's shape stays what it was for clients that never touch clusters.
_ALWAYS_SHOWN = ("default", "getJob", "jobOperation")
_BUCKET_BY_METHOD = {
    "jobs.get": "getJob",
    "jobs.cancel": "jobOperation",
    "clusters.stop": "clusterOperation",
    "clusters.start": "clusterOperation",
    "clusters.delete": "clusterOperation",
    "cloudasset.searchAllResources": "cloudAsset",
}
_LOCATION = re.compile(r"/v1/projects/([^/]+)/(?:regions|locations)/([^/:]+)")

# (limit name as Google publishes it, quota metric, its display name). The limit names
# are Dataproc's documented quota names; the metric ids and display names follow the
# pattern of other services' quota errors and are assumed.
_QUOTAS = {
    "default": (
        "DefaultRequestsPerMinutePerProjectPerRegion",
        "dataproc.googleapis.com/default_requests",
        "Default requests",
    ),
    "getJob": (
        "GetJobRequestsPerMinutePerProjectPerRegion",
        "dataproc.googleapis.com/get_job_requests",
        "GetJob requests",
    ),
    "jobOperation": (
        "JobOperationRequestsPerMinutePerProjectPerRegion",
        "dataproc.googleapis.com/job_operation_requests",
        "Job operation requests",
    ),
    "clusterOperation": (
        "ClusterOperationRequestsPerMinutePerProjectPerRegion",
        "dataproc.googleapis.com/cluster_operation_requests",
        "Cluster operation requests",
    ),
}


def location_of(path: str) -> tuple[str, str] | None:
    """(project, region) of a real-API path; Dataproc's locations are its regions."""
    match = _LOCATION.match(path)
    return None if match is None else (match[1], match[2])


def api_of(api_method: str) -> str:
    """ "dataproc", or the other API a method id names ("cloudasset", ...)."""
    prefix = api_method.split(".", 1)[0]
    return prefix if prefix in OTHER_APIS else "dataproc"


def bucket_of(api_method: str) -> str | None:
    """The quota bucket; None for the other APIs' methods that have none here."""
    if api_method in _BUCKET_BY_METHOD:
        return _BUCKET_BY_METHOD[api_method]
    return None if api_of(api_method) != "dataproc" else "default"


class _Window:
    """Arrival times within the last minute."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def size(self, now: float) -> int:
        while self._times and self._times[0] <= now - WINDOW_SECONDS:
            self._times.popleft()
        return len(self._times)

    def add(self, now: float) -> int:
        size = self.size(now) + 1
        self._times.append(now)
        return size


class Meter:
    """Counts every real-API request; not thread-safe (the state's lock guards it)."""

    def __init__(self) -> None:
        self.clear_counts()
        self._usage: dict[tuple[str, str, str], _Window] = {}

    def clear_counts(self) -> None:
        """What tests observe; the quota's memory of recent usage is kept."""
        self._total = 0
        self._rejected = 0
        self._methods: Counter[str] = Counter()
        self._apis: Counter[str] = Counter()
        self._buckets: Counter[str] = Counter()
        self._locations: Counter[str] = Counter()
        self._windows = {key: _Window() for key in ("all", *BUCKETS)}
        self._peaks = dict.fromkeys(self._windows, 0)

    def clear(self) -> None:
        self.clear_counts()
        self._usage.clear()

    def admit(
        self,
        api_method: str,
        location: tuple[str, str] | None,
        now: float,
        quota: dict[str, int],
        consumer: str | None = None,
    ) -> ApiError | None:
        """Count one request; answer the quota error if its bucket is used up.

        A refused request is counted like any other (it reached Google) but does not
        use quota, as a request Google refuses for quota does not.
        """
        bucket = bucket_of(api_method)
        self._total += 1
        self._methods[api_method] += 1
        self._apis[api_of(api_method)] += 1
        counted = ("all",) if bucket is None else ("all", bucket)
        if bucket is not None:
            self._buckets[bucket] += 1
        for key in counted:
            self._peaks[key] = max(self._peaks[key], self._windows[key].add(now))
        if bucket == "cloudAsset":
            where = ("consumer", consumer or _ANY_CONSUMER)
        elif bucket is None or location is None:
            # Another API's method without a quota here, or a path no method serves
            # (Google answers 404, using no quota).
            return None
        else:
            where = location
            self._locations[f"projects/{location[0]}/regions/{location[1]}"] += 1
        usage = self._usage.setdefault((*where, bucket), _Window())
        limit = quota.get(bucket)
        if limit is not None and usage.size(now) >= limit:
            self._rejected += 1
            if bucket == "cloudAsset":
                return asset_quota_exceeded(limit, where[1])
            return quota_exceeded(bucket, limit, *where)
        usage.add(now)
        return None

    def to_json(self) -> dict[str, Any]:
        shown = [b for b in BUCKETS if b in _ALWAYS_SHOWN or self._buckets[b]]
        return {
            "total": self._total,
            "byMethod": dict(sorted(self._methods.items())),
            "byBucket": {bucket: self._buckets[bucket] for bucket in shown},
            "byLocation": dict(sorted(self._locations.items())),
            **(
                {"byApi": dict(sorted(self._apis.items()))}
                if set(self._apis) - {"dataproc"}
                else {}
            ),
            "peakPerMinute": {key: self._peaks[key] for key in ("all", *shown)},
            "rejectedByQuota": self._rejected,
        }


def asset_quota_exceeded(limit: int, consumer: str) -> ApiError:
    """The 429 for Cloud Asset's per-consumer limit; the metric and limit names follow
    the pattern of Google's quota errors and are assumed."""
    message = (
        "Quota exceeded for quota metric 'Search requests' and limit 'Search requests per "
        f"minute per consumer' of service 'cloudasset.googleapis.com' for consumer '{consumer}'."
    )
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {
            "consumer": consumer,
            "quota_limit": "SearchRequestsPerMinutePerConsumer",
            "quota_limit_value": str(limit),
            "quota_metric": "cloudasset.googleapis.com/search_requests",
            "service": "cloudasset.googleapis.com",
        },
    }
    return ApiError(429, message, "RESOURCE_EXHAUSTED", details=[info])


def quota_exceeded(bucket: str, limit: int, project: str, region: str) -> ApiError:
    """The 429 Google's front end sends for a rate quota: message, ErrorInfo and Help.

    The emulator knows no project numbers, so the project id stands in for one.
    """
    limit_name, metric, display = _QUOTAS[bucket]
    message = (
        f"Quota exceeded for quota metric '{display}' and limit '{limit_name}' of service "
        f"'dataproc.googleapis.com' for consumer 'project_number:{project}'."
    )
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "consumer": f"projects/{project}",
                "quota_limit": limit_name,
                "quota_limit_value": str(limit),
                "quota_location": region,
                "quota_metric": metric,
                "service": "dataproc.googleapis.com",
            },
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Request a higher quota limit.",
                    "url": "https://cloud.google.com/docs/quotas/help/request_increase",
                }
            ],
        },
    ]
    return ApiError(429, message, "RESOURCE_EXHAUSTED", details=details)
