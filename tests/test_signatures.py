"""Every public function and method states its real signature.

The extension's functions carry CPython text signatures (the docstring starts
with ``name($module, a, b)`` and ``--``), which ``inspect.signature`` reads.
These tests hold each signature to two things:

* the type stubs (hologram/ops.pyi, hologram/__init__.pyi) list the same
  parameters, of the same kinds, with the same defaults;
* the function accepts what the signature says: every parameter that may be
  passed by name is passed by name and gives the value of an independent
  NumPy reference, a positional-only one is refused by name, a keyword-only
  one is refused by position, and an omitted default gives the reference
  computed with the signature's default.
"""

import ast
import inspect
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import ATOL, RTOL

import hologram as hg

P = inspect.Parameter
STUB_DIR = Path(hg.__file__).parent


# ---- the stubs -------------------------------------------------------------


def _stub_params(fn):
    """(name, kind, default) for each parameter of a stub FunctionDef."""
    a = fn.args
    out = []
    positional = [(x, P.POSITIONAL_ONLY) for x in a.posonlyargs]
    positional += [(x, P.POSITIONAL_OR_KEYWORD) for x in a.args]
    defaults = [P.empty] * (len(positional) - len(a.defaults))
    defaults += [ast.literal_eval(d) for d in a.defaults]
    for (arg, kind), default in zip(positional, defaults, strict=True):
        out.append((arg.arg, kind, default))
    if a.vararg is not None:
        out.append((a.vararg.arg, P.VAR_POSITIONAL, P.empty))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        value = P.empty if default is None else ast.literal_eval(default)
        out.append((arg.arg, P.KEYWORD_ONLY, value))
    if a.kwarg is not None:
        out.append((a.kwarg.arg, P.VAR_KEYWORD, P.empty))
    return out


def _is_property(fn):
    return any(
        (isinstance(d, ast.Name) and d.id == "property") or isinstance(d, ast.Attribute)
        for d in fn.decorator_list
    )


