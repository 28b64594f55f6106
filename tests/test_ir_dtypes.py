"""Element-level bool, i32 and i64 values in the IR, through hg.Kernel and Executor.launch.

Bool buffers are kernel params (one byte, 0/1): `load`, `load.row` and `load.col` of one give a
bool value that feeds `select`, and a bool value stores into one as bytes.  `cast.<t>` converts
between f32, i32, i64 and bool as PyTorch's `.to()` does on x86 (NaN, inf and out-of-range floats
give the integer type's minimum), and i32/i64 values have wrapping add/sub/mul, neg, abs, min,
max, the six comparisons and select at element level, with scalar operands.  Every result is
compared exactly with PyTorch at every ISA level, on 1 and 2 threads, at sizes around the vector
widths, the 1024-element block and the 64K-element task, and in ROW launches (load.row /
load.col, values kept across row phases, short rows run in strips).
"""

import numpy as np
import pytest
import torch
from conftest import ISA_PARAMS

import hologram as hg

SIZES = [0, 1, 7, 1023, 1025, 70000]
THREADS = (1, 2)
# (rows, cols): tails, blocks crossed along a row, strips of short rows (cols <= 256 for a
# program with i64 values, whose blocks hold 512 elements), tasks crossed across rows
SHAPES = [(1, 1), (3, 7), (7, 3), (17, 1025), (1000, 17), (300, 256), (300, 257), (70, 1000)]
NP = {"f32": np.float32, "i32": np.int32, "i64": np.int64, "bool": np.bool_}
TORCH = {"f32": torch.float32, "i32": torch.int32, "i64": torch.int64, "bool": torch.bool}
INFO = {"i32": np.iinfo(np.int32), "i64": np.iinfo(np.int64)}


def executors(level):
    return [hg.Executor(threads=t, isa=level) for t in THREADS]


def launch(ex, kernel, args, rows=1, cols=None):
    """Launch on NumPy arrays (outputs given as arrays of the right dtype and shape) and
    Python scalars; returns every buffer's contents after the launch."""
    bufs = [ex.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]
    if cols is None:
        ex.launch(kernel, *bufs)
    else:
        ex.launch(kernel, *bufs, rows=rows, cols=cols)
    return [b.to_numpy() if isinstance(b, hg.Buffer) else b for b in bufs]


def assert_equal(got, want, what):
    """Exact equality, dtype included (NaN where NaN)."""
    want = np.asarray(want)
    got = np.asarray(got)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if got.dtype.kind == "f":
        same = (got == want) | (np.isnan(got) & np.isnan(want))
    else:
        same = got == want
    if not same.all():
        idx = np.flatnonzero(~same.ravel())[:5]
        raise AssertionError(
            f"{what}: {int((~same).sum())} of {same.size} differ at {idx.tolist()}: "
            f"got {got.ravel()[idx].tolist()} want {want.ravel()[idx].tolist()}"
        )


def tt(a):
    return torch.from_numpy(np.array(a, copy=True))


def ints(rng, ty, n):
    """n values of type ty covering its range, with the extremes, -1, 0 and 1 among them."""
    info = INFO[ty]
    v = rng.integers(info.min, info.max, size=n, dtype=NP[ty], endpoint=True)
    small = rng.integers(-100, 100, size=n).astype(NP[ty])
    v = np.where(rng.random(n) < 0.5, small, v)
    special = np.array([info.min, info.max, -1, 0, 1, info.min + 1, info.max - 1], NP[ty])
    k = min(n, special.size)
    v[:k] = special[:k]
    return v


def floats(rng, n):
    """float32 values for casts: fractions of both signs, values beyond the i32 and the i64
    range, the range limits themselves, NaN, inf, -0."""
    v = (rng.standard_normal(n) * 10.0 ** rng.integers(0, 21, n)).astype(np.float32)
    special = np.array(
        [np.nan, np.inf, -np.inf, -0.0, 0.0, 0.5, -0.5, 2.7, -2.7, 2**31, -(2**31), 2**31 - 128,
         3e9, -3e9, 2**63, -(2**63), 1e19, -1e19, 9.2e18, -9.2e18, 1.0, -1.0],
        np.float32,
    )  # fmt: skip
    k = min(n, special.size)
    v[:k] = special[:k]
    return v


