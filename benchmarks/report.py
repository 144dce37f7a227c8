"""Rows of the result table, how each is judged, and the table itself.

A row is one figure: what we measured, what it is compared with (a baseline measured
in the same run, or an ideal computed from the run's own parameters), the ratio, the
target and the verdict. Rows with no target are evidence for another row (INFO).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    figure: str
    ours: float
    reference: float | None  # the baseline or ideal; None: an absolute figure
    unit: str  # "ms", "s", "MiB", "req" (requests per target) or "n" (a count)
    target: str  # as printed, e.g. "<= 1.2x"
    passed: bool | None  # None: informational, no target of its own
    note: str = ""  # why a target is missed, or what a row is evidence for

    @property
    def ratio(self) -> float | None:
        return self.ours / self.reference if self.reference else None

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "INFO"}[self.passed]


def ratio_row(
    figure: str, ours: float, reference: float, unit: str, limit: float, note: str = ""
) -> Row:
    """A figure judged by its ratio to a reference measured or computed in this run."""
    return Row(figure, ours, reference, unit, f"<= {limit:g}x", ours <= limit * reference, note)


def info_row(figure: str, ours: float, reference: float | None, unit: str, note: str) -> Row:
    return Row(figure, ours, reference, unit, "-", None, note)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``fraction`` of the
    values at or below it (p99 of 150 samples is the 149th smallest)."""
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered) - 1e-9)  # the epsilon absorbs float error
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def render(rows: Sequence[Row]) -> str:
    header = ("figure", "ours", "baseline/ideal", "ratio", "target", "verdict")
    lines = [
        (
            row.figure,
            _amount(row.ours, row.unit),
            "-" if row.reference is None else _amount(row.reference, row.unit),
            "-" if row.ratio is None else f"{row.ratio:.2f}x",
            row.target,
            row.verdict,
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        first, *rest = cells
        return "  ".join(
            [first.ljust(widths[0])] + [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
        )

    rule = "-" * len(fmt(header))
    return "\n".join([fmt(header), rule, *(fmt(cells) for cells in lines), rule])


def summary(rows: Sequence[Row]) -> str:
    """Says plainly whether every target was met, and why any was not."""
    missed = [row for row in rows if row.passed is False]
    notes = [f"  * {row.figure.strip()}: {row.note}" for row in rows if row.note]
    if not missed:
        verdict = f"All {sum(r.passed is True for r in rows)} targets met."
    else:
        verdict = f"TARGETS MISSED: {len(missed)} ({'; '.join(r.figure.strip() for r in missed)})."
    return "\n".join([verdict, *(["Notes:", *notes] if notes else [])])


def _amount(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "req":
        return f"{value:.2f} req"
    if unit == "n":
        return f"{value:,.0f}"
    return f"{value:.1f} {unit}"
