/* Hologram Atlas — broadcasting elementwise ops (include/atlas/stdlib.h).
 *
 * at_bc_prepare computes NumPy's broadcast shape, collapses it and picks,
 * per operand, how the kernel reads it (load, load.row, load.col or a
 * scalar param); the kernel for that op and those modes is generated as IR
 * text, verified and compiled once per executor through the kernel set
 * below.  at_bc_launch runs it: one launch of rows x cols, or an outer loop
 * of such launches with each operand's pointer offset by its strides. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "atlas/client.h"
#include "atlas/stdlib.h"

#define COLD __attribute__((cold, noinline))

/* Whether the IR takes bool buffer params (comparison results, where's
 * condition).  Until it does, those ops raise TypeError. */
#ifndef AT_BC_BOOL_PARAMS
#define AT_BC_BOOL_PARAMS 0
#endif

/* ---- the ops ------------------------------------------------------------- */

typedef struct bcop_desc {
    const char *name;
    const char *ir;  /* the IR opcode */
    int nin;         /* 2, or 3 for where */
    int bool_result; /* comparisons */
} bcop_desc;

static const bcop_desc bcops[AT_BC_COUNT] = {
    [AT_BC_ADD] = {"add", "add", 2, 0},
    [AT_BC_SUB] = {"sub", "sub", 2, 0},
    [AT_BC_MUL] = {"mul", "mul", 2, 0},
    [AT_BC_DIV] = {"div", "div", 2, 0},
    [AT_BC_POW] = {"pow", "pow", 2, 0},
    [AT_BC_MAXIMUM] = {"maximum", "max", 2, 0},
    [AT_BC_MINIMUM] = {"minimum", "min", 2, 0},
    [AT_BC_LT] = {"lt", "lt", 2, 1},
    [AT_BC_LE] = {"le", "le", 2, 1},
    [AT_BC_GT] = {"gt", "gt", 2, 1},
    [AT_BC_GE] = {"ge", "ge", 2, 1},
    [AT_BC_EQ] = {"eq", "eq", 2, 1},
    [AT_BC_NE] = {"ne", "ne", 2, 1},
    [AT_BC_WHERE] = {"where", "select", 3, 0},
};

const char *at_bcop_name(at_bcop op)
{
    return (unsigned)op < AT_BC_COUNT ? bcops[op].name : "?";
}

int at_bcop_arity(at_bcop op)
{
    return (unsigned)op < AT_BC_COUNT ? bcops[op].nin : 2;
}

/* ---- the kernel set: one kernel per op and operand modes ----------------- */

/* Binary ops take NMODES^2 entries each; where takes NMODES^3 after them. */
#define NM AT_BC_NMODES
#define WHERE_BASE (AT_BC_WHERE * NM * NM)
#define NKERNELS (WHERE_BASE + NM * NM * NM)

static int kernel_index(at_bcop op, const int *mode)
{
    if (op == AT_BC_WHERE)
        return WHERE_BASE + (mode[0] * NM + mode[1]) * NM + mode[2];
    return ((int)op * NM + mode[0]) * NM + mode[1];
}

static void kernel_decode(int index, at_bcop *op, int *mode)
{
    if (index >= WHERE_BASE) {
        int i = index - WHERE_BASE;
        *op = AT_BC_WHERE;
        mode[0] = i / (NM * NM);
        mode[1] = i / NM % NM;
        mode[2] = i % NM;
        return;
    }
    *op = (at_bcop)(index / (NM * NM));
    mode[0] = index / NM % NM;
    mode[1] = index % NM;
    mode[2] = AT_BC_FULL;
}

static const char *const mode_load[NM] = {"load", "load.row", "load.col",
                                          "param"};
static const char mode_letter[NM] = {'f', 'r', 'c', 's'};
static const char *const operand_names[3] = {"a", "b", "c"};

