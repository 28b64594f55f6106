/* Hologram Atlas — lowering: a verified IR kernel becomes a block program.
 *
 * The pipeline, one pass each:
 *   1. assign_phases   row phase of every value (a row reduction's result is
 *                      ready one phase after its operand)
 *   2. choose_mode     FLAT, ROW, GEMM or AXIS (AXIS: lower_axis instead
 *                      of the passes below)
 *   3. place_values    where each value lives: memory (loads, column loads,
 *                      stored values, and an elem value used in a later
 *                      phase that can wait in an output until the output is
 *                      written), a register recomputed in each later phase
 *                      (x - s of an unchanging x: recomputable), row
 *                      scratch (other elem values used in a later phase), a
 *                      block register, or a scalar slot (row/uniform values)
 *   4. emit_scalar     row/uniform instructions into prologue, per-row and
 *                      epilogue lists
 *   5. emit_vector     elem instructions into per-phase vector instructions,
 *                      reductions into accumulators
 *  5b. fuse_exp_sum    sub-by-scalar, exp and a sum reduction -> one pass
 *      fuse_sub_exp_sum the same when the difference is used again
 *                      (log_softmax): writes it, never the exp
 *  5c. fuse_gelu       the exact gelu's five instructions -> one pass
 *      fuse_gelu_tanh  the tanh form's nine instructions -> one pass
 *  5d. fuse_sub_sq_sum sub by a scalar or a vector, its square and a sum
 *                      reduction -> one pass (layer norm's variance,
 *                      mse_loss)
 *  5e. fuse_scale_affine mul by a scalar, mul and add -> one pass (layer
 *                      norm's scale, weight and bias)
 *  5f. fuse_rms        a square and its sum -> one pass that writes
 *                      nothing; div by a scalar and mul -> one pass (RMS
 *                      norm's mean square, and its scale and weight)
 *  5g. fuse_pre_sub    a sub by a scalar folded into the instruction that
 *                      reads it (a difference recomputed in a later phase)
 *  5h. fuse_scaled_operands a product by a scalar folded into the binary
 *                      op that reads it (as its operand's scale)
 *  5i. fuse_binary_add a binary op of two vectors and the add of a vector
 *                      that reads it -> one pass
 *  5j. fuse_unary_of   a binary op (or 5i's pair) and the vector math op
 *                      that reads it -> one pass
 *  5k. fuse_adam       an Adam step's seven to nine instructions -> one
 *                      pass with three outputs
 *   6. alloc_registers linear scan over each phase's vector instructions
 *   7. mark_final_writes memory destinations nothing reads back (these may
 *                      take streaming stores, as the store policy decides)
 *   8. order_accumulators whole-launch accumulators first, so a task's
 *                      partials are a dense prefix
 *   9. index_phases    where each phase's vector and per-row scalar
 *                      instructions start
 *  10. mark_row_ahead  the buffers a row program's first phase reads,
 *                      whose next row its later phases request
 * at_lower runs them in this order (lower_passes).  Where a pass relies on
 * what an earlier one established, AT_INVARIANT (invariant.h) states it.
 * The result is shared by every launch and immutable, except for its store
 * probes (atomics the AUTO store policy updates; interp.c). */
#include <stdlib.h>
#include <string.h>
#include "invariant.h"
#include "program.h"
#include "util.h"

typedef struct lowering {
    const at_kernel *k;
    at_program *p;
    int *phase;            /* per value                                    */
    int *first_store;      /* per value: param its first elem store hits   */
    int *later_use; /* per value: used by an elem instr in a later phase */
    at_opd *where; /* per value                                    */
    unsigned char *remat; /* per value: recomputed in each later phase */
    int *remat_ph; /* per value: the phase whose copy `where` names  */
    unsigned char *homed; /* per param: an output already holding a value */
    int nvirt; /* virtual registers (values + temporaries)     */
    int cap_v, cap_s, cap_acc;
    at_error *err;
} lowering;

static int is_row_red(at_irop op)
{
    return op >= AT_IR_REDUCE_SUM_ROW && op <= AT_IR_REDUCE_MIN_ROW;
}
static int is_all_red(at_irop op)
{
    return op >= AT_IR_REDUCE_SUM_ALL && op <= AT_IR_REDUCE_MIN_ALL;
}
static at_redkind red_kind(at_irop op)
{
    switch (op) {
        case AT_IR_REDUCE_SUM_ROW:
        case AT_IR_REDUCE_SUM_ALL:
            return AT_RED_SUM;
        case AT_IR_REDUCE_MAX_ROW:
        case AT_IR_REDUCE_MAX_ALL:
            return AT_RED_MAX;
        default:
            return AT_RED_MIN;
    }
}

static at_level level_of(const lowering *L, at_value v)
{
    return L->k->vlevel[v];
}

/* Level an instruction runs at (stores and checks have no result). */
static at_level instr_level(const lowering *L, const at_instr *in)
{
    if (in->result != AT_NO_VALUE) {
        /* a reduction runs where its operand lives */
        if (is_row_red(in->op) || is_all_red(in->op))
            return level_of(L, in->operands[0]);
        return level_of(L, in->result);
    }
    at_level l = AT_LEVEL_UNIFORM;
    for (int j = 0; j < AT_IR_MAX_OPERANDS; j++)
        if (in->operands[j] != AT_NO_VALUE && level_of(L, in->operands[j]) > l)
            l = level_of(L, in->operands[j]);
    return l;
}

static int operand_phase(const lowering *L, const at_instr *in)
{
    int ph = 0;
    for (int j = 0; j < AT_IR_MAX_OPERANDS; j++)
        if (in->operands[j] != AT_NO_VALUE && L->phase[in->operands[j]] > ph)
            ph = L->phase[in->operands[j]];
    return ph;
}

/* 1 */
static void assign_phases(lowering *L)
{
    const at_kernel *k = L->k;
    int maxph = 0;
    for (int i = 0; i < k->ninstrs; i++) {
        const at_instr *in = &k->instrs[i];
        int ph = operand_phase(L, in);
        if (in->result != AT_NO_VALUE) {
            L->phase[in->result] = is_row_red(in->op) ? ph + 1 : ph;
            if (L->phase[in->result] > maxph)
                maxph = L->phase[in->result];
        }
        if (ph > maxph)
            maxph = ph;
    }
    L->p->nphases = maxph + 1;
}

/* 2 */
static void choose_mode(lowering *L)
{
    const at_kernel *k = L->k;
    at_program *p = L->p;
    if (k->ninstrs == 1 && k->instrs[0].op == AT_IR_GEMM) {
        p->mode = AT_MODE_GEMM;
        return;
    }
    for (int i = 0; i < k->ninstrs; i++)
        if (at_is_axis_red(k->instrs[i].op)) {
            p->mode = AT_MODE_AXIS;
            return;
        }
    p->mode = AT_MODE_FLAT;
    for (int v = 0; v < k->nvalues; v++)
        if (k->vlevel[v] == AT_LEVEL_ROW)
            p->mode = AT_MODE_ROW;
    for (int i = 0; i < k->ninstrs; i++)
        if (instr_level(L, &k->instrs[i]) == AT_LEVEL_ROW)
            p->mode = AT_MODE_ROW;
    for (int i = 0; i < k->ninstrs && p->mode != AT_MODE_ROW; i++)
        if (k->instrs[i].op == AT_IR_LOAD_COL) {
            /* a FLAT chunk crosses rows, so its blocks have no column */
            p->mode = AT_MODE_ROW;
            p->col_only = 1;
        }
}

/* The column buffer that reads load.col param P (one per param). */
static int col_buffer(lowering *L, int P)
{
    at_program *p = L->p;
    for (int c = 0; c < p->ncolbufs; c++)
        if (p->colparam[c] == P)
            return c;
    p->colparam[p->ncolbufs] = P;
    return p->ncolbufs++;
}

/* Whether param P is also loaded (an in-place update, which the verifier
 * allows for `load` and an element-level store). */
static int is_loaded(const at_kernel *k, int P)
{
    for (int i = 0; i < k->ninstrs; i++)
        if (k->instrs[i].op == AT_IR_LOAD && k->instrs[i].param == P)
            return 1;
    return 0;
}

/* Whether writing value v into output P at v's instruction v_def keeps an
 * in-place update of P correct: no instruction other than v_def (which
 * reads and writes each element at one index) reads a value loaded from P
 * after it, in phase and then in order.  Outputs that are not loaded are
 * always safe. */
static int forward_safe(const lowering *L, int P, int v_def)
{
    const at_kernel *k = L->k;
    int wph = operand_phase(L, &k->instrs[v_def]);
    for (int i = 0; i < k->ninstrs; i++) {
        const at_instr *in = &k->instrs[i];
        int ph = operand_phase(L, in);
        if (i == v_def || ph < wph || (ph == wph && i < v_def))
            continue;
        for (int j = 0; j < AT_IR_MAX_OPERANDS; j++)
            for (int d = 0; d < i && in->operands[j] != AT_NO_VALUE; d++)
                if (k->instrs[d].result == in->operands[j]
                    && k->instrs[d].op == AT_IR_LOAD && k->instrs[d].param == P)
                    return 0;
    }
    return 1;
}

/* An elementwise output whose memory can hold value v until the output's
 * own value is written: v would otherwise take a row of scratch.  Writing v
 * into the output's row early puts the output's read-for-ownership under
 * the pass that computes v, instead of a later pass that does little else
 * (softmax's exp pass and its scale pass).  Conditions, for output param P
 * stored with value w:
 *   - P is f32, elementwise, stored, not loaded (an in-place update) and
 *     holds no other value;
 *   - v is f32; w is computed in place into P (w is not a load) and its
 *     instruction comes after v's;
 *   - every use of v runs in a phase before w's, or is w's own instruction:
 *     an elementwise kernel may write its output over an input it reads at
 *     the same index, never over one it has not read yet.
 * v_def is the index of v's instruction.  Returns P, or -1. */
static int output_home(const lowering *L, at_value v, int v_def)
{
    const at_kernel *k = L->k;
    if (k->vtype[v] != AT_F32)
        return -1;
    for (int P = 0; P < k->nparams; P++) {
        if (L->homed[P] || k->params[P].is_scalar || k->role[P] != AT_ROLE_ELEM
            || !k->stored[P] || k->params[P].dtype != AT_F32 || is_loaded(k, P))
            continue;
        int ok = 1, w_def = -1;
        at_value w = AT_NO_VALUE;
        for (int i = 0; i < k->ninstrs; i++)
            if (k->instrs[i].op == AT_IR_STORE && k->instrs[i].param == P)
                w = k->instrs[i].operands[0];
        if (w == AT_NO_VALUE || w == v || L->first_store[w] != P)
            continue;
        for (int i = 0; i < k->ninstrs; i++)
            if (k->instrs[i].result == w)
                w_def = i;
        if (w_def < v_def || k->instrs[w_def].op == AT_IR_LOAD
            || k->instrs[w_def].op == AT_IR_LOAD_COL)
            continue;
        for (int i = 0; i < k->ninstrs && ok; i++) {
            const at_instr *in = &k->instrs[i];
            if (in->op == AT_IR_STORE || i == w_def)
                continue;
            for (int j = 0; j < AT_IR_MAX_OPERANDS; j++)
                if (in->operands[j] == v && operand_phase(L, in) >= L->phase[w])
                    ok = 0;
        }
        if (ok)
            return P;
    }
    return -1;
}

