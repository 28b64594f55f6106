/* Hologram Atlas — small helpers shared by the core's files (private). */
#ifndef ATLAS_CORE_UTIL_H
#define ATLAS_CORE_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include "atlas/base.h"

/* Monotonic clock in nanoseconds. */
static inline uint64_t at_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Makes room for `need` elements of `elem` bytes in the growable array *arr
 * of capacity *cap (in elements), doubling the capacity from 16.  Returns 0,
 * or -1 with *arr and *cap unchanged when memory runs out or the capacity
 * or its size in bytes would overflow. */
static inline int at_grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > INT_MAX / 2)
            return -1;
        ncap *= 2;
    }
    size_t bytes;
    if (at_mul_overflow((size_t)ncap, elem, &bytes))
        return -1;
    void *q = realloc(*arr, bytes);
    if (!q)
        return -1;
    *arr = q;
    *cap = ncap;
    return 0;
}

#endif
