/* Hologram Atlas — IR kernels: builder, verifier, inspection.
 *
 * The builder appends instructions in order and numbers values as they are
 * made, so SSA order holds by construction; a malformed request (unknown
 * operand, wrong type) is remembered and reported by at_kernel_verify, so a
 * caller can build a whole kernel and check once.  Verify derives each
 * value's level, each buffer param's role, and freezes the kernel. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "invariant.h"
#include "ir_internal.h"
#include "util.h"

static const char *const op_names[] = {
#define AT_IR_NAME(N, s, a) s,
    AT_IR_OPS(AT_IR_NAME)
#undef AT_IR_NAME
};

const char *at_irop_name(at_irop op)
{
    return (unsigned)op < AT_IR_OP_COUNT ? op_names[op] : "?";
}

static void build_fail(at_kernel *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void build_fail(at_kernel *k, const char *fmt, ...)
{
    if (k->build_status != AT_OK)
        return;   /* keep the first error */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->build_msg, sizeof k->build_msg, fmt, ap);
    va_end(ap);
    k->build_status = AT_E_VERIFY;
}

at_kernel *at_kernel_new(const char *name)
{
    at_kernel *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    snprintf(k->name, sizeof k->name, "%s", name ? name : "kernel");
    return k;
}

void at_kernel_free(at_kernel *k)
{
    if (!k)
        return;
    free(k->params);
    free(k->instrs);
    free(k->vtype);
    free(k->vlevel);
    free(k->vpost);
    free(k->vcol);
    free(k->role);
    free(k->stored);
    free(k->gathered);
    free(k);
}

int at_kernel_add_param(at_kernel *k, const char *name, at_dtype dt,
                        int is_scalar)
{
    if (k->frozen) {
        build_fail(k, "kernel is verified and frozen");
        return -1;
    }
    if ((unsigned)dt >= AT_DTYPE_COUNT) {
        build_fail(k, "param '%s': dtype must be f32, i32, i64 or bool", name);
        return -1;
    }
    if (is_scalar && (dt == AT_I32 || dt == AT_BOOL)) {
        build_fail(k, "param '%s': scalar params are f32 or i64", name);
        return -1;
    }
    for (int i = 0; i < k->nparams; i++)
        if (strcmp(k->params[i].name, name) == 0) {
            build_fail(k, "param '%s' declared twice", name);
            return -1;
        }
    if (strlen(name) >= sizeof k->params[0].name) {
        build_fail(k, "param name '%.40s...' is too long", name);
        return -1;
    }
    if (at_grow((void **)&k->params, &k->cap_params, k->nparams + 1,
                sizeof(at_param)))
    {
        build_fail(k, "out of memory");
        return -1;
    }
    at_param *p = &k->params[k->nparams];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->dtype = dt;
    p->is_scalar = is_scalar ? 1 : 0;
    return k->nparams++;
}

/* Append an instruction; returns it (or NULL after recording an error). */
static at_instr *emit(at_kernel *k, at_irop op, at_dtype type, int has_result)
{
    if (k->frozen) {
        build_fail(k, "kernel is verified and frozen");
        return NULL;
    }
    if (at_grow((void **)&k->instrs, &k->cap_instrs, k->ninstrs + 1,
                sizeof(at_instr))
        || at_grow((void **)&k->vtype, &k->cap_values, k->nvalues + 1,
                   sizeof(at_dtype)))
    {
        build_fail(k, "out of memory");
        return NULL;
    }
    at_instr *in = &k->instrs[k->ninstrs++];
    memset(in, 0, sizeof *in);
    in->op = op;
    in->type = type;
    in->param = -1;
    for (int i = 0; i < AT_IR_MAX_OPERANDS; i++)
        in->operands[i] = AT_NO_VALUE;
    in->result = AT_NO_VALUE;
    if (has_result) {
        in->result = k->nvalues;
        k->vtype[k->nvalues++] = type;
    }
    return in;
}

static int valid_value(at_kernel *k, at_value v, const char *op)
{
    if (v < 0 || v >= k->nvalues) {
        build_fail(k, "%s: operand %%%d is not defined", op, (int)v);
        return 0;
    }
    return 1;
}

