/* Hologram Atlas — the call path of a jitted function: the cache of its
 * traces, keyed by signature, and the run of a cached trace.
 *
 * hologram/jit.py's JitFunction subclasses this type (hologram._JitCall).
 * A call computes its signature here: per positional argument a Buffer's
 * dtype, shape and executor, or "a number" for a Python bool, int or float
 * (its value is a kernel parameter); per out= buffer the same, and which
 * argument it is.  It finds the trace in the cache and runs its plan: the
 * results come from the executor's pool, each launch goes through at_launch
 * (as Executor.launch does, with the same argument checks), with the GIL
 * released around a launch whose work reaches HG_GIL_RELEASE_COST (as the
 * hg.ops calls do) or that is a gemm.  Any other call (a signature not in
 * the cache, another keyword, a dask array) goes to the Python method
 * _call, which checks it, traces, registers the trace with _cache_put and
 * runs it here through _run_cached: every run of a trace is this file's.
 * Error messages come from Python.
 *
 * The cache holds at most the maxsize _cache_put is given.  When it is
 * full, a new trace replaces the least recently used one: the one whose
 * last call (or _cache_get) is the oldest.
 */
#include "hg.h"

#include "atlas/client.h"

#include <limits.h>
#include <string.h>
#include <structmember.h>

/* Results and temporaries of a call kept on the stack; more go to the
 * heap. */
#define HG_JIT_STACK_RESULTS 16
/* Launch arguments kept on the stack per launch. */
#define HG_JIT_STACK_PARAMS 16
/* Signature words kept on the stack (a Buffer takes ndim + 2, a number 1,
 * an out buffer ndim + 3). */
#define HG_JIT_SIG_STACK 256

/* Where a launch argument comes from. */
enum {
    SRC_ARG_BUF, /* the call's Buffer argument `index` */
    SRC_ARG_NUM, /* the call's number argument `index`, as float32 */
    SRC_OUT,     /* result `index` (new, or the out= buffer) */
    SRC_TEMP,    /* temporary `index` (fixed holds numel and dtype) */
    SRC_FIXED,   /* fixed: a captured Buffer or a constant scalar */
};

typedef struct jit_step {
    PyObject *kernel; /* borrowed: the entry's steps tuple holds it */
    size_t rows, cols;
    int nparams;
    int gemm; /* the kernel is a gemm: the GIL is released */
    unsigned char *src;
    int *index;
    at_arg *fixed;
} jit_step;

typedef struct jit_shape {
    at_dtype dtype;
    int ndim;
    int64_t shape[AT_MAX_DIMS];
    size_t numel, nbytes;
} jit_shape;

typedef struct jit_entry {
    Py_ssize_t refs; /* the cache's, plus one per call running it */
    uint64_t hash, tick;
    Py_ssize_t nwords;
    int64_t *words; /* the signature */
    PyObject *pyentry; /* the Python _Entry, returned by _cache_get */
    PyObject *steps; /* tuple: keeps kernels and captured Buffers alive */
    ExecutorObject *exec;
    int slow; /* refused: Python reports why (see entry_plan) */
    int single; /* the function returns one value, not a tuple */
    int nresults, ntemps, nsteps;
    jit_shape *results, *temps;
    jit_step *step;
} jit_entry;

typedef struct JitCallObject {
    PyObject_HEAD vectorcallfunc vectorcall;
    hg_state *st;
    jit_entry **entries;
    Py_ssize_t n, cap;
    Py_ssize_t last; /* where the last lookup found its entry */
    uint64_t clock;
} JitCallObject;

/* ---- entries ------------------------------------------------------------ */

static void entry_decref(jit_entry *e)
{
    if (--e->refs > 0)
        return;
    Py_XDECREF(e->pyentry);
    Py_XDECREF(e->steps);
    Py_XDECREF(e->exec);
    for (int i = 0; i < e->nsteps; i++) {
        PyMem_Free(e->step[i].src);
        PyMem_Free(e->step[i].index);
        PyMem_Free(e->step[i].fixed);
    }
    PyMem_Free(e->step);
    PyMem_Free(e->results);
    PyMem_Free(e->temps);
    PyMem_Free(e->words);
    PyMem_Free(e);
}

