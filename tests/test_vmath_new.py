"""The IR's erf, log1p and expm1 (src/kernels/vmath.c), launched through
hg.Kernel + Executor.launch at every ISA level: odd sizes and tails, special
values, subnormals, random values over wide ranges and a sweep of the float32
bit space, against PyTorch and a float64 reference; streamed stores give the
same bits as cached ones; the row-level (scalar) form agrees too."""

import math

import numpy as np
import pytest
import torch
from conftest import (
    ISA_PARAMS,
    assert_f32_close,
    f32_bits_sample,
    special_values,
    t,
)

import hologram as hg

OPS = ["erf", "log1p", "expm1"]
TORCH = {"erf": torch.erf, "log1p": torch.log1p, "expm1": torch.expm1}
_erf64 = np.frompyfunc(math.erf, 1, 1)
REF64 = {
    "erf": lambda x: _erf64(x).astype(np.float64),
    "log1p": np.log1p,
    "expm1": np.expm1,
}
# The kernels' budget in float32 ULPs of the float64 reference (bench/vmath_ulp.c
# measures the maximum over the whole float range; docs/performance.md lists it).
ULP_BUDGET = 3.0
SIZES = [0, 1, 7, 15, 17, 1000, 1025, 70001]


def elem_kernel(op):
    return hg.Kernel(
        f"kernel f(x: f32, y: f32) {{\n  %x = load x\n  %r = {op} %x\n  store y, %r\n}}\n"
    )


