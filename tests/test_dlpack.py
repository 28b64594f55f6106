"""The bool dtype and zero-copy exchange: DLPack (both directions) and
``__array__(copy=)``, against PyTorch and NumPy.

Shared memory is proved by writing through one side and reading through the
other; lifetimes by deleting the producer and reading from the consumer; the
ABI details (capsule names, the deleter, foreign devices and dtypes) with
managed tensors built and inspected through ctypes.
"""

import ctypes
import gc
import sys
import threading

import numpy as np
import pytest
import torch
from torch.utils.dlpack import from_dlpack as torch_from_capsule

import hologram as hg

DTYPES = [
    (np.float32, torch.float32),
    (np.int32, torch.int32),
    (np.int64, torch.int64),
    (np.bool_, torch.bool),
]
SHAPES = [(), (0,), (3, 0), (1,), (7,), (2, 3), (2, 1, 4), (1, 1, 1, 5)]


def values(np_dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if np_dtype is np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np_dtype is np.float32:
        return rng.standard_normal(shape).astype(np.float32)
    return rng.integers(-1000, 1000, size=shape).astype(np_dtype)


def address(buf):
    """The address of a Buffer's first element (through the buffer protocol)."""
    return np.frombuffer(memoryview(buf).cast("B"), np.uint8).ctypes.data if buf.nbytes else 0


# ---- the bool dtype ---------------------------------------------------------


def test_bool_buffer_round_trip(ex):
    a = np.array([[True, False, True], [False, False, True]])
    b = ex.from_numpy(a)
    assert (b.dtype, b.shape, b.nbytes, b.size) == (np.dtype(np.bool_), (2, 3), 6, 6)
    out = b.to_numpy()
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, a)
    m = memoryview(b)
    assert (m.format, m.itemsize, m.shape) == ("?", 1, (2, 3))
    assert m.tolist() == a.tolist()
    assert (
        repr(b)
        == "<hologram.Buffer shape=(2, 3) dtype=bool [True, False, True, False, False, True]>"
    )
    assert ex.from_numpy([True, False]).dtype == np.bool_


def test_bool_item_is_a_python_bool(ex):
    for v in (True, False):
        got = ex.from_numpy(np.array(v)).item()
        assert got is v


@pytest.mark.parametrize("make", ["empty", "zeros"])
@pytest.mark.parametrize("dtype", ["bool", np.bool_, np.dtype("?")])
def test_bool_empty_and_zeros(ex, make, dtype):
    b = getattr(ex, make)((3, 5), dtype=dtype)
    assert (b.dtype, b.shape, b.nbytes) == (np.dtype(np.bool_), (3, 5), 15)
    if make == "zeros":
        np.testing.assert_array_equal(b.to_numpy(), np.zeros((3, 5), np.bool_))


UNARY = ["neg", "abs", "relu", "sigmoid", "tanh", "softmax", "exp", "log", "sqrt"]
# vector_div of bools is true division (float32), vector_add and vector_mul
# are or and and (bool), as in PyTorch: not refused
BINARY = ["vector_sub", "pow", "mse_loss"]


