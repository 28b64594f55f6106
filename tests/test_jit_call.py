"""The call of a jitted function (src/py/jitcall.c): every call runs in C, a
call whose signature is cached without reaching Python.  These tests compare
cached calls with the first call of the same signature (traced by
hologram/jit.py, then run through _run_cached) and with NumPy references, bit
for bit, and check its cache, its errors, its references and its memory,
including plans of more results, temporaries and launches than the run keeps
on the stack."""

import gc
import importlib
import sys
import threading
import weakref

import numpy as np
import pytest
from conftest import assert_bitwise

import hologram as hg

jit_module = importlib.import_module("hologram.jit")  # hg.jit is the decorator


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _no_retrace(f):
    """Make f's tracer fail: its cached calls must not reach it."""

    def refuse(*args):
        raise AssertionError("a cached call was traced again")

    f._trace = refuse
    return f


def _same_bits(got, want, what="result"):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, what
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8)), what


def test_new_scalar_values_run_cached(ex, rng):
    x = _f32(rng, 1000)
    xb = ex.from_numpy(x)
    f = hg.jit(lambda x, s, t: x * s + t)
    f(xb, 1.0, 0.0)
    _no_retrace(f)
    for s, t in ((0.5, 2), (-3, True), (2.25, -1e-3), (np.float64(7.5), 1)):
        got = f(xb, s, t).to_numpy()
        assert_bitwise(got, x * np.float32(s) + np.float32(t))
    assert f.cache_info() == {"traces": 1, "size": 1, "maxsize": 64}


def test_several_results_and_bool(ex, rng):
    x = _f32(rng, 13, 17)
    xb = ex.from_numpy(x)
    f = hg.jit(lambda x, s: (x * s, x > s, hg.ops.sum(x, axis=-1, keepdims=True)))
    first = f(xb, 0.25)
    _no_retrace(f)
    for _ in range(3):
        got = f(xb, 0.25)
        assert isinstance(got, tuple) and len(got) == 3
        for g, w in zip(got, first, strict=True):
            _same_bits(g.to_numpy(), w.to_numpy())
    assert got[1].dtype == np.bool_ and got[2].shape == (13, 1)
    assert np.array_equal(got[1].to_numpy(), x > np.float32(0.25))
    assert_bitwise(got[0].to_numpy(), x * np.float32(0.25))
    assert f.cache_info()["traces"] == 1


def test_out_with_aliasing(ex, rng):
    p, g = _f32(rng, 1000), _f32(rng, 1000)
    pb, gb = ex.from_numpy(p), ex.from_numpy(g)
    step = hg.jit(lambda p, g, lr: p - lr * g)
    want = p - np.float32(0.5) * g
    step(pb, gb, 0.5, out=pb)
    _no_retrace(step)
    for lr in (0.1, 0.01, 0.5, 0.25):
        assert step(pb, gb, lr, out=pb) is pb
        want = want - np.float32(lr) * g
        assert_bitwise(pb.to_numpy(), want)
    # two results, one aliasing an argument, one a separate buffer
    two = hg.jit(lambda a, b: (a * b, a + b))
    ab, bb, o = ex.from_numpy(p), ex.from_numpy(g), ex.empty((1000,))
    for _ in range(3):
        before = ab.to_numpy()
        res = two(ab, bb, out=(ab, o))
        assert res[0] is ab and res[1] is o
        assert_bitwise(ab.to_numpy(), before * g)
        assert_bitwise(o.to_numpy(), before + g)
    assert step.cache_info()["traces"] == 1 and two.cache_info()["traces"] == 1


def test_out_mismatch_raises_every_call(ex, rng):
    xb = ex.from_numpy(_f32(rng, 6, 7))
    f = hg.jit(lambda x: x * 3 - 1)
    for _ in range(3):
        with pytest.raises(ValueError, match=r"jit\(.*<lambda>\).*shape \(7,\).*\(6, 7\)"):
            f(xb, out=ex.empty((7,)))
    assert f.cache_info()["traces"] == 1


