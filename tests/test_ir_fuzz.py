"""Mutated IR text through the parser, the verifier and a launch, against the IR's evaluation.

Each example starts from a built-in kernel's text (every op of hg.ops), applies a few random
line edits (delete, duplicate, swap, replace a token with another from the IR's vocabulary),
then parses it.  Malformed text must raise ValueError (and not crash: CI runs this file under
ASan+UBSan too).  Text that verifies is launched on small buffers of the declared dtypes, most
of them of the lengths their roles need, some not, holding small integers (so that exact ops
give exact results) and indices that are sometimes out of bounds.  The launch is compared with
the NumPy evaluation of the same IR (tests/ir_eval.py): it raises ValueError exactly where a
length does not fit, IndexError exactly where an index is out of bounds, and otherwise every
buffer, outputs and inputs, holds the evaluation's values: exactly where they are exact, within
the suite's tolerance where a transcendental op is involved.
"""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ir_eval import assert_matches, evaluate, parse, roles

import hologram as hg

OPS = [
    "vector_add",
    "vector_sub",
    "vector_mul",
    "vector_div",
    "neg",
    "abs",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "exp",
    "log",
    "sqrt",
    "pow",
    "pow_scalar",
    "sum",
    "max",
    "min",
    "mean",
    "sum_rows",
    "max_rows",
    "min_rows",
    "mean_rows",
    "gemm",
    "mse_loss",
    "cross_entropy",
]
TEXTS = {name: hg.ops.kernel_ir(name) for name in OPS}
VOCAB = [
    "load",
    "load.row",
    "load.col",
    "gather",
    "store",
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "min",
    "max",
    "exp",
    "log",
    "sqrt",
    "tanh",
    "sigmoid",
    "erf",
    "log1p",
    "expm1",
    "relu",
    "neg",
    "abs",
    "lt",
    "ne",
    "select",
    "cast.i64",
    "cast.f32",
    "const.f32 2",
    "const.i64 -1",
    "reduce.sum.row",
    "reduce.max.all",
    "reduce.sum.all",
    "row.index",
    "ncols",
    "nrows",
    "check.range",
    "param",
    "gemm",
    "%0",
    "%1",
    "%3",
    "%99",
    "x",
    "y",
    "t",
    "out",
    ",",
    "=",
    "{",
    "}",
    "(",
    ")",
    ": f32",
    ": i64 scalar",
    "f32",
    "i64",
]
# opcodes an edit may exchange for one another: same operand count, any types
SAME_SHAPE = [
    ["neg", "abs", "relu", "sigmoid", "tanh", "exp", "log", "sqrt", "erf", "log1p", "expm1"],
    ["add", "sub", "mul", "div", "pow", "min", "max", "lt", "le", "gt", "ge", "eq", "ne"],
    ["reduce.sum.row", "reduce.max.row", "reduce.min.row"],
    ["reduce.sum.all", "reduce.max.all", "reduce.min.all", "reduce.sum.row"],
    ["cast.f32", "cast.i64", "cast.i32"],
    ["load", "load.row"],
    ["nrows", "ncols", "row.index"],
]
CONSTS = {
    "const.f32": ["0", "1", "-1", "2", "0.5", "-3", "100", "inf", "-inf", "nan"],
    "const.i64": ["0", "1", "-1", "2", "5", "-3"],
}


def mutate(text, data):
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        kind = data.draw(st.sampled_from(["delete", "duplicate", "swap", "token", "truncate"]))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "token":
            words = lines[i].split(" ")
            w = data.draw(st.integers(0, len(words) - 1))
            words[w] = data.draw(st.sampled_from(VOCAB))
            lines[i] = " ".join(words)
        else:
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))]
    return "\n".join(lines) + "\n"


def launch_args(kernel, rng, rows, cols):
    """Per param, a NumPy array or a scalar: buffer lengths fit their role four times in five,
    floats are small integers, integers are mostly column indices."""
    scalars = {}
    for i, (_name, dtype, is_scalar) in enumerate(kernel.params):
        if is_scalar:
            floats = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0]
            scalars[i] = (
                float(rng.choice(floats)) if dtype == "float32" else int(rng.integers(-3, 5))
            )
    role = roles(kernel)
    fit = {"elem": rows * cols, "row": rows, "one": 1 + int(rng.integers(0, 3))}
    gemm = [ins for ins in parse(kernel) if ins.op == "gemm"]
    if gemm:
        a, b, c, kp = gemm[0].operands
        k = max(scalars[kp], 0)
        fit = {a: rows * k, b: k * cols, c: rows * cols}
    args = []
    for i, (_name, dtype, is_scalar) in enumerate(kernel.params):
        if is_scalar:
            args.append(scalars[i])
            continue
        n = fit.get(i if gemm else role.get(i))
        if n is None or rng.random() < 0.2:
            n = int(rng.choice([0, 1, rows, cols, rows * cols, rows * cols + 1]))
        if dtype == "float32":
            args.append(rng.integers(-3, 4, n).astype(np.float32))
        else:
            # indices into a row, one in ten just outside it
            edge = rng.choice([-1, cols], n)
            args.append(np.where(rng.random(n) < 0.1, edge, rng.integers(0, cols, n)).astype(dtype))
    return args