def _stub(filename):
    """Module-level functions and, per class, methods and properties."""
    tree = ast.parse((STUB_DIR / filename).read_text())
    functions, methods, properties = {}, {}, {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            functions[node.name] = _stub_params(node)
        elif isinstance(node, ast.ClassDef):
            methods[node.name], properties[node.name] = {}, set()
            for item in node.body:
                if not isinstance(item, ast.FunctionDef):
                    continue
                if _is_property(item):
                    properties[node.name].add(item.name)
                else:
                    methods[node.name][item.name] = _stub_params(item)[1:]  # no self
    return functions, methods, properties


OPS_STUB, _, _ = _stub("ops.pyi")
PKG_FUNCTIONS, PKG_METHODS, PKG_PROPERTIES = _stub("__init__.pyi")
CLASSES = {"Executor": hg.Executor, "Buffer": hg.Buffer, "Kernel": hg.Kernel}


def _params(sig):
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


# ---- signatures against the stubs ------------------------------------------


def test_stub_lists_every_op():
    assert list(OPS_STUB) == list(hg.ops.__all__)


@pytest.mark.parametrize("name", hg.ops.__all__)
def test_op_signature_matches_stub(name):
    assert _params(inspect.signature(getattr(hg.ops, name))) == OPS_STUB[name]


def test_cpu_info_signature_matches_stub():
    assert _params(inspect.signature(hg.cpu_info)) == PKG_FUNCTIONS["cpu_info"] == []


@pytest.mark.parametrize("cls", CLASSES)
def test_stub_lists_every_public_attribute(cls):
    public = {n for n in dir(CLASSES[cls]) if not n.startswith("_")}
    stubbed = {n for n in PKG_METHODS[cls] if not n.startswith("_")}
    assert public == stubbed | PKG_PROPERTIES[cls]


METHODS = [
    (cls, name)
    for cls in CLASSES
    for name in PKG_METHODS[cls]
    if not name.startswith("_") or name == "__init__"
]


@pytest.mark.parametrize(("cls", "name"), METHODS)
def test_method_signature_matches_stub(cls, name):
    if name == "__init__":
        sig = inspect.signature(CLASSES[cls])
        params = _params(sig)
    else:
        sig = inspect.signature(getattr(CLASSES[cls], name))
        params = _params(sig)
        assert params[0] == ("self", P.POSITIONAL_ONLY, P.empty)
        params = params[1:]
    assert params == PKG_METHODS[cls][name]


def test_buffer_has_no_constructor():
    assert "__init__" not in PKG_METHODS["Buffer"]
    with pytest.raises(TypeError):
        hg.Buffer()


# ---- the ops accept what their signatures say -------------------------------

RNG = np.random.default_rng(20261201)
X = RNG.standard_normal(16).astype(np.float32)
Y = RNG.standard_normal(16).astype(np.float32)
POS = (np.abs(X) + np.float32(0.5)).astype(np.float32)
# Small integers: sums, means over a power of two, and gemm are exact.
INT2D = RNG.integers(-8, 9, size=(2, 8)).astype(np.float32)
GA = RNG.integers(-4, 5, size=(3, 4)).astype(np.float32)
GB = RNG.integers(-4, 5, size=(4, 5)).astype(np.float32)
LOGITS = RNG.standard_normal((5, 3)).astype(np.float32)
TARGET = np.array([0, 2, -100, 1, 2], dtype=np.int64)
PROB = RNG.uniform(0.05, 0.95, 16).astype(np.float32)
LABEL = RNG.uniform(0.0, 1.0, 16).astype(np.float32)


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _reduce(fn):
    return lambda a, axis, keepdims: fn(_f64(a), axis=axis, keepdims=keepdims)


def _softmax(a):
    e = np.exp(_f64(a) - _f64(a).max())
    return e / e.sum()


def _gemm(a, b, m, n, k, trans_a=False, trans_b=False):
    am = _f64(a).reshape(k, m).T if trans_a else _f64(a).reshape(m, k)
    bm = _f64(b).reshape(n, k).T if trans_b else _f64(b).reshape(k, n)
    return am @ bm


def _cross_entropy(logits, target, ignore_index):
    z = _f64(logits)
    lse = np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)) + z.max(axis=1)
    keep = target != ignore_index
    return np.mean(lse[keep] - z[keep, target[keep]])


def _gelu(a, approximate):
    x = _f64(a)
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _softplus(a, beta, threshold):
    x = _f64(a)
    return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


def _bce(p, t):
    p, t = _f64(p), _f64(t)
    return -np.mean(t * np.log(p) + (1 - t) * np.log1p(-p))


def _clip(a, min, max):  # noqa: A002 - the op's parameter names
    lo = -np.inf if min is None else min
    hi = np.inf if max is None else max
    return np.minimum(np.maximum(a, np.float32(lo)), np.float32(hi))


def _layer_norm(x, weight, bias, eps):
    x = _f64(x)
    d = x - x.mean(axis=-1, keepdims=True)
    y = d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + eps)
    y = y if weight is None else y * _f64(weight)
    return y if bias is None else y + _f64(bias)


