"""The lowering's fuse_adam (src/core/lower.c) and the Adam kernels (elementwise.c).

An Adam step written as IR,

    m' = b1 m + (1 - b1) g,  v' = b2 v + (1 - b2) g g,  p' = p - lr m' / (sqrt(v') + eps),

runs as one instruction that reads each input once and writes the three results once;
so do its forms with bias correction (m' / bc1 and v' / bc2 in p') and with decoupled
weight decay (p' = decay p - ...).  Each result is checked bitwise against NumPy float32
arithmetic done step by step in the IR's order (each step one IEEE rounding): with the
squared term in both of its orders, the moment's operands swapped, out of place and in
place, at every ISA level, with cached and streamed stores, at lengths with tails and
with special values (NaN, inf, negative v, subnormals) in every input.  Outputs whose
alignments differ cannot all be streamed; the kernel then stores them all cached, also
checked here.  tests/c/test_stdop.c checks that each form lowers to one instruction."""

import numpy as np
import pytest
import torch
from conftest import ISA_PARAMS, assert_bitwise, special_values

import hologram as hg

F32 = np.float32
SIZES = [1, 15, 17, 63, 1000, 1025, 70001]
LR, B1, B2, EPS = (F32(s) for s in (1e-3, 0.9, 0.999, 1e-8))
BC1, BC2, DECAY = F32(0.1), F32(0.001), F32(1 - 1e-5)

# (sq_first, swap_m, bc, wd): the forms each test runs
FORMS = [
    (False, False, False, False),
    (True, False, False, False),
    (False, True, False, False),
    (False, False, True, False),
    (True, False, True, True),
    (False, False, False, True),
]


def _kernel(sq_first=False, swap_m=False, bc=False, wd=False, in_place=False):
    """The step as IR text; outputs po, mo, vo (or p, m, v in place)."""
    q = (
        "  %gg = mul %g, %g\n  %q = mul %c2, %gg\n"
        if sq_first
        else "  %cg = mul %c2, %g\n  %q = mul %cg, %g\n"
    )
    m_sum = "add %cg1, %bm" if swap_m else "add %bm, %cg1"
    outs = ("p", "m", "v") if in_place else ("po", "mo", "vo")
    scalars = ["lr", "b1", "b2", "eps"] + (["bc1", "bc2"] if bc else []) + (["decay"] if wd else [])
    head = "kernel step(p: f32, g: f32, m: f32, v: f32"
    head += "".join(f", {s}: f32 scalar" for s in scalars)
    head += "".join(f", {o}: f32" for o in outs if o.endswith("o"))
    body = "".join(f"  %{s} = param {s}\n" for s in scalars)
    body += (
        "  %one = const.f32 1\n  %c1 = sub %one, %b1\n  %c2 = sub %one, %b2\n"
        "  %p = load p\n  %g = load g\n  %m = load m\n  %v = load v\n"
        f"  %bm = mul %b1, %m\n  %cg1 = mul %c1, %g\n  %m2 = {m_sum}\n"
        f"{q}  %bv = mul %b2, %v\n  %v2 = add %bv, %q\n"
    )
    mh, vh, pp = "%m2", "%v2", "%p"
    if bc:
        body += "  %mh = div %m2, %bc1\n  %vh = div %v2, %bc2\n"
        mh, vh = "%mh", "%vh"
    body += f"  %u = mul %lr, {mh}\n  %r = sqrt {vh}\n  %d = add %r, %eps\n  %w = div %u, %d\n"
    if wd:
        body += "  %pd = mul %decay, %p\n"
        pp = "%pd"
    body += f"  %p2 = sub {pp}, %w\n"
    body += f"  store {outs[0]}, %p2\n  store {outs[1]}, %m2\n  store {outs[2]}, %v2\n"
    return head + ") {\n" + body + "}\n"


def _scalars(bc, wd):
    return [
        float(s) for s in (LR, B1, B2, EPS) + ((BC1, BC2) if bc else ()) + ((DECAY,) if wd else ())
    ]


def _inputs(n, seed):
    rng = np.random.default_rng([seed, n])
    p, g, m = (rng.standard_normal(n).astype(F32) for _ in range(3))
    v = np.abs(rng.standard_normal(n).astype(F32)) * F32(0.01)
    if n >= 1000:
        sp = special_values()
        for k, a in enumerate((p, g, m, v)):
            a[11 * k + 5 : 11 * k + 5 + sp.size] = sp[:: 1 if k % 2 else -1]
    return p, g, m, v


