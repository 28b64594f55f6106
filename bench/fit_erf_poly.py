"""Fit the piecewise polynomials of Atlas's float erf (src/kernels/vmath.c, erf_n).

erf is odd; for t = min(|x|, 4) (erfc(3.92) < 2^-25, so erf rounds to 1 from
there on and the clamp changes nothing) the kernel picks one of 4 pieces,
centred at m = round(min(t, 2.74)) in 0..3 (piece 3 reaches from 2.5 to 4),
and evaluates

    erf t = b + d P(d),  d = t - m (exact),  P of degree 7,
    b = c0 = erf(m) rounded to float on pieces 1..3; b = d on piece 0,
    where erf t = t + t Q(t) keeps t's own bits exact and only the small
    part t Q(t) (Q(0) = 2 / sqrt(pi) - 1) carries rounding errors.

The coefficients are one table of 9 columns of 4 (P's highest degree first,
then c0, 0 on piece 0), each column read per lane at m (vf_lookup4: one in-lane
permute where the ISA has one; four entries fit one 128-bit lane, which
AVX2's and AVX-512's in-lane permutes and NEON's byte table lookup all
serve).  P is fitted per piece for minimax error relative to erf (Lawson's
algorithm: iteratively reweighted least squares on Chebyshev nodes, as
bench/fit_exp_poly.py does), with c0 fixed to its float value, so the fit
absorbs c0's rounding away from d = 0.  The reference is Python's
double-precision math.erf.  Prints each piece's error in units of 2^-24 (one
float ULP at erf in [0.5, 1)), before and after rounding the coefficients to
float32 (evaluated in float32 arithmetic with one rounding per fma, as the
kernel does), and the table as a C initialiser, a row per column.

    python bench/fit_erf_poly.py
"""

import math

import numpy as np

PIECES, DEG, TOP, CLAMP = 4, 7, 4.0, 2.74


def lawson(basis, target, weight, iters=1500):
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
    v = float(v)
    if v == 0.0:
        return "0.0f"
    m, e = v.hex().split("p")
    m = m.rstrip("0").rstrip(".")
    return f"{m}p{e}f"


def nodes(lo, hi, n=1201):
    return lo + (hi - lo) * (np.cos(np.linspace(0, np.pi, n)) + 1) / 2


def f32(v):
    return np.asarray(v, dtype=np.float64).astype(np.float32).astype(np.float64)


def interval(m):
    centre = float(m)
    lo = max(0.0, centre - 0.5)
    hi = TOP if m == PIECES - 1 else centre + 0.5
    return centre, lo, hi


def fit_piece(m):
    """(minimax error in 2^-24 units, [c0, c1 .. c8], s) for piece m (s: b = d, piece 0)."""
    centre, lo, hi = interval(m)
    t = nodes(lo, hi)
    if m == 0:
        t = t[t > 1e-6]
    erf = np.array([math.erf(v) for v in t])
    d = t - centre
    basis = np.stack([d ** (k + 1) for k in range(DEG + 1)], axis=1)
    if m == 0:  # erf t = t + t Q(t): fit t Q(t), relative to erf
        err, c = lawson(basis, erf - d, 1 / erf)
        return err / 2**-24, np.concatenate([[0.0], c]), 1.0
    c0 = float(f32(math.erf(centre)))
    # erf rounds to 1 from 3.92 on: the last piece is held 16 times closer
    # there, so that it gives 1 up to the clamp
    weight = np.where(t > 3.85, 16.0, 1.0) / erf
    err, c = lawson(basis, erf - c0, weight)
    return err / 2**-24, np.concatenate([[c0], c]), 0.0


def evaluate(coef, s, t, centre):
    """The kernel's arithmetic in float32: Horner by fma, then d P + b."""
    c = f32(coef)
    d = f32(t - centre)
    p = np.full_like(d, c[DEG + 1])
    for k in range(DEG, 0, -1):
        p = f32(p * d + c[k])
    return f32(d * p + (d if s else c[0]))  # b = d exactly on piece 0


def ulp(v):
    e = np.floor(np.log2(np.maximum(np.abs(v), 1e-38)))
    return 2.0 ** (e - 23)


if __name__ == "__main__":
    rows = []
    worst = 0.0
    for m in range(PIECES):
        err, coef, s = fit_piece(m)
        centre, lo, hi = interval(m)
        t = f32(np.linspace(lo, hi, 20001))
        t = t[t > 0]
        got = evaluate(coef, s, t, centre)
        ref = np.array([math.erf(v) for v in t])
        ulps = np.abs(got - ref) / ulp(ref)
        worst = max(worst, ulps.max())
        print(
            f"piece {m} [{lo:.2f}, {hi:.2f}]: minimax {err:.3f} x 2^-24, "
            f"in float32 {ulps.max():.3f} ULP"
        )
        rows.append([*coef[:0:-1], coef[0], s])
    print(f"worst {worst:.3f} ULP; the table, a row per column: P's highest degree first, c0")
    for col in f32(rows).T[:-1]:  # s is not stored: erf_n selects b = d on piece 0
        print("    {" + ", ".join(c_hex(v) for v in col) + "},")