# op name, its arguments by parameter name (the values the test passes), the
# reference as a function of those arguments, and whether it is exact.
CASES = [
    ("vector_add", {"a": X, "b": Y}, lambda a, b: a + b, True),
    ("vector_sub", {"a": X, "b": Y}, lambda a, b: a - b, True),
    ("vector_mul", {"a": X, "b": Y}, lambda a, b: a * b, True),
    ("vector_div", {"a": X, "b": Y}, lambda a, b: a / b, True),
    ("vector_add", {"a": X.reshape(2, 8), "b": Y[:8]}, lambda a, b: a + b, True),
    ("vector_mul", {"a": X.reshape(8, 2), "b": Y[:8, None]}, lambda a, b: a * b, True),
    ("maximum", {"a": X, "b": Y}, lambda a, b: np.maximum(a, b), True),
    ("where", {"cond": X > 0, "a": X, "b": Y[:1]}, lambda cond, a, b: np.where(cond, a, b), True),
    ("minimum", {"a": X.reshape(4, 4), "b": 0.25}, lambda a, b: np.minimum(a, np.float32(b)), True),
    ("neg", {"a": X}, lambda a: -a, True),
    ("abs", {"a": X}, lambda a: np.abs(a), True),
    ("relu", {"a": X}, lambda a: np.maximum(a, np.float32(0)), True),
    ("sigmoid", {"a": X}, lambda a: 1 / (1 + np.exp(-_f64(a))), False),
    ("tanh", {"a": X}, lambda a: np.tanh(_f64(a)), False),
    ("softmax", {"a": X}, _softmax, False),
    ("exp", {"a": X}, lambda a: np.exp(_f64(a)), False),
    ("log", {"a": POS}, lambda a: np.log(_f64(a)), False),
    ("sqrt", {"a": POS}, lambda a: np.sqrt(a), True),
    ("pow", {"a": POS, "b": Y}, lambda a, b: _f64(a) ** _f64(b), False),
    ("pow", {"a": POS, "b": 3}, lambda a, b: _f64(a) ** b, False),
    ("sum", {"a": INT2D, "axis": -1, "keepdims": False}, _reduce(np.sum), True),
    ("sum", {"a": INT2D, "axis": 0, "keepdims": True}, _reduce(np.sum), True),
    ("max", {"a": INT2D, "axis": -1, "keepdims": True}, _reduce(np.max), True),
    ("max", {"a": INT2D, "axis": 0, "keepdims": False}, _reduce(np.max), True),
    ("min", {"a": INT2D, "axis": -1, "keepdims": False}, _reduce(np.min), True),
    ("min", {"a": INT2D, "axis": 0, "keepdims": True}, _reduce(np.min), True),
    ("mean", {"a": INT2D, "axis": -1, "keepdims": False}, _reduce(np.mean), True),
    ("mean", {"a": INT2D, "axis": 0, "keepdims": True}, _reduce(np.mean), True),
    ("argmax", {"a": INT2D, "axis": 0, "keepdims": False}, _reduce(np.argmax), True),
    ("argmax", {"a": INT2D, "axis": None, "keepdims": True}, _reduce(np.argmax), True),
    ("argmin", {"a": INT2D, "axis": 1, "keepdims": True}, _reduce(np.argmin), True),
    ("argmin", {"a": INT2D, "axis": 0, "keepdims": False}, _reduce(np.argmin), True),
    (
        "gemm",
        {"a": GA, "b": GB, "m": 3, "n": 5, "k": 4, "trans_a": False, "trans_b": False},
        _gemm,
        True,
    ),
    (
        "gemm",
        {"a": GA, "b": GB, "m": 3, "n": 5, "k": 4, "trans_a": True, "trans_b": True},
        _gemm,
        True,
    ),
    (
        "mse_loss",
        {"pred": INT2D[0], "target": INT2D[1]},
        lambda pred, target: np.mean((_f64(pred) - target) ** 2),
        True,
    ),
    (
        "cross_entropy",
        {"logits": LOGITS, "target": TARGET, "ignore_index": -100},
        _cross_entropy,
        False,
    ),
    ("gelu", {"a": X, "approximate": "none"}, _gelu, False),
    ("gelu", {"a": X, "approximate": "tanh"}, _gelu, False),
    ("silu", {"a": X}, lambda a: _f64(a) / (1 + np.exp(-_f64(a))), False),
    (
        "leaky_relu",
        {"a": X, "negative_slope": 0.25},
        lambda a, negative_slope: np.where(a > 0, a, a * np.float32(negative_slope)),
        True,
    ),
    ("softplus", {"a": X, "beta": 2.0, "threshold": 1.0}, _softplus, False),
    ("log_softmax", {"a": X}, lambda a: np.log(_softmax(a)), False),
    ("binary_cross_entropy", {"p": PROB, "t": LABEL}, _bce, False),
    ("clip", {"a": X, "min": -0.5, "max": 0.75}, _clip, True),
    (
        "layer_norm",
        {"x": LOGITS, "weight": LOGITS[0] * 2, "bias": LOGITS[1], "eps": 0.5},
        _layer_norm,
        False,
    ),
    ("matmul", {"a": GA, "b": GB}, lambda a, b: _f64(a) @ _f64(b), True),
]
CASE_IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(CASES)]


