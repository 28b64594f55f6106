/* Hologram Atlas — hologram.Executor: one virtual device (pool + workers). */
#include "hg.h"

#include <stdlib.h>
#include <string.h>

static PyObject *isa_error(const char *what, const char *name)
{
    PyErr_Format(PyExc_ValueError,
                 "Executor: unknown isa %s'%s' (expected 'baseline', 'avx2', "
                 "'avx512' or 'neon')",
                 what, name);
    return NULL;
}

/* The at_store_policy named by o (a str), or -1 with an exception set. */
static int parse_stores(PyObject *o)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError,
                     "Executor: stores must be a str, got %.200s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t len;
    const char *name = PyUnicode_AsUTF8AndSize(o, &len);
    if (name == NULL)
        return -1;
    int policy = (size_t)len == strlen(name) ? at_store_policy_parse(name) : -1;
    if (policy < 0)
        PyErr_Format(PyExc_ValueError,
                     "Executor: unknown stores %R (expected 'auto', 'cached' "
                     "or 'streamed')",
                     o);
    return policy;
}

static PyObject *executor_new(PyTypeObject *type, PyObject *args,
                              PyObject *kwds)
{
    static char *kwlist[] = {"threads", "isa", "stores", NULL};
    PyObject *othreads = NULL, *oisa = Py_None, *ostores = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:Executor", kwlist,
                                     &othreads, &oisa, &ostores))
        return NULL;

    hg_state *st = hg_state_from_type(type);
    if (st == NULL)
        return NULL;

    int64_t threads = 1;
    if (othreads != NULL
        && hg_as_int64("Executor", "threads", othreads, &threads) < 0)
        return NULL;
    if (threads < 0) {
        PyErr_Format(PyExc_ValueError,
                     "Executor: threads must be >= 0 (0 = all CPUs), got %lld",
                     (long long)threads);
        return NULL;
    }
    /* the core's limit, checked here while the value is still an int64 */
    if (threads > AT_MAX_THREADS) {
        PyErr_Format(PyExc_ValueError,
                     "Executor: threads=%lld is too large (at most %d)",
                     (long long)threads, AT_MAX_THREADS);
        return NULL;
    }

    int isa = -1;
    if (oisa == Py_None) {
        const char *env = getenv("HOLOGRAM_ISA");
        if (env != NULL && env[0] != '\0') {
            at_isa parsed;
            if (at_isa_parse(env, &parsed) != 0)
                return isa_error("in $HOLOGRAM_ISA ", env);
            isa = (int)parsed;
        }
    } else if (PyUnicode_Check(oisa)) {
        const char *name = PyUnicode_AsUTF8(oisa);
        if (name == NULL)
            return NULL;
        at_isa parsed;
        if (at_isa_parse(name, &parsed) != 0)
            return isa_error("", name);
        isa = (int)parsed;
    } else {
        PyErr_Format(PyExc_TypeError,
                     "Executor: isa must be a str or None, got %.200s",
                     Py_TYPE(oisa)->tp_name);
        return NULL;
    }

    int stores = AT_STORES_AUTO;
    if (ostores != NULL && (stores = parse_stores(ostores)) < 0)
        return NULL;

    at_executor *ex = NULL;
    at_error err;
    err.msg[0] = '\0';
    at_status rc;
    Py_BEGIN_ALLOW_THREADS
    rc = at_executor_create((unsigned)threads, isa, &ex, &err);
    Py_END_ALLOW_THREADS
    if (rc != AT_OK || (rc = at_executor_set_stores(ex, stores, &err)) != AT_OK)
    {
        at_executor_destroy(ex);
        return hg_raise(rc, &err);
    }

    ExecutorObject *self = (ExecutorObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        at_executor_destroy(ex);
        return NULL;
    }
    self->ex = ex;
    self->pool = at_executor_pool(ex);
    self->st = st;
    return (PyObject *)self;
}

static int executor_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void executor_dealloc(PyObject *op)
{
    ExecutorObject *self = (ExecutorObject *)op;
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    if (self->ex != NULL) {
        at_executor *ex = self->ex;
        self->ex = NULL;
        Py_BEGIN_ALLOW_THREADS      /* joins the worker threads */
        at_executor_destroy(ex);
        Py_END_ALLOW_THREADS
    }
    tp->tp_free(op);
    Py_DECREF(tp);
}

/* ------------------------------------------------------------------------ */

