"""One sweep and its continuations: every result of the chain, and what they add up to.

A sweep stops what fits in one message and hands the rest on to TRIGGER_TOPIC; each
message of the chain publishes one result per target it acted on and one
SWEEP_SUMMARY (``sweep.acted``, ``remaining``, ``handedOn``, ``generation``), and every
result carries the chain's ``sweep.id``. The chain is over when a summary says
nothing was handed on and every result its summaries announce has arrived (Pub/Sub
does not keep the order of one publish request's messages).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from benchmarks.harness import Bench, Side
from benchmarks.pubsub_rest import Pulled

SUMMARY = "SWEEP_SUMMARY"


@dataclass(frozen=True)
class Chain:
    summaries: list[dict[str, Any]]  # by generation
    results: list[dict[str, Any]]  # one per target acted on, in arrival order
    finished: float  # perf_counter() when the last summary was pulled

    @property
    def last(self) -> dict[str, Any]:
        last: dict[str, Any] = self.summaries[-1]["sweep"]
        return last

    def outcomes(self) -> dict[str, str]:
        """Target -> outcome; raises if any target has two results (acted on twice)."""
        counts = Counter(result["target"] for result in self.results)
        twice = [target for target, n in counts.items() if n > 1]
        if twice:
            raise RuntimeError(f"sweep chain: {len(twice)} target(s) have two results: {twice[:3]}")
        return {result["target"]: result["outcome"] for result in self.results}


def pull_chain(bench: Bench, side: Side, timeout: float) -> Chain:
    """Every result of the one chain ``side`` is running, until it ends."""

    def ended(pulled: list[Pulled]) -> bool:
        summaries = [p.body for p in pulled if p.body.get("outcome") == SUMMARY]
        announced = sum(int(s["sweep"]["acted"]) for s in summaries)
        last = any(not s["sweep"]["handedOn"] for s in summaries)
        return last and len(pulled) - len(summaries) >= announced

    pulled = bench.rest.pull_until(side.results_subscription, ended, timeout)
    ids = {p.body.get("sweep", {}).get("id") for p in pulled}
    if len(ids) != 1 or None in ids:
        raise RuntimeError(f"sweep chain: results of {len(ids)} sweep ids: {sorted(map(str, ids))}")
    summaries = sorted(
        (p for p in pulled if p.body.get("outcome") == SUMMARY),
        key=lambda p: int(p.body["sweep"]["generation"]),
    )
    generations = [int(s.body["sweep"]["generation"]) for s in summaries]
    if generations != list(range(len(summaries))):
        raise RuntimeError(f"sweep chain: summaries of generations {generations}")
    return Chain(
        summaries=[s.body for s in summaries],
        results=[p.body for p in pulled if p.body.get("outcome") != SUMMARY],
        finished=max(s.received for s in summaries),
    )


def minimum_seconds(requests: int, per_minute: int) -> float:
    """The least time ``requests`` requests can span under a budget of ``per_minute``
    in any 60 s: request k + per_minute may come no sooner than 60 s after request k,
    so the last comes at least floor((requests - 1) / per_minute) x 60 s after the
    first. The first window's ``per_minute`` requests are free of waiting: that is the
    budget's own burst, which the canceller is meant to use."""
    return (max(requests, 1) - 1) // per_minute * 60.0
