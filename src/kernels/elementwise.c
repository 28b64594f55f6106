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

/* The fused kernels, each a form of one operation y = x' op r (op an AT_BIN_
 * number: add, sub, mul or div), `form` a constant set of FUSE_ flags:
 *   x' = x - s0 (FUSE_PRE, the lowering's fuse_pre_sub), s0 * x
 *        (FUSE_SCALE_X, fuse_scaled_operands) or x;
 *   r  = the slot s, or the vector u (FUSE_VEC), times su with FUSE_SCALE_U;
 *   FUSE_WEIGHT: then times the vector w, FUSE_BIAS: then plus the vector b
 *        (fuse_scale_affine takes both, fuse_rms the weight alone).
 * Each step is rounded as the sub, add, mul and div kernels round it (no
 * contraction), so a fused kernel is bit-identical to its instructions. */
enum {
    FUSE_PRE = 1,
    FUSE_WEIGHT = 2,
    FUSE_BIAS = 4,
    FUSE_AFFINE = FUSE_WEIGHT | FUSE_BIAS,
    FUSE_SCALE_X = 8,
    FUSE_VEC = 16,
    FUSE_SCALE_U = 32
};
typedef struct fused_args {
    const float *x, *u, *w, *b; /* u: FUSE_VEC; w, b: FUSE_WEIGHT, _BIAS */
    vf s0, s, su;
} fused_args;
AT_INLINE vf op_fused(const fused_args *f, vf x, vf u, vf w, vf b, int op,
                      int form)
{
    if (form & FUSE_PRE)
        x = vf_sub(x, f->s0);
    if (form & FUSE_SCALE_X)
        x = vf_mul(f->s0, x);
    vf r = !(form & FUSE_VEC)      ? f->s
           : (form & FUSE_SCALE_U) ? vf_mul(f->su, u)
                                   : u;
    vf t = vf_binop(op, x, r);
    if (form & FUSE_WEIGHT)
        t = vf_mul(t, w);
    return form & FUSE_BIAS ? vf_add(t, b) : t;
}
/* One vector of y at i (k lanes: a tail, or the head before streamed lines). */
AT_INLINE vf fused_n(const fused_args *f, size_t i, size_t k, int op, int form)
{
    vf u = form & FUSE_VEC ? vf_load_n(f->u + i, k) : vf_zero();
    vf w = form & FUSE_WEIGHT ? vf_load_n(f->w + i, k) : vf_zero();
    vf b = form & FUSE_BIAS ? vf_load_n(f->b + i, k) : vf_zero();
    return op_fused(f, vf_load_n(f->x + i, k), u, w, b, op, form);
}
AT_INLINE vf fused_at(const fused_args *f, size_t i, int op, int form)
{
    vf u = form & FUSE_VEC ? vf_load(f->u + i) : vf_zero();
    vf w = form & FUSE_WEIGHT ? vf_load(f->w + i) : vf_zero();
    vf b = form & FUSE_BIAS ? vf_load(f->b + i) : vf_zero();
    return op_fused(f, vf_load(f->x + i), u, w, b, op, form);
}
/* The _nt forms stream y's whole lines, as the loop shapes of loops.h do,
 * and leave the fence to their caller as those do. */
AT_INLINE void loop_fused(size_t n, float *y, const fused_args *f, int stream,
                          int op, int form)
{
    size_t i = 0, end = n; /* the groups and put end here */
    if (stream) {
        stream_span sp = stream_lines(y, n);
        for (size_t w; i < sp.head; i += w) {
            w = sp.head - i < VL ? sp.head - i : VL;
            store_upto(y + i,
                       w == VL ? fused_at(f, i, op, form)
                               : fused_n(f, i, w, op, form),
                       w);
        }
        end = sp.end;
    }
    for (; i + 4 * VL <= end; i += 4 * VL) {
        EACH(j, 4)
        put(y + i + j * VL, fused_at(f, i + j * VL, op, form), stream);
    }
    for (; i + VL <= end; i += VL)
        put(y + i, fused_at(f, i, op, form), stream);
    for (; i + VL <= n; i += VL)
        vf_store(y + i, fused_at(f, i, op, form));
    if (i < n)
        vf_store_n(y + i, fused_n(f, i, n - i, op, form), n - i);
}
/* k_scale_affine[_nt], k_div_affine[_nt] and their pre forms. */
#define AT_AFFINE_KERNEL(name, stream, op)                                  \
    static void name(size_t n, float *y, const float *x, float s,           \
                     const float *w, const float *b)                        \
    {                                                                       \
        fused_args f = {x, NULL, w, b, vf_zero(), vf_set1(s), vf_zero()};   \
        loop_fused(n, y, &f, stream, op, FUSE_AFFINE);                      \
    }                                                                       \
    static void pre_##name(size_t n, float *y, const float *x, float s0,    \
                           float s, const float *w, const float *b)         \
    {                                                                       \
        fused_args f = {x, NULL, w, b, vf_set1(s0), vf_set1(s), vf_zero()}; \
        loop_fused(n, y, &f, stream, op, FUSE_AFFINE | FUSE_PRE);           \
    }
