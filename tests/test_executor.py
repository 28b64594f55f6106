"""Executors: cpu_info, ISA variants, thread determinism, concurrency from
Python threads, and the memory pool (flat steady state, no leaks)."""

import gc
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import (
    ATOL,
    ISA_PARAMS,
    RTOL,
    U32,
    _close,
    _nan_inf_semantics,
    assert_bitwise,
    assert_equal_values,
    assert_f32_close,
    assert_sqrt,
    special_values,
    sum_bound,
    t,
)

import hologram as hg


def meson_version():
    """The version meson.build defines: the one place it is written."""
    text = (Path(__file__).resolve().parents[1] / "meson.build").read_text()
    return re.search(r"version\s*:\s*'([^']+)'", text).group(1)


def cpu_model_name():
    """The model name Linux reads from the same cpuid brand string, trimmed alike."""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return ""


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------
# cpu_info / construction
# --------------------------------------------------------------------------
def test_cpu_info_shape():
    info = hg.cpu_info()
    assert info["brand"] == cpu_model_name()
    assert info["isa"] in ("baseline", "avx2", "avx512", "neon")
    assert info["ncpu"] == os.sysconf("SC_NPROCESSORS_ONLN")
    assert "baseline" in info["isa_supported"] and "baseline" in info["isa_compiled"]
    assert set(info["isa_supported"]) <= set(info["isa_compiled"])
    assert info["isa"] in info["isa_supported"]
    order = ["baseline", "avx2", "avx512", "neon"]
    assert info["isa"] == max(info["isa_supported"], key=order.index)
    assert info["ncpu"] == os.cpu_count()


def test_cpu_info_matches_proc_cpuinfo():
    flags = cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo flags on this platform")
    sup = hg.cpu_info()["isa_supported"]
    comp = hg.cpu_info()["isa_compiled"]
    has_avx2 = {"avx2", "fma"} <= flags
    has_512 = {"avx512f", "avx512dq", "avx512bw", "avx512vl"} <= flags and has_avx2
    if "avx2" in comp:
        assert ("avx2" in sup) == has_avx2
    if "avx512" in comp:
        assert ("avx512" in sup) == has_512


def test_executor_attributes(monkeypatch):
    monkeypatch.delenv("HOLOGRAM_ISA", raising=False)
    ex = hg.Executor()
    assert ex.threads == 1
    assert ex.isa == hg.cpu_info()["isa"]
    r = repr(ex)
    assert "threads=1" in r.replace(" ", "") and ex.isa in r
    assert ex.synchronize() is None
    assert hg.__version__ == meson_version()


def test_executor_threads_zero_is_all_cpus():
    ex = hg.Executor(threads=0)
    assert ex.threads == hg.cpu_info()["ncpu"]


@pytest.mark.parametrize("level", ["baseline", "avx2", "avx512", "neon"])
def test_hologram_isa_env(monkeypatch, level):
    if level not in hg.cpu_info()["isa_supported"]:
        pytest.skip(f"CPU lacks {level}")
    monkeypatch.setenv("HOLOGRAM_ISA", level)
    assert hg.Executor().isa == level


@pytest.mark.parametrize("level", ["avx2", "avx512", "neon"])
def test_unsupported_isa_raises(level):
    if level in hg.cpu_info()["isa_supported"]:
        pytest.skip(f"CPU supports {level}: nothing to reject")
    with pytest.raises(ValueError, match=r"(?i)isa|" + level):
        hg.Executor(isa=level)


# --------------------------------------------------------------------------
# ISA variants agree with baseline and torch
# --------------------------------------------------------------------------
def isa_inputs():
    r = np.random.default_rng(42)
    n = 4097 + 3
    a = (r.standard_normal(n) * 4).astype(np.float32)
    b = (r.standard_normal(n) * 4).astype(np.float32)
    sv = special_values()
    a[: sv.size] = sv
    b[n - sv.size :] = sv
    b[sv.size : 2 * sv.size] = sv[::-1]
    pos = np.abs(a) + np.float32(1e-3)
    pos[: sv.size] = sv
    return dict(
        a=a,
        b=b,
        pos=pos,
        sm=(r.standard_normal((33, 1025)) * 30).astype(np.float32),
        ga=r.standard_normal((65, 130)).astype(np.float32),
        gb=r.standard_normal((130, 17)).astype(np.float32),
        lg=(r.standard_normal((64, 1000)) * 5).astype(np.float32),
        tg=r.integers(0, 1000, 64).astype(np.int64),
        red=r.standard_normal(65537).astype(np.float32),
        red2=r.standard_normal((17, 1025)).astype(np.float32),
    )