def test_bool_add_and_mul_are_logical(ex):
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    A, B = ex.from_numpy(a), ex.from_numpy(b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    for got, want in [(hg.ops.vector_add(A, B), ta + tb), (hg.ops.vector_mul(A, B), ta * tb)]:
        assert got.dtype == np.bool_
        np.testing.assert_array_equal(got.to_numpy(), want.numpy())


@pytest.mark.parametrize("op", UNARY + BINARY + ["sum", "max", "min", "mean"])
def test_stdlib_ops_refuse_bool(ex, op):
    b = ex.from_numpy(np.ones((2, 3), np.bool_))
    args = (b, b) if op in BINARY else (b,)
    with pytest.raises(TypeError) as info:
        getattr(hg.ops, op)(*args)
    msg = str(info.value)
    assert msg.startswith(op) and "bool" in msg and "(2, 3)" in msg, msg


def test_gemm_and_cross_entropy_refuse_bool(ex):
    b = ex.from_numpy(np.ones((2, 2), np.bool_))
    f = ex.from_numpy(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match=r"^gemm.*bool.*\(2, 2\)"):
        hg.ops.gemm(b, f, m=2, n=2, k=2)
    with pytest.raises(TypeError, match=r"^cross_entropy.*bool"):
        hg.ops.cross_entropy(f, ex.from_numpy(np.ones(2, np.bool_)))


def test_launch_refuses_bool_for_an_f32_param(ex):
    k = hg.Kernel(hg.ops.kernel_ir("vector_add"))
    b = ex.from_numpy(np.ones(4, np.bool_))
    f = ex.from_numpy(np.ones(4, np.float32))
    y = ex.empty(4)
    with pytest.raises(TypeError, match="bool"):
        ex.launch(k, b, f, y)
    with pytest.raises(TypeError, match="bool"):
        ex.launch(k, f, f, ex.empty(4, dtype="bool"))
    np.testing.assert_array_equal(memoryview(f).tolist(), [1.0] * 4)  # untouched


# ---- export: Buffer -> PyTorch / NumPy --------------------------------------


def test_dlpack_device(ex):
    assert ex.zeros(3).__dlpack_device__() == (1, 0)


def test_torch_shares_buffer_memory_both_ways(ex):
    buf = ex.from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3))
    t = torch.from_dlpack(buf)
    assert t.shape == (2, 3) and t.dtype == torch.float32 and t.data_ptr() == address(buf)
    t[1, 2] = 42.0  # torch -> buffer
    want = np.arange(6, dtype=np.float32).reshape(2, 3)
    want[1, 2] = 42.0
    np.testing.assert_array_equal(buf.to_numpy(), want)
    np.testing.assert_array_equal(hg.ops.neg(buf).to_numpy(), -want)
    n = np.from_dlpack(buf)  # buffer (through another consumer) -> torch
    n[0, 0] = -7.0
    assert t[0, 0].item() == -7.0 and buf.to_numpy()[0, 0] == -7.0


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("np_dtype", "torch_dtype"), DTYPES)
def test_export_dtypes_and_shapes(ex, np_dtype, torch_dtype, shape):
    a = values(np_dtype, shape)
    buf = ex.from_numpy(a)
    t = torch.from_dlpack(buf)
    assert t.dtype == torch_dtype and tuple(t.shape) == shape
    np.testing.assert_array_equal(t.numpy(), a)
    n = np.from_dlpack(buf)
    assert n.dtype == np_dtype and n.shape == shape and n.flags.c_contiguous
    np.testing.assert_array_equal(n, a)
    if a.size:
        assert t.data_ptr() == n.ctypes.data == address(buf)
        flat = n.reshape(-1)
        flat[-1] = flat[0] if np_dtype is np.bool_ else 5
        assert t.reshape(-1)[-1].item() == flat[-1]
        np.testing.assert_array_equal(buf.to_numpy().reshape(-1), flat)


def test_legacy_and_versioned_capsules(ex):
    buf = ex.from_numpy(np.arange(4, dtype=np.int32))
    for kwargs, name in [
        ({}, "dltensor"),
        ({"max_version": None}, "dltensor"),
        ({"max_version": (0, 8)}, "dltensor"),
        ({"max_version": (1, 0)}, "dltensor_versioned"),
        ({"max_version": (1, 3)}, "dltensor_versioned"),
        ({"max_version": (2, 0)}, "dltensor_versioned"),
    ]:
        cap = buf.__dlpack__(**kwargs)
        assert f'"{name}"' in repr(cap)
        t = torch_from_capsule(cap)
        assert f'"used_{name}"' in repr(cap)
        t += 1
    np.testing.assert_array_equal(buf.to_numpy(), np.arange(4) + 6)


