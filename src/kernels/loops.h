/* Hologram Atlas — the loop shapes of the elementwise kernels.
 *
 * AT_UNARY_LOOP (y = op(x)) and AT_BINARY_LOOP (y = op(a, b), op(a, s) or
 * op(s, a)) walk n floats in groups of G vectors, then one vector at a time,
 * then one masked tail (vf_load_n / vf_store_n), never touching memory past
 * n.  A kernel with a faster formula for whole groups passes it as `fast`,
 * with `ok` telling which groups it covers.  Other groups, single vectors
 * and the tail go through `op`, which gives the same bits per lane as `fast`
 * wherever `fast` applies, so a result never depends on its position in the
 * array.  Kernels without a fast path pass no_fast and no_group (no_fast2
 * and no_group2 for binary ones): every vector goes through `op` and the
 * group only unrolls the loop.  A fast path for every group takes
 * every_group as its test.
 *
 * Streaming twins (stream = 1) write the groups with streaming stores: they
 * skip the read-for-ownership of each output line and leave the caches to
 * other data, which pays off only when the output cannot stay in cache
 * anyway.  The interpreter decides that (it knows the launch's size; a
 * kernel sees one chunk).  Only whole 64-byte lines of y stream (see
 * stream_lines): the elements before the first line boundary and after the
 * last whole line store normally.  A twin does not fence: its
 * caller orders the streamed stores before other threads read them (the
 * interpreter once per task, through the table's stream_fence), so a row
 * or block of a few KB does not wait for its stores to drain.
 *
 * Each shape defines an always_inline loop function for one kernel, whose
 * `form` and `stream` arguments are constants at every call, so each kernel
 * compiles to its own straight SIMD loop with the operation inlined.
 * Include after simd.h.
 */
#ifndef ATLAS_KERNELS_LOOPS_H
#define ATLAS_KERNELS_LOOPS_H

#include <stdint.h>
#include "ktable.h"

/* The largest group a loop hands a kernel, and a loop over a group's
 * vectors (each step of a grouped kernel is issued for every vector of the
 * group before the next step). */
#define AT_G 8
#define EACH(j, nv) for (int j = 0; j < (nv); j++)

/* Fast-path arguments of the shapes for kernels without a group fast path
 * (no group takes it) and for a fast path that takes every group. */
AT_INLINE int no_group(int nv, const vf *x)
{
    (void)nv;
    (void)x;
    return 0;
}
AT_INLINE int every_group(int nv, const vf *x)
{
    (void)nv;
    (void)x;
    return 1;
}
AT_INLINE void no_fast(int nv, vf *x)
{
    (void)nv;
    (void)x;
}
AT_INLINE int no_group2(const vf *x, const vf *z)
{
    (void)x;
    (void)z;
    return 0;
}
AT_INLINE void no_fast2(vf *r, const vf *x, const vf *z)
{
    (void)r;
    (void)x;
    (void)z;
}

/* The part of an output of n floats at y that a streaming twin streams:
 * elements [head, end), whole 64-byte lines.  A line that streaming stores
 * write only in part, the rest coming from ordinary stores (the unaligned
 * ends of the output, or the row beside it in a row program whose rows do
 * not start on line boundaries), costs the memory a merge of the part with
 * the line, so the elements before the first boundary and after the last
 * one store normally (docs/performance.md, entry 51). */
#define AT_LINE_FLOATS 16
typedef struct stream_span {
    size_t head, end;
} stream_span;
AT_INLINE stream_span stream_lines(const float *y, size_t n)
{
    size_t misaligned = ((uintptr_t)y / sizeof(float)) % AT_LINE_FLOATS;
    size_t head = misaligned ? AT_LINE_FLOATS - misaligned : 0;
    if (head >= n)
        return (stream_span){n, n};
    return (stream_span){head,
                         head + (n - head) / AT_LINE_FLOATS * AT_LINE_FLOATS};
}

/* Store one result vector, streaming in the _nt twins' streamed span,
 * where y is line- and so vector-aligned.  The loops end their streamed
 * groups and vectors at the span's end and store what follows in a loop of
 * its own: a test of each vector against the end measured slower. */
AT_INLINE void put(float *y, vf v, int stream)
{
    if (stream)
        vf_stream(y, v);
    else
        vf_store(y, v);
}

/* AT_UNARY_LOOP(name, G, op, fast, ok) defines the unary shape
 *     AT_INLINE void name(size_t n, float *y, const float *x, int stream)
 * with y = op(x) per vector, fast(G, v) for a group v passing ok(G, v).
 * The shapes are macros so that op, fast and ok are called by name: the
 * compiler inlines named calls together with the loop, while calls through
 * function pointers are inlined later and leave the vector math kernels'
 * hot loops worse scheduled. */
