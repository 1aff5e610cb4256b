/* bp2.c - reference BP2 in double: delta = (sum_k delta_next w_next) * act'(a). */
#include "kernels.h"
#include "reference/ref_p.h"

void bpq_bp2_reference(size_t batch, size_t n_next, size_t n, const float *delta_next,
                       const float *w_next, const float *a, bpq_act act, float *delta) {
    /* [ref-bp2] */
    for (size_t r = 0; r < batch; r++)
        for (size_t i = 0; i < n; i++) {
            double g = 0.0;
            for (size_t k = 0; k < n_next; k++)
                g += (double)delta_next[r * n_next + k] * (double)w_next[k * n + i];
            delta[r * n + i] = (float)(g * bpq_r_dact(act, a[r * n + i]));
        }
    /* [ref-bp2] */
}
