"""List prices, shipped as data (``prices-us-central1.json`` beside this file), and the
machine-type names a cluster's price is read from.

Why data and not constants: every price carries the address it was read from and the
date, so a result's dollars can be traced to a page and a day, and a later setting can
hand in another table (another region, or negotiated prices) through ``price_table``,
checked the same way. The shipped table is us-central1 on-demand list prices: an
estimate's basis, never a bill.

Where a price may come from: Google's own pages, or a data set generated mechanically
from Google's Cloud Billing Catalog API that says how and when it was generated and
agrees with a figure on a Google page (the shipped Compute Engine prices are of this
kind; the table says which data set, which generation, and which cross-checks).
Hand-copied third-party tables are not taken: they are often wrong (one seen lists
n1-standard-2 above n1-standard-8).

What the table lacks is lacking, never filled in: a machine family whose Compute
Engine prices could not be sourced so has no entry, and a price asked of it is
``None`` with the reason (``Priced.unknown``), so that a result says "unknown" rather
than a guess.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from typing import Any

SHIPPED_TABLE = "prices-us-central1.json"

# Compute Engine's naming of machine types (cloud.google.com/compute/docs/machine-resource):
# a predefined type carries its family, its memory class and its vCPUs (n2-standard-8,
# m1-ultramem-40; c3-standard-4-lssd bundles local SSD); a custom type its vCPUs and
# memory in MB (custom-6-23040 is N1's, n2-custom-6-23040 N2's; -ext is extended memory).
# GPU types (a2-highgpu-1g) count GPUs there, and shared-core types (e2-medium) carry no
# vCPU count: neither is parsed, so both stay unknown.
_PREDEFINED = re.compile(
    r"(?P<family>[a-z][a-z0-9]*)-"
    r"(?P<shape>standard|highmem|highcpu|megamem|ultramem|hypermem)-(?P<n>[0-9]{1,4})"
    r"(?P<lssd>-lssd)?"
)
_CUSTOM = re.compile(
    r"(?:(?P<family>[a-z][a-z0-9]*)-)?custom-(?P<n>[0-9]{1,4})-(?P<mb>[0-9]{1,7})(?P<ext>-ext)?"
)
_CUSTOM_DEFAULT_FAMILY = "n1"  # custom-6-23040, with no family, is an N1 custom type
_MB_PER_GB = 1024  # Compute Engine counts memory in GiB ("GB" on its pages), 1 GB = 2**30 B
# Far above any list price: a table saying more is a mistake (a price per month typed
# where one per hour belongs), refused rather than multiplied into results.
_MAX_PRICE = 1000.0
_MAX_GB_PER_VCPU = 1024.0
_MAX_GB_OF_TYPE = 65536.0  # the largest Compute Engine types have some 32 TB
_URL = re.compile(r"https://[^\s]{1,500}")


class PriceTableError(ValueError):
    """A price table that cannot be used, with what is wrong in it."""


@dataclass(frozen=True)
class Source:
    """Where a price was read and when: a result's dollars are only as good as this."""

    address: str
    read: date
    says: str = ""


@dataclass(frozen=True)
class Price:
    usd: float
    source: Source