# --------------------------------------------------------------------------
# bool buffers
# --------------------------------------------------------------------------

BOOL_FLAT = hg.Kernel(
    """kernel bools(x: bool, a: f32, b: f32, y: bool, z: f32, c: bool, s: f32) {
  %0 = load x
  store y, %0
  %1 = load a
  %2 = load b
  %3 = select %0, %1, %2
  store z, %3
  %4 = lt %1, %2
  %5 = eq %4, %0
  store c, %5
  %6 = const.f32 -1.5
  %7 = select %0, %6, %1
  store s, %7
}"""
)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_bool_load_store_select(level):
    rng = np.random.default_rng(1)
    for ex in executors(level):
        for n in SIZES:
            x = rng.random(n) < 0.5
            a = rng.standard_normal(n).astype(np.float32)
            b = rng.standard_normal(n).astype(np.float32)
            if n > 3:
                a[:3] = [np.nan, np.inf, 1.0]
                b[:3] = [0.0, np.nan, 1.0]
            outs = [np.ones(n, bool) & (n % 2 == 0), np.zeros(n, np.float32), np.zeros(n, bool)]
            outs.append(np.zeros(n, np.float32))
            _, _, _, y, z, c, s = launch(ex, BOOL_FLAT, [x, a, b, *outs])
            what = f"{level} {ex.threads}t n={n}"
            assert_equal(y, x, "bool copy " + what)
            assert_equal(z, torch.where(tt(x), tt(a), tt(b)).numpy(), "select " + what)
            assert_equal(c, (torch.lt(tt(a), tt(b)) == tt(x)).numpy(), "eq of bools " + what)
            want = torch.where(tt(x), torch.tensor(-1.5), tt(a)).numpy()
            assert_equal(s, want, "select of a slot " + what)


BOOL_ROW = hg.Kernel(
    """kernel bool_rows(x: f32, r: bool, c: bool, z: f32, w: f32, y: bool, yr: bool, q: bool) {
  %0 = load x
  %1 = load.row r
  %2 = load.col c
  %3 = const.f32 0
  %4 = select %1, %0, %3
  store z, %4
  %5 = neg %0
  %6 = select %2, %0, %5
  store w, %6
  store y, %2
  store yr, %1
  %7 = ne %1, %2
  store q, %7
}"""
)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_bool_row_and_col_loads(level):
    rng = np.random.default_rng(2)
    for ex in executors(level):
        for rows, cols in SHAPES:
            x = rng.standard_normal((rows, cols)).astype(np.float32)
            r = rng.random(rows) < 0.5
            c = rng.random(cols) < 0.5
            outs = [np.zeros((rows, cols), np.float32) for _ in range(2)]
            outs += [
                np.zeros((rows, cols), bool),
                np.zeros(rows, bool),
                np.zeros((rows, cols), bool),
            ]
            z, w, y, yr, q = launch(ex, BOOL_ROW, [x, r, c, *outs], rows, cols)[3:]
            X, R, C = tt(x), tt(r)[:, None], tt(c)[None, :]
            what = f"{level} {ex.threads}t {rows}x{cols}"
            assert_equal(z, torch.where(R, X, torch.tensor(0.0)).numpy(), "row select " + what)
            assert_equal(w, torch.where(C, X, -X).numpy(), "col select " + what)
            assert_equal(y, np.broadcast_to(c, (rows, cols)), "col store " + what)
            assert_equal(yr, r, "row store " + what)
            assert_equal(q, (R != C).numpy(), "ne of row and col bools " + what)


