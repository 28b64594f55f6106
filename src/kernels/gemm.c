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
            if (acc)
                x = vf_add(x, load_upto(cp, w));
            store_upto(cp, x, w);
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
            vf x = w > 0 ? load_upto(src + col, w) : vf_zero();
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

/* Pack one A sliver element by element: element (r, p) at a[r * rs + p *
 * cs] (cs = lda, rs = 1 for a transposed A, stored (k, m)). */
static void gemm_pack_a_strided(size_t kc, size_t mr, const float *restrict a,
                                size_t rs, size_t cs, float *restrict ap)
{
    for (size_t p = 0; p < kc; p++) {
        for (size_t r = 0; r < GEMM_MR; r++)
            gemm_put_a(ap + r * GEMM_AB, r < mr ? a[r * rs + p * cs] : 0.0f);
        ap += GEMM_MR * GEMM_AB;
    }
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
    gemm_pack_a_strided(kc, mr, a, lda, 1, ap);
}

/* Transposing pack: a block of GEMM_TT rows of a row-major source, each
 * read as one run of GEMM_TT floats, becomes GEMM_TT columns of the
 * destination (row stride ld).  AVX2 and AVX-512 move 8 x 8 blocks in
 * ymm registers, SSE2 4 x 4 blocks; the other levels copy element by
 * element through the same blocks. */
#if AT_ISA_LEVEL == 1 || AT_ISA_LEVEL == 2
#define GEMM_TT 8
AT_INLINE void gemm_tblock(const float *restrict s, size_t lds,
                           float *restrict d, size_t ld)
{
    __m256 r[8], t[8], u[8];
    GEMM_UNROLL(8)
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(s + (size_t)i * lds);
    GEMM_UNROLL(4)
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    /* u[0..3]: columns (0, 4), (1, 5), (2, 6), (3, 7) of rows 0-3; u[4..7]
     * the same of rows 4-7. */
    GEMM_UNROLL(2)
    for (int h = 0; h < 8; h += 4) {
        u[h] = _mm256_shuffle_ps(t[h], t[h + 2], 0x44);
        u[h + 1] = _mm256_shuffle_ps(t[h], t[h + 2], 0xEE);
        u[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0x44);
        u[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0xEE);
    }
    GEMM_UNROLL(4)
    for (int q = 0; q < 4; q++) {
        _mm256_storeu_ps(d + (size_t)q * ld,
                         _mm256_permute2f128_ps(u[q], u[q + 4], 0x20));
        _mm256_storeu_ps(d + (size_t)(q + 4) * ld,
                         _mm256_permute2f128_ps(u[q], u[q + 4], 0x31));
    }
}
#elif AT_ISA_LEVEL == 0 && defined(__SSE2__) && !defined(AT_SIMD_PORTABLE)
#define GEMM_TT 4
AT_INLINE void gemm_tblock(const float *restrict s, size_t lds,
                           float *restrict d, size_t ld)
{
    __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + lds);
    __m128 r2 = _mm_loadu_ps(s + 2 * lds), r3 = _mm_loadu_ps(s + 3 * lds);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(d, r0);
    _mm_storeu_ps(d + ld, r1);
    _mm_storeu_ps(d + 2 * ld, r2);
    _mm_storeu_ps(d + 3 * ld, r3);
}
#else
#define GEMM_TT 4
AT_INLINE void gemm_tblock(const float *restrict s, size_t lds,
                           float *restrict d, size_t ld)
{
    for (size_t q = 0; q < GEMM_TT; q++)
        for (size_t i = 0; i < GEMM_TT; i++)
            d[q * ld + i] = s[i * lds + q];
}
#endif

/* gemm_pack_b for a transposed B (stored (n, k), row stride ldb): column j
 * of the panel is the contiguous run b + j * ldb.  GEMM_TT columns at a
 * time stream their runs front to back (GEMM_TT read streams the hardware
 * prefetcher follows) through register transposes into the sliver's rows;
 * a last group of fewer columns, and the zero padding, go element by
 * element. */