static int typed_instr(const at_kernel *k, const at_instr *in);

/* The instruction that makes value v. */
static const at_instr *def_of(const at_kernel *k, at_value v)
{
    for (int i = 0; i < k->ninstrs; i++)
        if (k->instrs[i].result == v)
            return &k->instrs[i];
    return NULL;
}

/* Whether element instructions of phase ph evaluate a vector-math
 * function (exp, log, tanh, sigmoid, erf, log1p, expm1, pow, sqrt). */
static int phase_has_math(const lowering *L, int ph)
{
    for (int i = 0; i < L->k->ninstrs; i++) {
        const at_instr *in = &L->k->instrs[i];
        int math = (in->op >= AT_IR_SIGMOID && in->op <= AT_IR_EXPM1)
                   || in->op == AT_IR_POW;
        if (math && instr_level(L, in) == AT_LEVEL_ELEM
            && operand_phase(L, in) == ph)
            return 1;
    }
    return 0;
}

/* Whether value v, made by instruction i and read in a later phase, is
 * recomputed there instead of waiting in memory: `sub x, s` with x an f32
 * load of a buffer the kernel never stores (its elements stay as loaded),
 * s a row or uniform value (a slot, which outlives the phase), v stored
 * nowhere and read only by f32 instructions.  A later phase then reads x in
 * v's place, and fuse_pre_sub folds the subtraction into the instruction
 * that reads v: v costs no write and no row of scratch, and the output is
 * written once, by its final pass, which may stream it (layer norm's
 * x - mean).  Where v's own phase evaluates vector math, v waits in the
 * output instead (output_home; log_softmax's x - max): the output's
 * read-for-ownership then overlaps that arithmetic rather than a later
 * pass that does little else. */
static int recomputable(const lowering *L, int i)
{
    const at_kernel *k = L->k;
    const at_instr *in = &k->instrs[i];
    at_value v = in->result;
    if (in->op != AT_IR_SUB || k->vtype[v] != AT_F32
        || level_of(L, in->operands[1]) == AT_LEVEL_ELEM
        || L->first_store[v] >= 0 || phase_has_math(L, L->phase[v]))
        return 0;
    const at_instr *x = def_of(k, in->operands[0]);
    if (!x || x->op != AT_IR_LOAD || k->vtype[x->result] != AT_F32
        || k->stored[x->param])
        return 0;
    for (int j = i + 1; j < k->ninstrs; j++)
        for (int o = 0; o < AT_IR_MAX_OPERANDS; o++)
            if (k->instrs[j].operands[o] == v
                && (k->instrs[j].op == AT_IR_STORE
                    || typed_instr(k, &k->instrs[j])))
                return 0;
    return 1;
}

/* 3 */
static void place_values(lowering *L)
{
    const at_kernel *k = L->k;
    at_program *p = L->p;
    for (int v = 0; v < k->nvalues; v++) {
        L->first_store[v] = -1;
        L->later_use[v] = 0;
    }
    for (int i = 0; i < k->ninstrs; i++) {
        const at_instr *in = &k->instrs[i];
        if (in->op == AT_IR_STORE
            && level_of(L, in->operands[0]) == AT_LEVEL_ELEM
            && L->first_store[in->operands[0]] < 0
            && k->vtype[in->operands[0]] != AT_BOOL) /* masks, not bytes */
            L->first_store[in->operands[0]] = in->param;
        if (instr_level(L, in) != AT_LEVEL_ELEM)
            continue;
        int ph = operand_phase(L, in);
        for (int j = 0; j < AT_IR_MAX_OPERANDS; j++) {
            at_value u = in->operands[j];
            if (u != AT_NO_VALUE && level_of(L, u) == AT_LEVEL_ELEM
                && L->phase[u] < ph)
                L->later_use[u] = 1;
        }
    }
    for (int v = 0; v < k->nvalues; v++) {
        L->where[v].kind = AT_OPD_NONE;
        L->where[v].idx = -1;
    }
    int home;
    for (int i = 0; i < k->ninstrs; i++) {
        const at_instr *in = &k->instrs[i];
        at_value v = in->result;
        if (v == AT_NO_VALUE)
            continue;
        int wide = k->vtype[v] == AT_I64;
        if (level_of(L, v) != AT_LEVEL_ELEM) {
            L->where[v].kind = AT_OPD_SLOT;
            L->where[v].idx = p->nslots++;
            continue;
        }
        if (wide)
            p->block = AT_BLOCK / 2; /* a register holds 512 i64 */
        if (in->op == AT_IR_LOAD_COL && k->vtype[v] == AT_BOOL)
            col_buffer(L, in->param); /* converted to masks per block */
        if (in->op == AT_IR_LOAD && k->vtype[v] != AT_BOOL) {
            L->where[v].kind = wide ? AT_OPD_MEM8 : AT_OPD_MEM;
            L->where[v].idx = in->param;
        } else if (in->op == AT_IR_LOAD_COL && k->vtype[v] != AT_BOOL) {
            /* read in place by every row */
            L->where[v].kind = wide ? AT_OPD_COL8 : AT_OPD_COL;
            L->where[v].idx = col_buffer(L, in->param);
        } else if (L->first_store[v] >= 0
                   && forward_safe(L, L->first_store[v], i))
        {
            /* store forwarding */
            L->where[v].kind = wide ? AT_OPD_MEM8 : AT_OPD_MEM;
            L->where[v].idx = L->first_store[v];
        } else if (L->later_use[v] && recomputable(L, i)) {
            L->where[v].kind = AT_OPD_REG; /* this phase's copy */
            L->where[v].idx = v;
            L->remat[v] = 1;
            L->remat_ph[v] = L->phase[v];
        } else if (L->later_use[v] && (home = output_home(L, v, i)) >= 0) {
            L->where[v].kind =
                AT_OPD_MEM; /* lives in an output until it is stored */
            L->where[v].idx = home;
            L->homed[home] = 1;
        } else if (L->later_use[v] && wide) {
            p->nscratch += p->nscratch & 1; /* 8-byte aligned rows */
            L->where[v].kind = AT_OPD_SCRATCH8;
            L->where[v].idx = p->nscratch;
            p->nscratch += 2;
        } else if (L->later_use[v]) {
            L->where[v].kind = AT_OPD_SCRATCH;
            L->where[v].idx = p->nscratch++;
        } else {
            L->where[v].kind = AT_OPD_REG; /* virtual until step 6 */
            L->where[v].idx = v;
        }
    }
    for (int v = 0; v < k->nvalues; v++)
        p->slot_of[v] = L->where[v].kind == AT_OPD_SLOT ? L->where[v].idx : -1;
    L->nvirt = k->nvalues;
}

/* Appends one element to a growable array: returns its index, or -1. */
static int push(void **arr, int *n, int *cap, size_t elem)
{
    if (at_grow(arr, cap, *n + 1, elem))
        return -1;
    return (*n)++;
}

/* 4 */
static at_status emit_scalar(lowering *L)
{
    const at_kernel *k = L->k;
    at_program *p = L->p;
    /* three passes keep the list ordered: prologue, per-row by phase, epilogue
     */
    for (int where = AT_S_PROLOGUE; where <= AT_S_EPILOGUE; where++) {
        for (int ph = 0; ph <= (where == AT_S_ROW ? p->nphases : 0); ph++) {
            for (int i = 0; i < k->ninstrs; i++) {
                const at_instr *in = &k->instrs[i];
                if (in->op == AT_IR_GEMM || instr_level(L, in) == AT_LEVEL_ELEM)
                    continue;
                at_level lvl = instr_level(L, in);
                int post = in->result != AT_NO_VALUE ? k->vpost[in->result] : 0;
                for (int j = 0; j < AT_IR_MAX_OPERANDS; j++)
                    if (in->operands[j] != AT_NO_VALUE)
                        post |= k->vpost[in->operands[j]];
                int w = lvl == AT_LEVEL_ROW               ? AT_S_ROW
                        : (post || in->op == AT_IR_STORE) ? AT_S_EPILOGUE
                                                          : AT_S_PROLOGUE;
                if (w != where)
                    continue;
                int iph = operand_phase(L, in);
                if (in->result != AT_NO_VALUE && L->phase[in->result] > iph)
                    iph = L->phase[in->result];
                if (where == AT_S_ROW && iph != ph)
                    continue;
                if (is_all_red(in->op))
                    continue; /* fed from the row loop */
                int n = push((void **)&p->s, &p->ns, &L->cap_s, sizeof *p->s);
                if (n < 0)
                    return at_error_set(L->err, AT_E_NOMEM, "out of memory");
                p->s[n].ir = i;
                p->s[n].phase = (int16_t)ph;
                p->s[n].where = (uint8_t)where;
            }
        }
    }
    return AT_OK;
}

static at_status add_vinstr(lowering *L, at_vinstr vi)
{
    int n = push((void **)&L->p->v, &L->p->nv, &L->cap_v, sizeof vi);
    if (n < 0)
        return at_error_set(L->err, AT_E_NOMEM, "out of memory");
    L->p->v[n] = vi;
    return AT_OK;
}

static int add_acc(lowering *L, at_redkind red, int all, int phase, int slot,
                   int src_slot)
{
    at_program *p = L->p;
    int n = push((void **)&p->acc, &p->nacc, &L->cap_acc, sizeof *p->acc);
    if (n < 0)
        return -1;
    p->acc[n].red = (uint8_t)red;
    p->acc[n].all = (uint8_t)all;
    p->acc[n].phase = (int16_t)phase;
    p->acc[n].slot = slot;
    p->acc[n].src_slot = src_slot;
    return n;
}

/* A vector operand for v; a slot operand where a vector is required gets a
 * FILL into a temporary register first. */
static at_status vector_operand(lowering *L, at_value v, int phase,
                                int need_vector, at_opd *out)
{
    *out = L->where[v];
    if (out->kind != AT_OPD_SLOT || !need_vector)
        return AT_OK;
    at_vinstr f = {0};
    f.kind = AT_V_FILL;
    f.phase = (int16_t)phase;
    f.dst.kind = AT_OPD_REG;
    f.dst.idx = L->nvirt++;
    f.src[0] = *out;
    switch (L->k->vtype[v]) {
        case AT_F32:
            f.fn = AT_FILL_F32;
            break;
        case AT_BOOL:
            f.fn = AT_FILL_MASK; /* an int32 mask, not a float */
            break;
        default:
            f.fn = L->k->vtype[v] == AT_I64 ? AT_FILL_I64 : AT_FILL_I32;
    }
    *out = f.dst;
    return add_vinstr(L, f);
}