/* The kernel's text: operands a, b (, c) in order, then the output y. */
static size_t kernel_text(at_bcop op, const int *mode, char *buf, size_t cap)
{
    const bcop_desc *d = &bcops[op];
    char name[32];
    int n = snprintf(name, sizeof name, "%s_", d->name);
    for (int i = 0; i < d->nin; i++)
        name[n++] = mode_letter[mode[i]];
    name[n] = '\0';
    size_t len = (size_t)snprintf(buf, cap, "kernel %s(", name);
#define APPEND(...)                                        \
    len += (size_t)snprintf(buf + (len < cap ? len : cap), \
                            len < cap ? cap - len : 0, __VA_ARGS__)
    for (int i = 0; i < d->nin; i++) {
        const char *dt = op == AT_BC_WHERE && i == 0 ? "bool" : "f32";
        APPEND("%s: %s%s, ", operand_names[i], dt,
               mode[i] == AT_BC_SCALAR ? " scalar" : "");
    }
    APPEND("y: %s) {\n", d->bool_result ? "bool" : "f32");
    for (int i = 0; i < d->nin; i++)
        APPEND("  %%%s = %s %s\n", operand_names[i], mode_load[mode[i]],
               operand_names[i]);
    if (d->nin == 3)
        APPEND("  %%r = %s %%a, %%b, %%c\n", d->ir);
    else
        APPEND("  %%r = %s %%a, %%b\n", d->ir);
    APPEND("  store y, %%r\n}\n");
#undef APPEND
    return len;
}

static at_status build_kernel(int index, at_kernel **out, at_error *err)
{
    at_bcop op;
    int mode[3];
    char text[512];
    *out = NULL;
    if (index < 0 || index >= NKERNELS)
        return at_error_set(err, AT_E_VALUE, "broadcast: unknown kernel %d",
                            index);
    kernel_decode(index, &op, mode);
    kernel_text(op, mode, text, sizeof text);
    return at_kernel_parse(text, out, err);
}

static at_kernel_set kernels = {
    .name = "stdlib.broadcast",
    .count = NKERNELS,
    .build = build_kernel,
};

/* ---- prepare ------------------------------------------------------------- */

/* "x and y", or "x, y and z": the operands in a message. */
static void join(char *buf, size_t cap, char (*s)[96], size_t n)
{
    if (n == 3)
        snprintf(buf, cap, "%s, %s and %s", s[0], s[1], s[2]);
    else
        snprintf(buf, cap, "%s and %s", s[0], s[1]);
}

static COLD at_status not_broadcastable(const char *name,
                                        const at_bc_operand *x, size_t n,
                                        at_error *err)
{
    char s[3][96], all[300];
    for (size_t i = 0; i < n; i++) {
        if (x[i].t)
            at_format_shape(s[i], sizeof s[i], x[i].t->ndim, x[i].t->shape);
        else
            snprintf(s[i], sizeof s[i], "scalar");
    }
    join(all, sizeof all, s, n);
    return at_error_set(err, AT_E_VALUE,
                        "%s: shapes %s cannot be broadcast together", name,
                        all);
}

static COLD at_status bad_dtypes(at_bcop op, const char *name,
                                 const at_bc_operand *x, size_t n,
                                 at_error *err)
{
    char s[3][96], all[300];
    for (size_t i = 0; i < n; i++)
        snprintf(s[i], sizeof s[i], "%s",
                 x[i].t ? at_dtype_name(x[i].t->dtype) : "scalar");
    join(all, sizeof all, s, n);
    if (!AT_BC_BOOL_PARAMS && (bcops[op].bool_result || op == AT_BC_WHERE))
        return at_error_set(err, AT_E_TYPE,
                            "%s: operands of dtypes %s: bool buffers are not "
                            "supported in kernels yet",
                            name, all);
    return at_error_set(
        err, AT_E_TYPE, "%s: operands of dtypes %s are not supported (%s)",
        name, all, n == 3 ? "condition bool, values float32" : "float32 only");
}

static COLD at_status bad_operand(const char *name, size_t i, const char *what,
                                  at_error *err)
{
    return at_error_set(err, AT_E_VALUE, "%s: operand %zu %s", name, i, what);
}

/* v rounded to float32; beyond the float range, the infinity it rounds to
 * (a plain conversion of an out-of-range double is undefined). */
static float round_f32(double v)
{
    if (fabs(v) >= 0x1.ffffffp127) /* halfway from FLT_MAX to 2^128 */
        return v > 0 ? HUGE_VALF : -HUGE_VALF;
    return (float)v;
}

