"""Broadcasting by NumPy's rules for every binary op (operators and hg.ops),
checked against PyTorch on values, shapes and dtypes.

The exact ops (add, sub, mul, div, maximum, minimum) must be bitwise equal to
PyTorch's float32 result; pow within the suite's tolerance of PyTorch and of
float64.  A broadcast operand is read by load.row, load.col or as a scalar
param, never materialised: hg.ops.broadcast_ir shows which, and its text is a
kernel that hg.Kernel parses and verifies."""

import operator

import numpy as np
import pytest
import torch
from conftest import assert_bitwise, assert_f32_close, special_values
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hologram as hg

# every broadcast pattern the issue names, and the harder ones: outer loops
# over leading dims, size-1 dims anywhere, empty results
PATTERNS = [
    ((5,), (5,)),
    ((3, 4), ()),
    ((), (3, 4)),
    ((3, 4), (4,)),  # trailing vector: load.col
    ((2, 3, 4), (4,)),
    ((3, 4), (1, 4)),
    ((3, 4), (3, 1)),  # keepdims column: load.row
    ((7, 1), (1, 9)),  # outer: load.row and load.col
    ((3, 1), (3, 4)),
    ((4,), (3, 4)),
    ((1,), (4, 3)),
    ((2, 1, 4), (1, 3, 4)),  # an outer loop of launches
    ((2, 3, 4), (2, 1, 1)),
    ((2, 1, 3, 1), (4, 1, 5)),
    ((2, 3, 1, 5), (3, 4, 1)),
    ((1, 1, 1), (2, 1, 3)),
    ((0, 3), (3,)),
    ((4, 0), (4, 1)),
    ((1, 5), (0, 1)),
    ((1000, 33), (33,)),
    ((33, 1000), (33, 1)),
    ((3, 1025), (3, 1)),
]

EXACT = {
    "add": (operator.add, hg.ops.vector_add, torch.add),
    "sub": (operator.sub, hg.ops.vector_sub, torch.sub),
    "mul": (operator.mul, hg.ops.vector_mul, torch.mul),
    "div": (operator.truediv, hg.ops.vector_div, torch.div),
    "maximum": (None, hg.ops.maximum, torch.maximum),
    "minimum": (None, hg.ops.minimum, torch.minimum),
}


def data(rng, shape, positive=False):
    x = np.asarray(rng.standard_normal(shape), dtype=np.float32)
    return np.asarray(np.abs(x) + np.float32(0.5)) if positive else x


def check_exact(got, want, what):
    assert got.shape == tuple(want.shape), what
    assert got.dtype == np.float32, what
    assert_bitwise(got.to_numpy(), want.numpy(), what)


@pytest.mark.parametrize("sa,sb", PATTERNS, ids=str)
@pytest.mark.parametrize("name", EXACT)
def test_exact_ops_broadcast(ex, rng, name, sa, sb):
    op, fn, ref = EXACT[name]
    a, b = data(rng, sa), data(rng, sb)
    want = ref(torch.from_numpy(a), torch.from_numpy(b))
    A, B = ex.from_numpy(a), ex.from_numpy(b)
    check_exact(fn(A, B), want, f"hg.ops.{name}{sa}{sb}")
    if op is not None:
        check_exact(op(A, B), want, f"operator {name}{sa}{sb}")


