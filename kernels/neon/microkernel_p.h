/* microkernel_p.h - NEON GEMM microkernel: 8 x 12 outputs in 24 q accumulators, k ascending. */
#ifndef BPQ_NEON_MICROKERNEL_P_H
#define BPQ_NEON_MICROKERNEL_P_H

/*
 * The tile: 8 rows x 12 columns = 8 x 3 q registers of 4 floats.
 *
 * Register budget (AArch64 has 32 128-bit v registers):
 *   24 accumulators c[m][t]         (m < 8 rows, t < 3 vectors of 4 columns)
 *    2 A vectors a0, a1             (rows 0-3 and 4-7 of packed A at one k)
 *    3 B vectors b0, b1, b2         (the 12 columns of packed B at one k)
 *   = 29, leaving 3 for the compiler; nothing spills.
 * Per k step: 5 q loads (2 of A, 3 of B, 80 bytes) and 24 FMAs, each
 * vfmaq_laneq_f32(c[m][t], b[t], a, m % 4): c + b * a[lane], one rounding,
 * so output (m, 4 t + l) takes exactly fma(A[m, k], B[k, n], acc) with k
 * ascending -- canon.h's chain; the lane form needs no broadcast, which is
 * why A is always packed (8 rows interleaved along k).
 * Why this size: Neoverse N1 issues 2 128-bit FMAs a cycle at 4 cycles'
 * latency (8 chains needed), V1 4 a cycle (16 needed); 24 independent
 * chains cover both. Loads: 5 per 24 FMAs is 0.21 a FMA, under the 2
 * (N1) and 3 (V1) load ports' share. llvm-mca of this loop
 * (bench/mca/neon_mca.py): about 12 cycles per k step on N1 (2 FMA pipes x
 * 12 cycles = 24 FMAs) and 6 on V1, i.e. at or above 90% of FMA peak.
 * A tile of mr < 8 rows is the same loop with the rows past mr left out
 * (one A vector when mr <= 4); packed A is padded with +0 to 8 rows.
 *
 *   A[m, k] = a[8 k + m] (packed group);  B vector t of k step k at
 *   b + ldb k + 4 t (a packed panel, ldb 12, or B's rows in place).
 *   init: the parked sums (row m at park + 12 m), +0, or the bias.
 */

#include <arm_neon.h>
#include <stddef.h>

#include "gemm/gemm.h"
#include "neon/pack_p.h"

/* [neon-ukernel] */
BPQ_NEON_INLINE void bpq_neon_ukernel(const int mr, size_t kc, const float *a, const float *b,
                                      size_t ldb, const float *park, int init, const float *bias,
                                      float32x4_t c[8][3]) {
    /* The chains live in a local array of constant indices only, which the
     * compiler keeps in registers; written through c inside the loop, GCC
     * stored all 24 to the stack at every k step. */
    float32x4_t r[8][3];
#pragma GCC unroll 8
    for (int m = 0; m < mr; m++)
#pragma GCC unroll 3
        for (int t = 0; t < 3; t++)
            r[m][t] = init == BPQ_GEMM_INIT_TILE   ? vld1q_f32(park + 12 * m + 4 * t)
                      : init == BPQ_GEMM_INIT_BIAS ? vld1q_f32(bias + 4 * t)
                                                   : vdupq_n_f32(0.0f);
    /* Lane indices must be literal constants, hence one line per row. */
#define BPQ_NEON_ROW(m, av, l)                                                                 \
    if (mr > (m)) {                                                                            \
        r[m][0] = vfmaq_laneq_f32(r[m][0], b0, av, l);                                         \
        r[m][1] = vfmaq_laneq_f32(r[m][1], b1, av, l);                                         \
        r[m][2] = vfmaq_laneq_f32(r[m][2], b2, av, l);                                         \
    }
    for (const float *end = a + 8 * kc; a != end; a += 8, b += ldb) {
        const float32x4_t a0 = vld1q_f32(a);
        const float32x4_t a1 = mr > 4 ? vld1q_f32(a + 4) : a0;
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
        BPQ_NEON_ROW(0, a0, 0)
        BPQ_NEON_ROW(1, a0, 1)
        BPQ_NEON_ROW(2, a0, 2)
        BPQ_NEON_ROW(3, a0, 3)
        BPQ_NEON_ROW(4, a1, 0)
        BPQ_NEON_ROW(5, a1, 1)
        BPQ_NEON_ROW(6, a1, 2)
        BPQ_NEON_ROW(7, a1, 3)
    }
#undef BPQ_NEON_ROW
#pragma GCC unroll 8
    for (int m = 0; m < mr; m++)
#pragma GCC unroll 3
        for (int t = 0; t < 3; t++)
            c[m][t] = r[m][t];
}
/* [neon-ukernel] */

#endif /* BPQ_NEON_MICROKERNEL_P_H */
