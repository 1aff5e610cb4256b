/* bp4.c - scalar BP4: weight gradient dW = D^T X, summed (or averaged) over the batch. */
#include "kernels.h"
#include "scalar/finish_p.h"
#include "scalar/math_p.h"

/* Each row of dw is built a block at a time on the stack while the rows of x
 * stream past, so the sum over the batch runs in ascending order. */
void bpq_bp4_scalar(size_t batch, size_t n_out, size_t n_in, const float *delta,
                    const float *x, int mean, int accumulate, float *dw) {
    float acc[BPQ_SCALAR_BLOCK];
    for (size_t j = 0; j < n_out; j++) {
        for (size_t i0 = 0; i0 < n_in; i0 += BPQ_SCALAR_BLOCK) {
            size_t nb = n_in - i0 < BPQ_SCALAR_BLOCK ? n_in - i0 : BPQ_SCALAR_BLOCK;
            for (size_t i = 0; i < nb; i++)
                acc[i] = 0.0f;
            /* [scalar-bp4-chain] */
            for (size_t r = 0; r < batch; r++) {
                float d = delta[r * n_out + j];
                const float *xr = x + r * n_in + i0;
                for (size_t i = 0; i < nb; i++)
                    acc[i] = bpq_s_fma(d, xr[i], acc[i]);
            }
            /* [scalar-bp4-chain] */
            bpq_s_finish(acc, nb, batch, mean, accumulate, dw + j * n_in + i0);
        }
    }
}
