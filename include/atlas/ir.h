/* Hologram Atlas — the kernel IR (SSA).
 *
 * A kernel is a list of SSA instructions over a launch of `rows x cols`
 * elements (1-D launches have rows == 1).  Every value has a type (f32,
 * i32, i64, bool) and a level, which the verifier derives:
 *
 *   uniform  one value for the whole launch (constants, scalar params,
 *            whole-launch reductions and what is computed from them)
 *   row      one value per row (row loads, row reductions, row index)
 *   elem     one value per element (element loads and what uses them)
 *
 * An operation's level is the highest level of its operands.  Reductions
 * lower the level: reduce.*.row takes elem to row, reduce.*.all takes elem
 * or row to uniform.  A store writes an elem value at the element index, a
 * row value at the row index, a uniform value at index 0.  Loads read at the
 * element index (`load`), at the row index (`load.row`), at the column index
 * (`load.col`) or at a computed i64 index (`gather`, bounds-checked against
 * the buffer).
 *
 * Axis reductions: reduce.argmax.row / reduce.argmin.row give the i64
 * column index of each row's first maximum / minimum (or first NaN), a row
 * value; reduce.{sum,max,min,argmax,argmin}.col reduce over the rows, one
 * result per column (arg forms: the i64 row index), stored at the column
 * index into a buffer of `cols` elements.  They are intrinsics: a kernel
 * holds at most one, its operand is a `load` used by nothing else, and its
 * result is only stored, a .col sum/max/min result perhaps first through
 * add/sub/mul/div/min/max with a uniform operand (mean's division by the
 * row count).  Nothing else in such a kernel is above uniform level.  NaN
 * propagates; ties and NaNs give the first index.
 *
 * `load.col` reads a buffer of `cols` elements, the same for every row: the
 * trailing vector of a broadcast (`(r, c) + (c,)`, a bias, layer_norm's
 * weight).  Its value varies along the row, so it is element level; it is
 * read in place, never copied per row.  `load.row` is its transpose, a row
 * value broadcast along the columns: an outer product is `mul` of a
 * `load.row` and a `load.col`.
 *
 * Types.  Buffer params are f32, i32, i64 or bool (one byte, 0 or 1);
 * scalar params are f32 or i64 (`cast.i32` one at uniform level for i32
 * arithmetic).  Every type exists at every level:
 *  - f32: every op;
 *  - i32, i64: add, sub, mul (wrapping, two's complement), neg, abs (of the
 *    minimum: the minimum), min, max, the comparisons and select;
 *  - bool: what comparisons give and select takes; eq and ne compare two
 *    bools; a bool buffer loads as bool and a bool value stores as 0/1;
 *    a and b is `select a, b, a`, a or b `select a, a, b`, not a
 *    `eq a, f` with f = `cast.bool` of `const.i64 0`;
 *  - cast.<t> converts between any two of them as PyTorch's .to() does on
 *    x86: f32 to an integer truncates toward zero, and NaN, inf and values
 *    out of the type's range give its minimum; integers to f32 round to
 *    nearest; i64 to i32 wraps; bool to a number is 0 or 1; a number to
 *    bool is true where nonzero (NaN too).
 * Binary operands have one type (no implicit promotion).
 *
 * Restrictions the verifier enforces (each with its own message):
 *  - SSA: operands are defined before use; each value is defined once;
 *  - div and the unary math ops (relu, exp, ...) take f32 only (neg and
 *    abs also i32 and i64), the reductions f32 only; integer pow wraps and
 *    gives 0 for a negative exponent unless the base is 1 or -1 (PyTorch's
 *    rule); a bool is not an arithmetic operand;
 *  - gather and check.range take row or uniform operands;
 *  - values computed from a whole-launch reduction may only feed other
 *    uniform values and stores (no global barrier inside a launch);
 *  - a kernel with `gemm` contains nothing else, and gemm's flags are
 *    AT_GEMM_TRANS_A and AT_GEMM_TRANS_B only;
 *  - a buffer param is stored at most once, is not gathered from if it is
 *    stored, and is accessed one way only (element, row or column index,
 *    or index 0);
 *  - a stored buffer is loaded only by `load` with an element-level store
 *    (an in-place update, each element rewritten at its own index), and
 *    every read of its loaded values comes before the store, in
 *    instruction order and in phase (row reductions passed on the way);
 *  - a launch gives a `load.col` buffer exactly `cols` elements (a `load`
 *    buffer rows*cols, a `load.row` buffer rows).
 *
 * Text form (at_kernel_print / at_kernel_parse):
 *
 *   kernel softmax(x: f32, y: f32) {
 *     %0 = load x
 *     %1 = reduce.max.row %0
 *     %2 = sub %0, %1
 *     %3 = exp %2
 *     %4 = reduce.sum.row %3
 *     %5 = div %3, %4
 *     store y, %5
 *   }
 *
 * Buffer params are written `name: dtype` (f32, i32, i64 or bool), scalar
 * params `name: dtype scalar` (f32 or i64).
 * Constants: `%c = const.f32 1.5`, `%c = const.i64 -100`.
 */
