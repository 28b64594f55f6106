/* Hologram Atlas — SGEMM tile kernel (BLIS-style packed, cache-blocked).
 *
 * C[m0:m1, n0:n1] = A[m0:m1, :] · B[:, n0:n1], row-major, overwritten.
 *
 * Loop nest (per tile call, all state in ws):
 *
 *   for jc in n0..n1 step NC            B panel columns
 *     for pc in 0..k step KC            depth block
 *       pack B[pc:+kc, jc:+nc]  -> NR-wide slivers  (kc x NR, L1-resident)
 *       for ic in m0..m1 step MC
 *         pack A[ic:+mc, pc:+kc] -> MR-tall slivers  (mc x kc, L2-resident)
 *         for jr step NR, ir step MR: micro-kernel MR x NR over kc
 *
 * k, the tile's rows and its columns are cut into near-equal blocks of at
 * most KC / MC / NC.  The first depth block overwrites C, later ones
 * accumulate into it.  Packed slivers are zero-padded to full MR / NR, so
 * the micro-kernel always runs the full register tile and only its store is
 * clipped (masked stores, never a write outside the tile).  The micro-kernel
 * prefetches its C rows while it runs.
 *
 * When a tile has few NR slivers the A pack is not amortised; then full-height
 * A slivers are read in place (row stride lda) by a second instantiation of the
 * same micro-kernel, and only a ragged bottom sliver is packed.
 *
 * Register tiles (MR x NR, MR * NR / VL accumulator vectors in registers):
 *   SSE2    6 x 8   KC 256  MC  72  NC 3072  (A packed pre-broadcast, x4)
 *   AVX2    6 x 16  KC 384  MC 144  NC 3072
 *   AVX-512 12 x 32 KC 384  MC  96  NC 3072  (compiled, not benchmarked)
 *   NEON     8 x 8  KC 384  MC  96  NC 3072  (16 accumulators, 2 B vectors
 *                                             and 8 A lanes: 26 of NEON's 32
 *                                             registers; not benchmarked)
 * Blocks for Zen 3 (32 KiB L1d, 512 KiB L2): packed A block (MC x KC) sits in
 * L2, the B sliver (KC x NR) mostly in L1, the B panel (KC x NC) in L3.  The
 * NEON blocks suit cores with a 64 KiB L1d and a 1 MiB L2 (Neoverse N1/V1):
 * a 12 KiB B sliver, a 144 KiB packed A block.  A 12 x 8 NEON tile would
 * need 24 accumulators plus 12 A lanes, more than 32 registers: the
 * compiler then spills accumulators in the loop (docs/performance.md).
 */
#include "simd.h"
#include "ktable.h"

#define GEMM_NV 2 /* vectors per micro-tile row */
#if AT_ISA_LEVEL == 2
#define GEMM_MR_DEF 12
#define GEMM_KC_DEF 384
#define GEMM_MC_DEF 96
#define GEMM_NC_DEF 3072
#elif AT_ISA_LEVEL == 3
#define GEMM_MR_DEF 8
#define GEMM_KC_DEF 384
#define GEMM_MC_DEF 96
#define GEMM_NC_DEF 3072
#elif AT_ISA_LEVEL == 1
#define GEMM_MR_DEF 6
#define GEMM_KC_DEF 384
#define GEMM_MC_DEF 144
#define GEMM_NC_DEF 3072
#else /* A packed pre-broadcast (x VL): keep the MC x KC block in L2 */
#define GEMM_MR_DEF 6
#define GEMM_KC_DEF 256
#define GEMM_MC_DEF 72
#define GEMM_NC_DEF 3072
#endif
/* -DGEMM_xx=... overrides are for tuning experiments only. */
#ifndef GEMM_MR
#define GEMM_MR GEMM_MR_DEF
#endif
#ifndef GEMM_KC
#define GEMM_KC GEMM_KC_DEF
#endif
#ifndef GEMM_MC
#define GEMM_MC GEMM_MC_DEF
#endif
#ifndef GEMM_NC
#define GEMM_NC GEMM_NC_DEF
#endif
#define GEMM_NR (GEMM_NV * VL)

/* Floats stored per packed A element.  SSE2 has no broadcast-from-memory
 * (set1 is movss + shufps, which competes with mulps/addps for the FP
 * pipes), so at that level the A pack stores each element pre-broadcast
 * to a full vector and the micro-kernel just loads it. */
#if AT_ISA_LEVEL == 0
#define GEMM_AB VL
#else
#define GEMM_AB 1
#endif