static int buffer_param(at_kernel *k, int p, const char *op)
{
    if (p < 0 || p >= k->nparams) {
        build_fail(k, "%s: no param #%d", op, p);
        return 0;
    }
    if (k->params[p].is_scalar) {
        build_fail(k, "%s: param '%s' is a scalar, not a buffer", op,
                   k->params[p].name);
        return 0;
    }
    return 1;
}

static at_value result_of(at_instr *in)
{
    return in ? in->result : AT_NO_VALUE;
}

/* Appends op with the one operand a and a result of the given type. */
static at_value emit_unary(at_kernel *k, at_irop op, at_dtype type, at_value a)
{
    at_instr *in = emit(k, op, type, 1);
    if (in)
        in->operands[0] = a;
    return result_of(in);
}

/* Whether op is of the kind the builder function takes (ok); records
 * "<op> is not <kind>" when it is not. */
static int op_kind_ok(at_kernel *k, at_irop op, int ok, const char *kind)
{
    if (!ok)
        build_fail(k, "%s is not %s", at_irop_name(op), kind);
    return ok;
}

at_value at_ir_const_f32(at_kernel *k, float v)
{
    at_instr *in = emit(k, AT_IR_CONST, AT_F32, 1);
    if (in)
        in->imm.f32 = v;
    return result_of(in);
}

at_value at_ir_const_i64(at_kernel *k, int64_t v)
{
    at_instr *in = emit(k, AT_IR_CONST, AT_I64, 1);
    if (in)
        in->imm.i64 = v;
    return result_of(in);
}

at_value at_ir_param(at_kernel *k, int p)
{
    if (p < 0 || p >= k->nparams) {
        build_fail(k, "param: no param #%d", p);
        return AT_NO_VALUE;
    }
    if (!k->params[p].is_scalar) {
        build_fail(k, "param: '%s' is a buffer; use load", k->params[p].name);
        return AT_NO_VALUE;
    }
    at_instr *in = emit(k, AT_IR_PARAM, k->params[p].dtype, 1);
    if (in)
        in->param = p;
    return result_of(in);
}

at_value at_ir_nullary(at_kernel *k, at_irop op)
{
    if (op != AT_IR_ROW_INDEX && op != AT_IR_NROWS && op != AT_IR_NCOLS) {
        build_fail(k, "%s takes operands", at_irop_name(op));
        return AT_NO_VALUE;
    }
    return result_of(emit(k, op, AT_I64, 1));
}

at_value at_ir_load(at_kernel *k, at_irop op, int p)
{
    if (!op_kind_ok(k, op,
                    op == AT_IR_LOAD || op == AT_IR_LOAD_ROW
                        || op == AT_IR_LOAD_COL,
                    "a load")
        || !buffer_param(k, p, at_irop_name(op)))
        return AT_NO_VALUE;
    at_instr *in = emit(k, op, k->params[p].dtype, 1);
    if (in)
        in->param = p;
    return result_of(in);
}

static int is_int(at_dtype t) { return t == AT_I32 || t == AT_I64; }

at_value at_ir_gather(at_kernel *k, int p, at_value index)
{
    if (!buffer_param(k, p, "gather") || !valid_value(k, index, "gather"))
        return AT_NO_VALUE;
    if (!is_int(k->vtype[index])) {
        build_fail(k, "gather: index %%%d must be i32 or i64, not %s",
                   (int)index, at_dtype_name(k->vtype[index]));
        return AT_NO_VALUE;
    }
    at_instr *in = emit(k, AT_IR_GATHER, k->params[p].dtype, 1);
    if (in) {
        in->param = p;
        in->operands[0] = index;
    }
    return result_of(in);
}

void at_ir_store(at_kernel *k, int p, at_value v)
{
    if (!buffer_param(k, p, "store") || !valid_value(k, v, "store"))
        return;
    if (k->vtype[v] != k->params[p].dtype) {
        build_fail(k, "store: value %%%d is %s but buffer '%s' is %s", (int)v,
                   at_dtype_name(k->vtype[v]), k->params[p].name,
                   at_dtype_name(k->params[p].dtype));
        return;
    }
    at_instr *in = emit(k, AT_IR_STORE, k->vtype[v], 0);
    if (in) {
        in->param = p;
        in->operands[0] = v;
    }
}

