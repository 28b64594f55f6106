/* Hologram Atlas — broadcasting elementwise ops (include/atlas/stdlib.h).
 *
 * at_bc_prepare computes NumPy's broadcast shape, collapses it and picks,
 * per operand, how the kernel reads it (load, load.row, load.col or a
 * scalar param) and the element type it computes in (PyTorch's
 * promotion); the kernel for that op, those reads and that type is
 * generated as IR text, verified and compiled once per executor through
 * the kernel set below.  at_bc_launch runs it: one launch of rows x cols, or an
 * outer loop of such launches with each operand's pointer offset by its
 * strides. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "atlas/client.h"
#include "atlas/stdlib.h"

#define COLD __attribute__((cold, noinline))

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

/* ---- element types ------------------------------------------------------ */

/* In PyTorch's promotion order: bool < int32 < int64 < float32. */
enum {
    T_BOOL,
    T_I32,
    T_I64,
    T_F32,
    NT
};
static const char *const type_name[NT] = {"bool", "i32", "i64", "f32"};
static const char type_letter[NT] = {'b', 'i', 'l', 'f'};

static int type_of(at_dtype d)
{
    switch (d) {
        case AT_BOOL:
            return T_BOOL;
        case AT_I32:
            return T_I32;
        case AT_I64:
            return T_I64;
        default:
            return T_F32;
    }
}

static at_dtype dtype_of(int t)
{
    static const at_dtype d[NT] = {AT_BOOL, AT_I32, AT_I64, AT_F32};
    return d[t];
}

/* ---- the kernel set: one kernel per op, operand reads and type ----------- */

/* An operand's state: read by load, load.row or load.col with its element
 * type (mode * NT + type), or a scalar param of f32 or i64. */
#define NTENSOR (3 * NT)
#define S_F32 NTENSOR
#define S_I64 (NTENSOR + 1)
#define NS (NTENSOR + 2)
/* where's condition: a bool read by load, load.row, load.col, or S_I64 */
#define NCOND 4
#define WHERE_BASE (AT_BC_WHERE * NT * NS * NS)
#define NKERNELS (WHERE_BASE + NT * NCOND * NS * NS)

static int cond_code(int state) { return state == S_I64 ? 3 : state / NT; }

static int kernel_index(const at_bc_plan *p)
{
    const int *s = p->state;
    if (p->op == AT_BC_WHERE)
        return WHERE_BASE
               + ((p->compute * NCOND + cond_code(s[0])) * NS + s[1]) * NS
               + s[2];
    return (((int)p->op * NT + p->compute) * NS + s[0]) * NS + s[1];
}

static void kernel_decode(int index, at_bcop *op, int *compute, int *state)
{
    if (index >= WHERE_BASE) {
        int i = index - WHERE_BASE;
        *op = AT_BC_WHERE;
        state[2] = i % NS;
        state[1] = i / NS % NS;
        int c = i / (NS * NS) % NCOND;
        state[0] = c == 3 ? S_I64 : c * NT + T_BOOL;
        *compute = i / (NS * NS * NCOND);
        return;
    }
    state[1] = index % NS;
    state[0] = index / NS % NS;
    *compute = index / (NS * NS) % NT;
    *op = (at_bcop)(index / (NS * NS * NT));
    state[2] = 0;
}

static const char *const mode_load[3] = {"load", "load.row", "load.col"};
static const char mode_letter[3] = {'f', 'r', 'c'};
static const char *const operand_names[3] = {"a", "b", "c"};

/* The element type operand i is read as, and the one the op needs. */
static int state_type(int state)
{
    return state == S_F32 ? T_F32 : state == S_I64 ? T_I64 : state % NT;
}

/* The kernel's text: operands a, b (, c) in order, then the output y.
 * Each operand is read, then cast to the type the op computes in (where's
 * condition to bool).  Comparisons store bool, the others the type. */
