/* Hologram Atlas — C micro-benchmark and roofline probe.
 *
 * Build: meson setup build-bench -Dbench=true && ninja -C build-bench
 * Run:   build-bench/bench/atlas_bench [--threads N]
 *
 * Part 1 times the stdlib ops through the public C API (no Python): add,
 * exp and sum at 1K/1M/10M elements and gemm at 256/1024, median of
 * repeated runs, outputs in pool memory reused across runs.
 * Part 2 measures the machine's limits on the same run:
 *   - bandwidth of a plain `c[i] = a[i] + b[i]` loop over preallocated,
 *     pre-faulted memory (compiled here at -O3 for AVX2 when the CPU has
 *     it), against which Atlas's add at 10M is compared;
 *   - peak FP32 FMA rate from a register-only loop of independent FMA
 *     chains at the widest ISA the CPU has, against which gemm is compared;
 *   - the cost per element of each transcendental (exp, log, tanh, sigmoid,
 *     sqrt, pow, softmax as one 64K row) on 64K cache-resident floats, in
 *     TSC ticks (the TSC runs at the nominal clock, not the boosted core
 *     clock). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>
#include "atlas/atlas.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static void die(const at_error *e)
{
    fprintf(stderr, "error: %s\n", e->msg);
    exit(1);
}

static at_tensor make(at_executor *ex, int ndim, int64_t d0, int64_t d1,
                      float fill)
{
    at_tensor t = {0};
    t.dtype = AT_F32;
    t.ndim = ndim;
    t.shape[0] = d0;
    t.shape[1] = d1;
    t.numel = (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
    if (ndim == 0)
        t.numel = 1;
    t.data = at_pool_alloc(at_executor_pool(ex), t.numel * sizeof(float));
    float *p = t.data;
    unsigned s = 12345;
    for (size_t i = 0; i < t.numel; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = fill + (float)(s >> 8) / 16777216.0f;
    }
    return t;
}

/* Median seconds per call of op over `reps` samples, each long enough. */
static double time_op(at_executor *ex, at_stdop op, const at_tensor *in,
                      int nin, const at_stdop_params *prm, at_tensor *out)
{
    at_error e;
    if (at_stdop_run(ex, op, in, (size_t)nin, prm, out, &e))
        die(&e);
    double t0 = now();
    int calls = 0;
    while (now() - t0 < 0.02) {
        at_stdop_run(ex, op, in, (size_t)nin, prm, out, &e);
        calls++;
    }
    int inner = calls > 1 ? calls : 1;
    double s[15];
    for (int r = 0; r < 15; r++) {
        double a = now();
        for (int i = 0; i < inner; i++)
            at_stdop_run(ex, op, in, (size_t)nin, prm, out, &e);
        s[r] = (now() - a) / inner;
    }
    return median(s, 15);
}

__attribute__((target("avx2,fma"))) static void
plain_add_avx2(size_t n, float *c, const float *a, const float *b)
{
    for (size_t i = 0; i < n; i++)
        c[i] = a[i] + b[i];
}

static void plain_add(size_t n, float *c, const float *a, const float *b)
{
    for (size_t i = 0; i < n; i++)
        c[i] = a[i] + b[i];
}

/* 12 independent FMA chains of 8 lanes: enough to cover 2 pipes x 4-5
 * cycles of latency on current x86 cores.  Returns flops per second. */
__attribute__((target("avx2,fma"))) static double peak_fma_avx2(long iters)
{
    __m256 acc[12], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++)
        acc[i] = _mm256_set1_ps((float)i);
    double t0 = now();
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    double dt = now() - t0;
    float sink = 0;
    for (int i = 0; i < 12; i++)
        sink += _mm256_cvtss_f32(acc[i]);
    if (sink == 12345.0f)
        puts("");
    return (double)iters * 12 * 8 * 2 / dt;
}

