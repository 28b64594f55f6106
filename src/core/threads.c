/* Hologram Atlas — persistent worker pool (contract in atlas/threads.h).
 *
 * One launch is published through a single 64-bit atomic word, `state`:
 *   bits 63..32  launch generation
 *   bit  31      closed: the caller has finished and takes no more helpers
 *   bits 30..0   number of workers that joined (the caller is slot 0)
 * A worker that sees a new generation joins by CAS-incrementing the count,
 * which also hands it its worker index, and only if the word still names
 * the generation it saw and is open and below the launch's worker limit.
 * Because the caller closes the word before waiting, it knows exactly how
 * many helpers it must wait for, and a late worker can never join a launch
 * whose caller has already returned.  Tasks come from one atomic counter.
 *
 * Idle workers spin ~30 us on `state`, then sleep on a condvar.  `sleepers`
 * and `state` form a Dekker pair (both seq_cst): the launcher stores state
 * then reads sleepers, a worker bumps sleepers then rereads state, so one of
 * them always sees the other and no wakeup is lost.
 */
#include "atlas/threads.h"
#include "spin.h"
#include "util.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLOSED_BIT ((uint64_t)1 << 31)
#define COUNT_MASK (CLOSED_BIT - 1)
#define SPIN_NS 30000

struct at_threads {
    unsigned nthreads;          /* as asked for; the caller counts as one   */
    unsigned nalive;            /* caller + worker threads actually running */
    pid_t pid;                  /* process that owns the worker threads     */
    pthread_t *tids;            /* nthreads - 1 entries                     */
    uint32_t spawn_gen;         /* generation current when workers started  */

    _Atomic pid_t busy;         /* pid of the launching process, 0 if idle  */
    _Atomic uint64_t state;     /* see the file comment                     */
    _Atomic unsigned limit;     /* worker slots offered by this launch      */
    _Atomic size_t next_task;
    _Atomic unsigned done;      /* helpers that finished this launch        */
    _Atomic unsigned sleepers;
    _Atomic int shutdown;

    /* Launch descriptor: written before the generation is published and
     * read only by workers that joined, so plain fields suffice. */
    at_task_fn fn;
    void *ctx;
    size_t ntasks;

    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static uint32_t gen_of(uint64_t s) { return (uint32_t)(s >> 32); }

static void run_tasks(at_threads *t, unsigned worker)
{
    for (;;) {
        size_t i =
            atomic_fetch_add_explicit(&t->next_task, 1, memory_order_relaxed);
        if (i >= t->ntasks)
            return;
        t->fn(t->ctx, i, worker);
    }
}

/* Try to take a slot in launch `gen`; run its tasks if we got one. */
static void join_launch(at_threads *t, uint32_t gen)
{
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        if (gen_of(s) != gen || (s & CLOSED_BIT))
            return;
        unsigned slot = (unsigned)(s & COUNT_MASK);
        if (slot >= atomic_load_explicit(&t->limit, memory_order_relaxed))
            return;
        if (atomic_compare_exchange_weak_explicit(&t->state, &s, s + 1,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire))
        {
            run_tasks(t, slot);
            atomic_fetch_add_explicit(&t->done, 1, memory_order_release);
            return;
        }
    }
}

static int launch_pending(at_threads *t, uint32_t seen)
{
    return gen_of(atomic_load(&t->state)) != seen || atomic_load(&t->shutdown);
}

/* Spin briefly (a launch often follows a launch), then sleep. */
static void wait_for_launch(at_threads *t, uint32_t seen)
{
    uint64_t start = at_now_ns();
    for (unsigned n = 1;; n++) {
        if (gen_of(atomic_load_explicit(&t->state, memory_order_acquire))
                != seen
            || atomic_load_explicit(&t->shutdown, memory_order_relaxed))
            return;
        at_cpu_relax();
        if ((n & 31) == 0 && at_now_ns() - start > SPIN_NS)
            break;
    }
    pthread_mutex_lock(&t->mu);
    atomic_fetch_add(&t->sleepers, 1);
    while (!launch_pending(t, seen))
        pthread_cond_wait(&t->cv, &t->mu);
    atomic_fetch_sub(&t->sleepers, 1);
    pthread_mutex_unlock(&t->mu);
}

static void *worker_main(void *arg)
{
    at_threads *t = arg;
    uint32_t seen = t->spawn_gen;
    for (;;) {
        wait_for_launch(t, seen);
        if (atomic_load(&t->shutdown))
            return NULL;
        seen = gen_of(atomic_load_explicit(&t->state, memory_order_acquire));
        join_launch(t, seen);
    }
}

/* Start the worker threads with every signal blocked: they inherit the
 * mask from pthread_create, so there is no window in which a signal meant
 * for the application could land on a worker. */
