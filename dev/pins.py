#!/usr/bin/env python3
"""The pinned requirement files: compile them, upgrade them, and check them.

requirements.txt (what Cloud Functions installs) and requirements-dev.txt (what the
tests install) pin every package to one version with its hashes. Each is compiled by
``uv pip compile`` from a short file of direct dependencies:

    requirements.in      -> requirements.txt
    requirements-dev.in  -> requirements-dev.txt   (constrained by requirements.txt)

    .venv/bin/python dev/pins.py compile   after editing a .in file: keeps the other pins
    .venv/bin/python dev/pins.py upgrade   every pin to the newest version the .in allows
    .venv/bin/python dev/pins.py check     offline and fast; dev/test.sh runs it first

The compile is universal (``--universal``): one file whose environment markers hold for
Python 3.11 (this repository's development machines) and 3.12 (the deployed python312
runtime). ``compile`` and ``upgrade`` then prove it: ``pip download --require-hashes``
fetches a wheel of every runtime pin, hash-checked, for CPython 3.12 on manylinux x86_64
and for this interpreter.

Hashes are kept in requirements.txt because the Cloud Functions Python build installs it
with plain ``python3 -m pip install --requirement requirements.txt ...`` (one call per
requirements file; GoogleCloudPlatform/buildpacks, pkg/python/python.go,
basePipInstallArgs), and pip switches to hash-checking mode for the whole file as soon
as one line carries a hash. No other requirements file is added to that call as long as
requirements.txt names functions-framework (cmd/python/functions_framework/lib/lib.go).
Hash-checking mode fails the build if any package it needs lacks a pin or a hash (as
GoogleCloudPlatform/pubsub2inbox#14 shows for a file compiled on another Python), which
is why the file is compiled universally and checked for Python 3.12 wheels.

``check`` fails, naming what to run, when:
- a .txt does not record the SHA-256 of the inputs it was compiled from (the .in files,
  and for requirements-dev.txt also requirements.txt), or they changed since;
- a line of a .txt is not ``name==version`` with at least one ``--hash``;
- a requirement of a .in is missing from its .txt or not satisfied by the pinned version;
- requirements-dev.txt pins a runtime package to another version than requirements.txt;
- the pins that apply to this interpreter are not closed under the installed packages'
  own requirements (a hand-edited version whose dependencies changed), or a pinned
  package is installed at another version (dev/setup.sh installs from the pins).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PYTHON_FLOOR = "3.11"  # the oldest Python the pins must serve (the deployed runtime is 3.12)
DEPLOYED_PYTHON = "3.12"
# Wheel platforms of the deployed runtime (Ubuntu 22.04 base, x86_64) as pip spells them.
DEPLOYED_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
INPUTS_LINE = re.compile(r"^# inputs-sha256: (?P<digest>[0-9a-f]{64})$", re.MULTILINE)
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)"
    r"(?:\s*;\s*(?P<marker>[^\\]+?))?\s*$"
)


@dataclass(frozen=True)
class Lock:
    """One compiled file: where it comes from and what it pins."""

    output: str
    source: str
    inputs: tuple[str, ...]  # files whose bytes the recorded digest covers
    constraints: tuple[str, ...] = ()


RUNTIME = Lock("requirements.txt", "requirements.in", ("requirements.in",))
DEV = Lock(
    "requirements-dev.txt",
    "requirements-dev.in",
    ("requirements-dev.in", "requirements.in", "requirements.txt"),
    constraints=("requirements.txt",),
)
LOCKS = (RUNTIME, DEV)


@dataclass
class Pinned:
    name: str
    version: str
    marker: str | None
    hashes: list[str] = field(default_factory=list)

    def applies(self) -> bool:
        return self.marker is None or Requirement(f"x; {self.marker}").marker.evaluate()


class PinError(Exception):
    pass


def inputs_digest(lock: Lock) -> str:
    digest = hashlib.sha256()
    for name in lock.inputs:
        digest.update(name.encode() + b"\0" + (REPO / name).read_bytes() + b"\0")
    return digest.hexdigest()


def logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and comments dropped."""
    joined, current = [], ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            joined.append(" ".join(current.split()))
        current = ""
    if current.strip():
        joined.append(" ".join(current.split()))
    return joined


