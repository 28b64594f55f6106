/* Hologram Atlas — hologram.Kernel (a parsed, verified IR kernel) and
 * Executor.launch, which compiles a Kernel once per executor and runs it. */
#include "hg.h"

#include <string.h>

/* One compiled program per executor the kernel has run on.  The entry holds
 * a strong reference to the executor so the program is always freed before
 * the executor that compiled it. */
typedef struct kcache_entry {
    ExecutorObject *exec;
    at_program *prog;
} kcache_entry;

typedef struct KernelObject {
    PyObject_HEAD at_kernel *k;
    int nparams;
    unsigned char *is_elem;      /* per param: loaded/stored at elem level */
    kcache_entry *cache;
    Py_ssize_t ncache, capcache;
} KernelObject;

/* Number of at_arg slots kept on the stack in launch(). */
#define HG_LAUNCH_STACK_ARGS 16

static void kernel_cache_clear(KernelObject *self)
{
    kcache_entry *cache = self->cache;
    Py_ssize_t n = self->ncache;
    self->cache = NULL;
    self->ncache = self->capcache = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        at_program_free(cache[i].prog);      /* before its executor */
        Py_DECREF(cache[i].exec);
    }
    PyMem_Free(cache);
}

static PyObject *kernel_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"text", NULL};
    PyObject *text;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Kernel", kwlist, &text))
        return NULL;
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "Kernel: text must be a str, got %.200s",
                     Py_TYPE(text)->tp_name);
        return NULL;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(text, &len);
    if (s == NULL)
        return NULL;
    if ((size_t)len != strlen(s)) {
        PyErr_SetString(PyExc_ValueError,
                        "Kernel: text contains a NUL character");
        return NULL;
    }
    at_kernel *k = NULL;
    at_error err;
    err.msg[0] = '\0';
    at_status rc = at_kernel_parse(s, &k, &err);
    if (rc != AT_OK) {
        if (k != NULL)
            at_kernel_free(k);
        if (rc == AT_E_TYPE || rc == AT_E_INDEX || rc == AT_E_OVERFLOW)
            rc = AT_E_VALUE; /* any malformed text is a ValueError */
        return hg_raise(rc, &err);
    }
    if (k == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Kernel: parser returned no kernel");
        return NULL;
    }
    int np = at_kernel_nparams(k);
    unsigned char *is_elem = PyMem_Calloc(np > 0 ? (size_t)np : 1, 1);
    if (is_elem == NULL) {
        at_kernel_free(k);
        return PyErr_NoMemory();
    }
    int ni = at_kernel_ninstrs(k);
    for (int i = 0; i < ni; i++) {
        const at_instr *in = at_kernel_instr(k, i);
        if (in == NULL || in->param < 0 || in->param >= np)
            continue;
        if (in->op == AT_IR_LOAD
            || (in->op == AT_IR_STORE && in->operands[0] != AT_NO_VALUE
                && at_kernel_value_level(k, in->operands[0]) == AT_LEVEL_ELEM))
            is_elem[in->param] = 1;
    }
    KernelObject *self = (KernelObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyMem_Free(is_elem);
        at_kernel_free(k);
        return NULL;
    }
    self->k = k;
    self->nparams = np;
    self->is_elem = is_elem;
    return (PyObject *)self;
}

static int kernel_traverse(PyObject *op, visitproc visit, void *arg)
{
    KernelObject *self = (KernelObject *)op;
    Py_VISIT(Py_TYPE(op));
    for (Py_ssize_t i = 0; i < self->ncache; i++)
        Py_VISIT(self->cache[i].exec);
    return 0;
}

static int kernel_clear(PyObject *op)
{
    kernel_cache_clear((KernelObject *)op);
    return 0;
}

static void kernel_dealloc(PyObject *op)
{
    KernelObject *self = (KernelObject *)op;
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    kernel_cache_clear(self);
    if (self->k != NULL)
        at_kernel_free(self->k);
    PyMem_Free(self->is_elem);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyObject *kernel_text(KernelObject *self)
{
    size_t need = at_kernel_print(self->k, NULL, 0);
    char *buf = PyMem_Malloc(need + 1);
    if (buf == NULL)
        return PyErr_NoMemory();
    size_t got = at_kernel_print(self->k, buf, need + 1);
    if (got > need)
        got = need;
    PyObject *s =
        PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strnlen(buf, got), "replace");
    PyMem_Free(buf);
    return s;
}

static PyObject *kernel_str(PyObject *op)
{
    return kernel_text((KernelObject *)op);
}

static PyObject *kernel_repr(PyObject *op)
{
    KernelObject *self = (KernelObject *)op;
    return PyUnicode_FromFormat("<hologram.Kernel %s (%d params)>",
                                at_kernel_name(self->k), self->nparams);
}

