"""Turning admin-API seed JSON into records, strictly.

Seeds are written by hand in tests; a typo'd key silently ignored would make a test
pass for the wrong reason, so unknown keys and bad values are a 400 that names them.
"""

from __future__ import annotations

import re
from typing import Any

from . import clusters, jobs, sessions, usage
from .clusters import ClusterRecord
from .errors import invalid
from .jobs import JobRecord
from .records import KINDS, TYPE_PREFIX, BatchRecord, OperationRecord, new_uuid, timestamp
from .sessions import SessionRecord
from .usage import DEFAULT_BATCH_USAGE, DEFAULT_SESSION_USAGE, Usage

OPERATION_NAME = re.compile(r"projects/[^/]+/regions/[^/]+/operations/[^/:]+")
BATCH_NAME = re.compile(r"projects/([^/]+)/locations/([^/]+)/batches/[^/:]+")
ON_CANCEL = frozenset({"cancel", "ignore", "error", "unimplemented", "forbidden", "not_found"})
BATCH_STATES = frozenset({"PENDING", "RUNNING", "CANCELLING", "CANCELLED", "SUCCEEDED", "FAILED"})

_OPERATION_KEYS = frozenset(
    {
        "name",
        "kind",
        "metadata",
        "state",
        "done",
        "result",
        "completesAfterSeconds",
        "completion",
        "onCancel",
        "cancelSeconds",
        "cancelError",
        "getForbidden",
        "cancelWhenDone",
    }
)
_WHEN_DONE = frozenset({"failed_precondition", "silent"})
_BATCH_KEYS = frozenset({"name", "operation", "labels", "state", "usage", "ttl", "runtimeVersion"})
# What a batch or session uses (runtimeInfo.currentUsage): UsageSnapshot's counts.
_USAGE_KEYS = frozenset({*usage.COUNTS, "acceleratorType"})
# ExecutionConfig.ttl and idleTtl, LifecycleConfig's auto ttls: 10 minutes to 14 days;
# its idle ttls: 5 minutes to 14 days.
_TEN_MINUTES, _FIVE_MINUTES, _FOURTEEN_DAYS = 600.0, 300.0, 14 * 86400.0
# RuntimeConfig.version: a Serverless runtime, "2.2" or a full one, "1.1.50".
_RUNTIME_VERSION = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}(?:\.[0-9]{1,4})?")
# JobReference.jobId: letters, digits, underscores and hyphens, at most 100.
JOB_NAME = re.compile(r"projects/([^/]+)/regions/([^/]+)/jobs/([A-Za-z0-9_-]{1,100})")
SESSION_NAME = re.compile(r"projects/[^/]+/locations/[^/]+/sessions/[^/:]+")
_JOB_KEYS = frozenset(
    {
        "name",
        "state",
        "labels",
        "clusterName",
        "clusterUuid",
        "jobUuid",
        "submittedSecondsAgo",
        "setupSeconds",
        "completesAfterSeconds",
        "completion",
        "details",
        "onCancel",
        "cancelSeconds",
        "getForbidden",
    }
)
_UNFINISHED_JOB_STATES = frozenset({"PENDING", "SETUP_DONE", "RUNNING", "ATTEMPT_FAILURE"})
_SESSION_KEYS = frozenset(
    {
        "name",
        "uuid",
        "state",
        "stateMessage",
        "labels",
        "createdSecondsAgo",
        "terminateSeconds",
        "onTerminate",
        "getForbidden",
        "usage",
        "ttl",
        "idleTtl",
        "runtimeVersion",
    }
)


