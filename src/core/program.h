/* Hologram Atlas — the block program a kernel lowers to (internal).
 *
 * A program has a mode:
 *   FLAT  no row-level values: the rows*cols index space is cut into fixed
 *         chunks (tasks); each chunk runs the vector instructions block by
 *         block (AT_BLOCK elements, so registers stay in L1).
 *   ROW   per-row work: a task is a run of rows; each row runs its phases
 *         (a phase ends where a row reduction's result is needed), each phase
 *         a scalar part (row-level values) and a vector part over the row.
 *         A kernel that reads a buffer at the column index (load.col) runs
 *         in ROW mode, as a block must know its column; without row-level
 *         values (col_only), short rows run several to a block instead.
 *   GEMM  the gemm intrinsic: tasks are tiles of C.
 *   AXIS  an axis-reduction intrinsic (argmax along rows, or a reduction
 *         over the rows): tasks are runs of rows (by columns too, for a
 *         reduction over the rows), whose partials per column combine in
 *         task order, then take the program's uniform-operand steps.
 * Uniform values are computed once before the tasks (prologue) or, when they
 * depend on whole-launch reductions, after the partials are combined in
 * task order (epilogue).  Task boundaries depend only on the launch shape,
 * never on the thread count, so results are bitwise reproducible. */
#ifndef ATLAS_PROGRAM_H
#define ATLAS_PROGRAM_H

#include <stdatomic.h>
#include "atlas/client.h"
#include "ir_internal.h"
#include "ktable.h"

#define AT_BLOCK 1024              /* elements per register block          */
#define AT_CHUNK (64 * 1024)       /* elements per task (FLAT), per row run */

typedef enum {
    AT_MODE_FLAT,
    AT_MODE_ROW,
    AT_MODE_GEMM,
    AT_MODE_AXIS
} at_mode;

/* Where a vector operand lives. */
typedef enum {
    AT_OPD_NONE = 0,
    AT_OPD_REG,      /* block register idx: regs + idx*AT_BLOCK             */
    AT_OPD_MEM,      /* buffer param idx at the element index               */
    AT_OPD_SCRATCH,  /* row scratch idx: a value kept across row phases     */
    AT_OPD_SLOT,     /* scalar slot idx broadcast over the block            */
    AT_OPD_COL,      /* column buffer idx (program's colparam) at the column
                        index, or its tile in a row strip (interp.c)        */
    /* The same for 8-byte (i64; printed qmem, qcol, qscratch) and 1-byte
     * (bool; bmem, bcol) elements; the kinds above address 4-byte ones
     * (f32, i32, int32 masks). */
    AT_OPD_MEM8,
    AT_OPD_COL8,
    AT_OPD_SCRATCH8, /* idx counts 4-byte rows and is even              */
    AT_OPD_MEM1,
    AT_OPD_COL1
} at_opd_kind;

typedef struct at_opd {
    uint8_t kind;
    int32_t idx;
} at_opd;

/* The bytes of one element of a buffer operand (the MEM kinds), or 0 for
 * any other kind. */
static inline int at_opd_mem_bytes(uint8_t kind)
{
    return kind == AT_OPD_MEM    ? 4
           : kind == AT_OPD_MEM8 ? 8
           : kind == AT_OPD_MEM1 ? 1
                                 : 0;
}

