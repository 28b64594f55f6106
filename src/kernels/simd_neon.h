/* Vector vocabulary, AArch64 Advanced SIMD (NEON) level: 4 float lanes with
 * FMA, 32 registers.  See simd.h.
 *
 * Masks are float vectors whose lanes are all ones or all zeros, as on x86,
 * so kernels may combine a mask with vf_and/vf_or.  Where NEON's own
 * semantics differ from the x86 ones the kernels are written for, the x86
 * result is built: vf_min/vf_max return b when either operand is NaN (NEON's
 * fmin/fmax return the NaN), vf_rcp carries one Newton step (NEON's estimate
 * has 8 bits, x86's 12).  vf_cvt_i saturates out-of-range lanes and turns
 * NaN into 0 where x86 gives INT32_MIN; the kernels use it only on lanes
 * below 2^24 in magnitude. */
#include <arm_neon.h>

#define VL 4
typedef float32x4_t vf;
typedef int32x4_t vi;
typedef float32x4_t vm;

static inline uint32x4_t at_u(vf a) { return vreinterpretq_u32_f32(a); }
static inline vf at_f(uint32x4_t a) { return vreinterpretq_f32_u32(a); }

static inline vf vf_load(const float *p) { return vld1q_f32(p); }
static inline void vf_store(float *p, vf v) { vst1q_f32(p, v); }
AT_TAILS_VIA_ARRAY(vld1q_f32, vst1q_f32)
static inline vf vf_set1(float x) { return vdupq_n_f32(x); }
static inline vf vf_zero(void) { return vdupq_n_f32(0.0f); }
static inline vf vf_add(vf a, vf b) { return vaddq_f32(a, b); }
static inline vf vf_sub(vf a, vf b) { return vsubq_f32(a, b); }
static inline vf vf_mul(vf a, vf b) { return vmulq_f32(a, b); }
static inline vf vf_div(vf a, vf b) { return vdivq_f32(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); }
static inline vf vf_fnma(vf a, vf b, vf c) { return vfmsq_f32(c, a, b); }
/* reciprocal estimate refined once to the x86 estimate's 12+ bits; callers
 * refine further with their own Newton step */
static inline vf vf_rcp(vf a)
{
    vf e = vrecpeq_f32(a);
    return vmulq_f32(e, vrecpsq_f32(a, e));
}
static inline vf vf_sqrt(vf a) { return vsqrtq_f32(a); }
static inline vf vf_and(vf a, vf b)
{
    return at_f(vandq_u32(at_u(a), at_u(b)));
}
static inline vf vf_andnot(vf a, vf b) /* ~a & b */
{
    return at_f(vbicq_u32(at_u(b), at_u(a)));
}
static inline vf vf_or(vf a, vf b) { return at_f(vorrq_u32(at_u(a), at_u(b))); }
static inline vf vf_xor(vf a, vf b)
{
    return at_f(veorq_u32(at_u(a), at_u(b)));
}
static inline vf vf_round(vf a) { return vrndnq_f32(a); } /* nearest even */
static inline vf vf_floor(vf a) { return vrndmq_f32(a); }

