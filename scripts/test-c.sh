#!/usr/bin/env bash
# Build the C tests with AddressSanitizer + UBSan (scripts/asan-build.sh) and
# run them through meson:
#   tests/c/test_core.c   base, cpu, pool, threads
#   tests/c/test_stdop.c  the standard library's C API edge (whole core,
#                         kernels at every ISA level the CPU supports)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/asan-build.sh
.venv/bin/meson test -C build-asan --print-errorlogs --verbose
