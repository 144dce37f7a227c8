"""Fixtures shared by the test modules: the Dataproc emulator in-process, and the inbox of
an end-to-end module's own ``stack``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from local_stack import LocalStack
from tests.support.e2e import ResultInbox


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


@pytest.fixture
def inbox(stack: LocalStack) -> Iterator[ResultInbox]:
    """Results of a module's ``stack`` fixture (each end-to-end module starts its own,
    with its own settings), with the Dataproc emulator reset before every test."""
    box = ResultInbox(stack)
    box.admin.reset()
    yield box
    box.admin.close()
