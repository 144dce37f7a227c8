"""Settings: defaults, the secure allowlist default, and errors that name what to fix."""

from __future__ import annotations

import pytest

from canceller.settings import DEFAULT_DATAPROC_ENDPOINT, SettingsError, load_settings

BASE = {"RESULTS_TOPIC": "projects/ops/topics/results", "GOOGLE_CLOUD_PROJECT": "ops-project"}


def test_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.results_topic == "projects/ops/topics/results"
    assert settings.allowed_projects == frozenset({"ops-project"})
    assert settings.dataproc_endpoint == DEFAULT_DATAPROC_ENDPOINT
    assert settings.dataproc_emulator_host is None
    assert settings.verify_timeout_seconds == 60
    assert settings.max_event_age_seconds == 3600
    assert settings.dry_run is False
    assert settings.max_concurrency == 8
    assert settings.max_cancels_per_message == 500
    assert settings.budget_threshold == 1.0
    assert settings.sweep_scopes == ()
    assert settings.dataproc_requests_per_minute == 600  # 8 % of the 7,500 quotas
    assert settings.dataproc_job_cancels_per_minute == 200  # half of the 400 CancelJob quota


def test_request_budgets() -> None:
    settings = load_settings(
        {**BASE, "DATAPROC_REQUESTS_PER_MINUTE": " 100000", "DATAPROC_JOB_CANCELS_PER_MINUTE": "1"}
    )
    assert settings.dataproc_requests_per_minute == 100_000
    assert settings.dataproc_job_cancels_per_minute == 1


def test_short_topic_uses_the_functions_project() -> None:
    settings = load_settings({**BASE, "RESULTS_TOPIC": "results"})
    assert settings.results_topic == "projects/ops-project/topics/results"
    asked: list[bool] = []

    def from_google_auth() -> str:
        asked.append(True)
        return "adc-project"

    settings = load_settings({"RESULTS_TOPIC": "results"}, from_google_auth)
    assert settings.results_topic == "projects/adc-project/topics/results"
    assert settings.allowed_projects == frozenset({"adc-project"})
    assert asked == [True]  # asked once, however many settings need it


def test_allowlist() -> None:
    settings = load_settings({**BASE, "ALLOWED_PROJECTS": " a-project, b-project ,"})
    assert settings.project_allowed("a-project")
    assert settings.project_allowed("b-project")
    assert not settings.project_allowed("ops-project")
    anything = load_settings({**BASE, "ALLOWED_PROJECTS": "*"})
    assert anything.allowed_projects is None
    assert anything.project_allowed("whatever-project")


def test_endpoints() -> None:
    regional = load_settings(
        {**BASE, "DATAPROC_ENDPOINT": "https://us-central1-dataproc.googleapis.com/"}
    )
    assert regional.dataproc_endpoint == "https://us-central1-dataproc.googleapis.com"
    emulated = load_settings({**BASE, "DATAPROC_EMULATOR_HOST": "127.0.0.1:8085"})
    assert emulated.dataproc_emulator_host == "127.0.0.1:8085"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"RESULTS_TOPIC": ""}, "RESULTS_TOPIC is not set"),
        ({"RESULTS_TOPIC": "projects/x/subscriptions/y"}, "is not a topic"),
        ({"RESULTS_TOPIC": "a b"}, "is not a topic"),
        ({"VERIFY_TIMEOUT_SECONDS": "soon"}, "VERIFY_TIMEOUT_SECONDS='soon' is not a number"),
        ({"VERIFY_TIMEOUT_SECONDS": "-1"}, "out of range"),
        ({"MAX_CONCURRENCY": "2.5"}, "not a whole number"),
        ({"MAX_CONCURRENCY": "0"}, "out of range"),
        ({"DRY_RUN": "maybe"}, "DRY_RUN='maybe' is not a boolean"),
        ({"DATAPROC_REQUESTS_PER_MINUTE": "600.5"}, "PER_MINUTE='600.5' is not a whole number"),
        ({"DATAPROC_REQUESTS_PER_MINUTE": "lots"}, "is not a whole number"),
        ({"DATAPROC_REQUESTS_PER_MINUTE": "0"}, "expected 1 to 100000"),
        ({"DATAPROC_JOB_CANCELS_PER_MINUTE": "100001"}, "JOB_CANCELS_PER_MINUTE='100001' is out"),
        ({"DATAPROC_JOB_CANCELS_PER_MINUTE": "-5"}, "out of range"),
        ({"DATAPROC_ENDPOINT": "https://x.example/v1?x=1"}, "DATAPROC_ENDPOINT"),
        ({"DATAPROC_EMULATOR_HOST": "localhost"}, "must be host:port"),
    ],
)
def test_errors_name_the_setting(overrides: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment.replace("?", r"\?")):
        load_settings({**BASE, **overrides})


def test_unknown_project_is_an_error_not_a_silent_allow_all() -> None:
    with pytest.raises(SettingsError, match="ALLOWED_PROJECTS is not set"):
        load_settings({"RESULTS_TOPIC": "projects/ops/topics/results"})
    with pytest.raises(SettingsError, match="short topic name"):
        load_settings({"RESULTS_TOPIC": "results", "ALLOWED_PROJECTS": "*"})


def test_the_sweep_kinds_setting_knows_exactly_the_sweepable_kinds() -> None:
    from canceller.kinds import SWEEPABLE
    from canceller.settings import SWEEP_KIND_NAMES

    assert tuple(SWEEPABLE) == SWEEP_KIND_NAMES