/* Each tensor's shape is the contract: numel = prod(shape), data aligned. */
static at_status check_operand(const char *name, const at_tensor *t, size_t i,
                               at_error *err)
{
    if (t->ndim < 0 || t->ndim > AT_MAX_DIMS)
        return bad_operand(name, i, "has a rank out of range", err);
    size_t numel = 1;
    for (int k = 0; k < t->ndim; k++)
        if (t->shape[k] < 0
            || at_mul_overflow(numel, (size_t)t->shape[k], &numel))
            return bad_operand(name, i, "has an invalid shape", err);
    if (numel != t->numel)
        return bad_operand(name, i, "has a shape that disagrees with its size",
                           err);
    if ((numel && !t->data) || !at_is_aligned(t->data, t->dtype))
        return bad_operand(name, i, "has no data or misaligned data", err);
    return AT_OK;
}

static int dtypes_supported(at_bcop op, const at_bc_operand *x, size_t n)
{
    if (bcops[op].bool_result && !AT_BC_BOOL_PARAMS)
        return 0;
    for (size_t i = 0; i < n; i++) {
        at_dtype want = op == AT_BC_WHERE && i == 0 ? AT_BOOL : AT_F32;
        if (op == AT_BC_WHERE && i == 0 && !AT_BC_BOOL_PARAMS)
            return 0;
        if (x[i].t ? x[i].t->dtype != want : want != AT_F32)
            return 0;
    }
    return 1;
}

/* NumPy's broadcast shape of the operands into out (ndim, shape, numel). */
static at_status broadcast_shape(const char *name, const at_bc_operand *x,
                                 size_t n, at_tensor *out, at_error *err)
{
    int nd = 0;
    for (size_t i = 0; i < n; i++)
        if (x[i].t && x[i].t->ndim > nd)
            nd = x[i].t->ndim;
    out->ndim = nd;
    size_t numel = 1;
    for (int k = 0; k < nd; k++) {
        int64_t size = 1;
        for (size_t i = 0; i < n; i++) {
            const at_tensor *t = x[i].t;
            int kk = t ? k - (nd - t->ndim) : -1;
            if (kk < 0 || t->shape[kk] == 1)
                continue;
            if (size != 1 && size != t->shape[kk])
                return not_broadcastable(name, x, n, err);
            size = t->shape[kk];
        }
        out->shape[k] = size;
        if (at_mul_overflow(numel, (size_t)size, &numel))
            return at_error_set(err, AT_E_OVERFLOW,
                                "%s: the broadcast result is too large", name);
    }
    out->numel = numel;
    return AT_OK;
}

/* Collapse the output's dims: drop those of size 1, merge neighbours where
 * every operand is present (or broadcast) in both; record each operand's
 * element stride per collapsed dim (0 where it is broadcast). */
static void collapse(const at_bc_operand *x, size_t n, at_bc_plan *p)
{
    const at_tensor *o = &p->out;
    unsigned prev = ~0u;
    p->nd = 0;
    for (int k = 0; k < o->ndim; k++) {
        if (o->shape[k] == 1)
            continue;
        unsigned present = 0;
        for (size_t i = 0; i < n; i++) {
            const at_tensor *t = x[i].t;
            int kk = t ? k - (o->ndim - t->ndim) : -1;
            if (kk >= 0 && t->shape[kk] == o->shape[k])
                present |= 1u << i;
        }
        if (present == prev) {
            p->dim[p->nd - 1] *= o->shape[k];
        } else {
            p->dim[p->nd] = o->shape[k];
            for (size_t i = 0; i < n; i++)
                p->stride[i][p->nd] = (present >> i) & 1u;
            p->nd++;
            prev = present;
        }
    }
    /* strides: products of the later present dims */
    for (size_t i = 0; i < n; i++) {
        int64_t s = 1;
        for (int k = p->nd - 1; k >= 0; k--) {
            if (p->stride[i][k]) {
                p->stride[i][k] = s;
                s *= p->dim[k];
            }
        }
    }
}

