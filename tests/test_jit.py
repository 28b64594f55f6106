"""@hg.jit: traced functions against PyTorch and NumPy float64, the retrace and
cache rules, out= (in place included), the IR of f.ir, the errors, and the
verifier's in-place rule at the IR level."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import ISA_PARAMS, assert_bitwise, assert_f32_close, t

import hologram as hg

# ---- the patterns, written once with operators and hg.ops -----------------------------------


def gelu_tanh(x):
    return 0.5 * x * (1.0 + hg.ops.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


def sig_fma(a, b, c):
    return hg.ops.sigmoid(a * b + c)


def softmax(x):
    e = hg.ops.exp(x - hg.ops.max(x, axis=-1, keepdims=True))
    return e / hg.ops.sum(e, axis=-1, keepdims=True)


def layer_norm(x, w, b, eps):
    d = x - hg.ops.mean(x, axis=-1, keepdims=True)
    var = hg.ops.mean(d * d, axis=-1, keepdims=True)
    return d / hg.ops.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / hg.ops.sqrt(hg.ops.mean(x * x, axis=-1, keepdims=True) + eps) * w


def logsumexp(x):
    m = hg.ops.max(x, axis=-1, keepdims=True)
    return hg.ops.log(hg.ops.sum(hg.ops.exp(x - m), axis=-1, keepdims=True)) + m


def adam(p, g, m, v, lr, b1, b2, eps):
    m2 = b1 * m + (1 - b1) * g
    v2 = b2 * v + (1 - b2) * g * g
    return p - lr * m2 / (hg.ops.sqrt(v2) + eps), m2, v2


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _kernels(text):
    return len(re.findall(r"^kernel ", text, flags=re.M))


# ---- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 1000, 1025, 70001])
def test_gelu_tanh(ex, rng, n):
    x = _f32(rng, n) * 3
    f = hg.jit(gelu_tanh)
    got = f(ex.from_numpy(x)).to_numpy()
    x64 = x.astype(np.float64)
    ref = 0.5 * x64 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x64 + 0.044715 * x64**3)))
    assert_f32_close(got, ref, F.gelu(t(x), approximate="tanh").numpy(), what="gelu")
    assert _kernels(f.ir(ex.from_numpy(x))) == 1


@pytest.mark.parametrize("shape", [(1000,), (37, 129)])
def test_sigmoid_fma_and_eager_equivalence(ex, rng, shape):
    a, b, c = (_f32(rng, *shape) for _ in range(3))
    bufs = [ex.from_numpy(v) for v in (a, b, c)]
    got = hg.jit(sig_fma)(*bufs).to_numpy()
    ref64 = 1 / (1 + np.exp(-(a.astype(np.float64) * b + c)))
    assert_f32_close(got, ref64, torch.sigmoid(t(a) * t(b) + t(c)).numpy(), what="sigmoid")
    # the same function runs eagerly on Buffers, op by op, with the same bits
    assert_bitwise(got, sig_fma(*bufs).to_numpy(), "jit vs eager")


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (64, 1000), (300, 1025)])
def test_softmax_logsumexp(ex, rng, shape):
    x = _f32(rng, *shape) * 4
    xb = ex.from_numpy(x)
    f, g = hg.jit(softmax), hg.jit(logsumexp)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(-1, keepdims=True))
    assert_f32_close(
        f(xb).to_numpy(), e / e.sum(-1, keepdims=True), torch.softmax(t(x), -1).numpy()
    )
    lse = g(xb).to_numpy()
    assert lse.shape == shape[:-1] + (1,)
    assert_f32_close(
        lse,
        np.log(e.sum(-1, keepdims=True)) + x64.max(-1, keepdims=True),
        torch.logsumexp(t(x), -1, keepdim=True).numpy(),
    )
    assert _kernels(f.ir(xb)) == 1 and _kernels(g.ir(xb)) == 1
    # hg.ops.softmax inside a jitted function is the built-in kernel's formula
    assert_bitwise(hg.jit(hg.ops.softmax)(xb).to_numpy(), hg.ops.softmax(xb).to_numpy())


@pytest.mark.parametrize("shape", [(4, 7), (100, 1000), (33, 4097)])
def test_layer_norm_rms_norm(ex, rng, shape):
    x, w, b = _f32(rng, *shape), _f32(rng, shape[-1]), _f32(rng, shape[-1])
    xb, wb, bb = ex.from_numpy(x), ex.from_numpy(w), ex.from_numpy(b)
    ln = hg.jit(layer_norm)
    x64 = x.astype(np.float64)
    d = x64 - x64.mean(-1, keepdims=True)
    ref = d / np.sqrt((d * d).mean(-1, keepdims=True) + 1e-5) * w + b
    tref = F.layer_norm(t(x), shape[-1:], t(w), t(b), 1e-5).numpy()
    assert_f32_close(ln(xb, wb, bb, 1e-5).to_numpy(), ref, tref, what="layer_norm")
    assert _kernels(ln.ir(xb, wb, bb, 1e-5)) == 1
    # the op itself inside a traced function: the built-in kernel's formula
    lnop = hg.jit(lambda x, w, b: hg.ops.layer_norm(x, w, b, eps=1e-5))
    assert_bitwise(lnop(xb, wb, bb).to_numpy(), hg.ops.layer_norm(xb, wb, bb).to_numpy())
    rms = hg.jit(rms_norm)
    ref = x64 / np.sqrt((x64 * x64).mean(-1, keepdims=True) + 1e-6) * w
    tref = (t(x) * torch.rsqrt(t(x).pow(2).mean(-1, keepdim=True) + 1e-6) * t(w)).numpy()
    assert_f32_close(rms(xb, wb, 1e-6).to_numpy(), ref, tref, what="rms_norm")
    assert _kernels(rms.ir(xb, wb, 1e-6)) == 1


def test_broadcast_operands(ex, rng):
    x, row, col, one = _f32(rng, 9, 13), _f32(rng, 9, 1), _f32(rng, 13), _f32(rng, 1)
    f = hg.jit(lambda x, r, c, o, s: (x * r + c) * o - s)
    args = [ex.from_numpy(v) for v in (x, row, col, one)] + [0.25]
    text = f.ir(*args)
    assert _kernels(text) == 1
    for op in ("load ", "load.row ", "load.col ", "gather ", "param "):
        assert op in text, op
    got = f(*args).to_numpy()
    ref = (x.astype(np.float64) * row + col) * one - 0.25
    tref = ((t(x) * t(row) + t(col)) * t(one) - 0.25).numpy()
    assert_f32_close(got, ref, tref)
    outer = hg.jit(lambda r, c: r * c)
    assert_bitwise(
        outer(ex.from_numpy(row), ex.from_numpy(col)).to_numpy(), (t(row) * t(col)).numpy()
    )


def test_splits(ex, rng):
    x, w, b = _f32(rng, 20, 30), _f32(rng, 30, 10), _f32(rng, 10)
    xb, wb, bb = ex.from_numpy(x), ex.from_numpy(w), ex.from_numpy(b)
    centered = hg.jit(lambda x: x - hg.ops.mean(x))
    text = centered.ir(xb)
    assert _kernels(text) == 2 and "split here" in text
    x64 = x.astype(np.float64)
    tref = (t(x) - t(x).mean()).numpy()
    assert_f32_close(centered(xb).to_numpy(), x64 - x64.mean(), tref, atol=1e-5)
    mlp = hg.jit(lambda x, w, b: hg.ops.relu(x @ w + b))
    text = mlp.ir(xb, wb, bb)
    assert _kernels(text) == 2 and "gemm" in text
    tref = torch.relu(t(x) @ t(w) + t(b)).numpy()
    assert_f32_close(mlp(xb, wb, bb).to_numpy(), np.maximum(x64 @ w + b, 0), tref, atol=1e-5)
    red = hg.jit(lambda x: (hg.ops.sum(x * 2), hg.ops.max(x, axis=-1)))
    s, m = red(xb)
    assert s.shape == () and m.shape == (20,)
    assert _kernels(red.ir(xb)) == 1
    assert abs(s.item() - 2 * x64.sum()) < 1e-3
    assert_bitwise(m.to_numpy(), x.max(-1))


# ---- tracing and the cache --------------------------------------------------------------------


def test_retrace_rules(ex, rng):
    f = hg.jit(lambda x, s: x * s + 1)
    a, b = ex.from_numpy(_f32(rng, 8)), ex.from_numpy(_f32(rng, 8))
    for s in (0.5, 2.0, -3, True):
        assert_bitwise(f(a, s).to_numpy(), a.to_numpy() * np.float32(s) + 1)
    f(b, 7.0)
    assert f.cache_info()["traces"] == 1  # new scalar values and buffers: no retrace
    f(ex.from_numpy(_f32(rng, 9)), 1.0)
    assert f.cache_info()["traces"] == 2  # a new shape
    f(a, b)
    assert f.cache_info()["traces"] == 3  # a buffer where a scalar was
    f(ex.from_numpy(np.arange(8, dtype=np.float32).reshape(2, 4)), 1.0)
    assert f.cache_info()["traces"] == 4
    f(a, 1.0, out=ex.empty((8,)))
    f(a, 1.0, out=a)
    assert f.cache_info()["traces"] == 6  # out= and its aliasing are in the signature
    assert_bitwise(a.to_numpy(), b.to_numpy() * 0 + a.to_numpy())  # ran in place without error


def test_cache_bound(ex):
    f = hg.jit(lambda x: x + 1)
    assert hg.jit.CACHE_SIZE == 64
    bufs = [ex.zeros((n,)) for n in range(1, 71)]
    for b in bufs:
        f(b)
    info = f.cache_info()
    assert info["size"] == 64 and info["maxsize"] == 64 and info["traces"] == 70
    f(bufs[-1])
    assert f.cache_info()["traces"] == 70  # recent: cached
    f(bufs[0])
    assert f.cache_info()["traces"] == 71  # the oldest was evicted


def test_decorator_call_and_tuple(ex, rng):
    @hg.jit
    def two(x):
        return x + 1, x * 2

    assert hg.jit(two) is two
    x = _f32(rng, 5)
    a, b = two(ex.from_numpy(x))
    assert_bitwise(a.to_numpy(), x + 1)
    assert_bitwise(b.to_numpy(), x * 2)
    assert two.__name__ == "two"
    ident = hg.jit(lambda x: x)
    xb = ex.from_numpy(x)
    y = ident(xb)
    assert y is not xb and np.array_equal(y.to_numpy(), x)


# ---- out= ---------------------------------------------------------------------------------------


def test_out(ex, rng):
    x = _f32(rng, 6, 7)
    xb = ex.from_numpy(x)
    o = ex.empty((6, 7))
    f = hg.jit(lambda x: x * 3 - 1)
    assert f(xb, out=o) is o
    assert_bitwise(o.to_numpy(), x * 3 - 1)
    o1, o2 = ex.empty((6, 7)), ex.empty((6, 7))
    two = hg.jit(lambda x: (x + 1, x - 1))
    assert two(xb, out=(o1, o2)) == (o1, o2)
    assert_bitwise(o1.to_numpy(), x + 1)
    assert_bitwise(o2.to_numpy(), x - 1)
    f(xb, out=xb)
    assert_bitwise(xb.to_numpy(), x * 3 - 1)
    with pytest.raises(ValueError, match=r"jit\(.*<lambda>\).*shape \(7,\).*\(6, 7\)"):
        f(xb, out=ex.empty((7,)))
    with pytest.raises(ValueError, match=r"returns 2 result"):
        two(xb, out=o1)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n", [7, 1024, 1025, 65536 + 3, 300_001])
def test_adam_in_place(threads, n):
    ex = hg.Executor(threads=threads)
    rng = np.random.default_rng(n)
    p, g = _f32(rng, n), _f32(rng, n)
    m, v = _f32(rng, n) * 0.1, np.abs(_f32(rng, n)) * 0.01
    bufs = [ex.from_numpy(a) for a in (p, g, m, v)]
    f = hg.jit(adam)
    assert _kernels(f.ir(*bufs, 1e-3, 0.9, 0.999, 1e-8, out=(bufs[0], bufs[2], bufs[3]))) == 1
    for _step in range(2):
        res = f(*bufs, 1e-3, 0.9, 0.999, 1e-8, out=(bufs[0], bufs[2], bufs[3]))
        assert res[0] is bufs[0] and res[1] is bufs[2] and res[2] is bufs[3]
        # reference in float32 PyTorch, same operation order
        tp, tg, tm, tv = t(p), t(g), t(m), t(v)
        tm = 0.9 * tm + (1 - 0.9) * tg
        tv = 0.999 * tv + (1 - 0.999) * tg * tg
        tp = tp - 1e-3 * tm / (torch.sqrt(tv) + 1e-8)
        p64 = p.astype(np.float64)
        m64 = 0.9 * m + 0.1 * g.astype(np.float64)
        v64 = 0.999 * v + 0.001 * g.astype(np.float64) ** 2
        p64 = p64 - 1e-3 * m64 / (np.sqrt(v64) + 1e-8)
        assert_f32_close(bufs[2].to_numpy(), m64, tm.numpy(), what="m")
        assert_f32_close(bufs[3].to_numpy(), v64, tv.numpy(), what="v")
        assert_f32_close(bufs[0].to_numpy(), p64, tp.numpy(), what="p")
        p, m, v = (b.to_numpy() for b in (bufs[0], bufs[2], bufs[3]))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(3, 5), (70, 1000), (9, 70001)])
def test_layer_norm_in_place(threads, shape):
    ex = hg.Executor(threads=threads)
    rng = np.random.default_rng(7)
    x, w, b = _f32(rng, *shape), _f32(rng, shape[-1]), _f32(rng, shape[-1])
    xb = ex.from_numpy(x)
    want = hg.jit(layer_norm)(xb, ex.from_numpy(w), ex.from_numpy(b), 1e-5).to_numpy()
    hg.jit(layer_norm)(xb, ex.from_numpy(w), ex.from_numpy(b), 1e-5, out=xb)
    assert_bitwise(xb.to_numpy(), want)


def test_in_place_refused_cases(ex, rng):
    x = ex.from_numpy(_f32(rng, 4, 6))
    r = ex.from_numpy(_f32(rng, 4, 1))
    # the out buffer read at the row index (load.row): refused by the verifier
    f = hg.jit(lambda x, r: r + hg.ops.sum(x, axis=-1, keepdims=True))
    with pytest.raises(ValueError, match=r"jit\(.*<lambda>\).*both stored and loaded"):
        f(x, r, out=r)
    # read again by a launch after the one that writes it
    g = hg.jit(lambda x: (x * 2, x - hg.ops.sum(x)))
    with pytest.raises(ValueError, match=r"read after it is written"):
        g(x, out=(x, ex.empty((4, 6))))


# ---- the verifier's in-place rule ---------------------------------------------------------------

IN_PLACE = """kernel upd(p: f32, g: f32, s: f32 scalar) {
  %0 = load p
  %1 = load g
  %2 = mul %1, %0
  %3 = exp %2
  %4 = param s
  %5 = mul %3, %4
  %6 = add %5, %0
  %7 = mul %6, %0
  %8 = sub %7, %1
  store p, %8
}
"""

IN_PLACE_ROWS = """kernel sm(x: f32) {
  %0 = load x
  %1 = reduce.max.row %0
  %2 = sub %0, %1
  %3 = exp %2
  %4 = reduce.sum.row %3
  %5 = div %3, %4
  %6 = mul %5, %0
  store x, %6
}
"""


@pytest.mark.parametrize("isa", ISA_PARAMS())
@pytest.mark.parametrize("threads", [1, 2])
def test_ir_in_place(isa, threads):
    ex = hg.Executor(threads=threads, isa=isa)
    k = hg.Kernel(IN_PLACE)
    for n in (1, 1000, 1025, 65537, 300_000):
        rng = np.random.default_rng(n)
        p, g = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
        pb, gb = ex.from_numpy(p), ex.from_numpy(g)
        ex.launch(k, pb, gb, 0.5)
        e = torch.exp(t(g) * t(p))
        tref = ((e * 0.5 + t(p)) * t(p) - t(g)).numpy()
        p64 = p.astype(np.float64)
        ref = (np.exp(g * p64) * 0.5 + p64) * p64 - g
        assert_f32_close(pb.to_numpy(), ref, tref, what=f"in place n={n}")
    k = hg.Kernel(IN_PLACE_ROWS)
    for r, c in ((1, 1), (3, 5), (100, 1000), (40, 3000)):
        x = np.random.default_rng(c).random((r, c), dtype=np.float32)
        xb = ex.from_numpy(x)
        ex.launch(k, xb, rows=r, cols=c)
        tref = (torch.softmax(t(x), -1) * t(x)).numpy()
        x64 = x.astype(np.float64)
        e = np.exp(x64 - x64.max(-1, keepdims=True))
        assert_f32_close(xb.to_numpy(), e / e.sum(-1, keepdims=True) * x64, tref)


REFUSED = {
    "read after the store": (
        "kernel b(x: f32, y: f32) {\n  %0 = load x\n  store x, %0\n  %1 = exp %0\n"
        "  store y, %1\n}\n",
        r"instruction 2 \(exp\): buffer 'x' is read after its in-place store",
    ),
    "stored in an earlier phase than a read": (
        "kernel b(x: f32, y: f32) {\n  %0 = load x\n  %1 = exp %0\n  %2 = reduce.sum.row %1\n"
        "  %3 = div %0, %2\n  store x, %1\n  store y, %3\n}\n",
        r"instruction 4 \(store\): buffer 'x' is stored in place before its read by "
        r"instruction 3, which runs in a later phase",
    ),
    "load.row and store": (
        "kernel b(x: f32, y: f32) {\n  %0 = load.row x\n  %1 = load y\n  %2 = add %0, %1\n"
        "  store x, %0\n  store y, %2\n}\n",
        r"instruction 0 \(load\.row\): buffer 'x' is both stored and loaded",
    ),
    "load.row and row store": (
        "kernel b(x: f32, y: f32) {\n  %0 = load.row x\n  %1 = exp %0\n  store x, %1\n"
        "  %2 = load y\n  %3 = add %2, %0\n  store y, %3\n}\n",
        r"buffer 'x' is both stored and loaded",
    ),
    "gather and store": (
        "kernel b(x: f32, y: f32) {\n  %0 = const.i64 0\n  %1 = gather x, %0\n  %2 = load y\n"
        "  %3 = add %2, %1\n  store x, %3\n}\n",
        r"buffer 'x' is",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_ir_in_place_refused(case):
    text, msg = REFUSED[case]
    with pytest.raises(ValueError, match=msg):
        hg.Kernel(text)


# ---- errors -------------------------------------------------------------------------------------


def _line_of(fn, needle):
    import inspect

    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, s in enumerate(lines) if needle in s)


def bad_if(x):
    if hg.ops.sum(x) > 0:  # MARK-if
        return x
    return -x


def bad_item(x):
    return x * (x + 1).item()  # MARK-item


def bad_numpy(x):
    return x.to_numpy()  # MARK-numpy


def bad_asarray(x):
    return np.asarray(x * 2)  # MARK-asarray


def bad_op(x):
    return hg.ops.binary_cross_entropy(x, x)  # MARK-op


def bad_shapes(x, y):
    return x + y  # MARK-shapes


def bad_float(x):
    return x * float(x)  # MARK-float


@pytest.mark.parametrize(
    "fn, exc, needle, what",
    [
        (bad_if, TypeError, "MARK-if", r"control flow"),
        (bad_item, TypeError, "MARK-item", r"\.item\(\)"),
        (bad_numpy, TypeError, "MARK-numpy", r"\.to_numpy\(\)"),
        (bad_asarray, TypeError, "MARK-asarray", r"np\.asarray"),
        (bad_op, TypeError, "MARK-op", r"hg\.ops\.binary_cross_entropy is not supported"),
        (bad_float, TypeError, "MARK-float", r"float\(\)"),
    ],
)
def test_errors_name_function_and_line(ex, fn, exc, needle, what):
    x = ex.from_numpy(np.ones((3, 4), np.float32))
    line = _line_of(fn, needle)
    with pytest.raises(exc, match=rf"jit\({fn.__name__}\): .*{what}.*test_jit\.py, line {line}\)"):
        hg.jit(fn)(x)


def test_error_shapes_and_executors(ex):
    f = hg.jit(bad_shapes)
    line = _line_of(bad_shapes, "MARK-shapes")
    x, y = ex.zeros((3, 4)), ex.zeros((5,))
    with pytest.raises(
        ValueError,
        match=rf"jit\(bad_shapes\): add: shapes \(3, 4\) and \(5,\) cannot be broadcast"
        rf".*line {line}\)",
    ):
        f(x, y)
    other = hg.Executor()
    with pytest.raises(
        ValueError, match=r"jit\(bad_shapes\): buffers belong to different executors"
    ):
        f(x, other.zeros((3, 4)))
    w = other.zeros((4,))
    g = hg.jit(lambda x: x + w)  # a captured buffer of another executor
    with pytest.raises(ValueError, match=r"different executors"):
        g(x)
    with pytest.raises(TypeError, match=r"arguments must be hologram.Buffer or Python numbers"):
        f(x, "a")
    with pytest.raises(ValueError, match=r"axis 0 of shape \(3, 4\)"):
        hg.jit(lambda x: hg.ops.sum(x, axis=0))(x)


def test_eager_ops_unchanged(ex, rng):
    """The failure-path dispatch leaves the ops' own errors for other types."""
    with pytest.raises(TypeError, match=r"exp: argument 'a' must be a hologram.Buffer, got list"):
        hg.ops.exp([1.0])
    with pytest.raises(TypeError, match=r"unexpected keyword"):
        hg.ops.exp(ex.zeros((2,)), nope=1)


