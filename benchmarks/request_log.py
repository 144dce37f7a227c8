"""Reading the Dataproc emulator's request log: requests of one region, the busiest
60 s, and when a read first showed a target stopped.

Every entry of ``GET /_emulator/requests`` has the request's ``method``, ``path``,
``query``, ``apiMethod`` and ``time``: when it arrived (``time.time()`` on the
emulator's side, before the injected latency is slept). A stop and the read that sees
it both wait that same latency before the emulator acts, so comparing arrivals is
comparing what the emulator saw.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from benchmarks.harness import PROJECT
from dataproc_emulator.admin import EmulatorAdmin

WINDOW_SECONDS = 60.0
OPERATIONS_PAGE_SIZE = 100  # the emulator's default, and what the canceller asks for

Entry = dict[str, Any]


def in_region(log: Iterable[Entry], region: str) -> list[Entry]:
    """Requests under ``projects/PROJECT/regions/REGION`` or ``.../locations/REGION``
    (sessions and batches are location-based): what Dataproc counts against that
    region's quota. Oldest first."""
    pattern = re.compile(rf"/v1/projects/{PROJECT}/(?:regions|locations)/{region}(?:[/:]|$)")
    return sorted((e for e in log if pattern.match(e["path"])), key=lambda e: e["time"])


def peak_in_window(times: Iterable[float], window: float = WINDOW_SECONDS) -> int:
    """The most requests in any ``window`` seconds: a request counts from its arrival
    until ``window`` s later (the emulator's quota meter counts the same way), and the
    busiest window always starts at some request."""
    ordered = sorted(times)
    peak, first = 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - window:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def cancels(entries: Iterable[Entry], names: Sequence[str]) -> dict[str, list[float]]:
    """Arrival times of each name's ``:cancel``."""
    wanted = {f"/v1/{name}:cancel": name for name in names}
    found: dict[str, list[float]] = {name: [] for name in names}
    for entry in entries:
        name = wanted.get(entry["path"]) if entry["method"] == "POST" else None
        if name is not None:
            found[name].append(entry["time"])
    return found


def first_reads_after(
    entries: Sequence[Entry],
    ordered_names: Sequence[str],
    first_seq: int,
    collection: str,
    stopped_at: Mapping[str, float],
) -> dict[str, float]:
    """For each operation, the arrival of the first read at or after ``stopped_at``
    (when the emulator made it done) that returned it: its own GET, or the page of an
    unfiltered ``GET collection`` listing it was on.

    ``ordered_names`` is the collection's whole content, seeded in one bulk call in
    this order, so with consecutive seeding sequence numbers from ``first_seq``
    (``seeded_sequence`` checks). The emulator pages by that sequence with keyset tokens
    ("after:[seq]"), so a page holds the ``pageSize`` names after the token's. A read
    that arrives a millisecond after the stop may have been answered just before it
    (the injected latency is slept, not exact); the lag it gives is then too small by
    the gap to the next read. Names never read after their stop are left out."""
    rank = {name: index for index, name in enumerate(ordered_names)}
    first: dict[str, float] = {}
    for entry in entries:
        if entry["method"] != "GET":
            continue
        if _is_listing(entry, collection):
            after = _token_seq(entry)
            start = 0 if after is None else after - first_seq + 1
            size = int(entry["query"].get("pageSize") or OPERATIONS_PAGE_SIZE)
            covered: Sequence[str] = ordered_names[max(start, 0) : max(start, 0) + size]
        else:
            name = entry["path"].removeprefix("/v1/")
            covered = [name] if name in rank else []
        for name in covered:
            if name not in first and entry["time"] >= stopped_at.get(name, float("inf")):
                first[name] = entry["time"]
    return first


def seeded_sequence(admin: EmulatorAdmin, ordered_names: Sequence[str]) -> int:
    """The seeding sequence number of the first name, after checking that the names
    have consecutive ones (the last is first + count - 1), as ``first_reads_after``
    assumes."""
    first = int(admin.operation_internals(ordered_names[0])["seq"])
    last = int(admin.operation_internals(ordered_names[-1])["seq"])
    if last - first != len(ordered_names) - 1:
        raise RuntimeError(f"seeded with sequence numbers {first}..{last}, not consecutive")
    return first


def _is_listing(entry: Entry, collection: str) -> bool:
    if entry["method"] != "GET" or entry["path"] != f"/v1/{collection}":
        return False
    if entry["query"].get("filter"):
        raise RuntimeError(f"a filtered listing of {collection}: its pages cannot be rebuilt")
    return True


def _token_seq(entry: Entry) -> int | None:
    token = entry["query"].get("pageToken")
    if not token:
        return None
    text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    prefix, _, key = text.partition(":")
    if prefix != "after":
        raise RuntimeError(f"unknown page token {text!r}")
    return int(json.loads(key)[0])
