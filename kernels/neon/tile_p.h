/* tile_p.h - NEON tile for the shared GEMM driver: the 8x12 microkernel, then park or finish. */
#ifndef BPQ_NEON_TILE_P_H
#define BPQ_NEON_TILE_P_H

#include <arm_neon.h>
#include <stddef.h>

#include "gemm/gemm.h"
#include "neon/math_p.h"
#include "neon/microkernel_p.h"
#include "neon/pack_p.h"

/* What finishing the output at (r, col) reads besides its sum: a there for
 * BP2 (unless identity), the old output for BP4 when accumulating; NULL
 * when it reads nothing. */
BPQ_NEON_INLINE const float *bpq_neon_finish_src(const int op, const bpq_gemm *g, size_t r,
                                                 size_t col) {
    if (op == BPQ_GEMM_BP2 && g->act != BPQ_ACT_IDENTITY)
        return g->act_in + r * g->ldc + col;
    if (op == BPQ_GEMM_BP4 && g->accumulate)
        return g->c + r * g->ldc + col;
    return NULL;
}

/* The finished outputs from their sums s and x, the values at
 * bpq_neon_finish_src (+0 when NULL), rounded as scalar rounds them:
 * forward act(s); BP2 s * act'(a) (s itself for identity, which is the same
 * bits); BP4 s / batch when mean, then old + s when accumulating. */
/* [neon-finish] */
BPQ_NEON_INLINE float32x4_t bpq_neon_finish(const int op, const bpq_gemm *g, float32x4_t s,
                                            float32x4_t x) {
    if (op == BPQ_GEMM_FORWARD)
        return bpq_neon_act(g->act, s); /* identity and softmax: unchanged */
    if (op == BPQ_GEMM_BP2)
        return g->act == BPQ_ACT_IDENTITY ? s : vmulq_f32(s, bpq_neon_dact(g->act, x));
    if (g->mean)
        s = vdivq_f32(s, vdupq_n_f32((float)g->batch));
    return g->accumulate ? vaddq_f32(x, s) : s;
}
/* [neon-finish] */

/* Valid lanes of vector t of a strip row w columns wide. */
BPQ_NEON_INLINE size_t bpq_neon_strip_lanes(size_t w, int t) {
    const size_t lo = 4 * (size_t)t;
    return w <= lo ? 0 : (w - lo >= 4 ? 4 : w - lo);
}

/* One tile of mr rows (a constant after inlining): the microkernel, then
 * the sums are either parked at park (row m at + 12 m) for the next k block
 * or the scratch, or, with fin, finished straight from the registers into
 * the output at (row, col), w columns of it valid. Partial vectors are
 * read and written lane by lane: nothing outside the output is touched. */
BPQ_NEON_INLINE void bpq_neon_tile(const int op, const int mr, const bpq_gemm *g, size_t kc,
                                   const float *a, const float *bp, size_t ldbp, float *park,
                                   int init, const float *bias, int fin, size_t row, size_t col,
                                   size_t w) {
    float32x4_t c[8][3];
    bpq_neon_ukernel(mr, kc, a, bp, ldbp, park, init, bias, c);
#pragma GCC unroll 8
    for (int m = 0; m < mr; m++)
#pragma GCC unroll 3
        for (int t = 0; t < 3; t++) {
            if (!fin) {
                vst1q_f32(park + 12 * m + 4 * t, c[m][t]);
                continue;
            }
            const size_t cnt = bpq_neon_strip_lanes(w, t);
            if (cnt == 0)
                continue;
            const size_t r = row + (size_t)m;
            const float *src = bpq_neon_finish_src(op, g, r, col);
            const float32x4_t x =
                src ? bpq_neon_load_first(src + 4 * t, cnt) : vdupq_n_f32(0.0f);
            bpq_neon_store_first(g->c + r * g->ldc + col + 4 * t, cnt,
                                 bpq_neon_finish(op, g, c[m][t], x));
        }
}

/*
 * The driver's BPQ_GEMM_TILE. NEON has no wide tiles (panels is always 1)
 * and always packs A (acol is always 1, lda 8), so those arguments, and
 * pstride and tstride, which only wide tiles use, are not needed. The
 * forward pass parks its sums in the scratch tile and finishes them from
 * there in one copy of the (long) activation code instead of inlining it
 * into each of the 8 row counts.
 */
BPQ_NEON_INLINE void bpq_neon_tile_any(const int op, int mr, int panels, const int acol,
                                       const bpq_gemm *g, size_t kc, const float *a,
                                       size_t lda, const float *bp, size_t ldbp,
                                       size_t pstride, float *park, size_t tstride, int init,
                                       const float *bias, int fin, size_t row, size_t col,
                                       size_t w) {
    (void)panels, (void)acol, (void)lda, (void)pstride, (void)tstride;
    const int in_regs = fin && op != BPQ_GEMM_FORWARD;
#define BPQ_NEON_T(r)                                                                          \
    case r:                                                                                    \
        bpq_neon_tile(op, r, g, kc, a, bp, ldbp, park, init, bias, in_regs, row, col, w);       \
        break;
    switch (mr) {
        BPQ_NEON_T(8) BPQ_NEON_T(7) BPQ_NEON_T(6) BPQ_NEON_T(5)
        BPQ_NEON_T(4) BPQ_NEON_T(3) BPQ_NEON_T(2)
    default:
        bpq_neon_tile(op, 1, g, kc, a, bp, ldbp, park, init, bias, in_regs, row, col, w);
        break;
    }
#undef BPQ_NEON_T
    if (fin && op == BPQ_GEMM_FORWARD)
        for (size_t m = 0; m < (size_t)mr; m++)
            for (int t = 0; t < 3; t++) {
                const size_t cnt = bpq_neon_strip_lanes(w, t);
                if (cnt == 0)
                    break;
                const float32x4_t s = vld1q_f32(park + 12 * m + 4 * (size_t)t);
                bpq_neon_store_first(g->c + (row + m) * g->ldc + col + 4 * (size_t)t, cnt,
                                     bpq_neon_finish(op, g, s, vdupq_n_f32(0.0f)));
            }
}

#endif /* BPQ_NEON_TILE_P_H */
