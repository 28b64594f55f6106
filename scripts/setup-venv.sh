#!/usr/bin/env bash
# Create .venv (once), install the build/test/bench requirements, and build
# and install hologram into it.  Sourced by test.sh and bench.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
# --no-build-isolation: build against the numpy/meson just installed
.venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation .
