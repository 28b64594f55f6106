"""IEEE special values (+-0, +-inf, NaN, subnormals, +-1e38, FLT_MAX), the
exp/log thresholds, and dense sampling of the whole float32 bit space."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import (
    FLT_MAX,
    RTOL,
    assert_bitwise,
    assert_equal_values,
    assert_f32_close,
    assert_sqrt,
    f32_bits_sample,
    special_values,
    t,
)

import hologram as hg

SV = special_values()
# all ordered pairs of special values, laid out flat (31*31 = 961 elements:
# not a multiple of any register width)
PA = np.repeat(SV, SV.size)
PB = np.tile(SV, SV.size)

EXACT_BIN = {
    "vector_add": np.add,
    "vector_sub": np.subtract,
    "vector_mul": np.multiply,
    "vector_div": np.divide,
}
TORCH_BIN = {
    "vector_add": torch.add,
    "vector_sub": torch.sub,
    "vector_mul": torch.mul,
    "vector_div": torch.div,
}


@pytest.mark.parametrize("op", list(EXACT_BIN))
def test_binary_all_special_pairs(ex, op):
    got = getattr(hg.ops, op)(ex.from_numpy(PA), ex.from_numpy(PB)).to_numpy()
    with np.errstate(all="ignore"):
        ref = EXACT_BIN[op](PA, PB)
    assert_bitwise(got, ref, op + " vs numpy")
    assert_bitwise(got, TORCH_BIN[op](t(PA), t(PB)).numpy(), op + " vs torch")


def test_subnormal_arithmetic_not_flushed(ex):
    a = np.array([1e-40, 1e-40, 1e-20, 3e-39, 1.4e-45, 1.0, 1e-40], np.float32)
    b = np.array([1e-40, -3e-40, 1e-20, 2.0, 1.4e-45, 1e-40, 0.5], np.float32)
    assert_bitwise(hg.ops.vector_add(ex.from_numpy(a), ex.from_numpy(b)).to_numpy(), a + b, "add")
    assert_bitwise(hg.ops.vector_mul(ex.from_numpy(a), ex.from_numpy(b)).to_numpy(), a * b, "mul")
    assert_bitwise(hg.ops.vector_div(ex.from_numpy(a), ex.from_numpy(b)).to_numpy(), a / b, "div")
    assert (a * b)[0] == 0 and (a + b)[0] != 0  # the reference itself is not flushed


def test_sqrt_specials(ex):
    assert_sqrt(hg.ops.sqrt(ex.from_numpy(SV)).to_numpy(), SV)


@pytest.mark.parametrize("op,npf,tf", [("neg", np.negative, torch.neg), ("abs", np.abs, torch.abs)])
def test_unary_exact_specials(ex, op, npf, tf):
    got = getattr(hg.ops, op)(ex.from_numpy(SV)).to_numpy()
    with np.errstate(all="ignore"):
        assert_bitwise(got, npf(SV), op)
    assert_bitwise(got, tf(t(SV)).numpy(), op + " vs torch")


def test_sqrt_signed_zero_and_subnormal(ex):
    x = np.array([-0.0, 0.0, 1e-40, 1.4e-45, -1e-40, np.inf, -np.inf], np.float32)
    got = hg.ops.sqrt(ex.from_numpy(x)).to_numpy()
    assert np.signbit(got[0]) and not np.signbit(got[1])  # sqrt(-0) = -0
    assert_sqrt(got, x)


def test_relu_specials(ex):
    got = hg.ops.relu(ex.from_numpy(SV)).to_numpy()
    assert_equal_values(got, torch.relu(t(SV)).numpy(), "relu")


APPROX = {
    "exp": (np.exp, torch.exp),
    "log": (np.log, torch.log),
    "tanh": (np.tanh, torch.tanh),
    "sigmoid": (lambda v: 1.0 / (1.0 + np.exp(-v)), torch.sigmoid),
}


def ref64(op, x):
    with np.errstate(all="ignore"):
        return APPROX[op][0](x.astype(np.float64))


@pytest.mark.parametrize("op", list(APPROX))
def test_approx_specials(ex, op):
    got = getattr(hg.ops, op)(ex.from_numpy(SV)).to_numpy()
    assert_f32_close(got, ref64(op, SV), APPROX[op][1](t(SV)).numpy(), what=op)


def test_exp_thresholds(ex):
    x = np.array(
        [
            88.72,
            88.7228,
            88.73,
            89.0,
            1e38,
            np.inf,
            -103.97,
            -103.0,
            -87.3,
            -104.0,
            -110.0,
            -1e38,
            -np.inf,
            0.0,
            -0.0,
            np.nan,
        ],
        np.float32,
    )
    got = hg.ops.exp(ex.from_numpy(x)).to_numpy()
    want = ref64("exp", x)
    assert_f32_close(got, want, torch.exp(t(x)).numpy(), what="exp")
    assert np.isfinite(got[0]) and got[0] > 3.3e38  # exp(88.72) does not overflow
    assert np.isposinf(got[2]) and np.isposinf(got[3]) and np.isposinf(got[5])
    # exp(-87.3) is a normal number below atol: within rtol of float64, so not flushed
    assert abs(float(got[8]) - want[8]) <= RTOL * want[8], (got[8], want[8])
    assert got[10] == 0 and got[12] == 0 and got[13] == 1 and got[14] == 1
    assert np.isnan(got[15])


def test_exp_subnormal_results(ex):
    # results between 1.4e-45 and 1.2e-38 are subnormal; compare to float64
    x = np.linspace(-103.0, -87.5, 257).astype(np.float32)
    got = hg.ops.exp(ex.from_numpy(x)).to_numpy()
    want = ref64("exp", x)
    assert_f32_close(got, want, torch.exp(t(x)).numpy(), what="exp")
    # atol=1e-6 cannot see the subnormal range, so also require faithful
    # rounding there: within one subnormal ulp (2**-149) plus rtol (torch and
    # glibc are within 0.5 ulp here).  Every result is at least exp(-103),
    # 1.28 subnormal ulps, so a result flushed to zero is outside the bound.
    err = np.abs(got.astype(np.float64) - want)
    assert np.all(err <= 2.0**-149 + RTOL * want), (
        f"max err {err.max() / 2.0**-149:.3g} subnormal ulps"
    )


def test_log_specials(ex):
    x = np.array(
        [
            0.0,
            -0.0,
            -1.0,
            -1e-40,
            1e-40,
            1.4e-45,
            np.finfo(np.float32).tiny,
            1.0,
            np.inf,
            -np.inf,
            np.nan,
            FLT_MAX,
            1e38,
            2.0,
            0.5,
        ],
        np.float32,
    )
    got = hg.ops.log(ex.from_numpy(x)).to_numpy()
    assert_f32_close(got, ref64("log", x), torch.log(t(x)).numpy(), what="log")
    assert np.isneginf(got[0]) and np.isneginf(got[1])
    assert np.isnan(got[2]) and np.isnan(got[3]) and np.isnan(got[9]) and np.isnan(got[10])
    # subnormal inputs are not flushed to zero: log(1e-40) ~ -92.1
    assert abs(got[4] - np.log(1e-40)) < 1e-3 and abs(got[5] - np.log(1.4e-45)) < 1e-3
    assert got[7] == 0 and np.isposinf(got[8])


def test_tanh_sigmoid_saturation(ex):
    x = np.array(
        [
            -np.inf,
            -1e38,
            -100,
            -20,
            -9.5,
            -1e-40,
            -0.0,
            0.0,
            1e-40,
            9.5,
            20,
            100,
            1e38,
            np.inf,
            np.nan,
        ],
        np.float32,
    )
    for op in ("tanh", "sigmoid"):
        got = getattr(hg.ops, op)(ex.from_numpy(x)).to_numpy()
        assert_f32_close(got, ref64(op, x), APPROX[op][1](t(x)).numpy(), what=op)
        assert np.all(got[:-1] >= (-1 if op == "tanh" else 0)) and np.all(got[:-1] <= 1)


# --------------------------------------------------------------------------
# dense sampling of the float32 bit space (~1.05M patterns)
# --------------------------------------------------------------------------
DENSE = f32_bits_sample(4097)
DOMAIN = {
    "exp": DENSE,  # every pattern: NaN/inf/overflow included
    "tanh": DENSE,
    "sigmoid": DENSE,
    "log": DENSE,  # negatives -> NaN, like torch
}


@pytest.mark.parametrize("op", list(APPROX))
def test_dense_bit_patterns(ex, op):
    x = DOMAIN[op]
    got = getattr(hg.ops, op)(ex.from_numpy(x)).to_numpy()
    want = ref64(op, x)
    tt = APPROX[op][1](t(x)).numpy()
    if op == "exp":
        # within rtol of FLT_MAX the exactly rounded result may be either
        # FLT_MAX-ish or inf; no sample lands there (asserted, so the
        # comparison below stays strict)
        assert not np.any(
            (np.abs(want) > FLT_MAX * (1 - 1e-5)) & (np.abs(want) < FLT_MAX * (1 + 1e-5))
        )
    assert_f32_close(got, want, tt, what=f"{op} dense")


@pytest.mark.parametrize("offset", [0, 1234, 2048])
def test_dense_exact_ops(ex, offset):
    x = f32_bits_sample(4097, offset)
    y = x[::-1].copy()
    bx, by = ex.from_numpy(x), ex.from_numpy(y)
    with np.errstate(all="ignore"):
        assert_bitwise(hg.ops.neg(bx).to_numpy(), -x, "neg")
        assert_bitwise(hg.ops.abs(bx).to_numpy(), np.abs(x), "abs")
        assert_sqrt(hg.ops.sqrt(bx).to_numpy(), x, "sqrt dense")
        assert_bitwise(hg.ops.vector_add(bx, by).to_numpy(), x + y, "add")
        assert_bitwise(hg.ops.vector_mul(bx, by).to_numpy(), x * y, "mul")
        assert_bitwise(hg.ops.vector_div(bx, by).to_numpy(), x / y, "div")
        assert_equal_values(hg.ops.relu(bx).to_numpy(), torch.relu(t(x)).numpy(), "relu")


# --------------------------------------------------------------------------
# pow, softmax, reductions and losses with special values
# --------------------------------------------------------------------------
POW_SV = np.array(
    [
        0.0,
        -0.0,
        1.0,
        -1.0,
        2.0,
        -2.0,
        0.5,
        -0.5,
        3.0,
        -3.0,
        2.5,
        np.inf,
        -np.inf,
        np.nan,
        1e-40,
        1e38,
        -1e38,
        100.0,
        -100.0,
    ],
    np.float32,
)


def test_pow_special_pairs(ex):
    a = np.repeat(POW_SV, POW_SV.size)
    b = np.tile(POW_SV, POW_SV.size)
    got = hg.ops.pow(ex.from_numpy(a), ex.from_numpy(b)).to_numpy()
    with np.errstate(all="ignore"):
        want = np.power(a.astype(np.float64), b.astype(np.float64))
    assert_f32_close(got, want, torch.pow(t(a), t(b)).numpy(), what="pow specials")


@pytest.mark.parametrize("e", [2, 0.5, 3, -1, -2, 0, 1, 2.5, -0.5])
def test_pow_scalar_specials(ex, e):
    x = POW_SV
    if abs(e) == 0.5:
        # -0 and -inf with exponent +-0.5: torch (sqrt/rsqrt path) and C99
        # pow disagree; checked separately in test_pow_half_neg_zero_neg_inf
        x = x[~((x == 0) & np.signbit(x)) & (x != -np.inf)]
    got = hg.ops.pow(ex.from_numpy(x), e).to_numpy()
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), float(e))
    assert_f32_close(got, want, torch.pow(t(x), e).numpy(), what=f"pow(x, {e})")


@pytest.mark.parametrize("e", [0.5, -0.5])
def test_pow_half_neg_zero_neg_inf(ex, e):
    """torch.pow(x, +-0.5) is sqrt/rsqrt: (-0)**-0.5 = -inf, (-inf)**+-0.5 = NaN.
    C99/IEEE pow (and NumPy) give +inf, +inf / +0.  The suite's rule is that
    NaN positions and inf signs match PyTorch's."""
    x = np.array([-0.0, -np.inf], np.float32)
    got = hg.ops.pow(ex.from_numpy(x), e).to_numpy()
    want = torch.pow(t(x), e).numpy()
    with np.errstate(all="ignore"):
        ref = np.power(x.astype(np.float64), e)
    assert_f32_close(got, ref, want, what=f"pow(x, {e}) at -0/-inf")


