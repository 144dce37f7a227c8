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
"$venv/bin/python" -m pytest "$@"
