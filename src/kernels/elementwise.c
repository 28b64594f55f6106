/* Hologram Atlas — elementwise kernels: arithmetic, min/max, relu, neg, abs,
 * comparisons and select.  Compiled once per ISA level (see ktable.h).
 *
 * Each kernel is one loop shape (loop_unary, loop_vv, loop_vs, ...) applied
 * to a per-lane operation; the shapes are always_inline so the operation
 * inlines into them and every kernel is a straight SIMD loop, unrolled four
 * vectors deep, with one masked tail.  Large outputs that the caller will
 * not read back soon are written with streaming stores by the _nt kernels. */
#include "simd.h"
#include "stream.h"
#include "ktable.h"

#define AT_INLINE static inline __attribute__((always_inline))

typedef vf (*vop1)(vf);
typedef vf (*vop2)(vf, vf);

/* ---- loop shapes (put/peel: stream.h) --------------------- */

AT_INLINE void loop_unary(size_t n, float *y, const float *x, vop1 op,
                          int stream)
{
    size_t i = 0;
    if (stream)
        for (size_t k = peel(y, n); i < k; i++)
            vf_store_n(y + i, op(vf_load_n(x + i, 1)), 1);
    for (; i + 4 * VL <= n; i += 4 * VL) {
        vf a0 = op(vf_load(x + i)), a1 = op(vf_load(x + i + VL));
        vf a2 = op(vf_load(x + i + 2 * VL)), a3 = op(vf_load(x + i + 3 * VL));
        put(y + i, a0, stream);
        put(y + i + VL, a1, stream);
        put(y + i + 2 * VL, a2, stream);
        put(y + i + 3 * VL, a3, stream);
    }
    if (stream)
        vf_stream_fence();
    for (; i + VL <= n; i += VL)
        vf_store(y + i, op(vf_load(x + i)));
    if (i < n)
        vf_store_n(y + i, op(vf_load_n(x + i, n - i)), n - i);
}

/* y = op(a, b) where b is a vector (bs == NULL) or a broadcast scalar. */
AT_INLINE void loop_binary(size_t n, float *y, const float *a, const float *b,
                           vf bs, int scalar, int swap, vop2 op, int stream)
{
#define AT_B(off) (scalar ? bs : vf_load(b + (off)))
#define AT_OP(x, z) (swap ? op((z), (x)) : op((x), (z)))
    size_t i = 0;
    if (stream)
        for (size_t k = peel(y, n); i < k; i++)
            vf_store_n(
                y + i,
                AT_OP(vf_load_n(a + i, 1), scalar ? bs : vf_load_n(b + i, 1)),
                1);
    for (; i + 4 * VL <= n; i += 4 * VL) {
        vf r0 = AT_OP(vf_load(a + i), AT_B(i));
        vf r1 = AT_OP(vf_load(a + i + VL), AT_B(i + VL));
        vf r2 = AT_OP(vf_load(a + i + 2 * VL), AT_B(i + 2 * VL));
        vf r3 = AT_OP(vf_load(a + i + 3 * VL), AT_B(i + 3 * VL));
        put(y + i, r0, stream);
        put(y + i + VL, r1, stream);
        put(y + i + 2 * VL, r2, stream);
        put(y + i + 3 * VL, r3, stream);
    }
    if (stream)
        vf_stream_fence();
    for (; i + VL <= n; i += VL)
        vf_store(y + i, AT_OP(vf_load(a + i), AT_B(i)));
    if (i < n) {
        size_t r = n - i;
        vf bv = scalar ? bs : vf_load_n(b + i, r);
        vf_store_n(y + i, AT_OP(vf_load_n(a + i, r), bv), r);
    }
#undef AT_B
#undef AT_OP
}

/* ---- per-lane operations ----------------------------------------------- */

AT_INLINE vf op_neg(vf a) { return vf_neg(a); }
AT_INLINE vf op_abs(vf a) { return vf_abs(a); }
/* relu: max(x, 0) with +0 for -0 and NaN passed through (as PyTorch). */
AT_INLINE vf op_relu(vf a)
{
    return vf_select(vf_isnan(a), a, vf_max(a, vf_zero()));
}
AT_INLINE vf op_add(vf a, vf b) { return vf_add(a, b); }
AT_INLINE vf op_sub(vf a, vf b) { return vf_sub(a, b); }
AT_INLINE vf op_mul(vf a, vf b) { return vf_mul(a, b); }
AT_INLINE vf op_div(vf a, vf b) { return vf_div(a, b); }
/* minimum/maximum propagate NaN from either side (torch.minimum/maximum). */
AT_INLINE vf op_min(vf a, vf b)
{
    vm nan = vm_or(vf_isnan(a), vf_isnan(b));
    return vf_select(nan, vf_add(a, b), vf_min(a, b));
}
AT_INLINE vf op_max(vf a, vf b)
{
    vm nan = vm_or(vf_isnan(a), vf_isnan(b));
    return vf_select(nan, vf_add(a, b), vf_max(a, b));
}