static size_t unary_cost(int fn)
{
    switch (fn) {
        case AT_UN_EXP:
        case AT_UN_LOG:
        case AT_UN_SIGMOID:
            return 4;
        case AT_UN_TANH:
        case AT_UN_EXPM1:
            return 5;
        case AT_UN_LOG1P:
            return 6;
        case AT_UN_ERF:
            return 8;
        case AT_UN_SQRT:
            return 2;
        default:
            return 1;
    }
}

/* Whether an element instruction works on other values than f32 (and the
 * bool masks of f32 comparisons and selects): emit_typed lowers it. */
static int typed_instr(const at_kernel *k, const at_instr *in)
{
    at_value a = in->operands[in->op == AT_IR_SELECT ? 1 : 0];
    at_dtype t = a != AT_NO_VALUE ? k->vtype[a] : in->type;
    return t != AT_F32 || (in->op == AT_IR_CAST && in->type != AT_F32);
}

/* The kernel-table element kind of a value of type t. */
static int elem_kind(at_dtype t)
{
    return t == AT_F32   ? AT_EK_F32
           : t == AT_I32 ? AT_EK_I32
           : t == AT_I64 ? AT_EK_I64
                         : AT_EK_MASK;
}

/* An integer op's AT_UN_ (neg, abs), AT_BIN_ or AT_CMP_ number: the IR
 * lists those ops in the kernel table's order. */
_Static_assert(AT_IR_ABS - AT_IR_NEG == AT_UN_ABS - AT_UN_NEG
                   && AT_IR_MAX - AT_IR_ADD == AT_BIN_MAX - AT_BIN_ADD
                   && AT_IR_NE - AT_IR_LT == AT_CMP_NE - AT_CMP_LT,
               "integer ops follow the kernel table's order");
static int int_op(at_irop op)
{
    return op <= AT_IR_ABS   ? AT_UN_NEG + (int)(op - AT_IR_NEG)
           : op <= AT_IR_MAX ? AT_BIN_ADD + (int)(op - AT_IR_ADD)
                             : AT_CMP_LT + (int)(op - AT_IR_LT);
}

/* 5, for the element instructions typed_instr picks: loads and stores of
 * bool buffers (bytes converted to and from int32 masks), copies of i32 and
 * i64 values, casts, and the integer ops (bool operands compare as i32
 * masks).  Loads of i32 and i64 buffers live in memory and emit nothing. */
static at_status emit_typed(lowering *L, const at_instr *in, int ph)
{
    const at_kernel *k = L->k;
    const at_value *o = in->operands;
    at_dtype t = o[0] != AT_NO_VALUE ? k->vtype[o[0]] : in->type;
    int w = t == AT_I64;
    at_status st;
    at_vinstr vi = {0};
    vi.phase = (int16_t)ph;
    vi.acc = -1;
    if (in->result != AT_NO_VALUE)
        vi.dst = L->where[in->result];
    if (o[0] != AT_NO_VALUE)
        vi.src[0] = L->where[o[0]];
    if (in->op == AT_IR_LOAD || in->op == AT_IR_LOAD_COL) {
        if (t != AT_BOOL)
            return AT_OK; /* lives in memory */
        vi.kind = AT_V_CONVERT;
        vi.fn = AT_CVT(AT_EK_BYTE, AT_EK_MASK);
        vi.src[0].kind = in->op == AT_IR_LOAD ? AT_OPD_MEM1 : AT_OPD_COL1;
        vi.src[0].idx =
            in->op == AT_IR_LOAD ? in->param : col_buffer(L, in->param);
    } else if (in->op == AT_IR_STORE) {
        vi.dst.kind = t == AT_BOOL ? AT_OPD_MEM1 : w ? AT_OPD_MEM8 : AT_OPD_MEM;
        vi.dst.idx = in->param;
        if (vi.src[0].kind == vi.dst.kind && vi.src[0].idx == in->param)
            return AT_OK; /* forwarded: the producer already wrote here */
        vi.kind = t == AT_BOOL ? AT_V_CONVERT : w ? AT_V_COPY64 : AT_V_COPY;
        vi.fn = t == AT_BOOL ? AT_CVT(AT_EK_MASK, AT_EK_BYTE) : 0;
    } else if (in->op == AT_IR_CAST && t == in->type) {
        vi.kind = w ? AT_V_COPY64 : AT_V_COPY;
    } else if (in->op == AT_IR_CAST) {
        vi.kind = AT_V_CONVERT;
        vi.fn = (uint8_t)AT_CVT(elem_kind(t), elem_kind(in->type));
    } else if (in->op == AT_IR_SELECT) {
        vi.kind = in->type == AT_I64 ? AT_V_SELECT64 : AT_V_SELECT;
        for (int j = 0; j < 3; j++)
            if ((st = vector_operand(L, o[j], ph, 1, &vi.src[j])))
                return st;
    } else {
        /* the verifier refuses the other ops on integer and bool operands */
        AT_INVARIANT(in->op == AT_IR_NEG || in->op == AT_IR_ABS
                         || (in->op >= AT_IR_ADD && in->op <= AT_IR_NE
                             && in->op != AT_IR_DIV),
                     L->err);
        vi.fn = (uint8_t)AT_IFN(w, int_op(in->op));
        if (in->op == AT_IR_NEG || in->op == AT_IR_ABS) {
            vi.kind = AT_V_IUNARY;
        } else if (in->type == AT_BOOL) {
            vi.kind = AT_V_ICOMPARE;
            for (int j = 0; j < 2; j++)
                if ((st = vector_operand(L, o[j], ph, 1, &vi.src[j])))
                    return st;
        } else {
            int sa = L->where[o[0]].kind == AT_OPD_SLOT,
                sb = L->where[o[1]].kind == AT_OPD_SLOT;
            vi.kind = sb ? AT_V_IBINARY_S : sa ? AT_V_IBINARY_RS : AT_V_IBINARY;
            vi.src[0] = L->where[sa ? o[1] : o[0]];
            vi.src[1] = L->where[sa ? o[0] : o[1]];
        }
    }
    L->p->cost_per_elem += in->op == AT_IR_POW ? 8 : 1;
    return add_vinstr(L, vi);
}

/* Gives each recomputed operand of an instruction of phase ph its copy in
 * that phase (see recomputable): the phase's first reader emits `sub x, s`
 * into a new register, which the phase's later readers share. */
static at_status recompute_operands(lowering *L, const at_instr *in, int ph)
{
    for (int j = 0; j < AT_IR_MAX_OPERANDS; j++) {
        at_value u = in->operands[j];
        if (u == AT_NO_VALUE || !L->remat[u] || L->remat_ph[u] == ph)
            continue;
        const at_instr *d = def_of(L->k, u);
        AT_INVARIANT(d && d->op == AT_IR_SUB, L->err);
        at_vinstr vi = {0};
        vi.kind = AT_V_BINARY_S;
        vi.fn = AT_BIN_SUB;
        vi.phase = (int16_t)ph;
        vi.acc = -1;
        vi.dst.kind = AT_OPD_REG;
        vi.dst.idx = L->nvirt++;
        vi.src[0] = L->where[d->operands[0]];
        vi.src[1] = L->where[d->operands[1]];
        L->where[u] = vi.dst;
        L->remat_ph[u] = ph;
        L->p->cost_per_elem += 1;
        at_status st = add_vinstr(L, vi);
        if (st)
            return st;
    }
    return AT_OK;
}

/* 5 */
static at_status emit_vector(lowering *L)
{
    static const int8_t unary_fn[AT_IR_OP_COUNT] = {
        [AT_IR_NEG] = AT_UN_NEG + 1,     [AT_IR_ABS] = AT_UN_ABS + 1,
        [AT_IR_RELU] = AT_UN_RELU + 1,   [AT_IR_SIGMOID] = AT_UN_SIGMOID + 1,
        [AT_IR_TANH] = AT_UN_TANH + 1,   [AT_IR_EXP] = AT_UN_EXP + 1,
        [AT_IR_LOG] = AT_UN_LOG + 1,     [AT_IR_SQRT] = AT_UN_SQRT + 1,
        [AT_IR_ERF] = AT_UN_ERF + 1,     [AT_IR_LOG1P] = AT_UN_LOG1P + 1,
        [AT_IR_EXPM1] = AT_UN_EXPM1 + 1,
    };
    static const int8_t binary_fn[AT_IR_OP_COUNT] = {
        [AT_IR_ADD] = AT_BIN_ADD + 1, [AT_IR_SUB] = AT_BIN_SUB + 1,
        [AT_IR_MUL] = AT_BIN_MUL + 1, [AT_IR_DIV] = AT_BIN_DIV + 1,
        [AT_IR_POW] = AT_BIN_POW + 1, [AT_IR_MIN] = AT_BIN_MIN + 1,
        [AT_IR_MAX] = AT_BIN_MAX + 1,
    };
    static const int8_t compare_fn[AT_IR_OP_COUNT] = {
        [AT_IR_LT] = AT_CMP_LT + 1, [AT_IR_LE] = AT_CMP_LE + 1,
        [AT_IR_GT] = AT_CMP_GT + 1, [AT_IR_GE] = AT_CMP_GE + 1,
        [AT_IR_EQ] = AT_CMP_EQ + 1, [AT_IR_NE] = AT_CMP_NE + 1,
    };
    const at_kernel *k = L->k;
    at_program *p = L->p;
    at_status st;
    for (int ph = 0; ph < p->nphases; ph++) {
        for (int i = 0; i < k->ninstrs; i++) {
            const at_instr *in = &k->instrs[i];
            if (in->op == AT_IR_GEMM || instr_level(L, in) != AT_LEVEL_ELEM)
                continue;
            if (operand_phase(L, in) != ph)
                continue;
            if ((st = recompute_operands(L, in, ph)))
                return st;
            if (typed_instr(k, in)) {
                if ((st = emit_typed(L, in, ph)))
                    return st;
                continue;
            }
            if (in->op == AT_IR_LOAD || in->op == AT_IR_LOAD_COL)
                continue; /* lives in memory */
            at_vinstr vi = {0};
            vi.phase = (int16_t)ph;
            vi.acc = -1;
            if (in->result != AT_NO_VALUE)
                vi.dst = L->where[in->result];
            const at_value *o = in->operands;
            if (unary_fn[in->op]) {
                vi.kind = AT_V_UNARY;
                vi.fn = (uint8_t)(unary_fn[in->op] - 1);
                vi.src[0] = L->where[o[0]];
                p->cost_per_elem += unary_cost(vi.fn);
            } else if (binary_fn[in->op]) {
                vi.fn = (uint8_t)(binary_fn[in->op] - 1);
                int sa = L->where[o[0]].kind == AT_OPD_SLOT,
                    sb = L->where[o[1]].kind == AT_OPD_SLOT;
                vi.kind = sb   ? AT_V_BINARY_S
                          : sa ? AT_V_BINARY_RS
                               : AT_V_BINARY;
                vi.src[0] = L->where[sa ? o[1] : o[0]];
                vi.src[1] = L->where[sa ? o[0] : o[1]];
                p->cost_per_elem += vi.fn == AT_BIN_POW ? 8 : 1;
            } else if (compare_fn[in->op]) {
                vi.kind = AT_V_COMPARE;
                vi.fn = (uint8_t)(compare_fn[in->op] - 1);
                if ((st = vector_operand(L, o[0], ph, 1, &vi.src[0])))
                    return st;
                if ((st = vector_operand(L, o[1], ph, 1, &vi.src[1])))
                    return st;
                p->cost_per_elem += 1;
            } else if (in->op == AT_IR_SELECT) {
                vi.kind = AT_V_SELECT;
                for (int j = 0; j < 3; j++)
                    if ((st = vector_operand(L, o[j], ph, 1, &vi.src[j])))
                        return st;
                p->cost_per_elem += 1;
            } else if (in->op == AT_IR_CAST) { /* f32 -> f32 */
                vi.kind = AT_V_COPY;
                vi.src[0] = L->where[o[0]];
            } else if (is_row_red(in->op) || is_all_red(in->op)) {
                int all = is_all_red(in->op);
                vi.kind = all ? AT_V_RED_ALL : AT_V_RED_ROW;
                vi.src[0] = L->where[o[0]];
                vi.dst.kind = AT_OPD_NONE;
                vi.acc = add_acc(L, red_kind(in->op), all, ph,
                                 p->slot_of[in->result], -1);
                if (vi.acc < 0)
                    return at_error_set(L->err, AT_E_NOMEM, "out of memory");
                p->cost_per_elem += 1;
            } else {
                /* the verifier leaves no other op at element level */
                AT_INVARIANT(in->op == AT_IR_STORE, L->err);
                vi.kind = AT_V_COPY;
                vi.dst.kind = AT_OPD_MEM;
                vi.dst.idx = in->param;
                vi.src[0] = L->where[o[0]];
                if (vi.src[0].kind == AT_OPD_MEM && vi.src[0].idx == in->param)
                    continue; /* forwarded: the producer already wrote here */
                p->cost_per_elem += 1;
            }
            if ((st = add_vinstr(L, vi)))
                return st;
        }
    }
    /* row values feeding whole-launch reductions: accumulated per row */
    for (int i = 0; i < k->ninstrs; i++) {
        const at_instr *in = &k->instrs[i];
        if (!is_all_red(in->op) || level_of(L, in->operands[0]) != AT_LEVEL_ROW)
            continue;
        if (add_acc(L, red_kind(in->op), 1, L->phase[in->operands[0]],
                    p->slot_of[in->result], p->slot_of[in->operands[0]])
            < 0)
            return at_error_set(L->err, AT_E_NOMEM, "out of memory");
    }
    return AT_OK;
}

