/* Hologram Atlas — hologram.Buffer: a dense C-contiguous array in an
 * executor's pool (or, imported through DLPack, in another library's
 * memory), exported through the buffer protocol, __array__ and DLPack. */
#include "hg.h"

#include "dlpack.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static inline hg_state *buffer_state(BufferObject *b) { return b->exec->st; }

/* Buffers hold strong references to their Executor and to their memory's
 * owner (an import's capsule, or the Buffer a view shares memory with, which
 * itself owns its memory), and an Executor holds none to Python objects it
 * could reach a Buffer through (it is not subclassable and has no
 * __dict__), so a Buffer can never be part of a reference cycle: the type is
 * not GC-tracked, which saves the tracking and the collections every op's
 * result would otherwise cost. */
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
    b->owner = NULL;
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
        if (b->owner != NULL)
            Py_CLEAR(b->owner); /* an import's or a view's: its owner's */
        else if (b->t.data != NULL)
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
        case AT_BOOL:
            return PyBool_FromLong(((const uint8_t *)b->t.data)[i] != 0);
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
            case AT_BOOL:
                snprintf(one, sizeof one, "%s",
                         ((const uint8_t *)b->t.data)[i] ? "True" : "False");
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

/* ------------------------------------------------------------------------ */
/* __array__                                                                */
/* ------------------------------------------------------------------------ */

/* An ndarray over b's memory (no copy) that keeps b alive. */
static PyObject *numpy_view(BufferObject *b)
{
    npy_intp dims[AT_MAX_DIMS];
    for (int i = 0; i < b->t.ndim; i++)
        dims[i] = (npy_intp)b->t.shape[i];
    PyArray_Descr *d = buffer_state(b)->descr[b->t.dtype];
    Py_INCREF(d); /* stolen */
    PyObject *arr =
        PyArray_NewFromDescr(&PyArray_Type, d, b->t.ndim, dims, NULL, b->t.data,
                             NPY_ARRAY_CARRAY, NULL);
    if (arr == NULL)
        return NULL;
    if (PyArray_SetBaseObject((PyArrayObject *)arr, Py_NewRef(b)) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

/* __array__(dtype=None, copy=None), NumPy 2's protocol: copy=False gives a
 * view or raises ValueError when dtype asks for a conversion, copy=True a
 * copy, None a view unless a conversion is needed. */
static PyObject *buffer_array(PyObject *op, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"dtype", "copy", NULL};
    PyObject *odtype = Py_None, *ocopy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:__array__", kwlist,
                                     &odtype, &ocopy))
        return NULL;
    BufferObject *b = (BufferObject *)op;
    int copy = -1; /* None */
    if (ocopy != Py_None && (copy = PyObject_IsTrue(ocopy)) < 0)
        return NULL;
    PyArray_Descr *want = NULL;
    if (odtype != Py_None && !PyArray_DescrConverter(odtype, &want))
        return NULL;
    PyArray_Descr *have = buffer_state(b)->descr[b->t.dtype];
    if (want != NULL && PyArray_EquivTypes(want, have))
        Py_CLEAR(want);
    if (want != NULL && copy == 0) {
        PyErr_Format(PyExc_ValueError,
                     "__array__: a %s buffer cannot be converted to %S "
                     "without a copy (copy=False)",
                     at_dtype_name(b->t.dtype), (PyObject *)want);
        Py_DECREF(want);
        return NULL;
    }
    PyObject *view = numpy_view(b);
    if (view == NULL || (want == NULL && copy != 1)) {
        Py_XDECREF(want);
        return view;
    }
    PyObject *out = want != NULL
                        ? PyArray_CastToType((PyArrayObject *)view, want, 0)
                        : PyArray_NewCopy((PyArrayObject *)view, NPY_CORDER);
    Py_DECREF(view);
    return out;
}

/* ------------------------------------------------------------------------ */
/* DLPack export: __dlpack__ and __dlpack_device__                          */
/* ------------------------------------------------------------------------ */

