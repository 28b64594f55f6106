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

PyObject *hg_kernel_text(const at_kernel *k)
{
    size_t need = at_kernel_print(k, NULL, 0);
    char *buf = PyMem_Malloc(need + 1);
    if (buf == NULL)
        return PyErr_NoMemory();
    size_t got = at_kernel_print(k, buf, need + 1);
    if (got > need)
        got = need;
    PyObject *s =
        PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strnlen(buf, got), "replace");
    PyMem_Free(buf);
    return s;
}

static PyObject *kernel_str(PyObject *op)
{
    return hg_kernel_text(((KernelObject *)op)->k);
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

const at_kernel *hg_kernel_ir(PyObject *kernel)
{
    return ((KernelObject *)kernel)->k;
}

const at_program *hg_kernel_program(PyObject *kernel, ExecutorObject *exec)
{
    return kernel_program((KernelObject *)kernel, exec);
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

/* The launch grid: rows, and cols, which is -1 until known. */
typedef struct launch_grid {
    int64_t rows, cols;
} launch_grid;

/* The grid from the values of rows= (default 1) and cols= (default None:
 * inferred from the buffers), NULL where not given. */
static int parse_grid(PyObject *orows, PyObject *ocols, launch_grid *g)
{
    g->rows = 1;
    g->cols = -1;
    if (orows != NULL && hg_as_int64("launch", "rows", orows, &g->rows) < 0)
        return -1;
    if (g->rows < 0) {
        PyErr_Format(PyExc_ValueError, "launch: rows must be >= 0, got %lld",
                     (long long)g->rows);
        return -1;
    }
    if (ocols == NULL || ocols == Py_None)
        return 0;
    if (hg_as_int64("launch", "cols", ocols, &g->cols) < 0)
        return -1;
    if (g->cols < 0) {
        PyErr_Format(PyExc_ValueError, "launch: cols must be >= 0, got %lld",
                     (long long)g->cols);
        return -1;
    }
    return 0;
}

/* Argument parsing: the kernel (positional-only), one positional argument
 * per kernel param, and the keyword-only rows= and cols=.  The kernel, or
 * NULL with an exception set. */
static KernelObject *parse_launch_args(hg_state *st, PyObject *const *args,
                                       Py_ssize_t nargs, PyObject *kwnames,
                                       launch_grid *g)
{
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
    PyObject *kw[2] = {NULL, NULL}; /* rows, cols: from kwnames alone */
    if (kwnames != NULL
        && hg_parse_args(st, "launch", args + nargs, 0, kwnames, kw_launch, 2,
                         0, 0, kw)
               < 0)
        return NULL;
    Py_ssize_t nuser = nargs - 1;
    if (nuser != kern->nparams) {
        PyErr_Format(PyExc_TypeError,
                     "launch: kernel %s takes %d argument%s (%zd given)",
                     at_kernel_name(kern->k), kern->nparams,
                     kern->nparams == 1 ? "" : "s", nuser);
        return NULL;
    }
    if (parse_grid(kw[0], kw[1], g) < 0)
        return NULL;
    return kern;
}

/* Build the at_arg array: cargs[i] from the i-th user argument.  *src is the
 * param cols is inferred from: the first buffer loaded or stored per
 * element, else the first buffer, else -1. */
static int build_args(hg_state *st, ExecutorObject *exec, KernelObject *kern,
                      PyObject *const *uargs, at_arg *cargs, int *src)
{
    const char *kname = at_kernel_name(kern->k);
    int first_buf = -1, first_elem = -1;
    for (int i = 0; i < kern->nparams; i++) {
        const at_param *p = at_kernel_param(kern->k, i);
        if (fill_arg(st, exec, kname, p, i, uargs[i], &cargs[i]) < 0)
            return -1;
        if (!p->is_scalar) {
            if (first_buf < 0)
                first_buf = i;
            if (first_elem < 0 && kern->is_elem[i])
                first_elem = i;
        }
    }
    *src = first_elem >= 0 ? first_elem : first_buf;
    return 0;
}

/* cols = the elements of buffer param src per row. */
static int infer_cols(const KernelObject *kern, const at_arg *cargs, int src,
                      launch_grid *g)
{
    if (src < 0) {
        PyErr_Format(PyExc_ValueError,
                     "launch: kernel %s has no buffer params; pass cols=",
                     at_kernel_name(kern->k));
        return -1;
    }
    size_t n = cargs[src].numel;
    if (g->rows > 1) {
        if (n % (size_t)g->rows != 0) {
            PyErr_Format(
                PyExc_ValueError,
                "launch: cannot infer cols: buffer '%s' has %zu elements, "
                "not a multiple of rows=%lld; pass cols=",
                at_kernel_param(kern->k, src)->name, n, (long long)g->rows);
            return -1;
        }
        n /= (size_t)g->rows;
    }
    g->cols = (int64_t)n;
    return 0;
}

/* The launch itself, with the GIL released so that other Python threads run
 * while the executor's workers do. */
static at_status launch_nogil(at_executor *ex, const at_program *prog,
                              const launch_grid *g, const at_arg *cargs,
                              size_t nargs, at_error *err)
{
    at_status rc;
    size_t rows = (size_t)g->rows, cols = (size_t)g->cols;
    Py_BEGIN_ALLOW_THREADS
    rc = at_launch(ex, prog, rows, cols, cargs, nargs, err);
    Py_END_ALLOW_THREADS
    return rc;
}

/* Everything after parsing, with cargs room for kern->nparams entries. */
static PyObject *launch_with(ExecutorObject *exec, KernelObject *kern,
                             PyObject *const *uargs, launch_grid *g,
                             at_arg *cargs)
{
    int src;
    if (build_args(exec->st, exec, kern, uargs, cargs, &src) < 0)
        return NULL;
    if (g->cols < 0 && infer_cols(kern, cargs, src, g) < 0)
        return NULL;
    at_program *prog = kernel_program(kern, exec);
    if (prog == NULL)
        return NULL;
    at_error err;
    err.msg[0] = '\0';
    at_status rc =
        launch_nogil(exec->ex, prog, g, cargs, (size_t)kern->nparams, &err);
    if (rc != AT_OK)
        return hg_raise(rc, &err); /* the status picks the exception type */
    Py_RETURN_NONE;
}

/* Executor.launch: the steps above in order.  The at_arg array is on the
 * stack unless the kernel has more than HG_LAUNCH_STACK_ARGS params. */
PyObject *hg_executor_launch(PyObject *op, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames)
{
    ExecutorObject *exec = (ExecutorObject *)op;
    launch_grid g;
    KernelObject *kern = parse_launch_args(exec->st, args, nargs, kwnames, &g);
    if (kern == NULL)
        return NULL;
    at_arg stack_args[HG_LAUNCH_STACK_ARGS];
    at_arg *cargs = stack_args;
    if (kern->nparams > HG_LAUNCH_STACK_ARGS) {
        cargs = PyMem_Calloc((size_t)kern->nparams, sizeof *cargs);
        if (cargs == NULL)
            return PyErr_NoMemory();
    }
    PyObject *result = launch_with(exec, kern, args + 1, &g, cargs);
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

PyType_Spec hg_kernel_spec =
    HG_TYPE_SPEC("Kernel", KernelObject, Py_TPFLAGS_HAVE_GC, kernel_slots);
