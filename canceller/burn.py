"""What a target was costing when read, in dollars an hour at list price, and what
stopping it may have saved: pure functions of what Dataproc returns and a price table.

Why: a kill switch has to be justified in money, and a person told of a stop wants to
know what it was worth. The numbers are estimates at list price (the shipped table is
us-central1 on-demand, ``canceller.prices``): discounts, negotiated prices and credits
are not in them, and what the table cannot price is ``unknown`` with the reason, never
a guess, so a total is only given when every part of it is known.

- A cluster burns its VMs: each instance group's vCPUs times the Dataproc fee, plus the
  Compute Engine price of its machine type (vCPUs and memory). Disks are left out: a
  stopped cluster's disks are still billed, so stopping it does not save them.
- A batch or a session burns what ``runtimeInfo.currentUsage`` says it uses now
  (milli-DCU, premium milli-DCU, shuffle GB; int64 as JSON strings) times the DCU and
  shuffle prices; sessions are billed at the premium DCU price whatever field counts them.
- A job's share of its cluster is not knowable: the cluster bills for its VMs whatever
  its jobs use. It is said so, with the cluster's burn beside it for reference.

``saved_up_to`` is the burn times how long the work would otherwise have run, with that
horizon named: a batch's or session's ``ttl``, a cluster's scheduled stop or delete, or,
when nothing is set, the rest of the budget period or one hour. It is an upper bound:
work may end sooner by itself.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from canceller.clock import read_timestamp, rfc3339
from canceller.prices import PriceTable, compute_engine_hourly, machine_type
from canceller.resource import Resource, text

DOLLAR_DIGITS = 6  # dollars to a millionth: shuffle storage costs hundred-thousandths an hour
_MILLI = 1000
# More than any workload reports (a million DCU, a billion GB): a larger count is a
# corrupt answer, and an unknown is better than a number that is wrong by orders.
_MAX_COUNT = 10**12
# ExecutionConfig.ttl (dataproc.v1.json, dataproc_v1_messages.py): a batch without one
# runs until it exits, except on runtime 2.1 and later, where it defaults to 4 hours; an
# interactive session's defaults to 24 hours. Minimum 10 minutes, maximum 14 days.
_BATCH_DEFAULT_TTL = timedelta(hours=4)
_SESSION_DEFAULT_TTL = timedelta(hours=24)
_BATCH_TTL_RUNTIME = (2, 1)
_ONE_HOUR = timedelta(hours=1)
_PERIOD_MONTHS = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}
# No horizon is believed past a year: a budget's longest period is a year, a ttl at most
# 14 days; a lifecycle time or a period end further off is a defect or a forgery, and
# would multiply a burn into a saving of millions.
MAX_HORIZON = timedelta(days=366)
# A google-duration in JSON: seconds with up to nine decimals and an "s" ("14400s",
# "3.5s"). Anything past a year is not a Dataproc ttl; it is refused, not believed.
_DURATION = re.compile(r"(?P<s>[0-9]{1,9})(?:\.(?P<frac>[0-9]{1,9}))?s")
_MAX_DURATION = timedelta(days=366)
_VERSION = re.compile(r"(?P<major>[0-9]{1,4})\.(?P<minor>[0-9]{1,4})(?:\.[0-9A-Za-z.-]*)?")
_FLEXIBLE = ("masterFlexibleConfig", "workerFlexibleConfig", "secondaryWorkerFlexibleConfig")
# currentUsage fields that cost money and that the table prices, or cannot (accelerators
# and premium shuffle storage have no price in it).
_UNPRICED_USAGE = {
    "shuffleStorageGbPremium": "premium shuffle storage",
    "milliAccelerator": "accelerators",
    "milliAcceleratorA10040": "A100 40 GB accelerators",
    "milliAcceleratorA10080": "A100 80 GB accelerators",
    "milliAcceleratorL4": "L4 accelerators",
}


@dataclass(frozen=True)
class Burn:
    """What a target was costing when read. ``usd_per_hour`` is None exactly when
    ``unknown`` says why; ``parts`` holds the dollars that are known even then."""

    usd_per_hour: float | None
    unknown: str | None
    prices: str
    usage: dict[str, float] = field(default_factory=dict)  # in the units Google bills
    parts: dict[str, float] = field(default_factory=dict)  # dollars an hour, each known part
    usage_at: str | None = None  # when Dataproc took the usage reading (serverless)
    cluster: Burn | None = None  # a job's cluster, for reference

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {}  # no nulls: results are proto3 JSON (schemas/result.proto)
        if self.usd_per_hour is not None:
            shown["usdPerHour"] = round(self.usd_per_hour, DOLLAR_DIGITS)
        shown["prices"] = self.prices
        if self.unknown:
            shown["unknown"] = self.unknown
        if self.usage:
            shown["usage"] = dict(self.usage)
        if self.parts:
            shown["parts"] = {name: round(usd, DOLLAR_DIGITS) for name, usd in self.parts.items()}
        if self.usage_at:
            shown["usageAt"] = self.usage_at
        if self.cluster is not None:
            shown["cluster"] = self.cluster.as_json()
        return shown


@dataclass(frozen=True)
class Horizon:
    """How long the work would otherwise have run, and what says so: ``basis`` is a
    name to group by (the field it came from, ``budgetPeriod`` or ``oneHour``), ``said``
    the sentence a person reads."""

    hours: float
    basis: str
    said: str
    until: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"hours": round(self.hours, 4), "basis": self.basis}
        if self.until is not None:
            shown["until"] = rfc3339(self.until)
        shown["said"] = self.said
        return shown


@dataclass(frozen=True)
class Saving:
    """An upper-bound estimate at list price: the burn for the whole horizon."""

    usd: float
    horizon: Horizon

    def as_json(self) -> dict[str, Any]:
        return {"usd": round(self.usd, DOLLAR_DIGITS), "horizon": self.horizon.as_json()}


@dataclass(frozen=True)
class Money:
    """What one message's stopped work was burning and may have saved, totalled over
    the stops that could be priced; the rest are counted, never guessed at, with the
    first reason one could not be (a job's share of its cluster, an unpriced family)."""

    stopped: int
    priced: int
    burn_usd_per_hour: float
    saved: int  # stops with a savedUpTo
    saved_up_to_usd: float
    prices: str
    unknown: str = ""

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "stopped": self.stopped,
            "priced": self.priced,
            "burnUsdPerHour": round(self.burn_usd_per_hour, DOLLAR_DIGITS),
            "saved": self.saved,
            "savedUpToUsd": round(self.saved_up_to_usd, DOLLAR_DIGITS),
        }
        if self.prices:
            shown["prices"] = self.prices
        if self.unknown:
            shown["unknown"] = self.unknown
        return shown


