"""GEMM at every shape: the streaming path (a vector times a matrix, a matrix
times a vector, a few rows of A) and transposed operands, against a float64
reference, at every ISA level and with 1, 2 and 3 threads.

``hg.ops.gemm(a, b, m=, n=, k=, trans_a=, trans_b=)`` computes ``A @ B`` with
``a`` holding ``A`` (m, k) or, with trans_a, its transpose (k, m); ``b`` holding
``B`` (k, n) or, with trans_b, its transpose (n, k).  Every element is checked
against the rigorous float32 dot-product bound gamma_k * (|A| @ |B|) (Higham
eq. 3.5), floored at the suite's RTOL as in test_ops.check_gemm.
"""

import itertools

import numpy as np
import pytest
from conftest import ISA_PARAMS, RTOL, U32

import hologram as hg

TRANS = list(itertools.product([False, True], repeat=2))
THREADS = (1, 2, 3)
_EXECUTORS = {}


def executor(isa, threads):
    key = (isa, threads)
    if key not in _EXECUTORS:
        _EXECUTORS[key] = hg.Executor(threads=threads, isa=isa)
    return _EXECUTORS[key]


def operands(m, n, k, seed):
    r = np.random.default_rng(seed)
    return (
        r.standard_normal((m, k)).astype(np.float32),
        r.standard_normal((k, n)).astype(np.float32),
    )


def gemm(ex, A, B, ta, tb):
    """A @ B through hg.ops.gemm, each operand stored transposed when asked."""
    m, k = A.shape
    n = B.shape[1]
    a = np.ascontiguousarray(A.T) if ta else A
    b = np.ascontiguousarray(B.T) if tb else B
    out = hg.ops.gemm(ex.from_numpy(a), ex.from_numpy(b), m=m, n=n, k=k, trans_a=ta, trans_b=tb)
    assert out.shape == (m, n) and out.dtype == np.float32
    return out.to_numpy()


def check(got, A, B, what):
    k = A.shape[1]
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    ref = A64 @ B64
    gk = k * U32 / (1 - k * U32)
    tol = max(RTOL, gk) * (np.abs(A64) @ np.abs(B64))
    err = np.abs(got.astype(np.float64) - ref)
    assert np.all(err <= tol), f"{what}: {int(np.sum(err > tol))} elements over the bound"


def check_threads(isa, A, B, ta, tb, what):
    """Within the bound on one thread, and the same bits on 2 and 3."""
    one = gemm(executor(isa, 1), A, B, ta, tb)
    check(one, A, B, what)
    for t in THREADS[1:]:
        other = gemm(executor(isa, t), A, B, ta, tb)
        assert np.array_equal(one.view(np.uint32), other.view(np.uint32)), f"{what}: {t} threads"


DIMS = [1, 2, 3, 15, 16, 17]


@pytest.mark.parametrize("isa", ISA_PARAMS())
@pytest.mark.parametrize("k", [1, 7, 1000, 4099])
@pytest.mark.parametrize("m", DIMS)
def test_small_dims_every_trans(isa, m, k):
    """m, n in {1, 2, 3, 15, 16, 17} (tails of every vector width and of the
    micro-kernel), every depth, every pair of flags."""
    for n in DIMS:
        A, B = operands(m, n, k, seed=m * 1000 + n * 10 + k)
        for ta, tb in TRANS:
            check_threads(isa, A, B, ta, tb, f"{isa} {m}x{n}x{k} ta={ta} tb={tb}")


# Tall-skinny, wide, large-k, tiny and shapes large enough for several tasks
# and workers on every path.
SHAPES = [
    (4099, 1, 7),  # matrix x vector, tall
    (5003, 1, 1000),  # matrix x vector, several tasks
    (1, 4099, 7),  # vector x matrix, wide
    (1, 9001, 513),  # vector x matrix, several tasks, two depth blocks
    (7, 4099, 700),  # a few rows, several tasks
    (16, 3001, 1003),  # the largest m of the streaming path, three depth blocks
    (17, 2053, 257),  # just past it: the packed path
    (131, 1999, 300),  # few rows, many columns: workers split the columns
    (2, 3, 20011),  # large k
    (1, 1, 4099),  # a dot product
    (1, 1, 1),
    (3, 2, 1),
    (1023, 5, 31),  # tall with a few columns
    (129, 67, 1),
]


@pytest.mark.parametrize("isa", ISA_PARAMS())
@pytest.mark.parametrize(("m", "n", "k"), SHAPES)
@pytest.mark.parametrize(("ta", "tb"), TRANS)
def test_shapes(isa, m, n, k, ta, tb):
    A, B = operands(m, n, k, seed=m + 7 * n + 13 * k)
    check_threads(isa, A, B, ta, tb, f"{isa} {m}x{n}x{k} ta={ta} tb={tb}")


@pytest.mark.parametrize(
    ("m", "n", "k"), [(0, 5, 3), (5, 0, 3), (0, 0, 0), (3, 5, 0), (1, 7, 0), (7, 1, 0)]
)
@pytest.mark.parametrize(("ta", "tb"), TRANS)
def test_empty(m, n, k, ta, tb):
    """Empty operands: an empty result, or zeros when only k is 0."""
    for t in THREADS:
        A, B = operands(m, n, k, seed=1)
        got = gemm(executor("baseline", t), A, B, ta, tb)
        assert got.shape == (m, n)
        assert np.array_equal(got, np.zeros((m, n), np.float32))


