"""hg.jit on dask arrays: lazy results, one fused kernel per chunk, equal to
the single-machine run, on the synchronous and threaded schedulers and on a
LocalCluster of two worker processes."""

import os
import subprocess
import sys

import numpy as np
import pytest

import hologram as hg

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

RNG = np.random.default_rng(13)
X = RNG.standard_normal((48, 40)).astype(np.float32)
Y = RNG.standard_normal((48, 40)).astype(np.float32)
BIAS = RNG.standard_normal(40).astype(np.float32)
W = RNG.standard_normal(40).astype(np.float32)
R = RNG.standard_normal((48, 1)).astype(np.float32)


@hg.jit
def chain(x, b, s):
    return hg.ops.sigmoid(x * s + b) * 2.0 - 1.0


@hg.jit
def softmax(x):
    e = hg.ops.exp(x - hg.ops.max(x, axis=-1, keepdims=True))
    return e / hg.ops.sum(e, axis=-1, keepdims=True)


@hg.jit
def layer_norm(x, w, b, eps):
    m = hg.ops.mean(x, axis=-1, keepdims=True)
    d = x - m
    v = hg.ops.mean(d * d, axis=-1, keepdims=True)
    return d / hg.ops.sqrt(v + eps) * w + b


@hg.jit
def two(x, y, a):
    return x * a + y, hg.ops.max(x, axis=-1, keepdims=True)


@hg.jit
def scale_rows(x, r):
    return x * r + 1.0


@hg.jit
def whole_mean(x):
    return x - hg.ops.mean(x)


@hg.jit
def mm(x, w):
    return x @ w


def _ex():
    return hg.Executor()


def _buf(ex, a):
    return ex.from_numpy(a)


def cases():
    """(name, jitted function, dask args, reference args as Buffers)."""
    ex = _ex()
    x = da.from_array(X, chunks=(16, 16))
    y = da.from_array(Y, chunks=(16, 16))
    return ex, [
        ("chain", chain, (x, _buf(ex, BIAS), 0.75), (_buf(ex, X), _buf(ex, BIAS), 0.75)),
        ("chain-numpy-bias", chain, (x, BIAS, 1.5), (_buf(ex, X), _buf(ex, BIAS), 1.5)),
        ("softmax", softmax, (x,), (_buf(ex, X),)),
        (
            "layer_norm",
            layer_norm,
            (x, _buf(ex, W), BIAS, 1e-5),
            (_buf(ex, X), _buf(ex, W), _buf(ex, BIAS), 1e-5),
        ),
        ("two", two, (x, y, 0.5), (_buf(ex, X), _buf(ex, Y), 0.5)),
        ("row-operand", scale_rows, (x, R), (_buf(ex, X), _buf(ex, R))),
        (
            "3-d softmax",
            softmax,
            (da.from_array(X.reshape(4, 12, 40), chunks=(2, 5, 16)),),
            (_buf(ex, X.reshape(4, 12, 40)),),
        ),
    ]


def _reference(f, ref_args):
    r = f(*ref_args)
    return tuple(o.to_numpy() for o in r) if isinstance(r, tuple) else r.to_numpy()


def _check(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _check(g, w)
        return
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_equal_to_single_machine(scheduler):
    _, cs = cases()
    for name, f, dargs, ref_args in cs:
        lazy = f(*dargs)
        want = _reference(f, ref_args)
        lazies = lazy if isinstance(lazy, tuple) else (lazy,)
        for arr, w in zip(lazies, want if isinstance(want, tuple) else (want,), strict=True):
            assert isinstance(arr, da.Array), name
            assert arr.shape == w.shape and arr.dtype == w.dtype, name
        got = dask.compute(*lazies, scheduler=scheduler)
        _check(got if isinstance(want, tuple) else got[0], want)


def test_row_reduction_rechunks_and_elementwise_keeps_chunks():
    x = da.from_array(X, chunks=(16, 16))
    assert softmax(x).chunks == ((16, 16, 16), (40,))
    assert chain(x, BIAS, 2.0).chunks == x.chunks
    a, m = two(x, da.from_array(Y, chunks=(16, 16)), 2.0)
    assert a.chunks == ((16, 16, 16), (40,)) and m.chunks == ((16, 16, 16), (1,))


def test_row_max_without_keepdims():
    @hg.jit
    def rowmax(x):
        return hg.ops.max(x, axis=-1)

    ex = _ex()
    got = rowmax(da.from_array(X, chunks=(16, 16))).compute(scheduler="synchronous")
    np.testing.assert_array_equal(got, rowmax(ex.from_numpy(X)).to_numpy())
    np.testing.assert_array_equal(got, X.max(axis=-1))


@pytest.mark.parametrize("f", [whole_mean, mm])
def test_whole_array_ops_refused(f):
    x = da.from_array(X, chunks=(16, 16))
    args = (x,) if f is whole_mean else (x, W.reshape(40, 1).copy())
    with pytest.raises(ValueError, match=r"jit\((whole_mean|mm)\).*not supported on dask arrays"):
        f(*args)


def test_out_and_bad_args_refused():
    ex = _ex()
    x = da.from_array(X, chunks=(16, 16))
    with pytest.raises(TypeError, match=r"jit\(softmax\): out= is not supported on dask"):
        softmax(x, out=ex.empty(X.shape))
    with pytest.raises(TypeError, match=r"jit\(chain\).*got str"):
        chain(x, "bias", 1.0)
    with pytest.raises(TypeError, match=r"jit\(softmax\): a dask array of dtype float64"):
        softmax(x.astype(np.float64))


def test_pickles_through_cloudpickle():
    import cloudpickle

    g = cloudpickle.loads(cloudpickle.dumps(softmax))
    # a new JitFunction of the same Python function, with no traces: it retraces
    assert isinstance(g, type(softmax)) and g is not softmax
    assert g.__name__ == "softmax" and g.cache_info()["traces"] == 0
    ex = _ex()
    np.testing.assert_array_equal(
        g(ex.from_numpy(X)).to_numpy(), softmax(ex.from_numpy(X)).to_numpy()
    )


def test_import_hologram_does_not_import_dask():
    code = "import sys, hologram; assert 'dask' not in sys.modules, 'dask imported'"
    # run where the hologram under test is the first one found
    subprocess.run([sys.executable, "-c", code], check=True, cwd=_stage(), timeout=60)


def _stage():
    return os.path.dirname(os.path.dirname(os.path.abspath(hg.__file__)))


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")

    # the workers import hologram from where this process does
    stage = _stage()
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = stage + (os.pathsep + old if old else "")
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        timeout=60,
    )
    c = distributed.Client(cluster, timeout=60)
    try:
        yield c
    finally:
        c.close(timeout=30)
        cluster.close(timeout=30)
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


@pytest.mark.slow
def test_local_cluster_two_processes(client):
    pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids
    _, cs = cases()
    for _name, f, dargs, ref_args in cs:
        lazy = f(*dargs)
        want = _reference(f, ref_args)
        futures = client.compute(list(lazy) if isinstance(lazy, tuple) else [lazy])
        got = [fut.result(timeout=60) for fut in futures]
        _check(tuple(got) if isinstance(want, tuple) else got[0], want)
    # the chunks ran in the worker processes, each with its own executor
    from hologram import jit_dask

    def executor_pid():
        return os.getpid() if os.getpid() in jit_dask._EXECUTORS else None

    ran = {p for p in client.run(executor_pid).values() if p is not None}
    assert ran and ran <= pids
