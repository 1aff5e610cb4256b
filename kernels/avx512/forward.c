/* forward.c - AVX-512 forward pass A = act(X W^T + b): blocked GEMM; one example goes to the GEMV. */
#include "avx512/gemm_p.h"
#include "kernels.h"

/* One copy of the blocked GEMM per activation (see BPQ_GEMM_COPY). */
#define BPQ_FORWARD_GEMM(name, ACT)                                                            \
    BPQ_GEMM_COPY(name, BPQ_GEMM_FORWARD, g.act = ACT)
BPQ_FORWARD_GEMM(forward_gemm_identity, BPQ_ACT_IDENTITY)
BPQ_FORWARD_GEMM(forward_gemm_sigmoid, BPQ_ACT_SIGMOID)
BPQ_FORWARD_GEMM(forward_gemm_tanh, BPQ_ACT_TANH)
BPQ_FORWARD_GEMM(forward_gemm_relu, BPQ_ACT_RELU)
BPQ_FORWARD_GEMM(forward_gemm_softmax, BPQ_ACT_SOFTMAX)
#undef BPQ_FORWARD_GEMM

void bpq_forward_avx512(size_t batch, size_t n_in, size_t n_out, const float *x,
                        const float *w, const float *b, bpq_act act, float *a) {
    /* One example: a GEMV bound by reading W once. AVX2's (avx2/gemv_p.h)
     * is used as it is: the same canonical chains, so the same bits. */
    if (bpq_gemm_is_vector(BPQ_GEMM_FORWARD, batch, n_in)) {
        bpq_forward_avx2(batch, n_in, n_out, x, w, b, act, a);
        return;
    }
    bpq_gemm g = {.m = batch, .n = n_out, .k = n_in, .a = x, .lda = n_in, .b = w,
                  .ldb = n_in, .c = a, .ldc = n_out, .bias = b, .act = act};
    switch (act) {
    case BPQ_ACT_SIGMOID: forward_gemm_sigmoid(g); break;
    case BPQ_ACT_TANH: forward_gemm_tanh(g); break;
    case BPQ_ACT_RELU: forward_gemm_relu(g); break;
    case BPQ_ACT_SOFTMAX: forward_gemm_softmax(g); break;
    default: forward_gemm_identity(g); break;
    }
}
