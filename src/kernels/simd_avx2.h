/* Vector vocabulary, AVX2 + FMA level (8 float lanes).  See simd.h. */
#include <immintrin.h>

#define VL 8
typedef __m256 vf;
typedef __m256i vi;
typedef __m256 vm;

static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline vi vi_tail_mask(size_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf vf_load_n(const float *p, size_t n)
{
    return _mm256_maskload_ps(p, vi_tail_mask(n));
}
static inline void vf_store_n(float *p, vf v, size_t n)
{
    _mm256_maskstore_ps(p, vi_tail_mask(n), v);
}
static inline vf vf_set1(float x) { return _mm256_set1_ps(x); }
static inline vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vf_fnma(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }
/* reciprocal estimate (12+ bits); refine with a Newton step */
static inline vf vf_rcp(vf a) { return _mm256_rcp_ps(a); }
static inline vf vf_sqrt(vf a) { return _mm256_sqrt_ps(a); }
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vf_and(vf a, vf b) { return _mm256_and_ps(a, b); }
static inline vf vf_andnot(vf a, vf b)
{
    return _mm256_andnot_ps(a, b);
} /* ~a & b */
static inline vf vf_or(vf a, vf b) { return _mm256_or_ps(a, b); }
static inline vf vf_xor(vf a, vf b) { return _mm256_xor_ps(a, b); }
static inline vf vf_round(vf a)
{
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vf vf_floor(vf a)
{
    return _mm256_round_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}

static inline vm vf_lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline vm vf_le(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
static inline vm vf_gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline vm vf_ge(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
static inline vm vf_eq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
static inline vm vf_ne(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }
static inline vm vf_isnan(vf a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
static inline vf vf_select(vm m, vf a, vf b)
{
    return _mm256_blendv_ps(b, a, m);
}
static inline vm vm_or(vm a, vm b) { return _mm256_or_ps(a, b); }
static inline vm vm_and(vm a, vm b) { return _mm256_and_ps(a, b); }
static inline vm vm_andnot(vm a, vm b) { return _mm256_andnot_ps(a, b); }
static inline vm vm_none(void) { return _mm256_setzero_ps(); }
static inline int vm_any(vm m) { return _mm256_movemask_ps(m) != 0; }
/* Masks as int32 lanes (-1 / 0) in memory, for the compare/select kernels. */
static inline vm vm_load(const int32_t *p)
{
    return _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)p));
}
static inline void vm_store(int32_t *p, vm m)
{
    _mm256_storeu_si256((__m256i *)p, _mm256_castps_si256(m));
}

static inline vi vf_cvt_i(vf a) { return _mm256_cvtps_epi32(a); } /* nearest */
static inline vf vi_cvt_f(vi a) { return _mm256_cvtepi32_ps(a); }
static inline vi vf_as_vi(vf a) { return _mm256_castps_si256(a); }
static inline vf vi_as_vf(vi a) { return _mm256_castsi256_ps(a); }
static inline vi vi_set1(int32_t x) { return _mm256_set1_epi32(x); }
static inline vi vi_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm256_sub_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm256_and_si256(a, b); }
static inline vi vi_or(vi a, vi b) { return _mm256_or_si256(a, b); }
static inline vm vi_gt(vi a, vi b)
{
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(a, b));
}
static inline vm vi_eq(vi a, vi b)
{
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b));
}
#define vi_slli(a, imm) _mm256_slli_epi32((a), (imm))
#define vi_srli(a, imm) _mm256_srli_epi32((a), (imm))
#define vi_srai(a, imm) _mm256_srai_epi32((a), (imm))

/* Entry i & 3 of the 4-float column c (16-byte aligned) in each lane: one
 * in-lane permute (vpermilps reads the index's low two bits) of the column
 * repeated in both halves. */
static inline vf vf_lookup4(const float *c, vi i)
{
    return _mm256_permutevar_ps(_mm256_broadcast_ps((const __m128 *)c), i);
}

/* Streaming store of one vector; p must be 32-byte aligned. */
static inline void vf_stream(float *p, vf v) { _mm256_stream_ps(p, v); }
static inline void vf_stream_fence(void) { _mm_sfence(); }

/* Doubles, VL / 2 lanes (see simd.h). */
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
static inline vd vd_lo(vf a)
{
    return _mm256_cvtps_pd(_mm256_castps256_ps128(a));
}
static inline vd vd_hi(vf a)
{
    return _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1));
}
static inline vd vd_lo_i(vi a)
{
    return _mm256_cvtepi32_pd(_mm256_castsi256_si128(a));
}
static inline vd vd_hi_i(vi a)
{
    return _mm256_cvtepi32_pd(_mm256_extracti128_si256(a, 1));
}
static inline vf vf_from_vd(vd lo, vd hi)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)),
                                _mm256_cvtpd_ps(hi), 1);
}