def saved_up_to(burn_per_hour: float | None, horizon: Horizon) -> Saving | None:
    """The burn times the horizon; None when the burn is unknown (nothing is made up)."""
    if burn_per_hour is None:
        return None
    return Saving(burn_per_hour * horizon.hours, horizon)


# --- burn -------------------------------------------------------------------------------


def cluster_burn(
    cluster: Resource,
    table: PriceTable,
    groups: list[dict[str, Any]],
    config_keys: Mapping[str, str],
) -> Burn:
    """A running cluster's VMs: vCPUs times the Dataproc fee, plus Compute Engine's price of
    each machine type. The fee is known wherever the machine types' names say their
    vCPUs; Compute Engine's price only where the table prices the family, for on-demand
    VMs without GPUs (spot and preemptible VMs are billed below the on-demand list).
    ``groups`` are the cluster's instance groups as its kind reads them, ``config_keys``
    the config key of each group's role."""
    if "virtualClusterConfig" in cluster:
        return Burn(
            None,
            "a Dataproc on GKE cluster runs on its GKE node pools, whose VMs its config "
            "does not list",
            table.label,
        )
    raw_config = cluster.get("config")
    config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
    if not groups:
        return Burn(None, "its config lists no instances", table.label)
    missing: list[str] = []  # why the whole is unknown
    fee_known = engine_known = True
    vcpus = instances = 0
    engine_usd = 0.0
    for flexible in _FLEXIBLE:
        if config.get(flexible):
            fee_known = engine_known = False
            missing.append(f"its {flexible} (High Obtainability) VMs are not read")
    if _counted(config.get("auxiliaryNodeGroups")):
        fee_known = engine_known = False
        missing.append("its auxiliary node groups' VMs are not read")
    for group in groups:
        role, count, name = group["role"], group["instances"], group["machineType"]
        instances += count
        per_instance = group.get("vcpusPerInstance")
        if per_instance is None:
            fee_known = engine_known = False
            missing.append(f"the {role} machine type {name} does not say its vCPUs")
            continue
        vcpus += count * per_instance
        raw = config.get(config_keys[role])
        settings: dict[str, Any] = raw if isinstance(raw, dict) else {}
        why_not = _why_no_engine_price(role, settings)
        machine = machine_type(name)
        if why_not is None and machine is not None:
            priced = compute_engine_hourly(machine, table)
            if priced.usd_per_hour is not None:
                engine_usd += count * priced.usd_per_hour
                continue
            why_not = priced.unknown
        engine_known = False
        missing.append(f"the {role}s' Compute Engine price: {why_not or 'unread'}")
    usage: dict[str, float] = {"instances": instances}
    parts: dict[str, float] = {}
    if fee_known:
        usage["vcpus"] = vcpus
        parts["dataprocFee"] = vcpus * table.dataproc_vcpu_hour.usd
    if engine_known:
        parts["computeEngine"] = engine_usd
    if fee_known and engine_known:
        return Burn(sum(parts.values()), None, table.label, usage, parts)
    return Burn(None, "; ".join(missing), table.label, usage, parts)


