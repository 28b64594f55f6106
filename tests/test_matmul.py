"""hg.ops.matmul and ``a @ b``: NumPy's (and PyTorch's) matmul rules.

Every result is checked against NumPy in float64 within the float32 dot
product's error bound (Higham eq. 3.5: gamma_k times |A| @ |B|, as the gemm
tests do) and against torch.matmul within twice that bound, its shape and
dtype against both; small-integer operands, whose products and sums are exact
in float32, check every batch's slice of the operands exactly.
"""

import sys

import numpy as np
import pytest
import torch
from conftest import ISA_PARAMS, RTOL, U32, assert_equal_values

import hologram as hg

# Sizes are odd or prime so that no matrix fills the micro-kernel's rows or
# columns, or a vector register, exactly.
PAIRS = [
    # 2-D @ 2-D
    ((1, 1), (1, 1)),
    ((7, 13), (13, 5)),
    ((31, 17), (17, 29)),
    ((65, 33), (33, 127)),
    ((130, 67), (67, 1)),
    ((1, 257), (257, 3)),
    # matrix-vector, vector-matrix, dot
    ((7, 13), (13,)),
    ((67, 1031), (1031,)),
    ((13,), (13, 5)),
    ((1031,), (1031, 67)),
    ((1,), (1,)),
    ((97,), (97,)),
    ((4099,), (4099,)),
    # batched, and batch axes broadcast by NumPy's rules
    ((3, 7, 13), (3, 13, 5)),
    ((5, 17, 9), (9, 11)),
    ((5, 17, 9), (1, 9, 11)),
    ((1, 7, 13), (4, 13, 5)),
    ((4, 7, 13), (1, 13, 5)),
    ((7, 13), (3, 13, 5)),
    ((2, 3, 5, 7), (3, 7, 4)),
    ((2, 1, 5, 7), (1, 3, 7, 4)),
    ((3, 1, 2, 5, 7), (4, 1, 7, 3)),
    ((13,), (3, 13, 5)),
    ((3, 7, 13), (13,)),
    ((2, 3, 1, 13), (13,)),
]

EMPTY = [
    ((0, 5), (5, 3)),
    ((5, 0), (0, 3)),
    ((5, 3), (3, 0)),
    ((0,), (0,)),
    ((0,), (0, 3)),
    ((3, 0), (0,)),
    ((0, 3, 4), (4, 2)),
    ((2, 3, 0), (2, 0, 4)),
    ((2, 0, 3), (1, 3, 4)),
    ((1, 3, 4), (0, 4, 2)),
]


def _operands(sa, sb, seed, integers=False):
    r = np.random.default_rng(seed)
    if integers:
        return (
            r.integers(-4, 5, sa).astype(np.float32),
            r.integers(-4, 5, sb).astype(np.float32),
        )
    return r.standard_normal(sa).astype(np.float32), r.standard_normal(sb).astype(np.float32)


def check_matmul(got, a, b, what):
    """got is within the dot product's error bound of the float64 product,
    and within twice that bound of torch's (both are within it of the exact
    product); shape and dtype are NumPy's and torch's."""
    got = np.asarray(got)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = np.asarray(a64 @ b64)
    tt = (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()
    assert got.dtype == np.float32, f"{what}: dtype {got.dtype}"
    assert got.shape == ref.shape == tt.shape, f"{what}: shape {got.shape}, want {ref.shape}"
    k = a.shape[-1]
    scale = np.asarray(np.abs(a64) @ np.abs(b64))
    tol = max(RTOL, k * U32 / (1 - k * U32)) * scale
    err = np.abs(got.astype(np.float64) - ref)
    assert np.all(err <= tol), f"{what}: {int(np.sum(err > tol))} elements over the bound"
    assert np.all(np.abs(got.astype(np.float64) - tt) <= 2 * tol), f"{what} vs torch"


def _id(pair):
    return f"{pair[0]}@{pair[1]}".replace(" ", "")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISA_PARAMS())
def test_matmul_values_every_isa(isa, threads):
    ex = hg.Executor(threads=threads, isa=isa)
    for i, (sa, sb) in enumerate(PAIRS):
        a, b = _operands(sa, sb, i)
        A, B = ex.from_numpy(a), ex.from_numpy(b)
        got = A @ B
        check_matmul(got.to_numpy(), a, b, f"{isa} {threads}T {sa} @ {sb}")
        np.testing.assert_array_equal(hg.ops.matmul(A, B).to_numpy(), got.to_numpy())


