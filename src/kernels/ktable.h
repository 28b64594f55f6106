/* Hologram Atlas — the per-ISA kernel table.
 *
 * Every file under src/kernels is compiled once per ISA level (meson.build
 * builds one static library per level with that level's flags and
 * -DAT_ISA_LEVEL=<n>).  Each file fills its part of an at_ktable through a
 * register function whose name carries the level suffix, so the three copies
 * link side by side.  The interpreter only ever calls through the table the
 * executor bound at creation.
 *
 * Contracts shared by all kernels:
 *  - n may be 0 and need not be a multiple of the vector width (tails are
 *    handled inside the kernel, never by reading or writing past n);
 *  - pointers are only 4-byte aligned; outputs may alias inputs exactly
 *    (y == x) but never partially overlap;
 *  - NaN/inf semantics follow PyTorch (IEEE for arithmetic; NaN propagates
 *    through relu/min/max/reductions).
 */
#ifndef ATLAS_KTABLE_H
#define ATLAS_KTABLE_H

#include <stddef.h>
#include <stdint.h>

/* Unary float ops (y[i] = f(x[i])). */
/* clang-format off */
#define AT_UNARY_OPS(X) \
    X(NEG, neg) \
    X(ABS, abs) \
    X(RELU, relu) \
    X(SIGMOID, sigmoid) \
    X(TANH, tanh) \
    X(EXP, exp) \
    X(LOG, log) \
    X(SQRT, sqrt) \
    X(ERF, erf) \
    X(LOG1P, log1p) \
    X(EXPM1, expm1)
/* clang-format on */

/* Binary float ops (y[i] = a[i] op b[i], and y[i] = a[i] op s). */
/* clang-format off */
#define AT_BINARY_OPS(X) \
    X(ADD, add) \
    X(SUB, sub) \
    X(MUL, mul) \
    X(DIV, div) \
    X(POW, pow) \
    X(MIN, min) \
    X(MAX, max)
/* clang-format on */

/* Comparisons write int32 masks: -1 where true, 0 where false. */
/* clang-format off */
#define AT_COMPARE_OPS(X) \
    X(LT, lt) \
    X(LE, le) \
    X(GT, gt) \
    X(GE, ge) \
    X(EQ, eq) \
    X(NE, ne)
/* clang-format on */

#define AT_ENUM_UN(N, n) AT_UN_##N,
#define AT_ENUM_BIN(N, n) AT_BIN_##N,
#define AT_ENUM_CMP(N, n) AT_CMP_##N,
enum {
    AT_UNARY_OPS(AT_ENUM_UN) AT_UN_COUNT
};
enum {
    AT_BINARY_OPS(AT_ENUM_BIN) AT_BIN_COUNT
};
enum {
    AT_COMPARE_OPS(AT_ENUM_CMP) AT_CMP_COUNT
};

typedef void (*at_k_unary)(size_t n, float *y, const float *x);
typedef void (*at_k_binary)(size_t n, float *y, const float *a, const float *b);
typedef void (*at_k_binary_s)(size_t n, float *y, const float *a, float s);
typedef void (*at_k_compare)(size_t n, int32_t *m, const float *a,
                             const float *b);
typedef void (*at_k_select)(size_t n, float *y, const int32_t *m,
                            const float *a, const float *b);

/* Reductions of x[0..n).  sum accumulates in float lanes over runs of
 * AT_RSUM_RUN elements and in double across them (the run length is part of
 * every sum's result); max/min return NaN if any element is NaN and
 * -inf/+inf for n == 0 (callers reject empty max/min before launching). */
typedef double (*at_k_rsum)(size_t n, const float *x);
#define AT_RSUM_RUN 2048
/* Fused y = exp(x - s), returning the sum of y (as rsum would): the
 * lowering's fuse_exp_sum pass emits it for softmax and log-sum-exp. */
typedef double (*at_k_exp_sub_sum)(size_t n, float *y, const float *x, float s);
typedef float (*at_k_rminmax)(size_t n, const float *x);
/* The index of the first maximum / minimum of x[0..n), or of its first NaN;
 * n > 0. */
typedef size_t (*at_k_rarg)(size_t n, const float *x);

