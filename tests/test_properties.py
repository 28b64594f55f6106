"""Property tests (hypothesis): arbitrary float32 arrays of 0..70_000 elements
with +-0, +-inf, NaN, subnormals and huge magnitudes, compared to PyTorch and
float64 NumPy.  derandomize=True: the same examples on every run (CI)."""

import numpy as np
import torch
from conftest import (
    assert_bitwise,
    assert_equal_values,
    assert_f32_close,
    assert_sqrt,
    sum_bound,
    t,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hologram as hg

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

EX = hg.Executor(threads=1)

SPECIALS = [
    0.0,
    -0.0,
    np.inf,
    -np.inf,
    np.nan,
    1e-40,
    -1e-40,
    1.4e-45,
    1e38,
    -1e38,
    3.4028235e38,
    -3.4028235e38,
    88.72,
    -103.97,
]
f32 = st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True)
elems = st.one_of(f32, st.sampled_from(SPECIALS).map(np.float32))


@st.composite
def arrays(draw, max_size=70_000, finite_bound=None):
    """Either a hypothesis-built array (element-level shrinking, most values
    drawn individually for small sizes) or a large array from a seeded RNG with
    injected special values (cheap at 70k elements)."""
    if draw(st.booleans()):
        n = draw(st.integers(0, 2048))
        el = (
            elems
            if finite_bound is None
            else st.floats(-finite_bound, finite_bound, width=32, allow_subnormal=True)
        )
        return draw(hnp.arrays(np.float32, n, elements=el))
    n = draw(st.integers(0, max_size))
    seed = draw(st.integers(0, 2**32 - 1))
    r = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1e-40, 1e-3, 1.0, 100.0, 1e30, 1e38]))
    x64 = r.standard_normal(n) * scale
    if finite_bound is not None:
        return np.clip(x64, -finite_bound, finite_bound).astype(np.float32)
    with np.errstate(over="ignore"):
        x = x64.astype(np.float32)  # 1e38 * N(0,1) may round to +-inf: fine
    nspec = draw(st.integers(0, 16))
    if n and nspec:
        pos = r.integers(0, n, nspec)
        x[pos] = r.choice(np.array(SPECIALS, np.float32), nspec)
    return x


def pair(x, seed):
    """A second operand of the same length with its own specials."""
    r = np.random.default_rng(seed)
    y = x[r.permutation(x.size)] if x.size else x.copy()
    if x.size:
        k = min(8, x.size)
        y[r.integers(0, x.size, k)] = r.choice(np.array(SPECIALS, np.float32), k)
    return y


BIN = {
    "vector_add": torch.add,
    "vector_sub": torch.sub,
    "vector_mul": torch.mul,
    "vector_div": torch.div,
}


@SETTINGS
@given(x=arrays(), seed=st.integers(0, 2**31), op=st.sampled_from(list(BIN)))
def test_binary_exact_vs_torch(x, seed, op):
    y = pair(x, seed)
    got = getattr(hg.ops, op)(EX.from_numpy(x), EX.from_numpy(y)).to_numpy()
    assert_bitwise(got, BIN[op](t(x), t(y)).numpy(), op)


UN_EXACT = {"neg": torch.neg, "abs": torch.abs, "sqrt": None}


@SETTINGS
@given(x=arrays(), op=st.sampled_from(list(UN_EXACT)))
def test_unary_exact_vs_torch(x, op):
    got = getattr(hg.ops, op)(EX.from_numpy(x)).to_numpy()
    if op == "sqrt":
        assert_sqrt(got, x)  # bitwise vs IEEE; torch's sqrt is 1 ulp off here
    else:
        assert_bitwise(got, UN_EXACT[op](t(x)).numpy(), op)


@SETTINGS
@given(x=arrays())
def test_relu_vs_torch(x):
    got = hg.ops.relu(EX.from_numpy(x)).to_numpy()
    assert_equal_values(got, torch.relu(t(x)).numpy(), "relu")


UN_APPROX = {
    "exp": (np.exp, torch.exp),
    "log": (np.log, torch.log),
    "tanh": (np.tanh, torch.tanh),
    "sigmoid": (lambda v: 1.0 / (1.0 + np.exp(-v)), torch.sigmoid),
}


@SETTINGS
@given(x=arrays(), op=st.sampled_from(list(UN_APPROX)))
def test_unary_approx_vs_torch_and_f64(x, op):
    got = getattr(hg.ops, op)(EX.from_numpy(x)).to_numpy()
    with np.errstate(all="ignore"):
        ref = UN_APPROX[op][0](x.astype(np.float64))
    assert_f32_close(got, ref, UN_APPROX[op][1](t(x)).numpy(), what=op)


@SETTINGS
@given(x=arrays(), op=st.sampled_from(["max", "min"]))
def test_max_min_vs_torch(x, op):
    b = EX.from_numpy(x)
    if x.size == 0:
        try:
            getattr(hg.ops, op)(b)
        except ValueError:
            return
        raise AssertionError(f"{op} of empty did not raise ValueError")
    got = getattr(hg.ops, op)(b).item()
    want = float(getattr(torch, op)(t(x)))
    if np.any(np.isnan(x)):
        assert np.isnan(got)
    else:
        assert got == want == float(getattr(np, op)(x))


@SETTINGS
@given(x=arrays(finite_bound=float(np.float32(1e30))))
def test_sum_within_bound(x):
    # |x| <= 1e30 and n <= 70_000: no partial sum can overflow, so the
    # any-order float32 summation bound applies (conftest.sum_bound)
    got = hg.ops.sum(EX.from_numpy(x)).item()
    ref = float(np.sum(x.astype(np.float64)))
    assert abs(got - ref) <= sum_bound(x, ref), (got, ref, x.size)


@SETTINGS
@given(x=arrays())
def test_sum_nan_inf_semantics(x):
    got = hg.ops.sum(EX.from_numpy(x)).item()
    fin = x[np.isfinite(x)].astype(np.float64)
    # a finite partial sum can overflow (to an inf of either sign) only if
    # sum|finite| reaches FLT_MAX: then the result is order-dependent
    if np.sum(np.abs(fin)) >= 3.4028234663852886e38 * (1 - 2**-24):
        return
    has_nan = np.any(np.isnan(x))
    pinf, ninf = np.any(x == np.inf), np.any(x == -np.inf)
    if has_nan or (pinf and ninf):
        assert np.isnan(got)
    elif pinf:
        assert got == np.inf
    elif ninf:
        assert got == -np.inf
