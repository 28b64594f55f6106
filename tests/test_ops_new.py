"""gelu, silu, leaky_relu, softplus, log_softmax, binary_cross_entropy and clip
against PyTorch (CPU, float32) and a float64 reference, at every ISA level.

Inputs mix normal values with the float32 special values (signed zeros, infs,
NaN, subnormals, extremes), at sizes whose tails fill no register and no
block, and in a multi-dimensional shape.  Elementwise ops that are exact in
float32 (leaky_relu, clip) must match PyTorch bit for bit.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import (
    ATOL,
    FLT_MAX,
    ISA_PARAMS,
    RTOL,
    assert_bitwise,
    assert_f32_close,
    special_values,
    sum_bound,
    t,
)

import hologram as hg

SHAPES = [(0,), (1,), (7,), (17,), (1000,), (1025,), (70001,), (3, 5, 7), (0, 5)]
SHAPE_IDS = ["x".join(map(str, s)) for s in SHAPES]


@pytest.fixture(params=ISA_PARAMS())
def lex(request):
    """A one-thread executor at each ISA level."""
    return hg.Executor(threads=1, isa=request.param)


def _inputs(shape, scale=4.0, seed=0):
    """Normal values times scale, with the special values spread through."""
    rng = np.random.default_rng([seed, *shape])
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    flat = x.reshape(-1)
    sp = special_values()
    if flat.size:
        idx = rng.choice(flat.size, size=min(flat.size, sp.size), replace=False)
        flat[idx] = sp[: idx.size]
    return x


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _erf64(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _erfc64(x):
    return np.vectorize(math.erfc, otypes=[np.float64])(x)


def _gelu64(x):
    """x Phi(x) in float64, through erfc: no cancellation for negative x."""
    x = _f64(x)
    with np.errstate(invalid="ignore"):
        return 0.5 * x * _erfc64(-x / math.sqrt(2.0))


def _torch_gelu(x):
    """torch's exact gelu; above FLT_MAX / 2 (and at +inf) the value of its
    scalar path.  Its vectorised path computes x (1 + erf) before the half,
    which overflows there (and gives NaN at +inf); the scalar path and Atlas
    give x Phi(x), which is x."""
    want = F.gelu(t(x)).numpy().copy()
    big = x > np.float32(FLT_MAX / 2)
    want[big] = [F.gelu(torch.tensor([v])).item() for v in x[big]]
    return want


def _gelu_tanh64(x):
    x = _f64(x)
    with np.errstate(invalid="ignore", over="ignore"):
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1.0 + np.tanh(inner))


def _silu64(x):
    x = _f64(x)
    with np.errstate(invalid="ignore", over="ignore"):
        return x / (1.0 + np.exp(-x))


def _softplus64(x, beta, threshold):
    """PyTorch's branch, decided in float32 as PyTorch decides it."""
    x32 = np.asarray(x, dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        big = (x32 * np.float32(beta)) > np.float32(threshold)
        soft = np.log1p(np.exp(_f64(x) * beta)) / beta
    return np.where(big, _f64(x), soft)


def _run(ex, fn, x, **kw):
    return fn(ex.from_numpy(x), **kw).to_numpy()


# ---- gelu --------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_gelu_exact(lex, shape):
    x = _inputs(shape)
    got = _run(lex, hg.ops.gelu, x)
    want = _torch_gelu(x)
    assert got.shape == x.shape
    # NaN and inf where float32 torch has them (and its finite values within
    # tolerance, but for its own erf's error near |x| = 3.5, up to 1.2x the
    # tolerance from x Phi(x): test_gelu_large_negative_is_as_accurate_as_torch
    # compares the errors), values against torch in float64
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[np.isinf(got)], want[np.isinf(got)])
    with np.errstate(over="ignore"):
        want64 = F.gelu(t(x).double()).numpy().astype(np.float32)
    assert_f32_close(got, _gelu64(x), want64, what="gelu")


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_gelu_tanh(lex, shape):
    x = _inputs(shape)
    got = _run(lex, hg.ops.gelu, x, approximate="tanh")
    want = F.gelu(t(x), approximate="tanh").numpy()
    assert_f32_close(got, _gelu_tanh64(x), want, what="gelu tanh")
    np.testing.assert_array_equal(
        got, hg.ops.gelu(lex.from_numpy(x), "tanh").to_numpy(), err_msg="by position"
    )


