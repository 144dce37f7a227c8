"""What the emulator's batches, sessions and clusters say they use and how long they may
run, on the wire: ``runtimeInfo.currentUsage`` while a batch or session runs and
``approximateUsage`` once it has ended, ``environmentConfig.executionConfig.ttl`` and
``idleTtl``, ``runtimeConfig.version``, and a cluster's ``lifecycleConfig`` beside its
instance groups (dataproc_emulator/usage.py and seeds.py say what is served and seeded).

Proven four ways:

- google-cloud-dataproc's REST clients (Batch-, Session- and ClusterControllerClient)
  parse every answer with protobuf's JSON parser, int64 strings, Durations and
  Timestamps included;
- every answer those clients get (recorded as requests sends it) is held to Google's
  dataproc.v1.json as Google's servers write proto3 JSON (``Discovery.answer_problems``:
  every field declared, int64 as strings, RFC 3339 timestamps, durations with 0, 3, 6
  or 9 decimals, an Any held to the schema its @type names), and every request to its
  method;
- gcloud's own generated messages (lib/googlecloudsdk/generated_clients/apis/dataproc/v1,
  decoded with apitools as gcloud decodes answers) read the same answers with no field
  they do not know, in the SDK's Python, without starting gcloud;
- canceller/burn.py reads the numbers from them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from google.cloud import dataproc_v1

from canceller import burn
from canceller.clock import parse_timestamp
from canceller.kinds import CLUSTERS as CLUSTER_KIND
from canceller.prices import shipped_table
from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from dataproc_emulator.usage import DEFAULT_NODE_MILLI_DCU, milli_dcu
from tests.support.discovery import Discovery
from tests.support.google_clients import rest_client

BATCHES = "projects/p/locations/r/batches"
SESSIONS = "projects/p/locations/r/sessions"
CLUSTERS = "projects/p/regions/r/clusters"
NUMERIC = "enum-encoding=int"
BatchState = dataproc_v1.Batch.State
SessionState = dataproc_v1.Session.State


# ---- every answer held to dataproc.v1.json -------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One real-API request a test made, and its answer."""

    method: str
    path: str
    query: dict[str, str]
    body: str
    status: int
    answer: Any