def launch(ex, op, x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = ex.empty(x.shape)
    ex.launch(elem_kernel(op), ex.from_numpy(x), y)
    return y.to_numpy()


def ref64(op, x):
    with np.errstate(all="ignore"):
        return REF64[op](np.asarray(x, dtype=np.float64))


def ulp_of(r):
    """The float32 ULP at each float64 value r (2^-149 in the subnormal range)."""
    r = np.abs(r)
    tiny = float(np.finfo(np.float32).tiny)
    _, e = np.frexp(np.maximum(r, tiny))
    return np.ldexp(1.0, e - 24)


def assert_ulp(got, want64, what):
    """Finite results within ULP_BUDGET float32 ULPs of the float64 reference."""
    got = np.asarray(got, dtype=np.float64)
    fin = np.isfinite(want64) & (np.abs(want64) <= float(np.finfo(np.float32).max))
    err = np.abs(got[fin] - want64[fin]) / ulp_of(want64[fin])
    if err.size and err.max() > ULP_BUDGET:
        i = np.flatnonzero(fin)[np.argmax(err)]
        raise AssertionError(
            f"{what}: {err.max():.2f} ULP at flat index {i}: got {got[i]!r} want {want64[i]!r}"
        )


def check(got, op, x, what):
    """PyTorch's NaN/inf semantics, signed zeros, rtol/atol against PyTorch and
    float64, and the ULP budget against float64."""
    x = np.asarray(x, dtype=np.float32)
    want = ref64(op, x)
    tw = TORCH[op](t(x)).numpy()
    assert_f32_close(got, want, tw, what=what)
    # exact zeros keep their sign (torch's float32 log1p returns 0 for +-2^-149, whose
    # log1p is +-2^-149: the float64 reference decides)
    zero = want == 0
    assert np.array_equal(np.signbit(got[zero]), np.signbit(x[zero])), f"{what}: sign of zero"
    assert_ulp(got, want, what)


def wide_values(op, n, seed):
    """n random inputs spread over the op's interesting range (and beyond)."""
    r = np.random.default_rng(seed)
    k = r.integers(0, 4, n)
    if op == "erf":
        parts = [
            r.uniform(-6, 6, n),
            r.standard_normal(n),
            r.uniform(-1, 1, n) * 1e-3,
            r.uniform(0.8, 0.95, n),
        ]
    elif op == "log1p":
        parts = [
            r.uniform(-1, 1, n),
            np.exp(r.uniform(-40, 80, n)),
            r.uniform(-1, 1, n) * 1e-4,
            -1 + np.exp(r.uniform(-16, -1, n)),
        ]
    else:
        parts = [
            r.uniform(-25, 90, n),
            r.standard_normal(n),
            r.uniform(-1, 1, n) * 1e-4,
            r.uniform(-18, -16, n),
        ]
    return np.choose(k, parts).astype(np.float32)


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("n", SIZES)
def test_sizes_and_wide_values(level, op, n):
    ex = hg.Executor(isa=level)
    x = wide_values(op, n, seed=n + 17)
    got = launch(ex, op, x)
    assert got.shape == (n,)
    check(got, op, x, f"{op} n={n} {level}")


SPECIALS = {
    "erf": [
        (0.0, 0.0),
        (-0.0, -0.0),
        (np.inf, 1.0),
        (-np.inf, -1.0),
        (np.nan, np.nan),
        (4.0, 1.0),
        (-10.0, -1.0),
    ],
    "log1p": [
        (0.0, 0.0),
        (-0.0, -0.0),
        (-1.0, -np.inf),
        (-1.5, np.nan),
        (-np.inf, np.nan),
        (np.inf, np.inf),
        (np.nan, np.nan),
    ],
    "expm1": [
        (0.0, 0.0),
        (-0.0, -0.0),
        (-np.inf, -1.0),
        (np.inf, np.inf),
        (88.8, np.inf),
        (1e30, np.inf),
        (-50.0, -1.0),
        (np.nan, np.nan),
    ],
}


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("op", OPS)
def test_special_values(level, op):
    ex = hg.Executor(isa=level)
    cases = SPECIALS[op]
    # each special value also inside a full vector and in a masked tail
    x = np.array([c[0] for c in cases], np.float32)
    want = np.array([c[1] for c in cases], np.float32)
    xs = np.concatenate([x, np.full(40, 0.25, np.float32), x])
    got = launch(ex, op, xs)
    for g, what in ((got[: x.size], "head"), (got[-x.size :], "tail")):
        assert np.array_equal(np.isnan(g), np.isnan(want)), f"{op} {what}: {g} vs {want}"
        ok = ~np.isnan(want)
        assert np.array_equal(g[ok], want[ok]), f"{op} {what}: {g} vs {want}"
        assert np.array_equal(np.signbit(g[ok]), np.signbit(want[ok])), f"{op} {what}: sign"
    check(got, op, xs, f"{op} specials {level}")
    sv = special_values()
    check(launch(ex, op, sv), op, sv, f"{op} conftest specials {level}")


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("op", OPS)
def test_subnormals_are_not_flushed(level, op):
    ex = hg.Executor(isa=level)
    x = np.array([1e-40, -1e-40, 1.4e-45, -1.4e-45, 1e-38, -3e-39, 1.1754942e-38], np.float32)
    got = launch(ex, op, x)
    want = ref64(op, x)
    assert np.all(got != 0), f"{op}: flushed to zero: {got}"
    assert np.all(np.sign(got) == np.sign(want))
    assert_ulp(got, want, f"{op} subnormals {level}")


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("op", OPS)
def test_bit_space_sweep(level, op):
    # every 4099th float32 bit pattern: all exponents, both signs, NaNs and infs
    x = f32_bits_sample(step=4099, offset=op == "log1p")
    got = launch(hg.Executor(isa=level), op, x)
    check(got, op, x, f"{op} bit sweep {level}")


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_thresholds(level):
    # the kernels' internal boundaries, each with its float32 neighbours
    ex = hg.Executor(isa=level)

    def around(vs):
        b = np.array(vs, np.float32).view(np.uint32)
        return np.concatenate([b - 1, b, b + 1]).view(np.float32)

    for op, edges in (
        # erf's piece boundaries (odd multiples of 1/4), its index clamp
        # (3.74) and its clamp at 4
        (
            "erf",
            [
                0.25,
                0.75,
                1.25,
                1.75,
                2.25,
                2.75,
                3.25,
                3.74,
                3.75,
                -0.25,
                -3.75,
                4.0,
                -4.0,
                3.9,
                1e-20,
            ],
        ),
        ("log1p", [-0.29289, 0.41421, -0.5, 1.0, -0.999999, 2.0**-24, 3e38]),
        ("expm1", [0.34657, -0.34657, 87.0, 88.72283, -17.33, -18.0, 2.0**-25]),
    ):
        x = around(edges)
        check(launch(ex, op, x), op, x, f"{op} thresholds {level}")


STREAM_N = 100_003  # not a multiple of any vector width: peeled head and tail run too


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op", OPS)
def test_streamed_matches_cached(op, threads):
    x = wide_values(op, STREAM_N, seed=5)
    x[:6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40]
    outs = [launch(hg.Executor(threads=threads, stores=s), op, x) for s in ("streamed", "cached")]
    np.testing.assert_array_equal(outs[0].view(np.uint32), outs[1].view(np.uint32))
    check(outs[0], op, x, f"{op} streamed threads={threads}")


@pytest.mark.parametrize("op", OPS)
def test_row_level_form(op):
    # a row value goes through the interpreter's scalar form, not the kernel
    k = hg.Kernel(
        f"kernel g(x: f32, y: f32) {{\n  %x = load.row x\n  %r = {op} %x\n  store y, %r\n}}\n"
    )
    x = np.array([0.5, -0.3, 3.0, 0.0, -0.0, 1e-30, np.inf, -np.inf, np.nan], np.float32)
    if op == "log1p":
        x[1] = -1.0
    ex = hg.Executor()
    y = ex.empty(x.shape)
    ex.launch(k, ex.from_numpy(x), y, rows=x.size, cols=3)
    check(y.to_numpy(), op, x, f"{op} row level")


@pytest.mark.parametrize("op", OPS)
def test_text_round_trip_and_fused_use(op, ex):
    k = elem_kernel(op)
    assert f"= {op} %" in str(k)
    assert str(hg.Kernel(str(k))) == str(k)
    # inside a fused kernel: op(x) * 2 + op(x), one launch
    fused = hg.Kernel(
        f"kernel h(x: f32, y: f32) {{\n  %x = load x\n  %r = {op} %x\n  %c = const.f32 2\n"
        "  %m = mul %r, %c\n  %s = add %m, %r\n  store y, %s\n}\n"
    )
    x = wide_values(op, 1001, seed=9)
    y = ex.empty(x.shape)
    ex.launch(fused, ex.from_numpy(x), y)
    tr = TORCH[op](t(x))
    assert_f32_close(y.to_numpy(), 3 * ref64(op, x), (tr * 2 + tr).numpy(), what=f"fused {op}")


@pytest.mark.parametrize("op", OPS)
def test_integer_operand_is_refused(op):
    with pytest.raises(ValueError, match=op):
        hg.Kernel(f"kernel bad(y: f32) {{\n  %c = const.i64 3\n  %r = {op} %c\n  store y, %r\n}}\n")