def test_export_copy_keyword(ex):
    buf = ex.from_numpy(np.arange(5, dtype=np.float32))
    shared = torch.from_dlpack(buf.__dlpack__(copy=False))
    copied = torch_from_capsule(buf.__dlpack__(copy=True, max_version=(1, 0)))
    legacy_copy = torch_from_capsule(buf.__dlpack__(copy=True))
    assert shared.data_ptr() == address(buf)
    assert copied.data_ptr() != address(buf) and legacy_copy.data_ptr() != address(buf)
    copied[0] = 100.0
    legacy_copy[1] = 200.0
    shared[2] = -1.0
    np.testing.assert_array_equal(buf.to_numpy(), [0, 1, -1, 3, 4])
    np.testing.assert_array_equal(copied.numpy(), [100, 1, 2, 3, 4])
    np.testing.assert_array_equal(legacy_copy.numpy(), [0, 200, 2, 3, 4])
    # numpy asks for a copy through the same keyword
    n = np.from_dlpack(buf, copy=True)
    n[:] = 9
    np.testing.assert_array_equal(buf.to_numpy(), [0, 1, -1, 3, 4])
    # cpu is the buffer's own device: accepted
    np.testing.assert_array_equal(np.from_dlpack(buf, device="cpu"), buf.to_numpy())
    t = buf.__dlpack__(dl_device=(1, 0))
    assert torch_from_capsule(t).data_ptr() == address(buf)


def test_consumer_outlives_buffer_and_executor():
    ex = hg.Executor()
    buf = ex.from_numpy(np.arange(1000, dtype=np.float32))
    t = torch.from_dlpack(buf)
    n = np.from_dlpack(buf)
    cap = buf.__dlpack__()  # never consumed while the producer lives
    del buf, ex
    gc.collect()
    junk = [hg.Executor().from_numpy(np.full(1000, -1, np.float32)) for _ in range(4)]
    np.testing.assert_array_equal(t.numpy(), np.arange(1000, dtype=np.float32))
    np.testing.assert_array_equal(n, np.arange(1000, dtype=np.float32))
    t[5] = 0.5
    assert n[5] == 0.5
    np.testing.assert_array_equal(torch_from_capsule(cap).numpy()[:6], [0, 1, 2, 3, 4, 0.5])
    del junk, t, n, cap
    gc.collect()


def test_capsules_release_the_buffer(ex):
    buf = ex.from_numpy(np.arange(3, dtype=np.float32))
    base = sys.getrefcount(buf)
    caps = [buf.__dlpack__(), buf.__dlpack__(max_version=(1, 0))]
    assert sys.getrefcount(buf) == base + 2
    del caps  # never consumed: each capsule's destructor calls the deleter
    assert sys.getrefcount(buf) == base
    t = torch_from_capsule(buf.__dlpack__())
    assert sys.getrefcount(buf) == base + 1
    del t  # consumed: the consumer's tensor calls the deleter
    assert sys.getrefcount(buf) == base
    copy = buf.__dlpack__(copy=True)
    assert sys.getrefcount(buf) == base  # the copy is kept alive instead
    del copy


def test_double_consumption_raises(ex):
    buf = ex.from_numpy(np.arange(3, dtype=np.float32))
    for kwargs in ({}, {"max_version": (1, 0)}):
        cap = buf.__dlpack__(**kwargs)
        t = torch_from_capsule(cap)
        with pytest.raises(RuntimeError, match="consumed"):
            torch_from_capsule(cap)
        with pytest.raises(ValueError, match="already been consumed"):
            ex.from_dlpack(cap)
        assert t.tolist() == [0, 1, 2]

    class Holder:
        """A producer that hands out the same capsule every time."""

        def __init__(self, cap):
            self.cap = cap

        def __dlpack__(self, **kwargs):
            return self.cap

        def __dlpack_device__(self):
            return (1, 0)

    h = Holder(buf.__dlpack__(max_version=(1, 0)))
    first = np.from_dlpack(h)
    with pytest.raises((RuntimeError, ValueError, BufferError)):
        np.from_dlpack(h)
    np.testing.assert_array_equal(first, [0, 1, 2])


def test_dlpack_refcounts_do_not_leak(ex):
    buf = ex.from_numpy(np.arange(64, dtype=np.float32))
    arr = np.arange(64, dtype=np.int64)
    gc.collect()
    base = (sys.getrefcount(buf), sys.getrefcount(arr), ex.memory_stats()["bytes_in_use"])
    for _ in range(10_000):
        torch.from_dlpack(buf)
        np.from_dlpack(buf)
        buf.__dlpack__(max_version=(1, 0))  # never consumed
        ex.from_dlpack(arr)
        ex.from_dlpack(buf)
    gc.collect()
    assert (sys.getrefcount(buf), sys.getrefcount(arr), ex.memory_stats()["bytes_in_use"]) == base


