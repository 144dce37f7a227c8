"""URL routing for the real Dataproc paths, the other Google APIs served beside them
(Billing Budgets, Cloud Billing, Resource Manager, Cloud Asset: their own real paths,
which do not overlap Dataproc's), and the emulator's admin API.

Handlers are plain functions of (state, path match, query, body) returning the JSON
to answer with, so the HTTP layer holds no API knowledge and this holds no socket code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import clusters, org_apis
from .errors import ApiError, invalid, not_found
from .organisation import Organisation
from .sessions import check_request_id
from .state import EmulatorState

Handler = Callable[[EmulatorState, re.Match[str], dict[str, str], bytes], dict[str, Any]]


class Query(dict[str, str]):
    """The query parameters as handlers read them, one value a key (the last one), and
    every value of each key in ``every``, for a repeated parameter such as Cloud Asset's
    ``assetTypes=A&assetTypes=B``."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.every: dict[str, list[str]] = {}
        for key, value in pairs:
            self.every.setdefault(key, []).append(value)

    def logged(self) -> dict[str, str | list[str]]:
        """As the request log shows it: a list only for a key given more than once."""
        return {k: v[0] if len(v) == 1 else list(v) for k, v in self.every.items()}


def every_value(query: dict[str, str], key: str) -> list[str]:
    if isinstance(query, Query):
        return list(query.every.get(key, []))
    return [query[key]] if key in query else []


@dataclass(frozen=True)
class Route:
    """``names``: HTTP verb -> the API method it is (e.g. "jobs.get"), which is what
    requests are counted and rate-limited as; only the real API has them."""

    pattern: re.Pattern[str]
    methods: dict[str, Handler]
    names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    handler: Handler
    match: re.Match[str]
    api_method: str


def find(routes: list[Route], method: str, path: str) -> Resolved | None:
    for route in routes:
        match = route.pattern.fullmatch(path)
        if match is not None and method in route.methods:
            name = route.names.get(method, "unknown")
            return Resolved(route.methods[method], match, name)
    return None


def resolve(routes: list[Route], method: str, path: str) -> Resolved:
    found = find(routes, method, path)
    if found is None:
        raise unrouted(method, path)
    return found


def unrouted(method: str, path: str) -> ApiError:
    """Google's front end answers 404 both for an unknown path and for a known path with
    the wrong verb (no HTTP rule matches either way), so this does too."""
    return not_found(f"The requested URL {path} with method {method} was not found.")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"Invalid JSON payload received. {exc}") from None


def _cancel(state: EmulatorState, match: re.Match[str], _q: dict[str, str], body: bytes) -> Any:
    # CancelOperation's HTTP rule has no body; we assume Google rejects one with fields
    # (unconfirmed), which also catches a client that sends the name twice.
    if _json(body) != {}:
        raise invalid("Invalid JSON payload received. CancelOperation takes no body.")
    return state.cancel_operation(match[1])


def _numeric_enums(query: dict[str, str]) -> bool:
    """The system parameter ``$alt=json;enum-encoding=int`` asks for enums as numbers."""
    return "enum-encoding=int" in query.get("$alt", "")


def _cancel_job(
    state: EmulatorState, match: re.Match[str], query: dict[str, str], body: bytes
) -> Any:
    # CancelJobRequest's fields all sit in the path, so its body (body: "*") is {}.
    if _json(body) != {}:
        raise invalid("Invalid JSON payload received. CancelJob takes an empty body {}.")
    return state.cancel_job(match[1], _numeric_enums(query))


def _terminate(
    state: EmulatorState, match: re.Match[str], query: dict[str, str], body: bytes
) -> Any:
    request_id = check_request_id(_json(body))
    return state.terminate_session(match[1], request_id, _numeric_enums(query))


# The system parameters every Google API takes (dataproc.v1.json's top-level
# "parameters"); any ``$``-prefixed one is a system parameter too (``$alt``).
_SYSTEM_PARAMETERS = frozenset(
    {
        "$.xgafv",
        "access_token",
        "alt",
        "callback",
        "fields",
        "key",
        "oauth_token",
        "prettyPrint",
        "quotaUser",
        "uploadType",
        "upload_protocol",
    }
)


def _only(query: dict[str, str], *declared: str) -> None:
    """Cluster methods take only their declared query parameters and the system ones,
    refused in Google's words, so a client sending a misspelled or misplaced field
    (a body field on the URL) finds out here rather than being silently ignored."""
    for key in query:
        if key not in declared and key not in _SYSTEM_PARAMETERS and not key.startswith("$"):
            raise invalid(
                f'Invalid JSON payload received. Unknown name "{key}": Cannot bind query '
                f"parameter. Field '{key}' could not be found in request message."
            )