# Dataproc's cluster name rule: a lowercase letter, then lowercase letters, digits and
# hyphens, no trailing hyphen, at most 51 characters.
CLUSTER_NAME = re.compile(
    r"projects/([^/]+)/regions/([^/]+)/clusters/([a-z](?:[-a-z0-9]{0,49}[a-z0-9])?)"
)
_GROUP_SEEDS = {
    "masterConfig": ("masterInstances", "masterMachineType", 1),
    "workerConfig": ("workerInstances", "workerMachineType", 2),
    "secondaryWorkerConfig": ("secondaryWorkerInstances", "secondaryWorkerMachineType", 0),
}
_SHAPE_KEYS = frozenset(
    {key for count, machine, _ in _GROUP_SEEDS.values() for key in (count, machine)}
    | {"localSsds", "flexibleVms", "secondaryWorkerPreemptibility", "lifecycle"}
)
_PREEMPTIBILITIES = frozenset({"PREEMPTIBLE", "SPOT", "NON_PREEMPTIBLE"})
# The lifecycle seed: LifecycleConfig's ttls as given, its times relative to seeding.
_LIFECYCLE_KEYS = frozenset(
    {
        "idleDeleteTtl",
        "autoDeleteTtl",
        "idleStopTtl",
        "autoStopTtl",
        "autoDeleteInSeconds",
        "autoStopInSeconds",
        "idleSinceSecondsAgo",
    }
)
_CLUSTER_KEYS = _SHAPE_KEYS | {
    "name",
    "state",
    "clusterUuid",
    "labels",
    "detail",
    "substate",
    "config",
    "gke",
    "stopSeconds",
    "startSeconds",
    "deleteSeconds",
    "runningAfterSeconds",
    "runningSecondsAgo",
    "createdSecondsAgo",
    "blockingOperation",
    "blockingOperationSeconds",
    "refusalStatus",
    "getForbidden",
    "forbidden",
}
# Cluster.labels holds at most 32, and Dataproc adds three of its own.
_MAX_CLUSTER_LABELS = 32 - 3


def operation_from_seed(seed: Any, now: float, default_name: str | None = None) -> OperationRecord:
    seed = json_object(seed, "operation seed", _OPERATION_KEYS)
    name = seed.get("name", default_name)
    if not isinstance(name, str) or not OPERATION_NAME.fullmatch(name):
        raise invalid(f"seed name {name!r} is not projects/P/regions/R/operations/ID")
    kind = _choice(seed, "kind", KINDS, "batch")
    op = OperationRecord(
        name=name,
        kind=kind,
        created=now,
        metadata=json_object(seed.get("metadata", {}), "metadata"),
        pending=_choice(seed, "state", frozenset({"ACTIVE", "PENDING"}), "ACTIVE") == "PENDING",
        completes_after=_number(seed, "completesAfterSeconds", None),
        completion=_result(seed.get("completion"), "completion"),
        on_cancel=_choice(seed, "onCancel", ON_CANCEL, "cancel"),
        cancel_seconds=_number(seed, "cancelSeconds", 0.0) or 0.0,
        get_forbidden=_flag(seed, "getForbidden"),
        cancel_when_done=_choice(seed, "cancelWhenDone", _WHEN_DONE, "failed_precondition"),
    )
    if "cancelError" in seed:
        op.cancel_error = _status(seed["cancelError"], "cancelError")
    if _flag(seed, "done"):
        op.seeded_result = _result(seed.get("result"), "result") or {
            "response": op.default_response()
        }
    elif "result" in seed:
        raise invalid("result is only for done: true seeds; use completion for a future result")
    return op


def batch_from_seed(seed: Any, now: float) -> BatchRecord:
    seed = json_object(seed, "batch seed", _BATCH_KEYS)
    name = seed.get("name")
    match = BATCH_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise invalid(f"batch name {name!r} is not projects/P/locations/L/batches/B")
    labels = _labels(seed)
    op_seed = dict(json_object(seed.get("operation", {}), "operation", _OPERATION_KEYS))
    if op_seed.setdefault("kind", "batch") != "batch":
        raise invalid("a batch's operation has kind batch")
    # The link back to the batch wins over anything seeded; labels default to the batch's.
    op_seed["metadata"] = (
        ({"labels": labels} if labels else {})
        | json_object(op_seed.get("metadata", {}), "operation.metadata")
        | {"batch": name}
    )
    project, location = match.groups()
    default_op = f"projects/{project}/regions/{location}/operations/{new_uuid()}"
    op = operation_from_seed(op_seed, now, default_op)
    state = _choice(seed, "state", BATCH_STATES, None)
    return BatchRecord(
        name=name,
        operation=op,
        labels=labels,
        state_override=state,
        usage=_usage(seed, DEFAULT_BATCH_USAGE),
        ttl=_duration(seed, "ttl", None, _TEN_MINUTES),
        runtime_version=_runtime_version(seed),
    )