@dataclass(frozen=True)
class MachineFamily:
    """One Compute Engine machine family's on-demand prices: vCPUs and memory are billed
    apart, so a predefined type's price is its vCPUs and its memory, each at its rate."""

    vcpu_hour: float
    gb_hour: float
    # GB of memory per vCPU of each predefined class of the family (standard, highmem,
    # highcpu, ...), from Google's machine family pages; a class not listed is unknown.
    gb_per_vcpu: dict[str, float]
    source: Source
    # Custom types are priced apart (a premium over predefined); None: not in the table.
    custom_vcpu_hour: float | None = None
    custom_gb_hour: float | None = None
    # Predefined types whose memory is not their class's GB per vCPU times their vCPUs
    # (n2-highmem-128 has 864 GB, not 1,024): their memory in GB, by name.
    gb_of_type: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PriceTable:
    region: str
    currency: str
    dataproc_vcpu_hour: Price
    dcu_hour: Price
    dcu_premium_hour: Price
    shuffle_gb_month: Price
    hours_per_month: float
    families: dict[str, MachineFamily]
    compute_engine_source: Source
    # Families looked for and not found, and why: said in every "unknown" for them.
    not_sourced: tuple[str, ...] = ()
    not_sourced_reason: str = ""
    multiplier: float = 1.0  # PRICE_MULTIPLIER: every price above is already times this

    @property
    def label(self) -> str:
        """What a result names as its prices' basis."""
        label = f"{self.region} on-demand list prices ({self.currency})"
        if self.multiplier != 1:
            label += f" x {self.multiplier:g} (PRICE_MULTIPLIER)"
        return label


@dataclass(frozen=True)
class MachineType:
    """What a machine type's name says: its family, its shape (a predefined memory class,
    or "custom"), its vCPUs, and a custom type's memory."""

    name: str
    family: str
    shape: str
    vcpus: int
    memory_mb: int | None = None  # custom types only: predefined ones take it from the table
    extended_memory: bool = False  # custom "-ext": memory past the family's limit, priced apart
    local_ssd: bool = False  # "-lssd": bundles local SSD, priced apart


@dataclass(frozen=True)
class Priced:
    """A price worked out, or why it could not be: exactly one of the two is set."""

    usd_per_hour: float | None
    unknown: str | None = None
    details: dict[str, float] = field(default_factory=dict)


@functools.lru_cache(maxsize=1024)  # a fleet has few machine types; read once each
def machine_type(uri: str) -> MachineType | None:
    """The machine type a ``machineTypeUri`` names (a full URL, a partial URI or a short
    name, as Dataproc accepts), or None when its name does not say its vCPUs."""
    name = uri.rsplit("/", 1)[-1]
    if match := _PREDEFINED.fullmatch(name):
        return MachineType(
            name=name,
            family=match["family"],
            shape=match["shape"],
            vcpus=int(match["n"]),
            local_ssd=bool(match["lssd"]),
        )
    if match := _CUSTOM.fullmatch(name):
        return MachineType(
            name=name,
            family=match["family"] or _CUSTOM_DEFAULT_FAMILY,
            shape="custom",
            vcpus=int(match["n"]),
            memory_mb=int(match["mb"]),
            extended_memory=bool(match["ext"]),
        )
    return None


def compute_engine_hourly(machine: MachineType, table: PriceTable) -> Priced:
    """One VM of this machine type, an hour, at the table's Compute Engine prices: its
    vCPUs and its memory. Disks, GPUs and licences are not in it (a stop leaves a
    cluster's disks billed anyway); what the table cannot price is unknown."""
    family = table.families.get(machine.family)
    if family is None:
        why = f"the price table has no Compute Engine prices for the {machine.family} family"
        if machine.family in table.not_sourced and table.not_sourced_reason:
            why += f" ({table.not_sourced_reason})"
        return Priced(None, why)
    if machine.local_ssd:
        return Priced(None, f"{machine.name} bundles local SSD, which the price table lacks")
    if machine.extended_memory:
        return Priced(None, f"{machine.name} has extended memory, which the price table lacks")
    if machine.shape == "custom":
        if family.custom_vcpu_hour is None or family.custom_gb_hour is None:
            return Priced(
                None, f"the price table has no custom machine type prices for {machine.family}"
            )
        memory_gb = (machine.memory_mb or 0) / _MB_PER_GB  # a custom name carries it
        vcpu_rate, gb_rate = family.custom_vcpu_hour, family.custom_gb_hour
    else:
        per_vcpu = family.gb_per_vcpu.get(machine.shape)
        exact = family.gb_of_type.get(machine.name)
        if exact is not None:
            memory_gb = exact
        elif per_vcpu is None:
            return Priced(
                None,
                f"the price table does not say the memory of {machine.family}-{machine.shape}",
            )
        else:
            memory_gb = machine.vcpus * per_vcpu
        vcpu_rate, gb_rate = family.vcpu_hour, family.gb_hour
    vcpus = machine.vcpus * vcpu_rate
    memory = memory_gb * gb_rate
    return Priced(vcpus + memory, details={"vcpus": vcpus, "memory": memory, "memoryGb": memory_gb})