def batch_burn(batch: Resource, table: PriceTable) -> Burn:
    """A batch's current usage: standard DCUs at the standard price, premium DCUs at the
    premium price, shuffle storage at its price a month spread over the month's hours."""
    return _serverless_burn(batch, table, sessions=False)


def session_burn(session: Resource, table: PriceTable) -> Burn:
    """A session's current usage: an interactive session is billed at the premium DCU
    price (Serverless pricing page), so every DCU it reports counts at that price."""
    return _serverless_burn(session, table, sessions=True)


def job_burn(cluster: Burn | None, unread: str = "") -> Burn:
    """A job's own burn is not knowable; the caller hands its cluster's, for reference,
    or why it has none."""
    return Burn(
        None,
        "a job's share of its cluster is not knowable: the cluster bills for its VMs "
        "whatever its jobs use, and stopping a job does not stop them"
        + (
            ""
            if cluster is not None
            else f" (the cluster's burn was not read{unread and ': '}{unread})"
        ),
        cluster.prices if cluster is not None else "",
        cluster=cluster,
    )


def operation_burn(table: PriceTable) -> Burn:
    """An operation is not billed: its batch or cluster is, and is named for that."""
    return Burn(
        None,
        "an operation is not billed itself: its batch or cluster is (name that to see "
        "what it was costing)",
        table.label,
    )


def _serverless_burn(resource: Resource, table: PriceTable, *, sessions: bool) -> Burn:
    runtime = resource.get("runtimeInfo")
    current = runtime.get("currentUsage") if isinstance(runtime, dict) else None
    if not isinstance(current, dict):
        return Burn(
            None, "Dataproc has not reported its usage (runtimeInfo.currentUsage)", table.label
        )
    counts: dict[str, int] = {}
    for name in ("milliDcu", "milliDcuPremium", "shuffleStorageGb", *_UNPRICED_USAGE):
        if name not in current:
            continue
        count = _int64(current[name])
        if count is None:
            return Burn(
                None,
                f"runtimeInfo.currentUsage.{name} is not a count: {str(current[name])[:40]!r}",
                table.label,
            )
        counts[name] = count
    standard, premium = counts.get("milliDcu", 0), counts.get("milliDcuPremium", 0)
    if sessions:  # a session's DCUs are all billed at the premium price
        standard, premium = 0, standard + premium
    usage: dict[str, float] = {
        "dcu": standard / _MILLI,
        "dcuPremium": premium / _MILLI,
        "shuffleStorageGb": counts.get("shuffleStorageGb", 0),
    }
    parts = {
        "dcu": usage["dcu"] * table.dcu_hour.usd,
        "dcuPremium": usage["dcuPremium"] * table.dcu_premium_hour.usd,
        "shuffleStorage": usage["shuffleStorageGb"]
        * table.shuffle_gb_month.usd
        / table.hours_per_month,
    }
    unpriced = [what for name, what in _UNPRICED_USAGE.items() if counts.get(name)]
    for name in _UNPRICED_USAGE:
        if counts.get(name):
            usage[name] = counts[name]
    at = text(current.get("snapshotTime"), 64)
    if unpriced:
        return Burn(
            None,
            f"it uses {', '.join(unpriced)}, which the price table does not price",
            table.label,
            usage,
            parts,
            at,
        )
    return Burn(sum(parts.values()), None, table.label, usage, parts, at)


def _why_no_engine_price(role: str, group: dict[str, Any]) -> str | None:
    """Why an instance group's VMs cannot be priced at the table's on-demand prices."""
    if group.get("instanceFlexibilityPolicy"):
        return "flexible VMs, whose machine types vary"
    if _counted(group.get("accelerators")):
        return "GPUs, which the price table lacks"
    # Masters and primary workers are always NON_PREEMPTIBLE; secondary workers default
    # to PREEMPTIBLE (InstanceGroupConfig.preemptibility).
    default = "PREEMPTIBLE" if role == "secondaryWorker" else "NON_PREEMPTIBLE"
    preemptibility = text(group.get("preemptibility"), 40) or default
    if preemptibility != "NON_PREEMPTIBLE":
        return f"{preemptibility} VMs, billed below the on-demand prices the table holds"
    return None


