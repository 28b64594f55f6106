/* Hologram Atlas — vectorised float32 transcendental kernels.
 *
 * exp, log, tanh, sigmoid, sqrt, erf, log1p, expm1 (unary) and pow (binary,
 * a^s, s^a), written once against the vector vocabulary of simd.h and
 * compiled once per ISA level.  Semantics follow PyTorch CPU float32 (C99
 * Annex F for the special values); accuracy is measured by bench/vmath_ulp.c
 * over the whole float range at every level (see that file for the current
 * figures):
 *
 *   exp      Cody-Waite reduction x = n ln2 + r, e^r = 1 + r P(r) with P of
 *            degree 4 (minimax relative error 9.1e-8, bench/fit_exp_poly.py;
 *            2.0 ULP at AVX2, 2.3 at baseline): fewer FMAs per element than
 *            the degree-6 Cephes form, which is more accurate and slower
 *            (docs/performance.md).  Full range: 2^n applied as two exact
 *            power-of-two factors so subnormal results are rounded once and
 *            overflow/underflow fall out of IEEE arithmetic; groups with
 *            every |x| <= 87 add n to the exponent field instead (same exact
 *            product).
 *   log      x = 2^k m with m in [sqrt(2)/2, sqrt(2)), f = m - 1,
 *            s = f/(2+f): log m = f - s (f - R(s^2)) (the musl logf
 *            polynomial R; algebraically musl's f - hfsq + s (hfsq + R)).
 *            Groups of all-normal positive finite x skip the subnormal
 *            scaling and special-value selects.
 *   tanh     e/(e+2) with e = expm1(2|x|) (2|x| clamped to 20), one formula
 *            for all lanes, relative accuracy near 0; sign or-ed back.
 *   sigmoid  |x| <= 87: 1/(1+exp(-x)); beyond, from e = exp(-|x|): 1/(1+e)
 *            for x >= 0, e/(1+e) for x < 0 with an error-compensated
 *            quotient (no overflow, subnormal results are kept).
 *   sqrt     IEEE sqrt.
 *   erf      t = min(|x|, 4) in one of 4 pieces of width 1: erf t =
 *            b + d P(d), d the offset from the piece's centre, P of degree
 *            7, b = erf(centre) (t + t Q(t) on the first piece); the
 *            coefficients are a table read per lane by in-lane permutes
 *            (vf_lookup4), fitted by bench/fit_erf_poly.py; sign or-ed
 *            back.
 *   log1p    log's core on u = fl(1 + x), plus the rounding error of 1 + x
 *            (exact, from a two-sum) divided by u; -1, < -1, inf and NaN by
 *            selects, skipped for groups of finite x > -1.
 *   expm1    exp's reduction, e^r - 1 by the polynomial tanh uses, then
 *            2^n (e^r - 1) + (2^n - 1) in one fma; x clamped below at -18
 *            (-1 there), exp beyond 87 (overflow to inf).
 *   pow      in double precision (float lanes widened into two double
 *            vectors): log2|x| = k + s P(s^2) (degree 4), t = y log2|x|,
 *            2^t = 2^n 2^f (degree 6), rounded to float once; special cases
 *            per C99 Annex F, skipped for groups where every x is positive,
 *            normal and finite and every y finite.  a^s has PyTorch's fast
 *            paths for s in {0, 1, 2, 3, 0.5, -0.5, -1, -2}.
 *
 * The kernels work on groups of vectors, each step issued for the whole
 * group (see "Groups of vectors" below); a group whose lanes all avoid the
 * special cases takes a fast path, bit-identical per lane to the full one,
 * so a result never depends on its position in the array.
 *
 * Contract (ktable.h): any n, tails via vf_load_n/vf_store_n, y may equal x,
 * unaligned pointers.
 */
#include <float.h>
#include <math.h>

#include "simd.h"
#include "loops.h"
#include "ktable.h"

/* ------------------------------------------------------------------------ */
/* Small mask / constant helpers                                            */

static inline vm vm_all(void) { return vi_eq(vi_set1(0), vi_set1(0)); }
static inline vm vm_not(vm a) { return vm_andnot(a, vm_all()); }

/* ------------------------------------------------------------------------ */
/* Groups of vectors                                                        */

/* The loops (loops.h) hand the kernels groups of up to AT_G vectors, and
 * the kernels issue each step for every vector before the next (EACH), so
 * the instruction stream interleaves independent dependency chains.
 * Written chain by chain, the out-of-order window (and the compiler, which
 * does not reorder across them on x86) holds little more than one chain and
 * the loop runs at the chain's latency instead of the FP pipes' throughput.
 * A lane's operations are the same for any group size, so the 1-vector
 * paths (tails, special cases) give bit-identical results. */

/* ------------------------------------------------------------------------ */
/* exp                                                                      */

#define AT_LOG2E 1.44269504088896341f
#define AT_LN2_HI 0x1.62e400p-1f   /* 0x3f317200: 15 significant bits */
#define AT_LN2_LO 0x1.7f7d1cp-20f  /* ln2 - LN2_HI */
#define AT_SHIFTER 0x1.8p23f       /* 1.5 * 2^23 */

/* x = n ln2 + r, |r| <= ln2/2 (Cody-Waite): x[] becomes r, k[] holds
 * n + 1.5 * 2^23, whose low mantissa bits are n.  With neg (a constant) it
 * reduces -x instead and leaves -r in x[]: the same values with the sign
 * folded into the operations (rounding is symmetric), one negation fewer. */
AT_INLINE void exp_reduce_n(int nv, vf *x, vf *k, int neg)
{
    vf n[AT_G];
    EACH(j, nv)
    k[j] =
        vf_fma(x[j], vf_set1(neg ? -AT_LOG2E : AT_LOG2E), vf_set1(AT_SHIFTER));
    EACH(j, nv) n[j] = vf_sub(k[j], vf_set1(AT_SHIFTER));
    if (neg) {
        EACH(j, nv) x[j] = vf_fma(n[j], vf_set1(AT_LN2_HI), x[j]);
        EACH(j, nv) x[j] = vf_fma(n[j], vf_set1(AT_LN2_LO), x[j]);
    } else {
        EACH(j, nv) x[j] = vf_fnma(n[j], vf_set1(AT_LN2_HI), x[j]);
        EACH(j, nv) x[j] = vf_fnma(n[j], vf_set1(AT_LN2_LO), x[j]);
    }
}

