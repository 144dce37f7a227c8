"""Settings read from the environment, checked once, with errors that say what to fix.

A deployed function gets its configuration only through environment variables, so
every knob lives here, with its default, and a bad value becomes one clear
``SettingsError`` instead of a traceback deep inside a request.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from canceller.kinds import DEFAULT_SWEEP_KINDS, SWEEPABLE
from canceller.org_apis import ASSETS, BILLING, BUDGETS, ORG_APIS, RESOURCE_MANAGER
from canceller.selection import MAX_FILTER_CHARS
from canceller.webhook import (
    NOTIFY_SECONDS,
    WEBHOOK_VARIABLE,
    InvalidWebhook,
    Webhook,
    is_loopback,
    parse_webhook_url,
)

# gcloud calls this global host for regional operation names over REST. The "region
# does not match endpoint region 'global'" errors seen in client-library issues are gRPC's
# (e.g. apache/airflow#12804); googleapis/google-cloud-go#1129 notes the REST API accepted
# the regional request the gRPC endpoint refused. Not documented as a guarantee: hence
# DATAPROC_ENDPOINT, which takes a regional host.
DEFAULT_DATAPROC_ENDPOINT = "https://dataproc.googleapis.com"

_TOPIC_PATH = re.compile(r"projects/(?P<project>[^/]+)/topics/(?P<topic>[A-Za-z][\w.~+%-]{2,254})")
_TOPIC_SHORT = re.compile(r"[A-Za-z][\w.~+%-]{2,254}")
_ENDPOINT = re.compile(r"https://(?P<host>[a-z0-9.-]{1,253})(?::443)?/?")
# The Dataproc hosts Google documents, all on googleapis.com: the global host; a
# locational REGION-dataproc.googleapis.com and a regional dataproc.REGION.rep.googleapis.com
# (https://docs.cloud.google.com/dataproc/docs/concepts/regional-endpoints, "Location and
# regional endpoints"); a Private Service Connect endpoint's SERVICE-ENDPOINT.p.googleapis.com
# (https://docs.cloud.google.com/vpc/docs/about-accessing-google-apis-endpoints). The
# private. and restricted.googleapis.com VIPs keep the service's own host name (DNS points
# it at them), so they need nothing here.
_LOCATIONAL_HOST = re.compile(r"(?P<region>[a-z0-9-]{1,63})-dataproc\.googleapis\.com")
_REP_HOST = re.compile(r"dataproc\.(?P<region>[a-z0-9-]{1,63})\.rep\.googleapis\.com")
_PSC_HOST = re.compile(r"dataproc-[a-z][a-z0-9]{0,19}\.p\.googleapis\.com")
_EMULATOR_HOST = re.compile(r"(?P<host>\[::1\]|localhost|[0-9.]{7,15}):(?P<port>[0-9]{1,5})")

# Dataproc has no region list of its own: its regions are Compute Engine's ("Region names
# follow a standard naming convention based on Compute Engine regions", the regional
# endpoints page above; https://docs.cloud.google.com/compute/docs/regions-zones), plus
# "global". The list: every region "scope" in Google's published list of its cloud's
# regional address ranges, https://www.gstatic.com/ipranges/cloud.json, as of 2026-02-06.
# Not every project can use us-central2, us-east7, us-west8 or europe-west15; they stay,
# since refusing a region that works would stop nothing. A region Google opens later is
# refused until it is added here or DATAPROC_REGIONS names it.
DATAPROC_REGION_NAMES = frozenset(
    {
        "global",
        "africa-south1",
        "asia-east1",
        "asia-east2",
        "asia-northeast1",
        "asia-northeast2",
        "asia-northeast3",
        "asia-south1",
        "asia-south2",
        "asia-southeast1",
        "asia-southeast2",
        "asia-southeast3",
        "australia-southeast1",
        "australia-southeast2",
        "europe-central2",
        "europe-north1",
        "europe-north2",
        "europe-southwest1",
        "europe-west1",
        "europe-west2",
        "europe-west3",
        "europe-west4",
        "europe-west6",
        "europe-west8",
        "europe-west9",
        "europe-west10",
        "europe-west12",
        "europe-west15",
        "me-central1",
        "me-central2",
        "me-west1",
        "northamerica-northeast1",
        "northamerica-northeast2",
        "northamerica-south1",
        "southamerica-east1",
        "southamerica-west1",
        "us-central1",
        "us-central2",
        "us-east1",
        "us-east4",
        "us-east5",
        "us-east7",
        "us-south1",
        "us-west1",
        "us-west2",
        "us-west3",
        "us-west4",
        "us-west8",
    }
)
# The grammar of canceller/names.py's regions, bounded.
_REGION = re.compile(r"global|[a-z]{2,20}(?:-[a-z]{1,20}){1,3}[0-9]{1,2}")

# An allowlist is a handful of names; more than this is a mistake in the setting.
MAX_ALLOWLIST_ITEMS = 100
_BUDGET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
MAX_POLICY_NAME_CHARS = 512  # Cloud Monitoring's longest alert policy display name

# ALLOWED_ANCESTORS: a folder or an organisation, by its number.
_ANCESTOR = re.compile(r"(?:folders|organizations)/[0-9]{1,20}")

# Decoding, logging, building clients on a cold start: what a message costs besides its
# Dataproc deadline and its publishes.
MESSAGE_MARGIN_SECONDS = 15.0


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says what is expected."""


