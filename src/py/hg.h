/* Hologram Atlas — private declarations shared by the extension's sources.
 *
 * The extension keeps no C globals of its own: every type object and cached
 * Python object lives in the module state (hg_state), reached from
 *   - module-level functions through their `module` argument,
 *   - Executor / Buffer methods through the Executor's cached state pointer,
 *   - tp_new through PyType_GetModuleByDef.
 * The only process-wide global is NumPy's own C-API table (PyArray_API),
 * which is how NumPy's C API works; it is filled in the module's exec slot.
 */
#ifndef HOLOGRAM_PY_HG_H
#define HOLOGRAM_PY_HG_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifndef NPY_NO_DEPRECATED_API
#define NPY_NO_DEPRECATED_API NPY_2_0_API_VERSION
#endif
#define PY_ARRAY_UNIQUE_SYMBOL hologram_core_ARRAY_API
#ifndef HG_IMPORT_ARRAY_HERE
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "atlas/atlas.h"

/* Release the GIL around a standard-library launch only when the work
 * estimate (at_stdop_cost, element-op units) is at least this much; below
 * it, dropping and re-taking the GIL costs more than it can win. */
#define HG_GIL_RELEASE_COST ((size_t)32768)

/* Copies of at least this many bytes between NumPy and the pool run with the
 * GIL released (hg_copy). */
#define HG_MEMCPY_NOGIL_BYTES ((size_t)1 << 20)

/* Largest number of dead Buffer objects kept for reuse per module. */
#define HG_BUFFER_FREELIST 64

/* Maximum number of values shown by repr(buffer). */
#define HG_REPR_VALUES 6

/* Keyword-argument names, interned once in the module state. */
/* clang-format off */
#define HG_KWS(X) \
    X(A, "a") \
    X(B, "b") \
    X(C, "c") \
    X(COND, "cond") \
    X(AXIS, "axis") \
    X(KEEPDIMS, "keepdims") \
    X(M, "m") \
    X(N, "n") \
    X(K, "k") \
    X(PRED, "pred") \
    X(TARGET, "target") \
    X(LOGITS, "logits") \
    X(IGNORE_INDEX, "ignore_index") \
    X(ROWS, "rows") \
    X(COLS, "cols") \
    X(SHAPE, "shape") \
    X(DTYPE, "dtype") \
    X(ARR, "arr") \
    X(NAME, "name") \
    X(KERNEL, "kernel") \
    X(APPROXIMATE, "approximate") \
    X(NEGATIVE_SLOPE, "negative_slope") \
    X(BETA, "beta") \
    X(THRESHOLD, "threshold") \
    X(P, "p") \
    X(T, "t") \
    X(MIN, "min") \
    X(MAX, "max") \
    X(XS, "x") \
    X(WEIGHT, "weight") \
    X(BIAS, "bias") \
    X(EPS, "eps") \
    X(TRANS_A, "trans_a") \
    X(TRANS_B, "trans_b") \
    X(OUT, "out") \
    X(JIT_MISS, "_call")
/* clang-format on */
#define HG_KW_ENUM(N, s) HG_KW_##N,
typedef enum hg_kw {
    HG_KWS(HG_KW_ENUM) HG_KW_COUNT
} hg_kw;
#undef HG_KW_ENUM
extern const char *const hg_kw_names[HG_KW_COUNT];

/* The storage dtypes (AT_F32, AT_I32, AT_I64, AT_BOOL) and how NumPy and the
 * buffer protocol name each, indexed by at_dtype. */
#define HG_NDTYPES 4
typedef struct hg_dtype_info {
    int npy_type; /* NumPy type number */
    const char *format; /* buffer-protocol (struct module) format */
} hg_dtype_info;
extern const hg_dtype_info hg_dtypes[HG_NDTYPES];

typedef struct hg_state {
    PyTypeObject *ExecutorType;
    PyTypeObject *BufferType;
    PyTypeObject *KernelType;
    PyTypeObject *JitCallType;
    PyArray_Descr *descr[HG_NDTYPES]; /* numpy dtype per storage dtype */
    PyObject *kw[HG_KW_COUNT]; /* interned keyword names (hg_kw) */
    /* Buffer freelist: dead objects (no executor, no data). */
    int nfree;
    PyObject *freelist[HG_BUFFER_FREELIST];
} hg_state;

typedef struct ExecutorObject {
    PyObject_HEAD at_executor *ex;
    at_pool *pool; /* at_executor_pool(ex), cached */
    hg_state *st; /* the defining module's state */
} ExecutorObject;