/* 5b: fusion.  `d = sub x, slot; e = exp d; reduce.sum e` (softmax's and
 * log-sum-exp's middle phase) becomes one pass that keeps d in registers
 * and never re-reads e, when d has no other use; e is not written at all
 * when only the sum reads it.  The result is bit-identical per element;
 * only the sum's association order changes. */
static int reg_uses(const at_program *p, int reg)
{
    int n = 0;
    for (int i = 0; i < p->nv; i++)
        for (int j = 0; j < 3; j++)
            n += p->v[i].src[j].kind == AT_OPD_REG && p->v[i].src[j].idx == reg;
    return n;
}

/* Replaces the n instructions from v[i] by f. */
static void replace_run(at_program *p, int i, int n, at_vinstr f)
{
    p->v[i] = f;
    memmove(&p->v[i + 1], &p->v[i + n], (size_t)(p->nv - i - n) * sizeof *p->v);
    p->nv -= n - 1;
}

static void fuse_exp_sum(lowering *L)
{
    at_program *p = L->p;
    for (int i = 0; i + 2 < p->nv; i++) {
        at_vinstr *sub = &p->v[i], *ex = &p->v[i + 1], *red = &p->v[i + 2];
        if (sub->kind != AT_V_BINARY_S || sub->fn != AT_BIN_SUB
            || sub->dst.kind != AT_OPD_REG)
            continue;
        if (ex->kind != AT_V_UNARY || ex->fn != AT_UN_EXP
            || ex->src[0].kind != AT_OPD_REG || ex->src[0].idx != sub->dst.idx
            || ex->phase != sub->phase)
            continue;
        if ((red->kind != AT_V_RED_ROW && red->kind != AT_V_RED_ALL)
            || p->acc[red->acc].red != AT_RED_SUM || red->phase != ex->phase
            || red->src[0].kind != ex->dst.kind
            || red->src[0].idx != ex->dst.idx)
            continue;
        if (reg_uses(p, sub->dst.idx) != 1)
            continue;
        at_vinstr f = *ex;
        f.kind = AT_V_EXP_SUB_SUM;
        f.src[0] = sub->src[0];
        f.src[1] = sub->src[1];
        f.acc = red->acc;
        if (ex->dst.kind == AT_OPD_REG && reg_uses(p, ex->dst.idx) == 1)
            f.dst = (at_opd){0}; /* only the sum reads exp: not written */
        replace_run(p, i, 3, f);
        p->cost_per_elem -=
            2; /* the sub and the reduction emit_vector counted (1 each) */
    }
}

/* Puts the registers of vi's sources whose last use is instruction i on the
 * free list (once each). */
static void release_sources(const at_vinstr *vi, int i, const int *phys,
                            const int *last, int nvirt, int *free_list,
                            int *nfree)
{
    for (int j = 0; j < 3; j++) {
        if (vi->src[j].kind != AT_OPD_REG)
            continue;
        int r = vi->src[j].idx, dup = 0;
        for (int q = 0; q < *nfree; q++)
            dup |= free_list[q] == r;
        int still = 0;
        for (int v = 0; v < nvirt; v++)
            still |= phys[v] == r && last[v] > i;
        if (!dup && !still)
            free_list[(*nfree)++] = r;
    }
}

/* 5c: gelu.  `h = mul x, 0.5; z = mul x, c; e = erf z; p = add 1, e;
 * y = mul h, p` with c = 1/sqrt 2 rounded to float (the stdlib's exact
 * gelu) becomes the kernel table's one-pass gelu, which rounds each step as
 * these five instructions do: bit-identical per element, and x is read
 * once instead of twice with no register written in between. */
static int slot_is(const lowering *L, at_opd o, float v)
{
    if (o.kind != AT_OPD_SLOT)
        return 0;
    for (int i = 0; i < L->k->ninstrs; i++) {
        const at_instr *in = &L->k->instrs[i];
        if (in->op == AT_IR_CONST && in->type == AT_F32
            && L->p->slot_of[in->result] == o.idx)
            return in->imm.f32 == v;
    }
    return 0;
}

static int is_reg(at_opd o, at_opd r)
{
    return o.kind == AT_OPD_REG && r.kind == AT_OPD_REG && o.idx == r.idx;
}

static int gelu_at(const lowering *L, const at_vinstr *v)
{
    const at_program *p = L->p;
    const at_vinstr *h = &v[0], *z = &v[1], *e = &v[2], *a = &v[3], *y = &v[4];
    for (int j = 1; j < 5; j++)
        if (v[j].phase != h->phase)
            return 0;
    if (h->kind != AT_V_BINARY_S || h->fn != AT_BIN_MUL
        || h->dst.kind != AT_OPD_REG || !slot_is(L, h->src[1], 0.5f)
        || z->kind != AT_V_BINARY_S || z->fn != AT_BIN_MUL
        || z->src[0].kind != h->src[0].kind || z->src[0].idx != h->src[0].idx
        || !slot_is(L, z->src[1], 0x1.6a09e6p-1f))
        return 0;
    if (e->kind != AT_V_UNARY || e->fn != AT_UN_ERF
        || !is_reg(e->src[0], z->dst))
        return 0;
    if ((a->kind != AT_V_BINARY_S && a->kind != AT_V_BINARY_RS)
        || a->fn != AT_BIN_ADD || !is_reg(a->src[0], e->dst)
        || !slot_is(L, a->src[1], 1.0f))
        return 0;
    if (y->kind != AT_V_BINARY || y->fn != AT_BIN_MUL
        || !((is_reg(y->src[0], h->dst) && is_reg(y->src[1], a->dst))
             || (is_reg(y->src[1], h->dst) && is_reg(y->src[0], a->dst))))
        return 0;
    return reg_uses(p, h->dst.idx) == 1 && reg_uses(p, z->dst.idx) == 1
           && reg_uses(p, e->dst.idx) == 1 && reg_uses(p, a->dst.idx) == 1;
}

static int same_opd(at_opd a, at_opd b)
{
    return a.kind == b.kind && a.idx == b.idx;
}

/* The index of the last instruction of v[lo .. hi) that writes o, or -1
 * (the fusions' windows look up the writer of an operand through it). */
static int writer_between(const at_program *p, int lo, int hi, at_opd o)
{
    for (int i = hi - 1; i >= lo; i--)
        if (same_opd(p->v[i].dst, o))
            return i;
    return -1;
}

/* Whether t writes a register that only the next instruction y reads, as
 * its first operand, in t's phase. */
static int feeds_only_next(const at_program *p, const at_vinstr *t,
                           const at_vinstr *y)
{
    return t->dst.kind == AT_OPD_REG && y->phase == t->phase
           && same_opd(y->src[0], t->dst) && reg_uses(p, t->dst.idx) == 1;
}

/* The unary instruction `fn x` in place of the n instructions from v[i],
 * writing where the last of them wrote. */
static void replace_by_unary(at_program *p, int i, int n, int fn, at_opd x)
{
    at_vinstr f = p->v[i + n - 1];
    f.kind = AT_V_UNARY;
    f.fn = (uint8_t)fn;
    f.src[0] = x;
    f.src[1] = (at_opd){0};
    replace_run(p, i, n, f);
}

/* 5c': gelu's tanh form.  The nine instructions of
 * `y = (x 0.5) (1 + tanh(B (x + c)))`, c = K x^3 rounded as ((x x) x) K or
 * ((K x) x) x, with K = 0.044715 and B = sqrt(2/pi) rounded to float,
 * become the kernel table's one-pass gelu_tanh (or gelu_tanh_k), which
 * rounds each step as they do.  The window is matched by its data flow:
 * the stdlib's kernel and a traced Python function emit it in different
 * orders.  A window holds the value x and eight virtual registers, each
 * read once, by the next step. */
typedef struct gelu_window {
    const lowering *L;
    const at_vinstr *v; /* the nine instructions */
    at_opd x;
} gelu_window;