/* Parse a shape (an int or a sequence of ints) for empty()/zeros(). */
static int parse_shape(const char *fn, PyObject *obj, int *ndim, int64_t *shape,
                       size_t *numel)
{
    if (PyIndex_Check(obj)) {
        if (hg_as_int64(fn, "shape", obj, &shape[0]) < 0)
            return -1;
        *ndim = 1;
    } else if (PyTuple_Check(obj) || PyList_Check(obj)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
        if (n > AT_MAX_DIMS) {
            PyErr_Format(PyExc_ValueError,
                         "%s: shape has %zd dimensions (at most %d)", fn, n,
                         AT_MAX_DIMS);
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            /* Re-fetch each time: a list may be mutated by __index__. */
            if (i >= PySequence_Fast_GET_SIZE(obj)) {
                PyErr_Format(PyExc_ValueError,
                             "%s: shape changed while parsing", fn);
                return -1;
            }
            PyObject *item = PySequence_Fast_GET_ITEM(obj, i);
            Py_INCREF(item);
            int rc = hg_as_int64(fn, "shape entry", item, &shape[i]);
            Py_DECREF(item);
            if (rc < 0)
                return -1;
        }
        *ndim = (int)n;
    } else {
        PyErr_Format(PyExc_TypeError,
                     "%s: shape must be an int or a tuple of ints, got %.200s",
                     fn, Py_TYPE(obj)->tp_name);
        return -1;
    }
    size_t total = 1;
    int overflow = 0;
    for (int i = 0; i < *ndim; i++) {
        if (shape[i] < 0) {
            char sbuf[200];
            at_format_shape(sbuf, sizeof sbuf, *ndim, shape);
            PyErr_Format(PyExc_ValueError, "%s: negative dimension in shape %s",
                         fn, sbuf);
            return -1;
        }
        if (at_mul_overflow(total, (size_t)shape[i], &total))
            overflow = 1;
    }
    if (overflow) {
        /* A zero dimension makes the product 0 even if a prefix overflowed. */
        int has_zero = 0;
        for (int i = 0; i < *ndim; i++)
            has_zero |= shape[i] == 0;
        if (!has_zero) {
            char sbuf[200];
            at_format_shape(sbuf, sizeof sbuf, *ndim, shape);
            PyErr_Format(PyExc_OverflowError, "%s: shape %s is too large", fn,
                         sbuf);
            return -1;
        }
        total = 0;
    }
    *numel = total;
    return 0;
}

static PyObject *make_filled(ExecutorObject *self, const char *fn,
                             PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames, int zero)
{
    static const hg_kw kws[] = {HG_KW_SHAPE, HG_KW_DTYPE};
    PyObject *a[2];
    if (hg_parse_args(self->st, fn, args, nargs, kwnames, kws, 2, 2, 1, a) < 0)
        return NULL;
    at_dtype dt;
    if (hg_dtype_from_obj(self->st, fn, a[1], &dt) < 0)
        return NULL;
    int ndim = 0;
    int64_t shape[AT_MAX_DIMS];
    size_t numel;
    if (parse_shape(fn, a[0], &ndim, shape, &numel) < 0)
        return NULL;
    BufferObject *b = hg_buffer_new(self, dt, ndim, shape, numel, fn);
    if (b == NULL)
        return NULL;
    if (zero && b->nbytes > 0)
        memset(b->t.data, 0, b->nbytes);
    return (PyObject *)b;
}

static PyObject *executor_empty(PyObject *self, PyObject *const *args,
                                Py_ssize_t nargs, PyObject *kwnames)
{
    return make_filled((ExecutorObject *)self, "empty", args, nargs, kwnames,
                       0);
}

static PyObject *executor_zeros(PyObject *self, PyObject *const *args,
                                Py_ssize_t nargs, PyObject *kwnames)
{
    return make_filled((ExecutorObject *)self, "zeros", args, nargs, kwnames,
                       1);
}