def test_gelu_default_is_exact(ex):
    x = _inputs((1025,))
    b = ex.from_numpy(x)
    assert_bitwise(hg.ops.gelu(b).to_numpy(), hg.ops.gelu(b, approximate="none").to_numpy())


def test_gelu_is_as_accurate_as_torch(lex):
    """0.5 x (1 + erf(x / sqrt 2)) cancels for large negative x (PyTorch's
    form and Atlas's): the absolute error stays within ATOL of the float64
    x Phi(x), and no larger than PyTorch's own error plus a few ulps of 1
    scaled by |x| / 2 (erf's error near -1)."""
    x = np.linspace(-12.0, 12.0, 480001, dtype=np.float32)
    got = _run(lex, hg.ops.gelu, x)
    ref = _gelu64(x)
    tor = _torch_gelu(x)
    err = np.abs(_f64(got) - ref)
    terr = np.abs(_f64(tor) - ref)
    assert err.max() <= ATOL, err.max()
    assert np.all(err <= terr + 4 * 2.0**-24 * np.abs(_f64(x))), np.max(err - terr)


@pytest.mark.parametrize("bad", ["exact", "Tanh", "", "none "])
def test_gelu_rejects_unknown_approximate(ex, bad):
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh'"):
        hg.ops.gelu(ex.from_numpy(np.ones(3, np.float32)), approximate=bad)


@pytest.mark.parametrize("bad", [None, 1, b"tanh"])
def test_gelu_rejects_a_non_str_approximate(ex, bad):
    with pytest.raises(TypeError, match=r"gelu: approximate must be a str"):
        hg.ops.gelu(ex.from_numpy(np.ones(3, np.float32)), approximate=bad)


# ---- silu, leaky_relu, softplus ---------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_silu(lex, shape):
    x = _inputs(shape)
    got = _run(lex, hg.ops.silu, x)
    assert_f32_close(got, _silu64(x), F.silu(t(x)).numpy(), what="silu")


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("slope", [None, 0.2, 0.0, -0.5, 1.5])
def test_leaky_relu(lex, shape, slope):
    x = _inputs(shape)
    if slope is None:
        got = _run(lex, hg.ops.leaky_relu, x)
        want = F.leaky_relu(t(x)).numpy()
        s = np.float32(0.01)
    else:
        got = _run(lex, hg.ops.leaky_relu, x, negative_slope=slope)
        want = F.leaky_relu(t(x), negative_slope=slope).numpy()
        s = np.float32(slope)
    assert_bitwise(got, want, "leaky_relu vs torch")
    with np.errstate(invalid="ignore", over="ignore"):
        assert_bitwise(got, np.where(x > 0, x, x * s), "leaky_relu vs numpy")


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize(
    ("beta", "threshold"),
    [(None, None), (2.0, 20.0), (0.5, 5.0), (1.0, 0.0), (3.0, -1.0), (-1.0, 20.0)],
)
def test_softplus(lex, shape, beta, threshold):
    x = _inputs(shape)
    kw = {}
    if beta is not None:
        kw = {"beta": beta, "threshold": threshold}
    got = _run(lex, hg.ops.softplus, x, **kw)
    want = F.softplus(t(x), **kw).numpy()
    ref = _softplus64(x, kw.get("beta", 1.0), kw.get("threshold", 20.0))
    assert_f32_close(got, ref, want, what=f"softplus {kw}")