# ---- import: PyTorch / NumPy -> Buffer --------------------------------------


def test_import_torch_shares_memory_both_ways(ex):
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    buf = ex.from_dlpack(t)
    assert buf.shape == (3, 4) and buf.dtype == np.float32 and address(buf) == t.data_ptr()
    assert buf.executor is ex
    before = ex.memory_stats()["bytes_in_use"]
    t[2, 3] = 100.0  # torch -> buffer
    want = np.arange(12, dtype=np.float32).reshape(3, 4)
    want[2, 3] = 100.0
    np.testing.assert_array_equal(buf.to_numpy(), want)
    np.testing.assert_array_equal(hg.ops.vector_add(buf, buf).to_numpy(), 2 * want)
    np.testing.assert_array_equal(hg.ops.sum(buf, axis=-1).to_numpy(), want.sum(axis=-1))
    memoryview(buf).cast("B").cast("f")[0] = -3.0  # buffer -> torch
    assert t[0, 0].item() == -3.0
    assert ex.memory_stats()["bytes_in_use"] == before  # the import is not pool memory


def test_import_keeps_the_producer_alive(ex):
    t = torch.arange(1000, dtype=torch.int64)
    buf = ex.from_dlpack(t)
    del t
    gc.collect()
    junk = [torch.full((1000,), -1, dtype=torch.int64) for _ in range(8)]
    np.testing.assert_array_equal(buf.to_numpy(), np.arange(1000))
    a = np.arange(50, dtype=np.int32)
    base = sys.getrefcount(a)
    b2 = ex.from_dlpack(a)
    assert sys.getrefcount(a) == base + 1  # the managed tensor holds the array
    a[7] = -7
    assert b2.to_numpy()[7] == -7
    del b2
    assert sys.getrefcount(a) == base
    del junk


def test_import_outlives_its_executor_reference():
    ex = hg.Executor()
    t = torch.ones(5)
    buf = ex.from_dlpack(t)
    del ex
    gc.collect()
    assert buf.executor.threads == 1
    np.testing.assert_array_equal(hg.ops.neg(buf).to_numpy(), -np.ones(5, np.float32))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("np_dtype", "torch_dtype"), DTYPES)
def test_import_dtypes_and_shapes(ex, np_dtype, torch_dtype, shape):
    a = values(np_dtype, shape, seed=1)
    for src in (torch.from_numpy(a.copy()), a.copy()):
        buf = ex.from_dlpack(src)
        assert buf.dtype == np_dtype and buf.shape == shape
        np.testing.assert_array_equal(buf.to_numpy(), a)
        if a.size:
            ptr = src.data_ptr() if isinstance(src, torch.Tensor) else src.ctypes.data
            assert address(buf) == ptr  # shared, not copied


def test_import_strides_of_size_one_dims_are_ignored(ex):
    t = torch.arange(6, dtype=torch.float32).reshape(1, 6, 1)
    odd = t.as_strided((1, 6, 1), (99, 1, 42))
    buf = ex.from_dlpack(odd)
    assert address(buf) == t.data_ptr()
    np.testing.assert_array_equal(buf.to_numpy(), odd.numpy())


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.arange(12, dtype=torch.float32).reshape(3, 4).t(),
        lambda: torch.arange(24, dtype=torch.int64).reshape(2, 3, 4).permute(2, 0, 1),
        lambda: torch.arange(20, dtype=torch.int32)[::3],
        lambda: np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2],
        lambda: np.arange(12, dtype=np.float32).reshape(3, 4)[::-1],
        lambda: (torch.arange(10).reshape(2, 5) % 3 == 0).t(),
    ],
    ids=["torch-t", "torch-permute", "torch-step", "numpy-step", "numpy-reversed", "bool-t"],
)
def test_import_non_contiguous_copies(ex, make):
    src = make()
    want = src.numpy().copy() if isinstance(src, torch.Tensor) else src.copy()
    before = ex.memory_stats()["bytes_in_use"]
    buf = ex.from_dlpack(src)
    assert buf.shape == want.shape and buf.dtype == want.dtype
    np.testing.assert_array_equal(buf.to_numpy(), want)
    assert ex.memory_stats()["bytes_in_use"] > before  # a pool copy
    src[...] = 0 if isinstance(src, np.ndarray) else False if src.dtype == torch.bool else 0
    np.testing.assert_array_equal(buf.to_numpy(), want)  # not shared


