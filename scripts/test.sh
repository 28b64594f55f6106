#!/usr/bin/env bash
# The whole test suite, from a fresh clone:
#   1. build and install hologram into .venv, run pytest on it;
#   2. build the same sources with AddressSanitizer + UBSan (meson's
#      b_sanitize option) and run the same pytest suite against that build;
#   3. build and run the C core tests (pool, threads, CPU detection) under
#      the sanitizers.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-venv.sh

echo "== pytest (release build) =="
# -P: do not put the source tree on sys.path; test the installed package
.venv/bin/python -P -m pytest -q tests "$@"

echo "== C core tests (ASan + UBSan) =="
bash scripts/test-c.sh

echo "== pytest (ASan + UBSan build) =="
bash scripts/test-sanitized.sh "$@"