INP = isa_inputs()
EXACT = {
    "vector_add": torch.add,
    "vector_sub": torch.sub,
    "vector_mul": torch.mul,
    "vector_div": torch.div,
}
UNARY_EXACT = {"neg": torch.neg, "abs": torch.abs}
APPROX = {
    "exp": (np.exp, torch.exp, "a"),
    "tanh": (np.tanh, torch.tanh, "a"),
    "sigmoid": (lambda v: 1 / (1 + np.exp(-v)), torch.sigmoid, "a"),
    "log": (np.log, torch.log, "pos"),
}


def run_all(ex):
    d = {k: ex.from_numpy(v) for k, v in INP.items()}
    o = {}
    for op in EXACT:
        o[op] = getattr(hg.ops, op)(d["a"], d["b"]).to_numpy()
    for op in UNARY_EXACT:
        o[op] = getattr(hg.ops, op)(d["a"]).to_numpy()
    o["relu"] = hg.ops.relu(d["a"]).to_numpy()
    o["sqrt"] = hg.ops.sqrt(d["a"]).to_numpy()
    for op, (_, _, src) in APPROX.items():
        o[op] = getattr(hg.ops, op)(d[src]).to_numpy()
    o["pow"] = hg.ops.pow(d["pos"], d["b"]).to_numpy()
    o["pow2.5"] = hg.ops.pow(d["pos"], 2.5).to_numpy()
    o["softmax"] = hg.ops.softmax(d["sm"]).to_numpy()
    o["gemm"] = hg.ops.gemm(d["ga"], d["gb"], m=65, n=17, k=130).to_numpy()
    o["ce"] = hg.ops.cross_entropy(d["lg"], d["tg"]).item()
    o["mse"] = hg.ops.mse_loss(d["a"], d["b"]).item()
    for op in ("sum", "mean", "max", "min"):
        o[op] = getattr(hg.ops, op)(d["red"]).item()
        o[op + "_axis"] = getattr(hg.ops, op)(d["red2"], axis=-1).to_numpy()
    return o


_baseline = {}


