/* Hologram Atlas — streaming (non-temporal) stores for the _nt kernels.
 *
 * Streaming stores skip the read-for-ownership of each output line and do
 * not pollute the caches; they pay off only when the data cannot stay in
 * cache anyway, which the interpreter decides (it knows the whole launch's
 * size; a kernel sees one chunk).  The _nt kernels stream; the others never
 * do.  Include after simd.h. */
#ifndef ATLAS_KERNELS_STREAM_H
#define ATLAS_KERNELS_STREAM_H

#include <stdint.h>

#if AT_ISA_LEVEL >= 1
/* Aligned streaming store of one vector; y must be vector-aligned. */
static inline __attribute__((always_inline)) void vf_stream(float *y, vf v)
{
#if AT_ISA_LEVEL == 2
    _mm512_stream_ps(y, v);
#else
    _mm256_stream_ps(y, v);
#endif
}
static inline __attribute__((always_inline)) void stream_fence(void)
{
    _mm_sfence();
}
#else
static inline __attribute__((always_inline)) void vf_stream(float *y, vf v)
{
    vf_store(y, v);
}
static inline __attribute__((always_inline)) void stream_fence(void) {}
#endif

/* Store one result vector.  `stream` is a constant in every kernel (the _nt
 * kernels pass 1), so this folds to one instruction; streaming stores need a
 * vector-aligned address, which the loops reach by peeling. */
static inline __attribute__((always_inline)) void put(float *y, vf v,
                                                      int stream)
{
    if (stream)
        vf_stream(y, v);
    else
        vf_store(y, v);
}

/* Elements to handle one by one before y + i is vector-aligned (streaming). */
static inline __attribute__((always_inline)) size_t peel(const float *y,
                                                         size_t n)
{
    size_t misaligned = ((uintptr_t)y / sizeof(float)) % VL;
    size_t k = misaligned ? VL - misaligned : 0;
    return k < n ? k : n;
}

#endif
