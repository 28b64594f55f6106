/* Hologram Atlas — C tests of the standard library's API edge: what a C
 * caller of at_stdop_run / at_stdop_run_new gets for valid and invalid
 * descriptions (the Python extension never builds an inconsistent tensor,
 * so these cases are only reachable from C); the ops' descriptors and cost;
 * and the core's interface for client libraries (atlas/client.h) that the
 * standard library is built on.
 *
 * Built and run by scripts/test-c.sh (AddressSanitizer + UBSan, kernels at
 * every ISA level; the checks run at each level the CPU supports). */
#include "atlas/atlas.h"
#include "atlas/client.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static at_tensor vec(float *data, size_t n)
{
    at_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = AT_F32;
    t.ndim = 1;
    t.shape[0] = (int64_t)n;
    t.numel = n;
    return t;
}

/* The launch arguments of a kernel (x: f32, y: f32) over n elements. */
static void float_args(at_arg *args, float *x, float *y, size_t n)
{
    memset(args, 0, 2 * sizeof *args);
    args[0].data = x;
    args[0].numel = n;
    args[0].dtype = AT_F32;
    args[1] = args[0];
    args[1].data = y;
}

static size_t in_use(at_executor *ex)
{
    at_pool_stats s;
    at_pool_get_stats(at_executor_pool(ex), &s);
    return s.bytes_in_use;
}

/* run_new allocates the result from the pool, computes it, and on failure
 * leaves nothing allocated. */
static void test_run_new(at_executor *ex)
{
    enum {
        N = 1003
    };                     /* not a multiple of any width */
    static float a[N], b[N];
    for (int i = 0; i < N; i++) {
        a[i] = (float)i * 0.5f - 100.0f;
        b[i] = (float)(i % 7) + 0.25f;
    }
    at_tensor in[2] = {vec(a, N), vec(b, N)};
    at_stdop_params prm;
    memset(&prm, 0, sizeof prm);
    at_error err;
    at_tensor out;
    size_t base = in_use(ex);
    CHECK(at_stdop_run_new(ex, AT_STD_VECTOR_ADD, in, 2, &prm, &out, &err)
          == AT_OK);
    CHECK(out.data != NULL && out.numel == N && out.ndim == 1
          && out.shape[0] == N);
    int exact = 1;
    for (int i = 0; i < N; i++)
        exact &= ((float *)out.data)[i] == a[i] + b[i];
    CHECK(exact);
    at_pool_free(at_executor_pool(ex), out.data);

    CHECK(at_stdop_run_new(ex, AT_STD_SUM, in, 1, &prm, &out, &err) == AT_OK);
    double ref = 0;
    for (int i = 0; i < N; i++)
        ref += a[i];
    CHECK(out.ndim == 0 && out.numel == 1
          && fabs(((float *)out.data)[0] - ref) <= 1e-5 * fabs(ref));
    at_pool_free(at_executor_pool(ex), out.data);
    CHECK(in_use(ex) == base);

    /* a failing op allocates nothing */
    at_tensor bad[2] = {vec(a, N), vec(b, N - 1)};
    out.data = a;
    CHECK(at_stdop_run_new(ex, AT_STD_VECTOR_ADD, bad, 2, &prm, &out, &err)
          == AT_E_VALUE);
    CHECK(strstr(err.msg, "vector_add") != NULL
          && strstr(err.msg, "(1003,)") != NULL);
    CHECK(out.data == NULL && in_use(ex) == base);
}

/* A description whose numel disagrees with its shape, a negative extent,
 * a missing or misaligned data pointer or an output overlapping an input is
 * refused before any kernel reads or writes memory. */