BOOL_LOGIC = hg.Kernel(
    """kernel logic(x: f32, m: bool, c: bool, y: f32, yand: bool, yor: bool, ynot: bool) {
  %x = load x
  %m = load m
  %c = load.col c
  %0 = neg %x
  %1 = select %c, %x, %0
  store y, %1
  %2 = select %m, %c, %m
  store yand, %2
  %3 = select %m, %m, %c
  store yor, %3
  %z = const.i64 0
  %f = cast.bool %z
  %4 = eq %c, %f
  store ynot, %4
}"""
)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_bool_logic_and_col_strips(level):
    """and, or and not written with select and eq; no row-level value, so short rows run in
    strips that tile the bool column buffer."""
    rng = np.random.default_rng(11)
    for ex in executors(level):
        for rows, cols in SHAPES:
            x = rng.standard_normal((rows, cols)).astype(np.float32)
            m, c = rng.random((rows, cols)) < 0.5, rng.random(cols) < 0.5
            outs = [np.zeros((rows, cols), np.float32)] + [
                np.zeros((rows, cols), bool) for _ in range(3)
            ]
            y, yand, yor, ynot = launch(ex, BOOL_LOGIC, [x, m, c, *outs], rows, cols)[3:]
            X, M, C = tt(x), tt(m), tt(c)[None, :]
            what = f"{level} {ex.threads}t {rows}x{cols}"
            assert_equal(y, torch.where(C, X, -X).numpy(), "col select " + what)
            assert_equal(yand, (M & C).numpy(), "and " + what)
            assert_equal(yor, (M | C).numpy(), "or " + what)
            assert_equal(ynot, np.broadcast_to((~C).numpy(), (rows, cols)), "not " + what)


def test_bool_launch_checks(ex):
    k = hg.Kernel("kernel cp(x: bool, y: bool) {\n  %0 = load x\n  store y, %0\n}")
    assert [p[1] for p in k.params] == ["bool", "bool"]
    x = ex.from_numpy(np.array([True, False, True]))
    with pytest.raises(TypeError, match=r"buffer 'y' must be bool, got float32"):
        ex.launch(k, x, ex.zeros((3,)))
    with pytest.raises(TypeError, match=r"buffer 'x' must be bool, got int32"):
        ex.launch(k, ex.zeros((3,), dtype="int32"), x)
    with pytest.raises(ValueError, match=r"buffer 'y' has 2 elements"):
        ex.launch(k, x, ex.from_numpy(np.zeros(2, bool)))
    assert "x: bool" in str(k)


# --------------------------------------------------------------------------
# casts, and i32/i64 buffers at element level
# --------------------------------------------------------------------------

CAST_F32 = hg.Kernel(
    """kernel from_f32(x: f32, a: i32, b: i64, c: bool, d: f32, e: f32) {
  %0 = load x
  %1 = cast.i32 %0
  store a, %1
  %2 = cast.i64 %0
  store b, %2
  %3 = cast.bool %0
  store c, %3
  %4 = cast.f32 %1
  store d, %4
  %5 = cast.f32 %3
  store e, %5
}"""
)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_casts_from_f32(level):
    rng = np.random.default_rng(3)
    for ex in executors(level):
        for n in SIZES:
            x = floats(rng, n)
            outs = [np.zeros(n, NP[t]) for t in ("i32", "i64", "bool", "f32", "f32")]
            a, b, c, d, e = launch(ex, CAST_F32, [x, *outs])[1:]
            X = tt(x)
            what = f"{level} {ex.threads}t n={n}"
            assert_equal(a, X.to(torch.int32).numpy(), "f32 -> i32 " + what)
            assert_equal(b, X.to(torch.int64).numpy(), "f32 -> i64 " + what)
            assert_equal(c, X.to(torch.bool).numpy(), "f32 -> bool " + what)
            assert_equal(
                d, X.to(torch.int32).to(torch.float32).numpy(), "f32 -> i32 -> f32 " + what
            )
            assert_equal(
                e, X.to(torch.bool).to(torch.float32).numpy(), "f32 -> bool -> f32 " + what
            )


