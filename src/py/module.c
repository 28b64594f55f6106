/* Hologram Atlas — the `hologram._core` extension module: module state,
 * multi-phase initialisation, error mapping and shared argument helpers. */
#define HG_IMPORT_ARRAY_HERE
#include "hg.h"

#include <string.h>
#include <unistd.h>

#define HG_KW_NAME(N, s) s,
const char *const hg_kw_names[HG_KW_COUNT] = {HG_KWS(HG_KW_NAME)};
#undef HG_KW_NAME

const hg_dtype_info hg_dtypes[HG_NDTYPES] = {
    [AT_F32] = {NPY_FLOAT32, "f"},
    [AT_I32] = {NPY_INT32, "i"},
    [AT_I64] = {NPY_INT64, "q"},
    [AT_BOOL] = {NPY_BOOL, "?"},
};

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                           */
/* ------------------------------------------------------------------------ */

hg_state *hg_state_from_type(PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *mod = PyType_GetModuleByDef(tp, &hg_moduledef);
#else
    PyObject *mod = PyType_GetModule(tp);   /* our types are final */
#endif
    if (mod == NULL)
        return NULL;
    return (hg_state *)PyModule_GetState(mod);
}

PyObject *hg_raise(at_status st, const at_error *err)
{
    PyObject *exc;
    switch (st) {
        case AT_E_VALUE:
        case AT_E_VERIFY:
            exc = PyExc_ValueError;
            break;
        case AT_E_TYPE:
            exc = PyExc_TypeError;
            break;
        case AT_E_INDEX:
            exc = PyExc_IndexError;
            break;
        case AT_E_NOMEM:
            exc = PyExc_MemoryError;
            break;
        case AT_E_OVERFLOW:
            exc = PyExc_OverflowError;
            break;
        default:
            exc = PyExc_RuntimeError;
            break;
    }
    const char *msg =
        (err != NULL && err->msg[0] != '\0') ? err->msg : at_status_name(st);
    /* The core's messages are plain C strings; decode defensively. */
    PyObject *s = PyUnicode_DecodeUTF8(
        msg, (Py_ssize_t)strnlen(msg, sizeof err->msg), "replace");
    if (s == NULL)
        return NULL;
    PyErr_SetObject(exc, s);
    Py_DECREF(s);
    return NULL;
}

int hg_dtype_from_descr(const PyArray_Descr *d, at_dtype *out)
{
    switch (d->type_num) {
        case NPY_FLOAT:
            *out = AT_F32;
            return 0;
        case NPY_INT:
            if (sizeof(int) == 4) {
                *out = AT_I32;
                return 0;
            }
            return -1;
        case NPY_LONG:
            if (sizeof(long) == 8) {
                *out = AT_I64;
                return 0;
            }
            if (sizeof(long) == 4) {
                *out = AT_I32;
                return 0;
            }
            return -1;
        case NPY_LONGLONG:
            if (sizeof(long long) == 8) {
                *out = AT_I64;
                return 0;
            }
            return -1;
        case NPY_BOOL:
            *out = AT_BOOL;
            return 0;
        default:
            return -1;
    }
}

int hg_dtype_from_obj(hg_state *st, const char *fn, PyObject *obj,
                      at_dtype *out)
{
    (void)st;
    if (obj == NULL || obj == Py_None) {
        *out = AT_F32;
        return 0;
    }
    PyArray_Descr *d = NULL;
    if (!PyArray_DescrConverter(obj, &d)) {
        PyErr_Clear();
        PyErr_Format(
            PyExc_TypeError,
            "%s: unsupported dtype %R (supported: float32, int32, int64, bool)",
            fn, obj);
        return -1;
    }
    int rc = hg_dtype_from_descr(d, out);
    if (rc < 0)
        PyErr_Format(
            PyExc_TypeError,
            "%s: unsupported dtype %S (supported: float32, int32, int64, bool)",
            fn, (PyObject *)d);
    Py_DECREF(d);
    return rc;
}

