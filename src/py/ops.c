/* Hologram Atlas — hg.ops: one vectorcall function per standard-library op.
 *
 * The hot path (e.g. vector_add(a, b)) does: two type checks, one executor
 * comparison, at_stdop_cost (to decide on releasing the GIL), one
 * at_stdop_run_new (validate, allocate the result from the pool, run) and
 * one object for the result, usually from a freelist.  No tuples, dicts or
 * keyword parsing unless keywords are actually passed. */
#include "hg.h"

#include <math.h>
#include <string.h>

static const at_stdop_params default_params = {
    .scalar = 0.0f,
    .scalar2 = 0.0f,
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

/* An op's launch: its stdlib op, its number of inputs and its params. */
typedef struct stdop_call {
    at_stdop op;
    size_t nin;
    const at_stdop_params *params;
} stdop_call;

static at_status stdop_new(at_executor *ex, const at_tensor *in,
                           const void *ctx, at_tensor *out, at_error *err)
{
    const stdop_call *c = ctx;
    return at_stdop_run_new(ex, c->op, in, c->nin, c->params, out, err);
}

/* Validate the inputs, prepare, allocate the output and launch. */
static PyObject *run_op(hg_state *st, at_stdop op, const char *fn,
                        PyObject *const *ins, const hg_kw *names, int nin,
                        const at_stdop_params *params)
{
    at_tensor in[3];
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
    const stdop_call call = {op, (size_t)nin, params};
    /* one call validates, allocates from the pool and runs */
    return hg_run_new(exec,
                      at_stdop_cost(exec->ex, op, in, (size_t)nin, params),
                      stdop_new, in, &call, fn);
}

static const hg_kw operand_names[3] = {HG_KW_A, HG_KW_B, HG_KW_C};

PyObject *hg_run_op(hg_state *st, at_stdop op, const char *fn,
                    PyObject *const *ins, int nin)
{
    return run_op(st, op, fn, ins, operand_names, nin, &default_params);
}

#define STATE(module) ((hg_state *)PyModule_GetState(module))

/* An op's Python parameters: kws[0..nkw) by name, the first npos also by
 * position, the first nreq required.  The text signature that starts the
 * op's docstring (hg_module_methods below) states the same list. */
typedef struct op_params {
    const hg_kw *kws;
    int nkw, npos, nreq;
} op_params;

/* Entry points parse into an array of this many arguments. */
#define OP_MAX_PARAMS 7

/* Define params_<name>: the parameters named by the hg_kw list, npos of
 * them positional, nreq required. */
#define OP_PARAMS(name, npos, nreq, ...)                              \
    static const hg_kw kw_##name[] = {__VA_ARGS__};                   \
    _Static_assert(sizeof kw_##name / sizeof(hg_kw) <= OP_MAX_PARAMS, \
                   "more parameters than OP_MAX_PARAMS");             \
    static const op_params params_##name = {                          \
        kw_##name, (int)(sizeof kw_##name / sizeof(hg_kw)), npos, nreq}

OP_PARAMS(a, 1, 1, HG_KW_A);
OP_PARAMS(ab, 2, 2, HG_KW_A, HG_KW_B);
OP_PARAMS(where, 3, 3, HG_KW_COND, HG_KW_A, HG_KW_B);
OP_PARAMS(broadcast_ir, 4, 3, HG_KW_NAME, HG_KW_A, HG_KW_B, HG_KW_C);
OP_PARAMS(pred_target, 2, 2, HG_KW_PRED, HG_KW_TARGET);
OP_PARAMS(reduce, 3, 1, HG_KW_A, HG_KW_AXIS, HG_KW_KEEPDIMS);
OP_PARAMS(gemm, 2, 2, HG_KW_A, HG_KW_B, HG_KW_M, HG_KW_N, HG_KW_K,
          HG_KW_TRANS_A, HG_KW_TRANS_B);
OP_PARAMS(ce, 3, 2, HG_KW_LOGITS, HG_KW_TARGET, HG_KW_IGNORE_INDEX);
OP_PARAMS(name, 1, 1, HG_KW_NAME);
OP_PARAMS(gelu, 2, 1, HG_KW_A, HG_KW_APPROXIMATE);
OP_PARAMS(leaky_relu, 2, 1, HG_KW_A, HG_KW_NEGATIVE_SLOPE);
OP_PARAMS(softplus, 3, 1, HG_KW_A, HG_KW_BETA, HG_KW_THRESHOLD);
OP_PARAMS(p_t, 2, 2, HG_KW_P, HG_KW_T);
OP_PARAMS(clip, 3, 1, HG_KW_A, HG_KW_MIN, HG_KW_MAX);
OP_PARAMS(layer_norm, 4, 1, HG_KW_XS, HG_KW_WEIGHT, HG_KW_BIAS, HG_KW_EPS);

/* Parse a vectorcall argument vector into out[0..ps->nkw).  A call with
 * positional arguments only skips the keyword matching.  0, or -1 with
 * TypeError set. */
static inline int parse_op(hg_state *st, const char *fn, const op_params *ps,
                           PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames, PyObject **out)
{
    if (kwnames == NULL && nargs >= ps->nreq && nargs <= ps->npos) {
        for (int i = 0; i < ps->nkw; i++)
            out[i] = i < nargs ? args[i] : NULL;
        return 0;
    }
    return hg_parse_args(st, fn, args, nargs, kwnames, ps->kws, ps->nkw,
                         ps->npos, ps->nreq, out);
}

/* The failure path of every op: when it raised TypeError and one of its
 * arguments' types defines __hg_function__ (the traced values of @hg.jit,
 * hologram/jit.py), the call goes to type.__hg_function__(name, args,
 * kwargs) instead, so one Python surface also traces.  Otherwise the op's
 * own TypeError stands.  A successful op call never gets here. */
static PyObject *dispatch_other(const char *fn, PyObject *const *args,
                                Py_ssize_t nargs, PyObject *kwnames)
{
    if (!PyErr_ExceptionMatches(PyExc_TypeError))
        return NULL;
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *handler = NULL;
    for (Py_ssize_t i = 0; i < nargs + nkw && handler == NULL; i++) {
        handler = PyObject_GetAttrString((PyObject *)Py_TYPE(args[i]),
                                         "__hg_function__");
        if (handler == NULL && !PyErr_ExceptionMatches(PyExc_AttributeError))
            break;
        PyErr_Clear();
    }
    if (handler == NULL) {
        PyErr_Restore(et, ev, tb); /* the op's own TypeError */
        return NULL;
    }
    Py_XDECREF(et);
    Py_XDECREF(ev);
    Py_XDECREF(tb);
    PyObject *tuple = PyTuple_New(nargs), *kw = PyDict_New(), *res = NULL;
    if (tuple != NULL && kw != NULL) {
        for (Py_ssize_t i = 0; i < nargs; i++)
            PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
        int bad = 0;
        for (Py_ssize_t i = 0; i < nkw && !bad; i++)
            bad = PyDict_SetItem(kw, PyTuple_GET_ITEM(kwnames, i),
                                 args[nargs + i]);
        if (!bad)
            res = PyObject_CallFunction(handler, "sOO", fn, tuple, kw);
    }
    Py_XDECREF(tuple);
    Py_XDECREF(kw);
    Py_DECREF(handler);
    return res;
}

/* op_<pyname>, the vectorcall entry point of an HG_OPS entry: parses its
 * arguments against PARAMS, then calls IMPL(state, name, &PARAMS, parsed
 * arguments, the entry's stdlib op(s)); on failure, dispatch_other. */
#define OP_ENTRY(pyname, params_text, doc, IMPL, PARAMS, ...)             \
    static PyObject *op_##pyname(PyObject *module, PyObject *const *args, \
                                 Py_ssize_t nargs, PyObject *kwnames)     \
    {                                                                     \
        hg_state *st = STATE(module);                                     \
        PyObject *a[OP_MAX_PARAMS];                                       \
        if (parse_op(st, #pyname, &PARAMS, args, nargs, kwnames, a) < 0)  \
            return dispatch_other(#pyname, args, nargs, kwnames);         \
        PyObject *r = IMPL(st, #pyname, &PARAMS, a, __VA_ARGS__);         \
        if (r == NULL)                                                    \
            return dispatch_other(#pyname, args, nargs, kwnames);         \
        return r;                                                         \
    }

/* ---- ops whose parameters are all input buffers: f(a), f(a, b) ---------- */

static inline PyObject *plain(hg_state *st, const char *fn, const op_params *ps,
                              PyObject *const *a, at_stdop op)
{
    return run_op(st, op, fn, a, ps->kws, ps->nkw, &default_params);
}

static at_status int_unary_new(at_executor *ex, const at_tensor *in,
                               const void *op, at_tensor *out, at_error *err)
{
    return at_int_unary_run_new(ex, *(const at_stdop *)op, in, out, err);
}

PyObject *hg_signed_unary(hg_state *st, at_stdop op, const char *fn,
                          PyObject *a)
{
    if (hg_buffer_check(st, a)) {
        BufferObject *b = (BufferObject *)a;
        if (b->t.dtype == AT_I32 || b->t.dtype == AT_I64)
            return hg_run_new(b->exec,
                              at_int_unary_cost(b->exec->ex, op, &b->t),
                              int_unary_new, &b->t, &op, fn);
    }
    return run_op(st, op, fn, &a, operand_names, 1, &default_params);
}

/* neg(a), abs(a): float32, int32 or int64 */
static inline PyObject *signed_unary(hg_state *st, const char *fn,
                                     const op_params *ps, PyObject *const *a,
                                     at_stdop op)
{
    (void)ps;
    return hg_signed_unary(st, op, fn, a[0]);
}

/* ---- binary ops that broadcast ------------------------------------------- */

/* f(a, b) on Buffers: same-shape float32 runs the op's own kernel
 * (same_shape), anything else the broadcasting op. */
static PyObject *broadcasting(hg_state *st, const char *fn, const op_params *ps,
                              PyObject *const *a, at_stdop same_shape,
                              at_bcop op)
{
    for (int i = 0; i < 2; i++)
        if (!hg_buffer_check(st, a[i]))
            return not_a_buffer(fn, ps->kws[i], a[i]);
    const at_tensor *x = &((BufferObject *)a[0])->t,
                    *y = &((BufferObject *)a[1])->t;
    if (x->dtype == AT_F32 && y->dtype == AT_F32 && at_same_shape(x, y))
        return run_op(st, same_shape, fn, a, ps->kws, 2, &default_params);
    return hg_broadcast(st, op, fn, a, 2, NULL, 0);
}

/* maximum(a, b), minimum(a, b), where(cond, a, b): Buffers or Python
 * numbers, broadcast together. */
static PyObject *elementwise(hg_state *st, const char *fn, const op_params *ps,
                             PyObject *const *a, at_bcop op)
{
    return hg_broadcast(st, op, fn, a, ps->nkw, NULL, 0);
}

/* broadcast_ir(op, a, b, c=None) */
static PyObject *broadcast_ir(hg_state *st, const char *fn, const op_params *ps,
                              PyObject *const *a, int unused)
{
    (void)ps;
    (void)unused;
    return hg_broadcast_ir(st, fn, a[0], a + 1, a[3] ? 3 : 2);
}

/* ---- pow(a, b): b a Buffer or a Python number ---------------------------- */

static PyObject *power(hg_state *st, const char *fn, const op_params *ps,
                       PyObject *const *a, at_stdop by_buffer,
                       at_stdop by_scalar)
{
    if (hg_buffer_check(st, a[1]))
        return hg_buffer_check(st, a[0])
                   ? broadcasting(st, fn, ps, a, by_buffer, AT_BC_POW)
                   : hg_broadcast(st, AT_BC_POW, fn, a, 2, NULL, 0);
    if (!hg_buffer_check(st, a[0]))
        return not_a_buffer(fn, ps->kws[0], a[0]);
    if (((BufferObject *)a[0])->t.dtype != AT_F32) /* integer or bool */
        return hg_broadcast(st, AT_BC_POW, fn, a, 2, NULL, 0);
    double e = PyFloat_AsDouble(a[1]);
    if (e == -1.0 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_OverflowError,
                         "%s: exponent is too large for float32", fn);
            return NULL;
        }
        if (!PyErr_ExceptionMatches(PyExc_TypeError))
            return NULL;
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError,
                     "%s: exponent 'b' must be a hologram.Buffer or a Python "
                     "float/int, got %.200s",
                     fn, Py_TYPE(a[1])->tp_name);
        return NULL;
    }
    at_stdop_params p = default_params;
    p.scalar = (float)e;
    return run_op(st, by_scalar, fn, a, ps->kws, 1, &p);
}

/* ---- reductions: f(a, axis=None | int, keepdims=False) ----------------- */

/* The op over the whole buffer (all) when axis is None, else over one axis
 * (along: the stdlib checks the axis and picks rows or columns); an absent
 * axis means None, or -1 when by_default. */
static PyObject *reduce_axis(hg_state *st, const char *fn, const op_params *ps,
                             PyObject *const *a, at_stdop all, at_stdop along,
                             int by_default)
{
    at_stdop_params p = default_params;
    at_stdop op = a[1] == NULL && by_default ? along : all;
    p.axis = -1;
    if (a[2] != NULL) {
        if (!PyBool_Check(a[2])) {
            PyErr_Format(PyExc_TypeError,
                         "%s: keepdims must be a bool, got %.200s", fn,
                         Py_TYPE(a[2])->tp_name);
            return NULL;
        }
        p.keepdims = a[2] == Py_True;
    }
    if (a[1] != NULL && a[1] != Py_None) {
        if (hg_as_int64(fn, "axis", a[1], &p.axis) < 0)
            return NULL;
        op = along;
    }
    return run_op(st, op, fn, a, ps->kws, 1, &p);
}

static PyObject *reduction(hg_state *st, const char *fn, const op_params *ps,
                           PyObject *const *a, at_stdop all, at_stdop along)
{
    return reduce_axis(st, fn, ps, a, all, along, 0);
}

/* argmax/argmin: axis=-1 unless given (None: the flattened buffer). */
static PyObject *arg_reduction(hg_state *st, const char *fn,
                               const op_params *ps, PyObject *const *a,
                               at_stdop all, at_stdop along)
{
    return reduce_axis(st, fn, ps, a, all, along, 1);
}

/* ---- gemm(a, b, *, m, n, k, trans_a=False, trans_b=False) --------------- */

/* op is AT_STD_GEMM; its flagged variants follow it (TA, TB, TATB). */
_Static_assert(AT_STD_GEMM_TA == AT_STD_GEMM + 1
                   && AT_STD_GEMM_TB == AT_STD_GEMM + 2
                   && AT_STD_GEMM_TATB == AT_STD_GEMM + 3,
               "gemm's flagged descriptors follow AT_STD_GEMM");
static PyObject *gemm(hg_state *st, const char *fn, const op_params *ps,
                      PyObject *const *a, at_stdop op)
{
    at_stdop_params p = default_params;
    for (int i = 0; i < 2; i++) {
        int t = a[5 + i] ? PyObject_IsTrue(a[5 + i]) : 0;
        if (t < 0)
            return NULL;
        op = (at_stdop)(op + (t << i));
    }
    int64_t *dst[3] = {&p.m, &p.n, &p.k};
    for (int i = 0; i < 3; i++) {
        const char *nm = hg_kw_names[ps->kws[2 + i]];
        if (a[2 + i] == NULL) {
            PyErr_Format(PyExc_TypeError,
                         "%s: missing required keyword argument '%s'", fn, nm);
            return NULL;
        }
        if (hg_as_int64(fn, nm, a[2 + i], dst[i]) < 0)
            return NULL;
        if (*dst[i] < 0) {
            PyErr_Format(PyExc_ValueError, "%s: %s must be >= 0, got %lld", fn,
                         nm, (long long)*dst[i]);
            return NULL;
        }
    }
    return run_op(st, op, fn, a, ps->kws, 2, &p);
}

/* ---- cross_entropy(logits, target, ignore_index=-100) -------------------- */

static PyObject *cross_entropy(hg_state *st, const char *fn,
                               const op_params *ps, PyObject *const *a,
                               at_stdop op)
{
    at_stdop_params p = default_params;
    if (a[2] != NULL
        && hg_as_int64(fn, hg_kw_names[ps->kws[2]], a[2], &p.ignore_index) < 0)
        return NULL;
    return run_op(st, op, fn, a, ps->kws, 2, &p);
}

/* ---- ops with Python-number parameters --------------------------------- */

/* Argument i of a as a float32: dflt when it is absent (or None, with
 * none_ok).  0, or -1 with an exception set. */
static int param_f32(const char *fn, const op_params *ps, PyObject *const *a,
                     int i, float dflt, int none_ok, float *out)
{
    PyObject *o = a[i];
    if (o == NULL || (none_ok && o == Py_None)) {
        *out = dflt;
        return 0;
    }
    double v = PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_OverflowError,
                         "%s: '%s' is too large for float32", fn,
                         hg_kw_names[ps->kws[i]]);
            return -1;
        }
        if (!PyErr_ExceptionMatches(PyExc_TypeError))
            return -1;
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError,
                     "%s: '%s' must be a Python float or int%s, got %.200s", fn,
                     hg_kw_names[ps->kws[i]], none_ok ? " or None" : "",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    *out = (float)v;
    return 0;
}