def scaled(table: PriceTable, multiplier: float) -> PriceTable:
    """Every price of the table times ``multiplier`` (PRICE_MULTIPLIER): Google prices
    most regions at a fixed ratio to us-central1 across a product's SKUs, so one number
    turns the shipped table into another region's, and it is named on every result."""
    if multiplier == 1:
        return table

    def price(of: Price) -> Price:
        return replace(of, usd=of.usd * multiplier)

    def family(of: MachineFamily) -> MachineFamily:
        custom = (of.custom_vcpu_hour, of.custom_gb_hour)
        return replace(
            of,
            vcpu_hour=of.vcpu_hour * multiplier,
            gb_hour=of.gb_hour * multiplier,
            custom_vcpu_hour=None if custom[0] is None else custom[0] * multiplier,
            custom_gb_hour=None if custom[1] is None else custom[1] * multiplier,
        )

    return replace(
        table,
        dataproc_vcpu_hour=price(table.dataproc_vcpu_hour),
        dcu_hour=price(table.dcu_hour),
        dcu_premium_hour=price(table.dcu_premium_hour),
        shuffle_gb_month=price(table.shuffle_gb_month),
        families={name: family(of) for name, of in table.families.items()},
        multiplier=table.multiplier * multiplier,
    )


@functools.cache
def shipped_table(multiplier: float = 1.0) -> PriceTable:
    """The table shipped in the package, read and checked like any other, times
    ``multiplier`` (PRICE_MULTIPLIER): once an instance, not once a message."""
    text = resources.files("canceller").joinpath(SHIPPED_TABLE).read_text(encoding="utf-8")
    return scaled(price_table(json.loads(text)), multiplier)


def price_table(document: object) -> PriceTable:
    """A table from its JSON form (the shipped file's), checked: a wrong table would put
    wrong dollars on every result, so it is refused whole with what is wrong in it."""
    top = _object(document, "the price table")
    dataproc = _object(top.get("dataproc"), "dataproc")
    serverless = _object(top.get("serverless"), "serverless")
    month = _object(top.get("hoursPerMonth"), "hoursPerMonth")
    engine = _object(top.get("computeEngine"), "computeEngine")
    engine_source = _source(engine, "computeEngine")
    families = {
        _family_name(name): _family(name, value, f"computeEngine.families.{name}", engine_source)
        for name, value in _object(engine.get("families"), "computeEngine.families").items()
    }
    missing = _object(engine.get("notSourced", {}), "computeEngine.notSourced")
    not_sourced = missing.get("families", [])
    if not isinstance(not_sourced, list) or not all(isinstance(f, str) for f in not_sourced):
        raise PriceTableError("computeEngine.notSourced.families must be a list of names")
    return PriceTable(
        region=_text(top.get("region"), "region"),
        currency=_text(top.get("currency"), "currency"),
        dataproc_vcpu_hour=_price(dataproc.get("vcpuHour"), "dataproc.vcpuHour"),
        dcu_hour=_price(serverless.get("dcuHour"), "serverless.dcuHour"),
        dcu_premium_hour=_price(serverless.get("dcuPremiumHour"), "serverless.dcuPremiumHour"),
        shuffle_gb_month=_price(serverless.get("shuffleGbMonth"), "serverless.shuffleGbMonth"),
        hours_per_month=_number(month.get("hours"), "hoursPerMonth.hours", 1000.0),
        families=families,
        compute_engine_source=engine_source,
        not_sourced=tuple(not_sourced),
        not_sourced_reason=_text(missing.get("reason", ""), "notSourced.reason", empty=True),
    )


