"""Cloud Asset Inventory v1 ``searchAllResources``, over the emulator's own Dataproc work.

Results are derived from the emulator's clusters, jobs, batches and sessions as they
are when asked (``Work``, gathered under the state's lock), placed by the organisation
description (dataproc_emulator/organisation.py): a result's ``project`` is the project's
number, ``folders`` every folder above it (nearest first; the order is assumed),
``organization`` the organisation. Work in a project the description does not name is
under no scope. Real asset data is minutes stale, so the admin API can freeze a
snapshot (``POST /_emulator/assets:freeze``): searches answer from the work as it was
then, whatever Dataproc now says, until it is released (``POST
/_emulator/assets:release``); where the work sits is still read from the organisation
as it is (the snapshot holds the work, not the organisation).

Request (cloudasset.v1.json): ``scope`` ``projects/{id or number}``, ``folders/{id}`` or
``organizations/{id}`` (anything else described is 403 PERMISSION_DENIED, as IAM
answers; not one of those forms, 400); ``assetTypes`` (repeated: each a literal type,
or a regular expression that must match one of the four Dataproc types the emulator
serves, else 400, where Google would search its other types); ``pageSize`` (0 or
negative: 100, assumed; capped at 500, as documented); ``pageToken`` (valid only with
the same other parameters, as documented; else 400); ``readMask`` (top-level fields of
ResourceSearchResult, or ``*``); ``orderBy`` is refused (400): the emulator answers in
name order only.

Query grammar: terms separated by spaces or `` AND `` (both mean AND in Cloud Asset);
each term ``field:value``, ``field=value`` or ``field:(v1 OR v2 ...)``, optionally
preceded by ``NOT``; fields ``state``, ``location``, ``project`` and ``labels.KEY``
(``labels.KEY:*``: the label exists). ``:`` matches as the search query syntax page
says: both sides are cut into words at every character other than letters, digits,
``_`` and ``&``, case-folded, and the value's words must appear consecutively in the
field's (``state:ACTIVE`` does not match CANCEL_PENDING's one word; ``project:1234``
matches ``projects/1234``); ``=`` is exact and case-sensitive. Anything else (free text,
other fields, OR between terms, quotes, wildcards) is 400 INVALID_ARGUMENT rather than a
guess at what Google would select.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .clusters import ClusterRecord
from .errors import ApiError, invalid
from .jobs import JobRecord
from .organisation import Organisation, Project
from .records import BatchRecord, timestamp
from .sessions import SessionRecord

SERVICE = "dataproc.googleapis.com"
ASSET_TYPES = tuple(f"{SERVICE}/{kind}" for kind in ("Batch", "Cluster", "Job", "Session"))
DEFAULT_PAGE_SIZE = 100  # assumed: "the server will pick an appropriate default"
MAX_PAGE_SIZE = 500  # "Page size is capped at 500 even if a larger value is given."
# ResourceSearchResult's fields (cloudasset.v1.json), what readMask may name.
RESULT_FIELDS = frozenset(
    {
        "additionalAttributes",
        "assetType",
        "attachedResources",
        "createTime",
        "description",
        "displayName",
        "effectiveTags",
        "enrichments",
        "folders",
        "kmsKey",
        "kmsKeys",
        "labels",
        "location",
        "name",
        "networkTags",
        "organization",
        "parentAssetType",
        "parentFullResourceName",
        "project",
        "relationships",
        "sccSecurityMarks",
        "state",
        "tagKeys",
        "tagValueIds",
        "tagValues",
        "tags",
        "updateTime",
        "versionedResources",
    }
)
_SCOPE = re.compile(r"(projects|folders|organizations)/([^/]+)")
_LITERAL_TYPE = re.compile(r"[a-z][a-z0-9.-]*\.googleapis\.com/[A-Za-z][A-Za-z0-9]*")
_WORD_BREAK = re.compile(r"[^A-Za-z0-9_&]+")
_VALUE = r"[^\s()\"'*]+"
_TERM = re.compile(
    rf"(?:(?P<not>NOT)\s+)?(?P<field>state|location|project|labels\.[a-z0-9_-]+)(?P<op>[:=])"
    rf"(?:\((?P<group>\s*{_VALUE}(?:\s+OR\s+{_VALUE})*\s*)\)|(?P<value>{_VALUE}|\*))"
)
_AND = re.compile(r"\s+(?:AND\s+)?")


@dataclass(frozen=True)
class Work:
    """One piece of Dataproc work as Cloud Asset sees it, at the time it was gathered."""

    asset_type: str
    project: str  # the project id in its Dataproc name
    path: str  # its Dataproc name: projects/P/regions/R/clusters/C, ...
    location: str
    display_name: str
    labels: Mapping[str, str]
    state: str
    created: float  # on the emulator's clock


def work_in(
    clusters: Iterable[ClusterRecord],
    jobs: Iterable[JobRecord],
    batches: Iterable[BatchRecord],
    sessions: Iterable[SessionRecord],
    now: float,
) -> list[Work]:
    """The emulator's Dataproc work now (a deleted cluster is gone). Each result's
    ``state`` is its Dataproc state word (whether Cloud Asset fills it for Dataproc is
    unconfirmed); ``displayName`` its short name (assumed)."""
    found = [
        Work(
            f"{SERVICE}/Cluster",
            c.project,
            c.name,
            c.region,
            c.cluster_name,
            c.all_labels(),
            c.state(now),
            c.created,
        )
        for c in clusters
        if not c.gone(now)
    ]
    found += [
        Work(
            f"{SERVICE}/Job",
            j.project,
            j.name,
            j.region,
            j.job_id,
            dict(j.labels),
            j.status(now).state,
            j.submitted,
        )
        for j in jobs
    ]
    for kind, records in (("Batch", batches), ("Session", sessions)):
        for record in records:
            _, project, _, location, _, short = record.name.split("/")
            state, created = _state_and_creation(record, now)
            labels = dict(record.labels)
            found.append(
                Work(
                    f"{SERVICE}/{kind}",
                    project,
                    record.name,
                    location,
                    short,
                    labels,
                    state,
                    created,
                )
            )
    return found


def _state_and_creation(record: BatchRecord | SessionRecord, now: float) -> tuple[str, float]:
    if isinstance(record, BatchRecord):
        return record.state(now)[0], record.operation.created
    return record.state(now), record.created


# ---- the request -----------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    scope: str
    asset_types: tuple[str, ...]
    keep: Callable[[dict[str, Any]], bool]
    size: int
    after: str | None  # the last name the previous page served
    fingerprint: str  # the other parameters, which a page token must be used with
    read_mask: frozenset[str] | None


def parse_search(scope: str, query: Mapping[str, str], asset_types: list[str]) -> Search:
    """Every 400 the request earns, before anything is read."""
    if _SCOPE.fullmatch(scope) is None:
        raise invalid(
            f"Invalid scope {scope!r}: expected projects/{{PROJECT_ID}}, "
            "projects/{PROJECT_NUMBER}, folders/{FOLDER_NUMBER} or "
            "organizations/{ORGANIZATION_NUMBER}"
        )
    if query.get("orderBy", "").strip():
        raise invalid("orderBy is not supported by this emulator: it answers in name order")
    for pattern in asset_types:
        _check_asset_type(pattern)
    text = query.get("query", "")
    mask = _read_mask(query.get("readMask", ""))
    others = [scope, asset_types, text, query.get("readMask", ""), query.get("pageSize", "")]
    fingerprint = hashlib.sha256(json.dumps(others).encode()).hexdigest()[:16]
    return Search(
        scope=scope,
        asset_types=tuple(asset_types),
        keep=compile_query(text),
        size=_page_size(query.get("pageSize")),
        after=_after(query.get("pageToken", ""), fingerprint),
        fingerprint=fingerprint,
        read_mask=mask,
    )


def _check_asset_type(pattern: str) -> None:
    if _LITERAL_TYPE.fullmatch(pattern):
        return
    try:
        compiled = re.compile(pattern)
    except re.error:
        raise invalid(f"Invalid asset type regular expression {pattern!r}") from None
    if not any(compiled.fullmatch(kind) for kind in ASSET_TYPES):
        raise invalid(
            f"asset_types {pattern!r} matches none of the types this emulator serves "
            f"({', '.join(ASSET_TYPES)})"
        )


def _type_wanted(asset_type: str, patterns: tuple[str, ...]) -> bool:
    return not patterns or any(re.fullmatch(p, asset_type) for p in patterns)


def _read_mask(text: str) -> frozenset[str] | None:
    fields = {part.strip() for part in text.split(",") if part.strip()}
    if not fields or "*" in fields:
        return None
    if unknown := sorted(fields - RESULT_FIELDS):
        raise invalid(f"Invalid field path(s) in read_mask: {', '.join(unknown)}")
    return frozenset(fields)


def _page_size(raw: str | None) -> int:
    try:
        size = int(raw) if raw else 0
    except ValueError:
        raise invalid(f"Invalid value at 'page_size' (TYPE_INT32), {raw!r}") from None
    return min(size, MAX_PAGE_SIZE) if size > 0 else DEFAULT_PAGE_SIZE


def _token(name: str, fingerprint: str) -> str:
    text = json.dumps({"after": name, "request": fingerprint})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _after(token: str, fingerprint: str) -> str | None:
    if not token:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, request = decoded["after"], decoded["request"]
    except (ValueError, TypeError, KeyError):
        raise invalid(f"Invalid page_token {token!r}") from None
    if request != fingerprint or not isinstance(after, str):
        # "The values of all other method parameters, must be identical to those in the
        # previous call." (the wording here is assumed)
        raise invalid("page_token does not match the other parameters of the request")
    return after


# ---- the query ---------------------------------------------------------------------------


def compile_query(text: str) -> Callable[[dict[str, Any]], bool]:
    """The query as a test on a rendered ResourceSearchResult; a 400 for anything the
    emulator cannot evaluate as Cloud Asset documents it."""
    tests: list[Callable[[dict[str, Any]], bool]] = []
    position, text = 0, text.strip()
    while position < len(text):
        if tests:
            gap = _AND.match(text, position)
            if gap is None or gap.end() == len(text):
                raise _unsupported(text, position)
            position = gap.end()
        term = _TERM.match(text, position)
        if term is None:
            raise _unsupported(text, position)
        tests.append(_term_test(term))
        position = term.end()
    return lambda result: all(test(result) for test in tests)


def _term_test(term: re.Match[str]) -> Callable[[dict[str, Any]], bool]:
    field, has = term["field"], term["op"] == ":"
    values = re.split(r"\s+OR\s+", term["group"].strip()) if term["group"] else [term["value"]]
    if "*" in values and not (has and field.startswith("labels.")):
        raise invalid(
            f"Wildcards are not supported by this emulator, except labels.KEY:*: {term[0]!r}"
        )
    if has and any(v != "*" and not _words(v) for v in values):
        raise invalid(f"The query term {term[0]!r} has a value without words")

    def read(result: dict[str, Any]) -> str | None:
        if field.startswith("labels."):
            labels: dict[str, str] = result.get("labels", {})
            return labels.get(field.removeprefix("labels."))
        value = result.get(field)
        return value if isinstance(value, str) else None

    def matches(result: dict[str, Any]) -> bool:
        found = read(result)
        if found is None:
            return False
        return any(
            (value == "*" or _consecutive(_words(value), _words(found))) if has else found == value
            for value in values
        )

    negated = term["not"] is not None
    return lambda result: matches(result) != negated


def _words(text: str) -> list[str]:
    return [word.casefold() for word in _WORD_BREAK.split(text) if word]


def _consecutive(wanted: list[str], words: list[str]) -> bool:
    width = len(wanted)
    return any(words[i : i + width] == wanted for i in range(len(words) - width + 1))


def _unsupported(text: str, position: int) -> ApiError:
    return invalid(
        f"Invalid query at {text[position : position + 40]!r}: this emulator evaluates only "
        "terms [NOT ]field:value, field=value or field:(v1 OR v2) on state, location, "
        "project and labels.KEY, joined by spaces or AND"
    )


# ---- the answer --------------------------------------------------------------------------


def search(org: Organisation, work: list[Work], request: Search) -> dict[str, Any]:
    """One page of results, in name order."""
    projects = _scope_projects(org, request.scope)
    results = []
    for item in work:
        project = projects.get(item.project)
        if project is None or not _type_wanted(item.asset_type, request.asset_types):
            continue
        result = _render(org, item, project)
        if request.keep(result):
            results.append(result)
    results.sort(key=lambda r: r["name"])
    if request.after is not None:
        results = [r for r in results if r["name"] > request.after]
    page = results[: request.size]
    body: dict[str, Any] = {}
    if page:
        mask = request.read_mask
        body["results"] = [r if mask is None else {k: r[k] for k in r if k in mask} for r in page]
    if len(results) > request.size:
        body["nextPageToken"] = _token(page[-1]["name"], request.fingerprint)
    return body


def _scope_projects(org: Organisation, scope: str) -> dict[str, Project]:
    """project id -> Project for the projects under the scope; 403 for a scope the
    description does not hold."""
    kind, _, key = scope.partition("/")
    if kind == "projects":
        project = org.project(key)
        if project is None:
            raise asset_denied()
        return {project.project_id: project}
    if not org.id or not org.knows(scope):
        raise asset_denied()
    return {p.project_id: p for p in org.projects if org.contains(scope, p)}


def _render(org: Organisation, item: Work, project: Project) -> dict[str, Any]:
    folders, organisation = org.ancestors(project.parent)
    result: dict[str, Any] = {
        "name": f"//{SERVICE}/{item.path}",
        "assetType": item.asset_type,
        "project": f"projects/{project.number}",
    }
    if folders:
        result["folders"] = folders
    if organisation is not None:
        result["organization"] = organisation
    result |= {"displayName": item.display_name, "location": item.location}
    if item.labels:
        result["labels"] = dict(item.labels)
    # Timestamps here have whole seconds ("Timestamp.nanos will always be 0").
    result |= {"state": item.state, "createTime": timestamp(item.created)[:19] + "Z"}
    return result


def asset_denied() -> ApiError:
    """Cloud Asset's 403 for a scope the caller may not search (or that is not there)."""
    return ApiError(
        403,
        "Request denied by Cloud IAM.",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "To check permissions required for this RPC:",
                        "url": "https://cloud.google.com/asset-inventory/docs/access-control"
                        "#required_permissions",
                    }
                ],
            }
        ],
    )
