/* Hologram Atlas — vectorised float32 transcendental kernels.
 *
 * exp, log, tanh, sigmoid, sqrt (unary) and pow (binary, a^s, s^a), written
 * once against the vector vocabulary of simd.h and compiled once per ISA
 * level.  Semantics follow PyTorch CPU float32 (C99 Annex F for the special
 * values); accuracy is measured by bench/vmath_ulp.c over the whole float
 * range at every level (see that file for the current figures):
 *
 *   exp      Cody-Waite reduction x = n ln2 + r, degree-6 polynomial, 2^n
 *            applied as two exact power-of-two factors so subnormal results
 *            are rounded once and overflow/underflow fall out of IEEE
 *            arithmetic.
 *   log      subnormals scaled by 2^23; x = 2^k m with m in [sqrt(2)/2,
 *            sqrt(2)), log m = 2 atanh(f/(2+f)) (FreeBSD/musl logf kernel).
 *   tanh     odd polynomial for |x| < 0.625 (relative accuracy near 0),
 *            1 - 2/(exp(2|x|)+1) above, saturating to +-1.
 *   sigmoid  exp(-|x|) = e in (0, 1]: 1/(1+e) for x >= 0, e/(1+e) for x < 0
 *            (no overflow, subnormal results for very negative x are kept).
 *   sqrt     IEEE sqrt.
 *   pow      log2|x| and exp2 in double precision (float lanes widened into
 *            two double vectors), special cases per C99 Annex F; a^s has
 *            PyTorch's fast paths for s in {0, 1, 2, 3, 0.5, -1, -2}.
 *
 * Contract (ktable.h): any n, tails via vf_load_n/vf_store_n, y may equal x,
 * unaligned pointers.
 */
#include <float.h>
#include <math.h>

#include "simd.h"
#include "ktable.h"

/* ------------------------------------------------------------------------ */
/* Small mask / constant helpers                                            */

static inline vm vm_all(void)
{
    return vi_eq(vi_set1(0), vi_set1(0));
}
static inline vm vm_not(vm a) { return vm_andnot(a, vm_all()); }

/* ------------------------------------------------------------------------ */
/* exp                                                                      */

#define AT_LOG2E 1.44269504088896341f
#define AT_LN2_HI 0x1.62e400p-1f   /* 0x3f317200: 15 significant bits */
#define AT_LN2_LO 0x1.7f7d1cp-20f  /* ln2 - LN2_HI */
#define AT_SHIFTER 0x1.8p23f       /* 1.5 * 2^23 */

/* Polynomial part: e^r for |r| <= ln2/2 (Cephes expf coefficients). */
static inline vf exp_poly(vf r)
{
    vf p = vf_set1(1.9875691500e-4f);
    p = vf_fma(p, r, vf_set1(1.3981999507e-3f));
    p = vf_fma(p, r, vf_set1(8.3334519073e-3f));
    p = vf_fma(p, r, vf_set1(4.1665795894e-2f));
    p = vf_fma(p, r, vf_set1(1.6666665459e-1f));
    p = vf_fma(p, r, vf_set1(5.0000001201e-1f));
    vf r2 = vf_mul(r, r);
    p = vf_fma(p, r2, r);
    return vf_add(p, vf_set1(1.0f));
}

/* Full-range exp: NaN propagates, +-inf give inf/0, results in the subnormal
 * range are rounded once (2^n = 2^n1 * 2^n2 with both factors normal). */
static inline vf exp_full(vf x)
{
    /* vf_max/vf_min return the second operand on NaN: keep x second. */
    x = vf_min(vf_set1(89.0f), vf_max(vf_set1(-104.0f), x));
    /* n = nearest(x log2e) by the 1.5*2^23 shifter: its low bits hold n */
    vf k = vf_fma(x, vf_set1(AT_LOG2E), vf_set1(AT_SHIFTER));
    vf n = vf_sub(k, vf_set1(AT_SHIFTER));
    vf r = vf_fnma(n, vf_set1(AT_LN2_HI), x);
    r = vf_fnma(n, vf_set1(AT_LN2_LO), r);
    vf p = exp_poly(r);
    vi ni = vi_sub(vf_as_vi(k), vf_as_vi(vf_set1(AT_SHIFTER)));  /* [-150, 128] */
    vi n1 = vi_srai(ni, 1);
    vi n2 = vi_sub(ni, n1);
    vf s1 = vi_as_vf(vi_slli(vi_add(n1, vi_set1(127)), 23));
    vf s2 = vi_as_vf(vi_slli(vi_add(n2, vi_set1(127)), 23));
    return vf_mul(vf_mul(p, s1), s2);
}

