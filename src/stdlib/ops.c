/* Hologram Atlas — the standard library: each op of hg.ops as an IR kernel.
 *
 * The kernels are written in the IR's text form below (the same form
 * at_kernel_print produces and hg.Kernel parses), so what runs is exactly
 * what a reader sees.  prepare validates operands and computes the output;
 * run launches the executor's cached program for the op. */
#include <stdio.h>
#include <string.h>
#include "../core/runtime_internal.h"

/* ---- the kernels --------------------------------------------------------- */

#define UNARY(op)                                                  \
    "kernel " #op "(x: f32, y: f32) {\n  %v = load x\n  %r = " #op \
    " %v\n  store y, %r\n}\n"
#define BINARY(name, op)                                                   \
    "kernel " name                                                         \
    "(a: f32, b: f32, y: f32) {\n  %a = load a\n  %b = load b\n  %r = " op \
    " %a, %b\n  store y, %r\n}\n"
#define REDUCE_ALL(name, op)                                                \
    "kernel " name "(x: f32, out: f32) {\n  %x = load x\n  %r = reduce." op \
    ".all %x\n  store out, %r\n}\n"
#define REDUCE_ROWS(name, op)                                               \
    "kernel " name "(x: f32, out: f32) {\n  %x = load x\n  %r = reduce." op \
    ".row %x\n  store out, %r\n}\n"

static const char *const kernel_text[AT_STD_COUNT] = {
    [AT_STD_VECTOR_ADD] = BINARY("vector_add", "add"),
    [AT_STD_VECTOR_SUB] = BINARY("vector_sub", "sub"),
    [AT_STD_VECTOR_MUL] = BINARY("vector_mul", "mul"),
    [AT_STD_VECTOR_DIV] = BINARY("vector_div", "div"),
    [AT_STD_POW] = BINARY("pow", "pow"),
    [AT_STD_NEG] = UNARY(neg),
    [AT_STD_ABS] = UNARY(abs),
    [AT_STD_RELU] = UNARY(relu),
    [AT_STD_SIGMOID] = UNARY(sigmoid),
    [AT_STD_TANH] = UNARY(tanh),
    [AT_STD_EXP] = UNARY(exp),
    [AT_STD_LOG] = UNARY(log),
    [AT_STD_SQRT] = UNARY(sqrt),
    [AT_STD_POW_SCALAR] =
        "kernel pow_scalar(x: f32, s: f32 scalar, y: f32) {\n"
        "  %x = load x\n  %s = param s\n  %r = pow %x, %s\n  store y, %r\n}\n",
    [AT_STD_SOFTMAX] = "kernel softmax(x: f32, y: f32) {\n"
                       "  %x = load x\n"
                       "  %m = reduce.max.row %x\n"
                       "  %d = sub %x, %m\n"
                       "  %e = exp %d\n"
                       "  %s = reduce.sum.row %e\n"
                       "  %one = const.f32 1\n"
                       "  %inv = div %one, %s\n"
                       "  %y = mul %e, %inv\n"
                       "  store y, %y\n"
                       "}\n",
    [AT_STD_SUM] = REDUCE_ALL("sum", "sum"),
    [AT_STD_MAX] = REDUCE_ALL("max", "max"),
    [AT_STD_MIN] = REDUCE_ALL("min", "min"),
    [AT_STD_MEAN] =
        "kernel mean(x: f32, out: f32) {\n"
        "  %x = load x\n  %s = reduce.sum.all %x\n"
        "  %r = nrows\n  %c = ncols\n  %n = mul %r, %c\n  %nf = cast.f32 %n\n"
        "  %m = div %s, %nf\n  store out, %m\n}\n",
    [AT_STD_SUM_ROWS] = REDUCE_ROWS("sum_rows", "sum"),
    [AT_STD_MAX_ROWS] = REDUCE_ROWS("max_rows", "max"),
    [AT_STD_MIN_ROWS] = REDUCE_ROWS("min_rows", "min"),
    [AT_STD_MEAN_ROWS] = "kernel mean_rows(x: f32, out: f32) {\n"
                         "  %x = load x\n  %s = reduce.sum.row %x\n"
                         "  %c = ncols\n  %cf = cast.f32 %c\n  %m = div %s, "
                         "%cf\n  store out, %m\n}\n",
    [AT_STD_GEMM] = "kernel gemm(a: f32, b: f32, c: f32, k: i64 scalar) {\n  "
                    "gemm a, b, c, k\n}\n",
    [AT_STD_MSE_LOSS] =
        "kernel mse_loss(p: f32, t: f32, out: f32) {\n"
        "  %p = load p\n  %t = load t\n  %d = sub %p, %t\n  %sq = mul %d, %d\n"
        "  %s = reduce.sum.all %sq\n"
        "  %r = nrows\n  %c = ncols\n  %n = mul %r, %c\n  %nf = cast.f32 %n\n"
        "  %m = div %s, %nf\n  store out, %m\n}\n",
    [AT_STD_CROSS_ENTROPY] =
        "kernel cross_entropy(x: f32, t: i64, ignore: i64 scalar, out: f32) {\n"
        "  # log-sum-exp of the row: max first, then sum of exp(x - max)\n"
        "  %x = load x\n"
        "  %m = reduce.max.row %x\n"
        "  %d = sub %x, %m\n"
        "  %e = exp %d\n"
        "  %s = reduce.sum.row %e\n"
        "  %ls = log %s\n"
        "  %lse = add %ls, %m\n"
        "  # the target's logit, unless the row is ignored\n"
        "  %t = load.row t\n"
        "  %ig = param ignore\n"
        "  %valid = ne %t, %ig\n"
        "  %zero = const.i64 0\n"
        "  %tc = select %valid, %t, %zero\n"
        "  %C = ncols\n"
        "  check.range %tc, %zero, %C\n"
        "  %row = row.index\n"
        "  %base = mul %row, %C\n"
        "  %idx = add %base, %tc\n"
        "  %xt = gather x, %idx\n"
        "  %l = sub %lse, %xt\n"
        "  %fz = const.f32 0\n"
        "  %one = const.f32 1\n"
        "  %lz = select %valid, %l, %fz\n"
        "  %w = select %valid, %one, %fz\n"
        "  # mean over the rows that count\n"
        "  %total = reduce.sum.all %lz\n"
        "  %count = reduce.sum.all %w\n"
        "  %loss = div %total, %count\n"
        "  store out, %loss\n"
        "}\n",
};

