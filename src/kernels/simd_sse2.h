/* Vector vocabulary, baseline x86-64 level: SSE2 only (4 float lanes).
 * SSE2 has no FMA, no blend and no rounding instruction: those are built
 * from what SSE2 has, with the same results (fma is a*b+c rounded twice,
 * which the accuracy budget of every kernel allows for). */
#include <emmintrin.h>

#define VL 4
typedef __m128 vf;
typedef __m128i vi;
typedef __m128 vm;

static inline vf vf_load(const float *p) { return _mm_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm_storeu_ps(p, v); }
AT_TAILS_VIA_ARRAY(_mm_loadu_ps, _mm_storeu_ps)
static inline vf vf_set1(float x) { return _mm_set1_ps(x); }
static inline vf vf_zero(void) { return _mm_setzero_ps(); }
static inline vf vf_add(vf a, vf b) { return _mm_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm_div_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c)
{
    return _mm_add_ps(_mm_mul_ps(a, b), c);
}
static inline vf vf_fnma(vf a, vf b, vf c)
{
    return _mm_sub_ps(c, _mm_mul_ps(a, b));
}
/* reciprocal estimate (12+ bits); refine with a Newton step */
static inline vf vf_rcp(vf a) { return _mm_rcp_ps(a); }
static inline vf vf_sqrt(vf a) { return _mm_sqrt_ps(a); }
static inline vf vf_min(vf a, vf b) { return _mm_min_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm_max_ps(a, b); }
static inline vf vf_and(vf a, vf b) { return _mm_and_ps(a, b); }
static inline vf vf_andnot(vf a, vf b) { return _mm_andnot_ps(a, b); }
static inline vf vf_or(vf a, vf b) { return _mm_or_ps(a, b); }
static inline vf vf_xor(vf a, vf b) { return _mm_xor_ps(a, b); }

static inline vm vf_lt(vf a, vf b) { return _mm_cmplt_ps(a, b); }
static inline vm vf_le(vf a, vf b) { return _mm_cmple_ps(a, b); }
static inline vm vf_gt(vf a, vf b) { return _mm_cmpgt_ps(a, b); }
static inline vm vf_ge(vf a, vf b) { return _mm_cmpge_ps(a, b); }
static inline vm vf_eq(vf a, vf b) { return _mm_cmpeq_ps(a, b); }
static inline vm vf_ne(vf a, vf b) { return _mm_cmpneq_ps(a, b); }
static inline vm vf_isnan(vf a) { return _mm_cmpunord_ps(a, a); }
static inline vf vf_select(vm m, vf a, vf b)
{
    return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b));
}
static inline vm vm_or(vm a, vm b) { return _mm_or_ps(a, b); }
static inline vm vm_and(vm a, vm b) { return _mm_and_ps(a, b); }
static inline vm vm_andnot(vm a, vm b) { return _mm_andnot_ps(a, b); }
static inline vm vm_none(void) { return _mm_setzero_ps(); }
static inline int vm_any(vm m) { return _mm_movemask_ps(m) != 0; }
static inline vm vm_load(const int32_t *p)
{
    return _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)p));
}
static inline void vm_store(int32_t *p, vm m)
{
    _mm_storeu_si128((__m128i *)p, _mm_castps_si128(m));
}

static inline vi vf_cvt_i(vf a)
{
    return _mm_cvtps_epi32(a);
}  /* nearest (MXCSR default) */
static inline vf vi_cvt_f(vi a) { return _mm_cvtepi32_ps(a); }
static inline vi vf_as_vi(vf a) { return _mm_castps_si128(a); }
static inline vf vi_as_vf(vi a) { return _mm_castsi128_ps(a); }
static inline vi vi_set1(int32_t x) { return _mm_set1_epi32(x); }
static inline vi vi_add(vi a, vi b) { return _mm_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm_sub_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm_and_si128(a, b); }
static inline vi vi_or(vi a, vi b) { return _mm_or_si128(a, b); }
static inline vm vi_gt(vi a, vi b)
{
    return _mm_castsi128_ps(_mm_cmpgt_epi32(a, b));
}
static inline vm vi_eq(vi a, vi b)
{
    return _mm_castsi128_ps(_mm_cmpeq_epi32(a, b));
}
#define vi_slli(a, imm) _mm_slli_epi32((a), (imm))
#define vi_srli(a, imm) _mm_srli_epi32((a), (imm))
#define vi_srai(a, imm) _mm_srai_epi32((a), (imm))

