"""Decoding the job and session forms, and the sweep fields that select kinds."""

from __future__ import annotations

import json

import pytest

from canceller.message import decode_trigger
from canceller.names import ResourceName
from tests.support.pubsub_events import pubsub_event

JOB = "projects/my-project/regions/us-central1/jobs/spark_etl-1"
JOB_NAME = ResourceName("job", "my-project", "us-central1", "spark_etl-1")
SESSION_NAME = ResourceName("session", "my-project", "us-central1", "notebook-7")
SESSION = "projects/my-project/locations/us-central1/sessions/notebook-7"
BATCH = "projects/my-project/locations/us-central1/batches/nightly"


@pytest.mark.parametrize(
    ("body", "kind", "expected"),
    [
        ({"job": JOB}, "job", [JOB_NAME]),
        (
            {"jobs": [JOB, JOB]},
            "job",
            [JOB_NAME],
        ),
        (
            {"session": SESSION, "reason": "idle notebook", "dryRun": True},
            "session",
            [SESSION_NAME],
        ),
        (
            {"sessions": [SESSION]},
            "session",
            [SESSION_NAME],
        ),
        (JOB, "job", [JOB_NAME]),
        (f"https://us-central1-dataproc.googleapis.com/v1/{JOB}:cancel", "job", None),
        (f"https://dataproc.googleapis.com/v1/{SESSION}:terminate", "session", None),
        (SESSION, "session", None),
        (BATCH, "batch", None),
    ],
)
def test_every_kind_in_every_form(
    body: object, kind: str, expected: list[ResourceName] | None
) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    trigger = decode_trigger(pubsub_event(text))
    assert trigger.rejections == ()
    assert trigger.info.kind == kind
    assert [name.kind for name in trigger.targets] == [kind]
    if expected is not None:
        assert list(trigger.targets) == expected


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"job": SESSION}, "expected a job name"),
        ({"session": JOB}, "expected a session name"),
        (
            {"jobs": [f"projects/my-project/regions/us-central1/jobs/{'j' * 101}"]},
            "expected a job name",
        ),
        (
            {"sessions": ["projects/my-project/locations/us-central1/sessions/UPPER"]},
            "session name",
        ),
        ({"job": JOB, "session": SESSION}, "exactly one of"),
        ({"jobs": [JOB] * 101}, "at most 100"),
        ({"sweep": {"kinds": ["batches"]}}, "sweep.kinds has batches"),
        ({"sweep": {"kinds": ["batches"]}}, "through their operations"),
        ({"sweep": {"kinds": "jobs"}}, "list of strings"),
        ({"sweep": {"clusterUuid": "not a uuid"}}, "clusterUuid"),
        ({"sweep": {"continuation": {"sweepId": "x", "generation": 1}}}, "sweepId"),
        ({"sweep": {"continuation": {"sweepId": "sweep-1", "generation": 0}}}, "generation"),
        ({"sweep": {"continuation": {"sweepId": "sweep-1"}}}, "continuation must be"),
        ({"sweep": {"filter": "state = RUNNING"}}, "state must be one of"),
        ({"sweep": {"filter": "status.state = CANCEL_PENDING"}}, "status.state must be one of"),
    ],
)
def test_refusals_name_the_problem(body: object, fragment: str) -> None:
    trigger = decode_trigger(pubsub_event(json.dumps(body)))
    assert trigger.targets == ()
    assert trigger.sweep is None
    [rejection] = trigger.rejections
    assert fragment in rejection.detail


def test_sweep_kinds_cluster_uuid_and_continuation() -> None:
    body = {
        "sweep": {
            "kinds": ["jobs", "sessions", "jobs"],
            "clusterUuid": "0b7e2c4a-1d2f-4e3a-9b8c-7d6e5f4a3b2c",
            "filter": 'state = ACTIVE AND labels.team = "etl"',
            "continuation": {"sweepId": "sweep-4711", "generation": 3},
            "max": 250,
        }
    }
    trigger = decode_trigger(pubsub_event(json.dumps(body)))
    assert trigger.rejections == ()
    spec = trigger.sweep
    assert spec is not None
    assert spec.kinds == ("jobs", "sessions")
    assert spec.cluster_uuid == "0b7e2c4a-1d2f-4e3a-9b8c-7d6e5f4a3b2c"
    assert trigger.chain is not None
    assert (trigger.chain.id, trigger.chain.generation, spec.max) == ("sweep-4711", 3, 250)
    assert trigger.info.chain == "sweep-4711"
