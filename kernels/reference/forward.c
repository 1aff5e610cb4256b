/* forward.c - reference forward pass in double: a = act(b + sum x w). */
#include "kernels.h"
#include "reference/ref_p.h"

/* [ref-forward-dot] */
static double pre_activation(size_t n_in, const float *xr, const float *wj, float bj) {
    double z = bj;
    for (size_t i = 0; i < n_in; i++)
        z += (double)xr[i] * (double)wj[i];
    return z;
}
/* [ref-forward-dot] */

void bpq_forward_reference(size_t batch, size_t n_in, size_t n_out, const float *x,
                           const float *w, const float *b, bpq_act act, float *a) {
    for (size_t r = 0; r < batch; r++) {
        const float *xr = x + r * n_in;
        float *ar = a + r * n_out;
        if (act != BPQ_ACT_SOFTMAX) {
            for (size_t j = 0; j < n_out; j++)
                ar[j] = (float)bpq_r_act(act, pre_activation(n_in, xr, w + j * n_in, b[j]));
            continue;
        }
        /* Softmax keeps z in double: recompute it rather than store it rounded. */
        double zmax = -INFINITY, sum = 0.0;
        for (size_t j = 0; j < n_out; j++) {
            double z = pre_activation(n_in, xr, w + j * n_in, b[j]);
            zmax = (z > zmax || z != z) ? z : zmax;
        }
        for (size_t j = 0; j < n_out; j++)
            sum += exp(pre_activation(n_in, xr, w + j * n_in, b[j]) - zmax);
        for (size_t j = 0; j < n_out; j++)
            ar[j] = (float)(exp(pre_activation(n_in, xr, w + j * n_in, b[j]) - zmax) / sum);
    }
}
