/* Hologram Atlas — a persistent worker pool for one executor.
 *
 * at_threads_run() runs fn(ctx, task, worker) for every task in [0, ntasks)
 * across the caller and the pool's workers, handing tasks out from one
 * atomic counter, and returns only when every task has finished (launches
 * are synchronous).  Worker 0 is always the calling thread, so a pool of
 * size 1 has no threads at all.  A second caller that finds the pool busy
 * runs its tasks itself, in order, as worker 0 of its own.  Workers block
 * signals, spin briefly after a launch and then sleep.  After fork() the
 * child's pool notices its workers are gone and starts new ones.
 */
#ifndef ATLAS_THREADS_H
#define ATLAS_THREADS_H

#include "atlas/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct at_threads at_threads;

/* fn must not fail; it reports errors through its ctx (first error wins). */
typedef void (*at_task_fn)(void *ctx, size_t task, unsigned worker);

/* nthreads >= 1 (the caller counts as one).  NULL on failure. */
at_threads *at_threads_create(unsigned nthreads);
void at_threads_destroy(at_threads *t);
unsigned at_threads_count(const at_threads *t);

/* Run ntasks tasks on up to max_workers workers (0 = all).  The worker
 * index passed to fn is < the number of workers used, and a given worker
 * runs its tasks one at a time.  Returns the number of workers used. */
unsigned at_threads_run(at_threads *t, size_t ntasks, unsigned max_workers,
                        at_task_fn fn, void *ctx);

/* Number of online CPUs (>= 1). */
unsigned at_threads_ncpu(void);

#ifdef __cplusplus
}
#endif
#endif /* ATLAS_THREADS_H */