@pytest.mark.parametrize(("sa", "sb"), PAIRS, ids=[_id(p) for p in PAIRS])
def test_matmul_integers_exact(ex, sa, sb):
    """Every output matrix reads the right slices of a and b (an exact
    result: a wrong offset or a missed broadcast shows as a wrong value)."""
    a, b = _operands(sa, sb, 7, integers=True)
    got = (ex.from_numpy(a) @ ex.from_numpy(b)).to_numpy()
    want = np.asarray(a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32)
    assert_equal_values(got, want, f"{sa} @ {sb}")
    assert got.dtype == np.float32


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    ("sa", "sb"),
    [((4, 97, 301), (4, 301, 151)), ((6, 128, 257), (257, 67)), ((2, 3, 61, 89), (3, 89, 53))],
    ids=["batched", "folded", "broadcast"],
)
def test_matmul_large_batches(sa, sb, threads):
    ex = hg.Executor(threads=threads)
    a, b = _operands(sa, sb, 11)
    check_matmul((ex.from_numpy(a) @ ex.from_numpy(b)).to_numpy(), a, b, f"{sa} @ {sb}")


# Batches the workers split across (small products: the packed kernel, a
# vector times a matrix by depth blocks, a few rows streamed, a matrix times
# a vector, broadcast batch axes) and inside (products of 64 MFLOP or more in
# a batch of 3, which two workers do not divide).
BATCH_SPLITS = [
    ((33, 19, 23), (33, 23, 17)),
    ((9, 1, 517), (9, 517, 131)),
    ((7, 5, 301), (7, 301, 67)),
    ((8, 67, 301), (8, 301, 1)),
    ((2, 3, 31, 43), (3, 43, 29)),
    ((3, 1, 29, 37), (1, 5, 37, 41)),
    ((3, 331, 313), (3, 313, 317)),
]


@pytest.mark.parametrize("isa", ISA_PARAMS())
def test_matmul_batch_split_bits_across_threads(isa):
    """Every batched product is within the float32 bound of the float64
    one, has the bits of hg.ops.gemm on the same matrices, and the same bits
    with 1, 2 and 3 threads."""
    exs = [hg.Executor(threads=t, isa=isa) for t in (1, 2, 3)]
    for i, (sa, sb) in enumerate(BATCH_SPLITS):
        a, b = _operands(sa, sb, 100 + i)
        got = [(ex.from_numpy(a) @ ex.from_numpy(b)).to_numpy() for ex in exs]
        check_matmul(got[0], a, b, f"{isa} {sa} @ {sb}")
        for t, g in zip((2, 3), got[1:], strict=True):
            assert np.array_equal(g.view(np.uint32), got[0].view(np.uint32)), (sa, sb, t)
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        aa = np.broadcast_to(a, (*shape, *a.shape[-2:])).reshape(-1, *a.shape[-2:])
        bb = np.broadcast_to(b, (*shape, *b.shape[-2:])).reshape(-1, *b.shape[-2:])
        flat = got[0].reshape(-1, a.shape[-2], b.shape[-1])
        m, k = aa.shape[1:]
        n = bb.shape[2]
        for j in range(aa.shape[0]):
            one = hg.ops.gemm(
                exs[0].from_numpy(np.ascontiguousarray(aa[j])),
                exs[0].from_numpy(np.ascontiguousarray(bb[j])),
                m=m,
                n=n,
                k=k,
            ).to_numpy()
            assert np.array_equal(one.view(np.uint32), flat[j].view(np.uint32)), (sa, sb, j)


