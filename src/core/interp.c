/* Hologram Atlas — the block interpreter ("the device").
 *
 * A launch checks its arguments, runs the program's prologue (uniform
 * values), hands tasks to the executor's workers, then combines the tasks'
 * partial reductions in task order and runs the epilogue.  Inside a task,
 * the vector instructions run block by block through the ISA's kernel
 * table: dispatch is paid once per block, never per element. */
#include <assert.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "invariant.h"
#include "runtime_internal.h"
#include "util.h"

/* Launches with less work than this (element-op units) run on the calling
 * thread: waking a worker costs more than it saves.  Set by measurement (see
 * docs/performance.md). */
#define AT_PARALLEL_MIN_WORK ((size_t)64 * 1024)

/* Cached or streamed final writes (at_store_policy, runtime.h).  Caching an
 * output that the caches cannot keep only costs its read-for-ownership and
 * evicts the inputs; streaming one they could keep makes the next op read it
 * from memory.  What the caches can keep is this process's share of the L3,
 * and what competes for it is every buffer of the launch plus, in the usual
 * `c = f(a, b)` loop, the previous c.  That share changes with what else runs
 * on the machine, so no fixed threshold is right: in the band of footprints
 * where either mode can win, AUTO measures instead of guessing.  Below the
 * band the launch's buffers stay in the caches, so writes are cached; above
 * it they cannot, so final writes stream.  The band's limits come from
 * measurements: see docs/performance.md, "Cached or streamed chosen by
 * measuring". */
#define AT_STORE_BAND_LO ((size_t)4 << 20)   /* bands double from here ... */
#define AT_STORE_BAND_HI \
    (AT_STORE_BAND_LO << AT_STORE_BANDS)   /* ... to 64 MiB */
#define AT_PROBE_RUN 4 /* launches per mode in a probe */
#define AT_PROBE_PERIOD 256 /* launches from probe to probe */
/* Launches of a band before its first probe: the first launches of a
 * program see buffers just allocated or just filled, which no later launch
 * sees, and would decide the mode on them. */
#define AT_PROBE_WARMUP 4

/* Bytes of every buffer a launch touches, saturating at SIZE_MAX. */
static size_t launch_footprint(const at_kernel *k, const at_arg *args)
{
    size_t total = 0;
    for (int i = 0; i < k->nparams; i++) {
        size_t b;
        if (k->params[i].is_scalar)
            continue;
        if (at_mul_overflow(args[i].numel, at_dtype_size(args[i].dtype), &b)
            || b > SIZE_MAX - total)
            return SIZE_MAX;
        total += b;
    }
    return total;
}

/* What one launch does: stream or not, and whether it is a timed probe. */
typedef struct store_choice {
    int stream;
    at_store_probe *probe; /* non-NULL: time this launch          */
    uint64_t phase; /* its place in the probe cycle         */
    size_t footprint; /* probes: the launch's buffer bytes    */
} store_choice;

static store_choice choose_stores(at_executor *ex, const at_program *p,
                                  const at_arg *args)
{
    store_choice c = {0, NULL, 0, 0};
    switch (atomic_load_explicit(&ex->stores, memory_order_relaxed)) {
        case AT_STORES_CACHED:
            return c;
        case AT_STORES_STREAMED:
            c.stream = 1;
            return c;
        default:
            break;
    }
    if (!p->can_stream)
        return c;
    size_t footprint = launch_footprint(p->k, args);
    if (footprint < AT_STORE_BAND_LO)
        return c;
    if (footprint >= AT_STORE_BAND_HI) {
        c.stream = 1;
        return c;
    }
    unsigned band = 0;
    while ((AT_STORE_BAND_LO << (band + 1)) <= footprint)
        band++;
    at_store_probe *pr = &p->probe[band];
    uint64_t n =
        atomic_fetch_add_explicit(&pr->launches, 1, memory_order_relaxed);
    uint64_t phase = n < AT_PROBE_WARMUP
                         ? AT_PROBE_PERIOD - 1 /* no probe yet */
                         : (n - AT_PROBE_WARMUP) % AT_PROBE_PERIOD;
    if (phase >= 2 * AT_PROBE_RUN) {
        c.stream = atomic_load_explicit(&pr->stream, memory_order_relaxed);
        return c;
    }
    if (phase == 0) {
        atomic_store_explicit(&pr->best[0], UINT64_MAX, memory_order_relaxed);
        atomic_store_explicit(&pr->best[1], UINT64_MAX, memory_order_relaxed);
    }
    c.stream =
        phase >= AT_PROBE_RUN; /* AT_PROBE_RUN cached, then as many streamed */
    c.probe = pr;
    c.phase = phase;
    c.footprint = footprint;
    return c;
}

/* Record a probe launch's time; the last one of a probe gives the verdict.
 * The first launch of each mode's run is not counted: it still sees the
 * caches as the other mode left them.  Each mode keeps its best time, so a
 * launch slowed by a neighbour does not decide. */
static void note_probe(const store_choice *c, uint64_t ns)
{
    if (c->phase % AT_PROBE_RUN != 0) {
        uint64_t per_mib =
            (uint64_t)((double)ns * (double)(1u << 20) / (double)c->footprint);
        _Atomic uint64_t *best = &c->probe->best[c->stream];
        uint64_t cur = atomic_load_explicit(best, memory_order_relaxed);
        while (per_mib < cur
               && !atomic_compare_exchange_weak_explicit(best, &cur, per_mib,
                                                         memory_order_relaxed,
                                                         memory_order_relaxed))
        {
        }
    }
    if (c->phase == 2 * AT_PROBE_RUN - 1) {
        uint64_t cached =
            atomic_load_explicit(&c->probe->best[0], memory_order_relaxed);
        uint64_t streamed =
            atomic_load_explicit(&c->probe->best[1], memory_order_relaxed);
        atomic_store_explicit(&c->probe->stream, streamed < cached,
                              memory_order_relaxed);
    }
}

typedef struct launch {
    const at_program *p;
    const at_kernel *k;
    const at_ktable *kt;
    const at_arg *args;
    size_t rows, cols, n;
    int stream; /* final memory writes stream (at_vinstr.final) */
    size_t ntasks, per_task; /* elements (FLAT) or rows (ROW)    */
    at_slot *uslots; /* prologue and epilogue results    */
    double *partials; /* ntasks x nall                    */
    char *ws; /* per-worker workspace             */
    size_t ws_stride;
    atomic_int failed; /* set once, by the first failure   */
    at_error err; /* the first failure               */
    at_launch_diag diag;
} launch;

/* The launch's error record for a failure with diagnostic d (or none), or
 * NULL when another failure came first: at_error_set(launch_error(...), ...)
 * keeps the first failure of a launch whatever the thread. */
static at_error *launch_error(launch *L, const at_launch_diag *d)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&L->failed, &expected, 1))
        return NULL;
    if (d)
        L->diag = *d;
    return &L->err;
}

/* ---- scalar instructions (row and uniform levels) ------------------------ */

static float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

/* f32 to an integer as the vector kernels (intops.c) and PyTorch on x86
 * convert: truncation toward zero; NaN, inf and out-of-range values give the
 * type's minimum. */
static int64_t f32_to_int(float x, at_dtype to)
{
    if (to == AT_I32)
        return x >= -0x1p31f && x < 0x1p31f ? (int32_t)x : INT32_MIN;
    return x >= -0x1p63f && x < 0x1p63f ? (int64_t)x : INT64_MIN;
}

/* An integer result of type t: i32 values wrap to 32 bits. */
static int64_t narrow(at_dtype t, int64_t v)
{
    return t == AT_I32 ? (int32_t)(uint32_t)(uint64_t)v : v;
}

static float minf_nan(float a, float b)
{
    return isnan(a) || isnan(b) ? a + b : a < b ? a : b;
}
static float maxf_nan(float a, float b)
{
    return isnan(a) || isnan(b) ? a + b : a > b ? a : b;
}

/* exec_scalar's arithmetic on a slot: the f32 form F or the i64 form I by
 * the first operand's type (fl); i64 arithmetic wraps, as uint64_t does;
 * a comparison gives 0 or 1. */
#define BY_TYPE(F, I)   \
    do {                \
        if (fl)         \
            r->f = (F); \
        else            \
            r->i = (I); \
    } while (0)
#define WRAPPING(OP) \
    narrow(in->type, (int64_t)((uint64_t)a->i OP(uint64_t) b->i))
#define COMPARE(OP) (r->i = fl ? a->f OP b->f : a->i OP b->i)