int hg_parse_args(hg_state *st, const char *fn, PyObject *const *args,
                  Py_ssize_t nargs, PyObject *kwnames, const hg_kw *kws,
                  int nkw, int npos, int nreq, PyObject **out)
{
    if (nargs > npos) {
        PyErr_Format(PyExc_TypeError,
                     "%s: takes at most %d positional argument%s (%zd given)",
                     fn, npos, npos == 1 ? "" : "s", nargs);
        return -1;
    }
    for (int i = 0; i < nkw; i++)
        out[i] = i < nargs ? args[i] : NULL;
    if (kwnames != NULL) {
        Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t j = 0; j < nk; j++) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, j);
            int found = -1;
            for (int i = 0; i < nkw; i++)           /* interned: identity */
                if (key == st->kw[kws[i]]) {
                    found = i;
                    break;
                }
            if (found < 0) {
                for (int i = 0; i < nkw; i++) {
                    int eq = PyUnicode_Check(key)
                             && PyUnicode_CompareWithASCIIString(
                                    key, hg_kw_names[kws[i]])
                                    == 0;
                    if (eq) {
                        found = i;
                        break;
                    }
                }
            }
            if (found < 0) {
                PyErr_Format(PyExc_TypeError,
                             "%s: unexpected keyword argument %R", fn, key);
                return -1;
            }
            if (out[found] != NULL) {
                PyErr_Format(PyExc_TypeError,
                             "%s: got multiple values for argument '%s'", fn,
                             hg_kw_names[kws[found]]);
                return -1;
            }
            out[found] = args[nargs + j];
        }
    }
    for (int i = 0; i < nreq; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s: missing required argument '%s'",
                         fn, hg_kw_names[kws[i]]);
            return -1;
        }
    }
    return 0;
}

int hg_as_int64(const char *fn, const char *what, PyObject *o, int64_t *out)
{
    if (!PyIndex_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be an int, got %.200s", fn,
                     what, Py_TYPE(o)->tp_name);
        return -1;
    }
    PyObject *idx = PyNumber_Index(o);
    if (idx == NULL)
        return -1;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(idx, &overflow);
    Py_DECREF(idx);
    if (overflow != 0) {
        PyErr_Format(PyExc_OverflowError, "%s: %s is out of range", fn, what);
        return -1;
    }
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = (int64_t)v;
    return 0;
}

void hg_copy(void *dst, const void *src, size_t n)
{
    if (n >= HG_MEMCPY_NOGIL_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        memcpy(dst, src, n);
        Py_END_ALLOW_THREADS
    } else {
        memcpy(dst, src, n);
    }
}

/* ------------------------------------------------------------------------ */
/* cpu_info()                                                               */
/* ------------------------------------------------------------------------ */

