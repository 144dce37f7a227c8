"""What keeps the test layers apart.

tests/unit starts no server and reaches none: while a unit test is set up and runs, a
socket can neither listen nor connect (``no_servers``, applied by tests/conftest.py). An
in-process server (the Dataproc emulator) fails as it listens; a LocalStack, whose parts
are child processes, fails as it first connects to see whether they are up; any HTTP
call fails as it connects. A test that needs any of them belongs in tests/emulator or
tests/e2e.

No test module imports another (``imported_test_modules``): what two modules share lives
in tests/support, so a module can move between layers, or be run alone, without taking
another module's tests (and fixtures found by name) along.
"""

from __future__ import annotations

import ast
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]
UNIT = TESTS / "unit"


class ServerInUnitTest(AssertionError):
    """A unit test (or one of its fixtures) opened a server or reached one."""


@contextmanager
def no_servers() -> Iterator[None]:
    """Every socket's listen, connect and connect_ex raise ServerInUnitTest meanwhile."""

    def refusing(method: str) -> Any:
        def refuse(sock: socket.socket, *args: Any) -> None:
            raise ServerInUnitTest(
                f"a tests/unit test may not call socket.{method}{args!r}: a test that needs "
                "a server belongs in tests/emulator or tests/e2e (tests/support/layers.py)"
            )

        return refuse

    with pytest.MonkeyPatch.context() as patch:
        for method in ("listen", "connect", "connect_ex"):
            patch.setattr(socket.socket, method, refusing(method))
        yield


def imported_test_modules(source: str, path: Path) -> list[str]:
    """The test modules (``test_*.py`` under tests/) that the module at ``path`` imports,
    by absolute or relative import, as dotted names."""
    package = ".".join(path.relative_to(TESTS.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            names = [f"{base}.{alias.name}" for alias in node.names]
            modules = [base] if _is_test_module(base) else names
        else:
            continue
        found += [name for name in modules if _is_test_module(name)]
    return found


def _absolute(module: str | None, level: int, package: str) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - level + 1])
    return f"{base}.{module}" if module else base


def _is_test_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and any(part.startswith("test_") for part in parts[1:])