def test_import_misaligned_copies(ex):
    raw = np.zeros(4 * 8 + 1, np.uint8)
    mis = raw[1:].view(np.float32)
    assert not mis.flags.aligned
    mis[:] = np.arange(8, dtype=np.float32)
    buf = ex.from_dlpack(mis)
    assert address(buf) % 4 == 0 and address(buf) != mis.ctypes.data
    np.testing.assert_array_equal(buf.to_numpy(), np.arange(8, dtype=np.float32))
    mis[:] = -1
    np.testing.assert_array_equal(buf.to_numpy(), np.arange(8, dtype=np.float32))
    np.testing.assert_array_equal(hg.ops.neg(buf).to_numpy(), -np.arange(8, dtype=np.float32))


def test_import_read_only_copies(ex):
    a = np.arange(6, dtype=np.float32)
    a.flags.writeable = False
    buf = ex.from_dlpack(a)
    assert address(buf) != a.ctypes.data
    memoryview(buf).cast("B").cast("f")[0] = 9.0
    assert a[0] == 0.0


@pytest.mark.parametrize(
    "src",
    [
        torch.ones(3, dtype=torch.float64),
        np.ones(3, np.float64),
        torch.ones(3, dtype=torch.float16),
        torch.ones(3, dtype=torch.bfloat16),
        torch.ones(3, dtype=torch.uint8),
        torch.ones(3, dtype=torch.int16),
        torch.ones(3, dtype=torch.complex64),
    ],
    ids=["torch-f64", "numpy-f64", "f16", "bf16", "u8", "i16", "c64"],
)
def test_import_unsupported_dtype_refused(ex, src):
    name = str(src.dtype).removeprefix("torch.")
    with pytest.raises(TypeError, match=rf"from_dlpack: unsupported dtype {name}\b"):
        ex.from_dlpack(src)


@pytest.mark.parametrize("bad", [1, "x", None, [1.0], object(), np.float32])
def test_import_non_tensor_refused(ex, bad):
    with pytest.raises(TypeError, match="from_dlpack"):
        ex.from_dlpack(bad)


def test_import_of_hologram_buffers(ex):
    other = hg.Executor()
    src = other.from_numpy(np.arange(4, dtype=np.float32))
    same = ex.from_dlpack(src)
    assert address(same) == address(src) and same.executor is ex
    del src
    gc.collect()
    np.testing.assert_array_equal(same.to_numpy(), np.arange(4))
    a = ex.from_numpy(np.ones(4, np.float32))
    b = other.from_dlpack(torch.ones(4))
    with pytest.raises(ValueError, match="different executors"):
        hg.ops.vector_add(a, b)
    with pytest.raises(ValueError, match="different executors"):
        hg.ops.vector_add(b, a)
    np.testing.assert_array_equal(hg.ops.vector_add(a, same).to_numpy(), np.arange(4) + 1)


# ---- __array__ ----------------------------------------------------------------


def test_numpy_asarray_and_array_copy(ex):
    buf = ex.from_numpy(np.arange(4, dtype=np.int64))
    view = np.asarray(buf, copy=False)
    view[0] = 10
    assert buf.to_numpy()[0] == 10
    c = np.array(buf, copy=True)
    c[1] = 20
    assert buf.to_numpy()[1] == 1


@pytest.mark.parametrize(("np_dtype", "torch_dtype"), DTYPES)
def test_array_protocol_copy_keyword(ex, np_dtype, torch_dtype):
    a = values(np_dtype, (2, 3), seed=2)
    buf = ex.from_numpy(a)
    for copy in (None, False):
        v = buf.__array__(copy=copy)
        assert v.dtype == np_dtype and v.ctypes.data == address(buf)
        assert v.flags.c_contiguous and v.flags.writeable
        np.testing.assert_array_equal(v, a)
    v = buf.__array__(np_dtype, copy=False)  # the buffer's own dtype: a view
    assert v.ctypes.data == address(buf)
    c = buf.__array__(copy=True)
    assert c.ctypes.data != address(buf)
    np.testing.assert_array_equal(c, a)
    other = np.float64 if np_dtype is not np.float64 else np.float32
    conv = buf.__array__(other)
    assert conv.dtype == other and conv.ctypes.data != address(buf)
    np.testing.assert_array_equal(conv, a.astype(other))
    np.testing.assert_array_equal(buf.__array__(dtype=other, copy=True), a.astype(other))
    with pytest.raises(ValueError, match="copy=False"):
        buf.__array__(other, copy=False)