# kernel_ir and broadcast_ir return text (tests/test_broadcast.py checks it).
NO_CASE = {"kernel_ir", "broadcast_ir"}


def test_every_op_has_a_case():
    assert {c[0] for c in CASES} | NO_CASE == set(hg.ops.__all__)


def _to_hg(ex, value):
    return ex.from_numpy(value) if isinstance(value, np.ndarray) else value


def _check(got, ref, exact, what):
    got = got.to_numpy()
    ref = np.asarray(ref)
    assert got.shape == ref.shape, what
    if exact:
        np.testing.assert_array_equal(got, ref.astype(np.float32), err_msg=what)
    else:
        np.testing.assert_allclose(got, ref, rtol=RTOL, atol=ATOL, err_msg=what)


def _split(sig, values, by_name):
    """Positional and keyword arguments for values, by the signature's kinds:
    by_name passes every parameter that may be named by name."""
    args, kwargs = [], {}
    for p in sig.parameters.values():
        if p.name not in values:
            continue
        named = p.kind == P.KEYWORD_ONLY or (by_name and p.kind == P.POSITIONAL_OR_KEYWORD)
        if named:
            kwargs[p.name] = values[p.name]
        else:
            args.append(values[p.name])
    return args, kwargs


@pytest.mark.parametrize(("name", "inputs", "ref", "exact"), CASES, ids=CASE_IDS)
def test_op_accepts_its_signature(ex, name, inputs, ref, exact):
    fn = getattr(hg.ops, name)
    sig = inspect.signature(fn)
    assert set(inputs) == set(sig.parameters)
    values = {k: _to_hg(ex, v) for k, v in inputs.items()}
    want = ref(**inputs)

    args, kwargs = _split(sig, values, by_name=True)
    by_name = fn(*args, **kwargs)
    _check(by_name, want, exact, f"{name} by name")
    args, kwargs = _split(sig, values, by_name=False)
    by_position = fn(*args, **kwargs)
    _check(by_position, want, exact, f"{name} by position")
    np.testing.assert_array_equal(by_name.to_numpy(), by_position.to_numpy())


def _has_defaults(case):
    params = inspect.signature(getattr(hg.ops, case[0])).parameters.values()
    return any(p.default is not P.empty for p in params)


DEFAULT_CASES = [(i, c) for i, c in zip(CASE_IDS, CASES, strict=True) if _has_defaults(c)]


@pytest.mark.parametrize(
    ("name", "inputs", "ref", "exact"),
    [c for _, c in DEFAULT_CASES],
    ids=[i for i, _ in DEFAULT_CASES],
)
def test_op_defaults_are_the_signatures(ex, name, inputs, ref, exact):
    """Leaving out a defaulted parameter gives the reference computed with the
    default that the signature states."""
    fn = getattr(hg.ops, name)
    sig = inspect.signature(fn)
    defaulted = [p for p in sig.parameters.values() if p.default is not P.empty]
    assert defaulted
    for p in defaulted:
        values = {k: _to_hg(ex, v) for k, v in inputs.items() if k != p.name}
        args, kwargs = _split(sig, values, by_name=True)
        _check(
            fn(*args, **kwargs),
            ref(**{**inputs, p.name: p.default}),
            exact,
            f"{name} without {p.name}",
        )


