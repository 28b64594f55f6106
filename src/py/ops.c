/* Hologram Atlas — hg.ops: one vectorcall function per standard-library op.
 *
 * The hot path (e.g. vector_add(a, b)) does: two type checks, one executor
 * comparison, at_stdop_cost (to decide on releasing the GIL), one
 * at_stdop_run_new (validate, allocate the result from the pool, run) and
 * one object for the result, usually from a freelist.  No tuples, dicts or
 * keyword parsing unless keywords are actually passed. */
#include "hg.h"

#include <string.h>

static const at_stdop_params default_params = {
    .scalar = 0.0f,
    .ignore_index = -100,
    .m = 0,
    .n = 0,
    .k = 0,
};

static PyObject *not_a_buffer(const char *fn, hg_kw name, PyObject *o)
{
    PyErr_Format(PyExc_TypeError,
                 "%s: argument '%s' must be a hologram.Buffer, got %.200s", fn,
                 hg_kw_names[name], Py_TYPE(o)->tp_name);
    return NULL;
}

/* Validate the inputs, prepare, allocate the output and launch. */
static PyObject *run_op(hg_state *st, at_stdop op, const char *fn,
                        PyObject *const *ins, const hg_kw *names, int nin,
                        const at_stdop_params *params)
{
    at_tensor in[2];
    ExecutorObject *exec = NULL;
    for (int i = 0; i < nin; i++) {
        PyObject *o = ins[i];
        if (!hg_buffer_check(st, o))
            return not_a_buffer(fn, names[i], o);
        BufferObject *b = (BufferObject *)o;
        if (i == 0) {
            exec = b->exec;
        } else if (b->exec != exec) {
            PyErr_Format(PyExc_ValueError,
                         "%s: buffers belong to different executors", fn);
            return NULL;
        }
        in[i] = b->t;
    }
    at_tensor out;
    at_error err;
    err.msg[0] = '\0';
    at_status rc;
    /* one call validates, allocates from the pool and runs */
    if (at_stdop_cost(exec->ex, op, in, (size_t)nin, params)
        >= HG_GIL_RELEASE_COST)
    {
        at_executor *ex = exec->ex;
        Py_BEGIN_ALLOW_THREADS rc =
            at_stdop_run_new(ex, op, in, (size_t)nin, params, &out, &err);
        Py_END_ALLOW_THREADS
    } else {
        rc =
            at_stdop_run_new(exec->ex, op, in, (size_t)nin, params, &out, &err);
    }
    if (rc != AT_OK)
        return hg_raise(rc, &err);
    BufferObject *res = hg_buffer_wrap(exec, &out, fn);
    if (res == NULL)
        at_pool_free(exec->pool, out.data);
    return (PyObject *)res;
}

#define STATE(module) ((hg_state *)PyModule_GetState(module))

/* ---- one-input ops: f(a) ------------------------------------------------ */

static const hg_kw kw_a[] = {HG_KW_A};

static inline PyObject *unary(PyObject *module, PyObject *const *args,
                              Py_ssize_t nargs, PyObject *kwnames, at_stdop op,
                              const char *fn)
{
    hg_state *st = STATE(module);
    PyObject *a[1];
    if (nargs == 1 && kwnames == NULL)
        a[0] = args[0];
    else if (hg_parse_args(st, fn, args, nargs, kwnames, kw_a, 1, 1, 1, a) < 0)
        return NULL;
    return run_op(st, op, fn, a, kw_a, 1, &default_params);
}

/* ---- two-input ops: f(a, b) --------------------------------------------- */

static const hg_kw kw_ab[] = {HG_KW_A, HG_KW_B};
static const hg_kw kw_pred_target[] = {HG_KW_PRED, HG_KW_TARGET};

static inline PyObject *binary(PyObject *module, PyObject *const *args,
                               Py_ssize_t nargs, PyObject *kwnames, at_stdop op,
                               const char *fn, const hg_kw *kws)
{
    hg_state *st = STATE(module);
    PyObject *a[2];
    if (nargs == 2 && kwnames == NULL) {
        a[0] = args[0];
        a[1] = args[1];
    } else if (hg_parse_args(st, fn, args, nargs, kwnames, kws, 2, 2, 2, a) < 0)
    {
        return NULL;
    }
    return run_op(st, op, fn, a, kws, 2, &default_params);
}

