/* Hologram Atlas — integer and conversion kernels: casts between f32, i32,
 * i64 and bool, and i32/i64 arithmetic (wrapping), neg, abs, min, max,
 * pow, comparisons and the 8-byte select.  Compiled once per ISA level (see
 * ktable.h): plain C loops with no undefined behaviour, whose bodies have
 * no branches (pow's exponent loop aside), which the compiler vectorises
 * with the level's flags.
 *
 * Integer arithmetic runs in the unsigned type of the same width, so that
 * overflow wraps as two's complement (PyTorch's result) instead of being
 * undefined.  A bool in a register is an int32 mask (-1 or 0); in a buffer
 * it is one byte (0 or 1). */
#include <stdint.h>
#include "ktable.h"

/* ---- conversions --------------------------------------------------------- */

/* f32 to an integer as cvttps2dq and cvttss2si do: truncation toward zero,
 * and the type's minimum for NaN, inf and values out of range.  C leaves the
 * conversion of an out-of-range value undefined, so it converts 0 there. */
static inline int32_t f32_i32(float x)
{
    int ok = x >= -0x1p31f && x < 0x1p31f;
    int32_t v = (int32_t)(ok ? x : 0.0f);
    return ok ? v : INT32_MIN;
}
static inline int64_t f32_i64(float x)
{
    int ok = x >= -0x1p63f && x < 0x1p63f;
    int64_t v = (int64_t)(ok ? x : 0.0f);
    return ok ? v : INT64_MIN;
}

/* y[i] = EXPR of x = xs[i], from element type TX to TY: the conversions
 * and the integer unary ops. */
#define AT_CONVERT(name, TX, TY, EXPR)                        \
    static void cv_##name(size_t n, void *y_, const void *x_) \
    {                                                         \
        TY *y = y_;                                           \
        const TX *xs = x_;                                    \
        for (size_t i = 0; i < n; i++) {                      \
            TX x = xs[i];                                     \
            y[i] = (EXPR);                                    \
        }                                                     \
    }
AT_CONVERT(f32_i32, float, int32_t, f32_i32(x))
AT_CONVERT(f32_i64, float, int64_t, f32_i64(x))
AT_CONVERT(f32_mask, float, int32_t, x != 0.0f ? -1 : 0) /* NaN: true */
AT_CONVERT(i32_f32, int32_t, float, (float)x)
AT_CONVERT(i32_i64, int32_t, int64_t, x)
AT_CONVERT(i32_mask, int32_t, int32_t, x != 0 ? -1 : 0)
AT_CONVERT(i64_f32, int64_t, float, (float)x)
AT_CONVERT(i64_i32, int64_t, int32_t, (int32_t)(uint32_t)(uint64_t)x)
AT_CONVERT(i64_mask, int64_t, int32_t, x != 0 ? -1 : 0)
AT_CONVERT(mask_f32, int32_t, float, x ? 1.0f : 0.0f)
AT_CONVERT(mask_i32, int32_t, int32_t, x ? 1 : 0)
AT_CONVERT(mask_i64, int32_t, int64_t, x ? 1 : 0)
AT_CONVERT(byte_mask, uint8_t, int32_t, x ? -1 : 0)
AT_CONVERT(mask_byte, int32_t, uint8_t, x ? 1 : 0)

/* ---- integer arithmetic -------------------------------------------------- */

/* The binary ops on x and z of signed type T, unsigned twin U. */
#define AT_IADD(T, U) (T)((U)x + (U)z)
#define AT_ISUB(T, U) (T)((U)x - (U)z)
#define AT_IMUL(T, U) (T)((U)x * (U)z)
#define AT_IMIN(T, U) (x < z ? x : z)
#define AT_IMAX(T, U) (x > z ? x : z)
#define AT_IPOW(T, U) ipow_##T(x, z)

/* x ** z as PyTorch computes an integer power: by squaring, wrapping; a
 * negative exponent gives 1 for x = 1, -1 or 1 for x = -1 (by z's parity)
 * and 0 for any other x. */