def baseline_results():
    if "r" not in _baseline:
        _baseline["r"] = run_all(hg.Executor(threads=1, isa="baseline"))
    return _baseline["r"]


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_isa_variant_agrees(level):
    ex = hg.Executor(threads=1, isa=level)
    assert ex.isa == level
    got = run_all(ex)
    base = baseline_results()
    a, b, pos = INP["a"], INP["b"], INP["pos"]
    with np.errstate(all="ignore"):
        for op, tf in EXACT.items():
            assert_bitwise(got[op], base[op], f"{level} {op} vs baseline")
            assert_bitwise(got[op], tf(t(a), t(b)).numpy(), f"{level} {op} vs torch")
        for op, tf in UNARY_EXACT.items():
            assert_bitwise(got[op], base[op], f"{level} {op} vs baseline")
            assert_bitwise(got[op], tf(t(a)).numpy(), f"{level} {op} vs torch")
        assert_sqrt(got["sqrt"], a, f"{level} sqrt")
        assert_bitwise(got["sqrt"], base["sqrt"], f"{level} sqrt vs baseline")
        assert_equal_values(got["relu"], base["relu"], f"{level} relu")
        assert_equal_values(got["relu"], torch.relu(t(a)).numpy(), f"{level} relu vs torch")
        for op, (f64, tf, src) in APPROX.items():
            x = INP[src]
            ref = f64(x.astype(np.float64))
            assert_f32_close(got[op], ref, tf(t(x)).numpy(), what=f"{level} {op}")
            _nan_inf_semantics(got[op], base[op], f"{level} {op} vs baseline")
            _close(got[op], base[op], RTOL, ATOL, f"{level} {op} vs baseline")
        ref = np.power(pos.astype(np.float64), b.astype(np.float64))
        assert_f32_close(got["pow"], ref, torch.pow(t(pos), t(b)).numpy(), what=f"{level} pow")
        ref = np.power(pos.astype(np.float64), 2.5)
        assert_f32_close(got["pow2.5"], ref, torch.pow(t(pos), 2.5).numpy(), what=f"{level} pow2.5")
    sm = INP["sm"].astype(np.float64)
    e = np.exp(sm - sm.max(1, keepdims=True))
    assert_f32_close(
        got["softmax"],
        e / e.sum(1, keepdims=True),
        torch.softmax(t(INP["sm"]), -1).numpy(),
        what=f"{level} softmax",
    )
    _close(got["softmax"], base["softmax"], RTOL, ATOL, f"{level} softmax vs baseline")
    A, B = INP["ga"].astype(np.float64), INP["gb"].astype(np.float64)
    # gemm: dot products of length k=130, gamma_k < 1e-5 -> rtol 1e-5 of |A|@|B|
    tol = RTOL * (np.abs(A) @ np.abs(B))
    assert np.all(np.abs(got["gemm"] - A @ B) <= tol), f"{level} gemm"
    assert np.all(np.abs(got["gemm"] - base["gemm"]) <= 2 * tol), f"{level} gemm vs baseline"
    ce_t = float(F.cross_entropy(t(INP["lg"]), t(INP["tg"])))
    assert abs(got["ce"] - ce_t) <= ATOL + RTOL * abs(ce_t)
    red = INP["red"]
    r64 = float(np.sum(red.astype(np.float64)))
    assert abs(got["sum"] - r64) <= sum_bound(red, r64)
    assert abs(got["sum"] - base["sum"]) <= 2 * sum_bound(red, r64)
    m64 = r64 / red.size
    assert abs(got["mean"] - m64) <= sum_bound(red, r64) / red.size + 2 * U32 * abs(m64)
    assert got["max"] == base["max"] == float(red.max())
    assert got["min"] == base["min"] == float(red.min())
    mse_t = float(F.mse_loss(t(a), t(b)))  # includes NaN/inf from the specials
    assert (np.isnan(got["mse"]) and np.isnan(mse_t)) or got["mse"] == pytest.approx(
        mse_t, rel=RTOL, abs=ATOL
    )
    assert (np.isnan(got["mse"]) and np.isnan(base["mse"])) or got["mse"] == pytest.approx(
        base["mse"], rel=RTOL, abs=ATOL
    )
    assert_equal_values(got["max_axis"], INP["red2"].max(-1), f"{level} max axis")
    assert_equal_values(got["min_axis"], INP["red2"].min(-1), f"{level} min axis")
    r2 = INP["red2"].astype(np.float64)
    for i in range(r2.shape[0]):
        s = r2[i].sum()
        assert abs(got["sum_axis"][i] - s) <= sum_bound(INP["red2"][i], s)


# --------------------------------------------------------------------------
# thread-count determinism (bitwise, reductions included)
# --------------------------------------------------------------------------
BIG = 1_000_003


def big_inputs():
    r = np.random.default_rng(7)
    return dict(
        a=r.standard_normal(BIG).astype(np.float32),
        b=r.standard_normal(BIG).astype(np.float32),
        pos=np.abs(r.standard_normal(BIG)).astype(np.float32) + np.float32(1e-3),
        ga=r.standard_normal((256, 256)).astype(np.float32),
        gb=r.standard_normal((256, 256)).astype(np.float32),
        sm=(r.standard_normal((512, 1000)) * 5).astype(np.float32),
        lg=(r.standard_normal((4096, 1000)) * 3).astype(np.float32),
        tg=np.where(r.random(4096) < 0.1, -100, r.integers(0, 1000, 4096)).astype(np.int64),
    )


