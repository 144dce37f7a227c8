"""The sweep request: the object under a message's ``sweep`` key, its keys, its limits and
their validation, read into what to sweep (``canceller.selection.SweepSpec``) and, for a
continuation, its place in its chain (``canceller.chains``).

What the sweep then does is ``canceller.sweeps``' (and ``canceller.fan_out``'s for a
scope wider than projects/P/regions/R); the document around the request is
``canceller.message``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canceller.chains import Chain, InvalidChain, parse_sweep_chain
from canceller.kinds import SWEEPABLE
from canceller.names import UUID, is_wide_scope
from canceller.org_apis import BUDGET_NAME
from canceller.selection import InvalidSweep, SweepSpec, parse_duration, parse_filter

MAX_SWEEP_MAX = 100_000  # the largest sweep.max; MAX_CANCELS_PER_MESSAGE caps it again
# The scopes a budget continuation of canceller.fan_out carries: one per billed project
# at most, 10,000 of them in about 300 KB (Pub/Sub takes 10 MB).
MAX_BUDGET_SEARCHES = 10_000
_KEYS = (
    "scopes",
    "olderThan",
    "filter",
    "operationTypes",
    "kinds",
    "max",
    "clusterUuid",
    "scopeKinds",
    "budget",
    "continuation",
    "skip",
    "dryRun",
)
_WHOLE_MESSAGE = object()


class InvalidSweepRequest(ValueError):
    """Why the sweep request is refused. ``chain`` is a continuation's, once read: its
    refusal is answered under its sweep's keys, the same for every copy of it."""

    def __init__(
        self, detail: str, *, chain: Chain | None = None, value: object = _WHOLE_MESSAGE
    ) -> None:
        super().__init__(detail)
        self.chain = chain
        self._value = value

    def offending_input(self, text: str) -> object:
        """What to echo: the value at fault when it is at fault alone, else the message."""
        return text if self._value is _WHOLE_MESSAGE else self._value


@dataclass(frozen=True)
class SweepRequest:
    spec: SweepSpec
    chain: Chain | None  # a continuation's place in its chain; None: a first message
    dry_run: bool | None  # the message's dryRun and sweep.dryRun, which must agree


def known_keys(request: object) -> Mapping[str, Any]:
    """The request, if it is an object of known keys: checked before the message's own
    options, the rest (``read_sweep_request``) after them."""
    if not isinstance(request, dict):
        raise InvalidSweepRequest("'sweep' must be an object (it may be empty: {})")
    unknown = sorted(set(request) - set(_KEYS))
    if unknown:
        raise InvalidSweepRequest(f"unknown sweep field(s) {', '.join(unknown)}")
    return request


def read_sweep_request(request: Mapping[str, Any], dry_run: bool | None) -> SweepRequest:
    """``dry_run`` is the message's own dryRun; ``InvalidSweepRequest`` if anything is wrong."""
    if "dryRun" in request:
        inner = request["dryRun"]
        if not isinstance(inner, bool):
            raise InvalidSweepRequest("'sweep.dryRun' must be true or false", value=inner)
        if dry_run is not None and dry_run != inner:
            raise InvalidSweepRequest("dryRun and sweep.dryRun disagree: a message has one meaning")
        dry_run = inner
    chain = None
    if "continuation" in request:
        try:
            chain = parse_sweep_chain(request["continuation"], request.get("skip"))
        except InvalidChain as invalid:
            raise InvalidSweepRequest(str(invalid)) from None
    elif "skip" in request or "budget" in request:
        raise InvalidSweepRequest("sweep.skip and sweep.budget are only for continuation messages")
    try:
        spec = SweepSpec(
            scopes=_strings(request, "scopes"),
            filter=_optional_text(request, "filter"),
            older_than_seconds=(
                parse_duration(request["olderThan"]) if "olderThan" in request else None
            ),
            operation_types=_strings(request, "operationTypes"),
            max=_positive_int(request, "max"),
            cluster_uuid=_cluster_uuid(request.get("clusterUuid")),
            kinds=_kinds(request),
            scope_kinds=_scope_kinds(request),
            budget=_budget(request),
        )
        if spec.filter:
            parse_filter(spec.filter)
        if chain is not None and chain.part:
            _check_part(chain.part, spec.scopes)
    except InvalidSweep as invalid:
        raise InvalidSweepRequest(str(invalid), chain=chain) from None
    return SweepRequest(spec, chain, dry_run)


def _kinds(request: Mapping[str, Any]) -> tuple[str, ...]:
    kinds = _strings(request, "kinds")
    if unknown := sorted(set(kinds) - set(SWEEPABLE)):
        raise InvalidSweep(
            f"sweep.kinds has {', '.join(unknown)}; known: {', '.join(SWEEPABLE)} "
            "(batches are swept through their operations)"
        )
    return tuple(dict.fromkeys(kinds))


def _scope_kinds(request: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """A fan-out child's kinds per scope (canceller.fan_out): each key one of the sweep's
    scopes, each value some of its kinds. It can only narrow what the sweep lists."""
    value = request.get("scopeKinds", {})
    scopes, kinds = set(_strings(request, "scopes")), set(_kinds(request) or SWEEPABLE)
    if value and any(is_wide_scope(scope) for scope in scopes):
        # A wider scope is resolved by Cloud Asset into kinds per pair of its own.
        raise InvalidSweep("sweep.scopeKinds is only for sweeps of projects/P/regions/R scopes")
    if not isinstance(value, dict) or not all(
        scope in scopes
        and isinstance(plurals, list)
        and all(isinstance(plural, str) and plural in kinds for plural in plurals)
        for scope, plurals in value.items()
    ):
        raise InvalidSweep("sweep.scopeKinds must map some of sweep.scopes to lists of sweep.kinds")
    return {scope: tuple(dict.fromkeys(plurals)) for scope, plurals in value.items()}


def _budget(request: Mapping[str, Any]) -> tuple[str, str] | None:
    """A budget continuation's budget (canceller.fan_out): the searches it carries are
    judged by what that budget covers. It can only narrow the sweep's scopes."""
    value = request.get("budget")
    if value is None:
        return None
    match = BUDGET_NAME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidSweep("sweep.budget must be billingAccounts/XXXXXX-XXXXXX-XXXXXX/budgets/ID")
    if not 1 <= len(_strings(request, "scopes")) <= MAX_BUDGET_SEARCHES:
        raise InvalidSweep(f"a budget continuation carries 1 to {MAX_BUDGET_SEARCHES} scopes")
    return match["account"], match["id"]


def _check_part(part: str, scopes: tuple[str, ...]) -> None:
    """A fan-out child sweeps its own project only: its part names the project its
    results are booked under, and another project's work must not hide behind it."""
    if not scopes or not all(scope.startswith(f"{part}/regions/") for scope in scopes):
        raise InvalidSweep(
            f"a child of continuation.part {part} sweeps only {part}/regions/R scopes"
        )


def _cluster_uuid(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not UUID.fullmatch(value):
        raise InvalidSweep("sweep.clusterUuid must be a cluster UUID (hex digits and hyphens)")
    return value


def _strings(request: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = request.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidSweep(f"sweep.{key} must be a list of strings")
    return tuple(value)


def _optional_text(request: Mapping[str, Any], key: str) -> str | None:
    value = request.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidSweep(f"sweep.{key} must be a string")
    return value


def _positive_int(request: Mapping[str, Any], key: str) -> int | None:
    value = request.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SWEEP_MAX:
        raise InvalidSweep(f"sweep.{key} must be a whole number from 1 to {MAX_SWEEP_MAX}")
    return value