def test_array_view_keeps_buffer_alive():
    ex = hg.Executor()
    v = ex.from_numpy(np.arange(100, dtype=np.float32)).__array__()
    del ex
    gc.collect()
    np.testing.assert_array_equal(v, np.arange(100, dtype=np.float32))


# ---- invalid calls: TypeError / ValueError / BufferError, never a crash -----


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"stream": 1}, ValueError),
        ({"stream": 0}, ValueError),
        ({"stream": -1}, ValueError),
        ({"stream": "s"}, ValueError),
        ({"dl_device": (2, 0)}, BufferError),
        ({"dl_device": (1, 1)}, BufferError),
        ({"dl_device": (1, 0), "copy": "yes"}, TypeError),
        ({"dl_device": "cpu"}, TypeError),
        ({"dl_device": (1,)}, TypeError),
        ({"dl_device": (1, 0, 0)}, TypeError),
        ({"dl_device": (1.0, 0)}, TypeError),
        ({"max_version": 1}, TypeError),
        ({"max_version": "1.0"}, TypeError),
        ({"max_version": (1,)}, TypeError),
        ({"max_version": [1, 0]}, TypeError),
        ({"max_version": (1.0, 0)}, TypeError),
        ({"max_version": (None, None)}, TypeError),
        ({"max_version": (2**70, 0)}, OverflowError),
        ({"copy": 1}, TypeError),
        ({"copy": "False"}, TypeError),
        ({"nonsense": 1}, TypeError),
    ],
)
def test_dlpack_bad_arguments(ex, kwargs, exc):
    buf = ex.from_numpy(np.arange(3, dtype=np.float32))
    base = sys.getrefcount(buf)
    with pytest.raises(exc, match="__dlpack__"):
        buf.__dlpack__(**kwargs)
    assert sys.getrefcount(buf) == base
    with pytest.raises(TypeError):
        buf.__dlpack__(None)  # every parameter is keyword-only
    with pytest.raises(TypeError):
        buf.__dlpack_device__(1)
    np.testing.assert_array_equal(np.from_dlpack(buf), [0, 1, 2])


def test_array_bad_arguments(ex):
    buf = ex.from_numpy(np.arange(3, dtype=np.float32))
    with pytest.raises(TypeError):
        buf.__array__("not a dtype")
    with pytest.raises(TypeError):
        buf.__array__(None, None, None)
    with pytest.raises(TypeError):
        buf.__array__(nonsense=1)


# ---- the DLPack ABI through ctypes ------------------------------------------


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [
        ("dl_tensor", DLTensor),
        ("manager_ctx", ctypes.c_void_p),
        ("deleter", ctypes.c_void_p),
    ]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [
        ("major", ctypes.c_uint32),
        ("minor", ctypes.c_uint32),
        ("manager_ctx", ctypes.c_void_p),
        ("deleter", ctypes.c_void_p),
        ("flags", ctypes.c_uint64),
        ("dl_tensor", DLTensor),
    ]


DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_capsule_ptr = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_ptr.restype = ctypes.c_void_p
_capsule_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_rename = ctypes.pythonapi.PyCapsule_SetName
_capsule_rename.restype = ctypes.c_int
_capsule_rename.argtypes = [ctypes.py_object, ctypes.c_char_p]


