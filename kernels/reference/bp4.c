/* bp4.c - reference BP4 in double: dw[j,i] = sum over the batch of delta[r,j] x[r,i]. */
#include "kernels.h"
#include "reference/ref_p.h"

void bpq_bp4_reference(size_t batch, size_t n_out, size_t n_in, const float *delta,
                       const float *x, int mean, int accumulate, float *dw) {
    /* [ref-bp4] */
    for (size_t j = 0; j < n_out; j++)
        for (size_t i = 0; i < n_in; i++) {
            double g = 0.0;
            for (size_t r = 0; r < batch; r++)
                g += (double)delta[r * n_out + j] * (double)x[r * n_in + i];
            dw[j * n_in + i] = bpq_r_finish(g, batch, mean, accumulate, dw[j * n_in + i]);
        }
    /* [ref-bp4] */
}
