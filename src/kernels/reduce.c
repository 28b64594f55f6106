/* Hologram Atlas — reductions over a contiguous run of floats.
 * Compiled once per ISA level (see ktable.h).
 *
 * sum: four vector accumulators over runs of AT_RSUM_RUN elements (so each
 * float lane adds at most AT_RSUM_RUN / (4 VL) terms), each run's total
 * carried into a double.  The error is that of a short float sum per lane,
 * independent of n; the order is fixed, so results never depend on threads.
 * max/min: vector max/min plus a sticky NaN mask (any NaN -> NaN).
 * argmax/argmin along a row: the max/min, then the first element equal to
 * it.  Over the rows (one result per column): the column's rows in order,
 * one vector of columns at a time, so every ISA level gives the same bits. */
#include <math.h>
#include <string.h>
#include "simd.h"
#include "ktable.h"

/* What a sum's terms are: x itself (SUM_X), d = x - s written to y and
 * squared (SUM_SQ_SLOT), the same with d not written (SUM_SQ_SUB), d = x - b
 * squared, d not written (SUM_SQ_DIFF), or x squared, nothing written
 * (SUM_SQ). */
enum {
    SUM_X,
    SUM_SQ_SLOT,
    SUM_SQ_SUB,
    SUM_SQ_DIFF,
    SUM_SQ
};

/* One vector of a sum's terms at element i (see the enum). */
AT_INLINE vf sum_term(float *y, const float *x, const float *b, size_t i, vf s,
                      int kind)
{
    vf v = vf_load(x + i);
    if (kind == SUM_X)
        return v;
    if (kind == SUM_SQ)
        return vf_mul(v, v);
    if (kind == SUM_SQ_DIFF) {
        v = vf_sub(v, vf_load(b + i));
        return vf_mul(v, v);
    }
    v = vf_sub(v, s);
    if (kind == SUM_SQ_SLOT)
        vf_store(y + i, v);
    return vf_mul(v, v);
}

/* The sum of one run of n terms; the squared kinds take the same
 * association as the plain sum of the squares (the tail's lanes past n are
 * 0 in both). */
AT_INLINE double run_sum(size_t n, float *y, const float *x, const float *b,
                         vf s, int kind)
{
    vf s0 = vf_zero(), s1 = vf_zero(), s2 = vf_zero(), s3 = vf_zero();
    size_t i = 0;
    for (; i + 4 * VL <= n; i += 4 * VL) {
        s0 = vf_add(s0, sum_term(y, x, b, i, s, kind));
        s1 = vf_add(s1, sum_term(y, x, b, i + VL, s, kind));
        s2 = vf_add(s2, sum_term(y, x, b, i + 2 * VL, s, kind));
        s3 = vf_add(s3, sum_term(y, x, b, i + 3 * VL, s, kind));
    }
    for (; i + VL <= n; i += VL)
        s0 = vf_add(s0, sum_term(y, x, b, i, s, kind));
    if (i < n) {
        vf v = vf_load_n(x + i, n - i);
        if (kind == SUM_SQ_DIFF) {
            v = vf_sub(v, vf_load_n(b + i, n - i)); /* 0 - 0 past n - i */
            v = vf_mul(v, v);
        } else if (kind == SUM_SQ) {
            v = vf_mul(v, v); /* 0 * 0 past n - i */
        } else if (kind != SUM_X) {
            float t[VL]; /* d's n - i lanes, when y does not take them */
            float *d = kind == SUM_SQ_SLOT ? y + i : t;
            vf_store_n(d, vf_sub(v, s), n - i);
            v = vf_load_n(d, n - i); /* lanes past n - i read as 0 */
            v = vf_mul(v, v);
        }
        s1 = vf_add(s1, v);
    }
    return vf_hsum_d(vf_add(vf_add(s0, s1), vf_add(s2, s3)));
}

/* The sum of n terms in runs of AT_RSUM_RUN, each run's total carried into
 * a double. */