def _get_cluster(
    state: EmulatorState, match: re.Match[str], query: dict[str, str], _b: bytes
) -> Any:
    _only(query)
    return state.get_cluster(match[1], _numeric_enums(query))


def _list_clusters(
    state: EmulatorState, match: re.Match[str], query: dict[str, str], _b: bytes
) -> Any:
    _only(query, "filter", "pageSize", "pageToken")
    return state.list_clusters(match[1], query, _numeric_enums(query))


def _cluster_change(action: str) -> Handler:
    """StopCluster and StartCluster (``body: "*"``: clusterUuid, requestId in the body)."""

    def handler(
        state: EmulatorState, match: re.Match[str], query: dict[str, str], body: bytes
    ) -> Any:
        _only(query)
        request = clusters.request_from_body(_json(body))
        return state.cluster_action(match[1], action, request, _numeric_enums(query))

    return handler


def _delete_cluster(
    state: EmulatorState, match: re.Match[str], query: dict[str, str], _b: bytes
) -> Any:
    # DeleteCluster has no body: its optional fields are query parameters.
    _only(query, "clusterUuid", "requestId", "gracefulTerminationTimeout")
    request = clusters.request_from_query(query)
    return state.cluster_action(match[1], "delete", request, _numeric_enums(query))


_OPERATION = r"projects/[^/]+/regions/[^/]+/operations/[^/:]+"
_JOB = r"projects/[^/]+/regions/[^/]+/jobs/[^/:]+"
_SESSION = r"projects/[^/]+/locations/[^/]+/sessions/[^/:]+"
_CLUSTER = r"projects/[^/]+/regions/[^/]+/clusters/[^/:]+"

REAL_API: list[Route] = [
    Route(
        re.compile(rf"/v1/({_OPERATION}):cancel"),
        {"POST": _cancel},
        {"POST": "operations.cancel"},
    ),
    Route(
        re.compile(rf"/v1/({_OPERATION})"),
        {
            "GET": lambda state, match, _q, _b: state.get_operation(match[1]),
            "DELETE": lambda state, match, _q, _b: state.delete_operation(match[1]),
        },
        {"GET": "operations.get", "DELETE": "operations.delete"},
    ),
    Route(
        re.compile(r"/v1/(projects/[^/]+/regions/[^/]+/operations)"),
        {"GET": lambda state, match, query, _b: state.list_operations(match[1], query)},
        {"GET": "operations.list"},
    ),
    Route(
        re.compile(r"/v1/(projects/[^/]+/locations/[^/]+/batches/[^/:]+)"),
        {"GET": lambda state, match, query, _b: state.get_batch(match[1], _numeric_enums(query))},
        {"GET": "batches.get"},
    ),
    Route(
        re.compile(r"/v1/(projects/[^/]+/locations/[^/]+)/batches"),
        {
            "GET": lambda state, match, query, _b: state.list_batches(
                match[1], query, _numeric_enums(query)
            )
        },
        {"GET": "batches.list"},
    ),
    Route(re.compile(rf"/v1/({_JOB}):cancel"), {"POST": _cancel_job}, {"POST": "jobs.cancel"}),
    Route(
        re.compile(rf"/v1/({_JOB})"),
        {"GET": lambda state, match, query, _b: state.get_job(match[1], _numeric_enums(query))},
        {"GET": "jobs.get"},
    ),
    Route(
        re.compile(r"/v1/(projects/[^/]+/regions/[^/]+)/jobs"),
        {
            "GET": lambda state, match, query, _b: state.list_jobs(
                match[1], query, _numeric_enums(query)
            )
        },
        {"GET": "jobs.list"},
    ),
    Route(
        re.compile(rf"/v1/({_SESSION}):terminate"),
        {"POST": _terminate},
        {"POST": "sessions.terminate"},
    ),
    Route(
        re.compile(rf"/v1/({_SESSION})"),
        {"GET": lambda state, match, query, _b: state.get_session(match[1], _numeric_enums(query))},
        {"GET": "sessions.get"},
    ),
    Route(
        re.compile(r"/v1/(projects/[^/]+/locations/[^/]+)/sessions"),
        {
            "GET": lambda state, match, query, _b: state.list_sessions(
                match[1], query, _numeric_enums(query)
            )
        },
        {"GET": "sessions.list"},
    ),
    Route(
        re.compile(rf"/v1/({_CLUSTER}):stop"),
        {"POST": _cluster_change("stop")},
        {"POST": "clusters.stop"},
    ),
    Route(
        re.compile(rf"/v1/({_CLUSTER}):start"),
        {"POST": _cluster_change("start")},
        {"POST": "clusters.start"},
    ),
    Route(
        re.compile(rf"/v1/({_CLUSTER})"),
        {"GET": _get_cluster, "DELETE": _delete_cluster},
        {"GET": "clusters.get", "DELETE": "clusters.delete"},
    ),
    Route(
        re.compile(r"/v1/(projects/[^/]+/regions/[^/]+)/clusters"),
        {"GET": _list_clusters},
        {"GET": "clusters.list"},
    ),
]