/* Read A in place instead of packing when the tile has at most this many
 * NR slivers in the current NC block. */
#ifndef GEMM_DIRECT_A_SLIVERS
#define GEMM_DIRECT_A_SLIVERS 16
#endif

#define GEMM_STR_(x) #x
#define GEMM_STR(x) GEMM_STR_(x)
#define GEMM_UNROLL(n) _Pragma(GEMM_STR(GCC unroll n))

#define GEMM_A_BYTES ((size_t)GEMM_MC * GEMM_KC * GEMM_AB * sizeof(float))
#define GEMM_B_BYTES ((size_t)GEMM_KC * GEMM_NC * sizeof(float))

static inline size_t gemm_min(size_t a, size_t b) { return a < b ? a : b; }

/* Block size for splitting len into ceil(len / max) near-equal blocks, each
 * a multiple of quantum and at most max (max is a multiple of quantum). */
static inline size_t gemm_balance(size_t len, size_t max, size_t quantum)
{
    size_t nblk = (len + max - 1) / max;
    if (nblk == 0)
        return max;
    size_t b = (len + nblk - 1) / nblk;
    b = (b + quantum - 1) / quantum * quantum;
    return b < max ? b : max;
}

/* Store the accumulators to C (overwrite, or add when acc != 0), clipped to
 * the first mr rows and nr columns. */
AT_INLINE void gemm_store(vf cr[GEMM_MR][GEMM_NV], float *restrict c,
                          size_t ldc, size_t mr, size_t nr, int acc)
{
    if (mr == GEMM_MR && nr == GEMM_NR) {
        GEMM_UNROLL(16)
        for (int r = 0; r < GEMM_MR; r++) {
            GEMM_UNROLL(4)
            for (int v = 0; v < GEMM_NV; v++) {
                float *cp = c + (size_t)r * ldc + (size_t)v * VL;
                vf x = cr[r][v];
                if (acc)
                    x = vf_add(x, vf_load(cp));
                vf_store(cp, x);
            }
        }
        return;
    }
    GEMM_UNROLL(16)
    for (int r = 0; r < GEMM_MR; r++) {
        if ((size_t)r >= mr)
            break;
        GEMM_UNROLL(4)
        for (int v = 0; v < GEMM_NV; v++) {
            size_t col = (size_t)v * VL;
            if (col >= nr)
                break;
            float *cp = c + (size_t)r * ldc + col;
            size_t w = nr - col;
            vf x = cr[r][v];
            if (w >= VL) {
                if (acc)
                    x = vf_add(x, vf_load(cp));
                vf_store(cp, x);
            } else {
                if (acc)
                    x = vf_add(x, vf_load_n(cp, w));
                vf_store_n(cp, x, w);
            }
        }
    }
}

/* MR x NR micro-kernel over kc.  A element (r, p) is a[r * rsa + p * csa]
 * (pre != 0: a full pre-broadcast vector there); b is a packed sliver (kc
 * rows of NR floats). */
AT_INLINE void gemm_ukr(size_t kc, const float *restrict a, size_t rsa,
                        size_t csa, const float *restrict b, float *restrict c,
                        size_t ldc, size_t mr, size_t nr, int acc, int pre)
{
    vf cr[GEMM_MR][GEMM_NV];
    GEMM_UNROLL(16)
    for (int r = 0; r < GEMM_MR; r++) {
        GEMM_UNROLL(4)
        for (int v = 0; v < GEMM_NV; v++)
            cr[r][v] = vf_zero();
    }
    /* Pull this C tile toward L1 while the kc loop runs (first and last
     * element of each row: rows are only 4-byte aligned). */
    GEMM_UNROLL(16)
    for (int r = 0; r < GEMM_MR; r++) {
        if ((size_t)r >= mr)
            break;
        __builtin_prefetch(c + (size_t)r * ldc, 1, 3);
        __builtin_prefetch(c + (size_t)r * ldc + nr - 1, 1, 3);
    }
    GEMM_UNROLL(4)
    for (size_t p = 0; p < kc; p++) {
        vf bv[GEMM_NV];
        GEMM_UNROLL(4)
        for (int v = 0; v < GEMM_NV; v++)
            bv[v] = vf_load(b + v * VL);
        GEMM_UNROLL(16)
        for (int r = 0; r < GEMM_MR; r++) {
            vf ar = pre ? vf_load(a + (size_t)r * rsa)
                        : vf_set1(a[(size_t)r * rsa]);
            GEMM_UNROLL(4)
            for (int v = 0; v < GEMM_NV; v++)
                cr[r][v] = vf_fma(ar, bv[v], cr[r][v]);
        }
        a += csa;
        b += GEMM_NR;
    }
    gemm_store(cr, c, ldc, mr, nr, acc);
}

