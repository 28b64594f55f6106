"""The lowering's one-pass gelu tanh form (fuse_gelu_tanh in src/core/lower.c)
against the nine vector instructions it replaces, in both rounding orders of
K x^3: the stdlib's ((x x) x) K and Python's ((K x) x) x.  Bit-identical at
every ISA level, for any size (groups, single vectors, tails), the special
values and values where tanh saturates, with cached and streamed stores; the
jitted Python form equals its eager op-by-op run, and both forms stay within
the tolerance of float64 gelu."""

import numpy as np
import pytest
from conftest import ISA_PARAMS, assert_bitwise, special_values

import hologram as hg

STDLIB = hg.ops.kernel_ir("gelu_tanh")


def _keep_h(ir, h):
    """The kernel with its half product h also stored: a second use of h
    keeps the nine instructions apart, so the kernel runs unfused."""
    ir = ir.replace("(x: f32, y: f32)", "(x: f32, y: f32, hh: f32)")
    return ir.replace("  store y,", f"  store hh, {h}\n  store y,")


# Python's `0.5 * x * (1.0 + tanh(B * (x + K * x * x * x)))`, as the tracer
# emits it
PYTHON_ORDER = """kernel gelu_tanh_k(x: f32, y: f32) {
  %0 = const.f32 0.5
  %1 = load x
  %2 = mul %0, %1
  %3 = const.f32 0.0447149985
  %4 = mul %3, %1
  %5 = mul %4, %1
  %6 = mul %5, %1
  %7 = add %1, %6
  %8 = const.f32 0.797884583
  %9 = mul %8, %7
  %10 = tanh %9
  %11 = const.f32 1
  %12 = add %11, %10
  %13 = mul %2, %12
  store y, %13
}
"""

FORMS = {
    "stdlib": (STDLIB, _keep_h(STDLIB, "%12")),
    "python": (PYTHON_ORDER, _keep_h(PYTHON_ORDER, "%2")),
}

SIZES = [0, 1, 15, 17, 63, 65, 127, 129, 1000, 1025, 70001]


def _inputs(n, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    # where B (x + K x^3) crosses tanh's clamp (|2u| = 20) and where x^3
    # overflows
    edges = np.float32([3.9, 4.0, 4.1, 9.0, 1e13, 3e13, 7e12, 1e38])
    sp = np.concatenate([special_values(), edges, -edges])
    if n:
        idx = rng.choice(n, size=min(n, sp.size), replace=False)
        x[idx] = sp[: idx.size]
    return x


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
@pytest.mark.parametrize("n", SIZES)
def test_fused_gelu_tanh_is_bitwise_the_unfused_program(form, level, stores, n):
    fused_ir, unfused_ir = FORMS[form]
    ex = hg.Executor(threads=1, isa=level, stores=stores)
    x = _inputs(n, seed=n)
    xb = ex.from_numpy(x)
    y, hh, want = ex.empty((n,)), ex.empty((n,)), ex.empty((n,))
    ex.launch(hg.Kernel(unfused_ir), xb, want, hh)
    assert_bitwise(hh.to_numpy(), x * np.float32(0.5), what="x / 2")
    ex.launch(hg.Kernel(fused_ir), xb, y)
    assert_bitwise(y.to_numpy(), want.to_numpy(), what=f"{form} n={n} {level}")
    if form == "stdlib":
        assert_bitwise(hg.ops.gelu(xb, approximate="tanh").to_numpy(), want.to_numpy())


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + hg.ops.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("shape", [(1,), (33,), (4, 1000), (70001,)])
def test_jitted_gelu_tanh_equals_its_eager_run(level, shape):
    ex = hg.Executor(threads=2, isa=level)
    x = _inputs(int(np.prod(shape)), seed=7).reshape(shape)
    xb = ex.from_numpy(x)
    f = hg.jit(_gelu_tanh)
    assert "tanh" in f.ir(xb)
    assert_bitwise(f(xb).to_numpy(), _gelu_tanh(xb).to_numpy(), what=f"jit {shape}")


@pytest.mark.parametrize("form", sorted(FORMS))
def test_fused_gelu_tanh_is_within_tolerance_of_float64(form):
    ex = hg.Executor(threads=1)
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(100_003) * 4).astype(np.float32)
    y = ex.empty(x.shape)
    ex.launch(hg.Kernel(FORMS[form][0]), ex.from_numpy(x), y)
    d = x.astype(np.float64)
    want = 0.5 * d * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (d + 0.044715 * d**3)))
    np.testing.assert_allclose(y.to_numpy(), want, rtol=1e-5, atol=1e-6)