/* The instruction of the window that writes register r, or NULL. */
static const at_vinstr *def_in(const gelu_window *w, at_opd r)
{
    const at_program *p = w->L->p;
    if (r.kind != AT_OPD_REG || reg_uses(p, r.idx) != 1)
        return NULL;
    int lo = (int)(w->v - p->v), i = writer_between(p, lo, lo + 9, r);
    return i < 0 ? NULL : &p->v[i];
}

/* The instruction writing r when it is `mul <operand>, c` (either order) with
 * c the constant k; its operand in *o. */
static const at_vinstr *mul_by(const gelu_window *w, at_opd r, float k,
                               at_opd *o)
{
    const at_vinstr *d = def_in(w, r);
    if (!d || (d->kind != AT_V_BINARY_S && d->kind != AT_V_BINARY_RS)
        || d->fn != AT_BIN_MUL || !slot_is(w->L, d->src[1], k))
        return NULL;
    *o = d->src[0];
    return d;
}

/* Whether the instruction writing r is `fn a, b` of two vectors, the
 * operands in either order (add and mul commute bit for bit). */
static int binary_of(const gelu_window *w, at_opd r, int fn, at_opd a, at_opd b)
{
    const at_vinstr *d = def_in(w, r);
    return d && d->kind == AT_V_BINARY && d->fn == fn
           && ((same_opd(d->src[0], a) && same_opd(d->src[1], b))
               || (same_opd(d->src[0], b) && same_opd(d->src[1], a)));
}

/* c = K x^3 in either rounding order: the fused op's fn, or -1. */
static int gelu_cube(const gelu_window *w, at_opd c)
{
    at_opd o;
    if (mul_by(w, c, AT_GELU_TANH_K, &o)) { /* ((x x) x) K */
        const at_vinstr *x3 = def_in(w, o);
        if (!x3 || x3->kind != AT_V_BINARY || x3->fn != AT_BIN_MUL)
            return -1;
        for (int s = 0; s < 2; s++)
            if (same_opd(x3->src[1 - s], w->x)
                && binary_of(w, x3->src[s], AT_BIN_MUL, w->x, w->x))
                return AT_UN_GELU_TANH;
        return -1;
    }
    const at_vinstr *d = def_in(w, c);
    if (!d || d->kind != AT_V_BINARY || d->fn != AT_BIN_MUL)
        return -1;
    for (int s = 0; s < 2; s++) { /* ((K x) x) x */
        const at_vinstr *kx2 = def_in(w, d->src[s]);
        if (!same_opd(d->src[1 - s], w->x) || !kx2 || kx2->kind != AT_V_BINARY
            || kx2->fn != AT_BIN_MUL)
            continue;
        for (int t = 0; t < 2; t++)
            if (same_opd(kx2->src[1 - t], w->x)
                && mul_by(w, kx2->src[t], AT_GELU_TANH_K, &o)
                && same_opd(o, w->x))
                return AT_UN_GELU_TANH_K;
    }
    return -1;
}

/* The fused op's fn when v[0..9) computes gelu's tanh form into v[8], or
 * -1; *x is the form's input. */
static int gelu_tanh_at(const lowering *L, const at_vinstr *v, at_opd *x)
{
    const at_vinstr *y = &v[8];
    for (int j = 0; j < 9; j++)
        if (v[j].phase != y->phase || v[j].scale[0] || v[j].scale[1] || v[j].pre
            || (j < 8 && v[j].dst.kind != AT_OPD_REG))
            return -1;
    if (y->kind != AT_V_BINARY || y->fn != AT_BIN_MUL)
        return -1;
    gelu_window w = {L, v, {0}};
    for (int s = 0; s < 2; s++) {
        at_opd sum;
        if (!mul_by(&w, y->src[s], 0.5f, &w.x))
            continue;
        const at_vinstr *a = def_in(&w, y->src[1 - s]);
        if (!a || (a->kind != AT_V_BINARY_S && a->kind != AT_V_BINARY_RS)
            || a->fn != AT_BIN_ADD || !slot_is(L, a->src[1], 1.0f))
            continue;
        const at_vinstr *th = def_in(&w, a->src[0]);
        if (!th || th->kind != AT_V_UNARY || th->fn != AT_UN_TANH
            || !mul_by(&w, th->src[0], AT_GELU_TANH_B, &sum))
            continue;
        const at_vinstr *ad = def_in(&w, sum);
        if (!ad || ad->kind != AT_V_BINARY || ad->fn != AT_BIN_ADD)
            continue;
        for (int q = 0; q < 2; q++) {
            int fn =
                same_opd(ad->src[q], w.x) ? gelu_cube(&w, ad->src[1 - q]) : -1;
            if (fn >= 0) {
                *x = w.x;
                return fn;
            }
        }
    }
    return -1;
}

static void fuse_gelu_tanh(lowering *L)
{
    at_program *p = L->p;
    for (int i = 0; i + 8 < p->nv; i++) {
        at_opd x;
        int fn = gelu_tanh_at(L, &p->v[i], &x);
        if (fn < 0)
            continue;
        replace_by_unary(p, i, 9, fn, x);
    }
}

static void fuse_gelu(lowering *L)
{
    at_program *p = L->p;
    for (int i = 0; i + 4 < p->nv; i++) {
        if (!gelu_at(L, &p->v[i]))
            continue;
        replace_by_unary(p, i, 5, AT_UN_GELU, p->v[i].src[0]);
    }
}

/* Whether red is a sum reduction, in v's phase, of v's register result, and
 * that result's only reader. */
static int sums_only(const at_program *p, const at_vinstr *red,
                     const at_vinstr *v)
{
    return (red->kind == AT_V_RED_ROW || red->kind == AT_V_RED_ALL)
           && p->acc[red->acc].red == AT_RED_SUM && red->phase == v->phase
           && v->dst.kind == AT_OPD_REG && same_opd(red->src[0], v->dst)
           && reg_uses(p, v->dst.idx) == 1;
}

/* 5b': `d = sub x, slot; e = exp d; reduce.sum e` where d has other uses
 * (log_softmax: y = d - log(sum)) and only the sum reads e becomes one pass
 * that writes d and sums exp(d) without writing e.  d is bit-identical; the
 * sum takes exp_sub_sum's association, as softmax's does. */
static void fuse_sub_exp_sum(at_program *p)
{
    for (int i = 0; i + 2 < p->nv; i++) {
        at_vinstr *sub = &p->v[i], *ex = &p->v[i + 1], *red = &p->v[i + 2];
        if (sub->kind != AT_V_BINARY_S || sub->fn != AT_BIN_SUB
            || ex->kind != AT_V_UNARY || ex->fn != AT_UN_EXP
            || !same_opd(ex->src[0], sub->dst) || ex->dst.kind != AT_OPD_REG
            || ex->phase != sub->phase)
            continue;
        if (!sums_only(p, red, ex))
            continue;
        at_vinstr f = *sub;
        f.kind = AT_V_SUB_EXP_SUM;
        f.acc = red->acc;
        replace_run(p, i, 3, f);
        p->cost_per_elem -= 1; /* the reduction (the sub and exp stay) */
    }
}

/* 5d: `d = sub x, slot; q = mul d, d; reduce.sum q` (layer norm's
 * variance) becomes one pass that writes d and sums its squares without
 * writing q, when only the reduction reads q; d is not written either when
 * it is a register only the square reads.  With two vectors, `d = sub
 * a, b` (mse_loss), and d in a register that only the square reads, the
 * pass writes nothing (AT_V_DIFF_SQ_SUM).  d and the sum are bit-identical
 * to the unfused program's: the kernel sums the squares in rsum's order,
 * and the interpreter hands it one block at a time. */
static void fuse_sub_sq_sum(at_program *p)
{
    for (int i = 0; i + 2 < p->nv; i++) {
        at_vinstr *sub = &p->v[i], *sq = &p->v[i + 1], *red = &p->v[i + 2];
        int two = sub->kind == AT_V_BINARY;
        if ((sub->kind != AT_V_BINARY_S && !two) || sub->fn != AT_BIN_SUB
            || sq->kind != AT_V_BINARY || sq->fn != AT_BIN_MUL
            || !same_opd(sq->src[0], sub->dst)
            || !same_opd(sq->src[1], sub->dst) || sq->dst.kind != AT_OPD_REG
            || sq->phase != sub->phase)
            continue;
        if (!sums_only(p, red, sq))
            continue;
        int unread =
            sub->dst.kind == AT_OPD_REG && reg_uses(p, sub->dst.idx) == 2;
        if (two && !unread)
            continue;
        at_vinstr f = *sub;
        f.kind = two ? AT_V_DIFF_SQ_SUM : AT_V_SUB_SQ_SUM;
        if (unread)
            f.dst = (at_opd){0};
        f.acc = red->acc;
        replace_run(p, i, 3, f);
        p->cost_per_elem -= 2; /* the mul and the reduction (1 each) */
    }
}

/* The fused instruction of kind `kind` that replaces a run ending at `last`
 * and starting with `t = x op slot` (op mul or div): last's destination,
 * t's op, slot (its fourth operand) and x. */
static at_vinstr scaled_by_slot(const at_vinstr *last, int kind,
                                const at_vinstr *t)
{
    at_vinstr f = *last;
    f.kind = (uint8_t)kind;
    f.fn = t->fn;
    f.slot = (int16_t)t->src[1].idx;
    f.src[0] = t->src[0];
    return f;
}

/* 5e: `t = mul x, slot; u = mul t, w; y = add u, b` (layer norm with
 * weight and bias), or the same with `t = div x, slot` (layer norm written
 * as (x - mean) / sqrt(var + eps) * w + b), becomes one pass when only the
 * next instruction reads t and u; the pass's fn is t's.  The kernel rounds
 * each step as these instructions do and keeps their operand order, so y
 * is bit-identical. */
static void fuse_scale_affine(at_program *p)
{
    for (int i = 0; i + 2 < p->nv; i++) {
        at_vinstr *t = &p->v[i], *u = &p->v[i + 1], *y = &p->v[i + 2];
        if (t->kind != AT_V_BINARY_S
            || (t->fn != AT_BIN_MUL && t->fn != AT_BIN_DIV)
            || t->src[1].idx > INT16_MAX || u->kind != AT_V_BINARY
            || u->fn != AT_BIN_MUL || y->kind != AT_V_BINARY
            || y->fn != AT_BIN_ADD || !feeds_only_next(p, t, u)
            || !feeds_only_next(p, u, y))
            continue;
        at_vinstr f = scaled_by_slot(y, AT_V_SCALE_AFFINE, t);
        f.src[1] = u->src[1];
        f.src[2] = y->src[1];
        replace_run(p, i, 3, f);
        p->cost_per_elem -= 2; /* the two muls (1 each) */
    }
}