@pytest.mark.parametrize("sa,sb", PATTERNS, ids=str)
def test_pow_broadcast(ex, rng, sa, sb):
    a, b = data(rng, sa, positive=True), data(rng, sb)
    want = torch.pow(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    ref64 = np.power(a.astype(np.float64), b.astype(np.float64))
    A, B = ex.from_numpy(a), ex.from_numpy(b)
    for got in (hg.ops.pow(A, B), A**B):
        assert got.shape == want.shape
        assert_f32_close(got.to_numpy(), ref64, want, what=f"pow{sa}{sb}")


def test_same_shape_is_the_op_itself(ex, rng):
    # same-shape float32 buffers run vector_add's own kernel: bit-identical
    a, b = data(rng, (1000,)), data(rng, (1000,))
    A, B = ex.from_numpy(a), ex.from_numpy(b)
    assert_bitwise((A + B).to_numpy(), hg.ops.vector_add(A, B).to_numpy())
    assert_bitwise((A + B).to_numpy(), a + b)


@pytest.mark.parametrize("level", ["baseline", "avx2", "avx512"])
@pytest.mark.parametrize(
    "sa,sb", [((37, 1), (1, 45)), ((5, 1030), (1030,)), ((9, 3, 17), (9, 1, 1))]
)
def test_every_isa_level(level, sa, sb):
    if level not in hg.cpu_info()["isa_supported"]:
        pytest.skip(f"CPU lacks {level}")
    ex = hg.Executor(threads=1, isa=level)
    rng = np.random.default_rng(7)
    a, b = data(rng, sa), data(rng, sb)
    for name, (_, fn, ref) in EXACT.items():
        want = ref(torch.from_numpy(a), torch.from_numpy(b))
        check_exact(fn(ex.from_numpy(a), ex.from_numpy(b)), want, f"{level} {name}")


@pytest.mark.parametrize(
    "sa,sb", [((4096, 512), (512,)), ((2048, 300), (2048, 1)), ((64, 1, 2048), (1, 32, 1))]
)
def test_threads_bit_identical(rng, sa, sb):
    a, b = data(rng, sa), data(rng, sb)
    outs = []
    for threads in (1, 2):
        ex = hg.Executor(threads=threads)
        outs.append((ex.from_numpy(a) * ex.from_numpy(b)).to_numpy())
    assert_bitwise(outs[1], outs[0])
    assert_bitwise(outs[0], a * b)


def test_special_values_outer(ex):
    s = special_values()
    a, b = s.reshape(-1, 1), s.reshape(1, -1)
    A, B = ex.from_numpy(a), ex.from_numpy(b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    with np.errstate(all="ignore"):
        for name, (_, fn, ref) in EXACT.items():
            check_exact(fn(A, B), ref(ta, tb), f"special {name}")


def test_nan_propagates_through_maximum_minimum(ex):
    a = ex.from_numpy(np.array([[np.nan], [1.0]], np.float32))
    b = ex.from_numpy(np.array([0.0, np.nan, 2.0], np.float32))
    want = [[np.nan, np.nan, np.nan], [1.0, np.nan, 2.0]]
    np.testing.assert_array_equal(hg.ops.maximum(a, b).to_numpy(), np.array(want, np.float32))
    want = [[np.nan, np.nan, np.nan], [0.0, np.nan, 1.0]]
    np.testing.assert_array_equal(hg.ops.minimum(a, b).to_numpy(), np.array(want, np.float32))


@pytest.mark.parametrize("scalar", [2, 2.5, -0.0, float("inf"), float("nan"), True, 1e300])
def test_python_scalars(ex, rng, scalar):
    a = data(rng, (3, 5))
    A, ta = ex.from_numpy(a), torch.from_numpy(a)
    with np.errstate(all="ignore"):
        for name in ("maximum", "minimum"):
            _, fn, ref = EXACT[name]
            tscalar = torch.tensor(float(scalar), dtype=torch.float32)
            check_exact(fn(A, scalar), ref(ta, tscalar), f"{name}(a, {scalar})")
            check_exact(fn(scalar, A), ref(tscalar, ta), f"{name}({scalar}, a)")


def test_zero_dim_buffers(ex):
    s = ex.from_numpy(np.array(3.0, np.float32))
    a = ex.from_numpy(np.arange(4, dtype=np.float32))
    assert (s * a).shape == (4,)
    np.testing.assert_array_equal((s * a).to_numpy(), np.arange(4, dtype=np.float32) * 3)
    r = s + s
    assert r.shape == () and r.item() == 6.0
    one = ex.from_numpy(np.array([[2.0]], np.float32))
    assert (one - s).shape == (1, 1) and (one - s).to_numpy()[0, 0] == -1.0


# ---- which kernel runs: the IR ------------------------------------------


@pytest.mark.parametrize(
    "sa,sb,loads",
    [
        ((3, 4), (3, 4), ("load a", "load b")),
        ((3, 4), (4,), ("load a", "load.col b")),
        ((3, 4), (3, 1), ("load a", "load.row b")),
        ((7, 1), (1, 9), ("load.row a", "load.col b")),
        ((3, 4), (), ("load a", "param b")),
        ((2, 1, 4), (1, 3, 4), ("load.col a", "load b")),
    ],
)
def test_broadcast_ir(ex, sa, sb, loads):
    A, B = ex.zeros(sa), ex.zeros(sb)
    text = hg.ops.broadcast_ir("add", A, B)
    for load in loads:
        assert f"= {load}\n" in text, text
    k = hg.Kernel(text)  # parses and verifies
    assert [p[0] for p in k.params] == ["a", "b", "y"]


def test_broadcast_ir_scalar_and_where(ex):
    A = ex.zeros((3, 4))
    text = hg.ops.broadcast_ir("mul", 2.0, A)
    assert "a: f32 scalar" in text and "= param a" in text and "= load b" in text
    hg.Kernel(text)
    with pytest.raises(ValueError, match="broadcast_ir"):
        hg.ops.broadcast_ir("nope", A, A)


# ---- hypothesis ------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=5, max_side=5),
    name=st.sampled_from(sorted(EXACT)),
    seed=st.integers(0, 2**32 - 1),
)
def test_hypothesis_broadcastable(shapes, name, seed):
    ex = _EX
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a, b = data(rng, sa), data(rng, sb)
    _, fn, ref = EXACT[name]
    got = fn(ex.from_numpy(a), ex.from_numpy(b))
    assert got.shape == shapes.result_shape
    check_exact(got, ref(torch.from_numpy(a), torch.from_numpy(b)), f"{name}{sa}{sb}")


_EX = hg.Executor(threads=1)


@st.composite
def incompatible_shapes(draw):
    sa = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6))
    sb = list(draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6)))
    # make one aligned pair of dims disagree (neither of them 1)
    k = draw(st.integers(1, min(len(sa), len(sb))))
    da = sa[-k]
    choices = [d for d in range(0, 7) if d != da and d != 1]
    if da == 1:
        sa = sa[:-k] + (2,) + (sa[len(sa) - k + 1 :] if k > 1 else ())
        choices = [d for d in range(0, 7) if d not in (1, 2)]
    sb[-k] = draw(st.sampled_from(choices))
    return tuple(sa), tuple(sb)


