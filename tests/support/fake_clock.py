"""Time that moves only when something sleeps: a canceller.clock.Clock for tests.

Nothing waits for real, so no test depends on how fast the machine is, and a window
of minutes passes in microseconds. Shared by threads, each sleep moves the clock for
all of them (concurrent sleeps add up, as if taken in turn: deadlines only come
sooner). ``on_advance`` is told every move, so another clock can follow this one: the
Dataproc emulator's (``EmulatorAdmin.advance_clock``), whose scripted delays then
pass as the canceller sleeps through them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class FakeClock:
    def __init__(self, on_advance: Callable[[float], object] = lambda seconds: None) -> None:
        self._now = 0.0
        self._lock = threading.Lock()
        self._on_advance = on_advance
        self.sleeps: list[float] = []  # every sleep, in order

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "a sleep of nothing: whoever sleeps so would spin"
        with self._lock:
            self.sleeps.append(seconds)
            self._move(seconds)

    def advance(self, seconds: float) -> None:
        """Time passes without anyone sleeping (work done elsewhere meanwhile)."""
        with self._lock:
            self._move(seconds)

    def _move(self, seconds: float) -> None:
        """Called with the lock held, so a follower sees the moves in order."""
        self._now += seconds
        self._on_advance(seconds)