@pytest.fixture(autouse=True)
def exchanges(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Exchange]]:
    """Records every request to the real API (``/v1/``) sent through ``requests``, as the
    REST clients send them; after the test, holds each to its method in dataproc.v1.json
    and each answer to the method's response schema (or Google's error body)."""
    seen: list[Exchange] = []
    send = requests.Session.send

    def recording(
        self: requests.Session, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        response = send(self, request, **kwargs)
        url = urlsplit(request.url or "")
        if url.path.startswith("/v1/"):
            query = dict(parse_qsl(url.query))
            text = _text(request.body)
            answer = response.json()
            seen.append(
                Exchange(request.method or "", url.path, query, text, response.status_code, answer)
            )
        return response

    monkeypatch.setattr(requests.Session, "send", recording)
    yield seen
    discovery = Discovery.installed()
    problems: list[str] = []
    for exchange in seen:
        verdict = discovery.check(exchange.method, exchange.path, exchange.query, exchange.body)
        method = discovery.find(exchange.method, exchange.path)
        if not verdict.conforms or method is None or method.response is None:
            problems.append(str(verdict))
            continue
        if exchange.status >= 300:
            error = exchange.answer.get("error", {})
            if set(error) - {"code", "message", "status", "details"} or "status" not in error:
                problems.append(f"{verdict.request}: not Google's error body: {exchange.answer}")
            continue
        numeric = NUMERIC in exchange.query.get("$alt", "")
        where = f"{exchange.method} {exchange.path} -> {method.response}"
        problems += discovery.answer_problems(
            exchange.answer, method.response, where, numeric_enums=numeric
        )
    assert problems == []


def _text(body: object) -> str:
    """A request's body as text ("" for none)."""
    if isinstance(body, bytes):
        return body.decode()
    return body if isinstance(body, str) else ""


def raw(emulator: DataprocEmulator, name: str) -> dict[str, Any]:
    """A resource as the real API answers it, enums by name (as gcloud asks)."""
    answer = requests.get(f"{emulator.base_url}/v1/{name}", timeout=10)
    assert answer.ok, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture
def batches(emulator: DataprocEmulator) -> dataproc_v1.BatchControllerClient:
    return rest_client(dataproc_v1.BatchControllerClient, emulator)


@pytest.fixture
def sessions(emulator: DataprocEmulator) -> dataproc_v1.SessionControllerClient:
    return rest_client(dataproc_v1.SessionControllerClient, emulator)


@pytest.fixture
def clusters(emulator: DataprocEmulator) -> dataproc_v1.ClusterControllerClient:
    return rest_client(dataproc_v1.ClusterControllerClient, emulator)


def seconds_between(later: Any, earlier: Any) -> float:
    return float((later - earlier).total_seconds())


# ---- the DCU rule ----------------------------------------------------------------------------


def test_the_dcu_rule_of_the_serverless_pricing_page() -> None:
    # The page: the default driver or executor, 4 vCPUs and 16 GB, is 4 DCUs; a vCPU is
    # 0.6 DCU, a GB 0.1 DCU up to 8 GB per vCPU and 0.2 DCU above.
    assert DEFAULT_NODE_MILLI_DCU == milli_dcu(4, 16) == 4000
    assert milli_dcu(4, 32) == 2400 + 3200
    assert milli_dcu(4, 48) == 2400 + 3200 + 16 * 200
    assert milli_dcu(1, 0) == 600


# ---- batches -------------------------------------------------------------------------------


def test_a_running_batch_reports_its_usage_and_an_ended_one_its_total(
    batches: dataproc_v1.BatchControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_batch(name=f"{BATCHES}/default")
    admin.seed_batch(
        name=f"{BATCHES}/etl",
        usage={"milliDcu": 3 * milli_dcu(4, 48), "shuffleStorageGb": 100},
        ttl="7200s",
        runtimeVersion="2.1",
        operation={"completesAfterSeconds": 900},
    )
    admin.seed_batch(name=f"{BATCHES}/slow-cancel", operation={"cancelSeconds": 30})
    admin.seed_batch(name=f"{BATCHES}/unreported", usage=None)
    admin.seed_batch(name=f"{BATCHES}/queued", operation={"state": "PENDING"})

    default = batches.get_batch(name=f"{BATCHES}/default")
    usage = default.runtime_info.current_usage
    # A driver and 4 executors of the default shape, and 25 GB of shuffle storage.
    assert (usage.milli_dcu, usage.milli_dcu_premium, usage.shuffle_storage_gb) == (20000, 0, 25)
    assert usage.snapshot_time == default.create_time
    assert "approximate_usage" not in default.runtime_info
    assert default.runtime_config.version == "2.2"
    assert "ttl" not in default.environment_config.execution_config  # not set: 4 h on 2.1+
    etl = batches.get_batch(name=f"{BATCHES}/etl")
    assert etl.runtime_info.current_usage.milli_dcu == 26400
    assert etl.environment_config.execution_config.ttl == timedelta(hours=2)
    assert etl.runtime_config.version == "2.1"
    assert "current_usage" not in batches.get_batch(name=f"{BATCHES}/unreported").runtime_info
    queued = batches.get_batch(name=f"{BATCHES}/queued")
    assert queued.state == BatchState.PENDING
    assert "current_usage" not in queued.runtime_info  # nothing runs yet
    assert "approximate_usage" not in queued.runtime_info

    admin.advance_clock(90)  # the snapshot is taken again every minute
    later = batches.get_batch(name=f"{BATCHES}/default").runtime_info.current_usage
    assert seconds_between(later.snapshot_time, default.create_time) == pytest.approx(60)
    slow = batches.get_batch(name=f"{BATCHES}/slow-cancel")
    batches.cancel_operation({"name": slow.operation})
    cancelling = batches.get_batch(name=f"{BATCHES}/slow-cancel")
    assert cancelling.state == BatchState.CANCELLING
    assert cancelling.runtime_info.current_usage.milli_dcu == 20000  # still running

    admin.advance_clock(30)
    cancelled = batches.get_batch(name=f"{BATCHES}/slow-cancel")
    assert cancelled.state == BatchState.CANCELLED
    assert "current_usage" not in cancelled.runtime_info
    total = cancelled.runtime_info.approximate_usage
    ran = seconds_between(cancelled.state_time, cancelled.create_time)  # 120 s and a little
    assert ran == pytest.approx(120, abs=1)
    assert total.milli_dcu_seconds == pytest.approx(20000 * ran, abs=1)
    assert total.shuffle_storage_gb_seconds == pytest.approx(25 * ran, abs=1)
    assert total.update_time == cancelled.state_time

    admin.advance_clock(780)
    done = batches.get_batch(name=f"{BATCHES}/etl")
    assert done.state == BatchState.SUCCEEDED
    assert done.runtime_info.approximate_usage.milli_dcu_seconds == pytest.approx(
        26400 * 900, abs=1
    )
    assert done.runtime_info.approximate_usage.shuffle_storage_gb_seconds == pytest.approx(
        100 * 900, abs=1
    )
    listed = {b.name: b for b in batches.list_batches(parent="projects/p/locations/r")}
    assert "approximate_usage" not in listed[f"{BATCHES}/unreported"].runtime_info


# ---- sessions ------------------------------------------------------------------------------


def test_a_session_reports_premium_usage_while_active_and_its_total_once_ended(
    sessions: dataproc_v1.SessionControllerClient, admin: EmulatorAdmin
) -> None:
    admin.seed_session(name=f"{SESSIONS}/default")
    admin.seed_session(
        name=f"{SESSIONS}/notebook",
        usage={"milliDcuPremium": 4 * DEFAULT_NODE_MILLI_DCU, "shuffleStorageGbPremium": 50},
        ttl="36000s",
        idleTtl="1800.5s",
        runtimeVersion="2.3",
        createdSecondsAgo=600,
        terminateSeconds=20,
    )
    admin.seed_session(name=f"{SESSIONS}/no-ttl", ttl=None, idleTtl=None)
    admin.seed_session(name=f"{SESSIONS}/starting", state="CREATING")
    admin.seed_session(name=f"{SESSIONS}/yesterday", state="TERMINATED", createdSecondsAgo=3600)

    default = sessions.get_session(name=f"{SESSIONS}/default")
    usage = default.runtime_info.current_usage
    # The documented minimum (a driver and 2 executors, 12 DCUs), at the premium tier.
    assert (usage.milli_dcu_premium, usage.milli_dcu, usage.shuffle_storage_gb) == (12000, 0, 0)
    execution = default.environment_config.execution_config
    assert (execution.ttl, execution.idle_ttl) == (timedelta(hours=24), timedelta(hours=1))
    assert default.runtime_config.version == "2.2"
    notebook = sessions.get_session(name=f"{SESSIONS}/notebook")
    execution = notebook.environment_config.execution_config
    assert (execution.ttl, execution.idle_ttl) == (timedelta(hours=10), timedelta(seconds=1800.5))
    assert notebook.runtime_config.version == "2.3"
    now_usage = notebook.runtime_info.current_usage
    assert (now_usage.milli_dcu_premium, now_usage.shuffle_storage_gb_premium) == (16000, 50)
    # Taken when it became ACTIVE and every minute since: the last one, 600 s later.
    assert seconds_between(now_usage.snapshot_time, notebook.create_time) == pytest.approx(600)
    bare = sessions.get_session(name=f"{SESSIONS}/no-ttl").environment_config.execution_config
    assert "ttl" not in bare
    assert "idle_ttl" not in bare
    assert "current_usage" not in sessions.get_session(name=f"{SESSIONS}/starting").runtime_info
    yesterday = sessions.get_session(name=f"{SESSIONS}/yesterday").runtime_info
    assert yesterday.approximate_usage.milli_dcu_seconds == pytest.approx(12000 * 3600, abs=1)

    terminating = sessions.terminate_session(name=f"{SESSIONS}/notebook")
    still = sessions.get_session(name=f"{SESSIONS}/notebook")
    assert still.state == SessionState.TERMINATING
    assert still.runtime_info.current_usage.milli_dcu_premium == 16000
    admin.advance_clock(20)
    ended = terminating.result(timeout=10)  # the operation's Session, once TERMINATED
    assert ended.state == SessionState.TERMINATED
    assert "current_usage" not in ended.runtime_info
    total = ended.runtime_info.approximate_usage
    ran = seconds_between(ended.state_time, ended.create_time)  # 620 s and a little
    assert ran == pytest.approx(620, abs=1)
    assert total.milli_dcu_seconds == pytest.approx(16000 * ran, abs=1)
    assert total.shuffle_storage_gb_seconds == pytest.approx(50 * ran, abs=1)
    assert total.update_time == ended.state_time
    assert sessions.get_session(name=f"{SESSIONS}/notebook").runtime_info == ended.runtime_info


# ---- clusters ------------------------------------------------------------------------------


def test_clusters_carry_their_lifecycle_beside_their_instance_groups(
    clusters: dataproc_v1.ClusterControllerClient,
    admin: EmulatorAdmin,
    emulator: DataprocEmulator,
) -> None:
    admin.seed_cluster(
        name=f"{CLUSTERS}/etl",
        createdSecondsAgo=3700,
        runningSecondsAgo=3600,
        workerInstances=4,
        workerMachineType="n2-highmem-8",
        lifecycle={"autoDeleteTtl": "28800s", "idleStopTtl": "1800s", "idleSinceSecondsAgo": 300},
    )
    admin.seed_cluster(
        name=f"{CLUSTERS}/nightly",
        lifecycle={
            "autoDeleteInSeconds": 7200,
            "autoStopInSeconds": 3600,
            "idleDeleteTtl": "600.5s",
        },
    )
    admin.seed_cluster(
        name=f"{CLUSTERS}/burst", secondaryWorkerInstances=3, secondaryWorkerPreemptibility="SPOT"
    )
    admin.seed_cluster(
        name=f"{CLUSTERS}/steady",
        secondaryWorkerInstances=2,
        secondaryWorkerPreemptibility="NON_PREEMPTIBLE",
    )
    admin.seed_cluster(name=f"{CLUSTERS}/plain")

    def get(name: str) -> dataproc_v1.Cluster:
        return clusters.get_cluster(project_id="p", region="r", cluster_name=name)

    etl = get("etl")
    lifecycle = etl.config.lifecycle_config
    assert (lifecycle.auto_delete_ttl, lifecycle.idle_stop_ttl) == (
        timedelta(hours=8),
        timedelta(minutes=30),
    )
    assert "auto_delete_time" not in lifecycle  # one of a oneof with the ttl
    assert seconds_between(lifecycle.idle_start_time, etl.status.state_start_time) == (
        pytest.approx(3300)
    )
    config = etl.config
    groups = [
        (g.num_instances, g.machine_type_uri) for g in (config.master_config, config.worker_config)
    ]
    assert [(count, uri.rsplit("/", 1)[-1]) for count, uri in groups] == [
        (1, "n2-standard-4"),
        (4, "n2-highmem-8"),
    ]
    nightly = get("nightly").config.lifecycle_config
    seeded = get("nightly").status.state_start_time  # RUNNING since it was seeded
    assert seconds_between(nightly.auto_delete_time, seeded) == pytest.approx(7200)
    assert seconds_between(nightly.auto_stop_time, seeded) == pytest.approx(3600)
    assert nightly.idle_delete_ttl == timedelta(seconds=600.5)
    served = raw(emulator, f"{CLUSTERS}/nightly")["config"]["lifecycleConfig"]
    assert set(served) == {"idleDeleteTtl", "autoDeleteTime", "autoStopTime"}
    assert served["idleDeleteTtl"] == "600.500s"  # as proto3 JSON writes a Duration
    preemptibility = dataproc_v1.InstanceGroupConfig.Preemptibility
    burst = get("burst").config.secondary_worker_config
    assert (burst.num_instances, burst.preemptibility, burst.is_preemptible) == (
        3,
        preemptibility.SPOT,
        True,
    )
    steady = get("steady").config.secondary_worker_config
    assert (steady.preemptibility, steady.is_preemptible) == (preemptibility.NON_PREEMPTIBLE, False)
    assert "lifecycle_config" not in get("plain").config


def test_a_read_with_numeric_enums_leaves_the_record_as_it_was(
    clusters: dataproc_v1.ClusterControllerClient,
    admin: EmulatorAdmin,
    emulator: DataprocEmulator,
) -> None:
    # The REST clients ask for enums as numbers; the emulator once wrote them into the
    # stored config and operation results, so a later read by name showed numbers.
    admin.seed_cluster(name=f"{CLUSTERS}/etl", lifecycle={"idleStopTtl": "3600s"})
    where = {"project_id": "p", "region": "r", "cluster_name": "etl"}
    lifecycle = clusters.get_cluster(request=where).config.lifecycle_config
    assert lifecycle.idle_stop_ttl == timedelta(hours=1)
    stop = clusters.stop_cluster(request={**where, "request_id": "stop-1"})
    assert stop.result(timeout=10).status.state == dataproc_v1.ClusterStatus.State.STOPPED
    again = clusters.stop_cluster(request={**where, "request_id": "stop-1"})  # the same, done
    assert again.operation.name == stop.operation.name
    assert again.result(timeout=10).status.state == dataproc_v1.ClusterStatus.State.STOPPED
    assert raw(emulator, f"{CLUSTERS}/etl")["config"]["masterConfig"]["preemptibility"] == (
        "NON_PREEMPTIBLE"
    )
    operation = raw(emulator, stop.operation.name)
    assert operation["response"]["status"]["state"] == "STOPPED"


# ---- gcloud's generated messages ---------------------------------------------------------

# Run in the SDK's Python with its lib/ and lib/third_party: decodes each answer as gcloud
# does (apitools' JsonToMessage into dataproc_v1_messages) and reports every field its
# messages do not know, and the values at the paths asked for.
_DECODE = """
import json, sys
from apitools.base.protorpclite import messages
from apitools.base.py import encoding
from googlecloudsdk.generated_clients.apis.dataproc.v1 import dataproc_v1_messages as dataproc

def unknown(message, where):
    found = [f"{where}.{name}" for name in message.all_unrecognized_fields()]
    for field in message.all_fields():
        if isinstance(field, messages.MessageField):
            value = message.get_assigned_value(field.name)
            for item in (value if field.repeated else [value]) or []:
                if isinstance(item, messages.Message):
                    found += unknown(item, f"{where}.{field.name}")
    return found

out = []
for schema, answer, paths in json.load(sys.stdin):
    message = encoding.JsonToMessage(getattr(dataproc, schema), json.dumps(answer))
    values = {}
    for path in paths:
        value = message
        for name in path.split("."):
            value = getattr(value, name)
        values[path] = value if isinstance(value, (int, str)) else repr(value)
    out.append({"unknown": unknown(message, schema), "values": values})
print(json.dumps(out))
"""


def gcloud_decodes(items: list[tuple[str, dict[str, Any], list[str]]]) -> list[dict[str, Any]]:
    binary = shutil.which("gcloud")
    assert binary, "the Google Cloud CLI (gcloud) is needed: apt-get install google-cloud-cli"
    root = Path(binary).resolve().parent.parent
    bundled = root / "platform" / "bundledpythonunix" / "bin" / "python3"
    python = str(bundled) if bundled.exists() else sys.executable
    assert (root / "lib" / "googlecloudsdk" / "generated_clients" / "apis" / "dataproc").is_dir()
    result = subprocess.run(
        [python, "-S", "-c", _DECODE],
        input=json.dumps(items),
        env={"PYTHONPATH": f"{root / 'lib'}:{root / 'lib' / 'third_party'}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    decoded: list[dict[str, Any]] = json.loads(result.stdout)
    return decoded


def test_gcloud_messages_know_every_field_served(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    admin.seed_batch(name=f"{BATCHES}/running", ttl="14400s", runtimeVersion="2.1")
    # The Serverless pricing page's example: 3 VMs of 4 DCUs, 2 of them with a GPU, and
    # 400 GB of shuffle storage each, for 60 seconds.
    admin.seed_batch(
        name=f"{BATCHES}/gpu",
        usage={
            "milliDcu": 3 * 4000,
            "milliAccelerator": 2 * 1000,
            "acceleratorType": "nvidia-l4",
            "shuffleStorageGb": 3 * 400,
        },
        operation={"completesAfterSeconds": 60},
    )
    admin.seed_session(name=f"{SESSIONS}/active", idleTtl="900s")
    admin.seed_session(name=f"{SESSIONS}/ended", state="TERMINATED", createdSecondsAgo=60)
    admin.seed_cluster(
        name=f"{CLUSTERS}/etl",
        runningSecondsAgo=600,
        secondaryWorkerInstances=2,
        secondaryWorkerPreemptibility="SPOT",
        lifecycle={"autoDeleteTtl": "86400s", "idleDeleteTtl": "600s", "idleSinceSecondsAgo": 60},
    )
    admin.seed_cluster(name=f"{CLUSTERS}/nightly", lifecycle={"autoStopInSeconds": 3600})
    gpu_running = raw(emulator, f"{BATCHES}/gpu")
    admin.advance_clock(60)
    usage, total = "runtimeInfo.currentUsage", "runtimeInfo.approximateUsage"
    totals = [f"{total}.{name}" for name in ("milliDcuSeconds", "milliAcceleratorSeconds")]
    items: list[tuple[str, dict[str, Any], list[str]]] = [
        ("Batch", raw(emulator, f"{BATCHES}/running"), [f"{usage}.milliDcu"]),
        ("Batch", gpu_running, [f"{usage}.milliAccelerator", f"{usage}.acceleratorType"]),
        ("Batch", raw(emulator, f"{BATCHES}/gpu"), [*totals, f"{total}.shuffleStorageGbSeconds"]),
        ("Session", raw(emulator, f"{SESSIONS}/active"), [f"{usage}.milliDcuPremium"]),
        ("Session", raw(emulator, f"{SESSIONS}/ended"), [f"{total}.updateTime"]),
        ("Cluster", raw(emulator, f"{CLUSTERS}/etl"), ["config.lifecycleConfig.autoDeleteTtl"]),
        ("Cluster", raw(emulator, f"{CLUSTERS}/nightly"), ["config.lifecycleConfig.autoStopTime"]),
    ]
    # And one that is not the emulator's, to show that an unknown field is reported.
    made_up = {"runtimeInfo": {"currentUsage": {"milliDcu": "1", "milliDcuTotal": "2"}}}
    decoded = gcloud_decodes([*items, ("Batch", made_up, [])])
    assert [entry["unknown"] for entry in decoded] == [[]] * len(items) + [
        ["Batch.runtimeInfo.currentUsage.milliDcuTotal"]
    ]
    values = [entry["values"] for entry in decoded]
    assert values[0] == {f"{usage}.milliDcu": 20000}  # an int64 string, read as an integer
    assert values[1] == {f"{usage}.milliAccelerator": 2000, f"{usage}.acceleratorType": "nvidia-l4"}
    # The page's figures: 720000 milli-DCU-seconds, 120000 milli-accelerator-seconds and
    # 72000 GB-seconds.
    assert list(values[2].values()) == [720000, 120000, 72000]
    assert values[3] == {f"{usage}.milliDcuPremium": 12000}
    assert values[5] == {"config.lifecycleConfig.autoDeleteTtl": "86400s"}


# ---- what canceller/burn.py reads --------------------------------------------------------


def test_burn_reads_the_numbers_the_emulator_serves(
    admin: EmulatorAdmin, emulator: DataprocEmulator
) -> None:
    table = shipped_table()
    admin.seed_batch(name=f"{BATCHES}/etl", ttl="7200s")
    admin.seed_session(name=f"{SESSIONS}/notebook")
    admin.seed_cluster(
        name=f"{CLUSTERS}/etl",
        createdSecondsAgo=1900,
        runningSecondsAgo=1800,
        workerInstances=4,
        workerMachineType="n2-highmem-8",
        lifecycle={"autoDeleteTtl": "7200s"},
    )
    batch = raw(emulator, f"{BATCHES}/etl")
    session = raw(emulator, f"{SESSIONS}/notebook")
    cluster = raw(emulator, f"{CLUSTERS}/etl")
    now = parse_timestamp(batch["runtimeInfo"]["currentUsage"]["snapshotTime"])
    assert now is not None

    batch_burn = burn.batch_burn(batch, table)
    assert batch_burn.usage == {"dcu": 20.0, "dcuPremium": 0.0, "shuffleStorageGb": 25}
    assert batch_burn.usd_per_hour == pytest.approx(
        20 * table.dcu_hour.usd + 25 * table.shuffle_gb_month.usd / table.hours_per_month
    )
    assert batch_burn.usage_at == batch["runtimeInfo"]["currentUsage"]["snapshotTime"]
    horizon = burn.batch_horizon(batch, now)
    assert horizon.basis == "ttl"
    assert horizon.hours == pytest.approx(2.0)

    session_burn = burn.session_burn(session, table)
    assert session_burn.usage == {"dcu": 0.0, "dcuPremium": 12.0, "shuffleStorageGb": 0}
    assert session_burn.usd_per_hour == pytest.approx(12 * table.dcu_premium_hour.usd)
    assert burn.session_horizon(session, now).basis == "ttl"

    cluster_burn = CLUSTER_KIND.burn(cluster, table)
    assert cluster_burn.usage["vcpus"] == 4 + 4 * 8  # an n2-standard-4 and 4 n2-highmem-8
    assert cluster_burn.parts["dataprocFee"] == pytest.approx(36 * table.dataproc_vcpu_hour.usd)
    cluster_horizon = CLUSTER_KIND.horizon(cluster, now)
    # Two hours from its creation (CREATING), 1,900 s ago.
    assert cluster_horizon.basis == "autoDeleteTtl"
    assert cluster_horizon.hours == pytest.approx((7200 - 1900) / 3600, abs=1e-3)


# ---- seeds stay strict -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "seed", "said"),
    [
        ("batch", {"usage": {"milliDCU": 1}}, "usage has unknown keys ['milliDCU']"),
        ("batch", {"usage": {"milliDcu": "20000"}}, "usage.milliDcu='20000': expected an integer"),
        ("batch", {"usage": {"milliDcu": -1}}, "expected 0 to 9223372036854775807"),
        ("batch", {"usage": {"shuffleStorageGbPremium": 10}}, "goes only with premium DCUs"),
        ("batch", {"usage": {"acceleratorType": "nvidia-l4"}}, "goes with milliAccelerator"),
        ("batch", {"ttl": "4h"}, 'expected a google-duration such as "3600s"'),
        ("batch", {"ttl": "300s"}, "Dataproc takes 600 s to 14 days"),
        ("batch", {"ttl": "1209601s"}, "Dataproc takes 600 s to 14 days"),
        ("batch", {"idleTtl": "3600s"}, "unknown keys ['idleTtl']"),  # sessions only
        ("batch", {"runtimeVersion": "latest"}, "expected a runtime version"),
        ("session", {"idleTtl": 3600}, "expected a google-duration"),
        ("session", {"usage": []}, "usage must be a JSON object"),
        ("cluster", {"lifecycle": {"autoDelete": "1h"}}, "unknown keys ['autoDelete']"),
        (
            "cluster",
            {"lifecycle": {"autoDeleteTtl": "7200s", "autoDeleteInSeconds": 600}},
            "not both: they are one of a oneof",
        ),
        ("cluster", {"lifecycle": {"idleDeleteTtl": "60s"}}, "Dataproc takes 300 s to 14 days"),
        ("cluster", {"lifecycle": {"autoStopTtl": "300s"}}, "Dataproc takes 600 s to 14 days"),
        ("cluster", {"lifecycle": {"autoStopInSeconds": 0}}, "more than 0 and at most 14 days"),
        ("cluster", {"lifecycle": {"idleSinceSecondsAgo": 10}}, "goes with idleDeleteTtl"),
        (
            "cluster",
            {"lifecycle": {"idleStopTtl": "600s", "idleSinceSecondsAgo": 10}},
            "idle at the earliest once it is RUNNING",
        ),
        (
            "cluster",
            {"state": "CREATING", "lifecycle": {"idleStopTtl": "600s", "idleSinceSecondsAgo": 0}},
            "idle at the earliest once it is RUNNING",
        ),
        ("cluster", {"config": {}, "lifecycle": {}}, "config and gke each stand alone"),
        ("cluster", {"secondaryWorkerPreemptibility": "SPOT"}, "applies to secondary workers"),
        (
            "cluster",
            {"secondaryWorkerInstances": 2, "secondaryWorkerPreemptibility": "spot"},
            "expected one of ['NON_PREEMPTIBLE', 'PREEMPTIBLE', 'SPOT']",
        ),
    ],
)
def test_seeds_refuse_what_dataproc_would_not_serve(
    admin: EmulatorAdmin, kind: str, seed: dict[str, Any], said: str
) -> None:
    names = {
        "batch": f"{BATCHES}/b",
        "session": f"{SESSIONS}/s",
        "cluster": f"{CLUSTERS}/c",
    }
    seeders = {
        "batch": admin.seed_batch,
        "session": admin.seed_session,
        "cluster": admin.seed_cluster,
    }
    with pytest.raises(requests.HTTPError) as refused:
        seeders[kind](name=names[kind], **seed)
    response = refused.value.response
    assert response is not None
    assert response.status_code == 400
    assert said in response.json()["error"]["message"]


# ---- the checker notices -----------------------------------------------------------------


def test_the_answer_checker_notices_what_google_would_not_write() -> None:
    discovery = Discovery.installed()
    batch = {
        "runtimeInfo": {
            "currentUsage": {"milliDcu": 20000, "milliDCU": "1", "snapshotTime": "2025-01-01"},
            "approximateUsage": {"milliDcuSeconds": "12", "updateTime": "2025-01-01T00:00:00Z"},
        },
        "environmentConfig": {"executionConfig": {"ttl": "1h", "idleTtl": "600.5s"}},
        "state": "DONE",
    }
    where = "Batch.runtimeInfo.currentUsage"
    assert discovery.answer_problems(batch, "Batch") == [
        f"{where}.milliDcu=20000: not a string (int64)",
        f"{where}.milliDCU is not a field of UsageSnapshot",
        f"{where}.snapshotTime='2025-01-01': not an RFC 3339 UTC timestamp with 0, 3, 6 or "
        "9 decimals",
        "Batch.environmentConfig.executionConfig.ttl='1h': not a duration in seconds with 0, "
        "3, 6 or 9 decimals",
        "Batch.environmentConfig.executionConfig.idleTtl='600.5s': not a duration in seconds "
        "with 0, 3, 6 or 9 decimals",
        "Batch.state='DONE' is not one of ['STATE_UNSPECIFIED', 'PENDING', 'RUNNING', "
        "'CANCELLING', 'CANCELLED', 'SUCCEEDED', 'FAILED']",
    ]
    assert discovery.answer_problems({"state": 2}, "Batch", numeric_enums=True) == []
    # An Any is held to the schema its @type names.
    operation = {
        "name": "projects/p/regions/r/operations/o",
        "response": {
            "@type": "type.googleapis.com/google.cloud.dataproc.v1.Session",
            "runtimeInfo": {"approximateUsage": {"milliDcuSeconds": 5}},
        },
    }
    assert discovery.answer_problems(operation, "Operation") == [
        "Operation.response<Session>.runtimeInfo.approximateUsage.milliDcuSeconds=5: "
        "not a string (int64)"
    ]