static PyObject *kernel_get_name(PyObject *op, void *Py_UNUSED(c))
{
    return PyUnicode_FromString(at_kernel_name(((KernelObject *)op)->k));
}

static PyObject *kernel_get_params(PyObject *op, void *Py_UNUSED(c))
{
    KernelObject *self = (KernelObject *)op;
    PyObject *list = PyList_New(self->nparams);
    if (list == NULL)
        return NULL;
    for (int i = 0; i < self->nparams; i++) {
        const at_param *p = at_kernel_param(self->k, i);
        PyObject *t = Py_BuildValue("(ssO)", p->name, at_dtype_name(p->dtype),
                                    p->is_scalar ? Py_True : Py_False);
        if (t == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

/* ------------------------------------------------------------------------ */
/* Executor.launch(kernel, *args, rows=1, cols=None)                         */
/* ------------------------------------------------------------------------ */

static at_program *kernel_program(KernelObject *self, ExecutorObject *exec)
{
    for (Py_ssize_t i = 0; i < self->ncache; i++)
        if (self->cache[i].exec == exec)
            return self->cache[i].prog;
    at_program *prog = NULL;
    at_error err;
    err.msg[0] = '\0';
    at_status rc = at_compile(exec->ex, self->k, &prog, &err);
    if (rc != AT_OK) {
        hg_raise(rc, &err);
        return NULL;
    }
    if (self->ncache == self->capcache) {
        Py_ssize_t cap = self->capcache ? self->capcache * 2 : 2;
        kcache_entry *c = PyMem_Realloc(self->cache, (size_t)cap * sizeof *c);
        if (c == NULL) {
            at_program_free(prog);
            PyErr_NoMemory();
            return NULL;
        }
        self->cache = c;
        self->capcache = cap;
    }
    Py_INCREF(exec);
    self->cache[self->ncache].exec = exec;
    self->cache[self->ncache].prog = prog;
    self->ncache++;
    return prog;
}

static int fill_arg(hg_state *st, ExecutorObject *exec, const char *kname,
                    const at_param *p, int i, PyObject *o, at_arg *out)
{
    memset(out, 0, sizeof *out);
    if (!p->is_scalar) {
        if (!hg_buffer_check(st, o)) {
            PyErr_Format(PyExc_TypeError,
                         "launch: %s argument %d ('%s') must be a "
                         "hologram.Buffer, got %.200s",
                         kname, i, p->name, Py_TYPE(o)->tp_name);
            return -1;
        }
        BufferObject *b = (BufferObject *)o;
        if (b->exec != exec) {
            PyErr_Format(PyExc_ValueError,
                         "launch: %s argument '%s': buffers belong to "
                         "different executors",
                         kname, p->name);
            return -1;
        }
        out->data = b->t.data;
        out->numel = b->t.numel;
        out->dtype = b->t.dtype;
        return 0;
    }
    if (hg_buffer_check(st, o)) {
        PyErr_Format(PyExc_TypeError,
                     "launch: %s argument %d ('%s') is a scalar param; got a "
                     "hologram.Buffer",
                     kname, i, p->name);
        return -1;
    }
    out->dtype = p->dtype;
    if (p->dtype == AT_F32) {
        double v = PyFloat_AsDouble(o);
        if (v == -1.0 && PyErr_Occurred()) {
            if (PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError,
                             "launch: %s scalar '%s' (f32) must be a float or "
                             "int, got %.200s",
                             kname, p->name, Py_TYPE(o)->tp_name);
            }
            return -1;
        }
        out->scalar.f32 = (float)v;
        return 0;
    }
    if (p->dtype == AT_I64 || p->dtype == AT_I32) {
        char what[64];
        snprintf(what, sizeof what, "scalar '%.32s'", p->name);
        int64_t v;
        if (hg_as_int64("launch", what, o, &v) < 0)
            return -1;
        out->scalar.i64 = v;
        return 0;
    }
    PyErr_Format(PyExc_TypeError,
                 "launch: %s scalar '%s' has unsupported dtype %s", kname,
                 p->name, at_dtype_name(p->dtype));
    return -1;
}

static const hg_kw kw_launch[] = {HG_KW_ROWS, HG_KW_COLS};

PyObject *hg_executor_launch(PyObject *op, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames)
{
    ExecutorObject *exec = (ExecutorObject *)op;
    hg_state *st = exec->st;
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError,
                        "launch: missing required argument 'kernel'");
        return NULL;
    }
    if (!Py_IS_TYPE(args[0], st->KernelType)) {
        PyErr_Format(
            PyExc_TypeError,
            "launch: argument 'kernel' must be a hologram.Kernel, got %.200s",
            Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    KernelObject *kern = (KernelObject *)args[0];
    const char *kname = at_kernel_name(kern->k);

    /* rows=, cols= are keyword-only: parse them from kwnames alone. */
    PyObject *kw[2] = {NULL, NULL};
    if (kwnames != NULL
        && hg_parse_args(st, "launch", args + nargs, 0, kwnames, kw_launch, 2,
                         0, 0, kw)
               < 0)
        return NULL;

    Py_ssize_t nuser = nargs - 1;
    if (nuser != kern->nparams) {
        PyErr_Format(PyExc_TypeError,
                     "launch: kernel %s takes %d argument%s (%zd given)", kname,
                     kern->nparams, kern->nparams == 1 ? "" : "s", nuser);
        return NULL;
    }
    int64_t rows = 1;
    if (kw[0] != NULL && hg_as_int64("launch", "rows", kw[0], &rows) < 0)
        return NULL;
    if (rows < 0) {
        PyErr_Format(PyExc_ValueError, "launch: rows must be >= 0, got %lld",
                     (long long)rows);
        return NULL;
    }
    int64_t cols = -1;
    if (kw[1] != NULL && kw[1] != Py_None) {
        if (hg_as_int64("launch", "cols", kw[1], &cols) < 0)
            return NULL;
        if (cols < 0) {
            PyErr_Format(PyExc_ValueError,
                         "launch: cols must be >= 0, got %lld",
                         (long long)cols);
            return NULL;
        }
    }

    at_arg stack_args[HG_LAUNCH_STACK_ARGS];
    at_arg *cargs = stack_args;
    if (nuser > HG_LAUNCH_STACK_ARGS) {
        cargs = PyMem_Calloc((size_t)nuser, sizeof *cargs);
        if (cargs == NULL)
            return PyErr_NoMemory();
    }
    PyObject *result = NULL;
    int first_buf = -1, first_elem = -1;
    for (int i = 0; i < kern->nparams; i++) {
        const at_param *p = at_kernel_param(kern->k, i);
        if (fill_arg(st, exec, kname, p, i, args[1 + i], &cargs[i]) < 0)
            goto done;
        if (!p->is_scalar) {
            if (first_buf < 0)
                first_buf = i;
            if (first_elem < 0 && kern->is_elem[i])
                first_elem = i;
        }
    }
    if (cols < 0) {
        int src = first_elem >= 0 ? first_elem : first_buf;
        if (src < 0) {
            PyErr_Format(
                PyExc_ValueError,
                "launch: kernel %s has no buffer params; pass cols=", kname);
            goto done;
        }
        size_t n = cargs[src].numel;
        if (rows > 1) {
            if (n % (size_t)rows != 0) {
                PyErr_Format(
                    PyExc_ValueError,
                    "launch: cannot infer cols: buffer '%s' has %zu elements, "
                    "not a multiple of rows=%lld; pass cols=",
                    at_kernel_param(kern->k, src)->name, n, (long long)rows);
                goto done;
            }
            n /= (size_t)rows;
        }
        cols = (int64_t)n;
    }

    at_program *prog = kernel_program(kern, exec);
    if (prog == NULL)
        goto done;
    at_error err;
    err.msg[0] = '\0';
    at_status rc;
    at_executor *ex = exec->ex;
    size_t nr = (size_t)rows, nc = (size_t)cols, na = (size_t)nuser;
    Py_BEGIN_ALLOW_THREADS rc = at_launch(ex, prog, nr, nc, cargs, na, &err);
    Py_END_ALLOW_THREADS if (rc != AT_OK)
    {
        hg_raise(rc, &err);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    if (cargs != stack_args)
        PyMem_Free(cargs);
    return result;
}

static PyGetSetDef kernel_getset[] = {
    {"name", kernel_get_name, NULL, "the kernel's name", NULL},
    {"params", kernel_get_params, NULL,
     "list of (name, dtype_str, is_scalar) tuples, in launch order", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot kernel_slots[] = {
    {Py_tp_doc,
     (void *)"Kernel(text)\n--\n\nAn Atlas IR kernel parsed and verified from "
             "its text form; run it with Executor.launch."},
    {Py_tp_new, kernel_new},
    {Py_tp_dealloc, kernel_dealloc},
    {Py_tp_traverse, kernel_traverse},
    {Py_tp_clear, kernel_clear},
    {Py_tp_str, kernel_str},
    {Py_tp_repr, kernel_repr},
    {Py_tp_getset, kernel_getset},
    {0, NULL},
};

PyType_Spec hg_kernel_spec = {
    .name = "hologram.Kernel",
    .basicsize = sizeof(KernelObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = kernel_slots,
};
