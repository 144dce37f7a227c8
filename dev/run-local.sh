#!/usr/bin/env bash
# The local run: sets everything up, then starts the Pub/Sub emulator, the Dataproc
# emulator and the function, publishes every example message and prints the results.
# Options: --json (full results), --write-examples (refresh schemas/examples/result-*).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=dev/setup.sh
source "$repo/dev/setup.sh"
exec "$venv/bin/python" "$repo/dev/demo.py" "$@"
