"""hg.Buffer: construction from NumPy, round trips, buffer protocol, repr."""

import gc
import sys

import numpy as np
import pytest

import hologram as hg

DTYPES = [np.float32, np.int32, np.int64]


def sample(shape, dtype, seed=0):
    r = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return r.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return r.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize(
    "shape", [(), (0,), (1,), (17,), (3, 5), (2, 3, 4), (0, 4), (4, 0, 2), (1, 1, 1, 1, 1, 1, 1, 2)]
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_from_numpy_round_trip(ex, dtype, shape):
    a = sample(shape, dtype)
    b = ex.from_numpy(a)
    assert b.shape == shape
    assert b.dtype == np.dtype(dtype) and isinstance(b.dtype, np.dtype)
    assert b.ndim == len(shape)
    assert b.size == a.size
    assert b.nbytes == a.nbytes
    assert b.executor is ex
    out = b.to_numpy()
    assert out.dtype == np.dtype(dtype) and out.shape == shape
    assert out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out, a)
    # to_numpy is a fresh copy each time
    out2 = b.to_numpy()
    if out.size:
        assert not np.shares_memory(out, out2)
        out[...] = 0
        np.testing.assert_array_equal(b.to_numpy(), a)


def test_float32_bits_preserved(ex):
    a = np.array([np.nan, -0.0, 1e-40, -np.inf, 1.4e-45], np.float32)
    a_bits = a.view(np.uint32).copy()
    a_bits[0] = 0x7FC12345  # a NaN with a payload
    a = a_bits.view(np.float32)
    np.testing.assert_array_equal(ex.from_numpy(a).to_numpy().view(np.uint32), a_bits)


def test_int64_extremes(ex):
    a = np.array([np.iinfo(np.int64).min, -1, 0, np.iinfo(np.int64).max], np.int64)
    np.testing.assert_array_equal(ex.from_numpy(a).to_numpy(), a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "view", ["transpose", "step2", "neg1", "neg2d", "fortran", "slice3d", "broadcast"]
)
def test_non_contiguous_inputs(ex, dtype, view):
    base = sample((6, 10, 4), dtype, seed=1)
    v = {
        "transpose": base[:, :, 0].T,
        "step2": base.ravel()[::2],
        "neg1": base.ravel()[::-1],
        "neg2d": base[::-1, ::-3, 1],
        "fortran": np.asfortranarray(base),
        "slice3d": base[1:5, 2:9:3, ::-2],
        "broadcast": np.broadcast_to(base[0, 0], (5, 4)),
    }[view]
    b = ex.from_numpy(v)
    assert b.shape == v.shape
    np.testing.assert_array_equal(b.to_numpy(), v)
    np.testing.assert_array_equal(np.asarray(b), v)


def test_from_numpy_copies(ex):
    a = np.arange(10, dtype=np.float32)
    b = ex.from_numpy(a)
    a[:] = -1
    np.testing.assert_array_equal(b.to_numpy(), np.arange(10, dtype=np.float32))


def test_from_list(ex):
    # non-arrays go through np.asarray: a list of ints is int64, a list of
    # np.float32 scalars is float32
    b = ex.from_numpy([[1, 2], [3, -4]])
    assert b.dtype == np.int64 and b.shape == (2, 2)
    np.testing.assert_array_equal(b.to_numpy(), np.array([[1, 2], [3, -4]], np.int64))
    # Python floats become float32 (as torch.tensor does); a float64 ndarray
    # is refused (test_unsupported_dtypes)
    pf = ex.from_numpy([[0.1, -2.5], [3.0, 1e-40]])
    assert pf.dtype == np.float32 and pf.shape == (2, 2)
    np.testing.assert_array_equal(pf.to_numpy(), np.array([[0.1, -2.5], [3.0, 1e-40]], np.float32))
    assert ex.from_numpy(2.5).shape == () and ex.from_numpy(2.5).dtype == np.float32
    f = ex.from_numpy([np.float32(1.5), np.float32(-2.25)])
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f.to_numpy(), np.array([1.5, -2.25], np.float32))


@pytest.mark.parametrize(
    "dtype,name",
    [
        (np.float64, "float64"),
        (np.float16, "float16"),
        (np.complex64, "complex64"),
        (np.object_, "object"),
        (np.uint8, "uint8"),
        (np.int16, "int16"),
    ],
)
def test_unsupported_dtypes(ex, dtype, name):
    a = np.zeros(4, dtype=dtype)
    with pytest.raises(TypeError, match=name):
        ex.from_numpy(a)


def test_zero_d(ex):
    b = ex.from_numpy(np.float32(2.5))
    assert b.shape == () and b.ndim == 0 and b.size == 1
    assert b.item() == 2.5 and isinstance(b.item(), float)
    with pytest.raises(TypeError):
        len(b)
    bi = ex.from_numpy(np.array(7, np.int64))
    assert bi.item() == 7 and isinstance(bi.item(), int)


def test_item_size_one(ex):
    assert ex.from_numpy(np.array([[3.0]], np.float32)).item() == 3.0
    assert ex.from_numpy(np.array([-5], np.int32)).item() == -5


