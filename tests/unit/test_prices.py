"""The price table shipped as data, its checks, and machine-type names: what a cluster's
price is read from, and what stays unknown rather than guessed."""

from __future__ import annotations

import copy
import json
from datetime import date
from importlib import resources
from typing import Any

import pytest

from canceller.prices import (
    SHIPPED_TABLE,
    MachineType,
    PriceTableError,
    compute_engine_hourly,
    machine_type,
    price_table,
    scaled,
    shipped_table,
)

SHIPPED: dict[str, Any] = json.loads(
    resources.files("canceller").joinpath(SHIPPED_TABLE).read_text(encoding="utf-8")
)
# Made-up round prices, NOT Google's: they exercise the arithmetic on a family the
# shipped table lacks. Memory per vCPU of n2's classes as a table would give them.
MADE_UP_N2 = {
    "vcpuHour": 0.03,
    "gbHour": 0.004,
    "gbPerVcpu": {"standard": 4, "highcpu": 1},
    "customVcpuHour": 0.033,
    "customGbHour": 0.0045,
}


def document_with(**families: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(SHIPPED)
    document["computeEngine"]["families"].update(families)
    return document


def test_the_shipped_table_holds_the_dataproc_prices_with_their_sources() -> None:
    table = shipped_table()
    assert table.region == "us-central1"
    assert table.currency == "USD"
    # Google's pricing pages: https://cloud.google.com/dataproc/pricing and
    # https://cloud.google.com/dataproc-serverless/pricing.
    assert table.dataproc_vcpu_hour.usd == 0.010
    assert table.dcu_hour.usd == 0.06
    assert table.dcu_premium_hour.usd == 0.089
    assert table.shuffle_gb_month.usd == 0.04
    assert table.dataproc_vcpu_hour.source.address == "https://cloud.google.com/dataproc/pricing"
    assert table.dcu_hour.source.address == "https://cloud.google.com/dataproc-serverless/pricing"
    assert table.dcu_premium_hour.source.address == table.dcu_hour.source.address
    assert table.shuffle_gb_month.source.address == table.dcu_hour.source.address
    for price in (
        table.dataproc_vcpu_hour,
        table.dcu_hour,
        table.dcu_premium_hour,
        table.shuffle_gb_month,
    ):
        assert price.source.read == date(2026, 12, 3)
        assert price.source.says
    assert table.hours_per_month == 730  # 365 * 24 / 12
    assert table.label == "us-central1 on-demand list prices (USD)"


DATA_SET = (
    "https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator/blob/"
    "fd66b26ff84fee5cdd94f341ea89206e76c06b99/pricing.yml"
)


def test_compute_engine_prices_come_from_a_catalog_generated_data_set_with_its_date() -> None:
    """Google's VM instance pricing page could not be read; the prices are those of a data
    set generated from the Cloud Billing Catalog API, named with its generation and the
    figures on Google's pages it was checked against."""
    table = shipped_table()
    source = table.compute_engine_source
    assert source.address == DATA_SET
    assert source.read == date(2026, 12, 3)
    assert "generated Thu Jul 30 06:13:17 2026" in source.says
    assert "Cloud Billing Catalog API" in source.says
    engine = SHIPPED["computeEngine"]
    assert any("cloud.google.com/docs/cuds-verify-discounts" in c for c in engine["crossChecks"])
    assert any("general-purpose-machines" in m for m in engine["memoryFrom"])
    assert set(table.families) == {"e2", "n1", "n2", "n2d", "c3", "n4"}
    for family in table.families.values():
        assert family.source == source
        assert family.custom_vcpu_hour is None  # custom types are not in the data set


# Each family's vCPU-hour and GB-hour prices (the data set's) and the memory per vCPU of
# its classes (Google's machine family pages).
GENERAL = {"standard": 4, "highmem": 8, "highcpu": 1}
FAMILIES: dict[str, tuple[float, float, dict[str, float]]] = {
    "e2": (0.02181159, 0.00292353, GENERAL),
    "n1": (0.031611, 0.004237, {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}),
    "n2": (0.031611, 0.004237, GENERAL),
    "n2d": (0.027502, 0.003686, GENERAL),
    "c3": (0.03465, 0.003938, {"standard": 4, "highmem": 8, "highcpu": 2}),
    "n4": (0.03119, 0.00354, {"standard": 4, "highmem": 8, "highcpu": 2}),
}


# A type of each family worked by hand: vCPUs x the vCPU price + GB x the GB price, which
# is also the data set's price for that type.
@pytest.mark.parametrize(
    ("name", "memory_gb", "usd_per_hour"),
    [
        ("e2-standard-8", 32, 0.26804568),  # 8 x $0.02181159 + 32 x $0.00292353
        ("n1-standard-4", 15, 0.189999),  # 4 x $0.031611 + 15 x $0.004237
        ("n1-highcpu-16", 14.4, 0.5667888),  # 16 x $0.031611 + 14.4 x $0.004237
        ("n2-standard-8", 32, 0.388472),  # 8 x $0.031611 + 32 x $0.004237
        ("n2d-standard-16", 64, 0.675936),  # 16 x $0.027502 + 64 x $0.003686
        ("c3-highcpu-22", 44, 0.935572),  # 22 x $0.03465 + 44 x $0.003938
        ("n4-highmem-8", 64, 0.47608),  # 8 x $0.03119 + 64 x $0.00354
    ],
)
def test_each_familys_prices_and_a_type_worked_by_hand(
    name: str, memory_gb: float, usd_per_hour: float
) -> None:
    table = shipped_table()
    machine = machine_type(name) or _fail()
    vcpu_hour, gb_hour, classes = FAMILIES[machine.family]
    family = table.families[machine.family]
    assert (family.vcpu_hour, family.gb_hour) == (vcpu_hour, gb_hour)
    assert family.gb_per_vcpu == classes
    priced = compute_engine_hourly(machine, table)
    assert priced.unknown is None
    assert priced.details["memoryGb"] == pytest.approx(memory_gb)
    assert priced.usd_per_hour == pytest.approx(usd_per_hour, abs=1e-12)
    assert priced.usd_per_hour == pytest.approx(
        machine.vcpus * vcpu_hour + memory_gb * gb_hour, abs=1e-12
    )


def test_every_shipped_family_is_tested() -> None:
    assert set(shipped_table().families) == set(FAMILIES)


def test_n2_highmem_128_has_864_gb_not_its_classes_1024() -> None:
    """Google's general-purpose machine page: n2-highmem-128, 128 vCPUs, 864 GB."""
    table = shipped_table()
    priced = compute_engine_hourly(machine_type("n2-highmem-128") or _fail(), table)
    # 128 x $0.031611 + 864 GB x $0.004237 = $4.046208 + $3.660768
    assert priced.details["memoryGb"] == 864
    assert priced.usd_per_hour == pytest.approx(7.706976, abs=1e-12)
    # Its smaller sibling follows the class: 96 x 8 GB.
    sibling = compute_engine_hourly(machine_type("n2-highmem-96") or _fail(), table)
    assert sibling.details["memoryGb"] == 768


def test_the_prices_agree_with_figures_on_googles_pages() -> None:
    table = shipped_table()
    n1, n2 = table.families["n1"], table.families["n2"]
    # cloud.google.com/docs/cuds-verify-discounts: "N2 Instance Core running in Americas",
    # On-demand List Price $0.03161.
    assert round(n2.vcpu_hour, 5) == 0.03161
    # Google Cloud Pricing Calculator, Iowa, Regular, 5/18/23: n1-standard-1 for 1,460 hours
    # USD 69.35; n1-standard-8 for 4,380 hours USD 1,664.39.
    one = compute_engine_hourly(machine_type("n1-standard-1") or _fail(), table)
    eight = compute_engine_hourly(machine_type("n1-standard-8") or _fail(), table)
    assert round((one.usd_per_hour or 0) * 1460, 2) == 69.35
    assert round((eight.usd_per_hour or 0) * 4380, 2) == 1664.39
    assert n1.vcpu_hour == n2.vcpu_hour and n1.gb_hour == n2.gb_hour


@pytest.mark.parametrize("name", ["c2-standard-8", "t2d-standard-4"])
def test_families_the_data_set_cannot_split_stay_unknown_and_say_why(name: str) -> None:
    """C2 and T2D have one memory class: their types' prices cannot be split into a vCPU
    price and a GB price, so neither is guessed."""
    table = shipped_table()
    assert set(table.not_sourced) == {"c2", "t2d"}
    assert "one memory class" in table.not_sourced_reason
    assert "third-party" in table.not_sourced_reason
    machine = machine_type(name) or _fail()
    priced = compute_engine_hourly(machine, table)
    assert priced.usd_per_hour is None
    assert priced.unknown is not None
    assert f"no Compute Engine prices for the {machine.family} family" in priced.unknown
    assert table.not_sourced_reason in priced.unknown


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("n2-standard-8", MachineType("n2-standard-8", "n2", "standard", 8)),
        ("e2-highmem-4", MachineType("e2-highmem-4", "e2", "highmem", 4)),
        ("n1-highcpu-96", MachineType("n1-highcpu-96", "n1", "highcpu", 96)),
        ("m1-ultramem-40", MachineType("m1-ultramem-40", "m1", "ultramem", 40)),
        (
            "c3-standard-4-lssd",
            MachineType("c3-standard-4-lssd", "c3", "standard", 4, local_ssd=True),
        ),
        (
            "https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a/machineTypes/"
            "n2d-standard-16",
            MachineType("n2d-standard-16", "n2d", "standard", 16),
        ),
        (
            "projects/p/zones/us-central1-a/machineTypes/t2d-standard-2",
            MachineType("t2d-standard-2", "t2d", "standard", 2),
        ),
        # A custom type with no family is N1's; the memory is in MB.
        ("custom-6-23040", MachineType("custom-6-23040", "n1", "custom", 6, memory_mb=23040)),
        ("n2-custom-6-23040", MachineType("n2-custom-6-23040", "n2", "custom", 6, 23040)),
        (
            "n2-custom-2-20480-ext",
            MachineType("n2-custom-2-20480-ext", "n2", "custom", 2, 20480, extended_memory=True),
        ),
        # Shared-core types carry no vCPU count, GPU types count GPUs: never guessed.
        ("e2-medium", None),
        ("f1-micro", None),
        ("a2-highgpu-1g", None),
        ("n2-standard", None),
        ("n2-standard-8-extra", None),
        ("", None),
    ],
)
def test_machine_type_names(uri: str, expected: MachineType | None) -> None:
    assert machine_type(uri) == expected


