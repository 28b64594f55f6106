/* Hologram Atlas — executors and compilation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime_internal.h"
#include "util.h"

static void ktable_init(at_isa isa, at_ktable *t)
{
    switch (isa) {
#ifdef AT_HAVE_ISA_NEON
        case AT_ISA_NEON:
            at_ktable_init_neon(t);
            return;
#endif
#ifdef AT_HAVE_ISA_AVX512
        case AT_ISA_AVX512:
            at_ktable_init_avx512(t);
            return;
#endif
#ifdef AT_HAVE_ISA_AVX2
        case AT_ISA_AVX2:
            at_ktable_init_avx2(t);
            return;
#endif
        default:
            at_ktable_init_baseline(t);
            return;
    }
}

at_status at_executor_create(unsigned threads, int isa, at_executor **out,
                             at_error *err)
{
    *out = NULL;
    if (threads == 0)
        threads = at_threads_ncpu();
    if (threads > AT_MAX_THREADS)
        return at_error_set(err, AT_E_VALUE,
                            "Executor: threads=%u is more than %d", threads,
                            AT_MAX_THREADS);
    at_isa level = at_cpu_best_isa();
    if (isa >= 0) {
        if (isa >= AT_ISA_COUNT)
            return at_error_set(err, AT_E_VALUE,
                                "Executor: unknown ISA level %d", isa);
        if (!at_cpu_compiled((at_isa)isa))
            return at_error_set(
                err, AT_E_VALUE,
                "Executor: ISA level '%s' was not compiled into this build",
                at_isa_name((at_isa)isa));
        if (!at_cpu_supports((at_isa)isa))
            return at_error_set(err, AT_E_VALUE,
                                "Executor: this CPU cannot run ISA level '%s'",
                                at_isa_name((at_isa)isa));
        level = (at_isa)isa;
    }
    at_executor *ex = calloc(1, sizeof *ex);
    if (!ex)
        return at_error_set(err, AT_E_NOMEM, "Executor: out of memory");
    ex->nthreads = threads;
    ex->isa = level;
    ktable_init(level, &ex->kt);
    pthread_mutex_init(&ex->lock, NULL);
    for (int i = 0; i < AT_PROGRAM_CACHE_SIZE; i++)
        atomic_init(&ex->cache[i], NULL);
    atomic_init(&ex->stores, AT_STORES_AUTO);
    ex->pool = at_pool_create();
    ex->threads = at_threads_create(threads);
    if (!ex->pool || !ex->threads) {
        at_executor_destroy(ex);
        return at_error_set(err, AT_E_NOMEM,
                            "Executor: cannot create pool or %u threads",
                            threads);
    }
    *out = ex;
    return AT_OK;
}

void at_executor_destroy(at_executor *ex)
{
    if (!ex)
        return;
    for (int i = 0; i < AT_PROGRAM_CACHE_SIZE; i++) {
        at_program_free(atomic_load(&ex->cache[i]));
        at_kernel_free(ex->cache_k[i]);
    }
    if (ex->threads)
        at_threads_destroy(ex->threads);
    if (ex->pool)
        at_pool_destroy(ex->pool);
    pthread_mutex_destroy(&ex->lock);
    free(ex);
}

unsigned at_executor_threads(const at_executor *ex) { return ex->nthreads; }
at_isa at_executor_isa(const at_executor *ex) { return ex->isa; }
at_pool *at_executor_pool(at_executor *ex) { return ex->pool; }

static const char *const store_names[AT_STORES_COUNT] = {"auto", "cached",
                                                         "streamed"};

const char *at_store_policy_name(at_store_policy p)
{
    return (unsigned)p < AT_STORES_COUNT ? store_names[p] : "?";
}

int at_store_policy_parse(const char *name)
{
    for (int p = 0; name && p < AT_STORES_COUNT; p++)
        if (strcmp(name, store_names[p]) == 0)
            return p;
    return -1;
}

at_status at_executor_set_stores(at_executor *ex, int policy, at_error *err)
{
    if (policy < 0 || policy >= AT_STORES_COUNT)
        return at_error_set(err, AT_E_VALUE,
                            "Executor: unknown store policy %d", policy);
    atomic_store_explicit(&ex->stores, policy, memory_order_relaxed);
    return AT_OK;
}

at_store_policy at_executor_stores(const at_executor *ex)
{
    return (at_store_policy)atomic_load_explicit(&ex->stores,
                                                 memory_order_relaxed);
}

at_status at_compile(at_executor *ex, const at_kernel *k, at_program **out,
                     at_error *err)
{
    *out = NULL;
    if (!k || !k->frozen)
        return at_error_set(err, AT_E_VERIFY,
                            "compile: the kernel must be verified first");
    return at_lower(k, &ex->kt, out, err);
}

const at_kernel *at_program_kernel(const at_program *p) { return p->k; }

size_t at_program_cost(const at_program *p)
{
    return p->mode == AT_MODE_GEMM ? 1 : p->cost_per_elem;
}

/* ---- the client sets' program cache -------------------------------------- */