def job_from_seed(seed: Any, now: float) -> JobRecord:
    seed = json_object(seed, "job seed", _JOB_KEYS)
    name = seed.get("name")
    match = JOB_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise invalid(f"job name {name!r} is not projects/P/regions/R/jobs/ID")
    project, region, job_id = match.groups()
    setup = _number(seed, "setupSeconds", None)
    state = _choice(seed, "state", jobs.SEEDABLE_STATES, "SETUP_DONE" if setup else "RUNNING")
    completes_after = _number(seed, "completesAfterSeconds", None)
    if setup is not None and state not in ("SETUP_DONE", "RUNNING"):
        raise invalid("setupSeconds is for a job seeded in SETUP_DONE (or RUNNING)")
    if completes_after is not None and state not in _UNFINISHED_JOB_STATES:
        raise invalid(f"completesAfterSeconds is for an unfinished job, not {state}")
    if completes_after is not None and setup is not None and completes_after < setup:
        raise invalid("completesAfterSeconds must not be before setupSeconds ends")
    return JobRecord(
        project=project,
        region=region,
        job_id=job_id,
        seeded=now,
        submitted=now - (_number(seed, "submittedSecondsAgo", 0.0) or 0.0),
        initial="RUNNING" if setup is not None else state,
        setup_seconds=setup,
        completes_after=completes_after,
        completion=_choice(seed, "completion", frozenset({"DONE", "ERROR"}), "DONE"),
        details=_string(seed, "details"),
        on_cancel=_choice(seed, "onCancel", jobs.ON_CANCEL, "cancel"),
        cancel_seconds=_number(seed, "cancelSeconds", 0.0) or 0.0,
        get_forbidden=_flag(seed, "getForbidden"),
        cluster_name=_string(seed, "clusterName") or "emulator-cluster",
        cluster_uuid=_string(seed, "clusterUuid") or new_uuid(),
        cluster_uuid_seeded=bool(seed.get("clusterUuid")),
        job_uuid=_string(seed, "jobUuid") or new_uuid(),
        labels=_labels(seed),
    )


def session_from_seed(seed: Any, now: float) -> SessionRecord:
    seed = json_object(seed, "session seed", _SESSION_KEYS)
    name = seed.get("name")
    if not isinstance(name, str) or not SESSION_NAME.fullmatch(name):
        raise invalid(f"session name {name!r} is not projects/P/locations/L/sessions/S")
    return SessionRecord(
        name=name,
        created=now - (_number(seed, "createdSecondsAgo", 0.0) or 0.0),
        seeded=now,
        initial=_choice(seed, "state", sessions.SEEDABLE_STATES, "ACTIVE"),
        state_message=_string(seed, "stateMessage"),
        terminate_seconds=_number(seed, "terminateSeconds", 0.0) or 0.0,
        on_terminate=_choice(seed, "onTerminate", sessions.ON_TERMINATE, "terminate"),
        get_forbidden=_flag(seed, "getForbidden"),
        labels=_labels(seed),
        uid=_string(seed, "uuid") or new_uuid(),
        usage=_usage(seed, DEFAULT_SESSION_USAGE),
        ttl=_duration(seed, "ttl", "86400s", _TEN_MINUTES),
        idle_ttl=_duration(seed, "idleTtl", "3600s", _TEN_MINUTES),
        runtime_version=_runtime_version(seed),
    )