#define AT_UNARY_LOOP(name, G, op, fast, ok)                             \
    AT_UNARY_LOOP_FROM(name, G, op, fast, ok, const float *, vf_load_at, \
                       vf_load_at_n)

/* AT_UNARY_LOOP_FROM(name, G, op, fast, ok, src_t, load, load_n) is the
 * unary shape over an input that load(x, i) and load_n(x, i, k) compute:
 *     AT_INLINE void name(size_t n, float *y, src_t x, int stream)
 * (AT_UNARY_LOOP: x is an array; the unary-of-binary kernels: two or three
 * arrays combined first, see at_unary_src). */
#define AT_UNARY_LOOP_FROM(name, G, op, fast, ok, src_t, load, load_n) \
    AT_INLINE void name(size_t n, float *y, src_t x, int stream)       \
    {                                                                  \
        size_t i = 0, end = n; /* groups and put end here */           \
        if (stream) {                                                  \
            stream_span sp = stream_lines(y, n);                       \
            for (size_t w; i < sp.head; i += w) {                      \
                w = sp.head - i < VL ? sp.head - i : VL;               \
                vf v = op(w == VL ? load(x, i) : load_n(x, i, w));     \
                store_upto(y + i, v, w);                               \
            }                                                          \
            end = sp.end;                                              \
        }                                                              \
        for (; i + G * VL <= end; i += G * VL) {                       \
            vf v[G];                                                   \
            EACH(j, G) v[j] = load(x, i + j * VL);                     \
            if (ok(G, v))                                              \
                fast(G, v);                                            \
            else                                                       \
                EACH(j, G) v[j] = op(v[j]);                            \
            EACH(j, G) put(y + i + j * VL, v[j], stream);              \
        }                                                              \
        for (; i + VL <= end; i += VL)                                 \
            put(y + i, op(load(x, i)), stream);                        \
        for (; i + VL <= n; i += VL)                                   \
            vf_store(y + i, op(load(x, i)));                           \
        if (i < n)                                                     \
            vf_store_n(y + i, op(load_n(x, i, n - i)), n - i);         \
    }

/* The inputs of AT_UNARY_LOOP: x[i ..] as a vector, or its first k lanes. */
AT_INLINE vf vf_load_at(const float *x, size_t i) { return vf_load(x + i); }
AT_INLINE vf vf_load_at_n(const float *x, size_t i, size_t k)
{
    return vf_load_n(x + i, k);
}

/* a op b for op AT_BIN_ADD .. AT_BIN_DIV, rounded as that op's kernel
 * rounds it (the fused kernels' step). */
AT_INLINE vf vf_binop(int op, vf a, vf b)
{
    return op == AT_BIN_ADD   ? vf_add(a, b)
           : op == AT_BIN_SUB ? vf_sub(a, b)
           : op == AT_BIN_MUL ? vf_mul(a, b)
                              : vf_div(a, b);
}

/* The inputs of the unary-of-binary kernels (at_unary_src): (a op b) + c,
 * each step rounded as its own kernel rounds it.  op and c are the same for
 * a whole call, so their tests are predicted branches. */
AT_INLINE vf unary_src_value(const at_unary_src *s, vf a, vf b, vf c)
{
    vf t = vf_binop(s->op, a, b);
    return s->c ? vf_add(t, c) : t;
}
AT_INLINE vf unary_src_at(const at_unary_src *s, size_t i)
{
    return unary_src_value(s, vf_load(s->a + i), vf_load(s->b + i),
                           s->c ? vf_load(s->c + i) : vf_zero());
}
AT_INLINE vf unary_src_at_n(const at_unary_src *s, size_t i, size_t k)
{
    return unary_src_value(s, vf_load_n(s->a + i, k), vf_load_n(s->b + i, k),
                           s->c ? vf_load_n(s->c + i, k) : vf_zero());
}

/* The operands of a binary loop: the arrays a and b (AT_VV), or the array a
 * with the broadcast scalar s on the right (AT_VS) or on the left (AT_SV);
 * b is then unused. */
enum {
    AT_VV,
    AT_VS,
    AT_SV
};

/* The second operand at element i, w lanes: b's or the scalar's. */
AT_INLINE vf operand_b(int form, const float *b, size_t i, vf s)
{
    return form == AT_VV ? vf_load(b + i) : s;
}
AT_INLINE vf operand_b_n(int form, const float *b, size_t i, size_t w, vf s)
{
    return form == AT_VV ? vf_load_n(b + i, w) : s;
}
/* AT_BINARY_LOOP(name, G, op, fast, ok) defines the binary shape
 *     AT_INLINE void name(size_t n, float *y, const float *a,
 *                         const float *b, vf s, int form, int stream)
 * with y = op(l, r) per vector, (l, r) the form's operands, and
 * fast(y, l, r) for the groups of G vectors passing ok(l, r). */