/* One Horner step p r + c, or with neg (x[] holding -r) the same value as
 * c - p (-r). */
AT_INLINE vf horner(vf p, vf r, float c, int neg)
{
    return neg ? vf_fnma(p, r, vf_set1(c)) : vf_fma(p, r, vf_set1(c));
}

/* e^r - 1 for |r| <= ln2/2, in place (Cephes expf coefficients): relative
 * accuracy as r -> 0, which tanh relies on. */
AT_INLINE void expm1_poly_n(int nv, vf *r)
{
    vf p[AT_G], r2[AT_G];
    EACH(j, nv)
    p[j] = vf_fma(vf_set1(1.9875691500e-4f), r[j], vf_set1(1.3981999507e-3f));
    EACH(j, nv) p[j] = vf_fma(p[j], r[j], vf_set1(8.3334519073e-3f));
    EACH(j, nv) p[j] = vf_fma(p[j], r[j], vf_set1(4.1665795894e-2f));
    EACH(j, nv) p[j] = vf_fma(p[j], r[j], vf_set1(1.6666665459e-1f));
    EACH(j, nv) p[j] = vf_fma(p[j], r[j], vf_set1(5.0000001201e-1f));
    EACH(j, nv) r2[j] = vf_mul(r[j], r[j]);
    EACH(j, nv) r[j] = vf_fma(p[j], r2[j], r[j]);
}

/* e^r for |r| <= ln2/2, in place: 1 + r P(r), P of degree 4 fitted for
 * minimax relative error (9.1e-8 with these float coefficients; see
 * bench/fit_exp_poly.py).  The constant term rides on the last FMA, so
 * the result rounds once there. */
AT_INLINE void exp_poly_n(int nv, vf *r, int neg)
{
    vf p[AT_G];
    EACH(j, nv)
    p[j] = horner(vf_set1(0x1.0fa834p-7f), r[j], 0x1.573a54p-5f, neg);
    EACH(j, nv) p[j] = horner(p[j], r[j], 0x1.555a6ap-3f, neg);
    EACH(j, nv) p[j] = horner(p[j], r[j], 0x1.fffdc6p-2f, neg);
    EACH(j, nv) p[j] = horner(p[j], r[j], 0x1.fffff6p-1f, neg);
    EACH(j, nv) r[j] = horner(p[j], r[j], 1.0f, neg);
}

/* 2^n as a float from k = n + 1.5 * 2^23, n in [-126, 127]: bits(k) =
 * 0x4b400000 + n, and the shift drops the shifter's bits. */
static inline vf exp_scale(vf k)
{
    return vi_as_vf(vi_slli(vi_add(vf_as_vi(k), vi_set1(127)), 23));
}

/* Full-range exp: NaN propagates, +-inf give inf/0, results in the subnormal
 * range are rounded once (2^n = 2^n1 * 2^n2 with both factors normal). */
AT_INLINE vf exp_full(vf x)
{
    vf k;
    /* vf_max/vf_min return the second operand on NaN: keep x second. */
    x = vf_min(vf_set1(89.0f), vf_max(vf_set1(-104.0f), x));
    exp_reduce_n(1, &x, &k, 0);
    exp_poly_n(1, &x, 0);
    vf p = x;
    vi ni =
        vi_sub(vf_as_vi(k), vf_as_vi(vf_set1(AT_SHIFTER)));  /* [-150, 128] */
    vi n1 = vi_srai(ni, 1);
    vi n2 = vi_sub(ni, n1);
    vf s1 = vi_as_vf(vi_slli(vi_add(n1, vi_set1(127)), 23));
    vf s2 = vi_as_vf(vi_slli(vi_add(n2, vi_set1(127)), 23));
    return vf_mul(vf_mul(p, s1), s2);
}

/* exp for |x| <= 87, in place (with neg: exp(-x), bit-identical to negating
 * x first): one scale (other lanes, NaN included, give garbage: callers keep
 * only lanes passing exp_mid_ok).  Bit-identical to exp_full there (same n,
 * r and polynomial; one exact power-of-two product). */
AT_INLINE void exp_mid_sign_n(int nv, vf *x, int neg)
{
    vf k[AT_G];
    exp_reduce_n(nv, x, k, neg);
    exp_poly_n(nv, x, neg);
    /* e^r in [0.7, 1.42] times 2^n: the result is normal, so adding n to
     * the exponent field (bits(k) << 23 == n << 23 mod 2^32) is the same
     * exact product as exp_full's, one operation shorter */
    EACH(j, nv)
    x[j] = vi_as_vf(vi_add(vf_as_vi(x[j]), vi_slli(vf_as_vi(k[j]), 23)));
}

AT_INLINE void exp_mid_n(int nv, vf *x) { exp_mid_sign_n(nv, x, 0); }

AT_INLINE vf exp_mid(vf x)
{
    exp_mid_n(1, &x);
    return x;
}

/* Lanes the single-scale exp_mid handles (|x| <= 87: 2^n stays normal);
 * NaN is sent to the full path as well. */
static inline vm exp_mid_ok(vf x) { return vf_le(vf_abs(x), vf_set1(87.0f)); }

/* ------------------------------------------------------------------------ */
/* log                                                                      */

/* x = 2^k m (x positive, normal and finite), m in [sqrt(2)/2, sqrt(2)):
 * returns m and sets k; log and pow then use f = m - 1 (exact). */
static inline vf split_m(vf x, vi *k)
{
    vi ix = vi_sub(vf_as_vi(x), vi_set1(0x3f3504f3));
    *k = vi_srai(ix, 23);
    return vi_as_vf(
        vi_add(vi_and(ix, vi_set1(0x007fffff)), vi_set1(0x3f3504f3)));
}

/* log x for x positive, normal and finite, in place; kadj (if not NULL) is
 * subtracted from the exponent (subnormals prescaled by 2^23 pass 23), c
 * (if not NULL) is added to log m before k ln2 (log1p's correction).
 * x = 2^k m, m in [sqrt(2)/2, sqrt(2)), f = m - 1 (exact), s = f/(2+f):
 * log m = 2 atanh(s) = 2s + s R(s^2) (R: the FreeBSD/musl logf minimax
 * polynomial), and since 2s = f - s f,
 *   log m = f - s (f - R),
 * which is the musl expression f - hfsq + s (hfsq + R) without hfsq
 * (hfsq (1 - s) = f s): the rounding errors of s and f - R only reach the
 * result through s (f - R) <= 0.26 |log m|, and f is exact.  Half the
 * operations of musl's tail, max error 0.95 ULP (bench/vmath_ulp.c).
 * The quotient is a division: with the FMA pipes saturated the divider is
 * idle capacity, which makes it cheaper here than a reciprocal estimate plus
 * a correction step. */
