/* Hologram Atlas — the standard library: every op of hg.ops as an IR kernel.
 *
 * at_stdop_prepare validates operands and computes the output's shape and
 * dtype (errors name the op and the shapes); at_stdop_run launches the op's
 * kernel, compiled once per executor and cached.  The output must have been
 * allocated by the caller with the prepared shape.
 */
#ifndef ATLAS_STDLIB_H
#define ATLAS_STDLIB_H

#include "atlas/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* clang-format off */
#define AT_STDOPS(X) \
    X(VECTOR_ADD, "vector_add") \
    X(VECTOR_SUB, "vector_sub") \
    X(VECTOR_MUL, "vector_mul") \
    X(VECTOR_DIV, "vector_div") \
    X(NEG, "neg") \
    X(ABS, "abs") \
    X(RELU, "relu") \
    X(SIGMOID, "sigmoid") \
    X(TANH, "tanh") \
    X(SOFTMAX, "softmax") \
    X(EXP, "exp") \
    X(LOG, "log") \
    X(SQRT, "sqrt") \
    X(POW, "pow") \
    X(POW_SCALAR, "pow_scalar") \
    X(SUM, "sum") \
    X(MAX, "max") \
    X(MIN, "min") \
    X(MEAN, "mean") \
    X(SUM_ROWS, "sum_rows") \
    X(MAX_ROWS, "max_rows") \
    X(MIN_ROWS, "min_rows") \
    X(MEAN_ROWS, "mean_rows") \
    X(GEMM, "gemm") \
    X(MSE_LOSS, "mse_loss") \
    X(CROSS_ENTROPY, "cross_entropy")
/* clang-format on */

#define AT_STD_ENUM(N, s) AT_STD_##N,
typedef enum at_stdop {
    AT_STDOPS(AT_STD_ENUM) AT_STD_COUNT
} at_stdop;
#undef AT_STD_ENUM

/* A dense, C-contiguous array in executor memory. */
typedef struct at_tensor {
    void *data;
    at_dtype dtype;
    int ndim;
    int64_t shape[AT_MAX_DIMS];
    size_t numel;
} at_tensor;

typedef struct at_stdop_params {
    float scalar;          /* POW_SCALAR exponent                        */
    int64_t ignore_index;  /* CROSS_ENTROPY (PyTorch default -100)       */
    int64_t m, n, k;       /* GEMM                                       */
} at_stdop_params;

const char *at_stdop_name(at_stdop op);
/* Number of tensor inputs the op takes (1 or 2). */
int at_stdop_arity(at_stdop op);

/* Build the op's IR kernel (verified).  Caller frees. */
at_status at_stdop_kernel(at_stdop op, at_kernel **out, at_error *err);

/* Validate and compute the output description (data left NULL). */
at_status at_stdop_prepare(at_stdop op, const at_tensor *in, size_t nin,
                           const at_stdop_params *params, at_tensor *out,
                           at_error *err);

/* Launch (the executor compiles and caches the kernel on first use) into
 * the caller's output, which must match what at_stdop_prepare describes
 * and must not overlap an input. */
at_status at_stdop_run(at_executor *ex, at_stdop op, const at_tensor *in,
                       size_t nin, const at_stdop_params *params,
                       at_tensor *out, at_error *err);

/* Prepare, allocate the output from the executor's pool and launch, in one
 * call (one validation).  On success *out describes the new output, which
 * the caller releases with at_pool_free(at_executor_pool(ex), out->data);
 * on failure nothing stays allocated and out->data is NULL. */
at_status at_stdop_run_new(at_executor *ex, at_stdop op, const at_tensor *in,
                           size_t nin, const at_stdop_params *params,
                           at_tensor *out, at_error *err);

/* Work estimate in "element-op units", used to decide whether releasing the
 * GIL / waking workers pays for itself.  Defined for any operands, validated
 * or not (callers ask before at_stdop_run_new validates). */
size_t at_stdop_cost(at_stdop op, const at_tensor *in, size_t nin,
                     const at_stdop_params *params);

#ifdef __cplusplus
}
#endif
#endif /* ATLAS_STDLIB_H */
