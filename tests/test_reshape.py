"""Buffer.reshape (a view sharing memory), Buffer.copy and Buffer.astype.

reshape's view is checked for its values and shape against NumPy, for
sharing memory (a write through either side is read through the other) and
for its lifetime (the base deleted first, the view still reads and writes
the block, which the pool does not hand out again meanwhile).
"""

import gc
import sys
import weakref

import numpy as np
import pytest
import torch
from conftest import ISA_PARAMS, assert_equal_values

import hologram as hg

DTYPES = ["float32", "int32", "int64", "bool"]


def _values(shape, dtype, seed=0):
    r = np.random.default_rng(seed)
    if dtype == "bool":
        return r.integers(0, 2, shape).astype(bool)
    return r.integers(-100, 100, shape).astype(dtype)


# ---- reshape: shapes and values ----------------------------------------------

RESHAPES = [
    ((12,), (3, 4)),
    ((12,), (3, -1)),
    ((3, 4), (-1,)),
    ((3, 4), (2, 2, 3)),
    ((2, 3, 5), (5, -1, 2)),
    ((7,), (1, 7, 1)),
    ((1,), ()),
    ((), (1, 1)),
    ((), (-1,)),
    ((0, 3), (3, 0)),
    ((0, 3), (0,)),
    ((0,), (5, 0, 2)),
    ((2, 3, 1, 2), (1, 1, 1, 1, 1, 1, 3, 4)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("src", "dst"), RESHAPES, ids=[f"{s}->{d}" for s, d in RESHAPES])
def test_reshape_values_and_shape(ex, dtype, src, dst):
    x = _values(src, dtype)
    b = ex.from_numpy(x)
    want = x.reshape(dst)
    views = [b.reshape(dst), b.reshape(list(dst))] + ([b.reshape(*dst)] if dst else [])
    for v in views:
        assert v.shape == want.shape and v.dtype == x.dtype and v.size == x.size
        assert v.nbytes == x.nbytes and v.ndim == len(want.shape)
        assert_equal_values(v.to_numpy(), want, f"{src} -> {dst}")
    assert b.shape == x.shape  # the base keeps its shape


def test_reshape_accepts_index_objects(ex):
    b = ex.from_numpy(np.arange(6, dtype=np.float32))
    assert b.reshape(np.int64(2), np.int32(-1)).shape == (2, 3)
    assert b.reshape((np.int64(3), 2)).shape == (3, 2)


@pytest.mark.parametrize(
    ("src", "dst", "err"),
    [
        ((12,), (5, 2), ValueError),
        ((12,), (5, -1), ValueError),
        ((12,), (-1, -1), ValueError),
        ((12,), (-2, -6), ValueError),
        ((12,), (2, -3, -2), ValueError),
        ((0,), (0, -1), ValueError),
        ((0, 4), (-1, 0), ValueError),
        ((2,), (), ValueError),
        ((1,), (1,) * 9, ValueError),
        ((4,), (2**62, 2**62, 0), ValueError),
        ((4,), (2.0, 2), TypeError),
        ((4,), ("4",), TypeError),
        ((4,), (2**64,), OverflowError),
    ],
)
def test_reshape_refusals(ex, src, dst, err):
    b = ex.zeros(src)
    if dst:  # reshape() with no argument at all is a TypeError (below)
        with pytest.raises(err, match="reshape"):
            b.reshape(*dst)
    with pytest.raises(err, match="reshape"):
        b.reshape(dst)
    if err is ValueError and len(dst) <= 8:
        with pytest.raises(
            ValueError, match=rf"shape {src}".replace("(", r"\(").replace(")", r"\)")
        ):
            b.reshape(dst)
        with pytest.raises(RuntimeError):
            torch.zeros(src).reshape(dst)  # torch refuses them too


def test_reshape_names_both_shapes(ex):
    with pytest.raises(ValueError, match=r"reshape: .*shape \(3, 4\).* into shape \(5, -1\)"):
        ex.zeros((3, 4)).reshape(5, -1)


def test_reshape_needs_a_shape(ex):
    b = ex.zeros(4)
    with pytest.raises(TypeError, match="reshape"):
        b.reshape()
    with pytest.raises(TypeError):
        b.reshape(shape=(2, 2))


# ---- reshape: shared memory and lifetimes ------------------------------------


def test_reshape_shares_memory_both_ways(ex):
    x = np.arange(12, dtype=np.float32)
    base = ex.from_numpy(x)
    view = base.reshape(3, 4)
    np.asarray(base)[5] = -1.0
    assert view.to_numpy()[1, 1] == -1.0
    np.asarray(view)[2, 3] = 42.0
    assert base.to_numpy()[11] == 42.0
    assert np.asarray(view).ctypes.data == np.asarray(base).ctypes.data
    # through DLPack as well
    tv = torch.from_dlpack(view)
    tv[0, 0] = 7.0
    assert base.to_numpy()[0] == 7.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_view_outlives_its_base(dtype):
    ex = hg.Executor(threads=1)
    x = _values((4, 6), dtype, seed=3)
    in_use = ex.memory_stats()["bytes_in_use"]
    base = ex.from_numpy(x)
    view = base.reshape(2, 12)
    with_base = ex.memory_stats()["bytes_in_use"]
    del base
    gc.collect()
    # the block is still in use: allocations of its size get other blocks
    assert ex.memory_stats()["bytes_in_use"] == with_base > in_use
    others = [ex.from_numpy(np.logical_not(x) if dtype == "bool" else x + 1) for _ in range(8)]
    assert_equal_values(view.to_numpy(), x.reshape(2, 12), "after the base died")
    np.asarray(view)[1, 11] = x.flat[0]
    assert view.to_numpy()[1, 11] == x.flat[0]
    for o in others:
        assert_equal_values(o.to_numpy(), others[0].to_numpy(), "other buffers untouched")
    del view, others, o
    assert ex.memory_stats()["bytes_in_use"] == in_use


def test_view_of_a_view_outlives_both(ex):
    x = np.arange(24, dtype=np.float32)
    base = ex.from_numpy(x)
    mid = base.reshape(2, 3, 4)
    leaf = mid.reshape(4, -1)
    assert sys.getrefcount(base) == 4  # mid and leaf hold the base itself
    del base, mid
    gc.collect()
    np.asarray(leaf)[3, 5] = -5.0
    want = x.copy()
    want[23] = -5.0
    assert_equal_values(leaf.to_numpy(), want.reshape(4, 6), "leaf")


def test_view_of_an_import_keeps_the_producer(ex):
    arr = np.arange(12, dtype=np.float32)
    alive = weakref.ref(arr)
    imported = ex.from_dlpack(arr)
    view = imported.reshape(3, 4)
    del imported
    gc.collect()
    arr[4] = 100.0  # the producer's memory is the view's
    assert view.to_numpy()[1, 0] == 100.0
    del arr
    gc.collect()
    assert alive() is not None  # the view keeps the producer alive
    np.asarray(view)[2, 3] = -1.0
    assert alive()[11] == -1.0
    del view
    gc.collect()
    assert alive() is None


def test_view_exported_outlives_everything(ex):
    base = ex.from_numpy(np.arange(6, dtype=np.float32))
    arr = np.asarray(base.reshape(2, 3))
    tt = torch.from_dlpack(base.reshape(3, 2))
    del base
    gc.collect()
    arr[1, 2] = 9.0
    assert tt[2, 1].item() == 9.0


def test_reshape_refcounts_and_memory_steady(ex):
    base = ex.from_numpy(np.arange(12, dtype=np.float32))
    ref = sys.getrefcount(base)
    in_use = ex.memory_stats()["bytes_in_use"]
    for _ in range(10_000):
        v = base.reshape(3, -1)
        w = v.reshape((2, 6))
        try:
            base.reshape(5, 5)
        except ValueError:
            pass
    assert sys.getrefcount(base) == ref + 2
    del v, w
    assert sys.getrefcount(base) == ref
    assert ex.memory_stats()["bytes_in_use"] == in_use


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISA_PARAMS())
def test_ops_on_views_every_isa(isa, threads):
    """Views are operands of every op like any Buffer; their results are
    new buffers."""
    ex = hg.Executor(threads=threads, isa=isa)
    x = np.random.default_rng(2).standard_normal(4097 * 3).astype(np.float32)
    base = ex.from_numpy(x)
    rows = base.reshape(3, 4097)
    s = hg.ops.sum(rows, axis=-1).to_numpy()
    want = x.astype(np.float64).reshape(3, 4097).sum(axis=1)
    np.testing.assert_allclose(s, want, rtol=1e-5, atol=1e-3)
    e = hg.ops.exp(base.reshape(-1, 17)).to_numpy()
    assert e.shape == (723, 17)
    np.testing.assert_allclose(e, np.exp(x.astype(np.float64)).reshape(723, 17), rtol=1e-5)
    del base
    assert_equal_values(hg.ops.neg(rows).to_numpy(), -x.reshape(3, 4097), "neg of a view")