/* gelu(a, approximate="none" | "tanh"): one kernel per form. */
static PyObject *gelu(hg_state *st, const char *fn, const op_params *ps,
                      PyObject *const *a, at_stdop exact, at_stdop by_tanh)
{
    at_stdop op = exact;
    if (a[1] != NULL) {
        if (!PyUnicode_Check(a[1])) {
            PyErr_Format(PyExc_TypeError,
                         "%s: approximate must be a str, got %.200s", fn,
                         Py_TYPE(a[1])->tp_name);
            return NULL;
        }
        if (PyUnicode_CompareWithASCIIString(a[1], "tanh") == 0) {
            op = by_tanh;
        } else if (PyUnicode_CompareWithASCIIString(a[1], "none") != 0) {
            PyErr_Format(PyExc_ValueError,
                         "%s: approximate must be 'none' or 'tanh', got %R", fn,
                         a[1]);
            return NULL;
        }
    }
    return run_op(st, op, fn, a, ps->kws, 1, &default_params);
}

/* leaky_relu(a, negative_slope=0.01) */
static PyObject *leaky_relu(hg_state *st, const char *fn, const op_params *ps,
                            PyObject *const *a, at_stdop op)
{
    at_stdop_params p = default_params;
    if (param_f32(fn, ps, a, 1, 0.01f, 0, &p.scalar) < 0)
        return NULL;
    return run_op(st, op, fn, a, ps->kws, 1, &p);
}

