/* microkernel_p.h - AVX-512 GEMM microkernel: up to 12 x 32 outputs in 24 zmm accumulators, k ascending. */
#ifndef BPQ_AVX512_MICROKERNEL_P_H
#define BPQ_AVX512_MICROKERNEL_P_H

/* Why 12 x 32: see the comment at the top of gemm_p.h; how the driver uses a tile: gemm/driver.h. */

#include <immintrin.h>
#include <stddef.h>

#include "avx512/pack_p.h" /* BPQ_AVX512_INLINE */
#include "gemm/gemm.h"     /* BPQ_GEMM_INIT_* */

/*
 * Wide tiles for M blocks of 1 to 3 rows: a 12 x 32 tile cut to r rows
 * has only 2 r chains, so such a block spans P strips at once instead and
 * keeps 24 chains: 1 x 384, 2 x 192, 3 x 128.
 */
#define BPQ_AVX512_WIDE_ROWS 3
#define BPQ_AVX512_WIDE_PANELS(mr) ((mr) == 1 ? 12 : (mr) == 2 ? 6 : (mr) == 3 ? 4 : 1)

/*
 * One tile of mr rows (mr <= 12) and nvec vectors of 16 columns (mr nvec
 * <= 24), over kc k steps, into the accumulators c[m * nvec + t] (inlined, so they
 * live in registers).
 *   A[m, k] is a[m lda + k] (acol = 0) or a[k lda + m] (acol = 1).
 *   B: vector t of k step k at bp + (t / 2) pstride + 16 (t % 2) + ldbp k.
 *   c is one flat array of 24 (c[m nvec + t]), not [12][24]: an
 *   unoptimised build keeps every inlined copy's array on the stack, and
 *   288 zmm per tile overflowed the sanitizer build's stack.
 *   init: the parked sums (vector t of row m at park + (t / 2) tstride +
 *   32 m + 16 (t % 2)), +0, or the bias (16 t on).
 * A 12 x 32 tile loads its 2 B vectors and broadcasts one A value at a
 * time (24 + 2 + 1 registers of 32); a wide tile loads one B vector at a
 * time against its 1 to 3 broadcast A values (24 + 1 + 3).
 */
BPQ_AVX512_INLINE void bpq_avx512_ukernel(const int mr, const int nvec, const int acol,
                                          size_t kc, const float *a, size_t lda,
                                          const float *bp, size_t ldbp, size_t pstride,
                                          const float *park, size_t tstride, int init,
                                          const float *bias, __m512 c[24]) {
#pragma GCC unroll 12
    for (int m = 0; m < mr; m++)
#pragma GCC unroll 24
        for (int t = 0; t < nvec; t++)
            c[m * nvec + t] = init == BPQ_GEMM_INIT_TILE
                          ? _mm512_loadu_ps(park + (size_t)(t / 2) * tstride + 32 * m +
                                            16 * (t % 2))
                      : init == BPQ_GEMM_INIT_BIAS ? _mm512_loadu_ps(bias + 16 * t)
                                                   : _mm512_setzero_ps();
    /* A in place: rows 3 j .. 3 j + 2 addressed from a + 3 j lda, so every
     * broadcast is base + stride * {0, 1, 2} (four bases, one stride). */
    const float *a3 = a + (mr > 3 ? 3 : 0) * lda, *a6 = a + (mr > 6 ? 6 : 0) * lda;
    const float *a9 = a + (mr > 9 ? 9 : 0) * lda;
    for (size_t k = 0; k < kc; k++) {
        const float *bk = bp + ldbp * k;
        if (nvec <= 2) {
            __m512 b[2];
#pragma GCC unroll 2
            for (int t = 0; t < nvec; t++)
                b[t] = _mm512_loadu_ps(bk + 16 * t);
#pragma GCC unroll 12
            for (int m = 0; m < mr; m++) {
                const float *base = m < 3 ? a : m < 6 ? a3 : m < 9 ? a6 : a9;
                const float *p = acol ? a + k * lda + m : base + (m % 3) * lda + k;
                const __m512 av = _mm512_set1_ps(*p);
#pragma GCC unroll 2
                for (int t = 0; t < nvec; t++)
                    c[m * nvec + t] = _mm512_fmadd_ps(av, b[t], c[m * nvec + t]);
            }
        } else {
            __m512 av[3];
#pragma GCC unroll 3
            for (int m = 0; m < mr; m++)
                av[m] = _mm512_set1_ps(acol ? a[k * lda + m] : a[m * lda + k]);
#pragma GCC unroll 24
            for (int t = 0; t < nvec; t++) {
                const __m512 b = _mm512_loadu_ps(bk + (size_t)(t / 2) * pstride + 16 * (t % 2));
#pragma GCC unroll 3
                for (int m = 0; m < mr; m++)
                    c[m * nvec + t] = _mm512_fmadd_ps(av[m], b, c[m * nvec + t]);
            }
        }
    }
}

#endif /* BPQ_AVX512_MICROKERNEL_P_H */