# What a budget's rung does: "report" publishes what the rungs above it would stop and
# stops nothing; "work" stops operations, batches, jobs and sessions (SWEEP_KINDS);
# "clusters" does that and then stops the clusters.
RUNG_ACTIONS = ("report", "work", "clusters")
CLUSTER_INCIDENT_ACTIONS = ("jobs", "stop", "delete")
MAX_RUNGS = 10


@dataclass(frozen=True)
class Rung:
    """One rung of BUDGET_LADDER: from ``threshold`` (cost / budget) up, ``action``."""

    threshold: float
    action: str

    def to_json(self) -> dict[str, object]:
        return {"threshold": self.threshold, "action": self.action}


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
    sweep_kinds: tuple[str, ...]  # sweepable kinds (canceller.kinds.SWEEPABLE)
    exempt_label: tuple[str, str] | None  # (key, value): never stopped by a sweep
    trigger_topic: str | None  # where a sweep hands on what it had no time for
    budget_ladder: tuple[Rung, ...]  # lowest threshold first
    cluster_delete_allowed: bool  # may a message or an incident delete a cluster
    cluster_incident_action: str  # jobs, stop or delete: what a cluster incident does
    max_concurrency: int
    max_cancels_per_message: int
    dataproc_requests_per_minute: int  # per project, region and bucket (default, GetJob)
    dataproc_job_cancels_per_minute: int  # per project and region: CancelJob
    dataproc_cluster_operations_per_minute: int  # per project and region: stop, delete
    dataproc_project_requests_per_minute: int  # per project: every region and bucket
    dataproc_regions: frozenset[str]  # the regions a name or scope may name
    allowed_budgets: frozenset[str] | None  # budget IDs that may start a sweep; None: any
    allowed_alert_policies: frozenset[str] | None  # incident policy_name values; None: any
    # Organisation scale (canceller.organisation, canceller.fan_out).
    allowed_ancestors: frozenset[str]  # folders/F, organizations/O: their projects are allowed
    sweep_regions: frozenset[str] | None  # where operations are also looked for; None: seen
    org_api_hosts: dict[str, str]  # API name -> its emulator's host:port, for local tests
    org_requests_per_minute: dict[str, int]  # API name -> this instance's budget for it
    scope_cache_seconds: float  # how long a budget's scope and a project's ancestry are kept
    notify_webhook: Webhook | None  # where a chat summary of each action goes; None: nobody
    # Why NOTIFY_WEBHOOK_URL, set, is not accepted (never its value): not a settings error,
    # since a kill switch must not stop stopping because its chat is misconfigured.
    notify_webhook_problem: str
    price_multiplier: float  # the shipped us-central1 prices times this (another region's)

    def project_allowed(self, project: str) -> bool:
        return self.allowed_projects is None or project in self.allowed_projects

    def region_known(self, region: str) -> bool:
        """Whether ``region`` is a Dataproc region (or one DATAPROC_REGIONS names). Names
        and scopes in unknown regions are to be refused before any call: the request
        budget is counted per region, so made-up regions would each bring a fresh one."""
        return region in self.dataproc_regions

    def budget_allowed(self, budget_id: str) -> bool:
        """Whether a budget notification with this ``budgetId`` may start a sweep: anyone
        who can publish to the trigger topic can forge one, so ALLOWED_BUDGETS narrows
        which budgets are believed."""
        return self.allowed_budgets is None or budget_id in self.allowed_budgets

    def alert_policy_allowed(self, policy_name: str) -> bool:
        """Whether an incident of the alert policy ``policy_name`` (as the incident carries
        it) may stop work: ALLOWED_ALERT_POLICIES narrows which alerts are believed."""
        return self.allowed_alert_policies is None or policy_name in self.allowed_alert_policies

    @property
    def longest_message_seconds(self) -> float:
        """The longest one message can keep its request open: the engine's deadline
        (RETRY_DEADLINE_SECONDS + VERIFY_TIMEOUT_SECONDS: no stop is started that cannot be
        watched for its window inside it), then the results' Publish and a continuation's,
        each bounded by PUBLISH_TIMEOUT_SECONDS, a notification's POST (whether one is
        set is a secret deploy.sh does not read), and a margin for decoding, logging and
        the platform's own start. deploy.sh derives the function timeout and the push
        subscription's ack deadline from it, so the platform never kills a request after
        its stops and before its results."""
        return (
            self.retry_deadline_seconds
            + self.verify_timeout_seconds
            + 2 * self.publish_timeout_seconds
            + NOTIFY_SECONDS
            + MESSAGE_MARGIN_SECONDS
        )

    def rung(self, ratio: float) -> Rung | None:
        """The highest rung of BUDGET_LADDER a budget at ``ratio`` of its amount reached."""
        reached = [rung for rung in self.budget_ladder if ratio >= rung.threshold]
        return reached[-1] if reached else None

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
    allowed_projects = _allowed_projects(env.get("ALLOWED_PROJECTS", ""), own_project)
    regions = _regions(env.get("DATAPROC_REGIONS", ""))
    # Shares of Dataproc's per-minute quotas, which the project's own workloads also use:
    # 8 % of the 7,500 default and GetJob requests, half of the 400 job operations
    # (https://cloud.google.com/dataproc/docs/resources/quotas).
    # canceller.request_budget keeps to them.
    requests_per_minute = int(
        _number(env, "DATAPROC_REQUESTS_PER_MINUTE", 600, 1, 100_000, integer=True)
    )
    job_cancels_per_minute = int(
        _number(env, "DATAPROC_JOB_CANCELS_PER_MINUTE", 200, 1, 100_000, integer=True)
    )
    # Half of ClusterOperationRequestsPerMinutePerProjectPerRegion's 200, which the
    # project's own creates, updates and autoscaling share.
    cluster_operations_per_minute = int(
        _number(env, "DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE", 100, 1, 100_000, integer=True)
    )
    cluster_delete_allowed = _boolean(env, "CLUSTER_DELETE_ALLOWED", False)
    webhook, webhook_problem = _webhook(env.get(WEBHOOK_VARIABLE, ""))
    return Settings(
        results_topic=results_topic,
        function_project=env.get("GOOGLE_CLOUD_PROJECT") or results_topic.split("/")[1],
        allowed_projects=allowed_projects,
        dataproc_endpoint=_endpoint(env.get("DATAPROC_ENDPOINT", ""), regions),
        dataproc_emulator_host=_emulator_host(env.get("DATAPROC_EMULATOR_HOST", "")),
        verify_timeout_seconds=_number(env, "VERIFY_TIMEOUT_SECONDS", 60, 0, 3600),
        max_event_age_seconds=_number(env, "MAX_EVENT_AGE_SECONDS", 3600, 1, 7 * 24 * 3600),
        # More than 0: stops start only while their whole verification window fits
        # after it, so 0 would leave no time to start any and every message would be
        # redelivered until dead-lettered, stopping nothing.
        retry_deadline_seconds=_number(env, "RETRY_DEADLINE_SECONDS", 60, 0.1, 3600),
        request_timeout_seconds=_number(env, "REQUEST_TIMEOUT_SECONDS", 10, 0.1, 300),
        publish_timeout_seconds=_number(env, "PUBLISH_TIMEOUT_SECONDS", 30, 0.1, 600),
        dry_run=_boolean(env, "DRY_RUN", False),
        sweep_scopes=_sweep_scopes(env.get("SWEEP_SCOPES", "")),
        sweep_filter=_sweep_filter(env.get("SWEEP_FILTER", "")),
        sweep_kinds=_sweep_kinds(env.get("SWEEP_KINDS", "")),
        exempt_label=_exempt_label(env.get("EXEMPT_LABEL")),
        trigger_topic=_optional_topic("TRIGGER_TOPIC", env.get("TRIGGER_TOPIC", ""), own_project),
        budget_ladder=_budget_ladder(env),
        cluster_delete_allowed=cluster_delete_allowed,
        cluster_incident_action=_cluster_incident_action(env, cluster_delete_allowed),
        max_concurrency=int(_number(env, "MAX_CONCURRENCY", 8, 1, 64, integer=True)),
        max_cancels_per_message=int(
            _number(env, "MAX_CANCELS_PER_MESSAGE", 500, 1, 5000, integer=True)
        ),
        dataproc_requests_per_minute=requests_per_minute,
        dataproc_job_cancels_per_minute=job_cancels_per_minute,
        dataproc_cluster_operations_per_minute=cluster_operations_per_minute,
        # Every region's budgets together: by default the sum of one region's four (2 x
        # 600 + 200 + 100 = 1,500), which one region's calls reach only with every bucket
        # full, so it binds a message spread over regions. 400,000: that sum at the
        # largest limits.
        dataproc_project_requests_per_minute=int(
            _number(
                env,
                "DATAPROC_PROJECT_REQUESTS_PER_MINUTE",
                2 * requests_per_minute + job_cancels_per_minute + cluster_operations_per_minute,
                1,
                400_000,
                integer=True,
            )
        ),
        dataproc_regions=regions,
        allowed_budgets=_allowlist(env, "ALLOWED_BUDGETS", _budget_id_problem),
        allowed_alert_policies=_allowlist(env, "ALLOWED_ALERT_POLICIES", _policy_name_problem),
        allowed_ancestors=_allowed_ancestors(env, allowed_projects),
        sweep_regions=_sweep_regions(env.get("SWEEP_REGIONS", ""), regions),
        org_api_hosts={
            api.name: host
            for api in ORG_APIS
            if (host := _emulator_host(env.get(api.emulator_variable, ""), api.emulator_variable))
        },
        # Shares of each API's quota: Cloud Asset's searches are 400 a minute per consumer
        # project (https://cloud.google.com/asset-inventory/docs/quota), Resource Manager's
        # reads and Billing's are larger; half and less, since other tools of the
        # organisation use them too.
        org_requests_per_minute={
            ASSETS.name: int(
                _number(env, "CLOUD_ASSET_REQUESTS_PER_MINUTE", 200, 1, 100_000, integer=True)
            ),
            RESOURCE_MANAGER.name: int(
                _number(env, "RESOURCE_MANAGER_REQUESTS_PER_MINUTE", 300, 1, 100_000, integer=True)
            ),
            **dict.fromkeys(
                (BUDGETS.name, BILLING.name),
                int(_number(env, "BILLING_REQUESTS_PER_MINUTE", 60, 1, 100_000, integer=True)),
            ),
        },
        scope_cache_seconds=_number(env, "SCOPE_CACHE_SECONDS", 300, 0, 3600),
        notify_webhook=webhook,
        notify_webhook_problem=webhook_problem,
        price_multiplier=_number(env, "PRICE_MULTIPLIER", 1, 0.1, 10),
    )


