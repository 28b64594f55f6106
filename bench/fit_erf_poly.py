"""Fit the polynomials of Atlas's float erf (src/kernels/vmath.c, erf_n).

erf is odd; for a = |x|:
  a <= 0.875:  erf(a) = a + a Q(a^2), Q of degree 5, fitted for minimax
               relative error of erf;
  a >  0.875:  erf(a) = 1 - 2^L(t), t = min(a, 4), L of degree 6
               (L(t) = log2(erfc t), smooth on [0.875, 4]), fitted for
               minimax error of erfc relative to erf: an error d of L makes
               erfc off by a factor 2^d ~ 1 + d ln 2, which reaches erf
               scaled by erfc(t) / erf(t), falling quickly with t.
               2^L = 2^n 2^r (n the nearest integer, |r| <= 1/2) with
               2^r = 1 + r E(r), E of degree 4, fitted for minimax relative
               error.
erfc(4) < 2^-25, so erf rounds to 1 beyond 4 and the clamp changes nothing.

Minimax by Lawson's algorithm (iteratively reweighted least squares on
Chebyshev nodes), as bench/fit_exp_poly.py does.  The reference is Python's
double-precision math.erf / math.erfc.  Prints the coefficients as C hex
floats rounded to float32, highest degree first (the order erf_n uses them),
and each fit's error in units of 2^-24 (one float ULP at erf in [0.5, 1)).

    python bench/fit_erf_poly.py
"""

import math

import numpy as np

SPLIT, TOP = 0.875, 4.0


def lawson(basis, target, weight, iters=3000):
    """Coefficients c minimising max |weight (basis c - target)|."""
    b, t = basis * weight[:, None], target * weight
    w = np.full(t.shape, 1.0 / t.size)
    best = (np.inf, None)
    for _ in range(iters):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(b * sw[:, None], t * sw, rcond=None)
        err = np.abs(b @ c - t)
        if err.max() < best[0]:
            best = (err.max(), c)
        w = w * err
        w /= w.sum()
    return best


def c_hex(v):
    """A float32 value as a C float literal in hex (0x1.8p-3f)."""
    m, e = float(v).hex().split("p")
    m = m.rstrip("0").rstrip(".")
    return f"{m}p{e}f"


def nodes(lo, hi, n=3001):
    return lo + (hi - lo) * (np.cos(np.linspace(0, np.pi, n)) + 1) / 2


def fit_small(deg=5):
    a = nodes(0.0, SPLIT)
    a = a[a > 1e-6]
    erf = np.array([math.erf(v) for v in a])
    z = a * a
    basis = np.stack([z**k for k in range(deg + 1)], axis=1)
    # relative error of erf: a (Q - target) / erf(a)
    return lawson(basis, erf / a - 1, a / erf)


def fit_large(deg=6):
    t = nodes(SPLIT, TOP)
    erfc = np.array([math.erfc(v) for v in t])
    basis = np.stack([t**k for k in range(deg + 1)], axis=1)
    # erfc (2^dL - 1) ~ erfc dL ln 2: the error of erf, relative to erf
    return lawson(basis, np.log2(erfc), erfc * math.log(2) / (1 - erfc))


def fit_exp2(deg=4):
    r = nodes(-0.5, 0.5)
    r = r[np.abs(r) > 1e-9]
    basis = np.stack([r ** (k + 1) for k in range(deg + 1)], axis=1)
    # (1 + r E(r) - 2^r) / 2^r: relative error
    return lawson(basis, 2**r - 1, 2.0**-r)


if __name__ == "__main__":
    for name, (err, c) in (("Q", fit_small()), ("L", fit_large()), ("E", fit_exp2())):
        c32 = c.astype(np.float32)
        print(f"{name}: error {err / 2**-24:.3f} x 2^-24; coefficients, highest degree first:")
        print("   ", ", ".join(c_hex(v) for v in c32[::-1]))