def test_temporaries_and_launches(ex, rng):
    x = _f32(rng, 1000)
    xb = ex.from_numpy(x)
    f = hg.jit(lambda x: (x - hg.ops.mean(x)) * 2)
    entry, _ = f._entry((xb,), None)
    assert len(entry.steps) == 2 and len(entry.plan.temps) >= 1
    first = f(xb).to_numpy()
    _no_retrace(f)
    for _ in range(3):
        _same_bits(f(xb).to_numpy(), first)
    want = (x.astype(np.float64) - x.astype(np.float64).mean()) * 2
    np.testing.assert_allclose(first, want, rtol=1e-5, atol=1e-5)


def test_more_results_and_launches_than_the_stack_holds(ex, rng):
    x = _f32(rng, 300)
    xb = ex.from_numpy(x)
    many = hg.jit(lambda x: tuple(x * float(k) for k in range(20)))
    entry, _ = many._entry((xb,), None)
    assert len(entry.allocs) == 20
    first = many(xb)
    _no_retrace(many)
    for got in (first, many(xb)):
        assert len(got) == 20
        for k, g in enumerate(got):
            assert_bitwise(g.to_numpy(), x * np.float32(k))

    def centre(x):
        for _ in range(70):
            x = x - hg.ops.mean(x)
        return x

    long = hg.jit(centre)
    entry, _ = long._entry((xb,), None)
    assert len(entry.steps) > 64 and len(entry.plan.temps) > 16
    d = x.astype(np.float64)
    for _ in range(2):
        got = long(xb).to_numpy()
        np.testing.assert_allclose(got, d - d.mean(), rtol=1e-5, atol=1e-5)
    assert long.cache_info()["traces"] == 1


def test_gemm_launch(ex, rng):
    a, b, c = _f32(rng, 20, 30), _f32(rng, 30, 40), _f32(rng, 40)
    ab, bb, cb = (ex.from_numpy(v) for v in (a, b, c))
    f = hg.jit(lambda a, b, c: hg.ops.relu(a @ b + c))
    first = f(ab, bb, cb).to_numpy()
    _same_bits(_no_retrace(f)(ab, bb, cb).to_numpy(), first)
    _same_bits(first, hg.ops.relu(ab @ bb + cb).to_numpy())
    want = np.maximum(a.astype(np.float64) @ b + c, 0)
    np.testing.assert_allclose(first, want, rtol=1e-4, atol=1e-4)


def test_captured_buffer(ex, rng):
    x, w = _f32(rng, 8, 16), _f32(rng, 16)
    wb = ex.from_numpy(w)
    f = hg.jit(lambda x: x * wb + 1)
    xb = ex.from_numpy(x)
    f(xb)
    assert_bitwise(_no_retrace(f)(xb).to_numpy(), x * w + 1)


def test_two_executors(ex, rng):
    ex2 = hg.Executor()
    x, y = _f32(rng, 50), _f32(rng, 50)
    a1, b1 = ex.from_numpy(x), ex.from_numpy(y)
    a2, b2 = ex2.from_numpy(x), ex2.from_numpy(y)
    f = hg.jit(lambda a, b: a * b + 1)
    f(a1, b1)
    f(a1, b1)
    for args, out in (((a1, b2), None), ((a2, b1), None), ((a1, b1), ex2.empty((50,)))):
        with pytest.raises(ValueError, match=r"jit\(.*<lambda>\).*different executors"):
            f(*args, out=out)
    r2 = f(a2, b2)
    assert r2.executor is ex2
    assert_bitwise(r2.to_numpy(), x * y + 1)
    f(a1, b1)
    assert f.cache_info()["traces"] == 2  # one per executor