def cluster_from_seed(seed: Any, now: float) -> ClusterRecord:
    seed = json_object(seed, "cluster seed", _CLUSTER_KEYS)
    name = seed.get("name")
    match = CLUSTER_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise invalid(
            f"cluster name {name!r} is not projects/P/regions/R/clusters/N (N: a lowercase "
            "letter, then up to 50 lowercase letters, digits or hyphens, not ending in one)"
        )
    project, region, cluster_name = match.groups()
    state = _choice(seed, "state", clusters.STATES, "RUNNING")
    labels = _labels(seed)
    if len(labels) > _MAX_CLUSTER_LABELS:
        raise invalid(f"a cluster takes at most {_MAX_CLUSTER_LABELS} labels of its own")
    running_ago = _number(seed, "runningSecondsAgo", None)
    created_ago = _number(seed, "createdSecondsAgo", None)
    if running_ago is not None and "RUNNING" not in clusters.path(state):
        raise invalid(f"runningSecondsAgo is for a cluster that has been RUNNING, not {state}")
    if created_ago is not None and created_ago < (running_ago or 0.0):
        raise invalid("createdSecondsAgo must not be less than runningSecondsAgo")
    if "runningAfterSeconds" in seed and state not in clusters.SETTLING:
        raise invalid(
            f"runningAfterSeconds is for {sorted(clusters.SETTLING)} clusters, not {state}"
        )
    # How long a seeded state that passes lasts: its own seconds key, else for good.
    lasts_key = {"STOPPING": "stopSeconds", "STARTING": "startSeconds"}
    lasts_key |= {"DELETING": "deleteSeconds"} | dict.fromkeys(
        clusters.SETTLING, "runningAfterSeconds"
    )
    lasts = _number(seed, lasts_key[state], None) if state in lasts_key else None
    substate = _choice(seed, "substate", frozenset({"UNHEALTHY", "STALE_STATUS"}), None)
    if substate is not None and state != "RUNNING":
        raise invalid("substate is for a RUNNING cluster")
    forbidden = seed.get("forbidden", [])
    if not isinstance(forbidden, list) or set(forbidden) - set(clusters.ACTIONS):
        raise invalid(f"forbidden is a list of methods out of {list(clusters.ACTIONS)}")
    cluster = ClusterRecord(
        project=project,
        region=region,
        cluster_name=cluster_name,
        created=now - (created_ago if created_ago is not None else running_ago or 0.0),
        seeded=now,
        running_since=now - (running_ago or 0.0),
        initial=state,
        uid=_string(seed, "clusterUuid") or new_uuid(),
        labels=labels,
        detail=_string(seed, "detail"),
        substate=substate,
        stop_seconds=_number(seed, "stopSeconds", 0.0) or 0.0,
        start_seconds=_number(seed, "startSeconds", 0.0) or 0.0,
        delete_seconds=_number(seed, "deleteSeconds", 0.0) or 0.0,
        seeded_lasts=lasts,
        refusal_status=_choice(
            seed, "refusalStatus", clusters.REFUSAL_STATUSES, "FAILED_PRECONDITION"
        ),
        get_forbidden=_flag(seed, "getForbidden"),
        forbidden=frozenset(forbidden),
    )
    if state == "DELETING" and lasts is not None:
        cluster.gone_at = now + lasts
    _shape(cluster, seed)
    _blocking(cluster, seed, now)
    return cluster


def _shape(cluster: ClusterRecord, seed: dict[str, Any]) -> None:
    """The cluster's config: a raw ``config`` as given, ``gke`` (virtualClusterConfig
    instead), or built from the instance counts, machine types and disk options."""
    shaped = sorted(_SHAPE_KEYS & set(seed))
    if "config" in seed or _flag(seed, "gke"):
        if shaped or ("config" in seed and _flag(seed, "gke")):
            raise invalid(f"config and gke each stand alone; not with {shaped or ['gke']}")
        if "config" in seed:
            cluster.config = json_object(seed["config"], "config")
        else:
            cluster.virtual_config = clusters.virtual_config(
                cluster.project, cluster.region, cluster.cluster_name
            )
        return
    default_machine = (
        f"{clusters.COMPUTE}/projects/{cluster.project}/zones/{cluster.region}-b/"
        "machineTypes/n2-standard-4"
    )
    groups: dict[str, tuple[int, str]] = {}
    for key, (count_key, machine_key, default) in _GROUP_SEEDS.items():
        count = _count(seed, count_key, default)
        machine = _string(seed, machine_key) or default_machine
        groups[key] = (count, machine)
    if groups["masterConfig"][0] not in (1, 3):
        raise invalid("masterInstances is 1, or 3 for high availability")
    if groups["workerConfig"][0] == 1:
        raise invalid("workerInstances is 0 (a single-node cluster) or at least 2")
    local_ssds = _count(seed, "localSsds", 0)
    if local_ssds > 8:
        raise invalid("localSsds is 0 to 8 per instance")
    flexible = _flag(seed, "flexibleVms")
    if flexible and not groups["workerConfig"][0]:
        raise invalid("flexibleVms applies to the primary workers: seed some")
    preemptibility = _choice(seed, "secondaryWorkerPreemptibility", _PREEMPTIBILITIES, None)
    if preemptibility is not None and not groups["secondaryWorkerConfig"][0]:
        raise invalid("secondaryWorkerPreemptibility applies to secondary workers: seed some")
    cluster.config = clusters.build_config(
        cluster.project,
        cluster.region,
        cluster.cluster_name,
        groups,
        local_ssds,
        flexible,
        preemptibility or "PREEMPTIBLE",
        _lifecycle(seed, cluster),
    )