static inline vm vf_lt(vf a, vf b) { return at_f(vcltq_f32(a, b)); }
static inline vm vf_le(vf a, vf b) { return at_f(vcleq_f32(a, b)); }
static inline vm vf_gt(vf a, vf b) { return at_f(vcgtq_f32(a, b)); }
static inline vm vf_ge(vf a, vf b) { return at_f(vcgeq_f32(a, b)); }
static inline vm vf_eq(vf a, vf b) { return at_f(vceqq_f32(a, b)); }
/* unordered lanes compare not-equal, as x86's NEQ_UQ */
static inline vm vf_ne(vf a, vf b) { return at_f(vmvnq_u32(vceqq_f32(a, b))); }
static inline vm vf_isnan(vf a) { return at_f(vmvnq_u32(vceqq_f32(a, a))); }
static inline vf vf_select(vm m, vf a, vf b)
{
    return vbslq_f32(at_u(m), a, b);
}
/* x86 minps/maxps: a when the comparison holds, else b (so b for NaN) */
static inline vf vf_min(vf a, vf b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
static inline vf vf_max(vf a, vf b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
static inline vm vm_or(vm a, vm b) { return vf_or(a, b); }
static inline vm vm_and(vm a, vm b) { return vf_and(a, b); }
static inline vm vm_andnot(vm a, vm b) { return vf_andnot(a, b); }
static inline vm vm_none(void) { return vf_zero(); }
static inline int vm_any(vm m) { return vmaxvq_u32(at_u(m)) != 0; }
/* Masks as int32 lanes (-1 / 0) in memory, for the compare/select kernels. */
static inline vm vm_load(const int32_t *p)
{
    return vreinterpretq_f32_s32(vld1q_s32(p));
}
static inline void vm_store(int32_t *p, vm m)
{
    vst1q_s32(p, vreinterpretq_s32_f32(m));
}

static inline vi vf_cvt_i(vf a) { return vcvtnq_s32_f32(a); } /* nearest */
static inline vf vi_cvt_f(vi a) { return vcvtq_f32_s32(a); }
static inline vi vf_as_vi(vf a) { return vreinterpretq_s32_f32(a); }
static inline vf vi_as_vf(vi a) { return vreinterpretq_f32_s32(a); }
static inline vi vi_set1(int32_t x) { return vdupq_n_s32(x); }
static inline vi vi_add(vi a, vi b) { return vaddq_s32(a, b); }
static inline vi vi_sub(vi a, vi b) { return vsubq_s32(a, b); }
static inline vi vi_and(vi a, vi b) { return vandq_s32(a, b); }
static inline vi vi_or(vi a, vi b) { return vorrq_s32(a, b); }
static inline vm vi_gt(vi a, vi b) { return at_f(vcgtq_s32(a, b)); }
static inline vm vi_eq(vi a, vi b) { return at_f(vceqq_s32(a, b)); }
#define vi_slli(a, imm) vshlq_n_s32((a), (imm))
#define vi_srli(a, imm) \
    vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(a), (imm)))
#define vi_srai(a, imm) vshrq_n_s32((a), (imm))

/* Entry i & 3 of the 4-float column c (16-byte aligned) in each lane: one
 * byte table lookup (tbl) at bytes 4 (i & 3) + 0..3 of each lane. */
static inline vf vf_lookup4(const float *c, vi i)
{
    uint32x4_t m = vandq_u32(vreinterpretq_u32_s32(i), vdupq_n_u32(3));
    uint32x4_t at = vmlaq_n_u32(vdupq_n_u32(0x03020100u), m, 0x04040404u);
    return vreinterpretq_f32_u8(vqtbl1q_u8(vreinterpretq_u8_f32(vld1q_f32(c)),
                                           vreinterpretq_u8_u32(at)));
}

/* Streaming stores: AArch64's non-temporal pair store (stnp) is only a hint
 * and needs no fence, so this level writes through the caches as the
 * baseline does; the _nt kernels store as the others do. */
static inline void vf_stream(float *p, vf v) { vf_store(p, v); }
static inline void vf_stream_fence(void) {}

/* Doubles, VL / 2 lanes (see simd.h). */
typedef float64x2_t vd;
typedef int64x2_t vdi;
static inline vd vd_set1(double a) { return vdupq_n_f64(a); }
static inline vd vd_add(vd a, vd b) { return vaddq_f64(a, b); }
static inline vd vd_sub(vd a, vd b) { return vsubq_f64(a, b); }
static inline vd vd_mul(vd a, vd b) { return vmulq_f64(a, b); }
static inline vd vd_div(vd a, vd b) { return vdivq_f64(a, b); }
static inline vd vd_fma(vd a, vd b, vd c) { return vfmaq_f64(c, a, b); }
static inline vd vd_min(vd a, vd b) { return vbslq_f64(vcltq_f64(a, b), a, b); }
static inline vd vd_max(vd a, vd b) { return vbslq_f64(vcgtq_f64(a, b), a, b); }
static inline vdi vd_as_i(vd a) { return vreinterpretq_s64_f64(a); }
static inline vd vdi_as_d(vdi a) { return vreinterpretq_f64_s64(a); }
static inline vdi vdi_add(vdi a, vdi b) { return vaddq_s64(a, b); }
static inline vdi vdi_set1(long long a) { return vdupq_n_s64(a); }
#define vdi_slli(a, imm) vshlq_n_s64((a), (imm))
static inline vd vd_lo(vf a) { return vcvt_f64_f32(vget_low_f32(a)); }
static inline vd vd_hi(vf a) { return vcvt_high_f64_f32(a); }
static inline vd vd_lo_i(vi a)
{
    return vcvtq_f64_s64(vmovl_s32(vget_low_s32(a)));
}
static inline vd vd_hi_i(vi a) { return vcvtq_f64_s64(vmovl_high_s32(a)); }
static inline vf vf_from_vd(vd lo, vd hi)
{
    return vcvt_high_f32_f64(vcvt_f32_f64(lo), hi);
}
