/* Hologram Atlas — the standard library's flat unary kernels on any dtype:
 * astype, a buffer converted to another storage dtype as PyTorch's
 * .to(dtype) does on x86, and the integer neg and abs.
 *
 * One IR kernel per ordered pair of different dtypes, `y = cast.<to> x`
 * over the flat buffer, in its own kernel set (each executor compiles a
 * pair's kernel the first time it converts that pair).  The IR's cast is
 * PyTorch's conversion: a float to an integer truncates toward zero, NaN,
 * inf and values out of range give the integer type's minimum; integers to
 * float32 round to nearest; i64 to i32 keeps the low 32 bits; bool is 0 or
 * 1; a number is true where it is nonzero (NaN too).
 *
 * The integer neg and abs are `y = neg x` and `y = abs x` on int32 or int64,
 * wrapping as PyTorch does (-MIN and |MIN| are MIN), one kernel each in a
 * kernel set of their own. */
#include <stdio.h>
#include "atlas/client.h"
#include "atlas/stdlib.h"
#include "tensor.h"

/* The IR's name of each storage dtype, indexed by at_dtype. */
static const char *const ir_type[AT_DTYPE_COUNT] = {
    [AT_F32] = "f32", [AT_I32] = "i32", [AT_I64] = "i64", [AT_BOOL] = "bool"};

/* Kernel from * AT_DTYPE_COUNT + to converts from into to (from != to). */
static at_status build_cast(int index, at_kernel **out, at_error *err)
{
    int from = index / AT_DTYPE_COUNT, to = index % AT_DTYPE_COUNT;
    char text[256];
    *out = NULL;
    if (from == to)
        return at_error_set(err, AT_E_VALUE, "astype: no kernel from %s to %s",
                            ir_type[from], ir_type[to]);
    snprintf(text, sizeof text,
             "kernel astype_%s_%s(x: %s, y: %s) {\n"
             "  %%x = load x\n  %%y = cast.%s %%x\n  store y, %%y\n}\n",
             ir_type[from], ir_type[to], ir_type[from], ir_type[to],
             ir_type[to]);
    return at_kernel_parse(text, out, err);
}

static at_kernel_set casts = {
    .name = "stdlib.astype",
    .count = AT_DTYPE_COUNT * AT_DTYPE_COUNT,
    .build = build_cast,
};

/* The program converting x to `to`, after checking both. */
static at_status cast_program(at_executor *ex, const at_tensor *x, at_dtype to,
                              const at_program **p, at_error *err)
{
    if (!std_tensor_valid(x))
        return at_error_set(err, AT_E_VALUE,
                            "astype: the input's rank, shape and element "
                            "count disagree");
    if ((unsigned)x->dtype >= AT_DTYPE_COUNT || (unsigned)to >= AT_DTYPE_COUNT)
        return at_error_set(err, AT_E_TYPE, "astype: unknown dtype %d or %d",
                            (int)x->dtype, (int)to);
    if (x->dtype == to)
        return at_error_set(err, AT_E_VALUE,
                            "astype: the input is %s already (a copy is "
                            "what is meant)",
                            at_dtype_name(to));
    return at_executor_program(ex, &casts, (int)x->dtype * AT_DTYPE_COUNT + to,
                               p, err);
}

/* Allocate y with x's shape and dtype `to` from the pool and run the flat
 * program p (one input, one output) over it; fn names the op. */