CAST_INT = hg.Kernel(
    "kernel from_int(a: i32, b: i64, c: bool, af: f32, ab: i64, ac: bool, bf: f32, ba: i32, "
    "bc: bool, cf: f32, ca: i32, cb: i64, cc: bool, aa: i32, bb: i64) {"
    """
  %a = load a
  %b = load b
  %c = load c
  %0 = cast.f32 %a
  store af, %0
  %1 = cast.i64 %a
  store ab, %1
  %2 = cast.bool %a
  store ac, %2
  %3 = cast.f32 %b
  store bf, %3
  %4 = cast.i32 %b
  store ba, %4
  %5 = cast.bool %b
  store bc, %5
  %6 = cast.f32 %c
  store cf, %6
  %7 = cast.i32 %c
  store ca, %7
  %8 = cast.i64 %c
  store cb, %8
  %9 = cast.bool %c
  store cc, %9
  %10 = cast.i32 %a
  store aa, %10
  %11 = cast.i64 %b
  store bb, %11
}"""
)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_casts_from_ints_and_bool(level):
    rng = np.random.default_rng(4)
    outs_t = ["f32", "i64", "bool", "f32", "i32", "bool", "f32", "i32", "i64", "bool", "i32", "i64"]
    for ex in executors(level):
        for n in SIZES:
            a, b, c = ints(rng, "i32", n), ints(rng, "i64", n), rng.random(n) < 0.5
            outs = [np.full(n, 3, NP[t]) for t in outs_t]
            got = launch(ex, CAST_INT, [a, b, c, *outs])[3:]
            A, B, C = tt(a), tt(b), tt(c)
            want = [A.to(TORCH[t]) for t in ("f32", "i64", "bool")]
            want += [B.to(TORCH[t]) for t in ("f32", "i32", "bool")]
            want += [C.to(TORCH[t]) for t in ("f32", "i32", "i64", "bool")]
            want += [A, B]
            names = ["i32->f32", "i32->i64", "i32->bool", "i64->f32", "i64->i32", "i64->bool"]
            names += ["bool->f32", "bool->i32", "bool->i64", "bool->bool", "i32->i32", "i64->i64"]
            for g, w, name in zip(got, want, names, strict=True):
                assert_equal(g, w.numpy(), f"{name} {level} {ex.threads}t n={n}")


INT_ROWS = hg.Kernel(
    """kernel int_rows(x: i64, c: i32, r: i64, yx: i64, yc: i32, yr: i64, yb: i64, yf: f32) {
  %x = load x
  %c = load.col c
  %r = load.row r
  store yx, %x
  store yc, %c
  store yr, %r
  %0 = cast.i64 %c
  store yb, %0
  %1 = cast.f32 %x
  store yf, %1
}"""
)
INT_COLS = hg.Kernel(
    """kernel int_cols(c: i64, d: i32, y: i64, yf: f32, yd: i64) {
  %c = load.col c
  %d = load.col d
  store y, %c
  %0 = cast.f32 %c
  store yf, %0
  %1 = cast.i64 %d
  store yd, %1
}"""
)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_int_row_and_col_loads(level):
    rng = np.random.default_rng(5)
    for ex in executors(level):
        for rows, cols in SHAPES:
            what = f"{level} {ex.threads}t {rows}x{cols}"
            x, c, r = (
                ints(rng, "i64", rows * cols).reshape(rows, cols),
                ints(rng, "i32", cols),
                ints(rng, "i64", rows),
            )
            outs = [
                np.zeros((rows, cols), np.int64),
                np.zeros((rows, cols), np.int32),
                np.zeros(rows, np.int64),
            ]
            outs += [np.zeros((rows, cols), np.int64), np.zeros((rows, cols), np.float32)]
            yx, yc, yr, yb, yf = launch(ex, INT_ROWS, [x, c, r, *outs], rows, cols)[3:]
            assert_equal(yx, x, "i64 copy " + what)
            assert_equal(yc, np.broadcast_to(c, (rows, cols)), "i32 load.col " + what)
            assert_equal(yr, r, "i64 load.row " + what)
            assert_equal(
                yb, np.broadcast_to(c.astype(np.int64), (rows, cols)), "load.col cast " + what
            )
            assert_equal(yf, tt(x).to(torch.float32).numpy(), "i64 -> f32 " + what)
            # no row-level value: short rows run in strips, the column buffers tiled
            c8, d = ints(rng, "i64", cols), ints(rng, "i32", cols)
            outs = [np.zeros((rows, cols), np.int64), np.zeros((rows, cols), np.float32)]
            outs.append(np.zeros((rows, cols), np.int64))
            y, yf, yd = launch(ex, INT_COLS, [c8, d, *outs], rows, cols)[2:]
            assert_equal(y, np.broadcast_to(c8, (rows, cols)), "i64 load.col " + what)
            want = np.broadcast_to(tt(c8).to(torch.float32).numpy(), (rows, cols))
            assert_equal(yf, want, "i64 load.col -> f32 " + what)
            assert_equal(
                yd, np.broadcast_to(d.astype(np.int64), (rows, cols)), "i32 col -> i64 " + what
            )


