"""The lowering's fusion of mse_loss's `d = sub p, t; q = mul d, d;
reduce.sum q` into one pass (fuse_sub_sq_sum with two vectors, the kernel
table's diff_sq_sum) against the instructions it replaces: the loss is
bitwise the unfused program's at every ISA level and thread count, for sizes
that fill groups, single vectors, tails, blocks and tasks, with special
values; and it stays within the float32 summation bound of float64."""

import numpy as np
import pytest
from conftest import ISA_PARAMS, assert_bitwise, special_values, sum_bound

import hologram as hg

# The stdlib's mse_loss with d = p - t also stored: d's second use keeps the
# sub, the square and the reduction apart, so this kernel runs unfused, one
# block register for the square, its sum block by block.
UNFUSED = (
    hg.ops.kernel_ir("mse_loss")
    .replace("out: f32)", "out: f32, d: f32)")
    .replace("  %4 = reduce", "  store d, %2\n  %4 = reduce")
)

SIZES = [1, 5, 16, 17, 63, 64, 65, 1000, 1023, 1024, 1025, 2047, 2049, 4097, 65535, 65537]
SIZES += [100_003, 1_000_003]


def _inputs(n, special):
    rng = np.random.default_rng([7, n, special])
    p = (rng.standard_normal(n) * 2).astype(np.float32)
    t = rng.standard_normal(n).astype(np.float32)
    if special:
        sp = special_values()
        p[:: max(1, n // 4)] = sp[n % sp.size]
    return p, t


def test_unfused_text_differs():
    assert "store d, %2" in UNFUSED


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("n", SIZES)
def test_fused_mse_is_bitwise_the_unfused_program(level, threads, special, n):
    p, t = _inputs(n, special)
    ref = hg.Executor(threads=1, isa=level)
    out, d = ref.empty(()), ref.empty((n,))
    ref.launch(hg.Kernel(UNFUSED), ref.from_numpy(p), ref.from_numpy(t), out, d)
    assert_bitwise(d.to_numpy(), p - t, what="unfused d = p - t")
    ex = hg.Executor(threads=threads, isa=level)
    got = hg.ops.mse_loss(ex.from_numpy(p), ex.from_numpy(t)).to_numpy()
    assert_bitwise(got, out.to_numpy(), what=f"mse_loss {n} {level} t{threads}")
    if not special:
        d64 = p.astype(np.float64) - t.astype(np.float64)
        sq = d64 * d64
        want = float(np.mean(sq))
        # each term is the rounded square of a rounded difference (3u), then
        # a float32 sum of n terms in any order, and the division by n (u)
        u = 2.0**-24
        tol = (sum_bound(sq, float(np.sum(sq))) + 3 * u * float(np.sum(sq))) / n + u * want
        assert abs(float(got) - want) <= tol, (n, level, float(got), want)
