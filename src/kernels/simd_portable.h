/* Vector vocabulary, portable baseline: plain C11, no intrinsics, 4 float
 * lanes held in a union (the same lanes read as float, int32 or uint32 bits).
 * It is the baseline level on every CPU but x86-64 (whose baseline is SSE2,
 * which the ISA guarantees); the compiler vectorises the lane loops where it
 * can.  The semantics are the x86 ones the kernels are written for: min/max
 * return b when either operand is NaN, unordered lanes compare not-equal,
 * float to int32 conversion rounds to nearest even and gives INT32_MIN out
 * of range, fma rounds twice as at the SSE2 level.  Integer lanes compute in
 * uint32 (shifts and sums wrap as the vector instructions do, without C's
 * signed-overflow rules).  See simd.h. */
#include <math.h>

#define VL 4
typedef union at_lanes {
    float f[VL];
    int32_t i[VL];
    uint32_t u[VL];
} at_lanes;
typedef at_lanes vf;
typedef at_lanes vi;
typedef at_lanes vm;

/* One statement per lane, for the definitions below. */
#define AT_LANES(stmt)             \
    for (int l = 0; l < VL; l++) { \
        stmt;                      \
    }
/* name(a, b) sets lane field `field` of each result lane to expr. */
#define AT_MAP2(name, field, expr)    \
    static inline vf name(vf a, vf b) \
    {                                 \
        vf r;                         \
        AT_LANES(r.field[l] = (expr)) \
        return r;                     \
    }
#define AT_FMAP2(name, expr) AT_MAP2(name, f, expr)
#define AT_UMAP2(name, expr) AT_MAP2(name, u, expr)
#define AT_CMP(name, expr) AT_MAP2(name, u, (expr) ? ~0u : 0u)

static inline vf vf_load(const float *p)
{
    vf r;
    memcpy(r.f, p, sizeof r.f);
    return r;
}
static inline void vf_store(float *p, vf v) { memcpy(p, v.f, sizeof v.f); }
static inline vf vf_load_n(const float *p, size_t n)
{
    vf r = {{0.0f, 0.0f, 0.0f, 0.0f}};
    memcpy(r.f, p, n * sizeof(float));
    return r;
}
static inline void vf_store_n(float *p, vf v, size_t n)
{
    memcpy(p, v.f, n * sizeof(float));
}
static inline vf vf_set1(float x)
{
    vf r;
    AT_LANES(r.f[l] = x);
    return r;
}
static inline vf vf_zero(void) { return vf_set1(0.0f); }
AT_FMAP2(vf_add, a.f[l] + b.f[l])
AT_FMAP2(vf_sub, a.f[l] - b.f[l])
AT_FMAP2(vf_mul, a.f[l] * b.f[l])
AT_FMAP2(vf_div, a.f[l] / b.f[l])
AT_FMAP2(vf_min, a.f[l] < b.f[l] ? a.f[l] : b.f[l])
AT_FMAP2(vf_max, a.f[l] > b.f[l] ? a.f[l] : b.f[l])
AT_UMAP2(vf_and, a.u[l] & b.u[l])
AT_UMAP2(vf_andnot, ~a.u[l] & b.u[l])
AT_UMAP2(vf_or, a.u[l] | b.u[l])
AT_UMAP2(vf_xor, a.u[l] ^ b.u[l])
/* two roundings, as at the SSE2 level (see simd_sse2.h) */
static inline vf vf_fma(vf a, vf b, vf c) { return vf_add(vf_mul(a, b), c); }
static inline vf vf_fnma(vf a, vf b, vf c) { return vf_sub(c, vf_mul(a, b)); }
/* an exact reciprocal is at least as good as the x86 estimate */
static inline vf vf_rcp(vf a) { return vf_div(vf_set1(1.0f), a); }
static inline vf vf_sqrt(vf a)
{
    vf r;
    AT_LANES(r.f[l] = sqrtf(a.f[l]));
    return r;
}
static inline vf vf_round(vf a) /* nearest even (the default mode) */
{
    vf r;
    AT_LANES(r.f[l] = rintf(a.f[l]));
    return r;
}
static inline vf vf_floor(vf a)
{
    vf r;
    AT_LANES(r.f[l] = floorf(a.f[l]));
    return r;
}

AT_CMP(vf_lt, a.f[l] < b.f[l])
AT_CMP(vf_le, a.f[l] <= b.f[l])
AT_CMP(vf_gt, a.f[l] > b.f[l])
AT_CMP(vf_ge, a.f[l] >= b.f[l])
AT_CMP(vf_eq, a.f[l] == b.f[l])
AT_CMP(vf_ne, !(a.f[l] == b.f[l]))
static inline vm vf_isnan(vf a) { return vf_ne(a, a); }
static inline vf vf_select(vm m, vf a, vf b)
{
    vf r;
    AT_LANES(r.u[l] = (m.u[l] & a.u[l]) | (~m.u[l] & b.u[l]));
    return r;
}
static inline vm vm_or(vm a, vm b) { return vf_or(a, b); }
static inline vm vm_and(vm a, vm b) { return vf_and(a, b); }
static inline vm vm_andnot(vm a, vm b) { return vf_andnot(a, b); }
static inline vm vm_none(void) { return vf_zero(); }
static inline int vm_any(vm m)
{
    return (m.u[0] | m.u[1] | m.u[2] | m.u[3]) != 0;
}
static inline vm vm_load(const int32_t *p)
{
    vm r;
    memcpy(r.i, p, sizeof r.i);
    return r;
}
static inline void vm_store(int32_t *p, vm m) { memcpy(p, m.i, sizeof m.i); }

