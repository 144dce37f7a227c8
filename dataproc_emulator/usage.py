"""What a Serverless batch or session uses, as Dataproc reports it in ``runtimeInfo``,
and the google-duration values their ``executionConfig`` carries.

``currentUsage`` (a UsageSnapshot) while the workload runs; ``approximateUsage`` (a
UsageMetrics) once it has ended: its usage times how long it ran. Field names and
types are those that dataproc.v1.json, google-cloud-dataproc's protos and gcloud's
generated messages all declare: int64 counts as JSON strings, left out when zero, as
proto3 JSON writes them; timestamps in RFC 3339.

Documented (the Serverless pricing page): a vCPU counts 0.6 DCU; RAM 0.1 DCU a GB up to
8 GB per vCPU and 0.2 DCU a GB above; by default the driver and each executor (at least
2) have 4 vCPUs and 16 GB, 4 DCUs each; interactive sessions are billed at the premium
price; premium shuffle storage goes only with premium DCUs; ``approximateUsage`` is the
usage times the seconds (``milliDcuSeconds``: 4 DCUs x 3 VMs x 60 s x 1000 = 720000).

Assumed, as nothing documents it:

- A batch's default usage: a driver and 4 executors of the default shape (dynamic
  allocation has scaled up from the initial 2), 20 DCUs, with 25 GB of shuffle storage
  (the pricing page example's figure). A session's: the documented minimum, a driver
  and 2 executors, 12 DCUs, counted as ``milliDcuPremium`` (sessions bill at premium),
  no shuffle storage.
- ``currentUsage`` is served only while the workload runs (a batch RUNNING or
  CANCELLING, a session ACTIVE or TERMINATING), taken when it starts and every minute
  after (``snapshotTime``); once it has ended, only ``approximateUsage``, dated at its
  end. UsageMetrics has no premium fields, so premium DCUs and premium shuffle storage
  count in ``milliDcuSeconds`` and ``shuffleStorageGbSeconds``.
- Neither a ttl nor the usage changes what the emulator does: a workload does not end at
  its ttl, and its usage does not vary while it runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_MILLI = 1000
_DCU_PER_VCPU = 0.6
_DCU_PER_GB = 0.1  # up to 8 GB per vCPU
_DCU_PER_GB_ABOVE = 0.2
_GB_PER_VCPU_AT_BASE_RATE = 8
INT64_MAX = 2**63 - 1
# How often a running workload's currentUsage is taken again (assumed).
SNAPSHOT_SECONDS = 60.0
# A google-duration in proto3 JSON: seconds, up to nine decimals, then "s".
DURATION = re.compile(r"(?P<seconds>[0-9]{1,12})(?:\.(?P<fraction>[0-9]{1,9}))?s")
# UsageSnapshot's counts (int64) that a seed may set, in the order the proto declares them.
COUNTS = (
    "milliDcu",
    "shuffleStorageGb",
    "milliDcuPremium",
    "shuffleStorageGbPremium",
    "milliAccelerator",
)


def milli_dcu(vcpus: int, memory_gb: float) -> int:
    """The milli-DCUs of one driver or executor with ``vcpus`` and ``memory_gb`` of RAM,
    by the pricing page's rule."""
    base_gb = min(memory_gb, _GB_PER_VCPU_AT_BASE_RATE * vcpus)
    dcu = vcpus * _DCU_PER_VCPU + base_gb * _DCU_PER_GB
    dcu += (memory_gb - base_gb) * _DCU_PER_GB_ABOVE
    return round(dcu * _MILLI)


# The default driver or executor: 4 vCPUs and 16 GB, 4 DCUs.
DEFAULT_NODE_MILLI_DCU = milli_dcu(4, 16)


