"""A Dataproc resource as its REST API answers it, and how any module reads a text field
of one. Apart from the kind registry, so that modules the kinds use (canceller.burn)
read resources the same way without importing the registry."""

from __future__ import annotations

from typing import Any

Resource = dict[str, Any]  # a resource as Dataproc's proto3 JSON has it


def text(value: object, limit: int = 1024) -> str | None:
    """A string field of a resource, clipped for results; None when absent or not text."""
    return value[:limit] if isinstance(value, str) and value else None