AT_INLINE double runs_sum(size_t n, float *y, const float *x, const float *b,
                          vf s, int kind)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i += AT_RSUM_RUN) {
        size_t len = n - i < AT_RSUM_RUN ? n - i : AT_RSUM_RUN;
        total +=
            run_sum(len, y ? y + i : NULL, x + i, b ? b + i : NULL, s, kind);
    }
    return total;
}

static double k_rsum(size_t n, const float *x)
{
    return runs_sum(n, NULL, x, NULL, vf_zero(), SUM_X);
}

/* y = x - s and the sum of y * y in one pass (the lowering's fuse_sub_sq_sum):
 * y as sub writes it, the sum bit-identical to rsum over mul's y * y. */
static double k_sub_sq_sum(size_t n, float *y, const float *x, float s)
{
    return runs_sum(n, y, x, NULL, vf_set1(s), SUM_SQ_SLOT);
}

/* The sum of (x - s) * (x - s) in one pass, nothing written: sub_sq_sum's
 * sum without its y (the lowering's fuse_sub_sq_sum when only the square
 * reads x - s). */
static double k_sq_sub_sum(size_t n, const float *x, float s)
{
    return runs_sum(n, NULL, x, NULL, vf_set1(s), SUM_SQ_SUB);
}

/* The sum of (a - b) * (a - b) in one pass, nothing written (the lowering's
 * fuse_sub_sq_sum on two vectors: mse_loss): bit-identical to rsum over mul
 * of sub's a - b. */
static double k_diff_sq_sum(size_t n, const float *a, const float *b)
{
    return runs_sum(n, NULL, a, b, vf_zero(), SUM_SQ_DIFF);
}

/* The sum of x * x in one pass, nothing written (the lowering's fuse_rms:
 * RMS norm's mean square): bit-identical to rsum over mul's x * x. */
static double k_sq_sum(size_t n, const float *x)
{
    return runs_sum(n, NULL, x, NULL, vf_zero(), SUM_SQ);
}

typedef vf (*vop2)(vf, vf);

AT_INLINE float minmax(size_t n, const float *x, vop2 op, float (*hreduce)(vf),
                       float empty)
{
    if (n == 0)
        return empty;
    vf init = vf_set1(x[0]);
    vf m0 = init, m1 = init, m2 = init, m3 = init;
    vm nan = vm_none();
    size_t i = 0;
    for (; i + 4 * VL <= n; i += 4 * VL) {
        vf a0 = vf_load(x + i), a1 = vf_load(x + i + VL);
        vf a2 = vf_load(x + i + 2 * VL), a3 = vf_load(x + i + 3 * VL);
        nan = vm_or(nan, vm_or(vm_or(vf_isnan(a0), vf_isnan(a1)),
                               vm_or(vf_isnan(a2), vf_isnan(a3))));
        m0 = op(m0, a0);
        m1 = op(m1, a1);
        m2 = op(m2, a2);
        m3 = op(m3, a3);
    }
    for (; i + VL <= n; i += VL) {
        vf a = vf_load(x + i);
        nan = vm_or(nan, vf_isnan(a));
        m0 = op(m0, a);
    }
    if (i < n) {
        /* pad the tail with x[0], which is already part of the result */
        float t[VL];
        for (int l = 0; l < VL; l++)
            t[l] = x[0];
        for (size_t l = 0; l < n - i; l++)
            t[l] = x[i + l];
        vf a = vf_load(t);
        nan = vm_or(nan, vf_isnan(a));
        m0 = op(m0, a);
    }
    nan = vm_or(nan, vf_isnan(init));
    if (vm_any(nan))
        return NAN;
    return hreduce(op(op(m0, m1), op(m2, m3)));
}

static float k_rmax(size_t n, const float *x)
{
    return minmax(n, x, vf_max, vf_hmax, -INFINITY);
}
static float k_rmin(size_t n, const float *x)
{
    return minmax(n, x, vf_min, vf_hmin, INFINITY);
}