@pytest.mark.parametrize(("name", "inputs", "ref", "exact"), CASES, ids=CASE_IDS)
def test_op_refuses_what_its_signature_refuses(ex, name, inputs, ref, exact):
    fn = getattr(hg.ops, name)
    sig = inspect.signature(fn)
    values = {k: _to_hg(ex, v) for k, v in inputs.items()}
    args, kwargs = _split(sig, values, by_name=False)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        fn(*args, **kwargs, not_a_parameter=1)
    for p in sig.parameters.values():
        if p.kind == P.KEYWORD_ONLY:
            # every keyword-only value appended to the positional ones
            rest = [values[q.name] for q in sig.parameters.values() if q.kind == P.KEYWORD_ONLY]
            with pytest.raises(TypeError, match="positional argument"):
                fn(*args, *rest)
        if p.kind == P.POSITIONAL_OR_KEYWORD:
            # named twice: by position and by name
            with pytest.raises(TypeError, match="multiple values"):
                fn(*args, **kwargs, **{p.name: values[p.name]})


def test_kernel_ir_by_name():
    sig = inspect.signature(hg.ops.kernel_ir)
    assert list(sig.parameters) == ["name"]
    text = hg.ops.kernel_ir(name="vector_add")
    assert text == hg.ops.kernel_ir("vector_add")
    assert hg.Kernel(text).name == "vector_add"
    assert [p[0] for p in hg.Kernel(text).params] == ["a", "b", "y"]


# ---- the methods accept what their signatures say ---------------------------

ROWMAX = """kernel rowmax(x: f32, y: f32) {
  %0 = load x
  %1 = reduce.max.row %0
  %2 = sub %0, %1
  store y, %2
}
"""


def test_executor_and_kernel_constructors_by_name():
    ex = hg.Executor(threads=1, isa=None, stores="cached")
    assert (ex.threads, ex.stores) == (1, "cached")
    defaults = inspect.signature(hg.Executor).parameters
    plain = hg.Executor()
    assert (plain.threads, plain.stores) == (
        defaults["threads"].default,
        defaults["stores"].default,
    )
    assert plain.isa == hg.Executor(isa=defaults["isa"].default).isa
    assert hg.Kernel(text=ROWMAX).name == "rowmax"


def test_empty_and_zeros_by_name(ex):
    for method in (ex.empty, ex.zeros):
        b = method(shape=(2, 3), dtype="int32")
        assert (b.shape, b.dtype) == ((2, 3), np.dtype(np.int32))
        default = inspect.signature(method).parameters["dtype"].default
        assert method((2, 3)).dtype == np.dtype(default) == np.dtype(np.float32)
    np.testing.assert_array_equal(
        ex.zeros(shape=4, dtype="int64").to_numpy(), np.zeros(4, np.int64)
    )


def test_from_numpy_is_positional_only(ex):
    assert inspect.signature(ex.from_numpy).parameters["arr"].kind == P.POSITIONAL_ONLY
    np.testing.assert_array_equal(ex.from_numpy(X).to_numpy(), X)
    with pytest.raises(TypeError):
        ex.from_numpy(arr=X)


def test_launch_by_its_signature(ex):
    params = inspect.signature(ex.launch).parameters
    assert params["kernel"].kind == P.POSITIONAL_ONLY
    assert (params["rows"].default, params["cols"].default) == (1, None)
    k = hg.Kernel(ROWMAX)
    x = ex.from_numpy(INT2D.ravel())
    y = ex.empty(INT2D.size)
    ex.launch(k, x, y, rows=2, cols=8)
    want = INT2D - INT2D.max(axis=1, keepdims=True)
    np.testing.assert_array_equal(y.to_numpy(), want.ravel())
    ex.launch(k, x, y)  # the defaults: one row, its length inferred
    np.testing.assert_array_equal(y.to_numpy(), INT2D.ravel() - INT2D.max())
    with pytest.raises(TypeError, match="missing required argument 'kernel'"):
        ex.launch(kernel=k)