typedef enum {
    AT_V_UNARY,
    AT_V_BINARY,
    AT_V_BINARY_S,
    AT_V_BINARY_RS,
    AT_V_FILL,
    AT_V_COPY,
    AT_V_COMPARE,
    AT_V_SELECT,
    AT_V_RED_ROW, /* reduce the block into row accumulator acc          */
    AT_V_RED_ALL, /* reduce the block into the task partial acc         */
    AT_V_EXP_SUB_SUM, /* dst = exp(src0 - slot src1), summed into acc (fused);
                         with no dst, nothing written */
    /* Integer, bool and conversion instructions (kernels of intops.c).  fn
     * is AT_CVT(from, to) of AT_EK_* kinds for CONVERT, AT_IFN(w, op) for
     * the integer ones (w: 0 for i32, 1 for i64). */
    AT_V_CONVERT,
    AT_V_IUNARY,
    AT_V_IBINARY,
    AT_V_IBINARY_S,
    AT_V_IBINARY_RS,
    AT_V_ICOMPARE,
    AT_V_SELECT64, /* select of i64 values */
    AT_V_COPY64, /* copy of i64 values (COPY copies 4-byte elements) */
    AT_V_SUB_SQ_SUM, /* dst = src0 - slot src1, dst * dst summed into acc
                        (fused); with no dst, nothing written */
    AT_V_SCALE_AFFINE, /* dst = ((src0 * slot `slot`) * src1) + src2 (fused);
                          fn AT_BIN_DIV: src0 / slot                        */
    AT_V_DIFF_SQ_SUM, /* (src0 - src1)^2 summed into acc, one block per kernel
                        call; no dst (fused) */
    AT_V_SUB_EXP_SUM, /* dst = src0 - slot src1, its exp summed into acc
                        (fused) */
    AT_V_SQ_SUM, /* src0 * src0 summed into acc; no dst (fused) */
    AT_V_DIV_MUL, /* dst = (src0 / slot `slot`) * src1 (fused) */
    AT_V_BINARY_ADD, /* dst = (src0 fn src1) + src2, fn add, sub, mul or div
                       (fused) */
    AT_V_UNARY_OF, /* dst = fn((src0 op src1) + src2), op an AT_BIN_ number
                      (add .. div), src2 NONE: no add (fused) */
    AT_V_ADAM /* an Adam step (fused): three outputs, dst the parameter's;
                 operands and slots in p->adam[slot] (at_adam) */
} at_vkind;
#define AT_CVT(from, to) ((from) << 4 | (to))
#define AT_IFN(w, op) ((w) << 5 | (op))

/* AT_V_FILL's fn: what the slot holds and the register receives. */
enum {
    AT_FILL_F32,
    AT_FILL_MASK, /* a bool slot (0 or 1) as an int32 mask */
    AT_FILL_I32,
    AT_FILL_I64
};

typedef struct at_vinstr {
    uint8_t kind;
    uint8_t fn; /* AT_UN_*, AT_BIN_*, AT_CMP_*, or reduce kind    */
    uint8_t final; /* dst is memory that no later instruction reads:
                      a large launch may write it with streaming stores */
    uint8_t op; /* AT_V_UNARY_OF: the binary op applied first        */
    int16_t phase;
    int16_t slot; /* AT_V_SCALE_AFFINE, _DIV_MUL: the scale's slot (a fourth
                     operand, kept in what is otherwise padding); AT_V_ADAM:
                     the index of its at_adam in the program */
    int16_t pre; /* AT_V_BINARY_S (fn add, sub, mul or div) and
                    AT_V_SCALE_AFFINE: 1 + the slot subtracted from src0
                    before the operation (fuse_pre_sub), or 0 */
    int16_t scale[2]; /* AT_V_BINARY (fn add, sub, mul or div): 1 + the
                         slot src j is multiplied by before the operation
                         (fuse_scaled_operands), or 0 */
    at_opd dst;
    at_opd src[3];
    int32_t acc;
} at_vinstr;

/* Reduction kinds for accumulators. */
typedef enum {
    AT_RED_SUM,
    AT_RED_MAX,
    AT_RED_MIN,
    AT_RED_ARGMAX, /* axis reductions only (at_axis_red) */
    AT_RED_ARGMIN
} at_redkind;

/* AT_MODE_AXIS: out[c] = op(out[c], slot) (rev: op(slot, out[c])), an
 * arithmetic step a column result takes on its way to the store. */
typedef struct at_axis_step {
    uint8_t fn; /* AT_BIN_* */
    uint8_t rev;
    int32_t slot;
} at_axis_step;

typedef struct at_axis_red {
    uint8_t red; /* at_redkind */
    uint8_t col; /* over the rows (one result per column), or along rows */
    int32_t in, out; /* buffer params */
    int nsteps;
    at_axis_step *steps;
} at_axis_red;

/* The operands of an AT_V_ADAM instruction (the lowering's fuse_adam), all
 * buffer memory (AT_OPD_MEM), and the slots of its scalars s[] (-1: none,
 * which the interpreter passes as 1, an exact no-op in a product or a
 * quotient):
 *     m' = (s0 * m_in[0]) + (s1 * m_in[1])
 *     v' = (s2 * v_in[0]) + q,  q = (s3 * v_in[1]) * v_in[2]
 *                              (sq_first: q = s3 * (v_in[1] * v_in[2]))
 *     p' = (s8 * p_in) - ((s4 * (m' / s6)) / (sqrt(v' / s7) + s5))
 * with the divisions by s6 and s7 (bias correction) only when either is
 * present (at_adam_bc).  m' goes to m_out, v' to v_out, p' to the
 * instruction's dst.  Each step rounds as the instruction it replaces. */