def _lifecycle(seed: dict[str, Any], cluster: ClusterRecord) -> dict[str, str] | None:
    """The cluster's lifecycleConfig: its ttls as seeded; autoDeleteTime and autoStopTime
    that many seconds after seeding, idleStartTime that many before."""
    if "lifecycle" not in seed:
        return None
    given = json_object(seed["lifecycle"], "lifecycle", _LIFECYCLE_KEYS)
    for time_key, ttl_key in (
        ("autoDeleteInSeconds", "autoDeleteTtl"),
        ("autoStopInSeconds", "autoStopTtl"),
    ):
        if time_key in given and ttl_key in given:
            raise invalid(
                f"lifecycle: {time_key} (its time) or {ttl_key}, not both: they are one "
                "of a oneof in LifecycleConfig"
            )
    seeded = cluster.seeded
    config: dict[str, str | None] = {
        "idleDeleteTtl": _duration(given, "idleDeleteTtl", None, _FIVE_MINUTES),
        "autoDeleteTime": _from_seeding(given, "autoDeleteInSeconds", seeded),
        "autoDeleteTtl": _duration(given, "autoDeleteTtl", None, _TEN_MINUTES),
        "idleStopTtl": _duration(given, "idleStopTtl", None, _FIVE_MINUTES),
        "autoStopTime": _from_seeding(given, "autoStopInSeconds", seeded),
        "autoStopTtl": _duration(given, "autoStopTtl", None, _TEN_MINUTES),
    }
    idle_ago = _number(given, "idleSinceSecondsAgo", None)
    if idle_ago is not None:
        if config["idleDeleteTtl"] is None and config["idleStopTtl"] is None:
            raise invalid("lifecycle.idleSinceSecondsAgo goes with idleDeleteTtl or idleStopTtl")
        if "RUNNING" not in clusters.path(cluster.initial) or seeded - idle_ago < (
            cluster.running_since
        ):
            raise invalid(
                "lifecycle.idleSinceSecondsAgo: a cluster is idle at the earliest once it "
                "is RUNNING (runningSecondsAgo)"
            )
        config["idleStartTime"] = timestamp(seeded - idle_ago)
    return {key: value for key, value in config.items() if value is not None}


def _from_seeding(given: dict[str, Any], key: str, seeded: float) -> str | None:
    """A time ``key`` seconds after seeding, more than 0 and at most 14 days."""
    seconds = _number(given, key, None)
    if seconds is None:
        return None
    if not 0 < seconds <= _FOURTEEN_DAYS:
        raise invalid(f"lifecycle.{key}={seconds:g}: more than 0 and at most 14 days")
    return timestamp(seeded + seconds)


def _usage(seed: dict[str, Any], default: Usage) -> Usage | None:
    """``usage``: UsageSnapshot's counts as integers (those left out are 0), replacing the
    default; null: the workload reports none."""
    if "usage" not in seed:
        return default
    if seed["usage"] is None:
        return None
    given = json_object(seed["usage"], "usage", _USAGE_KEYS)
    counts: dict[str, int] = {}
    for key in usage.COUNTS:
        count = given.get(key, 0)
        if isinstance(count, bool) or not isinstance(count, int):
            raise invalid(f"usage.{key}={count!r}: expected an integer")
        if not 0 <= count <= usage.INT64_MAX:
            raise invalid(f"usage.{key}={count!r}: expected 0 to {usage.INT64_MAX} (an int64)")
        counts[key] = count
    accelerator = given.get("acceleratorType")
    if accelerator is not None and (not isinstance(accelerator, str) or not accelerator):
        raise invalid(f"usage.acceleratorType={accelerator!r}: expected a name")
    if accelerator and not counts["milliAccelerator"]:
        raise invalid("usage.acceleratorType goes with milliAccelerator")
    if counts["shuffleStorageGbPremium"] and not counts["milliDcuPremium"]:
        raise invalid(
            "usage.shuffleStorageGbPremium: premium shuffle storage goes only with premium "
            "DCUs (milliDcuPremium)"
        )
    return Usage.from_counts(counts, accelerator)


def _duration(seed: dict[str, Any], key: str, default: str | None, low: float) -> str | None:
    """A google-duration from ``low`` seconds to 14 days, as proto3 JSON writes it;
    ``default`` when left out, None when null."""
    if key not in seed:
        return default
    value = seed[key]
    if value is None:
        return None
    seconds = usage.duration_seconds(value) if isinstance(value, str) else None
    if seconds is None:
        raise invalid(f'{key}={value!r}: expected a google-duration such as "3600s"')
    if not low <= seconds <= _FOURTEEN_DAYS:
        raise invalid(f"{key}={value!r}: Dataproc takes {low:g} s to 14 days")
    return usage.duration_json(value)