#ifndef ATLAS_IR_H
#define ATLAS_IR_H

#include "atlas/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The opcode list: name, text spelling, operand count (-1: special). */
#define AT_IR_OPS(X)                                                       \
    X(CONST, "const", 0)         /* imm: f32 or i64 by type            */  \
    X(PARAM, "param", 0)         /* value of a scalar param            */  \
    X(ROW_INDEX, "row.index", 0) /* i64, row level                     */  \
    X(NROWS, "nrows", 0)         /* i64, uniform                       */  \
    X(NCOLS, "ncols", 0)         /* i64, uniform                       */  \
    X(LOAD, "load", 0)           /* buffer param at the element index  */  \
    X(LOAD_ROW, "load.row", 0)   /* buffer param at the row index      */  \
    X(LOAD_COL, "load.col", 0)   /* buffer param at the column index   */  \
    X(GATHER, "gather", 1)       /* buffer param at i64 operand        */  \
    X(STORE, "store", 1)         /* buffer param <- operand            */  \
    X(NEG, "neg", 1)                                                       \
    X(ABS, "abs", 1)                                                       \
    X(RELU, "relu", 1)                                                     \
    X(SIGMOID, "sigmoid", 1)                                               \
    X(TANH, "tanh", 1)                                                     \
    X(EXP, "exp", 1)                                                       \
    X(LOG, "log", 1)                                                       \
    X(SQRT, "sqrt", 1)                                                     \
    X(ERF, "erf", 1)                                                       \
    X(LOG1P, "log1p", 1)                                                   \
    X(EXPM1, "expm1", 1)                                                   \
    X(ADD, "add", 2)                                                       \
    X(SUB, "sub", 2)                                                       \
    X(MUL, "mul", 2)                                                       \
    X(DIV, "div", 2)                                                       \
    X(POW, "pow", 2)                                                       \
    X(MIN, "min", 2)                                                       \
    X(MAX, "max", 2)                                                       \
    X(LT, "lt", 2)                                                         \
    X(LE, "le", 2)                                                         \
    X(GT, "gt", 2)                                                         \
    X(GE, "ge", 2)                                                         \
    X(EQ, "eq", 2)                                                         \
    X(NE, "ne", 2)                                                         \
    X(SELECT, "select", 3)       /* bool, a, b -> a where true         */  \
    X(CAST, "cast", 1)           /* to the instruction's type          */  \
    X(CHECK_RANGE, "check.range", 3) /* v, lo, hi: lo <= v < hi or fail */ \
    X(REDUCE_SUM_ROW, "reduce.sum.row", 1)                                 \
    X(REDUCE_MAX_ROW, "reduce.max.row", 1)                                 \
    X(REDUCE_MIN_ROW, "reduce.min.row", 1)                                 \
    X(REDUCE_SUM_ALL, "reduce.sum.all", 1)                                 \
    X(REDUCE_MAX_ALL, "reduce.max.all", 1)                                 \
    X(REDUCE_MIN_ALL, "reduce.min.all", 1)                                 \
    X(REDUCE_ARGMAX_ROW, "reduce.argmax.row", 1) /* i64 column index   */  \
    X(REDUCE_ARGMIN_ROW, "reduce.argmin.row", 1)                           \
    X(REDUCE_SUM_COL, "reduce.sum.col", 1) /* over the rows, per column */ \
    X(REDUCE_MAX_COL, "reduce.max.col", 1)                                 \
    X(REDUCE_MIN_COL, "reduce.min.col", 1)                                 \
    X(REDUCE_ARGMAX_COL, "reduce.argmax.col", 1) /* i64 row index      */  \
    X(REDUCE_ARGMIN_COL, "reduce.argmin.col", 1)                           \
    X(GEMM, "gemm", 0)           /* params a, b, c; k = scalar param   */