def test_softmax_special_rows(ex):
    x = np.array(
        [
            [np.nan, 1.0, 2.0],
            [-np.inf, 0.0, 1.0],
            [-np.inf, -np.inf, 5.0],
            [1e38, -1e38, 0.0],
            [88.0, 89.0, 90.0],
            [-1e4, -1e4, -1e4],
            [1e-40, -1e-40, 0.0],
        ],
        np.float32,
    )
    got = hg.ops.softmax(ex.from_numpy(x)).to_numpy()
    want_t = torch.softmax(t(x), -1).numpy()
    with np.errstate(all="ignore"):
        x64 = x.astype(np.float64)
        m = np.max(x64, -1, keepdims=True)
        e = np.exp(x64 - m)
        want = e / e.sum(-1, keepdims=True)
    assert_f32_close(got, want, want_t, what="softmax specials")


@pytest.mark.parametrize("n", [3, 17, 1025])
def test_sum_mean_inf_nan(ex, n):
    base = np.ones(n, np.float32)
    cases = {"+inf": [np.inf], "-inf": [-np.inf], "nan": [np.nan], "inf-inf": [np.inf, -np.inf]}
    for name, vals in cases.items():
        x = base.copy()
        x[-len(vals) :] = vals
        for op in ("sum", "mean"):
            got = getattr(hg.ops, op)(ex.from_numpy(x)).item()
            want = float(getattr(torch, op)(t(x)))
            assert (np.isnan(got) and np.isnan(want)) or got == want, (op, name, got, want)


