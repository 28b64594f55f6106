"""Shared fixtures and reference helpers for the hologram test suite.

Every check in this suite compares Atlas against an *independent* reference:
NumPy evaluated in float64 (and rounded to float32 where the op is exact) and
PyTorch (CPU, float32).  The helpers below encode the tolerance policy once so
individual tests cannot quietly loosen it:

* IEEE-exact ops (add/sub/mul/div/neg/abs/relu/sqrt/max/min): results must be
  bitwise identical to the correctly rounded float32 result (NaN payloads are
  ignored, NaN *positions* must match PyTorch's).
* Other float32 ops: within rtol=1e-5, atol=1e-6 of PyTorch AND of the float64
  NumPy reference; NaN positions and inf (with sign) must match PyTorch.
* Summations: the worst-case error bound of float32 summation in any order
  (see ``sum_bound``).

``hologram`` is imported unconditionally: if the package does not import the
whole suite errors out at collection, which is the honest outcome (no skips).
"""

import numpy as np
import pytest
import torch

import hologram as hg  # noqa: F401  (a failing import must fail the suite)

torch.set_num_threads(1)

RTOL = 1e-5
ATOL = 1e-6
U32 = 2.0**-24  # unit roundoff of float32
FLT_MAX = float(np.finfo(np.float32).max)

# Sizes chosen so that tails do not fill a register at any width (4/8/16
# lanes) nor a block of 1024 elements.
SIZES = [0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 63, 65, 1000, 1023, 1025, 4097, 65537, 1_000_003]
# The same list without the million-element case, for ops that are
# exercised many times (keeps the suite well under its time budget).
SIZES_MED = [s for s in SIZES if s <= 65537]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: test takes more than ~5 s (still part of the default run)"
    )


@pytest.fixture
def ex():
    return hg.Executor(threads=1)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# --------------------------------------------------------------------------
# Reference helpers
# --------------------------------------------------------------------------


def t(x):
    """A float32/int64 torch tensor sharing nothing with the Atlas buffer."""
    return torch.from_numpy(np.array(x, copy=True))


def to_f32(ref64):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(ref64, dtype=np.float64).astype(np.float32)


def _nan_inf_semantics(got, want, what):
    """NaN positions equal; inf positions and signs equal."""
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    gn, wn = np.isnan(got), np.isnan(want)
    if not np.array_equal(gn, wn):
        idx = np.flatnonzero(gn.ravel() != wn.ravel())[:5]
        raise AssertionError(
            f"{what}: NaN positions differ at flat indices {idx.tolist()}: "
            f"got {got.ravel()[idx].tolist()} want {want.ravel()[idx].tolist()}"
        )
    gi = np.isinf(got) & ~gn
    wi = np.isinf(want) & ~wn
    if not (np.array_equal(gi, wi) and np.array_equal(got[gi], want[wi])):
        bad = np.flatnonzero((gi != wi).ravel() | (gi.ravel() & (got.ravel() != want.ravel())))[:5]
        raise AssertionError(
            f"{what}: inf positions/signs differ at flat indices {bad.tolist()}: "
            f"got {got.ravel()[bad].tolist()} want {want.ravel()[bad].tolist()}"
        )


def assert_bitwise(got, want, what="result"):
    """Exact IEEE equality: same bits everywhere except NaN payloads."""
    got = np.asarray(got)
    want = np.asarray(want, dtype=np.float32)
    assert got.dtype == np.float32, f"{what}: dtype {got.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    gn, wn = np.isnan(got), np.isnan(want)
    if not np.array_equal(gn, wn):
        idx = np.flatnonzero(gn.ravel() != wn.ravel())[:5]
        raise AssertionError(
            f"{what}: NaN positions differ at {idx.tolist()}: got "
            f"{got.ravel()[idx].tolist()} want {want.ravel()[idx].tolist()}"
        )
    gb = got.view(np.uint32)[~gn]
    wb = want.view(np.uint32)[~wn]
    if not np.array_equal(gb, wb):
        bad = np.flatnonzero(gb != wb)[:5]
        raise AssertionError(
            f"{what}: not bitwise equal at {len(np.flatnonzero(gb != wb))} positions, "
            f"e.g. got {got[~gn][bad].tolist()} want {want[~wn][bad].tolist()}"
        )


def assert_equal_values(got, want, what="result"):
    """Exact value equality (+0 == -0) with NaN positions matching."""
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if not np.array_equal(got, want, equal_nan=True):
        bad = np.flatnonzero(~((got == want) | (np.isnan(got) & np.isnan(want))).ravel())[:5]
        raise AssertionError(
            f"{what}: values differ at {bad.tolist()}: got {got.ravel()[bad].tolist()} "
            f"want {want.ravel()[bad].tolist()}"
        )


