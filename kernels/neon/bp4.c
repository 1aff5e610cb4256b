/* bp4.c - NEON BP4: dW = D^T X summed (or averaged) over the batch, as a blocked GEMM. */
#include "kernels.h"
#include "neon/gemm_p.h"

/*
 * A batch of one is an outer product, dw[j, i] = fma(delta[j], x[i], +0)
 * (+ dw[j, i] when accumulating): nothing to reuse, so no packing, just a
 * stream of stores. The fma with +0 is kept (a product of -0 becomes +0,
 * as in the canonical chain). The mean divides by 1, which changes no bits.
 */
static void bp4_outer(size_t n_out, size_t n_in, const float *d, const float *x, int accumulate,
                      float *dw) {
    const float32x4_t zero = vdupq_n_f32(0.0f);
    for (size_t j = 0; j < n_out; j++) {
        const float dj = d[j];
        float *out = dw + j * n_in;
        size_t i = 0;
        if (accumulate) {
            for (; i + 4 <= n_in; i += 4) {
                const float32x4_t g = vfmaq_n_f32(zero, vld1q_f32(x + i), dj);
                vst1q_f32(out + i, vaddq_f32(vld1q_f32(out + i), g));
            }
        } else {
            for (; i + 4 <= n_in; i += 4)
                vst1q_f32(out + i, vfmaq_n_f32(zero, vld1q_f32(x + i), dj));
        }
        if (i < n_in) {
            const size_t cnt = n_in - i;
            float32x4_t g = vfmaq_n_f32(zero, bpq_neon_load_first(x + i, cnt), dj);
            if (accumulate)
                g = vaddq_f32(bpq_neon_load_first(out + i, cnt), g);
            bpq_neon_store_first(out + i, cnt, g);
        }
    }
}

/* One copy of the blocked GEMM per mean and accumulate (see BPQ_GEMM_COPY). */
#define BPQ_BP4_GEMM(name, MEAN, ACCUMULATE)                                                   \
    BPQ_GEMM_COPY(name, BPQ_GEMM_BP4, (g.mean = MEAN, g.accumulate = ACCUMULATE))
BPQ_BP4_GEMM(bp4_gemm_sum, 0, 0)
BPQ_BP4_GEMM(bp4_gemm_mean, 1, 0)
BPQ_BP4_GEMM(bp4_gemm_sum_acc, 0, 1)
BPQ_BP4_GEMM(bp4_gemm_mean_acc, 1, 1)
#undef BPQ_BP4_GEMM

void bpq_bp4_neon(size_t batch, size_t n_out, size_t n_in, const float *delta, const float *x,
                  int mean, int accumulate, float *dw) {
    if (bpq_gemm_is_vector(BPQ_GEMM_BP4, n_out, batch)) {
        bp4_outer(n_out, n_in, delta, x, accumulate, dw);
        return;
    }
    bpq_gemm g = {.m = n_out, .n = n_in, .k = batch, .a = delta, .lda = n_out, .b = x,
                  .ldb = n_in, .c = dw, .ldc = n_in, .batch = batch};
    if (mean)
        accumulate ? bp4_gemm_mean_acc(g) : bp4_gemm_mean(g);
    else
        accumulate ? bp4_gemm_sum_acc(g) : bp4_gemm_sum(g);
}