@dataclass(frozen=True)
class Usage:
    """What a running workload uses now, in UsageSnapshot's units."""

    milli_dcu: int = 0
    shuffle_storage_gb: int = 0
    milli_dcu_premium: int = 0
    shuffle_storage_gb_premium: int = 0
    milli_accelerator: int = 0
    accelerator_type: str | None = None

    @classmethod
    def from_counts(cls, counts: dict[str, int], accelerator_type: str | None) -> Usage:
        """From UsageSnapshot's JSON names (``COUNTS``) to counts."""
        return cls(
            milli_dcu=counts.get("milliDcu", 0),
            shuffle_storage_gb=counts.get("shuffleStorageGb", 0),
            milli_dcu_premium=counts.get("milliDcuPremium", 0),
            shuffle_storage_gb_premium=counts.get("shuffleStorageGbPremium", 0),
            milli_accelerator=counts.get("milliAccelerator", 0),
            accelerator_type=accelerator_type,
        )

    def current(self, at: str) -> dict[str, Any]:
        """``runtimeInfo.currentUsage``, read at ``at`` (a timestamp)."""
        snapshot = _nonzero(
            {
                "milliDcu": self.milli_dcu,
                "shuffleStorageGb": self.shuffle_storage_gb,
                "milliDcuPremium": self.milli_dcu_premium,
                "shuffleStorageGbPremium": self.shuffle_storage_gb_premium,
                "milliAccelerator": self.milli_accelerator,
            }
        )
        if self.accelerator_type:
            snapshot["acceleratorType"] = self.accelerator_type
        snapshot["snapshotTime"] = at
        return snapshot

    def approximate(self, seconds: float, at: str) -> dict[str, Any]:
        """``runtimeInfo.approximateUsage`` of a workload that ran ``seconds`` and ended
        at ``at``: each count times the seconds, premium and standard together."""
        ran = max(0.0, seconds)
        metrics = _nonzero(
            {
                "milliDcuSeconds": _times(self.milli_dcu + self.milli_dcu_premium, ran),
                "shuffleStorageGbSeconds": _times(
                    self.shuffle_storage_gb + self.shuffle_storage_gb_premium, ran
                ),
                "milliAcceleratorSeconds": _times(self.milli_accelerator, ran),
            }
        )
        if self.accelerator_type:
            metrics["acceleratorType"] = self.accelerator_type
        metrics["updateTime"] = at
        return metrics


DEFAULT_BATCH_USAGE = Usage(milli_dcu=5 * DEFAULT_NODE_MILLI_DCU, shuffle_storage_gb=25)
DEFAULT_SESSION_USAGE = Usage(milli_dcu_premium=3 * DEFAULT_NODE_MILLI_DCU)


def runtime_info(
    output_uri: str,
    usage: Usage | None,
    now: float,
    started: float | None,
    ended: float | None,
    stamp: Callable[[float], str],
) -> dict[str, Any]:
    """A workload's runtimeInfo at ``now``: its output URI; once it has ``started``
    running, ``currentUsage`` (taken every ``SNAPSHOT_SECONDS`` from then), and once it
    has ``ended``, ``approximateUsage`` instead. ``stamp`` writes an instant of the
    emulator's clock as a timestamp."""
    info: dict[str, Any] = {"outputUri": output_uri}
    if usage is None or started is None:
        return info
    if ended is None:
        taken = started + (now - started) // SNAPSHOT_SECONDS * SNAPSHOT_SECONDS
        info["currentUsage"] = usage.current(stamp(max(started, taken)))
    else:
        info["approximateUsage"] = usage.approximate(ended - started, stamp(ended))
    return info


def duration_seconds(text: str) -> float | None:
    """A google-duration's seconds, or None when ``text`` is not one."""
    match = DURATION.fullmatch(text)
    if match is None:
        return None
    return int(match["seconds"]) + int((match["fraction"] or "0").ljust(9, "0")) / 1e9


def duration_json(text: str) -> str:
    """A google-duration as proto3 JSON writes it: 0, 3, 6 or 9 decimals ("3600s",
    "0.500s"); ``text`` must match ``DURATION``."""
    match = DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"not a google-duration: {text!r}")
    seconds, nanos = int(match["seconds"]), int((match["fraction"] or "0").ljust(9, "0"))
    if nanos == 0:
        return f"{seconds}s"
    if nanos % 1_000_000 == 0:
        return f"{seconds}.{nanos // 1_000_000:03d}s"
    if nanos % 1_000 == 0:
        return f"{seconds}.{nanos // 1_000:06d}s"
    return f"{seconds}.{nanos:09d}s"


def _times(count: int, seconds: float) -> int:
    """A count times seconds, rounded, at most an int64 can hold."""
    return min(INT64_MAX, round(count * seconds))


def _nonzero(counts: dict[str, int]) -> dict[str, Any]:
    """int64 counts as proto3 JSON writes them: strings, zero ones left out."""
    return {name: str(count) for name, count in counts.items() if count}