/* Launch geometry and each operand's mode from the collapsed dims. */
static void choose_modes(const at_bc_operand *x, size_t n, at_bc_plan *p)
{
    int nd = p->nd;
    p->rows = nd >= 2 ? (size_t)p->dim[nd - 2] : 1;
    p->cols = nd >= 1 ? (size_t)p->dim[nd - 1] : 1;
    p->outer = 1;
    for (int k = 0; k + 2 < nd; k++)
        p->outer *= (size_t)p->dim[k];
    for (size_t i = 0; i < n; i++) {
        int by_row = nd >= 2 && p->stride[i][nd - 2];
        int by_col = nd >= 1 && p->stride[i][nd - 1];
        if (!x[i].t)
            p->mode[i] = AT_BC_SCALAR;
        else if (nd == 0 || (by_col && (by_row || nd == 1)))
            p->mode[i] = AT_BC_FULL;
        else if (by_col)
            p->mode[i] = AT_BC_COL;
        else if (by_row)
            p->mode[i] = AT_BC_ROW;
        else
            p->mode[i] = AT_BC_SCALAR; /* one element, read on the host */
    }
}

/* A tensor with a Python scalar (the common `2.0 * a`): the tensor's own
 * shape, one launch of 1 x its elements. */
static void plan_with_scalar(const at_bc_operand *x, at_bc_plan *p)
{
    int ti = x[0].t ? 0 : 1;
    const at_tensor *t = x[ti].t;
    p->out.ndim = t->ndim;
    memcpy(p->out.shape, t->shape, (size_t)t->ndim * sizeof *t->shape);
    p->out.numel = t->numel;
    p->nd = 1;
    p->dim[0] = (int64_t)t->numel;
    p->stride[ti][0] = 1;
    p->stride[1 - ti][0] = 0;
    p->outer = p->rows = 1;
    p->cols = t->numel;
    p->mode[ti] = AT_BC_FULL;
    p->mode[1 - ti] = AT_BC_SCALAR;
}

at_status at_bc_prepare(at_bcop op, const char *name, const at_bc_operand *x,
                        size_t n, at_bc_plan *p, at_error *err)
{
    if ((unsigned)op >= AT_BC_COUNT)
        return at_error_set(err, AT_E_VALUE, "unknown broadcast op %d",
                            (int)op);
    const bcop_desc *d = &bcops[op];
    name = name ? name : d->name;
    if (n != (size_t)d->nin)
        return at_error_set(err, AT_E_VALUE, "%s takes %d operands, got %zu",
                            name, d->nin, n);
    at_status st;
    for (size_t i = 0; i < n; i++)
        if (x[i].t && (st = check_operand(name, x[i].t, i, err)))
            return st;
    if (!dtypes_supported(op, x, n))
        return bad_dtypes(op, name, x, n, err);
    p->op = op;
    p->name = name;
    p->n = (int)n;
    p->out.data = NULL;
    p->out.dtype = d->bool_result ? AT_BOOL : AT_F32;
    if (n == 2 && (x[0].t == NULL) != (x[1].t == NULL)) {
        plan_with_scalar(x, p);
    } else {
        if ((st = broadcast_shape(name, x, n, &p->out, err)))
            return st;
        collapse(x, n, p);
        choose_modes(x, n, p);
    }
    for (size_t i = 0; i < n; i++) {
        p->data[i] = x[i].t ? x[i].t->data : NULL;
        p->dtype[i] = x[i].t ? x[i].t->dtype : AT_F32;
        p->value[i] = round_f32(x[i].value);
    }
    for (size_t i = n; i < 3; i++) {
        p->mode[i] = AT_BC_FULL;
        p->data[i] = NULL;
        p->dtype[i] = AT_F32;
    }
    p->kernel = kernel_index(op, p->mode);
    return AT_OK;
}

/* ---- launch -------------------------------------------------------------- */

size_t at_bc_cost(at_executor *ex, const at_bc_plan *p)
{
    const at_program *prog;
    size_t cost;
    if (at_executor_program(ex, &kernels, p->kernel, &prog, NULL))
        return 0;
    if (at_mul_overflow(p->out.numel, at_program_cost(prog), &cost))
        return SIZE_MAX;
    return cost;
}

static size_t mode_numel(const at_bc_plan *p, int mode)
{
    switch (mode) {
        case AT_BC_FULL:
            return p->rows * p->cols;
        case AT_BC_ROW:
            return p->rows;
        case AT_BC_COL:
            return p->cols;
        default:
            return 1;
    }
}

/* The output may be exactly an operand's memory only when that operand is
 * read at the element index. */
