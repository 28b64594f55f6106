/* Hologram Atlas — the small vector vocabulary every kernel is written in.
 *
 * One kernel source, compiled once per ISA level: this header picks the
 * level's definitions from AT_ISA_LEVEL (set by meson.build, never from
 * -march=native).  Every helper is static inline, so no wide-ISA copy can
 * leak into code built for a narrower level.
 *
 *   vf   VL floats          vi   VL int32 lanes      vm   a lane mask
 *   vf_load/vf_store        unaligned full vectors
 *   vf_load_n/vf_store_n    the first n < VL lanes (others read as 0)
 *   load_upto/store_upto    min(n, VL) lanes: a full vector when n >= VL
 *   vf_min/vf_max           x86 semantics: return b when either is NaN
 *   vf_select(m, a, b)      m ? a : b per lane
 *   vf_stream               streaming (non-temporal) store of a full vector
 *                           to a vector-aligned address; vf_stream_fence
 *                           orders the streamed stores before later ones
 *   vd, vdi                 VL / 2 double / int64 lanes, for the kernels
 *                           that compute in double (pow): vd_lo/vd_hi widen
 *                           the low/high half of a vf (vd_lo_i/vd_hi_i of a
 *                           vi), vf_from_vd narrows two vd into one vf
 *
 * No raw intrinsic appears outside the simd_*.h headers.
 */
#ifndef ATLAS_SIMD_H
#define ATLAS_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef AT_ISA_LEVEL
#error "kernels are compiled per ISA level: AT_ISA_LEVEL must be defined"
#endif

/* vf_load_n / vf_store_n through a lane array, for vocabularies without
 * masked loads and stores: nothing past p[n - 1] is read or written. */
#define AT_TAILS_VIA_ARRAY(load, store)                     \
    static inline vf vf_load_n(const float *p, size_t n)    \
    {                                                       \
        float t[VL] = {0.0f};                               \
        memcpy(t, p, n * sizeof(float));                    \
        return load(t);                                     \
    }                                                       \
    static inline void vf_store_n(float *p, vf v, size_t n) \
    {                                                       \
        float t[VL];                                        \
        store(t, v);                                        \
        memcpy(p, t, n * sizeof(float));                    \
    }

/* Levels: 0 baseline (SSE2 on x86-64, plain C elsewhere or when
 * AT_SIMD_PORTABLE is defined), 1 AVX2 + FMA, 2 AVX-512, 3 AArch64 NEON. */
#if AT_ISA_LEVEL == 3
#include "simd_neon.h"
#elif AT_ISA_LEVEL == 2
#include "simd_avx512.h"
#elif AT_ISA_LEVEL == 1
#include "simd_avx2.h"
#elif defined(__SSE2__) && !defined(AT_SIMD_PORTABLE)
#include "simd_sse2.h"
#else
#include "simd_portable.h"
#endif

/* For helpers that must inline into their callers whatever the compiler's
 * size estimate: loop shapes, per-lane operations, a kernel's steps. */
#define AT_INLINE static inline __attribute__((always_inline))

/* Generic helpers written once in the vocabulary. */
static inline vf vf_neg(vf a) { return vf_xor(a, vf_set1(-0.0f)); }
static inline vf vf_abs(vf a) { return vf_andnot(vf_set1(-0.0f), a); }
/* copysign(mag, sgn) for |mag| >= 0 */
static inline vf vf_copysign(vf mag, vf sgn)
{
    vf s = vf_set1(-0.0f);
    return vf_or(vf_andnot(s, mag), vf_and(s, sgn));
}
/* Whether |a| <= b in every lane of a[0..n), for b positive and finite (a
 * NaN lane fails).  A level with a cheaper form defines its own and
 * AT_HAVE_VF_ALL_ABS_LE. */
#ifndef AT_HAVE_VF_ALL_ABS_LE
static inline int vf_all_abs_le(const vf *a, int n, float b)
{
    vm ok = vf_le(vf_abs(a[0]), vf_set1(b));
    for (int j = 1; j < n; j++)
        ok = vm_and(ok, vf_le(vf_abs(a[j]), vf_set1(b)));
    return !vm_any(vm_andnot(ok, vi_as_vf(vi_set1(-1))));
}
#endif
/* Loads and stores the first min(n, VL) floats (a full vector when n >=
 * VL): a vector loop's last step over n remaining elements. */
static inline vf load_upto(const float *p, size_t n)
{
    return n >= VL ? vf_load(p) : vf_load_n(p, n);
}
static inline void store_upto(float *p, vf v, size_t n)
{
    if (n >= VL)
        vf_store(p, v);
    else
        vf_store_n(p, v, n);
}
/* Horizontal reductions through a lane array (only used at loop ends). */
static inline float vf_hsum(vf a)
{
    float t[VL];
    vf_store(t, a);
    float s = 0.0f;
    for (int i = 0; i < VL; i++)
        s += t[i];
    return s;
}
static inline double vf_hsum_d(vf a)
{
    float t[VL];
    vf_store(t, a);
    double s = 0.0;
    for (int i = 0; i < VL; i++)
        s += (double)t[i];
    return s;
}
/* The largest (max != 0) or smallest lane; NaN lanes are passed over
 * unless in lane 0. */
static inline float at_hpick(vf a, int max)
{
    float t[VL];
    vf_store(t, a);
    float s = t[0];
    for (int i = 1; i < VL; i++)
        s = (max ? t[i] > s : t[i] < s) ? t[i] : s;
    return s;
}
static inline float vf_hmax(vf a) { return at_hpick(a, 1); }
static inline float vf_hmin(vf a) { return at_hpick(a, 0); }

#endif /* ATLAS_SIMD_H */
