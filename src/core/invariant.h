/* Hologram Atlas — internal invariants of the core (private).
 *
 * AT_INVARIANT(cond, err) states a condition that the core's own code
 * guarantees (the IR builder, the verifier, an earlier lowering pass), never
 * a check of what a caller passed in: bad input gets its own status and a
 * message that names the input.  A failed invariant is a bug in Atlas.
 *
 *   - Builds without NDEBUG (debug, and the sanitizer build, which is
 *     debugoptimized) assert the condition.
 *   - Release builds test it too; when it fails, the enclosing function,
 *     which must return at_status, records AT_E_INTERNAL in `err` (an
 *     at_error *, evaluated only then; NULL is allowed) with a message that
 *     names the condition, the function and the line, and returns
 *     AT_E_INTERNAL.
 *
 * The test is a branch on `cond`: keep invariants out of per-block and
 * per-element loops, and state them where they are cheap (at compile time of
 * a program, or on a path that is taken only when something failed). */
#ifndef ATLAS_CORE_INVARIANT_H
#define ATLAS_CORE_INVARIANT_H

#include <assert.h>
#include "atlas/base.h"

#ifdef NDEBUG
#define AT_INVARIANT(cond, err)                                            \
    do {                                                                   \
        if (__builtin_expect(!(cond), 0))                                  \
            return at_error_set((err), AT_E_INTERNAL,                      \
                                "internal error: invariant '%s' does not " \
                                "hold in %s (%s:%d)",                      \
                                #cond, __func__, __FILE__, __LINE__);      \
    } while (0)
#else
#define AT_INVARIANT(cond, err) \
    do {                        \
        assert(cond);           \
        (void)sizeof(err);      \
    } while (0)
#endif

#endif