static PyObject *isa_list(int (*pred)(at_isa))
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    for (int i = 0; i < AT_ISA_COUNT; i++) {
        if (!pred((at_isa)i))
            continue;
        PyObject *s = PyUnicode_FromString(at_isa_name((at_isa)i));
        if (s == NULL || PyList_Append(list, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(s);
    }
    return list;
}

static int dict_steal(PyObject *d, const char *key, PyObject *v)
{
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

PyObject *hg_cpu_info(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);   /* os.cpu_count() */
    if (ncpu < 1)
        ncpu = 1;
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    const char *brand = at_cpu_brand();
    if (dict_steal(d, "brand",
                   PyUnicode_DecodeUTF8(brand ? brand : "",
                                        brand ? (Py_ssize_t)strlen(brand) : 0,
                                        "replace"))
            < 0
        || dict_steal(d, "isa",
                      PyUnicode_FromString(at_isa_name(at_cpu_best_isa())))
               < 0
        || dict_steal(d, "isa_supported", isa_list(at_cpu_supports)) < 0
        || dict_steal(d, "isa_compiled", isa_list(at_cpu_compiled)) < 0
        || dict_steal(d, "ncpu", PyLong_FromLong(ncpu)) < 0)
    {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

/* ------------------------------------------------------------------------ */
/* Module definition                                                        */
/* ------------------------------------------------------------------------ */

static int add_type(PyObject *m, PyType_Spec *spec, PyTypeObject **slot)
{
    PyObject *tp = PyType_FromModuleAndSpec(m, spec, NULL);
    if (tp == NULL)
        return -1;
    *slot = (PyTypeObject *)tp;                  /* state owns this ref */
    return PyModule_AddType(m, (PyTypeObject *)tp);
}

static int hg_exec(PyObject *m)
{
    hg_state *st = (hg_state *)PyModule_GetState(m);
    if (_import_array() < 0)
        return -1;
    if (add_type(m, &hg_executor_spec, &st->ExecutorType) < 0
        || add_type(m, &hg_buffer_spec, &st->BufferType) < 0
        || add_type(m, &hg_kernel_spec, &st->KernelType) < 0
        || add_type(m, &hg_jitcall_spec, &st->JitCallType) < 0)
        return -1;
    for (int i = 0; i < HG_NDTYPES; i++) {
        st->descr[i] = PyArray_DescrFromType(hg_dtypes[i].npy_type);
        if (st->descr[i] == NULL)
            return -1;
    }
    for (int i = 0; i < HG_KW_COUNT; i++) {
        st->kw[i] = PyUnicode_InternFromString(hg_kw_names[i]);
        if (st->kw[i] == NULL)
            return -1;
    }
    st->nfree = 0;
    if (PyModule_AddStringConstant(m, "__version__", HG_VERSION) < 0
        || PyModule_AddIntConstant(m, "MAX_DIMS", AT_MAX_DIMS) < 0
        || PyModule_AddObject(m, "GIL_RELEASE_COST",
                              PyLong_FromSize_t(HG_GIL_RELEASE_COST))
               < 0)
        return -1;
    return 0;
}

static int hg_traverse(PyObject *m, visitproc visit, void *arg)
{
    hg_state *st = (hg_state *)PyModule_GetState(m);
    if (st == NULL)
        return 0;
    Py_VISIT(st->ExecutorType);
    Py_VISIT(st->BufferType);
    Py_VISIT(st->KernelType);
    Py_VISIT(st->JitCallType);
    for (int i = 0; i < HG_NDTYPES; i++)
        Py_VISIT(st->descr[i]);
    return 0;
}

static int hg_clear(PyObject *m)
{
    hg_state *st = (hg_state *)PyModule_GetState(m);
    if (st == NULL)
        return 0;
    hg_buffer_freelist_clear(st);
    Py_CLEAR(st->ExecutorType);
    Py_CLEAR(st->BufferType);
    Py_CLEAR(st->KernelType);
    Py_CLEAR(st->JitCallType);
    for (int i = 0; i < HG_NDTYPES; i++)
        Py_CLEAR(st->descr[i]);
    for (int i = 0; i < HG_KW_COUNT; i++)
        Py_CLEAR(st->kw[i]);
    return 0;
}

static void hg_free(void *m) { hg_clear((PyObject *)m); }

static PyModuleDef_Slot hg_slots[] = {
    {Py_mod_exec, (void *)hg_exec},
#ifdef Py_mod_multiple_interpreters
    /* NumPy itself cannot be loaded in sub-interpreters. */
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
    {0, NULL},
};

PyModuleDef hg_moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "hologram._core",
    .m_doc = "Hologram Atlas: the CPython binding of the C core.",
    .m_size = sizeof(hg_state),
    .m_methods = hg_module_methods, /* ops.c: cpu_info and every op */
    .m_slots = hg_slots,
    .m_traverse = hg_traverse,
    .m_clear = hg_clear,
    .m_free = hg_free,
};

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&hg_moduledef); }
