/* Hologram Atlas — the linear device-memory pool.
 *
 * Policy: sizes are rounded up to size classes (four classes per power of two
 * above 256 bytes); a freed block goes onto its class's free list and is
 * handed out again to the next request of that class, so a loop of large ops
 * holds steady memory and never page-faults fresh pages after warm-up.
 * Small classes are carved linearly (bump pointer) out of 2 MiB slabs; large
 * classes get one mapping each (transparent huge pages advised).  Memory is
 * returned to the OS only by at_pool_trim() or at_pool_destroy().
 * All calls are thread-safe (one short internal lock).
 */
#ifndef ATLAS_POOL_H
#define ATLAS_POOL_H

#include "atlas/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct at_pool at_pool;

typedef struct at_pool_stats {
    size_t bytes_in_use;      /* class bytes of live blocks              */
    size_t bytes_requested;   /* bytes callers asked for, live blocks    */
    size_t bytes_reserved;    /* bytes obtained from the OS, still held  */
    size_t peak_bytes_in_use;
    uint64_t allocs;          /* successful at_pool_alloc calls          */
    uint64_t frees;
    uint64_t hits;            /* allocs served from a free list          */
    uint64_t misses;          /* allocs that needed fresh memory         */
} at_pool_stats;

at_pool *at_pool_create(void);
void at_pool_destroy(at_pool *pool);  /* frees everything, live or not */

/* Allocate nbytes (0 allowed: returns a valid unique pointer), aligned to
 * AT_ALIGN.  Returns NULL when out of memory or nbytes is absurd. */
void *at_pool_alloc(at_pool *pool, size_t nbytes);
/* Return a block obtained from at_pool_alloc on the same pool. */
void at_pool_free(at_pool *pool, void *ptr);
/* Release cached free blocks back to the OS where possible. */
void at_pool_trim(at_pool *pool);
void at_pool_get_stats(at_pool *pool, at_pool_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* ATLAS_POOL_H */
