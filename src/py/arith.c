/* Hologram Atlas — operators on hg.Buffer and the broadcasting ops.
 *
 * The number-protocol and rich-comparison slots of Buffer call the standard
 * library's broadcasting layer (at_bc_*, include/atlas/stdlib.h).  An
 * operand is a Buffer or a Python int/float (bool included); for any other
 * type a slot returns NotImplemented, so that the other operand's type (a
 * traced value of @hg.jit, NumPy, ...) can take over through its reflected
 * operator.  Same-shape float32 arithmetic takes the hg.ops path
 * (hg_run_op of vector_add & co.), which is the same kernel and the same
 * cost. */
#include "hg.h"

#include <string.h>

/* An operand's kind after classification. */
enum {
    OPD_OTHER,
    OPD_BUFFER,
    OPD_NUMBER
};

static int classify(hg_state *st, PyObject *o)
{
    if (hg_buffer_check(st, o))
        return OPD_BUFFER;
    if (PyFloat_Check(o) || PyLong_Check(o))
        return OPD_NUMBER;
    return OPD_OTHER;
}

/* The same-shape float32 op of hg.ops for each op, plus one (0: none). */
static const int same_shape_stdop[AT_BC_COUNT] = {
    [AT_BC_ADD] = 1 + AT_STD_VECTOR_ADD, [AT_BC_SUB] = 1 + AT_STD_VECTOR_SUB,
    [AT_BC_MUL] = 1 + AT_STD_VECTOR_MUL, [AT_BC_DIV] = 1 + AT_STD_VECTOR_DIV,
    [AT_BC_POW] = 1 + AT_STD_POW,
};

static PyObject *launch_plan(ExecutorObject *exec, at_bc_plan *plan,
                             BufferObject *into, const char *fn)
{
    at_error err;
    err.msg[0] = '\0';
    at_status rc;
    at_executor *ex = exec->ex;
    if (into)
        plan->out.data = into->t.data;
    /* in place: launch into the left operand; else allocate and launch */
    if (at_bc_cost(ex, plan) >= HG_GIL_RELEASE_COST) {
        Py_BEGIN_ALLOW_THREADS
        rc = into ? at_bc_launch(ex, plan, &err)
                  : at_bc_run_prepared(ex, plan, &err);
        Py_END_ALLOW_THREADS
    } else {
        rc = into ? at_bc_launch(ex, plan, &err)
                  : at_bc_run_prepared(ex, plan, &err);
    }
    if (rc != AT_OK)
        return hg_raise(rc, &err);
    if (into)
        return Py_NewRef((PyObject *)into);
    BufferObject *res = hg_buffer_wrap(exec, &plan->out, fn);
    if (res == NULL)
        at_pool_free(exec->pool, plan->out.data);
    return (PyObject *)res;
}

static PyObject *wrong_target(const char *fn, const at_tensor *res,
                              const BufferObject *into)
{
    char s0[96], s1[96];
    at_format_shape(s0, sizeof s0, into->t.ndim, into->t.shape);
    at_format_shape(s1, sizeof s1, res->ndim, res->shape);
    if (res->dtype != into->t.dtype)
        PyErr_Format(PyExc_TypeError,
                     "%s: in-place result of dtype %s cannot be written into "
                     "a %s buffer of shape %s",
                     fn, at_dtype_name(res->dtype),
                     at_dtype_name(into->t.dtype), s0);
    else
        PyErr_Format(PyExc_ValueError,
                     "%s: in-place result of shape %s does not match the "
                     "buffer's shape %s",
                     fn, s1, s0);
    return NULL;
}

/* A Python bool, int or float as an operand (PyTorch reads an int beyond
 * int64 as an overflow).  0, or -1 with an exception set. */
