"""Fixtures shared by the test modules that talk to the Dataproc emulator in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin


@pytest.fixture(scope="module")
def emulator() -> Iterator[DataprocEmulator]:
    """One emulator per module; ``admin`` resets it before every test."""
    with DataprocEmulator(host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def admin(emulator: DataprocEmulator) -> Iterator[EmulatorAdmin]:
    client = EmulatorAdmin(emulator.base_url)
    client.reset()
    yield client
    client.close()
