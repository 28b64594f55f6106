"""hg.Kernel: parsing, printing, launching, and the verifier's rejections."""

import re

import numpy as np
import pytest
import torch
from conftest import assert_f32_close, t

import hologram as hg

FUSED = """kernel fused(x: f32, b: f32, y: f32, a: f32 scalar) {
  %0 = load x
  %1 = exp %0
  %2 = param a
  %3 = mul %1, %2
  %4 = load b
  %5 = add %3, %4
  store y, %5
}
"""

SOFTMAX = """kernel softmax(x: f32, y: f32) {
  %0 = load x
  %1 = reduce.max.row %0
  %2 = sub %0, %1
  %3 = exp %2
  %4 = reduce.sum.row %3
  %5 = div %3, %4
  store y, %5
}
"""

# hg.ops.softmax's kernel as the stdlib prints it (docs/architecture.md shows it): SOFTMAX, but
# scaling by one reciprocal per row instead of dividing every element
SOFTMAX_PRINTED = SOFTMAX.replace(
    "  %5 = div %3, %4\n  store y, %5\n",
    "  %5 = const.f32 1\n  %6 = div %5, %4\n  %7 = mul %3, %6\n  store y, %7\n",
)
assert SOFTMAX_PRINTED != SOFTMAX

TOTAL = """kernel total(x: f32, s: f32) {
  %0 = load x
  %1 = reduce.sum.all %0
  store s, %1
}
"""

GEMM = """kernel mm(a: f32, b: f32, c: f32, k: i64 scalar) {
  gemm a, b, c, k
}
"""


def test_kernel_attributes():
    k = hg.Kernel(FUSED)
    assert k.name == "fused"
    names = [p[0] for p in k.params]
    assert names == ["x", "b", "y", "a"]
    assert [bool(p[2]) for p in k.params] == [False, False, False, True]
    assert all(p[1] in ("f32", "float32") for p in k.params)


@pytest.mark.parametrize("text", [FUSED, SOFTMAX, TOTAL, GEMM])
def test_print_parse_round_trip(text):
    k = hg.Kernel(text)
    s = str(k)
    k2 = hg.Kernel(s)
    assert str(k2) == s
    assert k2.name == k.name and list(k2.params) == list(k.params)
    # the printed form keeps every instruction of the source
    body = [ln.strip() for ln in text.strip().splitlines()[1:-1]]
    assert len([ln for ln in s.strip().splitlines()[1:-1] if ln.strip()]) == len(body)


@pytest.mark.parametrize("n", [1, 7, 17, 1025, 65537])
def test_launch_fused(ex, n):
    r = np.random.default_rng(n)
    x = r.uniform(-5, 5, n).astype(np.float32)
    b = r.uniform(0, 1, n).astype(np.float32)  # no cancellation in the add
    a = 2.5
    k = hg.Kernel(FUSED)
    y = ex.empty((n,))
    res = ex.launch(k, ex.from_numpy(x), ex.from_numpy(b), y, a)
    assert res is None  # a launch writes its outputs in place and returns nothing
    got = y.to_numpy()
    ref64 = np.exp(x.astype(np.float64)) * a + b.astype(np.float64)
    want_t = (torch.exp(t(x)) * a + t(b)).numpy()
    assert_f32_close(got, ref64, want_t, what="fused kernel")


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 7), (17, 1000), (4, 4097)])
def test_launch_softmax_rows(ex, rows, cols):
    r = np.random.default_rng(rows * cols)
    x = (r.standard_normal((rows, cols)) * 10).astype(np.float32)
    k = hg.Kernel(SOFTMAX)
    y = ex.empty((rows, cols))
    ex.launch(k, ex.from_numpy(x), y, rows=rows, cols=cols)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(1, keepdims=True))
    assert_f32_close(
        y.to_numpy(),
        e / e.sum(1, keepdims=True),
        torch.softmax(t(x), -1).numpy(),
        what="softmax kernel",
    )


