#!/usr/bin/env bash
# Sourced by dev/test.sh and dev/run-local.sh: a project virtual environment with the
# test dependencies, and the machine tools the tests use (Java and the Pub/Sub emulator
# come with the Google Cloud CLI; shellcheck from Debian). Safe to run again: it only
# installs what is missing or changed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv" >&2
  "$python" -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
wanted="$(cat "$repo/requirements.txt" "$repo/requirements-dev.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "setup: installing the pinned requirements-dev.txt into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  # Every line is pinned with its hashes (dev/pins.py): the same bytes on every machine.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r "$repo/requirements-dev.txt"
  echo "$wanted" > "$stamp"
fi

if ! command -v shellcheck >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing shellcheck (Debian package)" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq shellcheck >/dev/null
  else
    echo "setup: shellcheck is missing; install it: sudo apt-get install shellcheck" >&2
  fi
fi