/* ---- along a row: the index of the first maximum / minimum ------------- */

/* The first i with x[i] == m, or with x[i] NaN when m is NaN; n > 0 and such
 * an i exists (m is the row's max or min). */
static size_t first_index(size_t n, const float *x, float m)
{
    int nan = isnan(m);
    vf mv = vf_set1(m);
    size_t i = 0;
    for (; i + VL <= n; i += VL) {
        vf a = vf_load(x + i);
        if (vm_any(nan ? vf_isnan(a) : vf_eq(a, mv)))
            break;
    }
    for (; i < n; i++)
        if (nan ? isnan(x[i]) : x[i] == m)
            return i;
    return 0; /* not reached: m is one of x's elements */
}

static size_t k_rargmax(size_t n, const float *x)
{
    return first_index(n, x, k_rmax(n, x));
}
static size_t k_rargmin(size_t n, const float *x)
{
    return first_index(n, x, k_rmin(n, x));
}

/* ---- over the rows: one result per column ------------------------------- */

/* acc[c..c+w) = op(acc, row) for the k (1 to 8) rows at p, p + ld, ...,
 * in that order; w == VL, or a tail of w < VL. */
AT_INLINE void fold_vec(size_t k, size_t w, size_t ld, const float *p,
                        float *acc, vop2 op)
{
    vf a = load_upto(acc, w);
    for (size_t i = 0; i < k; i++)
        a = op(a, load_upto(p + i * ld, w));
    store_upto(acc, a, w);
}

/* acc[c] = op(acc[c], x[r][c]) for each row r of x in order (row r at
 * x + r * ld), c < n: eight rows per pass over acc, which stays in L1. */
AT_INLINE void fold_rows(size_t rows, size_t n, size_t ld, const float *x,
                         float *acc, vop2 op)
{
    for (size_t r = 0; r < rows; r += 8) {
        size_t k = rows - r < 8 ? rows - r : 8, c = 0;
        const float *p = x + r * ld;
        if (k == 8)
            for (; c + VL <= n; c += VL)
                fold_vec(8, VL, ld, p + c, acc + c, op);
        for (; c + VL <= n; c += VL)
            fold_vec(k, VL, ld, p + c, acc + c, op);
        if (c < n)
            fold_vec(k, n - c, ld, p + c, acc + c, op);
    }
}

/* sum[c] += acc[c] in double, for c < n. */
static void add_to_double(size_t n, const float *acc, double *sum)
{
    size_t c = 0;
    for (; c + VL <= n; c += VL) {
        vf a = vf_load(acc + c);
        vd lo, hi;
        memcpy(&lo, sum + c, sizeof lo);
        memcpy(&hi, sum + c + VL / 2, sizeof hi);
        lo = vd_add(lo, vd_lo(a));
        hi = vd_add(hi, vd_hi(a));
        memcpy(sum + c, &lo, sizeof lo);
        memcpy(sum + c + VL / 2, &hi, sizeof hi);
    }
    for (; c < n; c++)
        sum[c] += (double)acc[c];
}

/* sum[c] += x[0][c] + ... + x[rows-1][c] for c < n (row r at x + r * ld):
 * each column adds its rows in order in a float lane, restarted at zero
 * every AT_CSUM_RUN rows, and each run's total is added to sum[c] in double.
 * The order is per column, so the result is the same at every ISA level.
 * acc is scratch for n floats. */
static void k_csum(size_t rows, size_t n, size_t ld, const float *x, float *acc,
                   double *sum)
{
    for (size_t r0 = 0; r0 < rows; r0 += AT_CSUM_RUN) {
        size_t len = rows - r0 < AT_CSUM_RUN ? rows - r0 : AT_CSUM_RUN;
        memset(acc, 0, n * sizeof *acc);
        fold_rows(len, n, ld, x + r0 * ld, acc, vf_add);
        add_to_double(n, acc, sum);
    }
}

