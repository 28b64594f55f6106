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
    X(EXPM1, expm1) \
    X(GELU, gelu) \
    X(GELU_TANH, gelu_tanh) \
    X(GELU_TANH_K, gelu_tanh_k)
/* clang-format on */
/* GELU is the lowering's fusion of x * 0.5 * (1 + erf(x * 0.70710677f))
 * (fuse_gelu), bit-identical per lane to those five operations; GELU_TANH
 * and GELU_TANH_K fuse the nine of the tanh form,
 * x * 0.5 * (1 + tanh(B * (x + c))), whose c is K * x^3 computed as
 * ((x * x) * x) * K (GELU_TANH: the stdlib's order) or ((K * x) * x) * x
 * (GELU_TANH_K: `0.044715 * x * x * x` in Python); see fuse_gelu_tanh.
 * None has an IR op of its own. */
#define AT_GELU_TANH_K 0x1.6e4e26p-5f /* 0.044715 rounded to float */
#define AT_GELU_TANH_B 0x1.988454p-1f /* sqrt(2 / pi) rounded to float */

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
/* Fused y = x - s, returning the sum of y * y (as rsum over mul y, y would,
 * bit-identical): the lowering's fuse_sub_sq_sum pass emits it for layer
 * norm's variance. */
typedef double (*at_k_sub_sq_sum)(size_t n, float *y, const float *x, float s);
/* The sum of (a - b) * (a - b), nothing written (as rsum over mul of sub's
 * a - b would, bit-identical): fuse_sub_sq_sum's form for two vectors
 * (mse_loss). */
typedef double (*at_k_diff_sq_sum)(size_t n, const float *a, const float *b);
/* Fused y = ((x * s) * w) + b, rounded after each operation as mul, mul
 * and add round (no contraction): the lowering's fuse_scale_affine pass
 * emits it for layer norm's last phase. */
typedef void (*at_k_scale_affine)(size_t n, float *y, const float *x, float s,
                                  const float *w, const float *b);
/* The same two forms with x - s0 in place of x (the lowering's fuse_pre_sub
 * pass: a difference recomputed where it is read, never stored): y = (x -
 * s0) op s for binary_s's op, y = (((x - s0) op s) * w) + b for the affine
 * forms, every step rounded as its own kernel rounds it. */
typedef void (*at_k_pre_binary_s)(size_t n, float *y, const float *x, float s0,
                                  float s);
typedef void (*at_k_pre_affine)(size_t n, float *y, const float *x, float s0,
                                float s, const float *w, const float *b);
/* y = (sa * a) op b, a op (sb * b) or (sa * a) op (sb * b) for binary's op
 * (the lowering's fuse_scaled_operands: a product by a slot folded into
 * the operation that reads it), each step rounded as its own kernel rounds
 * it. */
typedef void (*at_k_scaled_binary)(size_t n, float *y, const float *a,
                                   const float *b, float sa, float sb);
/* The input of a unary-of-binary kernel: (a op b) + c, or a op b when c
 * is NULL; op is AT_BIN_ADD .. AT_BIN_DIV. */
typedef struct at_unary_src {
    const float *a, *b, *c;
    int op;
} at_unary_src;
/* y = f((a op b) + c) for unary's f (the lowering's fuse_unary_of), each
 * step rounded as its own kernel rounds it. */
typedef void (*at_k_unary_of)(size_t n, float *y, const at_unary_src *s);
/* y = (a op b) + c for binary's op (the lowering's fuse_binary_add), each
 * step rounded as its own kernel rounds it. */
typedef void (*at_k_binary_add)(size_t n, float *y, const float *a,
                                const float *b, const float *c);
/* The fused Adam step (the lowering's fuse_adam; at_adam in program.h
 * names the operands): m' = (s0 * m0) + (s1 * m1), v' = (s2 * v0) + q with
 * q = (s3 * v1) * v2 (or s3 * (v1 * v2): the kernel's sq_first form),
 * p' = (s8 * p) - ((s4 * m') / (sqrt(v') + s5)), or with m' / s6 and
 * v' / s7 in place of m' and v' in p' (the kernel's bc form), written to
 * mo, vo and po, each step rounded as its own kernel rounds it.  Every
 * element's inputs are read before its outputs are written, so an output
 * may be the memory of any input. */
typedef struct at_adam_args {
    const float *m0, *m1, *v0, *v1, *v2, *p;
    float *mo, *vo, *po;
    float s[9];
} at_adam_args;
typedef void (*at_k_adam)(size_t n, const at_adam_args *a);
/* The sum of f(x - s), nothing written: (x - s)^2 (sq_sub_sum, as
 * sub_sq_sum sums it) or exp(x - s) (exp_sub_total, as exp_sub_sum sums
 * it), bit-identical to those kernels' sums. */