static int is_float_unary(at_irop op)
{
    return op >= AT_IR_NEG && op <= AT_IR_EXPM1;
}
static int is_binary(at_irop op) { return op >= AT_IR_ADD && op <= AT_IR_NE; }
static int is_compare(at_irop op) { return op >= AT_IR_LT && op <= AT_IR_NE; }
static int is_reduce(at_irop op)
{
    return op >= AT_IR_REDUCE_SUM_ROW && op <= AT_IR_REDUCE_ARGMIN_COL;
}

at_value at_ir_unary(at_kernel *k, at_irop op, at_value a)
{
    const char *name = at_irop_name(op);
    if (!op_kind_ok(k, op, is_float_unary(op), "a unary op")
        || !valid_value(k, a, name))
        return AT_NO_VALUE;
    at_dtype t = k->vtype[a];
    int int_ok = (op == AT_IR_NEG || op == AT_IR_ABS) && is_int(t);
    if (t != AT_F32 && !int_ok) {
        build_fail(k, "%s: operand %%%d is %s; %s takes f32", name, (int)a,
                   at_dtype_name(t), name);
        return AT_NO_VALUE;
    }
    return emit_unary(k, op, t, a);
}

at_value at_ir_binary(at_kernel *k, at_irop op, at_value a, at_value b)
{
    const char *name = at_irop_name(op);
    if (!op_kind_ok(k, op, is_binary(op), "a binary op")
        || !valid_value(k, a, name) || !valid_value(k, b, name))
        return AT_NO_VALUE;
    at_dtype ta = k->vtype[a], tb = k->vtype[b];
    if (ta != tb) {
        build_fail(k, "%s: operand types differ: %%%d is %s, %%%d is %s", name,
                   (int)a, at_dtype_name(ta), (int)b, at_dtype_name(tb));
        return AT_NO_VALUE;
    }
    if ((ta == AT_BOOL && op != AT_IR_EQ && op != AT_IR_NE)
        || (is_int(ta) && op == AT_IR_DIV))
    {
        build_fail(k, "%s: not defined for %s operands", name,
                   at_dtype_name(ta));
        return AT_NO_VALUE;
    }
    at_instr *in = emit(k, op, is_compare(op) ? AT_BOOL : ta, 1);
    if (in) {
        in->operands[0] = a;
        in->operands[1] = b;
    }
    return result_of(in);
}

at_value at_ir_select(at_kernel *k, at_value c, at_value a, at_value b)
{
    if (!valid_value(k, c, "select") || !valid_value(k, a, "select")
        || !valid_value(k, b, "select"))
        return AT_NO_VALUE;
    if (k->vtype[c] != AT_BOOL) {
        build_fail(k, "select: condition %%%d must be bool, not %s", (int)c,
                   at_dtype_name(k->vtype[c]));
        return AT_NO_VALUE;
    }
    if (k->vtype[a] != k->vtype[b]) {
        build_fail(k, "select: operand types differ (%s, %s)",
                   at_dtype_name(k->vtype[a]), at_dtype_name(k->vtype[b]));
        return AT_NO_VALUE;
    }
    at_instr *in = emit(k, AT_IR_SELECT, k->vtype[a], 1);
    if (in) {
        in->operands[0] = c;
        in->operands[1] = a;
        in->operands[2] = b;
    }
    return result_of(in);
}

at_value at_ir_cast(at_kernel *k, at_dtype to, at_value a)
{
    if (!valid_value(k, a, "cast"))
        return AT_NO_VALUE;
    if ((unsigned)to >= AT_DTYPE_COUNT) {
        build_fail(k, "cast: only between f32, i32, i64 and bool");
        return AT_NO_VALUE;
    }
    return emit_unary(k, AT_IR_CAST, to, a);
}