static size_t kernel_text(at_bcop op, int compute, const int *state, char *buf,
                          size_t cap)
{
    const bcop_desc *d = &bcops[op];
    char name[48];
    int n = snprintf(name, sizeof name, "%s_", d->name);
    for (int i = 0; i < d->nin; i++) {
        int st = state[i];
        name[n++] = st >= NTENSOR ? 's' : mode_letter[st / NT];
        name[n++] = type_letter[state_type(st)];
    }
    snprintf(name + n, sizeof name - (size_t)n, "_%c", type_letter[compute]);
    int result = d->bool_result ? T_BOOL : compute;
    size_t len = (size_t)snprintf(buf, cap, "kernel %s(", name);
#define APPEND(...)                                        \
    len += (size_t)snprintf(buf + (len < cap ? len : cap), \
                            len < cap ? cap - len : 0, __VA_ARGS__)
    for (int i = 0; i < d->nin; i++)
        APPEND("%s: %s%s, ", operand_names[i], type_name[state_type(state[i])],
               state[i] >= NTENSOR ? " scalar" : "");
    APPEND("y: %s) {\n", type_name[result]);
    /* bool arithmetic runs on 0 and 1 in i32 and casts back: + is max (or)
     * and * is min (and), as PyTorch's bool add and mul; a ** True is a and
     * a ** False is True */
    int logical = compute == T_BOOL && !d->bool_result && op != AT_BC_WHERE;
    const char *ir = !logical          ? d->ir
                     : op == AT_BC_ADD ? "max"
                     : op == AT_BC_MUL ? "min"
                                       : d->ir;
    const char *val[3]; /* each operand's value in the op's type */
    for (int i = 0; i < d->nin; i++) {
        const char *v = operand_names[i];
        int st = state[i], want = op == AT_BC_WHERE && i == 0 ? T_BOOL
                                  : logical                   ? T_I32
                                                              : compute;
        if (st >= NTENSOR)
            APPEND("  %%%s0 = param %s\n", v, v);
        else
            APPEND("  %%%s0 = %s %s\n", v, mode_load[st / NT], v);
        val[i] = "0";
        if (state_type(st) != want) {
            APPEND("  %%%s1 = cast.%s %%%s0\n", v, type_name[want], v);
            val[i] = "1";
        }
    }
    if (d->nin == 3)
        APPEND("  %%r = %s %%a%s, %%b%s, %%c%s\n", ir, val[0], val[1], val[2]);
    else
        APPEND("  %%r = %s %%a%s, %%b%s\n", ir, val[0], val[1]);
    if (logical)
        APPEND("  %%r1 = cast.bool %%r\n  store y, %%r1\n}\n");
    else
        APPEND("  store y, %%r\n}\n");
#undef APPEND
    return len;
}