/* exp for |x| <= 87 (or NaN): one scale factor.  Bit-identical to exp_full
 * there (same n, r and polynomial; one exact power-of-two product). */
static inline vf exp_mid(vf x)
{
    vf k = vf_fma(x, vf_set1(AT_LOG2E), vf_set1(AT_SHIFTER));
    vf n = vf_sub(k, vf_set1(AT_SHIFTER));
    vf r = vf_fnma(n, vf_set1(AT_LN2_HI), x);
    r = vf_fnma(n, vf_set1(AT_LN2_LO), r);
    vf p = exp_poly(r);
    /* bits(k) = 0x4b400000 + n: the shift drops the shifter's bits */
    vf s = vi_as_vf(vi_slli(vi_add(vf_as_vi(k), vi_set1(127)), 23));
    return vf_mul(p, s);
}

/* ------------------------------------------------------------------------ */
/* log                                                                      */

static inline vf log_full(vf x)
{
    vm sub = vf_lt(x, vf_set1(FLT_MIN));      /* subnormal (also 0, <0) */
    vf xs = vf_select(sub, vf_mul(x, vf_set1(0x1p23f)), x);
    vf kadj = vf_and(sub, vf_set1(23.0f));
    vi ix = vi_sub(vf_as_vi(xs), vi_set1(0x3f3504f3));
    vf k = vf_sub(vi_cvt_f(vi_srai(ix, 23)), kadj);
    vf m = vi_as_vf(vi_add(vi_and(ix, vi_set1(0x007fffff)), vi_set1(0x3f3504f3)));
    vf f = vf_sub(m, vf_set1(1.0f));          /* in [-0.29, 0.41], exact */
    vf s = vf_div(f, vf_add(vf_set1(2.0f), f));
    vf z = vf_mul(s, s);
    vf w = vf_mul(z, z);
    vf t1 = vf_mul(w, vf_fma(w, vf_set1(0xf89e26.0p-26f), vf_set1(0xccce13.0p-25f)));
    vf t2 = vf_mul(z, vf_fma(w, vf_set1(0x91e9ee.0p-25f), vf_set1(0xaaaaaa.0p-24f)));
    vf R = vf_add(t2, t1);
    vf hfsq = vf_mul(vf_set1(0.5f), vf_mul(f, f));
    /* s*(hfsq+R) + k*ln2_lo - hfsq + f + k*ln2_hi */
    vf r = vf_fma(s, vf_add(hfsq, R), vf_mul(k, vf_set1(9.0580006145e-06f)));
    r = vf_sub(r, hfsq);
    r = vf_add(r, f);
    r = vf_fma(k, vf_set1(6.9313812256e-01f), r);
    /* specials */
    r = vf_select(vf_eq(x, vf_set1(INFINITY)), vf_set1(INFINITY), r);
    r = vf_select(vf_eq(x, vf_zero()), vf_set1(-INFINITY), r);
    r = vf_select(vm_or(vf_lt(x, vf_zero()), vf_isnan(x)), vf_set1(NAN), r);
    return r;
}

/* ------------------------------------------------------------------------ */
/* tanh, sigmoid                                                            */

static inline vf tanh_v(vf x)
{
    vf ax = vf_abs(x);
    /* small: x + x^3 P(x^2), Cephes tanhf */
    vf z = vf_mul(x, x);
    vf p = vf_set1(-5.70498872745e-3f);
    p = vf_fma(p, z, vf_set1(2.06390887954e-2f));
    p = vf_fma(p, z, vf_set1(-5.37397155531e-2f));
    p = vf_fma(p, z, vf_set1(1.33314422036e-1f));
    p = vf_fma(p, z, vf_set1(-3.33332819422e-1f));
    vf small = vf_copysign(vf_fma(vf_mul(p, z), x, x), x);   /* keeps -0 */
    /* large: 1 - 2/(exp(2|x|)+1); 2|x| clamped to 20 (tanh = 1 in float) */
    vf e = exp_mid(vf_min(vf_set1(20.0f), vf_add(ax, ax)));
    vf big = vf_sub(vf_set1(1.0f), vf_div(vf_set1(2.0f), vf_add(e, vf_set1(1.0f))));
    big = vf_copysign(big, x);
    vf r = vf_select(vf_lt(ax, vf_set1(0.625f)), small, big);
    return vf_select(vf_isnan(x), x, r);
}