def _counted(value: object) -> bool:
    """A non-empty list (of accelerators, of node groups)."""
    return isinstance(value, list) and bool(value)


def _int64(value: object) -> int | None:
    """An int64 as Dataproc sends it (a JSON string of digits; a number is taken too),
    from 0 to ``_MAX_COUNT``; None for anything else."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,13}", value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        return None
    return number if 0 <= number <= _MAX_COUNT else None


# --- horizons ---------------------------------------------------------------------------


def batch_horizon(
    batch: Resource, now: datetime, budget_period_end: datetime | None = None
) -> Horizon:
    """The rest of the batch's ttl; a batch without one on runtime 2.1 or later (or on
    the default runtime) has 4 hours, one on an older runtime runs until it exits, so
    the rest of the budget period or an hour stands in."""
    ttl_field = _execution(batch).get("ttl")
    if ttl_field is not None:
        ttl = parse_duration(ttl_field)
        if ttl is None:
            return otherwise(now, budget_period_end, f"its ttl {str(ttl_field)[:40]!r} is unread")
        return _rest_of(batch, ttl, now, "ttl", "its ttl")
    version = _runtime_version(batch)
    if version is not None and version < _BATCH_TTL_RUNTIME:
        shown = ".".join(map(str, version))
        return otherwise(
            now, budget_period_end, f"no ttl: a batch on runtime {shown} runs until it exits"
        )
    return _rest_of(
        batch, _BATCH_DEFAULT_TTL, now, "defaultTtl", "the default ttl of 4 h (runtime 2.1+)"
    )


def session_horizon(
    session: Resource, now: datetime, budget_period_end: datetime | None = None
) -> Horizon:
    """The rest of the session's ttl, 24 hours unless set. Its idleTtl may end it sooner,
    but whether it is idle cannot be read, so the ttl is the upper bound."""
    ttl_field = _execution(session).get("ttl")
    if ttl_field is None:
        return _rest_of(session, _SESSION_DEFAULT_TTL, now, "defaultTtl", "the default ttl of 24 h")
    ttl = parse_duration(ttl_field)
    if ttl is None:
        return otherwise(now, budget_period_end, f"its ttl {str(ttl_field)[:40]!r} is unread")
    return _rest_of(session, ttl, now, "ttl", "its ttl")


def cluster_horizon(
    cluster: Resource, now: datetime, budget_period_end: datetime | None = None
) -> Horizon:
    """Until the cluster's first scheduled stop or delete (LifecycleConfig): the stop and
    delete times; the stop and delete ttls from its creation (Dataproc counts them from
    the create or a later update request, so this is never later than Dataproc's); the
    idle ttls from ``idleStartTime``, when the cluster says it is idle. None set: the
    rest of the budget period, or one hour."""
    raw_config = cluster.get("config")
    config = raw_config if isinstance(raw_config, dict) else {}
    raw_lifecycle = config.get("lifecycleConfig")
    lifecycle: dict[str, Any] = raw_lifecycle if isinstance(raw_lifecycle, dict) else {}
    ends: list[tuple[datetime, str, str]] = []
    for name, what in (("autoStopTime", "stopped"), ("autoDeleteTime", "deleted")):
        at = read_timestamp(lifecycle.get(name))
        if at is not None:
            ends.append((at, name, f"its lifecycleConfig.{name}, when it is to be {what}"))
    created = _created(cluster)
    idle_since = read_timestamp(lifecycle.get("idleStartTime"))
    for name, since, what in (
        ("autoStopTtl", created, "from its creation, when it is to be stopped"),
        ("autoDeleteTtl", created, "from its creation, when it is to be deleted"),
        ("idleStopTtl", idle_since, "from its idleStartTime, when it is to be stopped"),
        ("idleDeleteTtl", idle_since, "from its idleStartTime, when it is to be deleted"),
    ):
        ttl = parse_duration(lifecycle.get(name))
        since = min(since, now) if since is not None else None  # not ahead of our clock
        if ttl is not None and since is not None and (end := _plus(since, ttl)) is not None:
            ends.append((end, name, f"its lifecycleConfig.{name} {what}"))
    if not ends:
        return otherwise(now, budget_period_end, "nothing is scheduled to stop or delete it")
    until, basis, said = min(ends, key=lambda end: end[0])
    if until - now > MAX_HORIZON:
        return otherwise(
            now, budget_period_end, f"its lifecycleConfig.{basis} is more than a year off"
        )
    return Horizon(_hours(until - now), basis, said, until)


def otherwise(now: datetime, budget_period_end: datetime | None, why: str) -> Horizon:
    """When nothing ends the work: the rest of the budget period for a budget's action
    (the caller passes its end), else one hour, a figure that claims little."""
    if budget_period_end is not None and now < budget_period_end <= now + MAX_HORIZON:
        return Horizon(
            _hours(budget_period_end - now),
            "budgetPeriod",
            f"the rest of the budget period ({why})",
            budget_period_end,
        )
    return Horizon(1.0, "oneHour", f"one hour ({why})", now + _ONE_HOUR)


def budget_period_end(
    start: datetime | None, calendar_period: str = "MONTH", custom_end: date | None = None
) -> datetime | None:
    """When a budget's current period ends: ``start`` (the notification's
    costIntervalStart) plus its calendar period (Budget.budgetFilter.calendarPeriod:
    MONTH, QUARTER or YEAR, starting on the first of a month), or the day after a custom
    period's endDate, at the hour of day the period started (Budgets count days from
    midnight Pacific time; billingbudgets_v1_messages.py, CustomPeriod). A notification
    does not say its budget's period: MONTH, the budgets' usual period, stands in when the
    budget was not read. None when there is no start, or the period has no end."""
    if start is None:
        return None
    try:
        if custom_end is not None:
            day_after = datetime.combine(custom_end, start.timetz()) + timedelta(days=1)
            return day_after.astimezone(UTC) if day_after > start else None
        months = _PERIOD_MONTHS.get(calendar_period)
        if months is None:
            return None
        years, month = divmod(start.month - 1 + months, 12)
        year = start.year + years
        day = min(start.day, calendar.monthrange(year, month + 1)[1])
        return start.replace(year=year, month=month + 1, day=day).astimezone(UTC)
    except (OverflowError, ValueError):  # past the calendar's end: a forgery, not a period
        return None


def parse_duration(value: object) -> timedelta | None:
    """A google-duration as JSON carries it ("14400s", "0.5s"), up to a year; None for
    anything else, which then is not believed."""
    if not isinstance(value, str):
        return None
    match = _DURATION.fullmatch(value)
    if not match:
        return None
    fraction = (match["frac"] or "").ljust(9, "0")
    duration = timedelta(seconds=int(match["s"]), microseconds=int(fraction) // 1000)
    return duration if duration <= _MAX_DURATION else None


def _rest_of(resource: Resource, ttl: timedelta, now: datetime, basis: str, what: str) -> Horizon:
    """What is left of a ttl counted from ``createTime``, the earliest the workload can
    have started, so the rest is never overstated; the whole ttl when it is not read."""
    created = read_timestamp(resource.get("createTime"))
    seconds = int(ttl.total_seconds())
    if created is None:
        return Horizon(_hours(ttl), basis, f"{what} ({seconds}s; its start unread: all of it)")
    until = min(created, now) + ttl  # a createTime ahead of our clock is not believed
    return Horizon(_hours(until - now), basis, f"the rest of {what} ({seconds}s)", until)


def _hours(span: timedelta) -> float:
    return max(0.0, span.total_seconds() / 3600)


def _execution(resource: Resource) -> dict[str, Any]:
    environment = resource.get("environmentConfig")
    execution = environment.get("executionConfig") if isinstance(environment, dict) else None
    return execution if isinstance(execution, dict) else {}


def _runtime_version(resource: Resource) -> tuple[int, int] | None:
    runtime = resource.get("runtimeConfig")
    version = text(runtime.get("version"), 40) if isinstance(runtime, dict) else None
    match = _VERSION.fullmatch(version) if version else None
    return (int(match["major"]), int(match["minor"])) if match else None


def _created(cluster: Resource) -> datetime | None:
    """When the cluster was created: the start of its CREATING state, in its status or
    its statusHistory; None when neither says."""
    entries = [cluster.get("status"), *_list(cluster.get("statusHistory"))]
    starts = [
        moment
        for entry in entries
        if isinstance(entry, dict) and entry.get("state") == "CREATING"
        if (moment := read_timestamp(entry.get("stateStartTime"))) is not None
    ]
    return min(starts, default=None)


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _plus(moment: datetime, span: timedelta) -> datetime | None:
    try:
        return moment + span
    except OverflowError:
        return None
