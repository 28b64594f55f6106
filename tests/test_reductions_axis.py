"""sum/max/min/mean over any one axis (keepdims, negative axes) and
argmax/argmin, against PyTorch (CPU, float32) and NumPy in float64.

Every axis of 1-D to 4-D shapes whose lengths fill no register and no block
(1, odd sizes, 1025, 70000-element axes), at every ISA level; NaN/inf, ties,
empty inputs and axes; bitwise equal results for 1, 2 and 3 threads; column
reductions bitwise equal at every ISA level; the errors; and the IR
verifier's rules for the axis-reduction intrinsics (reduce.*.col,
reduce.argmax/argmin.row).
"""

import numpy as np
import pytest
import torch
from conftest import ISA_PARAMS, U32, t

import hologram as hg

OPS = ["sum", "mean", "max", "min", "argmax", "argmin"]
SHAPES = [
    (7,),
    (1025,),
    (70000,),
    (1, 1),
    (3, 5),
    (1, 1025),
    (33, 1),
    (17, 1025),
    (1025, 17),
    (70000, 3),
    (3, 70000),
    (2, 3, 5),
    (4, 1, 33),
    (5, 1025, 3),
    (2, 3, 4, 5),
    (3, 1, 7, 2),
]
SHAPE_IDS = ["x".join(map(str, s)) for s in SHAPES]
RUN = 32  # AT_CSUM_RUN: the longest float run of a column sum


@pytest.fixture(params=ISA_PARAMS())
def rex(request):
    """A one-thread executor at each ISA level."""
    return hg.Executor(threads=1, isa=request.param)


def _gamma(m):
    return m * U32 / (1 - m * U32)


def _torch(op, x, axis, keepdims):
    """PyTorch's result: max/min over one axis as amax/amin (values)."""
    tx = t(x)
    fn = {"max": torch.amax, "min": torch.amin}.get(op, getattr(torch, op))
    if axis is None:
        if op in ("argmax", "argmin"):
            return fn(tx, keepdim=keepdims).numpy()
        r = fn(tx)
        return r.reshape((1,) * x.ndim).numpy() if keepdims else r.numpy()
    return fn(tx, dim=axis, keepdim=keepdims).numpy()


def _check_sum(op, got, x, axis, keepdims, run_bound):
    """sum/mean against float64: the error bound of float32 runs of at most
    run_bound additions, each run added in double."""
    x64 = x.astype(np.float64)
    ref = x64.sum(axis=axis, keepdims=keepdims)
    mag = np.abs(x64).sum(axis=axis, keepdims=keepdims)
    n = x.size if axis is None else x.shape[axis]
    bound = U32 * np.abs(ref) + (_gamma(min(n, run_bound)) + 1e-14) * mag
    if op == "mean":
        with np.errstate(invalid="ignore"):
            ref, bound = ref / n, bound / n + 2 * U32 * np.abs(ref / n)
    assert got.shape == ref.shape
    if n == 0:
        assert np.all(np.isnan(got)) if op == "mean" else np.all(got == 0)
        return
    err = np.abs(got.astype(np.float64) - ref)
    assert np.all(err <= bound), (op, axis, float(np.max(err - bound)))


def _run_bound(x, axis):
    """Additions per float run: columns (an axis with later axes > 1) run
    AT_CSUM_RUN rows; rows and whole buffers run AT_RSUM_RUN (2048)
    elements, in lanes that each add fewer."""
    if axis is not None and int(np.prod(x.shape[axis % x.ndim + 1 :])) > 1:
        return RUN
    return 2048


def _compare(op, ex, x, axis, keepdims=False):
    got = getattr(hg.ops, op)(ex.from_numpy(x), axis=axis, keepdims=keepdims)
    want = _torch(op, x, axis, keepdims)
    assert got.shape == want.shape, (op, axis, got.shape, want.shape)
    g = got.to_numpy()
    if op in ("argmax", "argmin"):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, want)
        return
    assert g.dtype == np.float32
    if op in ("max", "min"):
        np.testing.assert_array_equal(g, want)
        ref = getattr(np, op)(x, axis=axis, keepdims=keepdims)
        np.testing.assert_array_equal(g, ref)
        return
    _check_sum(op, g, x, axis, keepdims, _run_bound(x, axis))
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5 * np.sqrt(x.size))


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("op", OPS)
def test_every_axis(rex, op, shape):
    x = np.random.default_rng(len(shape) * 1000 + shape[-1]).standard_normal(shape)
    x = x.astype(np.float32)
    for axis in [None, *range(-len(shape), len(shape))]:
        for keepdims in (False, True):
            _compare(op, rex, x, axis, keepdims)