@pytest.mark.parametrize("isa", ISA_PARAMS())
def test_every_isa_level(isa):
    ex = hg.Executor(isa=isa, threads=2)
    base = hg.Executor(isa="baseline")
    rng = np.random.default_rng(3)
    x, w, b = _f32(rng, 50, 333), _f32(rng, 333), _f32(rng, 333)
    for fn, args in (
        (softmax, (x,)),
        (layer_norm, (x, w, b, 1e-5)),
        (gelu_tanh, (x,)),
        (logsumexp, (x,)),
    ):
        f = hg.jit(fn)
        got = f(*[ex.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args])
        want = f(*[base.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args])
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-5, atol=1e-6)


def test_compare_where_and_one_element(ex, rng):
    x = _f32(rng, 5, 8)
    xb = ex.from_numpy(x)
    f = hg.jit(lambda x, s: (hg.ops.where(x > s, x, s * x), x > s))
    y, mask = f(xb, 0.25)
    assert mask.dtype == np.bool_
    assert np.array_equal(mask.to_numpy(), x > np.float32(0.25))
    assert_bitwise(y.to_numpy(), np.where(x > 0.25, x, np.float32(0.25) * x))
    assert _kernels(f.ir(xb, 0.25)) == 1
    one = ex.from_numpy(np.array([3.0], np.float32))
    g = hg.jit(lambda x: x - hg.ops.sum(x))
    assert_bitwise(g(one).to_numpy(), np.zeros(1, np.float32))
    x64 = x.astype(np.float64)
    assert_f32_close(g(xb).to_numpy(), x64 - x64.sum(), (t(x) - t(x).sum()).numpy(), atol=1e-5)


def test_pickles_by_its_function(ex, rng):
    import pickle

    f = hg.jit(gelu_tanh)
    g = pickle.loads(pickle.dumps(f))
    assert g is not f and g.fn is gelu_tanh and g.cache_info()["traces"] == 0
    x = ex.from_numpy(_f32(rng, 100))
    assert_bitwise(g(x).to_numpy(), f(x).to_numpy())