static const char *const op_names[AT_STD_COUNT] = {
#define AT_STD_NAME(N, s) s,
    AT_STDOPS(AT_STD_NAME)
#undef AT_STD_NAME
};

const char *at_stdop_name(at_stdop op)
{
    return (unsigned)op < AT_STD_COUNT ? op_names[op] : "?";
}

static int is_binary_op(at_stdop op)
{
    return op <= AT_STD_VECTOR_DIV || op == AT_STD_POW || op == AT_STD_MSE_LOSS
           || op == AT_STD_GEMM || op == AT_STD_CROSS_ENTROPY;
}

int at_stdop_arity(at_stdop op) { return is_binary_op(op) ? 2 : 1; }

at_status at_stdop_kernel(at_stdop op, at_kernel **out, at_error *err)
{
    *out = NULL;
    if ((unsigned)op >= AT_STD_COUNT)
        return at_error_set(err, AT_E_VALUE, "unknown op %d", (int)op);
    return at_kernel_parse(kernel_text[op], out, err);
}

/* ---- validation ---------------------------------------------------------- */

static const char *shape_str(char *buf, size_t cap, const at_tensor *t)
{
    at_format_shape(buf, cap, t->ndim, t->shape);
    return buf;
}

static at_status need_f32(at_stdop op, const at_tensor *t, const char *what,
                          at_error *err)
{
    char s[96];
    if (t->dtype == AT_F32)
        return AT_OK;
    return at_error_set(err, AT_E_TYPE,
                        "%s: %s must be float32, got %s with shape %s",
                        at_stdop_name(op), what, at_dtype_name(t->dtype),
                        shape_str(s, sizeof s, t));
}