AT_INLINE void log_core_n(int nv, vf *x, const vf *kadj, const vf *c)
{
    vf k[AT_G], f[AT_G], s[AT_G], z[AT_G], P[AT_G];
    EACH(j, nv)
    {
        vi ki;
        f[j] = split_m(x[j], &ki);
        k[j] = vi_cvt_f(ki);
    }
    if (kadj)
        EACH(j, nv) k[j] = vf_sub(k[j], kadj[j]);
    EACH(j, nv) f[j] = vf_sub(f[j], vf_set1(1.0f)); /* in [-0.29, 0.41] */
    EACH(j, nv) s[j] = vf_div(f[j], vf_add(vf_set1(2.0f), f[j]));
    /* R = z P(z), z = s^2, Horner (the fnma below takes the last product) */
    EACH(j, nv) z[j] = vf_mul(s[j], s[j]);
    EACH(j, nv)
    P[j] = vf_fma(vf_set1(0xf89e26.0p-26f), z[j], vf_set1(0x91e9ee.0p-25f));
    EACH(j, nv) P[j] = vf_fma(P[j], z[j], vf_set1(0xccce13.0p-25f));
    EACH(j, nv) P[j] = vf_fma(P[j], z[j], vf_set1(0xaaaaaa.0p-24f));
    /* (f - s (f - z P)) + k ln2_lo + k ln2_hi (k ln2_hi is exact) */
    /* with c: f + (c - s (f - z P)), so f's bits enter the last rounding */
    EACH(j, nv)
    {
        vf t = vf_fnma(z[j], P[j], f[j]);
        P[j] =
            c ? vf_add(f[j], vf_fnma(s[j], t, c[j])) : vf_fnma(s[j], t, f[j]);
    }
    EACH(j, nv) P[j] = vf_fma(k[j], vf_set1(9.0580006145e-06f), P[j]);
    EACH(j, nv) x[j] = vf_fma(k[j], vf_set1(6.9313812256e-01f), P[j]);
}

/* Whether every lane of the group is finite and >= bound (min >= bound;
 * x 0 is NaN iff x is inf or NaN). */
AT_INLINE int group_finite_ge(int nv, const vf *x, float bound)
{
    vf lo = x[0], fin = vf_zero();
    EACH(j, nv)
    {
        lo = vf_min(lo, x[j]);
        fin = vf_fma(x[j], vf_zero(), fin);
    }
    return !vm_any(vm_or(vf_isnan(fin), vm_not(vf_ge(lo, vf_set1(bound)))));
}

/* Groups needing no special case: every lane positive, normal and finite. */
AT_INLINE int log_group_ok(int nv, const vf *x)
{
    return group_finite_ge(nv, x, FLT_MIN);
}

AT_INLINE void log_core_n_fast(int nv, vf *x) { log_core_n(nv, x, NULL, NULL); }

AT_INLINE vf log_full(vf x)
{
    vm sub = vf_lt(x, vf_set1(FLT_MIN)); /* subnormal (also 0, <0) */
    vf r = vf_select(sub, vf_mul(x, vf_set1(0x1p23f)), x);
    vf kadj = vf_and(sub, vf_set1(23.0f)); /* k - 0 == k on other lanes */
    log_core_n(1, &r, &kadj, NULL);
    /* specials */
    r = vf_select(vf_eq(x, vf_set1(INFINITY)), vf_set1(INFINITY), r);
    r = vf_select(vf_eq(x, vf_zero()), vf_set1(-INFINITY), r);
    r = vf_select(vm_or(vf_lt(x, vf_zero()), vf_isnan(x)), vf_set1(NAN), r);
    return r;
}

/* ------------------------------------------------------------------------ */
/* tanh, sigmoid                                                            */

/* expm1 t for t in [-18, 87], in place: t = n ln2 + r, expm1(t) =
 * 2^n (e^r - 1) + (2^n - 1), one fma; 2^n - 1 is exact for n >= -24, and
 * below that the result rounds to -1 anyway.  Relatively accurate near 0
 * (n = 0: the polynomial alone).  NaN propagates. */
AT_INLINE void expm1_core_n(int nv, vf *t)
{
    vf k[AT_G], s[AT_G];
    exp_reduce_n(nv, t, k, 0);
    expm1_poly_n(nv, t);
    EACH(j, nv) s[j] = exp_scale(k[j]);
    EACH(j, nv) t[j] = vf_fma(s[j], t[j], vf_sub(s[j], vf_set1(1.0f)));
}

/* tanh |x| = e / (e + 2) with e = expm1(2|x|), 2|x| clamped to 20 (tanh
 * rounds to 1 well before): one formula for every lane, no select, and
 * relatively accurate near 0 because expm1 is.  The quotient is a division:
 * with the FMA pipes saturated the divider is idle capacity, and a
 * reciprocal estimate is less accurate with one correction step and slower
 * with two.  Max error 2.4 ULP (bench/vmath_ulp.c).  The sign is or-ed back at
 * the end, so -0 stays -0 and NaN (through the clamp: vf_min returns its NaN
 * operand) propagates. */
AT_INLINE void tanh_n(int nv, vf *x)
{
    vf t[AT_G], d[AT_G], q[AT_G], sg[AT_G];
    EACH(j, nv) sg[j] = vf_and(x[j], vf_set1(-0.0f));
    EACH(j, nv) t[j] = vf_abs(x[j]);
    EACH(j, nv) t[j] = vf_min(vf_set1(20.0f), vf_add(t[j], t[j]));
    expm1_core_n(nv, t);
    EACH(j, nv) d[j] = vf_add(t[j], vf_set1(2.0f));
    EACH(j, nv) q[j] = vf_div(t[j], d[j]);
    EACH(j, nv) x[j] = vf_or(q[j], sg[j]);
}