static at_status build_kernel(int index, at_kernel **out, at_error *err)
{
    at_bcop op;
    int compute, state[3];
    char text[768];
    *out = NULL;
    if (index < 0 || index >= NKERNELS)
        return at_error_set(err, AT_E_VALUE, "broadcast: unknown kernel %d",
                            index);
    kernel_decode(index, &op, &compute, state);
    kernel_text(op, compute, state, text, sizeof text);
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

static COLD at_status bad_dtypes(const char *name, const at_bc_operand *x,
                                 size_t n, const char *why, at_error *err)
{
    static const char *const number[] = {[AT_F32] = "float",
                                         [AT_I32] = "int",
                                         [AT_I64] = "int",
                                         [AT_BOOL] = "bool"};
    char s[3][96], all[300];
    for (size_t i = 0; i < n; i++) {
        if (x[i].t) {
            char shape[64];
            at_format_shape(shape, sizeof shape, x[i].t->ndim, x[i].t->shape);
            snprintf(s[i], sizeof s[i], "%s %s", at_dtype_name(x[i].t->dtype),
                     shape);
        } else
            snprintf(s[i], sizeof s[i], "Python %s", number[x[i].kind]);
    }
    join(all, sizeof all, s, n);
    return at_error_set(err, AT_E_TYPE, "%s: operands %s: %s", name, all, why);
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

static int promote(int a, int b)
{
    return a < 0 ? b : b < 0 ? a : a > b ? a : b;
}

/* PyTorch's combination of a higher priority class of operands with a
 * lower one: the lower class wins only by a higher category (bool, integer,
 * float). */
static int combine(int hi, int lo)
{
    if (hi < 0)
        return lo;
    if (hi == T_F32)
        return hi;
    if (hi == T_BOOL || lo == T_F32)
        return promote(hi, lo);
    return hi;
}

/* The element type the op computes in (plan->compute), or TypeError. */
static at_status plan_types(at_bcop op, const char *name,
                            const at_bc_operand *x, size_t n, at_bc_plan *p,
                            at_error *err)
{
    int dim = -1, zero = -1, number = -1;
    size_t first = op == AT_BC_WHERE; /* where's condition is apart */
    if (op == AT_BC_WHERE && (!x[0].t || x[0].t->dtype != AT_BOOL))
        return bad_dtypes(name, x, n, "the condition must be a bool Buffer",
                          err);
    for (size_t i = first; i < n; i++) {
        at_dtype dt = x[i].t ? x[i].t->dtype : x[i].kind;
        if (op == AT_BC_SUB && dt == AT_BOOL)
            return bad_dtypes(name, x, n,
                              "subtraction with a bool is not supported "
                              "(as in PyTorch)",
                              err);
        if (!x[i].t)
            number = promote(number, type_of(x[i].kind));
        else if (x[i].t->ndim > 0)
            dim = promote(dim, type_of(x[i].t->dtype));
        else
            zero = promote(zero, type_of(x[i].t->dtype));
    }
    int t = combine(dim, combine(zero, number));
    if (op == AT_BC_DIV)
        t = T_F32; /* true division */
    else if (t == T_BOOL && bcops[op].bool_result)
        t = T_I32; /* bools compare as 0 and 1 */
    else if (t == T_BOOL && op == AT_BC_POW && x[1].t)
        return bad_dtypes(name, x, n,
                          "pow is not defined for two bools (a Python bool "
                          "exponent is)",
                          err);
    if (op == AT_BC_POW && t != T_F32 && !x[1].t && x[1].ivalue < 0)
        return at_error_set(err, AT_E_VALUE,
                            "%s: integers to negative integer powers are not "
                            "allowed (exponent %lld)",
                            name, (long long)x[1].ivalue);
    p->compute = t;
    for (size_t i = first; i < n; i++)
        if (!x[i].t && t == T_I32
            && (x[i].ivalue < INT32_MIN || x[i].ivalue > INT32_MAX))
            return at_error_set(err, AT_E_OVERFLOW,
                                "%s: %lld does not fit the int32 operand", name,
                                (long long)x[i].ivalue);
    return AT_OK;
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

/* Operand i's state (its read and type), data and value. */
static void set_state(at_bcop op, const at_bc_operand *x, size_t i,
                      at_bc_plan *p)
{
    int want = op == AT_BC_WHERE && i == 0 ? T_BOOL : p->compute;
    int scalar = want == T_F32 ? S_F32 : S_I64;
    p->data[i] = x->t ? x->t->data : NULL;
    p->dtype[i] = x->t ? x->t->dtype : x->kind;
    p->value[i] = 0.0f;
    p->ivalue[i] = 0;
    if (x->t)
        p->state[i] = p->mode[i] == AT_BC_SCALAR
                          ? scalar
                          : p->mode[i] * NT + type_of(x->t->dtype);
    else {
        p->state[i] = scalar;
        p->value[i] =
            x->kind == AT_F32 ? round_f32(x->value) : (float)x->ivalue;
        p->ivalue[i] = x->ivalue;
    }
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
    if ((st = plan_types(op, name, x, n, p, err)))
        return st;
    p->op = op;
    p->name = name;
    p->n = (int)n;
    p->out.data = NULL;
    p->out.dtype = d->bool_result ? AT_BOOL : dtype_of(p->compute);
    if (n == 2 && (x[0].t == NULL) != (x[1].t == NULL)) {
        plan_with_scalar(x, p);
    } else {
        if ((st = broadcast_shape(name, x, n, &p->out, err)))
            return st;
        collapse(x, n, p);
        choose_modes(x, n, p);
    }
    for (size_t i = 0; i < n; i++)
        set_state(op, &x[i], i, p);
    for (size_t i = n; i < 3; i++) {
        p->mode[i] = AT_BC_FULL;
        p->state[i] = 0;
        p->data[i] = NULL;
        p->dtype[i] = AT_F32;
    }
    p->kernel = kernel_index(p);
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

/* A one-element tensor operand read on the host, as the f32 or i64 scalar
 * param its state gives (integer and bool values converted as cast does). */
static void read_scalar(const char *base, at_dtype dt, int as_f32, at_arg *a)
{
    int64_t i = 0;
    float f = 0.0f;
    switch (dt) {
        case AT_F32:
            memcpy(&f, base, sizeof f);
            break;
        case AT_I32: {
            int32_t v;
            memcpy(&v, base, sizeof v);
            i = v;
            f = (float)v;
            break;
        }
        case AT_I64:
            memcpy(&i, base, sizeof i);
            f = (float)i;
            break;
        default:
            i = *(const unsigned char *)base != 0;
            f = (float)i;
            break;
    }
    if (as_f32)
        a->scalar.f32 = f;
    else
        a->scalar.i64 = i;
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
            if (p->state[i] == S_F32)
                a->scalar.f32 = p->value[i];
            else
                a->scalar.i64 = p->ivalue[i];
            continue;
        }
        const char *base = (const char *)p->data[i];
        if (off)
            base += off * at_dtype_size(p->dtype[i]);
        if (p->mode[i] == AT_BC_SCALAR) {
            read_scalar(base, p->dtype[i], p->state[i] == S_F32, a);
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

at_status at_bc_run_prepared(at_executor *ex, at_bc_plan *p, at_error *err)
{
    size_t nbytes;
    p->out.data = NULL;
    if (at_mul_overflow(p->out.numel, at_dtype_size(p->out.dtype), &nbytes))
        return at_error_set(err, AT_E_OVERFLOW,
                            "%s: the broadcast result is too large", p->name);
    p->out.data = at_pool_alloc(at_executor_pool(ex), nbytes);
    if (!p->out.data)
        return at_error_set(err, AT_E_NOMEM,
                            "%s: out of memory allocating %zu bytes", p->name,
                            nbytes);
    at_status st = at_bc_launch(ex, p, err);
    if (st) {
        at_pool_free(at_executor_pool(ex), p->out.data);
        p->out.data = NULL;
    }
    return st;
}

at_status at_bc_run_new(at_executor *ex, at_bcop op, const char *name,
                        const at_bc_operand *x, size_t n, at_tensor *out,
                        at_error *err)
{
    at_bc_plan p;
    out->data = NULL;
    at_status st = at_bc_prepare(op, name, x, n, &p, err);
    if (st == AT_OK && (st = at_bc_run_prepared(ex, &p, err)) == AT_OK)
        *out = p.out;
    return st;
}

at_status at_bc_kernel(const at_bc_plan *p, at_kernel **out, at_error *err)
{
    return build_kernel(p->kernel, out, err);
}
