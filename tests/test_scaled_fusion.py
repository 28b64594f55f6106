"""The lowering's fuse_scaled_operands and fuse_pre_sub (src/core/lower.c).
A product by a scalar, `t = mul x, s`, read once by a later add, sub, mul or
div, folds into that instruction as a scale of its operand; a difference
`t = sub x, s0` read only by the next `t op s` folds in as a subtraction done
first.  Every form (either operand scaled, or both; the subtraction first;
each of the four ops) is checked bitwise against NumPy float32 arithmetic
done step by step (each step is one IEEE rounding, as in the kernels), at
every ISA level, with cached and streamed stores, at lengths with tails and
special values; the jitted Adam step is bitwise its float32 steps and the
jitted GELU (tanh form) its eager run; and a write to x between the product
and its reader keeps them apart."""

import numpy as np
import pytest
from conftest import ISA_PARAMS, assert_bitwise, special_values
from test_jit import adam, gelu_tanh

import hologram as hg

F32 = np.float32
OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}
SIZES = [1, 15, 17, 1000, 1025, 70001]


def _inputs(n, seed):
    rng = np.random.default_rng([seed, n])
    a = (rng.standard_normal(n) * 3).astype(F32)
    b = (rng.standard_normal(n) * 3).astype(F32)
    if n > 40:
        sp = special_values()
        a[7 : 7 + sp.size] = sp
        b[20 : 20 + sp.size] = sp[::-1]
    return a, b


def _kernel(op, which):
    """y = (sa * a) op b, a op (sb * b) or (sa * a) op (sb * b); the products
    are written `s * x` or `x * s` (both orders fold)."""
    lines = ["  %a = load a", "  %b = load b", "  %sa = param sa", "  %sb = param sb"]
    left, right = "%a", "%b"
    if "a" in which:
        lines.append("  %ta = mul %sa, %a")
        left = "%ta"
    if "b" in which:
        lines.append("  %tb = mul %b, %sb")
        right = "%tb"
    lines += [f"  %y = {op} {left}, {right}", "  store y, %y"]
    head = "kernel scaled(a: f32, b: f32, sa: f32 scalar, sb: f32 scalar, y: f32) {\n"
    return head + "\n".join(lines) + "\n}\n"


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
@pytest.mark.parametrize("which", ["a", "b", "ab"])
@pytest.mark.parametrize("op", sorted(OPS))
def test_every_form_is_bitwise_stepwise_float32(level, stores, which, op):
    ex = hg.Executor(threads=2, isa=level, stores=stores)
    kernel = hg.Kernel(_kernel(op, which))
    sa, sb = F32(0.9), F32(-1.7)
    for n in SIZES:
        a, b = _inputs(n, seed=len(op) + len(which))
        y = ex.empty((n,))
        ex.launch(kernel, ex.from_numpy(a), ex.from_numpy(b), float(sa), float(sb), y)
        with np.errstate(all="ignore"):
            left = sa * a if "a" in which else a
            right = b * sb if "b" in which else b
            want = OPS[op](left, right).astype(F32)
        assert_bitwise(y.to_numpy(), want, what=f"({which}) {op} n={n} {level} {stores}")


def test_a_write_in_between_keeps_the_product_apart(ex):
    # t = 2 * x is read by the add only after x has been overwritten in
    # place; folding would read the new x
    text = (
        "kernel between(x: f32, y: f32, z: f32) {\n"
        "  %x = load x\n  %y = load y\n  %two = const.f32 2\n"
        "  %t = mul %two, %x\n  %one = const.f32 1\n  %w = add %x, %one\n"
        "  store x, %w\n  %u = add %t, %y\n  store z, %u\n}\n"
    )
    a, b = _inputs(1025, seed=3)
    xb, yb, zb = ex.from_numpy(a), ex.from_numpy(b), ex.empty((1025,))
    ex.launch(hg.Kernel(text), xb, yb, zb)
    with np.errstate(all="ignore"):
        assert_bitwise(xb.to_numpy(), a + F32(1), what="x + 1")
        assert_bitwise(zb.to_numpy(), F32(2) * a + b, what="2 x_old + y")


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n", [7, 1025, 300_001])
def test_jitted_adam_is_bitwise_its_float32_steps(level, threads, n):
    # the traced step in the IR's order, each operation one float32 rounding
    # (the scalars are float32 kernel parameters, 1 - b1 computed in float32)
    ex = hg.Executor(threads=threads, isa=level)
    rng = np.random.default_rng(n)
    p, g, m = (rng.standard_normal(n).astype(F32) for _ in range(3))
    v = np.abs(rng.standard_normal(n).astype(F32)) * F32(0.01)
    lr, b1, b2, eps = (F32(s) for s in (1e-3, 0.9, 0.999, 1e-8))
    bufs = [ex.from_numpy(a) for a in (p, g, m, v)]
    hg.jit(adam)(*bufs, 1e-3, 0.9, 0.999, 1e-8, out=(bufs[0], bufs[2], bufs[3]))
    m2 = b1 * m + (F32(1) - b1) * g
    v2 = b2 * v + (F32(1) - b2) * g * g
    p2 = p - lr * m2 / (np.sqrt(v2) + eps)
    for got, want, what in zip((bufs[0], bufs[2], bufs[3]), (p2, m2, v2), "pmv", strict=True):
        assert_bitwise(got.to_numpy(), want, what=f"adam {what} {level} t{threads}")


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("n", [7, 1025, 300_001])
def test_jitted_gelu_tanh_equals_its_eager_run(level, n):
    ex = hg.Executor(threads=2, isa=level)
    x = ex.from_numpy((np.random.default_rng(n).standard_normal(n) * 3).astype(F32))
    assert_bitwise(hg.jit(gelu_tanh)(x).to_numpy(), gelu_tanh(x).to_numpy(), what="gelu_tanh")


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
@pytest.mark.parametrize("op", sorted(OPS))
def test_subtraction_folded_first_is_bitwise_stepwise_float32(level, stores, op):
    # fuse_pre_sub: `t = x - s0` read only by the next `t op s` becomes one
    # instruction subtracting first (the form a recomputed x - mean takes)
    text = (
        "kernel pre(x: f32, s0: f32 scalar, s: f32 scalar, y: f32) {\n"
        "  %x = load x\n  %a = param s0\n  %b = param s\n"
        f"  %t = sub %x, %a\n  %y = {op} %t, %b\n  store y, %y\n}}\n"
    )
    ex = hg.Executor(threads=2, isa=level, stores=stores)
    s0, s = F32(0.75), F32(-2.5)
    for n in SIZES:
        x, _ = _inputs(n, seed=len(op))
        y = ex.empty((n,))
        ex.launch(hg.Kernel(text), ex.from_numpy(x), float(s0), float(s), y)
        with np.errstate(all="ignore"):
            want = OPS[op](x - s0, s).astype(F32)
        assert_bitwise(y.to_numpy(), want, what=f"(x - s0) {op} s n={n} {level} {stores}")