static at_status check_output(const at_bc_plan *p, at_error *err)
{
    const at_tensor *o = &p->out;
    if (o->numel && !o->data)
        return at_error_set(err, AT_E_VALUE, "%s: the output has no data",
                            p->name);
    if (!at_is_aligned(o->data, o->dtype))
        return at_error_set(err, AT_E_VALUE,
                            "%s: the output is not aligned to its elements",
                            p->name);
    for (int i = 0; i < p->n; i++) {
        if (!p->data[i])
            continue;
        size_t span = 1;
        for (int k = 0; k < p->nd; k++)
            if (p->stride[i][k])
                span *= (size_t)p->dim[k];
        at_dtype dt = p->dtype[i];
        if (!at_spans_overlap(o->data, o->numel, o->dtype, p->data[i], span,
                              dt))
            continue;
        if (p->data[i] == o->data && p->mode[i] == AT_BC_FULL
            && span == o->numel && dt == o->dtype)
            continue;
        return at_error_set(err, AT_E_VALUE,
                            "%s: the output overlaps operand %d", p->name, i);
    }
    return AT_OK;
}

/* One launch: the operands offset by the outer index's strides. */
static at_status launch_one(at_executor *ex, const at_program *prog,
                            const at_bc_plan *p, size_t outer_index,
                            at_error *err)
{
    at_arg args[4];
    int k0 = p->nd - 2; /* the outer dims are 0 .. k0-1 */
    for (int i = 0; i < p->n; i++) {
        at_arg *a = &args[i];
        memset(a, 0, sizeof *a);
        size_t off = 0, rest = outer_index;
        for (int k = k0 - 1; k >= 0; k--) {
            off += rest % (size_t)p->dim[k] * (size_t)p->stride[i][k];
            rest /= (size_t)p->dim[k];
        }
        if (!p->data[i]) {
            a->scalar.f32 = p->value[i];
            continue;
        }
        const char *base = (const char *)p->data[i];
        if (off)
            base += off * at_dtype_size(p->dtype[i]);
        if (p->mode[i] == AT_BC_SCALAR) {
            memcpy(&a->scalar.f32, base, sizeof a->scalar.f32);
            continue;
        }
        a->data = (void *)base;
        a->numel = mode_numel(p, p->mode[i]);
        a->dtype = p->dtype[i];
    }
    at_arg *y = &args[p->n];
    size_t per = p->rows * p->cols;
    y->scalar.i64 = 0;
    y->data = p->out.data;
    if (outer_index)
        y->data =
            (char *)y->data + outer_index * per * at_dtype_size(p->out.dtype);
    y->numel = per;
    y->dtype = p->out.dtype;
    return at_launch_validated(ex, prog, p->rows, p->cols, args,
                               (size_t)p->n + 1, NULL, err);
}

at_status at_bc_launch(at_executor *ex, const at_bc_plan *p, at_error *err)
{
    at_status st;
    if ((st = check_output(p, err)))
        return st;
    if (p->out.numel == 0)
        return AT_OK;
    const at_program *prog;
    if ((st = at_executor_program(ex, &kernels, p->kernel, &prog, err)))
        return st;
    for (size_t o = 0; o < p->outer; o++)
        if ((st = launch_one(ex, prog, p, o, err)))
            return st;
    return AT_OK;
}

at_status at_bc_run_new(at_executor *ex, at_bcop op, const char *name,
                        const at_bc_operand *x, size_t n, at_tensor *out,
                        at_error *err)
{
    at_bc_plan p;
    out->data = NULL;
    at_status st = at_bc_prepare(op, name, x, n, &p, err);
    if (st)
        return st;
    size_t nbytes;
    if (at_mul_overflow(p.out.numel, at_dtype_size(p.out.dtype), &nbytes))
        return at_error_set(err, AT_E_OVERFLOW,
                            "%s: the broadcast result is too large", p.name);
    p.out.data = at_pool_alloc(at_executor_pool(ex), nbytes);
    if (!p.out.data)
        return at_error_set(err, AT_E_NOMEM,
                            "%s: out of memory allocating %zu bytes", p.name,
                            nbytes);
    if ((st = at_bc_launch(ex, &p, err))) {
        at_pool_free(at_executor_pool(ex), p.out.data);
        return st;
    }
    *out = p.out;
    return AT_OK;
}

at_status at_bc_kernel(const at_bc_plan *p, at_kernel **out, at_error *err)
{
    return build_kernel(p->kernel, out, err);
}