/* The DLPack type of each storage dtype, indexed by at_dtype. */
static const hg_dl_dtype dl_dtypes[HG_NDTYPES] = {
    [AT_F32] = {HG_DL_FLOAT, 32, 1},
    [AT_I32] = {HG_DL_INT, 32, 1},
    [AT_I64] = {HG_DL_INT, 64, 1},
    [AT_BOOL] = {HG_DL_BOOL, 8, 1},
};

/* One exported tensor: the managed tensor handed out (legacy or versioned),
 * the shape and strides it points at, and the Buffer whose reference keeps
 * the memory (and its executor) alive until the consumer calls the deleter.
 * Allocated with the raw allocator, which needs no GIL. */
typedef struct dl_export {
    union {
        hg_dl_managed legacy;
        hg_dl_managed_v v;
    } m;
    int64_t shape[AT_MAX_DIMS];
    int64_t strides[AT_MAX_DIMS];
    PyObject *buffer;
} dl_export;

/* The consumer may call a deleter from any thread, with or without the GIL
 * (DLPack leaves it open), so the release takes the GIL itself.  Once the
 * interpreter is finalizing the Buffer's reference is left behind. */
static void dl_export_release(dl_export *e)
{
    if (Py_IsInitialized()) {
        PyGILState_STATE g = PyGILState_Ensure();
        Py_DECREF(e->buffer);
        PyGILState_Release(g);
    }
    PyMem_RawFree(e);
}

static void dl_export_deleter(hg_dl_managed *m)
{
    dl_export_release((dl_export *)m->manager_ctx);
}

static void dl_export_deleter_v(hg_dl_managed_v *m)
{
    dl_export_release((dl_export *)m->manager_ctx);
}

/* Capsule destructors: a capsule still under its unused name was never
 * consumed and owns its tensor; a consumer renames it to "used_..." when it
 * takes the tensor over, and then the capsule leaves the tensor alone. */
static void dl_capsule_free(PyObject *cap)
{
    if (PyCapsule_IsValid(cap, HG_DL_CAPSULE)) {
        hg_dl_managed *m = PyCapsule_GetPointer(cap, HG_DL_CAPSULE);
        m->deleter(m);
    }
}

static void dl_capsule_free_v(PyObject *cap)
{
    if (PyCapsule_IsValid(cap, HG_DL_CAPSULE_V)) {
        hg_dl_managed_v *m = PyCapsule_GetPointer(cap, HG_DL_CAPSULE_V);
        m->deleter(m);
    }
}

/* o as a tuple of two ints (max_version, dl_device).  0, or -1 with
 * TypeError set. */
static int int_pair(const char *what, PyObject *o, int64_t out[2])
{
    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 2) {
        PyErr_Format(PyExc_TypeError,
                     "__dlpack__: %s must be a tuple of two ints, got %.200s",
                     what, Py_TYPE(o)->tp_name);
        return -1;
    }
    for (int i = 0; i < 2; i++)
        if (hg_as_int64("__dlpack__", what, PyTuple_GET_ITEM(o, i), &out[i])
            < 0)
            return -1;
    return 0;
}

/* A new Buffer on b's executor holding a copy of b's values. */
static BufferObject *buffer_clone(BufferObject *b, const char *fn)
{
    BufferObject *c = hg_buffer_new(b->exec, b->t.dtype, b->t.ndim, b->t.shape,
                                    b->t.numel, fn);
    if (c != NULL && b->nbytes > 0)
        hg_copy(c->t.data, b->t.data, b->nbytes);
    return c;
}

/* The capsule that exports src (which the export keeps alive) as a
 * versioned or a legacy managed tensor. */