#define AT_BINARY_LOOP(name, G, op, fast, ok)                               \
    AT_INLINE void name(size_t n, float *y, const float *a, const float *b, \
                        vf s, int form, int stream)                         \
    {                                                                       \
        size_t i = 0, end = n; /* groups and put end here */                \
        if (stream) {                                                       \
            stream_span sp = stream_lines(y, n);                            \
            for (size_t w; i < sp.head; i += w) {                           \
                w = sp.head - i < VL ? sp.head - i : VL;                    \
                vf x = load_upto(a + i, w);                                 \
                vf z = w == VL ? operand_b(form, b, i, s)                   \
                               : operand_b_n(form, b, i, w, s);             \
                store_upto(y + i, form == AT_SV ? op(z, x) : op(x, z), w);  \
            }                                                               \
            end = sp.end;                                                   \
        }                                                                   \
        for (; i + G * VL <= end; i += G * VL) {                            \
            vf l[G], r[G], q[G];                                            \
            EACH(j, G)                                                      \
            {                                                               \
                vf x = vf_load(a + i + j * VL);                             \
                vf z = operand_b(form, b, i + j * VL, s);                   \
                l[j] = form == AT_SV ? z : x;                               \
                r[j] = form == AT_SV ? x : z;                               \
            }                                                               \
            if (ok(l, r))                                                   \
                fast(q, l, r);                                              \
            else                                                            \
                EACH(j, G) q[j] = op(l[j], r[j]);                           \
            EACH(j, G) put(y + i + j * VL, q[j], stream);                   \
        }                                                                   \
        for (; i + VL <= end; i += VL) {                                    \
            vf x = vf_load(a + i), z = operand_b(form, b, i, s);            \
            put(y + i, form == AT_SV ? op(z, x) : op(x, z), stream);        \
        }                                                                   \
        for (; i + VL <= n; i += VL) {                                      \
            vf x = vf_load(a + i), z = operand_b(form, b, i, s);            \
            vf_store(y + i, form == AT_SV ? op(z, x) : op(x, z));           \
        }                                                                   \
        if (i < n) {                                                        \
            size_t w = n - i;                                               \
            vf x = vf_load_n(a + i, w), z = operand_b_n(form, b, i, w, s);  \
            vf_store_n(y + i, form == AT_SV ? op(z, x) : op(x, z), w);      \
        }                                                                   \
    }

/* The kernel k_<name> over AT_UNARY_LOOP and its streaming twin
 * k_<name>_nt. */
#define AT_UNARY_KERNELS(name, G, op, fast, ok)                   \
    AT_UNARY_LOOP(loop_##name, G, op, fast, ok)                   \
    static void k_##name(size_t n, float *y, const float *x)      \
    {                                                             \
        loop_##name(n, y, x, 0);                                  \
    }                                                             \
    static void k_##name##_nt(size_t n, float *y, const float *x) \
    {                                                             \
        loop_##name(n, y, x, 1);                                  \
    }
/* AT_UNARY_KERNELS and k_<name>_of[_nt], the same op of (a op b) + c (the
 * lowering's fuse_unary_of). */
#define AT_UNARY_OF_KERNELS(name, G, op, fast, ok)                          \
    AT_UNARY_KERNELS(name, G, op, fast, ok)                                 \
    AT_UNARY_LOOP_FROM(loop_##name##_of, G, op, fast, ok,                   \
                       const at_unary_src *, unary_src_at, unary_src_at_n)  \
    static void k_##name##_of(size_t n, float *y, const at_unary_src *s)    \
    {                                                                       \
        loop_##name##_of(n, y, s, 0);                                       \
    }                                                                       \
    static void k_##name##_of_nt(size_t n, float *y, const at_unary_src *s) \
    {                                                                       \
        loop_##name##_of(n, y, s, 1);                                       \
    }
/* Enter k_<name> and k_<name>_nt in the table t as unary op N. */
#define AT_SET_UNARY(t, N, name)      \
    (t)->unary[AT_UN_##N] = k_##name; \
    (t)->unary_nt[AT_UN_##N] = k_##name##_nt;
/* AT_SET_UNARY and the unary-of-binary twins of AT_UNARY_OF_KERNELS. */
#define AT_SET_UNARY_OF(t, N, name)              \
    AT_SET_UNARY(t, N, name)                     \
    (t)->unary_of[AT_UN_##N][0] = k_##name##_of; \
    (t)->unary_of[AT_UN_##N][1] = k_##name##_of_nt;

#endif /* ATLAS_KERNELS_LOOPS_H */