/* Run IR instruction `in` on slots; a failure is recorded in the launch. */
static at_status exec_scalar(launch *L, const at_instr *in, at_slot *sl,
                             size_t row)
{
    const at_kernel *k = L->k;
    const int32_t *so = L->p->slot_of;
    at_slot *r = in->result != AT_NO_VALUE ? &sl[so[in->result]] : NULL;
    const at_slot *a =
        in->operands[0] != AT_NO_VALUE ? &sl[so[in->operands[0]]] : NULL;
    const at_slot *b =
        in->operands[1] != AT_NO_VALUE ? &sl[so[in->operands[1]]] : NULL;
    const at_slot *c =
        in->operands[2] != AT_NO_VALUE ? &sl[so[in->operands[2]]] : NULL;
    int fl = a && k->vtype[in->operands[0]] == AT_F32;
    switch (in->op) {
        case AT_IR_CONST:
            *r = in->type == AT_F32 ? (at_slot){.f = in->imm.f32}
                                    : (at_slot){.i = in->imm.i64};
            break;
        case AT_IR_PARAM:
            if (in->type == AT_F32)
                r->f = L->args[in->param].scalar.f32;
            else
                r->i = L->args[in->param].scalar.i64;
            break;
        case AT_IR_ROW_INDEX:
            r->i = (int64_t)row;
            break;
        case AT_IR_NROWS:
            r->i = (int64_t)L->rows;
            break;
        case AT_IR_NCOLS:
            r->i = (int64_t)L->cols;
            break;
        case AT_IR_LOAD_ROW:
        case AT_IR_GATHER: {
            const at_arg *arg = &L->args[in->param];
            int64_t idx = in->op == AT_IR_LOAD_ROW ? (int64_t)row : a->i;
            if (idx < 0 || (uint64_t)idx >= arg->numel) {
                at_launch_diag d = {(int64_t)row, idx, 0, (int64_t)arg->numel,
                                    in->param};
                return at_error_set(launch_error(L, &d), AT_E_INDEX,
                                    "kernel '%s': gather from '%s' at index "
                                    "%lld, outside [0, %zu)",
                                    k->name, k->params[in->param].name,
                                    (long long)idx, arg->numel);
            }
            if (arg->dtype == AT_F32)
                r->f = ((const float *)arg->data)[idx];
            else if (arg->dtype == AT_I32)
                r->i = ((const int32_t *)arg->data)[idx];
            else if (arg->dtype == AT_BOOL)
                r->i = ((const uint8_t *)arg->data)[idx] != 0;
            else
                r->i = ((const int64_t *)arg->data)[idx];
            break;
        }
        case AT_IR_STORE: {
            const at_arg *arg = &L->args[in->param];
            size_t idx = k->vlevel[in->operands[0]] == AT_LEVEL_ROW ? row : 0;
            if (arg->dtype == AT_F32)
                ((float *)arg->data)[idx] = a->f;
            else if (arg->dtype == AT_I32)
                ((int32_t *)arg->data)[idx] = (int32_t)(uint32_t)(uint64_t)a->i;
            else if (arg->dtype == AT_BOOL)
                ((uint8_t *)arg->data)[idx] = a->i != 0;
            else
                ((int64_t *)arg->data)[idx] = a->i;
            break;
        }
        case AT_IR_CHECK_RANGE:
            if (a->i < b->i || a->i >= c->i) {
                at_launch_diag d = {(int64_t)row, a->i, b->i, c->i, -1};
                return at_error_set(launch_error(L, &d), AT_E_INDEX,
                                    "kernel '%s': value %lld at row %zu is "
                                    "outside [%lld, %lld)",
                                    k->name, (long long)a->i, row,
                                    (long long)b->i, (long long)c->i);
            }
            break;
        case AT_IR_NEG:
            BY_TYPE(-a->f, narrow(in->type, (int64_t)(0 - (uint64_t)a->i)));
            break;
        case AT_IR_ABS:
            BY_TYPE(fabsf(a->f),
                    narrow(in->type,
                           a->i < 0 ? (int64_t)(0 - (uint64_t)a->i) : a->i));
            break;
        case AT_IR_RELU:
            r->f = isnan(a->f) ? a->f : a->f > 0.0f ? a->f : 0.0f;
            break;
        case AT_IR_SIGMOID:
            r->f = sigmoidf_(a->f);
            break;
        case AT_IR_TANH:
            r->f = tanhf(a->f);
            break;
        case AT_IR_EXP:
            r->f = expf(a->f);
            break;
        case AT_IR_LOG:
            r->f = logf(a->f);
            break;
        case AT_IR_SQRT:
            r->f = sqrtf(a->f);
            break;
        case AT_IR_ERF:
            r->f = erff(a->f);
            break;
        case AT_IR_LOG1P:
            r->f = log1pf(a->f);
            break;
        case AT_IR_EXPM1:
            r->f = expm1f(a->f);
            break;
        case AT_IR_ADD:
            BY_TYPE(a->f + b->f, WRAPPING(+));
            break;
        case AT_IR_SUB:
            BY_TYPE(a->f - b->f, WRAPPING(-));
            break;
        case AT_IR_MUL:
            BY_TYPE(a->f * b->f, WRAPPING(*));
            break;
        case AT_IR_DIV:
            r->f = a->f / b->f;
            break;
        case AT_IR_POW:
            r->f = powf(a->f, b->f);
            break;
        case AT_IR_MIN:
            BY_TYPE(minf_nan(a->f, b->f), a->i < b->i ? a->i : b->i);
            break;
        case AT_IR_MAX:
            BY_TYPE(maxf_nan(a->f, b->f), a->i > b->i ? a->i : b->i);
            break;
        case AT_IR_LT:
            COMPARE(<);
            break;
        case AT_IR_LE:
            COMPARE(<=);
            break;
        case AT_IR_GT:
            COMPARE(>);
            break;
        case AT_IR_GE:
            COMPARE(>=);
            break;
        case AT_IR_EQ:
            COMPARE(==);
            break;
        case AT_IR_NE:
            COMPARE(!=);
            break;
        case AT_IR_SELECT:
            *r = a->i ? *b : *c;
            break;
        case AT_IR_CAST: {
            at_dtype from = k->vtype[in->operands[0]];
            if (in->type == AT_F32)
                r->f = from == AT_F32 ? a->f : (float)a->i;
            else if (in->type == AT_BOOL)
                r->i = from == AT_F32 ? a->f != 0.0f : a->i != 0;
            else /* a bool slot holds 0 or 1 */
                r->i = from == AT_F32 ? f32_to_int(a->f, in->type)
                                      : narrow(in->type, a->i);
            break;
        }
        default:
            /* the verifier puts loads, row reductions and gemm at element
             * level, and emit_scalar feeds whole-launch reductions from the
             * row loop instead: no other op reaches a scalar list */
            AT_INVARIANT(!"an op on a scalar list has a scalar form",
                         launch_error(L, NULL));
    }
    return AT_OK;
}
#undef BY_TYPE
#undef WRAPPING
#undef COMPARE

static at_status run_scalars(launch *L, int from, int to, at_slot *sl,
                             size_t row)
{
    at_status st;
    for (int i = from; i < to; i++)
        if ((st = exec_scalar(L, &L->k->instrs[L->p->s[i].ir], sl, row)))
            return st;
    return AT_OK;
}

/* ---- vector instructions ------------------------------------------------- */

static void acc_init(const at_acc *a, double *v)
{
    *v = a->red == AT_RED_SUM   ? 0.0
         : a->red == AT_RED_MAX ? -INFINITY
                                : INFINITY;
}

static void acc_merge(int red, double *acc, double x)
{
    if (red == AT_RED_SUM) {
        *acc += x;
        return;
    }
    if (isnan(x) || isnan(*acc)) {
        *acc = NAN;
        return;
    }
    if (red == AT_RED_MAX ? x > *acc : x < *acc)
        *acc = x;
}

static void acc_block(const at_ktable *kt, int red, double *acc, const float *x,
                      size_t len)
{
    if (red == AT_RED_SUM)
        *acc += kt->rsum(len, x);
    else
        acc_merge(red, acc,
                  red == AT_RED_MAX ? kt->rmax(len, x) : kt->rmin(len, x));
}

typedef struct block_env {
    float *regs; /* AT_BLOCK floats per register                 */
    float *scratch; /* cols floats per scratch value (ROW mode)     */
    at_slot *slots;
    double *row_acc; /* indexed by accumulator                       */
    double *part; /* whole-launch partials of this task           */
    size_t off; /* element index of the block's first element   */
    size_t col; /* column of the block's first element (ROW)    */
    float *tiles; /* row strips: each column buffer repeated over
                     a block's rows, AT_BLOCK floats apiece; or NULL */
} block_env;

static void *opd_ptr(const launch *L, const block_env *E, at_opd o)
{
    switch (o.kind) {
        case AT_OPD_REG:
            return E->regs + (size_t)o.idx * AT_BLOCK;
        case AT_OPD_MEM:
            return (float *)L->args[o.idx].data + E->off;
        case AT_OPD_COL:
            if (E->tiles)
                return E->tiles + (size_t)o.idx * AT_BLOCK;
            return (float *)L->args[L->p->colparam[o.idx]].data + E->col;
        case AT_OPD_SCRATCH:
            return E->scratch + (size_t)o.idx * L->cols + E->col;
        case AT_OPD_MEM8:
            return (int64_t *)L->args[o.idx].data + E->off;
        case AT_OPD_MEM1:
            return (uint8_t *)L->args[o.idx].data + E->off;
        case AT_OPD_COL8:
        case AT_OPD_COL1:
            if (E->tiles)
                return E->tiles + (size_t)o.idx * AT_BLOCK;
            return (char *)L->args[L->p->colparam[o.idx]].data
                   + E->col * (o.kind == AT_OPD_COL8 ? 8 : 1);
        case AT_OPD_SCRATCH8:
            return (int64_t *)(E->scratch + (size_t)o.idx * L->cols) + E->col;
        default:
            return NULL;
    }
}