/* sigmoid from e = exp(-|x|) in (0, 1] (NaN stays NaN) */
AT_INLINE vf sigmoid_e(vf x, vf e)
{
    vm neg = vf_lt(x, vf_zero());
    vf one = vf_set1(1.0f);
    vf num = vf_select(neg, e, one);
    vf d = vf_add(one, e);
    vf err = vf_add(vf_sub(one, d), e); /* 1 + e = d + err exactly */
    vf q = vf_div(num, d);
    /* q * d / (d + err) ~= q - q * err / d, with 1/d = q (x >= 0) or 1 - q */
    vf rd = vf_select(neg, vf_sub(one, q), q);
    return vf_fnma(vf_mul(q, rd), err, q);
}

/* |x| <= 87 (every lane): 1 / (1 + exp(-x)), d = 1 + exp(-x) in [1, 6e37].
 * A division: with the FMA pipes saturated by exp the divider is idle
 * capacity, so it is cheaper than a reciprocal estimate plus a Newton step,
 * and it rounds once. */
AT_INLINE void sigmoid_fast_n(int nv, vf *x)
{
    exp_mid_sign_n(nv, x, 1); /* exp(-x), no negation */
    EACH(j, nv) x[j] = vf_div(vf_set1(1.0f), vf_add(vf_set1(1.0f), x[j]));
}

/* Every lane gets the same formula as the fast path where |x| <= 87, so a
 * result never depends on the lane's position in the array; beyond that,
 * 1 / (1 + e) with e = exp(-|x|) and an error-compensated quotient keeps the
 * tiny results of x < -87 (down to subnormals) accurate. */
AT_INLINE vf sigmoid_v(vf x)
{
    vf wide = sigmoid_e(x, exp_full(vf_neg(vf_abs(x))));
    vf fast = x;
    sigmoid_fast_n(1, &fast);
    return vf_select(exp_mid_ok(x), fast, wide);
}

/* Groups exp_mid covers: every |x| <= 87 (exp_mid_ok for each lane). */
AT_INLINE int exp_group_ok(int nv, const vf *x)
{
    return vf_all_abs_le(x, nv, 87.0f);
}

/* ------------------------------------------------------------------------ */
/* erf, log1p, expm1                                                        */

/* erf, odd: for t = min(|x|, 4) (erf rounds to 1 from 3.92 on), one of 4
 * pieces centred at m = round(min(t, 2.74)) in 0..3 (piece 3 runs on to 4):
 *   erf t = b + d P(d),  d = t - m (exact),
 * P of degree 7; b = erf(m) rounded to float, except on piece 0, where
 * b = d = t: there erf t = t + t Q(t) keeps t's bits exact and only the
 * small part carries rounding errors.  Column c of erf_tab holds
 * coefficient c of the four pieces (P's, degree 7 first, then erf(m)), read
 * per lane at m (vf_lookup4: four entries fit the in-lane permutes of AVX2
 * and AVX-512 and NEON's table lookup), which the shifter leaves in k's low
 * bits.  bench/fit_erf_poly.py fits the pieces and prints this table.  NaN
 * propagates through d; the sign is or-ed back, so erf(-0) = -0 and
 * erf(-inf) = -1. */
#define AT_ERF_COLS 9
static const _Alignas(16) float erf_tab[AT_ERF_COLS][4] = {
    {0x1.1c785ap-7f, -0x1.0063fp-8f, 0x1.c9302cp-10f, -0x1.312384p-14f},
    {-0x1.101974p-5f, 0x1.d0301cp-7f, -0x1.bbcb32p-9f, 0x1.65aee6p-12f},
    {0x1.48c3c2p-9f, 0x1.2029bcp-8f, 0x1.56cf32p-12f, -0x1.8587ecp-11f},
    {0x1.cbe41ep-4f, -0x1.1aafcap-4f, 0x1.ace784p-7f, 0x1.0fb0e6p-10f},
    {0x1.1fd62cp-14f, 0x1.1b761ep-4f, -0x1.19f67ap-5f, -0x1.1318c6p-10f},
    {-0x1.81285ep-2f, 0x1.1b5c16p-3f, 0x1.8b0af8p-5f, 0x1.9cd0b6p-11f},
    {0x1.9e0506p-24f, -0x1.a91208p-2f, -0x1.529f06p-5f, -0x1.b530eap-12f},
    {0x1.06eba8p-3f, 0x1.a911f8p-2f, 0x1.529b9ep-6f, 0x1.2408bp-13f},
    {0.0f, 0x1.af767ap-1f, 0x1.fd9ae2p-1f, 0x1.fffd1ap-1f},
};

AT_INLINE void erf_n(int nv, vf *x)
{
    vf t[AT_G], d[AT_G], p[AT_G];
    vi m[AT_G];
    vm first[AT_G];
    /* vf_min returns its second operand on NaN: keep |x| second */
    EACH(j, nv) t[j] = vf_min(vf_set1(4.0f), vf_abs(x[j]));
    EACH(j, nv)
    {
        vf k = vf_add(vf_min(vf_set1(2.74f), t[j]), vf_set1(AT_SHIFTER));
        vf c = vf_sub(k, vf_set1(AT_SHIFTER));
        m[j] = vf_as_vi(k);
        first[j] = vf_eq(c, vf_zero());
        d[j] = vf_sub(t[j], c);
    }
    EACH(j, nv) p[j] = vf_lookup4(erf_tab[0], m[j]);
    for (int c = 1; c < AT_ERF_COLS - 1; c++)
        EACH(j, nv) p[j] = vf_fma(p[j], d[j], vf_lookup4(erf_tab[c], m[j]));
    EACH(j, nv)
    {
        vf b = vf_select(first[j], d[j],
                         vf_lookup4(erf_tab[AT_ERF_COLS - 1], m[j]));
        vf r = vf_fma(d[j], p[j], b);
        x[j] = vf_or(r, vf_and(x[j], vf_set1(-0.0f)));
    }
}

/* log1p: 1 + x = u + e exactly (u = fl(1 + x), e from the two-sum), and
 * log1p x = log u + log(1 + e/u) ~ log u + e/u: log's core on u with the
 * correction c = e/u added to the small terms of log m before its leading
 * term f = m - 1 (exact), so the sum rounds once at the end.  u is never
 * subnormal (u >= 2^-24 for x > -1).  x = -0 gives +0 there; the sign of x
 * or-ed back fixes it and changes no other lane (log1p x has the sign of x).
 * For groups whose every x is finite and > -1. */
