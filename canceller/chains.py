"""Chains: one request carried across messages, that always ends and never repeats itself.

A message stops only what it can watch for its whole verification window inside its
deadline, its request budget and its call allowance; the rest is handed on in a
continuation message to TRIGGER_TOPIC. The messages of one request form a chain with
one id (the first message's), and each continuation carries exactly what its chain
still owes:

- a named list carries only the names no message of the chain answered yet (and marks
  those whose stop was sent but never confirmed, so that finding them stopped is not
  told as someone else's doing), so every name is answered once, by the message that
  stopped it;
- a sweep carries the targets its chain answered, as short digests, most recent first.
  Work that ended drops out of a listing of running work by itself; what the chain
  answered and is still running (a stop refused for good, an operation slow to end)
  would be selected again without them. A continuation never selects a digest it
  carries, so it never repeats a doomed stop and reaches the work behind it. When the
  listing itself is too long for one delivery, the sweep also carries the part of the
  listing it works through (a segment from a page position, read again by each message
  until none of its candidates is left, then the next one). No cursor by time or
  position inside a listing is carried: a listing of running work shrinks as work is
  stopped, so a page read again does not hold what it held.

Every continuation must make progress (answer a target it had not answered, or move on
in the listing), so a chain ends; MAX_CONTINUATIONS is only a backstop. Results carry
``dedupeKey`` = chain id + target: Pub/Sub delivers at least once, so a redelivered or
forked message can answer a target twice, and consumers keep one answer per key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from canceller.clock import parse_timestamp
from canceller.names import PROJECT_ID, InvalidName, parse_scope

MAX_CONTINUATIONS = 1000  # a backstop: a chain makes progress or ends long before this
# Digests of answered targets a sweep continuation carries: 2,000 of 16 characters fit
# well inside a message's 64 KiB, however long the names. Past it the oldest answers are
# dropped first, and such a target, if still running, may be answered once more.
MAX_SKIPPED = 2000
DIGEST_CHARS = 16  # 64 bits of SHA-256: a collision among 2,000 names is ~1e-13
MAX_PAGE_TOKEN_CHARS = 2048
MAX_SEGMENT_PAGES = 10_000
CHAIN_ID = re.compile(r"(?:sweep|names)-[\x21-\x7e]{1,256}")
_PAGE_TOKEN = re.compile(rf"[\x21-\x7e]{{1,{MAX_PAGE_TOKEN_CHARS}}}")
PART = re.compile(rf"projects/(?:{PROJECT_ID.pattern})")
_DIGEST = re.compile(rf"[0-9a-f]{{{DIGEST_CHARS}}}")


def digest(name: str) -> str:
    """A target's short, fixed-length stand-in in a continuation's ``skip`` list."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:DIGEST_CHARS]


@dataclass(frozen=True)
class Continuation:
    """A message that carries a chain on, and who it is: two continuations with the same
    chain and generation are one fork's two copies (a redelivered message hands on
    twice), which the attributes let anyone recognise without reading the body."""

    message: dict[str, Any]
    chain_id: str
    generation: int
    part: str = ""  # a fan-out child's project: each child is a chain of its own

    def attributes(self) -> dict[str, str]:
        attributes = {
            "continuation": "true",
            "chain": self.chain_id,
            "generation": str(self.generation),
        }
        if self.part:
            attributes["part"] = self.part
        return attributes


class InvalidChain(ValueError):
    """A continuation's chain fields are not ones this function writes."""


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
    skip: tuple[str, ...] = ()  # digests of what the chain answered, most recent first
    list_from: ListPosition | None = None  # the segment's start (None: the beginning)
    pages: int | None = None  # the segment's length in pages (None: to the listing's end)
    attempted: frozenset[str] = frozenset()  # a named list's: stopped, answer never came
    part: str = ""  # a fan-out child's project (projects/P): its own chain within the sweep
    # A budget action's period ends then: savedUpTo's horizon for work with no end of its
    # own. Only an estimate's bound; the reader ignores one past a year from now.
    period_end: datetime | None = None

    def dedupe_key(self, target: str) -> str:
        return f"{self.id}/{target}"

    def message_key(self, name: str) -> str:
        """A key about the message itself (not one target): a fan-out child's carry its
        part, so that the children's answers about themselves never share a key."""
        return self.dedupe_key(f"{self.part}/{name}" if self.part else name)

    def summary_key(self) -> str:
        """One summary per message of the chain: per child and generation in a fan-out."""
        return self.dedupe_key(
            f"summary/{self.part}/{self.generation}" if self.part else f"summary/{self.generation}"
        )

    def answered(self, name: str) -> bool:
        return digest(name) in self._skipped

    @cached_property
    def _skipped(self) -> frozenset[str]:
        return frozenset(self.skip)

    def sweep_fields(self) -> tuple[dict[str, Any], list[str]]:
        """The sweep continuation's ``continuation`` object and ``skip`` list."""
        fields: dict[str, Any] = {"sweepId": self.id, "generation": self.generation}
        if self.list_from is not None:
            fields["listFrom"] = self.list_from.to_json()
        if self.pages is not None:
            fields["pages"] = self.pages
        if self.part:
            fields["part"] = self.part
        return fields, list(self.skip)