def test_sum_overflow_is_inf(ex):
    x = np.full(64, 1e38, np.float32)
    assert np.isposinf(hg.ops.sum(ex.from_numpy(x)).item())
    assert np.isneginf(hg.ops.sum(ex.from_numpy(-x)).item())


def test_max_min_specials(ex):
    x = np.array([-np.inf, -1e38, -0.0, 0.0, 1e-40, 1e38, np.inf, 1.0], np.float32)
    assert hg.ops.max(ex.from_numpy(x)).item() == np.inf
    assert hg.ops.min(ex.from_numpy(x)).item() == -np.inf
    z = np.array([-0.0, 0.0, -0.0], np.float32)
    assert hg.ops.max(ex.from_numpy(z)).item() == 0.0
    assert hg.ops.min(ex.from_numpy(z)).item() == 0.0
    sub = np.array([1e-40, 2e-40, 1.4e-45], np.float32)
    assert hg.ops.max(ex.from_numpy(sub)).item() == float(np.float32(2e-40))
    assert hg.ops.min(ex.from_numpy(sub)).item() == float(np.float32(1.4e-45))
    # NaN anywhere -> NaN, also next to infinities
    w = np.array([np.inf, np.nan, -np.inf], np.float32)
    assert np.isnan(hg.ops.max(ex.from_numpy(w)).item())
    assert np.isnan(hg.ops.min(ex.from_numpy(w)).item())