def run_big(ex, inp):
    d = {k: ex.from_numpy(v) for k, v in inp.items()}
    o = {}
    for op in ("vector_add", "vector_sub", "vector_mul", "vector_div", "mse_loss"):
        o[op] = getattr(hg.ops, op)(d["a"], d["b"]).to_numpy()
    for op in ("neg", "abs", "relu", "sigmoid", "tanh", "exp", "sqrt", "softmax"):
        o[op] = getattr(hg.ops, op)(d["a"]).to_numpy()
    o["log"] = hg.ops.log(d["pos"]).to_numpy()
    o["pow"] = hg.ops.pow(d["pos"], d["b"]).to_numpy()
    o["pow_s"] = hg.ops.pow(d["pos"], -0.5).to_numpy()
    for op in ("sum", "mean", "max", "min"):
        o[op] = getattr(hg.ops, op)(d["a"]).to_numpy()
        o[op + "_axis"] = getattr(hg.ops, op)(d["sm"], axis=-1).to_numpy()
    o["gemm"] = hg.ops.gemm(d["ga"], d["gb"], m=256, n=256, k=256).to_numpy()
    o["softmax2d"] = hg.ops.softmax(d["sm"]).to_numpy()
    o["ce"] = hg.ops.cross_entropy(d["lg"], d["tg"]).to_numpy()
    return o


_big = {}


def big_reference():
    if "r" not in _big:
        _big["inp"] = big_inputs()
        _big["r"] = run_big(hg.Executor(threads=1), _big["inp"])
    return _big["inp"], _big["r"]


@pytest.mark.parametrize("threads", [2, 0, 3])
def test_threads_bitwise_identical(threads):
    inp, ref = big_reference()
    got = run_big(hg.Executor(threads=threads), inp)
    for k in ref:
        assert_bitwise(
            np.asarray(got[k], np.float32), np.asarray(ref[k], np.float32), f"threads={threads} {k}"
        )
    # and the single-thread reference is itself right (spot checks)
    np.testing.assert_array_equal(ref["vector_add"], inp["a"] + inp["b"])
    r64 = float(np.sum(inp["a"].astype(np.float64)))
    assert abs(float(ref["sum"]) - r64) <= sum_bound(inp["a"], r64)
    ce_t = float(F.cross_entropy(t(inp["lg"]), t(inp["tg"])))
    assert abs(float(ref["ce"]) - ce_t) <= ATOL + RTOL * abs(ce_t)


@pytest.mark.parametrize(
    "m,n,k", [(30, 700, 300), (100, 300, 200), (257, 129, 160), (1, 4000, 600)]
)
def test_threads_gemm_splits(m, n, k):
    # workers split a gemm by rows (cut on the micro-kernel's rows) or, when
    # the row panels would be short, by fewer rows and by columns; either way
    # every C element is the same dot product as with one thread, in order
    r = np.random.default_rng(m + n + k)
    A = r.standard_normal((m, k)).astype(np.float32)
    B = r.standard_normal((k, n)).astype(np.float32)
    got = {}
    for threads in (1, 2, 3):
        ex = hg.Executor(threads=threads)
        got[threads] = hg.ops.gemm(ex.from_numpy(A), ex.from_numpy(B), m=m, n=n, k=k).to_numpy()
    for threads in (2, 3):
        assert_bitwise(got[threads], got[1], f"gemm {m}x{n}x{k} with {threads} threads vs 1")
    ref = A.astype(np.float64) @ B.astype(np.float64)
    scale = np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64))
    gk = k * U32 / (1 - k * U32)
    assert np.all(np.abs(got[2] - ref) <= max(RTOL, gk) * scale), f"gemm {m}x{n}x{k} vs float64"


