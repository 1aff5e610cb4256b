/* bp2.c - scalar BP2: D = (D_next W_next) * act'(A), one block of outputs at a time. */
#include "kernels.h"
#include "scalar/finish_p.h"
#include "scalar/math_p.h"

/* For each row, a block of up to BPQ_SCALAR_BLOCK outputs is accumulated on
 * the stack while rows of w_next stream past; delta may be a itself, so the
 * partial sums cannot live in delta. */
void bpq_bp2_scalar(size_t batch, size_t n_next, size_t n, const float *delta_next,
                    const float *w_next, const float *a, bpq_act act, float *delta) {
    float acc[BPQ_SCALAR_BLOCK];
    for (size_t r = 0; r < batch; r++) {
        const float *dn = delta_next + r * n_next;
        for (size_t i0 = 0; i0 < n; i0 += BPQ_SCALAR_BLOCK) {
            size_t nb = n - i0 < BPQ_SCALAR_BLOCK ? n - i0 : BPQ_SCALAR_BLOCK;
            for (size_t i = 0; i < nb; i++)
                acc[i] = 0.0f;
            /* [scalar-bp2-accumulate] */
            for (size_t k = 0; k < n_next; k++) {
                const float *wk = w_next + k * n + i0;
                float d = dn[k];
                for (size_t i = 0; i < nb; i++)
                    acc[i] = bpq_s_fma(d, wk[i], acc[i]);
            }
            /* [scalar-bp2-accumulate] */
            /* [scalar-bp2-epilogue] */
            const float *ar = a + r * n + i0;
            float *out = delta + r * n + i0;
            for (size_t i = 0; i < nb; i++)
                out[i] = acc[i] * bpq_s_dact(act, ar[i]);
            /* [scalar-bp2-epilogue] */
        }
    }
}
