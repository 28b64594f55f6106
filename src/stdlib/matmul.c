/* Hologram Atlas — the standard library's matmul: a @ b by NumPy's rules.
 *
 * Every case is the gemm descriptor (AT_STD_GEMM) run on matrices that are
 * slices of the operands, never copies of them:
 *   - a 1-D operand is a (1, k) or a (k, 1) matrix whose added axis leaves
 *     the result (matrix-vector products and the 0-d dot product);
 *   - the axes before the last two are batch axes, broadcast by NumPy's rules
 *     (an axis of 1, or a missing one, repeats), one gemm launch per matrix
 *     of the result, each reading its operands at an offset;
 *   - when b has no batch of its own, a's batch folds into the rows of one
 *     gemm: a (batch, m, k) is the C-contiguous (batch * m, k) matrix.
 * Its cost is the gemm's multiply-adds over the whole batch, in the units of
 * at_stdop_cost. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "atlas/pool.h"
#include "atlas/stdlib.h"
#include "tensor.h"

/* The launches of one matmul. */
typedef struct plan {
    int64_t m, n, k;
    size_t batch;   /* gemm launches */
    int nbatch;     /* batch axes of the result */
    int64_t shape[AT_MAX_DIMS];     /* the result's batch axes */
    size_t a_step[AT_MAX_DIMS];     /* a's matrices per step of each axis */
    size_t b_step[AT_MAX_DIMS];     /* (0 where the operand repeats) */
} plan;

static const char *shape_of(char *buf, size_t cap, const at_tensor *t)
{
    at_format_shape(buf, cap, t->ndim, t->shape);
    return buf;
}

/* The message of a faulty pair of operands: what is wrong (printf-style),
 * then both shapes. */
