#!/usr/bin/env bash
# Configure and build build-asan: the extension, the core, the kernels at
# every ISA level and the C tests, all with AddressSanitizer + UBSan (meson's
# b_sanitize) plus float-cast-overflow, which GCC's -fsanitize=undefined
# leaves out (a float converted to an integer type that cannot hold it), and
# warnings as errors.  Shared by test-c.sh and test-sanitized.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bld=build-asan
opts=(-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized -Dwerror=true
      -Dnative_tests=true -Dc_args=-fsanitize=float-cast-overflow
      -Dc_link_args=-fsanitize=float-cast-overflow)
# an existing directory is reconfigured; one from before an option existed
# cannot be, and is set up again from scratch
if ! { [[ -f $bld/build.ninja ]] && .venv/bin/meson setup --reconfigure "$bld" "${opts[@]}" >/dev/null 2>&1; }; then
    rm -rf "$bld"
    .venv/bin/meson setup "$bld" "${opts[@]}" >/dev/null
fi
.venv/bin/ninja -C "$bld" >/dev/null
