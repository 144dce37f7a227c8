"""Which listed work a sweep may stop: the sweep's spec and its selection rule.

The filter is sent to Dataproc's list call and also evaluated here, because whether the
server honours every field for every kind is unconfirmed (gcloud's list pages document
the grammar, e.g. https://cloud.google.com/sdk/gcloud/reference/dataproc/operations/list
and https://cloud.google.com/sdk/gcloud/reference/dataproc/clusters/list, not whether
every kind's list call honours every field). A clause we cannot evaluate ourselves is refused up
front, and a kind that cannot evaluate a clause is left out of the sweep: a sweep must
never stop more than its filter says. Work labelled with EXEMPT_LABEL is never selected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from canceller.kinds import OPERATIONS, SWEEPABLE, Clause, Kind, Phase, Resource

# gcloud's documented list filter: `field = value [AND field = value]...`, AND only; the
# fields are those the sweepable kinds describe (``Kind.filter_fields``) and labels.KEY.
# Each pattern is matched against one token (no whitespace in it) and cannot backtrack
# far: the filter is split into tokens first, in one pass, so parsing stays linear in the
# filter's length.
_FIELDS = sorted({field for kind in SWEEPABLE.values() for field in kind.filter_fields})
_FIELD = re.compile("|".join([*map(re.escape, _FIELDS), r"labels\.[a-z][a-z0-9_-]{0,62}"]))
_BARE_VALUE = re.compile(r"[A-Za-z0-9_.:/-]+")
# A filter is a few clauses: 1 KiB holds a dozen. Anything longer is refused before it is
# read, so a hostile filter costs nothing however it is built (issue 15, item 8).
MAX_FILTER_CHARS = 1024
_SUPPORTED = f"use `field = value` joined by AND, with fields {', '.join(_FIELDS)}, labels.KEY"
# At most 9 ASCII digits a part: enough for 366 days in seconds, and int() stays cheap.
_DURATION = re.compile(
    r"(?:(?P<d>[0-9]{1,9})d)?(?:(?P<h>[0-9]{1,9})h)?(?:(?P<m>[0-9]{1,9})m)?(?:(?P<s>[0-9]{1,9})s)?"
)
MAX_OLDER_THAN_SECONDS = 366 * 86400  # beyond a year and a day an age selects nothing real


class InvalidSweep(ValueError):
    """The sweep cannot be run as asked; the message says what to change."""


@dataclass(frozen=True)
class SweepSpec:
    scopes: tuple[str, ...] = ()  # empty: the SWEEP_SCOPES setting
    filter: str | None = None  # None: the SWEEP_FILTER setting
    older_than_seconds: float | None = None
    operation_types: tuple[str, ...] = ()
    max: int | None = None  # None: no limit but MAX_CANCELS_PER_MESSAGE per message
    cluster_uuid: str | None = None  # an incident names one incarnation of a cluster
    kinds: tuple[str, ...] = ()  # empty: the SWEEP_KINDS setting
    # A fan-out child's kinds per scope: only those Cloud Asset found there (and
    # operations); a scope not named here is listed for every kind.
    scope_kinds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    budget: tuple[str, str] | None = None  # (billing account, budget id): its real scope


def parse_filter(text: str) -> tuple[Clause, ...]:
    """The clauses of a sweep filter (the message's, or SWEEP_FILTER), each one that at
    least one sweepable kind can check; ``InvalidSweep`` otherwise.

    At most ``MAX_FILTER_CHARS`` characters, checked first. Then one pass splits the text
    into tokens and each clause must be exactly ``FIELD = VALUE``: no regular expression
    ever scans across whitespace, so no input, however it is spaced, can make parsing
    slower than linear (a regex split on ``\\s+AND\\s+`` is quadratic in a run of spaces)."""
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidSweep(
            f"filter has {len(text)} characters: at most {MAX_FILTER_CHARS} are accepted"
        )
    clauses = []
    for start, end, tokens in _clause_tokens(text):
        shown = text[start:end][:200]
        if len(tokens) != 3 or tokens[1] != "=" or not _FIELD.fullmatch(tokens[0]):
            raise InvalidSweep(f"filter clause {shown!r} is not supported: {_SUPPORTED}")
        value = tokens[2]
        if value.startswith('"'):  # a whole quoted token: no quote inside
            if "\\" in value:
                raise InvalidSweep(f"filter clause {shown!r} has a backslash: {_SUPPORTED}")
            value = value[1:-1]
        elif not _BARE_VALUE.fullmatch(value):
            raise InvalidSweep(f"filter clause {shown!r} is not supported: {_SUPPORTED}")
        clause = Clause(tokens[0], value)
        if not any(kind.applies(clause) for kind in SWEEPABLE.values()):
            allowed = sorted(
                {
                    v
                    for kind in SWEEPABLE.values()
                    for v in kind.filter_fields.get(clause.field) or ()
                }
            )
            raise InvalidSweep(f"{clause.field} must be one of {', '.join(allowed)}")
        clauses.append(clause)
    return tuple(clauses)


def _clause_tokens(text: str) -> list[tuple[int, int, list[str]]]:
    """The filter's clauses as (start, end, tokens), split at each bare ``AND`` token.

    Tokens are runs of non-space characters, ``=`` on its own, and double-quoted strings
    (spaces and ``=`` kept inside); each character is looked at once. An ``AND`` with
    nothing on one side, or an unclosed quote, is refused here."""
    clauses: list[tuple[int, int, list[str]]] = []
    tokens: list[str] = []
    first = last = 0  # the current clause's extent in ``text``
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char.isspace():
            index += 1
            continue
        if char == '"':
            close = text.find('"', index + 1)
            if close < 0:
                raise InvalidSweep(f"filter has an unclosed quote: {text[index : index + 40]!r}")
            stop = close + 1
        elif char == "=":
            stop = index + 1
        else:
            stop = index + 1
            while stop < length and not text[stop].isspace() and text[stop] not in '="':
                stop += 1
        token = text[index:stop]
        if token == "AND":
            if not tokens:
                raise InvalidSweep(f"filter has an AND with no clause before it: {_SUPPORTED}")
            clauses.append((first, last, tokens))
            tokens = []
        else:
            if not tokens:
                first = index
            tokens.append(token)
            last = stop
        index = stop
    if tokens:
        clauses.append((first, last, tokens))
    elif clauses:
        raise InvalidSweep(f"filter ends with an AND and no clause after it: {_SUPPORTED}")
    return clauses


def parse_duration(value: object) -> float:
    """ "6h", "90m", "1d12h", "45s", or a number of seconds; from 0 to 366 days.

    Bounded because an age of 1e999 or of billions of days is a mistake, not a request:
    it would select nothing, and the sweep would report success.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 0 <= value <= MAX_OLDER_THAN_SECONDS:  # False for NaN; no float() of a huge int
            return float(value)
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match and any(match.groupdict().values()):
            parts = {k: int(v or 0) for k, v in match.groupdict().items()}
            seconds = parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
            if seconds <= MAX_OLDER_THAN_SECONDS:
                return float(seconds)
    shown = f"={value[:40]!r}" if isinstance(value, str) else ""
    raise InvalidSweep(
        f"olderThan{shown} must be a duration like 6h, 30m or 1d12h, or a number of seconds,"
        " from 0 to 366 days"
    )


def why_not_swept(kind: Kind, spec: SweepSpec, clauses: tuple[Clause, ...]) -> str | None:
    """Why ``kind`` must sit this sweep out, or None. A clause it cannot check, or an
    operation-only selector, would otherwise be ignored for it and select too much."""
    unchecked = [f"{c.field} = {c.value}" for c in clauses if not kind.applies(c)]
    if unchecked:
        return f"{kind.plural} cannot be filtered on {', '.join(unchecked)}"
    if spec.operation_types and kind is not OPERATIONS:
        return f"operationTypes selects operations only, not {kind.plural}"
    return None


def is_exempt(kind: Kind, item: Resource, exempt_label: tuple[str, str] | None) -> bool:
    if exempt_label is None:
        return False
    key, value = exempt_label
    return kind.labels(item).get(key) == value


def selects(
    kind: Kind,
    spec: SweepSpec,
    clauses: tuple[Clause, ...],
    item: Resource,
    now: datetime,
) -> bool:
    """Running (not already being stopped) and matching every rule of the sweep."""
    if kind.phase(item) is not Phase.RUNNING or not kind.sweepable_item(item):
        return False
    if not all(kind.holds(clause, item) for clause in clauses):
        return False
    if spec.operation_types and OPERATIONS.operation_type(item) not in spec.operation_types:
        return False
    if spec.cluster_uuid and kind.cluster_uuid(item) != spec.cluster_uuid:
        return False
    if spec.older_than_seconds is not None:
        created = kind.created_at(item)
        if created is None or (now - created).total_seconds() < spec.older_than_seconds:
            return False
    return True