static void test_inconsistent_descriptions(at_executor *ex)
{
    static float a[64], y[64];
    at_stdop_params prm;
    memset(&prm, 0, sizeof prm);
    at_error err;
    at_tensor out;

    at_tensor x = vec(a, 16);
    x.numel = 64;                           /* shape says 16 */
    CHECK(at_stdop_run_new(ex, AT_STD_EXP, &x, 1, &prm, &out, &err)
          == AT_E_VALUE);
    CHECK(strstr(err.msg, "exp: input 0 has shape (16,) but 64 elements")
          != NULL);

    at_tensor ab[2] = {vec(a, 16), vec(y, 16)};
    ab[1].numel = 8;                        /* the second input is short */
    CHECK(at_stdop_run_new(ex, AT_STD_VECTOR_MUL, ab, 2, &prm, &out, &err)
          == AT_E_VALUE);

    x = vec(a, 16);
    x.shape[0] = -16;
    CHECK(at_stdop_run_new(ex, AT_STD_EXP, &x, 1, &prm, &out, &err)
          == AT_E_VALUE);
    CHECK(strstr(err.msg, "invalid shape") != NULL);

    x = vec(a, 16);
    x.ndim = 2;
    x.shape[0] = (int64_t)1 << 40;          /* product overflows size_t */
    x.shape[1] = (int64_t)1 << 40;
    CHECK(at_stdop_run_new(ex, AT_STD_EXP, &x, 1, &prm, &out, &err)
          == AT_E_VALUE);

    x = vec(a, 16);
    x.ndim = 2;
    x.shape[0] = (int64_t)1 << 61;          /* numel fits, its bytes do not */
    x.shape[1] = 2;
    x.numel =
        (size_t)1 << 62; /* a sum's output is small: only prepare can tell */
    CHECK(at_stdop_run_new(ex, AT_STD_SUM, &x, 1, &prm, &out, &err)
          == AT_E_OVERFLOW);
    CHECK(strstr(err.msg, "sum: input 0 of shape") != NULL);

    x = vec(NULL, 16);
    CHECK(at_stdop_run_new(ex, AT_STD_EXP, &x, 1, &prm, &out, &err)
          == AT_E_VALUE);
    CHECK(strstr(err.msg, "has no data") != NULL);

    /* the cost estimate is asked before validation: any gemm sizes give a
     * defined answer, and the op then refuses them */
    at_stdop_params g;
    memset(&g, 0, sizeof g);
    g.m = -4;
    g.n = 4;
    g.k = 4;
    at_tensor ab2[2] = {vec(a, 16), vec(y, 16)};
    CHECK(at_stdop_cost(ex, AT_STD_GEMM, ab2, 2, &g) == 0);
    CHECK(at_stdop_run_new(ex, AT_STD_GEMM, ab2, 2, &g, &out, &err)
          == AT_E_VALUE);
    g.m = g.n = g.k = INT64_MAX;
    CHECK(at_stdop_cost(ex, AT_STD_GEMM, ab2, 2, &g) == (size_t)1 << 60);
    CHECK(at_stdop_run_new(ex, AT_STD_GEMM, ab2, 2, &g, &out, &err) != AT_OK);

    /* at_stdop_run: the caller's output must match and must not overlap */
    x = vec(a, 16);
    at_tensor o = vec(a + 8, 16);
    CHECK(at_stdop_run(ex, AT_STD_EXP, &x, 1, &prm, &o, &err) == AT_E_VALUE);
    CHECK(strstr(err.msg, "overlaps") != NULL);
    o = vec(y, 15);
    CHECK(at_stdop_run(ex, AT_STD_EXP, &x, 1, &prm, &o, &err) == AT_E_VALUE);
    o = vec(y, 16);
    for (int i = 0; i < 16; i++)
        a[i] = (float)i - 8.0f;
    CHECK(at_stdop_run(ex, AT_STD_EXP, &x, 1, &prm, &o, &err) == AT_OK);
    int close = 1;
    for (int i = 0; i < 16; i++)
        close &= fabs(y[i] - exp((double)a[i])) <= 1e-6 * exp((double)a[i]);
    CHECK(close);

    /* a float pointer that is not 4-byte aligned (undefined behaviour in C,
     * and the streaming stores of a large output fault on it) is refused at
     * both edges: the standard library's and a kernel launch's */
    float *odd_a = (float *)(void *)((char *)a + 2),
          *odd_y = (float *)(void *)((char *)y + 2);
    x = vec(odd_a, 8);
    CHECK(at_stdop_run_new(ex, AT_STD_EXP, &x, 1, &prm, &out, &err)
          == AT_E_VALUE);
    CHECK(strstr(err.msg, "exp: input 0 is not aligned to its 4-byte elements")
          != NULL);
    CHECK(out.data == NULL);
    x = vec(a, 8);
    o = vec(odd_y, 8);
    CHECK(at_stdop_run(ex, AT_STD_EXP, &x, 1, &prm, &o, &err) == AT_E_VALUE);
    CHECK(
        strstr(err.msg, "exp: the output is not aligned to its 4-byte elements")
        != NULL);

    at_kernel *k;
    at_program *p;
    CHECK(at_stdop_kernel(AT_STD_EXP, &k, &err) == AT_OK);
    CHECK(at_compile(ex, k, &p, &err) == AT_OK);
    at_arg args[2];
    float_args(args, a, odd_y, 8);
    CHECK(at_launch(ex, p, 1, 8, args, 2, &err) == AT_E_VALUE);
    CHECK(
        strstr(err.msg,
               "kernel 'exp': buffer 'y' is not aligned to its 4-byte elements")
        != NULL);
    args[1].data = y;
    CHECK(at_launch(ex, p, 1, 8, args, 2, &err) == AT_OK);
    at_program_free(p);
    at_kernel_free(k);
}

/* With AT_STORES_STREAMED a launch writes its outputs with streaming stores
 * (the _nt kernels), which must give the same bits as the cached kernels,
 * also when the output starts off a vector boundary (the kernels peel to
 * reach one).  Each op runs once over the whole array (streamed) and once in
 * pieces with AT_STORES_CACHED; the streamed result is also checked against
 * a double-precision reference. */
static void test_streaming_outputs(at_executor *ex)
{
    enum {
        N = 100000 + 37,
        PIECE = 16384
    };
    const size_t bytes =
        (N + 16 + 15) / 16 * 64; /* a multiple of the alignment */
    float *a = aligned_alloc(64, bytes), *b = aligned_alloc(64, bytes);
    float *ys = aligned_alloc(64, bytes), *yc = aligned_alloc(64, bytes);
    CHECK(a && b && ys && yc);
    if (!a || !b || !ys || !yc)
        goto done;
    for (size_t i = 0; i < N; i++) {
        a[i] =
            (float)((double)(i % 9973) / 9973.0 * 20.0 - 10.0); /* [-10, 10) */
        b[i] = (float)(0.5 + (double)(i % 101) / 7.0); /* > 0 */
    }
    static const struct {
        at_stdop op;
        int pos;
        double rel;
    } ops[] = {
        {AT_STD_VECTOR_ADD, 0, 0.0}, {AT_STD_EXP, 0, 1e-6},
        {AT_STD_SIGMOID, 0, 1e-6},   {AT_STD_LOG, 1, 1e-6},
        {AT_STD_SQRT, 1, 0.0},
    };
    at_stdop_params prm;
    memset(&prm, 0, sizeof prm);
    at_error err;
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        at_stdop op = ops[o].op;
        const float *x = ops[o].pos ? b : a;
        int nin = at_stdop_arity(op);
        for (size_t shift = 0; shift <= 1;
             shift++) { /* vector-aligned, then one float off */
            float *y = ys + shift;
            at_tensor in[2] = {vec((float *)x, N), vec(b, N)}, out = vec(y, N);
            CHECK(at_executor_set_stores(ex, AT_STORES_STREAMED, &err)
                  == AT_OK);
            CHECK(at_stdop_run(ex, op, in, (size_t)nin, &prm, &out, &err)
                  == AT_OK);
            CHECK(at_executor_set_stores(ex, AT_STORES_CACHED, &err) == AT_OK);
            for (size_t i = 0; i < N; i += PIECE) {
                size_t len = N - i < PIECE ? N - i : PIECE;
                at_tensor pin[2] = {vec((float *)x + i, len), vec(b + i, len)},
                          pout = vec(yc + i, len);
                CHECK(at_stdop_run(ex, op, pin, (size_t)nin, &prm, &pout, &err)
                      == AT_OK);
            }
            CHECK(memcmp(y, yc, N * sizeof(float)) == 0);
            size_t bad = 0;
            for (size_t i = 0; i < N; i++) {
                double r =
                    op == AT_STD_VECTOR_ADD
                        ? (double)(float)((double)x[i] + (double)b[i])
                    : op == AT_STD_EXP     ? exp((double)x[i])
                    : op == AT_STD_SIGMOID ? 1.0 / (1.0 + exp(-(double)x[i]))
                    : op == AT_STD_LOG     ? log((double)x[i])
                                           : (double)(float)sqrt((double)x[i]);
                bad += !(fabs((double)y[i] - r)
                         <= ops[o].rel * fabs(r) + (ops[o].rel ? 1e-30 : 0.0));
            }
            CHECK(bad == 0);
            if (bad)
                fprintf(stderr, "  %s (output shifted by %zu): %zu wrong\n",
                        at_stdop_name(op), shift, bad);
        }
    }
    CHECK(at_executor_set_stores(ex, AT_STORES_COUNT, &err) == AT_E_VALUE);
    CHECK(at_executor_set_stores(ex, -1, &err) == AT_E_VALUE);
    CHECK(at_executor_stores(ex) == AT_STORES_CACHED);
    CHECK(at_store_policy_parse("streamed") == AT_STORES_STREAMED
          && at_store_policy_parse("fast") == -1);
    CHECK(strcmp(at_store_policy_name(AT_STORES_AUTO), "auto") == 0);
    CHECK(at_executor_set_stores(ex, AT_STORES_AUTO, &err) == AT_OK);
