"""Random kernels against a NumPy evaluation of the same IR, compared exactly.

The lowering decides where every value lives: in its input, forwarded into an output, waiting
in an output until that output is written (softmax's exp), in a scratch row, in a block
register, or in a scalar slot; it fuses and orders passes per row phase.  A wrong placement
shows up as a wrong number, so these kernels mix elementwise and row-level values across
several row phases and store two outputs, and are checked element for element.

Inputs are small integers and the ops are ones whose float32 results are then exact (add, sub,
mul, min, max, neg, abs, relu, select on a comparison, and row sums/maxima/minima), as long as
every product is a float32 and every row sum has sum|x| < 2**24 (then every partial sum, in any
order, is exact).  The evaluation (tests/ir_eval.py, shared with test_ir_fuzz) marks each value
exact or not; examples with an inexact output are discarded.  So the reference is the float64
result itself and the comparison needs no tolerance: any difference is a bug.
"""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ir_eval import assert_matches, evaluate

import hologram as hg

BINARY = ["add", "sub", "mul", "min", "max"]
UNARY = ["neg", "abs", "relu"]
ROW_REDUCE = ["reduce.sum.row", "reduce.max.row", "reduce.min.row"]


@st.composite
def kernels(draw, kinds):
    """IR text, and the values its two outputs store.  Values 0 and 1 are the loads of x and z
    (elementwise); later values are elementwise unless they come from a row reduction or only
    combine row values.  kinds: the instruction kinds to draw from ("col" loads the buffer w of
    cols elements with load.col, which adds w to the params)."""
    prog = [("load", "x"), ("load", "z")]
    elem = [True, True]
    mask = [False, False]  # comparison results: operands of select only

    def operand():
        # mostly one of the last few values, so chains cross row phases
        nums = [i for i in range(len(prog)) if not mask[i]]
        return draw(st.one_of(st.sampled_from(nums[-3:]), st.sampled_from(nums)))

    for _ in range(draw(st.integers(2, 9))):
        kind = draw(st.sampled_from(kinds))
        if kind == "select":
            # select(a < b, c, d): three operands, so one instruction can read two values
            # that were computed in earlier row phases
            a, b, c, d = operand(), operand(), operand(), operand()
            prog.append(("lt", a, b))
            elem.append(elem[a] or elem[b])
            mask.append(True)
            prog.append(("select", len(prog) - 1, c, d))
            elem.append(elem[a] or elem[b] or elem[c] or elem[d])
            mask.append(False)
        elif kind == "reduce":
            src = draw(st.sampled_from([i for i, e in enumerate(elem) if e and not mask[i]][-3:]))
            prog.append((draw(st.sampled_from(ROW_REDUCE)), src))
            elem.append(False)
            mask.append(False)
        elif kind == "col":
            prog.append(("load.col", "w"))
            elem.append(True)
            mask.append(False)
        elif kind == "unary":
            src = operand()
            prog.append((draw(st.sampled_from(UNARY)), src))
            elem.append(elem[src])
            mask.append(False)
        else:
            a, b = operand(), operand()
            prog.append((draw(st.sampled_from(BINARY)), a, b))
            elem.append(elem[a] or elem[b])
            mask.append(False)
    elem_values = [i for i, e in enumerate(elem) if e and not mask[i]]
    # outputs: any elementwise value, and the last one; values computed before y0's and
    # still used after it are the case an output must not hold early
    y0 = draw(st.sampled_from(elem_values))
    y1 = elem_values[-1]
    w = ", w: f32" if ("load.col", "w") in prog else ""
    lines = [f"kernel rnd(x: f32, z: f32{w}, y0: f32, y1: f32) {{"]
    for i, ins in enumerate(prog):
        if ins[0] in ("load", "load.col"):
            lines.append(f"  %{i} = {ins[0]} {ins[1]}")
        else:
            lines.append(f"  %{i} = {ins[0]} " + ", ".join(f"%{j}" for j in ins[1:]))
    lines += [f"  store y0, %{y0}", f"  store y1, %{y1}", "}"]
    return "\n".join(lines) + "\n", (y0, y1)


SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
SHAPES = st.sampled_from([(1, 1), (3, 5), (2, 17), (5, 1030), (70, 1000)])


def check_kernel(k, shape, seed):
    text, (y0, y1) = k
    rows, cols = shape
    r = np.random.default_rng(seed)
    x = r.integers(-2, 3, shape).astype(np.float32)
    z = r.integers(-2, 3, shape).astype(np.float32)
    w = r.integers(-2, 3, cols).astype(np.float32)
    unset = np.full(shape, np.nan, np.float32)  # an element the launch misses stays NaN
    kernel = hg.Kernel(text)
    by_name = {"x": x, "z": z, "w": w, "y0": unset, "y1": unset}
    inputs = [by_name[name] for name, _, _ in kernel.params]
    want = evaluate(kernel, inputs, rows, cols)
    assume(all(np.all(err == 0) for _, err in want.buffers.values()))
    for threads in (1, 2):
        ex = hg.Executor(threads=threads)
        args = [ex.from_numpy(a) for a in inputs]
        ex.launch(kernel, *args, rows=rows, cols=cols)
        for i, (ref, err) in want.buffers.items():
            what = f"{kernel.params[i][0]} (y0 = %{y0}, y1 = %{y1}), {threads} thread(s)\n{text}"
            assert_matches(args[i].to_numpy(), ref, err, what)


@SETTINGS
@given(k=kernels(["binary", "binary", "unary", "reduce"]), shape=SHAPES, seed=st.integers(0, 2**16))
def test_random_kernel_exact(k, shape, seed):
    # among these: values read after an output that could have held them is written
    check_kernel(k, shape, seed)


@SETTINGS
@given(
    k=kernels(["binary", "unary", "reduce", "select", "select"]),
    shape=SHAPES,
    seed=st.integers(0, 2**16),
)
def test_random_kernel_with_select_exact(k, shape, seed):
    # select reads three values: among these, two values from earlier phases that only the
    # output's own instruction reads, which must not both wait in that output
    check_kernel(k, shape, seed)


@SETTINGS
@given(
    k=kernels(["binary", "unary", "reduce", "select", "col"]),
    shape=SHAPES,
    seed=st.integers(0, 2**16),
)
def test_random_kernel_with_load_col_exact(k, shape, seed):
    # load.col values are read in place at the column index by every row, across row phases,
    # and as operands next to row values (slots), scratch rows and registers
    check_kernel(k, shape, seed)