/* ---- signatures --------------------------------------------------------- */

typedef struct jit_sig {
    int64_t *w;
    Py_ssize_t n;
    uint64_t hash;
    ExecutorObject *exec; /* the first Buffer's */
    int64_t stack[HG_JIT_SIG_STACK];
} jit_sig;

static void sig_release(jit_sig *s)
{
    if (s->w != s->stack)
        PyMem_Free(s->w);
    s->w = NULL;
}

static inline int64_t *sig_buffer(int64_t *w, const BufferObject *b)
{
    *w++ = 2 | (int64_t)b->t.dtype << 4 | (int64_t)b->t.ndim << 12;
    for (int d = 0; d < b->t.ndim; d++)
        *w++ = b->t.shape[d];
    *w++ = (int64_t)(intptr_t)b->exec;
    return w;
}

/* The signature of a call (out NULL when not given).  1: s holds it (the
 * caller releases it); 0: the arguments have none (an argument neither a
 * Buffer nor a number, or out neither a Buffer nor a tuple of Buffers);
 * -1: MemoryError. */
static int sig_build(hg_state *st, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *out, jit_sig *s)
{
    PyObject *const *outs = NULL;
    Py_ssize_t nouts = 0;
    int64_t mode = 0;
    if (out != NULL) {
        if (PyTuple_Check(out)) {
            outs = &PyTuple_GET_ITEM(out, 0);
            nouts = PyTuple_GET_SIZE(out);
            mode = 2;
        } else {
            outs = &out;
            nouts = 1;
            mode = 1;
        }
    }
    size_t need = 2 + (size_t)(nargs + nouts) * (AT_MAX_DIMS + 3);
    s->w =
        need <= HG_JIT_SIG_STACK ? s->stack : PyMem_Malloc(need * sizeof *s->w);
    if (s->w == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    int64_t *w = s->w;
    *w++ = nargs;
    *w++ = mode | nouts << 2;
    s->exec = NULL;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyObject *o = args[i];
        if (hg_buffer_check(st, o)) {
            if (s->exec == NULL)
                s->exec = ((BufferObject *)o)->exec;
            w = sig_buffer(w, (BufferObject *)o);
        } else if (PyFloat_Check(o) || PyLong_Check(o)) {
            *w++ = 1;
        } else {
            sig_release(s);
            return 0;
        }
    }
    for (Py_ssize_t j = 0; j < nouts; j++) {
        PyObject *o = outs[j];
        if (!hg_buffer_check(st, o)) {
            sig_release(s);
            return 0;
        }
        if (s->exec == NULL)
            s->exec = ((BufferObject *)o)->exec;
        w = sig_buffer(w, (BufferObject *)o);
        Py_ssize_t a = 0;
        while (a < nargs && args[a] != o)
            a++;
        *w++ = a < nargs ? a : -1;
    }
    s->n = w - s->w;
    uint64_t h = 14695981039346656037u; /* FNV-1a over the words */
    for (Py_ssize_t i = 0; i < s->n; i++)
        h = (h ^ (uint64_t)s->w[i]) * 1099511628211u;
    s->hash = h;
    return 1;
}

/* The index of the entry with signature s, or -1. */
static Py_ssize_t cache_index(const JitCallObject *self, const jit_sig *s)
{
    Py_ssize_t n = self->n;
    for (Py_ssize_t k = 0, i = self->last; k < n; k++, i++) {
        if (i >= n)
            i = 0;
        const jit_entry *e = self->entries[i];
        if (e->hash == s->hash && e->nwords == s->n
            && memcmp(e->words, s->w, (size_t)s->n * sizeof *s->w) == 0)
            return i;
    }
    return -1;
}

/* The entry with signature s, now the most recently used, or NULL. */
static jit_entry *cache_find(JitCallObject *self, const jit_sig *s)
{
    Py_ssize_t i = cache_index(self, s);
    if (i < 0)
        return NULL;
    self->last = i;
    self->entries[i]->tick = ++self->clock;
    return self->entries[i];
}

/* ---- the run of a cached call ------------------------------------------- */