#define UNARY_OP(pyname, OP)                                              \
    static PyObject *op_##pyname(PyObject *module, PyObject *const *args, \
                                 Py_ssize_t nargs, PyObject *kwnames)     \
    {                                                                     \
        return unary(module, args, nargs, kwnames, AT_STD_##OP, #pyname); \
    }
#define BINARY_OP(pyname, OP, KWS)                                        \
    static PyObject *op_##pyname(PyObject *module, PyObject *const *args, \
                                 Py_ssize_t nargs, PyObject *kwnames)     \
    {                                                                     \
        return binary(module, args, nargs, kwnames, AT_STD_##OP, #pyname, \
                      KWS);                                               \
    }

BINARY_OP(vector_add, VECTOR_ADD, kw_ab)
BINARY_OP(vector_sub, VECTOR_SUB, kw_ab)
BINARY_OP(vector_mul, VECTOR_MUL, kw_ab)
BINARY_OP(vector_div, VECTOR_DIV, kw_ab)
BINARY_OP(mse_loss, MSE_LOSS, kw_pred_target)
UNARY_OP(neg, NEG)
UNARY_OP(abs, ABS)
UNARY_OP(relu, RELU)
UNARY_OP(sigmoid, SIGMOID)
UNARY_OP(tanh, TANH)
UNARY_OP(softmax, SOFTMAX)
UNARY_OP(exp, EXP)
UNARY_OP(log, LOG)
UNARY_OP(sqrt, SQRT)

/* ---- pow(a, b): b a Buffer or a Python number ---------------------------- */

static PyObject *op_pow(PyObject *module, PyObject *const *args,
                        Py_ssize_t nargs, PyObject *kwnames)
{
    hg_state *st = STATE(module);
    PyObject *a[2];
    if (nargs == 2 && kwnames == NULL) {
        a[0] = args[0];
        a[1] = args[1];
    } else if (hg_parse_args(st, "pow", args, nargs, kwnames, kw_ab, 2, 2, 2, a)
               < 0)
    {
        return NULL;
    }
    if (hg_buffer_check(st, a[1]))
        return run_op(st, AT_STD_POW, "pow", a, kw_ab, 2, &default_params);
    if (!hg_buffer_check(st, a[0]))
        return not_a_buffer("pow", HG_KW_A, a[0]);
    double e = PyFloat_AsDouble(a[1]);
    if (e == -1.0 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_OverflowError,
                            "pow: exponent is too large for float32");
            return NULL;
        }
        if (!PyErr_ExceptionMatches(PyExc_TypeError))
            return NULL;
        PyErr_Clear();
        goto bad_exponent;
    }
    at_stdop_params p = default_params;
    p.scalar = (float)e;
    return run_op(st, AT_STD_POW_SCALAR, "pow", a, kw_ab, 1, &p);

bad_exponent:
    PyErr_Format(PyExc_TypeError,
                 "pow: exponent 'b' must be a hologram.Buffer or a Python "
                 "float/int, got %.200s",
                 Py_TYPE(a[1])->tp_name);
    return NULL;
}

/* ---- reductions: f(a, axis=None) ----------------------------------------- */

static const hg_kw kw_a_axis[] = {HG_KW_A, HG_KW_AXIS};

static PyObject *reduction(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs, PyObject *kwnames, at_stdop all,
                           at_stdop rows, const char *fn)
{
    hg_state *st = STATE(module);
    PyObject *a[2];
    if (nargs == 1 && kwnames == NULL) {
        a[0] = args[0];
        a[1] = NULL;
    } else if (hg_parse_args(st, fn, args, nargs, kwnames, kw_a_axis, 2, 2, 1,
                             a)
               < 0)
    {
        return NULL;
    }
    if (!hg_buffer_check(st, a[0]))
        return not_a_buffer(fn, HG_KW_A, a[0]);
    at_stdop op = all;
    if (a[1] != NULL && a[1] != Py_None) {
        int64_t axis;
        if (hg_as_int64(fn, "axis", a[1], &axis) < 0)
            return NULL;
        const BufferObject *b = (const BufferObject *)a[0];
        int nd = b->t.ndim;
        if (nd == 1 && (axis == 0 || axis == -1)) {
            op = all;
        } else if (nd == 2 && (axis == 1 || axis == -1)) {
            op = rows;
        } else {
            char sbuf[200];
            at_format_shape(sbuf, sizeof sbuf, nd, b->t.shape);
            PyErr_Format(
                PyExc_ValueError,
                "%s: axis %lld is not supported for shape %s "
                "(use axis=None, or the last axis of a 1-D or 2-D buffer)",
                fn, (long long)axis, sbuf);
            return NULL;
        }
    }
    return run_op(st, op, fn, a, kw_a_axis, 1, &default_params);
}