static PyObject *dl_capsule_new(BufferObject *src, int versioned, int copied)
{
    dl_export *e = PyMem_RawCalloc(1, sizeof *e);
    if (e == NULL)
        return PyErr_NoMemory();
    hg_dl_tensor *t = versioned ? &e->m.v.dl_tensor : &e->m.legacy.dl_tensor;
    int64_t stride = 1;
    for (int i = src->t.ndim - 1; i >= 0; i--) {
        e->shape[i] = src->t.shape[i];
        e->strides[i] = stride;
        if (src->t.shape[i] > 0)
            stride *= src->t.shape[i]; /* bounded by nbytes */
    }
    t->data = src->t.data;
    t->device.device_type = HG_DL_CPU;
    t->device.device_id = 0;
    t->ndim = src->t.ndim;
    t->dtype = dl_dtypes[src->t.dtype];
    t->shape = e->shape;
    t->strides = e->strides; /* given even where NULL would do */
    t->byte_offset = 0;
    e->buffer = Py_NewRef(src);
    PyObject *cap;
    if (versioned) {
        e->m.v.version.major = HG_DLPACK_MAJOR;
        e->m.v.version.minor = HG_DLPACK_MINOR;
        e->m.v.manager_ctx = e;
        e->m.v.deleter = dl_export_deleter_v;
        e->m.v.flags = copied ? HG_DL_FLAG_IS_COPIED : 0;
        cap = PyCapsule_New(&e->m.v, HG_DL_CAPSULE_V, dl_capsule_free_v);
    } else {
        e->m.legacy.manager_ctx = e;
        e->m.legacy.deleter = dl_export_deleter;
        cap = PyCapsule_New(&e->m.legacy, HG_DL_CAPSULE, dl_capsule_free);
    }
    if (cap == NULL)
        dl_export_release(e);
    return cap;
}

static PyObject *buffer_dlpack(PyObject *op, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"stream", "max_version", "dl_device", "copy",
                             NULL};
    PyObject *stream = Py_None, *maxv = Py_None, *dev = Py_None;
    PyObject *ocopy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$OOOO:__dlpack__", kwlist,
                                     &stream, &maxv, &dev, &ocopy))
        return NULL;
    BufferObject *b = (BufferObject *)op;
    if (stream != Py_None) {
        PyErr_Format(PyExc_ValueError,
                     "__dlpack__: stream must be None for a CPU buffer, got "
                     "%R",
                     stream);
        return NULL;
    }
    int64_t pair[2];
    int versioned = 0;
    if (maxv != Py_None) {
        if (int_pair("max_version", maxv, pair) < 0)
            return NULL;
        versioned = pair[0] >= 1;
    }
    if (dev != Py_None) {
        if (int_pair("dl_device", dev, pair) < 0)
            return NULL;
        if (pair[0] != HG_DL_CPU || pair[1] != 0) {
            PyErr_Format(PyExc_BufferError,
                         "__dlpack__: cannot export to DLPack device (%lld, "
                         "%lld); a hologram.Buffer is on the CPU, (1, 0)",
                         (long long)pair[0], (long long)pair[1]);
            return NULL;
        }
    }
    if (ocopy != Py_None && !PyBool_Check(ocopy)) {
        PyErr_Format(PyExc_TypeError,
                     "__dlpack__: copy must be a bool or None, got %.200s",
                     Py_TYPE(ocopy)->tp_name);
        return NULL;
    }
    int copied = ocopy == Py_True;
    BufferObject *src =
        copied ? buffer_clone(b, "__dlpack__") : (BufferObject *)Py_NewRef(b);
    if (src == NULL)
        return NULL;
    PyObject *cap = dl_capsule_new(src, versioned, copied);
    Py_DECREF(src);
    return cap;
}

static PyObject *buffer_dlpack_device(PyObject *Py_UNUSED(op),
                                      PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("(ii)", HG_DL_CPU, 0);
}

/* ------------------------------------------------------------------------ */
/* DLPack import: Executor.from_dlpack                                      */
/* ------------------------------------------------------------------------ */

/* The capsule names of an imported tensor's owner (Buffer.owner): the
 * capsule holds the consumed managed tensor and its destructor calls the
 * producer's deleter. */
