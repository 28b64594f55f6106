/* Hologram Atlas — hologram.Buffer: a dense C-contiguous array in an
 * executor's pool, exported through the buffer protocol. */
#include "hg.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static inline hg_state *buffer_state(BufferObject *b) { return b->exec->st; }

/* Buffers hold one strong reference, to their Executor, and an Executor
 * holds none to Python objects it could reach a Buffer through (it is not
 * subclassable and has no __dict__), so a Buffer can never be part of a
 * reference cycle: the type is not GC-tracked, which saves the tracking and
 * the collections every op's result would otherwise cost. */
BufferObject *hg_buffer_wrap(ExecutorObject *exec, const at_tensor *t,
                             const char *fn)
{
    hg_state *st = exec->st;
    if (st->BufferType == NULL) {
        PyErr_Format(PyExc_RuntimeError,
                     "%s: hologram._core has been finalized", fn);
        return NULL;
    }
    BufferObject *b;
    if (st->nfree > 0) {
        b = (BufferObject *)st->freelist[--st->nfree];
        (void)PyObject_Init((PyObject *)b,
                            st->BufferType);   /* increfs the type */
    } else {
        b = PyObject_New(BufferObject, st->BufferType);
        if (b == NULL)
            return NULL;
    }
    Py_INCREF(exec);
    b->exec = exec;
    b->t.data = t->data;
    b->t.dtype = t->dtype;
    b->t.ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++)
        b->t.shape[i] = t->shape[i];
    b->t.numel = t->numel;
    b->nbytes =
        t->numel
        * at_dtype_size(t->dtype);   /* checked by the allocator's caller */
    b->exports = 0;
    return b;
}

BufferObject *hg_buffer_new(ExecutorObject *exec, at_dtype dt, int ndim,
                            const int64_t *shape, size_t numel, const char *fn)
{
    if ((unsigned)dt >= HG_NDTYPES || ndim < 0 || ndim > AT_MAX_DIMS) {
        PyErr_Format(PyExc_RuntimeError,
                     "%s: invalid output description (dtype %d, ndim %d)", fn,
                     (int)dt, ndim);
        return NULL;
    }
    size_t nbytes;
    if (at_mul_overflow(numel, at_dtype_size(dt), &nbytes)
        || nbytes > (size_t)PY_SSIZE_T_MAX)
    {
        char sbuf[200];
        at_format_shape(sbuf, sizeof sbuf, ndim, shape);
        PyErr_Format(PyExc_OverflowError,
                     "%s: a %s buffer of shape %s is too large", fn,
                     at_dtype_name(dt), sbuf);
        return NULL;
    }
    at_tensor t;
    t.dtype = dt;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t.shape[i] = shape[i];
    t.numel = numel;
    t.data = at_pool_alloc(exec->pool, nbytes);
    if (t.data == NULL) {
        PyErr_Format(PyExc_MemoryError,
                     "%s: out of memory allocating %zu bytes", fn, nbytes);
        return NULL;
    }
    BufferObject *b = hg_buffer_wrap(exec, &t, fn);
    if (b == NULL)
        at_pool_free(exec->pool, t.data);
    return b;
}

void hg_buffer_freelist_clear(hg_state *st)
{
    while (st->nfree > 0)
        PyObject_Free(st->freelist[--st->nfree]);
}

static void buffer_dealloc(PyObject *op)
{
    BufferObject *b = (BufferObject *)op;
    PyTypeObject *tp = Py_TYPE(op);
    ExecutorObject *exec = b->exec;
    hg_state *st = NULL;
    if (exec != NULL) {
        st = exec->st;
        if (b->t.data != NULL)
            at_pool_free(exec->pool, b->t.data); /* before the pool can die */
        b->t.data = NULL;
        b->exec = NULL;
        Py_DECREF(exec);
    }
    if (st != NULL && st->BufferType == tp && st->nfree < HG_BUFFER_FREELIST) {
        st->freelist[st->nfree++] = op; /* memory kept, type released */
    } else {
        tp->tp_free(op);
    }
    Py_DECREF(tp);
}

/* ------------------------------------------------------------------------ */
/* Buffer protocol                                                          */
/* ------------------------------------------------------------------------ */

