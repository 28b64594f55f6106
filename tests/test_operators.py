"""Operators on hg.Buffer against PyTorch: + - * / ** with Buffers and Python
scalars on either side, unary - and abs(), in-place += -= *= /= (into the
left buffer, allocating nothing), dtype rules, NotImplemented for unknown
operand types, hashing by identity, reference counts, bad input."""

import gc
import operator
import sys

import numpy as np
import pytest
import torch
from conftest import ISA_PARAMS, SIZES_MED, assert_bitwise, assert_f32_close, special_values, to_f32

import hologram as hg

BINARY = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
INPLACE = {
    "+=": (operator.iadd, operator.add),
    "-=": (operator.isub, operator.sub),
    "*=": (operator.imul, operator.mul),
    "/=": (operator.itruediv, operator.truediv),
}
SCALARS = [2, -3, 0, 2.5, -0.0, 1e-3, float("inf"), float("nan"), True, 1e30]


def f32(rng, *shape):
    return np.asarray(rng.standard_normal(shape), dtype=np.float32)


def check(got, want, what):
    assert isinstance(got, hg.Buffer), what
    assert got.dtype == np.float32, what
    assert got.shape == tuple(want.shape), what
    assert_bitwise(got.to_numpy(), want.numpy(), what)


@pytest.mark.parametrize("n", SIZES_MED)
@pytest.mark.parametrize("sym", BINARY)
def test_buffer_buffer(ex, rng, sym, n):
    a, b = f32(rng, n), f32(rng, n)
    op = BINARY[sym]
    want = op(torch.from_numpy(a), torch.from_numpy(b))
    check(op(ex.from_numpy(a), ex.from_numpy(b)), want, f"a {sym} b, n={n}")


def scalar_reference(op, x, y):
    """The correctly rounded float32 result of op on float32 x and y (a
    Python scalar is rounded to float32 first, as PyTorch does)."""
    x64 = np.asarray(x, dtype=np.float32).astype(np.float64)
    y64 = np.asarray(y, dtype=np.float32).astype(np.float64)
    with np.errstate(all="ignore"):
        return torch.from_numpy(np.asarray(to_f32(op(x64, y64))))


@pytest.mark.parametrize("scalar", SCALARS)
@pytest.mark.parametrize("sym", BINARY)
def test_buffer_scalar_and_reflected(ex, rng, sym, scalar):
    # PyTorch divides by a scalar as a * (1 / s) and s / a as s * (1 / a),
    # two roundings: the reference for / is the correctly rounded quotient,
    # which the other ops give in PyTorch too
    a = f32(rng, 3, 7)
    op = BINARY[sym]
    A, ta = ex.from_numpy(a), torch.from_numpy(a)
    if sym == "-" and scalar is True:  # PyTorch refuses bool subtraction too
        with pytest.raises(TypeError, match="bool"):
            A - scalar
        with pytest.raises(TypeError, match="bool"):
            scalar - A
        return
    s = float(scalar)
    if sym == "/":
        want, rwant = scalar_reference(op, a, s), scalar_reference(op, s, a)
    else:
        want, rwant = op(ta, s), op(s, ta)
    check(op(A, scalar), want, f"a {sym} {scalar!r}")
    check(op(scalar, A), rwant, f"{scalar!r} {sym} a")


def test_issue_examples(ex, rng):
    a = f32(rng, 1000)
    A, ta = ex.from_numpy(a), torch.from_numpy(a)
    check(2 * A, 2 * ta, "2 * a")
    check(1.0 - A, 1.0 - ta, "1.0 - a")
    check(3 / A, scalar_reference(operator.truediv, 3.0, a), "3 / a")
    np.testing.assert_allclose((3 / A).to_numpy(), (3 / ta).numpy(), rtol=2**-23)
    check(2.0 * A + 1.0, 2.0 * ta + 1.0, "2.0 * a + 1.0")


def test_special_values(ex):
    s = special_values()
    a, b = s.reshape(-1, 1), s.reshape(1, -1)
    with np.errstate(all="ignore"):
        for sym, op in BINARY.items():
            want = op(torch.from_numpy(a), torch.from_numpy(b))
            check(op(ex.from_numpy(a), ex.from_numpy(b)), want, f"special {sym}")