typedef struct BufferObject {
    PyObject_HEAD ExecutorObject *exec; /* strong ref: keeps the pool alive */
    at_tensor t; /* data, dtype, ndim, shape, numel */
    size_t nbytes;
    /* NULL: t.data is a block of exec's pool, freed by dealloc.  Otherwise
     * a strong reference to whatever keeps the memory alive, which dealloc
     * releases instead: the capsule of another library's tensor
     * (Executor.from_dlpack), or for a view (reshape) the Buffer whose pool
     * block it shares (itself never a view: a view of a view shares its
     * base's owner).  A Buffer with an owner never has the memory to itself. */
    PyObject *owner;
    Py_ssize_t exports; /* live buffer-protocol views */
    Py_ssize_t view_shape[AT_MAX_DIMS];
    Py_ssize_t view_strides[AT_MAX_DIMS];
} BufferObject;

extern PyModuleDef hg_moduledef;

/* The PyType_Spec of hologram.NAME: final (not subclassable), immutable,
 * with FLAGS added. */
#define HG_TYPE_SPEC(NAME, OBJECT, FLAGS, SLOTS)                          \
    {                                                                     \
        .name = "hologram." NAME,                                         \
        .basicsize = sizeof(OBJECT),                                      \
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | (FLAGS), \
        .slots = (SLOTS),                                                 \
    }

/* module.c */
hg_state *hg_state_from_type(PyTypeObject *tp);
PyObject *hg_raise(at_status st, const at_error *err);
int hg_dtype_from_descr(const PyArray_Descr *d, at_dtype *out);
int hg_dtype_from_obj(hg_state *st, const char *fn, PyObject *obj,
                      at_dtype *out);
/* Parse a vectorcall argument vector against the parameter list `kws`
 * (nkw names; the first npos may be positional, the first nreq of those are
 * required).  out[i] receives a borrowed reference or stays NULL.
 * Returns 0, or -1 with TypeError set. */
int hg_parse_args(hg_state *st, const char *fn, PyObject *const *args,
                  Py_ssize_t nargs, PyObject *kwnames, const hg_kw *kws,
                  int nkw, int npos, int nreq, PyObject **out);
int hg_as_int64(const char *fn, const char *what, PyObject *o, int64_t *out);
/* memcpy(dst, src, n), with the GIL released for n >= HG_MEMCPY_NOGIL_BYTES.
 * The caller keeps both blocks alive (it holds references to their owners). */
void hg_copy(void *dst, const void *src, size_t n);
PyObject *hg_cpu_info(PyObject *module, PyObject *unused);

/* executor.c */
extern PyType_Spec hg_executor_spec;

/* buffer.c */
extern PyType_Spec hg_buffer_spec;
/* A new Buffer on exec with the given layout and uninitialised data;
 * fn names the caller in error messages.  NULL with an exception set. */
BufferObject *hg_buffer_new(ExecutorObject *exec, at_dtype dt, int ndim,
                            const int64_t *shape, size_t numel, const char *fn);
/* A new Buffer that takes ownership of t->data, a block of exec's pool of
 * at least numel * itemsize bytes.  NULL with an exception set (t->data is
 * then still the caller's). */
BufferObject *hg_buffer_wrap(ExecutorObject *exec, const at_tensor *t,
                             const char *fn);
void hg_buffer_freelist_clear(hg_state *st);
/* Executor.from_dlpack(obj): a Buffer on exec sharing obj's memory, or a copy
 * of it in exec's pool (docs/python-api.md says which).  NULL with an
 * exception set. */
PyObject *hg_buffer_from_dlpack(ExecutorObject *exec, PyObject *obj);
/* Whether o is a Buffer of any module instance (a slot of Buffer gets no
 * module state; the type's dealloc identifies it). */
int hg_is_buffer(PyObject *o);
static inline int hg_buffer_check(hg_state *st, PyObject *o)
{
    return Py_IS_TYPE(o, st->BufferType);
}

/* A standard-library call that allocates its result from the pool (the
 * at_*_run_new functions), given its inputs and what else it takes (ctx). */
typedef at_status (*hg_new_fn)(at_executor *ex, const at_tensor *in,
                               const void *ctx, at_tensor *out, at_error *err);

/* run's result on exec as a new Buffer, with the GIL released when cost (in
 * at_stdop_cost's units) reaches HG_GIL_RELEASE_COST; NULL with the mapped
 * exception when it fails (fn names the caller).  Inlined, so that each
 * caller calls its run directly: every op call goes through it. */
static inline __attribute__((always_inline)) PyObject *
hg_run_new(ExecutorObject *exec, size_t cost, hg_new_fn run,
           const at_tensor *in, const void *ctx, const char *fn)
{
    at_tensor out;
    at_error err;
    err.msg[0] = '\0';
    at_status rc;
    if (cost >= HG_GIL_RELEASE_COST) {
        at_executor *ex = exec->ex;
        Py_BEGIN_ALLOW_THREADS
        rc = run(ex, in, ctx, &out, &err);
        Py_END_ALLOW_THREADS
    } else {
        rc = run(exec->ex, in, ctx, &out, &err);
    }
    if (rc != AT_OK)
        return hg_raise(rc, &err);
    BufferObject *res = hg_buffer_wrap(exec, &out, fn);
    if (res == NULL)
        at_pool_free(exec->pool, out.data);
    return (PyObject *)res;
}

