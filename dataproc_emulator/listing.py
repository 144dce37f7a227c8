"""List filters and page tokens for the list methods.

Filters are the subset Google documents for these methods: clauses ``field OP value``
joined by AND (or by plain spaces, an implicit AND) and, where a method documents it,
by OR (which binds tighter than AND, as in AIP-160); values bare or quoted (single or
double quotes, as AIP-160 allows), ``*`` matching any value. Anything else is a 400,
as Google answers for filters it cannot parse, so a client bug shows up here rather
than as a silently unfiltered list.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from .errors import invalid

T = TypeVar("T")

MAX_PAGE_SIZE = 1000
_CLAUSE = re.compile(
    r"\s*(?P<field>[A-Za-z_]\w*(?:\.[\w-]+)*)\s*(?P<op>!=|<=|>=|=|<|>)\s*"
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s"'()=<>!]+)"""
)
_ORDERING = frozenset({"<", ">", "<=", ">="})
# orderBy -> newest first? (ListBatchesRequest names only "" and "create_time desc";
# sessions document no values and are assumed to take the batches' ones)
_CREATE_TIME_ORDERS = {"": False, "create_time": False, "create_time desc": True}
ALL_OPERATORS = frozenset({"=", "!=", *_ORDERING})


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str


class FilterLanguage(Generic[T]):
    """The fields one list method can filter on, and how to read them off an item.

    ``operators`` and ``choices`` (field -> the values it may be compared with) narrow
    the language to what a method documents; ``disjunction`` enables OR. ``groups``
    (field -> value -> the values it stands for) lets one value name several, as
    ListClusters' ``status.state = ACTIVE`` names CREATING, UPDATING and RUNNING.
    """

    def __init__(
        self,
        fields: Mapping[str, Callable[[T], str | None]],
        labels: Callable[[T], Mapping[str, str]],
        conjunction: str = "AND",
        timestamps: frozenset[str] = frozenset(),
        operators: frozenset[str] = ALL_OPERATORS,
        choices: Mapping[str, frozenset[str]] | None = None,
        disjunction: str | None = None,
        groups: Mapping[str, Mapping[str, frozenset[str]]] | None = None,
    ) -> None:
        self._fields = fields
        self._labels = labels
        self._joint = re.compile(rf"\s+(?:(?:{conjunction})\s+)?")
        self._or = re.compile(rf"\s+(?:{disjunction})\s+") if disjunction else None
        self._timestamps = timestamps
        self._operators = operators
        self._choices = choices or {}
        self._groups = groups or {}

    def compile(self, text: str) -> Callable[[T], bool]:
        groups = self.parse(text)
        return lambda item: all(any(self._holds(c, item) for c in group) for group in groups)

    def parse(self, text: str) -> list[list[Clause]]:
        """Clauses grouped by AND: every group must hold, any clause of a group may."""
        groups: list[list[Clause]] = []
        pos = 0
        while text[pos:].strip():
            either = None
            if groups:
                either = self._or.match(text, pos) if self._or else None
                joint = either or self._joint.match(text, pos)
                if joint is None:
                    raise invalid(f"Invalid filter {text!r}: expected AND at {text[pos:]!r}")
                pos = joint.end()
            match = _CLAUSE.match(text, pos)
            if match is None:
                raise invalid(f"Invalid filter {text!r}: cannot parse {text[pos:]!r}")
            if either:
                groups[-1].append(self._clause(match))
            else:
                groups.append([self._clause(match)])
            pos = match.end()
        return groups

    def _clause(self, match: re.Match[str]) -> Clause:
        field, op, value = match.group("field", "op", "value")
        if value[0] in "\"'":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if not field.startswith("labels.") and field not in self._fields:
            known = [*sorted(self._fields), "labels.KEY"]
            raise invalid(f"Invalid filter: unknown field {field!r}; supported: {known}")
        if op not in self._operators:
            raise invalid(f"Invalid filter: {op} is not supported; use {sorted(self._operators)}")
        if op in _ORDERING:
            if field not in self._timestamps:
                supported = sorted(self._timestamps)
                raise invalid(f"Invalid filter: {op} is only supported on {supported}")
            _parse_time(value)
        allowed = self._choices.get(field)
        if allowed is not None and value not in allowed | {"*"}:
            raise invalid(f"Invalid filter: {field} can only be {sorted(allowed)}, not {value!r}")
        return Clause(field, op, value)

    def _holds(self, clause: Clause, item: T) -> bool:
        if clause.field.startswith("labels."):
            actual = self._labels(item).get(clause.field.removeprefix("labels."))
        else:
            actual = self._fields[clause.field](item)
        if clause.value == "*" and clause.op in ("=", "!="):
            return (actual is not None) == (clause.op == "=")
        group = self._groups.get(clause.field, {}).get(clause.value)
        if group is not None and clause.op in ("=", "!="):
            return (actual in group) == (clause.op == "=")
        if clause.op == "=":
            return actual == clause.value
        if clause.op == "!=":
            return actual != clause.value
        if actual is None:
            return False
        left, right = _parse_time(actual), _parse_time(clause.value)
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[
            clause.op
        ]