static void gemm_pack_bt(size_t kc, size_t nc, const float *restrict b,
                         size_t ldb, float *restrict bp)
{
    for (size_t j0 = 0; j0 < nc; j0 += GEMM_NR) {
        float *dst = bp + j0 * kc;
        const size_t ncol = gemm_min(GEMM_NR, nc - j0);
        size_t jj = 0;
        for (; jj + GEMM_TT <= ncol; jj += GEMM_TT) {
            const float *src = b + (j0 + jj) * ldb;
            size_t p = 0;
            for (; p + GEMM_TT <= kc; p += GEMM_TT)
                gemm_tblock(src + p, ldb, dst + p * GEMM_NR + jj, GEMM_NR);
            for (; p < kc; p++)
                for (size_t i = 0; i < GEMM_TT; i++)
                    dst[p * GEMM_NR + jj + i] = src[i * ldb + p];
        }
        for (; jj < ncol; jj++) {
            const float *src = b + (j0 + jj) * ldb;
            for (size_t p = 0; p < kc; p++)
                dst[p * GEMM_NR + jj] = src[p];
        }
        for (; jj < GEMM_NR; jj++)
            for (size_t p = 0; p < kc; p++)
                dst[p * GEMM_NR + jj] = 0.0f;
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

    /* A transposed is always packed (its rows are strided in memory).  A
     * transposed B whose panel meets a single block of rows is packed one
     * sliver at a time, just before the sliver's micro-tiles, into the
     * buffer's first sliver: packed once and used once, the panel would
     * otherwise go out to L3 and come back (for kc x nc = 384 x 3072, 4.7
     * MB), where a sliver stays in L1 between its pack and its use.  With
     * B not transposed a sliver is NR floats from each of kc rows, which
     * the whole-panel pack reads row by row; packed by sliver it measured
     * no better. */
    const int ta = g->trans_a, tb = g->trans_b;
    for (size_t jc = n0; jc < n1; jc += nb) {
        const size_t nc = gemm_min(nb, n1 - jc);
        const int direct =
            !ta && (nc + GEMM_NR - 1) / GEMM_NR <= GEMM_DIRECT_A_SLIVERS;
        const int by_sliver = tb && !direct && m1 - m0 <= mb;
        for (size_t pc = 0; pc < k; pc += kb) {
            const size_t kc = gemm_min(kb, k - pc);
            const int acc = pc > 0;
            if (tb && !by_sliver)
                gemm_pack_bt(kc, nc, g->b + jc * ldb + pc, ldb, bpk);
            else if (!tb)
                gemm_pack_b(kc, nc, g->b + pc * ldb + jc, ldb, bpk);
            for (size_t ic = m0; ic < m1; ic += mb) {
                const size_t mc = gemm_min(mb, m1 - ic);
                const float *ablk =
                    ta ? g->a + pc * lda + ic : g->a + ic * lda + pc;
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
                for (size_t ir = 0; ir < mc; ir += GEMM_MR) {
                    const size_t mr = gemm_min(GEMM_MR, mc - ir);
                    float *ap = apk + ir * kc * GEMM_AB;
                    if (ta)
                        gemm_pack_a_strided(kc, mr, ablk + ir, 1, lda, ap);
                    else
                        gemm_pack_a_sliver(kc, mr, ablk + ir * lda, lda, ap);
                }
                for (size_t jr = 0; jr < nc; jr += GEMM_NR) {
                    const size_t nr = gemm_min(GEMM_NR, nc - jr);
                    const float *bs = bpk + jr * kc;
                    if (by_sliver) {
                        gemm_pack_bt(kc, nr, g->b + (jc + jr) * ldb + pc, ldb,
                                     bpk);
                        bs = bpk;
                    }
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

/* ---- the streaming path ------------------------------------------------
 *
 * For a vector times a matrix, a matrix times a vector and products with a
 * few rows of A (m <= GEMM_STREAM_M), packing costs more than it saves: the
 * large operand is read once, in its own order, and never copied.
 *
 * Row streaming (gemm_rs), C[0:m, j0:j1] = A · B[:, j0:j1] with B row-major:
 * per block of columns, m rows of accumulators sit in L1 (ws) while B's rows
 * stream past four at a time, each B vector feeding every row of A; for a
 * single row of A (a vector times a matrix), eight at a time: eight read
 * streams keep more of the memory's bandwidth busy than four or sixteen
 * (docs/performance.md, entry 44).  Each
 * element is the same chain of FMAs, in the same depth blocks (GEMM_KC,
 * balanced as gemm_tile balances them), as the packed micro-kernel's, and
 * the block sums are added to C in the same order: the bits equal those of
 * gemm_tile.  A transposed A is only read by broadcasts (its strides).
 *
 * Dot products (gemm_dot), C[i, j] = X_i · Y_j, both rows contiguous over
 * k: a matrix times a vector (X = A, Y = b), and A times a transposed B
 * (Y = B's stored rows, read once, in their order).  A tile of rows of X by
 * rows of Y keeps one accumulator vector per pair (two when one side is a
 * single row, so that enough independent chains are in flight), each summed
 * across its lanes at the end. */

#define GEMM_STREAM_M 16
/* Floats of L1 the row-streaming block may use (accumulators + 4 B rows). */
#define GEMM_RS_L1 6144
/* Bytes of a streamed operand from which the streaming path takes it to
 * come from memory rather than the caches, and a product with a single row
 * on one side prefetches it: 16 MB gained, 8 MB neither gained nor lost,
 * 4 MB lost (docs/performance.md, entry 46). */
#define GEMM_RS_FAR ((size_t)8 << 20)
/* Dot-product tile: rows of X by rows of Y. */
#define GEMM_DOT_R 4
#if AT_ISA_LEVEL == 2
#define GEMM_DOT_C 4
#else
#define GEMM_DOT_C 2
#endif

/* Columns per row-streaming block for m rows of A (a multiple of 64). */
static inline size_t gemm_rs_cols(size_t m)
{
    /* One or two rows of A take each B vector once: only the accumulators
     * need to stay in L1. */
    size_t nb =
        (m <= 2 ? GEMM_RS_L1 * 2 / 3 / m : GEMM_RS_L1 / (m + 4)) / 64 * 64;
    return nb ? nb : 64;
}

/* Asks for rows n .. 2n - 1 of a streamed operand (row stride ld) at
 * element j, the rows after the n a loop is reading, once per 64-byte line:
 * into L1 (l1) where they are then read again from L1, else into L2.  A
 * prefetch never faults, so rows past the operand's end are harmless. */
AT_INLINE void gemm_prefetch_next(const float *p, size_t ld, const int n,
                                  size_t j, const int l1)
{
    if (j % (64 / sizeof(float)) != 0)
        return;
    GEMM_UNROLL(8)
    for (int q = 0; q < n; q++) {
        if (l1)
            __builtin_prefetch(p + (size_t)(n + q) * ld + j, 0, 3);
        else
            __builtin_prefetch(p + (size_t)(n + q) * ld + j, 0, 2);
    }
}

/* acc[r][0:nb] = fma chain over Q rows of B (row stride ldb) for R rows of
 * A (element (r, q) at a[r * rsa + q * csa]); acc rows are acc_ld apart
 * and padded to whole vectors.  PF: prefetch the next Q rows of B, into L1
 * for several rows of A, which read them again from there, into L2 for
 * one. */
AT_INLINE void gemm_rs_step(const int R, const int Q, const int PF, size_t nb,
                            const float *restrict b, size_t ldb,
                            const float *restrict a, size_t rsa, size_t csa,
                            float *restrict acc, size_t acc_ld)
{
    vf av[2][8];
    GEMM_UNROLL(2)
    for (int r = 0; r < R; r++) {
        GEMM_UNROLL(8)
        for (int q = 0; q < Q; q++)
            av[r][q] = vf_set1(a[(size_t)r * rsa + (size_t)q * csa]);
    }
    for (size_t j = 0; j < nb; j += VL) {
        const size_t w = nb - j;
        vf bv[8];
        GEMM_UNROLL(8)
        for (int q = 0; q < Q; q++)
            bv[q] = load_upto(b + (size_t)q * ldb + j, w);
        if (PF)
            gemm_prefetch_next(b, ldb, Q, j, R > 1);
        GEMM_UNROLL(2)
        for (int r = 0; r < R; r++) {
            float *ap = acc + (size_t)r * acc_ld + j;
            vf x = vf_load(ap);
            GEMM_UNROLL(8)
            for (int q = 0; q < Q; q++)
                x = vf_fma(av[r][q], bv[q], x);
            vf_store(ap, x);
        }
    }
}

/* Q rows of B into every row of A, two rows of A at a time. */
AT_INLINE void gemm_rs_rows(const int Q, size_t m, int far, size_t nb,
                            const float *restrict b, size_t ldb,
                            const float *restrict a, size_t rsa, size_t csa,
                            float *restrict acc, size_t acc_ld)
{
    size_t r = 0;
    /* A single row of A (a vector times a matrix) reads each B row once.
     * When B comes from memory (far), the hardware's stream prefetch alone
     * leaves it short of the sum's rate, so it asks for the next Q rows
     * into L2; from the caches the requests only cost (docs/performance.md,
     * entry 46). */
    if (m == 1 && far) {
        gemm_rs_step(1, Q, 1, nb, b, ldb, a, rsa, csa, acc, acc_ld);
        return;
    }
    /* Beyond two rows of A, the later pairs read the block's B rows from
     * L1 and each row's run is short: the first pair prefetches the next Q
     * rows of B. */
    if (m > 2) {
        gemm_rs_step(2, Q, 1, nb, b, ldb, a, rsa, csa, acc, acc_ld);
        r = 2;
    }
    for (; r + 2 <= m; r += 2)
        gemm_rs_step(2, Q, 0, nb, b, ldb, a + r * rsa, rsa, csa,
                     acc + r * acc_ld, acc_ld);
    if (r < m)
        gemm_rs_step(1, Q, 0, nb, b, ldb, a + r * rsa, rsa, csa,
                     acc + r * acc_ld, acc_ld);
}

/* Whether g's streamed operand of rows x ld floats is at least GEMM_RS_FAR
 * bytes (the product cannot overflow: the operand is in memory) and the CPU
 * can prefetch into L2 alone: where the L2 hint fills L1 too (AMD before
 * Zen 4), the next rows, 64-128 KB ahead, evict the rows being read and the
 * accumulators (docs/performance.md, entry 48). */
static inline int gemm_far(const at_gemm_args *g, size_t rows, size_t ld)
{
    return g->prefetch_l2 && rows * ld >= GEMM_RS_FAR / sizeof(float);
}

/* C[0:m, j0:j1] = A · B[:, j0:j1]; acc holds GEMM_RS_L1 floats.  far: the
 * whole B is at least GEMM_RS_FAR bytes (gemm_rs_rows). */
static void gemm_rs(size_t m, size_t k, const float *a, size_t rsa, size_t csa,
                    const float *b, size_t ldb, float *c, size_t ldc, size_t j0,
                    size_t j1, float *acc, int far)
{
    const size_t nbmax = gemm_rs_cols(m);
    const size_t kb = gemm_balance(k, GEMM_KC, 1);
    for (size_t jb = j0; jb < j1; jb += nbmax) {
        const size_t nb = gemm_min(nbmax, j1 - jb);
        const size_t ld = (nb + VL - 1) / VL * VL;
        for (size_t pc = 0; pc < k; pc += kb) {
            const size_t kc = gemm_min(kb, k - pc);
            memset(acc, 0, m * ld * sizeof(float));
            const float *bp = b + pc * ldb + jb, *ap = a + pc * csa;
            size_t p = 0;
            for (; m == 1 && p + 8 <= kc; p += 8)
                gemm_rs_rows(8, m, far, nb, bp + p * ldb, ldb, ap + p * csa,
                             rsa, csa, acc, ld);
            for (; p + 4 <= kc; p += 4)
                gemm_rs_rows(4, m, far, nb, bp + p * ldb, ldb, ap + p * csa,
                             rsa, csa, acc, ld);
            for (; p < kc; p++)
                gemm_rs_rows(1, m, far, nb, bp + p * ldb, ldb, ap + p * csa,
                             rsa, csa, acc, ld);
            for (size_t r = 0; r < m; r++) {
                float *cr = c + r * ldc + jb;
                const float *xr = acc + r * ld;
                for (size_t j = 0; j < nb; j += VL) {
                    const size_t w = nb - j;
                    vf x = vf_load(xr + j);
                    if (pc > 0)
                        x = vf_add(x, load_upto(cr + j, w));
                    store_upto(cr + j, x, w);
                }
            }
        }
    }
}

/* One R x C tile of dot products over k, U accumulators per pair.  far:
 * the streamed side (R rows of X, or C rows of Y, whichever is several)
 * comes from memory, and the tile asks for that side's next rows into L2
 * as it goes, as gemm_rs_rows does for a single row of A. */
AT_INLINE void gemm_dot_tile(const int R, const int C, const int U, int far,
                             size_t k, const float *restrict x, size_t ldx,
                             const float *restrict y, size_t ldy,
                             float *restrict c, size_t ldci, size_t ldcj)
{
    vf acc[GEMM_DOT_R][GEMM_DOT_R][2];
    GEMM_UNROLL(4)
    for (int r = 0; r < R; r++) {
        GEMM_UNROLL(4)
        for (int j = 0; j < C; j++) {
            GEMM_UNROLL(2)
            for (int u = 0; u < U; u++)
                acc[r][j][u] = vf_zero();
        }
    }
    size_t p = 0;
    for (; p + (size_t)U * VL <= k; p += (size_t)U * VL) {
        GEMM_UNROLL(2)
        for (int u = 0; u < U; u++) {
            if (far && R > 1)
                gemm_prefetch_next(x, ldx, R, p + (size_t)u * VL, 0);
            if (far && C > 1)
                gemm_prefetch_next(y, ldy, C, p + (size_t)u * VL, 0);
            vf xv[GEMM_DOT_R], yv[GEMM_DOT_R];
            GEMM_UNROLL(4)
            for (int r = 0; r < R; r++)
                xv[r] = vf_load(x + (size_t)r * ldx + p + (size_t)u * VL);
            GEMM_UNROLL(4)
            for (int j = 0; j < C; j++)
                yv[j] = vf_load(y + (size_t)j * ldy + p + (size_t)u * VL);
            GEMM_UNROLL(4)
            for (int r = 0; r < R; r++) {
                GEMM_UNROLL(4)
                for (int j = 0; j < C; j++)
                    acc[r][j][u] = vf_fma(xv[r], yv[j], acc[r][j][u]);
            }
        }
    }
    /* The tail (under U vectors): full vectors, then one masked. */
    GEMM_UNROLL(2)
    for (int u = 0; u < U; u++) {
        if (p >= k)
            break;
        const size_t w = k - p;
        vf xv[GEMM_DOT_R], yv[GEMM_DOT_R];
        GEMM_UNROLL(4)
        for (int r = 0; r < R; r++)
            xv[r] = load_upto(x + (size_t)r * ldx + p, w);
        GEMM_UNROLL(4)
        for (int j = 0; j < C; j++)
            yv[j] = load_upto(y + (size_t)j * ldy + p, w);
        GEMM_UNROLL(4)
        for (int r = 0; r < R; r++) {
            GEMM_UNROLL(4)
            for (int j = 0; j < C; j++)
                acc[r][j][u] = vf_fma(xv[r], yv[j], acc[r][j][u]);
        }
        p += w < VL ? w : VL;
    }
    GEMM_UNROLL(4)
    for (int r = 0; r < R; r++) {
        GEMM_UNROLL(4)
        for (int j = 0; j < C; j++) {
            vf s = acc[r][j][0];
            GEMM_UNROLL(2)
            for (int u = 1; u < U; u++)
                s = vf_add(s, acc[r][j][u]);
            c[(size_t)r * ldci + (size_t)j * ldcj] = vf_hsum(s);
        }
    }
}

#define GEMM_DOT_CASE(R, C, U)                                         \
    case (R) * 16 + (C) * 2 + (U) - 1:                                 \
        gemm_dot_tile(R, C, U, far, k, x, ldx, y, ldy, c, ldci, ldcj); \
        return;
#define GEMM_DOT_CASES_C(R, U) \
    GEMM_DOT_CASE(R, 1, U)     \
    GEMM_DOT_CASE(R, 2, U) GEMM_DOT_CASE(R, 3, U) GEMM_DOT_CASE(R, 4, U)

/* An r x cc tile (r, cc <= GEMM_DOT_R; r * cc * u accumulators fit the
 * registers: one side is 1 when u is 2). */
static __attribute__((noinline)) void
gemm_dot_block(size_t r, size_t cc, int u, int far, size_t k, const float *x,
               size_t ldx, const float *y, size_t ldy, float *c, size_t ldci,
               size_t ldcj)
{
    switch ((int)r * 16 + (int)cc * 2 + u - 1) {
        GEMM_DOT_CASES_C(1, 1)
        GEMM_DOT_CASES_C(2, 1)
        GEMM_DOT_CASES_C(3, 1)
        GEMM_DOT_CASES_C(4, 1)
        GEMM_DOT_CASE(1, 1, 2)
        GEMM_DOT_CASE(2, 1, 2)
        GEMM_DOT_CASE(3, 1, 2)
        GEMM_DOT_CASE(4, 1, 2)
        GEMM_DOT_CASE(1, 2, 2)
        GEMM_DOT_CASE(1, 3, 2)
        GEMM_DOT_CASE(1, 4, 2)
        default:
            return;
    }
}

/* C[i, j] = X_i · Y_j for i in [i0, i1), j in [j0, j1); rows of Y outer, so
 * that each is read from memory once.  u: accumulators per pair, chosen
 * from the shape alone (2 when X or Y has a single row); far: the side with
 * several rows is at least GEMM_RS_FAR bytes (gemm_dot_tile). */
static void gemm_dot(size_t k, const float *x, size_t ldx, size_t i0, size_t i1,
                     const float *y, size_t ldy, size_t j0, size_t j1, float *c,
                     size_t ldci, size_t ldcj, int u, int far)
{
    const size_t tr = u == 2 && j1 - j0 > 1 ? 1 : GEMM_DOT_R;
    const size_t tc = u == 2 ? (tr == 1 ? GEMM_DOT_R : 1) : GEMM_DOT_C;
    for (size_t j = j0; j < j1; j += tc) {
        const size_t cc = gemm_min(tc, j1 - j);
        for (size_t i = i0; i < i1; i += tr)
            gemm_dot_block(gemm_min(tr, i1 - i), cc, u, far, k, x + i * ldx,
                           ldx, y + j * ldy, ldy, c + i * ldci + j * ldcj, ldci,
                           ldcj);
    }
}

/* The depth split's view, x (k) times M (k x len, row stride ldm): a
 * times B for m == 1, b times the stored (k, m) A for n == 1. */
typedef struct gemm_vm {
    const float *x, *mat;
    size_t ldm, len;
} gemm_vm;

static gemm_vm gemm_vec_mat(const at_gemm_args *g)
{
    gemm_vm v = {g->a, g->b, g->ldb, g->n};
    if (g->m != 1) {
        v.x = g->b;
        v.mat = g->a;
        v.ldm = g->lda;
        v.len = g->m;
    }
    return v;
}

static size_t gemm_depth_parts(const at_gemm_args *g, size_t *nblocks)
{
    const size_t kb = gemm_balance(g->k, GEMM_KC, 1);
    *nblocks = (g->k + kb - 1) / kb;
    return *nblocks * gemm_vec_mat(g).len;
}

static void gemm_depth_block(const at_gemm_args *g, size_t t, float *parts,
                             void *ws)
{
    const gemm_vm v = gemm_vec_mat(g);
    const size_t kb = gemm_balance(g->k, GEMM_KC, 1), p0 = t * kb;
    gemm_rs(1, gemm_min(kb, g->k - p0), v.x + p0, 0, 1, v.mat + p0 * v.ldm,
            v.ldm, parts + t * v.len, 0, 0, v.len, ws,
            gemm_far(g, g->k, v.ldm));
}

static void gemm_depth_join(const at_gemm_args *g, const float *parts)
{
    const gemm_vm v = gemm_vec_mat(g);
    size_t nblocks;
    gemm_depth_parts(g, &nblocks);
    for (size_t j = 0; j < v.len; j += VL) {
        const size_t w = v.len - j;
        vf x = load_upto(parts + j, w);
        for (size_t t = 1; t < nblocks; t++) {
            const float *pt = parts + t * v.len + j;
            x = vf_add(load_upto(pt, w), x);
        }
        store_upto(g->c + j, x, w);
    }
}

static int gemm_stream_dim(const at_gemm_args *g)
{
    if (g->k > 0
        && ((g->m == 1 && g->n > 1 && !g->trans_b)
            || (g->n == 1 && g->m > 1 && g->trans_a)))
        return AT_GEMM_STREAM_DEPTH;
    if (g->n == 1)
        return AT_GEMM_STREAM_ROWS;
    if (g->m <= GEMM_STREAM_M && !(g->trans_a && g->trans_b))
        return AT_GEMM_STREAM_COLS;
    return AT_GEMM_STREAM_NONE;
}

static void gemm_stream(const at_gemm_args *g, size_t lo, size_t hi, void *ws)
{
    const size_t m = g->m, k = g->k, lda = g->lda, ldb = g->ldb;
    const int ta = g->trans_a, tb = g->trans_b;
    if (g->n == 1) {
        /* C is a column: C[lo:hi] over rows of A. */
        if (k == 0)
            memset(g->c + lo, 0, (hi - lo) * sizeof(float));
        else if (ta) /* C^T = b^T · (A stored (k, m)) */
            gemm_rs(1, k, g->b, 0, 1, g->a, lda, g->c, 0, lo, hi, ws,
                    gemm_far(g, k, lda));
        else
            gemm_dot(k, g->a, lda, lo, hi, g->b, 0, 0, 1, g->c, g->ldc, 1, 2,
                     gemm_far(g, m, lda));
        return;
    }
    if (k == 0) {
        for (size_t i = 0; i < m; i++)
            memset(g->c + i * g->ldc + lo, 0, (hi - lo) * sizeof(float));
    } else if (!tb) {
        gemm_rs(m, k, g->a, ta ? 1 : lda, ta ? lda : 1, g->b, ldb, g->c, g->ldc,
                lo, hi, ws, gemm_far(g, k, ldb));
    } else {
        gemm_dot(k, g->a, lda, 0, m, g->b, ldb, lo, hi, g->c, g->ldc, 1,
                 m == 1 ? 2 : 1, m == 1 && gemm_far(g, g->n, ldb));
    }
}

/* ---- the FMA peak probe ------------------------------------------------
 *
 * GEMM_FMA_CHAINS independent chains acc = acc * x + y, register-only (no
 * load or store in the loop): enough chains to cover the latency of both
 * FMA pipes at every level.  At the SSE2 level vf_fma is a multiply and an
 * add, the baseline micro-kernel's own pair.  x and y keep every chain
 * finite and normal (it converges to y / (1 - x)).  Returns the chains'
 * sum, so that the compiler keeps the loop. */
#define GEMM_FMA_CHAINS 12

static float gemm_fma_probe(size_t iters)
{
    vf acc[GEMM_FMA_CHAINS];
    const vf x = vf_set1(0.999f), y = vf_set1(1e-3f);
    GEMM_UNROLL(12)
    for (int i = 0; i < GEMM_FMA_CHAINS; i++)
        acc[i] = vf_set1((float)i);
    for (size_t it = 0; it < iters; it++) {
        GEMM_UNROLL(12)
        for (int i = 0; i < GEMM_FMA_CHAINS; i++)
            acc[i] = vf_fma(acc[i], x, y);
    }
    vf s = acc[0];
    GEMM_UNROLL(12)
    for (int i = 1; i < GEMM_FMA_CHAINS; i++)
        s = vf_add(s, acc[i]);
    return vf_hsum(s);
}

void AT_ISA_FN(at_register_gemm)(at_ktable *t)
{
    t->sgemm_tile = gemm_tile;
    t->sgemm_ws_bytes = GEMM_B_BYTES + GEMM_A_BYTES;
    t->sgemm_mc = GEMM_MC;
    t->sgemm_nc = GEMM_NC;
    t->sgemm_mr = GEMM_MR;
    t->sgemm_nr = GEMM_NR;
    t->sgemm_stream_dim = gemm_stream_dim;
    t->sgemm_stream = gemm_stream;
    t->sgemm_stream_ws_bytes = GEMM_RS_L1 * sizeof(float);
    t->sgemm_depth_parts = gemm_depth_parts;
    t->sgemm_depth_block = gemm_depth_block;
    t->sgemm_depth_join = gemm_depth_join;
    t->fma_probe = gemm_fma_probe;
    t->fma_probe_flops = 2u * GEMM_FMA_CHAINS * VL;
}
