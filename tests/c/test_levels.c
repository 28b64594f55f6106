/* Hologram Atlas — every ISA level against the baseline, from C.
 *
 * Runs every op of the standard library on the same inputs (normal values,
 * and IEEE special values in the first row) at each level the CPU supports,
 * and compares with the baseline level: the ops whose IEEE result is exact
 * (arithmetic, sqrt, min/max, relu, clip, ...) bit for bit, the others
 * (vector math, sums, gemm) within a relative 1e-5 plus 1e-6 of the op's
 * largest output, with NaN and infinity at the same places.  Each level also
 * runs on two threads, bit-identical to one.  This is the C counterpart of
 * the pytest suite's cross-level test, so a cross build with no Python (the
 * AArch64 build under qemu, scripts/test-arm64.sh) compares NEON with the
 * plain-C baseline the same way. */
#include "atlas/atlas.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

enum {
    ROWS = 67,   /* over 64K elements: two FLAT tasks */
    COLS = 1029, /* not a multiple of any vector width */
    N = ROWS * COLS,
    GM = 65,
    GK = 130,
    GN = 17
};

static float in_f[3][N];
static float in_unit[2][N]; /* in [0, 1] */
static int64_t in_target[ROWS];

static uint64_t rng = 0x9e3779b97f4a7c15u;
static double urand(void)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (double)(rng >> 11) * 0x1p-53;
}
/* roughly normal with standard deviation s (sum of four uniforms) */
static float nrand(double s)
{
    double u = urand() + urand() + urand() + urand() - 2.0;
    return (float)(u * 1.7320508075688772 * s);
}

static const float specials[] = {
    0.0f,    -0.0f,    INFINITY, -INFINITY, NAN,  1e-40f, -1e-40f,
    88.72f,  -103.9f,  1e30f,    -1e30f,    1.0f, -1.0f,  0.5f,
    FLT_MIN, -FLT_MIN, FLT_MAX,  -FLT_MAX,  9.0f, -9.0f,  3.4e-5f,
};

static void fill_inputs(void)
{
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < N; i++)
            in_f[j][i] = nrand(4.0);
    size_t ns = sizeof specials / sizeof specials[0];
    for (size_t i = 0; i < ns; i++) {
        in_f[0][i] = specials[i];
        in_f[1][ns + i] = specials[i];
        in_f[1][2 * ns + i] = specials[ns - 1 - i];
    }
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < N; i++)
            in_unit[j][i] = (float)urand();
    in_unit[0][0] = 0.0f;
    in_unit[0][1] = 1.0f;
    for (int r = 0; r < ROWS; r++)
        in_target[r] = (int64_t)(urand() * COLS);
}

static at_tensor tensor(void *data, at_dtype dt, int64_t r, int64_t c)
{
    at_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dt;
    t.ndim = c < 0 ? 1 : 2;
    t.shape[0] = r;
    t.shape[1] = c;
    t.numel = (size_t)r * (size_t)(c < 0 ? 1 : c);
    return t;
}

/* The inputs and parameters of op: (ROWS, COLS) float32 tensors unless the
 * op needs other shapes; 0 when this test does not know how to feed it. */
static int op_inputs(at_stdop op, at_tensor *in, at_stdop_params *prm)
{
    memset(prm, 0, sizeof *prm);
    prm->scalar = 0.75f;   /* pow exponent, slope, softplus beta */
    prm->scalar2 = 20.0f;  /* softplus threshold */
    prm->ignore_index = -100;
    int n = at_stdop_arity(op);
    for (int j = 0; j < n; j++)
        in[j] = tensor(in_f[j], AT_F32, ROWS, COLS);
    switch (op) {
        case AT_STD_GEMM:
        case AT_STD_GEMM_TA:
        case AT_STD_GEMM_TB:
        case AT_STD_GEMM_TATB: {
            /* a transposed operand is stored the other way round */
            int ta = op == AT_STD_GEMM_TA || op == AT_STD_GEMM_TATB;
            int tb = op == AT_STD_GEMM_TB || op == AT_STD_GEMM_TATB;
            in[0] =
                tensor(in_f[0] + 2 * COLS, AT_F32, ta ? GK : GM, ta ? GM : GK);
            in[1] =
                tensor(in_f[1] + 2 * COLS, AT_F32, tb ? GN : GK, tb ? GK : GN);
            prm->m = GM;
            prm->n = GN;
            prm->k = GK;
            break;
        }
        case AT_STD_CROSS_ENTROPY:
            in[1] = tensor(in_target, AT_I64, ROWS, -1);
            break;
        case AT_STD_BINARY_CROSS_ENTROPY:
            /* its domain is [0, 1] */
            in[0] = tensor(in_unit[0], AT_F32, ROWS, COLS);
            in[1] = tensor(in_unit[1], AT_F32, ROWS, COLS);
            break;
        case AT_STD_CLIP:
            prm->scalar = -1.0f;
            prm->scalar2 = 2.0f;
            break;
        case AT_STD_LAYER_NORM:
        case AT_STD_LAYER_NORM_W:
        case AT_STD_LAYER_NORM_B:
        case AT_STD_LAYER_NORM_WB:
            prm->scalar = 1e-5f;
            for (int j = 1; j < n; j++)
                in[j] = tensor(in_f[j], AT_F32, COLS, -1);
            break;
        default:
            break;
    }
    at_tensor out;
    at_error err;
    return at_stdop_prepare(op, in, (size_t)n, prm, &out, &err) == AT_OK;
}

/* Ops whose every output is an exactly rounded IEEE result (or a choice
 * among inputs), so every level must give the baseline's bits. */
