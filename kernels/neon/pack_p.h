/* pack_p.h - NEON packing of GEMM operands: B panels of kc x 12, A groups of 8 rows along k. */
#ifndef BPQ_NEON_PACK_P_H
#define BPQ_NEON_PACK_P_H

#include <arm_neon.h>
#include <stddef.h>

#include "gemm/gemm.h"
#include "neon/math_p.h"

/* The driver's tile: 8 rows of 12 outputs (see microkernel_p.h), and a block
 * ends in no tile of fewer than 4 rows (a tile of r rows has 3 r chains). */
#define BPQ_NEON_MR 8
#define BPQ_NEON_NR 12
#define BPQ_NEON_MIN_ROWS 4
static inline size_t bpq_neon_tile_rows(size_t rem) {
    return bpq_gemm_tile_rows(rem, BPQ_NEON_MR, BPQ_NEON_MIN_ROWS);
}

/* In-register 4 x 4 transpose: on return r[t] holds element t of every input row. */
BPQ_NEON_INLINE void bpq_neon_transpose4(float32x4_t r[4]) {
    const float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    const float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

/*
 * B whose rows already run along n (w_next in BP2, x in BP4): kc rows of
 * cols floats into ceil(cols / 12) panels, panel s at dst + 12 kc s,
 * dst[12 kc s + 12 k + n] = src[k ld + 12 s + n], +0 past cols. Each row
 * is read front to back across the chunk. The zero lanes only ever feed
 * outputs that are not stored.
 */
BPQ_NEON_INLINE void bpq_neon_pack_rows(const float *src, size_t ld, size_t kc, size_t cols,
                                        float *dst) {
    const size_t full = cols / 12, w = cols % 12, step = 12 * kc;
    for (size_t k = 0; k < kc; k++) {
        const float *s = src + k * ld;
        float *d = dst + 12 * k;
        for (size_t p = 0; p < full; p++, s += 12, d += step) {
            vst1q_f32(d, vld1q_f32(s));
            vst1q_f32(d + 4, vld1q_f32(s + 4));
            vst1q_f32(d + 8, vld1q_f32(s + 8));
        }
        if (w)
            for (size_t t = 0; t < 3; t++) {
                const size_t lo = 4 * t, cnt = w <= lo ? 0 : (w - lo >= 4 ? 4 : w - lo);
                vst1q_f32(d + lo, bpq_neon_load_first(s + lo, cnt));
            }
    }
}

/*
 * dst[12 k + n] = src[n ld + k] for k < kc, n < w (w <= 12), +0 for n >= w:
 * a panel of W^T for the forward pass, whose W rows run along k. Groups of
 * 4 rows are read 4 floats wide and transposed in registers.
 */
BPQ_NEON_INLINE void bpq_neon_pack_trans(const float *src, size_t ld, size_t kc, size_t w,
                                         float *dst) {
    for (size_t g = 0; g < 3; g++) {
        const size_t rows = w <= 4 * g ? 0 : (w - 4 * g >= 4 ? 4 : w - 4 * g);
        const float *s = src + 4 * g * ld;
        float *d = dst + 4 * g;
        if (rows == 0) {
            for (size_t k = 0; k < kc; k++)
                vst1q_f32(d + 12 * k, vdupq_n_f32(0.0f));
            continue;
        }
        float32x4_t r[4];
        size_t k = 0;
        if (rows == 4) {
            for (; k + 4 <= kc; k += 4) {
                for (size_t q = 0; q < 4; q++)
                    r[q] = vld1q_f32(s + q * ld + k);
                bpq_neon_transpose4(r);
                for (size_t t = 0; t < 4; t++)
                    vst1q_f32(d + 12 * (k + t), r[t]);
            }
        } else {
            for (; k + 4 <= kc; k += 4) {
                for (size_t q = 0; q < 4; q++)
                    r[q] = q < rows ? vld1q_f32(s + q * ld + k) : vdupq_n_f32(0.0f);
                bpq_neon_transpose4(r);
                for (size_t t = 0; t < 4; t++)
                    vst1q_f32(d + 12 * (k + t), r[t]);
            }
        }
        if (k < kc) {
            for (size_t q = 0; q < 4; q++)
                r[q] = q < rows ? bpq_neon_load_first(s + q * ld + k, kc - k) : vdupq_n_f32(0.0f);
            bpq_neon_transpose4(r);
            for (size_t t = 0; t < kc - k; t++)
                vst1q_f32(d + 12 * (k + t), r[t]);
        }
    }
}

/*
 * A for BP4, A[m, k] = src[k ld + m] (a block of columns of delta), one
 * group per tile as bpq_neon_tile_rows cuts the block: group g at dst + g
 * 8 kc, k step k of it at + 8 k, rows past the tile's +0, so the
 * microkernel always reads two whole vectors. Rows of delta are walked in
 * the outer loop, each read once and contiguously. avail = columns that
 * exist to the right of src in its row.
 */
BPQ_NEON_INLINE void bpq_neon_pack_cols8(const float *src, size_t ld, size_t kc, size_t cols,
                                         size_t avail, float *dst) {
    const size_t gs = 8 * kc;
    (void)avail; /* partial groups are read lane by lane, never past the tile */
    for (size_t k = 0; k < kc; k++) {
        const float *s = src + k * ld;
        float *d = dst + 8 * k;
        for (size_t c = 0, r; c < cols; c += r, d += gs) {
            r = bpq_neon_tile_rows(cols - c);
            if (r == 8) {
                vst1q_f32(d, vld1q_f32(s + c));
                vst1q_f32(d + 4, vld1q_f32(s + c + 4));
            } else {
                vst1q_f32(d, bpq_neon_load_first(s + c, r < 4 ? r : 4));
                vst1q_f32(d + 4, bpq_neon_load_first(s + c + 4, r > 4 ? r - 4 : 0));
            }
        }
    }
}

/*
 * A for forward and BP2, A[m, k] = src[m lda + k] (rows of x or delta_next
 * along k), in the layout of bpq_neon_pack_cols8. Four k steps of 4 rows
 * are read 4 floats wide and transposed in registers.
 */
BPQ_NEON_INLINE void bpq_neon_pack_rows8(const float *src, size_t lda, size_t kc, size_t rows,
                                         float *dst) {
    const size_t gs = 8 * kc;
    for (size_t r0 = 0, n; r0 < rows; r0 += n, dst += gs) {
        n = bpq_neon_tile_rows(rows - r0);
        for (size_t h = 0; h < 2; h++) {
            const size_t hr = n <= 4 * h ? 0 : (n - 4 * h >= 4 ? 4 : n - 4 * h);
            const float *s = src + (r0 + 4 * h) * lda;
            float *d = dst + 4 * h;
            float32x4_t r[4];
            size_t k = 0;
            if (hr == 4) {
                for (; k + 4 <= kc; k += 4) {
                    for (size_t q = 0; q < 4; q++)
                        r[q] = vld1q_f32(s + q * lda + k);
                    bpq_neon_transpose4(r);
                    for (size_t t = 0; t < 4; t++)
                        vst1q_f32(d + 8 * (k + t), r[t]);
                }
            } else {
                for (; k + 4 <= kc; k += 4) {
                    for (size_t q = 0; q < 4; q++)
                        r[q] = q < hr ? vld1q_f32(s + q * lda + k) : vdupq_n_f32(0.0f);
                    bpq_neon_transpose4(r);
                    for (size_t t = 0; t < 4; t++)
                        vst1q_f32(d + 8 * (k + t), r[t]);
                }
            }
            if (k < kc) {
                for (size_t q = 0; q < 4; q++)
                    r[q] = q < hr ? bpq_neon_load_first(s + q * lda + k, kc - k)
                                  : vdupq_n_f32(0.0f);
                bpq_neon_transpose4(r);
                for (size_t t = 0; t < kc - k; t++)
                    vst1q_f32(d + 8 * (k + t), r[t]);
            }
        }
    }
}

#endif /* BPQ_NEON_PACK_P_H */