AT_AFFINE_KERNEL(k_scale_affine, 0, AT_BIN_MUL)
AT_AFFINE_KERNEL(k_scale_affine_nt, 1, AT_BIN_MUL)
AT_AFFINE_KERNEL(k_div_affine, 0, AT_BIN_DIV)
AT_AFFINE_KERNEL(k_div_affine_nt, 1, AT_BIN_DIV)
/* k_div_mul[_nt]: y = (x / s) * w. */
#define AT_DIV_MUL_KERNEL(name, stream)                                      \
    static void name(size_t n, float *y, const float *x, float s,            \
                     const float *w)                                         \
    {                                                                        \
        fused_args f = {x, NULL, w, NULL, vf_zero(), vf_set1(s), vf_zero()}; \
        loop_fused(n, y, &f, stream, AT_BIN_DIV, FUSE_WEIGHT);               \
    }
AT_DIV_MUL_KERNEL(k_div_mul, 0)
AT_DIV_MUL_KERNEL(k_div_mul_nt, 1)
/* k_pre_<op>[_nt]: y = (x - s0) op s. */
#define AT_PRE_BINARY_KERNEL(name, stream, op)                              \
    static void name(size_t n, float *y, const float *x, float s0, float s) \
    {                                                                       \
        fused_args f = {x,           NULL,       NULL,     NULL,            \
                        vf_set1(s0), vf_set1(s), vf_zero()};                \
        loop_fused(n, y, &f, stream, op, FUSE_PRE);                         \
    }
AT_PRE_BINARY_KERNEL(k_pre_add, 0, AT_BIN_ADD)
AT_PRE_BINARY_KERNEL(k_pre_add_nt, 1, AT_BIN_ADD)
AT_PRE_BINARY_KERNEL(k_pre_sub, 0, AT_BIN_SUB)
AT_PRE_BINARY_KERNEL(k_pre_sub_nt, 1, AT_BIN_SUB)
AT_PRE_BINARY_KERNEL(k_pre_mul, 0, AT_BIN_MUL)
AT_PRE_BINARY_KERNEL(k_pre_mul_nt, 1, AT_BIN_MUL)
AT_PRE_BINARY_KERNEL(k_pre_div, 0, AT_BIN_DIV)
AT_PRE_BINARY_KERNEL(k_pre_div_nt, 1, AT_BIN_DIV)
/* k_scaled_<op>_<which>[_nt]: y = (sa * a) op b (which a), a op (sb * b)
 * (b) or (sa * a) op (sb * b) (ab). */
#define AT_SCALED_KERNEL(name, stream, op, form)                         \
    static void name(size_t n, float *y, const float *a, const float *b, \
                     float sa, float sb)                                 \
    {                                                                    \
        fused_args f = {                                                 \
            a, b, NULL, NULL, vf_set1(sa), vf_zero(), vf_set1(sb)};      \
        loop_fused(n, y, &f, stream, op, FUSE_VEC | (form));             \
    }