@pytest.mark.parametrize(("sa", "sb"), EMPTY, ids=[_id(p) for p in EMPTY])
def test_matmul_empty(ex, sa, sb):
    """k = 0 gives zeros (an empty sum); m, n or a batch axis of 0 an empty
    result."""
    a, b = _operands(sa, sb, 3)
    got = (ex.from_numpy(a) @ ex.from_numpy(b)).to_numpy()
    want = np.asarray(a.astype(np.float64) @ b.astype(np.float64))
    tt = (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()
    assert got.shape == want.shape == tt.shape
    assert got.dtype == np.float32
    assert_equal_values(got, tt, f"{sa} @ {sb}")
    assert_equal_values(got, want.astype(np.float32), f"{sa} @ {sb}")


def test_matmul_nan_inf(ex):
    a = np.array([[1.0, np.nan], [np.inf, 1.0], [np.inf, -np.inf], [2.0, 3.0]], np.float32)
    b = np.array([[1.0, 0.0, 2.0], [1.0, 1.0, -1.0]], np.float32)
    got = (ex.from_numpy(a) @ ex.from_numpy(b)).to_numpy()
    want = (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()
    assert_equal_values(got, want, "nan/inf")


def test_matmul_results_of_views(ex):
    """reshape's views are ordinary operands."""
    a, b = _operands((6, 35), (3, 7, 4), 5)
    A = ex.from_numpy(a).reshape(2, 3, 5, 7)
    B = ex.from_numpy(b)
    check_matmul((A @ B).to_numpy(), a.reshape(2, 3, 5, 7), b, "views")


def test_matmul_reads_operands_in_place():
    """A batched matmul allocates its result and the gemm's packing space,
    never a copy of an operand: its peak use of the pool over its result is
    that of one gemm of the same matrix shape over its own result."""

    def extra_peak(sa, sb):
        ex = hg.Executor(threads=1)
        a, b = _operands(sa, sb, 1)
        A, B = ex.from_numpy(a), ex.from_numpy(b)
        before = ex.memory_stats()["peak_bytes_in_use"]
        C = A @ B
        return ex.memory_stats()["peak_bytes_in_use"] - before - C.nbytes

    single = extra_peak((64, 256), (256, 64))
    for sa, sb in [((16, 64, 256), (16, 256, 64)), ((16, 64, 256), (256, 64))]:
        assert extra_peak(sa, sb) <= single, (sa, sb)


# ---- errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sa", "sb"),
    [((3, 4), (5, 6)), ((3, 4), (5,)), ((4,), (5, 6)), ((4,), (5,)), ((2, 3, 4), (2, 5, 6))],
)
def test_matmul_inner_mismatch(ex, sa, sb):
    a, b = ex.zeros(sa), ex.zeros(sb)
    for call in (lambda: a @ b, lambda: hg.ops.matmul(a, b)):
        with pytest.raises(ValueError, match="matmul") as e:
            call()
        assert f"shapes {sa} and {sb}" in str(e.value)
    with pytest.raises(RuntimeError):
        torch.zeros(sa) @ torch.zeros(sb)  # torch refuses the same shapes


def test_matmul_batch_axes_must_broadcast(ex):
    with pytest.raises(ValueError, match=r"matmul: .*\(2, 3, 4\) and \(3, 4, 5\)"):
        ex.zeros((2, 3, 4)) @ ex.zeros((3, 4, 5))
    with pytest.raises(ValueError, match=r"\(2, 2, 3, 4\) and \(3, 1, 4, 5\)"):
        hg.ops.matmul(ex.zeros((2, 2, 3, 4)), ex.zeros((3, 1, 4, 5)))


@pytest.mark.parametrize(("sa", "sb"), [((), (3,)), ((3,), ()), ((), ()), ((), (2, 3))])
def test_matmul_zero_dim_refused(ex, sa, sb):
    with pytest.raises(RuntimeError, match="at least 1D"):
        torch.zeros(sa) @ torch.zeros(sb)
    with pytest.raises(ValueError, match=r"matmul: both arguments need at least one dimension"):
        ex.zeros(sa) @ ex.zeros(sb)


@pytest.mark.parametrize(
    ("da", "db"), [("int32", "float32"), ("float32", "int64"), ("bool", "bool")]
)
def test_matmul_dtypes_refused(ex, da, db):
    a, b = ex.zeros((2, 3), dtype=da), ex.zeros((3, 2), dtype=db)
    with pytest.raises(TypeError, match=f"matmul: a and b must be float32, got {da} and {db}"):
        a @ b
    with pytest.raises(TypeError, match="matmul"):
        hg.ops.matmul(a, b)


def test_matmul_operands_of_other_types(ex):
    a = ex.zeros((2, 2))
    with pytest.raises(TypeError, match="@"):
        a @ 2
    with pytest.raises(TypeError, match="@"):
        [[1.0]] @ a
    with pytest.raises(TypeError, match="matmul: argument 'b' must be a hologram.Buffer"):
        hg.ops.matmul(a, np.zeros((2, 2), np.float32))
    with pytest.raises(TypeError, match="matmul: argument 'a' must be a hologram.Buffer"):
        hg.ops.matmul(None, a)


def test_matmul_defers_to_the_other_operand(ex):
    """@ returns NotImplemented for an operand it does not know, so that the
    operand's own __rmatmul__ / __matmul__ runs (a traced value, later)."""

    class Traced:
        def __rmatmul__(self, other):
            return ("r", other)

        def __matmul__(self, other):
            return ("l", other)

    a = ex.zeros((2, 2))
    assert hg.Buffer.__matmul__(a, Traced()) is NotImplemented
    assert a @ Traced() == ("r", a)
    assert Traced() @ a == ("l", a)


def test_matmul_buffers_of_two_executors(ex):
    other = hg.Executor(threads=1)
    with pytest.raises(ValueError, match="matmul: buffers belong to different executors"):
        ex.zeros((2, 2)) @ other.zeros((2, 2))


def test_matmul_refcounts_and_memory_steady(ex):
    a, b = ex.from_numpy(np.ones((3, 5, 4), np.float32)), ex.from_numpy(np.ones(4, np.float32))
    bad = ex.zeros((5, 3))
    for _ in range(10):  # warm the pool's free lists
        a @ b
    refs = (sys.getrefcount(a), sys.getrefcount(b), sys.getrefcount(bad))
    in_use = ex.memory_stats()["bytes_in_use"]
    for _ in range(10_000):
        c = a @ b
        d = hg.ops.matmul(a, b)
        try:
            a @ bad
        except ValueError:
            pass
    del c, d
    assert (sys.getrefcount(a), sys.getrefcount(b), sys.getrefcount(bad)) == refs
    assert ex.memory_stats()["bytes_in_use"] == in_use