#define HG_DL_OWNER "hologram.dlpack_owner"
#define HG_DL_OWNER_V "hologram.dlpack_owner_versioned"

/* A consumed managed tensor of either kind. */
typedef struct dl_import {
    void *managed; /* hg_dl_managed or hg_dl_managed_v */
    int versioned;
    const hg_dl_tensor *t;
    uint64_t flags;
} dl_import;

/* Hand the tensor back to its producer.  The producer's deleter may run
 * Python code, so a pending exception is set aside meanwhile. */
static void dl_import_release(const dl_import *im)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
#endif
    if (im->versioned) {
        hg_dl_managed_v *m = im->managed;
        if (m->deleter != NULL)
            m->deleter(m);
    } else {
        hg_dl_managed *m = im->managed;
        if (m->deleter != NULL)
            m->deleter(m);
    }
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(type, value, tb);
#endif
}

static void dl_owner_free(PyObject *cap)
{
    dl_import im = {PyCapsule_GetPointer(cap, HG_DL_OWNER), 0, NULL, 0};
    if (im.managed != NULL)
        dl_import_release(&im);
}

static void dl_owner_free_v(PyObject *cap)
{
    dl_import im = {PyCapsule_GetPointer(cap, HG_DL_OWNER_V), 1, NULL, 0};
    if (im.managed != NULL)
        dl_import_release(&im);
}

/* Take the managed tensor out of cap, renaming cap to its used name.  0, or
 * -1 with an exception set: cap then still owns what it holds, except for a
 * tensor of a newer DLPack major version, which is taken and handed back. */
static int dl_consume(PyObject *cap, dl_import *im)
{
    const char *name = PyCapsule_GetName(cap);
    if (name == NULL)
        return -1;
    im->versioned = strcmp(name, HG_DL_CAPSULE_V) == 0;
    if (!im->versioned && strcmp(name, HG_DL_CAPSULE) != 0) {
        int used = strcmp(name, HG_DL_CAPSULE_USED) == 0
                   || strcmp(name, HG_DL_CAPSULE_V_USED) == 0;
        PyErr_Format(used ? PyExc_ValueError : PyExc_TypeError,
                     used ? "from_dlpack: the DLPack capsule has already "
                            "been consumed"
                          : "from_dlpack: expected a DLPack capsule, got a "
                            "capsule named '%.100s'",
                     name);
        return -1;
    }
    im->managed = PyCapsule_GetPointer(cap, name);
    if (im->managed == NULL)
        return -1;
    if (PyCapsule_SetName(cap, im->versioned ? HG_DL_CAPSULE_V_USED
                                             : HG_DL_CAPSULE_USED)
        < 0)
        return -1;
    if (im->versioned) {
        hg_dl_managed_v *m = im->managed;
        im->t = &m->dl_tensor;
        im->flags = m->flags;
        if (m->version.major > HG_DLPACK_MAJOR) {
            PyErr_Format(PyExc_BufferError,
                         "from_dlpack: DLPack version %u.%u is newer than "
                         "this library's %d.%d",
                         (unsigned)m->version.major, (unsigned)m->version.minor,
                         HG_DLPACK_MAJOR, HG_DLPACK_MINOR);
            dl_import_release(im);
            return -1;
        }
    } else {
        im->t = &((hg_dl_managed *)im->managed)->dl_tensor;
        im->flags = 0;
    }
    return 0;
}

/* The storage dtype of a DLPack type, or -1 (with its name in buf). */
static int dl_dtype(hg_dl_dtype d, char *buf, size_t cap)
{
    for (int i = 0; i < HG_NDTYPES; i++)
        if (d.code == dl_dtypes[i].code && d.bits == dl_dtypes[i].bits
            && d.lanes == 1)
            return i;
    static const char *const codes[] = {
        "int",     "uint", "float",   "opaque",  "bfloat",
        "complex", "bool", "float8_", "float6_", "float4_"};
    if (d.code < sizeof codes / sizeof codes[0])
        snprintf(buf, cap, "%s%u%s", codes[d.code], (unsigned)d.bits,
                 d.lanes == 1 ? "" : " with several lanes");
    else
        snprintf(buf, cap, "(DLPack type code %u, %u bits)", (unsigned)d.code,
                 (unsigned)d.bits);
    return -1;
}