@settings(max_examples=100, deadline=None)
@given(shapes=incompatible_shapes(), name=st.sampled_from(sorted(EXACT)))
def test_hypothesis_not_broadcastable(shapes, name):
    sa, sb = shapes
    with pytest.raises(ValueError):
        np.broadcast_shapes(sa, sb)
    ex = _EX
    _, fn, _ = EXACT[name]
    with pytest.raises(ValueError) as ei:
        fn(ex.zeros(sa), ex.zeros(sb))
    msg = str(ei.value)
    assert msg.startswith(fn.__name__), msg
    assert str(sa) in msg and str(sb) in msg, msg


def test_every_reachable_kernel_verifies(ex):
    # every op over every pattern (and with Python scalars on either side):
    # the generated kernel parses and verifies, and names its op and modes
    names = ["add", "sub", "mul", "div", "pow", "maximum", "minimum"]
    seen = set()
    for sa, sb in PATTERNS:
        for a, b in ((ex.zeros(sa), ex.zeros(sb)), (2.0, ex.zeros(sb)), (ex.zeros(sa), 3)):
            for name in names:
                text = hg.ops.broadcast_ir(name, a, b)
                k = hg.Kernel(text)
                op, reads, computes = k.name.split("_")
                assert op == name and computes == "f"
                seen.add(reads[0] + reads[2])
    # full, row, column and scalar reads, in every reachable pairing
    assert seen >= {"ff", "fr", "rf", "fc", "cf", "rc", "cr", "fs", "sf"}, seen


COMPARE = {
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
}
DTYPES = [np.float32, np.int32, np.int64, np.bool_]


def typed(rng, dtype, shape):
    if dtype == np.bool_:
        return np.asarray(rng.integers(0, 2, shape), dtype=np.bool_)
    if dtype == np.float32:
        x = np.asarray(rng.integers(-3, 4, shape), dtype=np.float32)  # equal values occur
        return np.where(rng.random(shape) < 0.1, np.float32(np.nan), x).astype(np.float32)
    return np.asarray(rng.integers(-3, 4, shape), dtype=dtype)


def check_torch(got, want, what):
    want = want.numpy()
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_array_equal(got.to_numpy(), want, err_msg=what)


