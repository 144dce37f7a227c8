"""Burn rates and savings against hand-worked examples from Google's pricing pages, and
what stays unknown: a cluster whose machine types the table cannot price, a job."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

import pytest

from canceller.burn import (
    Burn,
    Horizon,
    batch_burn,
    batch_horizon,
    budget_period_end,
    job_burn,
    otherwise,
    parse_duration,
    saved_up_to,
    session_burn,
    session_horizon,
)
from canceller.clock import rfc3339
from canceller.kinds import CLUSTERS
from canceller.prices import SHIPPED_TABLE, PriceTable, price_table, shipped_table

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
TABLE = shipped_table()
# Made-up round prices, NOT Google's: round figures that exercise the cluster arithmetic
# in place of the shipped table's n1 prices. n1's classes as Google names them.
MADE_UP_N1 = {
    "vcpuHour": 0.03,
    "gbHour": 0.004,
    "gbPerVcpu": {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9},
}


def table_with_n1() -> PriceTable:
    document = json.loads(
        resources.files("canceller").joinpath(SHIPPED_TABLE).read_text(encoding="utf-8")
    )
    document["computeEngine"]["families"]["n1"] = MADE_UP_N1
    return price_table(document)


def group(machine: str, count: int, **more: Any) -> dict[str, Any]:
    return {
        "numInstances": count,
        "machineTypeUri": f"https://www.googleapis.com/compute/v1/projects/p/zones/"
        f"us-central1-a/machineTypes/{machine}",
        **more,
    }


def cluster(**config: Any) -> dict[str, Any]:
    return {
        "clusterName": "etl",
        "status": {"state": "RUNNING", "stateStartTime": rfc3339(NOW - timedelta(hours=3))},
        "config": config,
    }


# The Dataproc pricing page's example (cloud.google.com/dataproc/pricing): a master and
# five workers, all n1-standard-4, "24 virtual CPUs"; "Dataproc charge = # of vCPUs *
# hours * Dataproc price = 24 * 2 * $0.01 = $0.48" for 2 hours.
GOOGLES_CLUSTER = cluster(
    masterConfig=group("n1-standard-4", 1), workerConfig=group("n1-standard-4", 5)
)


def test_googles_cluster_example_the_dataproc_fee() -> None:
    burn = CLUSTERS.burn(GOOGLES_CLUSTER, TABLE)
    assert burn.usage == {"instances": 6, "vcpus": 24}
    assert burn.parts["dataprocFee"] == pytest.approx(0.24)  # $0.010 x 24 vCPUs
    two_hours = Horizon(2.0, "autoDeleteTime", "for the example")
    saving = saved_up_to(burn.parts["dataprocFee"], two_hours)
    assert saving is not None
    assert saving.usd == pytest.approx(0.48)


def test_googles_cluster_example_at_the_shipped_n1_prices() -> None:
    """The shipped table's n1 prices (a Catalog-generated data set, see prices-us-central1.json):
    each n1-standard-4 is 4 x $0.031611 + 15 GB x $0.004237 = $0.189999 an hour."""
    burn = CLUSTERS.burn(GOOGLES_CLUSTER, TABLE)
    assert burn.unknown is None
    assert burn.parts == pytest.approx({"dataprocFee": 0.24, "computeEngine": 6 * 0.189999})
    assert burn.usd_per_hour == pytest.approx(0.24 + 1.139994)
    saving = saved_up_to(burn.usd_per_hour, Horizon(2.0, "autoDeleteTime", "for the example"))
    assert saving is not None
    assert saving.usd == pytest.approx(2 * 1.379994)


def test_a_cluster_whose_compute_engine_price_the_table_lacks_is_unknown() -> None:
    """The shipped table has no c2 or t2d prices: the total is unknown, never the fee alone."""
    lacking = cluster(
        masterConfig=group("c2-standard-4", 1), workerConfig=group("t2d-standard-4", 5)
    )
    burn = CLUSTERS.burn(lacking, TABLE)
    assert burn.usd_per_hour is None
    assert burn.unknown is not None
    assert "the masters' Compute Engine price" in burn.unknown
    assert "the workers' Compute Engine price" in burn.unknown
    assert "no Compute Engine prices for the c2 family" in burn.unknown
    assert "no Compute Engine prices for the t2d family" in burn.unknown
    assert "computeEngine" not in burn.parts
    assert saved_up_to(burn.usd_per_hour, Horizon(2.0, "oneHour", "x")) is None
    shown = burn.as_json()
    assert "usdPerHour" not in shown
    assert shown["parts"] == {"dataprocFee": 0.24}
    assert shown["prices"] == "us-central1 on-demand list prices (USD)"


def test_a_cluster_the_table_prices_is_the_fee_and_its_vms() -> None:
    burn = CLUSTERS.burn(GOOGLES_CLUSTER, table_with_n1())
    # Each n1-standard-4 (made-up prices): 4 x $0.03 + 15 GB x $0.004 = $0.18; six of them.
    assert burn.unknown is None
    assert burn.parts == pytest.approx({"dataprocFee": 0.24, "computeEngine": 6 * 0.18})
    assert burn.usd_per_hour == pytest.approx(0.24 + 1.08)
    assert burn.as_json()["usdPerHour"] == 1.32


def test_secondary_workers_are_preemptible_unless_said_otherwise() -> None:
    """Their fee counts (Dataproc bills every VM); their VMs are billed below the
    on-demand list, so the table cannot price them."""
    preemptible = cluster(
        masterConfig=group("n1-standard-4", 1),
        workerConfig=group("n1-standard-4", 2),
        secondaryWorkerConfig=group("n1-standard-8", 3),
    )
    burn = CLUSTERS.burn(preemptible, table_with_n1())
    assert burn.usd_per_hour is None
    assert burn.usage == {"instances": 6, "vcpus": 4 + 8 + 24}
    assert burn.parts == {"dataprocFee": pytest.approx(0.36)}
    assert burn.unknown == (
        "the secondaryWorkers' Compute Engine price: PREEMPTIBLE VMs, billed below the "
        "on-demand prices the table holds"
    )
    spot = copy.deepcopy(preemptible)
    spot["config"]["secondaryWorkerConfig"]["preemptibility"] = "SPOT"
    assert "SPOT VMs" in (CLUSTERS.burn(spot, table_with_n1()).unknown or "")
    on_demand = copy.deepcopy(preemptible)
    on_demand["config"]["secondaryWorkerConfig"]["preemptibility"] = "NON_PREEMPTIBLE"
    # 3 x n1-standard-8 (made-up prices): 8 x $0.03 + 30 GB x $0.004 = $0.36 each.
    priced = CLUSTERS.burn(on_demand, table_with_n1())
    assert priced.usd_per_hour == pytest.approx(0.36 + 3 * 0.18 + 3 * 0.36)


@pytest.mark.parametrize(
    ("master", "why"),
    [
        (
            group("n1-standard-4", 1, accelerators=[{"acceleratorCount": 1}]),
            "GPUs, which the price table lacks",
        ),
        (
            group("n1-standard-4", 1, instanceFlexibilityPolicy={}),
            "",  # an empty object says nothing: priced
        ),
        (
            group("n1-standard-4", 1, instanceFlexibilityPolicy={"provisioningModelMix": {}}),
            "flexible VMs",
        ),
        (group("n1-custom-4-15360", 1), "no custom machine type prices for n1"),
    ],
)
def test_what_a_group_carries_can_make_its_price_unknown(master: dict[str, Any], why: str) -> None:
    burn = CLUSTERS.burn(cluster(masterConfig=master), table_with_n1())
    assert burn.parts["dataprocFee"] == pytest.approx(0.04)
    if why:
        assert burn.usd_per_hour is None
        assert why in (burn.unknown or "")
    else:
        assert burn.usd_per_hour == pytest.approx(0.04 + 0.18)


def test_a_machine_type_that_does_not_say_its_vcpus_leaves_even_the_fee_unknown() -> None:
    burn = CLUSTERS.burn(
        cluster(masterConfig=group("e2-medium", 1), workerConfig=group("n1-standard-4", 2)),
        table_with_n1(),
    )
    assert burn.usd_per_hour is None
    assert burn.parts == {}
    assert burn.usage == {"instances": 3}
    assert burn.unknown == "the master machine type e2-medium does not say its vCPUs"


@pytest.mark.parametrize(
    ("resource", "why"),
    [
        ({"clusterName": "gke", "virtualClusterConfig": {}}, "Dataproc on GKE"),
        ({"clusterName": "bare"}, "its config lists no instances"),
        (cluster(workerConfig=group("n1-standard-4", 0)), "its config lists no instances"),
        (
            cluster(masterConfig=group("n1-standard-4", 1), workerFlexibleConfig={"x": 1}),
            "workerFlexibleConfig (High Obtainability) VMs are not read",
        ),
        (
            cluster(masterConfig=group("n1-standard-4", 1), auxiliaryNodeGroups=[{}]),
            "auxiliary node groups",
        ),
    ],
)
def test_clusters_whose_vms_are_not_all_read_are_unknown(
    resource: dict[str, Any], why: str
) -> None:
    burn = CLUSTERS.burn(resource, table_with_n1())
    assert burn.usd_per_hour is None
    assert why in (burn.unknown or "")
    assert "dataprocFee" not in burn.parts


# The Serverless pricing page's example (cloud.google.com/dataproc-serverless/pricing):
# "a batch workload runs with 12 DCUs ... for 24 hours in the us-central1 region ...
# Total compute cost = 12 * 24 * $0.060000 = $17.28".
def serverless(
    milli_dcu: object = "12000", ttl: str | None = "86400s", **usage: object
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "createTime": rfc3339(NOW),
        "runtimeConfig": {"version": "2.2"},
        "runtimeInfo": {
            "currentUsage": {
                "milliDcu": milli_dcu,
                "snapshotTime": rfc3339(NOW),
                **usage,
            }
        },
        "environmentConfig": {"executionConfig": {"ttl": ttl} if ttl else {}},
    }
    return resource


def test_googles_serverless_example_12_dcus_for_24_hours() -> None:
    batch = serverless()
    burn = batch_burn(batch, TABLE)
    assert burn.usd_per_hour == pytest.approx(12 * 0.06)
    assert burn.usage == {"dcu": 12, "dcuPremium": 0, "shuffleStorageGb": 0}
    assert burn.usage_at == rfc3339(NOW)
    horizon = batch_horizon(batch, NOW)
    assert (horizon.hours, horizon.basis) == (24, "ttl")
    saving = saved_up_to(burn.usd_per_hour, horizon)
    assert saving is not None
    assert saving.usd == pytest.approx(17.28)
    assert saving.as_json() == {
        "usd": 17.28,
        "horizon": {
            "hours": 24,
            "basis": "ttl",
            "until": "2026-12-04T12:00:00.000Z",
            "said": "the rest of its ttl (86400s)",
        },
    }


def test_shuffle_storage_is_its_monthly_price_over_730_hours() -> None:
    """25 GB at $0.04 a GB-month: $1.00 a month, $1.00 / 730 an hour."""
    burn = batch_burn(serverless(milli_dcu="0", shuffleStorageGb="25"), TABLE)
    assert burn.usd_per_hour == pytest.approx(1.00 / 730)
    assert burn.as_json()["usdPerHour"] == 0.00137  # rounded to a millionth
    saving = saved_up_to(burn.usd_per_hour, Horizon(24.0, "ttl", "a day"))
    assert saving is not None
    assert saving.usd == pytest.approx(24 / 730)  # $0.0329 for a day


def test_a_batchs_premium_dcus_are_at_the_premium_price() -> None:
    burn = batch_burn(serverless(milli_dcu="4000", milliDcuPremium="8000"), TABLE)
    assert burn.usd_per_hour == pytest.approx(4 * 0.06 + 8 * 0.089)
    assert burn.parts == pytest.approx({"dcu": 0.24, "dcuPremium": 0.712, "shuffleStorage": 0})


def test_a_sessions_dcus_are_all_at_the_premium_price() -> None:
    """Interactive sessions are billed at premium, whichever field counts their DCUs."""
    burn = session_burn(serverless(milli_dcu="12000", milliDcuPremium="500"), TABLE)
    assert burn.usage == {"dcu": 0, "dcuPremium": 12.5, "shuffleStorageGb": 0}
    assert burn.usd_per_hour == pytest.approx(12.5 * 0.089)


@pytest.mark.parametrize(
    ("usage", "what"),
    [
        ({"shuffleStorageGbPremium": "10"}, "premium shuffle storage"),
        ({"milliAcceleratorL4": "1000"}, "L4 accelerators"),
        ({"milliAccelerator": "500", "acceleratorType": "nvidia-l4"}, "accelerators"),
    ],
)
def test_usage_the_table_cannot_price_makes_the_burn_unknown(
    usage: dict[str, str], what: str
) -> None:
    burn = batch_burn(serverless(**usage), TABLE)
    assert burn.usd_per_hour is None
    assert burn.unknown == f"it uses {what}, which the price table does not price"
    assert burn.parts["dcu"] == pytest.approx(0.72)  # the known part is still shown


def test_zero_of_an_unpriced_resource_costs_nothing() -> None:
    burn = batch_burn(serverless(shuffleStorageGbPremium="0", milliAcceleratorL4="0"), TABLE)
    assert burn.usd_per_hour == pytest.approx(0.72)


@pytest.mark.parametrize("count", ["-5", "abc", "1.5", 1.5, True, None, "9" * 14, 10**13])
def test_a_count_that_is_not_an_int64_is_not_believed(count: object) -> None:
    burn = batch_burn(serverless(milli_dcu=count), TABLE)
    assert burn.usd_per_hour is None
    assert (burn.unknown or "").startswith("runtimeInfo.currentUsage.milliDcu is not a count")


def test_an_int64_sent_as_a_number_is_read() -> None:
    assert batch_burn(serverless(milli_dcu=12000), TABLE).usd_per_hour == pytest.approx(0.72)


@pytest.mark.parametrize("runtime", [None, {}, {"currentUsage": None}, {"currentUsage": "12"}])
def test_no_usage_reported_is_unknown(runtime: object) -> None:
    resource = {"runtimeInfo": runtime} if runtime is not None else {}
    for burn in (batch_burn(resource, TABLE), session_burn(resource, TABLE)):
        assert burn.usd_per_hour is None
        assert burn.unknown == "Dataproc has not reported its usage (runtimeInfo.currentUsage)"


def test_a_jobs_burn_is_not_knowable_and_its_cluster_is_given_for_reference() -> None:
    the_cluster = CLUSTERS.burn(GOOGLES_CLUSTER, table_with_n1())
    burn = job_burn(the_cluster)
    assert burn.usd_per_hour is None
    assert "a job's share of its cluster is not knowable" in (burn.unknown or "")
    assert burn.as_json()["cluster"] == the_cluster.as_json()
    assert saved_up_to(burn.usd_per_hour, Horizon(1.0, "oneHour", "x")) is None
    unread = job_burn(None)
    assert (unread.unknown or "").endswith("(the cluster's burn was not read)")
    assert unread.as_json() == {"prices": "", "unknown": unread.unknown}


# --- horizons ---------------------------------------------------------------------------


def test_the_rest_of_a_ttl_counts_from_createtime() -> None:
    batch = serverless(ttl="14400s")
    batch["createTime"] = rfc3339(NOW - timedelta(hours=1))
    horizon = batch_horizon(batch, NOW)
    assert horizon.hours == pytest.approx(3)
    assert horizon.until == NOW + timedelta(hours=3)
    batch["createTime"] = rfc3339(NOW - timedelta(hours=5))
    assert batch_horizon(batch, NOW).hours == 0  # past its ttl: nothing left to save


def test_a_ttl_with_no_createtime_is_all_of_it() -> None:
    batch = serverless(ttl="3600.5s")
    del batch["createTime"]
    horizon = batch_horizon(batch, NOW)
    assert horizon.hours == pytest.approx(3600.5 / 3600)
    assert horizon.until is None
    assert horizon.said == "its ttl (3600s; its start unread: all of it)"


@pytest.mark.parametrize(("version", "hours"), [("2.1", 4), ("2.2", 4), ("3.0", 4), (None, 4)])
def test_a_batch_without_ttl_has_four_hours_on_runtime_2_1_and_later(
    version: str | None, hours: float
) -> None:
    batch = serverless(ttl=None)
    if version is None:
        del batch["runtimeConfig"]
    else:
        batch["runtimeConfig"]["version"] = version
    horizon = batch_horizon(batch, NOW)
    assert (horizon.hours, horizon.basis) == (hours, "defaultTtl")


def test_a_batch_on_an_older_runtime_runs_until_it_exits() -> None:
    batch = serverless(ttl=None)
    batch["runtimeConfig"]["version"] = "2.0"
    horizon = batch_horizon(batch, NOW)
    assert (horizon.hours, horizon.basis) == (1, "oneHour")
    assert horizon.said == "one hour (no ttl: a batch on runtime 2.0 runs until it exits)"
    budget = batch_horizon(batch, NOW, budget_period_end=NOW + timedelta(days=10))
    assert (budget.hours, budget.basis) == (240, "budgetPeriod")


def test_a_session_has_24_hours_unless_its_ttl_says() -> None:
    session = serverless(ttl=None)
    session["createTime"] = rfc3339(NOW - timedelta(hours=2))
    horizon = session_horizon(session, NOW)
    assert (horizon.hours, horizon.basis) == (22, "defaultTtl")
    session["environmentConfig"]["executionConfig"]["ttl"] = "36000s"
    assert session_horizon(session, NOW).hours == 8


def test_an_unread_ttl_is_not_believed() -> None:
    batch = serverless(ttl="4h")
    horizon = batch_horizon(batch, NOW)
    assert horizon.basis == "oneHour"
    assert "its ttl '4h' is unread" in horizon.said
    assert session_horizon(batch, NOW).basis == "oneHour"


def lifecycle(created: datetime | None = None, **config: Any) -> dict[str, Any]:
    resource = cluster(masterConfig=group("n1-standard-4", 1), lifecycleConfig=config)
    if created is not None:
        resource["statusHistory"] = [
            {"state": "CREATING", "stateStartTime": rfc3339(created)},
            {"state": "RUNNING", "stateStartTime": rfc3339(created + timedelta(minutes=2))},
        ]
    return resource


def test_a_clusters_first_scheduled_end_is_its_horizon() -> None:
    resource = lifecycle(
        autoStopTime=rfc3339(NOW + timedelta(hours=5)),
        autoDeleteTime=rfc3339(NOW + timedelta(hours=2)),
    )
    horizon = CLUSTERS.horizon(resource, NOW)
    assert (horizon.hours, horizon.basis) == (2, "autoDeleteTime")
    assert horizon.said == "its lifecycleConfig.autoDeleteTime, when it is to be deleted"


def test_a_clusters_lifetime_ttls_count_from_its_creation() -> None:
    resource = lifecycle(NOW - timedelta(hours=1), autoStopTtl="36000s", autoDeleteTtl="86400s")
    horizon = CLUSTERS.horizon(resource, NOW)
    assert (horizon.hours, horizon.basis) == (9, "autoStopTtl")
    unborn = lifecycle(None, autoStopTtl="36000s")  # no CREATING state read: no end known
    assert CLUSTERS.horizon(unborn, NOW).basis == "oneHour"


def test_idle_ttls_count_only_from_an_idle_start() -> None:
    busy = lifecycle(idleDeleteTtl="3600s")
    assert CLUSTERS.horizon(busy, NOW).basis == "oneHour"
    idle = lifecycle(idleDeleteTtl="3600s", idleStartTime=rfc3339(NOW - timedelta(minutes=30)))
    horizon = CLUSTERS.horizon(idle, NOW)
    assert (horizon.hours, horizon.basis) == (0.5, "idleDeleteTtl")


def test_a_cluster_with_nothing_scheduled_has_the_budgets_rest_or_an_hour() -> None:
    resource = lifecycle()
    assert CLUSTERS.horizon(resource, NOW).as_json() == {
        "hours": 1,
        "basis": "oneHour",
        "until": "2026-12-03T13:00:00.000Z",
        "said": "one hour (nothing is scheduled to stop or delete it)",
    }
    budget = CLUSTERS.horizon(resource, NOW, period_end=NOW + timedelta(hours=36))
    assert (budget.hours, budget.basis) == (36, "budgetPeriod")
    assert budget.said == (
        "the rest of the budget period (nothing is scheduled to stop or delete it)"
    )
    ended = CLUSTERS.horizon(resource, NOW, period_end=NOW - timedelta(hours=1))
    assert ended.basis == "oneHour"


def test_otherwise_is_one_hour_without_a_budget() -> None:
    assert otherwise(NOW, None, "why").hours == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("14400s", 14400),
        ("0.5s", 0.5),
        ("3.000000001s", 3),
        ("1209600s", 1209600),  # 14 days, Dataproc's maximum ttl
        ("31622400s", 31622400),  # 366 days
        ("31622401s", None),
        ("4h", None),
        ("-5s", None),
        ("5", None),
        (" 5s", None),
        (5, None),
        (None, None),
    ],
)
def test_google_durations(text: object, seconds: float | None) -> None:
    duration = parse_duration(text)
    assert (None if duration is None else duration.total_seconds()) == seconds


def test_an_unknown_burn_saves_nothing_and_a_known_one_its_whole_horizon() -> None:
    horizon = Horizon(1.5, "ttl", "x")
    assert saved_up_to(None, horizon) is None
    saving = saved_up_to(2.0, horizon)
    assert saving is not None
    assert saving.usd == 3.0
    assert Burn(None, "why", "p").as_json() == {"prices": "p", "unknown": "why"}


def test_a_budgets_period_ends_a_month_quarter_or_year_after_its_start() -> None:
    start = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # midnight Pacific, in summer time
    assert budget_period_end(start) == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert budget_period_end(start, "QUARTER") == datetime(2027, 2, 1, 7, 0, tzinfo=UTC)
    assert budget_period_end(start, "YEAR") == datetime(2027, 11, 1, 7, 0, tzinfo=UTC)
    december = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert budget_period_end(december) == datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
    custom = budget_period_end(start, "CALENDAR_PERIOD_UNSPECIFIED", date(2026, 11, 20))
    assert custom == datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
    assert budget_period_end(start, "CALENDAR_PERIOD_UNSPECIFIED") is None  # no end
    assert budget_period_end(None) is None
    assert budget_period_end(start, "MONTH", date(2026, 10, 1)) is None  # ended already