static int same_shape(const at_tensor *a, const at_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

/* Only the fields a tensor description uses are written: this runs on every
 * op call, and clearing the whole struct costs more than the op on small
 * inputs. */
static void set_shape(at_tensor *out, at_dtype dt, int ndim,
                      const int64_t *shape)
{
    out->data = NULL;
    out->dtype = dt;
    out->ndim = ndim;
    out->numel = 1;
    for (int i = 0; i < ndim; i++) {
        out->shape[i] = shape[i];
        out->numel *= (size_t)shape[i];
    }
}

/* rows x cols view over the last axis (1 x 1 for a 0-d tensor). */
static void last_axis(const at_tensor *t, size_t *rows, size_t *cols)
{
    *rows = 1;
    *cols = t->ndim ? (size_t)t->shape[t->ndim - 1] : 1;
    for (int i = 0; i + 1 < t->ndim; i++)
        *rows *= (size_t)t->shape[i];
}

at_status at_stdop_prepare(at_stdop op, const at_tensor *in, size_t nin,
                           const at_stdop_params *prm, at_tensor *out,
                           at_error *err)
{
    const char *name = at_stdop_name(op);
    char s0[96], s1[96];
    at_status st;
    if ((unsigned)op >= AT_STD_COUNT)
        return at_error_set(err, AT_E_VALUE, "unknown op %d", (int)op);
    if (nin != (size_t)at_stdop_arity(op))
        return at_error_set(err, AT_E_VALUE, "%s takes %d buffer(s), got %zu",
                            name, at_stdop_arity(op), nin);
    for (size_t i = 0; i < nin; i++) {
        /* the shape is the contract: the launch trusts numel = prod(shape) */
        if (in[i].ndim < 0 || in[i].ndim > AT_MAX_DIMS)
            return at_error_set(err, AT_E_VALUE, "%s: rank %d is out of range",
                                name, in[i].ndim);
        size_t n = 1, bytes;
        for (int d = 0; d < in[i].ndim; d++)
            if (in[i].shape[d] < 0
                || at_mul_overflow(n, (size_t)in[i].shape[d], &n))
                return at_error_set(err, AT_E_VALUE,
                                    "%s: input %zu has an invalid shape %s",
                                    name, i, shape_str(s0, sizeof s0, &in[i]));
        if (at_mul_overflow(n, at_dtype_size(in[i].dtype), &bytes))
            return at_error_set(err, AT_E_OVERFLOW,
                                "%s: input %zu of shape %s is too large", name,
                                i, shape_str(s0, sizeof s0, &in[i]));
        if (n != in[i].numel)
            return at_error_set(
                err, AT_E_VALUE, "%s: input %zu has shape %s but %zu elements",
                name, i, shape_str(s0, sizeof s0, &in[i]), in[i].numel);
    }
    switch (op) {
        case AT_STD_VECTOR_ADD:
        case AT_STD_VECTOR_SUB:
        case AT_STD_VECTOR_MUL:
        case AT_STD_VECTOR_DIV:
        case AT_STD_POW:
        case AT_STD_MSE_LOSS:
            if ((st = need_f32(op, &in[0], op == AT_STD_MSE_LOSS ? "pred" : "a",
                               err))
                || (st = need_f32(op, &in[1],
                                  op == AT_STD_MSE_LOSS ? "target" : "b", err)))
                return st;
            if (!same_shape(&in[0], &in[1]))
                return at_error_set(err, AT_E_VALUE,
                                    "%s: shapes %s and %s differ", name,
                                    shape_str(s0, sizeof s0, &in[0]),
                                    shape_str(s1, sizeof s1, &in[1]));
            if (op == AT_STD_MSE_LOSS)
                set_shape(out, AT_F32, 0, NULL);
            else
                set_shape(out, AT_F32, in[0].ndim, in[0].shape);
            return AT_OK;
        case AT_STD_NEG:
        case AT_STD_ABS:
        case AT_STD_RELU:
        case AT_STD_SIGMOID:
        case AT_STD_TANH:
        case AT_STD_SOFTMAX:
        case AT_STD_EXP:
        case AT_STD_LOG:
        case AT_STD_SQRT:
        case AT_STD_POW_SCALAR:
            if ((st = need_f32(op, &in[0], "input", err)))
                return st;
            set_shape(out, AT_F32, in[0].ndim, in[0].shape);
            return AT_OK;
        case AT_STD_SUM:
        case AT_STD_MAX:
        case AT_STD_MIN:
        case AT_STD_MEAN:
            if ((st = need_f32(op, &in[0], "input", err)))
                return st;
            if ((op == AT_STD_MAX || op == AT_STD_MIN) && in[0].numel == 0)
                return at_error_set(
                    err, AT_E_VALUE,
                    "%s: cannot reduce an empty buffer (shape %s)", name,
                    shape_str(s0, sizeof s0, &in[0]));
            set_shape(out, AT_F32, 0, NULL);
            return AT_OK;
        case AT_STD_SUM_ROWS:
        case AT_STD_MAX_ROWS:
        case AT_STD_MIN_ROWS:
        case AT_STD_MEAN_ROWS:
            if ((st = need_f32(op, &in[0], "input", err)))
                return st;
            if (in[0].ndim != 2)
                return at_error_set(
                    err, AT_E_VALUE,
                    "%s: axis=-1 needs a 2-D buffer, got shape %s", name,
                    shape_str(s0, sizeof s0, &in[0]));
            if ((op == AT_STD_MAX_ROWS || op == AT_STD_MIN_ROWS)
                && in[0].shape[1] == 0 && in[0].shape[0] > 0)
                return at_error_set(err, AT_E_VALUE,
                                    "%s: cannot reduce empty rows (shape %s)",
                                    name, shape_str(s0, sizeof s0, &in[0]));
            set_shape(out, AT_F32, 1, in[0].shape);
            return AT_OK;
        case AT_STD_GEMM: {
            if ((st = need_f32(op, &in[0], "a", err))
                || (st = need_f32(op, &in[1], "b", err)))
                return st;
            if (prm->m < 0 || prm->n < 0 || prm->k < 0)
                return at_error_set(
                    err, AT_E_VALUE,
                    "gemm: m=%lld, n=%lld, k=%lld must not be negative",
                    (long long)prm->m, (long long)prm->n, (long long)prm->k);
            size_t mk, kn, mn;
            if (at_mul_overflow((size_t)prm->m, (size_t)prm->k, &mk)
                || at_mul_overflow((size_t)prm->k, (size_t)prm->n, &kn)
                || at_mul_overflow((size_t)prm->m, (size_t)prm->n, &mn)
                || mn > (SIZE_MAX >> 3))
                return at_error_set(
                    err, AT_E_OVERFLOW, "gemm: m=%lld, n=%lld, k=%lld overflow",
                    (long long)prm->m, (long long)prm->n, (long long)prm->k);
            if (in[0].numel != mk || in[1].numel != kn)
                return at_error_set(
                    err, AT_E_VALUE,
                    "gemm: a has shape %s (%zu elements) and b has shape %s "
                    "(%zu elements), "
                    "but m=%lld, n=%lld, k=%lld need m*k=%zu and k*n=%zu",
                    shape_str(s0, sizeof s0, &in[0]), in[0].numel,
                    shape_str(s1, sizeof s1, &in[1]), in[1].numel,
                    (long long)prm->m, (long long)prm->n, (long long)prm->k, mk,
                    kn);
            int64_t shape[2] = {prm->m, prm->n};
            set_shape(out, AT_F32, 2, shape);
            return AT_OK;
        }
        case AT_STD_CROSS_ENTROPY:
            if ((st = need_f32(op, &in[0], "logits", err)))
                return st;
            if (in[1].dtype != AT_I64)
                return at_error_set(
                    err, AT_E_TYPE,
                    "cross_entropy: target must be int64 class indices, got %s "
                    "with shape %s",
                    at_dtype_name(in[1].dtype),
                    shape_str(s1, sizeof s1, &in[1]));
            if (in[0].ndim != 2 || in[1].ndim != 1
                || in[1].shape[0] != in[0].shape[0])
                return at_error_set(
                    err, AT_E_VALUE,
                    "cross_entropy: logits must be (N, C) and target (N,); "
                    "got logits %s and target %s",
                    shape_str(s0, sizeof s0, &in[0]),
                    shape_str(s1, sizeof s1, &in[1]));
            set_shape(out, AT_F32, 0, NULL);
            return AT_OK;
        default:
            return at_error_set(err, AT_E_VALUE, "unknown op %d", (int)op);
    }
}

/* ---- launch -------------------------------------------------------------- */

static at_arg buf_arg(const at_tensor *t)
{
    at_arg a;
    a.scalar.i64 = 0;
    a.data = t->data;
    a.numel = t->numel;
    a.dtype = t->dtype;
    return a;
}

/* Launch a prepared op: in, prm and out have passed at_stdop_prepare, so
 * the kernel's own argument checks would only repeat them. */
static at_status run_prepared(at_executor *ex, at_stdop op, const at_tensor *in,
                              size_t nin, const at_stdop_params *prm,
                              const at_tensor *out, at_error *err)
{
    const at_program *p;
    at_status st;
    if ((st = at_executor_std_program(ex, op, &p, err)))
        return st;

    at_arg args[4];
    size_t nargs = 0, rows = 1, cols = in[0].numel;
    for (size_t i = 0; i < nin; i++)
        args[nargs++] = buf_arg(&in[i]);
    switch (op) {
        case AT_STD_POW_SCALAR:
            memset(&args[nargs], 0, sizeof args[nargs]);
            args[nargs++].scalar.f32 = prm->scalar;
            break;
        case AT_STD_SOFTMAX:
            last_axis(&in[0], &rows, &cols);
            break;
        case AT_STD_SUM_ROWS:
        case AT_STD_MAX_ROWS:
        case AT_STD_MIN_ROWS:
        case AT_STD_MEAN_ROWS:
            rows = (size_t)in[0].shape[0];
            cols = (size_t)in[0].shape[1];
            break;
        case AT_STD_GEMM:
            memset(&args[nargs + 1], 0, sizeof args[nargs + 1]);
            args[nargs] = buf_arg(out);
            args[nargs + 1].scalar.i64 = prm->k;
            return at_launch_validated(ex, p, (size_t)prm->m, (size_t)prm->n,
                                       args, nargs + 2, NULL, err);
        case AT_STD_CROSS_ENTROPY:
            rows = (size_t)in[0].shape[0];
            cols = (size_t)in[0].shape[1];
            memset(&args[nargs], 0, sizeof args[nargs]);
            args[nargs++].scalar.i64 = prm->ignore_index;
            break;
        default:
            break;
    }
    args[nargs++] = buf_arg(out);
    at_launch_diag diag;
    st = at_launch_validated(ex, p, rows, cols, args, nargs, &diag, err);
    if (st == AT_E_INDEX && op == AT_STD_CROSS_ENTROPY) {
        char s0[96], s1[96];
        int64_t target = ((const int64_t *)in[1].data)[diag.row];
        return at_error_set(err, AT_E_INDEX,
                            "cross_entropy: target %lld is out of bounds for "
                            "%zu classes (row %lld); "
                            "logits %s, target %s",
                            (long long)target, cols, (long long)diag.row,
                            shape_str(s0, sizeof s0, &in[0]),
                            shape_str(s1, sizeof s1, &in[1]));
    }
    return st;
}

/* Every non-empty input must point at its data, aligned for its elements
 * (prepare checks shapes only, so it can size an output before the inputs
 * exist). */
static at_status check_data(at_stdop op, const at_tensor *in, size_t nin,
                            at_error *err)
{
    for (size_t i = 0; i < nin; i++) {
        if (in[i].numel && !in[i].data)
            return at_error_set(err, AT_E_VALUE, "%s: input %zu has no data",
                                at_stdop_name(op), i);
        if (!at_is_aligned(in[i].data, in[i].dtype))
            return at_error_set(
                err, AT_E_VALUE,
                "%s: input %zu is not aligned to its %zu-byte elements",
                at_stdop_name(op), i, at_dtype_size(in[i].dtype));
    }
    return AT_OK;
}

at_status at_stdop_run(at_executor *ex, at_stdop op, const at_tensor *in,
                       size_t nin, const at_stdop_params *prm, at_tensor *out,
                       at_error *err)
{
    at_tensor expect;
    expect.dtype = AT_F32; /* set by prepare; initialised for the compiler */
    expect.numel = 0;
    at_status st = at_stdop_prepare(op, in, nin, prm, &expect, err);
    if (st)
        return st;
    if (out->dtype != expect.dtype || out->numel != expect.numel
        || (expect.numel && !out->data))
        return at_error_set(
            err, AT_E_VALUE,
            "%s: output buffer does not match the prepared shape",
            at_stdop_name(op));
    if (!at_is_aligned(out->data, out->dtype))
        return at_error_set(
            err, AT_E_VALUE,
            "%s: the output is not aligned to its %zu-byte elements",
            at_stdop_name(op), at_dtype_size(out->dtype));
    if ((st = check_data(op, in, nin, err)))
        return st;
    for (size_t i = 0; i < nin; i++)
        if (at_spans_overlap(out->data, out->numel, out->dtype, in[i].data,
                             in[i].numel, in[i].dtype))
            return at_error_set(err, AT_E_VALUE,
                                "%s: the output overlaps input %zu",
                                at_stdop_name(op), i);
    return run_prepared(ex, op, in, nin, prm, out, err);
}

at_status at_stdop_run_new(at_executor *ex, at_stdop op, const at_tensor *in,
                           size_t nin, const at_stdop_params *prm,
                           at_tensor *out, at_error *err)
{
    out->data = NULL;
    at_status st = at_stdop_prepare(op, in, nin, prm, out, err);
    if (st || (st = check_data(op, in, nin, err)))
        return st;
    size_t nbytes;
    if (at_mul_overflow(out->numel, at_dtype_size(out->dtype), &nbytes))
        return at_error_set(err, AT_E_OVERFLOW,
                            "%s: the output of %zu elements is too large",
                            at_stdop_name(op), out->numel);
    out->data = at_pool_alloc(at_executor_pool(ex), nbytes);
    if (!out->data)
        return at_error_set(err, AT_E_NOMEM,
                            "%s: out of memory allocating %zu bytes",
                            at_stdop_name(op), nbytes);
    st = run_prepared(ex, op, in, nin, prm, out, err);
    if (st) {
        at_pool_free(at_executor_pool(ex), out->data);
        out->data = NULL;
    }
    return st;
}

size_t at_stdop_cost(at_stdop op, const at_tensor *in, size_t nin,
                     const at_stdop_params *prm)
{
    (void)nin;
    switch (op) {
        case AT_STD_GEMM: {
            /* called before validation (to decide on the GIL): m, n, k may be
             * negative or huge, and only a double in [0, 2^64) may become a
             * size_t */
            double f = (double)prm->m * (double)prm->n * (double)prm->k;
            if (!(f > 0))
                return 0;
            return f > 1e18 ? (size_t)1 << 60 : (size_t)f;
        }
        case AT_STD_EXP:
        case AT_STD_LOG:
        case AT_STD_SIGMOID:
        case AT_STD_TANH:
        case AT_STD_SOFTMAX:
        case AT_STD_CROSS_ENTROPY:
            return in[0].numel * 4;
        case AT_STD_POW:
        case AT_STD_POW_SCALAR:
            return in[0].numel * 8;
        default:
            return in[0].numel;
    }
}