/* A FILL of an integer slot: an int32 mask (AT_FILL_MASK), i32 or i64. */
static void fill_int(int fn, void *d, int64_t v, size_t len)
{
    if (fn == AT_FILL_I64) {
        for (size_t j = 0; j < len; j++)
            ((int64_t *)d)[j] = v;
        return;
    }
    int32_t m = fn == AT_FILL_MASK ? (v ? -1 : 0) : (int32_t)v;
    for (size_t j = 0; j < len; j++)
        ((int32_t *)d)[j] = m;
}

/* The integer, bool and conversion instructions (fn: AT_CVT or AT_IFN).
 * Out of line, so that run_vector's f32 instructions compile as before. */
static __attribute__((noinline)) void
run_typed(const launch *L, const block_env *E, const at_vinstr *vi, void *d,
          const void *a, const void *b, size_t len)
{
    const at_ktable *kt = L->kt;
    int w = vi->fn >> 5, op = vi->fn & 31;
    switch (vi->kind) {
        case AT_V_CONVERT:
            kt->convert[vi->fn >> 4][vi->fn & 15](len, d, a);
            break;
        case AT_V_IUNARY:
            kt->iunary[w][op](len, d, a);
            break;
        case AT_V_IBINARY:
            kt->ibinary[w][op](len, d, a, b);
            break;
        case AT_V_IBINARY_S:
            kt->ibinary_s[w][op](len, d, a, E->slots[vi->src[1].idx].i);
            break;
        case AT_V_IBINARY_RS:
            kt->ibinary_rs[w][op](len, d, a, E->slots[vi->src[1].idx].i);
            break;
        case AT_V_ICOMPARE:
            kt->icompare[w][op](len, d, a, b);
            break;
        case AT_V_SELECT64:
            kt->select64(len, d, a, b, opd_ptr(L, E, vi->src[2]));
            break;
        case AT_V_COPY64:
            if (d != a)
                memmove(d, a, len * sizeof(int64_t));
            break;
    }
}

/* Whether vi writes with streaming stores: a final write (the lowering's
 * mark_final_writes) of a launch whose store policy streams. */
static int streamed(const launch *L, const at_vinstr *vi)
{
    return L->stream && vi->final;
}

/* The accumulator a fused sum instruction adds to: the task's partial for
 * a whole-launch sum, else the row's. */
static double *sum_acc(const launch *L, const block_env *E, const at_vinstr *vi)
{
    return L->p->acc[vi->acc].all ? &E->part[vi->acc] : &E->row_acc[vi->acc];
}

/* The fused (a - b)^2 sum, one block per kernel call: the unfused program
 * summed each block of the square on its own, so the sum keeps its bits
 * when the fused program has no register and runs whole tasks or rows. */
static void diff_sq_sum(const launch *L, const block_env *E,
                        const at_vinstr *vi, const float *a, const float *b,
                        size_t len)
{
    double *acc = sum_acc(L, E, vi);
    size_t block = (size_t)L->p->block;
    for (size_t j = 0; j < len; j += block)
        *acc +=
            L->kt->diff_sq_sum(len - j < block ? len - j : block, a + j, b + j);
}

/* A binary instruction whose operands are multiplied by slots first
 * (at_vinstr.scale; the lowering's fuse_scaled_operands). */
static void scaled_binary(const launch *L, const block_env *E,
                          const at_vinstr *vi, float *d, const float *a,
                          const float *b, size_t len)
{
    int which = (vi->scale[0] != 0) + 2 * (vi->scale[1] != 0);
    float sa = vi->scale[0] ? E->slots[vi->scale[0] - 1].f : 0.0f;
    float sb = vi->scale[1] ? E->slots[vi->scale[1] - 1].f : 0.0f;
    L->kt->scaled_binary[vi->fn][which - 1][streamed(L, vi)](len, d, a, b, sa,
                                                             sb);
}

/* The fused x * x sum (fuse_rms).  A whole-launch sum is handed one block
 * per kernel call, as diff_sq_sum's is, so it keeps the unfused program's
 * bits when the fused program has no register and runs whole tasks; a row
 * sum runs over all of len in one call, as sub_sq_sum's does (the row
 * sum of a buffer, eager `mean(x * x, axis=-1)`, takes the same order). */
static void sq_sum(const launch *L, const block_env *E, const at_vinstr *vi,
                   const float *a, size_t len)
{
    double *acc = sum_acc(L, E, vi);
    size_t block = L->p->acc[vi->acc].all ? (size_t)L->p->block : len;
    for (size_t j = 0; j < len; j += block)
        *acc += L->kt->sq_sum(len - j < block ? len - j : block, a + j);
}

/* The fused (x / s) * w (fuse_rms), streamed when final. */
static void div_mul(const launch *L, const block_env *E, const at_vinstr *vi,
                    float *d, const float *a, const float *b, size_t len)
{
    at_k_div_mul f = streamed(L, vi) ? L->kt->div_mul_nt : L->kt->div_mul;
    f(len, d, a, E->slots[vi->slot].f, b);
}

/* The fused Adam step (fuse_adam): its operands and slots from the
 * program's at_adam, its parameter result to po; streamed when final. */
static void adam_step(const launch *L, const block_env *E, const at_vinstr *vi,
                      float *po, size_t len)
{
    const at_adam *m = &L->p->adam[vi->slot];
    at_adam_args a = {.m0 = opd_ptr(L, E, m->m_in[0]),
                      .m1 = opd_ptr(L, E, m->m_in[1]),
                      .v0 = opd_ptr(L, E, m->v_in[0]),
                      .v1 = opd_ptr(L, E, m->v_in[1]),
                      .v2 = opd_ptr(L, E, m->v_in[2]),
                      .p = opd_ptr(L, E, m->p_in),
                      .mo = opd_ptr(L, E, m->m_out),
                      .vo = opd_ptr(L, E, m->v_out),
                      .po = po};
    for (int j = 0; j < 9; j++) /* an absent scalar is an exact 1 */
        a.s[j] = m->s[j] >= 0 ? E->slots[m->s[j]].f : 1.0f;
    L->kt->adam[m->sq_first][at_adam_bc(m)][streamed(L, vi)](len, &a);
}

static void run_vector(const launch *L, const block_env *E, int from, int to,
                       size_t len)
{
    const at_ktable *kt = L->kt;
    for (int i = from; i < to; i++) {
        const at_vinstr *vi = &L->p->v[i];
        float *d = opd_ptr(L, E, vi->dst);
        const float *a = opd_ptr(L, E, vi->src[0]);
        const float *b = opd_ptr(L, E, vi->src[1]);
        switch (vi->kind) {
            case AT_V_UNARY:
                if (streamed(L, vi) && kt->unary_nt[vi->fn])
                    kt->unary_nt[vi->fn](len, d, a);
                else
                    kt->unary[vi->fn](len, d, a);
                break;
            case AT_V_BINARY:
                if (vi->scale[0] | vi->scale[1])
                    scaled_binary(L, E, vi, d, a, b, len);
                else if (streamed(L, vi) && kt->binary_nt[vi->fn])
                    kt->binary_nt[vi->fn](len, d, a, b);
                else
                    kt->binary[vi->fn](len, d, a, b);
                break;
            case AT_V_BINARY_S:
                if (vi->pre)
                    kt->pre_binary_s[vi->fn][streamed(L, vi)](
                        len, d, a, E->slots[vi->pre - 1].f,
                        E->slots[vi->src[1].idx].f);
                else
                    kt->binary_s[vi->fn](len, d, a, E->slots[vi->src[1].idx].f);
                break;
            case AT_V_BINARY_RS:
                kt->binary_rs[vi->fn](len, d, a, E->slots[vi->src[1].idx].f);
                break;
            case AT_V_COPY:
                if (d != a)
                    memmove(d, a, len * sizeof(float));
                break;
            case AT_V_FILL:
                if (vi->fn) {
                    fill_int(vi->fn, d, E->slots[vi->src[0].idx].i, len);
                } else {
                    float f = E->slots[vi->src[0].idx].f;
                    for (size_t j = 0; j < len; j++)
                        d[j] = f;
                }
                break;
            case AT_V_COMPARE:
                kt->compare[vi->fn](len, (int32_t *)d, a, b);
                break;
            case AT_V_SELECT:
                kt->select(len, d, (const int32_t *)a, b,
                           opd_ptr(L, E, vi->src[2]));
                break;
            case AT_V_RED_ROW:
                acc_block(kt, L->p->acc[vi->acc].red, &E->row_acc[vi->acc], a,
                          len);
                break;
            case AT_V_RED_ALL:
                acc_block(kt, L->p->acc[vi->acc].red, &E->part[vi->acc], a,
                          len);
                break;
            case AT_V_EXP_SUB_SUM:
            case AT_V_SUB_EXP_SUM:
            case AT_V_SUB_SQ_SUM: {
                double *acc = sum_acc(L, E, vi);
                float s = E->slots[vi->src[1].idx].f;
                if (vi->dst.kind == AT_OPD_NONE) { /* the sum alone */
                    *acc += (vi->kind == AT_V_EXP_SUB_SUM
                                 ? kt->exp_sub_total
                                 : kt->sq_sub_sum)(len, a, s);
                    break;
                }
                at_k_exp_sub_sum f =
                    vi->kind == AT_V_EXP_SUB_SUM   ? kt->exp_sub_sum
                    : vi->kind == AT_V_SUB_EXP_SUM ? kt->sub_exp_sum
                                                   : kt->sub_sq_sum;
                *acc += f(len, d, a, s);
                break;
            }
            case AT_V_DIFF_SQ_SUM:
                diff_sq_sum(L, E, vi, a, b, len);
                break;
            case AT_V_SCALE_AFFINE: {
                int nt = streamed(L, vi), div = vi->fn == AT_BIN_DIV;
                const float *c = opd_ptr(L, E, vi->src[2]);
                float s = E->slots[vi->slot].f;
                if (vi->pre) {
                    kt->pre_affine[div][nt](len, d, a, E->slots[vi->pre - 1].f,
                                            s, b, c);
                    break;
                }
                at_k_scale_affine f =
                    div ? (nt ? kt->div_affine_nt : kt->div_affine)
                        : (nt ? kt->scale_affine_nt : kt->scale_affine);
                f(len, d, a, s, b, c);
                break;
            }
            case AT_V_SQ_SUM:
                sq_sum(L, E, vi, a, len);
                break;
            case AT_V_DIV_MUL:
                div_mul(L, E, vi, d, a, b, len);
                break;
            case AT_V_BINARY_ADD:
                kt->binary_add[vi->fn][streamed(L, vi)](
                    len, d, a, b, opd_ptr(L, E, vi->src[2]));
                break;
            case AT_V_UNARY_OF: {
                at_unary_src s = {a, b, NULL, vi->op};
                if (vi->src[2].kind != AT_OPD_NONE)
                    s.c = opd_ptr(L, E, vi->src[2]);
                kt->unary_of[vi->fn][streamed(L, vi)](len, d, &s);
                break;
            }
            case AT_V_ADAM:
                adam_step(L, E, vi, d, len);
                break;
            default:
                run_typed(L, E, vi, d, a, b, len);
                break;
        }
    }
}