/* Launch step st with the call's arguments, results and temporaries. */
static int step_run(ExecutorObject *exec, const jit_step *st,
                    PyObject *const *args, BufferObject *const *res,
                    void *const *tmp)
{
    at_arg stack[HG_JIT_STACK_PARAMS];
    at_arg *a = stack;
    if (st->nparams > HG_JIT_STACK_PARAMS) {
        a = PyMem_Calloc((size_t)st->nparams, sizeof *a);
        if (a == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    int rc = -1;
    for (int p = 0; p < st->nparams; p++) {
        const BufferObject *b = NULL;
        a[p] = st->fixed[p];
        switch (st->src[p]) {
            case SRC_ARG_BUF:
                b = (const BufferObject *)args[st->index[p]];
                break;
            case SRC_ARG_NUM: {
                double v = PyFloat_AsDouble(args[st->index[p]]);
                if (v == -1.0 && PyErr_Occurred())
                    goto done;
                a[p].scalar.f32 = (float)v;
                break;
            }
            case SRC_OUT:
                b = res[st->index[p]];
                break;
            case SRC_TEMP:
                a[p].data = tmp[st->index[p]];
                break;
            default:
                break;
        }
        if (b != NULL) {
            a[p].data = b->t.data;
            a[p].numel = b->t.numel;
            a[p].dtype = b->t.dtype;
        }
    }
    const at_program *prog = hg_kernel_program(st->kernel, exec);
    if (prog == NULL)
        goto done;
    size_t work;
    int nogil =
        st->gemm
        || at_mul_overflow(st->rows * st->cols, at_program_cost(prog), &work)
        || work >= HG_GIL_RELEASE_COST;
    at_error err;
    err.msg[0] = '\0';
    at_status s;
    size_t np = (size_t)st->nparams;
    if (nogil) {
        at_executor *ex = exec->ex;
        Py_BEGIN_ALLOW_THREADS
        s = at_launch(ex, prog, st->rows, st->cols, a, np, &err);
        Py_END_ALLOW_THREADS
    } else {
        s = at_launch(exec->ex, prog, st->rows, st->cols, a, np, &err);
    }
    if (s != AT_OK)
        hg_raise(s, &err);
    else
        rc = 0;
done:
    if (a != stack)
        PyMem_Free(a);
    return rc;
}

/* Run entry e (not slow) for these arguments; out is NULL or the out=
 * buffer or tuple its signature matched. */
static PyObject *entry_run(jit_entry *e, PyObject *const *args, PyObject *out)
{
    ExecutorObject *exec = e->exec;
    BufferObject *res_stack[HG_JIT_STACK_RESULTS];
    void *tmp_stack[HG_JIT_STACK_RESULTS];
    BufferObject **res = res_stack;
    void **tmp = tmp_stack;
    if (e->nresults > HG_JIT_STACK_RESULTS)
        res = PyMem_Malloc((size_t)e->nresults * sizeof *res);
    if (e->ntemps > HG_JIT_STACK_RESULTS)
        tmp = PyMem_Malloc((size_t)e->ntemps * sizeof *tmp);
    if (res == NULL || tmp == NULL) {
        if (res != res_stack)
            PyMem_Free(res);
        if (tmp != tmp_stack)
            PyMem_Free(tmp);
        return PyErr_NoMemory();
    }
    int nres = 0, ntmp = 0;
    PyObject *ret = NULL;
    e->refs++; /* the GIL may be released: another thread may evict e */
    if (out == NULL) {
        for (; nres < e->nresults; nres++) {
            const jit_shape *r = &e->results[nres];
            res[nres] = hg_buffer_new(exec, r->dtype, r->ndim, r->shape,
                                      r->numel, "jit");
            if (res[nres] == NULL)
                goto done;
        }
    } else if (PyTuple_Check(out)) {
        for (int i = 0; i < e->nresults; i++)
            res[i] = (BufferObject *)PyTuple_GET_ITEM(out, i);
    } else {
        res[0] = (BufferObject *)out;
    }
    for (; ntmp < e->ntemps; ntmp++) {
        tmp[ntmp] = at_pool_alloc(exec->pool, e->temps[ntmp].nbytes);
        if (tmp[ntmp] == NULL) {
            PyErr_Format(PyExc_MemoryError,
                         "jit: out of memory allocating %zu bytes",
                         e->temps[ntmp].nbytes);
            goto done;
        }
    }
    for (int s = 0; s < e->nsteps; s++)
        if (step_run(exec, &e->step[s], args, res, tmp) < 0)
            goto done;
    if (out != NULL) {
        ret = Py_NewRef(out);
    } else if (e->single) {
        ret = (PyObject *)res[0];
        nres = 0;
    } else if ((ret = PyTuple_New(nres)) != NULL) {
        for (int i = 0; i < nres; i++)
            PyTuple_SET_ITEM(ret, i, (PyObject *)res[i]);
        nres = 0;
    }
done:
    while (ntmp > 0)
        at_pool_free(exec->pool, tmp[--ntmp]);
    while (nres > 0)
        Py_DECREF(res[--nres]);
    if (res != res_stack)
        PyMem_Free(res);
    if (tmp != tmp_stack)
        PyMem_Free(tmp);
    entry_decref(e);
    return ret;
}

/* The cached call, when there is one: 1 with *result set (NULL with an
 * exception), or 0 when Python must trace it or report why it cannot run. */
static int call_cached(JitCallObject *self, PyObject *const *args,
                       Py_ssize_t nargs, PyObject *out, PyObject **result)
{
    jit_sig s;
    int r = sig_build(self->st, args, nargs, out, &s);
    if (r <= 0) {
        *result = NULL;
        return r < 0;
    }
    jit_entry *e = cache_find(self, &s);
    sig_release(&s);
    if (e == NULL || e->slow)
        return 0;
    *result = entry_run(e, args, out);
    return 1;
}

static PyObject *jit_vectorcall(PyObject *op, PyObject *const *args,
                                size_t nargsf, PyObject *kwnames)
{
    JitCallObject *self = (JitCallObject *)op;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *out = NULL, *result;
    int plain = 1;
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        plain = PyTuple_GET_SIZE(kwnames) == 1
                && PyTuple_GET_ITEM(kwnames, 0) == self->st->kw[HG_KW_OUT];
        out = args[nargs] == Py_None ? NULL : args[nargs];
    }
    if (plain && call_cached(self, args, nargs, out, &result))
        return result;
    PyObject *miss = PyObject_GetAttr(op, self->st->kw[HG_KW_JIT_MISS]);
    if (miss == NULL)
        return NULL;
    result = PyObject_Vectorcall(miss, args, nargs, kwnames);
    Py_DECREF(miss);
    return result;
}

static PyObject *jit_tp_call(PyObject *op, PyObject *args, PyObject *kwargs)
{
    JitCallObject *self = (JitCallObject *)op;
    PyObject *out = NULL, *result;
    int plain = 1;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) > 0) {
        out = PyDict_GET_SIZE(kwargs) == 1
                  ? PyDict_GetItemWithError(kwargs, self->st->kw[HG_KW_OUT])
                  : NULL;
        if (out == NULL && PyErr_Occurred())
            return NULL;
        plain = out != NULL;
        if (out == Py_None)
            out = NULL;
    }
    if (plain
        && call_cached(self, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args),
                       out, &result))
        return result;
    PyObject *miss = PyObject_GetAttr(op, self->st->kw[HG_KW_JIT_MISS]);
    if (miss == NULL)
        return NULL;
    result = PyObject_Call(miss, args, kwargs);
    Py_DECREF(miss);
    return result;
}

