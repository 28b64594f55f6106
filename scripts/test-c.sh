#!/usr/bin/env bash
# Build the C tests with AddressSanitizer + UBSan and run them:
#   tests/c/test_core.c   base, cpu, pool, threads
#   tests/c/test_stdop.c  the standard library's C API edge (whole core,
#                         kernels at the baseline ISA level only)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=build-c
mkdir -p "$out"
cflags=(-std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all
        -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Isrc/kernels)
gcc "${cflags[@]}" -DAT_HAVE_ISA_BASELINE=1 -DAT_HAVE_ISA_AVX2=1 \
    tests/c/test_core.c src/core/base.c src/core/cpu.c src/core/pool.c src/core/threads.c \
    -o "$out/test_core" -lpthread
ASAN_OPTIONS=detect_leaks=1 "$out/test_core"
for k in elementwise vmath reduce gemm ktable; do
    gcc "${cflags[@]}" -DAT_ISA_LEVEL=0 -c "src/kernels/$k.c" -o "$out/kernel_$k.o"
done
gcc "${cflags[@]}" -DAT_HAVE_ISA_BASELINE=1 \
    tests/c/test_stdop.c src/core/*.c src/stdlib/ops.c "$out"/kernel_*.o \
    -o "$out/test_stdop" -lpthread -lm
ASAN_OPTIONS=detect_leaks=1 "$out/test_stdop"