def test_a_predefined_type_is_its_vcpus_and_its_classs_memory() -> None:
    table = price_table(document_with(n2=MADE_UP_N2))
    priced = compute_engine_hourly(MachineType("n2-standard-8", "n2", "standard", 8), table)
    # 8 vCPUs * $0.03 + (8 * 4 GB) * $0.004 = $0.24 + $0.128
    assert priced.unknown is None
    assert priced.usd_per_hour == pytest.approx(0.368)
    assert priced.details == pytest.approx({"vcpus": 0.24, "memory": 0.128, "memoryGb": 32})
    highcpu = compute_engine_hourly(MachineType("n2-highcpu-16", "n2", "highcpu", 16), table)
    assert highcpu.usd_per_hour == pytest.approx(16 * 0.03 + 16 * 0.004)


def test_a_custom_type_is_priced_at_the_familys_custom_prices() -> None:
    table = price_table(document_with(n2=MADE_UP_N2))
    priced = compute_engine_hourly(machine_type("n2-custom-6-23040") or _fail(), table)
    # 6 vCPUs * $0.033 + 22.5 GB (23,040 MB / 1,024) * $0.0045
    assert priced.usd_per_hour == pytest.approx(6 * 0.033 + 22.5 * 0.0045)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("n2-highmem-8", "does not say the memory of n2-highmem"),
        ("n2-standard-4-lssd", "bundles local SSD"),
        ("n2-custom-2-20480-ext", "extended memory"),
        ("custom-4-15360", "no custom machine type prices for n1"),
        ("c2-standard-4", "no Compute Engine prices for the c2 family"),
    ],
)
def test_what_the_table_cannot_price_is_unknown(name: str, why: str) -> None:
    table = price_table(document_with(n2=MADE_UP_N2))
    priced = compute_engine_hourly(machine_type(name) or _fail(), table)
    assert priced.usd_per_hour is None
    assert priced.unknown is not None
    assert why in priced.unknown


