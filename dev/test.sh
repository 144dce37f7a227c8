#!/usr/bin/env bash
# The test command: sets everything up, lints, and runs the whole suite (end-to-end
# tests start the Pub/Sub emulator, the Dataproc emulator and functions-framework).
# Extra arguments go to pytest, e.g. dev/test.sh -k sweep
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=dev/setup.sh
source "$repo/dev/setup.sh"
cd "$repo"
"$venv/bin/python" dev/pins.py check # the pinned requirements match their .in sources
"$venv/bin/ruff" check .
"$venv/bin/mypy" # strict on canceller/ and main.py (pyproject.toml)
# Test modules go to 4 workers, a module whole to one (pytest-xdist, --dist loadfile): most
# of the suite waits on servers and subprocesses, not on a core, so 4 workers on 2 cores
# took the plain suite from 414 s to 136 s; a module's fixtures start once, in one
# worker, and its tests keep their order. TEST_WORKERS=0 runs it in this process.
"$venv/bin/python" -m pytest -n "${TEST_WORKERS:-4}" --dist loadfile "$@"
