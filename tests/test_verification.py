"""The poll schedule's promise, classification by the seed's rule, and state flattening."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from canceller.verification import (
    describe_state,
    is_done,
    poll_offsets,
    was_cancelled,
    watch,
)

BATCH_META = {
    "@type": "type.googleapis.com/google.cloud.dataproc.v1.BatchOperationMetadata",
    "batch": "projects/p/locations/us-central1/batches/b-1",
    "operationType": "BATCH",
    "createTime": "2026-11-27T10:00:00Z",
}


def test_first_recheck_is_immediate_and_detection_stays_within_the_promise() -> None:
    offsets = list(itertools.islice(poll_offsets(), 60))
    assert offsets[0] == 0.0
    assert offsets[1] < 0.5
    assert offsets == sorted(offsets)
    # An operation ending just after poll k is noticed at poll k+1; leave 50 ms for the GET.
    for before, after in itertools.pairwise(offsets):
        assert after + 0.05 <= 1.25 * before + 0.2
    assert max(b - a for a, b in itertools.pairwise(offsets)) <= 10.0 + 1e-9


@pytest.mark.parametrize(
    ("operation", "done", "cancelled"),
    [
        ({"name": "x"}, False, False),
        ({"name": "x", "done": False}, False, False),
        ({"done": True, "error": {"code": 1, "message": "cancelled"}}, True, True),
        ({"done": True, "error": {"code": 13, "message": "boom"}}, True, False),
        ({"done": True, "response": {"@type": "x"}}, True, False),
        ({"error": {"code": 1}}, False, False),
        ({"done": "true", "error": {"code": 1}}, False, False),
    ],
)
def test_classification(operation: dict[str, Any], done: bool, cancelled: bool) -> None:
    assert is_done(operation) is done
    assert was_cancelled(operation) is cancelled


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_watch_sees_the_end_on_schedule() -> None:
    time = FakeTime()
    ends_at = {"fast": time.now + 0.3, "slow": time.now + 3.0}
    checks: list[tuple[str, float]] = []

    def poll(pending: list[str]) -> list[str]:
        time.now += 0.02  # the GETs' round trip
        checks.extend((key, time.now) for key in pending)
        return [key for key in pending if time.now < ends_at[key]]

    left, rounds = watch(["fast", "slow"], poll, timeout=60, clock=time.clock, sleep=time.sleep)
    assert left == []
    assert checks[0] == ("fast", 100.02)  # the first check is immediate
    for key, ended in ends_at.items():
        seen = max(at for k, at in checks if k == key)
        assert seen - 100.0 <= 1.25 * (ended - 100.0) + 0.2
    assert time.now - 100.0 < 3.95
    assert rounds == len({at for _, at in checks})  # one round per poll call
    assert len([key for key, _ in checks if key == "fast"]) < len(
        [key for key, _ in checks if key == "slow"]
    )  # a finished operation is not checked again


def test_watch_gives_up_at_the_timeout() -> None:
    time = FakeTime()

    def poll(pending: list[str]) -> list[str]:
        time.now += 0.01
        return pending

    left, rounds = watch(["x"], poll, timeout=5.0, clock=time.clock, sleep=time.sleep)
    assert left == ["x"]
    assert 5.0 <= time.now - 100.0 < 5.1  # the last check is at the timeout itself
    assert rounds >= 10


def test_watch_with_zero_timeout_checks_once_and_nothing_pending_checks_never() -> None:
    time = FakeTime()
    calls: list[list[str]] = []

    def poll(pending: list[str]) -> list[str]:
        calls.append(pending)
        return pending

    assert watch(["x"], poll, timeout=0, clock=time.clock, sleep=time.sleep) == (["x"], 1)
    assert watch([], poll, timeout=5, clock=time.clock, sleep=time.sleep) == ([], 0)
    assert calls == [["x"]]


def test_describe_state_flattens_batch_and_cluster_metadata() -> None:
    batch = describe_state(
        {"done": True, "error": {"code": 1, "message": "c"}, "metadata": BATCH_META}
    )
    assert batch == {
        "done": True,
        "errorCode": 1,
        "errorMessage": "c",
        "metadataType": "BatchOperationMetadata",
        "operationType": "BATCH",
        "batch": "projects/p/locations/us-central1/batches/b-1",
        "createTime": "2026-11-27T10:00:00Z",
    }
    cluster = describe_state(
        {
            "metadata": {
                "@type": "type.googleapis.com/google.cloud.dataproc.v1.ClusterOperationMetadata",
                "clusterName": "etl",
                "clusterUuid": "u-1",
                "operationType": "CREATE",
                "status": {"state": "RUNNING", "stateStartTime": "2026-11-27T09:00:00Z"},
            },
        }
    )
    assert cluster["done"] is False
    assert cluster["clusterName"] == "etl"
    assert cluster["createTime"] == "2026-11-27T09:00:00Z"
    assert describe_state({"done": True, "response": {}})["hasResponse"] is True