/* Cache entries handed out to kernel sets so far (process-wide: a set has
 * the same range on every executor). */
static pthread_mutex_t sets_lock = PTHREAD_MUTEX_INITIALIZER;
static int sets_used;

/* Give the set its range of cache entries, once.  Returns its `first`. */
static int claim_range(at_kernel_set *set, at_error *err)
{
    pthread_mutex_lock(&sets_lock);
    int first = atomic_load_explicit(&set->first, memory_order_relaxed),
        used = sets_used;
    if (!first && set->count <= AT_PROGRAM_CACHE_SIZE - used) {
        first = used + 1;
        sets_used = used + set->count;
        atomic_store_explicit(&set->first, first, memory_order_relaxed);
    }
    pthread_mutex_unlock(&sets_lock);
    if (!first)
        at_error_set(err, AT_E_VALUE,
                     "%s: %d kernels do not fit the program cache (%d of %d "
                     "entries in use)",
                     set->name, set->count, used, AT_PROGRAM_CACHE_SIZE);
    return first;
}

/* The slow path of at_executor_program: check, claim, build and compile.
 * Out of line, so that the fast path needs no stack frame. */
static __attribute__((noinline)) at_status
compile_cached(at_executor *ex, at_kernel_set *set, int index,
               const at_program **out, at_error *err)
{
    *out = NULL;
    if (index < 0 || index >= set->count)
        return at_error_set(err, AT_E_VALUE, "%s: unknown kernel %d", set->name,
                            index);
    int first = atomic_load_explicit(&set->first, memory_order_relaxed);
    if (!first && !(first = claim_range(set, err)))
        return AT_E_VALUE;
    int e = first - 1 + index;
    at_status st = AT_OK;
    pthread_mutex_lock(&ex->lock);
    at_program *p = atomic_load_explicit(&ex->cache[e], memory_order_relaxed);
    if (!p) {
        if (!ex->cache_k[e]) {
            at_kernel *k = NULL;
            st = set->build(index, &k, err);
            if (st != AT_OK) {
                at_kernel_free(k); /* a failed build keeps nothing */
                k = NULL;
            }
            ex->cache_k[e] = k;
        }
        if (st == AT_OK)
            st = at_compile(ex, ex->cache_k[e], &p, err);
        if (st == AT_OK)
            atomic_store_explicit(&ex->cache[e], p, memory_order_release);
    }
    pthread_mutex_unlock(&ex->lock);
    *out = p;
    return st;
}

at_status at_executor_program(at_executor *ex, at_kernel_set *set, int index,
                              const at_program **out, at_error *err)
{
    /* `first` is written once, before any executor caches the set's
     * programs; the acquire load pairs with compile_cached's release store */
    int first = atomic_load_explicit(&set->first, memory_order_relaxed);
    if (first && (unsigned)index < (unsigned)set->count) {
        at_program *p = atomic_load_explicit(&ex->cache[first - 1 + index],
                                             memory_order_acquire);
        if (p) {
            *out = p;
            return AT_OK;
        }
    }
    return compile_cached(ex, set, index, out, err);
}

/* ---- program dump -------------------------------------------------------- */

static const char *opd_str(char *buf, size_t cap, at_opd o)
{
    static const char *kinds[] = {"-",        "r",    "mem",  "scratch",
                                  "slot",     "col",  "qmem", "qcol",
                                  "qscratch", "bmem", "bcol"};
    snprintf(buf, cap, "%s%d", kinds[o.kind], (int)o.idx);
    return buf;
}