#define AT_IPOW_FN(T, U)                                       \
    static inline T ipow_##T(T x, T z)                         \
    {                                                          \
        if (z < 0)                                             \
            return x == 1 ? 1 : x == -1 ? 1 - 2 * (z & 1) : 0; \
        U r = 1, b = (U)x;                                     \
        for (U e = (U)z; e; e >>= 1) {                         \
            if (e & 1)                                         \
                r *= b;                                        \
            b *= b;                                            \
        }                                                      \
        return (T)r;                                           \
    }
AT_IPOW_FN(int32_t, uint32_t)
AT_IPOW_FN(int64_t, uint64_t)

/* One binary kernel: the parameter list PARAMS, the locals SETUP declares,
 * then y[i] = x op z with x = X and z = Z. */
#define AT_IBIN_LOOP(name, T, U, OP, PARAMS, SETUP, X, Z) \
    static void name PARAMS                               \
    {                                                     \
        T *y = y_;                                        \
        const T *a = a_;                                  \
        SETUP                                             \
        for (size_t i = 0; i < n; i++) {                  \
            T x = (X), z = (Z);                           \
            y[i] = OP(T, U);                              \
        }                                                 \
    }
/* y = a op b, y = a op s and y = s op a for one op and one width. */
#define AT_IBINARY(name, T, U, OP)                                     \
    AT_IBIN_LOOP(name, T, U, OP,                                       \
                 (size_t n, void *y_, const void *a_, const void *b_), \
                 const T *b = b_;                                      \
                 , a[i], b[i])                                         \
    AT_IBIN_LOOP(name##_s, T, U, OP,                                   \
                 (size_t n, void *y_, const void *a_, int64_t s),      \
                 const T v = (T)(U)(uint64_t)s;                        \
                 , a[i], v)                                            \
    AT_IBIN_LOOP(name##_rs, T, U, OP,                                  \
                 (size_t n, void *y_, const void *a_, int64_t s),      \
                 const T v = (T)(U)(uint64_t)s;                        \
                 , v, a[i])

/* The unary ops on x. */
#define AT_INEG(T, U) (T)(0 - (U)x)
#define AT_IABS(T, U) (x < 0 ? (T)(0 - (U)x) : x) /* abs(MIN) is MIN */

/* Comparisons write int32 masks, as the float ones do. */
#define AT_ICOMPARE(name, T, CMP)                                        \
    static void name(size_t n, void *m_, const void *a_, const void *b_) \
    {                                                                    \
        int32_t *m = m_;                                                 \
        const T *a = a_, *b = b_;                                        \
        for (size_t i = 0; i < n; i++)                                   \
            m[i] = -(int32_t)(a[i] CMP b[i]);                            \
    }

