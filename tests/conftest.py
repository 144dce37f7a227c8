"""Fixtures shared by the test modules: the Dataproc emulator in-process, its real-API
paths and a fake organisation seeded in it (tests/e2e/conftest.py has the stacks); and
tests/unit held to starting and reaching no server (tests/support/layers.py)."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pytest
import requests

from dataproc_emulator import DataprocEmulator
from dataproc_emulator.admin import EmulatorAdmin
from dataproc_emulator.fake_org import fake_organisation
from tests.support.dataproc_http import Api
from tests.support.layers import UNIT, no_servers


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """A unit test's fixtures are set up with no_servers; their teardown is not held to
    it, as a session's last unit test also tears down the session's servers."""
    return (yield from _held_to_its_layer(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _held_to_its_layer(item))


def _held_to_its_layer(item: pytest.Item) -> Generator[None, None, None]:
    if not item.path.is_relative_to(UNIT):
        return (yield)
    with no_servers():
        return (yield)


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
def api(emulator: DataprocEmulator, admin: EmulatorAdmin) -> Iterator[Api]:
    """The emulator's real-API paths over HTTP, on a reset emulator."""
    with requests.Session() as session:
        yield Api(emulator.base_url, session)


@pytest.fixture
def org(admin: EmulatorAdmin) -> dict[str, Any]:
    """Team 1 (org-f1-p1..3, its subfolder's org-f1s1-p1..3, org-f1-x1 paid by another
    account), team 2 (org-f2-p1..3), org-o-p1 under the organisation."""
    description = fake_organisation(folders=2, projects_per_folder=3, other_account_projects=1)
    admin.seed_organisation(description)
    return description