typedef double (*at_k_sub_total)(size_t n, const float *x, float s);
/* Fused y = (x / s) * w, rounded after each operation as div and mul
 * round: the lowering's fuse_rms pass emits it for RMS norm's last
 * phase. */
typedef void (*at_k_div_mul)(size_t n, float *y, const float *x, float s,
                             const float *w);
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

/* GEMM: C = A·B (row-major, leading dimensions in elements).  With trans_a,
 * a holds A's transpose, stored (k, m) with row stride lda; with trans_b, b
 * holds B's transpose, stored (n, k) with row stride ldb.  The caller
 * clears a flag that changes nothing in memory (trans_a with m or k of 1,
 * trans_b with n or k of 1). */
typedef struct at_gemm_args {
    size_t m, n, k;
    const float *a;
    size_t lda;
    const float *b;
    size_t ldb;
    float *c;
    size_t ldc;
    int trans_a, trans_b;
    /* the CPU's L2 prefetch hint stops at L2 (at_cpu_prefetch_l2): the
     * streaming path may then ask for a far operand's next rows ahead */
    int prefetch_l2;
} at_gemm_args;
/* Compute the tile C[m0:m1, n0:n1] completely (it is overwritten, k==0
 * gives zeros).  ws points to at least sgemm_ws_bytes bytes, AT_ALIGN-aligned,
 * private to the calling thread. */
typedef void (*at_k_sgemm_tile)(const at_gemm_args *g, size_t m0, size_t m1,
                                size_t n0, size_t n1, void *ws);
/* The streaming path for shapes packing does not pay for (a vector times a
 * matrix, a matrix times a vector, a few rows of A): sgemm_stream_dim says
 * whether it serves g and along which dimension its work splits
 * (AT_GEMM_STREAM_ROWS: C's rows, _COLS: C's columns; _NONE: the packed
 * tiles serve g); sgemm_stream computes C over [lo, hi) of that dimension
 * (overwritten, k == 0 gives zeros), with ws at least sgemm_stream_ws_bytes
 * bytes, AT_ALIGN-aligned, private to the calling thread.  Each element's
 * result does not depend on lo and hi, so any split gives the same bits. */
enum {
    AT_GEMM_STREAM_NONE,
    AT_GEMM_STREAM_ROWS,
    AT_GEMM_STREAM_COLS,
    AT_GEMM_STREAM_DEPTH
};
typedef int (*at_k_sgemm_stream_dim)(const at_gemm_args *g);
typedef void (*at_k_sgemm_stream)(const at_gemm_args *g, size_t lo, size_t hi,
                                  void *ws);
/* AT_GEMM_STREAM_DEPTH (a vector times a row-major matrix: m == 1, or n == 1
 * with trans_a): the matrix is read once from start to end, whatever the
 * thread count, by splitting the depth.  sgemm_depth_parts gives the number
 * of depth blocks and the floats of their partial results; block t
 * (sgemm_depth_block, ws as for sgemm_stream) writes its part, and
 * sgemm_depth_join adds the parts into C in block order: the same sums, in
 * the same order, as sgemm_tile's depth blocks. */
typedef size_t (*at_k_sgemm_depth_parts)(const at_gemm_args *g,
                                         size_t *nblocks);
typedef void (*at_k_sgemm_depth_block)(const at_gemm_args *g, size_t t,
                                       float *parts, void *ws);
typedef void (*at_k_sgemm_depth_join)(const at_gemm_args *g,
                                      const float *parts);

/* Integer and conversion kernels (intops.c).  Their element kinds: f32,
 * i32, i64, a bool as an int32 mask (-1 true, 0 false: what compare
 * writes and select reads) and a bool as stored in a buffer (one byte, 0 or
 * 1).  convert[from][to] converts as PyTorch's .to() does on x86: f32 to an
 * integer truncates toward zero, NaN, inf and out-of-range values give the
 * type's minimum; integers to f32 round to nearest; a bool is 0 or 1, a
 * number is true where nonzero (NaN too).  NULL where from == to.  Integer
 * arithmetic wraps (two's complement).  The width index w is 0 for i32 and
 * 1 for i64; the int ops use the AT_UN_ (neg, abs), AT_BIN_ (add, sub, mul,
 * min, max) and AT_CMP_ numbers, NULL for the others. */