size_t at_program_print(const at_program *p, char *buf, size_t cap)
{
    static const char *vk[] = {
        "unary",        "binary",      "binary.s",    "binary.rs",
        "fill",         "copy",        "compare",     "select",
        "reduce.row",   "reduce.all",  "exp.sub.sum", "convert",
        "iunary",       "ibinary",     "ibinary.s",   "ibinary.rs",
        "icompare",     "select64",    "copy64",      "sub.sq.sum",
        "scale.affine", "diff.sq.sum", "sub.exp.sum", "sq.sum",
        "div.mul",      "binary.add",  "unary.of",    "adam"};
    static const char *modes[] = {"flat", "row", "gemm", "axis"};
    size_t len = 0;
#define OUT(...)                                                   \
    do {                                                           \
        int n_ = snprintf(len < cap ? buf + len : NULL,            \
                          len < cap ? cap - len : 0, __VA_ARGS__); \
        if (n_ > 0)                                                \
            len += (size_t)n_;                                     \
    } while (0)
    OUT("program %s: mode %s, isa %s, %d phase(s), %d register(s) of %d "
        "floats, blocks of %d, %d scratch row(s), "
        "%d slot(s), %d accumulator(s)\n",
        p->k->name, modes[p->mode], p->kt->isa_name, p->nphases, p->nregs,
        AT_BLOCK, p->block, p->nscratch, p->nslots, p->nacc);
    for (int a = 0; a < p->nahead; a++) { /* read a row ahead (interp.c) */
        char m[24];
        OUT("  ahead %s\n", opd_str(m, sizeof m, p->ahead[a]));
    }
    for (int i = 0; i < p->ns; i++)
        OUT("  scalar [%s ph%d] %s\n",
            p->s[i].where == AT_S_PROLOGUE ? "prologue"
            : p->s[i].where == AT_S_ROW    ? "row"
                                           : "epilogue",
            p->s[i].phase, at_irop_name(p->k->instrs[p->s[i].ir].op));
    for (int i = 0; i < p->nv; i++) {
        char d[24], a[24], b[24], c[24];
        const at_vinstr *v = &p->v[i];
        OUT("  vector [ph%d] %-10s fn%-2d %s <- %s %s %s%s", v->phase,
            vk[v->kind], v->fn, opd_str(d, sizeof d, v->dst),
            opd_str(a, sizeof a, v->src[0]), opd_str(b, sizeof b, v->src[1]),
            opd_str(c, sizeof c, v->src[2]), v->final ? "  (final)" : "");
        if (v->kind == AT_V_SCALE_AFFINE
            || v->kind == AT_V_DIV_MUL) /* its fourth operand */
            OUT("  (scale slot%d)", v->slot);
        if (v->kind == AT_V_UNARY_OF) /* the binary op applied first */
            OUT("  (of fn%d)", v->op);
        if (v->kind == AT_V_ADAM) { /* its operands and slots (at_adam) */
            const at_adam *m = &p->adam[v->slot];
            char o[8][24];
            const at_opd *x[] = {&m->m_in[0], &m->m_in[1], &m->v_in[0],
                                 &m->v_in[1], &m->v_in[2], &m->p_in,
                                 &m->m_out,   &m->v_out};
            for (int j = 0; j < 8; j++)
                opd_str(o[j], sizeof o[j], *x[j]);
            OUT("  (m %s <- %s %s; v %s <- %s %s %s%s; p <- %s%s; slots", o[6],
                o[0], o[1], o[7], o[2], o[3], o[4], m->sq_first ? " sq" : "",
                o[5], at_adam_bc(m) ? " bc" : "");
            for (int j = 0; j < 9; j++)
                OUT(" %d", m->s[j]);
            OUT(")");
        }
        if (v->pre) /* subtracted from src0 first */
            OUT("  (pre slot%d)", v->pre - 1);
        for (int j = 0; j < 2; j++) /* multiplied into src j first */
            if (v->scale[j])
                OUT("  (scale src%d slot%d)", j, v->scale[j] - 1);
        OUT("\n");
    }
#undef OUT
    return len;
}

/* ---- the FMA peak probe ------------------------------------------------- */

typedef struct fma_probe_run {
    float (*probe)(size_t iters);
    size_t iters;
    volatile float sink[AT_MAX_THREADS];
} fma_probe_run;

static void task_fma_probe(void *ctx, size_t task, unsigned worker)
{
    fma_probe_run *R = ctx;
    (void)task;
    R->sink[worker] = R->probe(R->iters);
}

/* Wall-clock seconds of one run of the probe on tasks tasks. */
static double fma_probe_seconds(at_executor *ex, fma_probe_run *R,
                                unsigned tasks)
{
    uint64_t t0 = at_now_ns();
    at_threads_run(ex->threads, tasks, tasks, task_fma_probe, R);
    return (double)(at_now_ns() - t0) * 1e-9;
}

#define FMA_PROBE_RUNS 5

double at_executor_fma_peak(at_executor *ex, unsigned workers, double seconds)
{
    if (workers == 0 || workers > ex->nthreads)
        workers = ex->nthreads;
    if (!(seconds > 0))
        seconds = 0.1;
    fma_probe_run *R = calloc(1, sizeof *R);
    if (!R)
        return 0.0;
    R->probe = ex->kt.fma_probe;
    /* Size one run at about seconds / FMA_PROBE_RUNS on one thread. */
    R->iters = 1024;
    double t = fma_probe_seconds(ex, R, 1);
    while (t < 2e-3 && R->iters < ((size_t)1 << 40)) {
        R->iters *= 4;
        t = fma_probe_seconds(ex, R, 1);
    }
    double scale = seconds / FMA_PROBE_RUNS / (t > 0 ? t : 1e-9);
    if (scale > 1.0)
        R->iters = (size_t)((double)R->iters * scale);
    double best = 0.0;
    for (int r = 0; r < FMA_PROBE_RUNS; r++) {
        double s = fma_probe_seconds(ex, R, workers);
        double rate = (double)workers * (double)R->iters
                      * ex->kt.fma_probe_flops / (s > 0 ? s : 1e-9) * 1e-9;
        if (rate > best)
            best = rate;
    }
    free(R);
    return best;
}
