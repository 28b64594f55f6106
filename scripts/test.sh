#!/usr/bin/env bash
# The whole test suite, from a fresh clone:
#   0. fail if clang-format or ruff would change a file (check-style.sh);
#   1. build and install hologram into .venv, run pytest on it;
#   2. build everything again with AddressSanitizer + UBSan (meson's
#      b_sanitize option; scripts/asan-build.sh) and run the C tests (core:
#      pool, threads, CPU detection; the stdlib's C API edge at every ISA
#      level the CPU supports) through meson test;
#   3. run the same pytest suite against that sanitized build;
#   4. build the C tree with clang and run the C tests, also with the plain-C
#      baseline vocabulary (scripts/test-clang.sh);
#   5. cross-build the C core and tests for AArch64 and run them, and the
#      ULP tester at the NEON level, under qemu-aarch64
#      (scripts/test-arm64.sh; installs the cross GCC and qemu-user).
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-venv.sh

echo "== style: clang-format, ruff =="
bash scripts/check-style.sh

echo "== pytest (release build) =="
# -P: do not put the source tree on sys.path; test the installed package
.venv/bin/python -P -m pytest -q tests "$@"

echo "== C tests: core and stdlib C API, every ISA level (ASan + UBSan) =="
bash scripts/test-c.sh

echo "== pytest (ASan + UBSan build) =="
bash scripts/test-sanitized.sh "$@"

echo "== clang: the C tree warning-free, C tests =="
bash scripts/test-clang.sh

echo "== AArch64 under qemu: C tests at the baseline and NEON levels, ULP table =="
bash scripts/test-arm64.sh