def parse_pins(lock: Lock) -> dict[str, Pinned]:
    text = (REPO / lock.output).read_text(encoding="utf-8")
    pins: dict[str, Pinned] = {}
    for line in logical_lines(text):
        words = line.split(" --hash=")
        match = PIN.match(words[0])
        if not match:
            raise PinError(f"{lock.output}: not an exact pin: {line[:120]!r}")
        hashes = words[1:]
        if not hashes or not all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes):
            raise PinError(f"{lock.output}: {match['name']} has no sha256 --hash")
        name = canonicalize_name(match["name"])
        if name in pins and pins[name].marker is None:
            raise PinError(f"{lock.output}: {name} is pinned twice")
        pinned = Pinned(name, match["version"], match["marker"], hashes)
        # Universal output may pin one package once per marker; keep the one that applies.
        if name not in pins or pinned.applies():
            pins[name] = pinned
    return pins


def direct_requirements(source: str, seen: set[str] | None = None) -> list[Requirement]:
    """The requirements of a .in file, following -r (not -c: constraints are not wants)."""
    seen = seen or set()
    seen.add(source)
    wanted: list[Requirement] = []
    for line in logical_lines((REPO / source).read_text(encoding="utf-8")):
        if line.startswith(("-r ", "--requirement ")):
            included = line.split(maxsplit=1)[1]
            if included not in seen:
                wanted += direct_requirements(included, seen)
        elif line.startswith(("-c ", "--constraint ")):
            continue
        elif line.startswith("-"):
            raise PinError(f"{source}: option {line!r} is not supported here")
        else:
            try:
                wanted.append(Requirement(line))
            except InvalidRequirement as error:
                raise PinError(f"{source}: {error}") from error
    return wanted


def check_lock(lock: Lock) -> dict[str, Pinned]:
    text = (REPO / lock.output).read_text(encoding="utf-8")
    recorded = INPUTS_LINE.search(text)
    if not recorded:
        raise PinError(
            f"{lock.output} records no '# inputs-sha256:' line: it was not made by dev/pins.py"
        )
    if recorded["digest"] != inputs_digest(lock):
        raise PinError(
            f"{lock.output} was compiled from other contents of {', '.join(lock.inputs)}"
        )
    pins = parse_pins(lock)
    for requirement in direct_requirements(lock.source):
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            raise PinError(f"{lock.output} does not pin {requirement.name} ({lock.source})")
        if not requirement.specifier.contains(Version(pinned.version), prereleases=True):
            raise PinError(
                f"{lock.output} pins {pinned.name}=={pinned.version}, "
                f"outside {requirement} ({lock.source})"
            )
    return pins


def check_constrained(runtime: dict[str, Pinned], dev: dict[str, Pinned]) -> None:
    for name, pinned in runtime.items():
        other = dev.get(name)
        if other is None and pinned.applies():
            raise PinError(f"requirements-dev.txt lacks the runtime package {name}")
        if other is not None and other.version != pinned.version:
            raise PinError(
                f"requirements-dev.txt pins {name}=={other.version}, "
                f"requirements.txt {pinned.version}"
            )


def check_closed_and_installed(lock: Lock, pins: dict[str, Pinned]) -> None:
    """Walk the installed metadata from the .in's requirements: every package reached must
    be pinned, and installed at the pinned version."""
    environment = default_environment()
    queue = [(r, frozenset(r.extras)) for r in direct_requirements(lock.source)]
    done: set[tuple[str, frozenset[str]]] = set()
    while queue:
        requirement, extras = queue.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in done:
            continue
        done.add((name, extras))
        pinned = pins.get(name)
        if pinned is None or not pinned.applies():
            raise PinError(f"{lock.output} does not pin {name}, which the pinned packages need")
        try:
            installed = metadata.distribution(name)
        except metadata.PackageNotFoundError as error:
            raise PinError(f"{name} is pinned but not installed: run dev/setup.sh") from error
        if Version(installed.version) != Version(pinned.version):
            raise PinError(
                f"{name} {installed.version} is installed, {lock.output} pins "
                f"{pinned.version}: run dev/setup.sh"
            )
        for line in installed.requires or []:
            child = Requirement(line)
            if child.marker is not None and not any(
                child.marker.evaluate({**environment, "extra": extra}) for extra in extras or {""}
            ):
                continue
            queue.append((child, frozenset(child.extras)))