/* sigmoid from e = exp(-|x|) in (0, 1] (NaN stays NaN) */
static inline vf sigmoid_e(vf x, vf e)
{
    vm neg = vf_lt(x, vf_zero());
    vf one = vf_set1(1.0f);
    vf num = vf_select(neg, e, one);
    vf d = vf_add(one, e);
    vf err = vf_add(vf_sub(one, d), e);      /* 1 + e = d + err exactly */
    vf q = vf_div(num, d);
    /* q * d / (d + err) ~= q - q * err / d, with 1/d = q (x >= 0) or 1 - q */
    vf rd = vf_select(neg, vf_sub(one, q), q);
    return vf_fnma(vf_mul(q, rd), err, q);
}

/* |x| <= 87 (every lane): d = 1 + exp(-x) lies in [1, 6e37], so the
 * reciprocal estimate is a normal number and one Newton step,
 * r' = r (2 - d r), brings it to ~2^-23: the result stays within 3 ULP
 * (bench/vmath_ulp.c) at a fraction of a division's cost. */
static inline vf sigmoid_fast(vf x)
{
    vf d = vf_add(vf_set1(1.0f), exp_mid(vf_neg(x)));
    vf r = vf_rcp(d);
    return vf_mul(r, vf_fnma(d, r, vf_set1(2.0f)));
}

/* Lanes the single-scale exp_mid handles (|x| <= 87: 2^n stays normal);
 * NaN is sent to the full path as well. */
static inline vm exp_mid_ok(vf x) { return vf_le(vf_abs(x), vf_set1(87.0f)); }

/* Every lane gets the same formula as the fast path where |x| <= 87, so a
 * result never depends on the lane's position in the array; beyond that,
 * 1 / (1 + e) with e = exp(-|x|) and an error-compensated quotient keeps the
 * tiny results of x < -87 (down to subnormals) accurate. */
static inline vf sigmoid_v(vf x)
{
    vf wide = sigmoid_e(x, exp_full(vf_neg(vf_abs(x))));
    return vf_select(exp_mid_ok(x), sigmoid_fast(x), wide);
}

static inline vf exp_v(vf x) { return exp_full(x); }
static inline vf log_v(vf x) { return log_full(x); }
static inline vf sqrt_v(vf x) { return vf_sqrt(x); }

/* ------------------------------------------------------------------------ */
/* Double-precision vector helpers (pow only)                               */