/* softplus(a, beta=1.0, threshold=20.0) */
static PyObject *softplus(hg_state *st, const char *fn, const op_params *ps,
                          PyObject *const *a, at_stdop op)
{
    at_stdop_params p = default_params;
    if (param_f32(fn, ps, a, 1, 1.0f, 0, &p.scalar) < 0
        || param_f32(fn, ps, a, 2, 20.0f, 0, &p.scalar2) < 0)
        return NULL;
    return run_op(st, op, fn, a, ps->kws, 1, &p);
}

/* clip(a, min=None, max=None): an absent bound is -inf or inf. */
static PyObject *clip(hg_state *st, const char *fn, const op_params *ps,
                      PyObject *const *a, at_stdop op)
{
    at_stdop_params p = default_params;
    if ((a[1] == NULL || a[1] == Py_None) && (a[2] == NULL || a[2] == Py_None))
    {
        PyErr_Format(PyExc_ValueError,
                     "%s: at least one of 'min' or 'max' must not be None", fn);
        return NULL;
    }
    if (param_f32(fn, ps, a, 1, -HUGE_VALF, 1, &p.scalar) < 0
        || param_f32(fn, ps, a, 2, HUGE_VALF, 1, &p.scalar2) < 0)
        return NULL;
    return run_op(st, op, fn, a, ps->kws, 1, &p);
}