# ---- Billing Budgets, Cloud Billing, Resource Manager, Cloud Asset ----------------------

OrgAnswer = Callable[[Organisation, re.Match[str], dict[str, str], bool], dict[str, Any]]


def _org(answer: OrgAnswer, *declared: str) -> Handler:
    """A GET of another API: only its declared query parameters (and the system ones),
    answered from the organisation description; enums as numbers when asked."""

    def handler(
        state: EmulatorState, match: re.Match[str], query: dict[str, str], _b: bytes
    ) -> Any:
        _only(query, *declared)
        return answer(state.organisation, match, query, _numeric_enums(query))

    return handler


def _search_assets(
    state: EmulatorState, match: re.Match[str], query: dict[str, str], _b: bytes
) -> Any:
    _only(query, "assetTypes", "query", "pageSize", "pageToken", "orderBy", "readMask")
    return state.search_assets(match[1], query, every_value(query, "assetTypes"))


def _get(pattern: str, method_id: str, answer: OrgAnswer, *declared: str) -> Route:
    return Route(re.compile(pattern), {"GET": _org(answer, *declared)}, {"GET": method_id})


_PAGES = ("pageSize", "pageToken")
_CHILDREN = ("parent", "showDeleted", *_PAGES)
_RM = "cloudresourcemanager"
OTHER_APIS: list[Route] = [
    _get(
        r"/v1/billingAccounts/([^/]+)/budgets/([^/:]+)",
        "billingbudgets.billingAccounts.budgets.get",
        lambda org, m, _q, n: org_apis.get_budget(org, m[1], m[2], n),
    ),
    _get(
        r"/v1/billingAccounts/([^/:]+)/projects",
        "cloudbilling.billingAccounts.projects.list",
        lambda org, m, q, _n: org_apis.list_billing_projects(org, m[1], q),
        *_PAGES,
    ),
    _get(
        r"/v3/projects:search",
        f"{_RM}.projects.search",
        lambda org, _m, q, n: org_apis.search_projects(org, q, n),
        "query",
        *_PAGES,
    ),
    _get(
        r"/v3/projects/([^/:]+)",
        f"{_RM}.projects.get",
        lambda org, m, _q, n: org_apis.get_project(org, m[1], n),
    ),
    _get(
        r"/v3/projects",
        f"{_RM}.projects.list",
        lambda org, _m, q, n: org_apis.list_projects(org, q, n),
        *_CHILDREN,
    ),
    _get(
        r"/v3/folders:search",
        f"{_RM}.folders.search",
        lambda org, _m, q, n: org_apis.search_folders(org, q, n),
        "query",
        *_PAGES,
    ),
    _get(
        r"/v3/folders/([^/:]+)",
        f"{_RM}.folders.get",
        lambda org, m, _q, n: org_apis.get_folder(org, m[1], n),
    ),
    _get(
        r"/v3/folders",
        f"{_RM}.folders.list",
        lambda org, _m, q, n: org_apis.list_folders(org, q, n),
        *_CHILDREN,
    ),
    _get(
        r"/v3/organizations/([^/:]+)",
        f"{_RM}.organizations.get",
        lambda org, m, _q, n: org_apis.get_organization(org, m[1], n),
    ),
    Route(
        re.compile(r"/v1/([^/]+/[^/:]+):searchAllResources"),
        {"GET": _search_assets},
        {"GET": "cloudasset.searchAllResources"},
    ),
]
REAL_API += OTHER_APIS


def _bulk(key: str, seed: Callable[[EmulatorState, list[Any]], list[Any]]) -> Handler:
    """``{key: [seed, ...]}`` -> ``{"seeded": n}``; all or nothing."""

    def handler(state: EmulatorState, _m: re.Match[str], _q: dict[str, str], body: bytes) -> Any:
        payload = _json(body)
        seeds = payload.get(key) if isinstance(payload, dict) else None
        if not isinstance(seeds, list):
            raise invalid(f'bulk seeding takes {{"{key}": [seed, ...]}}')
        return {"seeded": len(seed(state, seeds))}

    return handler


