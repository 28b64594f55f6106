/* Hologram Atlas — base types shared by every layer of the C core.
 *
 * Nothing in include/atlas depends on Python.  Every fallible call returns an
 * at_status and, where it takes one, fills an at_error with a message that
 * names the operation and the shapes involved.  The extension layer maps
 * statuses to Python exception types (see at_status below).
 */
#ifndef ATLAS_BASE_H
#define ATLAS_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AT_MAX_DIMS 8          /* highest rank a buffer may have            */
#define AT_ALIGN 64            /* byte alignment of every pool allocation   */

typedef enum at_dtype {
    AT_F32 = 0,
    AT_I32 = 1,
    AT_I64 = 2,
    AT_BOOL = 3,               /* stored as one byte; in the IR, a mask     */
    AT_DTYPE_COUNT
} at_dtype;

typedef enum at_status {
    AT_OK = 0,
    AT_E_VALUE,       /* bad shape, length, argument value -> ValueError   */
    AT_E_TYPE,        /* bad dtype or operand kind            -> TypeError  */
    AT_E_INDEX,       /* index or class target out of range   -> IndexError */
    AT_E_NOMEM,       /* allocation failed                    -> MemoryError*/
    AT_E_OVERFLOW, /* a size computation overflowed        -> OverflowError */
    AT_E_VERIFY, /* malformed IR kernel                  -> ValueError */
    AT_E_INTERNAL /* a bug in Atlas                       -> RuntimeError */
} at_status;

typedef struct at_error {
    at_status status;
    char msg[320];
} at_error;

/* Record an error (printf-style) and return its status; safe with err==NULL. */
at_status at_error_set(at_error *err, at_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

size_t at_dtype_size(at_dtype dt);
const char *at_dtype_name(at_dtype dt);
const char *at_status_name(at_status st);

/* Checked size arithmetic: return 0 on success, nonzero on overflow. */
static inline int at_mul_overflow(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}
static inline int at_add_overflow(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out);
}

/* Whether n_a elements of type t_a at a and n_b of type t_b at b share a
 * byte (an empty span overlaps nothing).  Callers have checked that each
 * span's byte size fits. */
static inline int at_spans_overlap(const void *a, size_t n_a, at_dtype t_a,
                                   const void *b, size_t n_b, at_dtype t_b)
{
    if (!n_a || !n_b)
        return 0;
    const char *a0 = (const char *)a, *a1 = a0 + n_a * at_dtype_size(t_a);
    const char *b0 = (const char *)b, *b1 = b0 + n_b * at_dtype_size(t_b);
    return a0 < b1 && b0 < a1;
}

/* Whether p is aligned for elements of type t.  The kernels access whole
 * elements, and their streaming stores reach vector alignment by peeling
 * whole elements, so a misaligned buffer (already undefined behaviour in C)
 * would fault there: the API edges refuse it. */
static inline int at_is_aligned(const void *p, at_dtype t)
{
    return (uintptr_t)p % at_dtype_size(t) == 0;
}

/* Format a shape as "(3, 4)" into buf (always NUL-terminated). */
void at_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif /* ATLAS_BASE_H */