@pytest.mark.parametrize(
    "case",
    ["add", "gelu", "bias", "log_softmax", "layer_norm", "sum"],
)
def test_small_launches_split_per_worker(case):
    """A launch with more than the parallel threshold's work but under one
    64K-element task per worker runs one task per worker when its program
    has no whole-launch reduction (an add of 65,536, a gelu of 10,000 and
    40,000 elements, a bias add over 64 rows, row programs over 32 rows);
    the bits are those of one thread and of PyTorch's values within the
    notebook's tolerance.  A whole sum keeps its one task at every count;
    empty launches have no task to split."""
    r = np.random.default_rng(11)
    shapes = {
        "add": [(65536,), (40000,), (0,)],
        "gelu": [(10000,), (40000,)],
        "bias": [(64, 1024), (100, 1000), (0, 1000)],
        "log_softmax": [(32, 1000), (10, 1000)],
        "layer_norm": [(32, 1024), (33, 1000)],
        "sum": [(65536,), (90000,)],
    }[case]
    hg_op = {
        "add": lambda a, b: a + b,
        "gelu": lambda a, b: hg.ops.gelu(a),
        "bias": lambda a, b: a + b,
        "log_softmax": lambda a, b: hg.ops.log_softmax(a),
        "layer_norm": lambda a, b: hg.ops.layer_norm(a),
        "sum": lambda a, b: hg.ops.sum(a),
    }[case]
    torch_op = {
        "add": lambda a, b: a + b,
        "gelu": lambda a, b: F.gelu(a),
        "bias": lambda a, b: a + b,
        "log_softmax": lambda a, b: torch.log_softmax(a, -1),
        "layer_norm": lambda a, b: F.layer_norm(a, a.shape[-1:]),
        "sum": lambda a, b: a.double().sum().float(),
    }[case]
    for shape in shapes:
        x = (r.standard_normal(shape) * 3).astype(np.float32)
        y = r.standard_normal(shape[-1:]) if case == "bias" else x[::-1]
        y = np.ascontiguousarray(y, np.float32)
        got = {}
        for threads in (1, 2, 3):
            ex = hg.Executor(threads=threads)
            got[threads] = np.asarray(
                hg_op(ex.from_numpy(x), ex.from_numpy(y)).to_numpy(), np.float32
            )
        for threads in (2, 3):
            assert_bitwise(got[threads], got[1], f"{case} {shape} with {threads} threads vs 1")
        want = torch_op(t(x), t(y)).numpy()
        np.testing.assert_allclose(got[1], want, rtol=RTOL, atol=ATOL)


def test_threads_repeatable():
    inp, _ = big_reference()
    ex = hg.Executor(threads=2)
    d = ex.from_numpy(inp["a"])
    s = [hg.ops.sum(d).item() for _ in range(20)]
    assert len(set(s)) == 1


# --------------------------------------------------------------------------
# many Python threads
# --------------------------------------------------------------------------
def _worker(exs, tid, errors, iters=200):
    r = np.random.default_rng(tid)
    try:
        for i in range(iters):
            ex = exs[(tid + i) % len(exs)]
            n = int(r.choice([17, 1025, 40_000, 100_003]))
            a = r.standard_normal(n).astype(np.float32)
            b = r.standard_normal(n).astype(np.float32)
            ba, bb = ex.from_numpy(a), ex.from_numpy(b)
            k = i % 5
            if k == 0:
                got = hg.ops.vector_add(ba, bb).to_numpy()
                assert np.array_equal(got, a + b), "vector_add"
            elif k == 1:
                got = hg.ops.vector_mul(ba, bb).to_numpy()
                assert np.array_equal(got, a * b), "vector_mul"
            elif k == 2:
                got = hg.ops.sum(ba).item()
                r64 = float(np.sum(a.astype(np.float64)))
                assert abs(got - r64) <= sum_bound(a, r64), "sum"
            elif k == 3:
                got = hg.ops.max(ba).item()
                assert got == float(a.max()), "max"
            else:
                got = hg.ops.exp(ba).to_numpy()
                ref = np.exp(a.astype(np.float64))
                assert np.all(np.abs(got - ref) <= ATOL + RTOL * np.abs(ref)), "exp"
    except BaseException as e:  # noqa: BLE001 - reported to the main thread
        errors.append((tid, repr(e)))


def _run_threads(exs):
    errors = []
    th = [threading.Thread(target=_worker, args=(exs, i, errors)) for i in range(8)]
    for x in th:
        x.start()
    for x in th:
        x.join(timeout=120)
    assert not any(x.is_alive() for x in th), "threads hung"
    assert not errors, errors