__attribute__((target("avx512f"))) static double peak_fma_avx512(long iters)
{
    __m512 acc[16], x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 16; i++)
        acc[i] = _mm512_set1_ps((float)i);
    double t0 = now();
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    double dt = now() - t0;
    float sink = 0;
    for (int i = 0; i < 16; i++)
        sink += _mm512_reduce_add_ps(acc[i]);
    if (sink == 12345.0f)
        puts("");
    return (double)iters * 16 * 16 * 2 / dt;
}

int main(int argc, char **argv)
{
    unsigned threads = 1;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--threads"))
            threads = (unsigned)atoi(argv[i + 1]);
    at_error e;
    at_executor *ex;
    if (at_executor_create(threads, -1, &ex, &e))
        die(&e);
    printf("CPU: %s, ISA level %s, %u thread(s)\n\n", at_cpu_brand(),
           at_isa_name(at_executor_isa(ex)), at_executor_threads(ex));

    at_stdop_params prm = {0};
    printf("%-6s %12s %14s %12s\n", "op", "n", "time", "rate");
    const size_t sizes[] = {1000, 1000000, 10000000};
    double add10m = 0;
    for (int s = 0; s < 3; s++) {
        size_t n = sizes[s];
        at_tensor a = make(ex, 1, (int64_t)n, 0, -0.5f),
                  b = make(ex, 1, (int64_t)n, 0, 0.25f);
        at_tensor y = make(ex, 1, (int64_t)n, 0, 0.0f),
                  r = make(ex, 0, 1, 0, 0.0f);
        at_tensor ab[2] = {a, b};
        double t = time_op(ex, AT_STD_VECTOR_ADD, ab, 2, &prm, &y);
        if (n == 10000000)
            add10m = t;
        printf("%-6s %12zu %11.3f us %9.2f GB/s\n", "add", n, t * 1e6,
               12.0 * (double)n / t / 1e9);
        t = time_op(ex, AT_STD_EXP, &a, 1, &prm, &y);
        printf("%-6s %12zu %11.3f us %9.3f ns/elem\n", "exp", n, t * 1e6,
               t * 1e9 / (double)n);
        t = time_op(ex, AT_STD_SUM, &a, 1, &prm, &r);
        printf("%-6s %12zu %11.3f us %9.2f GB/s\n", "sum", n, t * 1e6,
               4.0 * (double)n / t / 1e9);
        at_pool_free(at_executor_pool(ex), a.data);
        at_pool_free(at_executor_pool(ex), b.data);
        at_pool_free(at_executor_pool(ex), y.data);
        at_pool_free(at_executor_pool(ex), r.data);
    }
    double gemm1024 = 0;
    const int64_t gsz[] = {256, 1024};
    for (int s = 0; s < 2; s++) {
        int64_t n = gsz[s];
        at_tensor a = make(ex, 2, n, n, -0.5f), b = make(ex, 2, n, n, -0.5f),
                  c = make(ex, 2, n, n, 0);
        at_tensor ab[2] = {a, b};
        at_stdop_params g = {0};
        g.m = g.n = g.k = n;
        double t = time_op(ex, AT_STD_GEMM, ab, 2, &g, &c);
        double gf = 2.0 * (double)n * (double)n * (double)n / t / 1e9;
        if (n == 1024)
            gemm1024 = gf;
        printf("%-6s %12lld %11.3f us %9.2f GFLOP/s\n", "gemm", (long long)n,
               t * 1e6, gf);
        at_pool_free(at_executor_pool(ex), a.data);
        at_pool_free(at_executor_pool(ex), b.data);
        at_pool_free(at_executor_pool(ex), c.data);
    }

    printf("\nRoofline (this run, this machine)\n");
    size_t n = 10000000;
    float *a = aligned_alloc(64, n * 4), *b = aligned_alloc(64, n * 4),
          *c = aligned_alloc(64, n * 4);
    for (size_t i = 0; i < n; i++) {
        a[i] = (float)i;
        b[i] = 1.0f;
        c[i] = 0.0f;
    }
    int has_avx2 =
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    double s[15];
    for (int r = 0; r < 15; r++) {
        double t0 = now();
        if (has_avx2)
            plain_add_avx2(n, c, a, b);
        else
            plain_add(n, c, a, b);
        s[r] = now() - t0;
    }
    double plain = median(s, 15);
    printf("plain c=a+b loop, 10M: %.3f ms, %.2f GB/s; Atlas add: %.3f ms = "
           "%.0f%% of the loop's bandwidth\n",
           plain * 1e3, 12.0 * (double)n / plain / 1e9, add10m * 1e3,
           100.0 * plain / add10m);
    free(a);
    free(b);
    free(c);

    double peak = 0;
    const char *peak_isa = "none";
    if (__builtin_cpu_supports("avx512f")) {
        peak = peak_fma_avx512(20000000);
        peak_isa = "avx512";
    } else if (has_avx2) {
        peak = peak_fma_avx2(40000000);
        peak_isa = "avx2";
    }
    if (peak > 0) {
        for (int r = 0; r < 4; r++) {
            double p = strcmp(peak_isa, "avx512") ? peak_fma_avx2(40000000)
                                                  : peak_fma_avx512(20000000);
            if (p > peak)
                peak = p;
        }
        printf("peak FP32 FMA (%s, register-only): %.1f GFLOP/s per thread; "
               "gemm 1024 reached %.1f = %.0f%%"
               " (x%u threads of peak: %.0f%%)\n",
               peak_isa, peak / 1e9, gemm1024, 100.0 * gemm1024 * 1e9 / peak,
               threads, 100.0 * gemm1024 * 1e9 / (peak * threads));
    }

    /* transcendentals on 64K cache-resident floats, in TSC ticks per element
     * (inputs in the ranges the Python benchmark uses) */
    {
        struct {
            const char *name;
            at_stdop op;
            float lo, span;
        } vm[] = {
            {"exp", AT_STD_EXP, -4.0f, 8.0f},
            {"log", AT_STD_LOG, 0.01f, 100.0f},
            {"tanh", AT_STD_TANH, -4.0f, 8.0f},
            {"sigmoid", AT_STD_SIGMOID, -4.0f, 8.0f},
            {"sqrt", AT_STD_SQRT, 0.0f, 100.0f},
            {"pow", AT_STD_POW, 0.5f, 1.5f},
            {"softmax", AT_STD_SOFTMAX, -4.0f, 8.0f},
        };
        for (size_t o = 0; o < sizeof vm / sizeof vm[0]; o++) {
            at_tensor x = make(ex, 1, 65536, 0, 0.0f),
                      x2 = make(ex, 1, 65536, 0, -0.5f);
            at_tensor y = make(ex, 1, 65536, 0, 0.0f);
            float *px = x.data, *p2 = x2.data;
            for (size_t i = 0; i < 65536; i++) {
                px[i] = vm[o].lo + vm[o].span * px[i];
                p2[i] *= 4.0f;                 /* pow exponents in [-2, 2) */
            }
            at_tensor in[2] = {x, x2};
            int nin = vm[o].op == AT_STD_POW ? 2 : 1;
            double best = 1e30;
            for (int r = 0; r < 200; r++) {
                unsigned long long t0 = __rdtsc();
                at_stdop_run(ex, vm[o].op, in, (size_t)nin, &prm, &y, &e);
                unsigned long long t1 = __rdtsc();
                if ((double)(t1 - t0) < best)
                    best = (double)(t1 - t0);
            }
            printf("%s, 64K floats in cache: %.2f TSC ticks/element (best of "
                   "200)\n",
                   vm[o].name, best / 65536.0);
            at_pool_free(at_executor_pool(ex), x.data);
            at_pool_free(at_executor_pool(ex), x2.data);
            at_pool_free(at_executor_pool(ex), y.data);
        }
    }
    at_executor_destroy(ex);
    return 0;
}
