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


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    """Everything the function can be told, already parsed and validated."""

    results_topic: str
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
    budget_threshold: float
    max_concurrency: int
    max_cancels_per_message: int

    def project_allowed(self, project: str) -> bool:
        return self.allowed_projects is None or project in self.allowed_projects


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

    return Settings(
        results_topic=_results_topic(env.get("RESULTS_TOPIC", ""), own_project),
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
        budget_threshold=_number(env, "BUDGET_THRESHOLD", 1.0, 0.0, 1000.0),
        max_concurrency=int(_number(env, "MAX_CONCURRENCY", 8, 1, 64, integer=True)),
        max_cancels_per_message=int(
            _number(env, "MAX_CANCELS_PER_MESSAGE", 100, 1, 1000, integer=True)
        ),
    )


def _results_topic(value: str, own_project: Callable[[], str | None]) -> str:
    value = value.strip()
    if not value:
        raise SettingsError(
            "RESULTS_TOPIC is not set: set it to projects/PROJECT/topics/TOPIC "
            "or to a topic name in the function's project"
        )
    if _TOPIC_PATH.fullmatch(value):
        return value
    if _TOPIC_SHORT.fullmatch(value):
        project = own_project()
        if not project:
            raise SettingsError(
                f"RESULTS_TOPIC={value!r} is a short topic name but the function's project is "
                "unknown: set GOOGLE_CLOUD_PROJECT or give the full projects/PROJECT/topics/TOPIC"
            )
        return f"projects/{project}/topics/{value}"
    raise SettingsError(
        f"RESULTS_TOPIC={value!r} is not a topic: expected projects/PROJECT/topics/TOPIC "
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
