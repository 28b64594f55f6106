"""Random kernels against a NumPy evaluation of the same IR, compared exactly.

The lowering decides where every value lives: in its input, forwarded into an output, waiting
in an output until that output is written (softmax's exp), in a scratch row, in a block
register, or in a scalar slot; it fuses and orders passes per row phase.  A wrong placement
shows up as a wrong number, so these kernels mix elementwise and row-level values across
several row phases and store two outputs, and are checked element for element.

Inputs are small integers and the ops are ones whose float32 results are then exact (add, sub,
mul, min, max, neg, abs, relu, select on a comparison, and row sums/maxima/minima), as long as
every value, and every partial sum of a row in any order, stays below 2**24: every value is kept
below 2**24 / (cols + 1), and examples that would exceed that are discarded.  So the reference is
the float64 result itself and the comparison needs no tolerance: any difference is a bug.
"""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import hologram as hg

BINARY = ["add", "sub", "mul", "min", "max"]
UNARY = ["neg", "abs", "relu"]
ROW_REDUCE = ["reduce.sum.row", "reduce.max.row", "reduce.min.row"]
NP_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "min": np.minimum,
    "max": np.maximum,
}
NP_UNARY = {"neg": np.negative, "abs": np.abs, "relu": lambda v: np.maximum(v, 0.0)}
NP_REDUCE = {"reduce.sum.row": np.sum, "reduce.max.row": np.max, "reduce.min.row": np.min}


@st.composite
def kernels(draw, kinds):
    """IR text, and the program as (op, operands) for the reference.  Values 0 and 1 are the
    loads of x and z (elementwise); later values are elementwise unless they come from a row
    reduction or only combine row values.  kinds: the instruction kinds to draw from."""
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
    lines = ["kernel rnd(x: f32, z: f32, y0: f32, y1: f32) {"]
    for i, ins in enumerate(prog):
        if ins[0] == "load":
            lines.append(f"  %{i} = load {ins[1]}")
        else:
            lines.append(f"  %{i} = {ins[0]} " + ", ".join(f"%{j}" for j in ins[1:]))
    lines += [f"  store y0, %{y0}", f"  store y1, %{y1}", "}"]
    return "\n".join(lines) + "\n", prog, (y0, y1)


def evaluate(prog, x, z):
    """The program on float64 arrays: elementwise values are (rows, cols), row values
    (rows, 1); NumPy broadcasting mixes them as the IR does."""
    vals = []
    for ins in prog:
        op = ins[0]
        if op == "load":
            v = x if ins[1] == "x" else z
        elif op == "lt":
            v = vals[ins[1]] < vals[ins[2]]
        elif op == "select":
            v = np.where(vals[ins[1]], vals[ins[2]], vals[ins[3]])
        elif op in NP_REDUCE:
            v = NP_REDUCE[op](vals[ins[1]], axis=1, keepdims=True)
        elif op in NP_UNARY:
            v = NP_UNARY[op](vals[ins[1]])
        else:
            v = NP_BINARY[op](vals[ins[1]], vals[ins[2]])
        vals.append(v)
    return vals


SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
SHAPES = st.sampled_from([(1, 1), (3, 5), (2, 17), (5, 1030), (70, 1000)])


def check_kernel(k, shape, seed):
    text, prog, (y0, y1) = k
    rows, cols = shape
    r = np.random.default_rng(seed)
    x = r.integers(-2, 3, shape).astype(np.float64)
    z = r.integers(-2, 3, shape).astype(np.float64)
    vals = evaluate(prog, x, z)
    assume(all(np.max(np.abs(v)) < 2.0**24 / (cols + 1) for v in vals if v.dtype != bool))
    kernel = hg.Kernel(text)
    for threads in (1, 2):
        ex = hg.Executor(threads=threads)
        out0, out1 = ex.empty(shape), ex.empty(shape)
        ex.launch(
            kernel,
            ex.from_numpy(x.astype(np.float32)),
            ex.from_numpy(z.astype(np.float32)),
            out0,
            out1,
            rows=rows,
            cols=cols,
        )
        for name, got, v in (("y0", out0, y0), ("y1", out1, y1)):
            want = np.broadcast_to(vals[v], shape).astype(np.float32)
            np.testing.assert_array_equal(
                got.to_numpy(), want, err_msg=f"{name} = %{v}, {threads} thread(s)\n{text}"
            )


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
