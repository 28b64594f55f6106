/* Hologram Atlas — a CPU pause hint and a small lock for short critical
 * sections (internal to the core).
 *
 * at_spin_lock guards the pool's free lists: held for a few dozen
 * instructions on every op's allocation and free, so the lock's own cost is
 * part of every op call, and an uncontended pthread mutex costs more than
 * this lock (see docs/performance.md, "The pool's lock").  Waiters spin a
 * little, then yield the CPU, so that a holder that was descheduled (more
 * threads than CPUs) or is inside mmap/munmap (a fresh slab, a trim) is not
 * starved. */
#ifndef ATLAS_CORE_SPIN_H
#define ATLAS_CORE_SPIN_H

#include <sched.h>
#include <stdatomic.h>

static inline void at_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

typedef struct at_spin_lock {
    atomic_int held;
} at_spin_lock;

#define AT_SPIN_BEFORE_YIELD 64

static inline void at_spin_init(at_spin_lock *l) { atomic_init(&l->held, 0); }

static inline void at_spin_acquire(at_spin_lock *l)
{
    for (unsigned spins = 0;; spins++) {
        /* read first: waiters do not bounce the line with writes */
        if (!atomic_load_explicit(&l->held, memory_order_relaxed)
            && !atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
            return;
        if (spins < AT_SPIN_BEFORE_YIELD)
            at_cpu_relax();
        else
            sched_yield();
    }
}

static inline void at_spin_release(at_spin_lock *l)
{
    atomic_store_explicit(&l->held, 0, memory_order_release);
}

#endif
