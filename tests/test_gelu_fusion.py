"""The lowering's one-pass gelu (fuse_gelu in src/core/lower.c) against the
five vector instructions it replaces: bit-identical at every ISA level, for
any size (groups, single vectors, tails), the special values and values on
both sides of erf's piece boundaries, with cached and streamed stores."""

import numpy as np
import pytest
from conftest import ISA_PARAMS, assert_bitwise, special_values

import hologram as hg

# The stdlib's gelu with h stored as well: a second use of h keeps the five
# instructions apart, so this kernel runs unfused.
UNFUSED = hg.ops.kernel_ir("gelu").replace("(x: f32, y: f32)", "(x: f32, y: f32, hh: f32)")
UNFUSED = UNFUSED.replace("  store y,", "  store hh, %2\n  store y,")

SIZES = [0, 1, 15, 17, 127, 129, 1000, 1025, 70001]


def _inputs(n, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    # around erf's piece boundaries at |x / sqrt 2| = 1/4, 3/4 .. 15/4 and its
    # clamp at 4
    b = np.array([0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25, 3.74, 3.75, 4.0]) * np.sqrt(2)
    edges = np.float32(np.concatenate([b, -b]))
    sp = np.concatenate([special_values(), edges])
    if n:
        idx = rng.choice(n, size=min(n, sp.size), replace=False)
        x[idx] = sp[: idx.size]
    return x


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
@pytest.mark.parametrize("n", SIZES)
def test_fused_gelu_is_bitwise_the_unfused_program(level, stores, n):
    ex = hg.Executor(threads=1, isa=level, stores=stores)
    x = _inputs(n, seed=n)
    xb = ex.from_numpy(x)
    y, hh = ex.empty((n,)), ex.empty((n,))
    ex.launch(hg.Kernel(UNFUSED), xb, y, hh)
    assert_bitwise(hh.to_numpy(), x * np.float32(0.5), what="x / 2")
    assert_bitwise(hg.ops.gelu(xb).to_numpy(), y.to_numpy(), what=f"gelu n={n} {level}")