def _webhook(value: str) -> tuple[Webhook | None, str]:
    try:
        return parse_webhook_url(value), ""
    except InvalidWebhook as invalid:
        return None, str(invalid)


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


def _endpoint(value: str, regions: frozenset[str]) -> str:
    """Only https to a Dataproc host on googleapis.com: the access token goes with every
    request, so an http:// endpoint would send it in clear and any other host would be
    handed it. A locational or regional host must name a known region. Plain http is for a
    local emulator only, and that is DATAPROC_EMULATOR_HOST's job."""
    value = value.strip() or DEFAULT_DATAPROC_ENDPOINT
    match = _ENDPOINT.fullmatch(value)
    host = match["host"] if match else ""
    regional = _LOCATIONAL_HOST.fullmatch(host) or _REP_HOST.fullmatch(host)
    if not (
        host == "dataproc.googleapis.com"
        or (regional and regional["region"] in regions and regional["region"] != "global")
        or _PSC_HOST.fullmatch(host)
    ):
        raise SettingsError(
            f"DATAPROC_ENDPOINT={value[:200]!r} is not accepted: expected https:// and a "
            "Dataproc host of googleapis.com (dataproc.googleapis.com, "
            "REGION-dataproc.googleapis.com, dataproc.REGION.rep.googleapis.com for a known "
            "REGION, or a Private Service Connect dataproc-ENDPOINT.p.googleapis.com), in "
            "lowercase, with no user, path, query or port but 443; plain http is only for a "
            "local emulator, through DATAPROC_EMULATOR_HOST"
        )
    return f"https://{host}"


