/* Hologram Atlas — reductions over a contiguous run of floats.
 * Compiled once per ISA level (see ktable.h).
 *
 * sum: four vector accumulators over runs of AT_RSUM_RUN elements (so each
 * float lane adds at most AT_RSUM_RUN / (4 VL) terms), each run's total
 * carried into a double.  The error is that of a short float sum per lane,
 * independent of n; the order is fixed, so results never depend on threads.
 * max/min: vector max/min plus a sticky NaN mask (any NaN -> NaN). */
#include <math.h>
#include "simd.h"
#include "ktable.h"

static double run_sum(size_t n, const float *x)
{
    vf s0 = vf_zero(), s1 = vf_zero(), s2 = vf_zero(), s3 = vf_zero();
    size_t i = 0;
    for (; i + 4 * VL <= n; i += 4 * VL) {
        s0 = vf_add(s0, vf_load(x + i));
        s1 = vf_add(s1, vf_load(x + i + VL));
        s2 = vf_add(s2, vf_load(x + i + 2 * VL));
        s3 = vf_add(s3, vf_load(x + i + 3 * VL));
    }
    for (; i + VL <= n; i += VL)
        s0 = vf_add(s0, vf_load(x + i));
    if (i < n)
        s1 = vf_add(s1, vf_load_n(x + i, n - i));
    return vf_hsum_d(vf_add(vf_add(s0, s1), vf_add(s2, s3)));
}

static double k_rsum(size_t n, const float *x)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i += AT_RSUM_RUN) {
        size_t len = n - i < AT_RSUM_RUN ? n - i : AT_RSUM_RUN;
        total += run_sum(len, x + i);
    }
    return total;
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

void AT_ISA_FN(at_register_reduce)(at_ktable *t)
{
    t->rsum = k_rsum;
    t->rmax = k_rmax;
    t->rmin = k_rmin;
}
