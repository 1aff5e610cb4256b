/* forward.c - scalar forward pass: A = act(X W^T + b), canonical order, softmax by row. */
#include "kernels.h"
#include "scalar/math_p.h"

/* One dot product per output, started from the bias. Four outputs are worked
 * on together only so that four independent fma chains overlap in the CPU. */
void bpq_forward_scalar(size_t batch, size_t n_in, size_t n_out, const float *x,
                        const float *w, const float *b, bpq_act act, float *a) {
    for (size_t r = 0; r < batch; r++) {
        const float *xr = x + r * n_in;
        float *ar = a + r * n_out;
        size_t j = 0;
        /* [scalar-forward-chains] */
        for (; j + 4 <= n_out; j += 4) {
            const float *w0 = w + j * n_in, *w1 = w0 + n_in, *w2 = w1 + n_in, *w3 = w2 + n_in;
            float c0 = b[j], c1 = b[j + 1], c2 = b[j + 2], c3 = b[j + 3];
            for (size_t i = 0; i < n_in; i++) {
                c0 = bpq_s_fma(xr[i], w0[i], c0);
                c1 = bpq_s_fma(xr[i], w1[i], c1);
                c2 = bpq_s_fma(xr[i], w2[i], c2);
                c3 = bpq_s_fma(xr[i], w3[i], c3);
            }
            ar[j] = c0;
            ar[j + 1] = c1;
            ar[j + 2] = c2;
            ar[j + 3] = c3;
        }
        /* [scalar-forward-chains] */
        for (; j < n_out; j++) {
            const float *wj = w + j * n_in;
            float c = b[j];
            for (size_t i = 0; i < n_in; i++)
                c = bpq_s_fma(xr[i], wj[i], c);
            ar[j] = c;
        }
        if (act == BPQ_ACT_SOFTMAX)
            bpq_s_softmax_row(ar, n_out);
        else if (act != BPQ_ACT_IDENTITY)
            for (j = 0; j < n_out; j++)
                ar[j] = bpq_s_act(act, ar[j]);
    }
}