#define REDUCE_OP(pyname, OP)                                             \
    static PyObject *op_##pyname(PyObject *module, PyObject *const *args, \
                                 Py_ssize_t nargs, PyObject *kwnames)     \
    {                                                                     \
        return reduction(module, args, nargs, kwnames, AT_STD_##OP,       \
                         AT_STD_##OP##_ROWS, #pyname);                    \
    }

REDUCE_OP(sum, SUM)
REDUCE_OP(max, MAX)
REDUCE_OP(min, MIN)
REDUCE_OP(mean, MEAN)

/* ---- gemm(a, b, *, m, n, k) ---------------------------------------------- */

static const hg_kw kw_gemm[] = {HG_KW_A, HG_KW_B, HG_KW_M, HG_KW_N, HG_KW_K};

static PyObject *op_gemm(PyObject *module, PyObject *const *args,
                         Py_ssize_t nargs, PyObject *kwnames)
{
    hg_state *st = STATE(module);
    PyObject *a[5];
    if (hg_parse_args(st, "gemm", args, nargs, kwnames, kw_gemm, 5, 2, 2, a)
        < 0)
        return NULL;
    at_stdop_params p = default_params;
    int64_t *dst[3] = {&p.m, &p.n, &p.k};
    for (int i = 0; i < 3; i++) {
        const char *nm = hg_kw_names[kw_gemm[2 + i]];
        if (a[2 + i] == NULL) {
            PyErr_Format(PyExc_TypeError,
                         "gemm: missing required keyword argument '%s'", nm);
            return NULL;
        }
        if (hg_as_int64("gemm", nm, a[2 + i], dst[i]) < 0)
            return NULL;
        if (*dst[i] < 0) {
            PyErr_Format(PyExc_ValueError, "gemm: %s must be >= 0, got %lld",
                         nm, (long long)*dst[i]);
            return NULL;
        }
    }
    return run_op(st, AT_STD_GEMM, "gemm", a, kw_gemm, 2, &p);
}

/* ---- cross_entropy(logits, target, ignore_index=-100) -------------------- */

static const hg_kw kw_ce[] = {HG_KW_LOGITS, HG_KW_TARGET, HG_KW_IGNORE_INDEX};

static PyObject *op_cross_entropy(PyObject *module, PyObject *const *args,
                                  Py_ssize_t nargs, PyObject *kwnames)
{
    hg_state *st = STATE(module);
    PyObject *a[3];
    if (hg_parse_args(st, "cross_entropy", args, nargs, kwnames, kw_ce, 3, 3, 2,
                      a)
        < 0)
        return NULL;
    at_stdop_params p = default_params;
    if (a[2] != NULL
        && hg_as_int64("cross_entropy", "ignore_index", a[2], &p.ignore_index)
               < 0)
        return NULL;
    return run_op(st, AT_STD_CROSS_ENTROPY, "cross_entropy", a, kw_ce, 2, &p);
}

/* ---- kernel_ir(name) -> str ---------------------------------------------- */

static const hg_kw kw_name[] = {HG_KW_NAME};

static PyObject *op_kernel_ir(PyObject *module, PyObject *const *args,
                              Py_ssize_t nargs, PyObject *kwnames)
{
    hg_state *st = STATE(module);
    PyObject *a[1];
    if (hg_parse_args(st, "kernel_ir", args, nargs, kwnames, kw_name, 1, 1, 1,
                      a)
        < 0)
        return NULL;
    if (!PyUnicode_Check(a[0])) {
        PyErr_Format(PyExc_TypeError,
                     "kernel_ir: name must be a str, got %.200s",
                     Py_TYPE(a[0])->tp_name);
        return NULL;
    }
    const char *name = PyUnicode_AsUTF8(a[0]);
    if (name == NULL)
        return NULL;
    int op = -1;
    for (int i = 0; i < AT_STD_COUNT; i++) {
        const char *n = at_stdop_name((at_stdop)i);
        if (n != NULL && strcmp(n, name) == 0) {
            op = i;
            break;
        }
    }
    if (op < 0) {
        PyErr_Format(PyExc_ValueError, "kernel_ir: unknown op %R", a[0]);
        return NULL;
    }
    at_kernel *k = NULL;
    at_error err;
    err.msg[0] = '\0';
    at_status rc = at_stdop_kernel((at_stdop)op, &k, &err);
    if (rc != AT_OK)
        return hg_raise(rc, &err);
    size_t need = at_kernel_print(k, NULL, 0);
    char *text = PyMem_Malloc(need + 1);
    if (text == NULL) {
        at_kernel_free(k);
        return PyErr_NoMemory();
    }
    size_t got = at_kernel_print(k, text, need + 1);
    at_kernel_free(k);
    if (got > need)
        got = need;
    PyObject *s =
        PyUnicode_DecodeUTF8(text, (Py_ssize_t)strnlen(text, got), "replace");
    PyMem_Free(text);
    return s;
}

/* ------------------------------------------------------------------------ */

#define FASTKW (METH_FASTCALL | METH_KEYWORDS)
#define OPDEF(name, doc) \
    {#name, (PyCFunction)(void (*)(void))op_##name, FASTKW, doc}

PyMethodDef hg_module_methods[] = {
    {"cpu_info", hg_cpu_info, METH_NOARGS,
     "cpu_info() -> dict\n\nbrand, best isa, isa_supported, isa_compiled and "
     "ncpu."},
    OPDEF(vector_add, "vector_add(a, b) -> Buffer: a + b elementwise"),
    OPDEF(vector_sub, "vector_sub(a, b) -> Buffer: a - b elementwise"),
    OPDEF(vector_mul, "vector_mul(a, b) -> Buffer: a * b elementwise"),
    OPDEF(vector_div, "vector_div(a, b) -> Buffer: a / b elementwise"),
    OPDEF(neg, "neg(a) -> Buffer: -a"),
    OPDEF(abs, "abs(a) -> Buffer: |a|"),
    OPDEF(relu, "relu(a) -> Buffer: max(a, 0)"),
    OPDEF(sigmoid, "sigmoid(a) -> Buffer: 1 / (1 + exp(-a))"),
    OPDEF(tanh, "tanh(a) -> Buffer"),
    OPDEF(softmax, "softmax(a) -> Buffer: over the whole 1-D buffer, or each "
                   "row of a 2-D one"),
    OPDEF(exp, "exp(a) -> Buffer"),
    OPDEF(log, "log(a) -> Buffer"),
    OPDEF(sqrt, "sqrt(a) -> Buffer"),
    OPDEF(pow, "pow(a, b) -> Buffer: a ** b, b a Buffer of a's shape or a "
               "Python number"),
    OPDEF(sum,
          "sum(a, axis=None) -> Buffer: 0-d, or (rows,) for axis=-1 on 2-D"),
    OPDEF(max,
          "max(a, axis=None) -> Buffer: 0-d, or (rows,) for axis=-1 on 2-D"),
    OPDEF(min,
          "min(a, axis=None) -> Buffer: 0-d, or (rows,) for axis=-1 on 2-D"),
    OPDEF(mean,
          "mean(a, axis=None) -> Buffer: 0-d, or (rows,) for axis=-1 on 2-D"),
    OPDEF(gemm, "gemm(a, b, *, m, n, k) -> Buffer of shape (m, n): (m,k) @ "
                "(k,n), row-major"),
    OPDEF(mse_loss,
          "mse_loss(pred, target) -> 0-d Buffer: mean((pred - target)**2)"),
    OPDEF(cross_entropy, "cross_entropy(logits, target, ignore_index=-100) -> "
                         "0-d Buffer (mean over "
                         "non-ignored rows)"),
    OPDEF(kernel_ir, "kernel_ir(name) -> str: the IR text of a built-in op"),
    {NULL, NULL, 0, NULL},
};