def test_launch_builtin_softmax_ir(ex):
    text = hg.ops.kernel_ir("softmax")
    assert text == SOFTMAX_PRINTED
    k = hg.Kernel(text)
    assert str(hg.Kernel(str(k))) == str(k)
    # the built-in softmax reads its first param and writes its last one
    assert not any(p[2] for p in k.params), k.params
    x = np.random.default_rng(5).standard_normal((6, 33)).astype(np.float32)
    bufs = [ex.from_numpy(x)] + [ex.empty((6, 33)) for _ in k.params[1:]]
    ex.launch(k, *bufs, rows=6, cols=33)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(1, keepdims=True))
    assert_f32_close(
        bufs[-1].to_numpy(),
        e / e.sum(1, keepdims=True),
        torch.softmax(t(x), -1).numpy(),
        what="kernel_ir softmax",
    )


@pytest.mark.parametrize(
    "name", ["softmax", "vector_add", "exp", "relu", "sum", "mse_loss", "cross_entropy", "gemm"]
)
def test_kernel_ir_parses(name):
    text = hg.ops.kernel_ir(name)
    k = hg.Kernel(text)
    assert str(hg.Kernel(str(k))) == str(k)


def test_kernel_ir_unknown_name():
    with pytest.raises(ValueError):
        hg.ops.kernel_ir("no_such_op")


@pytest.mark.parametrize("n", [1, 1000, 65537])
def test_launch_whole_reduction(ex, n):
    x = np.random.default_rng(n).integers(-8, 9, n).astype(np.float32)
    s = ex.zeros((1,))
    ex.launch(hg.Kernel(TOTAL), ex.from_numpy(x), s)
    assert s.to_numpy()[0] == float(np.sum(x.astype(np.int64)))  # integer-valued: exact


def test_launch_scalar_int_accepted_for_f32(ex):
    x = np.linspace(-1, 1, 9).astype(np.float32)
    b = np.ones(9, np.float32)
    y = ex.empty((9,))
    ex.launch(hg.Kernel(FUSED), ex.from_numpy(x), ex.from_numpy(b), y, 2)
    ref = np.exp(x.astype(np.float64)) * 2 + 1
    assert_f32_close(y.to_numpy(), ref, (torch.exp(t(x)) * 2 + 1).numpy(), what="fused int scalar")


def test_launch_wrong_arg_count(ex):
    k = hg.Kernel(FUSED)
    x = ex.from_numpy(np.ones(4, np.float32))
    with pytest.raises((TypeError, ValueError), match=r"(?i)fused|launch|param|arg"):
        ex.launch(k, x, x)


def test_launch_wrong_buffer_dtype(ex):
    k = hg.Kernel(FUSED)
    x = ex.from_numpy(np.ones(4, np.float32))
    xi = ex.from_numpy(np.ones(4, np.int32))
    with pytest.raises(TypeError, match=r"(?i)fused|launch|dtype|int32|i32"):
        ex.launch(k, xi, x, ex.empty((4,)), 1.0)


def test_launch_size_mismatch(ex):
    k = hg.Kernel(FUSED)
    x = ex.from_numpy(np.ones(4, np.float32))
    b = ex.from_numpy(np.ones(5, np.float32))
    with pytest.raises(ValueError, match=r"(?i)fused|launch|size|element"):
        ex.launch(k, x, b, ex.empty((4,)), 1.0)


def test_launch_buffer_for_scalar_param(ex):
    k = hg.Kernel(FUSED)
    x = ex.from_numpy(np.ones(4, np.float32))
    with pytest.raises(TypeError):
        ex.launch(k, x, x, ex.empty((4,)), x)


def test_kernel_is_not_a_string_arg():
    with pytest.raises(TypeError):
        hg.Kernel(42)