# ---- copy --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (3, 0, 2), (7, 33)])
def test_copy_values_and_independence(ex, dtype, shape):
    x = _values(shape, dtype, seed=5)
    b = ex.from_numpy(x)
    c = b.copy()
    assert (c.shape, c.dtype) == (x.shape, x.dtype)
    assert_equal_values(c.to_numpy(), x, "copy")
    if x.size:
        assert np.asarray(c).ctypes.data != np.asarray(b).ctypes.data
        np.asarray(c).flat[0] = not x.flat[0] if dtype == "bool" else x.flat[0] + 1
        assert_equal_values(b.to_numpy(), x, "the original after writing the copy")


def test_copy_of_a_view_is_its_own(ex):
    x = np.arange(6, dtype=np.int64)
    base = ex.from_numpy(x)
    c = base.reshape(2, 3).copy()
    np.asarray(base)[0] = 99
    assert_equal_values(c.to_numpy(), x.reshape(2, 3), "copy of a view")
    del base
    assert sys.getrefcount(c) == 2


def test_copy_large_and_steady(ex):
    x = np.random.default_rng(1).standard_normal(1_000_003).astype(np.float32)
    b = ex.from_numpy(x)
    assert_equal_values(b.copy().to_numpy(), x, "copy 1M")
    ref, in_use = sys.getrefcount(b), ex.memory_stats()["bytes_in_use"]
    small = ex.from_numpy(x[:100])
    for _ in range(10_000):
        small.copy()
    del small
    assert (sys.getrefcount(b), ex.memory_stats()["bytes_in_use"]) == (ref, in_use)