static int number_operand(const char *fn, int i, PyObject *o,
                          at_bc_operand *opd)
{
    opd->t = NULL;
    opd->value = 0.0;
    opd->ivalue = 0;
    if (PyBool_Check(o)) {
        opd->kind = AT_BOOL;
        opd->ivalue = o == Py_True;
        return 0;
    }
    if (PyLong_Check(o)) {
        int overflow;
        opd->kind = AT_I64;
        opd->ivalue = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow) {
            PyErr_Format(PyExc_OverflowError,
                         "%s: operand %d does not fit in int64", fn, i);
            return -1;
        }
        return opd->ivalue == -1 && PyErr_Occurred() ? -1 : 0;
    }
    opd->kind = AT_F32;
    opd->value = PyFloat_AsDouble(o);
    return opd->value == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* Convert x[0..n) into opd; *exec is the Buffers' executor (NULL if there
 * is none).  0; 1 for an operand of another type with others_ok (the caller
 * returns NotImplemented); -1 with an exception set. */
static int to_operands(hg_state *st, const char *fn, PyObject *const *x, int n,
                       int others_ok, at_bc_operand *opd, ExecutorObject **exec)
{
    *exec = NULL;
    for (int i = 0; i < n; i++) {
        int kind = classify(st, x[i]);
        if (kind == OPD_BUFFER) {
            BufferObject *b = (BufferObject *)x[i];
            if (*exec == NULL) {
                *exec = b->exec;
            } else if (b->exec != *exec) {
                PyErr_Format(PyExc_ValueError,
                             "%s: buffers belong to different executors", fn);
                return -1;
            }
            opd[i].t = &b->t;
            opd[i].value = 0.0;
        } else if (kind == OPD_NUMBER) {
            if (number_operand(fn, i, x[i], &opd[i]) < 0)
                return -1;
        } else if (others_ok) {
            return 1;
        } else {
            PyErr_Format(PyExc_TypeError,
                         "%s: operand %d must be a hologram.Buffer or a Python "
                         "float/int, got %.200s",
                         fn, i, Py_TYPE(x[i])->tp_name);
            return -1;
        }
    }
    return 0;
}

static at_bcop bcop_named(PyObject *name)
{
    for (int i = 0; i < AT_BC_COUNT; i++)
        if (PyUnicode_CompareWithASCIIString(name, at_bcop_name((at_bcop)i))
            == 0)
            return (at_bcop)i;
    return AT_BC_COUNT;
}

PyObject *hg_broadcast_ir(hg_state *st, const char *fn, PyObject *name,
                          PyObject *const *x, int n)
{
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "%s: op must be a str, got %.200s", fn,
                     Py_TYPE(name)->tp_name);
        return NULL;
    }
    at_bcop op = bcop_named(name);
    if (op == AT_BC_COUNT) {
        PyErr_Format(PyExc_ValueError, "%s: unknown broadcasting op %R", fn,
                     name);
        return NULL;
    }
    at_bc_operand opd[3];
    ExecutorObject *exec;
    if (to_operands(st, fn, x, n, 0, opd, &exec) < 0)
        return NULL;
    at_bc_plan plan;
    at_kernel *k = NULL;
    at_error err;
    err.msg[0] = '\0';
    at_status rc = at_bc_prepare(op, NULL, opd, (size_t)n, &plan, &err);
    if (rc == AT_OK)
        rc = at_bc_kernel(&plan, &k, &err);
    if (rc != AT_OK)
        return hg_raise(rc, &err);
    PyObject *text = hg_kernel_text(k);
    at_kernel_free(k);
    return text;
}