done:
    free(a);
    free(b);
    free(ys);
    free(yc);
}

/* AT_STORES_AUTO at a footprint inside its measured band (1.2M floats in and
 * out): a fresh executor's first launches alternate four cached and four
 * streamed, and every result must equal the cached one. */
static void test_auto_stores(at_executor *ex)
{
    enum {
        M = 1200000 + 5
    };
    const size_t bytes = (M * sizeof(float) + 63) / 64 * 64;
    at_executor *fresh = NULL;
    at_error err;
    at_stdop_params prm;
    memset(&prm, 0, sizeof prm);
    float *x = aligned_alloc(64, bytes), *yr = aligned_alloc(64, bytes),
          *ya = aligned_alloc(64, bytes);
    CHECK(x && yr && ya
          && at_executor_create(1, (int)at_executor_isa(ex), &fresh, &err)
                 == AT_OK);
    if (x && yr && ya && fresh) {
        CHECK(at_executor_stores(fresh) == AT_STORES_AUTO);
        for (size_t i = 0; i < M; i++)
            x[i] = (float)((double)(i % 7919) / 7919.0 * 30.0 - 15.0);
        at_tensor in = vec(x, M), ref = vec(yr, M), out = vec(ya, M);
        CHECK(at_executor_set_stores(ex, AT_STORES_CACHED, &err) == AT_OK);
        CHECK(at_stdop_run(ex, AT_STD_EXP, &in, 1, &prm, &ref, &err) == AT_OK);
        CHECK(at_executor_set_stores(ex, AT_STORES_AUTO, &err) == AT_OK);
        size_t differ = 0;
        for (int rep = 0; rep < 12; rep++) {
            memset(ya, 0, M * sizeof(float));
            CHECK(at_stdop_run(fresh, AT_STD_EXP, &in, 1, &prm, &out, &err)
                  == AT_OK);
            differ += memcmp(ya, yr, M * sizeof(float)) != 0;
        }
        CHECK(differ == 0);
    }
    at_executor_destroy(fresh);
    free(x);
    free(yr);
    free(ya);
}

/* Where the lowering keeps values (at_program_print): softmax's exp(x - max)
 * waits in its output until the scale overwrites it in place, so it needs no
 * scratch row; a value read after its output is written keeps its scratch
 * row; and only memory writes that nothing reads back are final (may
 * stream).  mse_loss fuses into one instruction. */
static void print_program(at_executor *ex, const char *text, at_stdop op,
                          char *buf, size_t cap)
{
    at_kernel *k = NULL;
    at_program *p = NULL;
    at_error err;
    buf[0] = '\0';
    int ok = text ? at_kernel_parse(text, &k, &err) == AT_OK
                        && at_kernel_verify(k, &err) == AT_OK
                  : at_stdop_kernel(op, &k, &err) == AT_OK;
    CHECK(ok && at_compile(ex, k, &p, &err) == AT_OK);
    if (p)
        at_program_print(p, buf, cap);
    at_program_free(p);
    at_kernel_free(k);
}

/* Every line of the NULL-terminated want is in a printed program. */
static void expect_lines(const char *buf, const char *const *want)
{
    for (; *want; want++)
        CHECK(strstr(buf, *want) != NULL);
}

