"""Settings: defaults, the secure allowlist default, and errors that name what to fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from canceller.settings import (
    DATAPROC_REGION_NAMES,
    DEFAULT_DATAPROC_ENDPOINT,
    Rung,
    SettingsError,
    load_settings,
)

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
    assert settings.budget_ladder == (Rung(1.0, "work"),)
    assert settings.cluster_delete_allowed is False
    assert settings.cluster_incident_action == "jobs"
    assert settings.dataproc_cluster_operations_per_minute == 100
    assert settings.sweep_scopes == ()
    assert settings.dataproc_requests_per_minute == 600  # 8 % of the 7,500 quotas
    assert settings.dataproc_job_cancels_per_minute == 200  # half of the 400 CancelJob quota
    assert settings.dataproc_project_requests_per_minute == 1500  # one region's four
    assert settings.dataproc_regions == DATAPROC_REGION_NAMES
    assert settings.allowed_budgets is None and settings.budget_allowed("any-budget")
    assert settings.allowed_alert_policies is None and settings.alert_policy_allowed("any")


def test_request_budgets() -> None:
    settings = load_settings(
        {**BASE, "DATAPROC_REQUESTS_PER_MINUTE": " 100000", "DATAPROC_JOB_CANCELS_PER_MINUTE": "1"}
    )
    assert settings.dataproc_requests_per_minute == 100_000
    assert settings.dataproc_job_cancels_per_minute == 1
    # the project's window follows the region's, so it never binds one region ...
    assert settings.dataproc_project_requests_per_minute == 200_101
    # ... unless it is set on its own
    narrow = load_settings({**BASE, "DATAPROC_PROJECT_REQUESTS_PER_MINUTE": "300"})
    assert narrow.dataproc_project_requests_per_minute == 300
    assert narrow.dataproc_requests_per_minute == 600


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


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        (
            "https://us-central1-dataproc.googleapis.com/",
            "https://us-central1-dataproc.googleapis.com",
        ),
        ("https://dataproc.googleapis.com:443", "https://dataproc.googleapis.com"),
        (
            " https://europe-west12-dataproc.googleapis.com ",
            "https://europe-west12-dataproc.googleapis.com",
        ),
        (
            "https://dataproc.me-central2.rep.googleapis.com",
            "https://dataproc.me-central2.rep.googleapis.com",
        ),
        (
            "https://dataproc-vialink1.p.googleapis.com/",
            "https://dataproc-vialink1.p.googleapis.com",
        ),
    ],
)
def test_endpoints(endpoint: str, expected: str) -> None:
    assert load_settings({**BASE, "DATAPROC_ENDPOINT": endpoint}).dataproc_endpoint == expected


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://dataproc.googleapis.com",  # the token in clear
        "http://127.0.0.1:8085",  # an emulator is DATAPROC_EMULATOR_HOST's
        "https://dataproc.example.com",
        "https://dataproc.googleapis.com.evil.example",
        "https://evil.example/dataproc.googleapis.com",
        "https://evil.example#dataproc.googleapis.com",
        "https://user@dataproc.googleapis.com",
        "https://dataproc.googleapis.com@evil.example",
        "https://dataproc.googleapis.com:8443",
        "https://dataproc.googleapis.com:443:443",
        "https://dataproc.googleapis.com/v1",
        "https://dataproc.googleapis.com/?x=1",
        "https://dataproc.googleapis.com//",
        "https://DATAPROC.googleapis.com",
        "https://storage.googleapis.com",  # Google's, but not Dataproc
        "https://googleapis.com",
        "https://us-fake9-dataproc.googleapis.com",  # not a region
        "https://global-dataproc.googleapis.com",
        "https://dataproc.us-fake9.rep.googleapis.com",
        "https://x.dataproc.googleapis.com",
        "https://dataproc-.p.googleapis.com",
        "https://dataproc-1abc.p.googleapis.com",
        "https://storage-vialink1.p.googleapis.com",
        "https://private.googleapis.com",
        "https://[::1]",
        "dataproc.googleapis.com",
    ],
)
def test_the_token_goes_only_to_googles_dataproc_hosts_over_https(endpoint: str) -> None:
    with pytest.raises(
        SettingsError, match=r"DATAPROC_ENDPOINT=.* is not accepted: expected https"
    ):
        load_settings({**BASE, "DATAPROC_ENDPOINT": endpoint})


def test_a_regional_endpoint_names_a_known_region() -> None:
    env = {**BASE, "DATAPROC_ENDPOINT": "https://moon-base1-dataproc.googleapis.com"}
    with pytest.raises(SettingsError, match="for a known REGION"):
        load_settings(env)
    moon = load_settings({**env, "DATAPROC_REGIONS": "moon-base1"})
    assert moon.dataproc_endpoint == "https://moon-base1-dataproc.googleapis.com"


@pytest.mark.parametrize("host", ["127.0.0.1:8085", "127.1.2.3:1", "localhost:65535", "[::1]:8085"])
def test_the_emulator_is_on_loopback(host: str) -> None:
    assert load_settings({**BASE, "DATAPROC_EMULATOR_HOST": host}).dataproc_emulator_host == host


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "10.0.0.8:8085",
        "0.0.0.0:8085",
        "128.0.0.1:8085",
        "256.0.0.1:8085",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:8085/x",
        "dataproc.example.com:80",
        "localhost.example.com:80",
        "[::2]:8085",
        "user@127.0.0.1:8085",
    ],
)
def test_the_emulator_is_never_off_the_machine(host: str) -> None:
    with pytest.raises(SettingsError, match="must be host:port on this machine's loopback"):
        load_settings({**BASE, "DATAPROC_EMULATOR_HOST": host})


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
        ({"DATAPROC_PROJECT_REQUESTS_PER_MINUTE": "0"}, "expected 1 to 400000"),
        ({"DATAPROC_PROJECT_REQUESTS_PER_MINUTE": "400001"}, "PROJECT_REQUESTS_PER_MINUTE="),
        ({"DATAPROC_PROJECT_REQUESTS_PER_MINUTE": "1e3"}, "is not a whole number"),
        ({"DATAPROC_REGIONS": "us-central1,,global"}, "DATAPROC_REGIONS has an empty item"),
        ({"DATAPROC_REGIONS": "us-central1,"}, "DATAPROC_REGIONS has an empty item"),
        ({"DATAPROC_REGIONS": "us-central1, US-EAST1"}, "DATAPROC_REGIONS has 'US-EAST1'"),
        ({"DATAPROC_REGIONS": "projects/p/regions/r"}, "expected comma-separated regions"),
        ({"DATAPROC_REGIONS": ",".join(["us-central1"] * 101)}, "101 items: at most 100"),
        ({"SWEEP_FILTER": "labels.a = b " + " " * 1024 + "x"}, "SWEEP_FILTER has 1038 characters"),
        ({"ALLOWED_BUDGETS": "b-1,,b-2"}, "ALLOWED_BUDGETS has an empty item"),
        ({"ALLOWED_BUDGETS": "b-1,"}, "ALLOWED_BUDGETS has an empty item"),
        ({"ALLOWED_BUDGETS": "billingAccounts/01/budgets/b-1"}, "the last part of"),
        ({"ALLOWED_BUDGETS": "b 1"}, "expected budget IDs"),
        ({"ALLOWED_BUDGETS": "b" * 129}, "at most 128 characters"),
        ({"ALLOWED_BUDGETS": ",".join(f"b-{i}" for i in range(101))}, "at most 100"),
        ({"ALLOWED_ALERT_POLICIES": "a,,b"}, "ALLOWED_ALERT_POLICIES has an empty item"),
        ({"ALLOWED_ALERT_POLICIES": "p" * 513}, "at most 512 characters"),
        ({"ALLOWED_ALERT_POLICIES": "bad\x00name"}, "no control"),
        ({"ALLOWED_ALERT_POLICIES": "bad\nname"}, "no control"),
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


def test_sweep_kinds_come_from_the_registry() -> None:
    """Clusters are sweepable but not swept unless named: stopping one is a bigger step."""
    assert load_settings(BASE).sweep_kinds == ("operations", "jobs", "sessions")
    named = load_settings({**BASE, "SWEEP_KINDS": "jobs,clusters"})
    assert named.sweep_kinds == ("jobs", "clusters")
    with pytest.raises(SettingsError, match="SWEEP_KINDS has batches"):
        load_settings({**BASE, "SWEEP_KINDS": "batches"})


def test_the_budget_ladder() -> None:
    ladder = load_settings({**BASE, "BUDGET_LADDER": "1.2:clusters, 0.5:report,0.9:work"})
    assert ladder.budget_ladder == (
        Rung(0.5, "report"),
        Rung(0.9, "work"),
        Rung(1.2, "clusters"),
    )
    assert ladder.rung(0.49) is None
    assert ladder.rung(0.5) == Rung(0.5, "report")
    assert ladder.rung(1.19) == Rung(0.9, "work")
    assert ladder.rung(7.0) == Rung(1.2, "clusters")
    shorthand = load_settings({**BASE, "BUDGET_THRESHOLD": "0.8"})
    assert shorthand.budget_ladder == (Rung(0.8, "work"),)
    for bad, why in (
        ("0.5:stop", "not RATIO:ACTION"),
        ("half:work", "not RATIO:ACTION"),
        ("nan:work", "not RATIO:ACTION"),
        ("-1:work", "not RATIO:ACTION"),
        ("0.5:work,0.5:clusters", "each at its own ratio"),
        (",".join(f"{i}:work" for i in range(11)), "at most 10"),
    ):
        with pytest.raises(SettingsError, match=why):
            load_settings({**BASE, "BUDGET_LADDER": bad})
    with pytest.raises(SettingsError, match="both set"):
        load_settings({**BASE, "BUDGET_LADDER": "1:work", "BUDGET_THRESHOLD": "1"})


def test_cluster_settings() -> None:
    allowed = {**BASE, "CLUSTER_DELETE_ALLOWED": "true", "CLUSTER_INCIDENT_ACTION": "delete"}
    settings = load_settings(allowed)
    assert settings.cluster_delete_allowed and settings.cluster_incident_action == "delete"
    assert load_settings({**BASE, "CLUSTER_INCIDENT_ACTION": "stop"}).cluster_incident_action == (
        "stop"
    )
    with pytest.raises(SettingsError, match="needs CLUSTER_DELETE_ALLOWED=true"):
        load_settings({**BASE, "CLUSTER_INCIDENT_ACTION": "delete"})
    with pytest.raises(SettingsError, match="expected one of jobs, stop, delete"):
        load_settings({**BASE, "CLUSTER_INCIDENT_ACTION": "nuke"})


def test_dataproc_regions() -> None:
    """The built-in list knows real regions and global, not made-up ones; the setting
    replaces it (global included only if named)."""
    settings = load_settings(BASE)
    for region in ("us-central1", "europe-west12", "northamerica-south1", "global"):
        assert settings.region_known(region)
    for region in ("us-central9", "moon-base1", "us-central1-a", "", "US-CENTRAL1"):
        assert not settings.region_known(region)
    assert all(region == region.strip().lower() for region in DATAPROC_REGION_NAMES)
    narrow = load_settings({**BASE, "DATAPROC_REGIONS": " us-central1 , moon-base1"})
    assert narrow.dataproc_regions == frozenset({"us-central1", "moon-base1"})
    assert narrow.region_known("moon-base1")
    assert not narrow.region_known("global") and not narrow.region_known("europe-west1")


def test_allowed_budgets_and_alert_policies() -> None:
    settings = load_settings(
        {
            **BASE,
            "ALLOWED_BUDGETS": " 3f1c2a9e-0b7d-4c41-9a52-7d8e6f5a4b3c , b-123",
            "ALLOWED_ALERT_POLICIES": "dataproc-runtime-over-6h, Dataproc job over budget (prod)",
        }
    )
    assert settings.allowed_budgets == frozenset({"3f1c2a9e-0b7d-4c41-9a52-7d8e6f5a4b3c", "b-123"})
    assert settings.budget_allowed("b-123")
    assert not settings.budget_allowed("b-1234") and not settings.budget_allowed("")
    assert settings.alert_policy_allowed("dataproc-runtime-over-6h")
    assert settings.alert_policy_allowed("Dataproc job over budget (prod)")
    assert not settings.alert_policy_allowed("dataproc-runtime-over-6h ")
    assert not settings.alert_policy_allowed("Dataproc-runtime-over-6h")
    unset = load_settings({**BASE, "ALLOWED_BUDGETS": "  ", "ALLOWED_ALERT_POLICIES": ""})
    assert unset.allowed_budgets is None and unset.allowed_alert_policies is None


def test_the_sweep_filter_cap_is_the_parsers() -> None:
    from canceller.selection import MAX_FILTER_CHARS

    longest = "labels.team = etl" + " " * (MAX_FILTER_CHARS - 17)
    assert load_settings({**BASE, "SWEEP_FILTER": longest}).sweep_filter == longest.strip()


def test_settings_load_with_the_standard_library_only(tmp_path: Path) -> None:
    """deploy.sh imports canceller.settings with any python3 and the repository on
    PYTHONPATH: it, and the kind registry it derives the sweep kinds from, may use the
    standard library only."""
    root = Path(__file__).resolve().parents[2]
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import canceller.settings as module\n"
        "import canceller.role\n"
        "settings = module.load_settings({'RESULTS_TOPIC': 'projects/p-project/topics/results', "
        "'GOOGLE_CLOUD_PROJECT': 'p-project'})\n"
        "assert settings.region_known('us-central1'), settings\n"
        "imported = {name.split('.')[0] for name in set(sys.modules) - before}\n"
        "assert imported <= {*sys.stdlib_module_names, 'canceller'}, imported\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(root)!r})\n{script}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_organisation_scale_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.allowed_ancestors == frozenset()
    assert settings.sweep_regions is None  # the regions seen with work, per project
    assert settings.org_api_hosts == {}  # Google's hosts, over https
    assert settings.org_requests_per_minute == {
        "cloudasset": 200,  # half of Cloud Asset's 400 a minute per consumer project
        "cloudresourcemanager": 300,
        "billingbudgets": 60,
        "cloudbilling": 60,
    }
    assert settings.scope_cache_seconds == 300


def test_organisation_scale_settings_are_read() -> None:
    settings = load_settings(
        {
            **BASE,
            "ALLOWED_ANCESTORS": "folders/123, organizations/456",
            "SWEEP_REGIONS": "us-central1,europe-west1",
            "CLOUD_ASSET_EMULATOR_HOST": "127.0.0.1:9000",
            "RESOURCE_MANAGER_EMULATOR_HOST": "localhost:9001",
            "CLOUD_ASSET_REQUESTS_PER_MINUTE": "50",
            "SCOPE_CACHE_SECONDS": "0",
        }
    )
    assert settings.allowed_ancestors == frozenset({"folders/123", "organizations/456"})
    assert settings.sweep_regions == frozenset({"us-central1", "europe-west1"})
    assert settings.org_api_hosts == {
        "cloudasset": "127.0.0.1:9000",
        "cloudresourcemanager": "localhost:9001",
    }
    assert settings.org_requests_per_minute["cloudasset"] == 50
    assert settings.scope_cache_seconds == 0


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("ALLOWED_ANCESTORS", "folders/abc", "folders/NUMBER or organizations/NUMBER"),
        ("ALLOWED_ANCESTORS", "projects/p", "folders/NUMBER or organizations/NUMBER"),
        ("ALLOWED_ANCESTORS", "folders/1,,folders/2", "empty item"),
        ("SWEEP_REGIONS", "mars-north1", "not Dataproc regions"),
        # The emulator token is plain http: only ever to this machine.
        ("CLOUD_ASSET_EMULATOR_HOST", "assets.example.com:80", "loopback"),
        ("BILLING_BUDGETS_EMULATOR_HOST", "10.0.0.1:9000", "loopback"),
        ("CLOUD_ASSET_REQUESTS_PER_MINUTE", "0", "out of range"),
        ("SCOPE_CACHE_SECONDS", "-1", "out of range"),
    ],
)
def test_organisation_scale_settings_are_checked(name: str, value: str, said: str) -> None:
    with pytest.raises(SettingsError, match=name) as error:
        load_settings({**BASE, name: value})
    assert said in str(error.value)
