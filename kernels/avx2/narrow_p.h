/* narrow_p.h - AVX2 narrow path: a last strip of 1 to 3 columns, vectorised down the rows. */
#ifndef BPQ_AVX2_NARROW_P_H
#define BPQ_AVX2_NARROW_P_H

#include <immintrin.h>
#include <stddef.h>

#include "avx2/pack_p.h"
#include "avx2/tile_p.h"
#include "gemm/gemm.h"

/*
 * Narrow last strips. When N % 16 is 1 to 3, a 16-wide strip would spend 8
 * lanes on 1 to 3 outputs. Those last columns are instead vectorised down
 * the rows: a vector holds 8 rows of one output column, fed by a column of
 * A (8 rows at one k) and a broadcast B[k, n]. Still one lane per output,
 * k ascending, so the same bits. Up to 32 rows (4 vectors) per pass keep 4
 * to 12 chains going. A's columns come from a transposed copy in the
 * workspace for forward and BP2 (whose A rows run along k) and straight
 * from delta for BP4 (whose rows are A's columns). Measured on 32x67x33:
 * forward 15% faster than a 16-wide strip, BP2 and BP4 about the same.
 */
#define BPQ_AVX2_NARROW 3      /* widest strip done this way */
#define BPQ_AVX2_NARROW_KT 128 /* k values per transposed copy: 2 x 128 x 16 floats */

/* acc[b][j] += column j of B times vector b of A, over kt k steps. Vector
 * b of step k is at av + k as + off[b]; the last one is read with a mask
 * of last_rows lanes (BP4 reads delta itself, whose rows may end there;
 * the transposed copy is padded, last_rows = 8). Loop order: per vector
 * of A, its fmas with the w broadcasts, so that 12 sums + 3 broadcasts +
 * 1 A vector fit the 16 registers at nb = 4, w = 3. */
BPQ_AVX2_INLINE void bpq_avx2_narrow_kernel(const int nb, const int w, size_t kt,
                                            const float *av, size_t as, const size_t *off,
                                            size_t last_rows, const float *bv, size_t bks,
                                            size_t bjs, __m256 acc[4][BPQ_AVX2_NARROW]) {
    const __m256i last = bpq_avx2_mask(last_rows);
    __m256 c[4][BPQ_AVX2_NARROW];
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++)
#pragma GCC unroll 3
        for (int j = 0; j < w; j++)
            c[b][j] = acc[b][j];
    for (size_t k = 0; k < kt; k++) {
        __m256 bj[BPQ_AVX2_NARROW];
#pragma GCC unroll 3
        for (int j = 0; j < w; j++)
            bj[j] = _mm256_broadcast_ss(bv + k * bks + (size_t)j * bjs);
#pragma GCC unroll 4
        for (int b = 0; b < nb; b++) {
            const float *p = av + k * as + off[b];
            const __m256 a = b == nb - 1 ? _mm256_maskload_ps(p, last) : _mm256_loadu_ps(p);
#pragma GCC unroll 3
            for (int j = 0; j < w; j++)
                c[b][j] = _mm256_fmadd_ps(a, bj[j], c[b][j]);
        }
    }
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++)
#pragma GCC unroll 3
        for (int j = 0; j < w; j++)
            acc[b][j] = c[b][j];
}

/* Inlined into the GEMM driver, the kernel's sums competed with the
 * driver's own values for registers and GCC spilled some of them (a store
 * and a reload in every k step of those chains): one function per shape
 * gives them the whole register file. */
#define BPQ_AVX2_NARROW_FN(nb, w)                                                              \
    __attribute__((noinline, unused)) static void bpq_avx2_narrow_##nb##_##w(                  \
        size_t kt, const float *av, size_t as, const size_t *off, size_t last_rows,            \
        const float *bv, size_t bks, size_t bjs, __m256 acc[4][BPQ_AVX2_NARROW]) {             \
        bpq_avx2_narrow_kernel(nb, w, kt, av, as, off, last_rows, bv, bks, bjs, acc);          \
    }
BPQ_AVX2_NARROW_FN(1, 1) BPQ_AVX2_NARROW_FN(1, 2) BPQ_AVX2_NARROW_FN(1, 3)
BPQ_AVX2_NARROW_FN(2, 1) BPQ_AVX2_NARROW_FN(2, 2) BPQ_AVX2_NARROW_FN(2, 3)
BPQ_AVX2_NARROW_FN(3, 1) BPQ_AVX2_NARROW_FN(3, 2) BPQ_AVX2_NARROW_FN(3, 3)
BPQ_AVX2_NARROW_FN(4, 1) BPQ_AVX2_NARROW_FN(4, 2) BPQ_AVX2_NARROW_FN(4, 3)
#undef BPQ_AVX2_NARROW_FN

/* The out-of-line kernel for a constant nb and w (the switch folds away). */
BPQ_AVX2_INLINE void bpq_avx2_narrow_call(const int nb, const int w, size_t kt, const float *av,
                                          size_t as, const size_t *off, size_t last_rows,
                                          const float *bv, size_t bks, size_t bjs,
                                          __m256 acc[4][BPQ_AVX2_NARROW]) {
#define BPQ_AVX2_NC(b, c)                                                                      \
    if (nb == b && w == c)                                                                     \
        bpq_avx2_narrow_##b##_##c(kt, av, as, off, last_rows, bv, bks, bjs, acc);
    BPQ_AVX2_NC(1, 1) BPQ_AVX2_NC(1, 2) BPQ_AVX2_NC(1, 3)
    BPQ_AVX2_NC(2, 1) BPQ_AVX2_NC(2, 2) BPQ_AVX2_NC(2, 3)
    BPQ_AVX2_NC(3, 1) BPQ_AVX2_NC(3, 2) BPQ_AVX2_NC(3, 3)
    BPQ_AVX2_NC(4, 1) BPQ_AVX2_NC(4, 2) BPQ_AVX2_NC(4, 3)
#undef BPQ_AVX2_NC
}

