"""One thing a message asks to stop, as the engine takes it."""

from __future__ import annotations

from dataclasses import dataclass

from canceller.kinds import KINDS, Kind, Resource
from canceller.names import ResourceName


@dataclass(frozen=True)
class Target:
    name: ResourceName
    seen: Resource | None = None  # as just listed by a sweep: saves a GET if running
    seen_at: float = 0.0  # when it was listed (monotonic)
    expect_uuid: str | None = None  # an incident names one incarnation of an ID
    # An earlier message of the chain sent it a stop whose answer never came back.
    attempted: bool = False
    action: str = "stop"  # one of its kind's actions: "delete" for a cluster, if allowed
    # A sweep's exempt label: a cluster whose active work carries it is left alone, since
    # stopping the cluster would fail that work too (canceller.clearing).
    spare_exempt: tuple[str, str] | None = None
    # Work found on a cluster and stopped first for it (canceller.clearing), not asked
    # for: answered here whatever happens, never handed on or redelivered on its own.
    found_on_cluster: bool = False
    # The cluster this work is stopped before, which its result names (clearedFor): the
    # one it was found on, or one the message also stops that its own work runs on.
    cleared_for: str = ""

    @property
    def kind(self) -> Kind:
        """The description that does this target's action to it."""
        return KINDS[self.name.kind].acting(self.action)