/* ---- tasks --------------------------------------------------------------- */

static block_env worker_env(launch *L, unsigned worker, double *part)
{
    const at_program *p = L->p;
    /* 8-byte items first, then floats: every part stays naturally aligned */
    char *w = L->ws + (size_t)worker * L->ws_stride;
    block_env E = {0};
    E.regs = (float *)w;
    w += (size_t)p->nregs * AT_BLOCK * sizeof(float);
    E.tiles = (float *)w; /* used by row strips only */
    w += (size_t)p->ncolbufs * AT_BLOCK * sizeof(float);
    E.row_acc = (double *)w;
    w += (size_t)p->nacc * sizeof(double);
    E.slots = (at_slot *)w;
    w += (size_t)p->nslots * sizeof(at_slot);
    E.scratch = (float *)w;
    memcpy(E.slots, L->uslots, (size_t)p->nslots * sizeof(at_slot));
    E.part = part;
    for (int a = 0; a < p->nall; a++)
        acc_init(&p->acc[a], &part[a]);
    return E;
}

/* The end of a task that streamed: its stores are ordered before the
 * thread pool's completion signal, so the caller, or the worker of a later
 * launch, reads what they wrote (the kernels do not fence, see loops.h). */
static void end_task(const launch *L)
{
    if (L->stream)
        L->kt->stream_fence();
}

static void run_flat(launch *L, size_t task, unsigned worker)
{
    if (atomic_load_explicit(&L->failed, memory_order_relaxed))
        return;
    const at_program *p = L->p;
    size_t start = task * L->per_task;
    size_t end = start + L->per_task < L->n ? start + L->per_task : L->n;
    block_env E = worker_env(L, worker, L->partials + task * (size_t)p->nall);
    size_t block = p->nregs ? (size_t)p->block : end - start;
    for (size_t off = start; off < end; off += block) {
        E.off = off;
        run_vector(L, &E, 0, p->nv, end - off < block ? end - off : block);
    }
}

static void task_flat(void *ctx, size_t task, unsigned worker)
{
    launch *L = ctx;
    run_flat(L, task, worker);
    end_task(L);
}

/* Whether a ROW task runs in row strips: rows of at most half a block, of
 * a program without row-level values (col_only). */
static int strips(const launch *L)
{
    return L->p->col_only && L->cols && L->cols <= (size_t)L->p->block / 2;
}

/* Rows r0..r1 in strips: each block holds as many whole rows as fit, and
 * reads every load.col buffer from a tile that repeats it over those rows,
 * so a short row costs no dispatch of its own. */
static void run_strips(const launch *L, block_env *E, size_t r0, size_t r1)
{
    const at_program *p = L->p;
    size_t per = (size_t)p->block / L->cols; /* rows per block, at least 2 */
    for (int c = 0; c < p->ncolbufs; c++) {
        const at_arg *w = &L->args[p->colparam[c]];
        size_t bytes = L->cols * at_dtype_size(w->dtype);
        char *t = (char *)(E->tiles + (size_t)c * AT_BLOCK);
        for (size_t r = 0; r < per; r++)
            memcpy(t + r * bytes, w->data, bytes);
    }
    for (size_t row = r0; row < r1; row += per) {
        E->off = row * L->cols;
        run_vector(L, E, 0, p->nv, (r1 - row < per ? r1 - row : per) * L->cols);
    }
}

/* The next row's first-phase input (the program's `ahead` buffers) is
 * requested while the row's later phases run, a share of it at the start of
 * each, when it totals AT_AHEAD_MIN to AT_AHEAD_MAX bytes a row and the
 * launch reads at least AT_AHEAD_FOOTPRINT bytes of it.  Below the first,
 * the requests cost more than the hardware prefetch leaves to gain; above
 * the second, the requested lines push the current row out of L1 before
 * its last phase reads it; a smaller launch's input tends to sit in a
 * cache, where the requests only cost.
 * docs/performance.md, entry 55, has the measurements. */
#define AT_AHEAD_MIN 2048
#define AT_AHEAD_MAX 8192
#define AT_AHEAD_FOOTPRINT ((size_t)8 << 20)

/* Whether the launch requests its next rows ahead (see above). */
static int asks_ahead(const launch *L)
{
    size_t bytes = 0;
    for (int a = 0; a < L->p->nahead; a++)
        bytes += L->cols * (size_t)at_opd_mem_bytes(L->p->ahead[a].kind);
    return bytes >= AT_AHEAD_MIN && bytes <= AT_AHEAD_MAX
           && L->rows >= AT_AHEAD_FOOTPRINT / bytes;
}

/* Phase ph's share (ph of 1 .. nphases - 1) of the ahead buffers' row
 * `row`: one request per 64-byte line it touches. */
static void ask_next_row(const launch *L, size_t row, int ph)
{
    const at_program *p = L->p;
    for (int a = 0; a < p->nahead; a++) {
        size_t bytes = L->cols * (size_t)at_opd_mem_bytes(p->ahead[a].kind);
        size_t lo = bytes * (size_t)(ph - 1) / (size_t)(p->nphases - 1);
        size_t hi = bytes * (size_t)ph / (size_t)(p->nphases - 1);
        uintptr_t r = (uintptr_t)L->args[p->ahead[a].idx].data + row * bytes;
        for (uintptr_t o = (r + lo) & ~(uintptr_t)63; o < r + hi; o += 64)
            __builtin_prefetch((const void *)o, 0, 3);
    }
}

static void run_rows(launch *L, size_t task, unsigned worker)
{
    if (atomic_load_explicit(&L->failed, memory_order_relaxed))
        return;
    const at_program *p = L->p;
    size_t r0 = task * L->per_task;
    size_t r1 = r0 + L->per_task < L->rows ? r0 + L->per_task : L->rows;
    block_env E = worker_env(L, worker, L->partials + task * (size_t)p->nall);
    if (strips(L)) {
        run_strips(L, &E, r0, r1);
        return;
    }
    E.tiles = NULL; /* load.col reads its buffer at the block's column */
    size_t block = p->nregs ? (size_t)p->block : (L->cols ? L->cols : 1);
    int ahead = asks_ahead(L);
    for (size_t row = r0; row < r1; row++) {
        for (int a = p->nall; a < p->nacc; a++)
            acc_init(&p->acc[a], &E.row_acc[a]);
        for (int ph = 0; ph < p->nphases; ph++) {
            if (run_scalars(L, p->sph[ph], p->sph[ph + 1], E.slots, row))
                return;
            if (ahead && ph > 0 && row + 1 < r1)
                ask_next_row(L, row + 1, ph);
            if (p->vph[ph] < p->vph[ph + 1]) {
                for (size_t col = 0; col < L->cols; col += block) {
                    E.off = row * L->cols + col;
                    E.col = col;
                    run_vector(L, &E, p->vph[ph], p->vph[ph + 1],
                               L->cols - col < block ? L->cols - col : block);
                }
            }
            for (int a = p->nall; a < p->nacc; a++)
                if (p->acc[a].phase == ph)
                    E.slots[p->acc[a].slot].f = (float)E.row_acc[a];
        }
        for (int a = 0; a < p->nall; a++)
            if (p->acc[a].src_slot >= 0)
                acc_merge(p->acc[a].red, &E.part[a],
                          (double)E.slots[p->acc[a].src_slot].f);
    }
}