/* Every kernel of one width: suffix W, types T and U. */
#define AT_INT_KERNELS(W, T, U)             \
    AT_IBINARY(k_add##W, T, U, AT_IADD)     \
    AT_IBINARY(k_sub##W, T, U, AT_ISUB)     \
    AT_IBINARY(k_mul##W, T, U, AT_IMUL)     \
    AT_IBINARY(k_min##W, T, U, AT_IMIN)     \
    AT_IBINARY(k_max##W, T, U, AT_IMAX)     \
    AT_IBINARY(k_pow##W, T, U, AT_IPOW)     \
    AT_CONVERT(neg##W, T, T, AT_INEG(T, U)) \
    AT_CONVERT(abs##W, T, T, AT_IABS(T, U)) \
    AT_ICOMPARE(k_lt##W, T, <)              \
    AT_ICOMPARE(k_le##W, T, <=)             \
    AT_ICOMPARE(k_gt##W, T, >)              \
    AT_ICOMPARE(k_ge##W, T, >=)             \
    AT_ICOMPARE(k_eq##W, T, ==)             \
    AT_ICOMPARE(k_ne##W, T, !=)
AT_INT_KERNELS(32, int32_t, uint32_t)
AT_INT_KERNELS(64, int64_t, uint64_t)

static void k_select64(size_t n, int64_t *y, const int32_t *m, const int64_t *a,
                       const int64_t *b)
{
    for (size_t i = 0; i < n; i++)
        y[i] = m[i] ? a[i] : b[i];
}

/* ---- registration -------------------------------------------------------- */

void AT_ISA_FN(at_register_intops)(at_ktable *t)
{
#define AT_SET_CV(F, T, name) t->convert[AT_EK_##F][AT_EK_##T] = cv_##name;
    AT_SET_CV(F32, I32, f32_i32)
    AT_SET_CV(F32, I64, f32_i64)
    AT_SET_CV(F32, MASK, f32_mask)
    AT_SET_CV(I32, F32, i32_f32)
    AT_SET_CV(I32, I64, i32_i64)
    AT_SET_CV(I32, MASK, i32_mask)
    AT_SET_CV(I64, F32, i64_f32)
    AT_SET_CV(I64, I32, i64_i32)
    AT_SET_CV(I64, MASK, i64_mask)
    AT_SET_CV(MASK, F32, mask_f32)
    AT_SET_CV(MASK, I32, mask_i32)
    AT_SET_CV(MASK, I64, mask_i64)
    AT_SET_CV(BYTE, MASK, byte_mask)
    AT_SET_CV(MASK, BYTE, mask_byte)
#undef AT_SET_CV
#define AT_SET_INT(w, W)                          \
    t->iunary[w][AT_UN_NEG] = cv_neg##W;          \
    t->iunary[w][AT_UN_ABS] = cv_abs##W;          \
    t->ibinary[w][AT_BIN_ADD] = k_add##W;         \
    t->ibinary[w][AT_BIN_SUB] = k_sub##W;         \
    t->ibinary[w][AT_BIN_MUL] = k_mul##W;         \
    t->ibinary[w][AT_BIN_MIN] = k_min##W;         \
    t->ibinary[w][AT_BIN_MAX] = k_max##W;         \
    t->ibinary[w][AT_BIN_POW] = k_pow##W;         \
    t->ibinary_s[w][AT_BIN_ADD] = k_add##W##_s;   \
    t->ibinary_s[w][AT_BIN_SUB] = k_sub##W##_s;   \
    t->ibinary_s[w][AT_BIN_MUL] = k_mul##W##_s;   \
    t->ibinary_s[w][AT_BIN_MIN] = k_min##W##_s;   \
    t->ibinary_s[w][AT_BIN_MAX] = k_max##W##_s;   \
    t->ibinary_s[w][AT_BIN_POW] = k_pow##W##_s;   \
    t->ibinary_rs[w][AT_BIN_ADD] = k_add##W##_rs; \
    t->ibinary_rs[w][AT_BIN_SUB] = k_sub##W##_rs; \
    t->ibinary_rs[w][AT_BIN_MUL] = k_mul##W##_rs; \
    t->ibinary_rs[w][AT_BIN_MIN] = k_min##W##_rs; \
    t->ibinary_rs[w][AT_BIN_MAX] = k_max##W##_rs; \
    t->ibinary_rs[w][AT_BIN_POW] = k_pow##W##_rs; \
    t->icompare[w][AT_CMP_LT] = k_lt##W;          \
    t->icompare[w][AT_CMP_LE] = k_le##W;          \
    t->icompare[w][AT_CMP_GT] = k_gt##W;          \
    t->icompare[w][AT_CMP_GE] = k_ge##W;          \
    t->icompare[w][AT_CMP_EQ] = k_eq##W;          \
    t->icompare[w][AT_CMP_NE] = k_ne##W;
    AT_SET_INT(0, 32)
    AT_SET_INT(1, 64)
#undef AT_SET_INT
    t->select64 = k_select64;
}