def _close(got, want, rtol, atol, what):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    fin = np.isfinite(want) & np.isfinite(got)
    err = np.abs(got[fin] - want[fin])
    tol = atol + rtol * np.abs(want[fin])
    if np.any(err > tol):
        bad = np.argmax(err - tol)
        gi = np.flatnonzero(fin.ravel())[bad]
        raise AssertionError(
            f"{what}: {int(np.sum(err > tol))} elements outside rtol={rtol} atol={atol}; "
            f"worst at flat index {gi}: got {got.ravel()[gi]!r} want {want.ravel()[gi]!r} "
            f"(err {err[bad]:.3g} > tol {tol[bad]:.3g})"
        )


def assert_f32_close(got, ref64, torch_out, rtol=RTOL, atol=ATOL, what="result"):
    """Approximate float32 op: NaN/inf semantics of torch, values within
    rtol/atol of torch and of the float64 reference.

    Where the float64 reference rounds to +-inf in float32 the result must be
    that inf (torch agrees, checked by the NaN/inf comparison)."""
    got = np.asarray(got)
    assert got.dtype == np.float32, f"{what}: dtype {got.dtype}"
    torch_out = np.asarray(torch_out)
    _nan_inf_semantics(got, torch_out, what + " vs torch")
    _close(got, torch_out, rtol, atol, what + " vs torch")
    _close(got, ref64, rtol, atol, what + " vs float64")


def sum_bound(x, ref64):
    """Worst-case error of a float32 sum computed in ANY order (blocked,
    pairwise, SIMD lanes, threads): each of the n-1 additions commits a
    relative error <= u = 2**-24 on a partial sum bounded by sum|x|, so
    |s_hat - s| <= gamma_{n-1} * sum|x| with gamma_m = m*u/(1-m*u) (Higham,
    Accuracy and Stability, eq. 4.4), plus u*|s| for the final rounding to
    float32 if the accumulator is wider.  Inputs are float32 exactly, so no
    input rounding term."""
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    m = max(n - 1, 0)
    gamma = m * U32 / (1 - m * U32)
    return U32 * abs(ref64) + gamma * float(np.sum(np.abs(x)))


def f32_bits_sample(step=4097, offset=0):
    """Every `step`-th float32 bit pattern over the whole 32-bit space."""
    bits = np.arange(offset, 2**32, step, dtype=np.uint64).astype(np.uint32)
    return bits.view(np.float32)


def special_values():
    """Float32 special values: signed zeros, infs, NaN, subnormals, extremes."""
    tiny = np.finfo(np.float32).tiny
    return np.array(
        [
            0.0,
            -0.0,
            np.inf,
            -np.inf,
            np.nan,
            1e-40,
            -1e-40,
            1.4e-45,
            -1.4e-45,
            tiny,
            -tiny,
            1e38,
            -1e38,
            FLT_MAX,
            -FLT_MAX,
            1.0,
            -1.0,
            0.5,
            -0.5,
            2.0,
            -2.0,
            3.0,
            -3.0,
            88.72,
            -103.97,
            100.0,
            -100.0,
            1e-7,
            -1e-7,
            20.0,
            -20.0,
        ],
        dtype=np.float32,
    )


def isa_levels():
    return ["baseline", "avx2", "avx512", "neon"]


def isa_param(level):
    info = hg.cpu_info()
    marks = []
    if level not in info["isa_compiled"]:
        marks.append(pytest.mark.skip(reason=f"build lacks {level}"))
    elif level not in info["isa_supported"]:
        marks.append(pytest.mark.skip(reason=f"CPU lacks {level}"))
    return pytest.param(level, marks=marks, id=level)


def ISA_PARAMS():
    return [isa_param(lv) for lv in isa_levels()]


def assert_sqrt(got, x, what="sqrt"):
    """sqrt is IEEE correctly rounded: bitwise equal to the float64 sqrt
    rounded to float32 (double rounding is innocuous for sqrt: 53 >= 2*24+2).
    torch 2.13's CPU sqrt (MKL/VML path) is up to 1 ulp off this, so against
    torch we check NaN/inf semantics and rtol/atol rather than bits."""
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        ref64 = np.sqrt(x.astype(np.float64))
    assert_bitwise(got, to_f32(ref64), what + " vs float64 rounded")
    assert_f32_close(got, ref64, torch.sqrt(t(x)).numpy(), what=what)