static void task_rows(void *ctx, size_t task, unsigned worker)
{
    launch *L = ctx;
    run_rows(L, task, worker);
    end_task(L);
}

typedef struct gemm_launch {
    at_gemm_args g;
    const at_ktable *kt;
    size_t tile_m, tiles_m, tile_n;
    char *ws;
    size_t ws_stride;
} gemm_launch;

static void task_gemm(void *ctx, size_t task, unsigned worker)
{
    gemm_launch *G = ctx;
    size_t tm = task % G->tiles_m, tn = task / G->tiles_m;
    size_t m0 = tm * G->tile_m, n0 = tn * G->tile_n;
    size_t m1 = m0 + G->tile_m < G->g.m ? m0 + G->tile_m : G->g.m;
    size_t n1 = n0 + G->tile_n < G->g.n ? n0 + G->tile_n : G->g.n;
    G->kt->sgemm_tile(&G->g, m0, m1, n0, n1,
                      G->ws + (size_t)worker * G->ws_stride);
}

/* The streaming GEMM path: tasks cut the streamed dimension into tile
 * elements each, or (AT_GEMM_STREAM_DEPTH) are the depth blocks, whose sums
 * land in parts. */
typedef struct gemm_stream_launch {
    const at_gemm_args *g;
    const at_ktable *kt;
    size_t len, tile;
    char *ws;
    size_t ws_stride;
    float *parts; /* AT_GEMM_STREAM_DEPTH: the depth blocks' sums */
} gemm_stream_launch;

static void task_gemm_depth(void *ctx, size_t task, unsigned worker)
{
    gemm_stream_launch *S = ctx;
    S->kt->sgemm_depth_block(S->g, task, S->parts,
                             S->ws + (size_t)worker * S->ws_stride);
}

static void task_gemm_stream(void *ctx, size_t task, unsigned worker)
{
    gemm_stream_launch *S = ctx;
    size_t lo = task * S->tile;
    size_t hi = lo + S->tile < S->len ? lo + S->tile : S->len;
    S->kt->sgemm_stream(S->g, lo, hi, S->ws + (size_t)worker * S->ws_stride);
}

/* ---- launch -------------------------------------------------------------- */

static size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

static int exact_alias(const at_kernel *k, const at_arg *args, int i, int j)
{
    return k->role[i] == AT_ROLE_ELEM && k->role[j] == AT_ROLE_ELEM
           && args[i].data == args[j].data && args[i].numel == args[j].numel
           && args[i].dtype == args[j].dtype;
}

/* alias_ok: an element-indexed output may be exactly the memory of an
 * element-indexed input (the standard library's in-place elementwise ops,
 * whose kernels read each element before writing it). */
static at_status check_args(const at_program *p, size_t rows, size_t cols,
                            const at_arg *args, size_t nargs, int alias_ok,
                            at_error *err)
{
    const at_kernel *k = p->k;
    size_t n;
    if (at_mul_overflow(rows, cols, &n))
        return at_error_set(err, AT_E_OVERFLOW,
                            "kernel '%s': launch %zu x %zu overflows", k->name,
                            rows, cols);
    if (nargs != (size_t)k->nparams)
        return at_error_set(err, AT_E_VALUE,
                            "kernel '%s' takes %d arguments, got %zu", k->name,
                            k->nparams, nargs);
    for (int i = 0; i < k->nparams; i++) {
        const at_param *pa = &k->params[i];
        const at_arg *a = &args[i];
        if (pa->is_scalar)
            continue;
        if (a->dtype != pa->dtype)
            return at_error_set(err, AT_E_TYPE,
                                "kernel '%s': buffer '%s' must be %s, got %s",
                                k->name, pa->name, at_dtype_name(pa->dtype),
                                at_dtype_name(a->dtype));
        if (a->numel && !a->data)
            return at_error_set(err, AT_E_VALUE,
                                "kernel '%s': buffer '%s' has no data", k->name,
                                pa->name);
        if (!at_is_aligned(a->data, a->dtype))
            return at_error_set(err, AT_E_VALUE,
                                "kernel '%s': buffer '%s' is not aligned to "
                                "its %zu-byte elements",
                                k->name, pa->name, at_dtype_size(a->dtype));
        size_t need = 0;
        const char *what = NULL;
        switch (k->role[i]) {
            case AT_ROLE_ELEM:
                need = n;
                what = "rows*cols";
                break;
            case AT_ROLE_ROW:
                need = rows;
                what = "rows";
                break;
            case AT_ROLE_COL:
                need = cols;
                what = "cols";
                break;
            case AT_ROLE_ONE:
                if (a->numel < 1)
                    return at_error_set(
                        err, AT_E_VALUE,
                        "kernel '%s': buffer '%s' is empty but is stored to",
                        k->name, pa->name);
                break;
            default:
                break;
        }
        if (what && a->numel != need)
            return at_error_set(err, AT_E_VALUE,
                                "kernel '%s': buffer '%s' has %zu elements, "
                                "launch %zu x %zu needs %s = %zu",
                                k->name, pa->name, a->numel, rows, cols, what,
                                need);
    }
    for (int i = 0; i < k->nparams; i++) {
        if (!k->stored[i])
            continue;
        for (int j = 0; j < k->nparams; j++)
            if (j != i && !k->params[j].is_scalar
                && !(alias_ok && exact_alias(k, args, i, j))
                && at_spans_overlap(args[i].data, args[i].numel, args[i].dtype,
                                    args[j].data, args[j].numel, args[j].dtype))
                return at_error_set(
                    err, AT_E_VALUE,
                    "kernel '%s': output '%s' overlaps buffer '%s'", k->name,
                    k->params[i].name, k->params[j].name);
    }
    return AT_OK;
}

/* The shortest row panel worth a worker of its own in a split GEMM: below
 * it, packing all of B costs more than the panel's arithmetic saves. */
#define GEMM_MIN_PANEL_ROWS 48

/* Streaming-path tasks: at most GEMM_STREAM_TASKS of them, cut on multiples
 * of 64 elements of the streamed dimension, none under GEMM_STREAM_MIN_RUN
 * elements (long runs of each streamed row) or GEMM_STREAM_MIN_WORK
 * multiply-adds (a task must outweigh waking a worker); the cut depends on
 * the shape alone. */
#define GEMM_STREAM_TASKS 8
#define GEMM_STREAM_MIN_RUN 256
#define GEMM_STREAM_MIN_WORK ((size_t)1 << 19)

static at_status launch_gemm_stream(at_executor *ex, const at_gemm_args *g,
                                    int dim, unsigned workers, at_error *err)
{
    gemm_stream_launch S = {g, &ex->kt, 0, 0, NULL, 0, NULL};
    size_t ntasks, parts = 0;
    if (dim == AT_GEMM_STREAM_DEPTH) {
        /* one task per depth block, then the blocks' sums in order */
        parts = round_up(ex->kt.sgemm_depth_parts(g, &ntasks) * sizeof(float),
                         AT_ALIGN);
    } else {
        /* multiply-adds per element of the streamed dimension: a row of C
         * over k, or a column of C's m rows over k */
        const size_t per = dim == AT_GEMM_STREAM_ROWS ? g->k : g->m * g->k;
        S.len = dim == AT_GEMM_STREAM_ROWS ? g->m : g->n;
        const size_t least =
            per ? (GEMM_STREAM_MIN_WORK + per - 1) / per : S.len;
        S.tile =
            round_up((S.len + GEMM_STREAM_TASKS - 1) / GEMM_STREAM_TASKS, 64);
        if (S.tile < GEMM_STREAM_MIN_RUN)
            S.tile = GEMM_STREAM_MIN_RUN;
        if (S.tile < least)
            S.tile = round_up(least, 64);
        ntasks = (S.len + S.tile - 1) / S.tile;
    }
    size_t nw = workers < ntasks ? workers : ntasks;
    S.ws_stride = round_up(ex->kt.sgemm_stream_ws_bytes, AT_ALIGN);
    char *mem = at_pool_alloc(ex->pool, parts + nw * S.ws_stride);
    if (!mem)
        return at_error_set(err, AT_E_NOMEM,
                            "gemm: out of memory for its workspace");
    S.parts = (float *)mem;
    S.ws = mem + parts;
    if (dim == AT_GEMM_STREAM_DEPTH) {
        at_threads_run(ex->threads, ntasks, (unsigned)nw, task_gemm_depth, &S);
        ex->kt.sgemm_depth_join(g, S.parts);
    } else {
        at_threads_run(ex->threads, ntasks, (unsigned)nw, task_gemm_stream, &S);
    }
    at_pool_free(ex->pool, mem);
    return AT_OK;
}

/* The kernels' view of C = A · B.  A single row or column, or a depth of 1,
 * is stored the same either way: such a transpose is no transpose, and the
 * kernels get the plain row strides. */