/* ---- registering a trace ------------------------------------------------ */

/* A shape (a tuple of non-negative ints) and dtype into r; 0 when it
 * is not one the pool can hold (Python reports it), -1 on error. */
static int parse_shape(PyObject *shape, at_dtype dt, jit_shape *r)
{
    if (!PyTuple_Check(shape) || PyTuple_GET_SIZE(shape) > AT_MAX_DIMS)
        return 0;
    r->dtype = dt;
    r->ndim = (int)PyTuple_GET_SIZE(shape);
    r->numel = 1;
    for (int d = 0; d < r->ndim; d++) {
        long long v = PyLong_AsLongLong(PyTuple_GET_ITEM(shape, d));
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (v < 0 || at_mul_overflow(r->numel, (size_t)v, &r->numel))
            return 0;
        r->shape[d] = v;
    }
    return !at_mul_overflow(r->numel, at_dtype_size(dt), &r->nbytes)
           && r->nbytes <= (size_t)PY_SSIZE_T_MAX;
}

/* The argument source of param p of step st from its (where, value) pair
 * (hologram/jit.py, _Entry.prepare); 0 when C cannot fill it. */
static int plan_param(hg_state *st, jit_entry *e, PyObject *const *args,
                      Py_ssize_t nargs, jit_step *s, int p, PyObject *pair)
{
    const at_param *par = at_kernel_param(hg_kernel_ir(s->kernel), p);
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2)
        return 0;
    long where = PyLong_AsLong(PyTuple_GET_ITEM(pair, 0));
    PyObject *v = PyTuple_GET_ITEM(pair, 1);
    long i = where < 3 ? PyLong_AsLong(v) : 0;
    if (PyErr_Occurred())
        return -1;
    at_arg *a = &s->fixed[p];
    s->index[p] = (int)i;
    a->dtype = par->dtype;
    if (where == 0 && i >= 0 && i < nargs) {
        int buf = hg_buffer_check(st, args[i]);
        s->src[p] = buf ? SRC_ARG_BUF : SRC_ARG_NUM;
        return buf ? !par->is_scalar : par->is_scalar && par->dtype == AT_F32;
    }
    if (where == 1 && i >= 0 && i < e->nresults) {
        s->src[p] = SRC_OUT;
        return !par->is_scalar;
    }
    if (where == 2 && i >= 0 && i < e->ntemps) {
        s->src[p] = SRC_TEMP;
        a->numel = e->temps[i].numel;
        a->dtype = AT_F32;
        return !par->is_scalar;
    }
    if (where != 3)
        return 0;
    s->src[p] = SRC_FIXED;
    if (hg_buffer_check(st, v)) {
        const BufferObject *b = (const BufferObject *)v;
        a->data = b->t.data;
        a->numel = b->t.numel;
        a->dtype = b->t.dtype;
        return !par->is_scalar && b->exec == e->exec;
    }
    if (!par->is_scalar || !(PyFloat_Check(v) || PyLong_Check(v)))
        return 0;
    int overflow = 0;
    if (par->dtype == AT_F32)
        a->scalar.f32 = (float)PyFloat_AsDouble(v);
    else if (par->dtype == AT_I64 || par->dtype == AT_I32)
        a->scalar.i64 = PyLong_AsLongLongAndOverflow(v, &overflow);
    else
        return 0;
    if (PyErr_Occurred()) {
        PyErr_Clear(); /* out of range: Python's launch reports it */
        return 0;
    }
    return !overflow;
}