AT_INLINE void log1p_core_n(int nv, vf *x)
{
    vf u[AT_G], c[AT_G];
    EACH(j, nv) u[j] = vf_add(vf_set1(1.0f), x[j]);
    EACH(j, nv)
    {
        vf b = vf_sub(u[j], x[j]);
        c[j] = vf_add(vf_sub(vf_set1(1.0f), b), vf_sub(x[j], vf_sub(u[j], b)));
    }
    EACH(j, nv) c[j] = vf_div(c[j], u[j]);
    log_core_n(nv, u, NULL, c);
    EACH(j, nv) x[j] = vf_or(u[j], vf_and(x[j], vf_set1(-0.0f)));
}

AT_INLINE int log1p_group_ok(int nv, const vf *x)
{
    return group_finite_ge(nv, x, -0x1.fffffep-1f); /* x > -1 */
}

/* log1p with PyTorch's special values: log1p(-1) = -inf, NaN below -1 and
 * for NaN, log1p(inf) = inf. */
AT_INLINE vf log1p_v(vf x)
{
    vf r = x;
    log1p_core_n(1, &r);
    r = vf_select(vf_eq(x, vf_set1(INFINITY)), vf_set1(INFINITY), r);
    r = vf_select(vf_eq(x, vf_set1(-1.0f)), vf_set1(-INFINITY), r);
    r = vf_select(vm_or(vf_lt(x, vf_set1(-1.0f)), vf_isnan(x)), vf_set1(NAN),
                  r);
    return r;
}

/* expm1 for |x| <= 87 (and any x <= 87, NaN included): x clamped below at
 * -18 (expm1 rounds to -1 there), expm1_core_n, and the sign of x or-ed
 * back (expm1 x has the sign of x; keeps expm1(-0) = -0). */
AT_INLINE void expm1_mid_n(int nv, vf *x)
{
    vf t[AT_G];
    /* vf_max returns the second operand on NaN: keep x second. */
    EACH(j, nv) t[j] = vf_max(vf_set1(-18.0f), x[j]);
    expm1_core_n(nv, t);
    EACH(j, nv) x[j] = vf_or(t[j], vf_and(x[j], vf_set1(-0.0f)));
}

/* expm1 for every x: beyond 87, exp (the -1 is below half an ULP), which
 * overflows to inf past 88.72. */
AT_INLINE vf expm1_v(vf x)
{
    vf r = x;
    expm1_mid_n(1, &r);
    return vf_select(vf_gt(x, vf_set1(87.0f)), exp_full(x), r);
}

static inline vf erf_v(vf x)
{
    erf_n(1, &x);
    return x;
}

/* gelu's five operations in one pass (the lowering's fuse_gelu): h = x 0.5,
 * z = x 0.70710677f (1/sqrt 2 rounded to float), e = erf z, y = h (1 + e),
 * each rounded as the separate vector instructions round it. */
#define AT_RSQRT2F 0x1.6a09e6p-1f
AT_INLINE void gelu_n(int nv, vf *x)
{
    vf h[AT_G];
    EACH(j, nv) h[j] = vf_mul(x[j], vf_set1(0.5f));
    EACH(j, nv) x[j] = vf_mul(x[j], vf_set1(AT_RSQRT2F));
    erf_n(nv, x);
    EACH(j, nv) x[j] = vf_mul(h[j], vf_add(vf_set1(1.0f), x[j]));
}

static inline vf gelu_v(vf x)
{
    gelu_n(1, &x);
    return x;
}

/* gelu's tanh form in one pass (the lowering's fuse_gelu_tanh), given
 * c = K x^3 as the form rounds it: h = x 0.5, s = x + c, u = s B, t =
 * tanh u, y = h (t + 1), each rounded as the separate vector instructions
 * round it. */
AT_INLINE void gelu_tanh_rest_n(int nv, vf *x, vf *c)
{
    vf h[AT_G];
    EACH(j, nv) h[j] = vf_mul(x[j], vf_set1(0.5f));
    EACH(j, nv) c[j] = vf_mul(vf_add(x[j], c[j]), vf_set1(AT_GELU_TANH_B));
    tanh_n(nv, c);
    EACH(j, nv) x[j] = vf_mul(h[j], vf_add(c[j], vf_set1(1.0f)));
}

/* c = ((x x) x) K, the stdlib's gelu_tanh */
AT_INLINE void gelu_tanh_n(int nv, vf *x)
{
    vf c[AT_G];
    EACH(j, nv) c[j] = vf_mul(vf_mul(x[j], x[j]), x[j]);
    EACH(j, nv) c[j] = vf_mul(c[j], vf_set1(AT_GELU_TANH_K));
    gelu_tanh_rest_n(nv, x, c);
}

/* c = ((K x) x) x, Python's left-to-right `0.044715 * x * x * x` */
AT_INLINE void gelu_tanh_k_n(int nv, vf *x)
{
    vf c[AT_G];
    EACH(j, nv) c[j] = vf_mul(vf_mul(x[j], vf_set1(AT_GELU_TANH_K)), x[j]);
    EACH(j, nv) c[j] = vf_mul(c[j], x[j]);
    gelu_tanh_rest_n(nv, x, c);
}

static inline vf gelu_tanh_v(vf x)
{
    gelu_tanh_n(1, &x);
    return x;
}

static inline vf gelu_tanh_k_v(vf x)
{
    gelu_tanh_k_n(1, &x);
    return x;
}

static inline vf exp_v(vf x) { return exp_full(x); }
static inline vf log_v(vf x) { return log_full(x); }
static inline vf tanh_v(vf x)
{
    tanh_n(1, &x);
    return x;
}
static inline vf sqrt_v(vf x) { return vf_sqrt(x); }

/* ------------------------------------------------------------------------ */
/* pow                                                                      */

/* Groups of AT_POW_G vectors (2 AT_POW_G double halves, each step issued
 * for every half, as for the float kernels; the size is tuned for speed,
 * see docs/performance.md). */
#define AT_POW_G 4

/* |x|^y from |x| = 2^k m, m in [sqrt(2)/2, sqrt(2)), given as f = m - 1
 * (float, exact) and k (int32), for nv vectors, in double, each result
 * rounded to float once:
 *   log2 |x| = k + s P(s^2), s = f/(f+2), |s| <= 0.1716; P a degree-4
 *     minimax fit (relative error 2^-37.8), so t = y log2|x| carries ~2^-30
 *     absolute error at |t| = 150, the largest t with a finite nonzero float
 *     result.  s is a division: with the FMA pipes saturated the divider
 *     is idle capacity, cheaper here than a float estimate widened to
 *     double plus two correction steps;
 *   t clamped to [-300, 300] (past float's range: the final conversion
 *     overflows / underflows / rounds to subnormal once), t = n + f with
 *     |f| <= 1/2, 2^f by a degree-6 minimax polynomial with constant term 1
 *     (relative error 2^-27.9, 0.07 float ULP), 2^n through the exponent.
 * Max error 0.57 ULP (bench/vmath_ulp.c). */
