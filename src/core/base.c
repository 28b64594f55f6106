/* Hologram Atlas — base helpers: errors, dtype metadata, shape formatting. */
#include "atlas/base.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

at_status at_error_set(at_error *err, at_status st, const char *fmt, ...)
{
    if (err == NULL)
        return st;
    err->status = st;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0)          /* encoding error: leave a usable, empty message */
        err->msg[0] = '\0';
    return st;
}

/* Element size and name of each dtype. */
static const struct dtype_info {
    size_t size;
    const char *name;
} dtypes[AT_DTYPE_COUNT] = {
    [AT_F32] = {4, "float32"},
    [AT_I32] = {4, "int32"},
    [AT_I64] = {8, "int64"},
    /* Stored as one byte (0 or 1); inside a kernel a bool value is a mask
     * lane, whose width the lowering picks, not this size. */
    [AT_BOOL] = {1, "bool"},
};

size_t at_dtype_size(at_dtype dt)
{
    return (unsigned)dt < AT_DTYPE_COUNT ? dtypes[dt].size : 0;
}

const char *at_dtype_name(at_dtype dt)
{
    return (unsigned)dt < AT_DTYPE_COUNT ? dtypes[dt].name : "unknown";
}

const char *at_status_name(at_status st)
{
    switch (st) {
        case AT_OK:
            return "ok";
        case AT_E_VALUE:
            return "value error";
        case AT_E_TYPE:
            return "type error";
        case AT_E_INDEX:
            return "index error";
        case AT_E_NOMEM:
            return "out of memory";
        case AT_E_OVERFLOW:
            return "overflow";
        case AT_E_VERIFY:
            return "verify error";
        case AT_E_INTERNAL:
            return "internal error";
        default:
            return "unknown status";
    }
}

/* Append to buf at *pos without overrunning cap.  snprintf returns the
 * untruncated length, so *pos is clamped to cap-1: later appends then become
 * no-ops and the truncated result stays NUL-terminated. */
static void advance(size_t cap, size_t *pos, int n)
{
    if (n < 0)
        return;
    *pos += (size_t)n;
    if (*pos >= cap)
        *pos = cap - 1;
}

static void append_str(char *buf, size_t cap, size_t *pos, const char *s)
{
    advance(cap, pos, snprintf(buf + *pos, cap - *pos, "%s", s));
}

static void append_dim(char *buf, size_t cap, size_t *pos, int64_t d)
{
    advance(cap, pos, snprintf(buf + *pos, cap - *pos, "%" PRId64, d));
}

void at_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    if (buf == NULL || cap == 0)
        return;
    buf[0] = '\0';
    size_t pos = 0;
    append_str(buf, cap, &pos, "(");
    for (int i = 0; i < ndim && shape != NULL; i++) {
        if (i > 0)
            append_str(buf, cap, &pos, ", ");
        append_dim(buf, cap, &pos, shape[i]);
    }
    if (ndim == 1)          /* Python's one-element tuple spelling */
        append_str(buf, cap, &pos, ",");
    append_str(buf, cap, &pos, ")");
}