def _emulator_host(value: str, name: str = "DATAPROC_EMULATOR_HOST") -> str | None:
    """host:port of an emulator (Dataproc's, or an organisation API's) on this machine's
    loopback (127.0.0.0/8, localhost or [::1]): requests to it are plain http with a fixed
    token, so they must never leave the machine."""
    value = value.strip()
    if not value:
        return None
    match = _EMULATOR_HOST.fullmatch(value)
    if match is None or not 1 <= int(match["port"]) <= 65535 or not is_loopback(match["host"]):
        raise SettingsError(
            f"{name}={value[:200]!r} must be host:port on this machine's "
            "loopback: 127.0.0.0/8 (e.g. 127.0.0.1:8085), localhost:PORT or [::1]:PORT"
        )
    return value


def _regions(value: str) -> frozenset[str]:
    """DATAPROC_REGIONS, comma-separated, replaces the built-in list (name "global" too
    if it is wanted): for a region Google opened after this list, or to narrow the list
    to the regions the project uses."""
    if not value.strip():
        return DATAPROC_REGION_NAMES
    items = _items("DATAPROC_REGIONS", value)
    if bad := [item for item in items if not _REGION.fullmatch(item)]:
        raise SettingsError(
            f"DATAPROC_REGIONS has {', '.join(repr(item[:40]) for item in bad[:5])}: expected "
            "comma-separated regions such as us-central1 or global"
        )
    return frozenset(items)