/* One Horner step for every double half: b = b x + c. */
AT_INLINE void horner_d(int nh, vd *b, const vd *x, vd c)
{
    for (int h = 0; h < nh; h++)
        b[h] = vd_fma(b[h], x[h], c);
}

AT_INLINE void pow_core(int nv, vf *r, const vf *f, const vi *k, const vf *y)
{
    const vd one = vd_set1(1.0), magic = vd_set1(0x1.8p52);
    vd a[2 * AT_POW_G], b[2 * AT_POW_G], c[2 * AT_POW_G], z[2 * AT_POW_G];
    int nh = 2 * nv, h;
    for (h = 0; h < nh; h++) {
        vd fd = h & 1 ? vd_hi(f[h / 2]) : vd_lo(f[h / 2]);
        a[h] = vd_div(fd, vd_add(fd, vd_set1(2.0))); /* s */
    }
    for (h = 0; h < nh; h++)
        z[h] = vd_mul(a[h], a[h]);
    for (h = 0; h < nh; h++)
        b[h] = vd_fma(vd_set1(0x1.5ce7cd9d80bd4p-2), z[h],
                      vd_set1(0x1.a58d8fbfbfbdcp-2));
    horner_d(nh, b, z, vd_set1(0x1.27777fda6996cp-1));
    horner_d(nh, b, z, vd_set1(0x1.ec709d12e151ap-1));
    horner_d(nh, b, z, vd_set1(0x1.71547652bede5p+1));
    for (h = 0; h < nh; h++) {
        vd kd = h & 1 ? vd_hi_i(k[h / 2]) : vd_lo_i(k[h / 2]);
        vd yd = h & 1 ? vd_hi(y[h / 2]) : vd_lo(y[h / 2]);
        vd t = vd_mul(yd, vd_fma(a[h], b[h], kd));
        a[h] = vd_min(vd_set1(300.0), vd_max(vd_set1(-300.0), t));
    }
    for (h = 0; h < nh; h++)
        c[h] = vd_add(a[h], magic); /* n in low bits */
    for (h = 0; h < nh; h++)
        a[h] = vd_sub(a[h], vd_sub(c[h], magic)); /* f */
    for (h = 0; h < nh; h++)
        b[h] = vd_fma(vd_set1(0x1.446c7dbc199b4p-13), a[h],
                      vd_set1(0x1.5f88fe3c492aap-10));
    horner_d(nh, b, a, vd_set1(0x1.3b29e3d4d6016p-7));
    horner_d(nh, b, a, vd_set1(0x1.c6ae2bcf3856ep-5));
    horner_d(nh, b, a, vd_set1(0x1.ebfbe07d8f6a7p-3));
    horner_d(nh, b, a, vd_set1(0x1.62e43170c4f92p-1));
    horner_d(nh, b, a, one);
    /* 2^f in [0.7, 1.42] times 2^n, |n| <= 300: the product is a normal
     * double, so add n to the exponent field (bits(n + magic) << 52 ==
     * n << 52 mod 2^64) */
    for (h = 0; h < nh; h++)
        b[h] = vdi_as_d(vdi_add(vd_as_i(b[h]), vdi_slli(vd_as_i(c[h]), 52)));
    for (h = 0; h < nv; h++)
        r[h] = vf_from_vd(b[2 * h], b[2 * h + 1]);
}

/* Groups needing no special case: every x positive, normal and finite,
 * every y finite (min(x) >= FLT_MIN; x 0 + y 0 is NaN iff x or y is inf or
 * NaN).  There pow_fast equals pow_v bit for bit (same k, f and core; pow_v
 * only overrides other lanes), so grouping never changes a result. */
AT_INLINE int pow_group_ok(const vf *x, const vf *y)
{
    vf lo = x[0], fin = vf_zero();
    for (int j = 0; j < AT_POW_G; j++) {
        lo = vf_min(lo, x[j]);
        fin = vf_fma(x[j], vf_zero(), vf_fma(y[j], vf_zero(), fin));
    }
    return !vm_any(vm_or(vf_isnan(fin), vm_not(vf_ge(lo, vf_set1(FLT_MIN)))));
}

/* AT_POW_G vectors at once, the group passing pow_group_ok */
AT_INLINE void pow_fast(vf *r, const vf *x, const vf *y)
{
    vf f[AT_POW_G];
    vi k[AT_POW_G];
    for (int j = 0; j < AT_POW_G; j++)
        f[j] = vf_sub(split_m(x[j], &k[j]), vf_set1(1.0f));
    pow_core(AT_POW_G, r, f, k, y);
}

/* pow(x, y) per C99 Annex F / PyTorch. */
static inline vf pow_v(vf x, vf y)
{
    const vf zero = vf_zero(), one = vf_set1(1.0f), inf = vf_set1(INFINITY);
    vf ax = vf_abs(x);
    vf ay = vf_abs(y);
    /* |x| = 2^k m, m in [sqrt(2)/2, sqrt(2)); subnormals scaled by 2^23
     * (for normal lanes k - 0 == k: the same core input as pow_fast) */
    vm sub = vf_lt(ax, vf_set1(FLT_MIN));
    vi k;
    vf f = vf_sub(split_m(vf_select(sub, vf_mul(ax, vf_set1(0x1p23f)), ax), &k),
                  vf_set1(1.0f));
    k = vi_sub(k, vi_and(vf_as_vi(sub), vi_set1(23)));
    vf r;
    pow_core(1, &r, &f, &k, &y); /* |x|^y for finite nonzero */

    /* |x| = 0 or inf */
    vm ylt0 = vf_lt(y, zero);
    r = vf_select(vf_eq(ax, zero), vf_select(ylt0, inf, zero), r);
    r = vf_select(vf_eq(ax, inf), vf_select(ylt0, zero, inf), r);
    /* y = +-inf: 1 for |x| = 1, else inf iff (|x| > 1) == (y > 0) */
    vm yinf = vf_eq(ay, inf);
    vm ax_gt1 = vf_gt(ax, one);
    vm big = vm_or(vm_and(ax_gt1, vf_gt(y, zero)),
                   vm_andnot(ax_gt1, vm_and(vf_lt(ax, one), ylt0)));
    vf rinf = vf_select(big, inf, zero);
    rinf = vf_select(vf_eq(ax, one), one, rinf);
    r = vf_select(yinf, rinf, r);

    /* sign / domain for negative x (sign bit set, incl. -0 and -inf) */
    vm yint = vf_eq(vf_round(y), y); /* true for +-inf */
    vi yi = vf_cvt_i(y); /* |y| >= 2^31 -> even */
    vm yodd = vm_and(vm_and(yint, vf_lt(ay, vf_set1(0x1p24f))),
                     vi_eq(vi_and(yi, vi_set1(1)), vi_set1(1)));
    vf xsign = vf_and(x, vf_set1(-0.0f));
    r = vf_or(r, vf_and(yodd, xsign));
    vm dom = vm_and(vf_lt(x, zero), vm_andnot(yint, vm_all()));
    dom = vm_and(dom, vf_lt(ax, inf)); /* pow(-inf, y) is never NaN */
    vm nan = vm_or(dom, vm_or(vf_isnan(x), vf_isnan(y)));
    r = vf_select(nan, vf_set1(NAN), r);
    /* pow(x, 0) = 1 and pow(1, y) = 1, even for NaN */
    r = vf_select(vm_or(vf_eq(y, zero), vf_eq(x, one)), one, r);
    return r;
}

