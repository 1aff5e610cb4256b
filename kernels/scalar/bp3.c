/* bp3.c - scalar BP3: bias gradient, the error summed (or averaged) over the batch. */
#include "kernels.h"
#include "scalar/finish_p.h"

void bpq_bp3_scalar(size_t batch, size_t n, const float *delta, int mean, int accumulate,
                    float *db) {
    float acc[BPQ_SCALAR_BLOCK];
    for (size_t j0 = 0; j0 < n; j0 += BPQ_SCALAR_BLOCK) {
        size_t nb = n - j0 < BPQ_SCALAR_BLOCK ? n - j0 : BPQ_SCALAR_BLOCK;
        for (size_t j = 0; j < nb; j++)
            acc[j] = 0.0f;
        /* [scalar-bp3-sum] */
        for (size_t r = 0; r < batch; r++) {
            const float *dr = delta + r * n + j0;
            for (size_t j = 0; j < nb; j++)
                acc[j] = acc[j] + dr[j];
        }
        /* [scalar-bp3-sum] */
        bpq_s_finish(acc, nb, batch, mean, accumulate, db + j0);
    }
}
