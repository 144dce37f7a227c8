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
    # shared/reference/google-apis.md, "Dataproc prices", and Google's pricing pages.
    assert table.dataproc_vcpu_hour.usd == 0.010
    assert table.dcu_hour.usd == 0.06
    assert table.dcu_premium_hour.usd == 0.089
    assert table.shuffle_gb_month.usd == 0.04
    assert table.dataproc_vcpu_hour.source.address == "https://cloud.google.com/dataproc/pricing"
    assert table.dcu_hour.source.address == "https://cloud.google.com/dataproc-serverless/pricing"
    assert table.dcu_premium_hour.source.address == table.dcu_hour.source.address
    assert table.shuffle_gb_month.source.address.startswith("shared/reference/google-apis.md")
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


def test_the_shipped_table_prices_no_compute_engine_family_and_says_why() -> None:
    """No family could be read from Google's page: none is in the table, each is named."""
    table = shipped_table()
    assert table.families == {}
    assert table.compute_engine_source.address == (
        "https://cloud.google.com/compute/vm-instance-pricing"
    )
    assert set(table.not_sourced) == {"e2", "n1", "n2", "n2d", "c2", "c3", "n4", "t2d"}
    assert "third-party" in table.not_sourced_reason
    priced = compute_engine_hourly(MachineType("n2-standard-8", "n2", "standard", 8), table)
    assert priced.usd_per_hour is None
    assert priced.unknown is not None
    assert "no Compute Engine prices for the n2 family" in priced.unknown
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
        ("custom-4-15360", "no Compute Engine prices for the n1 family"),
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