def check() -> None:
    runtime = check_lock(RUNTIME)
    dev = check_lock(DEV)
    check_constrained(runtime, dev)
    check_closed_and_installed(DEV, dev)


# --- compiling ---------------------------------------------------------------------------


def uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        raise PinError("uv is not installed: run dev/setup.sh (requirements-dev.txt pins it)")
    return found


def compile_lock(lock: Lock, *, upgrade: bool, command: str) -> None:
    out = REPO / lock.output
    with tempfile.TemporaryDirectory() as scratch:
        body = Path(scratch) / lock.output
        # uv keeps the versions of an existing output unless told to upgrade
        if out.exists() and INPUTS_LINE.search(out.read_text(encoding="utf-8")):
            body.write_bytes(out.read_bytes())
        argv = [
            uv(),
            "pip",
            "compile",
            str(REPO / lock.source),
            "--output-file",
            str(body),
            "--universal",
            "--python-version",
            PYTHON_FLOOR,
            "--generate-hashes",
            "--no-header",
            "--quiet",
            *(["--upgrade"] if upgrade else []),
        ]
        subprocess.run(argv, check=True, cwd=REPO)
        version = subprocess.run([uv(), "--version"], capture_output=True, text=True, check=True)
        header = (
            f"# Pinned by {version.stdout.split()[0]} {version.stdout.split()[1]} "
            f"(uv pip compile --universal --python-version {PYTHON_FLOOR} --generate-hashes)\n"
            f"# from {', '.join(lock.inputs)}. Do not edit: change {lock.source}, then run\n"
            f"#    {command}\n"
            f"# dev/pins.py check (part of dev/test.sh) compares this digest with those files:\n"
        )
        digest = f"# inputs-sha256: {inputs_digest(lock)}\n"
        out.write_text(header + digest + body.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"pins: wrote {lock.output}")


def prove_installable() -> None:
    """Download every runtime pin, hash-checked, as a wheel for the deployed runtime and for
    this interpreter: the pins then resolve on both."""
    targets = [
        [
            "--python-version",
            DEPLOYED_PYTHON,
            "--implementation",
            "cp",
            "--abi",
            f"cp{DEPLOYED_PYTHON.replace('.', '')}",
            *[flag for platform in DEPLOYED_PLATFORMS for flag in ("--platform", platform)],
        ],
        [],
    ]
    for extra in targets:
        with tempfile.TemporaryDirectory() as scratch:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--require-hashes",
                    "-r",
                    str(REPO / RUNTIME.output),
                    "-d",
                    scratch,
                    *extra,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
        if done.returncode != 0:  # pip's warnings about this machine's extra indexes are noise
            sys.stderr.write(done.stderr)
            raise subprocess.CalledProcessError(done.returncode, done.args)
        where = (
            f"CPython {DEPLOYED_PYTHON} manylinux"
            if extra
            else f"this Python {sys.version.split()[0]}"
        )
        print(f"pins: every runtime pin has a hash-checked wheel for {where}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["check", "compile", "upgrade"])
    args = parser.parse_args(argv)
    try:
        if args.action == "check":
            check()
            print("pins: requirements.txt and requirements-dev.txt match their sources")
            return 0
        command = f".venv/bin/python dev/pins.py {args.action}"
        for lock in LOCKS:  # runtime first: the dev compile is constrained by it
            compile_lock(lock, upgrade=args.action == "upgrade", command=command)
        prove_installable()
        print("pins: now run dev/setup.sh (or dev/test.sh) to install them")
        return 0
    except subprocess.CalledProcessError as error:
        print(
            f"pins: {error.cmd[0]} failed (exit {error.returncode}); nothing is half-written "
            "except the files named above",
            file=sys.stderr,
        )
        return 1
    except PinError as error:
        print(
            f"pins: {error}\n  fix: .venv/bin/python dev/pins.py compile (after editing a .in file)"
            " or dev/pins.py upgrade; see docs/development.md",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