#define AT_IR_ENUM(N, s, a) AT_IR_##N,
typedef enum at_irop {
    AT_IR_OPS(AT_IR_ENUM) AT_IR_OP_COUNT
} at_irop;
#undef AT_IR_ENUM

typedef enum at_level {
    AT_LEVEL_UNIFORM = 0,
    AT_LEVEL_ROW = 1,
    AT_LEVEL_ELEM = 2
} at_level;

typedef int32_t at_value;          /* SSA value id, or AT_NO_VALUE */
#define AT_NO_VALUE ((at_value) - 1)
#define AT_IR_MAX_OPERANDS 3

typedef struct at_instr {
    at_irop op;
    at_dtype type;                 /* result type (AT_F32 for stores)   */
    at_value result;               /* AT_NO_VALUE for store/check/gemm  */
    at_value operands[AT_IR_MAX_OPERANDS];
    int32_t param;                 /* buffer/scalar param index, or -1  */
    union {
        float f32;
        int64_t i64;
    } imm;  /* CONST                    */
    int32_t params3[3];            /* GEMM: a, b, c buffer params; k is
                                      imm.i64 = index of a scalar param */
    int32_t flags;                 /* GEMM: AT_GEMM_TRANS_A/_B          */
} at_instr;

/* gemm's flags: a holds A transposed (stored (k, m)), b holds B transposed
 * (stored (n, k)); the text form writes them after k (`gemm a, b, c, k
 * trans_b`). */
#define AT_GEMM_TRANS_A 1
#define AT_GEMM_TRANS_B 2

typedef struct at_param {
    char name[32];
    at_dtype dtype;
    int is_scalar;                 /* scalar params: f32 or i64         */
} at_param;

typedef struct at_kernel at_kernel;

/* Builder.  Every builder call returns the new value (or AT_NO_VALUE on a
 * malformed request, recorded in the kernel and reported by verify). */
at_kernel *at_kernel_new(const char *name);
void at_kernel_free(at_kernel *k);
int at_kernel_add_param(at_kernel *k, const char *name, at_dtype dt,
                        int is_scalar);
at_value at_ir_const_f32(at_kernel *k, float v);
at_value at_ir_const_i64(at_kernel *k, int64_t v);
at_value at_ir_param(at_kernel *k, int param);            /* scalar param */
at_value at_ir_nullary(at_kernel *k, at_irop op); /* ROW_INDEX, NROWS, NCOLS */
/* LOAD, LOAD_ROW, LOAD_COL */
at_value at_ir_load(at_kernel *k, at_irop op, int param);
at_value at_ir_gather(at_kernel *k, int param, at_value index);
void at_ir_store(at_kernel *k, int param, at_value v);
at_value at_ir_unary(at_kernel *k, at_irop op, at_value a);
at_value at_ir_binary(at_kernel *k, at_irop op, at_value a, at_value b);
at_value at_ir_select(at_kernel *k, at_value cond, at_value a, at_value b);
at_value at_ir_cast(at_kernel *k, at_dtype to, at_value a);
void at_ir_check_range(at_kernel *k, at_value v, at_value lo, at_value hi);
at_value at_ir_reduce(at_kernel *k, at_irop op, at_value a);
void at_ir_gemm(at_kernel *k, int a, int b, int c, int k_param);
/* The same with flags (AT_GEMM_TRANS_A | AT_GEMM_TRANS_B). */
void at_ir_gemm_flags(at_kernel *k, int a, int b, int c, int k_param,
                      int flags);

/* Verify; on success the kernel is frozen (further building fails). */
at_status at_kernel_verify(at_kernel *k, at_error *err);

/* Inspection. */
const char *at_kernel_name(const at_kernel *k);
int at_kernel_nparams(const at_kernel *k);
const at_param *at_kernel_param(const at_kernel *k, int i);
int at_kernel_ninstrs(const at_kernel *k);
const at_instr *at_kernel_instr(const at_kernel *k, int i);
int at_kernel_nvalues(const at_kernel *k);
/* Derived by verify: level and type of each value. */
at_level at_kernel_value_level(const at_kernel *k, at_value v);
at_dtype at_kernel_value_type(const at_kernel *k, at_value v);
const char *at_irop_name(at_irop op);

/* Text form.  print returns the number of chars needed (like snprintf). */
size_t at_kernel_print(const at_kernel *k, char *buf, size_t cap);
/* Parse (and verify) a kernel from text. */
at_status at_kernel_parse(const char *text, at_kernel **out, at_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ATLAS_IR_H */
