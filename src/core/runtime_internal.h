/* Hologram Atlas — the executor object (internal). */
#ifndef ATLAS_RUNTIME_INTERNAL_H
#define ATLAS_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include "atlas/stdlib.h"
#include "atlas/threads.h"
#include "program.h"

struct at_executor {
    at_pool *pool;
    at_threads *threads;
    unsigned nthreads;
    at_isa isa;
    at_ktable kt;
    pthread_mutex_t lock;                        /* guards lazy compiles  */
    _Atomic(at_program *) std[AT_STD_COUNT];     /* stdlib programs       */
    at_kernel *stdk[AT_STD_COUNT];
    atomic_int stores;                           /* at_store_policy       */
};

/* The stdlib op's program, compiled on first use (thread-safe). */
at_status at_executor_std_program(at_executor *ex, at_stdop op,
                                  const at_program **out, at_error *err);

#endif