static at_status flat_run_new(at_executor *ex, const at_program *p,
                              const at_tensor *x, at_dtype to, at_tensor *out,
                              const char *fn, at_error *err)
{
    if (x->numel && !x->data)
        return at_error_set(err, AT_E_VALUE, "%s: the input has no data", fn);
    if (!at_is_aligned(x->data, x->dtype))
        return at_error_set(err, AT_E_VALUE,
                            "%s: the input is not aligned to its "
                            "%zu-byte elements",
                            fn, at_dtype_size(x->dtype));
    *out = *x;
    out->dtype = to;
    size_t nbytes = x->numel * at_dtype_size(to); /* numel < SIZE_MAX / 8 */
    at_pool *pool = at_executor_pool(ex);
    out->data = at_pool_alloc(pool, nbytes);
    if (!out->data)
        return at_error_set(err, AT_E_NOMEM,
                            "%s: out of memory allocating %zu bytes", fn,
                            nbytes);
    if (!x->numel)
        return AT_OK;
    at_arg args[2];
    args[0].scalar.i64 = 0;
    args[0].data = x->data;
    args[0].numel = x->numel;
    args[0].dtype = x->dtype;
    args[1] = args[0];
    args[1].data = out->data;
    args[1].dtype = to;
    at_status st = at_launch_validated(ex, p, 1, x->numel, args, 2, NULL, err);
    if (st) {
        at_pool_free(pool, out->data);
        out->data = NULL;
    }
    return st;
}

/* The work of program p over x in at_stdop_cost's units. */
static size_t flat_cost(const at_program *p, const at_tensor *x)
{
    size_t cost;
    return at_mul_overflow(x->numel, at_program_cost(p), &cost) ? SIZE_MAX
                                                                : cost;
}

at_status at_astype_run_new(at_executor *ex, const at_tensor *x, at_dtype to,
                            at_tensor *out, at_error *err)
{
    const at_program *p;
    out->data = NULL;
    at_status st = cast_program(ex, x, to, &p, err);
    return st ? st : flat_run_new(ex, p, x, to, out, "astype", err);
}

size_t at_astype_cost(at_executor *ex, const at_tensor *x, at_dtype to)
{
    const at_program *p;
    return cast_program(ex, x, to, &p, NULL) ? 0 : flat_cost(p, x);
}

/* ---- integer neg and abs --------------------------------------------------
 */

/* Kernel 2 * op + w: op 0 neg, 1 abs; w 0 int32, 1 int64. */
static at_status build_int_unary(int index, at_kernel **out, at_error *err)
{
    static const char *const op_name[2] = {"neg", "abs"};
    static const char *const type[2] = {"i32", "i64"};
    const char *op = op_name[index / 2 % 2], *t = type[index % 2];
    char text[256];
    snprintf(text, sizeof text,
             "kernel %s_%s(x: %s, y: %s) {\n"
             "  %%x = load x\n  %%y = %s %%x\n  store y, %%y\n}\n",
             op, t, t, t, op);
    return at_kernel_parse(text, out, err);
}

static at_kernel_set int_unary = {
    .name = "stdlib.int_unary",
    .count = 4,
    .build = build_int_unary,
};

static at_status int_unary_program(at_executor *ex, at_stdop op,
                                   const at_tensor *x, const at_program **p,
                                   at_error *err)
{
    if (op != AT_STD_NEG && op != AT_STD_ABS)
        return at_error_set(err, AT_E_VALUE,
                            "int_unary: op %d is not neg or abs", (int)op);
    const char *fn = at_stdop_name(op);
    if (!std_tensor_valid(x))
        return at_error_set(err, AT_E_VALUE,
                            "%s: the input's rank, shape and element count "
                            "disagree",
                            fn);
    if (x->dtype != AT_I32 && x->dtype != AT_I64)
        return at_error_set(err, AT_E_TYPE,
                            "%s: the integer form takes int32 or int64, got %s",
                            fn, at_dtype_name(x->dtype));
    int index = 2 * (op == AT_STD_ABS) + (x->dtype == AT_I64);
    return at_executor_program(ex, &int_unary, index, p, err);
}

at_status at_int_unary_run_new(at_executor *ex, at_stdop op, const at_tensor *x,
                               at_tensor *out, at_error *err)
{
    const at_program *p;
    out->data = NULL;
    at_status st = int_unary_program(ex, op, x, &p, err);
    return st ? st
              : flat_run_new(ex, p, x, x->dtype, out, at_stdop_name(op), err);
}

size_t at_int_unary_cost(at_executor *ex, at_stdop op, const at_tensor *x)
{
    const at_program *p;
    return int_unary_program(ex, op, x, &p, NULL) ? 0 : flat_cost(p, x);
}