/* layer_norm(x, weight=None, bias=None, eps=1e-5): one kernel per set of
 * affine inputs given (none, weight, bias, both), which it takes after x. */
static PyObject *layer_norm(hg_state *st, const char *fn, const op_params *ps,
                            PyObject *const *a, at_stdop plain_op,
                            at_stdop by_weight, at_stdop by_bias,
                            at_stdop by_both)
{
    at_stdop_params p = default_params;
    if (param_f32(fn, ps, a, 3, 1e-5f, 0, &p.scalar) < 0)
        return NULL;
    PyObject *ins[3] = {a[0], NULL, NULL};
    hg_kw names[3] = {ps->kws[0], ps->kws[0], ps->kws[0]};
    int n = 1;
    for (int i = 1; i <= 2; i++)
        if (a[i] != NULL && a[i] != Py_None) {
            ins[n] = a[i];
            names[n++] = ps->kws[i];
        }
    int has_w = a[1] != NULL && a[1] != Py_None;
    int has_b = a[2] != NULL && a[2] != Py_None;
    const at_stdop ops[4] = {plain_op, by_weight, by_bias, by_both};
    return run_op(st, ops[has_w + 2 * has_b], fn, ins, names, n, &p);
}

/* ---- matmul(a, b), also a @ b ------------------------------------------ */