/* Over the rows of x (row r at x + r * ld), for columns c < n: csum adds
 * each column's sum to sum[c] (float lanes over runs of AT_CSUM_RUN rows,
 * double across runs; acc is scratch for n floats); cmax/cmin write the
 * column's max/min to acc[c] (NaN if any is NaN; rows > 0); cargmax/cargmin
 * write the value and row of its first max/min (or first NaN) to best[c]
 * and idx[c] (rows > 0, rows < 2^31).  Each column's order is fixed, so the
 * results are the same at every ISA level. */
typedef void (*at_k_csum)(size_t rows, size_t n, size_t ld, const float *x,
                          float *acc, double *sum);
#define AT_CSUM_RUN 32
typedef void (*at_k_cminmax)(size_t rows, size_t n, size_t ld, const float *x,
                             float *acc);
typedef void (*at_k_carg)(size_t rows, size_t n, size_t ld, const float *x,
                          float *best, int32_t *idx);

/* GEMM: C = A·B (row-major, leading dimensions in elements). */
typedef struct at_gemm_args {
    size_t m, n, k;
    const float *a;
    size_t lda;
    const float *b;
    size_t ldb;
    float *c;
    size_t ldc;
} at_gemm_args;
/* Compute the tile C[m0:m1, n0:n1] completely (it is overwritten, k==0
 * gives zeros).  ws points to at least sgemm_ws_bytes bytes, AT_ALIGN-aligned,
 * private to the calling thread. */
typedef void (*at_k_sgemm_tile)(const at_gemm_args *g, size_t m0, size_t m1,
                                size_t n0, size_t n1, void *ws);

typedef struct at_ktable {
    const char *isa_name;
    unsigned vector_bytes;               /* 16, 32 or 64 */
    at_k_unary unary[AT_UN_COUNT];
    at_k_binary binary[AT_BIN_COUNT];
    at_k_binary_s binary_s[AT_BIN_COUNT];    /* y = a op s */
    at_k_binary_s binary_rs[AT_BIN_COUNT];   /* y = s op a */
    /* The same, writing y with streaming (non-temporal) stores, for outputs
     * the interpreter knows exceed the caches; NULL where not provided. */
    at_k_unary unary_nt[AT_UN_COUNT];
    at_k_binary binary_nt[AT_BIN_COUNT];
    at_k_compare compare[AT_CMP_COUNT];
    at_k_select select;
    at_k_rsum rsum;
    at_k_rminmax rmax, rmin;
    at_k_rarg rargmax, rargmin;
    at_k_csum csum;
    at_k_cminmax cmax, cmin;
    at_k_carg cargmax, cargmin;
    at_k_exp_sub_sum exp_sub_sum;
    at_k_sgemm_tile sgemm_tile;
    size_t sgemm_ws_bytes;
    /* Preferred tile sizes for splitting one GEMM across workers, and the
     * micro-kernel's rows and columns (a split on a multiple of them adds no
     * short sliver). */
    size_t sgemm_mc, sgemm_nc, sgemm_mr, sgemm_nr;
} at_ktable;

#define AT_CAT_(a, b) a##b
#define AT_CAT(a, b) AT_CAT_(a, b)

#if defined(AT_ISA_LEVEL)
#if AT_ISA_LEVEL == 0
#define AT_ISA_SUFFIX _baseline
#elif AT_ISA_LEVEL == 1
#define AT_ISA_SUFFIX _avx2
#elif AT_ISA_LEVEL == 2
#define AT_ISA_SUFFIX _avx512
#endif
/* AT_ISA_FN(at_register_vmath) -> at_register_vmath_avx2 etc. */
#define AT_ISA_FN(name) AT_CAT(name, AT_ISA_SUFFIX)
#endif

/* Register functions, one per kernel file and level. */
#define AT_DECLARE_REGISTER(suffix)                     \
    void at_register_elementwise##suffix(at_ktable *t); \
    void at_register_vmath##suffix(at_ktable *t);       \
    void at_register_reduce##suffix(at_ktable *t);      \
    void at_register_gemm##suffix(at_ktable *t);        \
    void at_ktable_init##suffix(at_ktable *t);
AT_DECLARE_REGISTER(_baseline)
AT_DECLARE_REGISTER(_avx2)
AT_DECLARE_REGISTER(_avx512)

#endif /* ATLAS_KTABLE_H */
