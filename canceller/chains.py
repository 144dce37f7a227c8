"""Chains: one request carried across messages, that always ends and never repeats itself.

A message stops only what it can watch for its whole verification window inside its
deadline and its request budget; the rest is handed on in a continuation message to
TRIGGER_TOPIC. The messages of one request form a chain with one id (the first
message's), and each continuation carries exactly what its chain still owes:

- a named list carries only the names no message of the chain started yet, so every
  name is read, stopped and reported once, by the message that started it;
- a sweep carries its position: the part of the listing it is working through (a
  segment, from a page position, so a listing too long for one delivery is read across
  several), a cursor in the segment's selection order (creation time, then name) before
  which everything already has a final result in this chain, and the few names beyond
  the cursor that were settled out of order. A continuation never selects what the chain
  already answered, whatever Dataproc said to it (refused for good included), so the
  younger work behind it is reached.

Every continuation must make progress (settle at least one target, or move to the
next segment of the listing), so a chain ends after at most one generation per target
and segment; MAX_CONTINUATIONS is only a backstop. Results carry
``dedupeKey`` = chain id + target: Pub/Sub delivers at least once, so a redelivered or
forked message can answer a target twice, and consumers keep one answer per key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from canceller.clock import parse_timestamp
from canceller.names import InvalidName, kind_named_by, parse_name, parse_scope

MAX_CONTINUATIONS = 1000  # a backstop: a chain makes progress or ends long before this
MAX_SKIPPED = 100  # settled names beyond the cursor (at most MAX_CONCURRENCY of them)
MAX_PAGE_TOKEN_CHARS = 2048
MAX_SEGMENT_PAGES = 10_000
# Work that shows no creation time sorts after everything that does, by name.
NO_TIME = datetime.max.replace(tzinfo=UTC)
CHAIN_ID = re.compile(r"(?:sweep|names)-[\x21-\x7e]{1,256}")
_PAGE_TOKEN = re.compile(rf"[\x21-\x7e]{{1,{MAX_PAGE_TOKEN_CHARS}}}")


@dataclass(frozen=True)
class Continuation:
    """A message that carries a chain on, and who it is: two continuations with the same
    chain and generation are one fork's two copies (a redelivered message hands on
    twice), which the attributes let anyone recognise without reading the body."""

    message: dict[str, Any]
    chain_id: str
    generation: int

    def attributes(self) -> dict[str, str]:
        return {"continuation": "true", "chain": self.chain_id, "generation": str(self.generation)}


class InvalidChain(ValueError):
    """A continuation's chain fields are not ones this function writes."""


@dataclass(frozen=True, order=True)
class SortKey:
    """A sweep's selection order: oldest first, then by name, so the order is total and
    the same in every message of the chain."""

    time: datetime
    name: str

    def to_json(self) -> dict[str, str]:
        """Microseconds, as parsed: a coarser time would sort before the item it names."""
        moment = self.time.astimezone(UTC).isoformat(timespec="microseconds")
        return {"time": moment.replace("+00:00", "Z"), "name": self.name}


@dataclass(frozen=True)
class ListPosition:
    """Where a sweep's listing resumes: a scope, a kind, and the page token of the page
    to read first there ("" for its first page)."""

    scope: str
    kind: str
    page_token: str = ""

    def to_json(self) -> dict[str, str]:
        return {"scope": self.scope, "kind": self.kind, "pageToken": self.page_token}


@dataclass(frozen=True)
class Chain:
    """Where one message stands in its chain; a first message has generation 0."""

    id: str
    generation: int = 0
    after: SortKey | None = None  # the cursor: everything up to it is answered
    skip: frozenset[str] = frozenset()  # answered beyond the cursor
    list_from: ListPosition | None = None  # the segment's start (None: the beginning)
    pages: int | None = None  # the segment's length in pages (None: to the listing's end)

    def dedupe_key(self, target: str) -> str:
        return f"{self.id}/{target}"

    def answered(self, key: SortKey) -> bool:
        """Already has a final result in this chain: at or before the cursor, or skipped."""
        return (self.after is not None and key <= self.after) or key.name in self.skip

    def sweep_fields(self) -> tuple[dict[str, Any], list[str]]:
        """The sweep continuation's ``continuation`` object and ``skip`` list."""
        fields: dict[str, Any] = {"sweepId": self.id, "generation": self.generation}
        if self.after is not None:
            fields["after"] = self.after.to_json()
        if self.list_from is not None:
            fields["listFrom"] = self.list_from.to_json()
        if self.pages is not None:
            fields["pages"] = self.pages
        return fields, sorted(self.skip)


