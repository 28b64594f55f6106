#!/usr/bin/env bash
# The C tree with clang instead of GCC, warnings as errors:
#   1. build-clang: everything (kernels at every x86-64 level, core, stdlib,
#      the Python extension, the C tests and benchmarks), then the C tests;
#   2. build-clang-portable: the kernels' plain-C baseline vocabulary (the
#      one AArch64 and other CPUs use) instead of SSE2, so the C tests
#      compare the AVX2 and AVX-512 levels with it natively, and the core's
#      fallbacks for the system-specific calls (no huge-page advice,
#      MAP_ANON, no affinity mask) in place of the Linux calls.
# Installs clang from Debian when missing (as root, as on CI).
# Usage: bash scripts/test-clang.sh   (scripts/test.sh calls it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/need-debian.sh clang clang
meson=.venv/bin/meson
ninja=.venv/bin/ninja
[[ -x $meson ]] || meson=meson
[[ -x $ninja ]] || ninja=ninja

build() { # build directory, then meson options
    local bld=$1
    shift
    local opts=(-Dwerror=true -Dnative_tests=true "$@")
    if ! { [[ -f $bld/build.ninja ]] && CC=clang $meson setup --reconfigure "$bld" . "${opts[@]}" >/dev/null 2>&1; }; then
        rm -rf "$bld"
        CC=clang $meson setup "$bld" . "${opts[@]}" >/dev/null
    fi
    $ninja -C "$bld" >/dev/null
    $meson test -C "$bld" --print-errorlogs
}

echo "== clang build: every level, the extension and the C tests ($(clang --version | head -1)) =="
build build-clang -Dbench=true
echo "== clang build, plain-C baseline vocabulary and the portable fallbacks: the C tests =="
build build-clang-portable -Dportable_baseline=true -Dportable_fallbacks=true -Dextension=false