/* Entry i & 3 of the 4-float column c (16-byte aligned) in each lane.
 * SSE2 has no variable permute: each entry is and-ed with the lanes whose
 * index selects it and the four or-ed together (the masks depend on i
 * alone, so a caller reading several columns at one i computes them once;
 * measured faster than a scalar load per lane). */
static inline vf vf_lookup4(const float *c, vi i)
{
    const __m128i k = _mm_and_si128(i, _mm_set1_epi32(3));
    vf r = _mm_setzero_ps();
    for (int e = 0; e < 4; e++) {
        __m128 on = _mm_castsi128_ps(_mm_cmpeq_epi32(k, _mm_set1_epi32(e)));
        r = _mm_or_ps(r, _mm_and_ps(on, _mm_set1_ps(c[e])));
    }
    return r;
}

/* Round to nearest even without SSE4.1: add and subtract 2^23 with the
 * sign of a; |a| >= 2^23 is already integral. */
static inline vf vf_round(vf a)
{
    vf big = _mm_set1_ps(8388608.0f);
    vf sgn = _mm_and_ps(a, _mm_set1_ps(-0.0f));
    vf mag = _mm_andnot_ps(_mm_set1_ps(-0.0f), a);
    vf r = _mm_sub_ps(_mm_add_ps(mag, big), big);
    r = vf_select(_mm_cmplt_ps(mag, big), r, mag);
    return _mm_or_ps(r, sgn);
}
static inline vf vf_floor(vf a)
{
    vf r = vf_round(a);
    return _mm_sub_ps(r, _mm_and_ps(_mm_cmpgt_ps(r, a), _mm_set1_ps(1.0f)));
}

/* Streaming stores: this level writes through the caches, so the _nt
 * kernels store as the others do and need no fence. */
static inline void vf_stream(float *p, vf v) { vf_store(p, v); }
static inline void vf_stream_fence(void) {}

/* Doubles, VL / 2 lanes (see simd.h). */
typedef __m128d vd;
typedef __m128i vdi;
static inline vd vd_set1(double a) { return _mm_set1_pd(a); }
static inline vd vd_add(vd a, vd b) { return _mm_add_pd(a, b); }
static inline vd vd_sub(vd a, vd b) { return _mm_sub_pd(a, b); }
static inline vd vd_mul(vd a, vd b) { return _mm_mul_pd(a, b); }
static inline vd vd_div(vd a, vd b) { return _mm_div_pd(a, b); }
/* no FMA at baseline: two roundings, irrelevant at double precision here */
static inline vd vd_fma(vd a, vd b, vd c)
{
    return _mm_add_pd(_mm_mul_pd(a, b), c);
}
static inline vd vd_min(vd a, vd b) { return _mm_min_pd(a, b); }
static inline vd vd_max(vd a, vd b) { return _mm_max_pd(a, b); }
static inline vdi vd_as_i(vd a) { return _mm_castpd_si128(a); }
static inline vd vdi_as_d(vdi a) { return _mm_castsi128_pd(a); }
static inline vdi vdi_add(vdi a, vdi b) { return _mm_add_epi64(a, b); }
static inline vdi vdi_set1(long long a) { return _mm_set1_epi64x(a); }
#define vdi_slli(a, imm) _mm_slli_epi64((a), (imm))
static inline vd vd_lo(vf a) { return _mm_cvtps_pd(a); }
static inline vd vd_hi(vf a) { return _mm_cvtps_pd(_mm_movehl_ps(a, a)); }
static inline vd vd_lo_i(vi a) { return _mm_cvtepi32_pd(a); }
static inline vd vd_hi_i(vi a)
{
    return _mm_cvtepi32_pd(_mm_unpackhi_epi64(a, a));
}
static inline vf vf_from_vd(vd lo, vd hi)
{
    return _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi));
}