SCALAR_CASTS = hg.Kernel(
    """kernel scalar_casts(r: f32, s: f32 scalar, ri: i32, rl: i64, rb: bool, u: i64, ub: bool) {
  %r = load.row r
  %0 = cast.i32 %r
  store ri, %0
  %1 = cast.i64 %r
  store rl, %1
  %2 = cast.bool %r
  store rb, %2
  %s = param s
  %3 = cast.i64 %s
  store u, %3
  %4 = cast.bool %s
  store ub, %4
}"""
)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_row_and_uniform_casts(level):
    """The row and uniform levels (scalar code) convert as the element level does."""
    rng = np.random.default_rng(6)
    r = floats(rng, 64)
    for ex in executors(level):
        for s in [float("nan"), float("inf"), -3e9, 1e19, -2.5, 0.0]:
            outs = [np.zeros(64, NP[t]) for t in ("i32", "i64", "bool")]
            outs += [np.zeros(1, np.int64), np.zeros(1, bool)]
            ri, rl, rb, u, ub = launch(ex, SCALAR_CASTS, [r, s, *outs], 64, 1)[2:]
            R, S = tt(r), torch.tensor([s], dtype=torch.float32)
            what = f"{level} {ex.threads}t s={s}"
            assert_equal(ri, R.to(torch.int32).numpy(), "row f32 -> i32 " + what)
            assert_equal(rl, R.to(torch.int64).numpy(), "row f32 -> i64 " + what)
            assert_equal(rb, R.to(torch.bool).numpy(), "row f32 -> bool " + what)
            assert_equal(u, S.to(torch.int64).numpy(), "uniform f32 -> i64 " + what)
            assert_equal(ub, S.to(torch.bool).numpy(), "uniform f32 -> bool " + what)


PHASES = hg.Kernel(
    """kernel phases(x: f32, m: bool, y: i64, z: bool) {
  %x = load x
  %m = load m
  %i = cast.i64 %x
  %j = cast.i64 %m
  %s = reduce.max.row %x
  %g = ge %x, %s
  %k = select %g, %i, %j
  store y, %k
  %n = ne %g, %m
  store z, %n
}"""
)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_values_kept_across_row_phases(level):
    """i64 and bool values made before a row reduction and used after it wait in scratch rows."""
    rng = np.random.default_rng(7)
    for ex in executors(level):
        for rows, cols in SHAPES:
            x = (rng.standard_normal((rows, cols)) * 1e3).astype(np.float32)
            m = rng.random((rows, cols)) < 0.5
            y, z = launch(
                ex,
                PHASES,
                [x, m, np.zeros((rows, cols), np.int64), np.zeros((rows, cols), bool)],
                rows,
                cols,
            )[2:]
            X, M = tt(x), tt(m)
            g = X >= X.max(dim=1, keepdim=True).values
            what = f"{level} {ex.threads}t {rows}x{cols}"
            assert_equal(
                y, torch.where(g, X.to(torch.int64), M.to(torch.int64)).numpy(), "select " + what
            )
            assert_equal(z, (g != M).numpy(), "ne " + what)