@pytest.mark.parametrize("isa", ISA_PARAMS())
@pytest.mark.parametrize("m", [2, 3, 15, 16])
@pytest.mark.parametrize(("n", "k"), [(2, 7), (17, 1000), (300, 385), (45, 4099)])
def test_row_streaming_matches_packed_bits(isa, m, n, k):
    """For m <= 16 the row-streaming path computes each element as the same
    chain of FMAs, in the same depth blocks, as the packed micro-kernel: its
    bits equal those of the packed path, which serves A and B both
    transposed at these shapes."""
    A, B = operands(m, n, k, seed=m * n + k)
    for t in THREADS:
        ex = executor(isa, t)
        streamed = gemm(ex, A, B, False, False)
        packed = gemm(ex, A, B, True, True)
        assert np.array_equal(streamed.view(np.uint32), packed.view(np.uint32)), (m, n, k, t)


@pytest.mark.parametrize("isa", ISA_PARAMS())
@pytest.mark.parametrize(
    ("m", "n", "k"), [(17, 37, 9), (45, 77, 300), (23, 3103, 389), (130, 259, 1031)]
)
def test_transposed_pack_matches_plain_bits(isa, m, n, k):
    """Past the streaming path (m > 16) a transposed B is packed through
    register transposes of its stored rows, a transposed A element by
    element: the packed slivers, and so the bits, equal those of the plain
    layouts (n past one NC panel, k in two depth blocks with tails of the
    transpose block, partial slivers).  With 23 rows, and 130 at the AVX2
    level, one block of rows meets each B panel, so the transposed B is
    packed a sliver at a time just before its use (gemm_tile's by_sliver);
    the second panel of n = 3103 is narrow enough to read A in place."""
    A, B = operands(m, n, k, seed=m + n + k)
    for t in THREADS:
        ex = executor(isa, t)
        plain = gemm(ex, A, B, False, False)
        check(plain, A, B, f"{isa} {m}x{n}x{k}")
        assert np.array_equal(gemm(ex, A, B, False, True).view(np.uint32), plain.view(np.uint32))
        both = gemm(ex, A, B, True, True)
        assert np.array_equal(gemm(ex, A, B, True, False).view(np.uint32), both.view(np.uint32))
        check(both, A, B, f"{isa} {m}x{n}x{k} ta")


def test_integer_exact_every_path():
    """Small integers: every product and partial sum is exact, so every path
    and every flag gives the exact product."""
    r = np.random.default_rng(5)
    ex = executor("baseline", 2)
    for m, n, k in [(1, 333, 130), (333, 1, 130), (9, 333, 130), (33, 65, 130)]:
        A = r.integers(-4, 5, (m, k)).astype(np.float32)
        B = r.integers(-4, 5, (k, n)).astype(np.float32)
        want = (A.astype(np.int64) @ B.astype(np.int64)).astype(np.float32)
        for ta, tb in TRANS:
            assert np.array_equal(gemm(ex, A, B, ta, tb), want), (m, n, k, ta, tb)


def test_special_values_propagate():
    """inf and NaN in the streamed operand reach exactly the outputs they
    feed, on the streaming paths and their flags."""
    ex = (
        executor("avx2", 1) if "avx2" in hg.cpu_info()["isa_supported"] else executor("baseline", 1)
    )
    for m, n, k in [(1, 40, 33), (40, 1, 33), (5, 40, 33)]:
        A = np.ones((m, k), np.float32)
        B = np.ones((k, n), np.float32)
        if n > 1:
            B[3, 7] = np.nan
            B[4, 9] = np.inf
        else:
            A[7, 3] = np.nan
            A[9, 4] = np.inf
        ref = A.astype(np.float64) @ B.astype(np.float64)
        for ta, tb in TRANS:
            got = gemm(ex, A, B, ta, tb)
            assert np.array_equal(np.isnan(got), np.isnan(ref)), (m, n, k, ta, tb)
            assert np.array_equal(np.isposinf(got), np.isposinf(ref)), (m, n, k, ta, tb)


def test_x_at_w_transposed_is_linear():
    """x @ W.T with W stored (out_features, in_features), as nn.Linear keeps
    it, against torch.nn.functional.linear."""
    import torch

    r = np.random.default_rng(3)
    ex = executor("baseline", 1)
    for batch in (1, 4, 33):
        x = r.standard_normal((batch, 300)).astype(np.float32)
        W = r.standard_normal((77, 300)).astype(np.float32)
        got = hg.ops.gemm(
            ex.from_numpy(x), ex.from_numpy(W), m=batch, n=77, k=300, trans_b=True
        ).to_numpy()
        check(got, x, W.T, f"linear {batch}")
        want = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(W)).numpy()
        gk = 300 * U32 / (1 - 300 * U32)
        tol = 2 * gk * (np.abs(x.astype(np.float64)) @ np.abs(W.T.astype(np.float64)))
        assert np.all(np.abs(got.astype(np.float64) - want) <= tol)