enum {
    AT_EK_F32,
    AT_EK_I32,
    AT_EK_I64,
    AT_EK_MASK,
    AT_EK_BYTE,
    AT_EK_COUNT
};
typedef void (*at_k_convert)(size_t n, void *y, const void *x);
typedef void (*at_k_ibinary)(size_t n, void *y, const void *a, const void *b);
typedef void (*at_k_ibinary_s)(size_t n, void *y, const void *a, int64_t s);
typedef void (*at_k_select64)(size_t n, int64_t *y, const int32_t *m,
                              const int64_t *a, const int64_t *b);

typedef struct at_ktable {
    const char *isa_name;
    unsigned vector_bytes;               /* 16 (SSE2, NEON), 32 or 64 */
    at_k_unary unary[AT_UN_COUNT];
    at_k_binary binary[AT_BIN_COUNT];
    at_k_binary_s binary_s[AT_BIN_COUNT];    /* y = a op s */
    at_k_binary_s binary_rs[AT_BIN_COUNT];   /* y = s op a */
    /* Orders this thread's streamed stores before its later stores, so that
     * another thread that sees those sees the streamed data: the _nt kernels
     * leave it to their caller. */
    void (*stream_fence)(void);
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
    at_k_exp_sub_sum sub_exp_sum; /* y = x - s, returns sum exp(x - s) */
    at_k_sub_sq_sum sub_sq_sum;
    at_k_diff_sq_sum diff_sq_sum;
    at_k_scale_affine scale_affine, scale_affine_nt; /* _nt: streaming */
    at_k_scale_affine div_affine, div_affine_nt; /* x / s, not x * s */
    /* [AT_BIN_ADD .. AT_BIN_DIV]; [fn][1]: streaming */
    at_k_pre_binary_s pre_binary_s[AT_BIN_DIV + 1][2];
    at_k_pre_affine pre_affine[2][2]; /* [div][streaming] */
    /* [AT_BIN_ADD .. AT_BIN_DIV][a, b or both scaled][streaming] */
    at_k_scaled_binary scaled_binary[AT_BIN_DIV + 1][3][2];
    at_k_binary_add binary_add[AT_BIN_DIV + 1][2]; /* [op][streamed] */
    at_k_unary_of unary_of[AT_UN_COUNT][2]; /* [fn][streamed], or NULL */
    at_k_sub_total sq_sub_sum, exp_sub_total;
    at_k_sgemm_tile sgemm_tile;
    size_t sgemm_ws_bytes;
    /* Preferred tile sizes for splitting one GEMM across workers, and the
     * micro-kernel's rows and columns (a split on a multiple of them adds no
     * short sliver). */
    size_t sgemm_mc, sgemm_nc, sgemm_mr, sgemm_nr;
    at_k_convert convert[AT_EK_COUNT][AT_EK_COUNT];
    at_k_convert iunary[2][AT_UN_COUNT];
    at_k_ibinary ibinary[2][AT_BIN_COUNT];
    at_k_ibinary_s ibinary_s[2][AT_BIN_COUNT]; /* y = a op s */
    at_k_ibinary_s ibinary_rs[2][AT_BIN_COUNT]; /* y = s op a */
    at_k_ibinary icompare[2][AT_CMP_COUNT]; /* y: int32 masks */
    at_k_select64 select64; /* select of 8-byte lanes (select does 4) */
    at_k_sgemm_stream_dim sgemm_stream_dim;
    at_k_sgemm_stream sgemm_stream;
    size_t sgemm_stream_ws_bytes;
    at_k_sgemm_depth_parts sgemm_depth_parts;
    at_k_sgemm_depth_block sgemm_depth_block;
    at_k_sgemm_depth_join sgemm_depth_join;
    /* The FMA peak probe (gemm.c): iters steps of register-only multiply-add
     * chains, fma_probe_flops floating-point operations per step; returns a
     * value that depends on every step. */
    float (*fma_probe)(size_t iters);
    unsigned fma_probe_flops;
    /* The sum of x * x, nothing written (as rsum over mul x, x would,
     * bit-identical): fuse_rms's form for RMS norm's mean square. */
    at_k_rsum sq_sum;
    at_k_div_mul div_mul, div_mul_nt; /* _nt: streaming */
    at_k_adam adam[2][2][2]; /* [sq_first][bc][streaming] */
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
#elif AT_ISA_LEVEL == 3
#define AT_ISA_SUFFIX _neon
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
    void at_register_intops##suffix(at_ktable *t);      \
    void at_ktable_init##suffix(at_ktable *t);
AT_DECLARE_REGISTER(_baseline)
AT_DECLARE_REGISTER(_avx2)
AT_DECLARE_REGISTER(_avx512)
AT_DECLARE_REGISTER(_neon)

#endif /* ATLAS_KTABLE_H */