def _want(p, g, m, v, sq_first=False, swap_m=False, bc=False, wd=False):
    c1, c2 = F32(1) - B1, F32(1) - B2
    with np.errstate(all="ignore"):
        m2 = (c1 * g + B1 * m) if swap_m else (B1 * m + c1 * g)
        q = c2 * (g * g) if sq_first else (c2 * g) * g
        v2 = B2 * v + q
        mh, vh = (m2 / BC1, v2 / BC2) if bc else (m2, v2)
        pp = DECAY * p if wd else p
        p2 = pp - (LR * mh) / (np.sqrt(vh) + EPS)
    return p2, m2, v2


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("stores", ["cached", "streamed"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("in_place", [False, True])
def test_step_is_bitwise_stepwise_float32(level, stores, form, in_place):
    ex = hg.Executor(threads=2, isa=level, stores=stores)
    kernel = hg.Kernel(_kernel(*form, in_place=in_place))
    for n in SIZES:
        arrays = _inputs(n, seed=sum(form) + 5 * form[0])
        bufs = [ex.from_numpy(a) for a in arrays]
        outs = bufs[:1] + bufs[2:] if in_place else [ex.empty((n,)) for _ in range(3)]
        ex.launch(kernel, *bufs, *_scalars(*form[2:]), *(outs if not in_place else []))
        what = f"n={n} {level} {stores} form={form} in_place={in_place}"
        for name, got, want in zip("pmv", outs, _want(*arrays, *form), strict=True):
            assert_bitwise(got.to_numpy(), want, what=f"{name}' {what}")


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("shift", [1, 3])
def test_outputs_of_different_alignment_are_stored_correctly(level, shift):
    # mo shifted by `shift` floats against po and vo: the streamed form cannot
    # align all three, so it stores them cached (the "streamed" policy streams
    # every final write; 300,001 elements give each thread several tasks)
    ex = hg.Executor(threads=2, isa=level, stores="streamed")
    kernel = hg.Kernel(_kernel())
    n = 300_001
    arrays = _inputs(n, seed=7)
    bufs = [ex.from_numpy(a) for a in arrays]
    backing = torch.zeros(n + shift)
    mo = ex.from_dlpack(backing[shift:])
    po, vo = ex.empty((n,)), ex.empty((n,))
    ex.launch(kernel, *bufs, *_scalars(False, False), po, mo, vo)
    for name, got, want in zip("pmv", (po, mo, vo), _want(*arrays), strict=True):
        assert_bitwise(got.to_numpy(), want, what=f"{name}' shift={shift} {level}")
    assert backing[:shift].eq(0).all()  # nothing written before mo


def _adam_sq(p, g, m, v, lr, b1, b2, eps):
    m2 = b1 * m + (1 - b1) * g
    v2 = b2 * v + (1 - b2) * (g * g)
    return p - lr * m2 / (hg.ops.sqrt(v2) + eps), m2, v2


def _adam_bias_corrected(p, g, m, v, lr, b1, b2, eps, bc1, bc2):
    m2 = b1 * m + (1 - b1) * g
    v2 = b2 * v + (1 - b2) * g * g
    return p - lr * (m2 / bc1) / (hg.ops.sqrt(v2 / bc2) + eps), m2, v2


def _adamw(p, g, m, v, lr, b1, b2, eps, decay):
    m2 = b1 * m + (1 - b1) * g
    v2 = b2 * v + (1 - b2) * g * g
    return decay * p - lr * m2 / (hg.ops.sqrt(v2) + eps), m2, v2


@pytest.mark.parametrize("level", ISA_PARAMS())
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize(
    ("fn", "form"),
    [
        (_adam_sq, (True, False, False, False)),
        (_adam_bias_corrected, (False, False, True, False)),
        (_adamw, (False, False, False, True)),
    ],
)
def test_jitted_step_in_place_is_bitwise_stepwise_float32(level, threads, fn, form):
    # the user's spellings; their scalars are float32 kernel parameters and
    # 1 - b1, 1 - b2 are computed in float32, as _want does
    ex = hg.Executor(threads=threads, isa=level)
    n = 65536 * 3 + 5
    arrays = _inputs(n, seed=11)
    bufs = [ex.from_numpy(a) for a in arrays]
    out = (bufs[0], bufs[2], bufs[3])
    hg.jit(fn)(*bufs, *_scalars(*form[2:]), out=out)
    for name, got, want in zip("pmv", out, _want(*arrays, *form), strict=True):
        assert_bitwise(got.to_numpy(), want, what=f"{name}' {fn.__name__} t{threads} {level}")