class FakeProducer:
    """A DLPack producer written with ctypes over a NumPy array's memory, whose
    every field a test can set; it counts the deleter's calls."""

    def __init__(self, arr, versioned=True, **fields):
        self.arr = arr
        self.deleted = 0
        self.versioned = versioned
        self.shape = (ctypes.c_int64 * max(arr.ndim, 1))(*arr.shape)
        self.strides = (ctypes.c_int64 * max(arr.ndim, 1))(
            *(s // arr.itemsize for s in arr.strides)
        )
        self.deleter = DELETER(self._delete)
        m = DLManagedTensorVersioned() if versioned else DLManagedTensor()
        t = m.dl_tensor
        t.data = arr.ctypes.data
        t.device = DLDevice(1, 0)
        t.ndim = arr.ndim
        code = {"f": 2, "i": 0, "u": 1, "b": 6}[arr.dtype.kind]
        t.dtype = DLDataType(code, arr.itemsize * 8, 1)
        t.shape = self.shape
        t.strides = self.strides
        m.deleter = ctypes.cast(self.deleter, ctypes.c_void_p)
        if versioned:
            m.major, m.minor = 1, 0
        for name, value in fields.items():
            setattr(m if hasattr(m, name) and name != "dl_tensor" else t, name, value)
        self.m = m

    def _delete(self, ptr):
        assert ptr == ctypes.addressof(self.m)
        self.deleted += 1

    def __dlpack__(self, **kwargs):
        name = b"dltensor_versioned" if self.versioned else b"dltensor"
        return _capsule_new(ctypes.addressof(self.m), name, None)

    def __dlpack_device__(self):
        return (self.m.dl_tensor.device.device_type, self.m.dl_tensor.device.device_id)


@pytest.mark.parametrize("versioned", [True, False])
def test_fake_producer_shared_and_released_once(ex, versioned):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = FakeProducer(a, versioned)
    buf = ex.from_dlpack(p)
    assert address(buf) == a.ctypes.data and p.deleted == 0
    a[1, 1] = 50.0
    assert buf.to_numpy()[1, 1] == 50.0
    del buf
    assert p.deleted == 1


def test_fake_producer_null_strides_and_byte_offset(ex):
    backing = np.arange(16, dtype=np.int32)
    p = FakeProducer(backing[:12], strides=None, byte_offset=16)
    p.m.dl_tensor.shape[0] = 12
    buf = ex.from_dlpack(p)
    np.testing.assert_array_equal(buf.to_numpy(), np.arange(4, 16))
    assert address(buf) == backing.ctypes.data + 16
    del buf
    assert p.deleted == 1


@pytest.mark.parametrize(
    ("fields", "exc", "match"),
    [
        ({"device": DLDevice(2, 0)}, ValueError, r"device \(2, 0\)"),
        ({"device": DLDevice(13, 1)}, ValueError, r"device \(13, 1\)"),
        ({"dtype": DLDataType(2, 32, 4)}, TypeError, "float32 with several lanes"),
        ({"dtype": DLDataType(2, 64, 1)}, TypeError, "float64"),
        ({"dtype": DLDataType(6, 32, 1)}, TypeError, "bool32"),
        ({"dtype": DLDataType(99, 8, 1)}, TypeError, r"\(DLPack type code 99, 8 bits\)"),
        ({"ndim": 9}, ValueError, "9 dimensions"),
        ({"ndim": -1}, ValueError, "-1 dimensions"),
        ({"major": 2}, BufferError, "version 2.0"),
        ({"data": None}, ValueError, "no data"),
    ],
)
def test_fake_producer_refused_and_released(ex, fields, exc, match):
    p = FakeProducer(np.ones(3, np.float32), **fields)
    with pytest.raises(exc, match=match):
        ex.from_dlpack(p)
    assert p.deleted == 1


def test_fake_producer_negative_shape_refused(ex):
    p = FakeProducer(np.ones(3, np.float32))
    p.shape[0] = -3
    with pytest.raises(ValueError, match="negative dimension"):
        ex.from_dlpack(p)
    assert p.deleted == 1


def test_fake_producer_huge_shape_refused(ex):
    p = FakeProducer(np.ones((2, 2), np.float32))
    p.shape[0] = p.shape[1] = 2**62
    with pytest.raises(OverflowError, match="too large"):
        ex.from_dlpack(p)
    assert p.deleted == 1


def test_fake_producer_copied_when_read_only(ex):
    a = np.arange(5, dtype=np.int64)
    p = FakeProducer(a, flags=1)  # DLPACK_FLAG_BITMASK_READ_ONLY
    buf = ex.from_dlpack(p)
    assert p.deleted == 1 and address(buf) != a.ctypes.data
    np.testing.assert_array_equal(buf.to_numpy(), a)


def test_fake_producer_capsule_of_another_name(ex):
    class Odd:
        def __dlpack__(self, **kwargs):
            return _capsule_new(ctypes.addressof(holder), b"something_else", None)

    holder = ctypes.c_int(0)
    with pytest.raises(TypeError, match="something_else"):
        ex.from_dlpack(Odd())

    class NotACapsule:
        def __dlpack__(self, **kwargs):
            return 7

    with pytest.raises(TypeError, match="not a DLPack capsule"):
        ex.from_dlpack(NotACapsule())


def test_old_producer_without_max_version(ex):
    class Old:
        """A producer that predates the versioned protocol."""

        def __init__(self, arr):
            self.arr = arr

        def __dlpack__(self, stream=None):
            return self.arr.__dlpack__()

    a = np.arange(4, dtype=np.int32)
    buf = ex.from_dlpack(Old(a))
    assert address(buf) == a.ctypes.data


@pytest.mark.parametrize("versioned", [True, False])
def test_exported_managed_tensor_layout_and_gil_free_deleter(ex, versioned):
    a = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    buf = ex.from_numpy(a)
    base = sys.getrefcount(buf)
    kwargs = {"max_version": (1, 0), "copy": False} if versioned else {}
    cap = buf.__dlpack__(**kwargs)
    name = b"dltensor_versioned" if versioned else b"dltensor"
    ptr = _capsule_ptr(cap, name)
    m = (DLManagedTensorVersioned if versioned else DLManagedTensor).from_address(ptr)
    if versioned:
        assert (m.major, m.minor, m.flags) == (1, 0, 0)
    t = m.dl_tensor
    assert t.data == address(buf) and t.byte_offset == 0
    assert (t.device.device_type, t.device.device_id, t.ndim) == (1, 0, 3)
    assert (t.dtype.code, t.dtype.bits, t.dtype.lanes) == (0, 32, 1)
    assert list(t.shape[:3]) == [2, 3, 4] and list(t.strides[:3]) == [12, 4, 1]
    # consume it as a consumer would, then call the deleter from another
    # thread through a ctypes foreign call, which runs without the GIL
    assert _capsule_rename(cap, b"used_" + name) == 0
    deleter = DELETER(m.deleter)
    th = threading.Thread(target=deleter, args=(ptr,))
    th.start()
    th.join()
    assert sys.getrefcount(buf) == base
    del cap  # a used capsule does not call the deleter again
    assert sys.getrefcount(buf) == base
    np.testing.assert_array_equal(buf.to_numpy(), a)


def test_exported_copy_is_flagged(ex):
    buf = ex.from_numpy(np.arange(3, dtype=np.float32))
    cap = buf.__dlpack__(max_version=(1, 0), copy=True)
    m = DLManagedTensorVersioned.from_address(_capsule_ptr(cap, b"dltensor_versioned"))
    assert m.flags == 2 and m.dl_tensor.data != address(buf)  # DLPACK_FLAG_BITMASK_IS_COPIED


def test_aliasing_imports_are_caught_by_launch_and_ops_allocate_fresh(ex):
    t = torch.arange(8, dtype=torch.float32)
    x, y = ex.from_dlpack(t), ex.from_dlpack(t)  # two Buffers over one memory
    assert address(x) == address(y) == t.data_ptr()
    k = hg.Kernel(hg.ops.kernel_ir("vector_add"))
    with pytest.raises(ValueError, match="overlaps"):
        ex.launch(k, x, x, y)
    out = ex.empty(8)
    ex.launch(k, x, y, out)
    np.testing.assert_array_equal(out.to_numpy(), 2 * np.arange(8, dtype=np.float32))
    r = hg.ops.vector_mul(x, y)  # the result is pool memory, apart from the import
    lo, hi = t.data_ptr(), t.data_ptr() + 32
    assert not lo <= address(r) < hi and address(r) % 64 == 0
    np.testing.assert_array_equal(r.to_numpy(), np.arange(8, dtype=np.float32) ** 2)
    np.testing.assert_array_equal(t.numpy(), np.arange(8, dtype=np.float32))