@pytest.mark.parametrize(
    "sa,sb",
    [
        ((3, 4), (4,)),
        ((3, 4), (3, 1)),
        ((7, 1), (1, 9)),
        ((5,), ()),
        ((2, 1, 3), (4, 1)),
        ((0, 2), (2,)),
    ],
    ids=str,
)
@pytest.mark.parametrize("db", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("da", DTYPES, ids=lambda d: np.dtype(d).name)
def test_dtypes_against_torch(ex, rng, da, db, sa, sb):
    # every operator over every pair of dtypes: PyTorch's result dtype and
    # values, or a TypeError where PyTorch refuses too (bool subtraction)
    a, b = typed(rng, da, sa), typed(rng, db, sb)
    A, B = ex.from_numpy(a), ex.from_numpy(b)
    ta, tb = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
    ops = dict(COMPARE, add=operator.add, sub=operator.sub, mul=operator.mul, div=operator.truediv)
    ops.update(maximum=hg.ops.maximum, minimum=hg.ops.minimum, pow=operator.pow)
    for name, op in ops.items():
        tref = {"maximum": torch.maximum, "minimum": torch.minimum}.get(name, op)
        try:
            want = tref(ta, tb)
        except RuntimeError:
            with pytest.raises(TypeError, match=name if name in ("maximum", "minimum") else None):
                op(A, B)
            continue
        if name == "pow" and want.dtype == torch.float32:
            continue  # float pow is approximate: tests/test_ops.py and test_operators.py
        # bool + and * are or and and; integer ** wraps, negative exponents as PyTorch's
        check_torch(op(A, B), want, f"{name} {a.dtype}{sa} {b.dtype}{sb}")


@pytest.mark.parametrize("scalar", [2, -3, 2.5, True, 0])
@pytest.mark.parametrize("da", DTYPES, ids=lambda d: np.dtype(d).name)
def test_dtypes_with_python_numbers(ex, rng, da, scalar):
    a = typed(rng, da, (3, 5))
    A, ta = ex.from_numpy(a), torch.from_numpy(a.copy())
    ops = dict(COMPARE, add=operator.add, sub=operator.sub, mul=operator.mul, div=operator.truediv)
    ops.update(pow=operator.pow)
    for name, op in ops.items():
        for left in (True, False):
            args, targs = ((A, scalar), (ta, scalar)) if left else ((scalar, A), (scalar, ta))
            what = f"{name} {a.dtype} {scalar!r} left={left}"
            try:
                want = op(*targs)
            except RuntimeError as e:
                # PyTorch refuses bool subtraction (a type error here) and an
                # integer to a negative integer power (a value error)
                refused = ValueError if "negative integer powers" in str(e) else TypeError
                with pytest.raises(refused):
                    op(*args)
                continue
            if name == "pow" and want.dtype == torch.float32:
                continue  # float pow is approximate: tests/test_ops.py and test_operators.py
            if name == "div":
                # PyTorch divides by a number as a * (1 / s), and s / a as
                # s * (1 / a): two roundings; the reference is the quotient
                # of the float32 operands, correctly rounded
                x, y = (np.asarray(v, dtype=np.float32).astype(np.float64) for v in (a, scalar))
                with np.errstate(all="ignore"):
                    q = x / y if left else y / x
                    want = torch.from_numpy(np.asarray(q.astype(np.float32)))
            check_torch(op(*args), want, what)


def test_zero_dim_tensors_do_not_promote_within_a_category(ex):
    # PyTorch: a 0-d tensor counts below dimensioned ones, above Python numbers
    a = ex.from_numpy(np.arange(4, dtype=np.int32))
    s64 = ex.from_numpy(np.array(3, dtype=np.int64))
    sf = ex.from_numpy(np.array(0.5, dtype=np.float32))
    assert (a + s64).dtype == np.int32 and (a + sf).dtype == np.float32
    one = ex.from_numpy(np.array([3], dtype=np.int64))  # dimensioned: promotes
    assert (a + one).dtype == np.int64
    np.testing.assert_array_equal((a * sf).to_numpy(), np.arange(4, dtype=np.float32) * 0.5)
    with pytest.raises(OverflowError, match="int32"):
        a + 2**40
    np.testing.assert_array_equal((a**2).to_numpy(), np.arange(4) ** 2)
    assert (a**2).dtype == np.int32 and (a**s64).dtype == np.int32


@pytest.mark.parametrize(
    "sc,sa,sb",
    [
        ((3, 4), (3, 4), (3, 4)),
        ((3, 4), (4,), ()),
        ((3, 1), (1, 4), (3, 4)),
        ((), (2, 3), (3,)),
        ((1,), (5,), (5,)),
        ((2, 1, 3), (4, 1), (1,)),
    ],
    ids=str,
)
@pytest.mark.parametrize("dt", DTYPES, ids=lambda d: np.dtype(d).name)
def test_where_against_torch(ex, rng, sc, sa, sb, dt):
    c = typed(rng, np.bool_, sc)
    a, b = typed(rng, dt, sa), typed(rng, dt, sb)
    want = torch.where(
        torch.from_numpy(c.copy()), torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
    )
    check_torch(
        hg.ops.where(ex.from_numpy(c), ex.from_numpy(a), ex.from_numpy(b)), want, f"where {dt}"
    )
    # Python numbers as either value
    want = torch.where(torch.from_numpy(c.copy()), torch.from_numpy(a.copy()), 7)
    check_torch(hg.ops.where(ex.from_numpy(c), ex.from_numpy(a), 7), want, f"where {dt}, 7")


def test_where_bad_condition(ex):
    with pytest.raises(TypeError, match="bool"):
        hg.ops.where(ex.zeros((3,)), 1.0, 2.0)
    with pytest.raises(TypeError, match="bool"):
        hg.ops.where(True, ex.zeros((3,)), 2.0)
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        hg.ops.where(ex.from_numpy(np.ones(2, np.bool_)), ex.zeros((3,)), 2.0)


def test_comparison_kernels_store_bool(ex):
    text = hg.ops.broadcast_ir("lt", ex.zeros((2, 3)), ex.from_numpy(np.arange(3, dtype=np.int32)))
    assert "y: bool" in text and "cast.f32" in text and "load.col b" in text
    hg.Kernel(text)
