"""load.col: a buffer of cols elements read at the column index, the same for every row.

It is the IR's broadcast of a trailing vector ((r, c) + (c,), a bias, layer_norm's weight and bias)
and, with load.row, of an outer shape ((7, 1) + (1, 9)).  The value is element-level and lives in
its buffer: every row reads it in place.  Each kernel here mixes a column-loaded operand with
element-level and row-level ones, in both operand orders, and is compared with a NumPy float64
reference rounded to float32 after every op: exact for the IEEE-exact ops, the shared IR
evaluation's bound (tests/ir_eval.py) for the layer norm's sums.
"""

import numpy as np
import pytest
from conftest import ATOL, ISA_PARAMS, RTOL
from ir_eval import assert_matches, evaluate

import hologram as hg

# Rows and columns from {1, 3, 7, 17, 1000, 1023, 1025, 4099}: register tails at every width,
# block (1024) crossings along the row, and task (64 Ki elements) crossings across rows.
SHAPES = [
    (1, 1),
    (1, 4099),
    (3, 7),
    (7, 3),
    (17, 1023),
    (17, 1025),
    (1000, 17),
    (1025, 3),
    (4099, 1),
    (3, 4099),
    (1000, 1000),
    (1023, 1025),
]
THREADS = (1, 2, 3)

BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "max": np.maximum,
    "min": np.minimum,
}


def f32(x):
    """float64 -> the nearest float32, as float64 again (an IEEE-exact op's rounding)."""
    with np.errstate(over="ignore"):
        return np.asarray(x, np.float64).astype(np.float32).astype(np.float64)


