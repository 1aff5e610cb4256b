/* tile_p.h - AVX2 tile for the shared GEMM driver: the 6x16 microkernel, then park or finish. */
#ifndef BPQ_AVX2_TILE_P_H
#define BPQ_AVX2_TILE_P_H

#include <immintrin.h>
#include <stddef.h>

#include "avx2/math_p.h"
#include "avx2/microkernel_p.h"
#include "avx2/pack_p.h"
#include "gemm/gemm.h"

/* What finishing the output at (r, col) reads besides its sum: a there for
 * BP2 (unless identity), the old output for BP4 when accumulating; NULL
 * when it reads nothing. */
BPQ_AVX2_INLINE const float *bpq_avx2_finish_src(const int op, const bpq_gemm *g, size_t r,
                                                 size_t col) {
    if (op == BPQ_GEMM_BP2 && g->act != BPQ_ACT_IDENTITY)
        return g->act_in + r * g->ldc + col;
    if (op == BPQ_GEMM_BP4 && g->accumulate)
        return g->c + r * g->ldc + col;
    return NULL;
}

/* The finished outputs from their sums s and x, the values at
 * bpq_avx2_finish_src (+0 when it is NULL): the elementwise part of each
 * operation, fused into the GEMM so that it makes no pass of its own over
 * memory. BP2 reads a before delta (maybe the same memory) is written. */
BPQ_AVX2_INLINE __m256 bpq_avx2_finish(const int op, const bpq_gemm *g, __m256 s,
                                       __m256 x) {
    if (op == BPQ_GEMM_FORWARD)
        return bpq_avx2_act(g->act, s); /* identity and softmax: unchanged */
    if (op == BPQ_GEMM_BP2) /* delta = g * act'(a); for identity, g itself */
        return g->act == BPQ_ACT_IDENTITY ? s : _mm256_mul_ps(s, bpq_avx2_dact(g->act, x));
    if (g->mean)
        s = _mm256_div_ps(s, _mm256_set1_ps((float)g->batch));
    return g->accumulate ? _mm256_add_ps(x, s) : s;
}

/* One tile of mr rows and nvec vectors (see bpq_avx2_ukernel): the
 * microkernel, then the sums are either parked (park, tstride) for the next
 * k block or, after the last one (fin), finished straight from the
 * registers into the output at (row, col), w columns of it valid. */
BPQ_AVX2_INLINE void bpq_avx2_tile(const int op, const int mr, const int nvec, const int acol,
                                   const bpq_gemm *g, size_t kc, const float *a, size_t lda,
                                   const float *bp, size_t ldbp, size_t pstride, float *park,
                                   size_t tstride, int init, const float *bias, int fin,
                                   size_t row, size_t col, size_t w) {
    __m256 c[6][12];
    bpq_avx2_ukernel(mr, nvec, acol, kc, a, lda, bp, ldbp, pstride, park, tstride, init, bias, c);
    /* [avx2-park-or-finish] */
#pragma GCC unroll 6
    for (int m = 0; m < mr; m++)
#pragma GCC unroll 12
        for (int t = 0; t < nvec; t++) {
            if (!fin) {
                _mm256_storeu_ps(park + (size_t)(t / 2) * tstride + 16 * m + 8 * (t % 2), c[m][t]);
            } else {
                const size_t r = row + (size_t)m;
                const float *src = bpq_avx2_finish_src(op, g, r, col);
                const __m256 x = src ? bpq_avx2_strip_load(src, w, t) : _mm256_setzero_ps();
                bpq_avx2_strip_store(g->c + r * g->ldc + col, w, t,
                                     bpq_avx2_finish(op, g, c[m][t], x));
            }
        }
    /* [avx2-park-or-finish] */
}

/* Picks the instantiation for a run-time mr (1..6) and, for one panel, w
 * (up to 16 columns: 1 or 2 vectors); panels > 1 is a wide tile of 1 to 3
 * rows over that many full strips (BPQ_AVX2_WIDE_PANELS). */
BPQ_AVX2_INLINE void bpq_avx2_tile_any(const int op, int mr, int panels, const int acol,
                                       const bpq_gemm *g, size_t kc, const float *a,
                                       size_t lda, const float *bp, size_t ldbp,
                                       size_t pstride, float *park, size_t tstride, int init,
                                       const float *bias, int fin, size_t row, size_t col,
                                       size_t w) {
    /* The forward activation (sigmoid, tanh...) is long: inlined for 12
     * accumulators in each of the instantiations, it made the code too big
     * for the instruction cache (forward measured 2-4% slower). So the
     * forward pass parks its sums in the scratch tile and finishes them
     * there, in one copy of the code, while they are still in L1. */
    const int in_regs = fin && op != BPQ_GEMM_FORWARD;
    const int nv = panels > 1 ? 2 * panels : w > 8 ? 2 : 1;
#define BPQ_AVX2_T(r, v)                                                                       \
    bpq_avx2_tile(op, r, v, acol, g, kc, a, lda, bp, ldbp, pstride, park, tstride, init, bias,  \
                  in_regs, row, col, w)
    if (panels > 1) {
        switch (mr) {
        case 3: BPQ_AVX2_T(3, 4); break;
        case 2: BPQ_AVX2_T(2, 6); break;
        default: BPQ_AVX2_T(1, 12); break;
        }
    } else if (nv == 2) {
        switch (mr) {
        case 6: BPQ_AVX2_T(6, 2); break;
        case 5: BPQ_AVX2_T(5, 2); break;
        case 4: BPQ_AVX2_T(4, 2); break;
        case 3: BPQ_AVX2_T(3, 2); break;
        case 2: BPQ_AVX2_T(2, 2); break;
        default: BPQ_AVX2_T(1, 2); break;
        }
    } else {
        switch (mr) {
        case 6: BPQ_AVX2_T(6, 1); break;
        case 5: BPQ_AVX2_T(5, 1); break;
        case 4: BPQ_AVX2_T(4, 1); break;
        case 3: BPQ_AVX2_T(3, 1); break;
        case 2: BPQ_AVX2_T(2, 1); break;
        default: BPQ_AVX2_T(1, 1); break;
        }
    }
#undef BPQ_AVX2_T
    if (fin && op == BPQ_GEMM_FORWARD)
        for (size_t m = 0; m < (size_t)mr; m++)
            for (int t = 0; t < nv; t++) {
                const size_t r = row + m; /* forward reads nothing besides the sum */
                const float *s = park + (size_t)(t / 2) * tstride + 16 * m + 8 * (size_t)(t % 2);
                bpq_avx2_strip_store(g->c + r * g->ldc + col, w, t,
                                     bpq_avx2_finish(op, g, _mm256_loadu_ps(s),
                                                     _mm256_setzero_ps()));
            }
}

#endif /* BPQ_AVX2_TILE_P_H */