# gcloud dataproc operations list sends this older JSON form whenever --filter is not
# given: "{}" or e.g. {"operation_state_matcher": "ACTIVE", "cluster_name": "c"}
# (surface/dataproc/operations/list.py in the Cloud SDK).
_LEGACY_STATES = {
    "ALL": None,
    "ACTIVE": "status.state != DONE",
    "NON_ACTIVE": "status.state = DONE",
}
_LEGACY_KEYS = frozenset({"operation_state_matcher", "cluster_name", "project_id"})


def legacy_operations_filter(text: str) -> str:
    """Translate the JSON filter form into clauses; other text is returned as it is."""
    if not text.lstrip().startswith("{"):
        return text
    try:
        legacy = json.loads(text)
    except ValueError:
        raise invalid(f"Invalid filter {text!r}: not valid JSON") from None
    if not isinstance(legacy, dict) or set(legacy) - _LEGACY_KEYS:
        raise invalid(f"Invalid filter {text!r}: unsupported JSON filter")
    clauses: list[str] = []
    state = legacy.get("operation_state_matcher", "ALL")
    if state not in _LEGACY_STATES:
        raise invalid(f"Invalid operation_state_matcher {state!r}")
    if clause := _LEGACY_STATES[state]:
        clauses.append(clause)
    if "cluster_name" in legacy:
        clauses.append(f"clusterName = {json.dumps(str(legacy['cluster_name']))}")
    # project_id is implied by the collection being listed.
    return " AND ".join(clauses)


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise invalid(f"Invalid filter: {text!r} is not an RFC 3339 timestamp") from None


def page_size(raw: str | None, default: int, maximum: int = MAX_PAGE_SIZE) -> int:
    """Google's rule: unset or 0 means the default, and large sizes are clamped."""
    if raw is None or raw == "":
        return default
    try:
        size = int(raw)
    except ValueError:
        raise invalid(f"Invalid pageSize {raw!r}") from None
    if size < 0:
        raise invalid(f"Invalid pageSize {raw!r}: must not be negative")
    return min(size, maximum) if size else default


def page(key: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    """A list method's answer: proto3 JSON omits an empty repeated field and an empty
    string."""
    body: dict[str, Any] = {}
    if items:
        body[key] = items
    if token:
        body["nextPageToken"] = token
    return body


# Numbers (seeding order, creation time) or strings (ListClusters answers alphabetically).
SortKey = tuple[float | str, ...]


def newest_first(query: dict[str, str]) -> bool:
    order = " ".join(query.get("orderBy", "").split())
    if order not in _CREATE_TIME_ORDERS:
        raise invalid(f"Unsupported orderBy {order!r}: use create_time or create_time desc")
    return _CREATE_TIME_ORDERS[order]


def by_create_time(
    items: list[T], key: Callable[[T], SortKey], size: int, query: dict[str, str], descending: bool
) -> tuple[list[T], str | None]:
    """Batches and sessions list oldest first unless asked for create_time desc (the
    seeding sequence breaks ties, and a backdated seed sorts by its creation time)."""
    items.sort(key=key, reverse=descending)
    return paginate(items, key, size, query.get("pageToken"), descending)


def paginate(
    items: list[T],
    key: Callable[[T], SortKey],
    size: int,
    token: str | None,
    descending: bool = False,
) -> tuple[list[T], str | None]:
    """Keyset paging: the token holds the last key served, so records added or deleted
    between pages neither repeat nor shift later pages. ``items`` is already sorted by
    ``key`` (unique per item) in the direction given."""
    if token:
        after = _decode_token(token)
        try:
            items = [i for i in items if (key(i) < after if descending else key(i) > after)]
        except TypeError:  # a token made for another list: a name where a number goes
            raise invalid(f"Invalid pageToken {token!r}") from None
    chunk = items[:size]
    return chunk, (_encode_token(key(chunk[-1])) if len(items) > size else None)


def _encode_token(key: SortKey) -> str:
    text = "after:" + json.dumps(list(key))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_token(token: str) -> SortKey:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, key = text.partition(":")
        values = json.loads(key)
        if prefix != "after" or not isinstance(values, list):
            raise ValueError(text)
        if not all(isinstance(v, int | float | str) and not isinstance(v, bool) for v in values):
            raise ValueError(text)
        return tuple(values)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid(f"Invalid pageToken {token!r}") from None
