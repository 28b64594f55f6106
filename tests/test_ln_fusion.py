"""The lowering's layer-norm fusions (fuse_sub_sq_sum and fuse_scale_affine in
src/core/lower.c) against the instructions they replace: layer_norm with
weight and bias is bitwise the unfused program, outputs and the variance's
sum alike, at every ISA level, for row lengths that fill groups, single
vectors and tails, with special values, cached and streamed stores, one
and two threads."""

import numpy as np
import pytest
from conftest import ISA_PARAMS, assert_bitwise, special_values
from test_jit import layer_norm

import hologram as hg

# The stdlib's layer_norm_wb with the difference d = x - mean, the square
# d * d, the scaled value t and the weighted value u stored as well: a
# second use of each keeps the square, the reduction and the last phase's
# three instructions apart, and d is not recomputed in the last phase, so
# this kernel runs unfused.  With every value in memory it needs no block
# register, like the fused program, so its rows run as one block each and
# its sums take the same association at every row length.
UNFUSED = hg.ops.kernel_ir("layer_norm_wb").replace(
    "eps: f32 scalar, y: f32)", "eps: f32 scalar, y: f32, d: f32, q: f32, t: f32, u: f32)"
)
UNFUSED = UNFUSED.replace(
    "  store y,", "  store d, %5\n  store q, %6\n  store t, %14\n  store u, %16\n  store y,"
)

SHAPES = [
    (1, 1),
    (4096, 1),
    (3, 7),
    (1000, 7),
    (1, 1000),
    (100, 1000),
    (2, 1024),
    (1000, 1024),
    (4096, 1024),
    (5, 1025),
    (300, 1025),
    (1, 5000),
    (64, 5000),
]


def _inputs(rows, cols, seed):
    rng = np.random.default_rng([seed, rows, cols])
    x = (rng.standard_normal((rows, cols)) * 3 + 1).astype(np.float32)
    w = rng.standard_normal(cols).astype(np.float32)
    b = rng.standard_normal(cols).astype(np.float32)
    if rows > 2 and cols > 1:
        # special values in a few rows of x (NaN/inf rows) and in w and b
        sp = special_values()
        for r in range(1, min(rows, sp.size + 1), max(1, rows // 8)):
            x[r, (r * 7) % cols] = sp[r % sp.size]
        w[cols // 2] = np.inf
        b[cols // 3] = np.nan
    return x, w, b


def test_unfused_text_differs():
    assert "store d, %5" in UNFUSED and "%5 = sub %0, %4" in UNFUSED
    assert "store q, %6" in UNFUSED and "store t, %14" in UNFUSED
    assert "store u, %16" in UNFUSED


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("rows,cols", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
def test_fused_layer_norm_is_bitwise_the_unfused_program(level, stores, threads, rows, cols):
    x, w, b = _inputs(rows, cols, seed=1)
    ref = hg.Executor(threads=1, isa=level, stores="cached")
    y, d, q, t, u = (ref.empty((rows, cols)) for _ in range(5))
    ref.launch(
        hg.Kernel(UNFUSED),
        ref.from_numpy(x),
        ref.from_numpy(w),
        ref.from_numpy(b),
        1e-5,
        y,
        d,
        q,
        t,
        u,
        rows=rows,
        cols=cols,
    )
    want = y.to_numpy()
    # the unfused program's last steps are u = t * w and y = u + b
    with np.errstate(invalid="ignore"):
        assert_bitwise(u.to_numpy(), t.to_numpy() * w, what="unfused u = t * w")
        assert_bitwise(want, u.to_numpy() + b, what="unfused y = u + b")
    assert np.all(q.to_numpy()[np.isfinite(x).all(axis=1)] >= 0)

    ex = hg.Executor(threads=threads, isa=level, stores=stores)
    got = hg.ops.layer_norm(ex.from_numpy(x), weight=ex.from_numpy(w), bias=ex.from_numpy(b))
    assert_bitwise(
        got.to_numpy(), want, what=f"layer_norm {rows}x{cols} {level} {stores} t{threads}"
    )


# layer norm as users write it, (x - mean) / sqrt(var + eps) * w + b: a
# division by the row's deviation, which fuse_scale_affine takes in its
# division form (k_div_affine)
_layer_norm_div = hg.jit(layer_norm)


def _unfused_div_text(ex, rows, cols):
    x, w, b = (ex.empty(s) for s in ((rows, cols), (cols,), (cols,)))
    text = _layer_norm_div.ir(x, w, b, 1e-5)
    assert text.count("kernel ") == 1
    lines = text.splitlines()
    div = next(ln.split(" = ")[0].strip() for ln in lines if " = div %" in ln and "%3" not in ln)
    mul = next(ln.split(" = ")[0].strip() for ln in lines if f" = mul {div}, " in ln)
    sub = next(ln.split(" = ")[0].strip() for ln in lines if " = sub %" in ln)
    # the scaled and weighted values stored as well keep the three apart,
    # and the difference x - mean stored keeps it from being recomputed
    head, _, rest = text.partition(") {")
    rest = rest.replace(
        "\n  store p4,", f"\n  store d, {sub}\n  store t, {div}\n  store u, {mul}\n  store p4,"
    )
    return f"{head}, d: f32, t: f32, u: f32) {{{rest}"


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
@pytest.mark.parametrize("rows,cols", [(3, 7), (100, 1000), (5, 1025), (300, 1024), (1, 5000)])
def test_division_form_is_bitwise_the_unfused_program(level, stores, rows, cols):
    x, w, b = _inputs(rows, cols, seed=2)
    ref = hg.Executor(threads=1, isa=level, stores="cached")
    unfused = hg.Kernel(_unfused_div_text(ref, rows, cols))
    y, d, t, u = (ref.empty((rows, cols)) for _ in range(4))
    args = [1e-5, ref.from_numpy(x), ref.from_numpy(w), ref.from_numpy(b), y, d, t, u]
    ref.launch(unfused, *args, rows=rows, cols=cols)
    with np.errstate(invalid="ignore", divide="ignore"):
        assert_bitwise(u.to_numpy(), t.to_numpy() * w, what="unfused u = t * w")
        assert_bitwise(y.to_numpy(), u.to_numpy() + b, what="unfused y = u + b")
    ex = hg.Executor(threads=2, isa=level, stores=stores)
    got = _layer_norm_div(ex.from_numpy(x), ex.from_numpy(w), ex.from_numpy(b), 1e-5)
    assert_bitwise(got.to_numpy(), y.to_numpy(), what=f"div form {rows}x{cols} {level} {stores}")