# ---- astype ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_astype_same_dtype_is_a_copy(ex, dtype):
    x = _values((4, 5), dtype)
    b = ex.from_numpy(x)
    for spelling in (dtype, np.dtype(dtype), b.dtype):
        c = b.astype(spelling)
        assert (c.shape, c.dtype) == (x.shape, x.dtype)
        assert_equal_values(c.to_numpy(), x, "astype")
        assert np.asarray(c).ctypes.data != np.asarray(b).ctypes.data
    assert b.astype(dtype=dtype).dtype == x.dtype


TORCH = {"float32": torch.float32, "int32": torch.int32, "int64": torch.int64, "bool": torch.bool}


def _cast_inputs(dtype, n, seed):
    """n values of dtype covering what a conversion can meet: for float32
    fractions of both signs, signed zeros, NaN, infinities and values beyond
    the int32 and int64 ranges; for the integers their extremes, -1, 0, 1 and
    values beyond float32's 24-bit significand."""
    r = np.random.default_rng(seed)
    if dtype == "bool":
        return r.integers(0, 2, n).astype(bool)
    if dtype == "float32":
        special = [0.0, -0.0, 0.5, -0.5, 0.999, -0.999, 1.5, -2.5, np.nan, np.inf, -np.inf]
        special += [2.0**31, -(2.0**31), 2.0**31 - 128, 3e9, -3e9, 2.0**63, -(2.0**63), 1e30, -1e30]
        v = np.concatenate([r.standard_normal(n) * 10.0 ** r.integers(0, 12, n), special])
        return r.permutation(v.astype(np.float32))[:n] if n < v.size else v.astype(np.float32)
    info = np.iinfo(dtype)
    special = np.array([info.min, info.max, -1, 0, 1, 2**24 + 1, -(2**24) - 1], dtype)
    v = r.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    v = np.where(r.random(n) < 0.5, (v % 1000).astype(dtype), v)
    v[: min(n, special.size)] = special[: min(n, special.size)]
    return v


