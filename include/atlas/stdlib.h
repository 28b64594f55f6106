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

/* The ops; each has one descriptor in src/stdlib/ops.c (its name, IR,
 * operands, shape rule, launch geometry and cost). */
typedef enum at_stdop {
    AT_STD_VECTOR_ADD,
    AT_STD_VECTOR_SUB,
    AT_STD_VECTOR_MUL,
    AT_STD_VECTOR_DIV,
    AT_STD_NEG,
    AT_STD_ABS,
    AT_STD_RELU,
    AT_STD_SIGMOID,
    AT_STD_TANH,
    AT_STD_SOFTMAX,
    AT_STD_EXP,
    AT_STD_LOG,
    AT_STD_SQRT,
    AT_STD_POW,
    AT_STD_POW_SCALAR,
    AT_STD_SUM,
    AT_STD_MAX,
    AT_STD_MIN,
    AT_STD_MEAN,
    AT_STD_SUM_ROWS,
    AT_STD_MAX_ROWS,
    AT_STD_MIN_ROWS,
    AT_STD_MEAN_ROWS,
    AT_STD_SUM_COLS, /* (A, R, C) over R; the *_ROWS ops run these when */
    AT_STD_MAX_COLS, /* an axis after the reduced one is not 1          */
    AT_STD_MIN_COLS,
    AT_STD_MEAN_COLS,
    AT_STD_ARGMAX, /* int64 index into the flattened buffer */
    AT_STD_ARGMIN,
    AT_STD_ARGMAX_ROWS,
    AT_STD_ARGMIN_ROWS,
    AT_STD_ARGMAX_COLS,
    AT_STD_ARGMIN_COLS,
    AT_STD_GEMM,
    AT_STD_MSE_LOSS,
    AT_STD_CROSS_ENTROPY,
    AT_STD_GELU,
    AT_STD_GELU_TANH,
    AT_STD_SILU,
    AT_STD_LEAKY_RELU,
    AT_STD_SOFTPLUS,
    AT_STD_LOG_SOFTMAX,
    AT_STD_BINARY_CROSS_ENTROPY,
    AT_STD_CLIP,
    AT_STD_LAYER_NORM,    /* x */
    AT_STD_LAYER_NORM_W,  /* x, weight */
    AT_STD_LAYER_NORM_B,  /* x, bias */
    AT_STD_LAYER_NORM_WB, /* x, weight, bias */
    AT_STD_COUNT
} at_stdop;

/* A dense, C-contiguous array in executor memory. */
typedef struct at_tensor {
    void *data;
    at_dtype dtype;
    int ndim;
    int64_t shape[AT_MAX_DIMS];
    size_t numel;
} at_tensor;

typedef struct at_stdop_params {
    float scalar;          /* POW_SCALAR exponent, LEAKY_RELU slope,
                              SOFTPLUS beta, CLIP lower bound,
                              LAYER_NORM* eps                            */
    float scalar2;         /* SOFTPLUS threshold, CLIP upper bound       */
    int64_t ignore_index;  /* CROSS_ENTROPY (PyTorch default -100)       */
    int64_t m, n, k;       /* GEMM                                       */
    int64_t axis;          /* *_ROWS, *_COLS: the axis reduced (< 0 counts
                              from the end)                              */
    int keepdims;          /* reductions: keep the reduced axes as 1     */
} at_stdop_params;

const char *at_stdop_name(at_stdop op);
/* Number of tensor inputs the op takes (1 to 3). */
int at_stdop_arity(at_stdop op);

/* Build the op's IR kernel (verified).  Caller frees.  (Launches use the
 * executor's cached program of the same kernel.) */
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

/* The work of the op on these operands, in the executor's units (the
 * elements the op's program runs over, for gemm its multiply-adds, times
 * at_program_cost of the program, which it compiles on first use): whether
 * releasing the GIL pays for itself.  Defined for any operands, validated
 * or not (callers ask before at_stdop_run_new validates); 0 for an unknown
 * op, a wrong number of inputs or a program that fails to compile. */
size_t at_stdop_cost(at_executor *ex, at_stdop op, const at_tensor *in,
                     size_t nin, const at_stdop_params *params);

#ifdef __cplusplus
}
#endif
#endif /* ATLAS_STDLIB_H */