/* max/min of m and a with NaN propagating from either side. */
AT_INLINE vf nan_max(vf m, vf a)
{
    return vf_select(vf_isnan(a), a, vf_max(a, m));
}
AT_INLINE vf nan_min(vf m, vf a)
{
    return vf_select(vf_isnan(a), a, vf_min(a, m));
}

/* acc[c] = the max (min) of x[0..rows)[c] for c < n; NaN if any is NaN.
 * rows > 0. */
AT_INLINE void cminmax(size_t rows, size_t n, size_t ld, const float *x,
                       float *acc, vop2 op)
{
    memcpy(acc, x, n * sizeof *acc);
    fold_rows(rows - 1, n, ld, x + ld, acc, op);
}

static void k_cmax(size_t rows, size_t n, size_t ld, const float *x, float *acc)
{
    cminmax(rows, n, ld, x, acc, nan_max);
}
static void k_cmin(size_t rows, size_t n, size_t ld, const float *x, float *acc)
{
    cminmax(rows, n, ld, x, acc, nan_min);
}

/* Row r (its value a, its index as int32 bits in rv) against the best so
 * far: a NaN wins once, and nothing replaces it. */
AT_INLINE void arg_step(vf a, vf rv, vf *b, vf *at, vm (*better)(vf, vf))
{
    vm take = vm_or(better(a, *b), vm_andnot(vf_isnan(*b), vf_isnan(a)));
    *b = vf_select(take, a, *b);
    *at = vf_select(take, rv, *at);
}

/* best[c], idx[c] = the value and row of the first maximum (vf_gt) or
 * minimum (vf_lt) of x[0..rows)[c], or of its first NaN.  rows > 0.  Row
 * by row, two rows per pass over best and idx. */
AT_INLINE void cargbest(size_t rows, size_t n, size_t ld, const float *x,
                        float *best, int32_t *idx, vm (*better)(vf, vf))
{
    memcpy(best, x, n * sizeof *best);
    memset(idx, 0, n * sizeof *idx);
    for (size_t r = 1; r < rows; r += 2) {
        const float *p = x + r * ld;
        int two = r + 1 < rows;
        vf r0 = vi_as_vf(vi_set1((int32_t)r));
        vf r1 = vi_as_vf(vi_set1((int32_t)r + 1));
        for (size_t c = 0; c < n; c += VL) {
            size_t w = n - c < VL ? n - c : VL;
            vf b = load_upto(best + c, w);
            vf at = load_upto((const float *)(idx + c), w);
            arg_step(load_upto(p + c, w), r0, &b, &at, better);
            if (two)
                arg_step(load_upto(p + ld + c, w), r1, &b, &at, better);
            store_upto(best + c, b, w);
            store_upto((float *)(idx + c), at, w);
        }
    }
}

static void k_cargmax(size_t rows, size_t n, size_t ld, const float *x,
                      float *best, int32_t *idx)
{
    cargbest(rows, n, ld, x, best, idx, vf_gt);
}
static void k_cargmin(size_t rows, size_t n, size_t ld, const float *x,
                      float *best, int32_t *idx)
{
    cargbest(rows, n, ld, x, best, idx, vf_lt);
}

void AT_ISA_FN(at_register_reduce)(at_ktable *t)
{
    t->rsum = k_rsum;
    t->sub_sq_sum = k_sub_sq_sum;
    t->diff_sq_sum = k_diff_sq_sum;
    t->sq_sub_sum = k_sq_sub_sum;
    t->rmax = k_rmax;
    t->rmin = k_rmin;
    t->rargmax = k_rargmax;
    t->rargmin = k_rargmin;
    t->csum = k_csum;
    t->cmax = k_cmax;
    t->cmin = k_cmin;
    t->cargmax = k_cargmax;
    t->cargmin = k_cargmin;
    t->sq_sum = k_sq_sum;
}
