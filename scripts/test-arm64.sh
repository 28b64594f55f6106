#!/usr/bin/env bash
# The C core and its tests on AArch64, by emulation on an x86-64 machine:
#   1. installs what it needs from Debian when missing (the cross GCC and
#      qemu-user; as root, as on CI);
#   2. cross-builds the kernels (plain-C baseline and NEON), the core, the
#      standard library, the C tests and the ULP tester into build-arm64/
#      with the cross file scripts/cross/aarch64-linux-gnu.ini (no Python
#      extension: -Dextension=false), warnings as errors;
#   3. runs the ULP tester (bench/vmath_ulp.c) at the NEON level under
#      qemu-aarch64 and prints its table;
#   4. runs the C tests under qemu-aarch64 through meson test (meson calls
#      the cross file's exe_wrapper): test_core, test_stdop at every level
#      the emulated CPU runs, test_levels comparing NEON with the baseline
#      on every op (and two threads with one);
#   5. says which levels ran and ends with meson's test summary.
# Usage: bash scripts/test-arm64.sh   (scripts/test.sh calls it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bld=build-arm64
cross=$PWD/scripts/cross/aarch64-linux-gnu.ini
sysroot=/usr/aarch64-linux-gnu
# every 4096th float bit pattern plus the dense samples: about two minutes
# of emulation
ulp_stride=4096

bash scripts/need-debian.sh "aarch64-linux-gnu-gcc qemu-aarch64" gcc-aarch64-linux-gnu qemu-user

meson=.venv/bin/meson
ninja=.venv/bin/ninja
[[ -x $meson ]] || meson=meson
[[ -x $ninja ]] || ninja=ninja

echo "== AArch64 cross build ($(aarch64-linux-gnu-gcc -dumpfullversion), $($meson --version | head -1 | sed 's/^/meson /')) =="
opts=(--cross-file "$cross" -Dextension=false -Dnative_tests=true -Dbench=true -Dwerror=true)
if ! { [[ -f $bld/build.ninja ]] && $meson setup --reconfigure "$bld" . "${opts[@]}" >/dev/null 2>&1; }; then
    rm -rf "$bld"
    $meson setup "$bld" . "${opts[@]}" >/dev/null
fi
$ninja -C "$bld" >/dev/null
aarch64-linux-gnu-readelf -h "$bld/tests/c/test_levels" | grep -E "Class|Machine"

export QEMU_LD_PREFIX=$sysroot
echo "== ULP tester at the NEON level under qemu-aarch64 (stride $ulp_stride) =="
qemu-aarch64 "$bld/bench/vmath_ulp" -q -l neon -s "$ulp_stride"

echo "== C tests under qemu-aarch64 =="
# qemu-user cannot run the child of a multi-threaded fork (test_core skips
# that one check when AT_TEST_EMULATED is set; the native runs cover it)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
AT_TEST_EMULATED=1 $meson test -C "$bld" --print-errorlogs --verbose 2>&1 | tee "$log" || status=$?

echo "== levels that ran under emulation =="
grep -E '^(baseline|neon|avx2|avx512): ' "$log" | sort -u
echo "== meson test summary (AArch64 under qemu) =="
sed -n '/^Ok:/,/^Full log/p' "$log"
exit "$status"