PyObject *hg_broadcast(hg_state *st, at_bcop op, const char *fn,
                       PyObject *const *x, int n, BufferObject *into,
                       int others_ok)
{
    at_bc_operand opd[3];
    ExecutorObject *exec;
    int rc0 = to_operands(st, fn, x, n, others_ok, opd, &exec);
    if (rc0 != 0) {
        if (rc0 < 0)
            return NULL;
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (exec == NULL) {
        if (others_ok)
            Py_RETURN_NOTIMPLEMENTED;
        PyErr_Format(PyExc_TypeError,
                     "%s: at least one operand must be a hologram.Buffer", fn);
        return NULL;
    }
    int sop = same_shape_stdop[op] - 1;
    if (n == 2 && into == NULL && sop >= 0 && opd[0].t && opd[1].t
        && opd[0].t->dtype == AT_F32 && opd[1].t->dtype == AT_F32
        && at_same_shape(opd[0].t, opd[1].t))
        return hg_run_op(st, (at_stdop)sop, fn, x, 2);
    at_bc_plan plan;
    at_error err;
    err.msg[0] = '\0';
    at_status rc = at_bc_prepare(op, fn, opd, (size_t)n, &plan, &err);
    if (rc != AT_OK)
        return hg_raise(rc, &err);
    if (into
        && (plan.out.dtype != into->t.dtype
            || !at_same_shape(&plan.out, &into->t)))
        return wrong_target(fn, &plan.out, into);
    return launch_plan(exec, &plan, into, fn);
}

/* ---- the Buffer's slots -------------------------------------------------- */

/* The module state, through whichever operand is a Buffer (a slot of
 * Buffer is only called with one): its executor holds the state. */
static hg_state *state_of(PyObject *a, PyObject *b)
{
    PyObject *buf = hg_is_buffer(a) ? a : b;
    return ((BufferObject *)buf)->exec->st;
}

#define BINARY_SLOT(slot, OP, name)                                   \
    PyObject *slot(PyObject *l, PyObject *r)                          \
    {                                                                 \
        PyObject *x[2] = {l, r};                                      \
        return hg_broadcast(state_of(l, r), OP, name, x, 2, NULL, 1); \
    }

/* In place: the left operand is the Buffer whose type owns the slot. */
#define INPLACE_SLOT(slot, OP, name)                                   \
    PyObject *slot(PyObject *l, PyObject *r)                           \
    {                                                                  \
        hg_state *st = state_of(l, r);                                 \
        PyObject *x[2] = {l, r};                                       \
        if (!hg_buffer_check(st, l))                                   \
            Py_RETURN_NOTIMPLEMENTED;                                  \
        return hg_broadcast(st, OP, name, x, 2, (BufferObject *)l, 1); \
    }

BINARY_SLOT(hg_buffer_add, AT_BC_ADD, "add")
BINARY_SLOT(hg_buffer_sub, AT_BC_SUB, "sub")
BINARY_SLOT(hg_buffer_mul, AT_BC_MUL, "mul")
BINARY_SLOT(hg_buffer_div, AT_BC_DIV, "div")
INPLACE_SLOT(hg_buffer_iadd, AT_BC_ADD, "add")
INPLACE_SLOT(hg_buffer_isub, AT_BC_SUB, "sub")
INPLACE_SLOT(hg_buffer_imul, AT_BC_MUL, "mul")
INPLACE_SLOT(hg_buffer_idiv, AT_BC_DIV, "div")

PyObject *hg_buffer_pow(PyObject *l, PyObject *r, PyObject *mod)
{
    if (mod != Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "pow: a modulus is not supported for Buffers");
        return NULL;
    }
    PyObject *x[2] = {l, r};
    return hg_broadcast(state_of(l, r), AT_BC_POW, "pow", x, 2, NULL, 1);
}

/* -a and abs(a): hg.ops.neg and hg.ops.abs (float32, int32, int64). */
PyObject *hg_buffer_neg(PyObject *a)
{
    return hg_signed_unary(((BufferObject *)a)->exec->st, AT_STD_NEG, "neg", a);
}

PyObject *hg_buffer_abs(PyObject *a)
{
    return hg_signed_unary(((BufferObject *)a)->exec->st, AT_STD_ABS, "abs", a);
}

PyObject *hg_buffer_richcompare(PyObject *a, PyObject *b, int cmp)
{
    static const at_bcop ops[6] = {
        [Py_LT] = AT_BC_LT, [Py_LE] = AT_BC_LE, [Py_EQ] = AT_BC_EQ,
        [Py_NE] = AT_BC_NE, [Py_GT] = AT_BC_GT, [Py_GE] = AT_BC_GE,
    };
    static const char *const names[6] = {
        [Py_LT] = "lt", [Py_LE] = "le", [Py_EQ] = "eq",
        [Py_NE] = "ne", [Py_GT] = "gt", [Py_GE] = "ge",
    };
    if (cmp < 0 || cmp > 5)
        Py_RETURN_NOTIMPLEMENTED;
    PyObject *x[2] = {a, b};
    return hg_broadcast(state_of(a, b), ops[cmp], names[cmp], x, 2, NULL, 1);
}

/* Hashable by identity, as torch tensors are (== is elementwise). */
Py_hash_t hg_buffer_hash(PyObject *a) { return _Py_HashPointer(a); }