/* ops.c */
extern PyMethodDef hg_module_methods[]; /* cpu_info + the ops */
/* neg or abs (op) of a: float32 by hg_run_op, int32/int64 by the integer
 * kernels (at_int_unary_run_new). */
PyObject *hg_signed_unary(hg_state *st, at_stdop op, const char *fn,
                          PyObject *a);
/* Run a standard-library op on nin Buffers (TypeError naming fn for any
 * other operand): validate, allocate the result, launch. */
PyObject *hg_run_op(hg_state *st, at_stdop op, const char *fn,
                    PyObject *const *ins, int nin);

/* arith.c */
/* Buffer's operator slots (number protocol, richcompare, hash by
 * identity), which buffer.c lists among its own. */
PyObject *hg_buffer_add(PyObject *l, PyObject *r);
PyObject *hg_buffer_sub(PyObject *l, PyObject *r);
PyObject *hg_buffer_mul(PyObject *l, PyObject *r);
PyObject *hg_buffer_div(PyObject *l, PyObject *r);
PyObject *hg_buffer_iadd(PyObject *l, PyObject *r);
PyObject *hg_buffer_isub(PyObject *l, PyObject *r);
PyObject *hg_buffer_imul(PyObject *l, PyObject *r);
PyObject *hg_buffer_idiv(PyObject *l, PyObject *r);
PyObject *hg_buffer_pow(PyObject *l, PyObject *r, PyObject *mod);
PyObject *hg_buffer_neg(PyObject *a);
PyObject *hg_buffer_abs(PyObject *a);
PyObject *hg_buffer_richcompare(PyObject *a, PyObject *b, int cmp);
Py_hash_t hg_buffer_hash(PyObject *a);
/* clang-format off */
#define HG_BUFFER_ARITH_SLOTS \
    {Py_nb_add, hg_buffer_add}, \
    {Py_nb_subtract, hg_buffer_sub}, \
    {Py_nb_multiply, hg_buffer_mul}, \
    {Py_nb_true_divide, hg_buffer_div}, \
    {Py_nb_power, hg_buffer_pow}, \
    {Py_nb_negative, hg_buffer_neg}, \
    {Py_nb_absolute, hg_buffer_abs}, \
    {Py_nb_inplace_add, hg_buffer_iadd}, \
    {Py_nb_inplace_subtract, hg_buffer_isub}, \
    {Py_nb_inplace_multiply, hg_buffer_imul}, \
    {Py_nb_inplace_true_divide, hg_buffer_idiv}, \
    {Py_tp_richcompare, hg_buffer_richcompare}, \
    {Py_tp_hash, hg_buffer_hash},
/* clang-format on */
/* The broadcasting op on n operands (Buffers or Python numbers), into a new
 * Buffer or, when into is not NULL, into that Buffer (in place: the result
 * must have its shape and dtype).  For an operand of another type: with
 * others_ok NotImplemented (operators), else TypeError naming fn. */
PyObject *hg_broadcast(hg_state *st, at_bcop op, const char *fn,
                       PyObject *const *x, int n, BufferObject *into,
                       int others_ok);
/* The IR text of the kernel the broadcasting op named `name` (a str: add,
 * sub, mul, div, pow, maximum, minimum, lt, le, gt, ge, eq, ne, where)
 * launches for these operands. */
PyObject *hg_broadcast_ir(hg_state *st, const char *fn, PyObject *name,
                          PyObject *const *x, int n);

/* a @ b (hg.ops.matmul and Buffer.__matmul__): a new Buffer, or NULL with
 * an exception set (ValueError for buffers of two executors). */
PyObject *hg_matmul(BufferObject *a, BufferObject *b);

/* kernel.c */
extern PyType_Spec hg_kernel_spec;
/* The text form of k (at_kernel_print) as a str; NULL with an exception. */
PyObject *hg_kernel_text(const at_kernel *k);
PyObject *hg_executor_launch(PyObject *self, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames);
/* The kernel of a hologram.Kernel object (kernel must be one). */
const at_kernel *hg_kernel_ir(PyObject *kernel);
/* Its program for exec, compiled on first use and kept by the kernel (the
 * program Executor.launch runs); NULL with an exception set. */
const at_program *hg_kernel_program(PyObject *kernel, ExecutorObject *exec);

/* jitcall.c */
extern PyType_Spec hg_jitcall_spec;

#endif /* HOLOGRAM_PY_HG_H */