/* Whether a tensor of this shape with these element strides (NULL: C
 * order) is laid out in C order; the strides of size-1 dims do not matter. */
static int dl_is_c_order(int ndim, const int64_t *shape, const int64_t *strides)
{
    if (strides == NULL)
        return 1;
    int64_t want = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        if (shape[i] != 1 && strides[i] != want)
            return 0;
        want *= shape[i];
    }
    return 1;
}

/* Copy a strided tensor of numel elements of isz bytes into dst, in C
 * order.  Elements are copied bytewise: src may be misaligned. */
static void dl_copy_strided(char *dst, const char *src, int ndim,
                            const int64_t *shape, const int64_t *strides,
                            size_t isz, size_t numel)
{
    int64_t idx[AT_MAX_DIMS] = {0};
    int64_t off = 0; /* in elements */
    for (size_t n = 0; n < numel; n++) {
        memcpy(dst + n * isz, src + off * (int64_t)isz, isz);
        for (int d = ndim - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) {
                off += strides[d];
                break;
            }
            off -= strides[d] * (shape[d] - 1);
            idx[d] = 0;
        }
    }
}

/* The Buffer for a consumed tensor: checks it, then either wraps its memory
 * (the owner capsule takes the tensor over) or copies it into exec's pool
 * and releases it.  Every path hands the tensor back exactly once. */
static PyObject *dl_import_buffer(ExecutorObject *exec, dl_import *im)
{
    const char *fn = "from_dlpack";
    const hg_dl_tensor *t = im->t;
    char sbuf[200], dbuf[64];
    if (t->device.device_type != HG_DL_CPU) {
        PyErr_Format(PyExc_ValueError,
                     "%s: the tensor is on DLPack device (%d, %d), not the "
                     "CPU (1, 0); move it to the CPU first",
                     fn, (int)t->device.device_type, (int)t->device.device_id);
        goto fail;
    }
    int dt = dl_dtype(t->dtype, dbuf, sizeof dbuf);
    if (dt < 0) {
        PyErr_Format(PyExc_TypeError,
                     "%s: unsupported dtype %s (supported: float32, int32, "
                     "int64, bool)",
                     fn, dbuf);
        goto fail;
    }
    if (t->ndim < 0 || t->ndim > AT_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError,
                     "%s: tensor has %d dimensions (at most %d)", fn,
                     (int)t->ndim, AT_MAX_DIMS);
        goto fail;
    }
    int ndim = t->ndim;
    size_t numel = 1, nbytes;
    int has_zero = 0, overflow = 0;
    for (int i = 0; i < ndim; i++) {
        if (t->shape[i] < 0) {
            at_format_shape(sbuf, sizeof sbuf, ndim, t->shape);
            PyErr_Format(PyExc_ValueError, "%s: negative dimension in shape %s",
                         fn, sbuf);
            goto fail;
        }
        has_zero |= t->shape[i] == 0;
        overflow |= at_mul_overflow(numel, (size_t)t->shape[i], &numel);
    }
    if (has_zero)
        numel = 0;
    else if (overflow
             || at_mul_overflow(numel, at_dtype_size((at_dtype)dt), &nbytes)
             || nbytes > (size_t)PY_SSIZE_T_MAX)
    {
        at_format_shape(sbuf, sizeof sbuf, ndim, t->shape);
        PyErr_Format(PyExc_OverflowError,
                     "%s: a tensor of shape %s is too large", fn, sbuf);
        goto fail;
    }
    if (numel > 0 && t->data == NULL) {
        PyErr_Format(PyExc_ValueError, "%s: the tensor has no data", fn);
        goto fail;
    }
    char *data = t->data ? (char *)t->data + t->byte_offset : NULL;
    int share = numel > 0 && !(im->flags & HG_DL_FLAG_READ_ONLY)
                && dl_is_c_order(ndim, t->shape, t->strides)
                && at_is_aligned(data, (at_dtype)dt);
    BufferObject *b;
    if (share) {
        PyObject *owner =
            im->versioned
                ? PyCapsule_New(im->managed, HG_DL_OWNER_V, dl_owner_free_v)
                : PyCapsule_New(im->managed, HG_DL_OWNER, dl_owner_free);
        if (owner == NULL)
            goto fail;
        at_tensor at;
        at.data = data;
        at.dtype = (at_dtype)dt;
        at.ndim = ndim;
        for (int i = 0; i < ndim; i++)
            at.shape[i] = t->shape[i];
        at.numel = numel;
        b = hg_buffer_wrap(exec, &at, fn);
        if (b == NULL) {
            Py_DECREF(owner); /* releases the tensor */
            return NULL;
        }
        b->owner = owner;
        return (PyObject *)b;
    }
    b = hg_buffer_new(exec, (at_dtype)dt, ndim, t->shape, numel, fn);
    if (b != NULL && numel > 0) {
        size_t isz = at_dtype_size((at_dtype)dt);
        if (t->strides == NULL)
            hg_copy(b->t.data, data, b->nbytes);
        else
            dl_copy_strided(b->t.data, data, ndim, t->shape, t->strides, isz,
                            numel);
    }
    dl_import_release(im);
    return (PyObject *)b;