def test_custom_types_are_unknown_where_the_family_has_no_custom_prices() -> None:
    predefined_only = {k: v for k, v in MADE_UP_N2.items() if not k.startswith("custom")}
    table = price_table(document_with(n2=predefined_only))
    priced = compute_engine_hourly(machine_type("n2-custom-6-23040") or _fail(), table)
    assert priced.unknown == "the price table has no custom machine type prices for n2"


def test_a_family_without_its_own_source_takes_the_pages() -> None:
    table = price_table(document_with(n2=MADE_UP_N2))
    assert table.families["n2"].source == table.compute_engine_source
    sourced = dict(MADE_UP_N2, source="https://example.com/n2", read="2026-01-02")
    table = price_table(document_with(n2=sourced))
    assert table.families["n2"].source.address == "https://example.com/n2"
    assert table.families["n2"].source.read == date(2026, 1, 2)


def _broken(change: str) -> dict[str, Any]:
    document = copy.deepcopy(SHIPPED)
    fee = document["dataproc"]["vcpuHour"]
    if change == "no source":
        del fee["source"]
    elif change == "http source":
        fee["source"] = "http://cloud.google.com/dataproc/pricing"
    elif change == "file source":
        fee["source"] = "reference/google-prices.md, Dataproc prices"
    elif change == "no read date":
        del fee["read"]
    elif change == "bad read date":
        fee["read"] = "3 December 2026"
    elif change.startswith("usd="):
        fee["usd"] = json.loads(change[4:])
    elif change == "no dataproc":
        del document["dataproc"]
    elif change == "bad family name":
        document["computeEngine"]["families"]["N2!"] = MADE_UP_N2
    elif change == "half custom":
        document["computeEngine"]["families"]["n2"] = dict(MADE_UP_N2, customGbHour=None)
    elif change == "zero memory":
        document["computeEngine"]["families"]["n2"] = dict(MADE_UP_N2, gbPerVcpu={"standard": 0})
    elif change.startswith("gbOfType="):
        document["computeEngine"]["families"]["n2"]["gbOfType"] = json.loads(change[9:])
    elif change == "bad not sourced":
        document["computeEngine"]["notSourced"]["families"] = "e2"
    else:
        raise AssertionError(change)
    return document


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("no source", "dataproc.vcpuHour.source must be a string"),
        ("http source", "must be an https address"),
        ("file source", "must be an https address"),  # a reader must be able to reach it
        ("no read date", "dataproc.vcpuHour.read must be a string"),
        ("bad read date", "must be a date like 2026-12-03"),
        ("usd=0", "dataproc.vcpuHour.usd must be a number above 0"),
        ("usd=-0.01", "must be a number above 0"),
        ("usd=true", "must be a number above 0"),
        ('usd="0.010"', "must be a number above 0"),
        ("usd=1e999", "must be a number above 0"),  # infinity, from JSON
        ("usd=" + "9" * 400, "must be a number above 0"),  # an int past any float
        ("usd=1001", "at most 1000"),
        ("no dataproc", "dataproc must be an object"),
        ("bad family name", "is not a family's name"),
        ("half custom", "both customVcpuHour and customGbHour"),
        ("zero memory", "gbPerVcpu.standard must be a number above 0"),
        ("bad not sourced", "must be a list of names"),
        ('gbOfType={"n1-highmem-128": 864}', "'n1-highmem-128' is not a predefined n2 type"),
        ('gbOfType={"n2-standard-4-lssd": 16}', "is not a predefined n2 type"),
        ('gbOfType={"n2-custom-2-4096": 4}', "is not a predefined n2 type"),
        ('gbOfType={"n2-highmem-128": 0}', "gbOfType.n2-highmem-128 must be a number above 0"),
        ('gbOfType=["n2-highmem-128"]', "computeEngine.families.n2.gbOfType must be an object"),
    ],
)
def test_a_wrong_table_is_refused_whole(change: str, said: str) -> None:
    with pytest.raises(PriceTableError) as raised:
        price_table(_broken(change))
    assert said in str(raised.value)