@pytest.mark.parametrize("threads", [1, 2])
def test_many_python_threads_shared_executor(threads):
    _run_threads([hg.Executor(threads=threads)])


def test_many_python_threads_separate_executors():
    _run_threads([hg.Executor(threads=1) for _ in range(4)] + [hg.Executor(threads=2)])


def test_concurrent_reductions_bitwise_deterministic():
    """A launch that finds the workers busy runs on its calling thread alone;
    the combine must still give the same bits as an uncontended launch."""
    x = np.random.default_rng(3).standard_normal(1_000_003).astype(np.float32)
    ex = hg.Executor(threads=2)
    bx = ex.from_numpy(x)
    ref = hg.ops.sum(bx).to_numpy().view(np.uint32)
    ref1 = hg.Executor(threads=1)
    assert hg.ops.sum(ref1.from_numpy(x)).to_numpy().view(np.uint32) == ref
    bad = []

    def work():
        for _ in range(30):
            v = hg.ops.sum(bx).to_numpy().view(np.uint32)
            if v != ref:
                bad.append(int(v))

    th = [threading.Thread(target=work) for _ in range(6)]
    for x_ in th:
        x_.start()
    for x_ in th:
        x_.join(timeout=120)
    assert not bad, f"{len(bad)} nondeterministic sums"


# --------------------------------------------------------------------------
# memory pool
# --------------------------------------------------------------------------
STAT_KEYS = {
    "bytes_in_use",
    "bytes_requested",
    "bytes_reserved",
    "peak_bytes_in_use",
    "allocs",
    "frees",
    "hits",
    "misses",
}


def test_memory_stats_keys(ex):
    st = ex.memory_stats()
    assert STAT_KEYS <= set(st)
    assert {k: st[k] for k in STAT_KEYS} == dict.fromkeys(STAT_KEYS, 0)  # a fresh pool
    b = ex.from_numpy(np.ones(1000, np.float32))
    st2 = ex.memory_stats()
    # one block of the size class of 4000 bytes (four classes per power of two: 3584 < 4000 <=
    # 4096), carved from a new 2 MiB slab
    assert {k: st2[k] for k in STAT_KEYS} == {
        "bytes_in_use": 4096,
        "bytes_requested": b.nbytes,
        "bytes_reserved": 2 << 20,
        "peak_bytes_in_use": 4096,
        "allocs": 1,
        "frees": 0,
        "hits": 0,
        "misses": 1,
    }


def test_memory_flat_steady_state():
    ex = hg.Executor(threads=1)
    n = 1_000_000
    r = np.random.default_rng(0)
    an = r.standard_normal(n).astype(np.float32)
    bn = r.standard_normal(n).astype(np.float32)
    a, b = ex.from_numpy(an), ex.from_numpy(bn)
    for _ in range(10):
        c = hg.ops.vector_add(a, b)
    s0 = ex.memory_stats()
    reserved = []
    for i in range(2000):
        c = hg.ops.vector_add(a, b)
        if i % 100 == 0:
            reserved.append(ex.memory_stats()["bytes_reserved"])
    s1 = ex.memory_stats()
    assert s1["bytes_reserved"] == s0["bytes_reserved"], (s0, s1)
    assert set(reserved) == {s0["bytes_reserved"]}
    assert s1["hits"] >= s0["hits"] + 2000, (s0, s1)
    assert s1["misses"] == s0["misses"]
    assert s1["peak_bytes_in_use"] == s0["peak_bytes_in_use"]
    assert s1["bytes_in_use"] == s0["bytes_in_use"]
    np.testing.assert_array_equal(c.to_numpy(), an + bn)