def test_softplus_threshold_edge(lex):
    """beta x == threshold takes the log1p branch, beta x just above it the
    identity, as in PyTorch."""
    above = np.nextafter(np.float32(1.0), np.float32(2.0))
    x = np.array([1.0, above, 0.5, 0.5 + 2**-23], np.float32)
    got = _run(lex, hg.ops.softplus, x, threshold=1.0)
    assert abs(got[0] - math.log1p(math.e)) <= RTOL * math.log1p(math.e) and got[1] == above
    got2 = _run(lex, hg.ops.softplus, x, beta=2.0, threshold=1.0)
    assert got2[3] == x[3] and abs(got2[2] - math.log1p(math.e) / 2) <= RTOL
    for g, kw in ((got, {"threshold": 1.0}), (got2, {"beta": 2.0, "threshold": 1.0})):
        want = F.softplus(t(x), **kw).numpy()
        ref = _softplus64(x, kw.get("beta", 1.0), kw["threshold"])
        assert_f32_close(g, ref, want, what=f"softplus edge {kw}")


# ---- log_softmax -----------------------------------------------------------

ROW_SHAPES = [
    (0,),
    (1,),
    (7,),
    (17,),
    (1000,),
    (1025,),
    (70001,),
    (0, 5),
    (5, 0),
    (3, 17),
    (4, 1000),
    (2, 3, 1025),
]


def _log_softmax64(x):
    x = _f64(x)
    if x.size == 0:
        return x
    with np.errstate(invalid="ignore", over="ignore"):
        m = x.max(axis=-1, keepdims=True)
        return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("shape", ROW_SHAPES, ids=["x".join(map(str, s)) for s in ROW_SHAPES])
def test_log_softmax(lex, shape):
    x = (np.random.default_rng([7, *shape]).standard_normal(shape) * 3).astype(np.float32)
    got = _run(lex, hg.ops.log_softmax, x)
    want = torch.log_softmax(t(x), dim=-1).numpy()
    assert got.shape == x.shape
    assert_f32_close(got, _log_softmax64(x), want, what="log_softmax")


def test_log_softmax_special_rows(lex):
    """Rows with NaN, +inf, -inf, all -inf, signed zeros and huge values:
    NaN and inf where PyTorch has them."""
    rows = np.array(
        [
            [1.0, np.nan, 2.0, 3.0],
            [1.0, np.inf, 2.0, 3.0],
            [1.0, -np.inf, 2.0, 3.0],
            [-np.inf, -np.inf, -np.inf, -np.inf],
            [0.0, -0.0, 0.0, -0.0],
            [1e38, -1e38, 3e38, 0.0],
            [-80.0, -90.0, -100.0, -110.0],
        ],
        dtype=np.float32,
    )
    x = np.tile(rows, (1, 9))  # 36 columns: a vector tail at every width
    got = _run(lex, hg.ops.log_softmax, x)
    want = torch.log_softmax(t(x), dim=-1).numpy()
    assert_f32_close(got, _log_softmax64(x), want, what="log_softmax special rows")


# ---- binary_cross_entropy --------------------------------------------------


def _bce64(p, tt):
    p, tt = _f64(p), _f64(tt)
    with np.errstate(divide="ignore"):
        lp = np.maximum(np.log(p), -100.0)
        lq = np.maximum(np.log1p(-p), -100.0)
    terms = (tt - 1.0) * lq - tt * lp
    return terms, (terms.mean() if terms.size else np.nan)


BCE_SHAPES = [(1,), (7,), (17,), (1000,), (1025,), (70001,), (3, 5, 7)]


@pytest.mark.parametrize("shape", BCE_SHAPES, ids=["x".join(map(str, s)) for s in BCE_SHAPES])
def test_binary_cross_entropy(lex, shape):
    rng = np.random.default_rng([11, *shape])
    p = rng.uniform(0.0, 1.0, shape).astype(np.float32)
    tt = rng.uniform(0.0, 1.0, shape).astype(np.float32)
    fp, ft = p.reshape(-1), tt.reshape(-1)
    # the clamp at -100: p of 0 and 1 against targets 0, 1 and between
    edge = np.array([0.0, 1.0, 0.0, 1.0, 1e-45, 1.0 - 2**-24, 0.5], np.float32)
    k = min(fp.size, edge.size)
    fp[:k] = edge[:k]
    ft[:k] = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0], np.float32)[:k]
    got = hg.ops.binary_cross_entropy(lex.from_numpy(p), lex.from_numpy(tt)).to_numpy()
    assert got.shape == () and got.dtype == np.float32
    want = F.binary_cross_entropy(t(p), t(tt)).numpy()
    terms, ref = _bce64(p, tt)
    # a mean: the summation bound of its terms, over n
    tol = RTOL * abs(ref) + ATOL + sum_bound(terms, ref * terms.size) / terms.size
    assert abs(float(got) - ref) <= tol, (float(got), ref, tol)
    assert abs(float(got) - float(want)) <= tol, (float(got), float(want), tol)