static PyObject *executor_from_numpy(PyObject *op, PyObject *obj)
{
    ExecutorObject *self = (ExecutorObject *)op;
    hg_state *st = self->st;
    PyObject *arr;
    if (PyArray_Check(obj)) {
        arr = Py_NewRef(obj);
    } else {
        arr = PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);      /* np.asarray */
        if (arr == NULL)
            return NULL;
    }
    at_dtype dt;
    /* Python floats become float32, as torch.tensor([1.0]) does; an ndarray
     * keeps its dtype and float64 arrays are refused, never silently cast. */
    int from_python = !PyArray_Check(obj);
    if (from_python && PyArray_TYPE((PyArrayObject *)arr) == NPY_DOUBLE) {
        dt = AT_F32;
    } else if (hg_dtype_from_descr(PyArray_DESCR((PyArrayObject *)arr), &dt)
               < 0)
    {
        PyErr_Format(PyExc_TypeError,
                     "from_numpy: unsupported dtype %S (supported: float32, "
                     "int32, int64, bool)",
                     (PyObject *)PyArray_DESCR((PyArrayObject *)arr));
        Py_DECREF(arr);
        return NULL;
    }
    int ndim = PyArray_NDIM((PyArrayObject *)arr);
    if (ndim > AT_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError,
                     "from_numpy: array has %d dimensions (at most %d)", ndim,
                     AT_MAX_DIMS);
        Py_DECREF(arr);
        return NULL;
    }
    /* A C-contiguous, aligned, native-byte-order copy (or arr itself). */
    PyArray_Descr *want = st->descr[dt];
    Py_INCREF(want);                                         /* stolen */
    PyArrayObject *c = (PyArrayObject *)PyArray_FromAny(
        arr, want, 0, 0,
        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED
            | (from_python ? NPY_ARRAY_FORCECAST : 0),
        NULL);
    Py_DECREF(arr);
    if (c == NULL)
        return NULL;

    int64_t shape[AT_MAX_DIMS];
    size_t numel = 1;
    int has_zero = 0, overflow = 0;
    for (int i = 0; i < ndim; i++) {
        shape[i] = (int64_t)PyArray_DIM(c, i);
        has_zero |= shape[i] == 0;
        overflow |= at_mul_overflow(numel, (size_t)shape[i], &numel);
    }
    if (has_zero)
        numel = 0;
    else if (overflow) {
        Py_DECREF(c);
        PyErr_SetString(PyExc_OverflowError, "from_numpy: array is too large");
        return NULL;
    }
    BufferObject *b = hg_buffer_new(self, dt, ndim, shape, numel, "from_numpy");
    if (b == NULL) {
        Py_DECREF(c);
        return NULL;
    }
    if (b->nbytes > 0) {
        if ((size_t)PyArray_NBYTES(c) != b->nbytes) {     /* cannot happen */
            Py_DECREF(c);
            Py_DECREF(b);
            PyErr_SetString(PyExc_RuntimeError, "from_numpy: size mismatch");
            return NULL;
        }
        hg_copy(b->t.data, PyArray_DATA(c), b->nbytes);
    }
    Py_DECREF(c);
    return (PyObject *)b;
}

static PyObject *executor_from_dlpack(PyObject *op, PyObject *x)
{
    return hg_buffer_from_dlpack((ExecutorObject *)op, x);
}

static PyObject *executor_memory_stats(PyObject *op,
                                       PyObject *Py_UNUSED(ignored))
{
    ExecutorObject *self = (ExecutorObject *)op;
    at_pool_stats s;
    memset(&s, 0, sizeof s);
    at_pool_get_stats(self->pool, &s);
    struct {
        const char *k;
        unsigned long long v;
    } items[] = {
        {"bytes_in_use", s.bytes_in_use},
        {"bytes_requested", s.bytes_requested},
        {"bytes_reserved", s.bytes_reserved},
        {"peak_bytes_in_use", s.peak_bytes_in_use},
        {"allocs", s.allocs},
        {"frees", s.frees},
        {"hits", s.hits},
        {"misses", s.misses},
    };
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(items[i].v);
        if (v == NULL || PyDict_SetItemString(d, items[i].k, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

static PyObject *executor_empty_cache(PyObject *op,
                                      PyObject *Py_UNUSED(ignored))
{
    at_pool *pool = ((ExecutorObject *)op)->pool;
    Py_BEGIN_ALLOW_THREADS
    at_pool_trim(pool);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *executor_synchronize(PyObject *Py_UNUSED(op),
                                      PyObject *Py_UNUSED(ignored))
{
    Py_RETURN_NONE;        /* every op is synchronous */
}

static PyObject *executor_get_threads(PyObject *op, void *Py_UNUSED(closure))
{
    return PyLong_FromUnsignedLong(
        at_executor_threads(((ExecutorObject *)op)->ex));
}

static PyObject *executor_get_isa(PyObject *op, void *Py_UNUSED(closure))
{
    return PyUnicode_FromString(
        at_isa_name(at_executor_isa(((ExecutorObject *)op)->ex)));
}

static PyObject *executor_get_stores(PyObject *op, void *Py_UNUSED(closure))
{
    return PyUnicode_FromString(
        at_store_policy_name(at_executor_stores(((ExecutorObject *)op)->ex)));
}

static int executor_set_stores(PyObject *op, PyObject *value,
                               void *Py_UNUSED(closure))
{
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "Executor: cannot delete stores");
        return -1;
    }
    int policy = parse_stores(value);
    if (policy < 0)
        return -1;
    at_error err;
    at_status rc =
        at_executor_set_stores(((ExecutorObject *)op)->ex, policy, &err);
    if (rc != AT_OK) {
        hg_raise(rc, &err);
        return -1;
    }
    return 0;
}

static PyObject *executor_repr(PyObject *op)
{
    ExecutorObject *self = (ExecutorObject *)op;
    return PyUnicode_FromFormat(
        "<hologram.Executor threads=%u isa=%s stores=%s>",
        at_executor_threads(self->ex), at_isa_name(at_executor_isa(self->ex)),
        at_store_policy_name(at_executor_stores(self->ex)));
}

static PyObject *executor_fma_peak(PyObject *op, PyObject *args, PyObject *kwds)
{
    ExecutorObject *self = (ExecutorObject *)op;
    static char *kwlist[] = {"threads", "seconds", NULL};
    int threads = 0;
    double seconds = 0.1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$id:fma_peak", kwlist,
                                     &threads, &seconds))
        return NULL;
    if (threads < 0)
        return PyErr_Format(PyExc_ValueError,
                            "fma_peak: threads must be >= 0, got %d", threads);
    if (!(seconds > 0 && seconds <= 60))
        return PyErr_Format(PyExc_ValueError,
                            "fma_peak: seconds must be in (0, 60], got %g",
                            seconds);
    double r;
    Py_BEGIN_ALLOW_THREADS
    r = at_executor_fma_peak(self->ex, (unsigned)threads, seconds);
    Py_END_ALLOW_THREADS
    if (!(r > 0))
        return PyErr_NoMemory();
    return PyFloat_FromDouble(r);
}