static int buffer_getbuffer(PyObject *op, Py_buffer *view, int flags)
{
    BufferObject *b = (BufferObject *)op;
    if (view == NULL) {
        PyErr_SetString(PyExc_BufferError,
                        "hologram.Buffer: view==NULL argument is obsolete");
        return -1;
    }
    int nd = b->t.ndim;
    if ((flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS) {
        /* C order is also Fortran order when at most one dim exceeds 1. */
        int big = 0;
        for (int i = 0; i < nd; i++)
            big += b->t.shape[i] > 1;
        if (big > 1 && b->t.numel != 0) {
            PyErr_SetString(PyExc_BufferError,
                            "hologram.Buffer is not Fortran contiguous");
            return -1;
        }
    }
    size_t isz = at_dtype_size(b->t.dtype);
    Py_ssize_t stride = (Py_ssize_t)isz;
    for (int i = nd - 1; i >= 0; i--) {
        b->view_shape[i] = (Py_ssize_t)b->t.shape[i];
        b->view_strides[i] = stride;
        if (b->t.shape[i] > 0)
            stride *= (Py_ssize_t)b->t.shape[i]; /* bounded by nbytes */
    }
    view->buf = b->t.data;
    view->obj = Py_NewRef(op);
    view->len = (Py_ssize_t)b->nbytes;
    view->readonly = 0;
    view->itemsize = (Py_ssize_t)isz;
    view->format =
        (flags & PyBUF_FORMAT) ? (char *)hg_dtypes[b->t.dtype].format : NULL;
    if ((flags & PyBUF_ND) == PyBUF_ND) {
        view->ndim = nd;
        view->shape = b->view_shape;
    } else {
        view->ndim = 1; /* a flat run of bytes, as arraymodule */
        view->shape = NULL;
    }
    view->strides =
        ((flags & PyBUF_STRIDES) == PyBUF_STRIDES) ? b->view_strides : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    b->exports++;
    return 0;
}

static void buffer_releasebuffer(PyObject *op, Py_buffer *Py_UNUSED(view))
{
    ((BufferObject *)op)->exports--;
}

/* ------------------------------------------------------------------------ */
/* Methods and properties                                                   */
/* ------------------------------------------------------------------------ */

static PyObject *buffer_to_numpy(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    BufferObject *b = (BufferObject *)op;
    npy_intp dims[AT_MAX_DIMS];
    for (int i = 0; i < b->t.ndim; i++)
        dims[i] = (npy_intp)b->t.shape[i];
    PyObject *arr =
        PyArray_SimpleNew(b->t.ndim, dims, hg_dtypes[b->t.dtype].npy_type);
    if (arr == NULL)
        return NULL;
    if (b->nbytes > 0)
        hg_copy(PyArray_DATA((PyArrayObject *)arr), b->t.data, b->nbytes);
    return arr;
}

static PyObject *scalar_at(const BufferObject *b, size_t i)
{
    switch (b->t.dtype) {
        case AT_F32:
            return PyFloat_FromDouble((double)((const float *)b->t.data)[i]);
        case AT_I32:
            return PyLong_FromLong((long)((const int32_t *)b->t.data)[i]);
        case AT_I64:
            return PyLong_FromLongLong(
                (long long)((const int64_t *)b->t.data)[i]);
        default:
            PyErr_SetString(PyExc_RuntimeError, "hologram.Buffer: bad dtype");
            return NULL;
    }
}

static PyObject *buffer_item(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    BufferObject *b = (BufferObject *)op;
    if (b->t.numel != 1) {
        char sbuf[200];
        at_format_shape(sbuf, sizeof sbuf, b->t.ndim, b->t.shape);
        PyErr_Format(
            PyExc_ValueError,
            "item: can only convert a buffer of size 1 to a Python scalar, "
            "got shape %s (size %zu)",
            sbuf, b->t.numel);
        return NULL;
    }
    return scalar_at(b, 0);
}

static Py_ssize_t buffer_length(PyObject *op)
{
    BufferObject *b = (BufferObject *)op;
    if (b->t.ndim == 0) {
        PyErr_SetString(PyExc_TypeError, "len() of a 0-d hologram.Buffer");
        return -1;
    }
    return (Py_ssize_t)b->t.shape[0];
}

static PyObject *buffer_get_shape(PyObject *op, void *Py_UNUSED(c))
{
    BufferObject *b = (BufferObject *)op;
    PyObject *t = PyTuple_New(b->t.ndim);
    if (t == NULL)
        return NULL;
    for (int i = 0; i < b->t.ndim; i++) {
        PyObject *v = PyLong_FromLongLong((long long)b->t.shape[i]);
        if (v == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

static PyObject *buffer_get_dtype(PyObject *op, void *Py_UNUSED(c))
{
    BufferObject *b = (BufferObject *)op;
    return Py_NewRef((PyObject *)buffer_state(b)->descr[b->t.dtype]);
}

static PyObject *buffer_get_ndim(PyObject *op, void *Py_UNUSED(c))
{
    return PyLong_FromLong(((BufferObject *)op)->t.ndim);
}

static PyObject *buffer_get_size(PyObject *op, void *Py_UNUSED(c))
{
    return PyLong_FromSize_t(((BufferObject *)op)->t.numel);
}

static PyObject *buffer_get_nbytes(PyObject *op, void *Py_UNUSED(c))
{
    return PyLong_FromSize_t(((BufferObject *)op)->nbytes);
}

static PyObject *buffer_get_executor(PyObject *op, void *Py_UNUSED(c))
{
    return Py_NewRef((PyObject *)((BufferObject *)op)->exec);
}

static PyObject *buffer_repr(PyObject *op)
{
    BufferObject *b = (BufferObject *)op;
    char sbuf[200];
    at_format_shape(sbuf, sizeof sbuf, b->t.ndim, b->t.shape);
    char vals[HG_REPR_VALUES * 32 + 16];
    size_t pos = 0;
    vals[pos++] = '[';
    size_t n = b->t.numel < HG_REPR_VALUES ? b->t.numel : HG_REPR_VALUES;
    for (size_t i = 0; i < n; i++) {
        char one[32];
        switch (b->t.dtype) {
            case AT_F32: {
                double v = (double)((const float *)b->t.data)[i];
                if (isnan(v))
                    snprintf(one, sizeof one, "nan");
                else
                    snprintf(one, sizeof one, "%.6g",
                             v); /* "inf", "-inf" as Python */
                break;
            }
            case AT_I32:
                snprintf(one, sizeof one, "%" PRId32,
                         ((const int32_t *)b->t.data)[i]);
                break;
            default:
                snprintf(one, sizeof one, "%" PRId64,
                         ((const int64_t *)b->t.data)[i]);
                break;
        }
        int w =
            snprintf(vals + pos, sizeof vals - pos, "%s%s", i ? ", " : "", one);
        if (w > 0)
            pos += (size_t)w;
        if (pos >= sizeof vals)
            pos = sizeof vals - 1;
    }
    if (b->t.numel > n)
        snprintf(vals + pos, sizeof vals - pos, ", ...]");
    else
        snprintf(vals + pos, sizeof vals - pos, "]");
    return PyUnicode_FromFormat("<hologram.Buffer shape=%s dtype=%s %s>", sbuf,
                                at_dtype_name(b->t.dtype), vals);
}

static PyMethodDef buffer_methods[] = {
    {"to_numpy", buffer_to_numpy, METH_NOARGS,
     "to_numpy($self, /)\n--\n\n"
     "A new C-contiguous numpy.ndarray with the same shape, dtype and "
     "values."},
    {"item", buffer_item, METH_NOARGS,
     "item($self, /)\n--\n\n"
     "The single element of a size-1 buffer, as a float or an int."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef buffer_getset[] = {
    {"shape", buffer_get_shape, NULL, "tuple of ints", NULL},
    {"dtype", buffer_get_dtype, NULL, "numpy.dtype (float32, int32 or int64)",
     NULL},
    {"ndim", buffer_get_ndim, NULL, "number of dimensions", NULL},
    {"size", buffer_get_size, NULL, "number of elements", NULL},
    {"nbytes", buffer_get_nbytes, NULL, "size * itemsize", NULL},
    {"executor", buffer_get_executor, NULL, "the Executor that owns the memory",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot buffer_slots[] = {
    {Py_tp_doc,
     (void *)"A dense, C-contiguous array in an executor's memory pool.\n\n"
             "Made only by an Executor (from_numpy, empty, zeros) or an op."},
    {Py_tp_dealloc, buffer_dealloc},
    {Py_tp_repr, buffer_repr},
    {Py_tp_methods, buffer_methods},
    {Py_tp_getset, buffer_getset},
    {Py_sq_length, buffer_length},
    {Py_mp_length, buffer_length},
    {Py_bf_getbuffer, buffer_getbuffer},
    {Py_bf_releasebuffer, buffer_releasebuffer},
    {0, NULL},
};

PyType_Spec hg_buffer_spec = HG_TYPE_SPEC(
    "Buffer", BufferObject, Py_TPFLAGS_DISALLOW_INSTANTIATION, buffer_slots);
