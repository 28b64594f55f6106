/* Hologram Atlas — the standard library: each op of hg.ops as an IR kernel.
 *
 * Every op is one descriptor in ops[] below: its name; its kernel in the IR's
 * text form (the form at_kernel_print produces and hg.Kernel parses, so what
 * runs is exactly what a reader sees); its operands' roles; the rule that
 * checks their shapes and describes the output; and the launch geometry,
 * which also measures the op's work for its cost.  The rest of the file is
 * generic: prepare validates operands and describes the output, run launches
 * the executor's cached program for the op.  The library is a client of the
 * core (atlas/client.h) and of nothing else. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "atlas/client.h"
#include "atlas/stdlib.h"

/* A function only error paths call: kept out of its callers' code. */
#define COLD __attribute__((cold, noinline))

/* ---- the kernels' text --------------------------------------------------- */

#define UNARY(op)                                                  \
    "kernel " #op "(x: f32, y: f32) {\n  %v = load x\n  %r = " #op \
    " %v\n  store y, %r\n}\n"
#define BINARY(name, op)                                                   \
    "kernel " name                                                         \
    "(a: f32, b: f32, y: f32) {\n  %a = load a\n  %b = load b\n  %r = " op \
    " %a, %b\n  store y, %r\n}\n"
/* out = reduce.<op>.<over> of x; out of dtype dt */
#define REDUCE_IR(name, op, over, dt)                                          \
    "kernel " name "(x: f32, out: " dt ") {\n  %x = load x\n  %r = reduce." op \
    "." over " %x\n  store out, %r\n}\n"
#define REDUCE_ALL(name, op) REDUCE_IR(name, op, "all", "f32")
#define REDUCE_ROWS(name, op) REDUCE_IR(name, op, "row", "f32")
/* the mean along each row (over "row", count "ncols") or over the rows
 * (over "col", count "nrows") */
#define MEAN_IR(name, over, count)                                \
    "kernel " name "(x: f32, out: f32) {\n"                       \
    "  %x = load x\n  %s = reduce.sum." over " %x\n"              \
    "  %c = " count "\n  %cf = cast.f32 %c\n  %m = div %s, %cf\n" \
    "  store out, %m\n}\n"

/* The end of a kernel that stores the mean of the whole launch: `total`
 * (a sum over every element) over rows x cols, into out. */
#define STORE_MEAN(total)                             \
    "  %r = nrows\n  %c = ncols\n  %n = mul %r, %c\n" \
    "  %nf = cast.f32 %n\n  %m = div " total ", %nf\n  store out, %m\n}\n"

/* ---- what a descriptor holds --------------------------------------------- */

typedef struct stdop stdop;

/* An operand: the name messages call it, the dtype it must have, and how a
 * message states that dtype. */
typedef struct role {
    const char *name;
    at_dtype dtype;
    const char *wants;
} role;

#define F32(name) {name, AT_F32, "float32"}

/* Checks the operands' shapes (their dtypes have passed) and describes the
 * output (data left NULL).  SHAPE_RULE(name) declares one. */
#define SHAPE_RULE(name)                                \
    at_status name(const stdop *d, const at_tensor *in, \
                   const at_stdop_params *prm, at_tensor *out, at_error *err)
typedef SHAPE_RULE((*shape_rule));

/* The launch's rows x cols, and the work the cost counts. */
typedef enum geometry {
    FLAT,      /* 1 x the first input's elements; work: those elements */
    LAST_AXIS, /* the leading axes x the last axis; work: the elements */
    MATMUL,    /* m x n from the params; work: m * n * k multiply-adds */
    AXIS_ROWS, /* the axes before params.axis x that axis (every later axis
                  is 1); work: the elements */
    AXIS_COLS  /* for each index of the axes before params.axis, one launch
                  of that axis x the axes after it; work: the elements */
} geometry;

/* A launch's scalar argument, taken from the params. */
typedef struct scalar_arg {
    int at; /* 1 + its index among the kernel's params; 0: none */
    at_dtype dtype;
    size_t offset; /* of its value in at_stdop_params */
} scalar_arg;

#define SCALAR(index, field, dt) \
    {(index) + 1, dt, offsetof(at_stdop_params, field)}

/* Turns a failed range check or gather (AT_E_INDEX) into the op's message. */
typedef at_status (*index_message)(const at_tensor *in, size_t cols,
                                   const at_launch_diag *diag, at_error *err);

/* One op.  Its cost is its geometry's work times the cost per element of
 * its compiled program (at_program_cost): the one model the executor also
 * uses to decide on waking workers. */
struct stdop {
    const char *name;
    const char *ir; /* params: the inputs, then the output, with the
                       scalars (if any) where `scalar` says */
    int nin;
    role in[3];
    shape_rule shape;
    int nonempty; /* a reduction without an identity (max, min) */
    at_dtype out; /* the output's dtype (AT_F32 unless set) */
    geometry geom;
    at_stdop over_rows; /* AXIS_ROWS: the AXIS_COLS op it runs when an axis
                           after params.axis is not 1 */
    scalar_arg scalar[2]; /* in increasing param index */
    index_message index_error;
};

/* ---- shape rules --------------------------------------------------------- */