/* 5f: RMS norm.  `q = mul x, x; reduce.sum q` (the mean square), when only
 * the reduction reads q, becomes one pass that writes nothing
 * (AT_V_SQ_SUM): the kernel sums the squares in rsum's order, so the sum is
 * bit-identical to the unfused instructions' at the same block length. */
static void fuse_sq_sum(at_program *p)
{
    for (int i = 0; i + 1 < p->nv; i++) {
        at_vinstr *sq = &p->v[i], *red = &p->v[i + 1];
        if (sq->kind != AT_V_BINARY || sq->fn != AT_BIN_MUL
            || !same_opd(sq->src[0], sq->src[1]) || !sums_only(p, red, sq))
            continue;
        at_vinstr f = *sq;
        f.kind = AT_V_SQ_SUM;
        f.dst = (at_opd){0};
        f.src[1] = (at_opd){0};
        f.acc = red->acc;
        replace_run(p, i, 2, f);
        p->cost_per_elem -= 1; /* the reduction (the mul stays) */
    }
}

/* `t = div x, slot; y = mul t, w` (RMS norm's x / sqrt(mean square + eps)
 * * w), when only y reads t, becomes one pass (AT_V_DIV_MUL) that rounds
 * each step as the two instructions do and keeps their operand order: y is
 * bit-identical.  Runs after fuse_scale_affine, which takes such a pair
 * followed by an add.  The form with `mul x, slot` is fuse_scaled_operands'
 * (5h). */
static void fuse_div_mul(at_program *p)
{
    for (int i = 0; i + 1 < p->nv; i++) {
        at_vinstr *t = &p->v[i], *y = &p->v[i + 1];
        if (t->kind != AT_V_BINARY_S || t->fn != AT_BIN_DIV
            || t->src[1].idx > INT16_MAX || y->kind != AT_V_BINARY
            || y->fn != AT_BIN_MUL || !feeds_only_next(p, t, y))
            continue;
        replace_run(p, i, 2, scaled_by_slot(y, AT_V_DIV_MUL, t));
        p->cost_per_elem -= 1; /* the second mul */
    }
}

/* 5f: both RMS norm fusions; with both, `x / sqrt(mean(x * x) + eps) * w`
 * needs no block register, so each row phase is one kernel call over the
 * row. */
static void fuse_rms(at_program *p)
{
    fuse_sq_sum(p);
    fuse_div_mul(p);
}

/* 5g: `t = sub x, slot` read only by the next instruction, as its first
 * operand, where that is a binary op with a slot (add, sub, mul or div) or
 * a scale_affine, becomes that instruction with the subtraction done first
 * (at_vinstr.pre): a recomputed difference (place_values) costs no pass of
 * its own.  Each step rounds as before, so the result is bit-identical. */
static void fuse_pre_sub(at_program *p)
{
    for (int i = 0; i + 1 < p->nv; i++) {
        at_vinstr *t = &p->v[i], *u = &p->v[i + 1];
        if (t->kind != AT_V_BINARY_S || t->fn != AT_BIN_SUB || t->pre
            || t->src[1].idx >= INT16_MAX || u->pre
            || !feeds_only_next(p, t, u))
            continue;
        if (u->kind != AT_V_SCALE_AFFINE
            && (u->kind != AT_V_BINARY_S || u->fn > AT_BIN_DIV))
            continue;
        at_vinstr f = *u;
        f.pre = (int16_t)(t->src[1].idx + 1);
        f.src[0] = t->src[0];
        replace_run(p, i, 2, f);
        p->cost_per_elem -= 1; /* the sub */
    }
}

/* 5h: `t = mul x, slot` (either operand order) whose register only a later
 * binary add, sub, mul or div of the same phase reads, once, folds into that
 * instruction as a scale of its operand (at_vinstr.scale): `b1 * m + (1 -
 * b1) * g` (Adam's moment, an exponential moving average) is one pass over
 * m and g instead of three.  x must still hold what t read when the reader
 * runs: no instruction in between writes x's memory (registers are
 * single-assignment until step 6).  A product with a recomputed difference
 * (pre) stays apart: it is the stdlib's layer_norm_w's last phase, whose
 * block register keeps its row sums block by block (without it, rows longer
 * than a block would sum in AT_RSUM_RUN runs, changing that op's bits).
 * Each step rounds as before, so the result is bit-identical. */
static int scale_source(const at_program *p, int i, int j)
{
    const at_vinstr *u = &p->v[i];
    if (u->src[j].kind != AT_OPD_REG)
        return -1;
    for (int k = i - 1; k >= 0 && p->v[k].phase == u->phase; k--) {
        const at_vinstr *t = &p->v[k];
        if (!same_opd(t->dst, u->src[j]))
            continue;
        if ((t->kind != AT_V_BINARY_S && t->kind != AT_V_BINARY_RS)
            || t->fn != AT_BIN_MUL || t->pre || t->src[1].idx >= INT16_MAX
            || reg_uses(p, t->dst.idx) != 1)
            return -1;
        for (int m = k + 1; m < i; m++)
            if (same_opd(p->v[m].dst, t->src[0]))
                return -1;
        return k;
    }
    return -1;
}

/* y of kind `kind` reading t's two operands and c, in place of the pair
 * t, y at v[i], v[i + 1]. */
static void fold_pair(at_program *p, int i, int kind, at_opd c)
{
    at_vinstr f = p->v[i + 1];
    f.kind = (uint8_t)kind;
    f.src[0] = p->v[i].src[0];
    f.src[1] = p->v[i].src[1];
    f.src[2] = c;
    replace_run(p, i, 2, f);
}

/* 5i: `t = a op b; y = add t, c` of vectors, when only y reads t, becomes
 * one pass (AT_V_BINARY_ADD; `sigmoid(a * b + c)`'s argument): t's block
 * register is never written or read back.  Each step rounds as before and
 * the add keeps its operand order (t first), so y is bit-identical,
 * NaN payloads included.  Runs after fuse_scaled_operands: scaled
 * instructions stay as they are. */
static void fuse_binary_add(at_program *p)
{
    for (int i = 0; i + 1 < p->nv; i++) {
        at_vinstr *t = &p->v[i], *y = &p->v[i + 1];
        if (t->kind != AT_V_BINARY || t->fn > AT_BIN_DIV || t->scale[0]
            || t->scale[1] || y->kind != AT_V_BINARY || y->fn != AT_BIN_ADD
            || y->scale[0] || y->scale[1] || same_opd(y->src[1], t->dst)
            || !feeds_only_next(p, t, y))
            continue;
        y->fn = t->fn;
        fold_pair(p, i, AT_V_BINARY_ADD, y->src[1]);
    }
}

/* 5j: `t = a op b` (or fuse_binary_add's (a op b) + c) read only by the
 * next instruction, a unary op with a kernel of that form (the vector math
 * of vmath.c), becomes one pass: `sigmoid(a * b + c)` reads three buffers
 * and writes one, with no block register in between.  Each step rounds as
 * before, so the result is bit-identical. */
static void fuse_unary_of(at_program *p)
{
    for (int i = 0; i + 1 < p->nv; i++) {
        at_vinstr *t = &p->v[i], *y = &p->v[i + 1];
        int binary = t->kind == AT_V_BINARY && !t->scale[0] && !t->scale[1];
        if ((!binary && t->kind != AT_V_BINARY_ADD) || t->fn > AT_BIN_DIV
            || y->kind != AT_V_UNARY || !p->kt->unary_of[y->fn][0]
            || !feeds_only_next(p, t, y))
            continue;
        y->op = t->fn;
        fold_pair(p, i, AT_V_UNARY_OF, binary ? (at_opd){0} : t->src[2]);
    }
}

/* 5k: an Adam step, seven to nine instructions in a row of a FLAT program
 * (in the order the trace gives them):
 *     m' = add (scale s0) m_a, (scale s1) m_b      -> memory
 *     q  = mul (scale s3) g_a, g_b  |  mul g_a, g_b
 *     v' = add (scale s2) v, q  |  add (scale s2) v, (scale s3) q   -> memory
 *     [m^ = div m', s6;  v^ = div v', s7]   (bias correction, each optional)
 *     r  = sqrt v' (or v^);  d = add r, s5 (a slot)
 *     u  = div (scale s4) m' (or m^), d
 *     p' = sub p, u  |  sub (scale s8) p, u  (decoupled weight decay)  ->
 * memory becomes one AT_V_ADAM: every element's inputs loaded once, its three
 * results stored once, nothing through a block register.  Each step
 * rounds as before (bit-identical).  The window holds those instructions
 * and no other, each intermediate is read only by the next step, and no
 * step but its reader reads m' or v' from memory: the fused kernel reads
 * every input before it writes, so m' and v' must not be an input of the
 * unfused steps. */
#define ADAM_WINDOW 9 /* the longest step */
typedef struct adam_match {
    const at_program *p;
    int lo, hi; /* where the step may start, its last instruction */
    unsigned seen; /* bit i - lo: v[i] matched */
} adam_match;

/* The window's instruction that writes o (before v[before]) of kind and
 * fn, or NULL; marks it seen. */
static const at_vinstr *adam_writer(adam_match *w, int before, at_opd o,
                                    int kind, int fn)
{
    int i = writer_between(w->p, w->lo, before, o);
    if (i < 0)
        return NULL;
    const at_vinstr *v = &w->p->v[i];
    if (v->kind != kind || v->fn != fn || v->pre
        || (w->seen >> (i - w->lo)) & 1)
        return NULL;
    w->seen |= 1u << (i - w->lo);
    return v;
}

static int is_mem(at_opd o) { return o.kind == AT_OPD_MEM; }

/* The memory operand that x reads: o itself, or, when o is the register of
 * an optional `div mem, slot` of the window (bias correction), that
 * instruction's memory operand; *div is the div or NULL. */
static at_opd adam_corrected(adam_match *w, const at_vinstr *x, at_opd o,
                             const at_vinstr **div)
{
    *div = NULL;
    if (o.kind != AT_OPD_REG)
        return o;
    const at_vinstr *d =
        adam_writer(w, (int)(x - w->p->v), o, AT_V_BINARY_S, AT_BIN_DIV);
    if (!d || !is_mem(d->src[0]) || d->src[1].kind != AT_OPD_SLOT
        || d->src[1].idx >= INT16_MAX)
        return (at_opd){0}; /* AT_OPD_NONE: no match */
    *div = d;
    return d->src[0];
}

/* Whether an instruction of the window other than `writer` (which writes o
 * in place of what it reads) and `reader` reads o. */
static int reads_other(const adam_match *w, at_opd o, const at_vinstr *writer,
                       const at_vinstr *reader)
{
    for (int i = w->lo; i <= w->hi; i++) {
        const at_vinstr *x = &w->p->v[i];
        for (int j = 0; j < 3; j++)
            if (x != writer && x != reader && same_opd(x->src[j], o))
                return 1;
    }
    return 0;
}

static int16_t slot_or_none(int scale) { return (int16_t)(scale - 1); }