@pytest.mark.parametrize("shape", [(0,), (0, 5)], ids=["0", "0x5"])
def test_binary_cross_entropy_empty_is_nan(lex, shape):
    e = np.zeros(shape, np.float32)
    got = hg.ops.binary_cross_entropy(lex.from_numpy(e), lex.from_numpy(e)).to_numpy()
    assert got.shape == () and np.isnan(got)
    assert torch.isnan(F.binary_cross_entropy(t(e), t(e)))


@pytest.mark.parametrize("which", ["p", "t"])
@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan, np.inf, -np.inf, -1e-45, 1.0000001])
def test_binary_cross_entropy_refuses_values_outside_0_1(ex, which, bad):
    """PyTorch raises RuntimeError for any p or t outside [0, 1] (NaN
    included); Atlas raises ValueError naming the op and both shapes."""
    p = np.full(1025, 0.5, np.float32)
    tt = np.full(1025, 0.25, np.float32)
    (p if which == "p" else tt)[1000] = np.float32(bad)
    with pytest.raises(RuntimeError):
        F.binary_cross_entropy(t(p), t(tt))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: .*between 0 and 1.*\(1025,\)"):
        hg.ops.binary_cross_entropy(ex.from_numpy(p), ex.from_numpy(tt))


def test_binary_cross_entropy_accepts_the_bounds_and_minus_zero(ex):
    p = np.array([0.0, -0.0, 1.0, 0.5], np.float32)
    tt = np.array([-0.0, 0.0, 1.0, 1.0], np.float32)
    got = hg.ops.binary_cross_entropy(ex.from_numpy(p), ex.from_numpy(tt)).to_numpy()
    want = F.binary_cross_entropy(t(p), t(tt)).numpy()
    assert abs(float(got) - float(want)) <= RTOL * abs(float(want)) + ATOL


def test_binary_cross_entropy_shape_mismatch_names_both(ex):
    a = ex.from_numpy(np.full((3, 4), 0.5, np.float32))
    b = ex.from_numpy(np.full((4, 3), 0.5, np.float32))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: shapes \(3, 4\) and \(4, 3\)"):
        hg.ops.binary_cross_entropy(a, b)


# ---- clip -----------------------------------------------------------------

CLIP_BOUNDS = [
    {"min": -1.0, "max": 2.0},
    {"min": 0.5},
    {"max": -0.5},
    {"min": 2.0, "max": -1.0},  # min > max: max everywhere
    {"min": 3, "max": 3},
    {"min": -np.inf, "max": np.inf},
    {"min": float("nan")},
    {"min": None, "max": 1.0},
    {"min": -1.0, "max": None},
]


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("bounds", CLIP_BOUNDS, ids=[str(b) for b in CLIP_BOUNDS])
def test_clip(lex, shape, bounds):
    x = _inputs(shape)
    got = _run(lex, hg.ops.clip, x, **bounds)
    want = torch.clamp(t(x), **bounds).numpy()
    assert_bitwise(got, want, f"clip {bounds} vs torch")
    lo, hi = bounds.get("min"), bounds.get("max")
    ref = x
    with np.errstate(invalid="ignore"):
        if lo is not None:
            ref = np.maximum(ref, np.float32(lo))
        if hi is not None:
            ref = np.minimum(ref, np.float32(hi))
    assert_bitwise(got, ref, f"clip {bounds} vs numpy")


def test_clip_positional(ex):
    x = _inputs((17,))
    got = hg.ops.clip(ex.from_numpy(x), -1.0, 1.0).to_numpy()
    assert_bitwise(got, torch.clamp(t(x), -1.0, 1.0).numpy())