void at_ir_check_range(at_kernel *k, at_value v, at_value lo, at_value hi)
{
    if (!valid_value(k, v, "check.range") || !valid_value(k, lo, "check.range")
        || !valid_value(k, hi, "check.range"))
        return;
    if (k->vtype[v] != AT_I64 || k->vtype[lo] != AT_I64
        || k->vtype[hi] != AT_I64)
    {
        build_fail(k, "check.range: operands must be i64");
        return;
    }
    at_instr *in = emit(k, AT_IR_CHECK_RANGE, AT_I64, 0);
    if (in) {
        in->operands[0] = v;
        in->operands[1] = lo;
        in->operands[2] = hi;
    }
}

at_value at_ir_reduce(at_kernel *k, at_irop op, at_value a)
{
    const char *name = at_irop_name(op);
    if (!op_kind_ok(k, op, is_reduce(op), "a reduction")
        || !valid_value(k, a, name))
        return AT_NO_VALUE;
    if (k->vtype[a] != AT_F32) {
        build_fail(k, "%s: operand %%%d is %s; reductions take f32", name,
                   (int)a, at_dtype_name(k->vtype[a]));
        return AT_NO_VALUE;
    }
    return emit_unary(k, op, at_is_arg_red(op) ? AT_I64 : AT_F32, a);
}

void at_ir_gemm(at_kernel *k, int a, int b, int c, int kp)
{
    at_ir_gemm_flags(k, a, b, c, kp, 0);
}

void at_ir_gemm_flags(at_kernel *k, int a, int b, int c, int kp, int flags)
{
    if (!buffer_param(k, a, "gemm") || !buffer_param(k, b, "gemm")
        || !buffer_param(k, c, "gemm"))
        return;
    if (kp < 0 || kp >= k->nparams || !k->params[kp].is_scalar
        || k->params[kp].dtype != AT_I64)
    {
        build_fail(k, "gemm: k must be an i64 scalar param");
        return;
    }
    for (int i = 0; i < 3; i++) {
        int p = i == 0 ? a : i == 1 ? b : c;
        if (k->params[p].dtype != AT_F32) {
            build_fail(k, "gemm: buffer '%s' must be f32", k->params[p].name);
            return;
        }
    }
    at_instr *in = emit(k, AT_IR_GEMM, AT_F32, 0);
    if (in) {
        in->params3[0] = a;
        in->params3[1] = b;
        in->params3[2] = c;
        in->imm.i64 = kp;
        in->flags = flags;
    }
}

/* ---- verification -------------------------------------------------------- */

