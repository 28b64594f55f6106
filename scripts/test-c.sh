#!/usr/bin/env bash
# Build the C tests with AddressSanitizer + UBSan and run them:
#   tests/c/test_core.c   base, cpu, pool, threads
#   tests/c/test_stdop.c  the standard library's C API edge (whole core,
#                         kernels at every ISA level the CPU supports)
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
# the kernels at every ISA level, each with meson.build's flags for it; the
# test runs its checks at each level this CPU supports
isa_defines=()
for lvl in "baseline:0:" "avx2:1:-mavx2 -mfma -mf16c -mbmi -mbmi2" \
           "avx512:2:-mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mf16c -mbmi -mbmi2"; do
    IFS=: read -r name level flags <<<"$lvl"
    read -ra fl <<<"$flags"
    for k in elementwise vmath reduce gemm ktable; do
        gcc "${cflags[@]}" "${fl[@]}" -DAT_ISA_LEVEL="$level" -c "src/kernels/$k.c" -o "$out/kernel_${k}_$name.o"
    done
    isa_defines+=("-DAT_HAVE_ISA_${name^^}=1")
done
gcc "${cflags[@]}" "${isa_defines[@]}" \
    tests/c/test_stdop.c src/core/*.c src/stdlib/ops.c "$out"/kernel_*_*.o \
    -o "$out/test_stdop" -lpthread -lm
ASAN_OPTIONS=detect_leaks=1 "$out/test_stdop"
