/* Hologram Atlas — executors, compiled programs and launches.
 *
 * An executor is one virtual device: a memory pool, a worker pool of
 * `threads` threads (the caller counts as one), the kernel table of the ISA
 * level it runs at, and a cache of compiled programs.  at_compile lowers a
 * verified IR kernel into a block program (see docs/architecture.md);
 * at_launch runs it synchronously and returns when every output is written.
 * All functions are thread-safe; launches from several threads on one
 * executor are allowed (a launch that finds the workers busy runs on its
 * calling thread alone).
 */
#ifndef ATLAS_RUNTIME_H
#define ATLAS_RUNTIME_H

#include "atlas/base.h"
#include "atlas/cpu.h"
#include "atlas/ir.h"
#include "atlas/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct at_executor at_executor;

#define AT_MAX_THREADS 1024    /* most workers one executor may have */
typedef struct at_program at_program;

/* threads: 0 = one per online CPU.  isa: a level to force, or -1 for the best
 * the CPU supports (a forced level the CPU cannot run is AT_E_VALUE). */
at_status at_executor_create(unsigned threads, int isa, at_executor **out,
                             at_error *err);
void at_executor_destroy(at_executor *ex);
unsigned at_executor_threads(const at_executor *ex);
at_isa at_executor_isa(const at_executor *ex);
at_pool *at_executor_pool(at_executor *ex);

/* How a launch writes the outputs no later instruction reads back.  Cached
 * stores pay a read-for-ownership per line and keep the result for the next
 * op; streaming stores skip both.  Which is faster for the outputs of one
 * launch depends on how much of the last-level cache this process gets at
 * the time, which changes with the neighbours on a shared machine.  AUTO
 * (the default) caches launches whose buffers add up to under 4 MiB, streams
 * from 64 MiB, and in between measures: every 256 launches of one program in
 * one footprint band (4-8, 8-16, 16-32, 32-64 MiB) it runs 4 cached, then 4
 * streamed, and keeps the faster.  Results are bit-identical either way. */
typedef enum at_store_policy {
    AT_STORES_AUTO = 0,
    AT_STORES_CACHED,
    AT_STORES_STREAMED,       /* wherever a kernel has a streaming twin */
    AT_STORES_COUNT
} at_store_policy;
/* AT_E_VALUE for a policy out of range. */
at_status at_executor_set_stores(at_executor *ex, int policy, at_error *err);
at_store_policy at_executor_stores(const at_executor *ex);
const char *at_store_policy_name(at_store_policy p);
/* The policy named "auto", "cached" or "streamed"; -1 for anything else. */
int at_store_policy_parse(const char *name);

/* One launch argument per kernel param, in order. */
typedef struct at_arg {
    void *data;          /* buffer params: element storage           */
    size_t numel;        /* buffer params: number of elements        */
    at_dtype dtype;      /* must equal the param's dtype             */
    union {
        float f32;
        int64_t i64;
    } scalar;   /* scalar params      */
} at_arg;

/* Compile a verified kernel for this executor's ISA level. */
at_status at_compile(at_executor *ex, const at_kernel *k, at_program **out,
                     at_error *err);
void at_program_free(at_program *p);
const at_kernel *at_program_kernel(const at_program *p);
/* A human-readable dump of the block program (for docs and debugging). */
size_t at_program_print(const at_program *p, char *buf, size_t cap);

/* Run p over rows x cols.  Checks every argument against the kernel's
 * params (dtype, and that elem/row buffers hold rows*cols / rows
 * elements); errors name the kernel, the param and the sizes. */
at_status at_launch(at_executor *ex, const at_program *p, size_t rows,
                    size_t cols, const at_arg *args, size_t nargs,
                    at_error *err);

/* A batch of matrices laid out along batch axes: matrix i, its index
 * spelled in the axes' shape (last axis fastest), starts at the sum over
 * the axes of index * step, in elements; a step of 0 repeats the matrix
 * along that axis. */
typedef struct at_gemm_batch {
    int naxes;
    int64_t shape[AT_MAX_DIMS];
    size_t a_step[AT_MAX_DIMS], b_step[AT_MAX_DIMS];
} at_gemm_batch;

/* C_i = A_i · B_i for every matrix i of the batch, all m x n x k: A_i at a
 * (m x k row-major, or (k, m) with AT_GEMM_TRANS_A in flags), B_i at b
 * ((k, n), or (n, k) with AT_GEMM_TRANS_B), each at its batch offset; C_i
 * at c + i * m * n (m x n, overwritten).  The caller vouches for the
 * operands' extents.  Workers split across the batch when the products
 * are small, inside each product when they are large; every C_i has the
 * same bits as one gemm launch of it, with any thread count. */
at_status at_gemm_batched(at_executor *ex, const at_gemm_batch *bt, size_t m,
                          size_t n, size_t k, int flags, const float *a,
                          const float *b, float *c, at_error *err);

/* The FMA peak of this executor's ISA level, in GFLOP/s: the kernel table's
 * register-only multiply-add chains on workers threads at once (0: all of
 * the executor's), the best of five runs of about seconds / 5 each (after
 * a short sizing run on one thread).  At x86-64's SSE2 baseline a
 * multiply-add is a multiply and an add (SSE2 has no FMA instruction), as
 * in that level's GEMM.  0 when out of memory. */
double at_executor_fma_peak(at_executor *ex, unsigned workers, double seconds);

#ifdef __cplusplus
}
#endif
#endif /* ATLAS_RUNTIME_H */