static at_gemm_args gemm_args(size_t m, size_t n, size_t k, int flags,
                              const float *a, const float *b, float *c)
{
    const int ta = (flags & AT_GEMM_TRANS_A) && m > 1 && k > 1,
              tb = (flags & AT_GEMM_TRANS_B) && n > 1 && k > 1;
    at_gemm_args g = {m, n, k, a, ta ? m : k, b, tb ? k : n, c, n, ta, tb, 0};
    g.prefetch_l2 = at_cpu_prefetch_l2();
    return g;
}

/* Run ntasks tasks of fn on up to workers workers, each worker with its own
 * ws_bytes of workspace: *ws and *ws_stride (fields of ctx) are set for the
 * tasks and the workspace is freed after them. */
static at_status gemm_tasks(at_executor *ex, size_t ntasks, unsigned workers,
                            size_t ws_bytes, at_task_fn fn, void *ctx,
                            char **ws, size_t *ws_stride, at_error *err)
{
    *ws_stride = round_up(ws_bytes, AT_ALIGN);
    size_t nw = workers < ntasks ? workers : ntasks;
    *ws = at_pool_alloc(ex->pool, nw * *ws_stride);
    if (!*ws)
        return at_error_set(err, AT_E_NOMEM,
                            "gemm: out of memory for packing workspace");
    at_threads_run(ex->threads, ntasks, (unsigned)nw, fn, ctx);
    at_pool_free(ex->pool, *ws);
    return AT_OK;
}

/* A worker's work for a tm x tn tile of C over depth k, in multiply-adds:
 * the tile's own plus the packing of its B columns and A rows, each packed
 * element counted as GEMM_PACK_COST multiply-adds. */
#define GEMM_PACK_COST 16

static double gemm_worker_cost(size_t tm, size_t tn, size_t k)
{
    return (double)k
           * ((double)tm * (double)tn + GEMM_PACK_COST * (double)(tm + tn));
}

/* Workers for a GEMM of `flops` floating-point operations: below
 * GEMM_PARALLEL_FLOPS, waking the others costs more than they save. */
#define GEMM_PARALLEL_FLOPS 4.0e6
static unsigned gemm_workers(const at_executor *ex, double flops)
{
    return flops >= GEMM_PARALLEL_FLOPS ? ex->nthreads : 1;
}

/* One GEMM (m, n > 0) on up to workers workers. */
static at_status gemm_run(at_executor *ex, const at_gemm_args *g,
                          unsigned workers, at_error *err)
{
    const size_t m = g->m, n = g->n;
    gemm_launch G = {*g, &ex->kt, 0, 0, 0, NULL, 0};
    int dim = ex->kt.sgemm_stream_dim(&G.g);
    if (dim != AT_GEMM_STREAM_NONE)
        return launch_gemm_stream(ex, &G.g, dim, workers, err);
    /* One panel of whole rows per worker: every tile repacks all of B, so
     * more tiles than workers only add packing time.  Panels are cut on the
     * micro-kernel's row count, so that only the last panel can end in a
     * partial micro-kernel tile, and otherwise as evenly as they can be.
     * Panels shorter than GEMM_MIN_PANEL_ROWS would each repack all of B for
     * little work: then fewer, taller panels are used and the columns are split
     * as well, on the micro-kernel's columns, so that each worker packs only
     * its part of B.  See docs/performance.md, "GEMM panels cut on the
     * micro-kernel's rows". */
    size_t parts_m = workers, parts_n = 1;
    if (workers > 1 && (m + workers - 1) / workers < GEMM_MIN_PANEL_ROWS) {
        parts_m = m / GEMM_MIN_PANEL_ROWS ? m / GEMM_MIN_PANEL_ROWS : 1;
        parts_n = (workers + parts_m - 1) / parts_m;
    }
    G.tile_m = round_up((m + parts_m - 1) / parts_m, ex->kt.sgemm_mr);
    G.tile_n = parts_n > 1
                   ? round_up((n + parts_n - 1) / parts_n, ex->kt.sgemm_nr)
                   : n;
    /* Whole columns per worker instead, when that is clearly less work for
     * the busiest worker: few rows against many columns, where row panels
     * are uneven in MR-row steps and each packs all of B. */
    if (workers > 1 && parts_n == 1) {
        size_t cn = round_up((n + workers - 1) / workers, ex->kt.sgemm_nr);
        if (gemm_worker_cost(m, cn, g->k) * 17
            < gemm_worker_cost(G.tile_m < m ? G.tile_m : m, n, g->k) * 16)
        {
            G.tile_m = m;
            G.tile_n = cn;
        }
    }
    G.tiles_m = (m + G.tile_m - 1) / G.tile_m;
    size_t tiles_n = (n + G.tile_n - 1) / G.tile_n;
    size_t ntasks = G.tiles_m * tiles_n;
    return gemm_tasks(ex, ntasks, workers, ex->kt.sgemm_ws_bytes, task_gemm, &G,
                      &G.ws, &G.ws_stride, err);
}

/* A batch of GEMMs of one shape, split across the batch: each task is one
 * product, computed whole by one worker with the same kernels, blocks and
 * depth order as gemm_run, so its bits do not depend on the split. */
typedef struct gemm_batch_launch {
    at_gemm_args g; /* the shape; a, b, c at the batch's bases */
    const at_ktable *kt;
    const at_gemm_batch *bt;
    size_t parts; /* bytes of depth-block sums at the front of ws */
    char *ws;
    size_t ws_stride;
} gemm_batch_launch;

/* Matrix i of the batch: g with a, b and c moved to it. */
static at_gemm_args gemm_batch_item(const at_gemm_args *g,
                                    const at_gemm_batch *bt, size_t i)
{
    at_gemm_args r = *g;
    r.c += i * g->m * g->n;
    for (int d = bt->naxes - 1; d >= 0; d--) {
        const size_t len = (size_t)bt->shape[d], j = i % len;
        r.a += j * bt->a_step[d];
        r.b += j * bt->b_step[d];
        i /= len;
    }
    return r;
}

static void task_gemm_batch(void *ctx, size_t task, unsigned worker)
{
    const gemm_batch_launch *L = ctx;
    const at_ktable *kt = L->kt;
    const at_gemm_args g = gemm_batch_item(&L->g, L->bt, task);
    char *ws = L->ws + (size_t)worker * L->ws_stride;
    switch (kt->sgemm_stream_dim(&g)) {
        case AT_GEMM_STREAM_NONE:
            kt->sgemm_tile(&g, 0, g.m, 0, g.n, ws);
            break;
        case AT_GEMM_STREAM_DEPTH: {
            size_t nblocks;
            kt->sgemm_depth_parts(&g, &nblocks);
            for (size_t t = 0; t < nblocks; t++)
                kt->sgemm_depth_block(&g, t, (float *)ws, ws + L->parts);
            kt->sgemm_depth_join(&g, (float *)ws);
            break;
        }
        case AT_GEMM_STREAM_ROWS:
            kt->sgemm_stream(&g, 0, g.m, ws);
            break;
        default:
            kt->sgemm_stream(&g, 0, g.n, ws);
            break;
    }
}

/* Products of at least this many flops, in a batch the workers do not
 * divide evenly, are split inside rather than across the batch. */
#define GEMM_BATCH_INSIDE_FLOPS 6.4e7

at_status at_gemm_batched(at_executor *ex, const at_gemm_batch *bt, size_t m,
                          size_t n, size_t k, int flags, const float *a,
                          const float *b, float *c, at_error *err)
{
    size_t batch = 1;
    for (int d = 0; d < bt->naxes; d++)
        batch *= (size_t)bt->shape[d];
    if (batch == 0 || m == 0 || n == 0)
        return AT_OK;
    if (k == 0) {
        memset(c, 0, batch * m * n * sizeof(float));
        return AT_OK;
    }
    gemm_batch_launch L = {
        gemm_args(m, n, k, flags, a, b, c), &ex->kt, bt, 0, NULL, 0};
    const double per = 2.0 * (double)m * (double)n * (double)k;
    unsigned workers = gemm_workers(ex, per * (double)batch);
    if (workers > 1
        && (batch < workers
            || (per >= GEMM_BATCH_INSIDE_FLOPS && batch % workers)))
    {
        /* Large products: each on all the workers, one after another. */
        for (size_t i = 0; i < batch; i++) {
            const at_gemm_args g = gemm_batch_item(&L.g, bt, i);
            at_status st = gemm_run(ex, &g, gemm_workers(ex, per), err);
            if (st)
                return st;
        }
        return AT_OK;
    }
    size_t ws = ex->kt.sgemm_ws_bytes;
    if (ex->kt.sgemm_stream_dim(&L.g) == AT_GEMM_STREAM_DEPTH) {
        size_t nblocks;
        L.parts = round_up(
            ex->kt.sgemm_depth_parts(&L.g, &nblocks) * sizeof(float), AT_ALIGN);
        if (L.parts + ex->kt.sgemm_stream_ws_bytes > ws)
            ws = L.parts + ex->kt.sgemm_stream_ws_bytes;
    }
    return gemm_tasks(ex, batch, workers, ws, task_gemm_batch, &L, &L.ws,
                      &L.ws_stride, err);
}

