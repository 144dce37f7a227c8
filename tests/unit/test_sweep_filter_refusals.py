"""Sweep filters: refused by length before anything reads them, parsed in linear time.

A 32 KB filter of spaces once cost seconds of CPU (a regex split on ``\\s+AND\\s+`` and a
clause pattern that backtracked) before it was refused. Nothing here is timed: the tests
prove the bound by counting what the parser does with its input.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from canceller import selection
from canceller.kinds import Clause
from canceller.selection import MAX_FILTER_CHARS, InvalidSweep, parse_filter


class Tripwire:
    """Stands in for a compiled pattern or the re module: any use fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a regular expression was used ({name}) before the length check")


class CountingPattern:
    """A compiled pattern that notes every string it is asked to match."""

    def __init__(self, pattern: re.Pattern[str], seen: list[str]) -> None:
        self._pattern = pattern
        self._seen = seen

    def fullmatch(self, text: str) -> re.Match[str] | None:
        self._seen.append(text)
        return self._pattern.fullmatch(text)


class CountingText(str):
    """A filter that counts how often the parser indexes or slices it."""

    reads = 0

    def __getitem__(self, index: Any) -> str:
        CountingText.reads += 1
        return str.__getitem__(self, index)


@pytest.mark.parametrize(
    "text",
    [
        " " * 32 * 1024,  # the reported one
        "a" + " " * (32 * 1024) + "b",
        "labels.team =" + " " * (32 * 1024) + "etl",
        "labels.team = etl" + " AND labels.team = etl" * 2000,
        " " * MAX_FILTER_CHARS + " ",  # one over is enough
    ],
)
def test_a_filter_over_1_kib_is_refused_before_any_pattern_runs(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    for name in ("re", "_FIELD", "_BARE_VALUE"):
        monkeypatch.setattr(selection, name, Tripwire())
    with pytest.raises(InvalidSweep, match=f"at most {MAX_FILTER_CHARS} are accepted"):
        parse_filter(text)


WORST_CASES = [
    " " * MAX_FILTER_CHARS,
    "a" + " " * (MAX_FILTER_CHARS - 2) + "b",
    "labels.team =" + " " * (MAX_FILTER_CHARS - 16) + "etl",
    "labels.team = etl" + " " * (MAX_FILTER_CHARS - 20) + "AND",
    '"' + " " * (MAX_FILTER_CHARS - 2) + '"',
    '"' * MAX_FILTER_CHARS,
    "=" * MAX_FILTER_CHARS,
    "AND " * (MAX_FILTER_CHARS // 4),
    "a" * MAX_FILTER_CHARS,
    "labels.a" * (MAX_FILTER_CHARS // 8),
    ("labels.team = etl AND " * 60)[:MAX_FILTER_CHARS],
    ("labels.team = etl\tAND\n" * 60)[:MAX_FILTER_CHARS],
]


@pytest.mark.parametrize("text", WORST_CASES, ids=lambda text: repr(text[:24]))
def test_parsing_is_linear_in_the_filter(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Every character is read a bounded number of times, and each pattern only ever
    sees one token (never whitespace, so never a run of spaces to backtrack over),
    at most two a clause."""
    assert len(text) <= MAX_FILTER_CHARS
    seen: list[str] = []
    for name in ("_FIELD", "_BARE_VALUE"):
        monkeypatch.setattr(selection, name, CountingPattern(getattr(selection, name), seen))
    CountingText.reads = 0
    try:
        clauses = parse_filter(CountingText(text))
    except InvalidSweep:
        clauses = ()
    assert CountingText.reads <= 2 * len(text) + 1
    assert all(not any(char.isspace() for char in token) for token in seen)
    assert len(seen) <= 2 * max(1, text.count("AND") + 1)
    assert len(clauses) <= text.count("AND") + 1


def test_a_filter_of_exactly_1_kib_parses() -> None:
    clause = "labels.team = etl"
    count = (MAX_FILTER_CHARS + 5) // (len(clause) + 5)
    text = " AND ".join([clause] * count)
    text += " " * (MAX_FILTER_CHARS - len(text))
    assert len(text) == MAX_FILTER_CHARS
    assert parse_filter(text) == (Clause("labels.team", "etl"),) * count


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("   \t\n", ()),
        ("labels.team = etl", (Clause("labels.team", "etl"),)),
        ("labels.team=etl", (Clause("labels.team", "etl"),)),
        ('clusterName = "etl"', (Clause("clusterName", "etl"),)),
        ('labels.team="etl"', (Clause("labels.team", "etl"),)),
        ('labels.team = ""', (Clause("labels.team", ""),)),
        (
            "status.state = ACTIVE \t AND\n  labels.team = etl",
            (Clause("status.state", "ACTIVE"), Clause("labels.team", "etl")),
        ),
        (
            'state = ACTIVE AND labels.team = "etl"',
            (Clause("state", "ACTIVE"), Clause("labels.team", "etl")),
        ),
        ('labels.x = "a AND b"', (Clause("labels.x", "a AND b"),)),
        ("operationType = projects/p:x.y_z-1", (Clause("operationType", "projects/p:x.y_z-1"),)),
    ],
)
def test_the_grammar_is_unchanged(text: str, expected: tuple[Clause, ...]) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("labels.team != etl", "'labels.team != etl' is not supported"),
        ("labels.team = etl OR labels.team = ml", "is not supported"),
        ("status.state = ACTIVE labels.env = dev", "is not supported"),  # implicit AND
        ("placement.clusterName = etl", "is not supported"),
        ("labels.Team = etl", "is not supported"),
        ("labels.team = 'etl'", "is not supported"),
        ("labels.team = (etl)", "is not supported"),
        ("labels.team = ", "is not supported"),
        ("= etl", "is not supported"),
        ("labels.team = e=tl", "is not supported"),
        ('labels.team = "etl', "unclosed quote"),
        ('labels.team = "e\\tl"', "backslash"),
        ('labels.team = "etl"x', "is not supported"),
        ("AND labels.team = etl", "no clause before it"),
        ("labels.team = etl AND AND labels.team = ml", "no clause before it"),
        ("labels.team = etl AND", "no clause after it"),
        ("state = RUNNING", "state must be one of"),
        ("status.state = CANCEL_PENDING", "status.state must be one of"),
    ],
)
def test_refusals_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(InvalidSweep, match=re.escape(fragment)):
        parse_filter(text)
