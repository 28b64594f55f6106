"""layer_norm over the last axis against PyTorch (CPU, float32) and a float64
reference, at every ISA level: each set of affine inputs (none, weight,
bias, both), row lengths whose tails fill no register and no block, N-D
inputs (rows: the product of the leading axes), empty inputs, NaN/inf in x
and in the weight, and its errors.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import ISA_PARAMS, assert_f32_close, t

import hologram as hg

SHAPES = [(1, 1), (3, 7), (17, 1000), (4, 1025), (2, 3, 5), (0, 5), (5, 0), (7,)]
SHAPE_IDS = ["x".join(map(str, s)) for s in SHAPES]
AFFINE = ["none", "weight", "bias", "both"]


@pytest.fixture(params=ISA_PARAMS())
def lex(request):
    """A one-thread executor at each ISA level."""
    return hg.Executor(threads=1, isa=request.param)


def _inputs(shape, seed=0):
    rng = np.random.default_rng([seed, *shape])
    c = shape[-1]
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    w = rng.standard_normal(c).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    return x, w, b


def _pick(affine, w, b):
    """The keyword arguments of one affine variant."""
    return {
        "none": {},
        "weight": {"weight": w},
        "bias": {"bias": b},
        "both": {"weight": w, "bias": b},
    }[affine]


def _ln64(x, weight=None, bias=None, eps=1e-5):
    """Two-pass layer norm in float64, biased variance."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return x
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        d = x - x.mean(axis=-1, keepdims=True)
        y = d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + eps)
        if weight is not None:
            y = y * np.asarray(weight, dtype=np.float64)
        if bias is not None:
            y = y + np.asarray(bias, dtype=np.float64)
    return y


def _run(ex, x, eps=None, **affine):
    kw = {k: ex.from_numpy(v) for k, v in affine.items()}
    if eps is not None:
        kw["eps"] = eps
    return hg.ops.layer_norm(ex.from_numpy(x), **kw).to_numpy()


def _torch(x, eps=1e-5, **affine):
    kw = {k: t(v) for k, v in affine.items()}
    return F.layer_norm(t(x), (x.shape[-1],), eps=eps, **kw).numpy()


def _check(got, x, what, eps=1e-5, **affine):
    assert got.shape == x.shape, what
    assert_f32_close(got, _ln64(x, eps=eps, **affine), _torch(x, eps=eps, **affine), what=what)


@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_layer_norm(lex, shape, affine):
    x, w, b = _inputs(shape)
    kw = _pick(affine, w, b)
    _check(_run(lex, x, **kw), x, f"layer_norm {affine} {shape}", **kw)


@pytest.mark.parametrize("eps", [1e-5, 0.1, 0.0])
def test_layer_norm_eps(lex, eps):
    x, w, b = _inputs((5, 33), seed=1)
    x[2] = 4.0  # a constant row: var 0, so eps alone decides (0: NaN, like torch)
    got = _run(lex, x, eps=eps, weight=w, bias=b)
    _check(got, x, f"layer_norm eps={eps}", eps=eps, weight=w, bias=b)


def test_layer_norm_special_values(lex):
    """NaN or inf in a row makes that row NaN, as in PyTorch; the other rows
    stay exact.  A NaN or inf weight column is NaN/inf in every row."""
    x, w, b = _inputs((6, 37), seed=2)
    x[0, 3] = np.nan
    x[1, 0] = np.inf
    x[2, 36] = -np.inf
    x[3] = [1e18 if i % 2 else -1e18 for i in range(37)]  # large, squares still finite
    for affine in AFFINE:
        kw = _pick(affine, w, b)
        _check(_run(lex, x, **kw), x, f"layer_norm special x {affine}", **kw)
    x, w, b = _inputs((4, 37), seed=3)
    w[5] = np.nan
    w[9] = np.inf
    w[10] = -np.inf
    b[20] = np.nan
    got = _run(lex, x, weight=w, bias=b)
    _check(got, x, "layer_norm special weight", weight=w, bias=b)
    assert np.isnan(got[:, 5]).all() and np.isnan(got[:, 20]).all()
    assert np.isinf(got[:, 9]).all() and np.isinf(got[:, 10]).all()


def test_layer_norm_calls(lex):
    """Positional and keyword forms agree; weight=None and bias=None are the
    variants without them; eps takes an int."""
    x, w, b = _inputs((3, 20), seed=4)
    X, W, B = lex.from_numpy(x), lex.from_numpy(w), lex.from_numpy(b)
    ln = hg.ops.layer_norm
    ref = ln(X, W, B, 1e-5).to_numpy()
    _check(ref, x, "positional", weight=w, bias=b)
    for got in (
        ln(x=X, weight=W, bias=B, eps=1e-5),
        ln(X, W, bias=B),
        ln(X, bias=B, weight=W),
    ):
        np.testing.assert_array_equal(got.to_numpy(), ref)
    np.testing.assert_array_equal(ln(X, None, B).to_numpy(), ln(X, bias=B).to_numpy())
    np.testing.assert_array_equal(ln(X, W, None).to_numpy(), ln(X, W).to_numpy())
    np.testing.assert_array_equal(ln(X, None, None).to_numpy(), ln(X).to_numpy())
    _check(ln(X, eps=1).to_numpy(), x, "eps=1", eps=1.0)


def test_layer_norm_errors(lex):
    x, w, b = _inputs((3, 5))
    X = lex.from_numpy(x)
    ln = hg.ops.layer_norm
    wrong = lex.from_numpy(np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"layer_norm.*weight.*\(3, 5\).*\(4,\)"):
        ln(X, wrong)
    with pytest.raises(ValueError, match=r"layer_norm.*bias.*\(3, 5\).*\(4,\)"):
        ln(X, lex.from_numpy(w), wrong)
    with pytest.raises(ValueError, match=r"layer_norm.*weight.*\(3, 5\).*\(1, 5\)"):
        ln(X, lex.from_numpy(w.reshape(1, 5)))
    with pytest.raises(TypeError, match=r"layer_norm.*weight must be float32.*int32"):
        ln(X, lex.from_numpy(np.ones(5, np.int32)))
    with pytest.raises(TypeError, match=r"layer_norm.*input must be float32.*int32"):
        ln(lex.from_numpy(np.ones((3, 5), np.int32)))
    with pytest.raises(ValueError, match=r"layer_norm.*at least one axis.*\(\)"):
        ln(lex.from_numpy(np.float32(1.0).reshape(())))
    with pytest.raises(TypeError, match="eps"):
        ln(X, eps="small")
    with pytest.raises(TypeError, match="weight.*hologram.Buffer"):
        ln(X, w)
    with pytest.raises(TypeError):
        ln(X, nope=1)
    with pytest.raises(TypeError):
        ln()
    other = hg.Executor(threads=1)
    with pytest.raises(ValueError, match="different executors"):
        ln(X, other.from_numpy(w))


def test_layer_norm_torch_agrees_on_errors():
    """The shapes refused above are the ones PyTorch refuses too."""
    x = torch.zeros(3, 5)
    with pytest.raises(RuntimeError):
        F.layer_norm(x, (5,), torch.ones(4))
    with pytest.raises(RuntimeError):
        F.layer_norm(x, (5,), None, torch.ones(4))