@pytest.mark.parametrize("exponent", [2, 0.5, -1, 3.0, 0, float("nan")])
def test_pow(ex, rng, exponent):
    a = np.abs(f32(rng, 100)) + np.float32(0.1)
    A, ta = ex.from_numpy(a), torch.from_numpy(a)
    got = A**exponent
    ref64 = np.power(a.astype(np.float64), exponent)
    assert_f32_close(got.to_numpy(), ref64, (ta**exponent).numpy(), what=f"a ** {exponent}")
    # the operator and hg.ops.pow run the same kernel
    assert_bitwise(got.to_numpy(), hg.ops.pow(A, exponent).to_numpy())


def test_pow_reflected_and_buffers(ex, rng):
    a, b = f32(rng, 4, 5), f32(rng, 5)
    A, B = ex.from_numpy(a), ex.from_numpy(b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert_f32_close((2**A).to_numpy(), np.power(2.0, a.astype(np.float64)), (2**ta).numpy())
    pos = np.abs(a) + np.float32(0.5)
    P = ex.from_numpy(pos)
    assert_f32_close(
        (P**B).to_numpy(),
        np.power(pos.astype(np.float64), b.astype(np.float64)),
        (torch.from_numpy(pos) ** tb).numpy(),
    )
    with pytest.raises(TypeError, match="pow"):
        pow(A, 2, 3)


def test_unary(ex):
    s = special_values()
    A, ta = ex.from_numpy(s), torch.from_numpy(s)
    check(-A, -ta, "-a")
    check(abs(A), torch.abs(ta), "abs(a)")
    check(-(ex.zeros((0, 3))), -torch.zeros((0, 3)), "-empty")


@pytest.mark.parametrize("sym", INPLACE)
@pytest.mark.parametrize(
    "sa,sb",
    [((1000,), (1000,)), ((6, 5), (5,)), ((6, 5), (6, 1)), ((6, 5), ()), ((2, 3, 4), (3, 1))],
)
def test_inplace(ex, rng, sym, sa, sb):
    iop, op = INPLACE[sym]
    a, b = f32(rng, *sa), f32(rng, *sb)
    A, B = ex.from_numpy(a), ex.from_numpy(b)
    want = op(torch.from_numpy(a), torch.from_numpy(b))
    ident, addr = id(A), np.from_dlpack(A).ctypes.data
    before = ex.memory_stats()
    R = iop(A, B)
    after = ex.memory_stats()
    assert id(R) == ident and np.from_dlpack(A).ctypes.data == addr
    assert after["allocs"] == before["allocs"], "in-place op allocated"
    check(A, want, f"a {sym} b{sb}")


@pytest.mark.parametrize("sym", INPLACE)
def test_inplace_scalar_and_self(ex, rng, sym):
    iop, op = INPLACE[sym]
    a = f32(rng, 33)
    A = ex.from_numpy(a)
    iop(A, 2.5)
    check(A, scalar_reference(op, a, 2.5), f"a {sym} 2.5")
    x = A.to_numpy()
    A2 = iop(A, A)  # the output is exactly both inputs
    check(A2, op(torch.from_numpy(x), torch.from_numpy(x)), f"a {sym} a")


def test_inplace_refusals(ex):
    a = ex.zeros((3,))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        a += ex.zeros((2, 3))
    ai = ex.from_numpy(np.arange(3, dtype=np.int32))
    with pytest.raises(TypeError, match="int32"):
        ai += ex.zeros((3,))
    np.testing.assert_array_equal(ai.to_numpy(), np.arange(3, dtype=np.int32))
    np.testing.assert_array_equal(a.to_numpy(), np.zeros(3, np.float32))


def test_inplace_refuses_partial_overlap(ex):
    # two DLPack views of one tensor that overlap without being equal
    base = torch.arange(8, dtype=torch.float32)
    x = ex.from_dlpack(base[0:4])
    y = ex.from_dlpack(base[2:6])
    with pytest.raises(ValueError, match="overlaps"):
        x += y
    assert base.tolist() == list(range(8))


# ---- dtypes, types and dispatch --------------------------------------------


def test_int_operators(ex):
    a = np.array([-7, 0, 5, 2**31 - 1], dtype=np.int32)
    b = np.array([2, 3, -4, 1], dtype=np.int64)
    A, B = ex.from_numpy(a), ex.from_numpy(b)
    ta, tb = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
    for op in (
        operator.add,
        operator.sub,
        operator.mul,
        operator.truediv,
        operator.lt,
        operator.eq,
    ):
        got, want = op(A, B), op(ta, tb)
        assert got.dtype == want.numpy().dtype
        np.testing.assert_array_equal(got.to_numpy(), want.numpy())
    got = A + 1  # wraps at 32 bits, as PyTorch's int32 does
    np.testing.assert_array_equal(got.to_numpy(), (ta + 1).numpy())
    assert got.dtype == np.int32
    np.testing.assert_array_equal((-A).to_numpy(), (-ta).numpy())
    C = ex.from_numpy(a.copy())
    C += 3
    C *= B.to_numpy().astype(np.int32)[0].item()
    np.testing.assert_array_equal(C.to_numpy(), ((ta + 3) * 2).numpy())
    with pytest.raises(TypeError, match="float32"):
        C += 0.5  # the result would be float32


def test_comparisons(ex, rng):
    a, b = f32(rng, 6, 5), f32(rng, 5)
    a[0, :2] = b[:2]
    a[1, 0] = np.nan
    A, B = ex.from_numpy(a), ex.from_numpy(b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    for op in (operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne):
        for got, want in (
            (op(A, B), op(ta, tb)),
            (op(A, 0.25), op(ta, 0.25)),
            (op(0.25, A), op(0.25, ta)),
        ):
            assert got.dtype == np.bool_ and got.shape == tuple(want.shape)
            np.testing.assert_array_equal(got.to_numpy(), want.numpy())


def test_unknown_operand_types(ex):
    a = ex.zeros((3,))
    for other in ("x", None, [1.0], object(), 1j):
        for op in BINARY.values():
            with pytest.raises(TypeError):
                op(a, other)
            with pytest.raises(TypeError):
                op(other, a)
    assert (a == "x") is False and (a != None) is True  # noqa: E711


def test_notimplemented_lets_the_other_type_answer(ex):
    # a type Buffer does not know gets the reflected call: how a traced
    # value of @hg.jit takes over
    class Traced:
        def __radd__(self, other):
            return ("radd", other)

        def __rmul__(self, other):
            return ("rmul", other)

        def __rtruediv__(self, other):
            return ("rtruediv", other)

        def __gt__(self, other):  # reflected form of other < self
            return ("gt", other)

    a, t = ex.zeros((2,)), Traced()
    assert a + t == ("radd", a)
    assert a * t == ("rmul", a)
    assert a / t == ("rtruediv", a)
    assert (a < t) == ("gt", a)
    b = a
    b += t  # the in-place slot declines too, then the reflected add answers
    assert b == ("radd", a)


def test_hash_by_identity(ex):
    a, b = ex.zeros((2,)), ex.zeros((2,))
    assert hash(a) == hash(a) and hash(a) != hash(b)
    d = {a: 1, b: 2}
    assert d[a] == 1 and d[b] == 2 and len({a, b, a}) == 2


def test_two_executors(ex):
    other = hg.Executor(threads=1)
    a, b = ex.zeros((3,)), other.zeros((3,))
    for op in BINARY.values():
        with pytest.raises(ValueError, match="different executors"):
            op(a, b)
    with pytest.raises(ValueError, match="different executors"):
        a += b
    with pytest.raises(ValueError, match="different executors"):
        a + other.zeros((2, 3))


def test_shape_errors_name_both_shapes(ex):
    for sym, op in BINARY.items():
        with pytest.raises(ValueError) as ei:
            op(ex.zeros((2, 3)), ex.zeros((4,)))
        msg = str(ei.value)
        assert "(2, 3)" in msg and "(4,)" in msg, (sym, msg)


def test_scalar_too_large(ex):
    with pytest.raises(OverflowError):
        ex.zeros((2,)) + 10**400


def test_refcounts_do_not_leak(ex, rng):
    a = ex.from_numpy(f32(rng, 100))
    b = ex.from_numpy(f32(rng, 100))
    c = ex.from_numpy(f32(rng, 100))
    col = ex.from_numpy(f32(rng, 10, 1))
    x = 2.5
    gc.collect()
    base = [sys.getrefcount(o) for o in (a, b, c, col, x)]
    in_use = ex.memory_stats()["bytes_in_use"]
    for _ in range(10_000):
        r = [a + b, 2.0 * a + 1.0, a * col, -a, abs(a), a**2, hg.ops.maximum(a, col), a < b]
        c += b
        with pytest.raises(ValueError):
            r = a + ex.zeros((3,))
        with pytest.raises(TypeError):
            r = a - True
    del r
    gc.collect()
    assert [sys.getrefcount(o) for o in (a, b, c, col, x)] == base
    assert ex.memory_stats()["bytes_in_use"] == in_use


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("sb", [(300,), (4096, 1), (4096, 300), ()])
def test_inplace_large_threads(rng, threads, sb):
    # big enough for the workers: each writes its rows over the rows it reads
    ex = hg.Executor(threads=threads)
    a, b = f32(rng, 4096, 300), f32(rng, *sb)
    A = ex.from_numpy(a)
    A *= ex.from_numpy(b)
    assert_bitwise(A.to_numpy(), a * b, f"threads={threads} *= {sb}")
    A -= A
    assert_bitwise(A.to_numpy(), (a * b) - (a * b), "a -= a")


INT_EDGES = {
    np.int32: [0, 1, -1, 2, -2, 3, 7, -9, 31, 2**31 - 1, -(2**31)],
    np.int64: [0, 1, -1, 2, -2, 3, 7, -9, 31, 63, 2**62, 2**63 - 1, -(2**63)],
}


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("dt", [np.int32, np.int64], ids=lambda d: np.dtype(d).name)
def test_int_pow_abs_neg_against_torch(level, dt):
    # every pair of edge values (wrapping overflow, negative exponents, MIN),
    # at a length with tails at every vector width
    ex = hg.Executor(threads=1, isa=level)
    edges = np.array(INT_EDGES[dt], dtype=dt)
    a, e = (np.tile(v, 3) for v in np.meshgrid(edges, edges))
    a, e = a.ravel().astype(dt), e.ravel().astype(dt)
    A, E = ex.from_numpy(a), ex.from_numpy(e)
    ta, te = torch.from_numpy(a.copy()), torch.from_numpy(e.copy())
    for got, want in [
        (A**E, ta**te),
        (hg.ops.pow(A, E), ta**te),
        (A**3, ta**3),
        (hg.ops.pow(A, 0), ta**0),
        (5**E, 5**te),
        (abs(A), ta.abs()),
        (hg.ops.abs(A), ta.abs()),
        (-A, -ta),
        (hg.ops.neg(A), -ta),
    ]:
        assert got.dtype == want.numpy().dtype
        np.testing.assert_array_equal(got.to_numpy(), want.numpy())
    with pytest.raises(ValueError, match="negative integer powers"):
        A ** (-2)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_bool_arithmetic_against_torch(level):
    ex = hg.Executor(threads=1, isa=level)
    rng = np.random.default_rng(7)
    a = rng.integers(0, 2, 1003).astype(np.bool_)
    b = rng.integers(0, 2, 1003).astype(np.bool_)
    A, B = ex.from_numpy(a), ex.from_numpy(b)
    ta, tb = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
    for got, want in [
        (A + B, ta + tb),
        (A * B, ta * tb),
        (A + True, ta + True),
        (False * A, False * ta),
        (hg.ops.maximum(A, B), torch.maximum(ta, tb)),
        (hg.ops.minimum(A, B), torch.minimum(ta, tb)),
        (A**2, ta**2),
        (A**True, ta**True),
        (A**False, ta**False),
        (A + 2, ta + 2),
    ]:
        assert got.dtype == want.numpy().dtype
        np.testing.assert_array_equal(got.to_numpy(), want.numpy())
    C = ex.from_numpy(a.copy())
    C += B  # in place, stays bool
    np.testing.assert_array_equal(C.to_numpy(), (ta + tb).numpy())
    for bad in (lambda: A - B, lambda: -A, lambda: abs(A), lambda: A**B, lambda: True**A):
        with pytest.raises(TypeError):
            bad()