static at_status matmul_new(at_executor *ex, const at_tensor *in,
                            const void *ctx, at_tensor *out, at_error *err)
{
    (void)ctx;
    return at_matmul_run_new(ex, &in[0], &in[1], out, err);
}

PyObject *hg_matmul(BufferObject *a, BufferObject *b)
{
    ExecutorObject *exec = a->exec;
    if (b->exec != exec) {
        PyErr_SetString(PyExc_ValueError,
                        "matmul: buffers belong to different executors");
        return NULL;
    }
    const at_tensor in[2] = {a->t, b->t};
    return hg_run_new(exec, at_matmul_cost(exec->ex, &in[0], &in[1]),
                      matmul_new, in, NULL, "matmul");
}

/* hg.ops.matmul: both arguments Buffers; the gemm descriptor it launches
 * (through at_matmul_run_new) is named by its HG_OPS entry. */
static PyObject *matmul(hg_state *st, const char *fn, const op_params *ps,
                        PyObject *const *a, at_stdop gemm_op)
{
    (void)gemm_op;
    for (int i = 0; i < 2; i++)
        if (!hg_buffer_check(st, a[i]))
            return not_a_buffer(fn, ps->kws[i], a[i]);
    return hg_matmul((BufferObject *)a[0], (BufferObject *)a[1]);
}