fail:
    dl_import_release(im);
    return NULL;
}

/* x.__dlpack__(max_version=(1, 0)); a producer that predates the versioned
 * protocol refuses the keyword with TypeError and is asked again without. */
static PyObject *dl_ask(PyObject *x)
{
    PyObject *meth = PyObject_GetAttrString(x, "__dlpack__");
    if (meth == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "from_dlpack: expected an object with __dlpack__ "
                         "(e.g. a torch.Tensor or a numpy.ndarray) or a "
                         "DLPack capsule, got %.200s",
                         Py_TYPE(x)->tp_name);
        }
        return NULL;
    }
    PyObject *kw = Py_BuildValue("{s(ii)}", "max_version", HG_DLPACK_MAJOR,
                                 HG_DLPACK_MINOR);
    PyObject *empty = PyTuple_New(0);
    PyObject *cap = NULL;
    if (kw != NULL && empty != NULL) {
        cap = PyObject_Call(meth, empty, kw);
        if (cap == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            cap = PyObject_CallNoArgs(meth);
        }
    }
    Py_XDECREF(kw);
    Py_XDECREF(empty);
    Py_DECREF(meth);
    return cap;
}

PyObject *hg_buffer_from_dlpack(ExecutorObject *exec, PyObject *x)
{
    PyObject *cap = PyCapsule_CheckExact(x) ? Py_NewRef(x) : dl_ask(x);
    if (cap == NULL)
        return NULL;
    if (!PyCapsule_CheckExact(cap)) {
        PyErr_Format(PyExc_TypeError,
                     "from_dlpack: __dlpack__ returned %.200s, not a DLPack "
                     "capsule",
                     Py_TYPE(cap)->tp_name);
        Py_DECREF(cap);
        return NULL;
    }
    dl_import im;
    int rc = dl_consume(cap, &im);
    Py_DECREF(cap);
    return rc < 0 ? NULL : dl_import_buffer(exec, &im);
}

/* ------------------------------------------------------------------------ */
/* Shape and dtype: reshape, copy, astype; and a @ b                        */
/* ------------------------------------------------------------------------ */

/* The dims of reshape(*shape): args are the dims, or one tuple or list of
 * them; one -1 stands for what the others leave.  0, or -1 with an
 * exception set. */