#define AT_SCALED_KERNELS(name, op)                                            \
    AT_SCALED_KERNEL(k_scaled_##name##_a, 0, op, FUSE_SCALE_X)                 \
    AT_SCALED_KERNEL(k_scaled_##name##_a_nt, 1, op, FUSE_SCALE_X)              \
    AT_SCALED_KERNEL(k_scaled_##name##_b, 0, op, FUSE_SCALE_U)                 \
    AT_SCALED_KERNEL(k_scaled_##name##_b_nt, 1, op, FUSE_SCALE_U)              \
    AT_SCALED_KERNEL(k_scaled_##name##_ab, 0, op, FUSE_SCALE_X | FUSE_SCALE_U) \
    AT_SCALED_KERNEL(k_scaled_##name##_ab_nt, 1, op,                           \
                     FUSE_SCALE_X | FUSE_SCALE_U)
AT_SCALED_KERNELS(add, AT_BIN_ADD)
AT_SCALED_KERNELS(sub, AT_BIN_SUB)
AT_SCALED_KERNELS(mul, AT_BIN_MUL)
AT_SCALED_KERNELS(div, AT_BIN_DIV)
/* k_<op>_add[_nt]: y = (a op b) + c. */
#define AT_BINARY_ADD_KERNEL(name, stream, op)                           \
    static void name(size_t n, float *y, const float *a, const float *b, \
                     const float *c)                                     \
    {                                                                    \
        fused_args f = {a, b, NULL, c, vf_zero(), vf_zero(), vf_zero()}; \
        loop_fused(n, y, &f, stream, op, FUSE_VEC | FUSE_BIAS);          \
    }
#define AT_BINARY_ADD_KERNELS(name, op)         \
    AT_BINARY_ADD_KERNEL(k_##name##_add, 0, op) \
    AT_BINARY_ADD_KERNEL(k_##name##_add_nt, 1, op)
AT_BINARY_ADD_KERNELS(add, AT_BIN_ADD)
AT_BINARY_ADD_KERNELS(sub, AT_BIN_SUB)
AT_BINARY_ADD_KERNELS(mul, AT_BIN_MUL)
AT_BINARY_ADD_KERNELS(div, AT_BIN_DIV)

/* The fused Adam step (at_k_adam): each element's four to six inputs are
 * loaded, its three results computed in registers and stored, so the step
 * is one pass over memory. */
typedef struct adam_scalars {
    vf s[9];
} adam_scalars;
AT_INLINE void adam_step(const at_adam_args *a, const adam_scalars *c, size_t i,
                         size_t k, int sq_first, int bc, int stream)
{
    vf m0 = load_upto(a->m0 + i, k), m1 = load_upto(a->m1 + i, k);
    vf v0 = load_upto(a->v0 + i, k), v1 = load_upto(a->v1 + i, k);
    vf v2 = load_upto(a->v2 + i, k), p = load_upto(a->p + i, k);
    vf m = vf_add(vf_mul(c->s[0], m0), vf_mul(c->s[1], m1));
    vf q = sq_first ? vf_mul(c->s[3], vf_mul(v1, v2))
                    : vf_mul(vf_mul(c->s[3], v1), v2);
    vf v = vf_add(vf_mul(c->s[2], v0), q);
    vf mh = bc ? vf_div(m, c->s[6]) : m;
    vf vh = bc ? vf_div(v, c->s[7]) : v;
    vf d = vf_add(vf_sqrt(vh), c->s[5]);
    p = vf_sub(vf_mul(c->s[8], p), vf_div(vf_mul(c->s[4], mh), d));
    if (k < VL) {
        vf_store_n(a->mo + i, m, k);
        vf_store_n(a->vo + i, v, k);
        vf_store_n(a->po + i, p, k);
        return;
    }
    put(a->mo + i, m, stream);
    put(a->vo + i, v, stream);
    put(a->po + i, p, stream);
}
/* The streaming form streams po's whole lines (stream_lines); it streams
 * only when mo's and vo's lines then fall at the same elements (else it
 * stores). */
AT_INLINE void loop_adam(size_t n, const at_adam_args *a, int sq_first, int bc,
                         int stream)
{
    adam_scalars c;
    EACH(j, 9) c.s[j] = vf_set1(a->s[j]);
    size_t i = 0, end = n;
    if (stream) {
        stream_span sp = stream_lines(a->po, n);
        for (size_t w; i < sp.head; i += w) {
            w = sp.head - i < VL ? sp.head - i : VL;
            adam_step(a, &c, i, w, sq_first, bc, 0);
        }
        end = sp.end;
    }
    for (; i + VL <= end; i += VL)
        adam_step(a, &c, i, VL, sq_first, bc, stream);
    for (; i + VL <= n; i += VL)
        adam_step(a, &c, i, VL, sq_first, bc, 0);
    if (i < n)
        adam_step(a, &c, i, n - i, sq_first, bc, 0);
}
static int adam_aligned(const at_adam_args *a)
{
    uintptr_t line = AT_LINE_FLOATS * sizeof(float);
    return ((uintptr_t)a->po - (uintptr_t)a->mo) % line == 0
           && ((uintptr_t)a->po - (uintptr_t)a->vo) % line == 0;
}
#define AT_ADAM_KERNELS(name, sq_first, bc)                \
    static void name(size_t n, const at_adam_args *a)      \
    {                                                      \
        loop_adam(n, a, sq_first, bc, 0);                  \
    }                                                      \
    static void name##_nt(size_t n, const at_adam_args *a) \
    {                                                      \
        if (adam_aligned(a))                               \
            loop_adam(n, a, sq_first, bc, 1);              \
        else                                               \
            loop_adam(n, a, sq_first, bc, 0);              \
    }
AT_ADAM_KERNELS(k_adam, 0, 0)
AT_ADAM_KERNELS(k_adam_sq, 1, 0)
AT_ADAM_KERNELS(k_adam_bc, 0, 1)
AT_ADAM_KERNELS(k_adam_sq_bc, 1, 1)

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

static void k_stream_fence(void) { vf_stream_fence(); }

void AT_ISA_FN(at_register_elementwise)(at_ktable *t)
{
    t->stream_fence = k_stream_fence;
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
    t->pre_affine[0][0] = pre_k_scale_affine;
    t->pre_affine[0][1] = pre_k_scale_affine_nt;
    t->pre_affine[1][0] = pre_k_div_affine;
    t->pre_affine[1][1] = pre_k_div_affine_nt;
#define AT_SET_PRE(N, name)                        \
    t->pre_binary_s[AT_BIN_##N][0] = k_pre_##name; \
    t->pre_binary_s[AT_BIN_##N][1] = k_pre_##name##_nt;
    AT_SET_PRE(ADD, add)
    AT_SET_PRE(SUB, sub)
    AT_SET_PRE(MUL, mul)
    AT_SET_PRE(DIV, div)
#undef AT_SET_PRE
#define AT_SET_SCALED(N, name)                                   \
    t->scaled_binary[AT_BIN_##N][0][0] = k_scaled_##name##_a;    \
    t->scaled_binary[AT_BIN_##N][0][1] = k_scaled_##name##_a_nt; \
    t->scaled_binary[AT_BIN_##N][1][0] = k_scaled_##name##_b;    \
    t->scaled_binary[AT_BIN_##N][1][1] = k_scaled_##name##_b_nt; \
    t->scaled_binary[AT_BIN_##N][2][0] = k_scaled_##name##_ab;   \
    t->scaled_binary[AT_BIN_##N][2][1] = k_scaled_##name##_ab_nt;
    AT_SET_SCALED(ADD, add)
    AT_SET_SCALED(SUB, sub)
    AT_SET_SCALED(MUL, mul)
    AT_SET_SCALED(DIV, div)
#undef AT_SET_SCALED
#define AT_SET_BINARY_ADD(N, name)                 \
    t->binary_add[AT_BIN_##N][0] = k_##name##_add; \
    t->binary_add[AT_BIN_##N][1] = k_##name##_add_nt;
    AT_SET_BINARY_ADD(ADD, add)
    AT_SET_BINARY_ADD(SUB, sub)
    AT_SET_BINARY_ADD(MUL, mul)
    AT_SET_BINARY_ADD(DIV, div)
#undef AT_SET_BINARY_ADD
    t->div_mul = k_div_mul;
    t->div_mul_nt = k_div_mul_nt;
#define AT_SET_ADAM(sq, bc, name) \
    t->adam[sq][bc][0] = name;    \
    t->adam[sq][bc][1] = name##_nt;
    AT_SET_ADAM(0, 0, k_adam)
    AT_SET_ADAM(1, 0, k_adam_sq)
    AT_SET_ADAM(0, 1, k_adam_bc)
    AT_SET_ADAM(1, 1, k_adam_sq_bc)
#undef AT_SET_ADAM
}
