/* bp2.c - AVX-512 BP2: D = (D_next W_next) * act'(A) as a blocked GEMM with act' fused. */
#include "avx512/gemm_p.h"
#include "kernels.h"

/* One copy of the blocked GEMM per activation (see BPQ_GEMM_COPY). */
#define BPQ_BP2_GEMM(name, ACT)                                                                \
    BPQ_GEMM_COPY(name, BPQ_GEMM_BP2, g.act = ACT)
BPQ_BP2_GEMM(bp2_gemm_identity, BPQ_ACT_IDENTITY)
BPQ_BP2_GEMM(bp2_gemm_sigmoid, BPQ_ACT_SIGMOID)
BPQ_BP2_GEMM(bp2_gemm_tanh, BPQ_ACT_TANH)
BPQ_BP2_GEMM(bp2_gemm_relu, BPQ_ACT_RELU)
#undef BPQ_BP2_GEMM

void bpq_bp2_avx512(size_t batch, size_t n_next, size_t n, const float *delta_next,
                    const float *w_next, const float *a, bpq_act act, float *delta) {
    /* One example: w_next is read once, so this is bound by memory, and
     * AVX2's row-folding GEMV (avx2/bp2.c) measured faster than the same
     * loop in zmm (1x1024x1024 side by side: 17.8 against 14.6 GFLOP/s):
     * it is used as it is, with the same canonical chains. */
    if (bpq_gemm_is_vector(BPQ_GEMM_BP2, batch, n_next)) {
        bpq_bp2_avx2(batch, n_next, n, delta_next, w_next, a, act, delta);
        return;
    }
    bpq_gemm g = {.m = batch, .n = n, .k = n_next, .a = delta_next, .lda = n_next,
                  .b = w_next, .ldb = n, .c = delta, .ldc = n, .act_in = a, .act = act};
    switch (act) {
    case BPQ_ACT_SIGMOID: bp2_gemm_sigmoid(g); break;
    case BPQ_ACT_TANH: bp2_gemm_tanh(g); break;
    case BPQ_ACT_RELU: bp2_gemm_relu(g); break;
    default: bp2_gemm_identity(g); break; /* identity (softmax never reaches BP2) */
    }
}