/* x^3 and x^-2 through double: one float rounding, no spurious overflow. */
static inline vf cube_v(vf x)
{
    vd lo = vd_lo(x), hi = vd_hi(x);
    return vf_from_vd(vd_mul(vd_mul(lo, lo), lo), vd_mul(vd_mul(hi, hi), hi));
}
static inline vf rsquare_v(vf x)
{
    vd lo = vd_lo(x), hi = vd_hi(x);
    const vd one = vd_set1(1.0);
    return vf_from_vd(vd_div(one, vd_mul(lo, lo)), vd_div(one, vd_mul(hi, hi)));
}
static inline vf sqr_v(vf x) { return vf_mul(x, x); }
static inline vf recip_v(vf x) { return vf_div(vf_set1(1.0f), x); }
static inline vf one_v(vf x)
{
    (void)x;
    return vf_set1(1.0f);
}
static inline vf id_v(vf x) { return x; }
/* pow(x, 0.5) and pow(x, -0.5) as PyTorch computes them: sqrt and 1/sqrt,
 * so sqrt's IEEE cases apply (pow(-0, .5) = -0, pow(-inf, .5) = NaN),
 * not C99 pow's (+0 and +inf). */
static inline vf sqrtp_v(vf x) { return vf_sqrt(x); }
static inline vf rsqrtp_v(vf x) { return vf_div(vf_set1(1.0f), vf_sqrt(x)); }

/* ------------------------------------------------------------------------ */
/* Loops                                                                    */

/* Group sizes are tuned per function for AVX2 (docs/performance.md): log's
 * dependency chain is the longest, exp's the shortest, and more vectors than
 * a chain needs only add register spills. */
AT_UNARY_OF_KERNELS(exp, 4, exp_v, exp_mid_n, exp_group_ok)
AT_UNARY_OF_KERNELS(log, 8, log_v, log_core_n_fast, log_group_ok)
AT_UNARY_OF_KERNELS(tanh, 4, tanh_v, tanh_n, every_group)
AT_UNARY_OF_KERNELS(sigmoid, 6, sigmoid_v, sigmoid_fast_n, exp_group_ok)
AT_INLINE void sqrt_n(int nv, vf *x) { EACH(j, nv) x[j] = vf_sqrt(x[j]); }

AT_UNARY_OF_KERNELS(sqrt, 4, sqrt_v, sqrt_n, every_group)
AT_UNARY_OF_KERNELS(erf, 4, erf_v, erf_n, every_group)
AT_UNARY_OF_KERNELS(log1p, 4, log1p_v, log1p_core_n, log1p_group_ok)
AT_UNARY_OF_KERNELS(expm1, 2, expm1_v, expm1_mid_n, exp_group_ok)
AT_UNARY_OF_KERNELS(gelu, 4, gelu_v, gelu_n, every_group)
AT_UNARY_OF_KERNELS(gelu_tanh, 4, gelu_tanh_v, gelu_tanh_n, every_group)
AT_UNARY_OF_KERNELS(gelu_tanh_k, 4, gelu_tanh_k_v, gelu_tanh_k_n, every_group)

