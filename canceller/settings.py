"""Settings read from the environment, checked once, with errors that say what to fix.

A deployed function gets its configuration only through environment variables, so
every knob lives here, with its default, and a bad value becomes one clear
``SettingsError`` instead of a traceback deep inside a request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# gcloud calls this global host for regional operation names over REST. The "region
# does not match endpoint region 'global'" errors seen in client-library issues are gRPC's
# (e.g. apache/airflow#12804); googleapis/google-cloud-go#1129 notes the REST API accepted
# the regional request the gRPC endpoint refused. Not documented as a guarantee: hence
# DATAPROC_ENDPOINT, which takes a regional host.
DEFAULT_DATAPROC_ENDPOINT = "https://dataproc.googleapis.com"

_TOPIC_PATH = re.compile(r"projects/(?P<project>[^/]+)/topics/(?P<topic>[A-Za-z][\w.~+%-]{2,254})")
_TOPIC_SHORT = re.compile(r"[A-Za-z][\w.~+%-]{2,254}")
_HOST_PORT = re.compile(r"(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}")
_ENDPOINT = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d{1,5})?/?")


# Decoding, logging, building clients on a cold start: what a message costs besides its
# Dataproc deadline and its publishes.
MESSAGE_MARGIN_SECONDS = 15.0


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    """Everything the function can be told, already parsed and validated."""

    results_topic: str
    function_project: str  # the function's own project (log traces name it)
    allowed_projects: frozenset[str] | None  # None means any project ("*")
    dataproc_endpoint: str
    dataproc_emulator_host: str | None
    verify_timeout_seconds: float
    max_event_age_seconds: float
    retry_deadline_seconds: float
    request_timeout_seconds: float
    publish_timeout_seconds: float
    dry_run: bool
    sweep_scopes: tuple[str, ...]
    sweep_filter: str
    sweep_kinds: tuple[str, ...]  # of operations, jobs, sessions
    exempt_label: tuple[str, str] | None  # (key, value): never stopped by a sweep
    trigger_topic: str | None  # where a sweep hands on what it had no time for
    budget_threshold: float
    max_concurrency: int
    max_cancels_per_message: int
    dataproc_requests_per_minute: int  # per project, region and bucket (default, GetJob)
    dataproc_job_cancels_per_minute: int  # per project and region: CancelJob

    def project_allowed(self, project: str) -> bool:
        return self.allowed_projects is None or project in self.allowed_projects

    @property
    def longest_message_seconds(self) -> float:
        """The longest one message can keep its request open: the engine's deadline
        (RETRY_DEADLINE_SECONDS + VERIFY_TIMEOUT_SECONDS: no stop is started that cannot be
        watched for its window inside it), then the results' Publish and a continuation's,
        each bounded by PUBLISH_TIMEOUT_SECONDS, and a margin for decoding, logging and the
        platform's own start. deploy.sh derives the function timeout and the push
        subscription's ack deadline from it, so the platform never kills a request after
        its stops and before its results."""
        return (
            self.retry_deadline_seconds
            + self.verify_timeout_seconds
            + 2 * self.publish_timeout_seconds
            + MESSAGE_MARGIN_SECONDS
        )

    @property
    def exempt_label_text(self) -> str:
        return "no exempt label" if self.exempt_label is None else "=".join(self.exempt_label)


def load_settings(
    environ: Mapping[str, str] | None = None,
    default_project: Callable[[], str | None] = lambda: None,
) -> Settings:
    """Parse the environment. ``default_project`` is only called when a setting needs it,
    because asking google.auth for the project can mean a metadata-server round trip."""
    env = os.environ if environ is None else environ
    project_cache: list[str | None] = []

    def own_project() -> str | None:
        if not project_cache:
            project_cache.append(env.get("GOOGLE_CLOUD_PROJECT") or default_project())
        return project_cache[0]

    results_topic = _results_topic(env.get("RESULTS_TOPIC", ""), own_project)
    return Settings(
        results_topic=results_topic,
        function_project=env.get("GOOGLE_CLOUD_PROJECT") or results_topic.split("/")[1],
        allowed_projects=_allowed_projects(env.get("ALLOWED_PROJECTS", ""), own_project),
        dataproc_endpoint=_endpoint(env.get("DATAPROC_ENDPOINT", "")),
        dataproc_emulator_host=_emulator_host(env.get("DATAPROC_EMULATOR_HOST", "")),
        verify_timeout_seconds=_number(env, "VERIFY_TIMEOUT_SECONDS", 60, 0, 3600),
        max_event_age_seconds=_number(env, "MAX_EVENT_AGE_SECONDS", 3600, 1, 7 * 24 * 3600),
        retry_deadline_seconds=_number(env, "RETRY_DEADLINE_SECONDS", 60, 0, 3600),
        request_timeout_seconds=_number(env, "REQUEST_TIMEOUT_SECONDS", 10, 0.1, 300),
        publish_timeout_seconds=_number(env, "PUBLISH_TIMEOUT_SECONDS", 30, 0.1, 600),
        dry_run=_boolean(env, "DRY_RUN", False),
        sweep_scopes=_sweep_scopes(env.get("SWEEP_SCOPES", "")),
        sweep_filter=env.get("SWEEP_FILTER", "").strip(),
        sweep_kinds=_sweep_kinds(env.get("SWEEP_KINDS", "")),
        exempt_label=_exempt_label(env.get("EXEMPT_LABEL")),
        trigger_topic=_optional_topic("TRIGGER_TOPIC", env.get("TRIGGER_TOPIC", ""), own_project),
        budget_threshold=_number(env, "BUDGET_THRESHOLD", 1.0, 0.0, 1000.0),
        max_concurrency=int(_number(env, "MAX_CONCURRENCY", 8, 1, 64, integer=True)),
        max_cancels_per_message=int(
            _number(env, "MAX_CANCELS_PER_MESSAGE", 500, 1, 5000, integer=True)
        ),
        # Shares of Dataproc's per-minute quotas, which the project's own workloads also
        # use: 8 % of the 7,500 default and GetJob requests, half of the 400 job operations
        # (/work/shared/reference/google-apis.md, "Dataproc API quotas").
        # canceller.request_budget keeps to them.
        dataproc_requests_per_minute=int(
            _number(env, "DATAPROC_REQUESTS_PER_MINUTE", 600, 1, 100_000, integer=True)
        ),
        dataproc_job_cancels_per_minute=int(
            _number(env, "DATAPROC_JOB_CANCELS_PER_MINUTE", 200, 1, 100_000, integer=True)
        ),
    )


def _results_topic(value: str, own_project: Callable[[], str | None]) -> str:
    if not value.strip():
        raise SettingsError(
            "RESULTS_TOPIC is not set: set it to projects/PROJECT/topics/TOPIC "
            "or to a topic name in the function's project"
        )
    return _topic("RESULTS_TOPIC", value, own_project)


def _optional_topic(name: str, value: str, own_project: Callable[[], str | None]) -> str | None:
    return _topic(name, value, own_project) if value.strip() else None


def _topic(name: str, value: str, own_project: Callable[[], str | None]) -> str:
    value = value.strip()
    if _TOPIC_PATH.fullmatch(value):
        return value
    if _TOPIC_SHORT.fullmatch(value):
        project = own_project()
        if not project:
            raise SettingsError(
                f"{name}={value!r} is a short topic name but the function's project is "
                "unknown: set GOOGLE_CLOUD_PROJECT or give the full projects/PROJECT/topics/TOPIC"
            )
        return f"projects/{project}/topics/{value}"
    raise SettingsError(
        f"{name}={value!r} is not a topic: expected projects/PROJECT/topics/TOPIC "
        "or a topic name (letters, digits, - _ . ~ + %, starting with a letter, 3-255 characters)"
    )


def _allowed_projects(value: str, own_project: Callable[[], str | None]) -> frozenset[str] | None:
    items = [item.strip() for item in value.split(",") if item.strip()]
    if "*" in items:
        return None
    if items:
        return frozenset(items)
    project = own_project()
    if not project:
        raise SettingsError(
            "ALLOWED_PROJECTS is not set and the function's own project is unknown: set "
            "ALLOWED_PROJECTS (comma-separated project IDs, or * for any) or GOOGLE_CLOUD_PROJECT"
        )
    return frozenset([project])


def _endpoint(value: str) -> str:
    value = value.strip() or DEFAULT_DATAPROC_ENDPOINT
    if not _ENDPOINT.fullmatch(value):
        raise SettingsError(
            f"DATAPROC_ENDPOINT={value!r} is not a bare endpoint: expected e.g. "
            "https://dataproc.googleapis.com or https://us-central1-dataproc.googleapis.com"
        )
    return value.rstrip("/")


def _emulator_host(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if not _HOST_PORT.fullmatch(value):
        raise SettingsError(f"DATAPROC_EMULATOR_HOST={value!r} must be host:port")
    return value


def _sweep_scopes(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


# The sweepable kinds (canceller.kinds.SWEEPABLE; tests/test_settings.py holds them
# equal): spelled out because deploy.sh loads this file alone, without the package.
SWEEP_KIND_NAMES = ("operations", "jobs", "sessions")


def _sweep_kinds(value: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))
    if unknown := [kind for kind in kinds if kind not in SWEEP_KIND_NAMES]:
        raise SettingsError(
            f"SWEEP_KINDS has {', '.join(unknown)}: expected a comma-separated list of "
            f"{', '.join(SWEEP_KIND_NAMES)} (batches are swept through their operations)"
        )
    return kinds or SWEEP_KIND_NAMES


_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")


def _exempt_label(value: str | None) -> tuple[str, str] | None:
    """KEY=VALUE in Google's label syntax; set to an empty string to exempt nothing."""
    if value is None:
        return ("dataproc-canceller", "exempt")
    if not value.strip():
        return None
    key, _, label = value.strip().partition("=")
    if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(label) or "=" not in value:
        raise SettingsError(
            f"EXEMPT_LABEL={value!r} is not KEY=VALUE with a Google label key (lowercase "
            "letter first, then lowercase letters, digits, _ or -) and value"
        )
    return key, label


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    low: float,
    high: float,
    *,
    integer: bool = False,
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise SettingsError(f"{name}={raw!r} is not {kind}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} is out of range: expected {low:g} to {high:g}")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean: use true or false")
