/* neon_mca.c - the NEON hot loops, one loop per function, for llvm-mca (bench/mca/neon_mca.py). */
/*
 * Each function wraps one of the library's own inline kernels (the same
 * headers the files of kernels/neon include) around a single inner loop, so that
 * the loop the compiler emits here is the loop the library runs. Compiled
 * to assembly only, never linked into anything.
 */
#include <arm_neon.h>
#include <stddef.h>

#include "neon/math_p.h"
#include "neon/microkernel_p.h"

/* The GEMM microkernel, a full 8 x 12 tile from +0: 24 FMAs per k step. */
void mca_ukernel(size_t kc, const float *a, const float *b, float *c) {
    float32x4_t acc[8][3];
    bpq_neon_ukernel(8, kc, a, b, 12, NULL, BPQ_GEMM_INIT_ZERO, NULL, acc);
    for (int m = 0; m < 8; m++)
        for (int t = 0; t < 3; t++)
            vst1q_f32(c + 12 * m + 4 * t, acc[m][t]);
}

/* exp over a row, as the softmax's middle pass: exp, store, add to the 16 partials. */
float mca_exp(const float *x, size_t n, float m, float *out) {
    const float32x4_t mx = vdupq_n_f32(m);
    float32x4_t s[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f),
                        vdupq_n_f32(0.0f)};
    for (size_t j = 0; j + 16 <= n; j += 16)
        for (int q = 0; q < 4; q++) {
            const float32x4_t e = bpq_neon_exp(vsubq_f32(vld1q_f32(x + j + 4 * (size_t)q), mx));
            vst1q_f32(out + j + 4 * (size_t)q, e);
            s[q] = vaddq_f32(s[q], e);
        }
    return bpq_neon_rowsum_finish(s[0], s[1], s[2], s[3]);
}

/* The activation passes, as bpq_neon_act_row runs them (8 elements a step). */
void mca_sigmoid(float *row, size_t n) {
    for (size_t j = 0; j + 8 <= n; j += 8) {
        const float32x4_t v0 = bpq_neon_sigmoid(vld1q_f32(row + j));
        const float32x4_t v1 = bpq_neon_sigmoid(vld1q_f32(row + j + 4));
        vst1q_f32(row + j, v0);
        vst1q_f32(row + j + 4, v1);
    }
}

void mca_tanh(float *row, size_t n) {
    for (size_t j = 0; j + 8 <= n; j += 8) {
        const float32x4_t v0 = bpq_neon_tanh(vld1q_f32(row + j));
        const float32x4_t v1 = bpq_neon_tanh(vld1q_f32(row + j + 4));
        vst1q_f32(row + j, v0);
        vst1q_f32(row + j + 4, v1);
    }
}

/* The canonical row sum: 16 elements a step into the four partial registers. */
float mca_rowsum(const float *x, size_t n) {
    float32x4_t s[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f),
                        vdupq_n_f32(0.0f)};
    for (size_t j = 0; j + 16 <= n; j += 16)
        for (int q = 0; q < 4; q++)
            s[q] = vaddq_f32(s[q], vld1q_f32(x + j + 4 * (size_t)q));
    return bpq_neon_rowsum_finish(s[0], s[1], s[2], s[3]);
}