def _family(name: str, value: object, where: str, default: Source) -> MachineFamily:
    entry = _object(value, where)
    classes = _object(entry.get("gbPerVcpu"), f"{where}.gbPerVcpu")
    exceptions = _object(entry.get("gbOfType", {}), f"{where}.gbOfType")
    custom_vcpu, custom_gb = entry.get("customVcpuHour"), entry.get("customGbHour")
    if (custom_vcpu is None) != (custom_gb is None):
        raise PriceTableError(f"{where} must give both customVcpuHour and customGbHour, or none")
    return MachineFamily(
        vcpu_hour=_number(entry.get("vcpuHour"), f"{where}.vcpuHour", _MAX_PRICE),
        gb_hour=_number(entry.get("gbHour"), f"{where}.gbHour", _MAX_PRICE),
        gb_per_vcpu={
            _text(shape, f"{where}.gbPerVcpu"): _number(
                gb, f"{where}.gbPerVcpu.{shape}", _MAX_GB_PER_VCPU
            )
            for shape, gb in classes.items()
        },
        source=_source(entry, where) if "source" in entry else default,
        custom_vcpu_hour=None
        if custom_vcpu is None
        else _number(custom_vcpu, f"{where}.customVcpuHour", _MAX_PRICE),
        custom_gb_hour=None
        if custom_gb is None
        else _number(custom_gb, f"{where}.customGbHour", _MAX_PRICE),
        gb_of_type={
            _type_of(name, type_name, f"{where}.gbOfType"): _number(
                gb, f"{where}.gbOfType.{type_name}", _MAX_GB_OF_TYPE
            )
            for type_name, gb in exceptions.items()
        },
    )


def _type_of(family: str, name: str, where: str) -> str:
    """A predefined machine type's name, of this family: an exception for another
    family's type, or for a name no cluster can carry, is a mistake in the table."""
    match = _PREDEFINED.fullmatch(name)
    if match is None or match["family"] != family or match["lssd"]:
        raise PriceTableError(f"{where}: {name[:40]!r} is not a predefined {family} type")
    return name


def _price(value: object, where: str) -> Price:
    entry = _object(value, where)
    return Price(_number(entry.get("usd"), f"{where}.usd", _MAX_PRICE), _source(entry, where))


def _source(entry: dict[str, Any], where: str) -> Source:
    """A price's provenance: the public address it was read from and the day it was read.
    Without them a price cannot be checked by whoever reads the table, so it is refused."""
    address = _text(entry.get("source"), f"{where}.source")
    if not _URL.fullmatch(address):
        raise PriceTableError(f"{where}.source must be an https address")
    read_text = _text(entry.get("read"), f"{where}.read")
    try:
        read = date.fromisoformat(read_text)
    except ValueError:
        raise PriceTableError(f"{where}.read must be a date like 2026-12-03") from None
    return Source(address, read, _text(entry.get("says", ""), f"{where}.says", empty=True))


def _family_name(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9]{0,15}", name):
        raise PriceTableError(f"computeEngine.families: {name[:40]!r} is not a family's name")
    return name


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PriceTableError(f"{where} must be an object")
    return value


def _text(value: object, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or not (value or empty) or len(value) > 2000:
        raise PriceTableError(f"{where} must be a string of at most 2,000 characters")
    return value


def _number(value: object, where: str, most: float) -> float:
    """A positive finite number no larger than ``most``: a price of 0, NaN or a million a
    vCPU-hour is a typing mistake, not a price."""
    # The comparison is False for NaN and infinity, and exact for an int of any size.
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= most:
        return float(value)
    raise PriceTableError(f"{where} must be a number above 0 and at most {most:g}")
