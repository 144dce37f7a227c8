"""End to end, as deployed, for what each stop is worth and who is told: burn and
savedUpTo on the results, a summary's money, and one chat message per trigger posted to
a local incoming-webhook receiver (NOTIFY_WEBHOOK_URL), whatever that receiver answers.

Pub/Sub emulator -> push subscription -> functions-framework running main.stop_dataproc_work
-> Dataproc emulator -> results topic, and -> the chat receiver.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from canceller.prices import compute_engine_hourly, machine_type, shipped_table
from local_stack import LocalStack, PubSubEmulator
from local_stack.chat_receiver import Receiver, chat_receiver
from local_stack.loopback_server import Received
from local_stack.stack import TRIGGER_TOPIC
from tests.support.e2e import ResultInbox

pytestmark = pytest.mark.e2e

PROJECT, REGION = "money-project", "us-central1"
SCOPE = f"projects/{PROJECT}/regions/{REGION}"
CLUSTER_NAMES = f"{SCOPE}/clusters"
JOBS = f"{SCOPE}/jobs"
BATCHES = f"projects/{PROJECT}/locations/{REGION}/batches"
SESSIONS = f"projects/{PROJECT}/locations/{REGION}/sessions"
BILLING = {"billingAccountId": "01-02-03", "budgetId": "b-money", "schemaVersion": "1.0"}
TABLE = shipped_table()
# The receiver's answer, switched by a test: 200 "ok", or 500 to see a failure is harmless.
ANSWER = {"status": 200}


def _answer(_: Received) -> tuple[int, dict[str, str], bytes]:
    status = ANSWER["status"]
    return status, {"Content-Type": "text/plain"}, b"ok" if status == 200 else b"no"


@pytest.fixture(scope="module")
def chat() -> Iterator[Receiver]:
    with chat_receiver(_answer) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def stack(chat: Receiver, pubsub_emulator: PubSubEmulator) -> Iterator[LocalStack]:
    env = {
        "VERIFY_TIMEOUT_SECONDS": "3",
        "RETRY_DEADLINE_SECONDS": "3",
        "ALLOWED_PROJECTS": PROJECT,
        "SWEEP_SCOPES": SCOPE,
        "TRIGGER_TOPIC": f"projects/{PROJECT}/topics/{TRIGGER_TOPIC}",
        "BUDGET_LADDER": "1.0:clusters",
        "NOTIFY_WEBHOOK_URL": chat.url(),
    }
    with LocalStack(PROJECT, function_env=env, pubsub=pubsub_emulator) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(inbox: ResultInbox, chat: Receiver) -> None:
    inbox.admin.reset()
    ANSWER["status"] = 200
    chat.requests.clear()


def n2_standard_4() -> float:
    machine = machine_type("n2-standard-4")
    assert machine is not None
    priced = compute_engine_hourly(machine, TABLE)
    assert priced.usd_per_hour is not None
    return priced.usd_per_hour


def cluster_burn(vcpus: int, instances: int) -> float:
    """Dataproc's fee on every vCPU plus Compute Engine's n2-standard-4 price a VM."""
    return vcpus * TABLE.dataproc_vcpu_hour.usd + instances * n2_standard_4()


def chat_texts(chat: Receiver, count: int, timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(chat.requests) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # and nothing more
    return chat.texts()


def test_a_batch_carries_its_burn_and_what_its_ttl_would_have_cost(
    inbox: ResultInbox, chat: Receiver
) -> None:
    inbox.admin.seed_batch(
        name=f"{BATCHES}/hungry",
        operation={"cancelSeconds": 0.3},
        usage={"milliDcu": 8000, "shuffleStorageGb": 100},
        ttl="7200s",
    )
    result = inbox.result(inbox.publish({"batch": f"{BATCHES}/hungry"}))
    assert result["outcome"] == "CANCELLED"
    expected = 8 * TABLE.dcu_hour.usd + 100 * TABLE.shuffle_gb_month.usd / TABLE.hours_per_month
    assert result["burn"]["usdPerHour"] == pytest.approx(expected, abs=1e-6)
    assert result["burn"]["usage"] == {"dcu": 8.0, "dcuPremium": 0.0, "shuffleStorageGb": 100}
    saved = result["savedUpTo"]
    assert saved["horizon"]["basis"] == "ttl"
    assert 1.9 < saved["horizon"]["hours"] <= 2.0  # the rest of 2 h from its creation
    assert saved["usd"] == pytest.approx(expected * saved["horizon"]["hours"], rel=1e-3)
    (text,) = chat_texts(chat, 1)
    assert text.startswith("*Dataproc canceller: stopped 1*")
    assert f"Burn stopped: ${expected:,.2f} an hour; saved up to ${saved['usd']:,.2f}." in text


def test_a_session_is_priced_at_the_premium_dcu(inbox: ResultInbox, chat: Receiver) -> None:
    inbox.admin.seed_session(name=f"{SESSIONS}/notebook", usage={"milliDcu": 12000})
    result = inbox.result(inbox.publish({"session": f"{SESSIONS}/notebook"}))
    assert result["outcome"] == "CANCELLED"
    assert result["burn"]["usdPerHour"] == pytest.approx(12 * TABLE.dcu_premium_hour.usd)
    assert result["savedUpTo"]["horizon"]["basis"] == "ttl"  # the emulator gives 86400s
    assert 23.9 < result["savedUpTo"]["horizon"]["hours"] <= 24
    assert len(chat_texts(chat, 1)) == 1


def test_a_sweep_totals_what_it_stopped_and_a_job_shows_its_cluster(
    inbox: ResultInbox, chat: Receiver
) -> None:
    cluster = inbox.admin.seed_cluster(
        name=f"{CLUSTER_NAMES}/costly",
        stopSeconds=0.3,
        lifecycle={"autoDeleteTtl": "10800s"},
        runningSecondsAgo=3600,
    )
    inbox.admin.seed_job(
        name=f"{JOBS}/on-costly",
        clusterName="costly",
        clusterUuid=cluster["clusterUuid"],
        cancelSeconds=0.2,
    )
    message = inbox.publish({"sweep": {"scopes": [SCOPE], "kinds": ["jobs", "clusters"]}})
    results = {r["target"] or "summary": r for r in inbox.results(message, 3)}
    stopped, job = results[f"{CLUSTER_NAMES}/costly"], results[f"{JOBS}/on-costly"]
    burn = cluster_burn(12, 3)  # an n2-standard-4 master and 2 workers
    assert stopped["burn"]["usdPerHour"] == pytest.approx(burn, abs=1e-6)
    assert stopped["savedUpTo"]["horizon"]["basis"] == "autoDeleteTtl"
    assert job["burn"]["unknown"].startswith("a job's share of its cluster is not knowable")
    assert job["burn"]["cluster"]["usdPerHour"] == pytest.approx(burn, abs=1e-6)
    assert "savedUpTo" not in job
    money = results["summary"]["money"]
    assert (money["stopped"], money["priced"], money["saved"]) == (2, 1, 1)
    assert money["burnUsdPerHour"] == pytest.approx(burn, abs=1e-6)
    assert money["savedUpToUsd"] == pytest.approx(stopped["savedUpTo"]["usd"], abs=1e-6)
    (text,) = chat_texts(chat, 1)
    assert "Stopped (2):" in text
    assert f"Burn stopped: ${burn:,.2f} an hour" in text
    assert "(1 of 2 stops priced; 1 not priced, e.g. a job's share" in text


def test_a_job_alone_reads_its_cluster_once_for_reference(inbox: ResultInbox) -> None:
    cluster = inbox.admin.seed_cluster(name=f"{CLUSTER_NAMES}/shared")
    for name in ("first", "second"):
        inbox.admin.seed_job(
            name=f"{JOBS}/{name}",
            clusterName="shared",
            clusterUuid=cluster["clusterUuid"],
            cancelSeconds=0.2,
        )
    results = inbox.results(inbox.publish({"jobs": [f"{JOBS}/first", f"{JOBS}/second"]}), 2)
    for result in results:
        assert result["burn"]["cluster"]["usdPerHour"] == pytest.approx(cluster_burn(12, 3))
    cluster_reads = [r for r in inbox.admin.requests() if r["apiMethod"] == "clusters.get"]
    assert len(cluster_reads) == 1  # one a message, not one a job
    assert (
        inbox.admin.cluster_internals(f"{CLUSTER_NAMES}/shared")["cluster"]["status"]["state"]
        == "RUNNING"
    )  # for reference only: never stopped


def test_a_budget_action_saves_up_to_the_rest_of_its_period(
    inbox: ResultInbox, chat: Receiver
) -> None:
    inbox.admin.seed_cluster(name=f"{CLUSTER_NAMES}/idle-forever", stopSeconds=0.3)
    now = datetime.now(UTC)
    start = datetime(now.year, now.month, 1, 8, tzinfo=UTC)
    body = {
        "budgetDisplayName": "money",
        "costAmount": 150.0,
        "costIntervalStart": start.isoformat().replace("+00:00", "Z"),
        "budgetAmount": 100.0,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "USD",
    }
    message = inbox.publish(body, BILLING)
    (stopped,) = inbox.results_where(
        lambda r: r["trigger"]["messageId"] == message and r["outcome"] == "CANCELLED", 1
    )
    horizon = stopped["savedUpTo"]["horizon"]
    month_end = (start + timedelta(days=32)).replace(day=1)
    assert horizon["basis"] == "budgetPeriod"
    assert horizon["until"].startswith(month_end.strftime("%Y-%m-%dT08:00:00"))
    assert horizon["hours"] == pytest.approx((month_end - now).total_seconds() / 3600, abs=0.05)
    texts = chat_texts(chat, 1)
    assert len(texts) == 1 and "Trigger: budget “money” at 150%" in texts[0]


def test_a_failing_webhook_is_logged_and_harms_nothing(
    inbox: ResultInbox, chat: Receiver, stack: LocalStack
) -> None:
    ANSWER["status"] = 500
    inbox.admin.seed_job(name=f"{JOBS}/despite", cancelSeconds=0.2)
    message = inbox.publish({"job": f"{JOBS}/despite"})
    assert inbox.result(message)["outcome"] == "CANCELLED"
    inbox.no_more(message, wait=3.0)  # acked: no redelivery, no second answer
    assert len(chat_texts(chat, 1)) == 1  # one POST, never retried
    failed = [
        record
        for record in stack.function.json_log_records()
        if record.get("notification") == "FAILED" and record.get("messageId") == message
    ]
    assert len(failed) == 1 and failed[0]["httpStatus"] == 500
    assert "local-receiver" not in json.dumps(failed)  # the URL's secret part is never logged


def test_nothing_worth_telling_posts_nothing(inbox: ResultInbox, chat: Receiver) -> None:
    inbox.admin.seed_job(name=f"{JOBS}/done", state="DONE")
    assert inbox.result(inbox.publish({"job": f"{JOBS}/done"}))["outcome"] == "ALREADY_DONE"
    assert chat_texts(chat, 0, timeout=1.0) == []