/* ---- kernels ----------------------------------------------------------- */

#define AT_UNARY_KERNEL(name)                                     \
    static void k_##name(size_t n, float *y, const float *x)      \
    {                                                             \
        loop_unary(n, y, x, op_##name, 0);                        \
    }                                                             \
    static void k_##name##_nt(size_t n, float *y, const float *x) \
    {                                                             \
        loop_unary(n, y, x, op_##name, 1);                        \
    }
AT_UNARY_KERNEL(neg)
AT_UNARY_KERNEL(abs)
AT_UNARY_KERNEL(relu)

#define AT_BINARY_KERNELS(name)                                              \
    static void k_##name(size_t n, float *y, const float *a, const float *b) \
    {                                                                        \
        loop_binary(n, y, a, b, vf_zero(), 0, 0, op_##name, 0);              \
    }                                                                        \
    static void k_##name##_nt(size_t n, float *y, const float *a,            \
                              const float *b)                                \
    {                                                                        \
        loop_binary(n, y, a, b, vf_zero(), 0, 0, op_##name, 1);              \
    }                                                                        \
    static void k_##name##_s(size_t n, float *y, const float *a, float s)    \
    {                                                                        \
        loop_binary(n, y, a, NULL, vf_set1(s), 1, 0, op_##name, 0);          \
    }                                                                        \
    static void k_##name##_rs(size_t n, float *y, const float *a, float s)   \
    {                                                                        \
        loop_binary(n, y, a, NULL, vf_set1(s), 1, 1, op_##name, 0);          \
    }
AT_BINARY_KERNELS(add)
AT_BINARY_KERNELS(sub)
AT_BINARY_KERNELS(mul)
AT_BINARY_KERNELS(div)
AT_BINARY_KERNELS(min)
AT_BINARY_KERNELS(max)

/* Comparisons: int32 masks (-1 / 0), ordered except ne (true on NaN). */
typedef vm (*vcmp)(vf, vf);
AT_INLINE void loop_compare(size_t n, int32_t *m, const float *a,
                            const float *b, vcmp op)
{
    size_t i = 0;
    for (; i + VL <= n; i += VL)
        vm_store(m + i, op(vf_load(a + i), vf_load(b + i)));
    for (; i < n; i++) {
        /* scalar tail: same predicate on one lane */
        int32_t t[VL];
        vm_store(t, op(vf_load_n(a + i, 1), vf_load_n(b + i, 1)));
        m[i] = t[0];
    }
}
#define AT_COMPARE_KERNEL(N, name)                                 \
    static void k_cmp_##name(size_t n, int32_t *m, const float *a, \
                             const float *b)                       \
    {                                                              \
        loop_compare(n, m, a, b, vf_##name);                       \
    }
AT_COMPARE_OPS(AT_COMPARE_KERNEL)

static void k_select(size_t n, float *y, const int32_t *m, const float *a,
                     const float *b)
{
    size_t i = 0;
    for (; i + VL <= n; i += VL)
        vf_store(y + i,
                 vf_select(vm_load(m + i), vf_load(a + i), vf_load(b + i)));
    for (; i < n; i++)
        y[i] = m[i] ? a[i] : b[i];
}

void AT_ISA_FN(at_register_elementwise)(at_ktable *t)
{
    t->unary[AT_UN_NEG] = k_neg;
    t->unary[AT_UN_ABS] = k_abs;
    t->unary[AT_UN_RELU] = k_relu;
    t->unary_nt[AT_UN_NEG] = k_neg_nt;
    t->unary_nt[AT_UN_ABS] = k_abs_nt;
    t->unary_nt[AT_UN_RELU] = k_relu_nt;
#define AT_SET_BIN(N, name)                   \
    t->binary[AT_BIN_##N] = k_##name;         \
    t->binary_nt[AT_BIN_##N] = k_##name##_nt; \
    t->binary_s[AT_BIN_##N] = k_##name##_s;   \
    t->binary_rs[AT_BIN_##N] = k_##name##_rs;
    AT_SET_BIN(ADD, add)
    AT_SET_BIN(SUB, sub)
    AT_SET_BIN(MUL, mul)
    AT_SET_BIN(DIV, div)
    AT_SET_BIN(MIN, min)
    AT_SET_BIN(MAX, max)
#undef AT_SET_BIN
#define AT_SET_CMP(N, name) t->compare[AT_CMP_##N] = k_cmp_##name;
    AT_COMPARE_OPS(AT_SET_CMP)
#undef AT_SET_CMP
    t->select = k_select;
}