def test_recency_counts_cached_calls(ex):
    f = hg.jit(lambda x: x + 1)
    bufs = [ex.zeros((n,)) for n in range(1, 67)]
    for b in bufs[:64]:
        f(b)
    f(bufs[0])  # a cached call: bufs[0] is now the most recent
    f(bufs[64])  # evicts bufs[1], the least recently used
    assert f.cache_info() == {"traces": 65, "size": 64, "maxsize": 64}
    f(bufs[0])
    assert f.cache_info()["traces"] == 65
    f(bufs[1])
    assert f.cache_info()["traces"] == 66


def test_other_keywords_and_explicit_none(ex, rng):
    x = _f32(rng, 10)
    xb = ex.from_numpy(x)
    f = hg.jit(lambda x: x * 2)
    f(xb)
    assert_bitwise(f(xb, out=None).to_numpy(), x * 2)
    with pytest.raises(TypeError, match=r"unexpected keyword"):
        f(xb, outs=None)
    with pytest.raises(TypeError, match=r"jit\(.*<lambda>\).*Python numbers, got str"):
        f("x")


def test_ir_then_cached_call(ex, rng):
    x = _f32(rng, 9)
    xb = ex.from_numpy(x)
    f = hg.jit(lambda x: hg.ops.exp(x) - 1)
    assert "kernel" in f.ir(xb)
    first = _no_retrace(f)(xb).to_numpy()  # found in the cache
    _same_bits(first, hg.ops.exp(xb).to_numpy() - np.float32(1))
    assert f.cache_info()["traces"] == 1


def test_base_class_call(ex, rng):
    """The base class's vectorcall entry (which JitFunction inherits from
    Python 3.12 on; 3.10 and 3.11 call through tp_call)."""
    x = _f32(rng, 100)
    xb, o = ex.from_numpy(x), ex.empty((100,))
    f = hg.jit(lambda x, s: x * s)
    entry, _ = f._entry((xb, 2.0), None)
    raw = hg._core._JitCall()
    raw._cache_put((xb, 2.0), None, entry, entry.steps, entry.allocs, entry.plan.temps, True, 4)
    assert raw._cache_get((xb, 2.0), None) is entry and raw._cache_size() == 1
    assert_bitwise(raw(xb, 3.0).to_numpy(), x * 3)
    assert_bitwise(raw(xb, 3.0, out=None).to_numpy(), x * 3)
    with pytest.raises(AttributeError, match="_call"):  # a miss goes to _call
        raw(xb, 3.0, out=o)
    with pytest.raises(AttributeError, match="_call"):
        raw(xb, xb)


def _memory(ex):
    s = ex.memory_stats()
    return s["bytes_in_use"], s["allocs"] - s["frees"]


def test_no_leak_over_10000_calls(ex, rng):
    a, b = ex.from_numpy(_f32(rng, 1000)), ex.from_numpy(_f32(rng, 1000))
    o = ex.empty((1000,))
    s = float(np.float64(1.5))  # a float object of our own
    f = hg.jit(lambda a, b, s: (a * s + b, b - hg.ops.sum(a)))  # two results, a temp
    g = hg.jit(lambda a, b: a * b)
    h = hg.jit(lambda o: o * 0.5)
    for _ in range(10):
        f(a, b, s), g(a, b, out=o), h(o, out=o)
    objs = (a, b, o, s, ex, f, g, h)
    before = [sys.getrefcount(v) for v in objs], _memory(ex)
    for _ in range(10_000):
        f(a, b, s)
        g(a, b, out=o)
        h(o, out=o)
    assert ([sys.getrefcount(v) for v in objs], _memory(ex)) == before
    # the error path (a scalar float32 cannot hold) frees what it allocated
    for _ in range(1000):
        with pytest.raises(OverflowError):
            f(a, b, 10**400)
    assert ([sys.getrefcount(v) for v in objs], _memory(ex)) == before
    assert f.cache_info()["traces"] == 1


def test_collected_in_a_cycle(ex):
    f = hg.jit(lambda x: x + 1)
    f(ex.zeros((4,)))
    f.me = f
    ref = weakref.ref(f)
    del f
    gc.collect()
    assert ref() is None