def edit(text, data):
    """Edits that keep the text well formed: an opcode for another of the same shape, an operand
    for another value defined before, a constant or a param for another."""
    lines = text.splitlines()
    params = re.findall(r"(\w+): \w+", lines[0])
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(1, len(lines) - 2))
        words = lines[i].split()
        result = int(words[0][1:]) if words[0].startswith("%") else len(lines)
        kind = data.draw(st.sampled_from(["opcode", "operand", "operand", "const", "param"]))
        at = [j for j, w in enumerate(words) if j and w.rstrip(",").startswith("%")]
        if kind == "opcode" and len(words) > 2 and words[1] == "=":
            group = [g for g in SAME_SHAPE if words[2] in g]
            if group:
                words[2] = data.draw(st.sampled_from(group[0]))
        elif kind == "operand" and at and result > 0:
            j = data.draw(st.sampled_from(at))
            v = data.draw(st.integers(0, min(result, len(lines)) - 1))
            words[j] = f"%{v}" + ("," if words[j].endswith(",") else "")
        elif kind == "const" and len(words) > 3 and words[2] in CONSTS:
            words[3] = data.draw(st.sampled_from(CONSTS[words[2]]))
        elif kind == "param" and len(words) > 1:
            j = [j for j, w in enumerate(words) if w.rstrip(",") in params]
            if j:
                tail = "," if words[j[0]].endswith(",") else ""
                words[j[0]] = data.draw(st.sampled_from(params)) + tail
        lines[i] = "  " + " ".join(words)
    return "\n".join(lines) + "\n"


def check_launch(kernel, data, shapes):
    """Launch on drawn arguments and compare with the evaluation."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    rows, cols = data.draw(st.sampled_from(shapes))
    threads = data.draw(st.sampled_from([1, 2]))
    ex = hg.Executor(threads=threads)
    arrays = launch_args(kernel, rng, rows, cols)
    want = evaluate(kernel, arrays, rows, cols)
    args = [ex.from_numpy(a) if isinstance(a, np.ndarray) else a for a in arrays]
    where = f"{rows}x{cols}, {threads} thread(s), args {arrays}\n{kernel}"
    try:
        ex.launch(kernel, *args, rows=rows, cols=cols)
    except (ValueError, IndexError) as e:
        assert want.raises in (type(e), "maybe" if type(e) is IndexError else None), (
            f"raised {e!r}, evaluation predicts {want.raises}; {where}"
        )
        return
    assert want.raises in (None, "maybe"), f"ran, evaluation predicts {want.raises}; {where}"
    for i, (ref, err) in want.buffers.items():
        assert_matches(args[i].to_numpy(), ref, err, f"{kernel.params[i][0]}, {where}")


SETTINGS = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(name=st.sampled_from(OPS), data=st.data())
def test_mutated_kernels_match_their_evaluation(name, data):
    # mostly malformed text, which must fail cleanly; what verifies must compute the IR
    try:
        kernel = hg.Kernel(mutate(TEXTS[name], data))
    except ValueError:
        return
    check_launch(kernel, data, [(1, 1), (1, 7), (3, 5), (2, 17)])


@SETTINGS
@given(name=st.sampled_from(OPS + ["cross_entropy"] * 5), data=st.data())
def test_edited_kernels_match_their_evaluation(name, data):
    # well-formed edits: most verify, and each launch is compared value for value, also across
    # a block (1024 elements) and a sum's run (2048).  cross_entropy, the one kernel with
    # integers, gathers and range checks, is drawn more often.
    try:
        kernel = hg.Kernel(edit(TEXTS[name], data))
    except ValueError:
        return
    check_launch(kernel, data, [(1, 1), (1, 7), (3, 5), (2, 17), (1, 2100), (3, 1030)])


@pytest.mark.parametrize("name", OPS)
def test_builtin_text_round_trips_and_reprints(name):
    k = hg.Kernel(TEXTS[name])
    assert str(k) == TEXTS[name]
    assert re.match(rf"kernel {name}\(", TEXTS[name])