/* Columns [j0, j0 + w) of rows [r0, r0 + rows), rows <= 32: all of K. */
BPQ_AVX2_INLINE void bpq_avx2_narrow_part(const int op, const int nb, const int w,
                                          const bpq_gemm *g, size_t r0, size_t rows,
                                          size_t j0, float *copy) {
    __m256 acc[4][BPQ_AVX2_NARROW];
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++)
#pragma GCC unroll 3
        for (int j = 0; j < w; j++)
            acc[b][j] = op == BPQ_GEMM_FORWARD ? _mm256_broadcast_ss(g->bias + j0 + (size_t)j)
                                                  : _mm256_setzero_ps();
    const size_t K = g->k;
    const size_t bks = op == BPQ_GEMM_FORWARD ? 1 : g->ldb;
    const size_t bjs = op == BPQ_GEMM_FORWARD ? g->ldb : 1;
    const float *bsrc = op == BPQ_GEMM_FORWARD ? g->b + j0 * g->ldb : g->b + j0;
    /* off: where vector b of a k step starts; delta has one row per k
     * (BP4), the copy two [k][16] panels (rows 0-15, then 16-31). */
    if (op == BPQ_GEMM_BP4) {
        const size_t off[4] = {0, 8, 16, 24}, last_rows = rows - 8 * (size_t)(nb - 1);
        bpq_avx2_narrow_call(nb, w, K, g->a + r0, g->lda, off, last_rows, bsrc, bks, bjs, acc);
    } else {
        for (size_t k0 = 0; k0 < K; k0 += BPQ_AVX2_NARROW_KT) {
            const size_t kt = K - k0 < BPQ_AVX2_NARROW_KT ? K - k0 : BPQ_AVX2_NARROW_KT;
            const float *src = g->a + r0 * g->lda + k0;
            bpq_avx2_pack_trans(src, g->lda, kt, rows < 16 ? rows : 16, copy);
            if (rows > 16)
                bpq_avx2_pack_trans(src + 16 * g->lda, g->lda, kt, rows - 16, copy + kt * 16);
            const size_t off[4] = {0, 8, kt * 16, kt * 16 + 8};
            bpq_avx2_narrow_call(nb, w, kt, copy, 16, off, 8, bsrc + k0 * bks, bks, bjs, acc);
        }
    }
    /* Epilogue, one output column of 8 rows at a time; the outputs of a
     * vector are ldc apart. What the finish reads (a for BP2, the old dw
     * for BP4) is gathered lane by lane in registers: written to a buffer
     * and loaded back as a vector, it stalled on store forwarding, and BP2
     * on 32x67x33 ran 5-6% slower. The results go out through a buffer (a
     * vector store read back by scalar loads forwards without a stall). */
    _Alignas(32) float t[8];
    for (int b = 0; b < nb; b++) {
        const size_t r = r0 + 8 * (size_t)b, left = rows - 8 * (size_t)b;
        const size_t cnt = left < 8 ? left : 8;
        for (int j = 0; j < w; j++) {
            const size_t col = j0 + (size_t)j;
            const float *src = bpq_avx2_finish_src(op, g, r, col);
            const __m256 x = src ? bpq_avx2_load_column(src, g->ldc, cnt) : _mm256_setzero_ps();
            _mm256_store_ps(t, bpq_avx2_finish(op, g, acc[b][j], x));
            float *out = g->c + r * g->ldc + col;
            for (size_t l = 0; l < cnt; l++)
                out[l * g->ldc] = t[l];
        }
    }
}

/* Columns [j0, g->n) (1 to 3 of them) of rows [r0, r1). */
BPQ_AVX2_INLINE void bpq_avx2_narrow(const int op, const bpq_gemm *g, size_t r0, size_t r1,
                                     size_t j0, float *copy) {
    const size_t w = g->n - j0;
    for (; r0 < r1; r0 += 32) {
        const size_t rows = r1 - r0 < 32 ? r1 - r0 : 32, nb = (rows + 7) / 8;
#define BPQ_AVX2_NP(b, c)                                                                      \
    if (nb == b && w == c)                                                                     \
        bpq_avx2_narrow_part(op, b, c, g, r0, rows, j0, copy);
        BPQ_AVX2_NP(4, 1) BPQ_AVX2_NP(4, 2) BPQ_AVX2_NP(4, 3)
        BPQ_AVX2_NP(3, 1) BPQ_AVX2_NP(3, 2) BPQ_AVX2_NP(3, 3)
        BPQ_AVX2_NP(2, 1) BPQ_AVX2_NP(2, 2) BPQ_AVX2_NP(2, 3)
        BPQ_AVX2_NP(1, 1) BPQ_AVX2_NP(1, 2) BPQ_AVX2_NP(1, 3)
#undef BPQ_AVX2_NP
    }
}

#endif /* BPQ_AVX2_NARROW_P_H */