def operands(rows, cols, seed):
    """x (rows, cols), r (rows,), w (cols,): nonzero, of both signs, and with a NaN in w."""
    g = np.random.default_rng(seed)

    def draw(*shape):
        mag = g.uniform(0.5, 2.0, shape)
        return (mag * g.choice([-1.0, 1.0], shape)).astype(np.float32)

    x, r, w = draw(rows, cols), draw(rows), draw(cols)
    if cols > 2:
        w[cols // 2] = np.nan  # max and min propagate it; so does every other op
    return x, r, w


def launch(ex, kernel, arrays, rows, cols):
    bufs = [ex.from_numpy(a) for a in arrays]
    ex.launch(kernel, *bufs, rows=rows, cols=cols)
    return [b.to_numpy() for b in bufs]


def assert_same(got, want, what):
    got = np.asarray(got, np.float64).ravel()
    want = np.asarray(want, np.float64).ravel()
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    if not same.all():
        idx = np.flatnonzero(~same)[:5]
        raise AssertionError(
            f"{what}: {int((~same).sum())} of {same.size} differ at {idx.tolist()}: "
            f"got {got[idx].tolist()} want {want[idx].tolist()}"
        )


OUTS = ", ".join(f"y{j}: f32" for j in range(6))


def check_outputs(kernel, inputs, want, rows, cols, level, what):
    """Launch kernel on inputs and len(want) outputs at 1, 2 and 3 threads; every output must
    equal its want exactly (NaN where NaN)."""
    for threads in THREADS:
        ex = hg.Executor(threads=threads, isa=level)
        out = [np.full((rows, cols), 7.0, np.float32) for _ in want]
        got = launch(ex, kernel, [*inputs, *out], rows, cols)[len(inputs) :]
        for j, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{what} y{j} {rows}x{cols} {threads}t {level}")


def binary_kernel(op):
    # y0: elem op col, y1: col op elem, y2: col op row (the row value is a slot),
    # y3: row op col, y4: the column vector itself (a broadcast copy), y5: (elem op row) op col,
    # whose register makes the rows run in blocks of 1024, so that a row crosses blocks
    return hg.Kernel(
        f"kernel b_{op}(x: f32, r: f32, w: f32, {OUTS}) {{\n"
        f"""  %0 = load x
  %1 = load.row r
  %2 = load.col w
  %3 = {op} %0, %2
  store y0, %3
  %4 = {op} %2, %0
  store y1, %4
  %5 = {op} %2, %1
  store y2, %5
  %6 = {op} %1, %2
  store y3, %6
  store y4, %2
  %7 = {op} %0, %1
  %8 = {op} %7, %2
  store y5, %8
}}
"""
    )


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_with_col_operand(level, op):
    kernel = binary_kernel(op)
    fn = BINARY[op]
    for rows, cols in SHAPES:
        x, r, w = operands(rows, cols, rows * 7919 + cols)
        X, R, W = x.astype(np.float64), r.astype(np.float64)[:, None], w.astype(np.float64)
        want = [f32(fn(X, W)), f32(fn(W, X)), f32(fn(W, R)), f32(fn(R, W)), np.tile(W, (rows, 1))]
        want.append(f32(fn(f32(fn(X, R)), W)))
        check_outputs(kernel, [x, r, w], want, rows, cols, level, op)


def col_only_kernel(op):
    # no row-level value: rows shorter than half a block run several to a block, and read w
    # from a tile of it; y2's register puts the block limit at AT_BLOCK elements
    return hg.Kernel(
        f"kernel c_{op}(x: f32, w: f32, y0: f32, y1: f32, y2: f32, y3: f32) {{\n"
        f"""  %0 = load x
  %1 = load.col w
  %2 = {op} %0, %1
  store y0, %2
  %3 = {op} %1, %0
  store y1, %3
  %4 = mul %0, %0
  %5 = {op} %4, %1
  store y2, %5
  store y3, %1
}}
"""
    )


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_with_col_operand_and_no_row_values(level, op):
    kernel = col_only_kernel(op)
    fn = BINARY[op]
    shapes = [*SHAPES, (2, 512), (5, 511), (3, 513), (70000, 1), (40000, 3)]
    for rows, cols in shapes:
        x, _, w = operands(rows, cols, rows * 13 + cols)
        X, W = x.astype(np.float64), w.astype(np.float64)
        want = [f32(fn(X, W)), f32(fn(W, X)), f32(fn(f32(X * X), W)), np.tile(W, (rows, 1))]
        check_outputs(kernel, [x, w], want, rows, cols, level, op)


SELECT = hg.Kernel(
    """kernel sel(x: f32, r: f32, w: f32, y0: f32, y1: f32, y2: f32) {
  %0 = load x
  %1 = load.row r
  %2 = load.col w
  %3 = lt %0, %2
  %4 = select %3, %2, %0
  store y0, %4
  %5 = gt %2, %1
  %6 = select %5, %1, %2
  store y1, %6
  %7 = select %3, %0, %1
  %8 = add %7, %2
  store y2, %8
}
"""
)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_select_and_compare_with_col_operand(level):
    for rows, cols in SHAPES:
        x, r, w = operands(rows, cols, rows + 31 * cols)
        X, R, W = x.astype(np.float64), r.astype(np.float64)[:, None], w.astype(np.float64)
        with np.errstate(invalid="ignore"):
            lt = X < W  # false where w is NaN
            want = [
                np.where(lt, W, X),
                np.broadcast_to(np.where(W > R, R, W), (rows, cols)),
                f32(np.where(lt, X, R) + W),
            ]
        check_outputs(SELECT, [x, r, w], want, rows, cols, level, "select")


OUTER = {
    op: hg.Kernel(
        f"""kernel outer_{op}(a: f32, b: f32, y: f32) {{
  %0 = load.row a
  %1 = load.col b
  %2 = {op} %0, %1
  store y, %2
}}
"""
    )
    for op in ("add", "mul", "sub")
}


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("op", list(OUTER))
def test_outer_product_of_row_and_col(level, op):
    # (7, 1) op (1, 9) and larger: the launch is rows x cols, neither operand is materialised
    for rows, cols in [(7, 9), *SHAPES]:
        g = np.random.default_rng(rows * cols + 5)
        a = g.standard_normal(rows).astype(np.float32)
        b = g.standard_normal(cols).astype(np.float32)
        want = f32(BINARY[op](a.astype(np.float64)[:, None], b.astype(np.float64)[None, :]))
        for threads in THREADS:
            ex = hg.Executor(threads=threads, isa=level)
            got = launch(ex, OUTER[op], [a, b, np.zeros((rows, cols), np.float32)], rows, cols)
            assert_same(got[2], want, f"outer {op} {rows}x{cols} {threads}t {level}")


LAYER_NORM = hg.Kernel(
    """kernel layer_norm(x: f32, w: f32, b: f32, y: f32) {
  %0 = load x
  %1 = reduce.sum.row %0
  %2 = ncols
  %3 = cast.f32 %2
  %4 = div %1, %3
  %5 = sub %0, %4
  %6 = mul %5, %5
  %7 = reduce.sum.row %6
  %8 = div %7, %3
  %9 = const.f32 1e-05
  %10 = add %8, %9
  %11 = sqrt %10
  %12 = const.f32 1
  %13 = div %12, %11
  %14 = mul %5, %13
  %15 = load.col w
  %16 = mul %14, %15
  %17 = load.col b
  %18 = add %16, %17
  store y, %18
}
"""
)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_layer_norm_with_col_weight_and_bias(level):
    # w and b are read in the third row phase, after two row reductions; x - mean waits in a
    # scratch row or in the output between the phases
    for rows, cols in SHAPES:
        g = np.random.default_rng(rows * 3 + cols)
        x = g.uniform(-3.0, 3.0, (rows, cols)).astype(np.float32)
        w = g.uniform(0.5, 1.5, cols).astype(np.float32)
        b = g.uniform(-1.0, 1.0, cols).astype(np.float32)
        y = np.zeros((rows, cols), np.float32)
        ev = evaluate(LAYER_NORM, [x, w, b, y], rows, cols)
        ref, err = ev.buffers[3]
        # an independent float64 layer norm, at the suite's tolerance
        X = x.astype(np.float64)
        mean = X.mean(axis=1, keepdims=True)
        var = ((X - mean) ** 2).mean(axis=1, keepdims=True)
        f64 = (X - mean) / np.sqrt(var + 1e-5) * w + b
        for threads in THREADS:
            ex = hg.Executor(threads=threads, isa=level)
            got = launch(ex, LAYER_NORM, [x, w, b, y], rows, cols)[3]
            what = f"layer_norm {rows}x{cols} {threads}t {level}"
            assert_matches(got, ref, err, what)
            np.testing.assert_allclose(got, f64, rtol=RTOL, atol=ATOL, err_msg=what)


def test_whole_launch_sum_with_col_operand():
    # a ROW-mode launch's whole-launch reduction: integers, so every order of the sum is exact
    kernel = hg.Kernel(
        """kernel dot(x: f32, w: f32, s: f32) {
  %0 = load x
  %1 = load.col w
  %2 = mul %0, %1
  %3 = reduce.sum.all %2
  store s, %3
}
"""
    )
    for rows, cols in SHAPES:
        g = np.random.default_rng(rows + cols)
        x = g.integers(-3, 4, (rows, cols)).astype(np.float32)
        w = g.integers(-3, 4, cols).astype(np.float32)
        want = float((x.astype(np.float64) * w).sum())
        for threads in THREADS:
            ex = hg.Executor(threads=threads)
            got = launch(ex, kernel, [x, w, np.zeros(1, np.float32)], rows, cols)[2]
            assert got[0] == want, (rows, cols, threads, got[0], want)


@pytest.mark.parametrize("stores", ["cached", "streamed"])
def test_bias_add_large_with_both_store_kinds(stores):
    # (4096, 1024) + (1024,): large enough for streaming final writes, split across threads
    rows, cols = 4096, 1024
    kernel = hg.Kernel(
        "kernel bias(x: f32, w: f32, y: f32) {\n  %0 = load x\n  %1 = load.col w\n"
        "  %2 = add %0, %1\n  store y, %2\n}\n"
    )
    g = np.random.default_rng(9)
    x = g.standard_normal((rows, cols)).astype(np.float32)
    w = g.standard_normal(cols).astype(np.float32)
    want = f32(x.astype(np.float64) + w)
    for threads in (1, 2):
        ex = hg.Executor(threads=threads, stores=stores)
        got = launch(ex, kernel, [x, w, np.zeros((rows, cols), np.float32)], rows, cols)[2]
        assert_same(got, want, f"bias {stores} {threads}t")


# ---- text form and verifier -------------------------------------------------------------------


def test_print_round_trips_load_col():
    text = str(LAYER_NORM)
    assert "  %15 = load.col w\n" in text and "  %17 = load.col b\n" in text
    assert str(hg.Kernel(text)) == text
    k = binary_kernel("add")
    assert str(hg.Kernel(str(k))) == str(k)


REJECTED = {
    "store_after_load_col": (
        "kernel bad(x: f32, w: f32) {\n  %0 = load x\n  %1 = load.col w\n  %2 = add %0, %1\n"
        "  store w, %2\n}\n",
        r"kernel 'bad', instruction 3 \(store\): buffer 'w' is both stored and loaded",
    ),
    "load_col_after_store": (
        "kernel bad(x: f32, w: f32) {\n  %0 = load x\n  store w, %0\n  %1 = load.col w\n"
        "  %2 = add %0, %1\n}\n",
        r"kernel 'bad', instruction 2 \(load\.col\): buffer 'w' is both stored and loaded",
    ),
    "uniform_store_to_load_col": (
        "kernel bad(x: f32, w: f32, y: f32) {\n  %0 = load x\n  %1 = load.col w\n"
        "  %2 = add %0, %1\n  store y, %2\n  %3 = const.f32 1\n  store w, %3\n}\n",
        r"kernel 'bad', instruction 5 \(store\): buffer 'w' is both stored and loaded",
    ),
    "load_and_load_col": (
        "kernel bad(x: f32, y: f32) {\n  %0 = load x\n  %1 = load.col x\n  %2 = add %0, %1\n"
        "  store y, %2\n}\n",
        r"kernel 'bad', instruction 1 \(load\.col\): buffer 'x' is read at the column index "
        r"and at another index",
    ),
    "load_row_and_load_col": (
        "kernel bad(x: f32, y: f32) {\n  %0 = load.col x\n  %1 = load.row x\n  %2 = add %0, %1\n"
        "  store y, %2\n}\n",
        r"kernel 'bad', instruction 1 \(load\.row\): buffer 'x' is read at the column index "
        r"and at another index",
    ),
    "row_reduction_of_int_col": (
        "kernel bad(x: i32, y: f32) {\n  %0 = load.col x\n  %1 = reduce.sum.row %0\n"
        "  store y, %1\n}\n",
        r"reduce\.sum\.row: operand %0 is int32; reductions take f32",
    ),
    "load_col_of_scalar": (
        "kernel bad(s: f32 scalar, y: f32) {\n  %0 = load.col s\n  store y, %0\n}\n",
        r"load\.col: param 's' is a scalar, not a buffer",
    ),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_verifier_rejects(case):
    text, pat = REJECTED[case]
    with pytest.raises(ValueError, match=pat):
        hg.Kernel(text)


def test_gather_and_load_col_of_one_buffer():
    # a gather reads anywhere, so it combines with load.col, which sets the length rule (cols)
    k = hg.Kernel(
        "kernel g(x: f32, w: f32, y: f32) {\n  %0 = load x\n  %1 = load.col w\n"
        "  %2 = const.i64 0\n  %3 = gather w, %2\n  %4 = add %0, %1\n  %5 = mul %4, %3\n"
        "  store y, %5\n}\n"
    )
    ex = hg.Executor(threads=1)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    w = np.array([2.0, 3.0, 5.0, 7.0], np.float32)
    got = launch(ex, k, [x, w, np.zeros((3, 4), np.float32)], 3, 4)[2]
    assert_same(got, (x + w) * 2.0, "gather and load.col")


@pytest.mark.parametrize("n", [0, 8, 10, 24])
def test_wrong_length_at_launch(n):
    k = OUTER["add"]
    ex = hg.Executor(threads=1)
    a, b = ex.from_numpy(np.ones(3, np.float32)), ex.from_numpy(np.ones(n, np.float32))
    y = ex.from_numpy(np.zeros(27, np.float32))
    msg = rf"kernel 'outer_add': buffer 'b' has {n} elements, launch 3 x 9 needs cols = 9"
    with pytest.raises(ValueError, match=msg):
        ex.launch(k, a, b, y, rows=3, cols=9)
    ok = ex.from_numpy(np.ones(9, np.float32))
    ex.launch(k, a, ok, y, rows=3, cols=9)
    assert_same(y.to_numpy(), np.full(27, 2.0), "after the refused launch")
