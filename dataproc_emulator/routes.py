"""URL routing for the real Dataproc paths and the emulator's admin API.

Handlers are plain functions of (state, path match, query, body) returning the JSON
to answer with, so the HTTP layer holds no API knowledge and this holds no socket code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import invalid, not_found
from .state import EmulatorState

Handler = Callable[[EmulatorState, re.Match[str], dict[str, str], bytes], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    methods: dict[str, Handler]


def resolve(routes: list[Route], method: str, path: str) -> tuple[Handler, re.Match[str]]:
    """Google's front end answers 404 both for an unknown path and for a known path with
    the wrong verb (no HTTP rule matches either way), so this does too."""
    for route in routes:
        match = route.pattern.fullmatch(path)
        if match is not None and method in route.methods:
            return route.methods[method], match
    raise not_found(f"The requested URL {path} with method {method} was not found.")


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


REAL_API: list[Route] = [
    Route(
        re.compile(r"/v1/(projects/[^/]+/regions/[^/]+/operations/[^/:]+):cancel"),
        {"POST": _cancel},
    ),
    Route(
        re.compile(r"/v1/(projects/[^/]+/regions/[^/]+/operations/[^/:]+)"),
        {
            "GET": lambda state, match, _q, _b: state.get_operation(match[1]),
            "DELETE": lambda state, match, _q, _b: state.delete_operation(match[1]),
        },
    ),
    Route(
        re.compile(r"/v1/(projects/[^/]+/regions/[^/]+/operations)"),
        {"GET": lambda state, match, query, _b: state.list_operations(match[1], query)},
    ),
    Route(
        re.compile(r"/v1/(projects/[^/]+/locations/[^/]+/batches/[^/:]+)"),
        {"GET": lambda state, match, query, _b: state.get_batch(match[1], _numeric_enums(query))},
    ),
    Route(
        re.compile(r"/v1/(projects/[^/]+/locations/[^/]+)/batches"),
        {
            "GET": lambda state, match, query, _b: state.list_batches(
                match[1], query, _numeric_enums(query)
            )
        },
    ),
]


def _bulk(state: EmulatorState, _m: re.Match[str], _q: dict[str, str], body: bytes) -> Any:
    payload = _json(body)
    seeds = payload.get("operations") if isinstance(payload, dict) else None
    if not isinstance(seeds, list):
        raise invalid('bulk seeding takes {"operations": [seed, ...]}')
    return {"seeded": len(state.seed_operations(seeds))}


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
    Route(re.compile(r"/_emulator/operations:bulk"), {"POST": _bulk}),
    Route(
        re.compile(r"/_emulator/operations/(projects/.+)"),
        {"GET": lambda state, match, _q, _b: state.operation_internals(match[1])},
    ),
    Route(
        re.compile(r"/_emulator/batches"),
        {"POST": lambda state, _m, _q, body: state.seed_batch(_json(body))},
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
