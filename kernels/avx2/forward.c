/* forward.c - AVX2 forward pass A = act(X W^T + b): blocked GEMM, and a GEMV for one example. */
#include "avx2/gemm_p.h"
#include "avx2/gemv_p.h"
#include "kernels.h"

void bpq_forward_avx2(size_t batch, size_t n_in, size_t n_out, const float *x, const float *w,
                      const float *b, bpq_act act, float *a) {
    if (batch == 1) { /* one example: a GEMV, W is read once and not packed */
        bpq_avx2_gemv(n_in, n_out, x, w, b, act, a);
        return;
    }
    bpq_avx2_gemm g = {.m = batch, .n = n_out, .k = n_in, .a = x, .lda = n_in, .b = w,
                       .ldb = n_in, .c = a, .ldc = n_out, .bias = b, .act = act};
    _Alignas(64) float ws[BPQ_AVX2_WS_ROW];
    bpq_avx2_gemm_run(BPQ_AVX2_OP_FORWARD, &g, ws);
}