@pytest.mark.parametrize("shape", [(0,), (5,), (3, 7), (2, 0)])
def test_len(ex, shape):
    assert len(ex.from_numpy(np.zeros(shape, np.float32))) == shape[0]


def test_empty_and_zeros(ex):
    z = ex.zeros((3, 4))
    assert z.shape == (3, 4) and z.dtype == np.float32
    np.testing.assert_array_equal(z.to_numpy(), np.zeros((3, 4), np.float32))
    zi = ex.zeros((5,), dtype="int64")
    assert zi.dtype == np.int64
    np.testing.assert_array_equal(zi.to_numpy(), np.zeros(5, np.int64))
    e = ex.empty((2, 3), dtype="int32")
    assert e.shape == (2, 3) and e.dtype == np.int32
    assert ex.empty(()).shape == ()


def test_buffer_constructor_forbidden():
    with pytest.raises(TypeError):
        hg.Buffer()


def test_buffer_protocol_zero_copy(ex):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = ex.from_numpy(a)
    v1 = np.asarray(b)
    v2 = np.asarray(b)
    assert v1.shape == (3, 4) and v1.dtype == np.float32
    assert v1.flags["C_CONTIGUOUS"] and v1.flags["WRITEABLE"]
    assert np.shares_memory(v1, v2)
    v1[1, 2] = 99.0
    assert b.to_numpy()[1, 2] == 99.0
    assert v2[1, 2] == 99.0
    mv = memoryview(b)
    assert mv.format == "f" and mv.shape == (3, 4) and not mv.readonly
    mv.release()


@pytest.mark.parametrize("dtype,fmt", [(np.int32, "i"), (np.int64, "q")])
def test_buffer_protocol_int_formats(ex, dtype, fmt):
    b = ex.from_numpy(np.arange(6, dtype=dtype))
    mv = memoryview(b)
    assert mv.format == fmt and mv.itemsize == np.dtype(dtype).itemsize
    np.testing.assert_array_equal(np.asarray(b), np.arange(6, dtype=dtype))
    mv.release()


def test_view_keeps_buffer_alive(ex):
    a = np.random.default_rng(0).standard_normal(100_003).astype(np.float32)
    b = ex.from_numpy(a)
    v = np.asarray(b)
    del b
    gc.collect()
    # allocate and free other buffers to try to reuse the memory
    for _ in range(5):
        junk = ex.from_numpy(np.zeros(100_003, np.float32))
        del junk
    gc.collect()
    np.testing.assert_array_equal(v, a)


def test_view_of_op_result_alive(ex):
    x = np.arange(1, 2049, dtype=np.float32)
    v = np.asarray(hg.ops.vector_add(ex.from_numpy(x), ex.from_numpy(x)))
    gc.collect()
    w = hg.ops.vector_mul(ex.from_numpy(x), ex.from_numpy(x))  # may reuse a freed block
    np.testing.assert_array_equal(v, x * 2)
    np.testing.assert_array_equal(w.to_numpy(), x * x)


def test_view_keeps_executor_alive():
    ex = hg.Executor(threads=1)
    b = ex.from_numpy(np.arange(10, dtype=np.float32))
    v = np.asarray(b)
    del ex, b
    gc.collect()
    np.testing.assert_array_equal(v, np.arange(10, dtype=np.float32))


def test_buffer_keeps_executor_alive():
    ex = hg.Executor(threads=1)
    ex_id = id(ex)
    b = ex.from_numpy(np.arange(10, dtype=np.float32))
    del ex
    gc.collect()
    assert id(b.executor) == ex_id  # the same object, kept alive by the buffer
    np.testing.assert_array_equal(hg.ops.vector_add(b, b).to_numpy(), np.arange(10) * 2.0)


def test_op_on_view_written_input(ex):
    b = ex.from_numpy(np.zeros(5, np.float32))
    np.asarray(b)[:] = [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(hg.ops.sum(b).item(), 15.0)


def test_repr(ex):
    b = ex.from_numpy(np.array([0.1, -0.3, 2.0], np.float32))
    r = repr(b)
    assert r.startswith("<hologram.Buffer") and r.endswith(">")
    assert "shape=(3,)" in r and "dtype=float32" in r
    assert "0.1" in r and "-0.3" in r
    big = repr(ex.from_numpy(np.arange(100_000, dtype=np.int64)))
    assert "shape=(100000,)" in big and "dtype=int64" in big
    assert len(big) < 400  # elided, not the full data
    assert "shape=()" in repr(ex.from_numpy(np.float32(1.0)))
    assert "shape=(0,)" in repr(ex.from_numpy(np.zeros(0, np.int32)))


def test_ops_return_new_buffers(ex):
    a = ex.from_numpy(np.ones(8, np.float32))
    c = hg.ops.vector_add(a, a)
    assert c is not a and c.executor is ex
    assert not np.shares_memory(np.asarray(c), np.asarray(a))
    np.testing.assert_array_equal(a.to_numpy(), np.ones(8, np.float32))


def test_refcounts_do_not_leak(ex):
    a = ex.from_numpy(np.ones(16, np.float32))
    before = sys.getrefcount(a)
    for _ in range(100):
        hg.ops.vector_add(a, a)
        np.asarray(a)
        a.to_numpy()
        _ = a.shape
    gc.collect()
    assert sys.getrefcount(a) == before
