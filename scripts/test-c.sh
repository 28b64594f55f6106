#!/usr/bin/env bash
# Build tests/c/test_core.c with AddressSanitizer + UBSan and run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=build-c
mkdir -p "$out"
gcc -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
    -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude \
    -DAT_HAVE_ISA_BASELINE=1 -DAT_HAVE_ISA_AVX2=1 \
    tests/c/test_core.c src/core/base.c src/core/cpu.c src/core/pool.c src/core/threads.c \
    -o "$out/test_core" -lpthread
ASAN_OPTIONS=detect_leaks=1 "$out/test_core"