# --------------------------------------------------------------------------
# verifier / parser rejections
# --------------------------------------------------------------------------
BAD = {
    "undefined_operand": (
        "kernel bad(x: f32, y: f32) {\n  %0 = load x\n  %1 = exp %7\n  store y, %1\n}\n",
        r"(?i)undefined|not defined",
    ),
    "redefined_value": (
        "kernel bad(x: f32, y: f32) {\n  %0 = load x\n  %0 = exp %0\n  store y, %0\n}\n",
        r"(?i)twice|redefin|already",
    ),
    "type_mismatch_f32_i64": (
        "kernel bad(x: f32, y: f32) {\n  %0 = load x\n  %1 = const.i64 3\n  %2 = add %0, %1\n"
        "  store y, %2\n}\n",
        r"(?i)type|differ|mismatch",
    ),
    "store_to_scalar": (
        "kernel bad(x: f32, a: f32 scalar) {\n  %0 = load x\n  store a, %0\n}\n",
        r"(?i)scalar",
    ),
    "load_unknown_param": (
        "kernel bad(x: f32, y: f32) {\n  %0 = load zz\n  store y, %0\n}\n",
        r"(?i)unknown|no param|zz",
    ),
    "i64_elem_div": (
        "kernel bad(t: i64, y: i64) {\n  %0 = load t\n  %1 = div %0, %0\n  store y, %1\n}\n",
        r"div: not defined for int64 operands",
    ),
    "whole_reduction_at_elem": (
        "kernel bad(x: f32, y: f32) {\n  %0 = load x\n  %1 = reduce.sum.all %0\n"
        "  %2 = div %0, %1\n  store y, %2\n}\n",
        r"(?i)whole.launch|barrier",
    ),
    "gemm_mixed": (
        "kernel bad(a: f32, b: f32, c: f32, k: i64 scalar) {\n  gemm a, b, c, k\n"
        "  %0 = const.f32 1.0\n}\n",
        r"(?i)gemm",
    ),
    "gemm_in_place_a": (
        "kernel bad(a: f32, b: f32, k: i64 scalar) {\n  gemm a, b, a, k\n}\n",
        r"gemm writes 'a', which it also reads",
    ),
    "gemm_in_place_b": (
        "kernel bad(a: f32, b: f32, k: i64 scalar) {\n  gemm a, b, b, k\n}\n",
        r"gemm writes 'b', which it also reads",
    ),
    "unknown_opcode": (
        "kernel bad(x: f32, y: f32) {\n  %0 = load x\n  %1 = frobnicate %0\n  store y, %1\n}\n",
        r"(?i)unknown|frobnicate",
    ),
    "syntax_missing_brace": (
        "kernel bad(x: f32, y: f32) {\n  %0 = load x\n  store y, %0\n",
        r"(?i)syntax|missing|expected|\}",
    ),
    "syntax_missing_paren": (
        "kernel bad x: f32, y: f32) {\n  %0 = load x\n  store y, %0\n}\n",
        r"(?i)syntax|expected|\(",
    ),
    "syntax_no_kernel_keyword": (
        "kernal bad(x: f32, y: f32) {\n  %0 = load x\n  store y, %0\n}\n",
        r"(?i)syntax|expected|kernel",
    ),
    "syntax_missing_comma": (
        "kernel bad(x: f32, y: f32) {\n  %0 = load x\n  %1 = add %0 %0\n  store y, %1\n}\n",
        r"(?i)syntax|expected|,|operand",
    ),
    "trailing_garbage": (
        "kernel bad(x: f32, y: f32) {\n  %0 = load x\n  store y, %0\n}\nextra\n",
        r"(?i)syntax|after|expected",
    ),
    "bad_param_dtype": (
        "kernel bad(x: f64, y: f32) {\n  %0 = load x\n  store y, %0\n}\n",
        r"(?i)f64|dtype|f32|expected",
    ),
    "empty_string": ("", r"(?i)syntax|expected|kernel"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_verifier_rejects(case):
    text, pat = BAD[case]
    with pytest.raises(ValueError, match=pat):
        hg.Kernel(text)


def test_verifier_messages_are_distinct():
    """Each restriction has its own message (ir.h): the rejection texts of the
    semantic cases must not all be the same generic error."""
    msgs = []
    for case in (
        "undefined_operand",
        "redefined_value",
        "type_mismatch_f32_i64",
        "store_to_scalar",
        "i64_elem_div",
        "whole_reduction_at_elem",
        "gemm_mixed",
    ):
        with pytest.raises(ValueError) as ei:
            hg.Kernel(BAD[case][0])
        msgs.append(re.sub(r"\d+", "", str(ei.value)))
    assert len(set(msgs)) == len(msgs), msgs


# --------------------------------------------------------------------------
# richer IR: row loads, gather, check.range, select, comparisons, casts
# --------------------------------------------------------------------------
PICK = """kernel pick(x: f32, t: i64, y: f32) {
  %0 = load.row t
  %1 = row.index
  %2 = ncols
  %3 = mul %1, %2
  %4 = add %3, %0
  %5 = gather x, %4
  store y, %5
}
"""

CLAMP2 = """kernel clamp2(x: f32, y: f32, c: f32 scalar) {
  %0 = load x
  %1 = param c
  %2 = lt %0, %1
  %3 = const.f32 2
  %4 = mul %0, %3
  %5 = select %2, %4, %0
  store y, %5
}
"""

MAXALL = """kernel maxall(x: f32, s: f32) {
  %0 = load x
  %1 = reduce.max.row %0
  %2 = reduce.max.all %1
  store s, %2
}
"""


def test_launch_gather_row_pick(ex):
    r = np.random.default_rng(11)
    x = r.standard_normal((9, 13)).astype(np.float32)
    tg = r.integers(0, 13, 9).astype(np.int64)
    y = ex.empty((9,))
    ex.launch(hg.Kernel(PICK), ex.from_numpy(x), ex.from_numpy(tg), y, rows=9, cols=13)
    np.testing.assert_array_equal(y.to_numpy(), x[np.arange(9), tg])


def test_launch_gather_out_of_bounds(ex):
    x = np.zeros((3, 4), np.float32)
    tg = np.array([0, 1, 4 * 3], np.int64)  # index 2*4+12 = 20 >= 12 elements
    with pytest.raises(IndexError, match=r"(?i)pick|gather|range|bound|index"):
        ex.launch(
            hg.Kernel(PICK), ex.from_numpy(x), ex.from_numpy(tg), ex.empty((3,)), rows=3, cols=4
        )


@pytest.mark.parametrize("n", [1, 17, 4097])
def test_launch_select_compare(ex, n):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    y = ex.empty((n,))
    ex.launch(hg.Kernel(CLAMP2), ex.from_numpy(x), y, 0.25)
    np.testing.assert_array_equal(y.to_numpy(), np.where(x < np.float32(0.25), x * 2, x))


def test_launch_row_then_all_reduction(ex):
    x = np.random.default_rng(4).standard_normal((37, 65)).astype(np.float32)
    s = ex.zeros((1,))
    ex.launch(hg.Kernel(MAXALL), ex.from_numpy(x), s, rows=37, cols=65)
    assert s.to_numpy()[0] == x.max()


@pytest.mark.parametrize("N,C", [(1, 1), (17, 5), (64, 1000)])
def test_launch_builtin_cross_entropy_ir(ex, N, C):
    k = hg.Kernel(hg.ops.kernel_ir("cross_entropy"))
    assert [p[0] for p in k.params] == ["x", "t", "ignore", "out"]
    r = np.random.default_rng(N + C)
    x = r.standard_normal((N, C)).astype(np.float32)
    tg = r.integers(0, C, N).astype(np.int64)
    tg[::3] = -100
    out = ex.zeros((1,))
    ex.launch(k, ex.from_numpy(x), ex.from_numpy(tg), -100, out, rows=N, cols=C)
    want = float(torch.nn.functional.cross_entropy(t(x), t(tg)))
    got = float(out.to_numpy()[0])
    assert (np.isnan(got) and np.isnan(want)) or abs(got - want) <= 1e-6 + 1e-5 * abs(want)


def test_launch_builtin_cross_entropy_ir_bad_target(ex):
    k = hg.Kernel(hg.ops.kernel_ir("cross_entropy"))
    x = np.zeros((4, 3), np.float32)
    tg = np.array([0, 1, 3, 2], np.int64)
    with pytest.raises(IndexError):
        ex.launch(k, ex.from_numpy(x), ex.from_numpy(tg), -100, ex.zeros((1,)), rows=4, cols=3)


def test_verifier_rejects_elem_level_gather_index():
    # an index computed per element would be an element-level integer, which
    # the IR does not allow (and gather needs a row/uniform index)
    text = (
        "kernel bad(x: f32, w: f32, y: f32) {\n  %0 = load w\n  %1 = cast.i64 %0\n"
        "  %2 = gather x, %1\n  store y, %2\n}\n"
    )
    with pytest.raises(ValueError, match=r"(?i)element-level"):
        hg.Kernel(text)


def test_parser_rejects_unknown_instruction():
    with pytest.raises(ValueError, match=r"unknown instruction 'col.index'"):
        hg.Kernel("kernel bad(x: f32, y: f32) {\n  %0 = col.index\n  store y, %0\n}\n")


def test_verifier_rejects_kernel_without_store():
    with pytest.raises(ValueError, match=r"(?i)store|nothing"):
        hg.Kernel("kernel bad(x: f32) {\n  %0 = load x\n  %1 = exp %0\n}\n")


def test_launch_threads_bitwise_deterministic():
    x = np.random.default_rng(8).standard_normal(1_000_003).astype(np.float32)
    outs = []
    for th in (1, 2, 3, 0):
        ex = hg.Executor(threads=th)
        s = ex.zeros((1,))
        ex.launch(hg.Kernel(TOTAL), ex.from_numpy(x), s)
        outs.append(s.to_numpy().view(np.uint32)[0])
    assert len(set(outs)) == 1, outs
    ref = float(np.sum(x.astype(np.float64)))
    from conftest import sum_bound

    assert abs(float(np.uint32(outs[0]).view(np.float32)) - ref) <= sum_bound(x, ref)


# A value used in a later phase of a row can wait in an output's memory until
# the output's own value is written there (softmax keeps exp(x - max) in y).
# LATE_USE is the case where it must not: the value is read after the output
# is written.  (An output is never also an input: the verifier refuses that.)
LATE_USE = """kernel late(x: f32, y: f32, z: f32) {
  %0 = load x
  %1 = exp %0
  %2 = reduce.sum.row %1
  %3 = div %1, %2
  store y, %3
  %4 = add %1, %3
  store z, %4
}
"""

# two values from row phase 0 that only the output's own instruction reads in phase 1: at most
# one of them may wait in that output
TWO_WAITING = """kernel two(x: f32, z: f32, y: f32, w: f32) {
  %0 = load x
  %1 = load z
  %2 = add %0, %1
  %3 = mul %0, %1
  %4 = reduce.sum.row %2
  %5 = lt %0, %4
  %6 = select %5, %2, %3
  store y, %6
  store w, %1
}
"""

# a stored value read back by a later instruction (exp in y, then y + y)
REREAD = """kernel reread(x: f32, y: f32, z: f32) {
  %0 = load x
  %1 = exp %0
  store y, %1
  %2 = add %1, %1
  store z, %2
}
"""


@pytest.mark.parametrize("rows,cols", [(1, 1), (5, 9), (3, 1000), (2, 4099)])
def test_launch_value_read_after_its_output_is_written(ex, rows, cols):
    x = np.random.default_rng(cols).uniform(-3, 3, (rows, cols)).astype(np.float32)
    y, z = ex.empty((rows, cols)), ex.empty((rows, cols))
    ex.launch(hg.Kernel(LATE_USE), ex.from_numpy(x), y, z, rows=rows, cols=cols)
    e = np.exp(x.astype(np.float64))
    want = e / e.sum(1, keepdims=True)
    te = torch.exp(t(x))
    tw = te / te.sum(1, keepdim=True)
    assert_f32_close(y.to_numpy(), want, tw.numpy(), what="late-use y")
    assert_f32_close(z.to_numpy(), e + want, (te + tw).numpy(), what="late-use z")


@pytest.mark.parametrize("stores", ["cached", "streamed"])  # y is read back, so it never streams
@pytest.mark.parametrize("n", [1000, 100_003])
def test_launch_stored_value_read_back(stores, n):
    ex = hg.Executor(stores=stores)
    x = np.random.default_rng(n).uniform(-3, 3, n).astype(np.float32)
    y, z = ex.empty((n,)), ex.empty((n,))
    ex.launch(hg.Kernel(REREAD), ex.from_numpy(x), y, z)
    e = np.exp(x.astype(np.float64))
    te = torch.exp(t(x))
    assert_f32_close(y.to_numpy(), e, te.numpy(), what="reread y")
    assert_f32_close(z.to_numpy(), 2 * e, (te + te).numpy(), what="reread z")


@pytest.mark.parametrize("rows,cols", [(1, 1), (5, 9), (3, 1000), (2, 4099)])
def test_launch_two_values_for_one_output(ex, rows, cols):
    r = np.random.default_rng(cols + 1)
    x = r.integers(-3, 4, (rows, cols)).astype(np.float32)  # small integers: exact results
    z = r.integers(-3, 4, (rows, cols)).astype(np.float32)
    y, w = ex.empty((rows, cols)), ex.empty((rows, cols))
    ex.launch(
        hg.Kernel(TWO_WAITING), ex.from_numpy(x), ex.from_numpy(z), y, w, rows=rows, cols=cols
    )
    s = x + z
    want = np.where(x < s.sum(1, keepdims=True), s, x * z)
    np.testing.assert_array_equal(y.to_numpy(), want)
    np.testing.assert_array_equal(w.to_numpy(), z)