def _sweep_filter(value: str) -> str:
    """Only the length is checked here (the grammar is canceller.selection's, which this
    file cannot import): a longer SWEEP_FILTER would be refused at every sweep."""
    value = value.strip()
    if len(value) > MAX_FILTER_CHARS:
        raise SettingsError(f"SWEEP_FILTER has {len(value)} characters: at most {MAX_FILTER_CHARS}")
    return value


def _allowlist(
    env: Mapping[str, str], name: str, problem: Callable[[str], str | None]
) -> frozenset[str] | None:
    """A comma-separated allowlist; unset or empty allows anything (None). ``problem``
    says what is wrong with one item, or None."""
    value = env.get(name, "")
    if not value.strip():
        return None
    items = _items(name, value)
    for item in items:
        if (why := problem(item)) is not None:
            raise SettingsError(f"{name} has {item[:80]!r}: {why}")
    return frozenset(items)


def _items(name: str, value: str) -> list[str]:
    """The comma-separated items of a list setting, each stripped; an empty item (",,",
    a trailing comma) is refused rather than guessed at, and so is a list too long to be
    anything but a mistake."""
    items = [item.strip() for item in value.split(",")]
    if "" in items:
        raise SettingsError(f"{name} has an empty item: separate names with single commas")
    if len(items) > MAX_ALLOWLIST_ITEMS:
        raise SettingsError(f"{name} has {len(items)} items: at most {MAX_ALLOWLIST_ITEMS}")
    return items


def _budget_id_problem(item: str) -> str | None:
    if _BUDGET_ID.fullmatch(item):
        return None
    return (
        "expected budget IDs (the budgetId attribute of the budget's notifications, the "
        "last part of billingAccounts/ACCOUNT/budgets/ID): letters, digits, - _ ., "
        "at most 128 characters"
    )


def _policy_name_problem(item: str) -> str | None:
    if len(item) > MAX_POLICY_NAME_CHARS:
        return f"an alert policy name has at most {MAX_POLICY_NAME_CHARS} characters"
    if not item.isprintable():
        return "an alert policy name has no control or other unprintable characters"
    return None


