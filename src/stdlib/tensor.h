/* Hologram Atlas — what the standard library's own files share (private to
 * src/stdlib). */
#ifndef ATLAS_STDLIB_TENSOR_H
#define ATLAS_STDLIB_TENSOR_H

#include "atlas/stdlib.h"

/* Whether t's description holds together: a rank the library takes, no
 * negative dim, numel = prod(shape), and numel * 8 bytes within size_t. */
static inline int std_tensor_valid(const at_tensor *t)
{
    size_t n = 1;
    if (t->ndim < 0 || t->ndim > AT_MAX_DIMS)
        return 0;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0 || at_mul_overflow(n, (size_t)t->shape[d], &n))
            return 0;
    return n == t->numel && n <= (SIZE_MAX >> 3);
}

#endif /* ATLAS_STDLIB_TENSOR_H */
