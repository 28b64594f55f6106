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
    AT_STD_GEMM_TA,   /* a stored (k, m) */
    AT_STD_GEMM_TB,   /* b stored (n, k) */
    AT_STD_GEMM_TATB, /* both */
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

/* Whether two tensors have one shape. */
static inline int at_same_shape(const at_tensor *a, const at_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

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

/* ---- broadcasting elementwise ops (src/stdlib/broadcast.c) --------------
 *
 * A binary op (or `where`, ternary) over operands that are each a tensor or
 * a scalar, broadcast by NumPy's rules.  The broadcast shape is collapsed
 * (output dims of size 1 dropped, neighbouring dims merged where every
 * operand is present in both or broadcast along both) and mapped onto
 * launches of rows x cols: the last two collapsed dims, with an outer loop
 * of launches (pointer offsets) over any dims before them.  Each operand is
 * read by `load` (present along both), `load.row` (broadcast along the
 * columns), `load.col` (broadcast down the rows) or as a scalar param (a
 * Python scalar, or a one-element tensor read on the host per launch).  No
 * broadcast operand is ever materialised.  The op computes in the element
 * type PyTorch's promotion gives (dimensioned tensors over 0-d ones over
 * Python numbers; bool < int32 < int64 < float32; a Python float with an
 * integer tensor gives float32, a Python int keeps the tensor's type; div
 * always computes in float32; comparisons store bool).  Each kernel (op x
 * operand reads and types x the type it computes in) is generated IR text,
 * verified, and compiled once per executor through the library's
 * at_kernel_set. */
typedef enum at_bcop {
    AT_BC_ADD,
    AT_BC_SUB,
    AT_BC_MUL,
    AT_BC_DIV,
    AT_BC_POW,
    AT_BC_MAXIMUM,
    AT_BC_MINIMUM,
    AT_BC_LT,
    AT_BC_LE,
    AT_BC_GT,
    AT_BC_GE,
    AT_BC_EQ,
    AT_BC_NE,
    AT_BC_WHERE, /* cond, a, b */
    AT_BC_COUNT
} at_bcop;

/* How a broadcast operand is read. */
typedef enum at_bc_mode {
    AT_BC_FULL,   /* load: rows*cols elements        */
    AT_BC_ROW,    /* load.row: rows elements         */
    AT_BC_COL,    /* load.col: cols elements         */
    AT_BC_SCALAR, /* a scalar param                  */
    AT_BC_NMODES
} at_bc_mode;

/* An operand: a tensor, or (t == NULL) a Python number of kind AT_F32 (a
 * float: value), AT_I64 (an int: ivalue) or AT_BOOL (ivalue 0 or 1). */
typedef struct at_bc_operand {
    const at_tensor *t;
    at_dtype kind;
    double value;
    int64_t ivalue;
} at_bc_operand;

/* A prepared broadcast op (filled by at_bc_prepare; read-only for callers
 * except `out`, whose data the caller sets before at_bc_launch). */
typedef struct at_bc_plan {
    at_bcop op;
    const char *name; /* what messages call the op */
    int n;            /* operands: 2, or 3 for where */
    int kernel;       /* index in the library's kernel set */
    int mode[3];      /* at_bc_mode per operand */
    int state[3];     /* the read and its element type, per operand */
    int compute;      /* the element type the op computes in */
    void *data[3];    /* each tensor operand's data; NULL for scalars */
    at_dtype dtype[3];
    float value[3];   /* each Python number, as float32 */
    int64_t ivalue[3]; /* each Python number, as an integer */
    int nd;           /* collapsed dims */
    int64_t dim[AT_MAX_DIMS];
    int64_t stride[3][AT_MAX_DIMS]; /* elements; 0 where broadcast */
    size_t outer, rows, cols;       /* launches x (rows x cols) */
    at_tensor out;                  /* the result's description */
} at_bc_plan;

const char *at_bcop_name(at_bcop op);
/* Operands the op takes (2 or 3). */
int at_bcop_arity(at_bcop op);

/* Check the operands (dtypes, shapes: a ValueError naming the op and the
 * shapes when they do not broadcast) and plan the launches.  name, when not
 * NULL, is what messages call the op (e.g. "vector_add"). */
at_status at_bc_prepare(at_bcop op, const char *name, const at_bc_operand *x,
                        size_t n, at_bc_plan *plan, at_error *err);

/* The work of the prepared op (elements times its program's cost per
 * element), which compiles the kernel on first use; 0 when it fails. */
size_t at_bc_cost(at_executor *ex, const at_bc_plan *plan);

/* Launch the prepared op into plan->out.data (plan->out.numel elements of
 * plan->out.dtype).  The output may not overlap an operand, except that it
 * may be exactly the memory of an operand read by `load` (in-place ops:
 * each element is read before it is written). */
at_status at_bc_launch(at_executor *ex, const at_bc_plan *plan, at_error *err);

/* Allocate plan->out.data from the executor's pool and launch the prepared
 * op (the caller frees plan->out.data with at_pool_free; NULL after a
 * failure, with nothing left allocated). */
at_status at_bc_run_prepared(at_executor *ex, at_bc_plan *plan, at_error *err);

/* Prepare, allocate the output from the executor's pool and launch (the
 * caller frees out->data with at_pool_free; NULL after a failure). */
at_status at_bc_run_new(at_executor *ex, at_bcop op, const char *name,
                        const at_bc_operand *x, size_t n, at_tensor *out,
                        at_error *err);

/* The verified IR kernel the prepared op launches (caller frees). */
at_status at_bc_kernel(const at_bc_plan *plan, at_kernel **out, at_error *err);

/* ---- matmul (src/stdlib/matmul.c) ---------------------------------------
 *
 * a @ b by NumPy's (and PyTorch's) rules, float32: (m, k) @ (k, n) is a
 * gemm; a 1-D a is a row and a 1-D b a column whose axis leaves the result
 * ((m, k) @ (k,) -> (m,), (k,) @ (k, n) -> (n,), (k,) @ (k,) -> ()); the
 * axes before the last two are batch axes, broadcast by NumPy's rules.  It
 * runs as launches of the AT_STD_GEMM descriptor, one per matrix of the
 * result (one in all when b has no batch of its own), each reading its
 * operands in place.  Errors name matmul and both shapes: AT_E_VALUE for a
 * 0-d operand, inner axes that differ or batch axes that do not broadcast,
 * AT_E_TYPE for an operand that is not float32. */

/* Validate and describe the result (data left NULL). */
at_status at_matmul_prepare(const at_tensor *a, const at_tensor *b,
                            at_tensor *out, at_error *err);

/* Prepare, allocate the result from the executor's pool and launch, in one
 * call.  On success *out describes the result, which the caller releases
 * with at_pool_free(at_executor_pool(ex), out->data); on failure nothing
 * stays allocated and out->data is NULL. */
at_status at_matmul_run_new(at_executor *ex, const at_tensor *a,
                            const at_tensor *b, at_tensor *out, at_error *err);

/* The work of a @ b in at_stdop_cost's units (the gemm's multiply-adds over
 * the batch times its program's cost); 0 for operands it would refuse. */
size_t at_matmul_cost(at_executor *ex, const at_tensor *a, const at_tensor *b);

/* ---- astype (src/stdlib/astype.c) ---------------------------------------
 *
 * x converted to another storage dtype as PyTorch's .to(dtype) does on x86,
 * through the IR's cast (one kernel per pair of dtypes): a float to an
 * integer truncates toward zero, NaN, inf and out-of-range values give the
 * integer type's minimum; integers to float32 round to nearest; int64 to
 * int32 keeps the low 32 bits; bool is 0 or 1, and a number is true where it
 * is nonzero (NaN too).  The result has x's shape.  to must differ from
 * x's dtype (AT_E_VALUE otherwise: a copy is not a conversion). */

/* Allocate the result from the executor's pool and convert, in one call.
 * On success *out describes the result, which the caller releases with
 * at_pool_free(at_executor_pool(ex), out->data); on failure nothing stays
 * allocated and out->data is NULL. */
at_status at_astype_run_new(at_executor *ex, const at_tensor *x, at_dtype to,
                            at_tensor *out, at_error *err);

/* The work of the conversion in at_stdop_cost's units; 0 for one it would
 * refuse. */
size_t at_astype_cost(at_executor *ex, const at_tensor *x, at_dtype to);

/* -x (op AT_STD_NEG) or |x| (AT_STD_ABS) of an int32 or int64 x, wrapping as
 * PyTorch does: -MIN and |MIN| are MIN.  The result has x's shape and
 * dtype, allocated as at_astype_run_new allocates; AT_E_TYPE for other
 * dtypes (the float32 ops are at_stdop_run_new's). */
at_status at_int_unary_run_new(at_executor *ex, at_stdop op, const at_tensor *x,
                               at_tensor *out, at_error *err);

/* The work of at_int_unary_run_new in at_stdop_cost's units; 0 for a call
 * it would refuse. */
size_t at_int_unary_cost(at_executor *ex, at_stdop op, const at_tensor *x);

#ifdef __cplusplus
}
#endif
#endif /* ATLAS_STDLIB_H */