static const char *shape_str(char *buf, size_t cap, const at_tensor *t)
{
    at_format_shape(buf, cap, t->ndim, t->shape);
    return buf;
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

/* The messages of the shape rules below.  Out of line and cold: the rules
 * run on every op call, and a message buffer in their frames would cost each
 * call a stack-protector check. */
enum shape_fault {
    SHAPES_DIFFER,
    EMPTY,
    EMPTY_AXIS,
    AXIS_RANGE
};

static COLD at_status shape_error(const stdop *d, const at_tensor *in,
                                  const at_stdop_params *prm,
                                  enum shape_fault f, at_error *err)
{
    char s0[96], s1[96];
    shape_str(s0, sizeof s0, &in[0]);
    switch (f) {
        case SHAPES_DIFFER:
            return at_error_set(err, AT_E_VALUE, "%s: shapes %s and %s differ",
                                d->name, s0, shape_str(s1, sizeof s1, &in[1]));
        case EMPTY:
            return at_error_set(err, AT_E_VALUE,
                                "%s: cannot reduce an empty buffer (shape %s)",
                                d->name, s0);
        case EMPTY_AXIS: /* named as hg.ops names it: sum, not sum_rows */
            return at_error_set(err, AT_E_VALUE,
                                "%.*s: cannot reduce the empty axis %lld of "
                                "shape %s",
                                (int)strcspn(d->name, "_"), d->name,
                                (long long)prm->axis, s0);
        default:
            return at_error_set(err, AT_E_INDEX,
                                "%.*s: axis %lld is out of range for shape %s "
                                "(%d dimension(s))",
                                (int)strcspn(d->name, "_"), d->name,
                                (long long)prm->axis, s0, in[0].ndim);
    }
}

/* Two inputs must have one shape. */
static int shapes_agree(const stdop *d, const at_tensor *in)
{
    return d->nin < 2 || at_same_shape(&in[0], &in[1]);
}

/* Elementwise: the output has the inputs' shape. */
static SHAPE_RULE(to_input_shape)
{
    (void)prm;
    if (!shapes_agree(d, in))
        return shape_error(d, in, prm, SHAPES_DIFFER, err);
    set_shape(out, AT_F32, in[0].ndim, in[0].shape);
    return AT_OK;
}

/* A reduction of the whole input (or a loss over two inputs of one shape):
 * a 0-d output, or with keepdims every axis 1. */
static SHAPE_RULE(to_scalar)
{
    static const int64_t ones[AT_MAX_DIMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    if (!shapes_agree(d, in))
        return shape_error(d, in, prm, SHAPES_DIFFER, err);
    if (d->nonempty && in[0].numel == 0)
        return shape_error(d, in, prm, EMPTY, err);
    if (prm->keepdims)
        set_shape(out, d->out, in[0].ndim, ones);
    else
        set_shape(out, d->out, 0, NULL);
    return AT_OK;
}

/* params.axis of x in range: 0 <= *axis < ndim (a 0-d x has the one axis
 * 0 or -1, of size 1).  0, or -1 when it is out of range. */
static int normal_axis(const at_tensor *x, int64_t axis, int *out)
{
    int nd = x->ndim ? x->ndim : 1;
    if (axis < -nd || axis >= nd)
        return -1;
    *out = (int)(axis < 0 ? axis + nd : axis);
    return 0;
}

/* The product of x's axes [from, to). */
static size_t extent(const at_tensor *x, int from, int to)
{
    size_t n = 1;
    for (int i = from; i < to && i < x->ndim; i++)
        n *= (size_t)x->shape[i];
    return n;
}

/* A reduction over one axis (params.axis): x's shape without it, or with
 * it 1 (keepdims). */
static SHAPE_RULE(to_axis)
{
    int ax;
    if (normal_axis(&in[0], prm->axis, &ax))
        return shape_error(d, in, prm, AXIS_RANGE, err);
    if (d->nonempty && in[0].ndim && in[0].shape[ax] == 0)
        return shape_error(d, in, prm, EMPTY_AXIS, err);
    int64_t shape[AT_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < in[0].ndim; i++)
        if (i != ax || prm->keepdims)
            shape[nd++] = i == ax ? 1 : in[0].shape[i];
    set_shape(out, d->out, nd, shape);
    return AT_OK;
}

/* layer_norm: x of at least one axis; each affine input (weight, bias) of
 * shape (C,), C the last axis of x.  The output has x's shape. */
static SHAPE_RULE(to_layer_norm)
{
    char s0[96], s1[96];
    (void)prm;
    if (in[0].ndim < 1)
        return at_error_set(err, AT_E_VALUE,
                            "%s: input must have at least one axis, got "
                            "shape %s",
                            d->name, shape_str(s0, sizeof s0, &in[0]));
    int64_t c = in[0].shape[in[0].ndim - 1];
    for (int i = 1; i < d->nin; i++)
        if (in[i].ndim != 1 || in[i].shape[0] != c)
            return at_error_set(err, AT_E_VALUE,
                                "%s: %s must have shape (%lld,), the last "
                                "axis of input %s; got %s",
                                d->name, d->in[i].name, (long long)c,
                                shape_str(s0, sizeof s0, &in[0]),
                                shape_str(s1, sizeof s1, &in[i]));
    set_shape(out, AT_F32, in[0].ndim, in[0].shape);
    return AT_OK;
}

/* a (m*k elements) times b (k*n elements): an m x n output. */
static SHAPE_RULE(to_matmul)
{
    char s0[96], s1[96];
    if (prm->m < 0 || prm->n < 0 || prm->k < 0)
        return at_error_set(
            err, AT_E_VALUE, "%s: m=%lld, n=%lld, k=%lld must not be negative",
            d->name, (long long)prm->m, (long long)prm->n, (long long)prm->k);
    size_t mk, kn, mn;
    if (at_mul_overflow((size_t)prm->m, (size_t)prm->k, &mk)
        || at_mul_overflow((size_t)prm->k, (size_t)prm->n, &kn)
        || at_mul_overflow((size_t)prm->m, (size_t)prm->n, &mn)
        || mn > (SIZE_MAX >> 3))
        return at_error_set(
            err, AT_E_OVERFLOW, "%s: m=%lld, n=%lld, k=%lld overflow", d->name,
            (long long)prm->m, (long long)prm->n, (long long)prm->k);
    if (in[0].numel != mk || in[1].numel != kn)
        return at_error_set(
            err, AT_E_VALUE,
            "%s: a has shape %s (%zu elements) and b has shape %s "
            "(%zu elements), "
            "but m=%lld, n=%lld, k=%lld need m*k=%zu and k*n=%zu",
            d->name, shape_str(s0, sizeof s0, &in[0]), in[0].numel,
            shape_str(s1, sizeof s1, &in[1]), in[1].numel, (long long)prm->m,
            (long long)prm->n, (long long)prm->k, mk, kn);
    int64_t shape[2] = {prm->m, prm->n};
    set_shape(out, AT_F32, 2, shape);
    return AT_OK;
}

/* (N, C) logits and (N,) class indices: a 0-d loss. */
static SHAPE_RULE(to_class_loss)
{
    char s0[96], s1[96];
    (void)prm;
    if (in[0].ndim != 2 || in[1].ndim != 1 || in[1].shape[0] != in[0].shape[0])
        return at_error_set(err, AT_E_VALUE,
                            "%s: logits must be (N, C) and target (N,); "
                            "got logits %s and target %s",
                            d->name, shape_str(s0, sizeof s0, &in[0]),
                            shape_str(s1, sizeof s1, &in[1]));
    set_shape(out, AT_F32, 0, NULL);
    return AT_OK;
}

/* The row whose target is out of range, in the op's terms. */
static at_status target_out_of_range(const at_tensor *in, size_t cols,
                                     const at_launch_diag *diag, at_error *err)
{
    char s0[96], s1[96];
    int64_t target = ((const int64_t *)in[1].data)[diag->row];
    return at_error_set(err, AT_E_INDEX,
                        "cross_entropy: target %lld is out of bounds for "
                        "%zu classes (row %lld); "
                        "logits %s, target %s",
                        (long long)target, cols, (long long)diag->row,
                        shape_str(s0, sizeof s0, &in[0]),
                        shape_str(s1, sizeof s1, &in[1]));
}

/* A probability outside [0, 1] (the kernel's range check of its count of
 * them failed), in PyTorch's words. */
static at_status probability_out_of_range(const at_tensor *in, size_t cols,
                                          const at_launch_diag *diag,
                                          at_error *err)
{
    char s0[96], s1[96];
    (void)cols;
    (void)diag;
    return at_error_set(err, AT_E_VALUE,
                        "binary_cross_entropy: all elements of p and t "
                        "must be between 0 and 1 (p %s, t %s)",
                        shape_str(s0, sizeof s0, &in[0]),
                        shape_str(s1, sizeof s1, &in[1]));
}

/* ---- the ops ------------------------------------------------------------ */

/* one float32 input, which messages call "input" */
#define ONE_INPUT .nin = 1, .in = {F32("input")}
/* f(x) elementwise; f(a, b) elementwise over two buffers of one shape */
#define MAP1(op) \
    .name = #op, .ir = UNARY(op), ONE_INPUT, .shape = to_input_shape
#define MAP2(op, irop)                                                        \
    .name = op, .ir = BINARY(op, irop), .nin = 2, .in = {F32("a"), F32("b")}, \
    .shape = to_input_shape
/* y = f(x) elementwise, f in IR text: `body` computes %y from %x and the
 * scalar params that `params` declares (each "name: f32 scalar, ") */
#define MAP1_IR(op, params, body)                                           \
    .name = op,                                                             \
    .ir = "kernel " op "(x: f32, " params "y: f32) {\n  %x = load x\n" body \
          "  store y, %y\n}\n",                                             \
    ONE_INPUT, .shape = to_input_shape
/* the f32 scalars of a MAP1_IR kernel with two: params 1 and 2 */
#define TWO_SCALARS \
    .scalar = {SCALAR(1, scalar, AT_F32), SCALAR(2, scalar2, AT_F32)}
/* a reduction of the whole buffer, or along the last axis of a 2-D one */
#define FOLD(op, irop, empty_ok)                                           \
    .name = op, .ir = REDUCE_ALL(op, irop), ONE_INPUT, .shape = to_scalar, \
    .nonempty = !(empty_ok)
/* a reduction over params.axis: along rows when every later axis is 1, else
 * over the rows of (the axis, the later axes), once per leading index */
#define AXIS_RED(op, empty_ok) \
    .name = op, ONE_INPUT, .shape = to_axis, .nonempty = !(empty_ok)
#define FOLD_ROWS(op, irop, empty_ok, COLS)                                 \
    AXIS_RED(op, empty_ok), .ir = REDUCE_ROWS(op, irop), .geom = AXIS_ROWS, \
        .over_rows = AT_STD_##COLS
#define FOLD_COLS(op, irop, dt, empty_ok)                         \
    AXIS_RED(op, empty_ok), .ir = REDUCE_IR(op, irop, "col", dt), \
        .geom = AXIS_COLS
/* argmax/argmin: int64 indices, over the flattened buffer or one axis */
#define ARG_ALL(op)                                               \
    .name = op, .ir = REDUCE_IR(op, op, "row", "i64"), ONE_INPUT, \
    .shape = to_scalar, .nonempty = 1, .out = AT_I64
#define ARG_ROWS(op, irop, COLS)                                             \
    AXIS_RED(op, 0), .ir = REDUCE_IR(op, irop, "row", "i64"), .out = AT_I64, \
        .geom = AXIS_ROWS, .over_rows = AT_STD_##COLS

/* (m, k) @ (k, n) with gemm's flags (text after k): a transposed operand is
 * read in its stored order, never materialised. */
#define GEMM(op, flags)                                                       \
    .name = op,                                                               \
    .ir = "kernel " op "(a: f32, b: f32, c: f32, k: i64 scalar) {\n"          \
          "  gemm a, b, c, k" flags "\n}\n",                                  \
    .nin = 2, .in = {F32("a"), F32("b")}, .shape = to_matmul, .geom = MATMUL, \
    .scalar = {SCALAR(3, k, AT_I64)}

/* layer_norm over the last axis, in two passes: the row mean, then the
 * row mean of (x - mean)^2 (the biased variance); %d and %r end the common
 * part, (x - mean) and 1 / sqrt(var + eps).  `params` declares the affine
 * buffers (each "name: f32, "), `affine` computes %y from %d and %r; `roles`
 * names the nin inputs' roles. */
#define LAYER_NORM(op, nin_, roles, params, affine)                        \
    .name = op,                                                            \
    .ir = "kernel " op "(x: f32, " params "eps: f32 scalar, y: f32) {\n"   \
          "  %x = load x\n  %s = reduce.sum.row %x\n"                      \
          "  %c = ncols\n  %cf = cast.f32 %c\n  %m = div %s, %cf\n"        \
          "  %d = sub %x, %m\n  %sq = mul %d, %d\n"                        \
          "  %ss = reduce.sum.row %sq\n  %v = div %ss, %cf\n"              \
          "  %e = param eps\n  %ve = add %v, %e\n  %sd = sqrt %ve\n"       \
          "  %one = const.f32 1\n  %r = div %one, %sd\n" affine            \
          "  store y, %y\n}\n",                                            \
    .nin = nin_, .in = {roles}, .shape = to_layer_norm, .geom = LAST_AXIS, \
    .scalar = {SCALAR(nin_, scalar, AT_F32)}
#define LN_NORM "  %n = mul %d, %r\n"
#define LN_X F32("input")
#define LN_XW F32("input"), F32("weight")
#define LN_XB F32("input"), F32("bias")
#define LN_XWB F32("input"), F32("weight"), F32("bias")

static const stdop ops[AT_STD_COUNT] = {
    [AT_STD_VECTOR_ADD] = {MAP2("vector_add", "add")},
    [AT_STD_VECTOR_SUB] = {MAP2("vector_sub", "sub")},
    [AT_STD_VECTOR_MUL] = {MAP2("vector_mul", "mul")},
    [AT_STD_VECTOR_DIV] = {MAP2("vector_div", "div")},
    [AT_STD_POW] = {MAP2("pow", "pow")},
    [AT_STD_NEG] = {MAP1(neg)},
    [AT_STD_ABS] = {MAP1(abs)},
    [AT_STD_RELU] = {MAP1(relu)},
    [AT_STD_SIGMOID] = {MAP1(sigmoid)},
    [AT_STD_TANH] = {MAP1(tanh)},
    [AT_STD_EXP] = {MAP1(exp)},
    [AT_STD_LOG] = {MAP1(log)},
    [AT_STD_SQRT] = {MAP1(sqrt)},
    [AT_STD_POW_SCALAR] =
        {.name = "pow_scalar",
         .ir = "kernel pow_scalar(x: f32, s: f32 scalar, y: f32) {\n"
               "  %x = load x\n  %s = param s\n"
               "  %r = pow %x, %s\n  store y, %r\n}\n",
         ONE_INPUT,
         .shape = to_input_shape,
         .scalar = {SCALAR(1, scalar, AT_F32)}},
    [AT_STD_SOFTMAX] = {.name = "softmax",
                        .ir = "kernel softmax(x: f32, y: f32) {\n"
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
                        ONE_INPUT,
                        .shape = to_input_shape,
                        .geom = LAST_AXIS},
    [AT_STD_MEAN] = {.name = "mean",
                     .ir =
                         "kernel mean(x: f32, out: f32) {\n"
                         "  %x = load x\n  %s = reduce.sum.all %x\n" STORE_MEAN(
                             "%s"),
                     ONE_INPUT,
                     .shape = to_scalar},
    [AT_STD_SUM] = {FOLD("sum", "sum", 1)},
    [AT_STD_MAX] = {FOLD("max", "max", 0)},
    [AT_STD_MIN] = {FOLD("min", "min", 0)},
    [AT_STD_SUM_ROWS] = {FOLD_ROWS("sum_rows", "sum", 1, SUM_COLS)},
    [AT_STD_MAX_ROWS] = {FOLD_ROWS("max_rows", "max", 0, MAX_COLS)},
    [AT_STD_MIN_ROWS] = {FOLD_ROWS("min_rows", "min", 0, MIN_COLS)},
    [AT_STD_MEAN_ROWS] = {AXIS_RED("mean_rows", 1),
                          .ir = MEAN_IR("mean_rows", "row", "ncols"),
                          .geom = AXIS_ROWS, .over_rows = AT_STD_MEAN_COLS},
    [AT_STD_SUM_COLS] = {FOLD_COLS("sum_cols", "sum", "f32", 1)},
    [AT_STD_MAX_COLS] = {FOLD_COLS("max_cols", "max", "f32", 0)},
    [AT_STD_MIN_COLS] = {FOLD_COLS("min_cols", "min", "f32", 0)},
    [AT_STD_MEAN_COLS] = {AXIS_RED("mean_cols", 1),
                          .ir = MEAN_IR("mean_cols", "col", "nrows"),
                          .geom = AXIS_COLS},
    [AT_STD_ARGMAX] = {ARG_ALL("argmax")},
    [AT_STD_ARGMIN] = {ARG_ALL("argmin")},
    [AT_STD_ARGMAX_ROWS] = {ARG_ROWS("argmax_rows", "argmax", ARGMAX_COLS)},
    [AT_STD_ARGMIN_ROWS] = {ARG_ROWS("argmin_rows", "argmin", ARGMIN_COLS)},
    [AT_STD_ARGMAX_COLS] = {FOLD_COLS("argmax_cols", "argmax", "i64", 0),
                            .out = AT_I64},
    [AT_STD_ARGMIN_COLS] = {FOLD_COLS("argmin_cols", "argmin", "i64", 0),
                            .out = AT_I64},
    [AT_STD_GEMM] = {GEMM("gemm", "")},
    [AT_STD_GEMM_TA] = {GEMM("gemm_ta", " trans_a")},
    [AT_STD_GEMM_TB] = {GEMM("gemm_tb", " trans_b")},
    [AT_STD_GEMM_TATB] = {GEMM("gemm_tatb", " trans_a trans_b")},
    [AT_STD_MSE_LOSS] =
        {.name = "mse_loss",
         .ir =
             "kernel mse_loss(p: f32, t: f32, out: f32) {\n"
             "  %p = load p\n  %t = load t\n  %d = sub %p, %t\n"
             "  %sq = mul %d, %d\n  %s = reduce.sum.all %sq\n" STORE_MEAN("%s"),
         .nin = 2,
         .in = {F32("pred"), F32("target")},
         .shape = to_scalar},
    [AT_STD_CROSS_ENTROPY] =
        {.name = "cross_entropy",
         .ir = "kernel cross_entropy(x: f32, t: i64, ignore: i64 scalar, "
               "out: f32) {\n"
               "  # log-sum-exp: max first, then sum of exp(x - max)\n"
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
         .nin = 2,
         .in = {F32("logits"), {"target", AT_I64, "int64 class indices"}},
         .shape = to_class_loss,
         .geom = LAST_AXIS,
         .scalar = {SCALAR(2, ignore_index, AT_I64)},
         .index_error = target_out_of_range},
    /* PyTorch's CPU forms: x/2 (1 + erf(x/sqrt 2)) and
     * x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    [AT_STD_GELU] = {MAP1_IR("gelu", "",
                             "  %half = const.f32 0.5\n"
                             "  %h = mul %x, %half\n"
                             "  %a = const.f32 0.707106781186547524\n"
                             "  %z = mul %x, %a\n"
                             "  %e = erf %z\n"
                             "  %one = const.f32 1\n"
                             "  %p = add %one, %e\n"
                             "  %y = mul %h, %p\n")},
    [AT_STD_GELU_TANH] = {MAP1_IR("gelu_tanh", "",
                                  "  %x2 = mul %x, %x\n"
                                  "  %x3 = mul %x2, %x\n"
                                  "  %k = const.f32 0.044715\n"
                                  "  %kx3 = mul %k, %x3\n"
                                  "  %s = add %x, %kx3\n"
                                  "  %b = const.f32 0.797884560802865355\n"
                                  "  %in = mul %b, %s\n"
                                  "  %t = tanh %in\n"
                                  "  %one = const.f32 1\n"
                                  "  %p = add %one, %t\n"
                                  "  %half = const.f32 0.5\n"
                                  "  %h = mul %half, %x\n"
                                  "  %y = mul %h, %p\n")},
    /* x / (1 + exp(-x)), PyTorch's form */
    [AT_STD_SILU] = {MAP1_IR("silu", "",
                             "  %n = neg %x\n"
                             "  %e = exp %n\n"
                             "  %one = const.f32 1\n"
                             "  %d = add %one, %e\n"
                             "  %y = div %x, %d\n")},
    [AT_STD_LEAKY_RELU] = {MAP1_IR("leaky_relu", "slope: f32 scalar, ",
                                   "  %s = param slope\n"
                                   "  %zero = const.f32 0\n"
                                   "  %pos = gt %x, %zero\n"
                                   "  %n = mul %x, %s\n"
                                   "  %y = select %pos, %x, %n\n"),
                           .scalar = {SCALAR(1, scalar, AT_F32)}},
    /* x where beta x > threshold, else log1p(exp(beta x)) / beta */
    [AT_STD_SOFTPLUS] = {MAP1_IR("softplus",
                                 "beta: f32 scalar, threshold: f32 scalar, ",
                                 "  %b = param beta\n"
                                 "  %th = param threshold\n"
                                 "  %bx = mul %x, %b\n"
                                 "  %big = gt %bx, %th\n"
                                 "  %e = exp %bx\n"
                                 "  %l = log1p %e\n"
                                 "  %s = div %l, %b\n"
                                 "  %y = select %big, %x, %s\n"),
                         TWO_SCALARS},
    /* (x - max) - log(sum(exp(x - max))) per row, PyTorch's order:
     * x - (max + log(sum)) would lose the log beside a large max */
    [AT_STD_LOG_SOFTMAX] = {MAP1_IR("log_softmax", "",
                                    "  %m = reduce.max.row %x\n"
                                    "  %d = sub %x, %m\n"
                                    "  %e = exp %d\n"
                                    "  %s = reduce.sum.row %e\n"
                                    "  %ls = log %s\n"
                                    "  %y = sub %d, %ls\n"),
                            .geom = LAST_AXIS},
    /* PyTorch's CPU loss per element, each log clamped at -100:
     * (t - 1) max(log1p(-p), -100) - t max(log(p), -100); the mean of
     * them.  For an element v of p or t outside [0, 1] (or NaN),
     * v (1 - v) >= 0 is false: the count of such elements must be 0. */
    [AT_STD_BINARY_CROSS_ENTROPY] =
        {.name = "binary_cross_entropy",
         .ir = "kernel binary_cross_entropy(p: f32, t: f32, out: f32) {\n"
               "  %p = load p\n"
               "  %t = load t\n"
               "  %one = const.f32 1\n"
               "  %zero = const.f32 0\n"
               "  %floor = const.f32 -100\n"
               "  %lp = log %p\n"
               "  %lpc = max %lp, %floor\n"
               "  %np = neg %p\n"
               "  %lq = log1p %np\n"
               "  %lqc = max %lq, %floor\n"
               "  %tm1 = sub %t, %one\n"
               "  %a = mul %tm1, %lqc\n"
               "  %b = mul %t, %lpc\n"
               "  %l = sub %a, %b\n"
               "  %total = reduce.sum.all %l\n"
               "  # the elements outside [0, 1]\n"
               "  %q = sub %one, %p\n"
               "  %pq = mul %p, %q\n"
               "  %okp = ge %pq, %zero\n"
               "  %u = sub %one, %t\n"
               "  %tu = mul %t, %u\n"
               "  %okt = ge %tu, %zero\n"
               "  %bp = select %okp, %zero, %one\n"
               "  %bad = select %okt, %bp, %one\n"
               "  %nbad = reduce.sum.all %bad\n"
               "  %nb = cast.i64 %nbad\n"
               "  %z = const.i64 0\n"
               "  %o = const.i64 1\n"
               "  check.range %nb, %z, %o\n" STORE_MEAN("%total"),
         .nin = 2,
         .in = {F32("p"), F32("t")},
         .shape = to_scalar,
         .index_error = probability_out_of_range},
    /* torch.clamp: max(x, lo), then min(that, hi), NaN propagating; an
     * absent bound is -inf or inf */
    [AT_STD_CLIP] = {MAP1_IR("clip", "lo: f32 scalar, hi: f32 scalar, ",
                             "  %lo = param lo\n"
                             "  %hi = param hi\n"
                             "  %a = max %x, %lo\n"
                             "  %y = min %a, %hi\n"),
                     TWO_SCALARS},
    [AT_STD_LAYER_NORM] = {LAYER_NORM("layer_norm", 1, LN_X, "",
                                      "  %y = mul %d, %r\n")},
    [AT_STD_LAYER_NORM_W] = {LAYER_NORM("layer_norm_w", 2, LN_XW, "w: f32, ",
                                        LN_NORM "  %w = load.col w\n"
                                                "  %y = mul %n, %w\n")},
    [AT_STD_LAYER_NORM_B] = {LAYER_NORM("layer_norm_b", 2, LN_XB, "b: f32, ",
                                        LN_NORM "  %b = load.col b\n"
                                                "  %y = add %n, %b\n")},
    [AT_STD_LAYER_NORM_WB] = {LAYER_NORM("layer_norm_wb", 3, LN_XWB,
                                         "w: f32, b: f32, ",
                                         LN_NORM "  %w = load.col w\n"
                                                 "  %nw = mul %n, %w\n"
                                                 "  %b = load.col b\n"
                                                 "  %y = add %nw, %b\n")},
};

/* ---- the generic part ---------------------------------------------------- */

/* The executors' cache of the ops' programs: kernel i of the set is op i. */
static at_status build_kernel(int index, at_kernel **out, at_error *err)
{
    return at_stdop_kernel((at_stdop)index, out, err);
}

static at_kernel_set kernels = {
    .name = "stdlib",
    .count = AT_STD_COUNT,
    .build = build_kernel,
};

const char *at_stdop_name(at_stdop op)
{
    return (unsigned)op < AT_STD_COUNT ? ops[op].name : "?";
}

int at_stdop_arity(at_stdop op)
{
    return (unsigned)op < AT_STD_COUNT ? ops[op].nin : 1;
}

at_status at_stdop_kernel(at_stdop op, at_kernel **out, at_error *err)
{
    *out = NULL;
    if ((unsigned)op >= AT_STD_COUNT)
        return at_error_set(err, AT_E_VALUE, "unknown op %d", (int)op);
    return at_kernel_parse(ops[op].ir, out, err);
}

/* The messages of the input checks below (cold, like shape_error). */
enum input_fault {
    RANK,
    INVALID_SHAPE,
    TOO_LARGE,
    WRONG_NUMEL,
    WRONG_DTYPE
};

static COLD at_status input_error(const stdop *d, const at_tensor *t, size_t i,
                                  enum input_fault f, at_error *err)
{
    char s0[96];
    shape_str(s0, sizeof s0, t);
    switch (f) {
        case RANK:
            return at_error_set(err, AT_E_VALUE, "%s: rank %d is out of range",
                                d->name, t->ndim);
        case INVALID_SHAPE:
            return at_error_set(err, AT_E_VALUE,
                                "%s: input %zu has an invalid shape %s",
                                d->name, i, s0);
        case TOO_LARGE:
            return at_error_set(err, AT_E_OVERFLOW,
                                "%s: input %zu of shape %s is too large",
                                d->name, i, s0);
        case WRONG_NUMEL:
            return at_error_set(err, AT_E_VALUE,
                                "%s: input %zu has shape %s but %zu elements",
                                d->name, i, s0, t->numel);
        default:
            return at_error_set(err, AT_E_TYPE,
                                "%s: %s must be %s, got %s with shape %s",
                                d->name, d->in[i].name, d->in[i].wants,
                                at_dtype_name(t->dtype), s0);
    }
}

/* The shape is the contract: the launch trusts numel = prod(shape). */
static at_status check_extent(const stdop *d, const at_tensor *t, size_t i,
                              at_error *err)
{
    if (t->ndim < 0 || t->ndim > AT_MAX_DIMS)
        return input_error(d, t, i, RANK, err);
    size_t n = 1, bytes;
    for (int k = 0; k < t->ndim; k++)
        if (t->shape[k] < 0 || at_mul_overflow(n, (size_t)t->shape[k], &n))
            return input_error(d, t, i, INVALID_SHAPE, err);
    if (at_mul_overflow(n, at_dtype_size(t->dtype), &bytes))
        return input_error(d, t, i, TOO_LARGE, err);
    if (n != t->numel)
        return input_error(d, t, i, WRONG_NUMEL, err);
    return AT_OK;
}

at_status at_stdop_prepare(at_stdop op, const at_tensor *in, size_t nin,
                           const at_stdop_params *prm, at_tensor *out,
                           at_error *err)
{
    at_status st;
    if ((unsigned)op >= AT_STD_COUNT)
        return at_error_set(err, AT_E_VALUE, "unknown op %d", (int)op);
    const stdop *d = &ops[op];
    if (nin != (size_t)d->nin)
        return at_error_set(err, AT_E_VALUE, "%s takes %d buffer(s), got %zu",
                            d->name, d->nin, nin);
    for (size_t i = 0; i < nin; i++)
        if ((st = check_extent(d, &in[i], i, err)))
            return st;
    for (size_t i = 0; i < nin; i++)
        if (in[i].dtype != d->in[i].dtype)
            return input_error(d, &in[i], i, WRONG_DTYPE, err);
    return d->shape(d, in, prm, out, err);
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

/* The launch's arguments in the kernel's param order: the inputs, then the
 * output, with the scalars (if any) at their indices.  Returns how many. */
static size_t launch_args(const stdop *d, const at_tensor *in,
                          const at_stdop_params *prm, const at_tensor *out,
                          at_arg *args)
{
    size_t n = 0;
    for (int i = 0; i < d->nin; i++)
        args[n++] = buf_arg(&in[i]);
    args[n++] = buf_arg(out);
    for (int s = 0; s < 2 && d->scalar[s].at; s++) {
        size_t at = (size_t)d->scalar[s].at - 1;
        const char *v = (const char *)prm + d->scalar[s].offset;
        memmove(&args[at + 1], &args[at], (n - at) * sizeof *args);
        memset(&args[at], 0, sizeof *args);
        if (d->scalar[s].dtype == AT_F32)
            memcpy(&args[at].scalar.f32, v, sizeof args[at].scalar.f32);
        else
            memcpy(&args[at].scalar.i64, v, sizeof args[at].scalar.i64);
        n++;
    }
    return n;
}

/* rows x cols over the last axis (1 x 1 for a 0-d tensor). */
static void last_axis(const at_tensor *t, size_t *rows, size_t *cols)
{
    *rows = 1;
    *cols = t->ndim ? (size_t)t->shape[t->ndim - 1] : 1;
    for (int i = 0; i + 1 < t->ndim; i++)
        *rows *= (size_t)t->shape[i];
}

/* The launch shape (and the launches, *batch) of a prepared op. */
static void launch_shape(const stdop *d, const at_tensor *in,
                         const at_stdop_params *prm, size_t *rows, size_t *cols,
                         size_t *batch)
{
    int ax = 0;
    *batch = 1;
    switch (d->geom) {
        case LAST_AXIS:
            last_axis(&in[0], rows, cols);
            return;
        case AXIS_ROWS:
        case AXIS_COLS:
            normal_axis(&in[0], prm->axis, &ax); /* prepared: in range */
            *batch = extent(&in[0], 0, ax);
            *rows = extent(&in[0], ax, ax + 1);
            *cols = extent(&in[0], ax + 1, in[0].ndim);
            if (d->geom == AXIS_ROWS) {
                *cols = *rows;
                *rows = *batch;
                *batch = 1;
            }
            return;
        case MATMUL:
            *rows = (size_t)prm->m;
            *cols = (size_t)prm->n;
            return;
        default:
            *rows = 1;
            *cols = in[0].numel;
            return;
    }
}

/* batch launches of rows x cols, each on the next rows * cols elements of
 * args[0] and the next cols of args[1]. */
static at_status run_batches(at_executor *ex, const at_program *p, size_t rows,
                             size_t cols, size_t batch, at_arg *args,
                             at_error *err)
{
    size_t in_step = rows * cols * at_dtype_size(args[0].dtype),
           out_step = cols * at_dtype_size(args[1].dtype);
    args[0].numel = rows * cols;
    args[1].numel = cols;
    for (size_t b = 0; b < batch; b++) {
        at_status st =
            at_launch_validated(ex, p, rows, cols, args, 2, NULL, err);
        if (st)
            return st;
        args[0].data = (char *)args[0].data + in_step;
        args[1].data = (char *)args[1].data + out_step;
    }
    return AT_OK;
}

/* Launch a prepared op: in, prm and out have passed at_stdop_prepare, so
 * the kernel's own argument checks would only repeat them. */
static at_status run_prepared(at_executor *ex, at_stdop op, const at_tensor *in,
                              const at_stdop_params *prm, const at_tensor *out,
                              at_error *err)
{
    const stdop *d = &ops[op];
    const at_program *p;
    at_status st;
    int ax;
    if (d->geom == AXIS_ROWS && !normal_axis(&in[0], prm->axis, &ax)
        && extent(&in[0], ax + 1, in[0].ndim) != 1)
        d = &ops[op = d->over_rows];
    if ((st = at_executor_program(ex, &kernels, (int)op, &p, err)))
        return st;
    at_arg args[5];
    size_t nargs = launch_args(d, in, prm, out, args), rows, cols, batch;
    launch_shape(d, in, prm, &rows, &cols, &batch);
    at_launch_diag diag;
    if (batch != 1) /* AXIS_COLS: x and out, a launch's part of each */
        return run_batches(ex, p, rows, cols, batch, args, err);
    st = at_launch_validated(ex, p, rows, cols, args, nargs, &diag, err);
    if (st == AT_E_INDEX && d->index_error)
        return d->index_error(in, cols, &diag, err);
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
    return run_prepared(ex, op, in, prm, out, err);
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
    st = run_prepared(ex, op, in, prm, out, err);
    if (st) {
        at_pool_free(at_executor_pool(ex), out->data);
        out->data = NULL;
    }
    return st;
}

/* The geometry's work before validation: m, n, k may be negative or huge,
 * and only a double in [0, 2^64) may become a size_t. */
static size_t work(const stdop *d, const at_tensor *in,
                   const at_stdop_params *prm)
{
    if (d->geom != MATMUL)
        return in[0].numel;
    double f = (double)prm->m * (double)prm->n * (double)prm->k;
    if (!(f > 0))
        return 0;
    return f > 1e18 ? (size_t)1 << 60 : (size_t)f;
}

size_t at_stdop_cost(at_executor *ex, at_stdop op, const at_tensor *in,
                     size_t nin, const at_stdop_params *prm)
{
    const at_program *p;
    size_t cost;
    if ((unsigned)op >= AT_STD_COUNT || nin != (size_t)ops[op].nin
        || at_executor_program(ex, &kernels, (int)op, &p, NULL))
        return 0;
    if (at_mul_overflow(work(&ops[op], in, prm), at_program_cost(p), &cost))
        return SIZE_MAX;
    return cost;
}