#if AT_ISA_LEVEL == 2
typedef __m512d vd;
typedef __m512i vdi;
static inline vd vd_set1(double a) { return _mm512_set1_pd(a); }
static inline vd vd_add(vd a, vd b) { return _mm512_add_pd(a, b); }
static inline vd vd_sub(vd a, vd b) { return _mm512_sub_pd(a, b); }
static inline vd vd_mul(vd a, vd b) { return _mm512_mul_pd(a, b); }
static inline vd vd_div(vd a, vd b) { return _mm512_div_pd(a, b); }
static inline vd vd_fma(vd a, vd b, vd c) { return _mm512_fmadd_pd(a, b, c); }
static inline vd vd_min(vd a, vd b) { return _mm512_min_pd(a, b); }
static inline vd vd_max(vd a, vd b) { return _mm512_max_pd(a, b); }
static inline vdi vd_as_i(vd a) { return _mm512_castpd_si512(a); }
static inline vd vdi_as_d(vdi a) { return _mm512_castsi512_pd(a); }
static inline vdi vdi_add(vdi a, vdi b) { return _mm512_add_epi64(a, b); }
static inline vdi vdi_set1(long long a) { return _mm512_set1_epi64(a); }
#define vdi_slli(a, imm) _mm512_slli_epi64((a), (imm))
static inline vd vd_lo(vf a) { return _mm512_cvtps_pd(_mm512_castps512_ps256(a)); }
static inline vd vd_hi(vf a)
{
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}
static inline vf vf_from_vd(vd lo, vd hi)
{
    __m256 l = _mm512_cvtpd_ps(lo), h = _mm512_cvtpd_ps(hi);
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(l)),
                                               _mm256_castps_pd(h), 1));
}
#elif AT_ISA_LEVEL == 1
typedef __m256d vd;
typedef __m256i vdi;
static inline vd vd_set1(double a) { return _mm256_set1_pd(a); }
static inline vd vd_add(vd a, vd b) { return _mm256_add_pd(a, b); }
static inline vd vd_sub(vd a, vd b) { return _mm256_sub_pd(a, b); }
static inline vd vd_mul(vd a, vd b) { return _mm256_mul_pd(a, b); }
static inline vd vd_div(vd a, vd b) { return _mm256_div_pd(a, b); }
static inline vd vd_fma(vd a, vd b, vd c) { return _mm256_fmadd_pd(a, b, c); }
static inline vd vd_min(vd a, vd b) { return _mm256_min_pd(a, b); }
static inline vd vd_max(vd a, vd b) { return _mm256_max_pd(a, b); }
static inline vdi vd_as_i(vd a) { return _mm256_castpd_si256(a); }
static inline vd vdi_as_d(vdi a) { return _mm256_castsi256_pd(a); }
static inline vdi vdi_add(vdi a, vdi b) { return _mm256_add_epi64(a, b); }
static inline vdi vdi_set1(long long a) { return _mm256_set1_epi64x(a); }
#define vdi_slli(a, imm) _mm256_slli_epi64((a), (imm))
static inline vd vd_lo(vf a) { return _mm256_cvtps_pd(_mm256_castps256_ps128(a)); }
static inline vd vd_hi(vf a) { return _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)); }
static inline vf vf_from_vd(vd lo, vd hi)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)),
                                _mm256_cvtpd_ps(hi), 1);
}
#else
typedef __m128d vd;
typedef __m128i vdi;
static inline vd vd_set1(double a) { return _mm_set1_pd(a); }
static inline vd vd_add(vd a, vd b) { return _mm_add_pd(a, b); }
static inline vd vd_sub(vd a, vd b) { return _mm_sub_pd(a, b); }
static inline vd vd_mul(vd a, vd b) { return _mm_mul_pd(a, b); }
static inline vd vd_div(vd a, vd b) { return _mm_div_pd(a, b); }
/* no FMA at baseline: two roundings, irrelevant at double precision here */
static inline vd vd_fma(vd a, vd b, vd c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
static inline vd vd_min(vd a, vd b) { return _mm_min_pd(a, b); }
static inline vd vd_max(vd a, vd b) { return _mm_max_pd(a, b); }
static inline vdi vd_as_i(vd a) { return _mm_castpd_si128(a); }
static inline vd vdi_as_d(vdi a) { return _mm_castsi128_pd(a); }
static inline vdi vdi_add(vdi a, vdi b) { return _mm_add_epi64(a, b); }
static inline vdi vdi_set1(long long a) { return _mm_set1_epi64x(a); }
#define vdi_slli(a, imm) _mm_slli_epi64((a), (imm))
static inline vd vd_lo(vf a) { return _mm_cvtps_pd(a); }
static inline vd vd_hi(vf a) { return _mm_cvtps_pd(_mm_movehl_ps(a, a)); }
static inline vf vf_from_vd(vd lo, vd hi)
{
    return _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi));
}
#endif

/* ------------------------------------------------------------------------ */
/* pow                                                                      */

#define AT_LN2D 0.693147180559945309417232121458176568

/* 2^(y * (k + log2 m)) in double, for m in [sqrt(2)/2, sqrt(2)).  The result
 * is rounded to float once, so it is correctly rounded except when the
 * exact value lies within ~1e-13 relative of a float rounding boundary. */
