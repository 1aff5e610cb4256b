/* tile_p.h - AVX-512 tile for the shared GEMM driver: the 12x32 microkernel, then park or finish. */
#ifndef BPQ_AVX512_TILE_P_H
#define BPQ_AVX512_TILE_P_H

#include <immintrin.h>
#include <stddef.h>

#include "avx512/math_p.h"
#include "avx512/microkernel_p.h"
#include "avx512/pack_p.h"
#include "gemm/gemm.h"

/* What finishing the output at (r, col) reads besides its sum (a for BP2
 * unless identity, the old dw for BP4 when accumulating), or NULL. */
BPQ_AVX512_INLINE const float *bpq_avx512_finish_src(const int op, const bpq_gemm *g, size_t r,
                                                     size_t col) {
    if (op == BPQ_GEMM_BP2 && g->act != BPQ_ACT_IDENTITY)
        return g->act_in + r * g->ldc + col;
    if (op == BPQ_GEMM_BP4 && g->accumulate)
        return g->c + r * g->ldc + col;
    return NULL;
}

/* The fused finish, operation for operation that of avx2/tile_p.h: forward
 * act(s); BP2 s * act'(x) (s itself for identity); BP4 s / batch when
 * averaging, then x + s when accumulating. */
BPQ_AVX512_INLINE __m512 bpq_avx512_finish(const int op, const bpq_gemm *g, __m512 s,
                                           __m512 x) {
    if (op == BPQ_GEMM_FORWARD)
        return bpq_avx512_act(g->act, s);
    if (op == BPQ_GEMM_BP2)
        return g->act == BPQ_ACT_IDENTITY ? s : _mm512_mul_ps(s, bpq_avx512_dact(g->act, x));
    if (g->mean)
        s = _mm512_div_ps(s, _mm512_set1_ps((float)g->batch));
    return g->accumulate ? _mm512_add_ps(x, s) : s;
}

/* One tile of mr rows and nvec vectors: the microkernel, then park the sums
 * (park, tstride) or, when fin, finish them from the registers into the
 * output at (row, col), w columns valid (masked loads and stores at the
 * edge). */
BPQ_AVX512_INLINE void bpq_avx512_tile(const int op, const int mr, const int nvec,
                                       const int acol, const bpq_gemm *g, size_t kc,
                                       const float *a, size_t lda, const float *bp, size_t ldbp,
                                       size_t pstride, float *park, size_t tstride, int init,
                                       const float *bias, int fin, size_t row, size_t col,
                                       size_t w) {
    __m512 c[24];
    bpq_avx512_ukernel(mr, nvec, acol, kc, a, lda, bp, ldbp, pstride, park, tstride, init, bias,
                       c);
#pragma GCC unroll 12
    for (int m = 0; m < mr; m++)
#pragma GCC unroll 24
        for (int t = 0; t < nvec; t++) {
            if (!fin) {
                _mm512_storeu_ps(park + (size_t)(t / 2) * tstride + 32 * m + 16 * (t % 2),
                                 c[m * nvec + t]);
            } else {
                const size_t r = row + (size_t)m;
                const float *src = bpq_avx512_finish_src(op, g, r, col);
                const __m512 x = src ? bpq_avx512_strip_load(src, w, t) : _mm512_setzero_ps();
                bpq_avx512_strip_store(g->c + r * g->ldc + col, w, t,
                                       bpq_avx512_finish(op, g, c[m * nvec + t], x));
            }
        }
}

/* The instantiation for a run-time mr (1..12) and w (1 or 2 vectors), or a
 * wide tile (panels > 1, 1..3 rows). The forward pass parks its sums in the
 * scratch tile and finishes them there in one copy of its (long)
 * activation code, as AVX2 does, to keep the instantiations small. */
BPQ_AVX512_INLINE void bpq_avx512_tile_any(const int op, int mr, int panels, const int acol,
                                           const bpq_gemm *g, size_t kc, const float *a,
                                           size_t lda, const float *bp, size_t ldbp,
                                           size_t pstride, float *park, size_t tstride,
                                           int init, const float *bias, int fin, size_t row,
                                           size_t col, size_t w) {
    const int in_regs = fin && op != BPQ_GEMM_FORWARD;
    const int nv = panels > 1 ? 2 * panels : w > 16 ? 2 : 1;
#define BPQ_AVX512_T(r, v)                                                                     \
    bpq_avx512_tile(op, r, v, acol, g, kc, a, lda, bp, ldbp, pstride, park, tstride, init,     \
                    bias, in_regs, row, col, w)
#define BPQ_AVX512_ROWS(v)                                                                     \
    switch (mr) {                                                                              \
    case 12: BPQ_AVX512_T(12, v); break;                                                       \
    case 11: BPQ_AVX512_T(11, v); break;                                                       \
    case 10: BPQ_AVX512_T(10, v); break;                                                       \
    case 9: BPQ_AVX512_T(9, v); break;                                                         \
    case 8: BPQ_AVX512_T(8, v); break;                                                         \
    case 7: BPQ_AVX512_T(7, v); break;                                                         \
    case 6: BPQ_AVX512_T(6, v); break;                                                         \
    case 5: BPQ_AVX512_T(5, v); break;                                                         \
    case 4: BPQ_AVX512_T(4, v); break;                                                         \
    case 3: BPQ_AVX512_T(3, v); break;                                                         \
    case 2: BPQ_AVX512_T(2, v); break;                                                         \
    default: BPQ_AVX512_T(1, v); break;                                                        \
    }
    if (panels > 1) {
        switch (mr) {
        case 3: BPQ_AVX512_T(3, 8); break;
        case 2: BPQ_AVX512_T(2, 12); break;
        default: BPQ_AVX512_T(1, 24); break;
        }
    } else if (nv == 2) {
        BPQ_AVX512_ROWS(2)
    } else {
        BPQ_AVX512_ROWS(1)
    }
#undef BPQ_AVX512_ROWS
#undef BPQ_AVX512_T
    if (fin && op == BPQ_GEMM_FORWARD)
        for (size_t m = 0; m < (size_t)mr; m++)
            for (int t = 0; t < nv; t++) {
                const size_t r = row + m;
                const float *s = park + (size_t)(t / 2) * tstride + 32 * m + 16 * (size_t)(t % 2);
                bpq_avx512_strip_store(g->c + r * g->ldc + col, w, t,
                                       bpq_avx512_finish(op, g, _mm512_loadu_ps(s),
                                                         _mm512_setzero_ps()));
            }
}

#endif /* BPQ_AVX512_TILE_P_H */