# --------------------------------------------------------------------------
# integer arithmetic at element level
# --------------------------------------------------------------------------

INT_OUTS = ["add", "sub", "mul", "min", "max", "neg", "abs", "s_sub", "mul_s", "s_max", "add_s"]
CMP_OUTS = ["lt", "le", "gt", "ge", "eq", "ne", "lt_s"]
SEL_OUTS = ["sel", "sel_s"]


def int_kernel(ty):
    outs = [f"{o}: {ty}" for o in INT_OUTS] + [f"{o}: bool" for o in CMP_OUTS]
    outs += [f"{o}: {ty}" for o in SEL_OUTS]
    return hg.Kernel(
        f"kernel ints_{ty}(a: {ty}, b: {ty}, n: i64 scalar, {', '.join(outs)}) {{\n"
        f"""  %a = load a
  %b = load b
  %n = param n
  %s = cast.{ty} %n
  %0 = add %a, %b
  store add, %0
  %1 = sub %a, %b
  store sub, %1
  %2 = mul %a, %b
  store mul, %2
  %3 = min %a, %b
  store min, %3
  %4 = max %a, %b
  store max, %4
  %5 = neg %a
  store neg, %5
  %6 = abs %a
  store abs, %6
  %7 = sub %s, %a
  store s_sub, %7
  %8 = mul %a, %s
  store mul_s, %8
  %9 = max %s, %b
  store s_max, %9
  %10 = add %a, %s
  store add_s, %10
  %11 = lt %a, %b
  store lt, %11
  %12 = le %a, %b
  store le, %12
  %13 = gt %a, %b
  store gt, %13
  %14 = ge %a, %b
  store ge, %14
  %15 = eq %a, %b
  store eq, %15
  %16 = ne %a, %b
  store ne, %16
  %17 = lt %a, %s
  store lt_s, %17
  %18 = select %11, %a, %b
  store sel, %18
  %19 = select %17, %s, %b
  store sel_s, %19
}}"""
    )


def int_reference(A, B, S):
    """Every output of int_kernel, computed by torch (integer ops wrap there too)."""
    return {
        "add": A + B,
        "sub": A - B,
        "mul": A * B,
        "min": torch.minimum(A, B),
        "max": torch.maximum(A, B),
        "neg": -A,
        "abs": A.abs(),
        "s_sub": S - A,
        "mul_s": A * S,
        "s_max": torch.maximum(S, B),
        "add_s": A + S,
        "lt": A < B,
        "le": A <= B,
        "gt": A > B,
        "ge": A >= B,
        "eq": A == B,
        "ne": A != B,
        "lt_s": A < S,
        "sel": torch.where(A < B, A, B),
        "sel_s": torch.where(A < S, S, B),
    }


@pytest.mark.parametrize("ty", ["i32", "i64"])
@pytest.mark.parametrize("level", ISA_PARAMS())
def test_int_arithmetic(level, ty):
    rng = np.random.default_rng(8)
    kernel = int_kernel(ty)
    names = INT_OUTS + CMP_OUTS + SEL_OUTS
    for ex in executors(level):
        for n in SIZES:
            # the scalar: an i64 whose i32 cast wraps, a large one, the minimum, small ones
            for s in [2**40 + 2**31 + 5, INFO[ty].max - 3, INFO["i64"].min, -7]:
                a, b = ints(rng, ty, n), ints(rng, ty, n)
                b[::5] = a[::5]  # equal pairs for eq/ne, le/ge
                outs = [np.zeros(n, bool if o in CMP_OUTS else NP[ty]) for o in names]
                got = launch(ex, kernel, [a, b, s, *outs])[3:]
                S = torch.tensor(s, dtype=torch.int64).to(TORCH[ty])
                want = int_reference(tt(a), tt(b), S)
                for g, name in zip(got, names, strict=True):
                    assert_equal(
                        g, want[name].numpy(), f"{ty} {name} {level} {ex.threads}t n={n} s={s}"
                    )


