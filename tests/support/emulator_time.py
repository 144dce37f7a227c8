"""A FakeClock the Dataproc emulator's clock follows, and only follows.

The emulator's clock is frozen for the test: scripted delays (a job's cancel taking
2 s) then pass exactly as the canceller sleeps on the fake clock, never also as the
machine runs slow (left running, real time moved the emulator's jobs ahead of the fake
clock on a loaded CI machine, and request counts varied).

It takes ``admin``, not the emulator, so that a fixture built on it comes after the
``admin`` fixture, whose reset before each test would set the clock running again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dataproc_emulator.admin import EmulatorAdmin
from tests.support.fake_clock import FakeClock


@contextmanager
def followed_by(admin: EmulatorAdmin) -> Iterator[FakeClock]:
    follower = EmulatorAdmin(admin.base_url)  # its own session: sleepers are threads
    follower.freeze_clock()
    try:
        yield FakeClock(on_advance=follower.advance_clock)
    finally:
        follower.freeze_clock(False)
        follower.close()
