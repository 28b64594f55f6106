"""Fit the polynomial of Atlas's float exp: e^r ~ 1 + r P(r) on |r| <= ln2/2.

Minimax in relative error by Lawson's algorithm (iteratively reweighted least
squares on Chebyshev nodes), then the coefficients rounded to float32 and the
error re-measured on a fine grid.  Prints the coefficients as C hex floats,
highest degree first, the order src/kernels/vmath.c's exp_poly_n uses them.

    python bench/fit_exp_poly.py [degree of 1 + r P(r), default 5]
"""

import sys

import numpy as np


def fit(deg: int, iters: int = 3000):
    a = float(np.log(2) / 2)
    x = np.cos(np.linspace(0, np.pi, 4001)) * a
    y = np.exp(x)
    basis = np.stack([x**k / y for k in range(1, deg + 1)], axis=1)
    target = (y - 1) / y  # (1 + sum c_k x^k) / e^x - 1 = 0
    w = np.full(x.shape, 1.0 / x.size)
    best = (np.inf, None)
    for _ in range(iters):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(basis * sw[:, None], target * sw, rcond=None)
        err = np.abs(basis @ c - target)
        if err.max() < best[0]:
            best = (err.max(), c)
        w = w * err
        w /= w.sum()
    c32 = best[1].astype(np.float32)
    g = np.linspace(-a, a, 400001)
    p = 1 + sum(np.float64(c32[k - 1]) * g**k for k in range(1, deg + 1))
    return best[0], c32, np.abs(p / np.exp(g) - 1).max()


if __name__ == "__main__":
    deg = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    exact, c32, rounded = fit(deg)
    print(
        f"degree {deg}: minimax relative error {exact:.3e}; with float32 coefficients {rounded:.3e} "
        f"({rounded / 2**-23:.2f} x 2^-23)"
    )
    print(f"coefficients, r^{deg} first:", ", ".join(float(v).hex() for v in c32[::-1]))