def _done(action: Callable[[], object]) -> dict[str, Any]:
    action()
    return {}


ADMIN_API: list[Route] = [
    Route(
        re.compile(r"/_emulator/health"),
        {"GET": lambda state, _m, _q, _b: {"status": "ok"}},
    ),
    Route(
        re.compile(r"/_emulator/operations"),
        {"POST": lambda state, _m, _q, body: state.seed_operation(_json(body))},
    ),
    Route(
        re.compile(r"/_emulator/operations:bulk"),
        {"POST": _bulk("operations", EmulatorState.seed_operations)},
    ),
    Route(
        re.compile(r"/_emulator/operations/(projects/.+)"),
        {"GET": lambda state, match, _q, _b: state.operation_internals(match[1])},
    ),
    Route(
        re.compile(r"/_emulator/batches"),
        {"POST": lambda state, _m, _q, body: state.seed_batch(_json(body))},
    ),
    Route(
        re.compile(r"/_emulator/jobs"),
        {"POST": lambda state, _m, _q, body: state.seed_job(_json(body))},
    ),
    Route(re.compile(r"/_emulator/jobs:bulk"), {"POST": _bulk("jobs", EmulatorState.seed_jobs)}),
    Route(
        re.compile(r"/_emulator/jobs/(projects/.+)"),
        {"GET": lambda state, match, _q, _b: state.job_internals(match[1])},
    ),
    Route(
        re.compile(r"/_emulator/sessions"),
        {"POST": lambda state, _m, _q, body: state.seed_session(_json(body))},
    ),
    Route(
        re.compile(r"/_emulator/sessions:bulk"),
        {"POST": _bulk("sessions", EmulatorState.seed_sessions)},
    ),
    Route(
        re.compile(r"/_emulator/sessions/(projects/.+)"),
        {"GET": lambda state, match, _q, _b: state.session_internals(match[1])},
    ),
    Route(
        re.compile(r"/_emulator/clusters"),
        {"POST": lambda state, _m, _q, body: state.seed_cluster(_json(body))},
    ),
    Route(
        re.compile(r"/_emulator/clusters:bulk"),
        {"POST": _bulk("clusters", EmulatorState.seed_clusters)},
    ),
    Route(
        re.compile(r"/_emulator/clusters/(projects/.+)"),
        {"GET": lambda state, match, _q, _b: state.cluster_internals(match[1])},
    ),
    Route(
        re.compile(r"/_emulator/organisation"),
        {
            "POST": lambda state, _m, _q, body: state.seed_organisation(_json(body)),
            "GET": lambda state, _m, _q, _b: state.organisation_description(),
        },
    ),
    Route(
        re.compile(r"/_emulator/assets:freeze"),
        {"POST": lambda state, _m, _q, _b: state.freeze_assets()},
    ),
    Route(
        re.compile(r"/_emulator/assets:release"),
        {"POST": lambda state, _m, _q, _b: state.release_assets()},
    ),
    Route(
        re.compile(r"/_emulator/faults"),
        {
            "POST": lambda state, _m, _q, body: {"id": state.add_fault(_json(body)).id},
            "GET": lambda state, _m, _q, _b: {"faults": state.faults()},
            "DELETE": lambda state, _m, _q, _b: _done(state.clear_faults),
        },
    ),
    Route(
        re.compile(r"/_emulator/requests"),
        {
            "GET": lambda state, _m, _q, _b: {"requests": state.requests()},
            "DELETE": lambda state, _m, _q, _b: _done(state.clear_requests),
        },
    ),
    Route(
        re.compile(r"/_emulator/requestCounts"),
        {"GET": lambda state, _m, _q, _b: state.request_counts()},
    ),
    Route(
        re.compile(r"/_emulator/clock"),
        {"POST": lambda state, _m, _q, body: state.advance_clock(_json(body))},
    ),
    Route(
        re.compile(r"/_emulator/settings"),
        {
            "GET": lambda state, _m, _q, _b: state.settings.to_json(),
            "POST": lambda state, _m, _q, body: state.update_settings(_json(body)),
        },
    ),
    Route(
        re.compile(r"/_emulator/reset"),
        {"POST": lambda state, _m, _q, _b: _done(state.reset)},
    ),
]