static at_status vfail(at_error *err, const at_kernel *k, int i,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static at_status vfail(at_error *err, const at_kernel *k, int i,
                       const char *fmt, ...)
{
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (i >= 0)
        return at_error_set(err, AT_E_VERIFY,
                            "kernel '%s', instruction %d (%s): %s", k->name, i,
                            at_irop_name(k->instrs[i].op), msg);
    return at_error_set(err, AT_E_VERIFY, "kernel '%s': %s", k->name, msg);
}

static at_status set_role(at_kernel *k, int p, at_role r, int i, at_error *err)
{
    if (k->role[p] == AT_ROLE_NONE || k->role[p] == r) {
        k->role[p] = r;
        return AT_OK;
    }
    if (k->role[p] == AT_ROLE_GATHER || r == AT_ROLE_GATHER) {
        /* gathers read anywhere; the direct access sets the length rule */
        if (r != AT_ROLE_GATHER)
            k->role[p] = r;
        return AT_OK;
    }
    if (k->role[p] == AT_ROLE_COL || r == AT_ROLE_COL)
        return vfail(err, k, i,
                     k->stored[p] ? "buffer '%s' is both stored and loaded; "
                                    "write to a separate buffer"
                                  : "buffer '%s' is read at the column index "
                                    "and at another index",
                     k->params[p].name);
    return vfail(err, k, i, "buffer '%s' is accessed at two different levels",
                 k->params[p].name);
}

/* The per-value and per-param tables that verification fills, fresh (a
 * failed verification may have filled them in part). */
static at_status alloc_verify_tables(at_kernel *k, at_error *err)
{
    free(k->vlevel);
    free(k->vpost);
    free(k->vcol);
    free(k->role);
    free(k->stored);
    free(k->gathered);
    size_t nv = (size_t)(k->nvalues ? k->nvalues : 1),
           np = (size_t)(k->nparams ? k->nparams : 1);
    k->vlevel = calloc(nv, sizeof *k->vlevel);
    k->vpost = calloc(nv, 1);
    k->vcol = calloc(nv, 1);
    k->role = calloc(np, sizeof *k->role);
    k->stored = calloc(np, 1);
    k->gathered = calloc(np, 1);
    if (!k->vlevel || !k->vpost || !k->vcol || !k->role || !k->stored
        || !k->gathered)
        return at_error_set(err, AT_E_NOMEM, "kernel '%s': out of memory",
                            k->name);
    return AT_OK;
}

/* What the instructions contain that the whole-kernel rules look at. */
typedef struct verify_seen {
    int gemm, store;
} verify_seen;

/* The highest level among an instruction's operands, and whether any of
 * them is computed from a whole-launch reduction (post). */
static at_status operand_levels(const at_kernel *k, const at_instr *in,
                                at_level *lvl, int *post, at_error *err)
{
    *lvl = AT_LEVEL_UNIFORM;
    *post = 0;
    for (int j = 0; j < AT_IR_MAX_OPERANDS; j++) {
        at_value v = in->operands[j];
        if (v == AT_NO_VALUE)
            continue;
        /* the builder checks every operand and numbers values in order */
        AT_INVARIANT(v >= 0 && v < k->nvalues
                         && (in->result == AT_NO_VALUE || v < in->result),
                     err);
        if (k->vlevel[v] > *lvl)
            *lvl = k->vlevel[v];
        *post |= k->vpost[v];
    }
    return AT_OK;
}

/* The op's own rule: the level it runs at, given its operands' level *lvl;
 * the role it gives its buffer; the operands it refuses. */
static at_status apply_op_rule(at_kernel *k, int i, at_level *lvl, int *post,
                               verify_seen *seen, at_error *err)
{
    const at_instr *in = &k->instrs[i];
    at_status st;
    switch (in->op) {
        case AT_IR_LOAD:
            *lvl = AT_LEVEL_ELEM;
            return set_role(k, in->param, AT_ROLE_ELEM, i, err);
        case AT_IR_LOAD_ROW:
            *lvl = AT_LEVEL_ROW;
            return set_role(k, in->param, AT_ROLE_ROW, i, err);
        case AT_IR_LOAD_COL:
            *lvl = AT_LEVEL_ELEM; /* one value per column, so per element */
            return set_role(k, in->param, AT_ROLE_COL, i, err);
        case AT_IR_ROW_INDEX:
            *lvl = AT_LEVEL_ROW;
            return AT_OK;
        case AT_IR_GATHER:
            if (*lvl == AT_LEVEL_ELEM)
                return vfail(
                    err, k, i,
                    "gather with an element-level index is not supported");
            k->gathered[in->param] = 1;
            return set_role(k, in->param, AT_ROLE_GATHER, i, err);
        case AT_IR_CHECK_RANGE:
            if (*lvl == AT_LEVEL_ELEM)
                return vfail(err, k, i,
                             "check.range with an element-level operand is "
                             "not supported");
            return AT_OK;
        case AT_IR_STORE: {
            at_role r = k->vcol[in->operands[0]] ? AT_ROLE_COL
                        : *lvl == AT_LEVEL_ELEM  ? AT_ROLE_ELEM
                        : *lvl == AT_LEVEL_ROW   ? AT_ROLE_ROW
                                                 : AT_ROLE_ONE;
            if (k->stored[in->param])
                return vfail(err, k, i, "buffer '%s' is stored twice",
                             k->params[in->param].name);
            k->stored[in->param] = 1;
            seen->store = 1;
            return set_role(k, in->param, r, i, err);
        }
        case AT_IR_REDUCE_SUM_ROW:
        case AT_IR_REDUCE_MAX_ROW:
        case AT_IR_REDUCE_MIN_ROW:
            if (*lvl != AT_LEVEL_ELEM)
                return vfail(err, k, i,
                             "a row reduction needs an element-level operand");
            *lvl = AT_LEVEL_ROW;
            return AT_OK;
        case AT_IR_REDUCE_ARGMAX_ROW:
        case AT_IR_REDUCE_ARGMIN_ROW:
        case AT_IR_REDUCE_SUM_COL:
        case AT_IR_REDUCE_MAX_COL:
        case AT_IR_REDUCE_MIN_COL:
        case AT_IR_REDUCE_ARGMAX_COL:
        case AT_IR_REDUCE_ARGMIN_COL:
            if (*lvl != AT_LEVEL_ELEM)
                return vfail(err, k, i,
                             "an axis reduction needs an element-level "
                             "operand");
            /* a column result varies along the row: element level */
            *lvl = at_is_col_red(in->op) ? AT_LEVEL_ELEM : AT_LEVEL_ROW;
            return AT_OK;
        case AT_IR_REDUCE_SUM_ALL:
        case AT_IR_REDUCE_MAX_ALL:
        case AT_IR_REDUCE_MIN_ALL:
            if (*lvl == AT_LEVEL_UNIFORM)
                return vfail(err, k, i,
                             "a whole-launch reduction needs a row or "
                             "element operand");
            if (*post)
                return vfail(err, k, i,
                             "reduction of a value computed from another "
                             "whole-launch reduction");
            *lvl = AT_LEVEL_UNIFORM;
            *post = 1;
            return AT_OK;
        case AT_IR_GEMM:
            seen->gemm = 1;
            if (in->flags & ~(AT_GEMM_TRANS_A | AT_GEMM_TRANS_B))
                return vfail(err, k, i, "gemm: unknown flags 0x%x",
                             (unsigned)in->flags);
            /* the micro-kernel reads a and b while it writes c */
            if (in->params3[2] == in->params3[0]
                || in->params3[2] == in->params3[1])
                return vfail(err, k, i, "gemm writes '%s', which it also reads",
                             k->params[in->params3[2]].name);
            for (int j = 0; j < 3; j++)
                if ((st = set_role(k, in->params3[j], AT_ROLE_GEMM, i, err)))
                    return st;
            k->stored[in->params3[2]] = 1;
            seen->store = 1;
            return AT_OK;
        default:
            return AT_OK;
    }
}

/* Records the level of the instruction's result, once its rule has run. */
static at_status set_result_level(at_kernel *k, int i, at_level lvl, int post,
                                  int col, at_error *err)
{
    const at_instr *in = &k->instrs[i];
    if (post && lvl != AT_LEVEL_UNIFORM)
        return vfail(err, k, i,
                     "uses the result of a whole-launch reduction at %s level "
                     "(that would need a barrier inside the launch)",
                     lvl == AT_LEVEL_ELEM ? "element" : "row");
    if (in->result == AT_NO_VALUE)
        return AT_OK;
    k->vcol[in->result] = (unsigned char)col;
    k->vlevel[in->result] = lvl;
    k->vpost[in->result] = (unsigned char)post;
    return AT_OK;
}

static at_status verify_instr(at_kernel *k, int i, verify_seen *seen,
                              at_error *err)
{
    const at_instr *in = &k->instrs[i];
    at_level lvl;
    int post, col = at_is_col_red(in->op);
    at_status st;
    for (int j = 0; j < AT_IR_MAX_OPERANDS; j++)
        if (in->operands[j] != AT_NO_VALUE && in->operands[j] < k->nvalues)
            col |= k->vcol[in->operands[j]];
    if ((st = operand_levels(k, in, &lvl, &post, err))
        || (st = apply_op_rule(k, i, &lvl, &post, seen, err)))
        return st;
    return set_result_level(k, i, lvl, post, col, err);
}

/* Whether instruction in is arithmetic a column result may pass through on
 * its way to the store: add/sub/mul/div/min/max of it and a uniform value. */
static int col_step(const at_kernel *k, const at_instr *in, at_value v)
{
    if (in->op < AT_IR_ADD || in->op > AT_IR_MAX || in->op == AT_IR_POW)
        return 0;
    at_value other = in->operands[0] == v ? in->operands[1] : in->operands[0];
    return in->operands[0] != in->operands[1]
           && k->vlevel[other] == AT_LEVEL_UNIFORM;
}

/* An axis reduction (ir.h) is an intrinsic: the load it reads, itself, an
 * optional chain of col_step arithmetic (.col sum/max/min only) and one
 * store; every other instruction computes a uniform value. */
static at_status verify_axis_reduction(const at_kernel *k, at_error *err)
{
    int red = -1;
    for (int i = 0; i < k->ninstrs; i++)
        if (at_is_axis_red(k->instrs[i].op)) {
            if (red >= 0)
                return vfail(err, k, i,
                             "a kernel holds at most one axis reduction");
            red = i;
        }
    if (red < 0)
        return AT_OK;
    const at_instr *r = &k->instrs[red];
    at_value src = r->operands[0], cur = r->result;
    int stored = 0;
    for (int i = 0; i < k->ninstrs; i++) {
        const at_instr *in = &k->instrs[i];
        int uses_src = 0, uses_cur = 0, others = 0;
        for (int j = 0; j < AT_IR_MAX_OPERANDS; j++) {
            at_value v = in->operands[j];
            if (v == AT_NO_VALUE)
                continue;
            uses_src += v == src && i != red;
            uses_cur += v == cur;
            others += v != src && v != cur && k->vlevel[v] != AT_LEVEL_UNIFORM;
        }
        if (in->result == src) {
            if (in->op != AT_IR_LOAD)
                return vfail(err, k, red,
                             "the operand of an axis reduction must be a "
                             "load");
            continue;
        }
        if (i == red)
            continue;
        if (uses_src)
            return vfail(err, k, i,
                         "the load an axis reduction reads has no other "
                         "use");
        if (uses_cur && in->op == AT_IR_STORE && !stored) {
            stored = 1; /* the chain ends in its one store */
            continue;
        }
        if (uses_cur && !stored && !at_is_arg_red(r->op)
            && col_step(k, in, cur))
        {
            cur = in->result;
            continue;
        }
        if (uses_cur || others || in->op == AT_IR_STORE
            || (in->result != AT_NO_VALUE
                && k->vlevel[in->result] != AT_LEVEL_UNIFORM))
            return vfail(err, k, i,
                         "a kernel with an axis reduction only stores its "
                         "result%s; everything else is uniform",
                         at_is_arg_red(r->op)
                             ? ""
                             : ", perhaps after arithmetic with a uniform "
                               "value");
    }
    if (!stored)
        return vfail(err, k, red,
                     "the result of an axis reduction is not stored");
    return AT_OK;
}

/* The rules about the kernel as a whole, once every instruction passed. */
/* A buffer both loaded and stored is updated in place: set_role has
 * already made it read with `load` only and stored at the element index
 * (every element rewritten at its own index).  Every read of a value loaded
 * from it must come before its store, in instruction order and in phase
 * (the lowering runs the users of a row reduction one phase after its
 * operand, and writes the stored value in that value's phase), so that no
 * element is overwritten before its last read. */
static int operands_phase(const int *phase, const at_instr *in)
{
    int ph = 0;
    for (int j = 0; j < AT_IR_MAX_OPERANDS; j++)
        if (in->operands[j] != AT_NO_VALUE && phase[in->operands[j]] > ph)
            ph = phase[in->operands[j]];
    return ph;
}

/* Whether instruction in reads a value loaded from param p (from[v] is the
 * loaded param + 1, or 0). */
static int reads_param(const int *from, const at_instr *in, int p)
{
    for (int j = 0; j < AT_IR_MAX_OPERANDS; j++)
        if (in->operands[j] != AT_NO_VALUE && from[in->operands[j]] == p + 1)
            return 1;
    return 0;
}

static at_status check_in_place(const at_kernel *k, at_error *err)
{
    size_t nv = (size_t)(k->nvalues ? k->nvalues : 1);
    int *phase = calloc(nv, sizeof *phase), *from = calloc(nv, sizeof *from);
    at_status st = AT_OK;
    if (!phase || !from)
        st = at_error_set(err, AT_E_NOMEM, "kernel '%s': out of memory",
                          k->name);
    for (int i = 0; i < k->ninstrs && st == AT_OK; i++) {
        const at_instr *in = &k->instrs[i];
        if (in->result == AT_NO_VALUE)
            continue;
        phase[in->result] = operands_phase(phase, in)
                            + (in->op >= AT_IR_REDUCE_SUM_ROW
                               && in->op <= AT_IR_REDUCE_MIN_ROW);
        if (in->op == AT_IR_LOAD && k->stored[in->param])
            from[in->result] = in->param + 1;
    }
    for (int s = 0; s < k->ninstrs && st == AT_OK; s++) {
        const at_instr *so = &k->instrs[s];
        if (so->op != AT_IR_STORE || so->operands[0] == AT_NO_VALUE)
            continue;
        int ph = operands_phase(phase, so);
        for (int r = 0; r < k->ninstrs && st == AT_OK; r++) {
            const at_instr *in = &k->instrs[r];
            if (r == s || !reads_param(from, in, so->param))
                continue;
            if (r > s)
                st = vfail(err, k, r,
                           "buffer '%s' is read after its in-place store "
                           "(instruction %d)",
                           k->params[so->param].name, s);
            else if (operands_phase(phase, in) > ph)
                st = vfail(err, k, s,
                           "buffer '%s' is stored in place before its read "
                           "by instruction %d, which runs in a later phase",
                           k->params[so->param].name, r);
        }
    }
    free(phase);
    free(from);
    return st;
}

static at_status verify_kernel_rules(const at_kernel *k,
                                     const verify_seen *seen, at_error *err)
{
    for (int i = 0; i < k->ninstrs; i++) {
        const at_instr *in = &k->instrs[i];
        if ((in->op == AT_IR_LOAD_ROW || in->op == AT_IR_LOAD_COL)
            && k->stored[in->param])
            return vfail(err, k, i,
                         "buffer '%s' is both stored and loaded; write to a "
                         "separate buffer",
                         k->params[in->param].name);
    }
    if (seen->gemm && k->ninstrs != 1)
        return vfail(err, k, -1,
                     "gemm must be the only instruction of its kernel");
    if (!seen->store)
        return vfail(err, k, -1, "kernel stores nothing");
    at_status st = verify_axis_reduction(k, err);
    if (st)
        return st;
    st = check_in_place(k, err);
    if (st)
        return st;
    for (int p = 0; p < k->nparams; p++)
        if (k->stored[p] && k->gathered[p])
            return vfail(err, k, -1,
                         "buffer '%s' is both stored and gathered from",
                         k->params[p].name);
    return AT_OK;
}

at_status at_kernel_verify(at_kernel *k, at_error *err)
{
    if (!k)
        return at_error_set(err, AT_E_VERIFY, "kernel is NULL");
    if (k->frozen)
        return AT_OK;
    if (k->build_status != AT_OK)
        return at_error_set(err, k->build_status, "kernel '%s': %s", k->name,
                            k->build_msg);
    at_status st = alloc_verify_tables(k, err);
    if (st)
        return st;
    if (k->ninstrs == 0)
        return vfail(err, k, -1, "kernel has no instructions");
    verify_seen seen = {0, 0};
    for (int i = 0; i < k->ninstrs; i++)
        if ((st = verify_instr(k, i, &seen, err)))
            return st;
    if ((st = verify_kernel_rules(k, &seen, err)))
        return st;
    k->frozen = 1;
    return AT_OK;
}

/* ---- inspection ---------------------------------------------------------- */

const char *at_kernel_name(const at_kernel *k) { return k->name; }
int at_kernel_nparams(const at_kernel *k) { return k->nparams; }
const at_param *at_kernel_param(const at_kernel *k, int i)
{
    return i >= 0 && i < k->nparams ? &k->params[i] : NULL;
}
int at_kernel_ninstrs(const at_kernel *k) { return k->ninstrs; }
const at_instr *at_kernel_instr(const at_kernel *k, int i)
{
    return i >= 0 && i < k->ninstrs ? &k->instrs[i] : NULL;
}
int at_kernel_nvalues(const at_kernel *k) { return k->nvalues; }
at_level at_kernel_value_level(const at_kernel *k, at_value v)
{
    return k->vlevel && v >= 0 && v < k->nvalues ? k->vlevel[v]
                                                 : AT_LEVEL_UNIFORM;
}
at_dtype at_kernel_value_type(const at_kernel *k, at_value v)
{
    return v >= 0 && v < k->nvalues ? k->vtype[v] : AT_F32;
}