static inline vd pow_core_d(vd m, vd k, vd y)
{
    const vd one = vd_set1(1.0);
    vd s = vd_div(vd_sub(m, one), vd_add(m, one));  /* |s| <= 0.1716 */
    vd z = vd_mul(s, s);
    /* log2 m = (2/ln2) (s + s^3/3 + ... + s^17/17), truncation < 1e-15 */
    vd p = vd_set1(2.0 / (17 * AT_LN2D));
    p = vd_fma(p, z, vd_set1(2.0 / (15 * AT_LN2D)));
    p = vd_fma(p, z, vd_set1(2.0 / (13 * AT_LN2D)));
    p = vd_fma(p, z, vd_set1(2.0 / (11 * AT_LN2D)));
    p = vd_fma(p, z, vd_set1(2.0 / (9 * AT_LN2D)));
    p = vd_fma(p, z, vd_set1(2.0 / (7 * AT_LN2D)));
    p = vd_fma(p, z, vd_set1(2.0 / (5 * AT_LN2D)));
    p = vd_fma(p, z, vd_set1(2.0 / (3 * AT_LN2D)));
    p = vd_fma(p, z, vd_set1(2.0 / AT_LN2D));
    vd l2 = vd_fma(s, p, k);
    vd t = vd_mul(y, l2);
    t = vd_min(vd_set1(300.0), vd_max(vd_set1(-300.0), t));
    /* t = n + f, |f| <= 1/2, n by the round-to-nearest magic constant */
    const vd magic = vd_set1(0x1.8p52);
    vd kk = vd_add(t, magic);
    vd f = vd_sub(t, vd_sub(kk, magic));
    /* 2^f = sum (f ln2)^j / j!, j <= 10: truncation < 1e-14 */
    const double L = AT_LN2D;
    vd q = vd_set1(L * L * L * L * L * L * L * L * L * L / 3628800.0);
    q = vd_fma(q, f, vd_set1(L * L * L * L * L * L * L * L * L / 362880.0));
    q = vd_fma(q, f, vd_set1(L * L * L * L * L * L * L * L / 40320.0));
    q = vd_fma(q, f, vd_set1(L * L * L * L * L * L * L / 5040.0));
    q = vd_fma(q, f, vd_set1(L * L * L * L * L * L / 720.0));
    q = vd_fma(q, f, vd_set1(L * L * L * L * L / 120.0));
    q = vd_fma(q, f, vd_set1(L * L * L * L / 24.0));
    q = vd_fma(q, f, vd_set1(L * L * L / 6.0));
    q = vd_fma(q, f, vd_set1(L * L / 2.0));
    q = vd_fma(q, f, vd_set1(L));
    q = vd_fma(q, f, one);
    /* (bits(kk) + 1023) << 52 == (n + 1023) << 52 for |n| <= 1022 */
    vd sc = vdi_as_d(vdi_slli(vdi_add(vd_as_i(kk), vdi_set1(1023)), 52));
    return vd_mul(q, sc);
}