static at_status launch_gemm(at_executor *ex, const at_program *p, size_t m,
                             size_t n, const at_arg *args, at_error *err)
{
    const at_instr *in = &p->k->instrs[0];
    const at_arg *A = &args[in->params3[0]], *B = &args[in->params3[1]],
                 *C = &args[in->params3[2]];
    int64_t kk = args[in->imm.i64].scalar.i64;
    size_t mk, kn, mn;
    if (kk < 0)
        return at_error_set(err, AT_E_VALUE, "gemm: k = %lld is negative",
                            (long long)kk);
    size_t k = (size_t)kk;
    if (at_mul_overflow(m, k, &mk) || at_mul_overflow(k, n, &kn)
        || at_mul_overflow(m, n, &mn))
        return at_error_set(err, AT_E_OVERFLOW,
                            "gemm: m=%zu n=%zu k=%zu overflows", m, n, k);
    if (A->numel != mk || B->numel != kn || C->numel != mn)
        return at_error_set(err, AT_E_VALUE,
                            "gemm: m=%zu n=%zu k=%zu needs a of %zu, b of %zu "
                            "and c of %zu elements; "
                            "got %zu, %zu and %zu",
                            m, n, k, mk, kn, mn, A->numel, B->numel, C->numel);
    if (mn == 0)
        return AT_OK;
    const at_gemm_args g =
        gemm_args(m, n, k, in->flags, A->data, B->data, C->data);
    double flops = 2.0 * (double)m * (double)n * (double)k;
    return gemm_run(ex, &g, gemm_workers(ex, flops), err);
}

/* A launch worth more than one worker whose shape's plan (AT_CHUNK
 * elements a task) gives fewer tasks than workers: one task per worker
 * instead, of whole blocks (FLAT) or rows (ROW).  Only for a program
 * without whole-launch reductions, whose bits do not depend on where tasks
 * begin.  A launch with as many tasks as workers keeps its plan: evening out
 * two unequal tasks measured slower, as the worker joins a few microseconds
 * after the caller starts the first (docs/performance.md, entry 53). */
static void split_for_workers(launch *L, unsigned workers)
{
    const int flat = L->p->mode == AT_MODE_FLAT;
    const size_t count = flat ? L->n : L->rows; /* what a task counts */
    size_t per = (count + workers - 1) / workers;
    if (flat)
        per = round_up(per, (size_t)AT_BLOCK);
    if (per && per < L->per_task) {
        L->per_task = per;
        L->ntasks = (count + per - 1) / per;
    }
}

/* A launch's plan: its tasks and how many workers run them.  A program
 * with whole-launch reductions has task boundaries that depend only on the
 * launch shape (never on the thread count), so its reductions combine the
 * same partials in any run; others may be split per worker
 * (split_for_workers). */
static unsigned plan_tasks(launch *L, unsigned nthreads)
{
    const at_program *p = L->p;
    if (p->mode == AT_MODE_FLAT) {
        L->per_task = AT_CHUNK;
        L->ntasks = (L->n + AT_CHUNK - 1) / AT_CHUNK;
    } else {
        L->per_task = L->cols ? (AT_CHUNK + L->cols - 1) / L->cols : L->rows;
        if (L->per_task == 0)
            L->per_task = 1;
        L->ntasks = (L->rows + L->per_task - 1) / L->per_task;
    }
    size_t work = L->n * p->cost_per_elem + L->rows * (size_t)p->ns;
    unsigned workers = work >= AT_PARALLEL_MIN_WORK ? nthreads : 1;
    if (workers > 1 && L->ntasks && workers > L->ntasks && p->nall == 0)
        split_for_workers(L, workers);
    if (workers > L->ntasks)
        workers = L->ntasks ? (unsigned)L->ntasks : 1;
    return workers;
}

/* A launch's workspace is one allocation: uniform slots | the tasks'
 * partials | one stride per worker (register blocks, row accumulators,
 * slots, scratch rows; see worker_env).  Sizes in bytes. */
typedef struct ws_layout {
    size_t uslots, partials, stride, total;
} ws_layout;

/* Returns 0, or -1 when a size overflows. */
static int size_workspace(const launch *L, unsigned workers, ws_layout *ws)
{
    const at_program *p = L->p;
    ws->uslots = round_up((size_t)p->nslots * sizeof(at_slot), AT_ALIGN);
    if (at_mul_overflow(L->ntasks ? L->ntasks : 1,
                        (size_t)p->nall * sizeof(double), &ws->partials)
        || at_mul_overflow((size_t)p->nscratch * sizeof(float), L->cols,
                           &ws->stride))
        return -1;
    ws->partials = round_up(ws->partials, AT_ALIGN);
    ws->stride = round_up(
        ws->stride + (size_t)(p->nregs + p->ncolbufs) * AT_BLOCK * sizeof(float)
            + (size_t)p->nslots * sizeof(at_slot)
            + (size_t)p->nacc * sizeof(double),
        AT_ALIGN);
    ws->total = ws->uslots + ws->partials + ws->stride * workers;
    return 0;
}

static void carve_workspace(launch *L, const ws_layout *ws, char *mem)
{
    L->uslots = (at_slot *)mem;
    L->partials = (double *)(mem + ws->uslots);
    L->ws = mem + ws->uslots + ws->partials;
    L->ws_stride = ws->stride;
}

/* The prologue, then every task, on the caller alone or on the workers. */
static void run_tasks(launch *L, at_threads *threads, unsigned workers)
{
    if (run_scalars(L, 0, L->p->s_row, L->uslots, 0))
        return;
    at_task_fn fn = L->p->mode == AT_MODE_FLAT ? task_flat : task_rows;
    if (workers <= 1) {
        for (size_t t = 0; t < L->ntasks; t++)
            fn(L, t, 0);
    } else {
        at_threads_run(threads, L->ntasks, workers, fn, L);
    }
}

/* Combines each whole-launch reduction's partials in task order, then runs
 * the epilogue (uniform values computed from those reductions). */
static void merge_partials(launch *L)
{
    const at_program *p = L->p;
    for (int a = 0; a < p->nall; a++) {
        double v;
        acc_init(&p->acc[a], &v);
        for (size_t t = 0; t < L->ntasks; t++)
            acc_merge(p->acc[a].red, &v, L->partials[t * (size_t)p->nall + a]);
        L->uslots[p->acc[a].slot].f = (float)v;
    }
    run_scalars(L, p->s_epi, p->ns, L->uslots, 0);
}

/* The fields of a launch every mode with scalar code sets (the rest are
 * set as the mode needs them; err and diag only on failure). */
static void launch_init(launch *L, at_executor *ex, const at_program *p,
                        size_t rows, size_t cols, const at_arg *args)
{
    L->p = p;
    L->k = p->k;
    L->kt = &ex->kt;
    L->args = args;
    L->rows = rows;
    L->cols = cols;
    L->n = rows * cols;
    atomic_init(&L->failed, 0);
}

/* ---- axis reductions (AT_MODE_AXIS) -------------------------------------- */

/* A reduction over the rows runs in tasks of at most AXIS_TILE columns (so
 * a task's float accumulators stay in the caches) by the rows that make
 * about AXIS_CHUNK elements; its partials, one per column and row chunk,
 * are combined in row-chunk order.  Boundaries depend on the shape only. */
#define AXIS_TILE ((size_t)4096)
#define AXIS_CHUNK ((size_t)256 * 1024)

typedef struct axis_launch {
    const at_axis_red *a;
    const at_ktable *kt;
    const float *x;
    void *out;
    size_t rows, cols;
    size_t tile, ntiles, chunk; /* columns and rows per task */
    double *part; /* per row chunk, one value per column */
    int64_t *pidx; /* per row chunk, one index per column (arg forms) */
    char *ws; /* per worker: tile floats and tile int32s */
    size_t ws_stride;
} axis_launch;

/* argmax/argmin along each row of a run of rows. */
static void task_axis_rows(void *ctx, size_t task, unsigned worker)
{
    const axis_launch *A = ctx;
    (void)worker;
    at_k_rarg f = A->a->red == AT_RED_ARGMAX ? A->kt->rargmax : A->kt->rargmin;
    size_t r0 = task * A->chunk;
    size_t r1 = A->rows - r0 < A->chunk ? A->rows : r0 + A->chunk;
    for (size_t r = r0; r < r1; r++)
        ((int64_t *)A->out)[r] = (int64_t)f(A->cols, A->x + r * A->cols);
}

/* One tile of columns over one chunk of rows: its partials. */
static void task_axis_cols(void *ctx, size_t task, unsigned worker)
{
    const axis_launch *A = ctx;
    size_t ch = task / A->ntiles, c0 = task % A->ntiles * A->tile;
    size_t n = A->cols - c0 < A->tile ? A->cols - c0 : A->tile;
    size_t r0 = ch * A->chunk;
    size_t rows = A->rows - r0 < A->chunk ? A->rows - r0 : A->chunk;
    const float *x = A->x + r0 * A->cols + c0;
    float *acc = (float *)(A->ws + (size_t)worker * A->ws_stride);
    double *part = A->part + ch * A->cols + c0;
    switch (A->a->red) {
        case AT_RED_SUM:
            memset(part, 0, n * sizeof *part);
            A->kt->csum(rows, n, A->cols, x, acc, part);
            return;
        case AT_RED_MAX:
        case AT_RED_MIN:
            (A->a->red == AT_RED_MAX ? A->kt->cmax
                                     : A->kt->cmin)(rows, n, A->cols, x, acc);
            for (size_t c = 0; c < n; c++)
                part[c] = acc[c];
            return;
        default: {
            int32_t *idx = (int32_t *)(acc + A->tile);
            (A->a->red == AT_RED_ARGMAX ? A->kt->cargmax : A->kt->cargmin)(
                rows, n, A->cols, x, acc, idx);
            int64_t *pidx = A->pidx + ch * A->cols + c0;
            for (size_t c = 0; c < n; c++) {
                part[c] = acc[c];
                pidx[c] = (int64_t)r0 + idx[c];
            }
        }
    }
}

