#!/usr/bin/env bash
# Build the extension with -fsanitize=address,undefined (meson: b_sanitize)
# plus float-cast-overflow (scripts/asan-build.sh), and run the pytest suite
# against it.  Python
# itself is not instrumented, so the ASan runtime is preloaded; leak checking
# is off because CPython's own allocations at exit are not ours to report.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bld=build-asan
bash scripts/asan-build.sh
# stage an importable package: the Python sources plus the sanitized _core
stage=$bld/stage/hologram
rm -rf "$bld/stage" && mkdir -p "$stage"
cp -r hologram/. "$stage/"
cp "$bld"/_core*.so "$stage/"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export HOLOGRAM_SANITIZED=1
# --capture=sys: leave fd 2 alone, so a sanitizer report reaches the log
PYTHONPATH="$PWD/$bld/stage" .venv/bin/python -P -m pytest -q -p no:cacheprovider --capture=sys tests "$@"