/* Packed A sliver (MR elements of GEMM_AB floats per depth step). */
static __attribute__((noinline)) void
gemm_ukr_packed(size_t kc, const float *restrict a, const float *restrict b,
                float *restrict c, size_t ldc, size_t mr, size_t nr, int acc)
{
    gemm_ukr(kc, a, GEMM_AB, GEMM_MR * GEMM_AB, b, c, ldc, mr, nr, acc,
             GEMM_AB > 1);
}

/* A read in place: full MR rows with row stride lda. */
static __attribute__((noinline)) void
gemm_ukr_direct(size_t kc, const float *restrict a, size_t lda,
                const float *restrict b, float *restrict c, size_t ldc, int acc)
{
    gemm_ukr(kc, a, lda, 1, b, c, ldc, GEMM_MR, GEMM_NR, acc, 0);
}

/* Pack B[0:kc, 0:nc] (row stride ldb) into NR-wide slivers, zero-padded.
 * Sliver s holds columns [s*NR, s*NR + NR) as kc rows of NR floats.  The full
 * slivers are filled row by row, so B is read in its own order (whole lines,
 * one stream the hardware prefetcher follows) and each row's NR-wide pieces
 * go to the slivers; reading one sliver at a time would instead walk kc rows
 * ldb apart for every NR columns. */
static void gemm_pack_b(size_t kc, size_t nc, const float *restrict b,
                        size_t ldb, float *restrict bp)
{
    size_t nfull = nc / GEMM_NR * GEMM_NR;
    size_t sliver = kc * GEMM_NR;
    for (size_t p = 0; p < kc; p++) {
        const float *src = b + p * ldb;
        float *dst = bp + p * GEMM_NR;
        for (size_t j = 0; j < nfull; j += GEMM_NR) {
            GEMM_UNROLL(4)
            for (int v = 0; v < GEMM_NV; v++)
                vf_store(dst + v * VL, vf_load(src + j + v * VL));
            dst += sliver;
        }
    }
    size_t nr = nc - nfull;
    if (nr == 0)
        return;
    const float *src = b + nfull;
    bp += (nfull / GEMM_NR) * sliver;
    for (size_t p = 0; p < kc; p++) {
        GEMM_UNROLL(4)
        for (int v = 0; v < GEMM_NV; v++) {
            size_t col = (size_t)v * VL;
            size_t w = nr > col ? nr - col : 0;
            vf x = w >= VL ? vf_load(src + col)
                   : w > 0 ? vf_load_n(src + col, w)
                           : vf_zero();
            vf_store(bp + col, x);
        }
        src += ldb;
        bp += GEMM_NR;
    }
}

/* Store one packed A element (GEMM_AB copies). */
static inline void gemm_put_a(float *restrict ap, float x)
{
#if GEMM_AB > 1
    vf_store(ap, vf_set1(x));
#else
    *ap = x;
#endif
}

/* Pack one A sliver: rows [0:mr) (row stride lda), depth [0:kc), MR
 * elements per depth step, rows mr..MR zero. */
static void gemm_pack_a_sliver(size_t kc, size_t mr, const float *restrict a,
                               size_t lda, float *restrict ap)
{
    if (mr == GEMM_MR) {
        size_t p = 0;
        /* VL depth steps at a time: load a VL-wide run of each row, scatter
         * through a small transpose buffer the compiler keeps in L1. */
        for (; p + VL <= kc; p += VL) {
            float t[GEMM_MR][VL];
            GEMM_UNROLL(16)
            for (int r = 0; r < GEMM_MR; r++)
                vf_store(t[r], vf_load(a + (size_t)r * lda + p));
            for (int q = 0; q < VL; q++) {
                GEMM_UNROLL(16)
                for (int r = 0; r < GEMM_MR; r++)
                    gemm_put_a(ap + (q * GEMM_MR + r) * GEMM_AB, t[r][q]);
            }
            ap += VL * GEMM_MR * GEMM_AB;
        }
        for (; p < kc; p++) {
            GEMM_UNROLL(16)
            for (int r = 0; r < GEMM_MR; r++)
                gemm_put_a(ap + r * GEMM_AB, a[(size_t)r * lda + p]);
            ap += GEMM_MR * GEMM_AB;
        }
        return;
    }
    for (size_t p = 0; p < kc; p++) {
        for (size_t r = 0; r < GEMM_MR; r++)
            gemm_put_a(ap + r * GEMM_AB, r < mr ? a[r * lda + p] : 0.0f);
        ap += GEMM_MR * GEMM_AB;
    }
}