@pytest.mark.parametrize("op", OPS)
def test_zero_dim(ex, op):
    x = np.array(2.5, np.float32)
    for axis in (None, 0, -1):
        got = getattr(hg.ops, op)(ex.from_numpy(x), axis=axis)
        assert got.shape == ()
        assert got.to_numpy() == (0 if op.startswith("arg") else 2.5)
    with pytest.raises(IndexError, match=rf"{op}: axis 1 is out of range for shape \(\)"):
        getattr(hg.ops, op)(ex.from_numpy(x), axis=1)


def test_argmax_default_axis_is_last(ex):
    x = np.random.default_rng(5).standard_normal((4, 6, 9)).astype(np.float32)
    for op in ("argmax", "argmin"):
        got = getattr(hg.ops, op)(ex.from_numpy(x)).to_numpy()
        np.testing.assert_array_equal(got, getattr(torch, op)(t(x), dim=-1).numpy())
        flat = getattr(hg.ops, op)(ex.from_numpy(x), axis=None)
        assert flat.shape == () and flat.to_numpy() == getattr(np, op)(x)


def test_column_sum_matches_torch_large():
    """(4096, 1024) normal data: within rtol 1e-5 of PyTorch, and within the
    float32-run bound of float64."""
    x = np.random.default_rng(7).standard_normal((4096, 1024)).astype(np.float32)
    ex = hg.Executor(threads=2)
    got = hg.ops.sum(ex.from_numpy(x), axis=0).to_numpy()
    ref = torch.sum(t(x), dim=0).numpy()
    ref64 = x.astype(np.float64).sum(axis=0)
    # Near zero, either side's rounding of its float32 result (half an ulp
    # of sums up to ~200) outweighs 1e-5 relative: there, 1e-4 absolute.
    big = np.abs(ref64) > 8.0
    np.testing.assert_allclose(got[big], ref[big], rtol=1e-5)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    # and no further from float64 than PyTorch is
    assert np.max(np.abs(got - ref64)) <= np.max(np.abs(ref - ref64))
    _check_sum("sum", got, x, 0, False, RUN)