@pytest.mark.parametrize(
    ("cls", "name"),
    [(c, n) for c, n in METHODS if n != "__init__" and not PKG_METHODS[c][n]],
)
def test_methods_without_parameters_refuse_one(ex, cls, name):
    obj = ex if cls == "Executor" else ex.from_numpy(X[:1])
    getattr(obj, name)()
    with pytest.raises(TypeError):
        getattr(obj, name)(1)


# ---- the exchange protocols (dunder methods the stub lists) ----------------

EXCHANGE = [("Buffer", "__array__"), ("Buffer", "__dlpack__"), ("Buffer", "__dlpack_device__")]

# the operators of Buffer (tests/test_operators.py checks what they compute)
OPERATORS = [
    ("Buffer", n)
    for n in PKG_METHODS["Buffer"]
    if n.startswith("__") and n not in {"__len__", "__buffer__"} | {e for _, e in EXCHANGE}
]


def test_stub_lists_every_operator():
    names = {n for _, n in OPERATORS}
    for op in ("add", "sub", "mul", "truediv", "pow"):
        assert {f"__{op}__", f"__r{op}__"} <= names
    assert {"__iadd__", "__isub__", "__imul__", "__itruediv__", "__neg__", "__abs__"} <= names
    assert {"__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "__hash__"} <= names
    assert {"__matmul__", "__rmatmul__"} <= names


@pytest.mark.parametrize(("cls", "name"), OPERATORS)
def test_operator_signature_matches_stub(cls, name):
    test_method_signature_matches_stub(cls, name)


@pytest.mark.parametrize(("cls", "name"), EXCHANGE)
def test_exchange_method_signature_matches_stub(cls, name):
    test_method_signature_matches_stub(cls, name)


def test_exchange_methods_by_name(ex):
    buf = ex.from_numpy(X)
    assert buf.__array__(dtype=None, copy=False).ctypes.data == np.asarray(buf).ctypes.data
    np.testing.assert_array_equal(buf.__array__(dtype=np.float64, copy=True), X.astype(np.float64))
    cap = buf.__dlpack__(stream=None, max_version=(1, 0), dl_device=(1, 0), copy=None)
    assert '"dltensor_versioned"' in repr(cap)
    defaults = inspect.signature(buf.__dlpack__).parameters
    assert all(p.kind == P.KEYWORD_ONLY and p.default is None for p in defaults.values())
    assert '"dltensor"' in repr(buf.__dlpack__())  # max_version=None: the legacy capsule
    with pytest.raises(TypeError):
        buf.__dlpack__(None)


def test_from_dlpack_is_positional_only(ex):
    assert inspect.signature(ex.from_dlpack).parameters["x"].kind == P.POSITIONAL_ONLY
    np.testing.assert_array_equal(ex.from_dlpack(X).to_numpy(), X)
    with pytest.raises(TypeError):
        ex.from_dlpack(x=X)


# ---- shape, dtype and the @ operator ---------------------------------------


def test_reshape_and_astype_by_their_signatures(ex):
    buf = ex.from_numpy(GA)
    params = inspect.signature(buf.reshape).parameters
    assert [(p.name, p.kind) for p in params.values()] == [("shape", P.VAR_POSITIONAL)]
    np.testing.assert_array_equal(buf.reshape(4, 3).to_numpy(), GA.reshape(4, 3))
    np.testing.assert_array_equal(buf.reshape((2, 6)).to_numpy(), GA.reshape(2, 6))
    with pytest.raises(TypeError):
        buf.reshape(shape=(4, 3))
    params = inspect.signature(buf.astype).parameters
    assert [(p.name, p.kind, p.default) for p in params.values()] == [
        ("dtype", P.POSITIONAL_OR_KEYWORD, P.empty)
    ]
    np.testing.assert_array_equal(buf.astype(dtype="float32").to_numpy(), GA)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        buf.astype("float32", not_a_parameter=1)
    np.testing.assert_array_equal((buf @ ex.from_numpy(GB)).to_numpy(), GA @ GB)
