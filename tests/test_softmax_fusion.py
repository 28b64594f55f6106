"""log_softmax's middle phase fused (fuse_sub_exp_sum in src/core/lower.c):
x - max written once and the sum of its exp taken in the same pass, exp never
stored.  Its sum takes exp_sub_sum's association (softmax's), not the
unfused rsum's, so the check is against float64 within the suite's
tolerance, PyTorch's NaN/inf positions, and bitwise agreement across thread
counts and store modes at every ISA level, for row lengths that fill groups,
single vectors and tails, with special values.  tests/c/test_stdop.c checks
that the program is the fused one."""

import numpy as np
import pytest
import torch
from conftest import ISA_PARAMS, assert_bitwise, assert_f32_close, special_values

import hologram as hg

SHAPES = [(1, 1), (3, 7), (5, 16), (7, 33), (64, 1000), (4, 1024), (3, 1025), (2, 5000), (1, 70000)]


def _x(rows, cols):
    rng = np.random.default_rng([rows, cols])
    x = (rng.standard_normal((rows, cols)) * 4).astype(np.float32)
    if rows > 2 and cols > 1:
        sp = special_values()
        for r in range(1, rows, max(1, rows // 6)):
            x[r, (r * 5) % cols] = sp[r % sp.size]
    return x


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("rows,cols", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
def test_fused_log_softmax(level, rows, cols):
    x = _x(rows, cols)
    first = None
    for threads in (1, 3):
        for stores in ("cached", "streamed"):
            ex = hg.Executor(threads=threads, isa=level, stores=stores)
            got = hg.ops.log_softmax(ex.from_numpy(x)).to_numpy()
            if first is None:
                first = got
                ref64 = torch.log_softmax(torch.from_numpy(x.astype(np.float64)), -1).numpy()
                tout = torch.log_softmax(torch.from_numpy(x), -1).numpy()
                assert_f32_close(got, ref64, tout, what=f"log_softmax {rows}x{cols} {level}")
            else:
                assert_bitwise(got, first, what=f"{rows}x{cols} {level} t{threads} {stores}")
