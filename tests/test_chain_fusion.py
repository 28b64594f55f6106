"""The lowering's fuse_binary_add and fuse_unary_of (src/core/lower.c).

`t = a op b` of two vectors read only by the next `y = add t, c` runs as one
pass, y = (a op b) + c: every op (add, sub, mul, div) is checked bitwise
against NumPy float32 arithmetic done step by step (each step one IEEE
rounding, as in the kernels), with c a whole buffer and a broadcast row.

`a op b`, or that pair's (a op b) + c, read only by a vector math op runs as
one pass, y = f((a op b) + c): every such op with every binary op is checked
bitwise against the same kernel kept unfused (t also stored), and the jitted
`sigmoid(a * b + c)` and `gelu(a * b + c)` against their eager op-by-op runs.

All at every ISA level, with cached and streamed stores where the store
policy matters, at lengths with tails and special values."""

import numpy as np
import pytest
from conftest import ISA_PARAMS, assert_bitwise, special_values

import hologram as hg

F32 = np.float32
OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}
SIZES = [1, 15, 17, 63, 1000, 1025, 70001]


def _inputs(n, seed):
    rng = np.random.default_rng([seed, n])
    a, b, c = ((rng.standard_normal(n) * 3).astype(F32) for _ in range(3))
    if n >= 1000:
        sp = special_values()
        a[7 : 7 + sp.size] = sp
        b[20 : 20 + sp.size] = sp[::-1]
        c[33 : 33 + sp.size] = sp
    return a, b, c


def _kernel(op):
    return (
        "kernel fused(a: f32, b: f32, c: f32, y: f32) {\n"
        "  %a = load a\n  %b = load b\n  %c = load c\n"
        f"  %t = {op} %a, %b\n  %y = add %t, %c\n  store y, %y\n}}\n"
    )


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_is_bitwise_stepwise_float32(level, stores, op):
    ex = hg.Executor(threads=2, isa=level, stores=stores)
    kernel = hg.Kernel(_kernel(op))
    for n in SIZES:
        a, b, c = _inputs(n, seed=len(op))
        y = ex.empty((n,))
        ex.launch(kernel, ex.from_numpy(a), ex.from_numpy(b), ex.from_numpy(c), y)
        with np.errstate(all="ignore"):
            want = OPS[op](a, b) + c
        assert_bitwise(y.to_numpy(), want, what=f"({op}) + c n={n} {level} {stores}")


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("shape", [(3, 17), (64, 1000), (5, 2049)])
def test_broadcast_row_is_bitwise_stepwise_float32(level, op, shape):
    ex = hg.Executor(threads=2, isa=level)
    rows, cols = shape
    a, b, _ = _inputs(rows * cols, seed=3)
    _, _, c = _inputs(cols, seed=4)
    a, b = a.reshape(shape), b.reshape(shape)
    f = hg.jit(lambda x, y, z: getattr(hg.ops, f"vector_{op}")(x, y) + z)
    got = f(ex.from_numpy(a), ex.from_numpy(b), ex.from_numpy(c)).to_numpy()
    with np.errstate(all="ignore"):
        want = OPS[op](a, b) + c
    assert_bitwise(got, want, what=f"({op}) + row {shape} {level}")


UNARY = ["exp", "log", "tanh", "sigmoid", "sqrt", "erf", "log1p", "expm1"]


def _unary_kernel(op, fn, with_c, keep_t):
    """y = fn((a op b) [+ c]); keep_t also stores t = a op b and u = t + c,
    which keeps the instructions apart."""
    lines = ["  %a = load a", "  %b = load b", "  %c = load c", f"  %t = {op} %a, %b"]
    u = "%t"
    if with_c:
        lines.append("  %u = add %t, %c")
        u = "%u"
    lines += [f"  %y = {fn} {u}", "  store y, %y"]
    if keep_t:
        lines.append("  store tt, %t")
        lines.append(f"  store uu, {u}")
    head = "kernel of(a: f32, b: f32, c: f32, y: f32, tt: f32, uu: f32) {\n"
    return head + "\n".join(lines) + "\n}\n"


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
@pytest.mark.parametrize("fn", UNARY)
def test_unary_of_binary_is_bitwise_the_unfused_program(level, stores, fn):
    ex = hg.Executor(threads=2, isa=level, stores=stores)
    for op in sorted(OPS):
        for with_c in (False, True):
            fused = hg.Kernel(_unary_kernel(op, fn, with_c, keep_t=False))
            unfused = hg.Kernel(_unary_kernel(op, fn, with_c, keep_t=True))
            for n in SIZES:
                a, b, c = (ex.from_numpy(v) for v in _inputs(n, seed=len(fn)))
                y, want, tt, uu = (ex.empty((n,)) for _ in range(4))
                ex.launch(fused, a, b, c, y, tt, uu)
                ex.launch(unfused, a, b, c, want, tt, uu)
                what = f"{fn}(({op}){' + c' if with_c else ''}) n={n} {level} {stores}"
                assert_bitwise(y.to_numpy(), want.to_numpy(), what=what)


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("act", ["sigmoid", "gelu", "gelu_tanh"])
@pytest.mark.parametrize("shape", [(1,), (31,), (4097,), (8, 1000)])
def test_jitted_activation_of_product_plus_c_equals_eager(level, act, shape):
    ex = hg.Executor(threads=2, isa=level)
    n = int(np.prod(shape))
    a, b, c = (ex.from_numpy(v.reshape(shape)) for v in _inputs(n, seed=9))
    f_act = {
        "sigmoid": hg.ops.sigmoid,
        "gelu": hg.ops.gelu,
        "gelu_tanh": lambda x: hg.ops.gelu(x, approximate="tanh"),
    }[act]
    f = hg.jit(lambda x, y, z: f_act(x * y + z))
    assert_bitwise(f(a, b, c).to_numpy(), f_act(a * b + c).to_numpy(), what=f"{act} {shape}")