/* pow(x, y) per C99 Annex F / PyTorch. */
static inline vf pow_v(vf x, vf y)
{
    const vf zero = vf_zero(), one = vf_set1(1.0f), inf = vf_set1(INFINITY);
    vf ax = vf_abs(x);
    vf ay = vf_abs(y);
    /* |x| = 2^k m, m in [sqrt(2)/2, sqrt(2)); subnormals scaled by 2^23 */
    vm sub = vf_lt(ax, vf_set1(FLT_MIN));
    vf axs = vf_select(sub, vf_mul(ax, vf_set1(0x1p23f)), ax);
    vi ix = vi_sub(vf_as_vi(axs), vi_set1(0x3f3504f3));
    vf k = vf_sub(vi_cvt_f(vi_srai(ix, 23)), vf_and(sub, vf_set1(23.0f)));
    vf m = vi_as_vf(vi_add(vi_and(ix, vi_set1(0x007fffff)), vi_set1(0x3f3504f3)));
    vd rlo = pow_core_d(vd_lo(m), vd_lo(k), vd_lo(y));
    vd rhi = pow_core_d(vd_hi(m), vd_hi(k), vd_hi(y));
    vf r = vf_from_vd(rlo, rhi);                /* |x|^y for finite nonzero */

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
    vm yint = vf_eq(vf_round(y), y);             /* true for +-inf */
    vi yi = vf_cvt_i(y);                          /* |y| >= 2^31 -> even */
    vm yodd = vm_and(vm_and(yint, vf_lt(ay, vf_set1(0x1p24f))),
                     vi_eq(vi_and(yi, vi_set1(1)), vi_set1(1)));
    vf xsign = vf_and(x, vf_set1(-0.0f));
    r = vf_or(r, vf_and(yodd, xsign));
    vm dom = vm_and(vf_lt(x, zero), vm_andnot(yint, vm_all()));
    dom = vm_and(dom, vf_lt(ax, inf));            /* pow(-inf, y) is never NaN */
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
static inline vf one_v(vf x) { (void)x; return vf_set1(1.0f); }
static inline vf id_v(vf x) { return x; }
/* pow(x, 0.5) and pow(x, -0.5) as PyTorch computes them: sqrt and 1/sqrt,
 * so sqrt's IEEE cases apply (pow(-0, .5) = -0, pow(-inf, .5) = NaN),
 * not C99 pow's (+0 and +inf). */
static inline vf sqrtp_v(vf x) { return vf_sqrt(x); }
static inline vf rsqrtp_v(vf x) { return vf_div(vf_set1(1.0f), vf_sqrt(x)); }

/* ------------------------------------------------------------------------ */
/* Loops                                                                    */

#define AT_VMATH_UNARY(name, fn)                                              \
    static void name(size_t n, float *y, const float *x)                      \
    {                                                                         \
        size_t i = 0;                                                         \
        for (; i + 4 * VL <= n; i += 4 * VL) {                                \
            vf a0 = vf_load(x + i), a1 = vf_load(x + i + VL);                 \
            vf a2 = vf_load(x + i + 2 * VL), a3 = vf_load(x + i + 3 * VL);    \
            a0 = fn(a0); a1 = fn(a1); a2 = fn(a2); a3 = fn(a3);               \
            vf_store(y + i, a0); vf_store(y + i + VL, a1);                    \
            vf_store(y + i + 2 * VL, a2); vf_store(y + i + 3 * VL, a3);       \
        }                                                                     \
        for (; i + VL <= n; i += VL) vf_store(y + i, fn(vf_load(x + i)));     \
        if (i < n) vf_store_n(y + i, fn(vf_load_n(x + i, n - i)), n - i);     \
    }

/* Fast path over 4 vectors when every lane passes ok(), else the full path. */
#define AT_VMATH_UNARY_FS(name, fast, full, ok)                               \
    static void name(size_t n, float *y, const float *x)                      \
    {                                                                         \
        size_t i = 0;                                                         \
        for (; i + 4 * VL <= n; i += 4 * VL) {                                \
            vf a0 = vf_load(x + i), a1 = vf_load(x + i + VL);                 \
            vf a2 = vf_load(x + i + 2 * VL), a3 = vf_load(x + i + 3 * VL);    \
            vm g = vm_and(vm_and(ok(a0), ok(a1)), vm_and(ok(a2), ok(a3)));    \
            vf r0, r1, r2, r3;                                                \
            if (!vm_any(vm_not(g))) {                                         \
                r0 = fast(a0); r1 = fast(a1); r2 = fast(a2); r3 = fast(a3);   \
            } else {                                                          \
                r0 = full(a0); r1 = full(a1); r2 = full(a2); r3 = full(a3);   \
            }                                                                 \
            vf_store(y + i, r0); vf_store(y + i + VL, r1);                    \
            vf_store(y + i + 2 * VL, r2); vf_store(y + i + 3 * VL, r3);       \
        }                                                                     \
        for (; i + VL <= n; i += VL) vf_store(y + i, full(vf_load(x + i)));   \
        if (i < n) vf_store_n(y + i, full(vf_load_n(x + i, n - i)), n - i);   \
    }

AT_VMATH_UNARY_FS(k_exp, exp_mid, exp_v, exp_mid_ok)
AT_VMATH_UNARY(k_log, log_v)
AT_VMATH_UNARY(k_tanh, tanh_v)
AT_VMATH_UNARY_FS(k_sigmoid, sigmoid_fast, sigmoid_v, exp_mid_ok)
AT_VMATH_UNARY(k_sqrt, sqrt_v)
AT_VMATH_UNARY(k_pow_sqr, sqr_v)
AT_VMATH_UNARY(k_pow_cube, cube_v)
AT_VMATH_UNARY(k_pow_recip, recip_v)
AT_VMATH_UNARY(k_pow_rsquare, rsquare_v)
AT_VMATH_UNARY(k_pow_half, sqrtp_v)
AT_VMATH_UNARY(k_pow_rhalf, rsqrtp_v)
AT_VMATH_UNARY(k_pow_one, one_v)
AT_VMATH_UNARY(k_pow_id, id_v)

static void k_pow(size_t n, float *y, const float *a, const float *b)
{
    size_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        vf r0 = pow_v(vf_load(a + i), vf_load(b + i));
        vf r1 = pow_v(vf_load(a + i + VL), vf_load(b + i + VL));
        vf_store(y + i, r0);
        vf_store(y + i + VL, r1);
    }
    for (; i + VL <= n; i += VL) vf_store(y + i, pow_v(vf_load(a + i), vf_load(b + i)));
    if (i < n)
        vf_store_n(y + i, pow_v(vf_load_n(a + i, n - i), vf_load_n(b + i, n - i)), n - i);
}

