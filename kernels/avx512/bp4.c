/* bp4.c - AVX-512 BP4: dW = D^T X summed (or averaged) over the batch, as a blocked GEMM. */
#include "avx512/gemm_p.h"
#include "kernels.h"

/*
 * A batch of one is an outer product, dw[j, i] = fma(delta[j], x[i], +0)
 * (+ dw[j, i] when accumulating): nothing to reuse, so no packing, just a
 * stream of stores; the row's tail is one masked vector. The mean divides
 * by 1, which changes no bits, so it is left out.
 */
static void bp4_outer(size_t n_out, size_t n_in, const float *d, const float *x, int accumulate,
                      float *dw) {
    const __m512 zero = _mm512_setzero_ps();
    const __mmask16 tail = bpq_avx512_mask(n_in % 16);
    for (size_t j = 0; j < n_out; j++) {
        const __m512 dj = _mm512_set1_ps(d[j]);
        float *out = dw + j * n_in;
        size_t i = 0;
        if (accumulate) {
            for (; i + 16 <= n_in; i += 16) {
                const __m512 g = _mm512_fmadd_ps(dj, _mm512_loadu_ps(x + i), zero);
                _mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_loadu_ps(out + i), g));
            }
        } else {
            for (; i + 16 <= n_in; i += 16)
                _mm512_storeu_ps(out + i, _mm512_fmadd_ps(dj, _mm512_loadu_ps(x + i), zero));
        }
        if (i < n_in) {
            __m512 g = _mm512_fmadd_ps(dj, _mm512_maskz_loadu_ps(tail, x + i), zero);
            if (accumulate)
                g = _mm512_add_ps(_mm512_maskz_loadu_ps(tail, out + i), g);
            _mm512_mask_storeu_ps(out + i, tail, g);
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

void bpq_bp4_avx512(size_t batch, size_t n_out, size_t n_in, const float *delta,
                    const float *x, int mean, int accumulate, float *dw) {
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