static void gemm_tile(const at_gemm_args *g, size_t m0, size_t m1, size_t n0,
                      size_t n1, void *ws)
{
    if (m1 <= m0 || n1 <= n0)
        return;
    const size_t k = g->k, lda = g->lda, ldb = g->ldb, ldc = g->ldc;
    float *const c = g->c;

    if (k == 0) {
        for (size_t i = m0; i < m1; i++)
            memset(c + i * ldc + n0, 0, (n1 - n0) * sizeof(float));
        return;
    }

    float *const bpk = (float *)ws;
    float *const apk = (float *)((char *)ws + GEMM_B_BYTES);

    /* Split k and the tile's rows into near-equal blocks (no short last
     * block: a short kc pays the C update for little work). */
    const size_t kb = gemm_balance(k, GEMM_KC, 1);
    const size_t mb = gemm_balance(m1 - m0, GEMM_MC, GEMM_MR);
    const size_t nb = gemm_balance(n1 - n0, GEMM_NC, GEMM_NR);

    for (size_t jc = n0; jc < n1; jc += nb) {
        const size_t nc = gemm_min(nb, n1 - jc);
        const int direct =
            (nc + GEMM_NR - 1) / GEMM_NR <= GEMM_DIRECT_A_SLIVERS;
        for (size_t pc = 0; pc < k; pc += kb) {
            const size_t kc = gemm_min(kb, k - pc);
            const int acc = pc > 0;
            gemm_pack_b(kc, nc, g->b + pc * ldb + jc, ldb, bpk);
            for (size_t ic = m0; ic < m1; ic += mb) {
                const size_t mc = gemm_min(mb, m1 - ic);
                const float *ablk = g->a + ic * lda + pc;
                if (direct) {
                    /* Only a ragged bottom sliver gets packed. */
                    const size_t mfull = mc - mc % GEMM_MR;
                    if (mfull < mc)
                        gemm_pack_a_sliver(kc, mc - mfull, ablk + mfull * lda,
                                           lda, apk);
                    for (size_t jr = 0; jr < nc; jr += GEMM_NR) {
                        const size_t nr = gemm_min(GEMM_NR, nc - jr);
                        const float *bs = bpk + jr * kc;
                        float *cs = c + ic * ldc + jc + jr;
                        size_t ir = 0;
                        if (nr == GEMM_NR)
                            for (; ir < mfull; ir += GEMM_MR)
                                gemm_ukr_direct(kc, ablk + ir * lda, lda, bs,
                                                cs + ir * ldc, ldc, acc);
                        for (; ir < mc; ir += GEMM_MR) {
                            const size_t mr = gemm_min(GEMM_MR, mc - ir);
                            if (ir < mfull)
                                gemm_ukr(kc, ablk + ir * lda, lda, 1, bs,
                                         cs + ir * ldc, ldc, mr, nr, acc, 0);
                            else
                                gemm_ukr_packed(kc, apk, bs, cs + ir * ldc, ldc,
                                                mr, nr, acc);
                        }
                    }
                    continue;
                }
                for (size_t ir = 0; ir < mc; ir += GEMM_MR)
                    gemm_pack_a_sliver(kc, gemm_min(GEMM_MR, mc - ir),
                                       ablk + ir * lda, lda,
                                       apk + ir * kc * GEMM_AB);
                for (size_t jr = 0; jr < nc; jr += GEMM_NR) {
                    const size_t nr = gemm_min(GEMM_NR, nc - jr);
                    const float *bs = bpk + jr * kc;
                    float *cs = c + ic * ldc + jc + jr;
                    for (size_t ir = 0; ir < mc; ir += GEMM_MR)
                        gemm_ukr_packed(kc, apk + ir * kc * GEMM_AB, bs,
                                        cs + ir * ldc, ldc,
                                        gemm_min(GEMM_MR, mc - ir), nr, acc);
                }
            }
        }
    }
}

void AT_ISA_FN(at_register_gemm)(at_ktable *t)
{
    t->sgemm_tile = gemm_tile;
    t->sgemm_ws_bytes = GEMM_B_BYTES + GEMM_A_BYTES;
    t->sgemm_mc = GEMM_MC;
    t->sgemm_nc = GEMM_NC;
    t->sgemm_mr = GEMM_MR;
    t->sgemm_nr = GEMM_NR;
}
