/* Vector vocabulary, AVX-512 F/DQ/BW/VL level (16 float lanes).  See simd.h.
 * Masks are kept as vectors (all-ones lanes) so kernels written for the
 * AVX2 vocabulary need no change; only tails use the k-register masks. */
#include <immintrin.h>

#define VL 16
typedef __m512 vf;
typedef __m512i vi;
typedef __m512 vm;

static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline __mmask16 at_k_tail(size_t n)
{
    return (__mmask16)((1u << n) - 1u);
}
static inline vf vf_load_n(const float *p, size_t n)
{
    return _mm512_maskz_loadu_ps(at_k_tail(n), p);
}
static inline void vf_store_n(float *p, vf v, size_t n)
{
    _mm512_mask_storeu_ps(p, at_k_tail(n), v);
}
static inline vf vf_set1(float x) { return _mm512_set1_ps(x); }
static inline vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vf_fnma(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
/* reciprocal estimate (12+ bits); refine with a Newton step */
static inline vf vf_rcp(vf a) { return _mm512_rcp14_ps(a); }
static inline vf vf_sqrt(vf a) { return _mm512_sqrt_ps(a); }
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vf_and(vf a, vf b) { return _mm512_and_ps(a, b); }
static inline vf vf_andnot(vf a, vf b) { return _mm512_andnot_ps(a, b); }
static inline vf vf_or(vf a, vf b) { return _mm512_or_ps(a, b); }
static inline vf vf_xor(vf a, vf b) { return _mm512_xor_ps(a, b); }
static inline vf vf_round(vf a)
{
    return _mm512_roundscale_ps(a,
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vf vf_floor(vf a)
{
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}

static inline vm at_k_to_vm(__mmask16 k)
{
    return _mm512_castsi512_ps(_mm512_movm_epi32(k));
}
static inline __mmask16 at_vm_to_k(vm m)
{
    return _mm512_movepi32_mask(_mm512_castps_si512(m));
}
/* Compare a and b lane by lane with predicate p, as a vector mask. */
#define at_cmp(a, b, p) at_k_to_vm(_mm512_cmp_ps_mask((a), (b), (p)))
static inline vm vf_lt(vf a, vf b) { return at_cmp(a, b, _CMP_LT_OQ); }
static inline vm vf_le(vf a, vf b) { return at_cmp(a, b, _CMP_LE_OQ); }
static inline vm vf_gt(vf a, vf b) { return at_cmp(a, b, _CMP_GT_OQ); }
static inline vm vf_ge(vf a, vf b) { return at_cmp(a, b, _CMP_GE_OQ); }
static inline vm vf_eq(vf a, vf b) { return at_cmp(a, b, _CMP_EQ_OQ); }
static inline vm vf_ne(vf a, vf b) { return at_cmp(a, b, _CMP_NEQ_UQ); }
static inline vm vf_isnan(vf a) { return at_cmp(a, a, _CMP_UNORD_Q); }
static inline vf vf_select(vm m, vf a, vf b)
{
    return _mm512_mask_blend_ps(at_vm_to_k(m), b, a);
}
static inline vm vm_or(vm a, vm b) { return _mm512_or_ps(a, b); }
static inline vm vm_and(vm a, vm b) { return _mm512_and_ps(a, b); }
static inline vm vm_andnot(vm a, vm b) { return _mm512_andnot_ps(a, b); }
static inline vm vm_none(void) { return _mm512_setzero_ps(); }
static inline int vm_any(vm m) { return at_vm_to_k(m) != 0; }
static inline vm vm_load(const int32_t *p)
{
    return _mm512_castsi512_ps(_mm512_loadu_si512((const void *)p));
}
static inline void vm_store(int32_t *p, vm m)
{
    _mm512_storeu_si512((void *)p, _mm512_castps_si512(m));
}

static inline vi vf_cvt_i(vf a) { return _mm512_cvtps_epi32(a); }
static inline vf vi_cvt_f(vi a) { return _mm512_cvtepi32_ps(a); }
static inline vi vf_as_vi(vf a) { return _mm512_castps_si512(a); }
static inline vf vi_as_vf(vi a) { return _mm512_castsi512_ps(a); }
static inline vi vi_set1(int32_t x) { return _mm512_set1_epi32(x); }
static inline vi vi_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
static inline vi vi_or(vi a, vi b) { return _mm512_or_si512(a, b); }
static inline vm vi_gt(vi a, vi b)
{
    return at_k_to_vm(_mm512_cmpgt_epi32_mask(a, b));
}
static inline vm vi_eq(vi a, vi b)
{
    return at_k_to_vm(_mm512_cmpeq_epi32_mask(a, b));
}
#define vi_slli(a, imm) _mm512_slli_epi32((a), (imm))
#define vi_srli(a, imm) _mm512_srli_epi32((a), (imm))
#define vi_srai(a, imm) _mm512_srai_epi32((a), (imm))

/* Entry i & 3 of the 4-float column c (16-byte aligned) in each lane: one
 * in-lane permute (vpermilps reads the index's low two bits) of the column
 * repeated in all four quarters. */
static inline vf vf_lookup4(const float *c, vi i)
{
    return _mm512_permutevar_ps(_mm512_broadcast_f32x4(_mm_load_ps(c)), i);
}

/* Whether |a| <= b in every lane of a[0..n), for b positive and finite (a
 * NaN lane fails), in integer lanes: |a|'s bits plus 2^31 - (bits(b) + 1)
 * reach the sign bit exactly where |a| > b or a is NaN.  The float compares
 * of the generic form (simd.h) would each turn a k-mask into a vector. */
#define AT_HAVE_VF_ALL_ABS_LE 1
static inline int vf_all_abs_le(const vf *a, int n, float b)
{
    uint32_t bb;
    memcpy(&bb, &b, sizeof bb);
    __m512i c = _mm512_set1_epi32((int32_t)(0x80000000u - (bb + 1u)));
    __m512i acc = _mm512_setzero_si512();
    for (int j = 0; j < n; j++)
        acc = _mm512_or_si512(
            acc,
            _mm512_add_epi32(_mm512_and_si512(_mm512_castps_si512(a[j]),
                                              _mm512_set1_epi32(0x7fffffff)),
                             c));
    return _mm512_movepi32_mask(acc) == 0;
}

/* Streaming store of one vector; p must be 64-byte aligned. */
static inline void vf_stream(float *p, vf v) { _mm512_stream_ps(p, v); }
static inline void vf_stream_fence(void) { _mm_sfence(); }

/* Doubles, VL / 2 lanes (see simd.h). */
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
static inline vd vd_lo(vf a)
{
    return _mm512_cvtps_pd(_mm512_castps512_ps256(a));
}
static inline vd vd_hi(vf a)
{
    return _mm512_cvtps_pd(
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}
static inline vd vd_lo_i(vi a)
{
    return _mm512_cvtepi32_pd(_mm512_castsi512_si256(a));
}
static inline vd vd_hi_i(vi a)
{
    return _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(a, 1));
}
static inline vf vf_from_vd(vd lo, vd hi)
{
    __m256 l = _mm512_cvtpd_ps(lo), h = _mm512_cvtpd_ps(hi);
    return _mm512_castpd_ps(_mm512_insertf64x4(
        _mm512_castpd256_pd512(_mm256_castps_pd(l)), _mm256_castps_pd(h), 1));
}