def test_bytes_in_use_returns_to_baseline():
    ex = hg.Executor(threads=1)
    gc.collect()
    base = ex.memory_stats()
    bufs = [ex.from_numpy(np.ones(n, np.float32)) for n in (1, 100, 10_000, 1_000_003)]
    outs = [hg.ops.exp(b) for b in bufs]
    views = [np.asarray(o) for o in outs]
    mid = ex.memory_stats()
    assert mid["bytes_in_use"] >= base["bytes_in_use"] + 2 * 4 * (1 + 100 + 10_000 + 1_000_003)
    assert mid["allocs"] >= base["allocs"] + 8
    del bufs, outs
    gc.collect()
    # views still hold the op results
    assert ex.memory_stats()["bytes_in_use"] >= base["bytes_in_use"] + 4 * 1_000_003
    del views
    gc.collect()
    end = ex.memory_stats()
    assert end["bytes_in_use"] == base["bytes_in_use"], (base, end)
    assert end["frees"] - base["frees"] == end["allocs"] - base["allocs"]
    ex.empty_cache()
    after = ex.memory_stats()
    assert after["bytes_reserved"] <= end["bytes_reserved"]
    assert after["bytes_reserved"] >= after["bytes_in_use"]
    # the executor still works after empty_cache
    x = np.arange(4097, dtype=np.float32)
    np.testing.assert_array_equal(
        hg.ops.vector_add(ex.from_numpy(x), ex.from_numpy(x)).to_numpy(), x + x
    )


def test_no_leak_across_ops():
    ex = hg.Executor(threads=1)
    x = np.random.default_rng(1).standard_normal((64, 1000)).astype(np.float32)
    tg = np.zeros(64, np.int64)
    bx, bt = ex.from_numpy(x), ex.from_numpy(tg)

    def everything():
        hg.ops.softmax(bx)
        hg.ops.sum(bx, axis=-1)
        hg.ops.cross_entropy(bx, bt)
        hg.ops.gemm(bx, bx, m=64, n=64, k=1000)
        hg.ops.pow(bx, 2.5)
        hg.ops.mse_loss(bx, bx)
        try:  # (64, 1000) with (64,): the shapes do not broadcast
            hg.ops.vector_add(bx, bt)
        except ValueError:
            pass

    for _ in range(5):
        everything()
    gc.collect()
    s0 = ex.memory_stats()
    for _ in range(200):
        everything()
    gc.collect()
    s1 = ex.memory_stats()
    assert s1["bytes_in_use"] == s0["bytes_in_use"]
    assert s1["bytes_reserved"] == s0["bytes_reserved"]


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_isa_dense_bit_patterns(level):
    """Every ISA level on ~1M float32 bit patterns (all of NaN/inf/subnormal/
    huge): transcendentals vs float64 and torch semantics, and vs baseline;
    exact ops bitwise."""
    from conftest import f32_bits_sample

    x = f32_bits_sample(4099, 17)
    y = x[::-1].copy()
    ex, exb = hg.Executor(isa=level), hg.Executor(isa="baseline")
    bx, by = ex.from_numpy(x), ex.from_numpy(y)
    with np.errstate(all="ignore"):
        for op, (f64, tf, _) in APPROX.items():
            got = getattr(hg.ops, op)(bx).to_numpy()
            base = getattr(hg.ops, op)(exb.from_numpy(x)).to_numpy()
            assert_f32_close(got, f64(x.astype(np.float64)), tf(t(x)).numpy(), what=f"{level} {op}")
            _nan_inf_semantics(got, base, f"{level} {op} vs baseline")
            _close(got, base, RTOL, ATOL, f"{level} {op} vs baseline")
        for op, tf in EXACT.items():
            assert_bitwise(
                getattr(hg.ops, op)(bx, by).to_numpy(), tf(t(x), t(y)).numpy(), f"{level} {op}"
            )
        assert_sqrt(hg.ops.sqrt(bx).to_numpy(), x, f"{level} sqrt")
        for op in ("max", "min"):
            fin = x[~np.isnan(x)]
            assert getattr(hg.ops, op)(ex.from_numpy(fin)).item() == float(getattr(np, op)(fin))
            assert np.isnan(getattr(hg.ops, op)(bx).item())


def test_thread_count_limit_is_the_cores():
    # the extension and the C core share one limit (AT_MAX_THREADS = 1024)
    with pytest.raises(ValueError, match=r"threads=1025 is too large \(at most 1024\)"):
        hg.Executor(threads=1025)