INT_ROW_OPS = hg.Kernel(
    """kernel int_row_ops(x: i32, c: i32, r: i64, y0: i32, y1: i32, y2: i32, y3: i32, y4: bool, y5: i32, yr: i32, yq: bool) {
  %x = load x
  %c = load.col c
  %r = load.row r
  %ri = cast.i32 %r
  %0 = add %x, %c
  store y0, %0
  %1 = sub %c, %ri
  store y1, %1
  %2 = mul %x, %ri
  store y2, %2
  %3 = min %c, %x
  store y3, %3
  %4 = lt %c, %ri
  store y4, %4
  %5 = select %4, %x, %c
  store y5, %5
  %6 = add %ri, %ri
  store yr, %6
  %z = const.i64 0
  %z32 = cast.i32 %z
  %7 = lt %6, %z32
  store yq, %7
}"""
)


@pytest.mark.parametrize("level", ISA_PARAMS())
def test_int_ops_on_row_and_col_operands(level):
    """i32 ops mixing element, column (load.col) and row (slot) operands; row-level i32
    arithmetic wraps at 32 bits as the element level does."""
    rng = np.random.default_rng(9)
    for ex in executors(level):
        for rows, cols in SHAPES:
            x, c, r = (
                ints(rng, "i32", rows * cols).reshape(rows, cols),
                ints(rng, "i32", cols),
                ints(rng, "i64", rows),
            )
            outs = [np.zeros((rows, cols), np.int32) for _ in range(4)] + [
                np.zeros((rows, cols), bool)
            ]
            outs += [
                np.zeros((rows, cols), np.int32),
                np.zeros(rows, np.int32),
                np.zeros(rows, bool),
            ]
            got = launch(ex, INT_ROW_OPS, [x, c, r, *outs], rows, cols)[3:]
            X, C, R = tt(x), tt(c)[None, :], tt(r).to(torch.int32)[:, None]
            want = [X + C, C - R, X * R, torch.minimum(C, X), C < R, torch.where(C < R, X, C)]
            want += [(R + R)[:, 0], (R + R < 0)[:, 0]]
            for j, (g, w) in enumerate(zip(got, want, strict=True)):
                w = np.broadcast_to(w.numpy(), g.shape)
                assert_equal(g, w, f"y{j} {level} {ex.threads}t {rows}x{cols}")


# --------------------------------------------------------------------------
# what the verifier still refuses
# --------------------------------------------------------------------------