def first_chain(prefix: str, message_id: str) -> Chain:
    """The chain a first message starts: its id is the message's own, so a redelivery of
    that message (or a fork of its chain) gives the same dedupe keys."""
    return Chain(id=f"{prefix}-{message_id or 'unknown'}")


def parse_sweep_chain(value: object, skip: object) -> Chain:
    """A sweep continuation's ``continuation`` object and ``skip`` list, as
    ``Chain.sweep_fields`` writes them; anything else raises ``InvalidChain``."""
    if not isinstance(value, dict) or not {"sweepId", "generation"} <= set(value):
        raise InvalidChain('sweep.continuation must be {"sweepId": ..., "generation": N, ...}')
    known = {"sweepId", "generation", "listFrom", "pages", "part", "periodEnd"}
    if unknown := sorted(set(value) - known):
        raise InvalidChain(f"unknown sweep.continuation field(s) {', '.join(unknown)}")
    return Chain(
        id=_chain_id(value["sweepId"], "sweep.continuation.sweepId", "sweep-"),
        generation=_generation(value["generation"], "sweep.continuation.generation"),
        skip=_skip(skip),
        list_from=_list_position(value["listFrom"]) if "listFrom" in value else None,
        pages=_pages(value["pages"]) if "pages" in value else None,
        part=_part(value["part"]) if "part" in value else "",
        period_end=_period_end(value["periodEnd"]) if "periodEnd" in value else None,
    )


def parse_names_chain(value: object, names: object) -> Chain:
    """A named list's ``continuation``: ``{"chainId": "names-...", "generation": N}``,
    and ``attempted``: those of ``names`` an earlier message sent a stop that was never
    confirmed."""
    if not isinstance(value, dict) or not {"chainId", "generation"} <= set(value):
        raise InvalidChain(
            'continuation must be {"chainId": "names-...", "generation": N, "attempted": [...]}'
        )
    if unknown := sorted(set(value) - {"chainId", "generation", "attempted"}):
        raise InvalidChain(f"unknown continuation field(s) {', '.join(unknown)}")
    attempted = value.get("attempted", [])
    listed = (
        set(names) if isinstance(names, list) and all(isinstance(n, str) for n in names) else set()
    )
    if not isinstance(attempted, list) or not all(
        isinstance(name, str) and name in listed for name in attempted
    ):
        raise InvalidChain("continuation.attempted must list some of the message's own names")
    return Chain(
        id=_chain_id(value["chainId"], "continuation.chainId", "names-"),
        generation=_generation(value["generation"], "continuation.generation"),
        attempted=frozenset(attempted),
    )


def _chain_id(value: object, where: str, prefix: str) -> str:
    if not isinstance(value, str) or not value.startswith(prefix) or not CHAIN_ID.fullmatch(value):
        raise InvalidChain(f"{where} must be a chain id, {prefix}...")
    return value


def _generation(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONTINUATIONS:
        raise InvalidChain(f"{where} must be a whole number from 1 to {MAX_CONTINUATIONS}")
    return value


def _skip(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > MAX_SKIPPED
        or not all(isinstance(item, str) and _DIGEST.fullmatch(item) for item in value)
    ):
        raise InvalidChain(
            f"sweep.skip must be a list of at most {MAX_SKIPPED} digests of "
            f"{DIGEST_CHARS} lowercase hex digits"
        )
    return tuple(dict.fromkeys(value))


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


def _part(value: object) -> str:
    if not isinstance(value, str) or not PART.fullmatch(value):
        raise InvalidChain("sweep.continuation.part must be a project, projects/PROJECT_ID")
    return value


def _period_end(value: object) -> datetime:
    moment = parse_timestamp(value) if isinstance(value, str) and len(value) <= 40 else None
    if moment is None:
        raise InvalidChain("sweep.continuation.periodEnd must be an RFC 3339 timestamp")
    return moment


def _pages(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEGMENT_PAGES:
        raise InvalidChain(
            f"sweep.continuation.pages must be a whole number from 1 to {MAX_SEGMENT_PAGES}"
        )
    return value
