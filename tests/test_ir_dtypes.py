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