REFUSED = {
    "div_i32": (
        "a: i32, y: i32",
        "%0 = div %a, %a\n  store y, %0",
        r"div: not defined for int32 operands",
    ),
    "pow_bool": (
        "a: bool, y: bool",
        "%0 = pow %a, %a\n  store y, %0",
        r"pow: not defined for bool operands",
    ),
    "exp_i32": (
        "a: i32, y: i32",
        "%0 = exp %a\n  store y, %0",
        r"exp: operand %0 is int32; exp takes f32",
    ),
    "relu_i64": (
        "a: i64, y: i64",
        "%0 = relu %a\n  store y, %0",
        r"relu: operand %0 is int64; relu takes f32",
    ),
    "reduce_i64": (
        "a: i64, y: f32",
        "%0 = reduce.sum.row %a\n  store y, %0",
        r"reduce\.sum\.row: operand %0 is int64; reductions take f32",
    ),
    "mixed_widths": (
        "a: i32, b: i64, y: i64",
        "%1 = load b\n  %0 = add %a, %1\n  store y, %0",
        r"add: operand types differ: %0 is int32, %1 is int64",
    ),
    "add_bool": (
        "a: bool, y: bool",
        "%0 = add %a, %a\n  store y, %0",
        r"add: not defined for bool operands",
    ),
    "lt_bool": (
        "a: bool, y: bool",
        "%0 = lt %a, %a\n  store y, %0",
        r"lt: not defined for bool operands",
    ),
    "neg_bool": (
        "a: bool, y: bool",
        "%0 = neg %a\n  store y, %0",
        r"neg: operand %0 is bool; neg takes f32",
    ),
    "select_mixed": (
        "a: i32, b: i64, m: bool, y: i64",
        "%1 = load b\n  %2 = load m\n  %0 = select %2, %a, %1\n  store y, %0",
        r"select: operand types differ \(int32, int64\)",
    ),
    "store_wrong_type": (
        "a: i32, y: i64",
        "store y, %a",
        r"store: value %0 is int32 but buffer 'y' is int64",
    ),
    "check_range_elem": (
        "a: i64, y: i64",
        "%1 = const.i64 0\n  check.range %a, %1, %1\n  store y, %a",
        r"check\.range with an element-level operand is not supported",
    ),
    "bool_scalar": (
        "s: bool scalar, y: bool",
        "%0 = param s\n  store y, %0",
        r"param 's': scalar params are f32 or i64",
    ),
    "i32_scalar": (
        "s: i32 scalar, y: i32",
        "%0 = param s\n  store y, %0",
        r"param 's': scalar params are f32 or i64",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_verifier_refuses(case):
    params, body, pat = REFUSED[case]
    first = params.split(":")[0]
    load = f"%a = load {first}\n  " if not params.startswith("s:") else ""
    with pytest.raises(ValueError, match=pat):
        hg.Kernel(f"kernel bad({params}) {{\n  {load}{body}\n}}\n")


# --------------------------------------------------------------------------
# the shared IR evaluation (tests/ir_eval.py) knows the types too
# --------------------------------------------------------------------------


def typed_args(kernel, rng, rows, cols):
    """Arguments for any kernel above: each buffer sized by its role, values by its dtype."""
    from ir_eval import roles

    role = roles(kernel)
    args = []
    for i, (_name, dtype, is_scalar) in enumerate(kernel.params):
        if is_scalar:
            args.append(-7 if dtype == "int64" else 2.5)
            continue
        n = {"elem": rows * cols, "row": rows, "col": cols}.get(role.get(i), 1)
        if dtype == "float32":
            args.append(floats(rng, n))
        elif dtype == "bool":
            args.append(rng.random(n) < 0.5)
        else:
            args.append(ints(rng, {"int32": "i32", "int64": "i64"}[dtype], n))
    return args


@pytest.mark.parametrize(
    "kernel",
    [
        BOOL_FLAT,
        BOOL_ROW,
        BOOL_LOGIC,
        CAST_F32,
        CAST_INT,
        INT_ROWS,
        INT_COLS,
        SCALAR_CASTS,
        PHASES,
        INT_ROW_OPS,
    ]
    + [int_kernel("i32"), int_kernel("i64")],
    ids=lambda k: k.name,
)
def test_ir_eval_agrees(kernel):
    from ir_eval import assert_matches, evaluate

    rng = np.random.default_rng(10)
    ex = hg.Executor(threads=1)
    for rows, cols in [(1, 1), (3, 7), (17, 1025)]:
        args = typed_args(kernel, rng, rows, cols)
        want = evaluate(kernel, args, rows, cols)
        assert want.raises is None
        got = launch(ex, kernel, args, rows, cols)
        for i, (ref, err) in want.buffers.items():
            assert_matches(got[i], ref, err, f"{kernel.name} {kernel.params[i][0]} {rows}x{cols}")
