/* Hologram Atlas — standalone SGEMM correctness check + benchmark.
 *
 * Builds src/kernels/gemm.c once per ISA level (as meson does, with the same
 * level flags) and links all copies side by side.  From the repo root:
 *
 *   gcc -std=c11 -O3 -Wall -Wextra -Werror -fno-math-errno -Isrc/kernels \
 *       -DAT_ISA_LEVEL=0 -c src/kernels/gemm.c -o /tmp/gemm_l0.o
 *   gcc -std=c11 -O3 -Wall -Wextra -Werror -fno-math-errno -Isrc/kernels \
 *       -DAT_ISA_LEVEL=1 -mavx2 -mfma -c src/kernels/gemm.c -o /tmp/gemm_l1.o
 *   gcc -std=c11 -O3 -Wall -Wextra -Werror -fno-math-errno -Isrc/kernels \
 *       -DAT_ISA_LEVEL=2 -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 \
 *       -mfma -c src/kernels/gemm.c -o /tmp/gemm_l2.o
 *   gcc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Isrc/kernels \
 *       bench/gemm_bench.c /tmp/gemm_l0.o /tmp/gemm_l1.o /tmp/gemm_l2.o \
 *       -o /tmp/gemm_bench -lm
 *   /tmp/gemm_bench            # correctness + timings, every level the CPU
 * runs /tmp/gemm_bench --quick    # correctness only /tmp/gemm_bench --perf [n
 * ...]  # timings only (optionally just these sizes)
 * /tmp/gemm_bench --stream  # the streaming path (m = 1, n = 1, m <= 16)
 *   against a read loop over the same bytes and the packed tiles
 *
 * The level-2 (AVX-512) object is only linked; it runs only when the CPU
 * reports avx512f.  Run pinned for stable numbers: taskset -c 0 /tmp/gemm_bench
 *
 * Correctness: random shapes 1..70 in each dimension, edge shapes around the
 * register and cache blocks, 64/256/1024 squares, padded leading dimensions,
 * and runtime-style splits into sub-tiles (C outside the tile must stay
 * untouched).  Reference in double; error bound 1e-5 * sum_p |a||b|.
 * Exit status 1 on any failure.
 *
 * Performance: square n = 64..1024, one thread, whole matrix as one tile,
 * median (and best) GFLOP/s of 21 samples (thread CPU time).  "% of peak" is
 * the median over samples of GFLOP/s / the ymm FMA peak probe (10 independent
 * ymm FMA chains, register-only) run for ~1 ms just before each sample, so
 * clock changes on a shared machine cancel out.  The SSE2 baseline has no
 * FMA: its ceiling (2 mulps + 2 addps per cycle) is half the ymm FMA peak,
 * also probed once and printed.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ktable.h"

/* The library asks the CPU whether its L2 prefetch hint stops at L2
 * (at_cpu_prefetch_l2, in the core); this probe links only the kernels:
 * build it with -DPREFETCH_L2=0 for AMD cores before Zen 4. */
#ifndef PREFETCH_L2
#define PREFETCH_L2 1
#endif