static PyMethodDef executor_methods[] = {
    {"from_numpy", executor_from_numpy, METH_O,
     "from_numpy($self, arr, /)\n--\n\n"
     "Copy an array-like (float32, int32, int64 or bool, any strides, rank "
     "<= 8) "
     "into pool memory, as a new Buffer."},
    {"from_dlpack", executor_from_dlpack, METH_O,
     "from_dlpack($self, x, /)\n--\n\n"
     "A Buffer sharing the memory of x (anything with __dlpack__, or a "
     "DLPack capsule) when it is a C-contiguous, aligned, writable CPU tensor "
     "of float32, int32, int64 or bool; otherwise a copy in pool memory."},
    {"empty", (PyCFunction)(void (*)(void))executor_empty,
     METH_FASTCALL | METH_KEYWORDS,
     "empty($self, shape, dtype='float32')\n--\n\n"
     "A new Buffer of that shape and dtype, uninitialised."},
    {"zeros", (PyCFunction)(void (*)(void))executor_zeros,
     METH_FASTCALL | METH_KEYWORDS,
     "zeros($self, shape, dtype='float32')\n--\n\n"
     "A new Buffer of that shape and dtype, filled with zeros."},
    {"memory_stats", executor_memory_stats, METH_NOARGS,
     "memory_stats($self, /)\n--\n\nThe pool's counters, a dict of ints."},
    {"empty_cache", executor_empty_cache, METH_NOARGS,
     "empty_cache($self, /)\n--\n\n"
     "Return the pool's cached free blocks to the OS."},
    {"fma_peak", (PyCFunction)(void (*)(void))executor_fma_peak,
     METH_VARARGS | METH_KEYWORDS,
     "fma_peak($self, /, *, threads=0, seconds=0.1)\n--\n\n"
     "GFLOP/s of register-only float32 multiply-add chains at this "
     "executor's ISA level on threads threads at once (0, or more than it "
     "has: all of its threads), the best of five runs over about seconds "
     "in all."},
    {"synchronize", executor_synchronize, METH_NOARGS,
     "synchronize($self, /)\n--\n\n"
     "Do nothing: every op is synchronous."},
    {"launch", (PyCFunction)(void (*)(void))hg_executor_launch,
     METH_FASTCALL | METH_KEYWORDS,
     "launch($self, kernel, /, *args, rows=1, cols=None)\n--\n\n"
     "Run a hologram.Kernel over rows x cols; args match the kernel's params "
     "in order."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef executor_getset[] = {
    {"threads", executor_get_threads, NULL,
     "workers per launch (the caller counts as one)", NULL},
    {"isa", executor_get_isa, NULL, "the ISA level this executor runs at",
     NULL},
    {"stores", executor_get_stores, executor_set_stores,
     "how launches write their outputs: 'auto' (measured per footprint band), "
     "'cached' or "
     "'streamed' (streaming stores); results are bit-identical",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot executor_slots[] = {
    {Py_tp_doc,
     (void *)"Executor(threads=1, isa=None, stores='auto')\n--\n\n"
             "A virtual device: a memory pool, a worker pool and the kernel "
             "table of one ISA level."},
    {Py_tp_new, executor_new},
    {Py_tp_dealloc, executor_dealloc},
    {Py_tp_traverse, executor_traverse},
    {Py_tp_repr, executor_repr},
    {Py_tp_methods, executor_methods},
    {Py_tp_getset, executor_getset},
    {0, NULL},
};

PyType_Spec hg_executor_spec = HG_TYPE_SPEC("Executor", ExecutorObject,
                                            Py_TPFLAGS_HAVE_GC, executor_slots);
