"""The test layers stay true: no test module imports another, and a unit test can neither
start a server nor reach one (tests/support/layers.py)."""

from __future__ import annotations

import socket

import pytest

from tests.support.layers import TESTS, ServerInUnitTest, imported_test_modules


def test_no_module_under_tests_imports_a_test_module() -> None:
    modules = sorted(TESTS.rglob("*.py"))
    assert len(modules) > 50  # the walk finds the suite
    found = {
        str(path.relative_to(TESTS)): imported
        for path in modules
        if (imported := imported_test_modules(path.read_text(encoding="utf-8"), path))
    }
    assert found == {}, "move what they share to tests/support"


@pytest.mark.parametrize(
    ("source", "imported"),
    [
        ("from tests.unit.test_names import NAME", ["tests.unit.test_names"]),
        ("from tests.emulator import test_chains as chains", ["tests.emulator.test_chains"]),
        ("import tests.e2e.test_local_stack", ["tests.e2e.test_local_stack"]),
        ("from .test_prices import TABLE", ["tests.unit.test_prices"]),
        ("from ..deploy.test_role import role", ["tests.deploy.test_role"]),
        ("from tests.support.dispatching import handle", []),
        ("from canceller.trigger import decode_trigger\nimport json", []),
    ],
    ids=["from-module", "from-package", "import", "relative", "parent", "support", "others"],
)
def test_imports_of_test_modules_are_found_in_every_form(source: str, imported: list[str]) -> None:
    assert imported_test_modules(source, TESTS / "unit" / "test_example.py") == imported


def test_a_unit_test_can_neither_listen_nor_connect() -> None:
    with socket.socket() as server, pytest.raises(ServerInUnitTest, match="tests/emulator"):
        server.bind(("127.0.0.1", 0))
        server.listen()
    with socket.socket() as client, pytest.raises(ServerInUnitTest):
        client.connect(("127.0.0.1", 9))
    with socket.socket() as client, pytest.raises(ServerInUnitTest):
        client.connect_ex(("127.0.0.1", 9))


def test_the_dataproc_emulator_cannot_start_in_a_unit_test() -> None:
    from dataproc_emulator import DataprocEmulator

    with pytest.raises(ServerInUnitTest), DataprocEmulator(host="127.0.0.1", port=0):
        pass