def _assert_same(got, want, what):
    assert got.dtype == want.dtype and got.shape == want.shape, what
    same = (got == want) | (np.isnan(got) & np.isnan(want) if got.dtype.kind == "f" else False)
    assert np.all(same), f"{what}: {int((~same).sum())} differ, e.g. at {np.flatnonzero(~same)[:5]}"


PAIRS = [(a, b) for a in DTYPES for b in DTYPES if a != b]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISA_PARAMS())
def test_astype_every_pair_as_torch(isa, threads):
    """Every conversion is PyTorch's .to() exactly, at sizes around the
    vector widths, the 1024-element block and the 64K-element task."""
    ex = hg.Executor(threads=threads, isa=isa)
    for i, (src, dst) in enumerate(PAIRS):
        for n in (0, 1, 17, 1025, 70001):
            x = _cast_inputs(src, n, seed=i * 7 + n)
            got = ex.from_numpy(x).astype(dst).to_numpy()
            want = torch.from_numpy(x).to(TORCH[dst]).numpy()
            _assert_same(got, want, f"{isa} {threads}T {src} -> {dst}, n={n}")


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_astype_shapes_views_and_spellings(ex, src, dst):
    x = _cast_inputs(src, 60, seed=3).reshape(3, 4, 5)
    b = ex.from_numpy(x)
    want = torch.from_numpy(x).to(TORCH[dst]).numpy()
    for spelling in (dst, np.dtype(dst), getattr(np, dst if dst != "bool" else "bool_")):
        c = b.astype(spelling)
        assert (c.shape, c.dtype, c.executor) == (x.shape, np.dtype(dst), ex)
        _assert_same(c.to_numpy(), want, f"{src} -> {dst} as {spelling!r}")
    view = b.reshape(-1, 6)
    _assert_same(view.astype(dst).to_numpy(), want.reshape(-1, 6), "of a view")
    _assert_same(
        b.astype(dst).astype(src).to_numpy(), torch.from_numpy(want).to(TORCH[src]).numpy(), "back"
    )
    empty = ex.from_numpy(np.zeros((0, 3), src)).astype(dst)
    assert (empty.shape, empty.dtype) == ((0, 3), np.dtype(dst))


def test_astype_semantics_spelled_out(ex):
    """The documented rules, on values chosen to show each."""
    f = ex.from_numpy(np.array([2.9, -2.9, np.nan, np.inf, -3e9, 0.0, -0.0], np.float32))
    i32_min, i64_min = np.iinfo(np.int32).min, np.iinfo(np.int64).min
    assert f.astype("int32").to_numpy().tolist() == [2, -2, i32_min, i32_min, i32_min, 0, 0]
    assert f.astype("int64").to_numpy().tolist() == [2, -2, i64_min, i64_min, -3_000_000_000, 0, 0]
    assert f.astype("bool").to_numpy().tolist() == [True, True, True, True, True, False, False]
    big = ex.from_numpy(np.array([2**24 + 1, 2**31 + 5, -1], np.int64))
    assert big.astype("float32").to_numpy().tolist() == [2.0**24, 2.0**31, -1.0]
    assert big.astype("int32").to_numpy().tolist() == [2**24 + 1, -(2**31) + 5, -1]
    t = ex.from_numpy(np.array([True, False]))
    assert t.astype("float32").to_numpy().tolist() == [1.0, 0.0]
    assert t.astype("int64").to_numpy().tolist() == [1, 0]


def test_astype_refcounts_and_memory_steady(ex):
    b = ex.from_numpy(np.arange(100, dtype=np.int32))
    for _ in range(10):
        b.astype("float32")
    ref, in_use = sys.getrefcount(b), ex.memory_stats()["bytes_in_use"]
    for _ in range(10_000):
        b.astype("float32")
        b.astype("bool")
        try:
            b.astype("float64")
        except TypeError:
            pass
    assert (sys.getrefcount(b), ex.memory_stats()["bytes_in_use"]) == (ref, in_use)


def test_astype_refusals(ex):
    b = ex.zeros(3)
    with pytest.raises(TypeError, match="astype: unsupported dtype"):
        b.astype("float64")
    with pytest.raises(TypeError, match="astype: unsupported dtype"):
        b.astype("not a dtype")
    with pytest.raises(TypeError, match="astype"):
        b.astype(None)
    with pytest.raises(TypeError, match="astype"):
        b.astype()
