/* Hologram Atlas — the executor object (internal). */
#ifndef ATLAS_RUNTIME_INTERNAL_H
#define ATLAS_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include "atlas/threads.h"
#include "program.h"

struct at_executor {
    at_pool *pool;
    at_threads *threads;
    unsigned nthreads;
    at_isa isa;
    at_ktable kt;
    atomic_int stores;     /* at_store_policy                          */
    pthread_mutex_t lock;  /* guards the compiles that fill the cache  */
    /* the client sets' programs and their kernels (at_executor_program) */
    _Atomic(at_program *) cache[AT_PROGRAM_CACHE_SIZE];
    at_kernel *cache_k[AT_PROGRAM_CACHE_SIZE];
};

#endif