def _specials(shape, seed):
    r = np.random.default_rng(seed)
    x = r.integers(-3, 4, shape).astype(np.float32)  # many ties
    flat = x.reshape(-1)
    n = flat.size
    for v in (np.nan, np.inf, -np.inf, np.nan):
        flat[r.integers(0, n, max(1, n // 17))] = v
    return x


@pytest.mark.parametrize("shape", [(9, 13), (40, 3, 7), (1025, 5), (5, 1025), (2, 3, 4, 5)])
@pytest.mark.parametrize("op", OPS)
def test_nan_inf_and_ties(rex, op, shape):
    """NaN propagates (max/min NaN, argmax/argmin the first NaN), inf is a
    value, ties give the first index: as PyTorch."""
    x = _specials(shape, sum(shape))
    for axis in [None, *range(-len(shape), len(shape))]:
        got = getattr(hg.ops, op)(rex.from_numpy(x), axis=axis).to_numpy()
        want = _torch(op, x, axis, False)
        if op in ("sum", "mean"):
            with np.errstate(invalid="ignore"):
                ref = getattr(np, op)(x.astype(np.float64), axis=axis)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
            fin = np.isinf(ref)
            np.testing.assert_array_equal(got[fin], ref[fin])
            np.testing.assert_allclose(got[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-6)
        else:
            np.testing.assert_array_equal(got, want)


def test_ties_without_nan_first_index(ex):
    x = np.zeros((6, 4, 5), np.float32)
    x[2, :, :] = 1.0
    x[4, :, :] = 1.0
    x[0:2, 1, 3] = -0.0
    for op, want in (("argmax", 2), ("argmin", 0)):
        got = getattr(hg.ops, op)(ex.from_numpy(x), axis=0).to_numpy()
        assert np.all(got == want)
        np.testing.assert_array_equal(got, getattr(torch, op)(t(x), dim=0).numpy())


EMPTY = [(0,), (0, 3), (3, 0), (0, 0), (2, 0, 3), (2, 3, 0)]


@pytest.mark.parametrize("shape", EMPTY, ids=["x".join(map(str, s)) for s in EMPTY])
def test_empty(ex, shape):
    """sum gives 0 and mean NaN over an empty axis; max/min/argmax/argmin
    over one raise ValueError naming the op and the shape; an empty axis
    that is not reduced gives an empty result, as in PyTorch."""
    x = np.zeros(shape, np.float32)
    for axis in [None, *range(len(shape))]:
        n = x.size if axis is None else shape[axis]
        for keepdims in (False, True):
            for op in ("sum", "mean"):
                _compare(op, ex, x, axis, keepdims)
            for op in ("max", "min", "argmax", "argmin"):
                if n == 0:
                    with pytest.raises(ValueError, match=rf"{op}: cannot reduce.*\(.*0"):
                        getattr(hg.ops, op)(ex.from_numpy(x), axis=axis, keepdims=keepdims)
                    with pytest.raises((IndexError, RuntimeError)):
                        _torch(op, x, axis, keepdims)
                else:
                    _compare(op, ex, x, axis, keepdims)


BIG = [((4096, 1024), 0), ((300, 70, 64), 1), ((3, 70000), 0), ((70000, 5), 0), ((64, 4097), 1)]


@pytest.mark.parametrize("op", OPS)
def test_threads_bitwise_equal(op):
    r = np.random.default_rng(11)
    for shape, axis in BIG:
        x = r.standard_normal(shape).astype(np.float32)
        x.reshape(-1)[::9973] = np.nan if op in ("max", "argmin") else 0.0
        outs = []
        for threads in (1, 2, 3):
            ex = hg.Executor(threads=threads)
            b = ex.from_numpy(x)
            outs.append([getattr(hg.ops, op)(b, axis=a).to_numpy() for a in (axis, None, -1)])
        for o in outs[1:]:
            for a, b in zip(outs[0], o, strict=True):
                np.testing.assert_array_equal(a, b)


def test_columns_bitwise_equal_at_every_isa():
    """A column's rows add in one order at every vector width."""
    r = np.random.default_rng(12)
    x = r.standard_normal((1000, 37, 19)).astype(np.float32)
    outs = {}
    for isa in hg.cpu_info()["isa_supported"]:
        ex = hg.Executor(threads=2, isa=isa)
        b = ex.from_numpy(x)
        outs[isa] = [getattr(hg.ops, op)(b, axis=ax).to_numpy() for op in OPS for ax in (0, 1)]
    base = outs["baseline"]
    for isa, o in outs.items():
        for i, (a, b) in enumerate(zip(base, o, strict=True)):
            np.testing.assert_array_equal(a, b, err_msg=f"{isa} result {i}")


@pytest.mark.parametrize("op", OPS)
def test_errors(ex, op):
    fn = getattr(hg.ops, op)
    x = ex.from_numpy(np.zeros((3, 4), np.float32))
    for axis in (2, -3, 7):
        with pytest.raises(
            IndexError, match=rf"{op}: axis {axis} is out of range for shape \(3, 4\)"
        ):
            fn(x, axis=axis)
    for dt in ("int32", "int64"):
        with pytest.raises(TypeError, match=rf"{op}.*float32.*{dt}"):
            fn(ex.zeros((3, 4), dtype=dt), axis=0)
    with pytest.raises(TypeError, match=rf"{op}: keepdims must be a bool"):
        fn(x, axis=0, keepdims=1)
    with pytest.raises(TypeError, match=op):
        fn(x, axis=1.5)
    with pytest.raises(TypeError, match=op):
        fn(np.zeros(3, np.float32), axis=0)


def test_mean_over_rows_is_the_sum_divided(ex):
    """mean over a non-last axis: the column sum, then one float32 division
    by the axis length (the kernel's uniform-operand step)."""
    x = np.random.default_rng(3).standard_normal((37, 11, 6)).astype(np.float32)
    s = hg.ops.sum(ex.from_numpy(x), axis=1).to_numpy()
    m = hg.ops.mean(ex.from_numpy(x), axis=1).to_numpy()
    np.testing.assert_array_equal(m, s / np.float32(11))


# ---- the IR: axis reductions are intrinsics with their own verifier rules ----


def _kernel(body, sig="x: f32, out: f32"):
    return hg.Kernel(f"kernel k({sig}) {{\n{body}\n}}")


@pytest.mark.parametrize(
    ("body", "sig", "why"),
    [
        (
            "  %x = load x\n  %a = reduce.sum.col %x\n  %b = reduce.max.col %x\n  store out, %a",
            "x: f32, out: f32",
            "at most one axis reduction",
        ),
        (
            "  %x = load x\n  %e = exp %x\n  %a = reduce.sum.col %e\n  store out, %a",
            "x: f32, out: f32",
            "only stores its result",
        ),
        (
            "  %x = load x\n  %a = reduce.sum.col %x\n  store out, %a\n  store y, %x",
            "x: f32, out: f32, y: f32",
            "has no other use",
        ),
        (
            "  %x = load x\n  %a = reduce.sum.col %x\n  %b = add %a, %a\n  store out, %b",
            "x: f32, out: f32",
            "only stores its result",
        ),
        (
            "  %x = load x\n  %y = load y\n  %a = reduce.sum.col %x\n  %b = add %a, %y\n"
            "  store out, %b",
            "x: f32, y: f32, out: f32",
            "only stores its result",
        ),
        (
            "  %x = load x\n  %a = reduce.argmax.row %x\n  %o = const.i64 1\n"
            "  %b = add %a, %o\n  store out, %b",
            "x: f32, out: i64",
            "only stores its result;",
        ),
        (
            "  %x = load x\n  %a = reduce.sum.col %x\n  %c = const.f32 1\n  store y, %c",
            "x: f32, y: f32",
            "only stores its result",
        ),
        (
            "  %x = load x\n  %a = reduce.argmin.col %x\n  %c = const.f32 1\n  store out, %c",
            "x: f32, out: f32",
            "only stores its result",
        ),
        (
            "  %x = load x\n  %a = reduce.min.col %x\n  %c = const.f32 1\n"
            "  %b = add %a, %c\n  store out, %a",
            "x: f32, out: f32",
            "only stores its result",
        ),
        (
            "  %x = load x\n  %s = reduce.sum.row %x\n  %a = reduce.sum.col %s\n  store out, %a",
            "x: f32, out: f32",
            "needs an element-level operand",
        ),
    ],
)
def test_verifier_refuses(body, sig, why):
    with pytest.raises(ValueError, match=why):
        _kernel(body, sig)


def test_verifier_types_and_roles(ex):
    with pytest.raises(ValueError, match="int64 but buffer .out. is float32"):
        _kernel("  %x = load x\n  %a = reduce.argmax.col %x\n  store out, %a")
    k = _kernel("  %x = load x\n  %a = reduce.sum.col %x\n  store out, %a")
    x = ex.from_numpy(np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match="cols = 3"):
        ex.launch(k, x, ex.empty((4,)), rows=4, cols=3)
    k = _kernel("  %x = load x\n  %a = reduce.argmax.row %x\n  store out, %a", "x: f32, out: i64")
    with pytest.raises(ValueError, match="rows = 4"):
        ex.launch(k, x, ex.empty((3,), dtype="int64"), rows=4, cols=3)


def test_column_steps_with_uniform_operands(ex):
    """The arithmetic a column result may take to its store, either operand
    order (a reversed step: s / a), with params, nrows and ncols."""
    k = _kernel(
        "  %x = load x\n  %a = reduce.max.col %x\n  %s = param s\n  %r = nrows\n"
        "  %c = ncols\n  %n = add %r, %c\n  %nf = cast.f32 %n\n  %b = sub %a, %nf\n"
        "  %d = div %s, %b\n  %m = min %d, %s\n  store out, %m",
        "x: f32, s: f32 scalar, out: f32",
    )
    x = np.random.default_rng(4).standard_normal((9, 5)).astype(np.float32)
    out = ex.empty((5,))
    ex.launch(k, ex.from_numpy(x), 3.0, out, rows=9, cols=5)
    b = x.max(axis=0) - np.float32(14)
    want = np.minimum(np.float32(3) / b, np.float32(3))
    np.testing.assert_array_equal(out.to_numpy(), want)


def test_empty_launches_of_arg_kernels_fail(ex):
    k = _kernel("  %x = load x\n  %a = reduce.argmax.col %x\n  store out, %a", "x: f32, out: i64")
    with pytest.raises(ValueError, match="argmax of an empty column"):
        ex.launch(k, ex.empty((0,)), ex.empty((3,), dtype="int64"), rows=0, cols=3)
    k = _kernel("  %x = load x\n  %a = reduce.argmin.row %x\n  store out, %a", "x: f32, out: i64")
    with pytest.raises(ValueError, match="argmin of an empty row"):
        ex.launch(k, ex.empty((0,)), ex.empty((3,), dtype="int64"), rows=3, cols=0)


@pytest.mark.parametrize("name", ["sum_cols", "mean_cols", "argmax", "argmin_rows", "argmax_cols"])
def test_builtin_kernels_round_trip(name):
    text = hg.ops.kernel_ir(name)
    assert hg.Kernel(text).name == name
    assert hg.ops.kernel_ir(name) == text