static inline vi vf_cvt_i(vf a)
{
    vi r;
    AT_LANES({
        float t = rintf(a.f[l]);
        r.i[l] = t >= -0x1p31f && t < 0x1p31f ? (int32_t)t : INT32_MIN;
    });
    return r;
}
static inline vf vi_cvt_f(vi a)
{
    vf r;
    AT_LANES(r.f[l] = (float)a.i[l]);
    return r;
}
static inline vi vf_as_vi(vf a) { return a; }
static inline vf vi_as_vf(vi a) { return a; }
static inline vi vi_set1(int32_t x)
{
    vi r;
    AT_LANES(r.i[l] = x);
    return r;
}
AT_UMAP2(vi_add, a.u[l] + b.u[l])
AT_UMAP2(vi_sub, a.u[l] - b.u[l])
AT_UMAP2(vi_and, a.u[l] & b.u[l])
AT_UMAP2(vi_or, a.u[l] | b.u[l])
static inline vm vi_gt(vi a, vi b)
{
    vm r;
    AT_LANES(r.u[l] = a.i[l] > b.i[l] ? ~0u : 0u);
    return r;
}
static inline vm vi_eq(vi a, vi b)
{
    vm r;
    AT_LANES(r.u[l] = a.u[l] == b.u[l] ? ~0u : 0u);
    return r;
}
static inline vi at_vi_shift(vi a, int imm, int kind)
{
    vi r;
    AT_LANES(r.u[l] = kind == 0   ? a.u[l] << imm
                      : kind == 1 ? a.u[l] >> imm
                                  : (uint32_t)(a.i[l] >> imm));
    return r;
}
#define vi_slli(a, imm) at_vi_shift((a), (imm), 0)
#define vi_srli(a, imm) at_vi_shift((a), (imm), 1)
#define vi_srai(a, imm) at_vi_shift((a), (imm), 2)

/* Entry i & 3 of the 4-float column c in each lane. */
static inline vf vf_lookup4(const float *c, vi i)
{
    vf r;
    AT_LANES(r.f[l] = c[i.u[l] & 3u]);
    return r;
}

/* Streaming stores: plain C has none; the _nt kernels store as the others
 * do and need no fence. */
static inline void vf_stream(float *p, vf v) { vf_store(p, v); }
static inline void vf_stream_fence(void) {}

/* Doubles, VL / 2 lanes (see simd.h). */
typedef union at_dlanes {
    double d[VL / 2];
    int64_t i[VL / 2];
    uint64_t u[VL / 2];
} at_dlanes;
typedef at_dlanes vd;
typedef at_dlanes vdi;
#define AT_DMAP2(name, expr)             \
    static inline vd name(vd a, vd b)    \
    {                                    \
        vd r;                            \
        for (int l = 0; l < VL / 2; l++) \
            expr;                        \
        return r;                        \
    }
AT_DMAP2(vd_add, r.d[l] = a.d[l] + b.d[l])
AT_DMAP2(vd_sub, r.d[l] = a.d[l] - b.d[l])
AT_DMAP2(vd_mul, r.d[l] = a.d[l] * b.d[l])
AT_DMAP2(vd_div, r.d[l] = a.d[l] / b.d[l])
AT_DMAP2(vd_min, r.d[l] = a.d[l] < b.d[l] ? a.d[l] : b.d[l])
AT_DMAP2(vd_max, r.d[l] = a.d[l] > b.d[l] ? a.d[l] : b.d[l])
AT_DMAP2(vdi_add, r.u[l] = a.u[l] + b.u[l])
static inline vd vd_set1(double a)
{
    vd r = {{a, a}};
    return r;
}
/* two roundings, irrelevant at double precision here (as at SSE2) */
static inline vd vd_fma(vd a, vd b, vd c) { return vd_add(vd_mul(a, b), c); }
static inline vdi vd_as_i(vd a) { return a; }
static inline vd vdi_as_d(vdi a) { return a; }
static inline vdi vdi_set1(long long a)
{
    vdi r;
    r.i[0] = r.i[1] = (int64_t)a;
    return r;
}
static inline vdi at_vdi_slli(vdi a, int imm)
{
    a.u[0] <<= imm;
    a.u[1] <<= imm;
    return a;
}
#define vdi_slli(a, imm) at_vdi_slli((a), (imm))
static inline vd at_vd_pair(double lo, double hi)
{
    vd r = {{lo, hi}};
    return r;
}
static inline vd vd_lo(vf a) { return at_vd_pair(a.f[0], a.f[1]); }
static inline vd vd_hi(vf a) { return at_vd_pair(a.f[2], a.f[3]); }
static inline vd vd_lo_i(vi a) { return at_vd_pair(a.i[0], a.i[1]); }
static inline vd vd_hi_i(vi a) { return at_vd_pair(a.i[2], a.i[3]); }
static inline vf vf_from_vd(vd lo, vd hi)
{
    vf r = {{(float)lo.d[0], (float)lo.d[1], (float)hi.d[0], (float)hi.d[1]}};
    return r;
}