/* pow(x, s) for the constants s that PyTorch computes another way. */
#define AT_POW_SCALAR_KERNEL(name, op)                           \
    AT_UNARY_LOOP(loop_pow_##name, 4, op, no_fast, no_group)     \
    static void k_pow_##name(size_t n, float *y, const float *x) \
    {                                                            \
        loop_pow_##name(n, y, x, 0);                             \
    }
AT_POW_SCALAR_KERNEL(sqr, sqr_v)
AT_POW_SCALAR_KERNEL(cube, cube_v)
AT_POW_SCALAR_KERNEL(recip, recip_v)
AT_POW_SCALAR_KERNEL(rsquare, rsquare_v)
AT_POW_SCALAR_KERNEL(half, sqrtp_v)
AT_POW_SCALAR_KERNEL(rhalf, rsqrtp_v)
AT_POW_SCALAR_KERNEL(one, one_v)
AT_POW_SCALAR_KERNEL(id, id_v)

/* pow over groups of AT_POW_G vectors: pow_fast when every lane of the
 * group passes pow_group_ok (bit-identical to pow_v there), else pow_v per
 * vector. */
AT_BINARY_LOOP(loop_pow, AT_POW_G, pow_v, pow_fast, pow_group_ok)

static void k_pow(size_t n, float *y, const float *a, const float *b)
{
    loop_pow(n, y, a, b, vf_zero(), AT_VV, 0);
}

static void k_pow_s(size_t n, float *y, const float *a, float s)
{
    if (s == 0.0f) {
        k_pow_one(n, y, a);
        return;
    }
    if (s == 1.0f) {
        if (y != a)
            k_pow_id(n, y, a);
        return;
    }
    if (s == 2.0f) {
        k_pow_sqr(n, y, a);
        return;
    }
    if (s == 3.0f) {
        k_pow_cube(n, y, a);
        return;
    }
    if (s == 0.5f) {
        k_pow_half(n, y, a);
        return;
    }
    if (s == -0.5f) {
        k_pow_rhalf(n, y, a);
        return;
    }
    if (s == -1.0f) {
        k_pow_recip(n, y, a);
        return;
    }
    if (s == -2.0f) {
        k_pow_rsquare(n, y, a);
        return;
    }
    loop_pow(n, y, a, NULL, vf_set1(s), AT_VS, 0);
}

static void k_pow_rs(size_t n, float *y, const float *a, float s)
{
    loop_pow(n, y, a, NULL, vf_set1(s), AT_SV, 0);
}

/* y = exp(x - s) and the sum of y, in one pass.  Per lane the result is
 * bit-identical to sub then exp (exp_mid equals exp_v wherever exp_mid_ok
 * holds), so fusing never changes y; the sum runs in float lanes over runs
 * of AT_RSUM_RUN elements and in double across runs, like the rsum kernel. */
static inline vf exp_sub(vf x, vf vs)
{
    vf d = vf_sub(x, vs);
    return vm_any(vm_not(exp_mid_ok(d))) ? exp_v(d) : exp_mid(d);
}

/* What sum_exp_sub writes to y besides returning the sum of exp(x - s). */
enum {
    WRITE_EXP, /* exp(x - s): softmax's middle phase */
    WRITE_D,   /* x - s, never exp: a later phase reads the difference */
    WRITE_NONE /* nothing: only the sum is needed */
};

/* The sum of exp(x - s), writing to y what `write` says (a constant in each
 * kernel); the sum's association is the same for every `write`. */
AT_INLINE double sum_exp_sub(size_t n, float *y, const float *x, float s,
                             int write)
{
    const vf vs = vf_set1(s);
    double total = 0.0;
    size_t i = 0;
    while (i < n) {
        size_t end = n - i > AT_RSUM_RUN ? i + AT_RSUM_RUN : n;
        vf s0 = vf_zero(), s1 = vf_zero();
        /* 4 vectors at once through exp_mid_n (interleaved chains); the
         * sums take them in the same order as the 2-vector loop below */
        for (; i + 4 * VL <= end; i += 4 * VL) {
            vf e[4];
            EACH(j, 4) e[j] = vf_sub(vf_load(x + i + j * VL), vs);
            if (write == WRITE_D)
                EACH(j, 4) vf_store(y + i + j * VL, e[j]);
            if (exp_group_ok(4, e))
                exp_mid_n(4, e);
            else
                EACH(j, 4) e[j] = exp_v(e[j]);
            if (write == WRITE_EXP)
                EACH(j, 4) vf_store(y + i + j * VL, e[j]);
            s0 = vf_add(s0, e[0]);
            s1 = vf_add(s1, e[1]);
            s0 = vf_add(s0, e[2]);
            s1 = vf_add(s1, e[3]);
        }
        for (; i + 2 * VL <= end; i += 2 * VL) {
            vf x0 = vf_load(x + i), x1 = vf_load(x + i + VL);
            vf e0 = exp_sub(x0, vs), e1 = exp_sub(x1, vs);
            if (write != WRITE_NONE) {
                vf_store(y + i, write == WRITE_D ? vf_sub(x0, vs) : e0);
                vf_store(y + i + VL, write == WRITE_D ? vf_sub(x1, vs) : e1);
            }
            s0 = vf_add(s0, e0);
            s1 = vf_add(s1, e1);
        }
        for (; i + VL <= end; i += VL) {
            vf x0 = vf_load(x + i), e = exp_sub(x0, vs);
            if (write != WRITE_NONE)
                vf_store(y + i, write == WRITE_D ? vf_sub(x0, vs) : e);
            s0 = vf_add(s0, e);
        }
        if (i < end) {
            size_t r = end - i;
            vf x0 = vf_load_n(x + i, r);
            float t[VL]; /* exp's r lanes, when y does not take them */
            float *e = write == WRITE_EXP ? y + i : t;
            vf_store_n(e, exp_sub(x0, vs), r);
            if (write == WRITE_D)
                vf_store_n(y + i, vf_sub(x0, vs), r);
            s1 = vf_add(s1, vf_load_n(e, r)); /* lanes past r read as 0 */
            i = end;
        }
        total += vf_hsum_d(vf_add(s0, s1));
    }
    return total;
}

/* y = exp(x - s) and the sum of y, in one pass.  Per lane the result is
 * bit-identical to sub then exp (exp_mid equals exp_v wherever exp_mid_ok
 * holds), so fusing never changes y; the sum runs in float lanes over runs
 * of AT_RSUM_RUN elements and in double across runs, like the rsum kernel. */
static double k_exp_sub_sum(size_t n, float *y, const float *x, float s)
{
    return sum_exp_sub(n, y, x, s, WRITE_EXP);
}

/* y = x - s and the sum of exp(x - s), in one pass (exp never stored). */
static double k_sub_exp_sum(size_t n, float *y, const float *x, float s)
{
    return sum_exp_sub(n, y, x, s, WRITE_D);
}

/* The sum of exp(x - s) alone, in one pass (nothing stored). */
static double k_exp_sub_total(size_t n, const float *x, float s)
{
    return sum_exp_sub(n, NULL, x, s, WRITE_NONE);
}

void AT_ISA_FN(at_register_vmath)(at_ktable *t)
{
    AT_SET_UNARY_OF(t, EXP, exp)
    AT_SET_UNARY_OF(t, LOG, log)
    AT_SET_UNARY_OF(t, TANH, tanh)
    AT_SET_UNARY_OF(t, SIGMOID, sigmoid)
    AT_SET_UNARY_OF(t, SQRT, sqrt)
    AT_SET_UNARY_OF(t, ERF, erf)
    AT_SET_UNARY_OF(t, LOG1P, log1p)
    AT_SET_UNARY_OF(t, EXPM1, expm1)
    AT_SET_UNARY_OF(t, GELU, gelu)
    AT_SET_UNARY_OF(t, GELU_TANH, gelu_tanh)
    AT_SET_UNARY_OF(t, GELU_TANH_K, gelu_tanh_k)
    t->binary[AT_BIN_POW] = k_pow;
    t->binary_s[AT_BIN_POW] = k_pow_s;
    t->binary_rs[AT_BIN_POW] = k_pow_rs;
    t->exp_sub_sum = k_exp_sub_sum;
    t->sub_exp_sum = k_sub_exp_sum;
    t->exp_sub_total = k_exp_sub_total;
}
