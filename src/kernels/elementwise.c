/* Hologram Atlas — elementwise kernels: arithmetic, min/max, relu, neg, abs,
 * comparisons and select.  Compiled once per ISA level (see ktable.h).
 *
 * Each kernel is a loop shape of loops.h (AT_UNARY_LOOP, AT_BINARY_LOOP)
 * applied to a per-lane operation: a straight SIMD loop, unrolled four vectors
 * deep, with one masked tail.  Large outputs that the caller will not read back
 * soon are written with streaming stores by the _nt kernels. */
#include "simd.h"
#include "loops.h"
#include "ktable.h"

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

AT_UNARY_KERNELS(neg, 4, op_neg, no_fast, no_group)
AT_UNARY_KERNELS(abs, 4, op_abs, no_fast, no_group)
AT_UNARY_KERNELS(relu, 4, op_relu, no_fast, no_group)

#define AT_BINARY_KERNELS(name)                                              \
    AT_BINARY_LOOP(loop_##name, 4, op_##name, no_fast2, no_group2)           \
    static void k_##name(size_t n, float *y, const float *a, const float *b) \
    {                                                                        \
        loop_##name(n, y, a, b, vf_zero(), AT_VV, 0);                        \
    }                                                                        \
    static void k_##name##_nt(size_t n, float *y, const float *a,            \
                              const float *b)                                \
    {                                                                        \
        loop_##name(n, y, a, b, vf_zero(), AT_VV, 1);                        \
    }                                                                        \
    static void k_##name##_s(size_t n, float *y, const float *a, float s)    \
    {                                                                        \
        loop_##name(n, y, a, NULL, vf_set1(s), AT_VS, 0);                    \
    }                                                                        \
    static void k_##name##_rs(size_t n, float *y, const float *a, float s)   \
    {                                                                        \
        loop_##name(n, y, a, NULL, vf_set1(s), AT_SV, 0);                    \
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

/* y = ((x * s) * w) + b, or ((x / s) * w) + b with div (the lowering's
 * fuse_scale_affine), and without the bias y = (x / s) * w (fuse_rms: b is
 * NULL and add 0), each step rounded as the mul, div and
 * add kernels round it; the _nt twins stream y after reaching vector
 * alignment, as the loop shapes of loops.h do.  div and add are constants
 * in each kernel. */
AT_INLINE vf op_scale_affine(vf x, vf s, vf w, vf b, int div, int add)
{
    vf u = vf_mul(div ? vf_div(x, s) : vf_mul(x, s), w);
    return add ? vf_add(u, b) : u;
}
/* One vector of y at i (k lanes: a tail, or one element in the peel). */
AT_INLINE vf scale_affine_n(const float *x, vf s, const float *w,
                            const float *b, size_t i, size_t k, int div,
                            int add)
{
    return op_scale_affine(vf_load_n(x + i, k), s, vf_load_n(w + i, k),
                           add ? vf_load_n(b + i, k) : s, div, add);
}
AT_INLINE vf scale_affine_at(const float *x, vf s, const float *w,
                             const float *b, size_t i, int div, int add)
{
    return op_scale_affine(vf_load(x + i), s, vf_load(w + i),
                           add ? vf_load(b + i) : s, div, add);
}
AT_INLINE void loop_scale_affine(size_t n, float *y, const float *x, vf s,
                                 const float *w, const float *b, int stream,
                                 int div, int add)
{
    size_t i = 0;
    if (stream)
        for (size_t k = peel(y, n); i < k; i++)
            vf_store_n(y + i, scale_affine_n(x, s, w, b, i, 1, div, add), 1);
    for (; i + 4 * VL <= n; i += 4 * VL) {
        EACH(j, 4)
        put(y + i + j * VL, scale_affine_at(x, s, w, b, i + j * VL, div, add),
            stream);
    }
    if (stream)
        vf_stream_fence();
    for (; i + VL <= n; i += VL)
        vf_store(y + i, scale_affine_at(x, s, w, b, i, div, add));
    if (i < n)
        vf_store_n(y + i, scale_affine_n(x, s, w, b, i, n - i, div, add),
                   n - i);
}
/* The kernels: k_scale_affine[_nt] and k_div_affine[_nt] with the bias
 * (params AT_WB), k_div_mul[_nt] without it (AT_W, b NULL). */
#define AT_WB const float *w, const float *b
#define AT_W const float *w
#define AT_AFFINE_KERNEL(name, stream, div, add, params, b)               \
    static void name(size_t n, float *y, const float *x, float s, params) \
    {                                                                     \
        loop_scale_affine(n, y, x, vf_set1(s), w, b, stream, div, add);   \
    }
AT_AFFINE_KERNEL(k_scale_affine, 0, 0, 1, AT_WB, b)
AT_AFFINE_KERNEL(k_scale_affine_nt, 1, 0, 1, AT_WB, b)
AT_AFFINE_KERNEL(k_div_affine, 0, 1, 1, AT_WB, b)
AT_AFFINE_KERNEL(k_div_affine_nt, 1, 1, 1, AT_WB, b)
AT_AFFINE_KERNEL(k_div_mul, 0, 1, 0, AT_W, NULL)
AT_AFFINE_KERNEL(k_div_mul_nt, 1, 1, 0, AT_W, NULL)

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
    AT_SET_UNARY(t, NEG, neg)
    AT_SET_UNARY(t, ABS, abs)
    AT_SET_UNARY(t, RELU, relu)
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
    t->scale_affine = k_scale_affine;
    t->scale_affine_nt = k_scale_affine_nt;
    t->div_affine = k_div_affine;
    t->div_affine_nt = k_div_affine_nt;
    t->div_mul = k_div_mul;
    t->div_mul_nt = k_div_mul_nt;
}