def _allowed_ancestors(
    env: Mapping[str, str], allowed_projects: frozenset[str] | None
) -> frozenset[str]:
    ancestors = _allowlist(env, "ALLOWED_ANCESTORS", _ancestor_problem) or frozenset()
    if ancestors and allowed_projects is None:
        raise SettingsError(
            "ALLOWED_PROJECTS=* allows every project, so ALLOWED_ANCESTORS would narrow "
            "nothing: set ALLOWED_PROJECTS to the projects outside ALLOWED_ANCESTORS (or "
            "leave it unset), or unset ALLOWED_ANCESTORS"
        )
    return ancestors


def _ancestor_problem(item: str) -> str | None:
    if _ANCESTOR.fullmatch(item):
        return None
    return "expected folders/NUMBER or organizations/NUMBER"


def _sweep_regions(value: str, regions: frozenset[str]) -> frozenset[str] | None:
    """SWEEP_REGIONS: where an organisation-wide sweep also looks for operations (which
    Cloud Asset does not index) in a project with work; unset, the regions where this
    instance has seen that project's batches or clusters."""
    if not value.strip():
        return None
    items = _items("SWEEP_REGIONS", value)
    if unknown := [item for item in items if item not in regions]:
        raise SettingsError(
            f"SWEEP_REGIONS has {', '.join(repr(item[:40]) for item in unknown[:5])}: not "
            "Dataproc regions (DATAPROC_REGIONS)"
        )
    return frozenset(items)


def _sweep_scopes(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _sweep_kinds(value: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))
    if unknown := [kind for kind in kinds if kind not in SWEEPABLE]:
        raise SettingsError(
            f"SWEEP_KINDS has {', '.join(unknown)}: expected a comma-separated list of "
            f"{', '.join(SWEEPABLE)} (batches are swept through their operations)"
        )
    return kinds or DEFAULT_SWEEP_KINDS


def _budget_ladder(env: Mapping[str, str]) -> tuple[Rung, ...]:
    """BUDGET_LADDER, rungs ``RATIO:ACTION`` joined by commas (``0.5:report,0.9:work,
    1.2:clusters``); unset, ``BUDGET_THRESHOLD:work`` (1.0 by default), the behaviour
    before the ladder. Both set is refused: which one was meant cannot be known."""
    text = env.get("BUDGET_LADDER", "").strip()
    if not text:
        return (Rung(_number(env, "BUDGET_THRESHOLD", 1.0, 0.0, 1000.0), "work"),)
    if env.get("BUDGET_THRESHOLD", "").strip():
        raise SettingsError(
            "BUDGET_LADDER and BUDGET_THRESHOLD are both set: BUDGET_THRESHOLD=T is the "
            "ladder T:work; set one"
        )
    rungs = []
    for item in text.split(","):
        ratio, _, action = item.strip().partition(":")
        action = action.strip()
        try:
            threshold = float(ratio)
        except ValueError:
            threshold = math.nan
        if not 0 <= threshold <= 1000 or action not in RUNG_ACTIONS:
            raise SettingsError(
                f"BUDGET_LADDER rung {item.strip()[:40]!r} is not RATIO:ACTION with a ratio "
                f"from 0 to 1000 and an action of {', '.join(RUNG_ACTIONS)}, e.g. "
                "0.5:report,0.9:work,1.2:clusters"
            )
        rungs.append(Rung(threshold, action))
    rungs.sort(key=lambda rung: rung.threshold)
    thresholds = [rung.threshold for rung in rungs]
    if len(rungs) > MAX_RUNGS or len(set(thresholds)) != len(thresholds):
        raise SettingsError(
            f"BUDGET_LADDER has {len(rungs)} rungs: at most {MAX_RUNGS}, each at its own ratio"
        )
    return tuple(rungs)


def _cluster_incident_action(env: Mapping[str, str], delete_allowed: bool) -> str:
    action = env.get("CLUSTER_INCIDENT_ACTION", "").strip() or "jobs"
    if action not in CLUSTER_INCIDENT_ACTIONS:
        raise SettingsError(
            f"CLUSTER_INCIDENT_ACTION={action[:40]!r}: expected one of "
            f"{', '.join(CLUSTER_INCIDENT_ACTIONS)} (jobs: the cluster's jobs and operations; "
            "stop: those, then the cluster; delete: those, then delete the cluster)"
        )
    if action == "delete" and not delete_allowed:
        raise SettingsError(
            "CLUSTER_INCIDENT_ACTION=delete needs CLUSTER_DELETE_ALLOWED=true (deploy.sh: "
            "--allow-cluster-delete)"
        )
    return action


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