static __attribute__((cold, format(printf, 5, 6))) at_status
pair_error(const at_tensor *a, const at_tensor *b, at_status st, at_error *err,
           const char *fmt, ...)
{
    char what[160], s0[96], s1[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return at_error_set(err, st, "matmul: %s; shapes %s and %s", what,
                        shape_of(s0, sizeof s0, a), shape_of(s1, sizeof s1, b));
}

/* The matrices of t's batch (its axes before the last two) per step of each
 * batch axis of the result, right-aligned; 0 along an axis t repeats. */
static void batch_steps(const at_tensor *t, const plan *p, size_t *step)
{
    int nb = t->ndim > 2 ? t->ndim - 2 : 0;
    size_t stride = 1;
    for (int i = p->nbatch - 1; i >= 0; i--) {
        int j = i - (p->nbatch - nb); /* t's axis, or < 0: missing */
        int64_t dim = j >= 0 ? t->shape[j] : 1;
        step[i] = dim == 1 ? 0 : stride;
        stride *= (size_t)dim;
    }
}

/* Checks a and b (shapes, dtypes, numel = prod(shape)), then describes the
 * result in out (data NULL) and the launches in p. */
static at_status make_plan(const at_tensor *a, const at_tensor *b, plan *p,
                           at_tensor *out, at_error *err)
{
    if (!std_tensor_valid(a) || !std_tensor_valid(b))
        return at_error_set(err, AT_E_VALUE,
                            "matmul: an operand's rank, shape and element "
                            "count disagree");
    if (a->ndim == 0 || b->ndim == 0)
        return pair_error(a, b, AT_E_VALUE, err,
                          "both arguments need at least one dimension");
    if (a->dtype != AT_F32 || b->dtype != AT_F32)
        return at_error_set(err, AT_E_TYPE,
                            "matmul: a and b must be float32, got %s and %s",
                            at_dtype_name(a->dtype), at_dtype_name(b->dtype));
    /* a 1-D a is a row (1, k), a 1-D b a column (k, 1) */
    int64_t ka = a->shape[a->ndim - 1];
    int64_t kb = b->ndim > 1 ? b->shape[b->ndim - 2] : b->shape[0];
    if (ka != kb)
        return pair_error(
            a, b, AT_E_VALUE, err,
            "a's last axis (%lld) differs from b's %s (%lld)", (long long)ka,
            b->ndim > 1 ? "second-to-last axis" : "only axis", (long long)kb);
    p->m = a->ndim > 1 ? a->shape[a->ndim - 2] : 1;
    p->n = b->ndim > 1 ? b->shape[b->ndim - 1] : 1;
    p->k = ka;
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nb = b->ndim > 2 ? b->ndim - 2 : 0;
    p->nbatch = na > nb ? na : nb;
    p->batch = 1;
    for (int i = 0; i < p->nbatch; i++) {
        int ia = i - (p->nbatch - na), ib = i - (p->nbatch - nb);
        int64_t da = ia >= 0 ? a->shape[ia] : 1;
        int64_t db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return pair_error(a, b, AT_E_VALUE, err,
                              "batch axes of %lld and %lld do not broadcast",
                              (long long)da, (long long)db);
        p->shape[i] = da == 1 ? db : da;
        p->batch *= (size_t)p->shape[i]; /* bounded by an operand's numel */
    }
    batch_steps(a, p, p->a_step);
    batch_steps(b, p, p->b_step);
    /* the result: the batch axes, then m unless a is 1-D, n unless b is */
    out->data = NULL;
    out->dtype = AT_F32;
    out->ndim = p->nbatch;
    memcpy(out->shape, p->shape, (size_t)p->nbatch * sizeof *p->shape);
    if (a->ndim > 1)
        out->shape[out->ndim++] = p->m;
    if (b->ndim > 1)
        out->shape[out->ndim++] = p->n;
    size_t mn, numel;
    if (at_mul_overflow((size_t)p->m, (size_t)p->n, &mn)
        || at_mul_overflow(p->batch, mn, &numel) || numel > (SIZE_MAX >> 3))
        return pair_error(a, b, AT_E_OVERFLOW, err, "the result is too large");
    out->numel = numel;
    /* b without a batch of its own: a's batch is more rows of one gemm */
    int b_repeats = 1;
    for (int i = 0; i < p->nbatch; i++)
        b_repeats &= p->b_step[i] == 0;
    if (b_repeats && p->batch > 1) {
        p->m *= (int64_t)p->batch;
        p->batch = 1;
        p->nbatch = 0;
    }
    return AT_OK;
}

at_status at_matmul_prepare(const at_tensor *a, const at_tensor *b,
                            at_tensor *out, at_error *err)
{
    plan p;
    return make_plan(a, b, &p, out, err);
}

/* Matrix i of a batch, seen as a (rows, cols) tensor of t's data. */
static at_tensor matrix(const at_tensor *t, size_t i, int64_t rows,
                        int64_t cols)
{
    at_tensor s;
    size_t size = (size_t)rows * (size_t)cols;
    s.data = size ? (float *)t->data + i * size : t->data;
    s.dtype = AT_F32;
    s.ndim = 2;
    s.shape[0] = rows;
    s.shape[1] = cols;
    s.numel = size;
    return s;
}

/* The gemms of a planned matmul into out: one batched launch over the
 * result's batch axes. */
static at_status run_plan(at_executor *ex, const plan *p, const at_tensor *a,
                          const at_tensor *b, const at_tensor *out,
                          at_error *err)
{
    const size_t sa = (size_t)p->m * (size_t)p->k,
                 sb = (size_t)p->k * (size_t)p->n;
    at_gemm_batch bt;
    bt.naxes = p->nbatch;
    for (int d = 0; d < p->nbatch; d++) {
        bt.shape[d] = p->shape[d];
        bt.a_step[d] = p->a_step[d] * sa;
        bt.b_step[d] = p->b_step[d] * sb;
    }
    return at_gemm_batched(ex, &bt, (size_t)p->m, (size_t)p->n, (size_t)p->k, 0,
                           a->data, b->data, out->data, err);
}

at_status at_matmul_run_new(at_executor *ex, const at_tensor *a,
                            const at_tensor *b, at_tensor *out, at_error *err)
{
    plan p;
    out->data = NULL;
    at_status st = make_plan(a, b, &p, out, err);
    if (st)
        return st;
    if ((a->numel && !a->data) || (b->numel && !b->data))
        return at_error_set(err, AT_E_VALUE, "matmul: an input has no data");
    at_pool *pool = at_executor_pool(ex);
    out->data = at_pool_alloc(pool, out->numel * sizeof(float));
    if (!out->data)
        return at_error_set(err, AT_E_NOMEM,
                            "matmul: out of memory allocating %zu bytes",
                            out->numel * sizeof(float));
    if (out->numel && (st = run_plan(ex, &p, a, b, out, err))) {
        at_pool_free(pool, out->data);
        out->data = NULL;
    }
    return st;
}

size_t at_matmul_cost(at_executor *ex, const at_tensor *a, const at_tensor *b)
{
    plan p;
    at_tensor out;
    if (make_plan(a, b, &p, &out, NULL))
        return 0;
    at_stdop_params prm;
    memset(&prm, 0, sizeof prm);
    prm.m = p.m;
    prm.n = p.n;
    prm.k = p.k;
    at_tensor in[2] = {matrix(a, 0, p.m, p.k), matrix(b, 0, p.k, p.n)};
    size_t one = at_stdop_cost(ex, AT_STD_GEMM, in, 2, &prm), cost;
    return at_mul_overflow(one, p.batch, &cost) ? SIZE_MAX : cost;
}