def test_clip_without_bounds_is_an_error(ex):
    b = ex.from_numpy(np.ones(3, np.float32))
    with pytest.raises(RuntimeError):
        torch.clamp(torch.ones(3))
    for kw in ({}, {"min": None}, {"max": None}, {"min": None, "max": None}):
        with pytest.raises(ValueError, match="clip: at least one of 'min' or 'max'"):
            hg.ops.clip(b, **kw)


@pytest.mark.parametrize("bad", ["1", [1.0], object()])
def test_clip_refuses_a_non_number_bound(ex, bad):
    b = ex.from_numpy(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="clip: 'min' must be a Python float or int or None"):
        hg.ops.clip(b, min=bad)
    with pytest.raises(TypeError, match="clip: 'max' must be a Python float or int or None"):
        hg.ops.clip(b, max=bad)


def test_a_python_int_beyond_float_range_is_an_overflow_error_naming_the_op(ex):
    b = ex.from_numpy(np.ones(3, np.float32))
    with pytest.raises(OverflowError, match="clip: 'max' is too large for float32"):
        hg.ops.clip(b, max=10**400)
    with pytest.raises(OverflowError, match="softplus: 'beta' is too large for float32"):
        hg.ops.softplus(b, beta=-(10**400))


@pytest.mark.parametrize(
    ("name", "kw"),
    [("leaky_relu", "negative_slope"), ("softplus", "beta"), ("softplus", "threshold")],
)
def test_scalar_parameters_refuse_non_numbers(ex, name, kw):
    b = ex.from_numpy(np.ones(3, np.float32))
    with pytest.raises(TypeError, match=f"{name}: '{kw}' must be a Python float or int, got str"):
        getattr(hg.ops, name)(b, **{kw: "1"})
    with pytest.raises(
        TypeError, match=f"{name}: '{kw}' must be a Python float or int, got NoneType"
    ):
        getattr(hg.ops, name)(b, **{kw: None})


# ---- dtypes ------------------------------------------------------------------

UNARY = [
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("leaky_relu", {}),
    ("softplus", {}),
    ("log_softmax", {}),
    ("clip", {"min": 0.0}),
]


@pytest.mark.parametrize(("name", "kw"), UNARY, ids=[f"{n}{k}" for n, k in UNARY])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_non_float_inputs_are_type_errors(ex, name, kw, dtype):
    b = ex.from_numpy(np.ones((2, 3), dtype=dtype))
    dt = np.dtype(dtype).name
    with pytest.raises(
        TypeError, match=rf"{name}\w*: input must be float32, got {dt} with shape \(2, 3\)"
    ):
        getattr(hg.ops, name)(b, **kw)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_binary_cross_entropy_non_float_is_a_type_error(ex, dtype):
    f = ex.from_numpy(np.full((2, 3), 0.5, np.float32))
    i = ex.from_numpy(np.ones((2, 3), dtype=dtype))
    dt = np.dtype(dtype).name
    with pytest.raises(
        TypeError, match=rf"binary_cross_entropy: p must be float32, got {dt} with shape \(2, 3\)"
    ):
        hg.ops.binary_cross_entropy(i, f)
    with pytest.raises(
        TypeError, match=rf"binary_cross_entropy: t must be float32, got {dt} with shape \(2, 3\)"
    ):
        hg.ops.binary_cross_entropy(f, i)


@pytest.mark.parametrize(("name", "kw"), UNARY, ids=[f"{n}{k}" for n, k in UNARY])
def test_results_are_new_float32_buffers_of_the_input_shape(ex, name, kw):
    x = _inputs((4, 6))
    b = ex.from_numpy(x)
    r = getattr(hg.ops, name)(b, **kw)
    assert r.shape == (4, 6) and r.dtype == np.float32
    np.testing.assert_array_equal(b.to_numpy(), x)  # the input is untouched


def test_kernel_ir_of_the_new_ops():
    names = {n for n, _ in UNARY} | {"gelu_tanh", "binary_cross_entropy"}
    for name in sorted(names):
        assert hg.Kernel(hg.ops.kernel_ir(name)).name == name