static void k_pow_s(size_t n, float *y, const float *a, float s)
{
    if (s == 0.0f) { k_pow_one(n, y, a); return; }
    if (s == 1.0f) { if (y != a) k_pow_id(n, y, a); return; }
    if (s == 2.0f) { k_pow_sqr(n, y, a); return; }
    if (s == 3.0f) { k_pow_cube(n, y, a); return; }
    if (s == 0.5f) { k_pow_half(n, y, a); return; }
    if (s == -0.5f) { k_pow_rhalf(n, y, a); return; }
    if (s == -1.0f) { k_pow_recip(n, y, a); return; }
    if (s == -2.0f) { k_pow_rsquare(n, y, a); return; }
    const vf vs = vf_set1(s);
    size_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        vf r0 = pow_v(vf_load(a + i), vs);
        vf r1 = pow_v(vf_load(a + i + VL), vs);
        vf_store(y + i, r0);
        vf_store(y + i + VL, r1);
    }
    for (; i + VL <= n; i += VL) vf_store(y + i, pow_v(vf_load(a + i), vs));
    if (i < n) vf_store_n(y + i, pow_v(vf_load_n(a + i, n - i), vs), n - i);
}

static void k_pow_rs(size_t n, float *y, const float *a, float s)
{
    const vf vs = vf_set1(s);
    size_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        vf r0 = pow_v(vs, vf_load(a + i));
        vf r1 = pow_v(vs, vf_load(a + i + VL));
        vf_store(y + i, r0);
        vf_store(y + i + VL, r1);
    }
    for (; i + VL <= n; i += VL) vf_store(y + i, pow_v(vs, vf_load(a + i)));
    if (i < n) vf_store_n(y + i, pow_v(vs, vf_load_n(a + i, n - i)), n - i);
}

/* y = exp(x - s) and the sum of y, in one pass.  Per lane the result is
 * bit-identical to sub then exp (exp_mid equals exp_v wherever exp_mid_ok
 * holds), so fusing never changes y; the sum runs in float lanes over runs
 * of 2048 elements and in double across runs, like the rsum kernel. */
static inline vf exp_sub(vf x, vf vs)
{
    vf d = vf_sub(x, vs);
    return vm_any(vm_not(exp_mid_ok(d))) ? exp_v(d) : exp_mid(d);
}

static double k_exp_sub_sum(size_t n, float *y, const float *x, float s)
{
    const vf vs = vf_set1(s);
    double total = 0.0;
    size_t i = 0;
    while (i < n) {
        size_t end = n - i > 2048 ? i + 2048 : n;
        vf s0 = vf_zero(), s1 = vf_zero();
        for (; i + 2 * VL <= end; i += 2 * VL) {
            vf e0 = exp_sub(vf_load(x + i), vs), e1 = exp_sub(vf_load(x + i + VL), vs);
            vf_store(y + i, e0);
            vf_store(y + i + VL, e1);
            s0 = vf_add(s0, e0);
            s1 = vf_add(s1, e1);
        }
        for (; i + VL <= end; i += VL) {
            vf e = exp_sub(vf_load(x + i), vs);
            vf_store(y + i, e);
            s0 = vf_add(s0, e);
        }
        if (i < end) {
            size_t r = end - i;
            vf_store_n(y + i, exp_sub(vf_load_n(x + i, r), vs), r);
            s1 = vf_add(s1, vf_load_n(y + i, r));    /* lanes past r read as 0 */
            i = end;
        }
        total += vf_hsum_d(vf_add(s0, s1));
    }
    return total;
}

void AT_ISA_FN(at_register_vmath)(at_ktable *t)
{
    t->unary[AT_UN_EXP] = k_exp;
    t->unary[AT_UN_LOG] = k_log;
    t->unary[AT_UN_TANH] = k_tanh;
    t->unary[AT_UN_SIGMOID] = k_sigmoid;
    t->unary[AT_UN_SQRT] = k_sqrt;
    t->binary[AT_BIN_POW] = k_pow;
    t->binary_s[AT_BIN_POW] = k_pow_s;
    t->binary_rs[AT_BIN_POW] = k_pow_rs;
    t->exp_sub_sum = k_exp_sub_sum;
}