/* Every op, one entry each: its Python name, the parameter list of its text
 * signature and its docstring (what inspect.signature and help() show), then
 * how it runs: the implementation, the op_params it parses (the same list as
 * the text signature) and the stdlib op(s) it launches.  OP_AB, OP_A and
 * OP_REDUCE write the entry of an op of their kind from its name, its value
 * in words and its stdlib op. */
/* clang-format off */
#define OP_AB(X, name, value, OP, BC) \
    X(name, "a, b", value " elementwise, broadcast by NumPy's rules, as a " \
      "new Buffer.", broadcasting, params_ab, AT_STD_##OP, AT_BC_##BC)
#define OP_A(X, name, value, OP) \
    X(name, "a", value ", as a new Buffer.", plain, params_a, AT_STD_##OP)
#define OP_REDUCE(X, name, value, OP) \
    X(name, "a, axis=None, keepdims=False", \
      value " over every element (a 0-d Buffer) or over one axis " \
      "(removed, or kept as 1 with keepdims).", \
      reduction, params_reduce, AT_STD_##OP, AT_STD_##OP##_ROWS)
#define OP_ARG(X, name, value, OP) \
    X(name, "a, axis=-1, keepdims=False", \
      "int64 index of the first " value " (or first NaN) along one axis, " \
      "or with axis=None into the flattened buffer (a 0-d Buffer).", \
      arg_reduction, params_reduce, AT_STD_##OP, AT_STD_##OP##_ROWS)
#define HG_OPS(X) \
    OP_AB(X, vector_add, "a + b", VECTOR_ADD, ADD) \
    OP_AB(X, vector_sub, "a - b", VECTOR_SUB, SUB) \
    OP_AB(X, vector_mul, "a * b", VECTOR_MUL, MUL) \
    OP_AB(X, vector_div, "a / b", VECTOR_DIV, DIV) \
    X(pow, "a, b", "a ** b, b a Buffer (broadcast with a by NumPy's rules) " \
      "or a Python number.", \
      power, params_ab, AT_STD_POW, AT_STD_POW_SCALAR) \
    X(maximum, "a, b", "The elementwise maximum (NaN if either is NaN), " \
      "a and b Buffers or Python numbers broadcast together, as a new " \
      "Buffer.", elementwise, params_ab, AT_BC_MAXIMUM) \
    X(minimum, "a, b", "The elementwise minimum (NaN if either is NaN), " \
      "a and b Buffers or Python numbers broadcast together, as a new " \
      "Buffer.", elementwise, params_ab, AT_BC_MINIMUM) \
    X(where, "cond, a, b", "a where cond (a bool Buffer) is true, else b; " \
      "a and b Buffers or Python numbers, all three broadcast together, " \
      "as a new Buffer.", elementwise, params_where, AT_BC_WHERE) \
    X(broadcast_ir, "name, a, b, c=None", "The IR text (a str) of the " \
      "kernel the broadcasting op `name` (add, sub, mul, div, pow, " \
      "maximum, minimum, lt, le, gt, ge, eq, ne, where) runs for these " \
      "operands.", broadcast_ir, params_broadcast_ir, 0) \
    X(neg, "a", "-a (float32, int32 or int64), as a new Buffer.", \
      signed_unary, params_a, AT_STD_NEG) \
    X(abs, "a", "|a| (float32, int32 or int64), as a new Buffer.", \
      signed_unary, params_a, AT_STD_ABS) \
    OP_A(X, relu, "max(a, 0)", RELU) \
    OP_A(X, sigmoid, "1 / (1 + exp(-a))", SIGMOID) \
    OP_A(X, tanh, "tanh(a)", TANH) \
    OP_A(X, softmax, "softmax over a 1-D buffer or each row of a 2-D one", \
         SOFTMAX) \
    OP_A(X, exp, "exp(a)", EXP) \
    OP_A(X, log, "log(a)", LOG) \
    OP_A(X, sqrt, "sqrt(a)", SQRT) \
    OP_REDUCE(X, sum, "Sum", SUM) \
    OP_REDUCE(X, max, "Maximum", MAX) \
    OP_REDUCE(X, min, "Minimum", MIN) \
    OP_REDUCE(X, mean, "Mean", MEAN) \
    OP_ARG(X, argmax, "maximum", ARGMAX) \
    OP_ARG(X, argmin, "minimum", ARGMIN) \
    X(gemm, "a, b, *, m, n, k, trans_a=False, trans_b=False", \
      "(m, k) @ (k, n), row-major: a Buffer of shape (m, n).  With " \
      "trans_a, a holds the (k, m) transpose of A; with trans_b, b holds " \
      "the (n, k) transpose of B (x @ W.T for W stored as in nn.Linear); " \
      "neither is copied.", \
      gemm, params_gemm, AT_STD_GEMM) \
    X(mse_loss, "pred, target", \
      "mean((pred - target) ** 2), as a 0-d Buffer.", \
      plain, params_pred_target, AT_STD_MSE_LOSS) \
    X(cross_entropy, "logits, target, ignore_index=-100", \
      "Mean cross-entropy over the rows whose target is not ignore_index, " \
      "as a 0-d Buffer.", \
      cross_entropy, params_ce, AT_STD_CROSS_ENTROPY) \
    X(gelu, "a, approximate='none'", \
      "a * Phi(a) (Phi the standard normal CDF, through erf), or with " \
      "approximate='tanh' PyTorch's tanh form, as a new Buffer.", \
      gelu, params_gelu, AT_STD_GELU, AT_STD_GELU_TANH) \
    OP_A(X, silu, "a * sigmoid(a)", SILU) \
    X(leaky_relu, "a, negative_slope=0.01", \
      "a where a > 0, else a * negative_slope, as a new Buffer.", \
      leaky_relu, params_leaky_relu, AT_STD_LEAKY_RELU) \
    X(softplus, "a, beta=1.0, threshold=20.0", \
      "log1p(exp(beta * a)) / beta, or a where beta * a > threshold, " \
      "as a new Buffer.", \
      softplus, params_softplus, AT_STD_SOFTPLUS) \
    OP_A(X, log_softmax, \
         "log(softmax(a)) over the last axis (each row; a 1-D buffer whole)", \
         LOG_SOFTMAX) \
    X(binary_cross_entropy, "p, t", \
      "Mean of -(t * log(p) + (1 - t) * log(1 - p)), each log clamped at " \
      "-100, as a 0-d Buffer; p and t of one shape, in [0, 1].", \
      plain, params_p_t, AT_STD_BINARY_CROSS_ENTROPY) \
    X(clip, "a, min=None, max=None", \
      "a clamped to [min, max] (torch.clamp: NaN propagates; min > max " \
      "gives max), as a new Buffer.", \
      clip, params_clip, AT_STD_CLIP) \
    X(layer_norm, "x, weight=None, bias=None, eps=1e-05", \
      "(x - mean) / sqrt(var + eps) * weight + bias over the last axis " \
      "(var biased; weight and bias float32 of shape (C,), C the last " \
      "axis, each optional), as a new Buffer.", \
      layer_norm, params_layer_norm, AT_STD_LAYER_NORM, \
      AT_STD_LAYER_NORM_W, AT_STD_LAYER_NORM_B, AT_STD_LAYER_NORM_WB) \
    X(matmul, "a, b", \
      "a @ b by NumPy's rules (float32): 2-D @ 2-D a matrix product, a " \
      "1-D operand a vector (its axis leaves the result), leading axes " \
      "batch axes that broadcast, as a new Buffer.", \
      matmul, params_ab, AT_STD_GEMM)
/* clang-format on */

HG_OPS(OP_ENTRY)

/* ---- kernel_ir(name) -> str ---------------------------------------------- */

static PyObject *op_kernel_ir(PyObject *module, PyObject *const *args,
                              Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *a[1];
    if (parse_op(STATE(module), "kernel_ir", &params_name, args, nargs, kwnames,
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
    PyObject *text = hg_kernel_text(k);
    at_kernel_free(k);
    return text;
}

/* ------------------------------------------------------------------------ */

/* A module-level function's PyMethodDef: the docstring starts with the text
 * signature (name($module, params)), which inspect.signature reads. */
#define FASTKW (METH_FASTCALL | METH_KEYWORDS)
#define OP_METHOD(name, params_text, doc, ...)              \
    {#name, (PyCFunction)(void (*)(void))op_##name, FASTKW, \
     #name "($module, " params_text ")\n--\n\n" doc},

/* clang-format off */
PyMethodDef hg_module_methods[] = {
    {"cpu_info", hg_cpu_info, METH_NOARGS,
     "cpu_info($module, /)\n--\n\n"
     "A dict: brand, best isa, isa_supported, isa_compiled and ncpu."},
    HG_OPS(OP_METHOD)
    OP_METHOD(kernel_ir, "name", "The IR text (a str) of a built-in op.")
    {NULL, NULL, 0, NULL},
};
/* clang-format on */