def first_chain(prefix: str, message_id: str) -> Chain:
    """The chain a first message starts: its id is the message's own, so a redelivery of
    that message (or a fork of its chain) gives the same dedupe keys."""
    return Chain(id=f"{prefix}-{message_id or 'unknown'}")


def parse_sweep_chain(value: object, skip: object) -> Chain:
    """A sweep continuation's ``continuation`` object and ``skip`` list, as
    ``Chain.sweep_fields`` writes them; anything else raises ``InvalidChain``."""
    if not isinstance(value, dict) or not {"sweepId", "generation"} <= set(value):
        raise InvalidChain('sweep.continuation must be {"sweepId": ..., "generation": N, ...}')
    if unknown := sorted(set(value) - {"sweepId", "generation", "after", "listFrom", "pages"}):
        raise InvalidChain(f"unknown sweep.continuation field(s) {', '.join(unknown)}")
    chain_id = _chain_id(value["sweepId"], "sweep.continuation.sweepId", "sweep-")
    return Chain(
        id=chain_id,
        generation=_generation(value["generation"], "sweep.continuation.generation"),
        after=_sort_key(value["after"]) if "after" in value else None,
        skip=_skip(skip),
        list_from=_list_position(value["listFrom"]) if "listFrom" in value else None,
        pages=_pages(value["pages"]) if "pages" in value else None,
    )


def parse_names_chain(value: object) -> Chain:
    """A named list's ``continuation``: ``{"chainId": "names-...", "generation": N}``."""
    if not isinstance(value, dict) or set(value) != {"chainId", "generation"}:
        raise InvalidChain('continuation must be {"chainId": "names-...", "generation": N}')
    return Chain(
        id=_chain_id(value["chainId"], "continuation.chainId", "names-"),
        generation=_generation(value["generation"], "continuation.generation"),
    )


def _chain_id(value: object, where: str, prefix: str) -> str:
    if not isinstance(value, str) or not value.startswith(prefix) or not CHAIN_ID.fullmatch(value):
        raise InvalidChain(f"{where} must be a chain id, {prefix}...")
    return value


def _generation(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONTINUATIONS:
        raise InvalidChain(f"{where} must be a whole number from 1 to {MAX_CONTINUATIONS}")
    return value


def _sort_key(value: object) -> SortKey:
    if not isinstance(value, dict) or set(value) != {"time", "name"}:
        raise InvalidChain('sweep.continuation.after must be {"time": ..., "name": ...}')
    moment = parse_timestamp(value["time"]) if isinstance(value["time"], str) else None
    if moment is None:
        raise InvalidChain("sweep.continuation.after.time must be an RFC 3339 time")
    return SortKey(moment, _work_name(value["name"], "sweep.continuation.after.name"))


def _skip(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or len(value) > MAX_SKIPPED:
        raise InvalidChain(f"sweep.skip must be a list of at most {MAX_SKIPPED} names")
    return frozenset(_work_name(text, "sweep.skip") for text in value)


def _work_name(text: object, where: str) -> str:
    if not isinstance(text, str):
        raise InvalidChain(f"{where} must be a name of an operation, job or session")
    try:
        return parse_name(kind_named_by(text), text).name
    except InvalidName as invalid:
        raise InvalidChain(f"{where}: {invalid}") from None


def _list_position(value: object) -> ListPosition:
    if not isinstance(value, dict) or set(value) != {"scope", "kind", "pageToken"}:
        raise InvalidChain(
            'sweep.continuation.listFrom must be {"scope": ..., "kind": ..., "pageToken": ...}'
        )
    try:
        scope = parse_scope(value["scope"]).name
    except InvalidName as invalid:
        raise InvalidChain(f"sweep.continuation.listFrom.scope: {invalid}") from None
    kind, token = value["kind"], value["pageToken"]
    if not isinstance(kind, str) or not isinstance(token, str):
        raise InvalidChain("sweep.continuation.listFrom.kind and pageToken must be text")
    if token and not _PAGE_TOKEN.fullmatch(token):
        raise InvalidChain(
            f"sweep.continuation.listFrom.pageToken must be at most {MAX_PAGE_TOKEN_CHARS} "
            "printable ASCII characters"
        )
    return ListPosition(scope, kind, token)


def _pages(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEGMENT_PAGES:
        raise InvalidChain(
            f"sweep.continuation.pages must be a whole number from 1 to {MAX_SEGMENT_PAGES}"
        )
    return value
