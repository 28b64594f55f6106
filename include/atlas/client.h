/* Hologram Atlas — the core's interface for libraries built on it.
 *
 * A client library (the standard library, src/stdlib, is one) describes its
 * kernels as a numbered set.  Every executor compiles a kernel of the set the
 * first time it is asked for it and keeps the program for the executor's
 * lifetime; every later request is one atomic load, with no lock.  The client
 * validates its own operands (more strictly than at_launch does) and then
 * launches through at_launch_validated, whose diagnostics it can turn into
 * messages in its own terms.
 */
#ifndef ATLAS_CLIENT_H
#define ATLAS_CLIENT_H

#include <stdatomic.h>
#include "atlas/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Entries every executor's program cache holds, for all sets together. */
#define AT_PROGRAM_CACHE_SIZE 16384

/* A client's kernels, numbered 0 .. count-1.  Give it static storage
 * duration (it must outlive every executor) and leave `first` zero: the core
 * assigns the set its range of cache entries on first use. */
typedef struct at_kernel_set {
    const char *name; /* the client, in error messages      */
    int count;        /* kernels in the set                 */
    /* Build kernel `index`, verified.  Called under the executor's compile
     * lock the first time the executor needs the kernel (and again after a
     * failed build); the executor keeps the kernel and frees it. */
    at_status (*build)(int index, at_kernel **out, at_error *err);
    atomic_int first; /* the core's: 1 + first cache entry  */
} at_kernel_set;

/* The program of kernel `index` of the set on this executor, compiled on
 * first use (thread-safe).  The executor owns it.  AT_E_VALUE for an index
 * out of range, or when the sets together exceed AT_PROGRAM_CACHE_SIZE. */
at_status at_executor_program(at_executor *ex, at_kernel_set *set, int index,
                              const at_program **out, at_error *err);

/* The program's work per launch element, in the units the executor's
 * thread decision uses (a binary add is 1); for a gemm program, per
 * multiply-add.  A launch of rows x cols costs about rows * cols times
 * this. */
size_t at_program_cost(const at_program *p);

/* Where a failed range check or gather happened (for client messages). */
typedef struct at_launch_diag {
    int64_t row, value, lo, hi;
    int param; /* gather: the buffer param; check.range: -1     */
} at_launch_diag;

/* at_launch without the argument checks, for callers that have already
 * validated every argument against the kernel's signature (the standard
 * library, whose at_stdop_prepare is stricter than those checks).  Builds
 * without NDEBUG still run the checks and assert that they pass.  On
 * AT_E_INDEX, *diag (when diag is not NULL) says where. */
at_status at_launch_validated(at_executor *ex, const at_program *p, size_t rows,
                              size_t cols, const at_arg *args, size_t nargs,
                              at_launch_diag *diag, at_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ATLAS_CLIENT_H */
