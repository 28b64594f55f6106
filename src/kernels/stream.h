/* Hologram Atlas — streaming (non-temporal) stores for the _nt kernels.
 *
 * Streaming stores skip the read-for-ownership of each output line and do
 * not pollute the caches; they pay off only when the data cannot stay in
 * cache anyway, which the interpreter decides (it knows the whole launch's
 * size; a kernel sees one chunk).  The _nt kernels stream; the others never
 * do.  vf_stream and vf_stream_fence come from the level's vocabulary
 * (simd.h).  Include after simd.h. */
#ifndef ATLAS_KERNELS_STREAM_H
#define ATLAS_KERNELS_STREAM_H

#include <stdint.h>

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