# ---- the IR ------------------------------------------------------------------

GEMM_TEXT = "kernel g(a: f32, b: f32, c: f32, k: i64 scalar) {{\n  gemm a, b, c, k{}\n}}\n"


@pytest.mark.parametrize("flags", ["", " trans_a", " trans_b", " trans_a trans_b"])
def test_ir_text_carries_the_flags(flags):
    k = hg.Kernel(GEMM_TEXT.format(flags))
    assert str(k) == GEMM_TEXT.format(flags)
    assert str(hg.Kernel(str(k))) == str(k)


def test_ir_flags_in_any_order_print_in_one():
    k = hg.Kernel(GEMM_TEXT.format(" trans_b trans_a"))
    assert str(k) == GEMM_TEXT.format(" trans_a trans_b")


@pytest.mark.parametrize(
    ("flags", "msg"),
    [
        (" trans_c", "unknown gemm flag 'trans_c'"),
        (" trans_b trans_b", "gemm flag 'trans_b' given twice"),
    ],
)
def test_ir_bad_flags(flags, msg):
    with pytest.raises(ValueError, match=msg):
        hg.Kernel(GEMM_TEXT.format(flags))


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("gemm", ""),
        ("gemm_ta", " trans_a"),
        ("gemm_tb", " trans_b"),
        ("gemm_tatb", " trans_a trans_b"),
    ],
)
def test_stdlib_kernels(name, flags):
    assert hg.ops.kernel_ir(name) == GEMM_TEXT.format(flags).replace("kernel g(", f"kernel {name}(")


def test_user_kernel_with_flags_launches():
    """A user kernel with trans_b runs the same GEMM as hg.ops.gemm."""
    ex = executor("baseline", 1)
    k = hg.Kernel(GEMM_TEXT.format(" trans_b"))
    A, B = operands(5, 9, 11, seed=4)
    a, bt = ex.from_numpy(A), ex.from_numpy(np.ascontiguousarray(B.T))
    c = ex.from_numpy(np.zeros((5, 9), np.float32))
    ex.launch(k, a, bt, c, 11, rows=5, cols=9)
    assert np.array_equal(c.to_numpy(), gemm(ex, A, B, False, True))


@pytest.mark.parametrize("isa", ISA_PARAMS())
@pytest.mark.parametrize(("n", "k"), [(5, 7), (300, 385), (4099, 1000), (33, 4099)])
def test_vector_times_matrix_matches_rows_bits(isa, n, k):
    """A vector times a matrix splits the depth into the packed kernel's depth
    blocks and adds their sums in the same order: its bits equal row 0 of a
    two-row product (the row-streaming path, whose bits equal the packed
    kernel's)."""
    A, B = operands(2, n, k, seed=n + k)
    for t in THREADS:
        ex = executor(isa, t)
        two = gemm(ex, A, B, False, False)
        one = gemm(ex, A[:1], B, False, False)
        assert np.array_equal(one.view(np.uint32), two[:1].view(np.uint32)), (n, k, t)


@pytest.mark.parametrize("isa", ISA_PARAMS())
def test_streamed_operand_from_memory_keeps_bits(isa):
    """A matrix times a vector and a vector times a stored transpose read a
    streamed operand of 8 MiB or more ahead of its rows (prefetched into L2);
    each element is still the same dot product: within the bound, and bitwise
    the element of a product over a slice too small to be prefetched."""
    rows, k = 2053, 1031  # 8.07 MiB of float32
    r = np.random.default_rng(11)
    M = r.standard_normal((rows, k)).astype(np.float32)
    v = r.standard_normal((1, k)).astype(np.float32)
    for t in THREADS:
        ex = executor(isa, t)
        mv = gemm(ex, M, v.T, False, False)  # (rows, 1)
        check(mv, M, v.T, f"matvec threads={t}")
        part = gemm(ex, M[:37], v.T, False, False)
        assert np.array_equal(part.view(np.uint32), mv[:37].view(np.uint32)), t
        vw = gemm(ex, v, M.T, False, True)  # (1, rows): v @ M.T, M stored
        check(vw, v, M.T, f"x @ W.T threads={t}")
        part = gemm(ex, v, np.ascontiguousarray(M[:37].T), False, True)
        assert np.array_equal(part.view(np.uint32), vw[:, :37].view(np.uint32)), t


@pytest.mark.parametrize("isa", ISA_PARAMS())
@pytest.mark.parametrize(("m", "n", "k"), [(8, 1100, 700), (16, 1030, 513), (1100, 1, 600)])
def test_streaming_split_across_workers(isa, m, n, k):
    """A few rows of A (or a matrix times a vector) split into tasks of at
    least 256 elements and 2^19 multiply-adds: these shapes split in two to
    five tasks, and each element's bits do not depend on the split."""
    A, B = operands(m, n, k, seed=m + n + k)
    for ta, tb in TRANS:
        check_threads(isa, A, B, ta, tb, f"{m}x{n}x{k} trans_a={ta} trans_b={tb}")