def test_threads_with_evictions(monkeypatch):
    """Calls that release the GIL while other threads trace and evict."""
    monkeypatch.setattr(jit_module, "CACHE_SIZE", 2)
    ex = hg.Executor(threads=1)
    rng = np.random.default_rng(3)
    xs = [_f32(rng, n) for n in (100_000, 100_001, 100_002)]
    bufs = [ex.from_numpy(x) for x in xs]
    f = hg.jit(lambda x, s: hg.ops.tanh(x * s) + 1)
    wants = [hg.ops.tanh(b * 0.5).to_numpy() + np.float32(1) for b in bufs]
    errors = []

    def work(k):
        try:
            for i in range(40):
                j = (i + k) % 3
                got = f(bufs[j], 0.5).to_numpy()
                if not np.array_equal(got, wants[j]):
                    errors.append(j)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert f.cache_info()["size"] == 2


# ---- a cached call and a fresh trace give the same bits ---------------------------------------

_UNARY = [
    lambda x: -x,
    abs,
    hg.ops.relu,
    hg.ops.tanh,
    hg.ops.sigmoid,
    lambda x: hg.ops.exp(x * 0.1),
    lambda x: hg.ops.sqrt(abs(x)),
]
_BINARY = [
    lambda x, y: x + y,
    lambda x, y: x - y,
    lambda x, y: x * y,
    lambda x, y: x / (abs(y) + 1),
    hg.ops.maximum,
    hg.ops.minimum,
    lambda x, y: hg.ops.where(x > y, x, y * 0.5),
]


def _program(prng, nargs):
    """A random expression over nargs operands, as a list of steps."""
    steps = []
    for _ in range(prng.integers(2, 7)):
        if prng.random() < 0.4:
            steps.append(("u", prng.integers(len(_UNARY)), prng.integers(nargs)))
        else:
            steps.append(("b", prng.integers(len(_BINARY)), *prng.integers(nargs, size=2)))
    return steps, prng.integers(3)


def _function(steps, tail):
    def fn(*args):
        vals = list(args)
        for st in steps:
            if st[0] == "u":
                v = _UNARY[st[1]](vals[st[2]])
            else:
                v = _BINARY[st[1]](vals[st[2]], vals[st[3]])
            vals.append(v)
        last = vals[-1] * args[0]  # a (rows, cols) result, whatever the steps read
        if tail == 1:
            return last - hg.ops.max(last, axis=-1, keepdims=True)
        if tail == 2:
            return last, last * hg.ops.mean(last)
        return last

    return fn


@pytest.mark.parametrize("seed", range(40))
def test_cached_call_equals_fresh_trace(ex, seed):
    prng = np.random.default_rng(seed)
    rows, cols = int(prng.integers(1, 9)), int(prng.integers(1, 300))
    shapes = [(rows, cols), (cols,), (rows, 1), (rows, cols)]

    def arguments():
        args = [ex.from_numpy(_f32(prng, *shapes[0]))]
        for _ in range(3):
            if prng.random() < 0.3:
                args.append(float(prng.standard_normal()))
            else:
                args.append(ex.from_numpy(_f32(prng, *shapes[prng.integers(len(shapes))])))
        return args

    args = arguments()
    steps, tail = _program(prng, len(args))
    fn = _function(steps, tail)
    cached = hg.jit(fn)
    cached(*args)  # traced
    _no_retrace(cached)
    for _ in range(3):
        # new values of the same signature: cached here, traced afresh there
        args = [
            float(prng.standard_normal())
            if isinstance(a, float)
            else ex.from_numpy(_f32(prng, *a.shape))
            for a in args
        ]
        got = cached(*args)
        want = hg.jit(fn)(*args)
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple) else (want,)
        for g, w in zip(got, want, strict=True):
            _same_bits(g.to_numpy(), w.to_numpy())
    assert cached.cache_info()["traces"] == 1
