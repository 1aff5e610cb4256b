/* microkernel_p.h - AVX2 GEMM microkernel: a tile of outputs in 12 ymm accumulators, k ascending. */
#ifndef BPQ_AVX2_MICROKERNEL_P_H
#define BPQ_AVX2_MICROKERNEL_P_H

/* Why 6 x 16: see the comment at the top of gemm_p.h; how the driver uses a tile: gemm/driver.h. */

#include <immintrin.h>
#include <stddef.h>

#include "avx2/pack_p.h" /* BPQ_AVX2_INLINE */
#include "gemm/gemm.h"   /* BPQ_GEMM_INIT_* */

/*
 * The wide tiles of an M block of 1 to 3 rows: a 6 x 16 tile cut to r rows
 * has only 2 r fma chains, a third of what the two FMA pipes need at r = 1,
 * so such a block takes P strips at once instead, 12 chains again:
 * 1 x 96, 2 x 48, 3 x 32.
 */
#define BPQ_AVX2_WIDE_ROWS 3
#define BPQ_AVX2_WIDE_PANELS(mr) ((mr) == 1 ? 6 : (mr) == 2 ? 3 : (mr) == 3 ? 2 : 1)

/*
 * One tile of mr rows (mr <= 6) and nvec vectors of 8 columns (mr nvec <=
 * 12), over kc k steps, into the accumulators c[m][t] (the caller inlines
 * this and keeps them in registers: it parks them or finishes them, see
 * bpq_avx2_tile in tile_p.h).
 *   A[m, k] is a[m * lda + k] (acol = 0) or a[k * lda + m] (acol = 1).
 *   B: vector t of k step k at bp + (t / 2) pstride + 8 (t % 2) + ldbp k:
 *   packed panels (ldbp 16, pstride one panel) or B's rows in place (ldbp
 *   its row stride, pstride 16).
 *   init: where the chains start: the parked sums (vector t of row m at
 *   park + (t / 2) tstride + 16 m + 8 (t % 2)), +0, or the bias (8 t on).
 * Two loop orders, for the registers: a 6 x 16 tile loads its 2 B vectors
 * and broadcasts one A value at a time (12 + 2 + 1 registers); a wide tile
 * loads one B vector at a time and keeps its 1 to 3 A values (12 + 1 + 3).
 */
BPQ_AVX2_INLINE void bpq_avx2_ukernel(const int mr, const int nvec, const int acol, size_t kc,
                                      const float *a, size_t lda, const float *bp, size_t ldbp,
                                      size_t pstride, const float *park, size_t tstride,
                                      int init, const float *bias, __m256 c[6][12]) {
    /* [avx2-ukernel] */
#pragma GCC unroll 6
    for (int m = 0; m < mr; m++)
#pragma GCC unroll 12
        for (int t = 0; t < nvec; t++)
            c[m][t] = init == BPQ_GEMM_INIT_TILE
                          ? _mm256_loadu_ps(park + (size_t)(t / 2) * tstride + 16 * m + 8 * (t % 2))
                      : init == BPQ_GEMM_INIT_BIAS ? _mm256_loadu_ps(bias + 8 * t)
                                                   : _mm256_setzero_ps();
    /* Rows 0-2 of A in place addressed from a, rows 3-5 from a + 3 lda, so
     * each broadcast is base + stride * {0, 1, 2}: two pointers, one stride. */
    const float *a3 = a + 3 * lda;
    for (size_t k = 0; k < kc; k++) {
        const float *bk = bp + ldbp * k;
        if (nvec <= 2) {
            __m256 b[2];
#pragma GCC unroll 2
            for (int t = 0; t < nvec; t++)
                b[t] = _mm256_loadu_ps(bk + 8 * t);
#pragma GCC unroll 6
            for (int m = 0; m < mr; m++) {
                const float *p = acol ? a + k * lda + m : m < 3 ? a + m * lda + k : a3 + (m - 3) * lda + k;
                const __m256 av = _mm256_broadcast_ss(p);
#pragma GCC unroll 2
                for (int t = 0; t < nvec; t++)
                    c[m][t] = _mm256_fmadd_ps(av, b[t], c[m][t]);
            }
        } else {
            __m256 av[3];
#pragma GCC unroll 3
            for (int m = 0; m < mr; m++)
                av[m] = _mm256_broadcast_ss(acol ? a + k * lda + m : a + m * lda + k);
#pragma GCC unroll 12
            for (int t = 0; t < nvec; t++) {
                const __m256 b = _mm256_loadu_ps(bk + (size_t)(t / 2) * pstride + 8 * (t % 2));
#pragma GCC unroll 3
                for (int m = 0; m < mr; m++)
                    c[m][t] = _mm256_fmadd_ps(av[m], b, c[m][t]);
            }
        }
    }
    /* [avx2-ukernel] */
}

#endif /* BPQ_AVX2_MICROKERNEL_P_H */