static int reshape_dims(const BufferObject *b, PyObject *const *args,
                        Py_ssize_t nargs, int *ndim, int64_t *shape)
{
    const char *fn = "reshape";
    PyObject *seq = NULL;
    if (nargs == 1 && (PyTuple_Check(args[0]) || PyList_Check(args[0]))) {
        /* a tuple's items stay put while __index__ runs; a list's need not */
        if ((seq = PySequence_Tuple(args[0])) == NULL)
            return -1;
        args = &PyTuple_GET_ITEM(seq, 0);
        nargs = PyTuple_GET_SIZE(seq);
    } else if (nargs == 0) {
        PyErr_SetString(PyExc_TypeError,
                        "reshape: missing the shape (ints or one tuple)");
        return -1;
    }
    int rc = -1;
    if (nargs > AT_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError,
                     "%s: shape has %zd dimensions (at most %d)", fn, nargs,
                     AT_MAX_DIMS);
        goto done;
    }
    *ndim = (int)nargs;
    for (Py_ssize_t i = 0; i < nargs; i++)
        if (hg_as_int64(fn, "shape entry", args[i], &shape[i]) < 0)
            goto done;
    int unknown = -1, ok = 1, negative = 0;
    size_t known = 1; /* the product of the other dims */
    for (int i = 0; i < *ndim; i++) {
        if (shape[i] == -1 && unknown < 0) {
            unknown = i;
        } else if (shape[i] < 0) {
            ok = 0; /* a second -1, or another negative dim */
            negative = 1;
        } else if (at_mul_overflow(known, (size_t)shape[i], &known)) {
            ok = 0;
        }
    }
    if (ok && unknown >= 0) {
        /* beside a zero dim, -1 could be anything */
        ok = known > 0 && b->t.numel % known == 0;
        if (ok)
            shape[unknown] = (int64_t)(b->t.numel / known);
    } else if (ok) {
        ok = known == b->t.numel;
    }
    if (!ok) {
        char s0[200], s1[200];
        at_format_shape(s0, sizeof s0, b->t.ndim, b->t.shape);
        at_format_shape(s1, sizeof s1, *ndim, shape);
        PyErr_Format(PyExc_ValueError,
                     "%s: cannot reshape a buffer of shape %s (%zu elements) "
                     "into shape %s%s",
                     fn, s0, b->t.numel, s1,
                     negative ? " (one -1 at most, no other negative dim)"
                              : "");
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(seq);
    return rc;
}

/* reshape(*shape): a Buffer of the new shape over the same memory.  The view
 * holds the memory's owner (the base Buffer, or the base's own owner when
 * the base is itself a view or an import), so the pool block stays in use
 * until the last Buffer over it dies, whichever goes first. */
static PyObject *buffer_reshape(PyObject *op, PyObject *const *args,
                                Py_ssize_t nargs)
{
    BufferObject *b = (BufferObject *)op;
    at_tensor t = b->t;
    if (reshape_dims(b, args, nargs, &t.ndim, t.shape) < 0)
        return NULL;
    BufferObject *v = hg_buffer_wrap(b->exec, &t, "reshape");
    if (v != NULL)
        v->owner = Py_NewRef(b->owner != NULL ? b->owner : op);
    return (PyObject *)v;
}

static PyObject *buffer_copy(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return (PyObject *)buffer_clone((BufferObject *)op, "copy");
}

static at_status astype_new(at_executor *ex, const at_tensor *in,
                            const void *to, at_tensor *out, at_error *err)
{
    return at_astype_run_new(ex, in, *(const at_dtype *)to, out, err);
}

/* astype(dtype): a new Buffer of b's values converted as PyTorch's .to()
 * (the IR's cast, at_astype_run_new), or a copy of them for b's own dtype. */