def test_max_min_axis_nan_rows(ex):
    x = np.array([[1, np.nan, 3], [np.inf, 2, -np.inf], [-0.0, 0.0, -1]], np.float32)
    for op in ("max", "min"):
        got = getattr(hg.ops, op)(ex.from_numpy(x), axis=-1).to_numpy()
        assert_equal_values(got, getattr(torch, op)(t(x), -1).values.numpy(), op)


def test_mse_loss_specials(ex):
    for p, q in [
        ([np.inf, 0], [0, 0]),
        ([np.nan, 1], [1, 1]),
        ([1e38, 0], [-1e38, 0]),
        ([np.inf, 0], [np.inf, 0]),
        ([1e-40, 0], [0, 0]),
    ]:
        p, q = np.array(p, np.float32), np.array(q, np.float32)
        got = hg.ops.mse_loss(ex.from_numpy(p), ex.from_numpy(q)).item()
        want = float(F.mse_loss(t(p), t(q)))
        assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(
            want, rel=1e-5, abs=1e-6
        ), (p, q, got, want)


def test_cross_entropy_neg_inf_logits(ex):
    logits = np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, -np.inf], [1e4, -1e4, 0.0]], np.float32)
    target = np.array([0, 1, 0], np.int64)
    got = hg.ops.cross_entropy(ex.from_numpy(logits), ex.from_numpy(target)).item()
    want = float(F.cross_entropy(t(logits), t(target)))
    assert np.isfinite(want)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