static int adam_at(const lowering *L, int hi, at_adam *a)
{
    const at_program *p = L->p;
    adam_match w = {p, hi >= ADAM_WINDOW - 1 ? hi - (ADAM_WINDOW - 1) : 0, hi,
                    0};
    w.seen = 1u << (hi - w.lo);
    const at_vinstr *G = &p->v[hi], *Mh, *Vh;
    if (hi < 6 || G->kind != AT_V_BINARY || G->fn != AT_BIN_SUB || G->scale[1]
        || !is_mem(G->dst) || !is_mem(G->src[0]) || G->src[1].kind != AT_OPD_REG
        || !p->kt->adam[0][0][0])
        return 0;
    const at_vinstr *F =
        adam_writer(&w, hi, G->src[1], AT_V_BINARY, AT_BIN_DIV);
    if (!F || !F->scale[0] || F->scale[1] || F->src[1].kind != AT_OPD_REG)
        return 0;
    at_opd mo = adam_corrected(&w, F, F->src[0], &Mh);
    const at_vinstr *E =
        adam_writer(&w, (int)(F - p->v), F->src[1], AT_V_BINARY_S, AT_BIN_ADD);
    if (!is_mem(mo) || !E || E->src[0].kind != AT_OPD_REG
        || E->src[1].kind != AT_OPD_SLOT || E->src[1].idx >= INT16_MAX)
        return 0;
    const at_vinstr *D =
        adam_writer(&w, (int)(E - p->v), E->src[0], AT_V_UNARY, AT_UN_SQRT);
    if (!D)
        return 0;
    at_opd vo = adam_corrected(&w, D, D->src[0], &Vh);
    const at_vinstr *v_reader = Vh ? Vh : D, *m_reader = Mh ? Mh : F;
    const at_vinstr *C = is_mem(vo) ? adam_writer(&w, (int)(v_reader - p->v),
                                                  vo, AT_V_BINARY, AT_BIN_ADD)
                                    : NULL;
    if (!C || !C->scale[0] || !is_mem(C->src[0])
        || C->src[1].kind != AT_OPD_REG)
        return 0;
    const at_vinstr *B =
        adam_writer(&w, (int)(C - p->v), C->src[1], AT_V_BINARY, AT_BIN_MUL);
    int sq_first = C->scale[1] != 0;
    if (!B || B->scale[1] || (B->scale[0] == 0) != sq_first
        || !is_mem(B->src[0]) || !is_mem(B->src[1]))
        return 0;
    const at_vinstr *A =
        adam_writer(&w, (int)(m_reader - p->v), mo, AT_V_BINARY, AT_BIN_ADD);
    if (!A || !A->scale[0] || !A->scale[1] || !is_mem(A->src[0])
        || !is_mem(A->src[1]))
        return 0;
    int n =
        7 + (Mh != NULL) + (Vh != NULL); /* the window: v[hi - n + 1 .. hi] */
    if (hi - n + 1 < w.lo || w.seen != ((1u << n) - 1) << (hi - n + 1 - w.lo))
        return 0;
    const at_vinstr *regs[] = {B, D, E, F, Mh, Vh};
    for (int i = 0; i < 6; i++)
        if (regs[i] && reg_uses(p, regs[i]->dst.idx) != 1)
            return 0;
    if (same_opd(A->dst, C->dst) || same_opd(A->dst, G->dst)
        || same_opd(C->dst, G->dst) || reads_other(&w, A->dst, A, m_reader)
        || reads_other(&w, C->dst, C, v_reader))
        return 0;
    *a = (at_adam){.m_in = {A->src[0], A->src[1]},
                   .v_in = {C->src[0], B->src[0], B->src[1]},
                   .p_in = G->src[0],
                   .m_out = A->dst,
                   .v_out = C->dst,
                   .s = {slot_or_none(A->scale[0]), slot_or_none(A->scale[1]),
                         slot_or_none(C->scale[0]),
                         slot_or_none(sq_first ? C->scale[1] : B->scale[0]),
                         slot_or_none(F->scale[0]), (int16_t)E->src[1].idx,
                         Mh ? (int16_t)Mh->src[1].idx : -1,
                         Vh ? (int16_t)Vh->src[1].idx : -1,
                         slot_or_none(G->scale[0])},
                   .sq_first = (uint8_t)sq_first};
    return n;
}

static void fuse_adam(lowering *L)
{
    at_program *p = L->p;
    if (p->mode != AT_MODE_FLAT)
        return;
    for (int i = 0; i < p->nv; i++) {
        at_adam a;
        int n = adam_at(L, i, &a);
        if (!n)
            continue;
        at_adam *t = realloc(p->adam, (size_t)(p->nadam + 1) * sizeof *t);
        if (!t)
            return; /* the unfused program is as correct */
        p->adam = t;
        p->adam[p->nadam] = a;
        at_vinstr f = {.kind = AT_V_ADAM,
                       .phase = p->v[i].phase,
                       .slot = (int16_t)p->nadam++,
                       .dst = p->v[i].dst,
                       .acc = -1};
        replace_run(p, i - n + 1, n, f);
        i -= n - 1;
    }
}

static void fuse_scaled_operands(lowering *L)
{
    at_program *p = L->p;
    for (int i = 0; i < p->nv; i++) {
        at_vinstr *u = &p->v[i];
        if (u->kind != AT_V_BINARY || u->fn > AT_BIN_DIV)
            continue;
        for (int j = 0; j < 2; j++) {
            int k = scale_source(p, i, j);
            if (k < 0)
                continue;
            u->scale[j] = (int16_t)(p->v[k].src[1].idx + 1);
            u->src[j] = p->v[k].src[0];
            memmove(&p->v[k], &p->v[k + 1],
                    (size_t)(p->nv - k - 1) * sizeof *p->v);
            p->nv--;
            p->cost_per_elem -= 1; /* the product */
            i--;
            u = &p->v[i];
        }
    }
}

/* 6: virtual registers -> physical, per phase (values never live across). */
static at_status alloc_registers(lowering *L)
{
    at_program *p = L->p;
    int nvirt = L->nvirt;
    int *last = malloc((size_t)(nvirt ? nvirt : 1) * sizeof *last);
    int *phys = malloc((size_t)(nvirt ? nvirt : 1) * sizeof *phys);
    int *free_list = malloc((size_t)(nvirt ? nvirt : 1) * sizeof *free_list);
    if (!last || !phys || !free_list) {
        free(last);
        free(phys);
        free(free_list);
        return at_error_set(L->err, AT_E_NOMEM, "out of memory");
    }
    for (int v = 0; v < nvirt; v++) {
        last[v] = -1;
        phys[v] = -1;
    }
    for (int i = 0; i < p->nv; i++)
        for (int j = 0; j < 3; j++)
            if (p->v[i].src[j].kind == AT_OPD_REG)
                last[p->v[i].src[j].idx] = i;
    int nfree = 0;
    for (int i = 0; i < p->nv; i++) {
        at_vinstr *vi = &p->v[i];
        if (i > 0 && vi->phase != p->v[i - 1].phase) {
            /* nothing lives across phases: every register is free again */
            nfree = 0;
            for (int r = 0; r < p->nregs; r++)
                free_list[nfree++] = r;
        }
        for (int j = 0; j < 3; j++) {
            if (vi->src[j].kind != AT_OPD_REG)
                continue;
            int v = vi->src[j].idx;
            vi->src[j].idx = phys[v];
        }
        /* registers whose last use is this instruction may be its dst,
         * except where the dst's elements are wider than a source's (a
         * conversion, an i64 select of an int32 mask): written in place,
         * element i would overwrite sources beyond i */
        int late = vi->kind == AT_V_CONVERT || vi->kind == AT_V_SELECT64;
        if (!late)
            release_sources(vi, i, phys, last, nvirt, free_list, &nfree);
        if (vi->dst.kind == AT_OPD_REG) {
            int v = vi->dst.idx;
            int r = nfree ? free_list[--nfree] : p->nregs++;
            phys[v] = r;
            vi->dst.idx = r;
            if (last[v] < 0)
                free_list[nfree++] = r; /* dead value */
        }
        if (late)
            release_sources(vi, i, phys, last, nvirt, free_list, &nfree);
    }
    free(last);
    free(phys);
    free(free_list);
    return AT_OK;
}

/* Whether an instruction after v[i] reads buffer param P (AT_OPD_MEM), or
 * the kernel loads P: an in-place update, whose lines are in cache when
 * written, so that streaming them saves no read-for-ownership and only
 * evicts them (an Adam step at 10M elements takes 13 ms streamed, 8 ms
 * cached). */
static int read_after(const at_program *p, int i, int32_t P)
{
    at_opd m = {AT_OPD_MEM, P};
    if (is_loaded(p->k, P))
        return 1;
    for (int j = i + 1; j < p->nv; j++)
        for (int s = 0; s < 3; s++)
            if (same_opd(p->v[j].src[s], m))
                return 1;
    return 0;
}

/* 7: streaming stores (used past a size, see interp.c) send a line to memory
 * and out of the caches, so only a memory destination that no later
 * instruction reads may take them: not a value that lives in its output
 * until a later phase overwrites it (output_home), nor a stored value that
 * a later instruction of the same block reads back, nor an in-place update
 * of an input (read_after).  AT_V_ADAM streams its three outputs together,
 * so all three must qualify (fuse_adam leaves no instruction of the window
 * reading them). */
static void mark_final_writes(at_program *p)
{
    for (int i = 0; i < p->nv; i++) {
        at_vinstr *vi = &p->v[i];
        vi->final =
            vi->dst.kind == AT_OPD_MEM && !read_after(p, i, vi->dst.idx);
        if (vi->kind == AT_V_ADAM)
            vi->final = vi->final
                        && !read_after(p, i, p->adam[vi->slot].m_out.idx)
                        && !read_after(p, i, p->adam[vi->slot].v_out.idx);
        if (vi->final
            && ((vi->kind == AT_V_UNARY && p->kt->unary_nt[vi->fn])
                || (vi->kind == AT_V_BINARY && p->kt->binary_nt[vi->fn])
                || vi->kind == AT_V_SCALE_AFFINE || vi->kind == AT_V_DIV_MUL
                || vi->kind == AT_V_BINARY_ADD || vi->kind == AT_V_UNARY_OF
                || vi->kind == AT_V_ADAM
                || (vi->kind == AT_V_BINARY_S && vi->pre)))
            p->can_stream = 1;
    }
}

/* 8: whole-launch accumulators first, so that a task's partials are the
 * dense prefix acc[0 .. nall) (a launch keeps nall partials per task); the
 * vector instructions' accumulator indices follow the move.  The order
 * within each group is kept. */