/* Step i of e from (kernel, ((where, value), ...), rows, cols); 0 when C
 * cannot run it. */
static int plan_step(hg_state *st, jit_entry *e, PyObject *const *args,
                     Py_ssize_t nargs, int i, PyObject *item)
{
    jit_step *s = &e->step[i];
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4
        || !Py_IS_TYPE(PyTuple_GET_ITEM(item, 0), st->KernelType))
        return 0;
    s->kernel = PyTuple_GET_ITEM(item, 0);
    PyObject *spec = PyTuple_GET_ITEM(item, 1);
    const at_kernel *k = hg_kernel_ir(s->kernel);
    s->nparams = at_kernel_nparams(k);
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != s->nparams)
        return 0;
    long long rows = PyLong_AsLongLong(PyTuple_GET_ITEM(item, 2));
    long long cols = PyLong_AsLongLong(PyTuple_GET_ITEM(item, 3));
    if (PyErr_Occurred())
        return -1;
    if (rows < 0 || cols < 0)
        return 0;
    s->rows = (size_t)rows;
    s->cols = (size_t)cols;
    for (int j = 0; j < at_kernel_ninstrs(k); j++)
        s->gemm |= at_kernel_instr(k, j)->op == AT_IR_GEMM;
    size_t np = s->nparams > 0 ? (size_t)s->nparams : 1;
    s->src = PyMem_Calloc(np, 1);
    s->index = PyMem_Calloc(np, sizeof *s->index);
    s->fixed = PyMem_Calloc(np, sizeof *s->fixed);
    if (s->src == NULL || s->index == NULL || s->fixed == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int p = 0; p < s->nparams; p++) {
        int r = plan_param(st, e, args, nargs, s, p, PyTuple_GET_ITEM(spec, p));
        if (r <= 0)
            return r;
    }
    return 1;
}