typedef struct at_adam {
    at_opd m_in[2], v_in[3], p_in, m_out, v_out;
    int16_t s[9];
    uint8_t sq_first;
} at_adam;

/* Whether the step divides its moments (the kernels' bc form). */
static inline int at_adam_bc(const at_adam *a)
{
    return a->s[6] >= 0 || a->s[7] >= 0;
}

/* Scalar instructions run the row and uniform levels on slots. */
typedef struct at_sinstr {
    int32_t ir; /* index of the IR instruction                    */
    int16_t phase; /* ROW mode: phase at whose start it runs         */
    uint8_t where; /* AT_S_PROLOGUE, AT_S_ROW, AT_S_EPILOGUE         */
} at_sinstr;
enum {
    AT_S_PROLOGUE,
    AT_S_ROW,
    AT_S_EPILOGUE
};

typedef struct at_acc {
    uint8_t red; /* at_redkind                                     */
    uint8_t all; /* whole-launch (1) or per row (0)                */
    int16_t phase; /* phase whose blocks feed it                     */
    int32_t slot; /* where the result goes                          */
    int32_t src_slot; /* ROW value fed to an all-reduction, or -1       */
} at_acc;

typedef union at_slot {
    float f;
    int64_t i;
} at_slot;

/* The AUTO store policy's state for one footprint band of one program
 * (interp.c).  The only part of a program that launches change. */
typedef struct at_store_probe {
    _Atomic uint64_t launches; /* launches in this band so far          */
    _Atomic uint64_t best[2]; /* this probe's best ns per MiB: cached,
                                 streamed (UINT64_MAX: none yet)       */
    atomic_int stream; /* the last probe's verdict              */
} at_store_probe;

#define AT_STORE_BANDS 4 /* 4-8, 8-16, 16-32, 32-64 MiB           */

struct at_program {
    const at_kernel *k;
    const at_ktable *kt;
    at_mode mode;
    int nphases;
    at_vinstr *v;
    int nv; /* ordered by phase                     */
    at_sinstr *s;
    int ns; /* ordered by where, then phase         */
    at_acc *acc;
    int nacc;
    int nall; /* accumulators with all = 1 (first)    */
    int nregs, nscratch, nslots;
    int block; /* elements per block: AT_BLOCK, or AT_BLOCK / 2 when an
                  element value is i64, so that a register of AT_BLOCK
                  floats holds a block of 8-byte elements             */
    int32_t *slot_of; /* value -> slot, or -1                 */
    int *vph; /* v[vph[ph] .. vph[ph+1]) is phase ph  */
    int *sph; /* s[sph[ph] .. sph[ph+1]): row scalars */
    int s_row, s_epi; /* s[0..s_row) prologue, s[s_epi..) epilogue */
    size_t cost_per_elem; /* rough work units per element         */
    int can_stream; /* a final write has a streaming kernel */
    int32_t *colparam; /* column buffer -> its load.col param       */
    int ncolbufs; /* load.col params the vector code reads      */
    int col_only; /* ROW mode for load.col alone: no row-level
                     value, so a block may hold several rows   */
    at_store_probe *probe; /* AT_STORE_BANDS; mutable (atomics)    */
    at_axis_red axis; /* AT_MODE_AXIS                          */
    at_adam *adam; /* AT_V_ADAM operands, nadam of them        */
    int nadam;
    at_opd *ahead; /* ROW mode with two or more phases: the buffer
                      operands the first phase reads (MEM kinds), whose
                      next row a row's later phases request (interp.c's
                      ask_next_row) */
    int nahead;
};

/* internal entry points */
at_status at_lower(const at_kernel *k, const at_ktable *kt, at_program **out,
                   at_error *err);

/* at_launch with a diagnostic for a failed range check or gather. */
at_status at_launch_ex(at_executor *ex, const at_program *p, size_t rows,
                       size_t cols, const at_arg *args, size_t nargs,
                       at_launch_diag *diag, at_error *err);

#endif