static at_status order_accumulators(lowering *L)
{
    at_program *p = L->p;
    size_t cap = (size_t)(p->nacc ? p->nacc : 1);
    at_acc *sorted = malloc(cap * sizeof *sorted);
    int *remap = malloc(cap * sizeof *remap);
    if (!sorted || !remap) {
        free(sorted);
        free(remap);
        return at_error_set(L->err, AT_E_NOMEM, "out of memory");
    }
    int n = 0;
    for (int all = 1; all >= 0; all--) {
        for (int a = 0; a < p->nacc; a++)
            if (p->acc[a].all == all) {
                remap[a] = n;
                sorted[n++] = p->acc[a];
            }
        if (all)
            p->nall = n;
    }
    for (int i = 0; i < p->nv; i++)
        if (p->v[i].acc >= 0)
            p->v[i].acc = remap[p->v[i].acc];
    if (p->nacc)
        memcpy(p->acc, sorted, (size_t)p->nacc * sizeof *sorted);
    free(sorted);
    free(remap);
    return AT_OK;
}

/* 9: start indices of each phase's vector and per-row scalar instructions.
 * emit_scalar and emit_vector produced both lists in phase order, and no
 * later pass reorders them. */
static at_status index_phases(at_program *p, at_error *err)
{
    p->vph = calloc((size_t)p->nphases + 1, sizeof *p->vph);
    p->sph = calloc((size_t)p->nphases + 1, sizeof *p->sph);
    if (!p->vph || !p->sph)
        return at_error_set(err, AT_E_NOMEM, "out of memory");
    int i = 0;
    for (int ph = 0; ph <= p->nphases; ph++) {
        while (i < p->nv && p->v[i].phase < ph)
            i++;
        p->vph[ph] = i;
    }
    AT_INVARIANT(p->vph[p->nphases] == p->nv, err);
    p->s_row = 0;
    while (p->s_row < p->ns && p->s[p->s_row].where == AT_S_PROLOGUE)
        p->s_row++;
    i = p->s_row;
    for (int ph = 0; ph <= p->nphases; ph++) {
        while (i < p->ns && p->s[i].where == AT_S_ROW && p->s[i].phase < ph)
            i++;
        p->sph[ph] = i;
    }
    p->s_epi = p->sph[p->nphases];
    AT_INVARIANT(p->s_epi == p->ns || p->s[p->s_epi].where == AT_S_EPILOGUE,
                 err);
    return AT_OK;
}

/* 10: the buffers a ROW program's first phase reads from memory, each
 * once, when later phases follow it.  Those later phases work on the row
 * from L1, and the interpreter asks for the next row's lines while they
 * run (ask_next_row), so that the next first phase does not wait on
 * memory.  A one-phase program reads each line once, in order: the
 * hardware's stream prefetch serves it. */
static at_status mark_row_ahead(at_program *p, int nparams, at_error *err)
{
    if (p->mode != AT_MODE_ROW || p->nphases < 2)
        return AT_OK;
    if (!(p->ahead = calloc((size_t)(nparams ? nparams : 1), sizeof *p->ahead)))
        return at_error_set(err, AT_E_NOMEM, "out of memory");
    for (int i = p->vph[0]; i < p->vph[1]; i++)
        for (int j = 0; j < 3; j++) {
            at_opd o = p->v[i].src[j];
            int seen = 0;
            for (int a = 0; a < p->nahead; a++)
                seen |= p->ahead[a].idx == o.idx;
            if (at_opd_mem_bytes(o.kind) && !seen) {
                AT_INVARIANT(p->nahead < nparams, err);
                p->ahead[p->nahead++] = o;
            }
        }
    return AT_OK;
}

/* AT_MODE_AXIS (the verifier's verify_axis_reduction fixes the kernel's
 * form): uniform values get slots and run in the prologue; the reduction,
 * its load, its steps and its store become p->axis. */
static at_status lower_axis(lowering *L)
{
    static const int8_t red_of[] = {
        [AT_IR_REDUCE_ARGMAX_ROW] = AT_RED_ARGMAX,
        [AT_IR_REDUCE_ARGMIN_ROW] = AT_RED_ARGMIN,
        [AT_IR_REDUCE_SUM_COL] = AT_RED_SUM,
        [AT_IR_REDUCE_MAX_COL] = AT_RED_MAX,
        [AT_IR_REDUCE_MIN_COL] = AT_RED_MIN,
        [AT_IR_REDUCE_ARGMAX_COL] = AT_RED_ARGMAX,
        [AT_IR_REDUCE_ARGMIN_COL] = AT_RED_ARGMIN,
    };
    const at_kernel *k = L->k;
    at_program *p = L->p;
    at_axis_red *a = &p->axis;
    if (!(a->steps = calloc((size_t)k->ninstrs, sizeof *a->steps)))
        return at_error_set(L->err, AT_E_NOMEM, "out of memory");
    for (int v = 0; v < k->nvalues; v++)
        p->slot_of[v] = -1;
    for (int i = 0; i < k->ninstrs; i++) {
        const at_instr *in = &k->instrs[i];
        if (at_is_axis_red(in->op)) {
            a->red = (uint8_t)red_of[in->op];
            a->col = (uint8_t)at_is_col_red(in->op);
        } else if (in->op == AT_IR_LOAD) {
            a->in = in->param;
        } else if (in->op == AT_IR_STORE) {
            a->out = in->param;
        } else if (in->result == AT_NO_VALUE
                   || k->vlevel[in->result] == AT_LEVEL_UNIFORM)
        {
            int n = push((void **)&p->s, &p->ns, &L->cap_s, sizeof *p->s);
            if (n < 0)
                return at_error_set(L->err, AT_E_NOMEM, "out of memory");
            p->s[n] = (at_sinstr){i, 0, AT_S_PROLOGUE};
            if (in->result != AT_NO_VALUE)
                p->slot_of[in->result] = p->nslots++;
        } else {
            /* a step: one operand is the column result, one uniform */
            int rev = k->vlevel[in->operands[0]] == AT_LEVEL_UNIFORM;
            at_axis_step *st = &a->steps[a->nsteps++];
            st->fn = (uint8_t)(AT_BIN_ADD + (in->op - AT_IR_ADD));
            st->rev = (uint8_t)rev;
            st->slot = p->slot_of[in->operands[rev ? 0 : 1]];
            AT_INVARIANT(st->slot >= 0 && in->op >= AT_IR_ADD
                             && in->op <= AT_IR_MAX && in->op != AT_IR_POW,
                         L->err);
        }
    }
    p->s_row = p->s_epi = p->ns;
    p->cost_per_elem = 1;
    return AT_OK;
}

/* The passes, in order, over a lowering whose tables are allocated. */
static at_status lower_passes(lowering *L)
{
    at_program *p = L->p;
    at_status st;
    assign_phases(L);
    choose_mode(L);
    if (p->mode == AT_MODE_GEMM)
        return AT_OK; /* the gemm intrinsic runs no block program */
    if (p->mode == AT_MODE_AXIS)
        return lower_axis(L);
    place_values(L);
    /* a FLAT program has one phase, so no value outlives it in scratch */
    AT_INVARIANT(p->mode != AT_MODE_FLAT || p->nscratch == 0, L->err);
    if ((st = emit_scalar(L)) || (st = emit_vector(L)))
        return st;
    fuse_exp_sum(L);
    fuse_sub_exp_sum(p);
    fuse_gelu(L);
    fuse_gelu_tanh(L);
    fuse_sub_sq_sum(p);
    fuse_scale_affine(p);
    fuse_rms(p);
    fuse_pre_sub(p);
    fuse_scaled_operands(L);
    fuse_binary_add(p);
    fuse_unary_of(p);
    fuse_adam(L);
    if (p->cost_per_elem == 0)
        p->cost_per_elem = 1; /* a launch's work is never zero per element */
    if ((st = alloc_registers(L)))
        return st;
    mark_final_writes(p);
    if ((st = order_accumulators(L)) || (st = index_phases(p, L->err)))
        return st;
    return mark_row_ahead(p, L->k->nparams, L->err);
}

/* The per-value and per-param tables of a lowering, and the program it
 * fills (with its store probes at their initial state). */
static at_status lowering_init(lowering *L, const at_kernel *k,
                               const at_ktable *kt, at_error *err)
{
    size_t nv = (size_t)(k->nvalues ? k->nvalues : 1);
    memset(L, 0, sizeof *L);
    L->k = k;
    L->err = err;
    L->p = calloc(1, sizeof *L->p);
    L->phase = calloc(nv, sizeof *L->phase);
    L->first_store = calloc(nv, sizeof *L->first_store);
    L->later_use = calloc(nv, sizeof *L->later_use);
    L->where = calloc(nv, sizeof *L->where);
    L->remat = calloc(nv, sizeof *L->remat);
    L->remat_ph = calloc(nv, sizeof *L->remat_ph);
    L->homed = calloc((size_t)(k->nparams ? k->nparams : 1), sizeof *L->homed);
    if (!L->p || !L->phase || !L->first_store || !L->later_use || !L->where
        || !L->remat || !L->remat_ph || !L->homed
        || !(L->p->slot_of = calloc(nv, sizeof *L->p->slot_of))
        || !(L->p->probe = calloc(AT_STORE_BANDS, sizeof *L->p->probe))
        || !(L->p->colparam = calloc((size_t)(k->nparams ? k->nparams : 1),
                                     sizeof *L->p->colparam)))
        return at_error_set(err, AT_E_NOMEM, "out of memory compiling '%s'",
                            k->name);
    L->p->k = k;
    L->p->kt = kt;
    L->p->block = AT_BLOCK;
    for (int b = 0; b < AT_STORE_BANDS; b++) {
        atomic_init(&L->p->probe[b].launches, 0);
        atomic_init(&L->p->probe[b].best[0], UINT64_MAX);
        atomic_init(&L->p->probe[b].best[1], UINT64_MAX);
        atomic_init(&L->p->probe[b].stream, 0);
    }
    return AT_OK;
}

/* Frees the lowering's tables (not its program). */
static void lowering_free(lowering *L)
{
    free(L->phase);
    free(L->first_store);
    free(L->later_use);
    free(L->where);
    free(L->remat);
    free(L->remat_ph);
    free(L->homed);
}

at_status at_lower(const at_kernel *k, const at_ktable *kt, at_program **out,
                   at_error *err)
{
    *out = NULL;
    if (!k->frozen)
        return at_error_set(err, AT_E_VERIFY,
                            "kernel '%s' must be verified before compiling",
                            k->name);
    lowering L;
    at_status st = lowering_init(&L, k, kt, err);
    if (st == AT_OK)
        st = lower_passes(&L);
    lowering_free(&L);
    if (st != AT_OK) {
        at_program_free(L.p);
        return st;
    }
    *out = L.p;
    return AT_OK;
}

void at_program_free(at_program *p)
{
    if (!p)
        return;
    free(p->v);
    free(p->s);
    free(p->acc);
    free(p->slot_of);
    free(p->vph);
    free(p->sph);
    free(p->probe);
    free(p->colparam);
    free(p->axis.steps);
    free(p->adam);
    free(p->ahead);
    free(p);
}