/* Thread CPU time: the box may be shared, so time spent descheduled is not
 * counted (cache pollution from other tenants still is). */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static float rndf(void)
{
    return (float)((double)(rnd() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}
static size_t rndu(size_t lo, size_t hi)
{
    return lo + (size_t)(rnd() % (hi - lo + 1));
}

/* ---- peak probes ------------------------------------------------------- */

__attribute__((target("avx2,fma"))) static double probe_fma_ymm(long iters)
{
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0,
           a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
    __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    double t0 = now();
    for (long i = 0; i < iters; i++) {
#define F(r)                      \
    r = _mm256_fmadd_ps(r, x, y); \
    __asm__ volatile("" : "+x"(r));
        F(a0) F(a1) F(a2) F(a3) F(a4) F(a5) F(a6) F(a7) F(a8) F(a9)
#undef F
    }
    double t = now() - t0;
    __m256 s = _mm256_add_ps(
        _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
        _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(a8, a9));
    volatile float sink = _mm256_cvtss_f32(s);
    (void)sink;
    return (double)iters * 10 * 16 / t * 1e-9; /* 10 FMAs x 8 lanes x 2 flops */
}

static double probe_sse_muladd(long iters)
{
    __m128 a0 = _mm_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    __m128 m0 = a0, m1 = a0, m2 = a0, m3 = a0, m4 = a0, m5 = a0;
    __m128 x = _mm_set1_ps(0.999999f), y = _mm_set1_ps(1e-7f);
    double t0 = now();
    for (long i = 0; i < iters; i++) {
#define F(j)                    \
    m##j = _mm_mul_ps(m##j, x); \
    a##j = _mm_add_ps(a##j, y); \
    __asm__ volatile("" : "+x"(m##j), "+x"(a##j));
        F(0) F(1) F(2) F(3) F(4) F(5)
#undef F
    }
    double t = now() - t0;
    __m128 s = _mm_add_ps(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)),
                          _mm_add_ps(_mm_add_ps(a4, a5), _mm_add_ps(m0, m1)));
    s = _mm_add_ps(s, _mm_add_ps(_mm_add_ps(m2, m3), _mm_add_ps(m4, m5)));
    volatile float sink = _mm_cvtss_f32(s);
    (void)sink;
    return (double)iters * 6 * 8 / t * 1e-9; /* 6 (mul + add) x 4 lanes */
}

static double best_of(double (*f)(long), long iters)
{
    double best = 0;
    for (int r = 0; r < 9; r++) {
        double g = f(iters);
        if (g > best)
            best = g;
    }
    return best;
}

/* ---- correctness ------------------------------------------------------- */

static const at_ktable *cur;
static void *ws;
static int failures;

static void fill(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = rndf();
}

/* Compute C = A·B for m x n x k with padded leading dims, tiles chosen by
 * splitting rows/columns at the given steps (0 = whole). */
static int check(size_t m, size_t n, size_t k, size_t pa, size_t pb, size_t pc,
                 size_t tm, size_t tn)
{
    size_t lda = k + pa, ldb = n + pb, ldc = n + pc;
    /* one spare row around C to catch stray writes */
    float *a = malloc((m * lda + 1) * sizeof(float));
    float *b = malloc((k * ldb + 1) * sizeof(float));
    float *cb = malloc(((m + 2) * ldc + 2) * sizeof(float));
    fill(a, m * lda + 1);
    fill(b, k * ldb + 1);
    const float sentinel = 12345.0f;
    for (size_t i = 0; i < (m + 2) * ldc + 2; i++)
        cb[i] = sentinel;
    float *c = cb + ldc + 1;
    at_gemm_args g = {m, n, k, a, lda, b, ldb, c, ldc, 0, 0, 0};
    if (tm == 0)
        tm = m ? m : 1;
    if (tn == 0)
        tn = n ? n : 1;
    for (size_t i0 = 0; i0 < m; i0 += tm)
        for (size_t j0 = 0; j0 < n; j0 += tn)
            cur->sgemm_tile(&g, i0, i0 + tm < m ? i0 + tm : m, j0,
                            j0 + tn < n ? j0 + tn : n, ws);
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < m && !bad; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0, sa = 0;
            for (size_t p = 0; p < k; p++) {
                double x = (double)a[i * lda + p] * (double)b[p * ldb + j];
                s += x;
                sa += fabs(x);
            }
            double e = fabs((double)c[i * ldc + j] - s);
            double tol = 1e-5 * sa + 1e-30;
            if (!(e <= tol)) {
                fprintf(stderr,
                        "  [%s] m=%zu n=%zu k=%zu lda=%zu ldb=%zu ldc=%zu "
                        "tile=%zux%zu: "
                        "C[%zu,%zu]=%g ref=%g\n",
                        cur->isa_name, m, n, k, lda, ldb, ldc, tm, tn, i, j,
                        (double)c[i * ldc + j], s);
                bad = 1;
                break;
            }
            if (e / (sa + 1e-30) > worst)
                worst = e / (sa + 1e-30);
        }
    /* everything outside the m x n block of C must be untouched */
    for (size_t i = 0; i < (m + 2) * ldc + 2 && !bad; i++) {
        long off = (long)i - (long)(ldc + 1);
        int inside = ldc > 0 && off >= 0 && (size_t)off / ldc < m
                     && (size_t)off % ldc < n;
        if (!inside && cb[i] != sentinel) {
            fprintf(stderr,
                    "  [%s] m=%zu n=%zu k=%zu: write outside C at offset %ld\n",
                    cur->isa_name, m, n, k, off);
            bad = 1;
        }
    }
    free(a);
    free(b);
    free(cb);
    failures += bad;
    return bad;
}

static void correctness(void)
{
    int f0 = failures;
    size_t cases = 0;
    /* small exhaustive-ish edges */
    static const size_t e[] = {0, 1,  2,  3,  5,  6,  7, 8,
                               9, 13, 15, 16, 17, 31, 33};
    for (size_t i = 0; i < sizeof e / sizeof *e; i++)
        for (size_t j = 0; j < sizeof e / sizeof *e; j++)
            for (size_t l = 0; l < sizeof e / sizeof *e; l += 2) {
                check(e[i], e[j], e[l], 0, 0, 0, 0, 0);
                cases++;
            }
    /* random shapes 1..70, random padding, sometimes split into tiles */
    for (int t = 0; t < 600; t++) {
        size_t m = rndu(1, 70), n = rndu(1, 70), k = rndu(1, 70);
        size_t pa = rnd() % 2 ? rndu(0, 9) : 0, pb = rnd() % 2 ? rndu(0, 9) : 0,
               pc = rnd() % 2 ? rndu(0, 9) : 0;
        size_t tm = rnd() % 3 ? 0 : rndu(1, m), tn = rnd() % 3 ? 0 : rndu(1, n);
        check(m, n, k, pa, pb, pc, tm, tn);
        cases++;
    }
    /* cache-block edges: multiple KC / MC / NC blocks, ragged */
    static const size_t big[][8] = {
        {64, 64, 64, 0, 0, 0, 0, 0},
        {256, 256, 256, 0, 0, 0, 0, 0},
        {256, 256, 256, 3, 5, 7, 96, 80},
        {150, 70, 400, 1, 0, 3, 0, 0},
        {300, 33, 777, 0, 2, 0, 0, 0},
        {7, 3200, 390, 1, 3, 2, 0, 0},
        {5, 6200, 20, 0, 0, 0, 0, 0},
        {145, 145, 385, 0, 0, 0, 0, 0},
        {289, 130, 769, 7, 9, 11, 144, 0},
        {97, 257, 129, 0, 0, 0, 13, 17},
        {1024, 1024, 1024, 0, 0, 0, 0, 0},
        {1024, 1024, 1024, 0, 0, 0, 144, 512},
        {1000, 1030, 1023, 1, 3, 5, 0, 0},
        {3, 5000, 7, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        check(big[i][0], big[i][1], big[i][2], big[i][3], big[i][4], big[i][5],
              big[i][6], big[i][7]);
        cases++;
    }
    printf("[%s] correctness: %zu cases, %d failures\n", cur->isa_name, cases,
           failures - f0);
}

/* ---- performance ------------------------------------------------------- */

static int cmpd(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Median GFLOP/s of R samples; *pct gets the median of per-sample ratios to
 * a short peak probe run right before each sample (cancels clock changes on
 * a shared box); *best the fastest sample. */
static double bench_size(size_t n, double *best, double *pct, int have_probe)
{
    float *a = aligned_alloc(64, n * n * sizeof(float));
    float *b = aligned_alloc(64, n * n * sizeof(float));
    float *c = aligned_alloc(64, n * n * sizeof(float));
    fill(a, n * n);
    fill(b, n * n);
    at_gemm_args g = {n, n, n, a, n, b, n, c, n, 0, 0, 0};
    double flops = 2.0 * (double)n * (double)n * (double)n;
    /* calibrate: each sample runs >= ~5 ms */
    long it = 1;
    for (;;) {
        double t0 = now();
        for (long i = 0; i < it; i++)
            cur->sgemm_tile(&g, 0, n, 0, n, ws);
        if (now() - t0 > 0.005)
            break;
        it *= 2;
    }
    enum {
        R = 21
    };
    double gf[R], rt[R];
    for (int r = 0; r < R; r++) {
        double pk = have_probe ? probe_fma_ymm(200000) : 1.0; /* ~1 ms */
        double t0 = now();
        for (long i = 0; i < it; i++)
            cur->sgemm_tile(&g, 0, n, 0, n, ws);
        gf[r] = flops * (double)it / (now() - t0) * 1e-9;
        rt[r] = 100.0 * gf[r] / pk;
    }
    qsort(gf, R, sizeof *gf, cmpd);
    qsort(rt, R, sizeof *rt, cmpd);
    *best = gf[R - 1];
    *pct = have_probe ? rt[R / 2] : 0.0;
    free(a);
    free(b);
    free(c);
    return gf[R / 2];
}

/* One whole product through the streaming path, as the interpreter runs it
 * on one thread (depth blocks then their join, or one task). */
static void stream_run(const at_gemm_args *g, float *parts, void *sws)
{
    int dim = cur->sgemm_stream_dim(g);
    if (dim == AT_GEMM_STREAM_DEPTH) {
        size_t nb;
        cur->sgemm_depth_parts(g, &nb);
        for (size_t t = 0; t < nb; t++)
            cur->sgemm_depth_block(g, t, parts, sws);
        cur->sgemm_depth_join(g, parts);
    } else {
        cur->sgemm_stream(g, 0, dim == AT_GEMM_STREAM_ROWS ? g->m : g->n, sws);
    }
}

/* --stream: the streaming path against a loop that reads the same bytes
 * (every cache line of A and B once) and against the packed tiles, the
 * three alternating sample by sample; medians of 15. */
static void stream_probe(void)
{
    static const size_t shapes[][5] = {
        {1, 4096, 4096, 0, 0},  {1, 4096, 4096, 0, 1}, {4096, 1, 4096, 0, 0},
        {4096, 1, 4096, 1, 0},  {1, 1000, 1000, 0, 0}, {8, 512, 512, 0, 0},
        {16, 4096, 1024, 0, 0}, {8, 3072, 768, 0, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        const int ta = (int)shapes[s][3], tb = (int)shapes[s][4];
        float *a = aligned_alloc(64, (m * k * 4 + 63) / 64 * 64);
        float *b = aligned_alloc(64, (k * n * 4 + 63) / 64 * 64);
        float *c = aligned_alloc(64, (m * n * 4 + 63) / 64 * 64);
        float *parts = aligned_alloc(64, (k + 1) * (m + n) * 4);
        void *sws = aligned_alloc(64, cur->sgemm_stream_ws_bytes);
        for (size_t i = 0; i < m * k; i++)
            a[i] = (float)(i % 7) - 3.0f;
        for (size_t i = 0; i < k * n; i++)
            b[i] = (float)(i % 5) - 2.0f;
        const size_t lda = ta ? m : k, ldb = tb ? k : n;
        at_gemm_args g = {m, n, k, a, lda, b, ldb, c, n, ta, tb, PREFETCH_L2};
        double t[3][15];
        volatile float sink = 0;
        for (int r = 0; r < 15; r++) {
            double t0 = now();
            stream_run(&g, parts, sws);
            t[0][r] = now() - t0;
            t0 = now();
            float x = 0;
            for (size_t i = 0; i < m * k; i += 16)
                x += a[i];
            for (size_t i = 0; i < k * n; i += 16)
                x += b[i];
            sink = x;
            t[1][r] = now() - t0;
            t0 = now();
            if (!ta && !tb)
                cur->sgemm_tile(&g, 0, m, 0, n, ws);
            t[2][r] = now() - t0;
        }
        (void)sink;
        for (int v = 0; v < 3; v++)
            qsort(t[v], 15, sizeof(double), cmpd);
        double bytes = 4.0 * (double)(m * k + k * n);
        printf("[%s] %zux%zux%zu%s%s: stream %8.1f us %5.1f GB/s = %5.1f%% "
               "of the read loop (%5.1f GB/s)",
               cur->isa_name, m, n, k, ta ? " trans_a" : "",
               tb ? " trans_b" : "", t[0][7] * 1e6, bytes / t[0][7] * 1e-9,
               100.0 * t[1][7] / t[0][7], bytes / t[1][7] * 1e-9);
        if (!ta && !tb)
            printf(", packed %8.1f us (%.2fx)", t[2][7] * 1e6,
                   t[2][7] / t[0][7]);
        printf("\n");
        free(a);
        free(b);
        free(c);
        free(parts);
        free(sws);
    }
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int nocheck = argc > 1 && strcmp(argv[1], "--perf") == 0;
    int streaming = argc > 1 && strcmp(argv[1], "--stream") == 0;
    __builtin_cpu_init();
    int have_avx2 =
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int have_avx512 = __builtin_cpu_supports("avx512f")
                      && __builtin_cpu_supports("avx512dq")
                      && __builtin_cpu_supports("avx512bw")
                      && __builtin_cpu_supports("avx512vl");

    static at_ktable tabs[3];
    static const char *names[3] = {"baseline", "avx2", "avx512"};
    void (*reg[3])(at_ktable *) = {at_register_gemm_baseline,
                                   at_register_gemm_avx2,
                                   at_register_gemm_avx512};
    int run[3] = {1, have_avx2, have_avx512};

    double peak_ymm = 0, peak_sse = 0;
    if (!quick) {
        if (have_avx2)
            peak_ymm = best_of(probe_fma_ymm, 200000000L / 10);
        peak_sse = best_of(probe_sse_muladd, 200000000L / 10);
        printf("peak probe: ymm FMA %.1f GFLOP/s", peak_ymm);
        printf(", SSE2 mul+add %.1f GFLOP/s\n", peak_sse);
    }

    for (int l = 0; l < 3; l++) {
        memset(&tabs[l], 0, sizeof tabs[l]);
        reg[l](&tabs[l]);
        tabs[l].isa_name = names[l];
        if (!tabs[l].sgemm_tile || !tabs[l].sgemm_ws_bytes || !tabs[l].sgemm_mr
            || !tabs[l].sgemm_nr)
        {
            fprintf(stderr, "[%s] register left the gemm fields empty\n",
                    names[l]);
            return 1;
        }
        printf("[%s] ws=%zu bytes, sgemm_mc=%zu, sgemm_nc=%zu, sgemm_mr=%zu, "
               "sgemm_nr=%zu%s\n",
               names[l], tabs[l].sgemm_ws_bytes, tabs[l].sgemm_mc,
               tabs[l].sgemm_nc, tabs[l].sgemm_mr, tabs[l].sgemm_nr,
               run[l] ? "" : " (not run: CPU lacks the ISA)");
        if (!run[l])
            continue;
        cur = &tabs[l];
        ws = aligned_alloc(64, (cur->sgemm_ws_bytes + 63) / 64 * 64);
        if (streaming) {
            stream_probe();
            free(ws);
            continue;
        }
        if (!nocheck)
            correctness();
        if (!quick) {
            size_t sizes[16] = {64, 128, 256, 512, 1024}, ns = 5;
            if (nocheck && argc > 2) /* --perf n1 n2 ...: only these sizes */
                for (ns = 0; ns < 16 && (int)ns + 2 < argc; ns++)
                    sizes[ns] = (size_t)strtoul(argv[ns + 2], NULL, 10);
            for (size_t i = 0; i < ns; i++) {
                double best, pct,
                    gf = bench_size(sizes[i], &best, &pct, have_avx2);
                printf(
                    "[%s] n=%4zu  %6.1f GFLOP/s  %5.1f%% of peak  (best %6.1f)",
                    names[l], sizes[i], gf, pct, best);
                printf("\n");
            }
        }
        free(ws);
        fflush(stdout);
    }
    if (failures) {
        fprintf(stderr, "FAILED: %d correctness failures\n", failures);
        return 1;
    }
    printf("all correctness checks passed\n");
    return 0;
}