/* Column c's partials combined in row-chunk order (the first maximum or
 * minimum, or first NaN, for the arg forms), into the output. */
static void merge_axis_col(const axis_launch *A, size_t nch, size_t c)
{
    int red = A->a->red;
    double v = red == AT_RED_MAX ? -INFINITY : red == AT_RED_MIN ? INFINITY : 0;
    int64_t at = 0;
    for (size_t ch = 0; ch < nch; ch++) {
        double w = A->part[ch * A->cols + c];
        if (red == AT_RED_SUM) {
            v += w;
        } else if (red == AT_RED_MAX || red == AT_RED_MIN) {
            acc_merge(red, &v, w);
        } else if (ch == 0 || (red == AT_RED_ARGMAX ? w > v : w < v)
                   || (isnan(w) && !isnan(v)))
        {
            v = w;
            at = A->pidx[ch * A->cols + c];
        }
    }
    if (red == AT_RED_ARGMAX || red == AT_RED_ARGMIN)
        ((int64_t *)A->out)[c] = at;
    else
        ((float *)A->out)[c] = (float)v;
}

/* The arithmetic steps a column result takes on its way to the store. */
static void axis_steps(const axis_launch *A, const at_slot *slots)
{
    float *y = A->out;
    for (int i = 0; i < A->a->nsteps; i++) {
        const at_axis_step *st = &A->a->steps[i];
        (st->rev ? A->kt->binary_rs
                 : A->kt->binary_s)[st->fn](A->cols, y, y, slots[st->slot].f);
    }
}

static at_status launch_axis(at_executor *ex, const at_program *p, size_t rows,
                             size_t cols, const at_arg *args, at_error *err)
{
    const at_axis_red *a = &p->axis;
    int arg = a->red == AT_RED_ARGMAX || a->red == AT_RED_ARGMIN;
    if (arg && (a->col ? rows == 0 && cols : cols == 0 && rows))
        return at_error_set(err, AT_E_VALUE,
                            "kernel '%s': %s of an empty %s (launch %zu x "
                            "%zu)",
                            p->k->name,
                            a->red == AT_RED_ARGMAX ? "argmax" : "argmin",
                            a->col ? "column" : "row", rows, cols);
    axis_launch A = {a,
                     &ex->kt,
                     args[a->in].data,
                     args[a->out].data,
                     rows,
                     cols,
                     0,
                     0,
                     0,
                     NULL,
                     NULL,
                     NULL,
                     0};
    size_t ntasks, nch = 0;
    if (a->col) {
        A.tile = cols < AXIS_TILE ? (cols ? cols : 1) : AXIS_TILE;
        A.ntiles = (cols + A.tile - 1) / A.tile;
        A.chunk = AXIS_CHUNK / A.tile;
        nch = (rows + A.chunk - 1) / A.chunk;
        ntasks = nch * A.ntiles;
    } else {
        A.chunk = cols ? (AT_CHUNK + cols - 1) / cols : 1;
        ntasks = (rows + A.chunk - 1) / A.chunk;
    }
    /* one allocation: slots | partials | per-worker scratch */
    size_t nslot = round_up((size_t)p->nslots * sizeof(at_slot), AT_ALIGN);
    size_t npart = 0, total;
    A.ws_stride =
        round_up(A.tile * (sizeof(float) + sizeof(int32_t)), AT_ALIGN);
    unsigned workers = rows * cols >= AT_PARALLEL_MIN_WORK ? ex->nthreads : 1;
    if (workers > ntasks)
        workers = ntasks ? (unsigned)ntasks : 1;
    if (at_mul_overflow(nch, cols * (arg ? 16 : 8), &npart)
        || npart > SIZE_MAX / 2)
        return at_error_set(err, AT_E_OVERFLOW,
                            "kernel '%s': workspace size overflows",
                            p->k->name);
    total = nslot + round_up(npart, AT_ALIGN) + A.ws_stride * workers;
    char *mem = at_pool_alloc(ex->pool, total ? total : AT_ALIGN);
    if (!mem)
        return at_error_set(err, AT_E_NOMEM,
                            "kernel '%s': out of memory for workspace",
                            p->k->name);
    A.part = (double *)(mem + nslot);
    A.pidx = (int64_t *)(A.part + nch * cols);
    A.ws = mem + nslot + round_up(npart, AT_ALIGN);

    launch L; /* for the prologue's scalar code */
    launch_init(&L, ex, p, rows, cols, args);
    L.uslots = (at_slot *)mem;
    if (run_scalars(&L, 0, p->s_row, L.uslots, 0) == AT_OK) {
        at_task_fn fn = a->col ? task_axis_cols : task_axis_rows;
        if (workers <= 1)
            for (size_t t = 0; t < ntasks; t++)
                fn(&A, t, 0);
        else
            at_threads_run(ex->threads, ntasks, workers, fn, &A);
        if (a->col) {
            for (size_t c = 0; c < cols; c++)
                merge_axis_col(&A, nch, c);
            axis_steps(&A, L.uslots);
        }
    }
    at_pool_free(ex->pool, mem);
    if (atomic_load(&L.failed))
        return at_error_set(err, L.err.status, "%s", L.err.msg);
    return AT_OK;
}

/* The launch proper; args have passed check_args (or its equivalent). */
static at_status launch_checked(at_executor *ex, const at_program *p,
                                size_t rows, size_t cols, const at_arg *args,
                                at_launch_diag *diag, at_error *err)
{
    if (p->mode == AT_MODE_GEMM)
        return launch_gemm(ex, p, rows, cols, args, err);
    if (p->mode == AT_MODE_AXIS)
        return launch_axis(ex, p, rows, cols, args, err);

    launch L; /* not zeroed: err and diag are written only on failure */
    launch_init(&L, ex, p, rows, cols, args);
    store_choice stores = choose_stores(ex, p, args);
    L.stream = stores.stream;
    unsigned workers = plan_tasks(&L, ex->nthreads);
    ws_layout ws;
    if (size_workspace(&L, workers, &ws))
        return at_error_set(err, AT_E_OVERFLOW,
                            "kernel '%s': workspace size overflows",
                            p->k->name);
    /* Small workspaces live on the stack, which spares a pool allocation
     * and free per call: 8 KiB holds a softmax row of up to about 2,000
     * floats, or one register block plus slots (mse_loss, cross_entropy),
     * and is far below the smallest thread stack Python allows (32 KiB).
     * See docs/performance.md, "The launch workspace". */
    _Alignas(AT_ALIGN) char local[8192];
    char *mem =
        ws.total <= sizeof local ? local : at_pool_alloc(ex->pool, ws.total);
    if (!mem)
        return at_error_set(err, AT_E_NOMEM,
                            "kernel '%s': out of memory for workspace",
                            p->k->name);
    carve_workspace(&L, &ws, mem);

    uint64_t t0 = stores.probe ? at_now_ns() : 0;
    run_tasks(&L, ex->threads, workers);
    if (!atomic_load(&L.failed)) {
        merge_partials(&L);
        if (stores.probe)
            note_probe(&stores, at_now_ns() - t0);
    }
    if (mem != local)
        at_pool_free(ex->pool, mem);
    if (atomic_load(&L.failed)) {
        if (diag)
            *diag = L.diag;
        return at_error_set(err, L.err.status, "%s", L.err.msg);
    }
    return AT_OK;
}

at_status at_launch_ex(at_executor *ex, const at_program *p, size_t rows,
                       size_t cols, const at_arg *args, size_t nargs,
                       at_launch_diag *diag, at_error *err)
{
    at_status st = check_args(p, rows, cols, args, nargs, 0, err);
    if (st)
        return st;
    return launch_checked(ex, p, rows, cols, args, diag, err);
}

at_status at_launch_validated(at_executor *ex, const at_program *p, size_t rows,
                              size_t cols, const at_arg *args, size_t nargs,
                              at_launch_diag *diag, at_error *err)
{
#ifndef NDEBUG
    at_error chk;
    assert(check_args(p, rows, cols, args, nargs, 1, &chk) == AT_OK);
#else
    (void)nargs;
#endif
    return launch_checked(ex, p, rows, cols, args, diag, err);
}

at_status at_launch(at_executor *ex, const at_program *p, size_t rows,
                    size_t cols, const at_arg *args, size_t nargs,
                    at_error *err)
{
    return at_launch_ex(ex, p, rows, cols, args, nargs, NULL, err);
}