def _runtime_version(seed: dict[str, Any]) -> str:
    version = _string(seed, "runtimeVersion") or "2.2"
    if not _RUNTIME_VERSION.fullmatch(version):
        raise invalid(f"runtimeVersion={version!r}: expected a runtime version such as 2.2")
    return version


def _blocking(cluster: ClusterRecord, seed: dict[str, Any], now: float) -> None:
    """A running UPDATE or DIAGNOSE operation on the cluster (it refuses stops until it
    ends, on its own after blockingOperationSeconds, or cancelled)."""
    kind = _choice(seed, "blockingOperation", clusters.BLOCKING_TYPES, None)
    seconds = _number(seed, "blockingOperationSeconds", None)
    if kind is None:
        if seconds is not None:
            raise invalid("blockingOperationSeconds goes with blockingOperation")
        return
    if cluster.initial != "RUNNING":
        raise invalid("blockingOperation runs on a RUNNING cluster (an UPDATE shows UPDATING)")
    name = f"projects/{cluster.project}/regions/{cluster.region}/operations/{new_uuid()}"
    op = cluster.operation(name, kind, now, seconds, None)
    cluster.blocking = op
    if seconds is None:
        return
    if kind == "UPDATE":  # made once the operation is in place: the cluster shows it
        response = {"@type": TYPE_PREFIX + "Cluster", **cluster.to_json(now + seconds)}
    else:
        output = f"gs://dataproc-staging-{cluster.region}-emulator/{cluster.uid}/diagnostic.tar.gz"
        response = {"@type": TYPE_PREFIX + "DiagnoseClusterResults", "outputUri": output}
    op.completion = {"response": response}


def _count(seed: dict[str, Any], key: str, default: int) -> int:
    value = seed.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(f"{key}={value!r}: expected an integer >= 0")
    return value


def _labels(seed: dict[str, Any]) -> dict[str, str]:
    labels = json_object(seed.get("labels", {}), "labels")
    if not all(isinstance(value, str) for value in labels.values()):
        raise invalid("labels values must be strings")
    return dict(labels)


def _string(seed: dict[str, Any], key: str) -> str | None:
    value = seed.get(key)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{key}={value!r}: expected a string")
    return value


def json_object(value: Any, what: str, keys: frozenset[str] | None = None) -> dict[str, Any]:
    """``value`` as a JSON object with only ``keys`` (when given), or the 400 naming why not."""
    if not isinstance(value, dict):
        raise invalid(f"{what} must be a JSON object")
    if keys is not None and (unknown := sorted(set(value) - keys)):
        raise invalid(f"{what} has unknown keys {unknown}; known: {sorted(keys)}")
    return value


def _choice(seed: dict[str, Any], key: str, allowed: frozenset[str], default: Any) -> Any:
    value = seed.get(key, default)
    if value != default and value not in allowed:
        raise invalid(f"{key}={value!r}: expected one of {sorted(allowed)}")
    return value


def _number(seed: dict[str, Any], key: str, default: float | None) -> float | None:
    value = seed.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise invalid(f"{key}={value!r}: expected a number of seconds >= 0")
    return float(value)


def _flag(seed: dict[str, Any], key: str) -> bool:
    value = seed.get(key, False)
    if not isinstance(value, bool):
        raise invalid(f"{key}={value!r}: expected true or false")
    return value


def _status(value: Any, what: str) -> dict[str, Any]:
    """A google.rpc.Status: an integer code and a message (details optional)."""
    status = json_object(value, what, frozenset({"code", "message", "details"}))
    if isinstance(status.get("code"), bool) or not isinstance(status.get("code"), int):
        raise invalid(f"{what}.code must be an integer google.rpc.Code")
    return status


def _result(value: Any, what: str) -> dict[str, Any] | None:
    if value is None:
        return None
    result = json_object(value, what, frozenset({"response", "error"}))
    if len(result) != 1:
        raise invalid(f"{what} needs exactly one of response or error")
    if "error" in result:
        return {"error": _status(result["error"], f"{what}.error")}
    return {"response": json_object(result["response"], f"{what}.response")}