static int exact_op(at_stdop op)
{
    switch (op) {
        case AT_STD_VECTOR_ADD:
        case AT_STD_VECTOR_SUB:
        case AT_STD_VECTOR_MUL:
        case AT_STD_VECTOR_DIV:
        case AT_STD_NEG:
        case AT_STD_ABS:
        case AT_STD_RELU:
        case AT_STD_SQRT:
        case AT_STD_MAX:
        case AT_STD_MIN:
        case AT_STD_MAX_ROWS:
        case AT_STD_MIN_ROWS:
        case AT_STD_LEAKY_RELU:
        case AT_STD_CLIP:
            return 1;
        default:
            return 0;
    }
}

/* Run op on ex; the result is copied to *res (malloc'd), its element count
 * to *n and its dtype to *dt (float32, or int64 for the arg reductions). */
static int run(at_executor *ex, at_stdop op, float **res, size_t *n,
               at_dtype *dt)
{
    at_tensor in[3], out;
    at_stdop_params prm;
    at_error err;
    *res = NULL;
    if (!op_inputs(op, in, &prm))
        return 0;
    at_status st = at_stdop_run_new(ex, op, in, (size_t)at_stdop_arity(op),
                                    &prm, &out, &err);
    if (st != AT_OK) {
        fprintf(stderr, "%s: %s\n", at_stdop_name(op), err.msg);
        return 0;
    }
    *n = out.numel;
    *dt = out.dtype;
    size_t bytes = out.numel * at_dtype_size(out.dtype);
    *res = malloc(bytes + 1);
    if (*res != NULL)
        memcpy(*res, out.data, bytes);
    at_pool_free(at_executor_pool(ex), out.data);
    return *res != NULL && (out.dtype == AT_F32 || out.dtype == AT_I64);
}

/* Integer results (indices) agree exactly. */
static size_t index_mismatches(const int64_t *got, const int64_t *base,
                               size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != base[i] && bad++ < 3)
            fprintf(stderr, "  [%zu] got %lld baseline %lld\n", i,
                    (long long)got[i], (long long)base[i]);
    return bad;
}

/* got agrees with base: bitwise, or within the tolerance of the header. */
static size_t mismatches(const float *got, const float *base, size_t n,
                         int exact)
{
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(base[i]) && fabs(base[i]) > scale)
            scale = fabs(base[i]);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        float g = got[i], b = base[i];
        int ok;
        if (exact || isnan(b) || isinf(b))
            ok = memcmp(&g, &b, sizeof g) == 0 || (isnan(g) && isnan(b));
        else
            ok = fabs((double)g - b) <= 1e-5 * fabs(b) + 1e-6 * scale;
        if (!ok && bad++ < 3)
            fprintf(stderr, "  [%zu] got %.9g baseline %.9g\n", i, g, b);
    }
    return bad;
}

int main(void)
{
    fill_inputs();
    at_executor *base1 = NULL;
    at_error err;
    if (at_executor_create(1, AT_ISA_BASELINE, &base1, &err) != AT_OK) {
        fprintf(stderr, "baseline executor: %s\n", err.msg);
        return 1;
    }
    int levels = 0;
    for (int isa = 0; isa < AT_ISA_COUNT; isa++) {
        if (!at_cpu_supports((at_isa)isa)) {
            printf("%s: not %s here, skipped\n", at_isa_name((at_isa)isa),
                   at_cpu_compiled((at_isa)isa) ? "supported by the CPU"
                                                : "compiled");
            continue;
        }
        at_executor *ex1, *ex2;
        CHECK(at_executor_create(1, isa, &ex1, &err) == AT_OK);
        CHECK(at_executor_create(2, isa, &ex2, &err) == AT_OK);
        int before = n_fail, ops = 0;
        for (int i = 0; i < AT_STD_COUNT; i++) {
            at_stdop op = (at_stdop)i;
            float *b = NULL, *g1 = NULL, *g2 = NULL;
            size_t nb = 0, n1 = 0, n2 = 0;
            at_dtype dt = AT_F32, d1 = AT_F32, d2 = AT_F32;
            if (!run(base1, op, &b, &nb, &dt)) {
                printf("%s: %s not fed by this test, skipped\n",
                       at_isa_name((at_isa)isa), at_stdop_name(op));
                free(b);
                continue;
            }
            CHECK(run(ex1, op, &g1, &n1, &d1) && n1 == nb && d1 == dt);
            CHECK(run(ex2, op, &g2, &n2, &d2) && n2 == nb && d2 == dt);
            if (g1 != NULL && g2 != NULL && n1 == nb && n2 == nb && d1 == dt
                && d2 == dt)
            {
                size_t bad =
                    dt == AT_I64
                        ? index_mismatches((const int64_t *)(void *)g1,
                                           (const int64_t *)(void *)b, nb)
                        : mismatches(g1, b, nb, exact_op(op));
                if (bad)
                    fprintf(stderr, "%s %s: %zu of %zu differ from baseline\n",
                            at_isa_name((at_isa)isa), at_stdop_name(op), bad,
                            nb);
                CHECK(bad == 0);
                /* two threads give the one-thread bits */
                CHECK(memcmp(g1, g2, nb * at_dtype_size(dt)) == 0);
                ops++;
            }
            free(b);
            free(g1);
            free(g2);
        }
        /* the FMA probe runs at every level, on one thread and on two */
        CHECK(at_executor_fma_peak(ex1, 0, 0.002) > 0);
        CHECK(at_executor_fma_peak(ex2, 0, 0.002) > 0);
        at_executor_destroy(ex1);
        at_executor_destroy(ex2);
        printf("%s: %d ops against the baseline, %s\n",
               at_isa_name((at_isa)isa), ops,
               n_fail == before ? "ok" : "FAILED");
        levels++;
    }
    at_executor_destroy(base1);
    CHECK(levels > 0);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}