static PyObject *buffer_astype(PyObject *op, PyObject *const *args,
                               Py_ssize_t nargs, PyObject *kwnames)
{
    static const hg_kw kws[] = {HG_KW_DTYPE};
    BufferObject *b = (BufferObject *)op;
    hg_state *st = buffer_state(b);
    PyObject *a[1];
    at_dtype dt;
    if (hg_parse_args(st, "astype", args, nargs, kwnames, kws, 1, 1, 1, a) < 0)
        return NULL;
    if (a[0] == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "astype: dtype must be a dtype, got None");
        return NULL;
    }
    if (hg_dtype_from_obj(st, "astype", a[0], &dt) < 0)
        return NULL;
    if (dt == b->t.dtype)
        return (PyObject *)buffer_clone(b, "astype");
    return hg_run_new(b->exec, at_astype_cost(b->exec->ex, &b->t, dt),
                      astype_new, &b->t, &dt, "astype");
}

int hg_is_buffer(PyObject *o)
{
    return Py_TYPE(o)->tp_dealloc == buffer_dealloc;
}

/* a @ b for two Buffers; NotImplemented otherwise, so that the other
 * operand's type (a traced value, say) can take the operation over. */
static PyObject *buffer_matmul(PyObject *a, PyObject *b)
{
    if (!hg_is_buffer(a) || !hg_is_buffer(b))
        Py_RETURN_NOTIMPLEMENTED;
    return hg_matmul((BufferObject *)a, (BufferObject *)b);
}

static PyMethodDef buffer_methods[] = {
    {"to_numpy", buffer_to_numpy, METH_NOARGS,
     "to_numpy($self, /)\n--\n\n"
     "A new C-contiguous numpy.ndarray with the same shape, dtype and "
     "values."},
    {"item", buffer_item, METH_NOARGS,
     "item($self, /)\n--\n\n"
     "The single element of a size-1 buffer, as a float, an int or a bool."},
    {"__array__", (PyCFunction)(void (*)(void))buffer_array,
     METH_VARARGS | METH_KEYWORDS,
     "__array__($self, /, dtype=None, copy=None)\n--\n\n"
     "A numpy.ndarray of the buffer: a view of its memory unless copy=True "
     "or dtype needs a conversion (refused with copy=False)."},
    {"__dlpack__", (PyCFunction)(void (*)(void))buffer_dlpack,
     METH_VARARGS | METH_KEYWORDS,
     "__dlpack__($self, /, *, stream=None, max_version=None, dl_device=None, "
     "copy=None)\n--\n\n"
     "A DLPack capsule sharing the buffer's memory (a copy's with "
     "copy=True); versioned when max_version >= (1, 0)."},
    {"__dlpack_device__", buffer_dlpack_device, METH_NOARGS,
     "__dlpack_device__($self, /)\n--\n\n"
     "The DLPack device: (1, 0), the CPU."},
    {"reshape", (PyCFunction)(void (*)(void))buffer_reshape, METH_FASTCALL,
     "reshape($self, /, *shape)\n--\n\n"
     "A Buffer of the new shape (ints, or one tuple; one -1 takes what the "
     "others leave) sharing this buffer's memory."},
    {"copy", buffer_copy, METH_NOARGS,
     "copy($self, /)\n--\n\n"
     "A new Buffer with the same shape, dtype and values."},
    {"astype", (PyCFunction)(void (*)(void))buffer_astype,
     METH_FASTCALL | METH_KEYWORDS,
     "astype($self, /, dtype)\n--\n\n"
     "A new Buffer of the values converted to dtype, as PyTorch's .to(dtype) "
     "(a copy when dtype is the buffer's own)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef buffer_getset[] = {
    {"shape", buffer_get_shape, NULL, "tuple of ints", NULL},
    {"dtype", buffer_get_dtype, NULL,
     "numpy.dtype (float32, int32, int64 or bool)", NULL},
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
    /* the operators (arith.c) */
    HG_BUFFER_ARITH_SLOTS{Py_nb_matrix_multiply, buffer_matmul},
    {0, NULL},
};

PyType_Spec hg_buffer_spec = HG_TYPE_SPEC(
    "Buffer", BufferObject, Py_TPFLAGS_DISALLOW_INSTANTIATION, buffer_slots);
