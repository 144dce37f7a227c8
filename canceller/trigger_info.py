"""Where a message came from, echoed in every result so consumers can deduplicate.

Its own module because two layers need it: the decoder fills it in from the envelope
and the message (``canceller.envelope``, ``canceller.message``), and the output layer
publishes it (``canceller.results``), which must not depend on how messages are read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from canceller.chains import first_chain
from canceller.clock import parse_timestamp


@dataclass(frozen=True)
class TriggerInfo:
    """Where a message came from; echoed in every result so consumers can deduplicate."""

    message_id: str
    publish_time: str
    source: str
    kind: str = "unknown"
    reason: str | None = None
    request_id: str | None = None
    dry_run: bool | None = None  # None: the DRY_RUN setting decides; never lifts it
    chain: str = ""  # the request's chain id (canceller.chains): the first message's
    action: str = "stop"  # what a named message asks done: "delete" for clusters, if allowed
    part: str = ""  # a fan-out child's project (canceller.chains): in its message-level keys

    @property
    def key_prefix(self) -> str:
        """What every dedupe key of this message starts with: its chain, and a fan-out
        child's part, so that two children's answers about themselves never share a key."""
        return f"{self.chain}/{self.part}" if self.part else self.chain

    def with_chain(self, prefix: str) -> TriggerInfo:
        """This first message starts a chain named for it."""
        return replace(self, chain=first_chain(prefix, self.message_id).id)

    def age_seconds(self, now: datetime) -> float | None:
        published = parse_timestamp(self.publish_time)
        return None if published is None else (now - published).total_seconds()
