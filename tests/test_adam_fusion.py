"""The lowering's fuse_adam (src/core/lower.c) and the Adam kernels (elementwise.c).

An Adam step written as IR,

    m' = b1 m + (1 - b1) g,  v' = b2 v + (1 - b2) g g,  p' = p - lr m' / (sqrt(v') + eps),

runs as one instruction that reads each input once and writes the three results once.
Each result is checked bitwise against NumPy float32 arithmetic done step by step in the
IR's order (each step one IEEE rounding): with the squared term in both of its orders,
the moment's operands swapped, out of place and in place, at every ISA level, with
cached and streamed stores, at lengths with tails and with special values (NaN, inf,
negative v, subnormals) in every input.  Outputs whose alignments differ cannot all be
streamed; the kernel then stores them all cached, also checked here."""

import numpy as np
import pytest
import torch
from conftest import ISA_PARAMS, assert_bitwise, special_values

import hologram as hg

F32 = np.float32
SIZES = [1, 15, 17, 63, 1000, 1025, 70001]
LR, B1, B2, EPS = (F32(s) for s in (1e-3, 0.9, 0.999, 1e-8))


def _kernel(sq_first=False, swap_m=False, in_place=False):
    """The step as IR text; outputs po, mo, vo (or p, m, v in place)."""
    q = (
        "  %gg = mul %g, %g\n  %q = mul %c2, %gg\n"
        if sq_first
        else "  %cg = mul %c2, %g\n  %q = mul %cg, %g\n"
    )
    m_sum = "add %cg1, %bm" if swap_m else "add %bm, %cg1"
    outs = ("p", "m", "v") if in_place else ("po", "mo", "vo")
    head = "kernel step(p: f32, g: f32, m: f32, v: f32, lr: f32 scalar, b1: f32 scalar, "
    head += "b2: f32 scalar, eps: f32 scalar"
    head += "".join(f", {o}: f32" for o in outs if o.endswith("o"))
    return (
        head + ") {\n"
        "  %lr = param lr\n  %b1 = param b1\n  %b2 = param b2\n  %eps = param eps\n"
        "  %one = const.f32 1\n  %c1 = sub %one, %b1\n  %c2 = sub %one, %b2\n"
        "  %p = load p\n  %g = load g\n  %m = load m\n  %v = load v\n"
        f"  %bm = mul %b1, %m\n  %cg1 = mul %c1, %g\n  %m2 = {m_sum}\n"
        f"{q}  %bv = mul %b2, %v\n  %v2 = add %bv, %q\n"
        "  %u = mul %lr, %m2\n  %r = sqrt %v2\n  %d = add %r, %eps\n  %w = div %u, %d\n"
        "  %p2 = sub %p, %w\n"
        f"  store {outs[0]}, %p2\n  store {outs[1]}, %m2\n  store {outs[2]}, %v2\n}}\n"
    )


def _inputs(n, seed):
    rng = np.random.default_rng([seed, n])
    p, g, m = (rng.standard_normal(n).astype(F32) for _ in range(3))
    v = np.abs(rng.standard_normal(n).astype(F32)) * F32(0.01)
    if n >= 1000:
        sp = special_values()
        for k, a in enumerate((p, g, m, v)):
            a[11 * k + 5 : 11 * k + 5 + sp.size] = sp[:: 1 if k % 2 else -1]
    return p, g, m, v


def _want(p, g, m, v, sq_first, swap_m):
    c1, c2 = F32(1) - B1, F32(1) - B2
    with np.errstate(all="ignore"):
        m2 = (c1 * g + B1 * m) if swap_m else (B1 * m + c1 * g)
        q = c2 * (g * g) if sq_first else (c2 * g) * g
        v2 = B2 * v + q
        p2 = p - (LR * m2) / (np.sqrt(v2) + EPS)
    return p2, m2, v2


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
@pytest.mark.parametrize(("sq_first", "swap_m"), [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("in_place", [False, True])
def test_step_is_bitwise_stepwise_float32(level, stores, sq_first, swap_m, in_place):
    ex = hg.Executor(threads=2, isa=level, stores=stores)
    kernel = hg.Kernel(_kernel(sq_first, swap_m, in_place))
    for n in SIZES:
        arrays = _inputs(n, seed=3 * sq_first + swap_m)
        bufs = [ex.from_numpy(a) for a in arrays]
        outs = bufs[:1] + bufs[2:] if in_place else [ex.empty((n,)) for _ in range(3)]
        ex.launch(
            kernel, *bufs, *(float(s) for s in (LR, B1, B2, EPS)), *(outs if not in_place else [])
        )
        what = f"n={n} {level} {stores} sq_first={sq_first} swap_m={swap_m} in_place={in_place}"
        for name, got, want in zip("pmv", outs, _want(*arrays, sq_first, swap_m), strict=True):
            assert_bitwise(got.to_numpy(), want, what=f"{name}' {what}")


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("shift", [1, 3])
def test_outputs_of_different_alignment_are_stored_correctly(level, shift):
    # mo shifted by `shift` floats against po and vo: the streamed form cannot
    # align all three, so it stores them cached; 300,001 elements put the
    # launch past the size at which the streamed policy streams
    ex = hg.Executor(threads=2, isa=level, stores="streamed")
    kernel = hg.Kernel(_kernel())
    n = 300_001
    arrays = _inputs(n, seed=7)
    bufs = [ex.from_numpy(a) for a in arrays]
    backing = torch.zeros(n + shift)
    mo = ex.from_dlpack(backing[shift:])
    po, vo = ex.empty((n,)), ex.empty((n,))
    ex.launch(kernel, *bufs, *(float(s) for s in (LR, B1, B2, EPS)), po, mo, vo)
    for name, got, want in zip("pmv", (po, mo, vo), _want(*arrays, False, False), strict=True):
        assert_bitwise(got.to_numpy(), want, what=f"{name}' shift={shift} {level}")
    assert backing[:shift].eq(0).all()  # nothing written before mo


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("threads", [1, 3])
def test_jitted_step_in_place_is_bitwise_stepwise_float32(level, threads):
    # the user's spelling with g * g first; its scalars are float32 kernel
    # parameters and 1 - b1, 1 - b2 are computed in float32, as _want does
    def adam(p, g, m, v, lr, b1, b2, eps):
        m2 = b1 * m + (1 - b1) * g
        v2 = b2 * v + (1 - b2) * (g * g)
        return p - lr * m2 / (hg.ops.sqrt(v2) + eps), m2, v2

    ex = hg.Executor(threads=threads, isa=level)
    n = 65536 * 3 + 5
    arrays = _inputs(n, seed=11)
    bufs = [ex.from_numpy(a) for a in arrays]
    out = (bufs[0], bufs[2], bufs[3])
    hg.jit(adam)(*bufs, 1e-3, 0.9, 0.999, 1e-8, out=out)
    for name, got, want in zip("pmv", out, _want(*arrays, True, False), strict=True):
        assert_bitwise(got.to_numpy(), want, what=f"{name}' t{threads} {level}")