def test_nan_is_refused() -> None:
    document = copy.deepcopy(SHIPPED)
    document["serverless"]["dcuHour"]["usd"] = float("nan")
    with pytest.raises(PriceTableError, match=r"serverless\.dcuHour\.usd"):
        price_table(document)


def test_a_table_must_be_an_object() -> None:
    with pytest.raises(PriceTableError, match="the price table must be an object"):
        price_table([])


def _fail() -> MachineType:
    raise AssertionError("the name should have parsed")


def test_price_multiplier_scales_every_price_and_is_named() -> None:
    table = shipped_table()
    dearer = scaled(table, 1.25)
    assert dearer.dataproc_vcpu_hour.usd == pytest.approx(table.dataproc_vcpu_hour.usd * 1.25)
    assert dearer.dcu_premium_hour.usd == pytest.approx(table.dcu_premium_hour.usd * 1.25)
    assert dearer.shuffle_gb_month.usd == pytest.approx(table.shuffle_gb_month.usd * 1.25)
    n2 = machine_type("n2-standard-8")
    assert n2 is not None
    plain, more = compute_engine_hourly(n2, table), compute_engine_hourly(n2, dearer)
    assert plain.usd_per_hour is not None and more.usd_per_hour is not None
    assert more.usd_per_hour == pytest.approx(plain.usd_per_hour * 1.25)
    assert dearer.label.endswith("x 1.25 (PRICE_MULTIPLIER)")
    assert scaled(table, 1) is table and "PRICE_MULTIPLIER" not in table.label
