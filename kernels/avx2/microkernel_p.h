/* microkernel_p.h - AVX2 6x16 GEMM microkernel: a tile of outputs in registers, k ascending. */
#ifndef BPQ_AVX2_MICROKERNEL_P_H
#define BPQ_AVX2_MICROKERNEL_P_H

/* Why 6 x 16: see the comment at the top of gemm_p.h; how the driver uses a tile: gemm/driver.h. */

#include <immintrin.h>
#include <stddef.h>

#include "avx2/pack_p.h" /* BPQ_AVX2_INLINE */
#include "gemm/gemm.h"       /* BPQ_GEMM_INIT_* */

/*
 * One mr x (8 nv) tile, mr <= 6, nv in {1, 2}, over kc k steps, into the
 * accumulators c[m][v] (the caller inlines this and keeps them in
 * registers: it parks them or finishes them, see bpq_avx2_tile in
 * gemm_p.h).
 * A[m, k] is a[m * lda + k] (acol = 0) or a[k * lda + m] (acol = 1).
 * bp: packed B panel, 16 floats per k step. init: where the chains start:
 * from the parked sums (INIT_TILE: row m at tile[ldt m]), from +0, or from
 * the 16 floats of bias (INIT_BIAS, every row).
 */
BPQ_AVX2_INLINE void bpq_avx2_ukernel(const int mr, const int nv, const int acol, size_t kc,
                                      const float *a, size_t lda, const float *bp,
                                      const float *tile, size_t ldt, int init, const float *bias,
                                      __m256 c[BPQ_AVX2_MR][2]) {
#pragma GCC unroll 6
    for (int m = 0; m < mr; m++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            c[m][v] = init == BPQ_GEMM_INIT_TILE   ? _mm256_loadu_ps(tile + ldt * m + 8 * v)
                      : init == BPQ_GEMM_INIT_BIAS ? _mm256_load_ps(bias + 8 * v)
                                                   : _mm256_setzero_ps();
    if (acol) {
        /* BP4: the six A values of a k step are adjacent in one row of delta. */
        for (size_t k = 0; k < kc; k++) {
            __m256 b0 = _mm256_load_ps(bp + 16 * k);
            __m256 b1 = nv > 1 ? _mm256_load_ps(bp + 16 * k + 8) : b0;
            const float *ak = a + k * lda;
#pragma GCC unroll 6
            for (int m = 0; m < mr; m++) {
                __m256 av = _mm256_broadcast_ss(ak + m);
                c[m][0] = _mm256_fmadd_ps(av, b0, c[m][0]);
                if (nv > 1)
                    c[m][1] = _mm256_fmadd_ps(av, b1, c[m][1]);
            }
        }
    } else {
        /* Rows 0-2 addressed from a, rows 3-5 from a + 3 lda, so each
         * broadcast is base + stride * {0, 1, 2}: two pointers, one stride. */
        const float *a3 = a + 3 * lda;
        for (size_t k = 0; k < kc; k++) {
            __m256 b0 = _mm256_load_ps(bp + 16 * k);
            __m256 b1 = nv > 1 ? _mm256_load_ps(bp + 16 * k + 8) : b0;
#pragma GCC unroll 6
            for (int m = 0; m < mr; m++) {
                const float *p = m < 3 ? a + m * lda : a3 + (m - 3) * lda;
                __m256 av = _mm256_broadcast_ss(p + k);
                c[m][0] = _mm256_fmadd_ps(av, b0, c[m][0]);
                if (nv > 1)
                    c[m][1] = _mm256_fmadd_ps(av, b1, c[m][1]);
            }
        }
    }
}

#endif /* BPQ_AVX2_MICROKERNEL_P_H */
