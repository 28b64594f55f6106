"""The lowering's RMS-norm fusions (fuse_rms in src/core/lower.c: the kernel
table's sq_sum and div_mul) against the computations they replace: RMS norm
under @hg.jit is bitwise the same function run op by op on eager Buffers,
at every ISA level, thread count and store policy, for row lengths that
fill groups, single vectors, tails, blocks and runs, with NaN/inf rows;
within rtol 1e-5 of PyTorch; a whole-launch sum of squares is bitwise the
unfused program's; the division form rounds as IEEE division; and
layer_norm with a weight and no bias, whose last phase has the
multiplication form fuse_rms leaves alone, keeps its bits."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import ISA_PARAMS, assert_bitwise, special_values

import hologram as hg

EPS = 1e-5


def rms_norm(x, w):
    return x / hg.ops.sqrt(hg.ops.mean(x * x, axis=-1, keepdims=True) + EPS) * w


def rms_norm_mul(x, w):
    # the scale as a multiplication: only the square and its sum fuse, the
    # program keeps a block register, so rows longer than a block (1024)
    # sum block by block, unlike the eager mean's sum over the whole row
    return x * (1.0 / hg.ops.sqrt(hg.ops.mean(x * x, axis=-1, keepdims=True) + EPS)) * w


FUNCS = {"div": rms_norm, "mul": rms_norm_mul}
JITTED = {k: hg.jit(f) for k, f in FUNCS.items()}

SHAPES = [
    (1, 1),
    (300, 1),
    (5, 15),
    (3, 17),
    (40, 64),
    (7, 1000),
    (1, 1024),
    (64, 1024),
    (6, 1025),
    (2, 2048),
    (3, 2049),
    (4, 4099),
    (200, 2049),
    (100, 4099),
]


def _inputs(rows, cols, special):
    rng = np.random.default_rng([11, rows, cols, special])
    x = (rng.standard_normal((rows, cols)) * 3 + 0.5).astype(np.float32)
    w = rng.standard_normal(cols).astype(np.float32)
    if special and rows > 2:
        # NaN/inf rows, and zeros, subnormals and extremes among the others
        sp = special_values()
        for r in range(rows):
            x[r, (r * 5) % cols] = sp[r % sp.size]
        x[1, :] = np.inf
        x[2, :] = 0.0
        w[cols // 2] = np.inf
    return x, w


def _eager(f, x, w, threads, level):
    ex = hg.Executor(threads=threads, isa=level, stores="cached")
    return f(ex.from_numpy(x), ex.from_numpy(w)).to_numpy()


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("form", sorted(FUNCS))
@pytest.mark.parametrize("rows,cols", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
def test_fused_rms_norm_is_bitwise_the_eager_ops(level, stores, threads, form, rows, cols):
    special = rows > 2
    x, w = _inputs(rows, cols, special)
    blockwise = form == "mul" and cols > 1024  # not the eager sum's order
    want = _eager(FUNCS[form], x, w, 1, level)
    ex = hg.Executor(threads=threads, isa=level, stores=stores)
    f = JITTED[form]
    xb, wb = ex.from_numpy(x), ex.from_numpy(w)
    assert f.ir(xb, wb).count("kernel ") == 1
    got = f(xb, wb).to_numpy()
    what = f"rms_norm[{form}] {rows}x{cols} {level} {stores} t{threads}"
    if not blockwise:
        assert_bitwise(got, want, what=what)
    # op by op with more threads gives the same bits as well
    assert_bitwise(_eager(FUNCS[form], x, w, threads, level), want, what=what + " eager")
    if special:
        assert np.isnan(got[1]).all()  # inf / sqrt(inf)
        zero = np.arange(cols) != cols // 2  # 0 / sqrt(eps) * w, but 0 * inf
        assert (got[2][zero] == 0).all() and np.isnan(got[2][cols // 2])
    else:
        ref = F.rms_norm(torch.from_numpy(x), (cols,), torch.from_numpy(w), EPS).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


# sum(x * x) over the whole launch: the square's second use (z = q + q)
# keeps it apart from the reduction, in a block register, so this kernel
# sums it block by block unfused; the fused kernel hands sq_sum one block
# per call and keeps those bits at any task length.
FUSED_ALL = (
    "kernel sumsq(x: f32, out: f32, z: f32) {\n  %0 = load x\n  %1 = mul %0, %0\n"
    "  %2 = reduce.sum.all %1\n  store out, %2\n  %3 = add %0, %0\n  store z, %3\n}\n"
)
UNFUSED_ALL = FUSED_ALL.replace("%3 = add %0, %0", "%3 = add %1, %1")


def test_unfused_text_differs():
    assert UNFUSED_ALL != FUSED_ALL and "add %1, %1" in UNFUSED_ALL


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 17, 1000, 1025, 4099, 65537, 300_001])
def test_fused_sum_of_squares_is_bitwise_the_unfused_program(level, threads, n):
    rng = np.random.default_rng([13, n])
    x = (rng.standard_normal(n) * 2).astype(np.float32)
    ref = hg.Executor(threads=1, isa=level)
    out, z = ref.empty(()), ref.empty((n,))
    ref.launch(hg.Kernel(UNFUSED_ALL), ref.from_numpy(x), out, z)
    assert_bitwise(z.to_numpy(), (x * x) + (x * x), what="unfused z = q + q")
    ex = hg.Executor(threads=threads, isa=level)
    got, z2 = ex.empty(()), ex.empty((n,))
    ex.launch(hg.Kernel(FUSED_ALL), ex.from_numpy(x), got, z2)
    assert_bitwise(z2.to_numpy(), x + x, what="fused z = x + x")
    assert_bitwise(got.to_numpy(), out.to_numpy(), what=f"sum(x*x) {n} {level} t{threads}")
    want = float(np.sum(x.astype(np.float64) ** 2))
    assert abs(float(got.to_numpy()) - want) <= 1e-5 * want


# (x / s) * w with s a scalar: fuse_rms's division form (k_div_mul), each
# quotient and product rounded as IEEE division and multiplication round,
# for divisors across the range and special ones.
DIV_MUL = (
    "kernel dm(x: f32, w: f32, s: f32 scalar, y: f32) {\n  %0 = load x\n  %1 = param s\n"
    "  %2 = div %0, %1\n  %3 = load.col w\n  %4 = mul %2, %3\n  store y, %4\n}\n"
)


def _divisors():
    rng = np.random.default_rng(17)
    sig = rng.integers(0, 1 << 23, 120, dtype=np.uint32)
    exp = rng.integers(127 - 45, 127 + 45, 120).astype(np.uint32)
    s = ((exp << 23) | sig).view(np.float32)
    s[::3] = -s[::3]
    hexes = ["0x1.fffffep0", "0x1p-40", "0x1.fffffep-41", "0x1p40", "0x1.000002p40"]
    edges = [1.0, -1.0, 3.0] + [float.fromhex(h) for h in hexes]
    edges += [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, 3e38, 1e-5]
    return np.concatenate([s, np.array(edges, dtype=np.float32)])


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
def test_division_form_rounds_as_ieee_division(level, stores):
    rng = np.random.default_rng(19)
    rows, cols = 3, 1000
    # row 0: magnitudes from 2^-70 to 2^70 (quotients that overflow and
    # underflow for the extreme divisors); row 1: runs of ordinary values,
    # each run scaled by a power of two; row 2: ordinary values with
    # specials among them
    mag = np.exp2(rng.uniform(-70, 70, cols)).astype(np.float32)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    x[0] *= mag
    x[1] *= np.exp2(rng.integers(-20, 20, cols // 50 + 1)).repeat(50)[:cols].astype(np.float32)
    x[2, ::97] = special_values()[: x[2, ::97].size]
    w = rng.standard_normal(cols).astype(np.float32)
    ex = hg.Executor(threads=1, isa=level, stores=stores)
    k = hg.Kernel(DIV_MUL)
    xb, wb, y = ex.from_numpy(x), ex.from_numpy(w), ex.empty((rows, cols))
    for s in _divisors():
        ex.launch(k, xb, wb, float(s), y, rows=rows, cols=cols)
        with np.errstate(all="ignore"):
            want = (x / s) * w
        assert_bitwise(y.to_numpy(), want, what=f"(x / {float(s)!r}) * w {level} {stores}")


# layer_norm_w with the scaled value t read twice (z = t + t): t keeps its
# block register, so this program sums each row block by block, as
# layer_norm_w's own program does when fuse_rms leaves its `mul x, slot`
# and `mul t, w` apart; the two agree bitwise at every row length.
LN_W_BLOCKS = (
    hg.ops.kernel_ir("layer_norm_w")
    .replace("y: f32)", "y: f32, z: f32)")
    .replace("  store y, %16\n", "  store y, %16\n  %17 = add %14, %14\n  store z, %17\n")
)


def test_blockwise_text_differs():
    assert "%17 = add %14, %14" in LN_W_BLOCKS and "store z, %17" in LN_W_BLOCKS


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cols", [7, 1000, 1024, 1025, 2049, 4099, 5000])
def test_layer_norm_weight_only_keeps_its_bits(level, threads, cols):
    rng = np.random.default_rng([23, cols])
    x = (rng.standard_normal((40, cols)) * 3 + 1).astype(np.float32)
    w = rng.standard_normal(cols).astype(np.float32)
    ref = hg.Executor(threads=1, isa=level)
    y, z = ref.empty((40, cols)), ref.empty((40, cols))
    ref.launch(
        hg.Kernel(LN_W_BLOCKS), ref.from_numpy(x), ref.from_numpy(w), 1e-5, y, z, rows=40, cols=cols
    )
    ex = hg.Executor(threads=threads, isa=level)
    got = hg.ops.layer_norm(ex.from_numpy(x), weight=ex.from_numpy(w)).to_numpy()
    assert_bitwise(got, y.to_numpy(), what=f"layer_norm(weight) {cols} {level} t{threads}")