static void test_value_placement(at_executor *ex)
{
    char buf[2048];
    print_program(ex, NULL, AT_STD_SOFTMAX, buf, sizeof buf);
    CHECK(strstr(buf, " 0 scratch row(s)") != NULL);
    CHECK(strstr(buf, "exp.sub.sum fn5  mem1 <- mem0 slot0 -0\n") != NULL);
    CHECK(strstr(buf, "binary.s   fn2  mem1 <- mem1 slot3 -0  (final)\n")
          != NULL);

    /* log_softmax: x - max written into y and the sum of its exp in one
     * pass (exp never stored), then y - log(sum) in place */
    print_program(ex, NULL, AT_STD_LOG_SOFTMAX, buf, sizeof buf);
    CHECK(strstr(buf, " 0 register(s)") != NULL);
    CHECK(strstr(buf, "sub.exp.sum fn1  mem1 <- mem0 slot0 -0\n") != NULL);
    CHECK(strstr(buf, "unary") == NULL); /* no separate exp */

    /* Programs and lines their print must hold:
     * - layer_norm: x - mean is recomputed in the last phase instead of
     *   waiting in y (its phase evaluates no vector math), so the variance
     *   pass writes nothing and y is written once, by the last pass, which
     *   subtracts the mean first (pre) and may stream; x, which the first
     *   phase reads, is asked for a row ahead;
     * - cross_entropy: only the sum reads exp(x - max), so nothing is
     *   written and the program needs no block register;
     * - an exponential moving average, b1 * m + (1 - b1) * g, written in
     *   place: both products fold into the add as scales of its operands,
     *   and the in-place store never streams;
     * - an Adam step in place: one instruction (fuse_adam), no register,
     *   with the moment's products in either order, with c2 * (g * g), and
     *   with bias correction and decoupled weight decay;
     * - gelu's tanh form, the stdlib's ((x x) x) K order and Python's
     *   ((K x) x) x: one pass each (fn 12 and 13), no block register;
     * - a * b + c: one pass; sigmoid(a * b + c): one pass too, the
     *   sigmoid applied to the product plus c in registers; with the add
     *   written c + t, the product stays apart and the sigmoid takes the
     *   add. */
    static const struct {
        at_stdop op;
        const char *text; /* or NULL: op's kernel */
        const char *want[5]; /* NULL-terminated */
    } cases[] = {
        {AT_STD_LAYER_NORM_WB,
         NULL,
         {" 0 register(s)", "sub.sq.sum fn1  -0 <- mem0 slot3 -0\n",
          "scale.affine fn2  mem4 <- mem0 col0 col1  (final)  (scale slot10)  "
          "(pre slot3)\n",
          "  ahead mem0\n"}},
        {AT_STD_LAYER_NORM,
         NULL,
         {" 0 register(s)",
          "binary.s   fn2  mem2 <- mem0 slot10 -0  (final)  (pre slot3)\n",
          NULL}},
        {AT_STD_CROSS_ENTROPY,
         NULL,
         {" 0 register(s)", "exp.sub.sum fn5  -0 <- mem0 slot0 -0\n", NULL}},
        {AT_STD_COUNT,
         "kernel ema(m: f32, g: f32, b1: f32 scalar) {\n"
         "  %m = load m\n  %g = load g\n  %b = param b1\n"
         "  %one = const.f32 1\n  %c = sub %one, %b\n"
         "  %t = mul %b, %m\n  %u = mul %c, %g\n  %y = add %t, %u\n"
         "  store m, %y\n}\n",
         {" 0 register(s)",
          "binary     fn0  mem0 <- mem0 mem1 -0  (scale src0 slot0)  "
          "(scale src1 slot2)\n",
          NULL}},
        {AT_STD_COUNT,
         "kernel adam(p: f32, g: f32, m: f32, v: f32, lr: f32 scalar, "
         "b1: f32 scalar, b2: f32 scalar, eps: f32 scalar) {\n"
         "  %lr = param lr\n  %b1 = param b1\n  %b2 = param b2\n"
         "  %eps = param eps\n  %one = const.f32 1\n  %c1 = sub %one, %b1\n"
         "  %c2 = sub %one, %b2\n  %g = load g\n  %m = load m\n"
         "  %v = load v\n  %p = load p\n  %bm = mul %b1, %m\n"
         "  %cg1 = mul %c1, %g\n  %m2 = add %bm, %cg1\n  %cg = mul %c2, %g\n"
         "  %q = mul %cg, %g\n  %bv = mul %b2, %v\n  %v2 = add %bv, %q\n"
         "  %u = mul %lr, %m2\n  %r = sqrt %v2\n  %d = add %r, %eps\n"
         "  %w = div %u, %d\n  %p2 = sub %p, %w\n  store p, %p2\n"
         "  store m, %m2\n  store v, %v2\n}\n",
         {" 0 register(s)",
          "adam       fn0  mem0 <- -0 -0 -0  (m mem2 <- mem2 mem1; v mem3 <- "
          "mem3 mem1 mem1; p <- mem0; slots 1 5 2 6 0 3 -1 -1 -1)\n",
          NULL}},
        {AT_STD_COUNT,
         "kernel adam_swap(p: f32, g: f32, m: f32, v: f32, lr: f32 scalar, "
         "b1: f32 scalar, b2: f32 scalar, eps: f32 scalar) {\n"
         "  %lr = param lr\n  %b1 = param b1\n  %b2 = param b2\n"
         "  %eps = param eps\n  %one = const.f32 1\n  %c1 = sub %one, %b1\n"
         "  %c2 = sub %one, %b2\n  %g = load g\n  %m = load m\n"
         "  %v = load v\n  %p = load p\n  %bm = mul %b1, %m\n"
         "  %cg1 = mul %c1, %g\n  %m2 = add %cg1, %bm\n  %cg = mul %c2, %g\n"
         "  %q = mul %cg, %g\n  %bv = mul %b2, %v\n  %v2 = add %bv, %q\n"
         "  %u = mul %lr, %m2\n  %r = sqrt %v2\n  %d = add %r, %eps\n"
         "  %w = div %u, %d\n  %p2 = sub %p, %w\n  store p, %p2\n"
         "  store m, %m2\n  store v, %v2\n}\n",
         {" 0 register(s)",
          "adam       fn0  mem0 <- -0 -0 -0  (m mem2 <- mem1 mem2; v mem3 <- "
          "mem3 mem1 mem1; p <- mem0; slots 5 1 2 6 0 3 -1 -1 -1)\n",
          NULL}},
        {AT_STD_COUNT,
         "kernel adam_sq(p: f32, g: f32, m: f32, v: f32, lr: f32 scalar, "
         "b1: f32 scalar, b2: f32 scalar, eps: f32 scalar) {\n"
         "  %lr = param lr\n  %b1 = param b1\n  %b2 = param b2\n"
         "  %eps = param eps\n  %one = const.f32 1\n  %c1 = sub %one, %b1\n"
         "  %c2 = sub %one, %b2\n  %g = load g\n  %m = load m\n"
         "  %v = load v\n  %p = load p\n  %bm = mul %b1, %m\n"
         "  %cg1 = mul %c1, %g\n  %m2 = add %bm, %cg1\n  %gg = mul %g, %g\n"
         "  %q = mul %c2, %gg\n  %bv = mul %b2, %v\n  %v2 = add %bv, %q\n"
         "  %u = mul %lr, %m2\n  %r = sqrt %v2\n  %d = add %r, %eps\n"
         "  %w = div %u, %d\n  %p2 = sub %p, %w\n  store p, %p2\n"
         "  store m, %m2\n  store v, %v2\n}\n",
         {" 0 register(s)",
          "adam       fn0  mem0 <- -0 -0 -0  (m mem2 <- mem2 mem1; v mem3 <- "
          "mem3 mem1 mem1 sq; p <- mem0; slots 1 5 2 6 0 3 -1 -1 -1)\n",
          NULL}},
        {AT_STD_COUNT,
         "kernel adam_bc_wd(p: f32, g: f32, m: f32, v: f32, lr: f32 scalar, "
         "b1: f32 scalar, b2: f32 scalar, eps: f32 scalar, bc1: f32 scalar, "
         "bc2: f32 scalar, decay: f32 scalar) {\n"
         "  %lr = param lr\n  %b1 = param b1\n  %b2 = param b2\n"
         "  %eps = param eps\n  %bc1 = param bc1\n  %bc2 = param bc2\n"
         "  %decay = param decay\n  %one = const.f32 1\n"
         "  %c1 = sub %one, %b1\n  %c2 = sub %one, %b2\n  %p = load p\n"
         "  %g = load g\n  %m = load m\n  %v = load v\n  %bm = mul %b1, %m\n"
         "  %cg1 = mul %c1, %g\n  %m2 = add %bm, %cg1\n  %cg = mul %c2, %g\n"
         "  %q = mul %cg, %g\n  %bv = mul %b2, %v\n  %v2 = add %bv, %q\n"
         "  %mh = div %m2, %bc1\n  %vh = div %v2, %bc2\n  %u = mul %lr, %mh\n"
         "  %r = sqrt %vh\n  %d = add %r, %eps\n  %w = div %u, %d\n"
         "  %pd = mul %decay, %p\n  %p2 = sub %pd, %w\n  store p, %p2\n"
         "  store m, %m2\n  store v, %v2\n}\n",
         {" 0 register(s)",
          "adam       fn0  mem0 <- -0 -0 -0  (m mem2 <- mem2 mem1; v mem3 <- "
          "mem3 mem1 mem1; p <- mem0 bc; slots 1 8 2 9 0 3 4 5 6)\n",
          NULL}},
        {AT_STD_GELU_TANH,
         NULL,
         {" 0 register(s)", "unary      fn12 mem1 <- mem0 -0 -0  (final)\n",
          NULL}},
        {AT_STD_COUNT,
         "kernel gelu_k(x: f32, y: f32) {\n  %h = const.f32 0.5\n"
         "  %x = load x\n  %0 = mul %h, %x\n  %k = const.f32 0.044715\n"
         "  %1 = mul %k, %x\n  %2 = mul %1, %x\n  %3 = mul %2, %x\n"
         "  %4 = add %x, %3\n  %b = const.f32 0.7978845608\n"
         "  %5 = mul %b, %4\n  %6 = tanh %5\n  %one = const.f32 1\n"
         "  %7 = add %one, %6\n  %8 = mul %0, %7\n  store y, %8\n}\n",
         {" 0 register(s)", "unary      fn13 mem1 <- mem0 -0 -0  (final)\n",
          NULL}},
        {AT_STD_COUNT,
         "kernel fma(a: f32, b: f32, c: f32, y: f32) {\n  %a = load a\n"
         "  %b = load b\n  %c = load c\n  %t = mul %a, %b\n"
         "  %u = add %t, %c\n  store y, %u\n}\n",
         {" 0 register(s)", "binary.add fn2  mem3 <- mem0 mem1 mem2  (final)\n",
          NULL}},
        {AT_STD_COUNT,
         "kernel sf(a: f32, b: f32, c: f32, y: f32) {\n  %a = load a\n"
         "  %b = load b\n  %c = load c\n  %t = mul %a, %b\n"
         "  %u = add %t, %c\n  %y = sigmoid %u\n  store y, %y\n}\n",
         {" 0 register(s)",
          "unary.of   fn3  mem3 <- mem0 mem1 mem2  (final)  (of fn2)\n", NULL}},
        {AT_STD_COUNT,
         "kernel sf2(a: f32, b: f32, c: f32, y: f32) {\n  %a = load a\n"
         "  %b = load b\n  %c = load c\n  %t = mul %a, %b\n"
         "  %u = add %c, %t\n  %y = sigmoid %u\n  store y, %y\n}\n",
         {"binary     fn2  r0 <- mem0 mem1 -0\n",
          "unary.of   fn3  mem3 <- mem2 r0 -0  (final)  (of fn0)\n", NULL}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        print_program(ex, cases[c].text, cases[c].op, buf, sizeof buf);
        expect_lines(buf, cases[c].want);
    }

    /* The buffers asked for a row ahead: what the first phase reads, each
     * once (x twice, z once, w read at the column index is not a row);
     * none in a one-phase row program (the bias add) */
    print_program(ex,
                  "kernel two(x: f32, z: f32, w: f32, y: f32) {\n"
                  "  %x = load x\n  %z = load z\n  %w = load.col w\n"
                  "  %a = mul %x, %w\n  %b = mul %x, %z\n"
                  "  %s = reduce.sum.row %a\n  %t = reduce.max.row %b\n"
                  "  %u = add %s, %t\n  %y = sub %x, %u\n  store y, %y\n}\n",
                  0, buf, sizeof buf);
    CHECK(strstr(buf, "  ahead mem0\n  ahead mem1\n") != NULL);
    CHECK(strstr(buf, "ahead mem2") == NULL);
    print_program(ex,
                  "kernel bias(x: f32, b: f32, y: f32) {\n  %x = load x\n"
                  "  %b = load.col b\n  %y = add %x, %b\n  store y, %y\n}\n",
                  0, buf, sizeof buf);
    CHECK(strstr(buf, "mode row") != NULL && strstr(buf, "ahead") == NULL);

    /* mse_loss: the difference, its square and their sum in one pass that
     * writes nothing, so the program needs no block register */
    print_program(ex, NULL, AT_STD_MSE_LOSS, buf, sizeof buf);
    CHECK(strstr(buf, " 0 register(s)") != NULL);
    CHECK(strstr(buf, "diff.sq.sum fn1  -0 <- mem0 mem1 -0\n") != NULL);

    print_program(
        ex,
        "kernel late(x: f32, y: f32, z: f32) {\n  %0 = load x\n  %1 = exp %0\n"
        "  %2 = reduce.sum.row %1\n  %3 = div %1, %2\n  store y, %3\n"
        "  %4 = add %1, %3\n  store z, %4\n}\n",
        0, buf, sizeof buf);
    CHECK(strstr(buf, " 1 scratch row(s)") != NULL);
    CHECK(strstr(buf, "unary      fn5  scratch0 <- mem0 -0 -0\n") != NULL);
    CHECK(strstr(buf, "binary.s   fn3  mem1 <- scratch0 slot0 -0\n")
          != NULL); /* read back: not final */

    print_program(ex,
                  "kernel reread(x: f32, y: f32, z: f32) {\n  %0 = load x\n  "
                  "%1 = exp %0\n"
                  "  store y, %1\n  %2 = add %1, %1\n  store z, %2\n}\n",
                  0, buf, sizeof buf);
    CHECK(strstr(buf, "unary      fn5  mem1 <- mem0 -0 -0\n") != NULL);
    CHECK(strstr(buf, "binary     fn0  mem2 <- mem1 mem1 -0  (final)\n")
          != NULL);
}

/* RMS norm as @hg.jit traces it: the square and its sum in one pass that
 * writes nothing (sq.sum), the division by the row's scale and the weight
 * in one (div.mul), so the program needs no block register.  With the
 * scale multiplied, the product folds into the weight's mul as a scale of
 * its operand (fuse_scaled_operands): no register either.  A square read
 * again stays apart from its sum. */
static void test_rms_placement(at_executor *ex)
{
    char buf[2048];
    const char *rms =
        "kernel rms(x: f32, w: f32, y: f32) {\n  %0 = load x\n"
        "  %1 = mul %0, %0\n  %2 = reduce.sum.row %1\n"
        "  %3 = const.f32 1024\n  %4 = div %2, %3\n  %5 = const.f32 1e-05\n"
        "  %6 = add %4, %5\n  %7 = sqrt %6\n  %8 = div %0, %7\n"
        "  %9 = load.col w\n  %10 = mul %8, %9\n  store y, %10\n}\n";
    static const char *const div_form[] = {
        " 0 register(s)", "sq.sum     fn2  -0 <- mem0 -0 -0\n",
        "div.mul    fn3  mem2 <- mem0 col0 -0  (final)  (scale slot5)\n", NULL};
    print_program(ex, rms, 0, buf, sizeof buf);
    expect_lines(buf, div_form);
    CHECK(strstr(buf, "binary") == NULL && strstr(buf, "reduce") == NULL);

    static const char *const mul_form[] = {
        " 0 register(s)", "sq.sum     fn2  -0 <- mem0 -0 -0\n",
        "binary     fn2  mem2 <- mem0 col0 -0  (final)  (scale src0 slot5)\n",
        NULL};
    char text[1024];
    snprintf(text, sizeof text, "%s", rms);
    memcpy(strstr(text, "%8 = div"), "%8 = mul", 8);
    print_program(ex, text, 0, buf, sizeof buf);
    expect_lines(buf, mul_form);
    CHECK(strstr(buf, "div.mul") == NULL);

    print_program(ex,
                  "kernel sq2(x: f32, s: f32, z: f32) {\n  %0 = load x\n"
                  "  %1 = mul %0, %0\n  %2 = reduce.sum.all %1\n"
                  "  store s, %2\n  %3 = add %1, %1\n  store z, %3\n}\n",
                  0, buf, sizeof buf);
    CHECK(strstr(buf, "sq.sum") == NULL);
    CHECK(strstr(buf, "reduce.all fn0  -0 <- r0 -0 -0\n") != NULL);
}

/* Element values of other types than f32: i64 and bool values made before a
 * row reduction and read after it wait in scratch rows (8-byte ones in
 * SCRATCH8 rows, a bool as its int32 mask), a bool buffer is converted from
 * bytes to masks and back, and a conversion that widens never writes over
 * its own source register. */
static void test_typed_placement(at_executor *ex)
{
    char buf[2048];
    print_program(ex,
                  "kernel phases(x: f32, m: bool, y: i64, z: bool) {\n"
                  "  %0 = load x\n  %1 = load m\n  %2 = cast.i64 %0\n"
                  "  %3 = cast.i64 %1\n  %4 = reduce.max.row %0\n"
                  "  %5 = ge %0, %4\n  %6 = select %5, %2, %3\n"
                  "  store y, %6\n  %7 = ne %5, %1\n  store z, %7\n}\n",
                  0, buf, sizeof buf);
    CHECK(strstr(buf, " 6 scratch row(s)") != NULL);
    CHECK(strstr(buf, "  ahead mem0\n") && strstr(buf, "  ahead bmem1\n"));
    CHECK(strstr(buf, "convert    fn67 scratch0 <- bmem1 -0 -0\n") != NULL);
    CHECK(strstr(buf, "convert    fn2  qscratch2 <- mem0 -0 -0\n") != NULL);
    CHECK(strstr(buf, "convert    fn50 qscratch4 <- scratch0 -0 -0\n") != NULL);
    CHECK(strstr(buf, "select64   fn0  qmem2 <- r0 qscratch2 qscratch4\n")
          != NULL);
    CHECK(strstr(buf, "icompare   fn5  r0 <- r0 scratch0 -0\n") != NULL);
    CHECK(strstr(buf, "convert    fn52 bmem3 <- r0 -0 -0\n") != NULL);

    print_program(ex,
                  "kernel widen(x: i32, y: i64) {\n  %0 = load x\n"
                  "  %1 = add %0, %0\n  %2 = cast.i64 %1\n"
                  "  %3 = add %2, %2\n  store y, %3\n}\n",
                  0, buf, sizeof buf);
    CHECK(strstr(buf, "register(s) of 1024 floats, blocks of 512") != NULL);
    CHECK(strstr(buf, "convert    fn18 r1 <- r0 -0 -0\n") != NULL);
}

/* Every op has a descriptor whose kernel carries the op's name and takes its
 * inputs, then its output, and at most two scalars. */
static void test_descriptors(void)
{
    for (int i = 0; i < AT_STD_COUNT; i++) {
        at_stdop op = (at_stdop)i;
        at_kernel *k = NULL;
        at_error err;
        CHECK(at_stdop_kernel(op, &k, &err) == AT_OK);
        if (!k)
            continue;
        CHECK(strcmp(at_kernel_name(k), at_stdop_name(op)) == 0);
        int buffers = 0, scalars = 0;
        for (int j = 0; j < at_kernel_nparams(k); j++) {
            if (at_kernel_param(k, j)->is_scalar)
                scalars++;
            else
                buffers++;
        }
        CHECK(buffers == at_stdop_arity(op) + 1 && scalars <= 2);
        at_kernel_free(k);
    }
    CHECK(strcmp(at_stdop_name(AT_STD_COUNT), "?") == 0);
    CHECK(at_stdop_arity(AT_STD_GEMM) == 2 && at_stdop_arity(AT_STD_EXP) == 1);
}

/* An op's cost is the elements its program runs over (a gemm's
 * multiply-adds) times the program's cost per element, the model the
 * executor's thread decision uses. */
static void test_cost(at_executor *ex)
{
    enum {
        N = 1000
    };
    static float a[N], b[N];
    at_tensor in[2] = {vec(a, N), vec(b, N)};
    at_stdop_params prm;
    memset(&prm, 0, sizeof prm);
    CHECK(at_stdop_cost(ex, AT_STD_VECTOR_ADD, in, 2, &prm) == N);
    CHECK(at_stdop_cost(ex, AT_STD_EXP, in, 1, &prm) == 4 * N);
    CHECK(at_stdop_cost(ex, AT_STD_TANH, in, 1, &prm) == 5 * N);
    CHECK(at_stdop_cost(ex, AT_STD_POW_SCALAR, in, 1, &prm) == 8 * N);
    CHECK(at_stdop_cost(ex, AT_STD_SUM, in, 1, &prm) == N);
    /* sub, mul and the sum's accumulation per element, fused in one pass */
    CHECK(at_stdop_cost(ex, AT_STD_MSE_LOSS, in, 2, &prm) == N);
    prm.m = 10;
    prm.n = 20;
    prm.k = 30;
    CHECK(at_stdop_cost(ex, AT_STD_GEMM, in, 2, &prm) == 6000);
    /* wrong arity or an unknown op: no estimate (the op then fails) */
    CHECK(at_stdop_cost(ex, AT_STD_EXP, in, 2, &prm) == 0);
    CHECK(at_stdop_cost(ex, AT_STD_COUNT, in, 1, &prm) == 0);
    in[0].numel = SIZE_MAX / 2; /* saturates instead of wrapping */
    CHECK(at_stdop_cost(ex, AT_STD_EXP, in, 1, &prm) == SIZE_MAX);
}

/* A client's kernel set: the core builds each kernel once per executor and
 * caches its program. */
static int builds[2];

static at_status build_test_kernel(int index, at_kernel **out, at_error *err)
{
    static const char *const text[2] = {
        "kernel twice(x: f32, y: f32) {\n  %x = load x\n  %y = add %x, %x\n"
        "  store y, %y\n}\n",
        "kernel broken(x: f32) {\n  %x = load x\n}\n", /* stores nothing */
    };
    builds[index]++;
    return at_kernel_parse(text[index], out, err);
}

static void test_program_cache(at_executor *ex)
{
    static at_kernel_set set = {
        .name = "test", .count = 2, .build = build_test_kernel};
    static at_kernel_set huge = {
        .name = "huge", .count = AT_PROGRAM_CACHE_SIZE, .build = NULL};
    const at_program *p = NULL, *q = NULL;
    at_error err;
    memset(builds, 0, sizeof builds);
    CHECK(at_executor_program(ex, &set, 0, &p, &err) == AT_OK && p);
    CHECK(at_executor_program(ex, &set, 0, &q, &err) == AT_OK && q == p);
    CHECK(builds[0] == 1);
    CHECK(strcmp(at_kernel_name(at_program_kernel(p)), "twice") == 0);
    CHECK(at_program_cost(p) == 1);

    float x[5] = {1, 2, 3, 4, 5}, y[5] = {0};
    at_arg args[2];
    float_args(args, x, y, 5);
    CHECK(at_launch_validated(ex, p, 1, 5, args, 2, NULL, &err) == AT_OK);
    CHECK(y[0] == 2 && y[4] == 10);

    /* a kernel that fails to build is reported, and built again when asked
     * again (nothing is cached) */
    CHECK(at_executor_program(ex, &set, 1, &q, &err) == AT_E_VERIFY && !q);
    CHECK(at_executor_program(ex, &set, 1, &q, &err) == AT_E_VERIFY);
    CHECK(builds[1] == 2);

    CHECK(at_executor_program(ex, &set, 2, &q, &err) == AT_E_VALUE);
    CHECK(strcmp(err.msg, "test: unknown kernel 2") == 0);
    CHECK(at_executor_program(ex, &set, -1, &q, &err) == AT_E_VALUE);

    /* the sets share the cache's entries, and one that does not fit is
     * refused without taking any */
    CHECK(at_executor_program(ex, &huge, 0, &q, &err) == AT_E_VALUE);
    CHECK(strstr(err.msg, "kernels do not fit the program cache") != NULL);
    CHECK(atomic_load(&huge.first) == 0);

    /* another executor compiles its own program */
    at_executor *other;
    CHECK(at_executor_create(1, at_executor_isa(ex), &other, &err) == AT_OK);
    CHECK(at_executor_program(other, &set, 0, &q, &err) == AT_OK && q != p);
    CHECK(builds[0] == 2);
    at_executor_destroy(other);
}

/* Reductions over one axis through the C API: an axis with a later axis
 * above 1 runs the *_COLS kernel once per leading index (exact on small
 * integers, argmax the first of tied maxima), an axis with only 1s after it
 * a row reduction, keepdims keeps the axis as 1, an axis out of range is
 * AT_E_INDEX naming the op (as hg.ops names it), the axis and the shape;
 * the column kernels compile to the axis intrinsic. */
static void test_axis_reductions(at_executor *ex)
{
    enum {
        A = 3,
        R = 37,
        C = 21
    };
    static float x[A * R * C];
    for (int i = 0; i < A * R * C; i++)
        x[i] = (float)((i * 7) % 11) - 5.0f;
    at_tensor in = vec(x, A * R * C);
    in.ndim = 3;
    in.shape[0] = A;
    in.shape[1] = R;
    in.shape[2] = C;
    at_stdop_params prm;
    memset(&prm, 0, sizeof prm);
    prm.axis = -2;
    at_error err;
    at_tensor out;
    CHECK(at_stdop_run_new(ex, AT_STD_SUM_ROWS, &in, 1, &prm, &out, &err)
          == AT_OK);
    CHECK(out.ndim == 2 && out.shape[0] == A && out.shape[1] == C);
    int exact = 1;
    for (int a = 0; a < A; a++)
        for (int c = 0; c < C; c++) {
            float s = 0;
            for (int r = 0; r < R; r++)
                s += x[(a * R + r) * C + c];
            exact &= ((float *)out.data)[a * C + c] == s;
        }
    CHECK(exact);
    at_pool_free(at_executor_pool(ex), out.data);

    prm.keepdims = 1;
    CHECK(at_stdop_run_new(ex, AT_STD_ARGMAX_ROWS, &in, 1, &prm, &out, &err)
          == AT_OK);
    CHECK(out.dtype == AT_I64 && out.ndim == 3 && out.shape[1] == 1);
    exact = 1;
    for (int a = 0; a < A; a++)
        for (int c = 0; c < C; c++) {
            int best = 0;
            for (int r = 1; r < R; r++)
                if (x[(a * R + r) * C + c] > x[(a * R + best) * C + c])
                    best = r;
            exact &= ((int64_t *)out.data)[a * C + c] == best;
        }
    CHECK(exact);
    at_pool_free(at_executor_pool(ex), out.data);

    in.shape[2] = 1; /* (A, R*C, 1): a row reduction of (A, R*C) */
    in.shape[1] = R * C;
    prm.axis = 1;
    prm.keepdims = 0;
    CHECK(at_stdop_run_new(ex, AT_STD_MAX_ROWS, &in, 1, &prm, &out, &err)
          == AT_OK);
    CHECK(out.ndim == 2 && out.shape[0] == A && out.shape[1] == 1);
    CHECK(((float *)out.data)[0] == 5.0f);
    at_pool_free(at_executor_pool(ex), out.data);

    prm.axis = 3;
    CHECK(at_stdop_run_new(ex, AT_STD_MEAN_ROWS, &in, 1, &prm, &out, &err)
          == AT_E_INDEX);
    CHECK(strncmp(err.msg,
                  "mean: axis 3 is out of range for shape (3, "
                  "777, 1)",
                  50)
          == 0);

    at_kernel *k;
    at_program *p;
    char text[512];
    CHECK(at_stdop_kernel(AT_STD_MEAN_COLS, &k, &err) == AT_OK);
    CHECK(at_compile(ex, k, &p, &err) == AT_OK);
    at_program_print(p, text, sizeof text);
    CHECK(strstr(text, "mode axis") != NULL);
    at_program_free(p);
    at_kernel_free(k);
}

int main(void)
{
    int levels = 0;
    for (int isa = 0; isa < AT_ISA_COUNT; isa++) {
        if (!at_cpu_compiled((at_isa)isa) || !at_cpu_supports((at_isa)isa)) {
            printf("%s: not %s here, skipped\n", at_isa_name((at_isa)isa),
                   at_cpu_compiled((at_isa)isa) ? "supported by the CPU"
                                                : "compiled");
            continue;
        }
        at_executor *ex;
        at_error err;
        if (at_executor_create(1, isa, &ex, &err) != AT_OK) {
            fprintf(stderr, "executor (%s): %s\n", at_isa_name((at_isa)isa),
                    err.msg);
            return 1;
        }
        CHECK(at_executor_isa(ex) == (at_isa)isa);
        int before = n_fail;
        test_run_new(ex);
        test_inconsistent_descriptions(ex);
        test_streaming_outputs(ex);
        test_auto_stores(ex);
        test_value_placement(ex);
        test_rms_placement(ex);
        test_typed_placement(ex);
        test_cost(ex);
        test_program_cache(ex);
        test_axis_reductions(ex);
        at_executor_destroy(ex);
        printf("%s: %s\n", at_isa_name((at_isa)isa),
               n_fail == before ? "ok" : "FAILED");
        levels++;
    }
    CHECK(levels > 0);
    test_descriptors();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}