static void spawn_workers(at_threads *t)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    t->spawn_gen = gen_of(atomic_load(&t->state));
    t->nalive = 1;
    for (unsigned i = 0; i + 1 < t->nthreads; i++) {
        if (pthread_create(&t->tids[i], NULL, worker_main, t) != 0)
            break;
        t->nalive++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void init_sync(at_threads *t)
{
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
}

at_threads *at_threads_create(unsigned nthreads)
{
    if (nthreads < 1)
        return NULL;
    at_threads *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->nthreads = nthreads;
    t->tids = calloc(nthreads, sizeof *t->tids);
    if (t->tids == NULL) {
        free(t);
        return NULL;
    }
    init_sync(t);
    t->pid = getpid();
    spawn_workers(t);
    if (t->nalive != nthreads) {
        at_threads_destroy(t);
        return NULL;
    }
    return t;
}

static void stop_workers(at_threads *t)
{
    atomic_store(&t->shutdown, 1);
    pthread_mutex_lock(&t->mu);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    for (unsigned i = 0; i + 1 < t->nalive; i++)
        pthread_join(t->tids[i], NULL);
}

void at_threads_destroy(at_threads *t)
{
    if (t == NULL)
        return;
    /* In a forked child the workers do not exist; there is nothing to join,
     * and the mutex may have been copied while a worker held it. */
    if (t->pid == getpid()) {
        stop_workers(t);
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
    }
    free(t->tids);
    free(t);
}

unsigned at_threads_count(const at_threads *t) { return t ? t->nthreads : 1; }

/* After fork() only the forking thread survives.  Reset everything the dead
 * workers could have left behind (they may have held `mu`) and start fresh
 * ones.  Called with `busy` held, so no other launch is in flight. */
static void respawn_after_fork(at_threads *t, pid_t pid)
{
    init_sync(t);
    atomic_store(&t->sleepers, 0);
    atomic_store(&t->shutdown, 0);
    atomic_store(&t->done, 0);
    atomic_store(&t->state, (uint64_t)gen_of(atomic_load(&t->state)) << 32);
    t->pid = pid;
    spawn_workers(t);
}

/* Take the pool for one launch.  `busy` holds the owner's pid, so a value
 * left by a launch in flight in the parent at fork() time is recognised as
 * stale in the child and taken over instead of blocking the pool forever. */
static int acquire_busy(at_threads *t, pid_t pid)
{
    pid_t cur = 0;
    if (atomic_compare_exchange_strong_explicit(
            &t->busy, &cur, pid, memory_order_acquire, memory_order_relaxed))
        return 1;
    if (cur == pid)
        return 0;               /* a concurrent caller in this process */
    return atomic_compare_exchange_strong_explicit(
        &t->busy, &cur, pid, memory_order_acquire, memory_order_relaxed);
}

static void wake_workers(at_threads *t, unsigned want)
{
    unsigned n = atomic_load(&t->sleepers);
    if (n == 0)
        return;
    pthread_mutex_lock(&t->mu);
    if (want >= n) {
        pthread_cond_broadcast(&t->cv);
    } else {
        for (unsigned i = 0; i < want; i++)
            pthread_cond_signal(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
}

/* Wait for `helpers` joined workers to finish their last task.  Spins first
 * (the tail of a launch is usually short) and then yields the CPU. */
static void wait_helpers(at_threads *t, unsigned helpers)
{
    for (unsigned n = 0;
         atomic_load_explicit(&t->done, memory_order_acquire) != helpers; n++)
    {
        if (n < 4096)
            at_cpu_relax();
        else
            sched_yield();
    }
}

static unsigned run_parallel(at_threads *t, size_t ntasks, unsigned limit,
                             at_task_fn fn, void *ctx)
{
    t->fn = fn;
    t->ctx = ctx;
    t->ntasks = ntasks;
    atomic_store_explicit(&t->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&t->done, 0, memory_order_relaxed);
    atomic_store_explicit(&t->limit, limit, memory_order_relaxed);
    uint32_t gen = gen_of(atomic_load(&t->state)) + 1;
    atomic_store(&t->state, ((uint64_t)gen << 32) | 1); /* publish; seq_cst */
    wake_workers(t, limit - 1);

    run_tasks(t, 0);
    uint64_t s =
        atomic_fetch_or_explicit(&t->state, CLOSED_BIT, memory_order_acq_rel);
    unsigned used = (unsigned)(s & COUNT_MASK);
    wait_helpers(t, used - 1);
    return used;
}

static void run_inline(size_t ntasks, at_task_fn fn, void *ctx)
{
    for (size_t i = 0; i < ntasks; i++)
        fn(ctx, i, 0);
}

/* Returns the number of workers used; 1 for zero tasks (only the caller
 * was involved, and callers may size per-worker data by the result). */
unsigned at_threads_run(at_threads *t, size_t ntasks, unsigned max_workers,
                        at_task_fn fn, void *ctx)
{
    unsigned limit = t ? t->nthreads : 1;
    if (max_workers != 0 && max_workers < limit)
        limit = max_workers;
    if (ntasks < limit)
        limit = (unsigned)ntasks;
    if (limit <= 1) {
        run_inline(ntasks, fn, ctx);
        return 1;
    }

    pid_t pid = getpid();
    if (!acquire_busy(t, pid)) {
        run_inline(ntasks, fn, ctx);
        return 1;
    }
    if (t->pid != pid)
        respawn_after_fork(t, pid);
    if (limit > t->nalive)
        limit = t->nalive;
    unsigned used = 1;
    if (limit <= 1)
        run_inline(ntasks, fn, ctx);
    else
        used = run_parallel(t, ntasks, limit, fn, ctx);
    atomic_store_explicit(&t->busy, 0, memory_order_release);
    return used;
}

unsigned at_threads_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    /* The affinity mask (taskset, cgroups' cpusets) bounds it where the
     * system has one to ask (Linux); elsewhere the online count stands. */
#if defined(AT_HAVE_SCHED_GETAFFINITY) && AT_HAVE_SCHED_GETAFFINITY
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int a = CPU_COUNT(&set);
        if (a >= 1 && a < n)
            n = a;
    }
#endif
    return (unsigned)n;
}