/* The plan of e: its results (allocs: (shape, dtype or None) per result),
 * temporaries (float32 shapes) and steps.  0 when no call of it can run
 * (out= buffers whose shapes or dtypes are not the results', a result or
 * temporary the pool cannot hold): e is then slow, and its calls raise the
 * error Python finds (JitFunction._refuse). */
static int entry_plan(hg_state *st, jit_entry *e, PyObject *const *args,
                      Py_ssize_t nargs, PyObject *out, PyObject *allocs,
                      PyObject *temps)
{
    if (!PyList_Check(allocs) || !PyList_Check(temps))
        return 0;
    Py_ssize_t nres = PyList_GET_SIZE(allocs), ntmp = PyList_GET_SIZE(temps);
    Py_ssize_t nsteps = PyTuple_GET_SIZE(e->steps);
    if (nres < 1 || nres > INT_MAX || ntmp > INT_MAX || nsteps > INT_MAX
        || (e->single && nres != 1))
        return 0;
    e->results = PyMem_Calloc((size_t)nres, sizeof *e->results);
    e->temps = PyMem_Calloc((size_t)ntmp + 1, sizeof *e->temps);
    e->step = PyMem_Calloc((size_t)nsteps + 1, sizeof *e->step);
    if (e->results == NULL || e->temps == NULL || e->step == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    e->nresults = (int)nres;
    for (Py_ssize_t i = 0; i < nres; i++) {
        PyObject *a = PyList_GET_ITEM(allocs, i);
        if (!PyTuple_Check(a) || PyTuple_GET_SIZE(a) != 2)
            return 0;
        at_dtype dt = AT_F32;
        PyObject *d = PyTuple_GET_ITEM(a, 1);
        if (d != Py_None && hg_dtype_from_obj(st, "jit", d, &dt) < 0)
            return -1;
        int r = parse_shape(PyTuple_GET_ITEM(a, 0), dt, &e->results[i]);
        if (r <= 0)
            return r;
    }
    e->ntemps = (int)ntmp;
    for (Py_ssize_t i = 0; i < ntmp; i++) {
        int r = parse_shape(PyList_GET_ITEM(temps, i), AT_F32, &e->temps[i]);
        if (r <= 0)
            return r;
    }
    if (out != NULL) {
        Py_ssize_t nouts = PyTuple_Check(out) ? PyTuple_GET_SIZE(out) : 1;
        if (nouts != nres)
            return 0;
        for (Py_ssize_t i = 0; i < nres; i++) {
            const BufferObject *b =
                (const BufferObject *)(PyTuple_Check(out)
                                           ? PyTuple_GET_ITEM(out, i)
                                           : out);
            const jit_shape *r = &e->results[i];
            if (b->t.dtype != r->dtype || b->t.ndim != r->ndim
                || memcmp(b->t.shape, r->shape,
                          (size_t)r->ndim * sizeof *r->shape)
                       != 0)
                return 0;
        }
    }
    for (Py_ssize_t i = 0; i < nsteps; i++) {
        e->nsteps = (int)i + 1; /* what entry_decref frees */
        int r = plan_step(st, e, args, nargs, (int)i,
                          PyTuple_GET_ITEM(e->steps, i));
        if (r <= 0)
            return r;
    }
    return 1;
}

/* Put e into the cache, in place of an entry of the same signature (two
 * threads traced it) or added; then drop the least recently used entries
 * beyond maxsize.  An entry is dropped only once the table no longer holds
 * it: its release may run other threads (an executor's destruction releases
 * the GIL), which may call this function. */
static int cache_insert(JitCallObject *self, jit_entry *e, const jit_sig *s,
                        Py_ssize_t maxsize)
{
    Py_ssize_t i = cache_index(self, s);
    jit_entry *old = i >= 0 ? self->entries[i] : NULL;
    if (i < 0) {
        if (self->n == self->cap) {
            Py_ssize_t cap = self->cap ? 2 * self->cap : 8;
            jit_entry **grown =
                PyMem_Realloc(self->entries, (size_t)cap * sizeof *grown);
            if (grown == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            self->entries = grown;
            self->cap = cap;
        }
        i = self->n++;
    }
    self->entries[i] = e;
    self->last = i;
    e->tick = ++self->clock;
    if (old != NULL)
        entry_decref(old);
    while (self->n > maxsize) {
        Py_ssize_t lru = 0;
        for (Py_ssize_t j = 1; j < self->n; j++)
            if (self->entries[j]->tick < self->entries[lru]->tick)
                lru = j;
        old = self->entries[lru];
        self->entries[lru] = self->entries[--self->n];
        self->last = 0;
        entry_decref(old);
    }
    return 0;
}

/* The call's arguments from the n arguments a of method `name`, which takes
 * `want`: (args: tuple, out: None | Buffer | tuple, ...). */
static int call_args(const char *name, PyObject *const *a, Py_ssize_t n,
                     Py_ssize_t want, PyObject *const **args, Py_ssize_t *nargs,
                     PyObject **out)
{
    if (n != want) {
        PyErr_Format(PyExc_TypeError, "%s takes %zd arguments", name, want);
        return -1;
    }
    if (!PyTuple_Check(a[0])) {
        PyErr_SetString(PyExc_TypeError, "jit: args must be a tuple");
        return -1;
    }
    *args = &PyTuple_GET_ITEM(a[0], 0);
    *nargs = PyTuple_GET_SIZE(a[0]);
    *out = a[1] == Py_None ? NULL : a[1];
    return 0;
}

/* _cache_put(args, out, entry, steps, allocs, temps, single, maxsize) */
static PyObject *jit_cache_put(PyObject *op, PyObject *const *a, Py_ssize_t n)
{
    JitCallObject *self = (JitCallObject *)op;
    hg_state *st = self->st;
    PyObject *const *args, *out;
    Py_ssize_t nargs;
    if (call_args("_cache_put", a, n, 8, &args, &nargs, &out) < 0)
        return NULL;
    Py_ssize_t maxsize = PyLong_AsSsize_t(a[7]);
    if (maxsize == -1 && PyErr_Occurred())
        return NULL;
    if (maxsize < 1) {
        PyErr_SetString(PyExc_ValueError, "jit: the cache size must be >= 1");
        return NULL;
    }
    jit_sig s;
    int r = sig_build(st, args, nargs, out, &s);
    if (r <= 0 || s.exec == NULL) {
        if (r > 0)
            sig_release(&s);
        if (r >= 0)
            PyErr_SetString(PyExc_TypeError,
                            "jit: these arguments have no signature");
        return NULL;
    }
    jit_entry *e = PyMem_Calloc(1, sizeof *e);
    if (e == NULL) {
        sig_release(&s);
        return PyErr_NoMemory();
    }
    e->refs = 1;
    e->hash = s.hash;
    e->nwords = s.n;
    e->words = PyMem_Malloc((size_t)s.n * sizeof *e->words);
    e->pyentry = Py_NewRef(a[2]);
    e->exec = (ExecutorObject *)Py_NewRef(s.exec);
    e->steps = PySequence_Tuple(a[3]);
    e->single = PyObject_IsTrue(a[6]);
    if (e->words == NULL || e->steps == NULL || e->single < 0) {
        if (e->words == NULL)
            PyErr_NoMemory();
        r = -1;
    } else {
        memcpy(e->words, s.w, (size_t)s.n * sizeof *e->words);
        r = entry_plan(st, e, args, nargs, out, a[4], a[5]);
    }
    if (r >= 0) {
        e->slow = r == 0;
        r = cache_insert(self, e, &s, maxsize);
    }
    sig_release(&s);
    if (r < 0) {
        entry_decref(e);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* _cache_get(args, out): the cached _Entry of that signature, or None. */
static PyObject *jit_cache_get(PyObject *op, PyObject *const *a, Py_ssize_t n)
{
    JitCallObject *self = (JitCallObject *)op;
    PyObject *const *args, *out;
    Py_ssize_t nargs;
    if (call_args("_cache_get", a, n, 2, &args, &nargs, &out) < 0)
        return NULL;
    jit_sig s;
    int r = sig_build(self->st, args, nargs, out, &s);
    if (r < 0)
        return NULL;
    jit_entry *e = r > 0 ? cache_find(self, &s) : NULL;
    if (r > 0)
        sig_release(&s);
    return Py_NewRef(e != NULL ? e->pyentry : Py_None);
}

/* _run_cached(args, out): the call run from the cache (the result), or None
 * when its signature's entry is absent or slow. */
static PyObject *jit_run_cached(PyObject *op, PyObject *const *a, Py_ssize_t n)
{
    PyObject *const *args, *out, *result;
    Py_ssize_t nargs;
    if (call_args("_run_cached", a, n, 2, &args, &nargs, &out) < 0)
        return NULL;
    if (call_cached((JitCallObject *)op, args, nargs, out, &result))
        return result;
    Py_RETURN_NONE;
}

static PyObject *jit_cache_size(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(((JitCallObject *)op)->n);
}

/* ---- the type ----------------------------------------------------------- */

static void jit_dealloc(PyObject *op);

static PyObject *jit_new(PyTypeObject *type, PyObject *Py_UNUSED(args),
                         PyObject *Py_UNUSED(kwds))
{
    PyTypeObject *base = type; /* a subclass's state is its base's */
    while (base != NULL && base->tp_dealloc != jit_dealloc)
        base = base->tp_base;
    hg_state *st = base != NULL ? hg_state_from_type(base) : NULL;
    if (st == NULL)
        return NULL;
    JitCallObject *self = (JitCallObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = jit_vectorcall;
    self->st = st;
    return (PyObject *)self;
}

static int jit_traverse(PyObject *op, visitproc visit, void *arg)
{
    JitCallObject *self = (JitCallObject *)op;
    Py_VISIT(Py_TYPE(op));
    for (Py_ssize_t i = 0; i < self->n; i++) {
        Py_VISIT(self->entries[i]->pyentry);
        Py_VISIT(self->entries[i]->steps);
        Py_VISIT(self->entries[i]->exec);
    }
    return 0;
}

static int jit_clear(PyObject *op)
{
    JitCallObject *self = (JitCallObject *)op;
    jit_entry **entries = self->entries;
    Py_ssize_t n = self->n;
    self->entries = NULL;
    self->n = self->cap = self->last = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        entry_decref(entries[i]);
    PyMem_Free(entries);
    return 0;
}

static void jit_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    jit_clear(op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef jit_methods[] = {
    {"_cache_put", (PyCFunction)(void (*)(void))jit_cache_put, METH_FASTCALL,
     "_cache_put($self, args, out, entry, steps, allocs, temps, single, "
     "maxsize, /)\n--\n\n"
     "Cache entry (its plan: steps, allocs, temps, single) under the "
     "signature of args and out, dropping the least recently used entry "
     "beyond maxsize."},
    {"_cache_get", (PyCFunction)(void (*)(void))jit_cache_get, METH_FASTCALL,
     "_cache_get($self, args, out, /)\n--\n\n"
     "The entry cached under the signature of args and out, or None."},
    {"_run_cached", (PyCFunction)(void (*)(void))jit_run_cached, METH_FASTCALL,
     "_run_cached($self, args, out, /)\n--\n\n"
     "The call run from the cache, or None when its signature has no "
     "runnable entry."},
    {"_cache_size", jit_cache_size, METH_NOARGS,
     "_cache_size($self, /)\n--\n\nThe number of cached entries."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef jit_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(JitCallObject, vectorcall),
     READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot jit_slots[] = {
    {Py_tp_doc, (void *)"The call path of hologram.jit's JitFunction: the "
                        "cache of traces and the cached call."},
    {Py_tp_new, jit_new},
    {Py_tp_dealloc, jit_dealloc},
    {Py_tp_traverse, jit_traverse},
    {Py_tp_clear, jit_clear},
    {Py_tp_call, jit_tp_call},
    {Py_tp_methods, jit_methods},
    {Py_tp_members, jit_members},
    {0, NULL},
};

PyType_Spec hg_jitcall_spec = HG_TYPE_SPEC(
    "_JitCall", JitCallObject,
    Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_VECTORCALL,
    jit_slots);
